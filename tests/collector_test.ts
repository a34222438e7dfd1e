import assert from "node:assert/strict";
import { collectGarbage } from "../src/bundle/collector.ts";

/** Ends the current job: a WeakRef keeps its target until the job that read it ends. */
function nextJob(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

Deno.test("a collection frees an object that nothing holds", async () => {
  const ref = new WeakRef({ payload: new Array(1000).fill("x") });
  await nextJob();
  assert.notEqual(ref.deref(), undefined, "not collected on its own meanwhile");
  await nextJob();
  collectGarbage();
  assert.equal(ref.deref(), undefined);
});

Deno.test("an object still held survives a collection", async () => {
  const held = { payload: [1, 2, 3] };
  const ref = new WeakRef(held);
  await nextJob();
  collectGarbage();
  assert.equal(ref.deref(), held);
});
