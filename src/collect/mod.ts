/**
 * A collection pass: decide whether collection is on, find finished
 * attempts, and send each due one once.
 */
import type { Config } from "../config/mod.ts";
import type { Sql, TransactionSql } from "../db/mod.ts";
import { readCluster } from "../db/assisted.ts";
import {
  type Attempt,
  type ClusterFilter,
  currentEnablement,
  type DesiredEnablement,
  discoverAttempts,
  dueAttempts,
  type Enablement,
  latestAttempt,
  ledgerSummary,
  loadInstallation,
  migrateLedger,
  type Outcome,
  reconcileEnablement,
  releaseAuthHeld,
  setRuntimeOptOut,
  withClaim,
} from "../db/ledger.ts";
import { errorMessage, type Logger } from "../log/mod.ts";
import { importHmacKey } from "../sanitize/mod.ts";
import { redactForLog } from "../sanitize/text.ts";
import { uploadArchive, type UploadResult } from "../upload/mod.ts";
import { decide } from "../upload/policy.ts";
import pLimit from "p-limit";
import pThrottle from "p-throttle";
import {
  type ArchiveAttempt,
  type ArchiveContext,
  ArchiveTooLargeError,
  buildArchive,
  type BuiltArchive,
  isSafeClusterId,
} from "./archive.ts";
import { TripwireError } from "./secrets.ts";
import {
  parsePullSecret,
  pullSecretSecrets,
  type PullSecretVerdict,
  TELEMETRY_REGISTRY,
} from "./pull_secret.ts";

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

/** Uploads to the endpoint are paused: after 401/403, or a 429/503 with Retry-After. */
export interface Pause {
  kind: "auth" | "rate";
  /** Epoch milliseconds. */
  until: number;
  reason: string;
  /** The global pull secret's token when the pause began; a new one ends an auth pause. */
  token?: string;
}

/** Options for one pass. */
export interface PassOptions {
  /** Shutdown began: start no further upload. */
  stop?: AbortSignal;
  /** Shutdown deadline: abort the upload in flight; its claim rolls back. */
  abort?: AbortSignal;
}

/** The global pull secret as read on this pass: absent, or a verdict. */
type GlobalSecret = { verdict: PullSecretVerdict; secrets: string[] } | undefined;

/** Reasons recorded in the enablement history. */
export const REASONS = {
  enabled: "collection enabled",
  env: "ENABLE_DATA_COLLECTION is false",
  runtime: "opted out at run time (opt-out command or POST /v1/opt-out)",
  pullSecret: `global pull secret has no ${TELEMETRY_REGISTRY} entry`,
} as const;

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

type Deferral = Extract<Outcome, { kind: "deferred" }>;

/** An attempt held back by a pause: due again when the pause ends, without spending a try. */
function deferral(pause: Pause): Deferral {
  return {
    kind: "deferred",
    reason: `uploads paused: ${pause.reason}`,
    retryInMs: Math.max(0, pause.until - Date.now()),
  };
}

