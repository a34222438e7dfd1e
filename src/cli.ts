/**
 * The command line: commands, their options and help, and what each runs.
 * `main.ts` runs it in a worker thread with a bounded heap (see
 * `server/bounded.ts`).
 */
import { archiveSpool } from "./bundle/spool.ts";
import { parseArgs } from "node:util";
import { type Config, ConfigError, DEFAULT_PORT, loadConfig, SETTINGS } from "./config/mod.ts";
import { Collector, type PassResult, safeError } from "./collect/mod.ts";
import { renderPreview } from "./collect/preview.ts";
import { connect } from "./db/mod.ts";
import { createLogger, type Logger } from "./log/mod.ts";
import { createReceiver, ReceiverStore } from "./receiver/mod.ts";
import { installFaultHandler } from "./server/faults.ts";
import { assembleService } from "./server/service.ts";
import { checkExportRequest, exportStream } from "./export/mod.ts";
import { sendExport, SendExportError } from "./export/send.ts";
import { VERSION } from "./version.ts";

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
${
    Object.values(COMMANDS).map((c) =>
      c.usage.length > 17
        ? `  ${c.usage}\n                     ${c.summary}`
        : `  ${c.usage.padEnd(17)}  ${c.summary}`
    ).join("\n")
  }
  help, --help       this text; <command> --help shows one command

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
  GET  /v1/export[?since=TIME&cluster=ID]
                     the export command's tar, streamed (application/x-tar)

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

/** A command: its usage line, what it does, and the options it takes. */
interface Command {
  usage: string;
  summary: string;
  options?: Record<string, { type: "string" | "boolean"; default?: string }>;
  /** How many positional arguments it takes (exactly). */
  positionals?: number;
}

/** Every command of the command line. */
export const COMMANDS: Record<string, Command> = {
  serve: { usage: "serve", summary: "HTTP API plus a pass every SCAN_INTERVAL (deno task start)" },
  once: {
    usage: "once",
    summary: "run one pass and exit: 0 sent or skipped, 1 failed, 2 bad configuration or usage",
  },
  "opt-out": {
    usage: "opt-out",
    summary: "turn collection off now; pending attempts are cancelled",
  },
  "opt-in": {
    usage: "opt-in",
    summary: "turn it on again; only attempts that end from now on are sent",
  },
  preview: {
    usage: "preview <cluster-id> [--out FILE.tgz]",
    summary:
      "show the archive that would be sent for the cluster's latest attempt, without sending it; --out also writes the archive",
    options: { out: { type: "string" } },
    positionals: 1,
  },
  export: {
    usage: "export --out FILE [--since TIME] [--cluster ID]",
    summary:
      "write, for each finished attempt, the archive that would be sent, into one tar with a manifest (for a disconnected installation; works while opted out)",
    options: {
      out: { type: "string" },
      since: { type: "string" },
      cluster: { type: "string" },
    },
  },
  "send-export": {
    usage: "send-export FILE",
    summary:
      "on a connected machine: upload each archive of an export file (PULL_SECRET_FILE gives the token), verify each delivery; safe to re-run",
    positionals: 1,
  },
  receive: {
    usage: "receive [--dir D] [--port P] [--hostname H]",
    summary:
      `a local ingress receiver (default ./received, port ${RECEIVER_PORT}, 127.0.0.1); RECEIVER_TOKEN, if set, is the only token accepted`,
    options: {
      dir: { type: "string", default: "./received" },
      port: { type: "string", default: String(RECEIVER_PORT) },
      hostname: { type: "string", default: "127.0.0.1" },
    },
  },
};

/** A usage error: printed with the command's usage, exit 2. */
class UsageError extends Error {}

/** Parses a command's arguments strictly: unknown options and extra arguments are usage errors. */
function parseCommand(
  name: string,
  args: string[],
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  const command = COMMANDS[name];
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: command.options ?? {},
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message.split("\n")[0]);
  }
  const want = command.positionals ?? 0;
  if (parsed.positionals.length !== want) {
    throw new UsageError(
      want === 0
        ? `${name} takes no arguments`
        : `${name} takes ${want} argument${want > 1 ? "s" : ""}`,
    );
  }
  return parsed as { values: Record<string, string | boolean | undefined>; positionals: string[] };
}

function commandHelp(name: string): string {
  const command = COMMANDS[name];
  return `usage: deno run -A main.ts ${command.usage}\n\n${command.summary}\n`;
}

