/**
 * The analysis service: `deno task analysis <command>`.
 *
 *   serve                      ingest (ingress's upload contract), the question API and the dashboards
 *   import <file|dir>…         on-prem archives, receiver folders, SaaS S3 exports
 *   reprocess                  re-read every raw archive into fresh tables, then apply the retention
 *   ask <id> [options]         answer a question at the terminal
 *   questions                  list the questions
 *   export --out DIR           the tables as Hive-partitioned Parquet
 */
import { parseArgs } from "node:util";
import {
  type AnalysisConfig,
  ConfigError,
  loadAnalysisConfig,
  loadTokens,
  settingsHelp,
} from "./src/config.ts";
import { findImportFiles, readWhole } from "./src/ingest/files.ts";
import { makeScratchDir } from "./src/scratch.ts";
import type { SaasStream } from "./src/normalise/saas.ts";
import { discardUnpacked, unpackArchive, type Unpacked } from "./src/normalise/archive.ts";
import { readExportFile } from "../contract/mod.ts";
import { ask, findQuestion, parseAsk, QuestionError, QUESTIONS } from "./src/questions/mod.ts";
import { toCsv, toTable } from "./src/questions/format.ts";
import { exportParquet } from "./src/store/parquet.ts";
import { deleteSubject, prune } from "./src/store/retention.ts";
import { assembleAnalysisService, openIngest } from "./src/service.ts";

const USAGE = `usage: deno task analysis <command> [options]

commands:
  serve                         ingest uploads, answer questions and serve the dashboards over HTTP
  import <file|dir>...          import archives (.tgz), export files of disconnected installs (.tar,
                                marked channel manual_export), receiver folders and SaaS exports (.ndjson)
        [--channel import|manual_export]
  reprocess                     re-read every stored raw archive (after a parser fix), then apply
                                the retention again (the raw archives hold older rows)
  ask <question> [--by D] [--source onprem|saas|all] [--split] [--from YYYY-MM-DD]
        [--to YYYY-MM-DD] [--internal] [--format table|json|csv] [--filter name=value]...
  questions                     list the questions and their breakdowns
  export --out DIR              write the tables as Parquet, partitioned source=…/month=…/
  prune                         delete raw archives and rows older than ANALYSIS_RETENTION_MONTHS
  delete --cluster ID | --org LABEL
                                delete everything of one cluster or organisation, raw archives too

settings (environment):
${settingsHelp()}
`;

class UsageError extends Error {}

async function viaService(
  config: AnalysisConfig,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (config.cliToken) headers.set("authorization", `Bearer ${config.cliToken}`);
  try {
    return await fetch(`${config.serviceUrl}${path}`, { ...init, headers });
  } catch {
    throw new ConfigError(
      `the store ${config.dbPath} is held by another process and no service answers at ${config.serviceUrl}`,
    );
  }
}

async function serve(config: AnalysisConfig): Promise<void> {
  if (!config.tokensFile && !config.devMode) {
    throw new ConfigError(
      "serve needs ANALYSIS_TOKENS_FILE, or ANALYSIS_DEV_MODE=true for development",
    );
  }
  const log = (line: Record<string, unknown>) =>
    console.log(JSON.stringify({ time: new Date().toISOString(), ...line }));
  const service = await assembleAnalysisService(config, {
    tokens: await loadTokens(config.tokensFile),
    warmEveryMs: 5_000,
    audit: (line) => log({ level: "info", ...line }),
  });
  if (!service) throw new ConfigError(`the store ${config.dbPath} is held by another process`);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = service.listen({ port: config.port });
  } catch (err) {
    await service.close();
    throw new ConfigError(
      `cannot listen on ${config.host}:${config.port}: ${(err as Error).message}`,
    );
  }
  log({
    level: "info",
    msg: "analysis service listening",
    address: `http://${server.addr.hostname}:${server.addr.port}`,
  });
  // Stoppable from the moment it listens (retention at start may wait for another replica).
  let closing: Promise<void> | undefined;
  const stop = () => {
    closing ??= service.close();
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  await service.start(log);
  await server.finished;
  // The listener stops first; the process ends once the store is closed (the archive being
  // read finished, the shared store's connections ended, scratch removed), not before.
  await (closing ?? service.close());
}

