/**
 * `deno task demo`: a throwaway database with a realistic assisted-service
 * dataset, the local receiver and the collector, end to end; then a report
 * of what went out and what was removed or pseudonymised on the way; then
 * the analysis service's dashboards over what was sent (plus generated data),
 * up until interrupted, or checked once with `--no-wait`.
 */
import { unpackArchive } from "../../src/bundle/mod.ts";
import { loadConfig } from "../../src/config/mod.ts";
import { connect } from "../../src/db/mod.ts";
import { createLogger } from "../../src/log/mod.ts";
import { serveLocalReceiver } from "../local_receiver.ts";
import { CLUSTER, EVENT, HOST, INFRA_ENV } from "../../src/sanitize/mod.ts";
import { assembleService } from "../../src/server/service.ts";
import { ASSISTED_SCHEMA_SQL } from "../../tests/fixtures/assisted_schema.ts";
import { startDemoDatabase } from "./database.ts";
import { PLANTED, pullSecret, seedCluster } from "../../tests/fixtures/assisted_data.ts";

const OUT_DIR = "./demo-received";
const ANALYSIS_DIR = "./demo-analysis";
const ROOT = new URL("../../", import.meta.url).pathname;

function kib(n: number): string {
  return `${(n / 1024).toFixed(1)} KiB`;
}

function say(text = ""): void {
  console.log(text);
}

async function main(): Promise<void> {
  say("== starting a throwaway database");
  const database = await startDemoDatabase();
  say(`   ${database.kind}`);
  const sql = connect(database.url, { max: database.singleConnection ? 1 : 4 });
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    await sql.unsafe(ASSISTED_SCHEMA_SQL);
    await seedCluster(sql, crypto.randomUUID(), {
      hosts: 3,
      events: 30,
      cluster: { name: "installed-before-collection", status_updated_at: "2026-01-01T00:00:00Z" },
    });

    say("== starting the local receiver");
    await Deno.remove(OUT_DIR, { recursive: true }).catch(() => {});
    const receiver = await serveLocalReceiver(OUT_DIR);
    cleanups.push(() => receiver.close());
    const { endpoint, store } = receiver;
    say(`   ${endpoint}, keeping uploads in ${OUT_DIR}/`);

    say("== starting the collector (first start records when collection began)");
    const secretFile = await Deno.makeTempFile({ prefix: "demo-pull-secret-" });
    cleanups.push(() => Deno.remove(secretFile));
    await Deno.writeTextFile(secretFile, pullSecret());
    const token = crypto.randomUUID() + crypto.randomUUID();
    const config = loadConfig({
      DATABASE_URL: database.url,
      DATA_UPLOAD_ENDPOINT: endpoint,
      PULL_SECRET_FILE: secretFile,
      TRIGGER_TOKEN: token,
      DEPLOYMENT_TYPE: "Podman",
      DEPLOYMENT_VERSION: "demo",
      LOG_LEVEL: "warn",
    });
    const log = createLogger(config.logLevel);
    const service = assembleService(config, { log, sql });
    const { scheduler } = service;
    const serverReady = Promise.withResolvers<number>();
    service.listen({
      port: 0,
      hostname: "127.0.0.1",
      onListen: (port) => serverReady.resolve(port),
    });
    cleanups.push(async () => void await service.shutdown({ graceMs: 5_000 }));
    const api = `http://127.0.0.1:${await serverReady.promise}`;
    scheduler.request({});
    await scheduler.idle();

    say("== installations finish: one of 120 hosts, a failed one, a cancelled one,");
    say("   one whose owner opted out in its own pull secret, and one still installing");
    const started = performance.now();
    await seedCluster(sql, crypto.randomUUID(), {
      hosts: 120,
      events: 6000,
      cluster: { name: "big-120-hosts" },
    });
    await seedCluster(sql, crypto.randomUUID(), {
      hosts: 3,
      events: 400,
      cluster: {
        name: "failed",
        status: "error",
        status_info: "Timeout while waiting for bootstrap",
      },
    });
    await seedCluster(sql, crypto.randomUUID(), {
      hosts: 1,
      events: 80,
      cluster: { name: "cancelled-sno", status: "cancelled", control_plane_count: 1 },
    });
    await seedCluster(sql, crypto.randomUUID(), {
      hosts: 3,
      events: 60,
      cluster: { name: "owner-opted-out", pull_secret: pullSecret({ telemetry: false }) },
    });
    await seedCluster(sql, crypto.randomUUID(), {
      hosts: 3,
      events: 60,
      cluster: { name: "still-installing", status: "installing" },
    });
    say(`   seeded in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    say("== POST /v1/trigger");
    const trigger = await fetch(`${api}/v1/trigger`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}` },
    });
    say(`   ${trigger.status} ${await trigger.text()}`);
    await scheduler.idle();
    const status =
      await (await fetch(`${api}/v1/status`, { headers: { Authorization: `Bearer ${token}` } }))
        .json();
    say(`   ledger: ${JSON.stringify(status.attempts)}`);
    for (const row of status.recent) {
      say(
        `   - ${row.cluster_id} ${row.cluster_status.padEnd(9)} ${row.state}${
          row.last_error ? ` (${row.last_error})` : ""
        }`,
      );
    }

    say("\n== what went out");
    const planted = Object.values(PLANTED);
    let leaks = 0;
    for (const upload of await store.list()) {
      const archive = (await store.archive(upload.request_id))!;
      say(
        `\n-- cluster ${upload.cluster_id}: ${
          kib(upload.bytes)
        } compressed, request ${upload.request_id}`,
      );
      for (const file of await unpackArchive(archive)) {
        const text = new TextDecoder().decode(file.data);
        let detail = "";
        if (file.name.endsWith("/events.json")) detail = `${JSON.parse(text).length} events`;
        if (file.name.endsWith("/hosts.json")) detail = `${JSON.parse(text).length} hosts`;
        say(`   ${file.name.padEnd(60)} ${kib(file.data.byteLength).padStart(10)}  ${detail}`);
        leaks += planted.filter((p) => text.includes(p)).length;
      }
    }
    say(
      `\nPlanted secrets and personal values found in what left: ${leaks} (of ${planted.length} planted)`,
    );

    say("\n== removed or pseudonymised on the way (contract/policy.ts)");
    for (const policy of [CLUSTER, HOST, INFRA_ENV, EVENT]) {
      const treated = policy.fields.filter((f) => f.treatment !== "keep").map((f) =>
        `${f.key} (${f.treatment})`
      );
      say(`   ${policy.file}`);
      say(`     transformed: ${treated.join(", ")}`);
      say(
        `     dropped:     ${Object.keys(policy.dropped).join(", ")}, and every column not listed`,
      );
    }
    if (leaks > 0) Deno.exitCode = 1;
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    await sql.end({ timeout: 5 });
    await database.stop();
  }
}

