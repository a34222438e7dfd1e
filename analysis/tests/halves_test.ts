/**
 * Spooling a JSON array in halves: whatever the text and however it is
 * chunked, the halves hold the array's elements in order, or, when the
 * split fell inside an element, the first half does not parse (never a
 * silently different array).
 */
import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import { findBoundary, jsonArrayHalves } from "../src/normalise/halves.ts";

const enc = new TextEncoder();

/** Writes `text` through the sink in the given chunk sizes; returns the files' texts. */
async function spool(text: string, chunks: number[]): Promise<string[]> {
  const dir = await Deno.makeTempDir();
  try {
    const bytes = enc.encode(text);
    const halves = await jsonArrayHalves(`${dir}/a.json`, `${dir}/b.json`, {
      size: bytes.byteLength,
      splitFrom: 1,
    });
    const writer = halves.writable.getWriter();
    let at = 0;
    for (let i = 0; at < bytes.byteLength; i++) {
      const n = Math.max(1, chunks[i % chunks.length]);
      await writer.write(bytes.slice(at, at + n));
      at += n;
    }
    await writer.close();
    return await Promise.all(halves.paths.map((p) => Deno.readTextFile(p)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// Strings rich in the bytes that matter: braces, commas, quotes, backslashes.
const tricky = fc.string({
  unit: fc.oneof(
    fc.constantFrom("}", "{", ",", '"', "\\", "[", "]", ":", "a", "_", " ", "\n", "é", "😀"),
    fc.string({ minLength: 1, maxLength: 1 }),
  ),
  maxLength: 12,
});
const flatEvent = fc.dictionary(fc.constantFrom("message", "name", "props", "_x", "A"), tricky);
const chunkSizes = fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 5 });

Deno.test("halves of flat events hold every element in order, however chunked", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(flatEvent, { maxLength: 30 }), chunkSizes, async (events, chunks) => {
      const text = JSON.stringify(events);
      const parts = await spool(text, chunks);
      assert.ok(parts.length === 1 || parts.length === 2);
      assert.deepEqual(parts.flatMap((p) => JSON.parse(p)), JSON.parse(text));
    }),
    { numRuns: 300 },
  );
});

Deno.test("a split inside an element leaves a first half that does not parse", async () => {
  const nested = fc.record({
    message: tricky,
    extra: fc.array(fc.dictionary(fc.constantFrom("a", "b_"), tricky), { maxLength: 4 }),
  });
  let inside = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(nested, { maxLength: 20 }), chunkSizes, async (events, chunks) => {
      const text = JSON.stringify(events);
      const parts = await spool(text, chunks);
      let halves: unknown[];
      try {
        halves = parts.map((p) => JSON.parse(p));
      } catch {
        inside++;
        assert.equal(parts.length, 2);
        return;
      }
      assert.deepEqual(halves.flat(), JSON.parse(text));
    }),
    { numRuns: 300 },
  );
  assert.ok(inside > 0, "some splits fell inside an element");
});

Deno.test("a boundary is only }, { and a quote before a key's first letter", () => {
  assert.equal(findBoundary(enc.encode('[{"a":1},{"b":2}]')), 7);
  assert.equal(findBoundary(enc.encode('[{"a":"},{"},{"b":2}]')), 11);
  assert.equal(findBoundary(enc.encode('[{"a":1}, {"b":2}]')), -1);
  assert.equal(findBoundary(enc.encode('[{"a":1},{"1":2}]')), -1);
  assert.equal(findBoundary(enc.encode("null")), -1);
});
