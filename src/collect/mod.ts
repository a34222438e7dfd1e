/**
 * The collector: a thin façade over enablement (is collection on, and
 * why), the upload gate (client, throttle, pause) and one try at one
 * attempt. A pass decides whether collection is on, finds finished
 * attempts, and sends each due one once; it returns only when every
 * attempt it started has settled.
 */
import type { Config } from "../config/mod.ts";
import type { Sql } from "../db/mod.ts";
import { readCluster } from "../db/assisted.ts";
import {
  type Attempt,
  type ClusterFilter,
  currentEnablement,
  discoverAttempts,
  dueAttempts,
  type Enablement,
  exportCandidates,
  latestAttempt,
  type LedgerRow,
  ledgerSummary,
  loadInstallation,
  markExported,
  migrateLedger,
  type Outcome,
  reconcileEnablement,
  releaseAuthHeld,
  setRuntimeOptOut,
  withClaim,
} from "../db/ledger.ts";
import type { Logger } from "../log/mod.ts";
import { releaseArchives } from "../bundle/mod.ts";
import { importHmacKey } from "../sanitize/mod.ts";
import pLimit from "p-limit";
import { parsePullSecret } from "./pull_secret.ts";
import { TripwireError } from "./secrets.ts";
import {
  type ArchiveAttempt,
  type ArchiveContext,
  ArchiveTooLargeError,
  buildArchive,
  type BuiltArchive,
  isSafeClusterId,
} from "./archive.ts";
import { ClaimRolledBack, safeError, tryAttempt } from "./attempt.ts";
import {
  desiredEnablement,
  EnablementLog,
  type GlobalSecret,
  readGlobalSecret,
  REASONS,
} from "./enablement.ts";
import { type Pause, UploadGate } from "./gate.ts";
import { type VerificationResult, verifyDeliveries } from "./verify.ts";

export { ClaimRolledBack, REASONS, safeError };
export type { Pause };

/** What a pass may be limited to. */
export interface PassRequest {
  /** Only these clusters; all when undefined. */
  clusters?: ClusterFilter;
}

/** What a pass did. */
export interface PassResult {
  optedOut: boolean;
  /** Why collection is off, when it is. */
  reason?: string;
  discovered: number;
  sent: number;
  failed: number;
  skipped: number;
  /** Refused by the tripwire: an archive that would have carried a known secret. */
  blocked: number;
  /** Problems that stopped the pass itself (database, pull secret file). */
  errors: string[];
}

/** A preview: the archive and the attempt it describes. */
export interface PreviewResult extends BuiltArchive {
  attempt: ArchiveAttempt;
  /** False when the attempt is not in the ledger yet (its bundle_id is then all zeros). */
  inLedger: boolean;
}

/** A pass that did nothing yet. */
export function emptyPassResult(): PassResult {
  return { optedOut: false, discovered: 0, sent: 0, failed: 0, skipped: 0, blocked: 0, errors: [] };
}

/** What the collector reports as it works (the server's metrics implement it). */
export interface CollectorObserver {
  outcome(outcome: Outcome): void;
  pass(seconds: number, optedOut: boolean): void;
  verification(result: VerificationResult): void;
}

/** What the collector needs from outside. */
export interface CollectorDeps {
  sql: Sql;
  config: Config;
  log: Logger;
  /** The window of UPLOAD_RATE_PER_MINUTE; shorter only in tests. */
  rateWindowMs?: number;
  /** Where outcomes and passes are counted, if anywhere. */
  metrics?: CollectorObserver;
}

/** Options for one pass. */
export interface PassOptions {
  /** Shutdown began: start no further upload. */
  stop?: AbortSignal;
  /** Shutdown deadline: abort the upload in flight; its claim rolls back. */
  abort?: AbortSignal;
}

