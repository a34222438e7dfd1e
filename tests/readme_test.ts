import assert from "node:assert/strict";
import { whatLeavesTable } from "../src/sanitize/table.ts";
import { regenerate } from "../tools/readme.ts";
import { SETTINGS } from "../src/config/mod.ts";

const README = await Deno.readTextFile(new URL("../README.md", import.meta.url));

Deno.test("the README's what-leaves table is the one the allow-lists generate", () => {
  const match = /<!-- what-leaves:begin -->\n([\s\S]*?)\n<!-- what-leaves:end -->/.exec(README);
  assert.ok(match, "markers missing");
  assert.equal(match[1].trim(), whatLeavesTable().trim());
  assert.equal(regenerate(README), README, "run: deno task readme");
});

Deno.test("the README documents every setting, in the table the definitions generate", () => {
  assert.match(README, /<!-- settings:begin -->\n\| setting \| default \| meaning \|/);
  for (const [names] of SETTINGS) {
    for (const name of names.split(", ")) assert.ok(README.includes(`\`${name}\``), name);
  }
});
