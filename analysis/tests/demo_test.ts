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

Deno.test("a SIGTERM to the demo stops its dashboards too", async () => {
  const cwd = await Deno.makeTempDir({ prefix: "demo-stop-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--config", `${ROOT}deno.json`, `${ROOT}tools/demo/mod.ts`],
    cwd,
    env: childEnv({}),
    clearEnv: true,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    // Read until the dashboards are up and waiting, then stop the demo's own process.
    let stdout = "";
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    while (!stdout.includes("Ctrl-C stops it.")) {
      const { value, done } = await reader.read();
      assert.ok(!done, `the demo ended before its dashboards were up: ${stdout.slice(-1500)}`);
      stdout += value;
    }
    const url = /== dashboards: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout)![1];
    const up = await fetch(url);
    await up.body?.cancel();
    assert.equal(up.status, 200);
    child.kill("SIGTERM");
    const status = await child.status;
    // Before the fix, the demo's process ended and its dashboards went on answering.
    const answer = await fetch(url).then((r) => r.body?.cancel(), (err) => err);
    await reader.cancel();
    assert.ok(answer instanceof TypeError, "the dashboards still answer after the demo stopped");
    assert.ok(status.success, `the demo exited with ${status.code}`);
  } finally {
    try {
      child.kill("SIGINT"); // Ctrl-C's way, should the test have failed before the demo ended
    } catch {
      // ended
    }
    await child.status;
    await Deno.remove(cwd, { recursive: true }).catch(() => {});
  }
});