/**
 * The analysis service over what the collector sent, in a process of its
 * own (it has its own dependencies). Ctrl-C reaches it directly; this
 * process waits for it.
 */
async function dashboards(noWait: boolean): Promise<number> {
  say("\n== the analysis service reads what was sent, beside generated SaaS and on-prem data");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--config",
      `${ROOT}analysis/deno.json`,
      `${ROOT}tools/analysis_demo.ts`,
      "--received",
      OUT_DIR,
      "--dir",
      ANALYSIS_DIR,
      ...(noWait ? ["--no-wait"] : []),
    ],
    stdin: "null",
  }).spawn();
  // Ctrl-C reaches the child too; a signal sent to this process alone is passed on, so the
  // dashboards never outlive it (a SIGTERM used to end this process and leave them running).
  const passOn = (signal: Deno.Signal) => () => {
    try {
      child.kill(signal);
    } catch {
      // it has ended
    }
  };
  const signals = [["SIGINT", passOn("SIGINT")], ["SIGTERM", passOn("SIGTERM")]] as const;
  for (const [signal, listener] of signals) Deno.addSignalListener(signal, listener);
  try {
    return (await child.status).code;
  } finally {
    for (const [signal, listener] of signals) Deno.removeSignalListener(signal, listener);
  }
}

if (import.meta.main) {
  const unknown = Deno.args.filter((a) => a !== "--no-wait");
  if (unknown.length) {
    console.error(`usage: deno task demo [--no-wait]\nunknown: ${unknown.join(" ")}`);
    Deno.exit(2);
  }
  await main();
  const code = await dashboards(Deno.args.includes("--no-wait"));
  if (code !== 0) Deno.exitCode = code;
}
