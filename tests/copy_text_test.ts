import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { forEachCopyPiece, parseCopyLine } from "../src/db/copy_text.ts";

Deno.test("a text-format line gives its fields, escapes undone and \\N as null", () => {
  assert.deepEqual(parseCopyLine("a\t\\N\t\t\\\\N\tx\\ty\\nz\\r\\b\\f\\v\t\\\\\\\\"), [
    "a",
    null,
    "",
    "\\N",
    "x\ty\nz\r\b\f\v",
    "\\\\",
  ]);
  assert.deepEqual(parseCopyLine("jürgen\\\\x41 ＠"), ["jürgen\\x41 ＠"]);
});

Deno.test("rows split across chunks and inside a UTF-8 character arrive whole, in order", async () => {
  const rows = Array.from({ length: 5000 }, (_, i) => [`${i}`, "é€😀".repeat(i % 7), "\\N"]);
  const bytes = new TextEncoder().encode(rows.map((r) => r.join("\t") + "\n").join(""));
  // Chunks of 7 bytes cut through every multi-byte character at some point.
  const chunks = [];
  for (let i = 0; i < bytes.length; i += 7) chunks.push(bytes.subarray(i, i + 7));
  const seen: unknown[][] = [];
  let calls = 0;
  await forEachCopyPiece(Readable.from(chunks), (piece) => {
    calls++;
    seen.push(...piece);
    return Promise.resolve();
  });
  assert.deepEqual(seen, rows.map(([n, s]) => [n, s, null]));
  assert.ok(calls > 1 && calls < 100, `${calls} pieces`);
});

Deno.test("output that stops within a row is an error, not a short read", async () => {
  await assert.rejects(
    forEachCopyPiece(Readable.from([new TextEncoder().encode("a\tb\nc\t")]), async () => {}),
    /ended within a row/,
  );
});

Deno.test("a failing handler still lets the stream be read to its end, then its error is thrown", async () => {
  let pulled = 0;
  const chunks = Array.from(
    { length: 50 },
    () => new TextEncoder().encode("x".repeat(4000) + "\n"),
  );
  const stream = Readable.from((function* () {
    for (const c of chunks) {
      pulled++;
      yield c;
    }
  })());
  await assert.rejects(
    forEachCopyPiece(stream, () => Promise.reject(new Error("sink refused"))),
    /sink refused/,
  );
  assert.equal(pulled, 50, "every chunk was read");
});

Deno.test("a stream already failed when handed over rejects the read, and its error event is caught", async () => {
  // postgres.js destroys the stream on an error that arrives with the COPY's
  // start; the stream's error event is emitted after the reader has given up.
  const stream = new Readable({ read() {} });
  stream.destroy(new Error("invalid byte sequence"));
  await assert.rejects(forEachCopyPiece(stream, async () => {}), /invalid byte sequence/);
  // An uncaught error event would fail this test here.
  await new Promise((resolve) => setTimeout(resolve, 20));
});

Deno.test("an error during the stream rejects the read with that error", async () => {
  const stream = new Readable({ read() {} });
  stream.push(new TextEncoder().encode("a\tb\n"));
  setTimeout(() => stream.destroy(new Error("connection lost")), 5);
  await assert.rejects(forEachCopyPiece(stream, async () => {}), /connection lost/);
});

Deno.test("a slow handler holds the stream back: what is read ahead of it stays bounded", async () => {
  // postgres.js pushes a row at a time and pauses its socket when the stream
  // says its buffer is full: the reader must stop taking rows while its handler waits.
  const row = new TextEncoder().encode("x".repeat(200) + "\n");
  const rows = 20_000; // ~4 MB
  let produced = 0;
  const stream = new Readable({
    read() {
      while (produced < rows) {
        produced++;
        if (!this.push(row)) return;
      }
      this.push(null);
    },
  });
  let handed = 0;
  let mostAhead = 0;
  let largest = 0;
  await forEachCopyPiece(stream, async (piece) => {
    handed += piece.length;
    largest = Math.max(largest, piece.length * row.byteLength);
    await new Promise((resolve) => setTimeout(resolve, 2));
    // Measured once the handler has waited: what the stream gave meanwhile.
    mostAhead = Math.max(mostAhead, (produced - handed) * row.byteLength);
  });
  assert.equal(handed, rows);
  assert.ok(mostAhead < 256 * 1024, `${mostAhead} bytes read ahead of the handler`);
  assert.ok(largest < 256 * 1024, `a piece of ${largest} bytes`);
});
