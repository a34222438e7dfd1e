/**
 * Every command runs in a worker thread whose heap V8 bounds, so the memory
 * the README states holds however the collector is started. V8's heap flags
 * cannot be set once a process runs, and `deno run -A main.ts serve` passes
 * none: without bounds, V8 let a million-event pass grow the process to
 * ~330 MB; a worker's resource limits are set in code, for every way of
 * starting it. The main thread loads nothing else (the collector's modules
 * alone take ~40 MB to load) and waits for the worker's exit code.
 */
import { Worker } from "node:worker_threads";

/**
 * The worker's heap: a small young generation and a capped old one. The live
 * heap of a million-event pass is a few tens of MB; measured with
 * `deno task bench` (README, Scale).
 */
export const HEAP_LIMITS = {
  maxYoungGenerationSizeMb: 12,
  maxOldGenerationSizeMb: 128,
} as const;

/** What the main thread hands the worker. */
export interface BoundedData {
  args: string[];
}

/**
 * Runs `entry` (a module that runs the command line when it is a worker) in a
 * worker thread with {@linkcode HEAP_LIMITS}; resolves to its exit code.
 * Signals reach the worker's own listeners: the process has one.
 */
export function runBounded(entry: URL, args: string[]): Promise<number> {
  const worker = new Worker(entry, {
    workerData: { args } satisfies BoundedData,
    resourceLimits: HEAP_LIMITS,
  });
  const { promise, resolve } = Promise.withResolvers<number>();
  worker.on("error", (err: Error & { code?: string }) => {
    // Deno reports any other uncaught error itself, as it would without the worker.
    if (err.code !== "ERR_WORKER_OUT_OF_MEMORY") return;
    console.error(
      `error: out of memory within the heap limit (${HEAP_LIMITS.maxOldGenerationSizeMb} MB)`,
    );
  });
  worker.on("exit", (code: number) => resolve(code));
  return promise;
}
