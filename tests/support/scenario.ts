/** One test's world: a fresh database, a receiver, and collectors on both. */
import type { Collector } from "../../src/collect/mod.ts";
import type { Sql } from "../../src/db/mod.ts";
import type { Service } from "../../src/server/service.ts";
import { type TestDatabase, testDatabase } from "./db.ts";
import { type Answer, startReceiver, type TestReceiver } from "./receiver.ts";
import { testCollector, testConfig } from "./setup.ts";

/** What a scenario hands its test. */
export interface Scenario {
  db: TestDatabase;
  receiver: TestReceiver;
  /** A new collector with these extra settings; closed with the scenario. */
  collector(
    env?: Record<string, string>,
    options?: { rateWindowMs?: number },
  ): { collector: Collector; sql: Sql; lines: string[]; service: Service };
  /** Writes a pull secret file and returns its path. */
  secretFile(text: string): Promise<string>;
  /** Rows of the ledger, oldest first. */
  ledger(): Promise<Array<Record<string, unknown>>>;
}

/** Runs `body` in a fresh scenario and tears everything down after. */
export async function scenario(
  body: (s: Scenario) => Promise<void>,
  options: { answer?: Answer; track?: Answer } = {},
): Promise<void> {
  const db = await testDatabase();
  const receiver = await startReceiver({ answer: options.answer, track: options.track });
  const closers: Array<() => Promise<void>> = [];
  const files: string[] = [];
  try {
    await body({
      db,
      receiver,
      collector(env = {}, options = {}) {
        const c = testCollector(testConfig(db.url, receiver.endpoint, env), options);
        closers.push(c.close);
        return c;
      },
      async secretFile(text) {
        const path = await Deno.makeTempFile({ prefix: "pull-secret-" });
        files.push(path);
        await Deno.writeTextFile(path, text);
        return path;
      },
      async ledger() {
        return [
          ...await db.sql`
          SELECT cluster_id, ended_at::text AS ended_at, state, tries, last_error, abandon_reason, last_http_status,
                 request_id, bundle_id::text AS bundle_id, bytes::int AS bytes, event_count::int AS event_count
          FROM assisted_telemetry.attempts ORDER BY ended_at`,
        ];
      },
    });
  } finally {
    for (const close of closers) await close();
    for (const f of files) await Deno.remove(f).catch(() => {});
    await receiver.close();
    await db.drop();
  }
}
