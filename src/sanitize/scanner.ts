/**
 * Finds any of many known secrets in text or bytes in one pass. Each pattern
 * is indexed by the 4-unit grams at its first STRIDE offsets, and the scan
 * looks up the gram at every STRIDE-th position only, STRIDE being the
 * shortest pattern's length less 3: an occurrence starting at s always holds,
 * at the first multiple of STRIDE from s, one of its indexed grams. A bitmap
 * filters positions; only candidates are compared in full. Hundreds of
 * per-host tokens cost one scan, not hundreds. A call per unit made the
 * tripwire's scan of a million events' JSON take 3 s of the compressing
 * worker's time, a rolling hash over every unit 0.8-1.2 s, this with a
 * stride of 3 0.4-0.7 s; where the shortest secret is longer, as pull
 * secrets and tokens are, the stride is too (README, Scale).
 */

/** The shortest pattern scanned for (shorter secrets are too common to flag). */
const MIN_UNITS = 6;
/** Units of a gram. */
const GRAM = 4;
const MASK = (1 << 22) - 1;

/** The 22-bit hash of four units (bytes or UTF-16 code units). */
function gramHash(a: number, b: number, c: number, d: number): number {
  const h = Math.imul(Math.imul(Math.imul(a, 0x1f) + b, 0x1f) + c, 0x1f) + d;
  return Math.imul(h, 0x9e3779b1) >>> 10;
}

/** A pattern, the field it came from, and the offset of the gram it is indexed by. */
interface Entry<P> {
  pattern: P;
  field: string;
  offset: number;
}

/** Patterns by their grams, for one stride; built once, then scanned many times. */
class GramIndex<P extends ArrayLike<number> | string> {
  readonly bitmap = new Uint8Array((MASK + 1) >> 3);
  readonly byHash = new Map<number, Entry<P>[]>();
  /** The patterns indexed, in the order given: those of at least {@linkcode MIN_UNITS} units. */
  readonly patterns: ReadonlyArray<{ pattern: P; field: string }>;
  /** Every position a multiple of this is looked up. */
  readonly stride: number;
  readonly maxLength: number;

  /** Indexes `patterns` (those shorter than {@linkcode MIN_UNITS} are left out). */
  constructor(
    patterns: ReadonlyArray<{ pattern: P; field: string }>,
    unit: (p: P, at: number) => number,
  ) {
    const kept = patterns.filter((p) => p.pattern.length >= MIN_UNITS);
    const lengths = kept.map((p) => p.pattern.length);
    this.patterns = kept;
    this.maxLength = Math.max(0, ...lengths);
    this.stride = (kept.length > 0 ? Math.min(...lengths) : MIN_UNITS) - GRAM + 1;
    for (const { pattern, field } of kept) {
      for (let offset = 0; offset < this.stride; offset++) {
        const h = gramHash(
          unit(pattern, offset),
          unit(pattern, offset + 1),
          unit(pattern, offset + 2),
          unit(pattern, offset + 3),
        );
        this.bitmap[h >> 3] |= 1 << (h & 7);
        const entry = { pattern, field, offset };
        const list = this.byHash.get(h);
        if (list) list.push(entry);
        else this.byHash.set(h, [entry]);
      }
    }
  }
}

/** Scans strings for known secrets, each with the field it came from. */
export class SecretScanner {
  readonly #patterns: Array<{ pattern: string; field: string }> = [];
  /** Built at the first scan after a pattern was added (its stride depends on them all). */
  #index: GramIndex<string> | undefined;

  /** Adds a secret; also its JSON-escaped form, as it would appear inside a JSON file. */
  add(secret: string, field: string): void {
    this.#patterns.push({ pattern: secret, field });
    const escaped = JSON.stringify(secret).slice(1, -1);
    if (escaped !== secret) this.#patterns.push({ pattern: escaped, field });
    this.#index = undefined;
  }

  /** The index of the patterns added so far. */
  #indexed(): GramIndex<string> {
    return this.#index ??= new GramIndex(this.#patterns, (p, at) => p.charCodeAt(at));
  }

  /**
   * Calls `hit(start, entry)` for each occurrence in `text`, each once, in
   * order of the positions looked up; stops when it returns true.
   */
  #scan(text: string, hit: (start: number, entry: Entry<string>) => boolean): void {
    const index = this.#indexed();
    if (index.patterns.length === 0) return;
    const { bitmap, stride } = index;
    const n = text.length;
    for (let i = 0; i + GRAM <= n; i += stride) {
      const h = gramHash(
        text.charCodeAt(i),
        text.charCodeAt(i + 1),
        text.charCodeAt(i + 2),
        text.charCodeAt(i + 3),
      );
      if ((bitmap[h >> 3] & (1 << (h & 7))) === 0) continue;
      for (const entry of index.byHash.get(h)!) {
        const start = i - entry.offset;
        if (start >= 0 && text.startsWith(entry.pattern, start) && hit(start, entry)) return;
      }
    }
  }

  /** The field of the first secret found in `text`, or undefined. */
  find(text: string): string | undefined {
    let found: string | undefined;
    this.#scan(text, (_, entry) => {
      found = entry.field;
      return true;
    });
    return found;
  }

  /** `text` with every occurrence of every secret replaced. */
  redact(text: string, replacement: string): string {
    const spans: Array<[number, number]> = [];
    this.#scan(text, (start, entry) => {
      spans.push([start, start + entry.pattern.length]);
      return false;
    });
    if (spans.length === 0) return text;
    spans.sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    return redactRanges(text, spans, replacement);
  }

  /** Patterns as UTF-8, for scanning bytes (the compression worker). */
  patterns(): Array<{ bytes: Uint8Array; field: string }> {
    const encoder = new TextEncoder();
    return this.#indexed().patterns.map(({ pattern, field }) => ({
      bytes: encoder.encode(pattern),
      field,
    }));
  }
}

/** Scans bytes for UTF-8 patterns; a match may span two calls. */
export class ByteScanner {
  readonly #index: GramIndex<Uint8Array>;
  #tail = new Uint8Array(0);

  constructor(patterns: ReadonlyArray<{ bytes: Uint8Array; field: string }>) {
    this.#index = new GramIndex(
      patterns.map(({ bytes, field }) => ({ pattern: bytes, field })),
      (p, at) => p[at],
    );
  }

  /** The field of a secret found in `chunk` (or across the previous chunk's end), or undefined. */
  find(chunk: Uint8Array): string | undefined {
    if (this.#index.patterns.length === 0) return undefined;
    let data = chunk;
    if (this.#tail.length > 0) {
      data = new Uint8Array(this.#tail.length + chunk.length);
      data.set(this.#tail);
      data.set(chunk, this.#tail.length);
    }
    const found = this.#scan(data);
    this.#tail = data.slice(Math.max(0, data.length - (this.#index.maxLength - 1)));
    return found;
  }

  #scan(data: Uint8Array): string | undefined {
    const { bitmap, stride } = this.#index;
    const n = data.length;
    for (let i = 0; i + GRAM <= n; i += stride) {
      const h = gramHash(data[i], data[i + 1], data[i + 2], data[i + 3]);
      if ((bitmap[h >> 3] & (1 << (h & 7))) === 0) continue;
      for (const { pattern, field, offset } of this.#index.byHash.get(h)!) {
        const start = i - offset;
        if (start < 0 || start + pattern.length > n) continue;
        let k = 0;
        while (k < pattern.length && data[start + k] === pattern[k]) k++;
        if (k === pattern.length) return field;
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
