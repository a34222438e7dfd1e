import assert from "node:assert/strict";
import { loadAnalysisConfig } from "../src/config.ts";
import { assembleAnalysisService } from "../src/service.ts";
import { freePort } from "../../tools/child.ts";
import { emptyDatabase } from "../../tests/support/db.ts";
import { expectedSuccess, generateClusters, onpremArchive } from "./population.ts";
import { programCommand, runProgram } from "./support.ts";
import { ARCHIVE_CONTENT_TYPE, USER_AGENT_PREFIX } from "../../contract/mod.ts";

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

Deno.test("serve replicas on one PostgreSQL: what one is sent, the other tracks and answers", async () => {
  const db = await emptyDatabase();
  const dir = await Deno.makeTempDir({ prefix: "analysis-replicas-" });
  await Deno.writeTextFile(`${dir}/shared.key`, "d".repeat(64));
  const scratch = `${dir}/tmp`;
  await Deno.mkdir(scratch);
  const ports = [freePort(), freePort()];
  const replicas = ports.map((port, i) => {
    const child = programCommand("analysis", ["serve"], {
      env: {
        ANALYSIS_DATABASE_URL: db.url,
        ANALYSIS_KEY_FILE: `${dir}/shared.key`,
        ANALYSIS_DB: `${dir}/copy-${i}.duckdb`,
        ANALYSIS_PORT: String(port),
        ANALYSIS_DEV_MODE: "true",
        ANALYSIS_MIN_GROUP: "1",
        TMPDIR: scratch,
      },
      stdout: "null",
    }).spawn();
    child.stderr.cancel();
    return { child, url: `http://127.0.0.1:${port}` };
  });
  const until = async <T>(what: string, probe: () => Promise<T | undefined>): Promise<T> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const value = await probe().catch(() => undefined);
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  try {
    for (const r of replicas) {
      await until("healthz", async () => (await fetch(`${r.url}/healthz`)).ok || undefined);
    }
    const cluster = generateClusters("onprem", 1, "replicas")[0];
    const form = new FormData();
    form.append(
      "file",
      new File([await onpremArchive(cluster) as Uint8Array<ArrayBuffer>], "events.tgz", {
        type: ARCHIVE_CONTENT_TYPE,
      }),
    );
    const sent = await fetch(`${replicas[0].url}/api/ingress/v1/upload`, {
      method: "POST",
      body: form,
      headers: {
        authorization: "Bearer any-token-in-dev-mode",
        "user-agent": `${USER_AGENT_PREFIX}test`,
      },
    });
    assert.equal(sent.status, 202);
    const { request_id } = await sent.json();
    // The other replica tracks it from PostgreSQL, and answers with it once its copy follows.
    const status = await until("success", async () => {
      const res = await fetch(`${replicas[1].url}/api/ingress/v1/track/${request_id}`, {
        headers: { authorization: "Bearer any-token-in-dev-mode" },
      });
      const body = await res.json();
      return body.status === "success" ? body.status : undefined;
    });
    assert.equal(status, "success");
    const row = await until("the answer", async () => {
      const res = await fetch(
        `${replicas[1].url}/api/v1/questions/success-rate?by=source&internal=include`,
      );
      const body = await res.json();
      return body.rows?.find((r: Record<string, unknown>) => r.key === "onprem");
    });
    assert.deepEqual(
      pick(row, ["clusters_installed", "clusters_error", "attempts_installed", "attempts_error"]),
      pick(expectedSuccess([cluster]), [
        "clusters_installed",
        "clusters_error",
        "attempts_installed",
        "attempts_error",
      ]),
    );
  } finally {
    for (const r of replicas) r.child.kill("SIGTERM");
  }
  for (const r of replicas) assert.equal((await r.child.status).code, 0);
  // Each stopped only once its store was closed: its scratch directories are gone.
  assert.deepEqual(await Array.fromAsync(Deno.readDir(scratch)), []);
  await db.drop();
  await Deno.remove(dir, { recursive: true });
});

function pick(row: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, row[k]]));
}
