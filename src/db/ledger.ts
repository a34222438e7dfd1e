/**
 * The collector's own state, in its own schema beside assisted-service's
 * tables: the ledger of attempts, the enablement history and the
 * installation's pseudonymisation key. Only this module writes to the database.
 */
import type postgres from "postgres";
import type { Sql, TransactionSql } from "./mod.ts";

/** The schema holding the collector's state. */
export const LEDGER_SCHEMA = "assisted_telemetry";

/**
 * The states of an attempt: the one list the SQL CHECK, the type and the
 * status summary are made from.
 */
export const ATTEMPT_STATES = [
  "pending",
  "sent",
  "skipped",
  "cancelled",
  "blocked",
  "abandoned",
] as const;

/** States a finished attempt can be in. */
export type AttemptState = (typeof ATTEMPT_STATES)[number];

/** Why an attempt was given up. */
export type AbandonReason = "permanent" | "max-tries" | "too-large";

/**
 * Every change of an attempt's state, named. All leave `pending`; `retry`
 * and `defer` stay there (a try spent, or none), the rest end it.
 */
export const TRANSITIONS = {
  send: { from: "pending", to: "sent" },
  retry: { from: "pending", to: "pending" },
  defer: { from: "pending", to: "pending" },
  abandon: { from: "pending", to: "abandoned" },
  skip: { from: "pending", to: "skipped" },
  cancel: { from: "pending", to: "cancelled" },
  block: { from: "pending", to: "blocked" },
} as const satisfies Record<string, { from: AttemptState; to: AttemptState }>;

/** The transition each outcome of a try makes. */
export const OUTCOME_TRANSITION = {
  sent: "send",
  failed: "retry",
  deferred: "defer",
  abandoned: "abandon",
  skipped: "skip",
  cancelled: "cancel",
  blocked: "block",
} as const satisfies Record<Outcome["kind"], keyof typeof TRANSITIONS>;

const STATE_CHECK = `CHECK (state IN (${ATTEMPT_STATES.map((s) => `'${s}'`).join(", ")}))`;

/** Serialises migrations and enablement changes across replicas. */
const LOCK_KEY = 0x61737473; // "asts"

const MIGRATIONS: string[] = [
  `
  CREATE TABLE assisted_telemetry.installation (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    email_hmac_key bytea NOT NULL,
    runtime_opted_out boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
  );
  CREATE TABLE assisted_telemetry.enablement (
    id bigserial PRIMARY KEY,
    enabled boolean NOT NULL,
    reason text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
  );
  CREATE TABLE assisted_telemetry.attempts (
    cluster_id text NOT NULL,
    ended_at timestamptz NOT NULL,
    cluster_status text NOT NULL,
    bundle_id uuid NOT NULL,
    state text NOT NULL DEFAULT 'pending'
      CHECK (state IN ('pending', 'sent', 'skipped', 'cancelled')),
    tries integer NOT NULL DEFAULT 0,
    last_error text,
    last_http_status integer,
    request_id text,
    bytes bigint,
    event_count bigint,
    discovered_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_try_at timestamptz,
    sent_at timestamptz,
    PRIMARY KEY (cluster_id, ended_at)
  );
  CREATE INDEX attempts_pending ON assisted_telemetry.attempts (ended_at) WHERE state = 'pending';
  `,
  `
  ALTER TABLE assisted_telemetry.attempts DROP CONSTRAINT attempts_state_check;
  ALTER TABLE assisted_telemetry.attempts ADD CONSTRAINT attempts_state_check
    CHECK (state IN ('pending', 'sent', 'skipped', 'cancelled', 'blocked', 'abandoned'));
  `,
  `
  ALTER TABLE assisted_telemetry.attempts ADD COLUMN next_attempt_at timestamptz;
  `,
  `
  ALTER TABLE assisted_telemetry.attempts ADD COLUMN size_limit bigint;
  `,
  `
  ALTER TABLE assisted_telemetry.attempts ADD COLUMN abandon_reason text;
  UPDATE assisted_telemetry.attempts SET abandon_reason = CASE
    WHEN last_error LIKE 'permanent: archive of %' THEN 'too-large'
    WHEN last_error LIKE 'permanent: %' THEN 'permanent' ELSE 'max-tries' END
    WHERE state = 'abandoned';
  `,
  `
  ALTER TABLE assisted_telemetry.attempts
    ADD COLUMN verification text
      CHECK (verification IN ('pending', 'verified', 'failed', 'unverified')),
    ADD COLUMN verification_message text,
    ADD COLUMN verify_tries integer NOT NULL DEFAULT 0,
    ADD COLUMN verify_next_at timestamptz;
  CREATE INDEX attempts_verifying ON assisted_telemetry.attempts (verify_next_at)
    WHERE verification = 'pending';
  `,
  `
  ALTER TABLE assisted_telemetry.attempts
    ADD COLUMN exported_at timestamptz,
    ADD COLUMN export_file text;
  `,
];