async function importFiles(
  config: AnalysisConfig,
  paths: string[],
  channel: string,
): Promise<number> {
  if (paths.length === 0) throw new UsageError("import needs at least one file or directory");
  if (!["import", "manual_export"].includes(channel)) {
    throw new UsageError("--channel must be import or manual_export");
  }
  let files;
  try {
    files = await findImportFiles(paths);
  } catch (err) {
    throw new ConfigError(`cannot read ${(err as Error).message}`);
  }
  // The store opens (connecting, catching up) while the first file is read: both wait on I/O.
  const opening = openIngest(config);
  opening.catch(() => {}); // awaited before the first file is accepted
  let ingest: Awaited<typeof opening>;
  let firstUnpacking: Promise<Unpacked> | undefined;
  let failed = 0;
  let waiting = 0;
  // An export file is verified whole, then each of its archives is imported as hand-exported.
  const units: Array<
    { label: string; path: string; kind: "archive" | SaasStream; channel: string }
  > = [];
  const spool = await makeScratchDir("import");
  try {
    for (const file of files) {
      if (file.kind !== "export") {
        units.push({
          label: file.path,
          path: file.path,
          kind: file.kind,
          channel: file.kind === "archive" ? channel : "saas_export",
        });
        continue;
      }
      let read;
      try {
        read = await readExportFile(file.path, { spoolDir: spool });
      } catch (err) {
        throw new ConfigError(`${file.path} refused: ${(err as Error).message}`);
      }
      for (const archive of read.archives) {
        units.push({
          label: `${file.path}:${archive.entry.file}`,
          path: archive.path,
          kind: "archive",
          channel: "manual_export",
        });
      }
    }
    const first = units.length ? readWhole(units[0].path) : undefined;
    first?.catch(() => {}); // awaited in the loop
    // The embedded store's first archive is unpacked meanwhile too (accept takes it over, or
    // drops it). Not the shared store's: opening it takes many round trips to PostgreSQL, each
    // kept waiting by the unpacking (0.8 s more to open, measured); there, accept unpacks an
    // archive while storing it in PostgreSQL.
    firstUnpacking = !config.databaseUrl && units[0]?.kind === "archive"
      ? first!.then(unpackArchive)
      : undefined;
    firstUnpacking?.catch(() => {}); // its processing awaits it and learns why
    ingest = await opening;
    for (const [i, unit] of units.entries()) {
      const bytes = await (i === 0 ? first! : readWhole(unit.path));
      let status: string;
      let reason: string | undefined;
      if (ingest) {
        const result = await ingest.accept(bytes, {
          kind: unit.kind,
          channel: unit.channel,
          orgLabel: null,
        }, { unpacking: i === 0 ? firstUnpacking : undefined });
        firstUnpacking = undefined; // taken over (or dropped) by accept
        await ingest.settled();
        const [row] = await ingest.store.query<{ status: string; reason: string | null }>(
          "SELECT status, reason FROM archives WHERE sha256 = $1",
          [result.sha256],
        );
        status = row.status + (result.duplicate ? " (already stored)" : "");
        reason = row.reason ?? undefined;
      } else {
        const res = await viaService(
          config,
          `/api/v1/import?channel=${unit.channel}&kind=${encodeURIComponent(unit.kind)}`,
          { method: "POST", body: bytes },
        );
        const body = await res.json();
        if (!res.ok) throw new ConfigError(`the running service refused the import: ${body.error}`);
        status = body.status + (body.duplicate ? " (already stored)" : "");
        reason = body.reason;
      }
      if (status.startsWith("error")) failed++;
      else if (status.startsWith("received") || status.startsWith("processing")) waiting++;
      console.log(`${unit.label}: ${status}${reason ? ` — ${reason}` : ""}`);
    }
  } finally {
    if (firstUnpacking) await discardUnpacked(firstUnpacking);
    await Deno.remove(spool, { recursive: true }).catch(() => {});
  }
  await ingest?.close();
  console.log(
    `${units.length} files read, ${failed} quarantined` +
      (waiting
        ? `, ${waiting} waiting (kept; read again by serve, or by importing them again)`
        : ""),
  );
  return failed + waiting > 0 ? 1 : 0;
}

