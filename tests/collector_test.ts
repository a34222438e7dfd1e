import assert from "node:assert/strict";
import { collectGarbage } from "../src/bundle/collector.ts";

/** Ends the current job: a WeakRef keeps its target until the job that read it ends. */
function nextJob(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

for (const type of ["major", "minor"] as const) {
  Deno.test(`a ${type} collection frees an object that nothing holds`, async () => {
    const ref = new WeakRef({ payload: new Array(1000).fill("x") });
    await nextJob();
    assert.notEqual(ref.deref(), undefined, "not collected on its own meanwhile");
    await nextJob();
    collectGarbage(type);
    assert.equal(ref.deref(), undefined);
  });
}

Deno.test("an object still held survives a collection", async () => {
  const held = { payload: [1, 2, 3] };
  const ref = new WeakRef(held);
  await nextJob();
  collectGarbage("major");
  assert.equal(ref.deref(), held);
});
