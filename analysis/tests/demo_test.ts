/**
 * `deno task demo --no-wait`, as the README runs it: the collector's run,
 * then the dashboards over what it sent, every page checked once.
 */
import assert from "node:assert/strict";
import { PAGES } from "../src/pages/catalog.ts";
import { childEnv } from "./support.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test("the demo ends with the dashboards up over what its collector sent", async () => {
  const cwd = await Deno.makeTempDir({ prefix: "demo-run-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "--config",
        `${ROOT}deno.json`,
        `${ROOT}tools/demo/mod.ts`,
        "--no-wait",
      ],
      cwd,
      env: childEnv({}),
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `${stdout.slice(-3000)}\n${stderr.slice(-2000)}`);
    assert.match(stdout, /found in what left: 0 \(of \d+ planted\)/);
    const sent = Number(/(\d+) archive\(s\) the collector sent/.exec(stdout)?.[1]);
    assert.ok(sent >= 2, "the collector's archives reach the analysis service");
    assert.match(stdout, /== dashboards: http:\/\/127\.0\.0\.1:\d+\//);
    const pages = stdout.match(/^ {3}ok {3}\/\S*/gm) ?? [];
    assert.equal(pages.length, 1 + PAGES.length, stdout.slice(-1500));
    assert.doesNotMatch(stdout, /FAIL/);
  } finally {
    await Deno.remove(cwd, { recursive: true }).catch(() => {});
  }
});
