/**
 * Delivery verified: after a pass's uploads, each sent attempt whose fate
 * the payload tracker has not told yet is asked about again, with backoff,
 * until the tracker gives a final status or UPLOAD_VERIFY_WINDOW has
 * passed. What it says is recorded; nothing here ever sends again.
 */
import type { Config } from "../config/mod.ts";
import { readCluster } from "../db/assisted.ts";
import { dueVerifications, recordVerification, type Verifying } from "../db/ledger.ts";
import type { Sql } from "../db/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { GlobalSecret } from "./enablement.ts";
import type { UploadGate } from "./gate.ts";
import { parsePullSecret } from "./pull_secret.ts";

/** Results counted, for the metrics. */
export type VerificationResult = "verified" | "failed" | "unverified";

/** The wait before asking again: quick at first (the tracker is often fast), then doubling to 5 min. */
export function verifyBackoffMs(tries: number): number {
  return Math.min(250 * 2 ** tries, 300_000);
}

/** What a round of verification needs. */
export interface VerifyDeps {
  sql: Sql;
  config: Config;
  gate: UploadGate;
  log: Logger;
  observe?: (result: VerificationResult) => void;
}

async function tokenFor(sql: Sql, attempt: Verifying, global: GlobalSecret) {
  if (global?.verdict.kind === "token") return global.verdict.token;
  const cluster = await readCluster(sql, attempt.clusterId);
  const own = parsePullSecret(
    typeof cluster?.pull_secret === "string" ? cluster.pull_secret : null,
  );
  return own.kind === "token" ? own.token : undefined;
}

/** Asks the tracker about every sent attempt that is due, once each. Returns how many were asked. */
export async function verifyRound(
  deps: VerifyDeps,
  options: { global: GlobalSecret; limit?: number },
): Promise<number> {
  const { sql, config, gate, log } = deps;
  const template = config.trackTemplate;
  if (!template) return 0;
  const due = await dueVerifications(sql, options.limit ?? 20);
  for (const attempt of due) {
    const token = await tokenFor(sql, attempt, options.global);
    const answer = token
      ? await gate.track(template, {
        requestId: attempt.requestId,
        token,
        clusterId: attempt.clusterId,
        timeoutMs: Math.min(config.uploadTimeoutMs, 30_000),
      })
      : { kind: "pending" as const, message: "no token to ask the tracker with" };
    const fields = { cluster_id: attempt.clusterId, request_id: attempt.requestId };
    if (answer.kind !== "pending") {
      await recordVerification(sql, attempt, {
        verification: answer.kind,
        message: answer.message,
      });
      deps.observe?.(answer.kind);
      if (answer.kind === "verified") log.info("delivery verified", fields);
      else log.warn("delivery failed at the receiving end", { ...fields, error: answer.message });
    } else if (attempt.ageMs >= config.verifyWindowMs) {
      const message = `no final status within the verification window; last: ${answer.message}`;
      await recordVerification(sql, attempt, { verification: "unverified", message });
      deps.observe?.("unverified");
      log.warn("delivery unverified", { ...fields, error: message });
    } else {
      await recordVerification(sql, attempt, {
        verification: "pending",
        message: answer.message,
        retryInMs: verifyBackoffMs(attempt.tries),
      });
    }
  }
  return due.length;
}

/**
 * Verification after a pass: rounds while something is due within a few
 * seconds (a quick tracker is answered within the pass), then leaves the
 * rest to later passes.
 */
export async function verifyDeliveries(
  deps: VerifyDeps,
  options: { global: GlobalSecret; stop?: AbortSignal; budgetMs?: number },
): Promise<void> {
  if (!deps.config.trackTemplate) return;
  const deadline = Date.now() + (options.budgetMs ?? 4_000);
  while (!options.stop?.aborted) {
    await verifyRound(deps, { global: options.global });
    const [next] = await deps.sql`
      SELECT (extract(epoch FROM min(verify_next_at) - clock_timestamp()) * 1000)::float8 AS ms
      FROM assisted_telemetry.attempts WHERE verification = 'pending'`;
    const wait = next?.ms === null || next?.ms === undefined ? Infinity : Math.max(0, next.ms);
    if (Date.now() + wait > deadline) return;
    await new Promise((r) => setTimeout(r, wait));
  }
}
