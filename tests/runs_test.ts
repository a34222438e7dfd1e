import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import { charClass, hasRun } from "../src/sanitize/runs.ts";

Deno.test("hasRun answers as the regular expression it replaces, for any text", () => {
  const cases: Array<[string, RegExp, number]> = [
    ["A-Za-z0-9+/=_-", /[A-Za-z0-9+/=_-]{40}/, 40],
    ["A-Za-z0-9+/", /[A-Za-z0-9+/]{12}/, 12],
  ];
  // Texts made of class characters and others (including non-ASCII), so runs of every length occur.
  const text = fc.array(
    fc.oneof(
      fc.constantFrom("a", "Z", "7", "+", "/", "=", "_", "-"),
      fc.constantFrom(" ", ":", "é", "\\", "@"),
    ),
    { maxLength: 120 },
  ).map((cs) => cs.join(""));
  for (const [chars, regex, n] of cases) {
    const table = charClass(chars);
    fc.assert(fc.property(text, (t) => hasRun(t, table, n) === regex.test(t)), { numRuns: 3000 });
    assert.equal(hasRun("x".repeat(n - 1), table, n), false);
    assert.equal(hasRun(`${"x".repeat(n)} `, table, n), true);
  }
});
