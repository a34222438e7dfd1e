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
  // Mostly class characters, so that long runs (of 40) occur, broken now and then.
  const runny = fc.array(
    fc.oneof(
      { arbitrary: fc.constantFrom("a", "Z", "7", "+", "/", "=", "_", "-"), weight: 30 },
      { arbitrary: fc.constantFrom(" ", ":", "é", "\\", "@"), weight: 1 },
    ),
    { maxLength: 200 },
  ).map((cs) => cs.join(""));
  // Runs of lengths around n at any offset, between short breaks: where a skip that
  // jumps one too far, or measures a run one short, would miss.
  const near = (n: number) =>
    fc.array(
      fc.tuple(fc.integer({ min: 0, max: n + 1 }), fc.integer({ min: 1, max: 3 })),
      { maxLength: 6 },
    ).map((segments) => segments.map(([run, gap]) => "a".repeat(run) + " ".repeat(gap)).join(""));
  for (const [chars, regex, n] of cases) {
    const table = charClass(chars);
    fc.assert(fc.property(near(n), (t) => hasRun(t, table, n) === regex.test(t)), {
      numRuns: 3000,
    });
    fc.assert(fc.property(text, (t) => hasRun(t, table, n) === regex.test(t)), { numRuns: 3000 });
    fc.assert(fc.property(runny, (t) => hasRun(t, table, n) === regex.test(t)), { numRuns: 3000 });
    assert.equal(hasRun("x".repeat(n - 1), table, n), false);
    assert.equal(hasRun(`${"x".repeat(n)} `, table, n), true);
  }
});
