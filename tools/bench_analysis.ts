/**
 * `deno task bench-analysis [events] [--rounds N] [--population N] [--ingest-only|--questions-only]`:
 * the analysis service's benchmark, not a test.
 *
 * 1. Ingest: a 150-host archive of N events (default 1,000,000) imported the
 *    way an operator runs it (`deno task analysis import FILE`, its own
 *    process), against the floor: DuckDB itself loading the same events.json
 *    with read_json, in a process of its own. Wall time and peak RSS of each,
 *    in N rounds (default 3) that alternate the two, and the median ratio.
 *    Then the same archive uploaded to a running `serve` (until its tracker
 *    says `success`); and into the shared store (a throwaway PostgreSQL, a new
 *    database each round, each import right after a floor of its own), also
 *    uploaded to a `serve` replica, and a second replica's first start.
 * 2. Questions: a generated population (default 10,000 attempts, 2,000
 *    events each: 20,000,000 events) written straight into a DuckDB store;
 *    every question asked 20 times; p50 and p95.
 * 3. Pages: every dashboard's HTML over the same store, through the
 *    service's own app: cold (a fresh service, nothing cached, as after new
 *    data arrived) and warm (asked again while the store is unchanged).
 */
import { parseArgs } from "node:util";
import { packTar } from "modern-tar";
import { watchTreeRss } from "./rss.ts";
import { freePort } from "./child.ts";
import { ARCHIVE_CONTENT_TYPE, USER_AGENT_PREFIX } from "../contract/archive.ts";
import { QUESTIONS } from "../analysis/src/questions/catalog.ts";
import { ask, parseAsk } from "../analysis/src/questions/mod.ts";
import { Store } from "../analysis/src/store/duckdb.ts";
import { loadAnalysisConfig } from "../analysis/src/config.ts";
import { Ingest } from "../analysis/src/ingest/mod.ts";
import { OVERVIEW, PAGES } from "../analysis/src/pages/catalog.ts";
import { createAnalysisApp } from "../analysis/src/server.ts";
import { deriveAllSignals } from "../analysis/src/store/signals.ts";
import { SharedStore } from "../analysis/src/store/shared.ts";
import { findPostgresBin, startThrowawayPostgres } from "./postgres.ts";
import postgres from "postgres";

const ROOT = new URL("../", import.meta.url).pathname;
const { values: flags, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    population: { type: "string", default: "10000" },
    rounds: { type: "string", default: "3" },
    "ingest-only": { type: "boolean" },
    "questions-only": { type: "boolean" },
    /** Internal: write the archive into this folder and exit (see ingestBench). */
    "write-archive": { type: "string" },
  },
});
const events = Number(positionals[0] ?? 1_000_000);
const population = Number(flags.population);
const rounds = Number(flags.rounds);

/** The value at quantile `p` of `values` (nearest rank, the upper one between two). */
function quantile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

function median(values: number[]): number {
  return quantile(values, 0.5);
}

/**
 * How long, in ms, some task on this machine has waited for I/O since boot
 * (the kernel's pressure stall information), or undefined where it is not
 * kept. Reported per round: the import writes ~0.5 GB (its own stalls count
 * too), the floor reads a file already in the page cache, so a round whose
 * I/O stalled tells a slow disk from slow code.
 */
function ioStalledMs(): number | undefined {
  try {
    const some = Deno.readTextFileSync("/proc/pressure/io").split("\n")[0];
    const total = /total=(\d+)/.exec(some)?.[1];
    return total === undefined ? undefined : Number(total) / 1000;
  } catch {
    return undefined;
  }
}

async function timed(
  cmd: string[],
  env: Record<string, string>,
): Promise<{ ms: number; peak: number; out: string; ioStall?: number }> {
  const io0 = ioStalledMs();
  const t0 = performance.now();
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    env: { ...env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const watch = watchTreeRss(child.pid);
  const out = await child.output();
  const peak = watch.stop();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr).slice(-2000));
  const ms = performance.now() - t0;
  const io1 = ioStalledMs();
  const ioStall = io0 === undefined || io1 === undefined ? undefined : io1 - io0;
  return { ms, peak, out: new TextDecoder().decode(out.stdout), ioStall };
}

