/**
 * One try at one attempt, inside its claim: check it may still go, build
 * its archive, send it through the gate, and turn the answer into the
 * ledger's outcome. The decision itself is `decide` (upload/policy.ts);
 * this only carries it out.
 */
import type { Config } from "../config/mod.ts";
import { readCluster } from "../db/assisted.ts";
import type { Attempt, Outcome } from "../db/ledger.ts";
import type { TransactionSql } from "../db/mod.ts";
import { errorMessage } from "../log/mod.ts";
import { redactForLog } from "../sanitize/text.ts";
import type { UploadResult } from "../upload/mod.ts";
import { decide } from "../upload/policy.ts";
import {
  type ArchiveContext,
  ArchiveTooLargeError,
  buildArchive,
  isSafeClusterId,
} from "./archive.ts";
import type { GlobalSecret } from "./enablement.ts";
import { deferral, type UploadGate } from "./gate.ts";
import { parsePullSecret, TELEMETRY_REGISTRY } from "./pull_secret.ts";
import { TripwireError } from "./secrets.ts";

/** An error message safe for logs and the ledger: credentials and tokens removed. */
export function safeError(err: unknown): string {
  return redactForLog(errorMessage(err)).slice(0, 500);
}

/** Thrown inside a claim to roll it back: nothing about the try is recorded. */
export class ClaimRolledBack extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ClaimRolledBack";
  }
}

/** What one try needs. */
export interface TryContext {
  config: Config;
  gate: UploadGate;
  global: GlobalSecret;
  archive: ArchiveContext;
  /** Shutdown deadline: abort the upload in flight and roll the claim back. */
  signal?: AbortSignal;
}

/** The size limit of an attempt: UPLOAD_MAX_BYTES, or lower after a 413. */
export function sizeLimitOf(
  config: Pick<Config, "uploadMaxBytes">,
  attempt: { sizeLimit?: number | null },
): { maxBytes: number; limitReason: string } {
  const max = config.uploadMaxBytes;
  return attempt.sizeLimit && attempt.sizeLimit < max
    ? { maxBytes: attempt.sizeLimit, limitReason: "the endpoint answered 413" }
    : { maxBytes: max, limitReason: "over UPLOAD_MAX_BYTES" };
}

/** Turns an upload's answer into the ledger's outcome, pausing every upload when told to. */
export function outcomeOf(
  attempt: Attempt,
  result: UploadResult,
  ctx: Pick<TryContext, "config" | "gate" | "global"> & {
    bytes: number;
    events: number;
    error: string;
  },
): Outcome {
  const tries = attempt.tries + 1;
  const decision = decide(result, { tries, policy: ctx.config.retry, bytes: ctx.bytes });
  const sizes = { bytes: ctx.bytes, events: ctx.events };
  if (result.ok) {
    return {
      kind: "sent",
      requestId: result.requestId,
      httpStatus: result.status,
      ...sizes,
      verify: ctx.config.trackTemplate !== undefined,
    };
  }
  const base = { error: ctx.error, httpStatus: result.status, ...sizes };
  if (decision.kind === "abandon") {
    const error = decision.reason === "max-tries"
      ? `gave up after ${tries} tries: ${ctx.error}`
      : ctx.error;
    return { kind: "abandoned", reason: decision.reason, ...base, error };
  }
  if (decision.kind !== "retry") throw new Error("a failed upload cannot be sent");
  if (decision.pause) {
    ctx.gate.startPause({
      kind: decision.pause.kind,
      until: Date.now() + decision.pause.ms,
      reason: decision.pause.reason,
      token: decision.pause.kind === "auth" && ctx.global?.verdict.kind === "token"
        ? ctx.global.verdict.token
        : undefined,
    });
  }
  return {
    kind: "failed",
    ...base,
    retryInMs: decision.delayMs,
    ...(decision.sizeLimit !== undefined ? { sizeLimit: decision.sizeLimit } : {}),
  };
}

