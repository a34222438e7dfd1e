/** Wiring shared by the tests: a collector over a test database and receiver. */
import { type Config, loadConfig } from "../../src/config/mod.ts";
import type { Collector } from "../../src/collect/mod.ts";
import { connect, type Sql } from "../../src/db/mod.ts";
import { createLogger, type Logger } from "../../src/log/mod.ts";
import { unpackArchive } from "../../src/bundle/mod.ts";
import type { TestReceiver } from "./receiver.ts";
import { assembleService, type Service } from "../../src/server/service.ts";

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

/** A collector with its own pool, assembled as `serve` assembles it; `close` ends the pool. */
export function testCollector(
  config: Config,
  options: { rateWindowMs?: number } = {},
): {
  collector: Collector;
  sql: Sql;
  lines: string[];
  service: Service;
  close(): Promise<void>;
} {
  const sql = connect(config.databaseUrl, { max: config.uploadConcurrency + 3 });
  const { log, lines } = memoryLogger();
  const service = assembleService(config, { log, sql, rateWindowMs: options.rateWindowMs });
  return {
    collector: service.collector,
    sql,
    lines,
    service,
    close: async () => {
      await service.shutdown({ graceMs: 5_000 });
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
