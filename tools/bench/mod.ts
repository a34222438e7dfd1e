/**
 * `deno task bench [events] [--rounds N] [--quick]`: a 150-host cluster with N
 * events (default 1,000,000) in a throwaway PostgreSQL; in each round (default
 * 3, as `bench-analysis`: one pair of timings on this machine varies by up to
 * 25 %) the cluster ends a new attempt and one collector pass sends it into the
 * local receiver, against the practical floor `psql \copy (… row_to_json …) |
 * gzip -6` over the same rows, timed just before. A pass is timed to the
 * upload accepted (the archive read, built and delivered); the delivery check
 * that follows waits on the receiving end's tracker and is shown beside it.
 * Prints a table with every round and the medians; it is a benchmark, not a test.
 * Host messages repeat as real clusters' do; `--unique-messages` makes each
 * one unique (the other kind of data: slower to sanitise, faster to compress).
 * `--quick` leaves out the table of compressors; `--sanitiser` measures only
 * the sanitiser's cost per event, without a database. `BENCH_RUN` picks how
 * the collector is started, as the README documents it: `start` (default:
 * `deno task start`'s command: serve with its permissions), `serve` (`deno run
 * -A main.ts serve`), `once` (`deno run -A main.ts once`; timed from its
 * start, and to its exit beside) or `image` (the Containerfile built and run
 * with Podman, as `deno task container-test` builds it). None passes V8 flags: main.ts bounds the heap itself.
 * Peak RSS is the sum over the collector's process tree.
 */
import zlib from "node:zlib";
import { parseArgs } from "node:util";
import { AsyncGzip, gzipSync } from "fflate";
import { unpackArchive } from "../../src/bundle/mod.ts";
import { PieceDeflater } from "../../src/bundle/pieces.ts";
import { connect } from "../../src/db/mod.ts";
import { ASSISTED_SCHEMA_SQL } from "../../tests/fixtures/assisted_schema.ts";
import { seedCluster } from "../../tests/fixtures/assisted_data.ts";
import { importHmacKey, Sanitizer, TextScrubber } from "../../src/sanitize/mod.ts";
import { findPostgresBin, startThrowawayPostgres } from "../postgres.ts";
import { freePort } from "../child.ts";
import { ReceiverStore } from "../../src/receiver/mod.ts";
import { watchTreeRss } from "../rss.ts";
import { buildCollectorImage, containerConfig, ensureTools, run } from "../container/podman.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/**
 * `deno task start` as `deno.json` defines it (`deno run <flags> main.ts serve`): its flags,
 * read from the task itself so that the benchmark runs what the task runs.
 */
const START_TASK: string = JSON.parse(
  await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
).tasks.start;
const START_FLAGS = START_TASK.split(" ").filter((word) => word.startsWith("--"));
const { values: flags, positionals } = parseArgs({
  args: Deno.args,
  allowPositionals: true,
  options: {
    quick: { type: "boolean" },
    sanitiser: { type: "boolean" },
    "unique-messages": { type: "boolean" },
    rounds: { type: "string", default: "3" },
  },
});
const events = Number(positionals[0] ?? 1_000_000);
const quick = flags.quick === true;
const rounds = Number(flags.rounds);
if (!Number.isInteger(events) || events < 1 || !Number.isInteger(rounds) || rounds < 1) {
  console.error(
    "usage: deno task bench [events] [--rounds N] [--quick] [--unique-messages] [--sanitiser]",
  );
  Deno.exit(2);
}

/** The middle value (the upper one of two middles). */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}
const HOSTS = 150;
/** The collector's buffer size. */
const PIECE = 1 << 20;

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

async function sh(
  script: string,
  env: Record<string, string> = {},
): Promise<{ ms: number; out: string }> {
  const t0 = performance.now();
  const out = await new Deno.Command("bash", {
    args: ["-o", "pipefail", "-c", script],
    env,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return { ms: performance.now() - t0, out: new TextDecoder().decode(out.stdout).trim() };
}

/**
 * When a line holding `message` appeared on `stream` (a child's JSON log), as
 * `performance.now()`; the rest of the stream is read and dropped, warnings
 * and errors passed on.
 */
async function whenLogged(stream: ReadableStream<Uint8Array>, message: string): Promise<number> {
  let at: number | undefined;
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + text).split("\n");
    rest = lines.pop()!;
    for (const line of lines) {
      if (at === undefined && line.includes(`"msg":"${message}"`)) at = performance.now();
      if (/"level":"(warn|error)"/.test(line)) console.error(line);
    }
  }
  if (at === undefined) throw new Error(`the collector never logged "${message}"`);
  return at;
}

