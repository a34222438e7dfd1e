/**
 * The on-premises telemetry collector for the Assisted Installer.
 *
 * @example
 * ```sh
 * deno task start          # main.ts serve
 * deno run -A main.ts once # one pass, then exit
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { type Config, ConfigError, DEFAULT_PORT, loadConfig, SETTINGS } from "./src/config/mod.ts";
import { Collector, type PassResult, safeError } from "./src/collect/mod.ts";
import { renderPreview } from "./src/collect/preview.ts";
import { connect } from "./src/db/mod.ts";
import { createLogger, type Logger } from "./src/log/mod.ts";
import { createReceiver, ReceiverStore } from "./src/receiver/mod.ts";
import { installFaultHandler } from "./src/server/faults.ts";
import { assembleService } from "./src/server/service.ts";
import { VERSION } from "./src/version.ts";

/** Exit codes: 0 done, 1 something failed, 2 bad configuration or usage. */
export const EXIT = { ok: 0, failed: 1, config: 2 } as const;

/** The receiver's default port: the collector's plus one. */
export const RECEIVER_PORT = DEFAULT_PORT + 1;

/** The `--help` text. */
export function helpText(): string {
  const width = 24;
  return `assisted-telemetry-collector ${VERSION}

Sends each finished Assisted Installer installation attempt, sanitised, to
Red Hat once, unless collection is opted out.

Usage: deno run -A main.ts <command> [options]

Commands:
  serve              HTTP API plus a pass every SCAN_INTERVAL (deno task start)
  once               run one pass and exit: 0 sent or skipped, 1 failed, 2 bad config
  opt-out            turn collection off now; pending attempts are cancelled
  opt-in             turn it on again; only attempts that end from now on are sent
  preview <cluster-id> [--out FILE.tgz]
                     show the archive that would be sent for the cluster's latest
                     attempt, without sending it; --out also writes the archive
  receive [--dir D] [--port P] [--hostname H]
                     a local ingress receiver (default ./received, port ${RECEIVER_PORT},
                     127.0.0.1); RECEIVER_TOKEN, if set, is the only token accepted
  help, --help       this text

Endpoints of serve (/v1/* need "Authorization: Bearer $TRIGGER_TOKEN", or a
loopback caller when TRIGGER_TOKEN is unset):
  GET  /healthz      the process is alive
  GET  /readyz       the database answers and uploads are not paused (503 if not)
  GET  /metrics      Prometheus metrics
  GET  /v1/status    the ledger and the opt-out state
  POST /v1/trigger   start a pass now (202); optional body {"cluster_id": "..."}
  POST /v1/opt-out   as the opt-out command
  POST /v1/opt-in    as the opt-in command
  GET  /v1/clusters/{id}/preview
                     the archive preview would write (application/gzip)

Settings (environment):
${
    SETTINGS.map(([name, text]) =>
      name.length > width
        ? `  ${name}\n  ${"".padEnd(width)}  ${text}`
        : `  ${name.padEnd(width)}  ${text}`
    ).join("\n")
  }
`;
}

function configOrExit(): Config {
  try {
    return loadConfig(Deno.env.toObject());
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`error: ${err.message}`);
      Deno.exit(EXIT.config);
    }
    throw err;
  }
}

function passExitCode(result: PassResult): number {
  return result.errors.length > 0 || result.failed > 0 || result.blocked > 0
    ? EXIT.failed
    : EXIT.ok;
}

async function runOnce(config: Config, log: Logger): Promise<number> {
  const sql = connect(config.databaseUrl, { max: config.uploadConcurrency + 3 });
  const collector = new Collector({ sql, config, log });
  try {
    const result = await collector.runPass();
    console.log(JSON.stringify(result));
    return passExitCode(result);
  } finally {
    collector.close();
    await sql.end({ timeout: 5 });
  }
}

