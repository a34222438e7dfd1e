/**
 * Finds any of many known secrets in text or bytes in one pass: a rolling
 * hash over the first six units of each pattern (six is the shortest secret
 * scanned for) filters positions through a bitmap, and only candidates are
 * compared in full. Hundreds of per-host tokens cost one scan, not hundreds.
 */

const W = 6;
const MASK = (1 << 22) - 1;
const POW = (() => {
  let p = 1;
  for (let k = 0; k < W - 1; k++) p = Math.imul(p, 31);
  return p;
})();

type Unit = (at: number) => number;

/** Patterns and their labels; built once, then scanned many times. */
class Index<P extends { length: number }> {
  readonly bitmap = new Uint8Array((MASK + 1) >> 3);
  readonly byHash = new Map<number, Array<[P, string]>>();
  maxLength = 0;

  add(pattern: P, label: string, unit: (p: P, at: number) => number): void {
    if (pattern.length < W) return;
    let h = 0;
    for (let k = 0; k < W; k++) h = (Math.imul(h, 31) + unit(pattern, k)) | 0;
    this.bitmap[(h & MASK) >> 3] |= 1 << (h & 7);
    const list = this.byHash.get(h) ?? [];
    list.push([pattern, label]);
    this.byHash.set(h, list);
    this.maxLength = Math.max(this.maxLength, pattern.length);
  }

  /** Calls `hit(start, pattern, label)` for each candidate position; stops when it returns true. */
  scan(n: number, unit: Unit, hit: (start: number, pattern: P, label: string) => boolean): void {
    if (n < W || this.byHash.size === 0) return;
    let h = 0;
    for (let k = 0; k < W; k++) h = (Math.imul(h, 31) + unit(k)) | 0;
    for (let i = W - 1;;) {
      if (this.bitmap[(h & MASK) >> 3] & (1 << (h & 7))) {
        for (const [pattern, label] of this.byHash.get(h) ?? []) {
          if (hit(i - W + 1, pattern, label)) return;
        }
      }
      if (++i >= n) return;
      h = (Math.imul((h - Math.imul(unit(i - W), POW)) | 0, 31) + unit(i)) | 0;
    }
  }
}

/** Scans strings for known secrets, each with the field it came from. */
export class SecretScanner {
  readonly #index = new Index<string>();
  readonly #unit = (p: string, at: number) => p.charCodeAt(at);

  /** Adds a secret; also its JSON-escaped form, as it would appear inside a JSON file. */
  add(secret: string, field: string): void {
    this.#index.add(secret, field, this.#unit);
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret) this.#index.add(escaped, field, this.#unit);
  }

  /** The field of the first secret found in `text`, or undefined. */
  find(text: string): string | undefined {
    let found: string | undefined;
    this.#index.scan(text.length, (at) => text.charCodeAt(at), (start, pattern, label) => {
      if (text.startsWith(pattern, start)) found = label;
      return found !== undefined;
    });
    return found;
  }

  /** `text` with every occurrence of every secret replaced. */
  redact(text: string, replacement: string): string {
    const spans: Array<[number, number]> = [];
    this.#index.scan(text.length, (at) => text.charCodeAt(at), (start, pattern) => {
      if (text.startsWith(pattern, start)) spans.push([start, start + pattern.length]);
      return false;
    });
    if (spans.length === 0) return text;
    spans.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    return redactRanges(text, spans, replacement);
  }

  /** Patterns as UTF-8, for scanning bytes (the compression worker). */
  patterns(): Array<{ bytes: Uint8Array; field: string }> {
    const out: Array<{ bytes: Uint8Array; field: string }> = [];
    const encoder = new TextEncoder();
    for (const list of this.#index.byHash.values()) {
      for (const [pattern, field] of list) out.push({ bytes: encoder.encode(pattern), field });
    }
    return out;
  }
}

/** Bytes of a gram the byte scanner looks up. */
const GRAM = 4;
/** Every STRIDE-th position is looked up: any pattern (at least W bytes) holds a gram there. */
const STRIDE = W - GRAM + 1;

/** The 22-bit hash of the gram at `at`. */
function gramHash(data: Uint8Array, at: number): number {
  const gram = data[at] | (data[at + 1] << 8) | (data[at + 2] << 16) | (data[at + 3] << 24);
  return Math.imul(gram, 0x9e3779b1) >>> 10;
}

/**
 * Scans bytes for UTF-8 patterns; a match may span two calls. Each pattern
 * is indexed by the grams at its first STRIDE offsets, so the scan looks at
 * every STRIDE-th position only: an occurrence starting at s holds, at the
 * first multiple of STRIDE from s, one of those grams. A call per byte made
 * the tripwire's scan of a million events' JSON take 3 s of the compressing
 * worker's time, a rolling hash over every byte 0.9-1.2 s (README, Scale).
 */
export class ByteScanner {
  readonly #bitmap = new Uint8Array((MASK + 1) >> 3);
  readonly #byHash = new Map<number, Array<{ bytes: Uint8Array; field: string; offset: number }>>();
  #maxLength = 0;
  #tail = new Uint8Array(0);

  constructor(patterns: ReadonlyArray<{ bytes: Uint8Array; field: string }>) {
    for (const { bytes, field } of patterns) {
      if (bytes.length < W) continue;
      this.#maxLength = Math.max(this.#maxLength, bytes.length);
      for (let offset = 0; offset < STRIDE; offset++) {
        const h = gramHash(bytes, offset);
        this.#bitmap[h >> 3] |= 1 << (h & 7);
        const list = this.#byHash.get(h) ?? [];
        list.push({ bytes, field, offset });
        this.#byHash.set(h, list);
      }
    }
  }

  /** The field of a secret found in `chunk` (or across the previous chunk's end), or undefined. */
  find(chunk: Uint8Array): string | undefined {
    if (this.#byHash.size === 0) return undefined;
    let data = chunk;
    if (this.#tail.length > 0) {
      data = new Uint8Array(this.#tail.length + chunk.length);
      data.set(this.#tail);
      data.set(chunk, this.#tail.length);
    }
    const found = this.#scan(data);
    this.#tail = data.slice(Math.max(0, data.length - (this.#maxLength - 1)));
    return found;
  }

  #scan(data: Uint8Array): string | undefined {
    const bitmap = this.#bitmap;
    const n = data.length;
    for (let i = 0; i + GRAM <= n; i += STRIDE) {
      const h = gramHash(data, i);
      if ((bitmap[h >> 3] & (1 << (h & 7))) === 0) continue;
      for (const { bytes, field, offset } of this.#byHash.get(h)!) {
        const start = i - offset;
        if (start < 0 || start + bytes.length > n) continue;
        let k = 0;
        while (k < bytes.length && data[start + k] === bytes[k]) k++;
        if (k === bytes.length) return field;
      }
    }
    return undefined;
  }
}

/** `text` with the ranges (sorted by start) replaced by `marker`, overlaps merged. */
export function redactRanges(
  text: string,
  ranges: Array<[number, number]>,
  marker: string,
): string {
  let out = "";
  let at = 0;
  for (const [start, end] of ranges) {
    if (end <= at) continue;
    out += text.slice(at, Math.max(at, start)) + marker;
    at = end;
  }
  return out + text.slice(at);
}
