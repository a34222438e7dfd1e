/**
 * What to do with each answer of the endpoint, and when to try again:
 * exponential backoff with jitter, Retry-After honoured, authorisation
 * problems pausing everything rather than hammering.
 */
import type { UploadResult } from "./mod.ts";

/** The retry settings. */
export interface RetryPolicy {
  initialMs: number;
  maxMs: number;
  maxAttempts: number;
  authPauseMs: number;
}

/** How an answer is treated. */
export type Verdict =
  | { kind: "accepted" }
  /** Try this attempt again later; `pauseAllMs` pauses every upload to the endpoint. */
  | { kind: "transient"; retryAfterMs?: number; pauseAllMs?: number }
  /** 401/403: the token is expired or wrong; pause every upload. */
  | { kind: "auth" }
  /** 413: the archive must shrink before it can go. */
  | { kind: "too-large" }
  /** 400/415: a bug on our side; retrying cannot help. */
  | { kind: "permanent" };

/** Retry-After is honoured up to a day; a larger value is treated as a day. */
const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

/** Parses Retry-After (delay-seconds or an HTTP date) into milliseconds from `now`. */
export function parseRetryAfter(
  value: string | null | undefined,
  now = Date.now(),
): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else {
    const at = Date.parse(text);
    if (Number.isNaN(at)) return undefined;
    ms = at - now;
  }
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/** Classifies an upload result. */
export function classify(result: UploadResult): Verdict {
  if (result.ok) return { kind: "accepted" };
  const status = result.status;
  if (status === undefined) return { kind: "transient" }; // network error, timeout, reset
  if (status === 401 || status === 403) return { kind: "auth" };
  if (status === 413) return { kind: "too-large" };
  if (status === 400 || status === 415) return { kind: "permanent" };
  const retryAfterMs = parseRetryAfter(result.retryAfter);
  const pauseAllMs = (status === 429 || status === 503) && retryAfterMs !== undefined
    ? retryAfterMs
    : undefined;
  return { kind: "transient", retryAfterMs, pauseAllMs };
}

/**
 * The delay before try `tries + 1`: exponential from `initialMs`, capped at
 * `maxMs`, with "equal jitter" (half fixed, half random) so that replicas and
 * clusters that failed together do not retry together.
 */
export function backoffMs(
  tries: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const exp = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, tries - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}