/** "I/O stalled 0.12 s", or "" where the machine does not say. */
function stalled(run: { ioStall?: number }): string {
  return run.ioStall === undefined ? "" : `I/O stalled ${(run.ioStall / 1000).toFixed(2)} s`;
}

/** `note` in parentheses after a space, or nothing. */
function aside(note: string): string {
  return note ? ` (${note})` : "";
}

/** A 150-host archive of `n` events in upstream's layout, written to `path`. */
export async function writeArchive(
  dir: string,
  n: number,
): Promise<{ archive: string; events: string }> {
  const id = "0b1f4a40-3c55-4c9b-9a4e-0c6c0c2b7d11";
  const hosts = Array.from({ length: 150 }, (_, i) => ({
    id: crypto.randomUUID(),
    cluster_id: id,
    role: i < 3 ? "master" : "worker",
    inventory: JSON.stringify({ cpu: { count: 32 }, system_vendor: { manufacturer: "Dell Inc." } }),
  }));
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const host = hosts[i % 150];
    const t = new Date(Date.UTC(2026, 10, 27, 10) + i * 3).toISOString();
    parts.push(JSON.stringify(
      i % 10 === 9
        ? {
          cluster_id: id,
          host_id: host.id,
          category: "metrics",
          event_time: t,
          message: "host.stage.duration",
          props: `{"duration":${i % 1000}.5,"host_stage":"Writing image to disk","result":"Done"}`,
          severity: "info",
        }
        : {
          cluster_id: id,
          host_id: host.id,
          category: "user",
          event_time: t,
          message: `Host node-${
            i % 150
          }: updated status from installing to installing-in-progress (step ${i})`,
          name: "host_status_updated",
          severity: "info",
        },
    ));
  }
  const eventsText = `[${parts.join(",")}]`;
  const eventsPath = `${dir}/events.json`;
  await Deno.writeTextFile(eventsPath, eventsText);
  const enc = new TextEncoder();
  const files: Record<string, Uint8Array> = {
    [`${id}/events/cluster.json`]: enc.encode(JSON.stringify({
      id,
      openshift_version: "4.18.4",
      platform: { type: "baremetal" },
      created_at: "2026-11-27T09:00:00Z",
    })),
    [`${id}/events/hosts.json`]: enc.encode(JSON.stringify(hosts)),
    [`${id}/events.json`]: enc.encode(eventsText),
    [`${id}/metadata.json`]: enc.encode(JSON.stringify({ "deployment-type": "MCE" })),
  };
  const tar = await packTar(
    Object.entries(files).map(([name, body]) => ({
      header: { name, size: body.byteLength, type: "file" as const },
      body,
    })),
  );
  const gz = new Blob([tar as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  const archive = `${dir}/archive.tgz`;
  await Deno.writeFile(archive, gz);
  return { archive, events: eventsPath };
}

async function ingestBench(dir: string): Promise<void> {
  console.log(`writing a 150-host archive of ${events.toLocaleString("en")} events…`);
  const deno = Deno.execPath();
  const config = `${ROOT}analysis/deno.json`;
  // Written by a process of its own: the million events' strings, left in this process's heap,
  // slowed the measured import by 0.6-1.1 s (7.0-7.7 s against 6.1-6.6 s run alone, measured).
  const writer = await new Deno.Command(deno, {
    args: [
      "run",
      "-A",
      "--config",
      config,
      import.meta.filename!,
      "--write-archive",
      dir,
      String(events),
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!writer.success) throw new Error("writing the archive failed");
  const archive = `${dir}/archive.tgz`;
  const eventsPath = `${dir}/events.json`;
  const env = {
    HOME: Deno.env.get("HOME") ?? "/root",
    ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
    PATH: Deno.env.get("PATH") ?? "",
  };
  // The floor: DuckDB loading the same events.json, in a process of its own.
  const floorScript = `${dir}/floor.ts`;
  // Rounds alternate floor and import, each into a new file: this machine's timings vary by
  // up to 25% from run to run, so each round's ratio and their median are reported.
  const floors: Awaited<ReturnType<typeof timed>>[] = [];
  const ingests: Awaited<ReturnType<typeof timed>>[] = [];
  await Deno.writeTextFile(
    floorScript,
    `import { DuckDBInstance } from "@duckdb/node-api";
const db = await DuckDBInstance.create(Deno.args[0]);
const c = await db.connect();
await c.run("CREATE TABLE e AS SELECT * FROM read_json('${eventsPath}', format = 'array', maximum_object_size = 67108864)");
console.log((await c.runAndReadAll("SELECT count(*) AS n FROM e")).getRowObjectsJson()[0].n);`,
  );
  for (let round = 0; round < rounds; round++) {
    floors.push(
      await timed(
        [deno, "run", "-A", "--config", config, floorScript, `${dir}/floor-${round}.duckdb`],
        env,
      ),
    );
    ingests.push(
      await timed(
        [deno, "run", "-A", "--config", config, `${ROOT}analysis/main.ts`, "import", archive],
        { ...env, ANALYSIS_DB: `${dir}/bench-${round}.duckdb` },
      ),
    );
  }
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  const ratios = ingests.map((ingest, i) => ingest.ms / floors[i].ms);
  console.log(
    `\n| ingest of one archive (${rounds} rounds) | analysis import | floor (DuckDB read_json) | ratio |`,
  );
  console.log("|---|---|---|---|");
  console.log(`| events | ${events.toLocaleString("en")} | ${floors[0].out.trim()} | |`);
  for (let i = 0; i < rounds; i++) {
    console.log(
      `| round ${i + 1}: wall time, peak RSS | ${s(ingests[i].ms)}, ${mb(ingests[i].peak)}${
        aside(stalled(ingests[i]))
      } | ${s(floors[i].ms)}, ${mb(floors[i].peak)}${aside(stalled(floors[i]))} | ${
        ratios[i].toFixed(2)
      }× |`,
    );
  }
  console.log(
    `| median | ${s(median(ingests.map((r) => r.ms)))}, ${
      mb(median(ingests.map((r) => r.peak)))
    } | ${s(median(floors.map((r) => r.ms)))} | **${median(ratios).toFixed(2)}×** |`,
  );
  const floor = { ms: median(floors.map((r) => r.ms)) };
  await serveIngestBench(dir, { archive, env, floorMs: floor.ms });
  const runFloor = (round: number) =>
    timed(
      [deno, "run", "-A", "--config", config, floorScript, `${dir}/shared-floor-${round}.duckdb`],
      env,
    );
  await sharedIngestBench(dir, { archive, env, runFloor });
}

/** The same archive uploaded to a running `serve` (embedded store), against the import's floor. */
async function serveIngestBench(
  dir: string,
  run: { archive: string; env: Record<string, string>; floorMs: number },
): Promise<void> {
  const { ms, peak } = await uploadToServe(run.archive, {
    ...run.env,
    ANALYSIS_DB: `${dir}/serve.duckdb`,
  });
  console.log(
    "\n| through `serve` | upload to `success` | peak RSS of the service | ratio to the floor |",
  );
  console.log("|---|---|---|---|");
  console.log(
    `| the same archive, uploaded | ${(ms / 1000).toFixed(2)} s | ${(peak / 1e6).toFixed(1)} MB | ${
      (ms / run.floorMs).toFixed(2)
    }× |`,
  );
}

/**
 * Uploads `archive` to a `serve` started with `env` (and development mode),
 * as the collector sends it, timed from the upload until `/track/{id}`
 * answers `success`. The peak RSS is the service's, over its whole life (it
 * holds the upload too).
 */
async function uploadToServe(
  archive: string,
  env: Record<string, string>,
): Promise<{ ms: number; peak: number }> {
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      `${ROOT}analysis/deno.json`,
      `${ROOT}analysis/main.ts`,
      "serve",
    ],
    env: {
      ...env,
      NO_COLOR: "1",
      DENO_NO_UPDATE_CHECK: "1",
      ANALYSIS_PORT: String(port),
      ANALYSIS_DEV_MODE: "true",
    },
    clearEnv: true,
    stdout: "null",
    stderr: "null",
  }).spawn();
  const watch = watchTreeRss(child.pid);
  try {
    for (let i = 0;; i++) {
      if (await fetch(`${base}/healthz`).then((r) => r.ok, () => false)) break;
      if (i > 600) throw new Error("serve did not start");
      await new Promise((r) => setTimeout(r, 100));
    }
    const headers = { authorization: "Bearer bench", "user-agent": `${USER_AGENT_PREFIX}bench` };
    const form = new FormData();
    form.append(
      "file",
      new Blob([await Deno.readFile(archive)], { type: ARCHIVE_CONTENT_TYPE }),
      "events.tgz",
    );
    const t0 = performance.now();
    const upload = await fetch(`${base}/api/ingress/v1/upload`, {
      method: "POST",
      headers,
      body: form,
    });
    if (upload.status !== 202) throw new Error(`upload answered ${upload.status}`);
    const { request_id: id } = await upload.json();
    let status = "";
    while (status !== "success") {
      const r = await fetch(`${base}/api/ingress/v1/track/${id}`, { headers });
      const body = r.ok ? await r.json() : (await r.body?.cancel(), {});
      status = body.status ?? "";
      if (status === "error") throw new Error(`ingest failed: ${body.status_msg}`);
      if (status !== "success") await new Promise((r) => setTimeout(r, 50));
    }
    return { ms: performance.now() - t0, peak: watch.stop() };
  } finally {
    watch.stop();
    child.kill("SIGTERM");
    await child.status;
  }
}

