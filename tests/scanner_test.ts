import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import { ByteScanner, SecretScanner } from "../src/sanitize/scanner.ts";

Deno.test("the scanner finds and redacts exactly what includes() would", () => {
  fc.assert(
    fc.property(
      fc.array(fc.string({ minLength: 6, maxLength: 20 }), { minLength: 1, maxLength: 30 }),
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
