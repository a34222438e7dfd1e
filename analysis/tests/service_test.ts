import assert from "node:assert/strict";
import { loadAnalysisConfig } from "../src/config.ts";
import { assembleAnalysisService } from "../src/service.ts";
import { freePort } from "../../tools/child.ts";
import { programCommand, runProgram } from "./support.ts";

Deno.test("serve as run: listens, applies retention at start, holds the store, stops cleanly on SIGTERM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "analysis-serve-" });
  const port = freePort();
  const env = {
    ANALYSIS_DB: `${dir}/store.duckdb`,
    ANALYSIS_PORT: String(port),
    ANALYSIS_DEV_MODE: "true",
  };
  const child = programCommand("analysis", ["serve"], { env }).spawn();
  child.stderr.cancel();
  const out = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const seen: Array<Record<string, unknown>> = [];
  try {
    // Its log lines, until retention has run.
    let text = "";
    while (!seen.some((l) => l.msg === "retention applied")) {
      const { value, done } = await out.read();
      if (done) throw new Error(`serve ended early: ${text}`);
      text += value;
      const lines = text.split("\n");
      text = lines.pop()!;
      for (const line of lines) seen.push(JSON.parse(line));
    }
    const listening = seen.find((l) => l.msg === "analysis service listening");
    assert.equal(listening?.address, `http://127.0.0.1:${port}`);
    assert.equal(typeof seen.find((l) => l.msg === "retention applied")?.archives, "number");
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.deepEqual(await health.json(), { status: "ok" });

    // A second service on the same store is refused with the reason, as a configuration error.
    const second = await runProgram("analysis", ["serve"], {
      ...env,
      ANALYSIS_PORT: String(freePort()),
    });
    assert.equal(second.code, 2);
    assert.match(second.stderr, /held by another process/);
  } finally {
    child.kill("SIGTERM");
  }
  assert.equal((await child.status).code, 0);
  await out.cancel().catch(() => {});

  // Stopped, it let the store go: the same assembly opens it in this process.
  const service = await assembleAnalysisService(loadAnalysisConfig(env), {
    tokens: { uploaders: new Map(), readers: new Set(), analysts: new Set() },
    audit: () => {},
  });
  assert.ok(service, "the store is free once serve has stopped");
  const server = service.listen({ port: 0, hostname: "127.0.0.1" });
  const res = await fetch(`http://127.0.0.1:${server.addr.port}/api/v1/questions`);
  assert.equal(res.status, 200);
  await res.body?.cancel();
  await service.close();
  await Deno.remove(dir, { recursive: true });
});
