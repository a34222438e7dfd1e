import assert from "node:assert/strict";
import { whatLeavesTable, withTable } from "../src/sanitize/table.ts";
import { SETTINGS } from "../src/config/mod.ts";

const README = await Deno.readTextFile(new URL("../README.md", import.meta.url));

Deno.test("the README's what-leaves table is the one the allow-lists generate", () => {
  const match = /<!-- what-leaves:begin -->\n([\s\S]*?)\n<!-- what-leaves:end -->/.exec(README);
  assert.ok(match, "markers missing");
  assert.equal(match[1].trim(), whatLeavesTable().trim());
  assert.equal(withTable(README), README);
});

Deno.test("the README documents every setting", () => {
  for (const [names] of SETTINGS) {
    for (const name of names.split(", ")) assert.ok(README.includes(`\`${name}\``), name);
  }
});
