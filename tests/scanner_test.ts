import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import { ByteScanner, SecretScanner } from "../src/sanitize/scanner.ts";

/** Secrets whose shortest length (which sets the scan's stride) varies from 6 to 30. */
const secretLists = fc.integer({ min: 6, max: 30 }).chain((shortest) =>
  fc.array(fc.string({ minLength: shortest, maxLength: shortest + 14 }), {
    minLength: 1,
    maxLength: 30,
  })
);

Deno.test("the scanner finds and redacts exactly what includes() would", () => {
  fc.assert(
    fc.property(
      secretLists,
      fc.string({ maxLength: 200 }),
      fc.nat(),
      (secrets, text, pick) => {
        const s = new SecretScanner();
        secrets.forEach((x, i) => s.add(x, `f${i}`));
        const planted = text.slice(0, 50) + secrets[pick % secrets.length] + text.slice(50);
        assert.ok(s.find(planted) !== undefined);
        const redacted = s.redact(planted, "\u0000");
        for (const x of secrets) assert.ok(!redacted.includes(x), `${JSON.stringify(x)} survived`);
        const expected = secrets.some((x) =>
          text.includes(x) || text.includes(JSON.stringify(x).slice(1, -1))
        );
        assert.equal(s.find(text) !== undefined, expected);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("the byte scanner finds a secret split across chunks, and names its field", () => {
  const s = new SecretScanner();
  s.add("hunter2-secret", "hosts.fencing_credentials.password");
  s.add('quote"secret', "other");
  const bytes = new ByteScanner(s.patterns());
  const enc = new TextEncoder();
  assert.equal(bytes.find(enc.encode('{"m":"safe text"}')), undefined);
  assert.equal(bytes.find(enc.encode('{"m":"hunter2-')), undefined);
  assert.equal(bytes.find(enc.encode('secret"}')), "hosts.fencing_credentials.password");
  const json = new ByteScanner(s.patterns());
  assert.equal(json.find(enc.encode(JSON.stringify({ m: 'a quote"secret here' }))), "other");
});

Deno.test("the byte scanner finds a pattern exactly when one occurs, however the bytes are cut", () => {
  const contains = (hay: Uint8Array, needle: Uint8Array) => {
    for (let s = 0; s + needle.length <= hay.length; s++) {
      let k = 0;
      while (k < needle.length && hay[s + k] === needle[k]) k++;
      if (k === needle.length) return true;
    }
    return false;
  };
  // A small alphabet, so that near misses and shared grams are common.
  const bytes = (min: number, max: number) =>
    fc.array(fc.integer({ min: 0, max: 3 }), { minLength: min, maxLength: max })
      .map((a) => Uint8Array.from(a));
  fc.assert(
    fc.property(
      // The shortest pattern sets the stride: from 3 (6 bytes) to 21 (24 bytes).
      fc.integer({ min: 6, max: 24 }).chain((shortest) =>
        fc.array(bytes(shortest, shortest + 6), { minLength: 1, maxLength: 8 })
      ),
      bytes(0, 300),
      fc.array(fc.nat(300), { maxLength: 6 }),
      fc.option(fc.tuple(fc.nat(), fc.nat(300))),
      (patterns, text, cuts, plant) => {
        let stream = text;
        if (plant) {
          const p = patterns[plant[0] % patterns.length];
          const at = plant[1] % (text.length + 1);
          stream = Uint8Array.from([...text.subarray(0, at), ...p, ...text.subarray(at)]);
        }
        const scanner = new ByteScanner(patterns.map((b, i) => ({ bytes: b, field: `f${i}` })));
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        let found: string | undefined;
        let from = 0;
        for (const to of [...points, stream.length]) {
          found ??= scanner.find(stream.subarray(from, to));
          from = to;
        }
        assert.equal(found !== undefined, patterns.some((p) => contains(stream, p)));
        if (found) assert.ok(contains(stream, patterns[Number(found.slice(1))]));
      },
    ),
    { numRuns: 2000 },
  );
});
