/**
 * The one way the service is assembled: pool, collector, metrics, scheduler
 * and HTTP app wired together. `main.ts serve`, the demo and the tests all
 * build it here, so what the tests exercise is what runs.
 */
import { Collector } from "../collect/mod.ts";
import { PassScheduler } from "../collect/scheduler.ts";
import type { Config } from "../config/mod.ts";
import { dueCount } from "../db/ledger.ts";
import { connect, type Sql } from "../db/mod.ts";
import type { Logger } from "../log/mod.ts";
import { CollectorMetrics } from "./metrics.ts";
import { createApp, serve } from "./mod.ts";

/** An assembled service. */
export interface Service {
  sql: Sql;
  collector: Collector;
  scheduler: PassScheduler;
  metrics: CollectorMetrics;
  app: ReturnType<typeof createApp>;
  /** Starts listening on `port` (0: any free one). */
  listen(options: { port: number; hostname?: string; onListen?: (port: number) => void }): void;
  /** A first pass now, then one every SCAN_INTERVAL. */
  start(): void;
  /** Stops the timer and new uploads, lets the one in flight finish within `graceMs`, then closes. */
  shutdown(options?: { graceMs?: number }): Promise<"idle" | "aborted">;
}

/** Builds the service over `config`; `sql` replaces the pool it would open. */
export function assembleService(
  config: Config,
  options: { log: Logger; sql?: Sql; rateWindowMs?: number },
): Service {
  const { log } = options;
  const ownPool = options.sql === undefined;
  const sql = options.sql ?? connect(config.databaseUrl, { max: config.uploadConcurrency + 3 });
  const metrics = new CollectorMetrics({
    backlog: () => dueCount(sql),
    // Read at scrape time, after the collector below exists.
    paused: (): boolean => collector.pause !== undefined,
  });
  const collector = new Collector({
    sql,
    config,
    log,
    metrics,
    rateWindowMs: options.rateWindowMs,
  });
  const stop = new AbortController();
  const abort = new AbortController();
  const scheduler = new PassScheduler((request) =>
    collector.runPass(request, { stop: stop.signal, abort: abort.signal })
  );
  const app = createApp({
    collector,
    scheduler,
    sql,
    log,
    triggerToken: config.triggerToken,
    metrics,
  });
  let server: Deno.HttpServer | undefined;
  return {
    sql,
    collector,
    scheduler,
    metrics,
    app,
    listen(listenOptions) {
      server = serve(app, { ...listenOptions, signal: stop.signal });
    },
    start() {
      scheduler.request({});
      scheduler.startTimer(config.scanIntervalMs);
    },
    async shutdown(shutdownOptions = {}) {
      scheduler.stopTimer();
      stop.abort();
      const graceMs = shutdownOptions.graceMs ?? 20_000;
      const grace = new Promise<"timeout">((r) => setTimeout(r, graceMs, "timeout"));
      const outcome = await Promise.race([scheduler.idle().then(() => "idle" as const), grace]);
      abort.abort();
      if (outcome === "timeout") {
        log.warn(
          "upload still running at shutdown: aborted; its claim rolls back and is retried later",
        );
        await Promise.race([scheduler.idle(), new Promise((r) => setTimeout(r, 5_000))]);
      }
      await server?.finished.catch(() => {});
      collector.close();
      if (ownPool) await sql.end({ timeout: 5 });
      return outcome === "idle" ? "idle" : "aborted";
    },
  };
}