/**
 * The same archive into the shared store (PostgreSQL, a throwaway cluster):
 * the import, each round into a new database right after a floor of its own,
 * then a second replica's first start (its local copy pulled whole from
 * PostgreSQL), then how long keeping a copy current costs when nothing
 * changed.
 */
async function sharedIngestBench(
  dir: string,
  run: {
    archive: string;
    env: Record<string, string>;
    runFloor: (round: number) => ReturnType<typeof timed>;
  },
): Promise<void> {
  if (!findPostgresBin()) {
    console.log("\n(no PostgreSQL binaries here: the shared store's figures are left out)");
    return;
  }
  const pg = await startThrowawayPostgres();
  const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
  try {
    const deno = Deno.execPath();
    const config = `${ROOT}analysis/deno.json`;
    const main = `${ROOT}analysis/main.ts`;
    const key = `${dir}/replicas.key`;
    await Deno.writeTextFile(key, "b".repeat(64));
    const rows: Array<
      { floor: number; ms: number; peak: number; floorStall: string; stall: string }
    > = [];
    let url = "";
    for (let round = 0; round < rounds; round++) {
      await admin.unsafe(`CREATE DATABASE shared_${round}`);
      url = pg.url.replace(/\/postgres$/, `/shared_${round}`);
      const floor = await run.runFloor(round);
      const ingest = await timed(
        [deno, "run", "-A", "--config", config, main, "import", run.archive],
        {
          ...run.env,
          ANALYSIS_DATABASE_URL: url,
          ANALYSIS_KEY_FILE: key,
          ANALYSIS_DB: `${dir}/replica-1-${round}.duckdb`,
        },
      );
      rows.push({
        floor: floor.ms,
        ms: ingest.ms,
        peak: ingest.peak,
        floorStall: stalled(floor),
        stall: stalled(ingest),
      });
    }
    // The same archive uploaded to a `serve` replica, into a new database after its own floor.
    await admin.unsafe("CREATE DATABASE shared_serve");
    const serveFloor = await run.runFloor(rounds);
    const served = await uploadToServe(run.archive, {
      ...run.env,
      ANALYSIS_DATABASE_URL: pg.url.replace(/\/postgres$/, "/shared_serve"),
      ANALYSIS_KEY_FILE: key,
      ANALYSIS_DB: `${dir}/replica-serve.duckdb`,
    });
    const shared = { ...run.env, ANALYSIS_DATABASE_URL: url, ANALYSIS_KEY_FILE: key };
    const follower = await timed(
      [deno, "run", "-A", "--config", config, main, "ask", "success-rate", "--format", "json"],
      { ...shared, ANALYSIS_DB: `${dir}/replica-2.duckdb` },
    );
    const local = await Store.open(`${dir}/replica-2.duckdb`);
    const replica = await SharedStore.open(url, { local, secret: "b".repeat(64) });
    const times: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now();
      await replica.catchUp();
      times.push(performance.now() - t0);
    }
    await replica.close();
    await local.close();
    times.sort((a, b) => a - b);
    console.log("\n| shared store (PostgreSQL) | wall time | peak RSS | ratio to the floor |");
    console.log("|---|---|---|---|");
    for (const [i, r] of rows.entries()) {
      console.log(
        `| round ${i + 1}: \`analysis import\` of the same archive (its floor ${
          (r.floor / 1000).toFixed(2)
        } s${r.floorStall ? `; ${r.floorStall}` : ""}) | ${(r.ms / 1000).toFixed(2)} s${
          aside(r.stall)
        } | ${(r.peak / 1e6).toFixed(1)} MB | ${(r.ms / r.floor).toFixed(2)}× |`,
      );
    }
    console.log(
      `| median | ${(median(rows.map((r) => r.ms)) / 1000).toFixed(2)} s | ${
        (median(rows.map((r) => r.peak)) / 1e6).toFixed(1)
      } MB | **${median(rows.map((r) => r.ms / r.floor)).toFixed(2)}×** |`,
    );
    console.log(
      `| through \`serve\`: upload to \`success\` (its floor ${
        (serveFloor.ms / 1000).toFixed(2)
      } s) | ${(served.ms / 1000).toFixed(2)} s | ${(served.peak / 1e6).toFixed(1)} MB | ${
        (served.ms / serveFloor.ms).toFixed(2)
      }× |`,
    );
    console.log(
      `| a second replica's first \`ask\` (its copy pulled whole) | ${
        (follower.ms / 1000).toFixed(2)
      } s | ${(follower.peak / 1e6).toFixed(1)} MB | |`,
    );
    console.log(
      `| keeping a copy current, nothing changed (p50 / p95 of 50) | ${times[24].toFixed(1)} / ${
        times[47].toFixed(1)
      } ms | | |`,
    );
  } finally {
    await admin.end();
    await pg.stop();
  }
}

