/**
 * CRC-32 combination: the CRC of A‖B from crc(A), crc(B) and len(B), so an
 * archive's parts can be compressed out of order and still end in one valid
 * gzip member. The arithmetic is zlib's `crc32_combine` (multiplication
 * modulo the CRC polynomial in GF(2)); the CRCs themselves come from
 * node:zlib.
 */

const POLY = 0xedb88320;

/** a·b mod p(x), both reflected 32-bit polynomials. */
function multModP(a: number, b: number): number {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** X2N[k] = x^(2^k) mod p(x). */
const X2N = new Uint32Array(32);
{
  let p = 0x40000000; // x^1
  X2N[0] = p;
  for (let n = 1; n < 32; n++) X2N[n] = p = multModP(p, p);
}

/** x^(n·2^k) mod p(x), for any non-negative safe integer n. */
function x2nModP(n: number, k: number): number {
  let p = 0x80000000; // x^0
  while (n > 0) {
    if (n % 2 === 1) p = multModP(X2N[k & 31], p);
    n = Math.floor(n / 2);
    k++;
  }
  return p;
}

/** The CRC-32 of A‖B. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  return (multModP(x2nModP(lengthB, 3), crcA) ^ crcB) >>> 0;
}
