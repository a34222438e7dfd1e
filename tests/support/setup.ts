/** Wiring shared by the tests: a collector over a test database and receiver. */
import { type Config, loadConfig } from "../../src/config/mod.ts";
import { Collector } from "../../src/collect/mod.ts";
import { connect, type Sql } from "../../src/db/mod.ts";
import { createLogger, type Logger } from "../../src/log/mod.ts";
import { unpackArchive } from "../../src/bundle/mod.ts";
import type { TestReceiver } from "./receiver.ts";
import { createApp, PassScheduler, type ServerDeps } from "../../src/server/mod.ts";

/** A logger that keeps its lines, so tests can read (and scan) them. */
export function memoryLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger("debug", { sink: (line) => lines.push(line) }), lines };
}

/** A config for tests: the given database and endpoint, plus overrides. */
export function testConfig(
  databaseUrl: string,
  endpoint: string,
  env: Record<string, string> = {},
): Config {
  return loadConfig({ DATABASE_URL: databaseUrl, DATA_UPLOAD_ENDPOINT: endpoint, ...env });
}

/** A collector with its own pool; `close` ends the pool. */
export function testCollector(
  config: Config,
  options: { rateWindowMs?: number } = {},
): { collector: Collector; sql: Sql; lines: string[]; close(): Promise<void> } {
  const sql = connect(config.databaseUrl, { max: config.uploadConcurrency + 3 });
  const { log, lines } = memoryLogger();
  const collector = new Collector({ sql, config, log, rateWindowMs: options.rateWindowMs });
  return {
    collector,
    sql,
    lines,
    close: async () => {
      collector.close();
      await sql.end({ timeout: 5 });
    },
  };
}

/** The files of every upload the receiver kept, by request id. */
export async function receivedFiles(
  receiver: TestReceiver,
): Promise<Array<Record<string, string>>> {
  const out = [];
  for (const upload of await receiver.store.list()) {
    const archive = await receiver.store.archive(upload.request_id);
    const files: Record<string, string> = {};
    for (const f of await unpackArchive(archive!)) files[f.name] = new TextDecoder().decode(f.data);
    out.push(files);
  }
  return out;
}

/** The collector's HTTP app over `collector`, with its own scheduler and a quiet logger. */
export function testApp(
  collector: Collector,
  sql: Sql,
  extra: Partial<Omit<ServerDeps, "collector" | "sql" | "scheduler">> = {},
): { app: ReturnType<typeof createApp>; scheduler: PassScheduler } {
  const scheduler = new PassScheduler((request) => collector.runPass(request));
  const app = createApp({ collector, scheduler, sql, log: memoryLogger().log, ...extra });
  return { app, scheduler };
}