async function questionsBench(dir: string): Promise<void> {
  const perAttempt = 2000;
  console.log(
    `\ngenerating ${population.toLocaleString("en")} attempts and ${
      (population * perAttempt).toLocaleString("en")
    } events…`,
  );
  const store = await Store.open(`${dir}/population.duckdb`);
  await store.exec(`
    INSERT INTO attempts (attempt_id, cluster_key, source, channel, internal, cluster_created_at, ended_at,
      result, last_state, duration_s, openshift_version, platform, ha_mode, host_count, deployment_type,
      features, operators, dual_stack)
    SELECT md5('a' || i), md5('c' || (i // 2)), CASE WHEN i % 3 = 0 THEN 'onprem' ELSE 'saas' END,
      'upload', i % 17 = 0, TIMESTAMPTZ '2026-01-01' + to_days(i % 330), TIMESTAMPTZ '2026-01-01' + to_days(i % 330),
      (['installed', 'error', 'cancelled', 'installed'])[1 + i % 4], 'finalizing', 3000 + i % 900,
      '4.' || (14 + i % 5) || '.' || (i % 9), (['baremetal', 'vsphere', 'none'])[1 + i % 3],
      CASE WHEN i % 4 = 0 THEN 'None' ELSE 'Full' END, 1 + i % 7, CASE WHEN i % 3 = 0 THEN 'MCE' ELSE 'SaaS' END,
      ['OVN_NETWORK_TYPE'] || CASE WHEN i % 5 = 0 THEN ['SNO'] ELSE [] END, ['lso'], i % 9 = 0
    FROM range(${population}) t(i);
    INSERT INTO hosts (cluster_key, host_key, source, role, vendor, product, is_virtual, cpu_cores, memory_bytes)
    SELECT md5('c' || (i // 6)), md5('h' || i), 'saas', (['master', 'worker'])[1 + i % 2],
      (['Dell Inc.', 'HPE', 'QEMU'])[1 + i % 3], 'X', i % 3 = 2, 16 + i % 48, 34359738368
    FROM range(${population * 3}) t(i);
    INSERT INTO events (cluster_key, event_id, source, host_key, event_time, name, message, severity, category, props)
    SELECT md5('c' || (i // ${perAttempt * 2})), md5('e' || i), 'saas', md5('h' || (i % 1000)),
      TIMESTAMPTZ '2026-01-01' + to_seconds(i // 100),
      CASE WHEN i % 10 = 9 THEN NULL WHEN i % 97 = 0 THEN 'cluster_installation_failed' ELSE 'host_status_updated' END,
      CASE WHEN i % 10 = 9 THEN 'host.stage.duration' WHEN i % 97 = 0 THEN 'Failed installing cluster. Reason: timeout ' || (i % 5)
        ELSE 'Host node-' || (i % 50) || ': updated status from installing to error (x)' END,
      'info', CASE WHEN i % 10 = 9 THEN 'metrics' ELSE 'user' END,
      CASE WHEN i % 10 = 9 THEN '{"duration":' || (i % 900) || ',"host_stage":"Rebooting","disk_type":"SSD"}' END
    FROM range(${population * perAttempt}) t(i);`);
  // What ingest derives per archive, here for the whole bulk-loaded population at once.
  const t0 = performance.now();
  await store.transaction((tx) => deriveAllSignals(tx));
  console.log(`per-cluster summaries derived in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log("\n| question | p50 | p95 |");
  console.log("|---|---|---|");
  for (const question of QUESTIONS) {
    const times: number[] = [];
    for (let k = 0; k < 20; k++) {
      const t0 = performance.now();
      await ask(store, question, {
        params: parseAsk({ cluster: question.analystOnly ? "c1" : undefined }),
        k: 5,
        secret: "bench",
      });
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    console.log(
      `| \`${question.id}\` | ${times[9].toFixed(0)} ms | ${times[18].toFixed(0)} ms |`,
    );
  }
  await pagesBench(store, dir);
  await store.close();
}

