import assert from "node:assert/strict";
import { HEAP_LIMITS } from "../src/server/bounded.ts";
import { runDeno } from "./support/cli.ts";

const PROBE = new URL("./fixtures/heap_probe.ts", import.meta.url).pathname;

function probe(args: string[]) {
  // Started with no V8 flags at all, as `deno run -A main.ts …` is.
  return runDeno(PROBE, args, { flags: ["-A"] });
}

Deno.test("the command's worker has a bounded heap without any V8 flag", async () => {
  const out = await probe(["limit"]);
  assert.equal(out.code, 0, out.stderr);
  const { heapSizeLimit } = JSON.parse(out.stdout);
  const mb = heapSizeLimit / 2 ** 20;
  // V8's own default on this machine is several times larger (~2 GB or more).
  const bound = HEAP_LIMITS.maxOldGenerationSizeMb + 3 * HEAP_LIMITS.maxYoungGenerationSizeMb;
  assert.ok(mb <= bound + 8, `heap limit ${mb.toFixed(0)} MB, bound ${bound} MB`);
});

Deno.test("a worker that outgrows the heap ends the process non-zero, saying why", async () => {
  const out = await probe(["hog"]);
  assert.notEqual(out.code, 0);
  assert.match(out.stderr, /out of memory within the heap limit \(128 MB\)/);
});

Deno.test("the worker's exit code is the process's", async () => {
  assert.equal((await probe(["exit", "7"])).code, 7);
  assert.equal((await probe(["exit", "0"])).code, 0);
});

Deno.test("an uncaught error in the worker is reported once and fails the process", async () => {
  const out = await probe(["throw"]);
  assert.equal(out.code, 1);
  assert.equal(out.stderr.match(/error: thrown in the worker/gi)?.length, 1, out.stderr);
});