/**
 * Creates the schema if it is missing (an admin may have created it already,
 * in which case the collector needs no CREATE on the database) and applies
 * pending migrations under an advisory lock.
 */
export async function migrateLedger(sql: Sql): Promise<void> {
  // Pointed at the wrong database, say so and leave no trace there.
  const [tables] = await sql`
    SELECT array_agg(t) FILTER (WHERE to_regclass(t) IS NULL) AS missing
    FROM unnest(${ASSISTED_TABLES}::text[]) AS t`;
  if (tables?.missing?.length) {
    throw new WrongDatabaseError(tables.missing);
  }
  const [exists] = await sql`SELECT 1 FROM pg_namespace WHERE nspname = ${LEDGER_SCHEMA}`;
  if (!exists) {
    // Two replicas starting together can both miss the schema; one wins.
    await sql`CREATE SCHEMA IF NOT EXISTS assisted_telemetry`.catch((err) => {
      if (!["42P06", "23505"].includes(err?.code)) throw err;
    });
  }
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${LOCK_KEY})`;
    await tx`CREATE TABLE IF NOT EXISTS assisted_telemetry.migrations (
      version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT clock_timestamp())`;
    const [{ version }] = await tx`
      SELECT coalesce(max(version), 0)::int AS version FROM assisted_telemetry.migrations`;
    for (let v = version; v < MIGRATIONS.length; v++) {
      await tx.unsafe(MIGRATIONS[v]);
      await tx`INSERT INTO assisted_telemetry.migrations (version) VALUES (${v + 1})`;
    }
    // The states' CHECK follows ATTEMPT_STATES, whatever the migrations wrote.
    const [check] = await tx`
      SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint
      WHERE conname = 'attempts_state_check'
        AND conrelid = 'assisted_telemetry.attempts'::regclass`;
    const states = ATTEMPT_STATES.map((s) => `'${s}'::text`).join(", ");
    if (!String(check?.def ?? "").includes(states)) {
      await tx.unsafe(`ALTER TABLE assisted_telemetry.attempts
        DROP CONSTRAINT IF EXISTS attempts_state_check,
        ADD CONSTRAINT attempts_state_check ${STATE_CHECK}`);
    }
    const key = crypto.getRandomValues(new Uint8Array(32));
    await tx`INSERT INTO assisted_telemetry.installation (email_hmac_key) VALUES (${key})
      ON CONFLICT DO NOTHING`;
  });
}

/** The assisted-service tables the collector reads; without them this is not its database. */
export const ASSISTED_TABLES = ["clusters", "hosts", "events", "infra_envs"];

/** The database holds no assisted-service tables. */
export class WrongDatabaseError extends Error {
  constructor(missing: string[]) {
    super(
      `the database holds no assisted-service tables (missing ${
        missing.join(", ")
      }): is DATABASE_URL assisted-service's database?`,
    );
    this.name = "WrongDatabaseError";
  }
}

/** Per-installation state. */
export interface Installation {
  /** Key for HMAC-SHA-256 pseudonyms of e-mail addresses; never leaves the database. */
  emailHmacKey: Uint8Array;
  /** Set by `opt-out` at run time, cleared by `opt-in`. */
  runtimeOptedOut: boolean;
}

/** Reads the installation row that {@linkcode migrateLedger} created. */
export async function loadInstallation(sql: Sql): Promise<Installation> {
  const [row] = await sql`
    SELECT email_hmac_key, runtime_opted_out FROM assisted_telemetry.installation`;
  if (!row) throw new Error("ledger is not initialised");
  return {
    emailHmacKey: new Uint8Array(row.email_hmac_key),
    runtimeOptedOut: row.runtime_opted_out,
  };
}

/** Records the run-time switch (`opt-out` / `opt-in`). */
export async function setRuntimeOptOut(sql: Sql, optedOut: boolean): Promise<void> {
  await sql`UPDATE assisted_telemetry.installation SET runtime_opted_out = ${optedOut}`;
}