/** Each page's HTML, cold and warm, through the service's app (no network in between). */
async function pagesBench(store: Store, dir: string): Promise<void> {
  const config = loadAnalysisConfig({ ANALYSIS_DEV_MODE: "true", ANALYSIS_DB: store.path });
  const ingest = new Ingest(store, { secret: "bench", rawDir: `${dir}/raw` });
  const tokens = { uploaders: new Map(), readers: new Set<string>(), analysts: new Set<string>() };
  const paths = [OVERVIEW, ...PAGES].map((p) => p.id === "overview" ? "/" : `/pages/${p.id}`);
  const rounds = 10;
  console.log("\n| page | cold p50 | cold p95 | warm p50 | warm p95 |");
  console.log("|---|---|---|---|---|");
  for (const path of paths) {
    const cold: number[] = [];
    const warm: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const app = createAnalysisApp({ ingest, config, tokens }); // a fresh cache: cold
      for (const times of [cold, warm]) {
        const t0 = performance.now();
        const res = await app.request(path);
        const html = await res.text();
        times.push(performance.now() - t0);
        if (res.status !== 200) throw new Error(`${path}: ${res.status} ${html.slice(0, 300)}`);
      }
    }
    const q = (xs: number[], p: number) => quantile(xs, p).toFixed(0);
    console.log(
      `| \`${path}\` | ${q(cold, 0.5)} ms | ${q(cold, 0.95)} ms | ${q(warm, 0.5)} ms | ${
        q(warm, 0.95)
      } ms |`,
    );
  }
}

if (import.meta.main && flags["write-archive"]) {
  await writeArchive(flags["write-archive"], events);
} else if (import.meta.main) {
  const dir = await Deno.makeTempDir({ prefix: "analysis-bench-" });
  try {
    console.log(
      `machine: ${Deno.build.os} ${Deno.build.arch}, ${navigator.hardwareConcurrency} cores`,
    );
    if (!flags["questions-only"]) await ingestBench(dir);
    if (!flags["ingest-only"]) await questionsBench(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