async function askCommand(config: AnalysisConfig, args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      by: { type: "string" },
      source: { type: "string" },
      split: { type: "boolean" },
      from: { type: "string" },
      to: { type: "string" },
      internal: { type: "boolean" },
      format: { type: "string", default: "table" },
      filter: { type: "string", multiple: true },
      feature: { type: "string" },
      cluster: { type: "string" },
    },
  });
  if (positionals.length !== 1) throw new UsageError("ask needs exactly one question id");
  const question = findQuestion(positionals[0]);
  if (!question) {
    throw new UsageError(`no question '${positionals[0]}'; see: deno task analysis questions`);
  }
  if (!["table", "json", "csv"].includes(values.format!)) {
    throw new UsageError("--format must be table, json or csv");
  }
  const query: Record<string, string | undefined> = {
    by: values.by,
    source: values.source,
    split: values.split ? "source" : undefined,
    from: values.from,
    to: values.to,
    internal: values.internal ? "include" : undefined,
    feature: values.feature,
    cluster: values.cluster,
  };
  for (const f of values.filter ?? []) {
    const [name, ...rest] = f.split("=");
    if (!rest.length) throw new UsageError("--filter takes name=value");
    query[name] = rest.join("=");
  }
  let answer;
  const ingest = await openIngest(config);
  if (ingest) {
    try {
      answer = await ask(ingest.store, question, {
        params: parseAsk(query),
        k: config.minGroup,
        secret: ingest.secret,
      });
    } finally {
      await ingest.close();
    }
  } else {
    const qs = new URLSearchParams(
      Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined),
    );
    const res = await viaService(config, `/api/v1/questions/${question.id}?${qs}`);
    const body = await res.json();
    if (res.status === 400) throw new UsageError(body.error);
    if (!res.ok) throw new ConfigError(`the running service answered ${res.status}: ${body.error}`);
    answer = body;
  }
  if (values.format === "json") console.log(JSON.stringify(answer, null, 2));
  else if (values.format === "csv") {
    Deno.stdout.writeSync(new TextEncoder().encode(toCsv(answer.rows)));
  } else {
    console.log(`${answer.title}${answer.by ? ` by ${answer.by}` : ""}`);
    console.log(`formula: ${answer.formula}`);
    console.log(
      `cells of fewer than ${answer.k} clusters are suppressed (${answer.suppressed} here)\n`,
    );
    Deno.stdout.writeSync(new TextEncoder().encode(toTable(answer.rows)));
  }
}

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  if (!command || command === "--help" || command === "-h" || command === "help") {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  const config = loadAnalysisConfig(Deno.env.toObject());
  switch (command) {
    case "serve":
      if (rest.length) throw new UsageError(`serve takes no arguments`);
      await serve(config);
      return 0;
    case "import": {
      const { values, positionals } = parseArgs({
        args: rest,
        allowPositionals: true,
        options: { channel: { type: "string", default: "import" } },
      });
      return await importFiles(config, positionals, values.channel!);
    }
    case "reprocess": {
      if (rest.length) throw new UsageError(`reprocess takes no arguments`);
      const ingest = await openIngest(config);
      if (!ingest) {
        throw new ConfigError(
          `the store ${config.dbPath} is held by another process; stop serve first`,
        );
      }
      const counts = await ingest.reprocess();
      // The raw archives still hold rows older than the retention: they go again at once.
      await prune(ingest, config.retentionMonths);
      await ingest.close();
      console.log(
        `reprocessed: ${counts.success} read, ${counts.error} quarantined` +
          (counts.waiting ? `, ${counts.waiting} waiting (read again by serve)` : ""),
      );
      return counts.waiting ? 1 : 0;
    }
    case "ask":
      await askCommand(config, rest);
      return 0;
    case "questions":
      for (const q of QUESTIONS) {
        const by = Object.keys(q.by);
        console.log(`${q.id.padEnd(24)} ${q.title}${by.length ? ` (by ${by.join(", ")})` : ""}`);
      }
      return 0;
    case "prune":
    case "delete": {
      const { values } = parseArgs({
        args: rest,
        options: { cluster: { type: "string" }, org: { type: "string" } },
      });
      if (command === "delete" && !values.cluster === !values.org) {
        throw new UsageError("delete needs exactly one of --cluster ID or --org LABEL");
      }
      if (command === "prune" && (values.cluster || values.org)) {
        throw new UsageError("prune takes no arguments");
      }
      const ingest = await openIngest(config);
      if (!ingest) {
        throw new ConfigError(
          `the store ${config.dbPath} is held by another process; stop serve first`,
        );
      }
      const removed = command === "prune"
        ? await prune(ingest, config.retentionMonths)
        : await deleteSubject(ingest, { clusterId: values.cluster, org: values.org });
      await ingest.close();
      console.log(JSON.stringify(removed));
      return 0;
    }
    case "export": {
      const { values } = parseArgs({ args: rest, options: { out: { type: "string" } } });
      if (!values.out) throw new UsageError("export needs --out DIR");
      const ingest = await openIngest(config);
      if (!ingest) throw new ConfigError(`the store ${config.dbPath} is held by another process`);
      const written = await exportParquet(ingest.store, values.out);
      await ingest.close();
      console.log(`wrote ${written.join(", ")} under ${values.out}`);
      return 0;
    }
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (err) {
    const code = (err as { code?: string })?.code ?? "";
    if (err instanceof UsageError || code.startsWith("ERR_PARSE_ARGS")) {
      console.error(`${(err as Error).message}\n\n${USAGE}`);
      Deno.exit(2);
    }
    if (err instanceof ConfigError || err instanceof QuestionError) {
      console.error(`error: ${err.message}`);
      Deno.exit(2);
    }
    throw err;
  }
}
