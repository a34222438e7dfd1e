import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import zlib from "node:zlib";
import fc from "npm:fast-check@4.11.0";
import { PieceDeflater } from "../src/bundle/pieces.ts";

/** Deflates `data` in pieces cut at `cuts`, ended as a stream. */
function deflateInPieces(data: Uint8Array, cuts: number[]): Uint8Array {
  const deflater = new PieceDeflater(6);
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const to of [...cuts.filter((c) => c > 0 && c < data.byteLength).sort((a, b) => a - b)]) {
    pieces.push(deflater.piece(data.subarray(from, to)));
    from = to;
  }
  pieces.push(deflater.piece(data.subarray(from)));
  pieces.push(zlib.deflateRawSync(new Uint8Array(0)));
  return Buffer.concat(pieces);
}

function events(count: number): Uint8Array {
  const lines = Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      host_id: crypto.randomUUID(),
      message: `Host node-${i % 150}: reached installation stage Rebooting`,
      request_id: crypto.randomUUID(),
    }));
  return new TextEncoder().encode(lines.join(","));
}

Deno.test("pieces join into one deflate stream as small as a continuous one", () => {
  const data = events(20_000);
  const cuts = Array.from({ length: 12 }, (_, i) => (i + 1) * 150_000);
  const joined = deflateInPieces(data, cuts);
  assert.deepEqual(new Uint8Array(zlib.inflateRawSync(joined)), data);
  const continuous = zlib.deflateRawSync(data).byteLength;
  assert.ok(joined.byteLength < continuous * 1.01, `${joined.byteLength} vs ${continuous}`);
});

Deno.test("any cut, down to single bytes and pieces shorter than the window, inflates back", () => {
  const data = events(400);
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: data.byteLength }), { maxLength: 40 }),
      (cuts) => {
        const back = new Uint8Array(zlib.inflateRawSync(deflateInPieces(data, cuts)));
        assert.deepEqual(back, data);
      },
    ),
    { numRuns: 60 },
  );
});