/** The collector: one per process, shared by the timer, the trigger and the CLI. */
export class Collector {
  readonly #deps: CollectorDeps;
  #hmacKey?: CryptoKey;
  #loggedReason?: string;
  #pause?: Pause;
  readonly #client: Deno.HttpClient;
  readonly #throttledUpload: (
    ...args: Parameters<typeof uploadArchive>
  ) => Promise<UploadResult | Deferral>;

  constructor(deps: CollectorDeps) {
    this.#deps = deps;
    // Proxies come from HTTPS_PROXY/NO_PROXY, which Deno's client reads itself.
    this.#client = Deno.createHttpClient({
      caCerts: deps.config.uploadCaPem ? [deps.config.uploadCaPem] : [],
    });
    // The pause is checked when the throttle lets a call through, not before it
    // waits: a 429 that arrives while others queue stops them all.
    this.#throttledUpload = pThrottle({
      limit: deps.config.uploadsPerMinute,
      interval: deps.rateWindowMs ?? 60_000,
      strict: true,
    })((...args: Parameters<typeof uploadArchive>) => {
      const pause = this.pause;
      return pause ? Promise.resolve(deferral(pause)) : uploadArchive(...args);
    });
  }

  /** Releases the HTTP client. */
  close(): void {
    this.#client.close();
  }

  /** The current pause of all uploads, if any. */
  get pause(): Pause | undefined {
    return this.#pause && this.#pause.until > Date.now() ? this.#pause : undefined;
  }

  #startPause(pause: Pause): void {
    if (this.#pause && this.#pause.until >= pause.until) return;
    this.#pause = pause;
    this.#deps.log.warn("uploads paused", {
      kind: pause.kind,
      until: new Date(pause.until).toISOString(),
      reason: pause.reason,
    });
  }

  /** An auth pause ends early when the global pull secret's token changes; what it held is due. */
  async #checkPause(global: GlobalSecret): Promise<Pause | undefined> {
    const pause = this.pause;
    if (
      pause?.kind === "auth" && global?.verdict.kind === "token" &&
      global.verdict.token !== pause.token
    ) {
      this.#pause = undefined;
      const released = await releaseAuthHeld(this.#deps.sql);
      this.#deps.log.info("pull secret changed; uploads resume", { released });
      return undefined;
    }
    return pause;
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

  async #readGlobalSecret(): Promise<GlobalSecret> {
    const file = this.#deps.config.pullSecretFile;
    if (!file) return undefined;
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (err) {
      const why = err instanceof Deno.errors.NotFound ? "not found" : (err as Error).name;
      return {
        verdict: { kind: "invalid", problem: `cannot read PULL_SECRET_FILE (${why})` },
        secrets: [],
      };
    }
    return { verdict: parsePullSecret(text), secrets: pullSecretSecrets(text) };
  }

  /** Env first, then the run-time switch, then the global pull secret. */
  #desired(global: GlobalSecret, runtimeOptedOut: boolean): DesiredEnablement | { error: string } {
    if (!this.#deps.config.enableDataCollection) return { enabled: false, reason: REASONS.env };
    if (runtimeOptedOut) return { enabled: false, reason: REASONS.runtime };
    if (global?.verdict.kind === "opted-out") return { enabled: false, reason: REASONS.pullSecret };
    if (global?.verdict.kind === "invalid") {
      return { error: `global pull secret unusable: ${global.verdict.problem}` };
    }
    return { enabled: true, reason: REASONS.enabled };
  }

  #logEnablement(state: Enablement): void {
    const key = `${state.enabled}:${state.reason}`;
    if (this.#loggedReason === key) return;
    const first = this.#loggedReason === undefined;
    this.#loggedReason = key;
    if (state.enabled) {
      this.#deps.log.info(first ? "data collection is on" : "data collection turned on", {
        since: state.since,
      });
    } else {
      this.#deps.log.info(first ? "data collection is opted out" : "data collection turned off", {
        reason: state.reason,
        since: state.since,
      });
    }
  }

  /** Evaluates every switch and records a change in the ledger. */
  async reconcile(): Promise<{ state?: Enablement; global: GlobalSecret; error?: string }> {
    await this.prepare();
    const installation = await loadInstallation(this.#deps.sql);
    const global = await this.#readGlobalSecret();
    const desired = this.#desired(global, installation.runtimeOptedOut);
    if ("error" in desired) return { global, error: desired.error };
    const state = await reconcileEnablement(this.#deps.sql, desired);
    this.#logEnablement(state);
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
      if (await this.#checkPause(global)) return result;
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
    const { sql, log } = this.#deps;
    const fields = {
      cluster_id: attempt.clusterId,
      attempt: attempt.endedAt,
      bundle_id: attempt.bundleId,
    };
    const outcome = await withClaim(sql, attempt, async (tx, claimed) => {
      try {
        return await this.#attempt(tx, claimed, global, signal);
      } catch (err) {
        // Only a deliberate rollback leaves no trace; any other failure is this try's outcome.
        if (err instanceof ClaimRolledBack) throw err;
        const error = `attempt failed: ${safeError(err)}`;
        return this.#decide(claimed, { ok: false, error }, { bytes: 0, events: 0, error, global });
      }
    });
    if (outcome) this.#deps.metrics?.outcome(outcome);
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
    return outcome;
  }

  /** Turns an upload's answer into the ledger's outcome, pausing everything when asked to. */
  #decide(
    attempt: Attempt,
    result: UploadResult,
    extra: { bytes: number; events: number; error: string; global: GlobalSecret },
  ): Outcome {
    const { retry } = this.#deps.config;
    const tries = attempt.tries + 1;
    const decision = decide(result, { tries, policy: retry, bytes: extra.bytes });
    const sizes = { bytes: extra.bytes, events: extra.events };
    if (result.ok) {
      return { kind: "sent", requestId: result.requestId, httpStatus: result.status, ...sizes };
    }
    const base = { error: extra.error, httpStatus: result.status, ...sizes };
    if (decision.kind === "abandon") {
      const why = decision.reason === "permanent" ? "permanent" : `gave up after ${tries} tries`;
      return { kind: "abandoned", ...base, error: `${why}: ${extra.error}` };
    }
    if (decision.kind !== "retry") throw new Error("a failed upload cannot be sent");
    if (decision.pause) {
      this.#startPause({
        kind: decision.pause.kind,
        until: Date.now() + decision.pause.ms,
        reason: decision.pause.reason,
        token: decision.pause.kind === "auth" && extra.global?.verdict.kind === "token"
          ? extra.global.verdict.token
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

  async #attempt(
    tx: TransactionSql,
    attempt: Attempt,
    global: GlobalSecret,
    signal?: AbortSignal,
  ): Promise<Outcome> {
    const { config } = this.#deps;
    // An opt-out that raced this claim waits on our row lock; honour it here.
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
    const own = parsePullSecret(
      typeof cluster.pull_secret === "string" ? cluster.pull_secret : null,
    );
    if (own.kind === "opted-out") {
      return { kind: "skipped", reason: `cluster pull secret has no ${TELEMETRY_REGISTRY} entry` };
    }
    const token = global?.verdict.kind === "token"
      ? global.verdict.token
      : own.kind === "token"
      ? own.token
      : undefined;
    if (!token) {
      return { kind: "skipped", reason: `no ${TELEMETRY_REGISTRY} token in any pull secret` };
    }
    const context = this.#context(global);
    let built;
    try {
      // In a savepoint, so that a database error while reading this attempt's
      // rows leaves the claim's transaction usable to record it.
      built = await tx.savepoint((sp) =>
        buildArchive(sp, attempt, { context, cluster, ...this.#limit(attempt) })
      );
    } catch (err) {
      if (err instanceof TripwireError) return { kind: "blocked", reason: err.message };
      if (err instanceof ArchiveTooLargeError) {
        return { kind: "abandoned", error: `permanent: ${err.message}` };
      }
      const error = `could not build the archive: ${safeError(err)}`;
      return this.#decide(attempt, { ok: false, error }, { bytes: 0, events: 0, error, global });
    }
    const pause = this.pause;
    if (pause) return deferral(pause);
    const result = await this.#throttledUpload(built.archive, {
      endpoint: config.uploadEndpoint,
      token,
      clusterId: attempt.clusterId,
      timeoutMs: config.uploadTimeoutMs,
      connectTimeoutMs: config.connectTimeoutMs,
      client: this.#client,
      signal,
    });
    if ("kind" in result) return result;
    if (signal?.aborted && !result.ok) {
      // Shutdown: roll the claim back so nothing about this try is recorded.
      throw new ClaimRolledBack("shutdown during upload");
    }
    return this.#decide(attempt, result, {
      bytes: built.archive.size,
      events: built.eventCount,
      error: result.ok ? "" : redactForLog(result.error, built.knownSecrets),
      global,
    });
  }

  /** The size limit of an attempt: UPLOAD_MAX_BYTES, or lower after a 413. */
  #limit(attempt: { sizeLimit?: number | null }): { maxBytes: number; limitReason: string } {
    const max = this.#deps.config.uploadMaxBytes;
    return attempt.sizeLimit && attempt.sizeLimit < max
      ? { maxBytes: attempt.sizeLimit, limitReason: "the endpoint answered 413" }
      : { maxBytes: max, limitReason: "over UPLOAD_MAX_BYTES" };
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
    const global = await this.#readGlobalSecret();
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

  /** Records the run-time switch and applies it at once. */
  async setOptOut(optedOut: boolean): Promise<{ state?: Enablement; error?: string }> {
    await this.prepare();
    await setRuntimeOptOut(this.#deps.sql, optedOut);
    const { state, error } = await this.reconcile();
    return { state, error };
  }

  /** The ledger summary and the enablement state, for `/v1/status`. */
  async status(): Promise<Record<string, unknown>> {
    await this.prepare();
    const [enablement, installation, ledger] = await Promise.all([
      currentEnablement(this.#deps.sql),
      loadInstallation(this.#deps.sql),
      ledgerSummary(this.#deps.sql),
    ]);
    const pause = this.pause;
    const { retry } = this.#deps.config;
    return {
      collection: enablement ?? null,
      runtime_opted_out: installation.runtimeOptedOut,
      uploads_paused: pause
        ? { kind: pause.kind, until: new Date(pause.until).toISOString(), reason: pause.reason }
        : null,
      retry_policy: {
        initial_ms: retry.initialMs,
        max_ms: retry.maxMs,
        max_attempts: retry.maxAttempts,
        auth_pause_ms: retry.authPauseMs,
        concurrency: this.#deps.config.uploadConcurrency,
        per_minute: this.#deps.config.uploadsPerMinute,
      },
      attempts: ledger.counts,
      recent: ledger.recent,
    };
  }
}