/** The collector's state, for `/v1/status` (the server shapes the JSON). */
export interface CollectorStatus {
  enablement: Omit<Enablement, "changed"> | undefined;
  runtimeOptedOut: boolean;
  pause: Pause | undefined;
  retry: Config["retry"];
  concurrency: number;
  perMinute: number;
  attempts: Record<string, number>;
  /** Sent attempts by what the payload tracker said. */
  verification: Record<string, number>;
  /** Attempts written to an export file (`export` command or `/v1/export`). */
  exported: number;
  recent: LedgerRow[];
}

/** The collector: one per process, shared by the timer, the trigger and the CLI. */
export class Collector {
  readonly #deps: CollectorDeps;
  readonly #gate: UploadGate;
  readonly #enablementLog = new EnablementLog();
  #hmacKey?: CryptoKey;

  constructor(deps: CollectorDeps) {
    this.#deps = deps;
    this.#gate = new UploadGate(deps.config, { log: deps.log, rateWindowMs: deps.rateWindowMs });
  }

  /** Releases the HTTP client. */
  close(): void {
    this.#gate.close();
  }

  /** The current pause of all uploads, if any. */
  get pause(): Pause | undefined {
    return this.#gate.pause;
  }

  /** Creates or migrates the ledger and loads the installation key. Retried until it works. */
  async prepare(): Promise<void> {
    if (this.#hmacKey) return;
    await migrateLedger(this.#deps.sql);
    // An auth pause lives in memory: a restart ends it, so what it held is due now.
    await releaseAuthHeld(this.#deps.sql);
    const installation = await loadInstallation(this.#deps.sql);
    this.#hmacKey = await importHmacKey(installation.emailHmacKey);
  }

  /** Evaluates every switch and records a change in the ledger. */
  async reconcile(): Promise<{ state?: Enablement; global: GlobalSecret; error?: string }> {
    await this.prepare();
    const installation = await loadInstallation(this.#deps.sql);
    const global = await readGlobalSecret(this.#deps.config.pullSecretFile);
    const desired = desiredEnablement(this.#deps.config, {
      global,
      runtimeOptedOut: installation.runtimeOptedOut,
    });
    if ("error" in desired) return { global, error: desired.error };
    const state = await reconcileEnablement(this.#deps.sql, desired);
    this.#enablementLog.log(state, this.#deps.log);
    return { state, global };
  }

  /** Runs one pass. Never throws: problems come back in the result. */
  async runPass(request: PassRequest = {}, options: PassOptions = {}): Promise<PassResult> {
    const started = performance.now();
    const result = await this.#pass(request, options);
    this.#deps.metrics?.pass((performance.now() - started) / 1000, result.optedOut);
    return result;
  }

  async #pass(request: PassRequest, options: PassOptions): Promise<PassResult> {
    const result = emptyPassResult();
    const { sql, log, config } = this.#deps;
    try {
      const { state, global, error } = await this.reconcile();
      if (error || !state) {
        result.errors.push(error ?? "no enablement state");
        log.error("pass stopped", { error });
        return result;
      }
      if (!state.enabled) {
        result.optedOut = true;
        result.reason = state.reason;
        return result;
      }
      result.discovered = await discoverAttempts(sql, state.since, { clusters: request.clusters });
      if (await this.#gate.checkPause(global, sql)) return result;
      const due = await dueAttempts(sql, state.since, { clusters: request.clusters });
      const limit = pLimit(config.uploadConcurrency);
      // Every attempt settles before the pass returns: a pass never leaves an
      // upload running behind it, so passes never overlap.
      const settled = await Promise.allSettled(due.map((attempt) =>
        limit(async () => {
          // A pause or a shutdown that began during this pass stops what has not started.
          if (options.stop?.aborted || this.pause) return undefined;
          return await this.#process(attempt, global, options.abort);
        })
      ));
      for (const s of settled) {
        if (s.status === "rejected") {
          // Nothing was recorded for this attempt (its claim rolled back): a pass error.
          if (s.reason instanceof ClaimRolledBack) continue;
          result.errors.push(safeError(s.reason));
          log.error("attempt failed outside its claim", { error: safeError(s.reason) });
          continue;
        }
        const outcome = s.value;
        if (outcome?.kind === "sent") result.sent++;
        else if (outcome?.kind === "failed" || outcome?.kind === "abandoned") result.failed++;
        else if (outcome?.kind === "blocked") result.blocked++;
        else result.skipped++;
      }
      // Verification is best-effort: whatever stops it now, the next pass asks again.
      await verifyDeliveries({
        sql,
        config,
        gate: this.#gate,
        log,
        observe: (r) => this.#deps.metrics?.verification(r),
      }, { global, stop: options.stop }).catch((err) =>
        log.warn("delivery verification postponed", { error: safeError(err) })
      );
    } catch (err) {
      const message = safeError(err);
      result.errors.push(message);
      log.error("pass failed", { error: message });
    }
    return result;
  }

  async #process(
    attempt: Attempt,
    global: GlobalSecret,
    signal?: AbortSignal,
  ): Promise<Outcome | undefined> {
    const { sql, config } = this.#deps;
    const outcome = await withClaim(
      sql,
      attempt,
      (tx, claimed) =>
        tryAttempt(tx, claimed, {
          config,
          gate: this.#gate,
          global,
          archive: this.#context(global),
          signal,
        }),
    );
    // The attempt's archive, if one was built, is unreferenced now: free its
    // bytes before the next (a skipped or cancelled attempt built none).
    if (outcome && outcome.kind !== "skipped" && outcome.kind !== "cancelled") releaseArchives();
    if (outcome) this.#deps.metrics?.outcome(outcome);
    this.#logOutcome(attempt, outcome);
    return outcome;
  }

  #logOutcome(attempt: Attempt, outcome: Outcome | undefined): void {
    const { log } = this.#deps;
    const fields = {
      cluster_id: attempt.clusterId,
      attempt: attempt.endedAt,
      bundle_id: attempt.bundleId,
    };
    if (outcome === undefined) {
      log.debug("attempt claimed by another collector", fields);
    } else if (outcome.kind === "sent") {
      log.info("upload accepted", {
        ...fields,
        status: outcome.httpStatus,
        request_id: outcome.requestId,
        bytes: outcome.bytes,
        events: outcome.events,
      });
    } else if (outcome.kind === "blocked") {
      log.error("upload blocked by the tripwire", { ...fields, reason: outcome.reason });
    } else if (outcome.kind === "failed") {
      log.warn("upload failed; will retry", {
        ...fields,
        status: outcome.httpStatus,
        bytes: outcome.bytes,
        events: outcome.events,
        error: outcome.error,
        retry_in_ms: outcome.retryInMs,
      });
    } else if (outcome.kind === "abandoned") {
      log.error("upload abandoned", {
        ...fields,
        status: outcome.httpStatus,
        error: outcome.error,
      });
    } else {
      log.info(`attempt ${outcome.kind}`, { ...fields, reason: outcome.reason });
    }
  }

  #context(global: GlobalSecret): ArchiveContext {
    const { config } = this.#deps;
    return {
      hmacKey: this.#hmacKey!,
      versions: config.versions,
      deploymentType: config.deploymentType,
      deploymentVersion: config.deploymentVersion,
      obfuscateNetworking: config.obfuscateNetworking,
      compressor: { kind: "zlib", level: config.gzipLevel },
      knownSecrets: [
        ...(global?.secrets ?? []).map((value) => ({ field: "PULL_SECRET_FILE", value })),
        ...(config.triggerToken ? [{ field: "TRIGGER_TOKEN", value: config.triggerToken }] : []),
      ],
      identity: global?.verdict.kind === "token"
        ? { user: global.verdict.user, email: global.verdict.email }
        : undefined,
      userIds: config.userIdHash,
    };
  }

  /**
   * Builds the archive the upload path would send for the cluster's latest
   * attempt, without sending it: the same code, the same rows, the same bytes.
   * Refused (TripwireError) exactly when the upload would be.
   */
  async preview(clusterId: string): Promise<PreviewResult | undefined> {
    await this.prepare();
    const { sql } = this.#deps;
    if (!isSafeClusterId(clusterId)) return undefined;
    const cluster = await readCluster(sql, clusterId);
    if (!cluster) return undefined;
    const attempt = await latestAttempt(sql, clusterId);
    const global = await readGlobalSecret(this.#deps.config.pullSecretFile);
    const archiveAttempt = attempt ?? {
      clusterId,
      endedAt: String(cluster.status_updated_at ?? ""),
      clusterStatus: String(cluster.status ?? ""),
      bundleId: "00000000-0000-0000-0000-000000000000",
    };
    const built = await buildArchive(sql, archiveAttempt, {
      context: this.#context(global),
      cluster,
    });
    return { ...built, attempt: archiveAttempt, inLedger: attempt !== undefined };
  }

  /**
   * The archives an export file holds: for each finished attempt in range,
   * what preview would write for it, byte for byte, or why it is left out.
   * Exporting is an explicit operator action: it works while automatic
   * sending is opted out, but never includes a cluster whose own pull
   * secret opts it out.
   */
  async *exportArchives(
    options: { since?: string; clusterId?: string } = {},
  ): AsyncGenerator<
    | { attempt: Attempt; built: BuiltArchive }
    | { attempt: Attempt; leftOut: string }
  > {
    await this.prepare();
    const { sql, config } = this.#deps;
    const enablement = await currentEnablement(sql);
    if (enablement?.enabled) await discoverAttempts(sql, enablement.since);
    const global = await readGlobalSecret(config.pullSecretFile);
    for (const attempt of await exportCandidates(sql, options)) {
      // The previous archive has been written out: free it before building the next.
      releaseArchives();
      const cluster = await readCluster(sql, attempt.clusterId);
      if (!cluster || !isSafeClusterId(attempt.clusterId)) {
        yield { attempt, leftOut: "cluster gone or its id is not a plain identifier" };
        continue;
      }
      const own = parsePullSecret(
        typeof cluster.pull_secret === "string" ? cluster.pull_secret : null,
      );
      if (own.kind === "opted-out") {
        yield { attempt, leftOut: "its own pull secret opts it out" };
        continue;
      }
      try {
        const built = await buildArchive(sql, attempt, {
          context: this.#context(global),
          cluster,
          maxBytes: config.uploadMaxBytes,
        });
        yield { attempt, built };
      } catch (err) {
        if (err instanceof TripwireError) yield { attempt, leftOut: "blocked by the tripwire" };
        else if (err instanceof ArchiveTooLargeError) {
          yield { attempt, leftOut: "too large even with events cut" };
        } else throw err;
      }
    }
  }

  /** Records that an attempt went into an export file. */
  async markExported(attempt: Attempt, file: string): Promise<void> {
    await markExported(this.#deps.sql, attempt, file);
  }

  /** Records the run-time switch and applies it at once. */
  async setOptOut(optedOut: boolean): Promise<{ state?: Enablement; error?: string }> {
    await this.prepare();
    await setRuntimeOptOut(this.#deps.sql, optedOut);
    const { state, error } = await this.reconcile();
    return { state, error };
  }

  /** The ledger summary, the enablement state and the pause. */
  async status(): Promise<CollectorStatus> {
    await this.prepare();
    const [enablement, installation, ledger] = await Promise.all([
      currentEnablement(this.#deps.sql),
      loadInstallation(this.#deps.sql),
      ledgerSummary(this.#deps.sql),
    ]);
    const { config } = this.#deps;
    return {
      enablement,
      runtimeOptedOut: installation.runtimeOptedOut,
      pause: this.pause,
      retry: config.retry,
      concurrency: config.uploadConcurrency,
      perMinute: config.uploadsPerMinute,
      attempts: ledger.counts,
      verification: ledger.verification,
      exported: ledger.exported,
      recent: ledger.recent,
    };
  }
}