/** Whether collection should be on, and why. */
export interface DesiredEnablement {
  enabled: boolean;
  reason: string;
}

/** The recorded enablement state. */
export interface Enablement extends DesiredEnablement {
  /** When the current state began, as PostgreSQL text (microseconds kept). */
  since: string;
  /** True when this call recorded a change. */
  changed: boolean;
}

/**
 * Records a change between opted in and opted out. The first record marks
 * when collection began: attempts that ended earlier are never sent. Opting
 * out cancels every attempt still waiting.
 */
export async function reconcileEnablement(
  sql: Sql,
  desired: DesiredEnablement,
): Promise<Enablement> {
  return await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${LOCK_KEY})`;
    const [last] = await tx`
      SELECT enabled, reason, changed_at::text AS since FROM assisted_telemetry.enablement
      ORDER BY id DESC LIMIT 1`;
    // The same state for the same reasons is no change; opted out for other
    // reasons is recorded, so the reason shown is always the current one.
    if (
      last && last.enabled === desired.enabled &&
      (desired.enabled || last.reason === desired.reason)
    ) {
      return { enabled: last.enabled, reason: last.reason, since: last.since, changed: false };
    }
    if (last?.enabled && !desired.enabled) {
      // Attempts that ended while collection was on but that no pass had found
      // yet are recorded too, so that the cancellation below accounts for them.
      await discoverAttempts(tx, last.since);
    }
    const [row] = await tx`
      INSERT INTO assisted_telemetry.enablement (enabled, reason)
      VALUES (${desired.enabled}, ${desired.reason}) RETURNING changed_at::text AS since`;
    if (!desired.enabled) {
      const { from, to } = TRANSITIONS.cancel;
      await tx`UPDATE assisted_telemetry.attempts
        SET state = ${to}, last_error = ${"opted out: " + desired.reason}
        WHERE state = ${from}`;
    }
    return { ...desired, since: row.since, changed: true };
  });
}

/** The latest recorded enablement, or undefined before the first pass. */
export async function currentEnablement(
  sql: Sql,
): Promise<Omit<Enablement, "changed"> | undefined> {
  const [last] = await sql`
    SELECT enabled, reason, changed_at::text AS since FROM assisted_telemetry.enablement
    ORDER BY id DESC LIMIT 1`;
  return last ? { enabled: last.enabled, reason: last.reason, since: last.since } : undefined;
}

/** One finished installation attempt. */
export interface Attempt {
  clusterId: string;
  /** `clusters.status_updated_at` when it finished, as PostgreSQL text. */
  endedAt: string;
  clusterStatus: string;
  bundleId: string;
  tries: number;
  /** Set after a 413: the archive must stay under this many bytes. */
  sizeLimit?: number | null;
}

/** Restricts a pass to these clusters; undefined means all. */
export type ClusterFilter = readonly string[] | undefined;

/**
 * Adds every finished attempt that ended at or after `since` to the ledger.
 * Timestamps are compared in SQL, where they keep their microseconds.
 */
export async function discoverAttempts(
  sql: Sql | TransactionSql,
  since: string,
  options: { clusters?: ClusterFilter } = {},
): Promise<number> {
  const clusters = options.clusters;
  const result = await sql`
    INSERT INTO assisted_telemetry.attempts (cluster_id, ended_at, cluster_status, bundle_id)
    SELECT c.id, c.status_updated_at, c.status,
           md5(random()::text || clock_timestamp()::text || c.id)::uuid
    FROM clusters c
    WHERE c.deleted_at IS NULL
      AND c.status IN ('installed', 'error', 'cancelled')
      AND c.status_updated_at IS NOT NULL
      AND c.id IS NOT NULL
      AND c.status_updated_at >= ${since}::text::timestamptz
      ${clusters ? sql`AND c.id IN ${sql(clusters as string[])}` : sql``}
    ON CONFLICT DO NOTHING`;
  return result.count;
}

/** Pending attempts that ended at or after `since`, oldest first. */
export async function dueAttempts(
  sql: Sql,
  since: string,
  options: { clusters?: ClusterFilter } = {},
): Promise<Attempt[]> {
  const clusters = options.clusters;
  const rows = await sql`
    SELECT cluster_id, ended_at::text AS ended_at, cluster_status, bundle_id::text AS bundle_id, tries,
           size_limit::float8 AS size_limit
    FROM assisted_telemetry.attempts
    WHERE state = 'pending' AND ended_at >= ${since}::text::timestamptz
      AND (next_attempt_at IS NULL OR next_attempt_at <= clock_timestamp())
      ${clusters ? sql`AND cluster_id IN ${sql(clusters as string[])}` : sql``}
    ORDER BY ended_at, cluster_id`;
  return rows.map(toAttempt);
}

/** The columns every attempt query selects, as an Attempt. */
function toAttempt(r: postgres.Row): Attempt {
  return {
    clusterId: r.cluster_id,
    endedAt: r.ended_at,
    clusterStatus: r.cluster_status,
    bundleId: r.bundle_id,
    tries: r.tries,
    sizeLimit: r.size_limit,
  };
}

/** What became of one try at an attempt. */
export type Outcome =
  | {
    kind: "sent";
    requestId: string | null;
    httpStatus: number;
    bytes: number;
    events: number;
    /** Ask the payload tracker about it afterwards. */
    verify?: boolean;
  }
  | {
    kind: "failed";
    error: string;
    /** When to try again, from now. */
    retryInMs: number;
    httpStatus?: number;
    bytes?: number;
    events?: number;
    /** After a 413: the next try must stay under this many bytes. */
    sizeLimit?: number;
  }
  | {
    kind: "abandoned";
    reason: AbandonReason;
    error: string;
    httpStatus?: number;
    bytes?: number;
    events?: number;
  }
  /** Held back (a pause): due again after `retryInMs`, and no try spent. */
  | { kind: "deferred"; reason: string; retryInMs: number }
  | { kind: "skipped"; reason: string }
  | { kind: "cancelled"; reason: string }
  | { kind: "blocked"; reason: string };

/** Records an outcome on a claimed attempt, inside the claim's transaction. */
export async function recordOutcome(
  tx: TransactionSql,
  attempt: Attempt,
  outcome: Outcome,
): Promise<void> {
  const key = tx`cluster_id = ${attempt.clusterId}
    AND ended_at = ${attempt.endedAt}::text::timestamptz AND state = 'pending'`;
  const to = TRANSITIONS[OUTCOME_TRANSITION[outcome.kind]].to;
  switch (outcome.kind) {
    case "sent":
      await tx`UPDATE assisted_telemetry.attempts SET state = ${to}, tries = tries + 1,
        last_error = NULL, last_http_status = ${outcome.httpStatus}, request_id = ${outcome.requestId},
        bytes = ${outcome.bytes}, event_count = ${outcome.events},
        last_try_at = clock_timestamp(), sent_at = clock_timestamp(),
        verification = ${outcome.verify && outcome.requestId ? "pending" : null},
        verify_next_at = clock_timestamp()
        WHERE ${key}`;
      return;
    case "failed":
    case "abandoned":
      await tx`UPDATE assisted_telemetry.attempts SET tries = tries + 1, state = ${to},
        last_error = ${outcome.error}, last_http_status = ${outcome.httpStatus ?? null},
        bytes = ${outcome.bytes ?? null}, event_count = ${outcome.events ?? null},
        last_try_at = clock_timestamp(),
        abandon_reason = ${outcome.kind === "abandoned" ? outcome.reason : null},
        size_limit = ${
        outcome.kind === "failed" && outcome.sizeLimit ? outcome.sizeLimit : tx`size_limit`
      },
        next_attempt_at = ${
        outcome.kind === "failed"
          ? tx`clock_timestamp() + ${outcome.retryInMs} * interval '1 millisecond'`
          : tx`NULL`
      }
        WHERE ${key}`;
      return;
    case "deferred":
      await tx`UPDATE assisted_telemetry.attempts SET last_error = ${outcome.reason},
        next_attempt_at = clock_timestamp() + ${outcome.retryInMs} * interval '1 millisecond'
        WHERE ${key}`;
      return;
    case "skipped":
    case "cancelled":
    case "blocked":
      await tx`UPDATE assisted_telemetry.attempts SET state = ${to},
        last_error = ${outcome.reason} WHERE ${key}`;
  }
}

/**
 * Runs `work` holding a row lock on a still-pending attempt, and records its
 * outcome in the same transaction. Another replica skips the locked row; a
 * crash rolls back and releases the lock with the connection, so the attempt
 * is retried at once rather than after a lease. Returns undefined when the
 * attempt is locked elsewhere or no longer pending.
 */
export async function withClaim(
  sql: Sql,
  attempt: Attempt,
  work: (tx: TransactionSql, claimed: Attempt) => Promise<Outcome>,
): Promise<Outcome | undefined> {
  return await sql.begin(async (tx) => {
    const [row] = await tx`
      SELECT tries, size_limit::float8 AS size_limit FROM assisted_telemetry.attempts
      WHERE cluster_id = ${attempt.clusterId} AND ended_at = ${attempt.endedAt}::text::timestamptz
        AND state = 'pending'
      FOR UPDATE SKIP LOCKED`;
    if (!row) return undefined;
    const outcome = await work(tx, { ...attempt, tries: row.tries, sizeLimit: row.size_limit });
    await recordOutcome(tx, attempt, outcome);
    return outcome;
  });
}

/**
 * Makes the attempts an ended auth pause held back due at once: the one
 * refused with 401/403 and those deferred behind it. A restart ends an auth
 * pause too, so the collector calls this when it starts.
 */
export async function releaseAuthHeld(sql: Sql): Promise<number> {
  const rows = await sql`
    UPDATE assisted_telemetry.attempts SET next_attempt_at = NULL
    WHERE state = 'pending' AND next_attempt_at IS NOT NULL
      AND (last_http_status IN (401, 403) OR last_error LIKE 'uploads paused: HTTP 40_:%')
    RETURNING 1`;
  return rows.length;
}

/** A sent attempt whose delivery is still to be verified. */
export interface Verifying {
  clusterId: string;
  endedAt: string;
  requestId: string;
  tries: number;
  /** Milliseconds since it was sent. */
  ageMs: number;
}

/** Sent attempts due for a question to the payload tracker, oldest first. */
export async function dueVerifications(sql: Sql, limit: number): Promise<Verifying[]> {
  const rows = await sql`
    SELECT cluster_id, ended_at::text AS ended_at, request_id, verify_tries,
           (extract(epoch FROM clock_timestamp() - sent_at) * 1000)::float8 AS age_ms
    FROM assisted_telemetry.attempts
    WHERE verification = 'pending' AND verify_next_at <= clock_timestamp()
    ORDER BY verify_next_at LIMIT ${limit}`;
  return rows.map((r) => ({
    clusterId: r.cluster_id,
    endedAt: r.ended_at,
    requestId: r.request_id,
    tries: r.verify_tries,
    ageMs: r.age_ms,
  }));
}

/** Records what the tracker said: final, or asked again after `retryInMs`. */
export async function recordVerification(
  sql: Sql,
  attempt: Pick<Verifying, "clusterId" | "endedAt">,
  result:
    | { verification: "verified" | "failed" | "unverified"; message: string }
    | { verification: "pending"; message: string; retryInMs: number },
): Promise<void> {
  await sql`UPDATE assisted_telemetry.attempts SET verification = ${result.verification},
    verification_message = ${result.message}, verify_tries = verify_tries + 1,
    verify_next_at = ${
    result.verification === "pending"
      ? sql`clock_timestamp() + ${result.retryInMs} * interval '1 millisecond'`
      : sql`NULL`
  }
    WHERE cluster_id = ${attempt.clusterId} AND ended_at = ${attempt.endedAt}::text::timestamptz
      AND verification = 'pending'`;
}

/** How many pending attempts are due now (for the backlog metric). */
export async function dueCount(sql: Sql): Promise<number> {
  const [r] = await sql`
    SELECT count(*)::int AS n FROM assisted_telemetry.attempts
    WHERE state = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= clock_timestamp())`;
  return r.n;
}

/** Why an attempt that only an export carries was not sent automatically. */
export const EXPORT_ONLY_REASON =
  "exported by hand: collection was off, or it ended before collection began";

/**
 * The finished attempts an export covers (each cluster's latest, as the
 * database holds it), each with its ledger row: the row automatic sending
 * made, or one made now (`skipped`, EXPORT_ONLY_REASON), so that an export
 * and an automatic send of the same attempt share its `bundle_id`.
 */
export async function exportCandidates(
  sql: Sql,
  options: { since?: string; clusterId?: string } = {},
): Promise<Attempt[]> {
  const filters = sql`c.deleted_at IS NULL AND c.status IN ('installed', 'error', 'cancelled')
    AND c.status_updated_at IS NOT NULL AND c.id IS NOT NULL
    ${options.since ? sql`AND c.status_updated_at >= ${options.since}::timestamptz` : sql``}
    ${options.clusterId ? sql`AND c.id = ${options.clusterId}` : sql``}`;
  await sql`
    INSERT INTO assisted_telemetry.attempts (cluster_id, ended_at, cluster_status, bundle_id, state, last_error)
    SELECT c.id, c.status_updated_at, c.status,
           md5(random()::text || clock_timestamp()::text || c.id)::uuid, 'skipped', ${EXPORT_ONLY_REASON}
    FROM clusters c WHERE ${filters}
    ON CONFLICT DO NOTHING`;
  const rows = await sql`
    SELECT a.cluster_id, a.ended_at::text AS ended_at, a.cluster_status, a.bundle_id::text AS bundle_id,
           a.tries, a.size_limit::float8 AS size_limit
    FROM clusters c JOIN assisted_telemetry.attempts a
      ON a.cluster_id = c.id AND a.ended_at = c.status_updated_at
    WHERE ${filters}
    ORDER BY a.ended_at, a.cluster_id`;
  return rows.map(toAttempt);
}

/** Records that an attempt went into an export file (it is not marked as sent). */
export async function markExported(
  sql: Sql,
  attempt: Pick<Attempt, "clusterId" | "endedAt">,
  file: string,
): Promise<void> {
  await sql`UPDATE assisted_telemetry.attempts SET exported_at = clock_timestamp(),
    export_file = ${file}
    WHERE cluster_id = ${attempt.clusterId} AND ended_at = ${attempt.endedAt}::text::timestamptz`;
}

/** The cluster's most recent attempt in the ledger, whatever its state. */
export async function latestAttempt(sql: Sql, clusterId: string): Promise<Attempt | undefined> {
  const [r] = await sql`
    SELECT cluster_id, ended_at::text AS ended_at, cluster_status, bundle_id::text AS bundle_id, tries,
           size_limit::float8 AS size_limit
    FROM assisted_telemetry.attempts WHERE cluster_id = ${clusterId}
    ORDER BY ended_at DESC LIMIT 1`;
  return r ? toAttempt(r) : undefined;
}

/** A row of the ledger, for `/v1/status`. */
export interface LedgerRow {
  cluster_id: string;
  ended_at: string;
  cluster_status: string;
  bundle_id: string;
  state: AttemptState;
  tries: number;
  last_error: string | null;
  abandon_reason: AbandonReason | null;
  last_http_status: number | null;
  request_id: string | null;
  verification: string | null;
  verification_message: string | null;
  exported_at: string | null;
  export_file: string | null;
  bytes: number | null;
  event_count: number | null;
  sent_at: string | null;
  next_attempt_at: string | null;
}

/** Counts by state and the most recent attempts. */
export async function ledgerSummary(
  sql: Sql,
  options: { limit?: number } = {},
): Promise<
  {
    counts: Record<string, number>;
    verification: Record<string, number>;
    exported: number;
    recent: LedgerRow[];
  }
> {
  const counts: Record<string, number> = Object.fromEntries(ATTEMPT_STATES.map((s) => [s, 0]));
  for (
    const r
      of await sql`SELECT state, count(*)::int AS n FROM assisted_telemetry.attempts GROUP BY state`
  ) {
    counts[r.state] = r.n;
  }
  const verification: Record<string, number> = {
    pending: 0,
    verified: 0,
    failed: 0,
    unverified: 0,
  };
  for (
    const r of await sql`SELECT verification, count(*)::int AS n FROM assisted_telemetry.attempts
      WHERE verification IS NOT NULL GROUP BY verification`
  ) {
    verification[r.verification] = r.n;
  }
  const recent = await sql<LedgerRow[]>`
    SELECT cluster_id, ended_at::text AS ended_at, cluster_status, bundle_id::text AS bundle_id,
           state, tries, last_error, abandon_reason, last_http_status, request_id,
           verification, verification_message, exported_at::text AS exported_at, export_file,
           next_attempt_at::text AS next_attempt_at,
           bytes::float8 AS bytes, event_count::float8 AS event_count, sent_at::text AS sent_at
    FROM assisted_telemetry.attempts ORDER BY ended_at DESC, cluster_id LIMIT ${
    options.limit ?? 50
  }`;
  const [{ exported }] = await sql`SELECT count(*)::int AS exported
    FROM assisted_telemetry.attempts WHERE exported_at IS NOT NULL`;
  return { counts, verification, exported, recent: [...recent] };
}
