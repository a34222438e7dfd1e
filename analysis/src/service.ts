/**
 * The one way the analysis service is assembled: store, ingest, HTTP app and
 * retention wired together. `analysis/main.ts serve`, the demo and the tests
 * all build it here, so what the tests exercise is what runs.
 */
import { type AnalysisConfig, ConfigError, type Tokens } from "./config.ts";
import { Ingest, WAIT_RETRY_MS } from "./ingest/mod.ts";
import { loadSecret } from "./normalise/keys.ts";
import { Store } from "./store/duckdb.ts";
import { prune } from "./store/retention.ts";
import { SharedStore, SharedStoreError } from "./store/shared.ts";
import { removeStaleScratch } from "./scratch.ts";

/**
 * The store and the ingest over it, or undefined when another process holds
 * the store (DuckDB allows one writer; with PostgreSQL, the local copy).
 * Throws ConfigError when the shared store cannot be used.
 */
export async function openIngest(config: AnalysisConfig): Promise<Ingest | undefined> {
  // What a killed process left in the temporary folder (an archive's spool can be hundreds of MB).
  await removeStaleScratch();
  let store: Store;
  try {
    store = await Store.open(config.dbPath, { memoryLimit: config.memoryLimit });
  } catch (err) {
    if (/lock/i.test(String((err as Error).message))) return undefined;
    throw err;
  }
  const secret = await loadSecret(config.keyFile);
  let shared: SharedStore | undefined;
  if (config.databaseUrl) {
    try {
      shared = await SharedStore.open(config.databaseUrl, { local: store, secret });
    } catch (err) {
      await store.close();
      if (err instanceof SharedStoreError) throw new ConfigError(err.message);
      throw err;
    }
  }
  return new Ingest(store, { secret, rawDir: config.rawDir, shared });
}

/** An assembled analysis service. */
export interface AnalysisService {
  config: AnalysisConfig;
  ingest: Ingest;
  /** Serves the HTTP app (ingress, the question API, the dashboards); throws when the address cannot be bound. */
  listen(options: { port: number; hostname?: string }): Deno.HttpServer<Deno.NetAddr>;
  /** Applies retention now, then daily; logs what it removed. */
  start(log: (line: Record<string, unknown>) => void): Promise<void>;
  /** Stops listening and the timer, lets the archive being read finish (the rest wait), closes the store. */
  close(): Promise<void>;
}

/** Options for {@linkcode assembleAnalysisService}. */
export interface AssembleOptions {
  tokens: Tokens;
  /** Where each analyst read of one cluster's rows is recorded. */
  audit: (line: Record<string, unknown>) => void;
  /** Re-render the dashboards after new data this often (off when absent). */
  warmEveryMs?: number;
}

/** Builds the service over `config`; undefined when another process holds the store. */
export async function assembleAnalysisService(
  config: AnalysisConfig,
  options: AssembleOptions,
): Promise<AnalysisService | undefined> {
  const ingest = await openIngest(config);
  if (!ingest) return undefined;
  // The HTTP side (and the charts' library) loads only for a service, not for every command.
  const { createAnalysisApp } = await import("./server.ts");
  const app = createAnalysisApp({
    ingest,
    config,
    tokens: options.tokens,
    audit: options.audit,
    warmEveryMs: options.warmEveryMs,
  });
  const servers: Deno.HttpServer[] = [];
  let daily: ReturnType<typeof setInterval> | undefined;
  let follow: ReturnType<typeof setInterval> | undefined;
  return {
    config,
    ingest,
    listen({ port, hostname = config.host }) {
      const server = Deno.serve({ port, hostname, onListen: () => {} }, app.fetch);
      servers.push(server);
      return server;
    },
    async start(log) {
      const pruneNow = () =>
        prune(ingest, config.retentionMonths).then(
          (removed) => log({ level: "info", msg: "retention applied", ...removed }),
          (err) =>
            log({ level: "error", msg: "retention failed", error: String(err?.message ?? err) }),
        );
      await pruneNow();
      daily = setInterval(pruneNow, 24 * 3_600_000);
      if (!ingest.shared) {
        // What waits (received before a stop or crash, or out of memory last time) is read now,
        // and again every quarter of an hour while it still waits.
        const resumeNow = () =>
          ingest.resume().then(
            (n) => n && log({ level: "info", msg: "reading archives that waited", archives: n }),
            (err) =>
              log({ level: "error", msg: "resuming failed", error: String(err?.message ?? err) }),
          );
        await resumeNow();
        follow = setInterval(resumeNow, WAIT_RETRY_MS);
      } else {
        // Replicas: take over what others left waiting, and keep the local copy in step.
        let failing = false; // logged when it starts and when it ends, not every second
        follow = setInterval(() => {
          ingest.kick();
          ingest.refresh().then(() => {
            if (failing) log({ level: "info", msg: "the shared store answers again" });
            failing = false;
          }, (err) => {
            if (!failing) {
              log({
                level: "error",
                msg: "catching up failed",
                error: String(err?.message ?? err),
              });
            }
            failing = true;
          });
        }, 1_000);
      }
    },
    async close() {
      clearInterval(daily);
      clearInterval(follow);
      await Promise.all(servers.map((s) => s.shutdown()));
      await ingest.stop();
    },
  };
}