/**
 * `main.ts receive` in a process of its own, keeping uploads in `dir`.
 * `close(n)` waits until n uploads are read and kept, then stops it.
 */
async function spawnReceiver(
  dir: string,
): Promise<{ endpoint: string; close(uploads: number): Promise<void> }> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "receive", "--dir", dir, "--port", String(port)],
    env: { LOG_LEVEL: "warn", NO_COLOR: "1", HOME: Deno.env.get("HOME") ?? "/root" },
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const base = `http://127.0.0.1:${port}`;
  for (let tries = 0;; tries++) {
    const up = await fetch(`${base}/`).then((r) => r.body?.cancel(), () => false);
    if (up !== false) break;
    if (tries > 200) throw new Error("the receiver did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    endpoint: `${base}/api/ingress/v1/upload`,
    async close(uploads) {
      for (let tries = 0; tries < 600; tries++) {
        const store = new ReceiverStore(dir);
        await store.open();
        if ((await store.list()).length >= uploads) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/** How the collector is started (`BENCH_RUN`). */
const RUN = Deno.env.get("BENCH_RUN") ?? "start";
if (!["start", "serve", "once", "image"].includes(RUN)) {
  console.error("BENCH_RUN must be start, serve, once or image");
  Deno.exit(2);
}

const IMAGE = "localhost/assisted-telemetry-collector:bench";
const IMAGE_BASE = "localhost/collector-deno-base:bench";

/**
 * The image (`BENCH_RUN=image`), built here and run as the README's Podman
 * section runs it (read-only, its own user), on the host's network to reach
 * this throwaway PostgreSQL. Peak RSS is the container's process tree, read
 * from the host: the container's first process is the collector itself.
 */
async function startImage(
  dir: string,
  env: Record<string, string>,
): Promise<{ child: Deno.ChildProcess; pid(): Promise<number>; remove(): Promise<void> }> {
  await ensureTools();
  await Deno.mkdir(`${dir}/podman`);
  const podman = await containerConfig(`${dir}/podman`);
  console.log("building the image…");
  await buildCollectorImage(IMAGE, { base: IMAGE_BASE, dir: `${dir}/podman`, env: podman });
  const name = `collector-bench-${Deno.pid}`;
  const child = new Deno.Command("podman", {
    args: [
      "run",
      "--rm",
      "--name",
      name,
      "--network",
      "host",
      "--read-only",
      ...Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]),
      IMAGE,
    ],
    env: podman,
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  return {
    child,
    async pid() {
      const out = await run("podman", ["inspect", "--format", "{{.State.Pid}}", name], podman);
      return Number(out.trim());
    },
    async remove() {
      await run("podman", ["rm", "-f", name], podman).catch(() => {});
      await run("podman", ["rmi", "-f", IMAGE, IMAGE_BASE], podman).catch(() => {});
    },
  };
}

/**
 * The sanitiser's own cost per event (messages through their templates,
 * props through their metric's allow-list, free text scrubbed), on rows
 * shaped as the fixture's, written as the archive writes them (each batch
 * prepared, its events' JSON text concatenated and encoded): once with
 * repetitive messages, as real clusters write them (the memo answers most),
 * once with every message unique.
 */
async function sanitiserCost(n: number): Promise<void> {
  const key = await importHmacKey(crypto.getRandomValues(new Uint8Array(32)));
  const clusterId = crypto.randomUUID();
  const hostIds = Array.from({ length: 150 }, () => crypto.randomUUID());
  const host = (i: number) => `master-${i % 150}`;
  const row = (i: number, unique: boolean) => ({
    cluster_id: clusterId,
    host_id: hostIds[i % 150],
    infra_env_id: null,
    severity: "info",
    event_time: `2026-11-27 10:${String(Math.floor(i / 60_000) % 60).padStart(2, "0")}:${
      String(Math.floor(i / 1000) % 60).padStart(2, "0")
    }.${String(i % 1000).padStart(3, "0")}456+00`,
    request_id: crypto.randomUUID(),
    ...(i % 10 === 9
      ? {
        category: "metrics",
        name: null,
        message: "host.stage.duration",
        props: `{"disk_type":"SSD","duration":${
          i % 1000
        }.25,"host_role":"master","host_stage":"Writing image to disk","product":"PowerEdge R650","result":"Done","vendor":"Dell Inc."}`,
      }
      : {
        category: "user",
        name: "host_status_updated",
        message: `Host ${host(i)}: updated status from installing to installing-in-progress (${
          unique ? `step ${i} of the install` : "Writing image to disk"
        })`,
        props: "",
      }),
  });
  console.log("\n| sanitiser, per event | repetitive messages | every message unique |");
  console.log("|---|---|---|");
  const encoder = new TextEncoder();
  const buffer = new Uint8Array(1 << 20);
  const results: string[] = [];
  for (const unique of [false, true]) {
    const sanitizer = new Sanitizer(new TextScrubber(key));
    const rows = Array.from({ length: n }, (_, i) => row(i, unique));
    const t0 = performance.now();
    for (let i = 0; i < rows.length; i += 100) {
      const batch = rows.slice(i, i + 100);
      await sanitizer.prepare(batch);
      let text = "";
      for (const r of batch) text += (text === "" ? "" : ",") + sanitizer.eventJson(r);
      encoder.encodeInto(text, buffer);
    }
    results.push(`${((performance.now() - t0) * 1000 / n).toFixed(2)} µs`);
  }
  console.log(`| ${n.toLocaleString("en")} events | ${results[0]} | ${results[1]} |`);
}

async function main(): Promise<void> {
  if (flags.sanitiser) return await sanitiserCost(200_000);
  const bin = findPostgresBin();
  if (!bin) {
    throw new Error("the benchmark needs PostgreSQL server binaries (apt-get install postgresql)");
  }
  console.log(
    `machine: ${Deno.build.os} ${Deno.build.arch}, ${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}`,
  );
  const pg = await startThrowawayPostgres({
    settings: { shared_buffers: "256MB", work_mem: "64MB" },
  });
  const sql = connect(pg.url);
  const dir = await Deno.makeTempDir({ prefix: "collector-bench-" });
  try {
    await sql.unsafe(ASSISTED_SCHEMA_SQL);
    // The receiver runs as a process of its own: in this one, its reading of each
    // upload held up this process's /healthz probes (a 0.9 s stall was seen).
    const receiver = await spawnReceiver(dir);
    const { endpoint } = receiver;
    const port = freePort();
    const env = {
      DATABASE_URL: pg.url,
      DATA_UPLOAD_ENDPOINT: endpoint,
      PORT: String(port),
      LOG_LEVEL: "warn",
      SCAN_INTERVAL: "24h",
      NO_COLOR: "1",
      ...(Deno.env.get("BENCH_TRACK")
        ? { DATA_UPLOAD_TRACK_ENDPOINT: Deno.env.get("BENCH_TRACK")! }
        : {}),
    };

    console.log(
      `seeding ${HOSTS} hosts and ${events.toLocaleString("en")} events (${
        flags["unique-messages"] ? "every message unique" : "messages repeating as real ones do"
      })…`,
    );
    const t0 = performance.now();
    const id = crypto.randomUUID();
    await seedCluster(sql, id, {
      hosts: HOSTS,
      events,
      cluster: { status: "installing" },
      uniqueMessages: flags["unique-messages"] === true,
    });
    await sql`VACUUM ANALYZE events`;
    // Written out now, so that the seeding's dirty pages are not flushed during the first round.
    await sql`CHECKPOINT`;
    console.log(`  seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // The floor: the database's own JSON and the gzip binary.
    const columns =
      "cluster_id, host_id, infra_env_id, category, name, severity, event_time, message, props, request_id";
    const query =
      `SELECT row_to_json(e) FROM (SELECT ${columns} FROM events WHERE cluster_id = '${id}' AND category IN ('user', 'metrics') AND deleted_at IS NULL ORDER BY event_time) e`;
    const runFloor = () =>
      sh(`${bin}/psql -X -q "$URL" -c "\\copy (${query}) TO STDOUT" | gzip -6 | wc -c`, {
        URL: pg.url,
      });

    const childEnv = {
      ...env,
      HOME: Deno.env.get("HOME") ?? "/root",
      ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
    };
    // `watchLog`: its info log is piped here (to see when the upload is accepted).
    const command = (what: string, options: { watchLog?: boolean } = {}) =>
      new Deno.Command(Deno.execPath(), {
        args: RUN === "start" ? ["run", ...START_FLAGS, MAIN, what] : ["run", "-A", MAIN, what],
        env: options.watchLog ? { ...childEnv, LOG_LEVEL: "info" } : childEnv,
        clearEnv: true,
        stdout: "null",
        stderr: options.watchLog ? "piped" : "inherit",
      });
    // Each round ends a new attempt of the cluster (as a retry does) and times the
    // floor and one pass over it, one after the other: this machine's timings vary
    // from run to run, so rounds and their median say more than one pair.
    const endAttempt = () =>
      sql`UPDATE clusters SET status = 'installed', status_updated_at = clock_timestamp() WHERE id = ${id}`;
    const floors: number[] = [];
    // Timed to the upload accepted: what the collector does. The delivery check that
    // follows waits for the receiving end's tracker, and is shown on its own.
    const walls: number[] = [];
    const ends: number[] = [];
    const peaks: number[] = [];
    const latencies: number[] = [];
    let floorBytes = 0;
    let rssBefore = 0;
    if (RUN === "once") {
      // The first run records when collection began; the attempts end after it.
      if (!(await command("once").output()).success) throw new Error("once failed");
      for (let round = 0; round < rounds; round++) {
        const floor = await runFloor();
        floors.push(floor.ms);
        floorBytes = Number(floor.out);
        await endAttempt();
        const started = performance.now();
        const child = command("once", { watchLog: true }).spawn();
        const watch = watchTreeRss(child.pid);
        const accepted = whenLogged(child.stderr, "upload accepted");
        const status = await child.status;
        walls.push((await accepted) - started);
        ends.push(performance.now() - started);
        peaks.push(watch.stop());
        if (!status.success) throw new Error("once failed");
      }
      await receiver.close(rounds);
    } else {
      // As deployed: serve, triggered, while /healthz is probed.
      const image = RUN === "image" ? await startImage(dir, env) : undefined;
      const child = image?.child ?? command("serve").spawn();
      try {
        const base = `http://127.0.0.1:${port}`;
        const get = (path: string) =>
          fetch(base + path).then(async (r) => ({ status: r.status, body: await r.json() })).catch(
            () => ({ status: 0, body: {} as Record<string, unknown> }),
          );
        while ((await get("/healthz")).status !== 200) await new Promise((r) => setTimeout(r, 50));
        while (!(await get("/v1/status")).body.collection) {
          await new Promise((r) => setTimeout(r, 50));
        }
        const pid = image ? await image.pid() : child.pid;
        const idle = watchTreeRss(pid);
        rssBefore = idle.stop();
        for (let round = 0; round < rounds; round++) {
          const floor = await runFloor();
          floors.push(floor.ms);
          floorBytes = Number(floor.out);
          await endAttempt();
          // A process's peak never falls: each round's is the peak of the passes so far.
          const watch = watchTreeRss(pid);
          const started = performance.now();
          await fetch(`${base}/v1/trigger`, { method: "POST" }).then((r) => r.body?.cancel());
          let accepted: number | undefined;
          for (;;) {
            const t = performance.now();
            await get("/healthz");
            latencies.push(performance.now() - t);
            const { body } = await get("/v1/status");
            const attempts = body.attempts as Record<string, number> | undefined;
            if (attempts && attempts.sent + attempts.abandoned + attempts.blocked >= round + 1) {
              accepted ??= performance.now();
              if (!(body.pass as { running: boolean }).running) break;
            }
            await new Promise((r) => setTimeout(r, 20));
          }
          walls.push(accepted! - started);
          ends.push(performance.now() - started);
          peaks.push(watch.stop());
        }
        child.kill("SIGTERM");
        await child.status;
      } finally {
        // Gone even when a round failed: the container would go on running.
        await image?.remove();
      }
      await receiver.close(rounds);
    }
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.floor(latencies.length * 0.99)] ?? 0;
    console.log(
      `\ncollector started as: ${
        RUN === "start"
          ? `${START_TASK} (deno task start)`
          : RUN === "image"
          ? "the image (podman run --read-only, its entrypoint and command)"
          : `deno run -A main.ts ${RUN}`
      }`,
    );

    const store = new ReceiverStore(dir);
    await store.open();
    const uploads = await store.list();
    if (uploads.length !== rounds) {
      throw new Error(`${uploads.length} uploads for ${rounds} rounds`);
    }
    const archive = (await store.archive(uploads[uploads.length - 1].request_id))!;
    const files = await unpackArchive(archive);
    const eventsJson = files.find((f) => f.name.endsWith("/events.json"))!.data;
    const sent = JSON.parse(new TextDecoder().decode(
      files.find((f) => f.name.endsWith("/metadata.json"))!.data,
    )).event_count;

    const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
    const ratios = walls.map((w, i) => w / floors[i]);
    console.log("\n| measure | collector | floor (psql \\copy … \\| gzip -6) |");
    console.log("|---|---|---|");
    console.log(
      `| events (each round) | ${sent.toLocaleString("en")} | ${events.toLocaleString("en")} |`,
    );
    for (let i = 0; i < rounds; i++) {
      console.log(
        `| round ${i + 1}: to the upload accepted (to the ${
          RUN === "once" ? "exit" : "pass's end"
        }, with the delivery check), peak RSS (process tree) | ${sec(walls[i])} (${
          sec(ends[i])
        }), ${mb(peaks[i])} MB | ${sec(floors[i])} (${ratios[i].toFixed(2)}×) |`,
      );
    }
    const wall = median(walls);
    console.log(`| median wall time | ${sec(wall)} | ${sec(median(floors))} |`);
    console.log(
      `| events/s (median) | ${Math.round(sent / (wall / 1000)).toLocaleString("en")} | ${
        Math.round(events / (median(floors) / 1000)).toLocaleString("en")
      } |`,
    );
    console.log(`| compressed size | ${mb(archive.byteLength)} MB | ${mb(floorBytes)} MB |`);
    console.log(
      `| peak RSS (process tree, highest round) | ${mb(Math.max(...peaks))} MB${
        rssBefore ? ` (idle before the first pass: ${mb(rssBefore)} MB)` : " (start to exit)"
      } | — |`,
    );
    if (latencies.length) {
      console.log(
        `| /healthz p99 during the passes | ${
          p99.toFixed(1)
        } ms (${latencies.length} probes) | — |`,
      );
    }
    console.log(
      `| time ratio collector (to the upload accepted) / floor, median of the rounds | **${
        median(ratios).toFixed(2)
      }×** (${ratios.map((r) => r.toFixed(2)).join(", ")}) | 1 |`,
    );

    if (quick) return;
    // The compressors, over the same events.json.
    console.log(
      `\n| compressor (events.json, ${mb(eventsJson.byteLength)} MB) | time | MB/s | output |`,
    );
    console.log("|---|---|---|---|");
    const row = async (name: string, f: () => Promise<number> | number) => {
      const t = performance.now();
      const size = await f();
      const ms = performance.now() - t;
      console.log(
        `| ${name} | ${(ms / 1000).toFixed(2)} s | ${
          (eventsJson.byteLength / 1e6 / (ms / 1000)).toFixed(0)
        } | ${mb(size)} MB |`,
      );
    };
    const chunks = Array.from(
      { length: Math.ceil(eventsJson.byteLength / PIECE) },
      (_, i) => eventsJson.subarray(i * PIECE, (i + 1) * PIECE),
    );
    const pieces = (level: number, of = chunks) => {
      const deflater = new PieceDeflater(level);
      return of.reduce((n, c) => n + deflater.piece(c).byteLength, 0);
    };
    pieces(6, chunks.slice(0, 8)); // warmed up, so that the first row is not the slowest
    // Levels 6 to 1 of ARCHIVE_GZIP_LEVEL (the default is 4), deflated as the collector does.
    for (const level of [6, 5, 4, 3, 2, 1]) {
      await row(`node:zlib level ${level}, 1 MiB pieces (as the collector)`, () => pieces(level));
    }
    for (const level of [6, 1]) {
      await row(`node:zlib level ${level}, one stream`, () =>
        new Promise((resolve) => {
          let n = 0;
          const g = zlib.createGzip({ level });
          g.on("data", (c: Uint8Array) => n += c.byteLength);
          g.on("end", () => resolve(n));
          for (const c of chunks) {
            g.write(c);
          }
          g.end();
        }));
      await row(
        `fflate gzipSync level ${level}`,
        () => gzipSync(eventsJson, { level: level as 6 }).byteLength,
      );
      await row(`fflate AsyncGzip (worker) level ${level}`, () =>
        new Promise((resolve) => {
          let n = 0;
          const g = new AsyncGzip({ level: level as 6 }, (_err, c, final) => {
            n += c.byteLength;
            if (final) {
              resolve(n);
            }
          });
          for (const c of chunks) g.push(c.slice());
          g.push(new Uint8Array(0), true);
        }));
    }
    await row("CompressionStream (gzip)", async () => {
      let n = 0;
      const stream = new Blob([eventsJson as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
        new CompressionStream("gzip"),
      );
      for await (const c of stream) n += c.byteLength;
      return n;
    });
    const tmp = `${dir}/events.json`;
    await Deno.writeFile(tmp, eventsJson);
    for (const level of [6, 1]) {
      const gz = await sh(`gzip -${level} -c "${tmp}" | wc -c`);
      console.log(
        `| gzip -${level} binary | ${(gz.ms / 1000).toFixed(2)} s | ${
          (eventsJson.byteLength / 1e6 / (gz.ms / 1000)).toFixed(0)
        } | ${mb(Number(gz.out))} MB |`,
      );
    }
  } finally {
    await sql.end({ timeout: 5 });
    await pg.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await main();