function configOrExit(options: { database?: boolean } = {}): Config {
  try {
    return loadConfig(Deno.env.toObject(), options);
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

async function runPreview(
  config: Config,
  log: Logger,
  parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] },
): Promise<number> {
  const { positionals } = parsed;
  const values = parsed.values as { out?: string };
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
  try {
    service.listen({
      port: config.port,
      onListen: (port) => log.info("listening", { port, version: VERSION }),
    });
  } catch (err) {
    // Fatal at start: a service that cannot listen must say so and fail, so
    // that Restart=on-failure (or the kubelet) acts.
    log.error("cannot listen", { port: config.port, error: listenProblem(err) });
    await service.shutdown({ graceMs: 0 });
    return EXIT.failed;
  }
  const spool = archiveSpool();
  if (spool.dir !== undefined) {
    log.info("archives wait for their upload on disk", { dir: spool.dir });
  } else log.warn("archives wait for their upload in memory", { reason: spool.reason });
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

async function runReceiver(
  values: Record<string, string | boolean | undefined>,
  log: Logger,
): Promise<number> {
  const text = String(values.port);
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw new UsageError("--port must be a number from 0 to 65535");
  }
  const store = new ReceiverStore(String(values.dir));
  try {
    await store.open();
  } catch (err) {
    console.error(`error: --dir ${values.dir} cannot be used: ${(err as Error).name}`);
    return EXIT.config;
  }
  const app = createReceiver(store, { token: Deno.env.get("RECEIVER_TOKEN") || undefined });
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({
      port,
      hostname: String(values.hostname),
      onListen: ({ hostname, port }) =>
        log.info("receiver listening", {
          url: `http://${hostname}:${port}/api/ingress/v1/upload`,
          dir: store.dir,
        }),
    }, app.fetch);
  } catch (err) {
    console.error(`error: cannot listen on ${values.hostname}:${port}: ${listenProblem(err)}`);
    return EXIT.failed;
  }
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    Deno.addSignalListener(signal, () => server.shutdown());
  }
  await server.finished;
  return EXIT.ok;
}

async function runExport(
  config: Config,
  log: Logger,
  values: Record<string, string | boolean | undefined>,
): Promise<number> {
  const out = values.out as string | undefined;
  if (!out) throw new UsageError("export needs --out FILE");
  const request = checkExportRequest({
    since: values.since as string | undefined,
    cluster: values.cluster as string | undefined,
  });
  if ("error" in request) throw new UsageError(`--${request.error}`);
  const sql = connect(config.databaseUrl);
  const collector = new Collector({ sql, config, log });
  const tmp = `${out}.partial`;
  try {
    const fileName = out.split("/").at(-1)!;
    await Deno.writeFile(tmp, exportStream(collector, { ...request, fileName }));
    await Deno.rename(tmp, out);
    const { readExportManifest } = await import("./export/summary.ts");
    console.log(JSON.stringify(await readExportManifest(out)));
    return EXIT.ok;
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    console.error(`error: ${safeError(err)}`);
    return EXIT.failed;
  } finally {
    collector.close();
    await sql.end({ timeout: 5 });
  }
}

async function runSendExport(config: Config, log: Logger, path: string): Promise<number> {
  try {
    const results = await sendExport(path, { config, log });
    for (const r of results) {
      console.log(
        `${r.cluster_id} ${r.bundle_id}: ${r.status}${
          r.request_id ? ` (request ${r.request_id})` : ""
        }${r.verification ? `, delivery ${r.verification}` : ""}${r.error ? `: ${r.error}` : ""}`,
      );
    }
    const failed = results.filter((r) => r.status === "failed").length;
    console.log(JSON.stringify({
      archives: results.length,
      accepted: results.filter((r) => r.status === "accepted").length,
      already_accepted: results.filter((r) => r.status === "already accepted").length,
      failed,
    }));
    return failed > 0 ? EXIT.failed : EXIT.ok;
  } catch (err) {
    if (err instanceof SendExportError) {
      console.error(`error: ${err.message}`);
      return EXIT.config;
    }
    throw err;
  }
}

/** Why a listener could not start, in words. */
function listenProblem(err: unknown): string {
  if (err instanceof Deno.errors.AddrInUse) return "the port is in use";
  if (err instanceof Deno.errors.PermissionDenied) {
    return "not permitted (a port below 1024 needs privileges)";
  }
  if (err instanceof Deno.errors.AddrNotAvailable) return "the address is not on this machine";
  return safeError(err);
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
  if (!(command in COMMANDS)) {
    console.error(`error: unknown command '${command}'; see --help`);
    return EXIT.config;
  }
  // `<command> --help` helps and does nothing else.
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(commandHelp(command));
    return EXIT.ok;
  }
  let parsed;
  try {
    parsed = parseCommand(command, rest);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`error: ${err.message}\n${commandHelp(command)}`);
    return EXIT.config;
  }
  try {
    if (command === "receive") {
      const level = Deno.env.get("LOG_LEVEL") ?? "info";
      const known = ["debug", "info", "warn", "error"] as const;
      return await runReceiver(
        parsed.values,
        createLogger(known.find((l) => l === level) ?? "info"),
      );
    }
    if (command === "send-export") {
      const config = configOrExit({ database: false });
      return await runSendExport(config, createLogger(config.logLevel), parsed.positionals[0]);
    }
    const config = configOrExit();
    const log = createLogger(config.logLevel);
    switch (command) {
      case "export":
        return await runExport(config, log, parsed.values);
      case "serve":
        return await runServe(config, log);
      case "once":
        return await runOnce(config, log);
      case "preview":
        return await runPreview(config, log, parsed);
      default:
        return await runOptSwitch(config, log, command === "opt-out");
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`error: ${err.message}\n${commandHelp(command)}`);
    return EXIT.config;
  }
}
