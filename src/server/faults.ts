/**
 * What the service does with an error thrown outside any request or pass.
 * One fault is known and harmless: postgres.js can throw a TypeError from
 * its `nextWrite` timer when the database drops a socket
 * (porsager/postgres#1208); the query involved has already failed with
 * CONNECTION_CLOSED and the next pass retries it. That one is counted and
 * survived. Anything else is a bug: it is logged and the process exits, as
 * the design is crash-safe (a restart resumes from the ledger).
 */
import type { Logger } from "../log/mod.ts";
import { safeError } from "../collect/mod.ts";

/** Whether `error` is postgres.js's write on a closed socket (porsager/postgres#1208). */
export function isDriverSocketFault(error: unknown): boolean {
  if (!(error instanceof TypeError)) return false;
  const stack = error.stack ?? "";
  return /reading 'write'|socket\.write/.test(error.message) && /nextWrite/.test(stack) &&
    /postgres/.test(stack);
}

/** Handles uncaught errors: survives the known driver fault, lets every other one end the process. */
export function handleUncaught(
  event: ErrorEvent,
  options: { log: Logger; counted?: () => void },
): "survived" | "fatal" {
  const error = event.error ?? event.message;
  if (isDriverSocketFault(event.error)) {
    event.preventDefault();
    options.counted?.();
    options.log.warn("database socket closed under a pending write (porsager/postgres#1208)", {
      error: safeError(error),
    });
    return "survived";
  }
  options.log.error("uncaught error: exiting", { error: safeError(error) });
  return "fatal";
}

/** Installs {@linkcode handleUncaught} and logs unhandled rejections before they end the process. */
export function installFaultHandler(log: Logger, counted?: () => void): () => void {
  const onError = (event: ErrorEvent) => void handleUncaught(event, { log, counted });
  const onRejection = (event: PromiseRejectionEvent) => {
    log.error("unhandled rejection: exiting", { error: safeError(event.reason) });
  };
  globalThis.addEventListener("error", onError);
  globalThis.addEventListener("unhandledrejection", onRejection);
  return () => {
    globalThis.removeEventListener("error", onError);
    globalThis.removeEventListener("unhandledrejection", onRejection);
  };
}
