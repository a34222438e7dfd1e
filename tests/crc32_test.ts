import assert from "node:assert/strict";
import zlib from "node:zlib";
import fc from "npm:fast-check@4.11.0";
import { crc32Combine } from "../src/bundle/crc32.ts";

Deno.test("crc32Combine equals the CRC of the concatenation", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ maxLength: 3000 }), (a, b) => {
      const whole = new Uint8Array([...a, ...b]);
      assert.equal(crc32Combine(zlib.crc32(a), zlib.crc32(b), b.length), zlib.crc32(whole));
    }),
    { numRuns: 300 },
  );
});

Deno.test("crc32Combine handles lengths past 2^32", () => {
  // crc of 2^32+5 zero bytes after "a", checked against a chain of smaller combines.
  const zeros = new Uint8Array(1 << 20);
  const crcZeros = zlib.crc32(zeros);
  let crc = zlib.crc32(new Uint8Array([97]));
  let viaChunks = crc;
  for (let i = 0; i < 4096; i++) viaChunks = crc32Combine(viaChunks, crcZeros, zeros.length);
  let zerosBig = crcZeros;
  for (let i = 0; i < 12; i++) zerosBig = crc32Combine(zerosBig, zerosBig, (1 << 20) * 2 ** i);
  crc = crc32Combine(crc, zerosBig, 2 ** 32);
  assert.equal(crc, viaChunks);
});