/** A failure before anything was sent: a try spent, decided like a network error. */
function failedTry(attempt: Attempt, ctx: TryContext, error: string): Outcome {
  return outcomeOf(attempt, { ok: false, error }, { ...ctx, bytes: 0, events: 0, error });
}

/**
 * One try at `attempt`, holding its claim in `tx`. Never throws but to roll
 * the claim back (ClaimRolledBack): any other failure is this try's outcome.
 */
export async function tryAttempt(
  tx: TransactionSql,
  attempt: Attempt,
  ctx: TryContext,
): Promise<Outcome> {
  try {
    return await tryOnce(tx, attempt, ctx);
  } catch (err) {
    if (err instanceof ClaimRolledBack) throw err;
    return failedTry(attempt, ctx, `attempt failed: ${safeError(err)}`);
  }
}

async function tryOnce(tx: TransactionSql, attempt: Attempt, ctx: TryContext): Promise<Outcome> {
  const { config } = ctx;
  // An opt-out committed since this pass read the enablement is honoured here.
  // One still waiting on this row's lock has not committed (READ COMMITTED
  // cannot see it); its bulk cancel runs after this claim commits, and finds
  // the attempt no longer pending only if this try ended it.
  const [latest] =
    await tx`SELECT enabled, reason FROM assisted_telemetry.enablement ORDER BY id DESC LIMIT 1`;
  if (!latest?.enabled) {
    return { kind: "cancelled", reason: `opted out: ${latest?.reason ?? "unknown"}` };
  }
  const cluster = await readCluster(tx, attempt.clusterId);
  if (!cluster) return { kind: "skipped", reason: "cluster deleted before it was sent" };
  if (!isSafeClusterId(attempt.clusterId)) {
    return { kind: "skipped", reason: "cluster id is not a plain identifier" };
  }
  const own = parsePullSecret(typeof cluster.pull_secret === "string" ? cluster.pull_secret : null);
  if (own.kind === "opted-out") {
    return { kind: "skipped", reason: `cluster pull secret has no ${TELEMETRY_REGISTRY} entry` };
  }
  const token = ctx.global?.verdict.kind === "token"
    ? ctx.global.verdict.token
    : own.kind === "token"
    ? own.token
    : undefined;
  if (!token) {
    const why = own.kind === "invalid" && own.problem !== "empty"
      ? `cluster pull secret is malformed (${own.problem}) and no global pull secret has a ${TELEMETRY_REGISTRY} token`
      : `no ${TELEMETRY_REGISTRY} token in any pull secret`;
    return { kind: "skipped", reason: why };
  }
  let built;
  try {
    // In a savepoint, so that a database error while reading this attempt's
    // rows leaves the claim's transaction usable to record it.
    built = await tx.savepoint((sp) =>
      buildArchive(sp, attempt, {
        context: ctx.archive,
        cluster,
        ...sizeLimitOf(config, attempt),
      })
    );
  } catch (err) {
    if (err instanceof TripwireError) return { kind: "blocked", reason: err.message };
    if (err instanceof ArchiveTooLargeError) {
      return { kind: "abandoned", reason: "too-large", error: err.message };
    }
    return failedTry(attempt, ctx, `could not build the archive: ${safeError(err)}`);
  }
  const pause = ctx.gate.pause;
  if (pause) return deferral(pause);
  const result = await ctx.gate.send(built.archive, {
    endpoint: config.uploadEndpoint,
    token,
    clusterId: attempt.clusterId,
    timeoutMs: config.uploadTimeoutMs,
    connectTimeoutMs: config.connectTimeoutMs,
    signal: ctx.signal,
  });
  if ("kind" in result) return result;
  if (ctx.signal?.aborted && !result.ok) {
    // Shutdown: roll the claim back so nothing about this try is recorded.
    throw new ClaimRolledBack("shutdown during upload");
  }
  return outcomeOf(attempt, result, {
    ...ctx,
    bytes: built.archive.size,
    events: built.eventCount,
    error: result.ok ? "" : redactForLog(result.error, built.knownSecrets),
  });
}