async function runPreview(config: Config, log: Logger, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { out: { type: "string" } },
    allowPositionals: true,
  });
  if (positionals.length !== 1) {
    console.error("error: usage: preview <cluster-id> [--out FILE.tgz]");
    return EXIT.config;
  }
  const sql = connect(config.databaseUrl);
  try {
    const preview = await new Collector({ sql, config, log }).preview(positionals[0]);
    if (!preview) {
      console.error(`error: no cluster ${positionals[0]} (or it is soft-deleted)`);
      return EXIT.failed;
    }
    console.log(await renderPreview(preview));
    if (values.out) {
      await Deno.writeFile(values.out, preview.archive.stream());
      console.log(`\nwrote ${values.out}`);
    }
    return EXIT.ok;
  } catch (err) {
    console.error(`error: ${safeError(err)}`);
    return EXIT.failed;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function runOptSwitch(config: Config, log: Logger, optedOut: boolean): Promise<number> {
  const sql = connect(config.databaseUrl);
  try {
    const { state, error } = await new Collector({ sql, config, log }).setOptOut(optedOut);
    console.log(JSON.stringify({ runtime_opted_out: optedOut, collection: state ?? null, error }));
    return error ? EXIT.failed : EXIT.ok;
  } catch (err) {
    log.error("could not record the switch", { error: (err as Error).message });
    return EXIT.failed;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Time the upload in flight gets to finish after SIGTERM (Kubernetes allows 30 s in all). */
const SHUTDOWN_GRACE_MS = 20_000;

async function runServe(config: Config, log: Logger): Promise<number> {
  const service = assembleService(config, { log });
  installFaultHandler(log, () => service.metrics.driverFault());
  service.listen({
    port: config.port,
    onListen: (port) => log.info("listening", { port, version: VERSION }),
  });
  service.start();
  const stopped = Promise.withResolvers<void>();
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => stopped.resolve());
  }
  await stopped.promise;
  log.info("shutting down");
  await service.shutdown({ graceMs: SHUTDOWN_GRACE_MS });
  return EXIT.ok;
}

async function runReceiver(args: string[], log: Logger): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      dir: { type: "string", default: "./received" },
      port: { type: "string", default: String(RECEIVER_PORT) },
      hostname: { type: "string", default: "127.0.0.1" },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error("error: --port must be 0-65535");
    return EXIT.config;
  }
  const store = new ReceiverStore(values.dir!);
  await store.open();
  const app = createReceiver(store, { token: Deno.env.get("RECEIVER_TOKEN") || undefined });
  const server = Deno.serve({
    port,
    hostname: values.hostname,
    onListen: ({ hostname, port }) =>
      log.info("receiver listening", {
        url: `http://${hostname}:${port}/api/ingress/v1/upload`,
        dir: store.dir,
      }),
  }, app.fetch);
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => server.shutdown());
  }
  await server.finished;
  return EXIT.ok;
}

/** Runs the command line; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (!command || ["help", "--help", "-h"].includes(command)) {
    console.log(helpText());
    return command ? EXIT.ok : EXIT.config;
  }
  if (command === "--version") {
    console.log(VERSION);
    return EXIT.ok;
  }
  if (command === "receive") {
    const level = Deno.env.get("LOG_LEVEL") ?? "info";
    const known = ["debug", "info", "warn", "error"] as const;
    return await runReceiver(rest, createLogger(known.find((l) => l === level) ?? "info"));
  }
  if (!["serve", "once", "opt-out", "opt-in", "preview"].includes(command)) {
    console.error(`error: unknown command '${command}'; see --help`);
    return EXIT.config;
  }
  const config = configOrExit();
  const log = createLogger(config.logLevel);
  switch (command) {
    case "serve":
      return await runServe(config, log);
    case "once":
      return await runOnce(config, log);
    case "preview":
      return await runPreview(config, log, rest);
    default:
      return await runOptSwitch(config, log, command === "opt-out");
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
