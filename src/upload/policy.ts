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
export function classify(result: UploadResult, now = Date.now()): Verdict {
  if (result.ok) return { kind: "accepted" };
  const status = result.status;
  if (status === undefined) return { kind: "transient" }; // network error, timeout, reset
  if (status === 401 || status === 403) return { kind: "auth" };
  if (status === 413) return { kind: "too-large" };
  if (status === 400 || status === 415) return { kind: "permanent" };
  const retryAfterMs = parseRetryAfter(result.retryAfter, now);
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

/** What to do after one try, decided from the answer alone. */
export type Decision =
  | { kind: "sent" }
  /** Try again after `delayMs`; `pause` stops every upload for a while; `sizeLimit` after a 413. */
  | {
    kind: "retry";
    delayMs: number;
    pause?: { kind: "auth" | "rate"; ms: number; reason: string };
    sizeLimit?: number;
  }
  /** Never again: `permanent` (400/415) or `max-tries`. */
  | { kind: "abandon"; reason: "permanent" | "max-tries" };

/** What {@linkcode decide} needs besides the answer. */
export interface DecideOptions {
  /** Tries made so far, this one included. */
  tries: number;
  policy: RetryPolicy;
  /** Size of the archive this try sent. */
  bytes: number;
  random?: () => number;
  now?: number;
}

/** After a 413 the archive is rebuilt to this share of the size that was refused. */
export const TOO_LARGE_SHRINK = 0.8;

/**
 * Turns one try's result into the next step: a pure function of the answer,
 * the tries made and the policy, so every rule is table-tested without a
 * database or an endpoint.
 */
export function decide(result: UploadResult, options: DecideOptions): Decision {
  const { tries, policy } = options;
  const verdict = result.ok ? { kind: "accepted" as const } : classify(result, options.now);
  if (verdict.kind === "accepted") return { kind: "sent" };
  if (verdict.kind === "permanent") return { kind: "abandon", reason: "permanent" };
  if (tries >= policy.maxAttempts) return { kind: "abandon", reason: "max-tries" };
  if (verdict.kind === "too-large") {
    return { kind: "retry", delayMs: 0, sizeLimit: Math.floor(options.bytes * TOO_LARGE_SHRINK) };
  }
  const status = result.ok ? undefined : result.status;
  if (verdict.kind === "auth") {
    return {
      kind: "retry",
      delayMs: policy.authPauseMs,
      pause: {
        kind: "auth",
        ms: policy.authPauseMs,
        reason: `HTTP ${status}: the pull secret's token was refused`,
      },
    };
  }
  const backoff = backoffMs(tries, policy, options.random);
  const delayMs = verdict.retryAfterMs !== undefined
    ? Math.max(verdict.retryAfterMs, backoff / 2)
    : backoff;
  return {
    kind: "retry",
    delayMs,
    ...(verdict.pauseAllMs !== undefined
      ? {
        pause: { kind: "rate", ms: verdict.pauseAllMs, reason: `HTTP ${status} with Retry-After` },
      }
      : {}),
  };
}
