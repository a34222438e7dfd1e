/**
 * Per-cluster summaries of the events, derived at ingest so questions and
 * pages never scan the events table (20,000,000 rows at the benchmark's
 * population): which funnel and outcome events a cluster has, its failure
 * reasons with names and numbers blanked (the grouping of
 * analysis-questions.md §3), its host stage durations as typed rows, and
 * each host's installation disk type as its stage events report it.
 *
 * Each is recomputed from a cluster's events whenever they change, so it is
 * always a pure function of the events table: re-deriving never drifts.
 */
import type { Tx } from "./duckdb.ts";

const UUID_RE = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

/** The derived tables, for deletion and reprocessing. */
export const DERIVED_TABLES = [
  "cluster_signals",
  "failure_reasons",
  "host_stage_durations",
  "cluster_numbers",
];

/**
 * Derived tables with a row per event of a kind, so large that the shared
 * store keeps them out of PostgreSQL, as it keeps the events' rows: each
 * replica derives them again from the events it loads
 * ({@linkcode deriveStageDurations}). A million events hold 100,000 stage
 * durations, which PostgreSQL took in ~0.3 s on an import's way (measured).
 */
export const PER_EVENT_TABLES = ["host_stage_durations"];

/** Their definitions. */
export const SIGNALS_SQL = `
CREATE TABLE IF NOT EXISTS cluster_signals (
  cluster_key VARCHAR PRIMARY KEY,
  registered BOOLEAN NOT NULL,
  hosts_added BOOLEAN NOT NULL,
  install_triggered BOOLEAN NOT NULL,
  completed BOOLEAN NOT NULL,
  failed BOOLEAN NOT NULL,
  degraded BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS failure_reasons (
  cluster_key VARCHAR NOT NULL,
  kind VARCHAR NOT NULL,
  reason VARCHAR NOT NULL,
  events BIGINT NOT NULL
);
CREATE SEQUENCE IF NOT EXISTS cluster_no_seq;
-- A small number for each cluster key, so the largest derived table joins and counts clusters
-- by integer (2,000,000 stage rows: ~70 ms less a question than by 32-character key, measured).
CREATE TABLE IF NOT EXISTS cluster_numbers (
  cluster_key VARCHAR PRIMARY KEY,
  cluster_no BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS host_stage_durations (
  cluster_key VARCHAR NOT NULL,
  host_key VARCHAR,
  source VARCHAR NOT NULL,
  event_time TIMESTAMPTZ,
  stage VARCHAR,
  duration_s DOUBLE,
  result VARCHAR,
  vendor VARCHAR,
  product VARCHAR,
  disk_type VARCHAR,
  role VARCHAR,
  cluster_no BIGINT
);
ALTER TABLE host_stage_durations ADD COLUMN IF NOT EXISTS cluster_no BIGINT;
-- Stage rows derived before clusters had numbers get theirs.
INSERT OR IGNORE INTO cluster_numbers
  SELECT k, nextval('cluster_no_seq')
  FROM (SELECT DISTINCT cluster_key AS k FROM host_stage_durations WHERE cluster_no IS NULL);
UPDATE host_stage_durations SET cluster_no = n.cluster_no FROM cluster_numbers n
  WHERE host_stage_durations.cluster_no IS NULL AND n.cluster_key = host_stage_durations.cluster_key;
`;

/** The events of the clusters named by the JSON list parameter `$keys`. */
const OF_KEYS = `cluster_key IN (SELECT unnest(from_json($keys, '["VARCHAR"]')))`;

/** Re-derives the summaries of `clusterKeys` from their events. */
export async function deriveSignals(tx: Tx, clusterKeys: Iterable<string>): Promise<void> {
  const keys = JSON.stringify([...new Set(clusterKeys)]);
  if (keys === "[]") return;
  for (const table of DERIVED_TABLES) {
    await tx.run(`DELETE FROM ${table} WHERE ${OF_KEYS}`, { keys });
  }
  await tx.run(
    `INSERT INTO cluster_signals
     SELECT cluster_key,
       bool_or(name = 'cluster_registration_succeeded'),
       bool_or(name = 'host_registration_succeeded'),
       bool_or(name = 'cluster_status_updated' AND message LIKE '%to installing%'
               AND message NOT LIKE '%pending-user-action%'),
       bool_or(name = 'cluster_installation_completed'),
       bool_or(name = 'cluster_installation_failed'
               OR (name = 'cluster_status_updated' AND message LIKE '%to error%')),
       bool_or(name = 'cluster_degraded_OLM_operators_failed')
     FROM events WHERE ${OF_KEYS} AND name IN ('cluster_registration_succeeded',
       'host_registration_succeeded', 'cluster_status_updated', 'cluster_installation_completed',
       'cluster_installation_failed', 'cluster_degraded_OLM_operators_failed')
     GROUP BY cluster_key`,
    { keys },
  );
  await tx.run(
    `INSERT INTO failure_reasons
     SELECT cluster_key, 'host', regexp_replace(regexp_replace(message, '^Host [^:]*:', 'Host <name>:'),
              '${UUID_RE}', '<id>', 'g') AS reason, count(*)
     FROM events WHERE ${OF_KEYS} AND name = 'host_status_updated' AND message LIKE '%to%error%'
       AND message NOT LIKE '%Host is part of a cluster that failed to install%'
     GROUP BY ALL
     UNION ALL
     SELECT cluster_key, 'cluster', regexp_replace(regexp_replace(message, '${UUID_RE}', '<id>', 'g'),
              '[0-9]+', '<n>', 'g') AS reason, count(*)
     FROM events WHERE ${OF_KEYS} AND name = 'cluster_installation_failed'
     GROUP BY ALL`,
    { keys },
  );
  await tx.run(
    `INSERT OR IGNORE INTO cluster_numbers
     SELECT k, nextval('cluster_no_seq') FROM (SELECT unnest(from_json($keys, '["VARCHAR"]')) AS k)`,
    { keys },
  );
  await insertStageDurations(tx, keys);
  await tx.run(
    `UPDATE hosts SET boot_disk_type = s.disk_type
     FROM (SELECT cluster_key, host_key, any_value(disk_type) AS disk_type
           FROM host_stage_durations
           WHERE ${OF_KEYS} AND host_key IS NOT NULL AND disk_type IS NOT NULL GROUP BY ALL) s
     WHERE hosts.cluster_key = s.cluster_key AND hosts.host_key = s.host_key`,
    { keys },
  );
}

/**
 * Derives the host stage durations of `clusterKeys` (every cluster's when
 * none are given) from their events again, replacing what was there; their
 * clusters' numbers must be in `cluster_numbers`.
 */
export async function deriveStageDurations(
  tx: Tx,
  clusterKeys?: Iterable<string>,
): Promise<void> {
  if (!clusterKeys) {
    await tx.run("DELETE FROM host_stage_durations");
    await insertStageDurations(tx);
    return;
  }
  const keys = JSON.stringify([...new Set(clusterKeys)]);
  if (keys === "[]") return;
  await tx.run(`DELETE FROM host_stage_durations WHERE ${OF_KEYS}`, { keys });
  await insertStageDurations(tx, keys);
}

/** Inserts the stage durations of the clusters in the JSON list `keys` (all: none given). */
async function insertStageDurations(tx: Tx, keys?: string): Promise<void> {
  await tx.run(
    `INSERT INTO host_stage_durations
     SELECT s.cluster_key, host_key, source, event_time, stage, duration_s, result, vendor, product,
            disk_type, role, n.cluster_no
     FROM host_stages s JOIN cluster_numbers n USING (cluster_key)
     ${keys === undefined ? "" : `WHERE s.${OF_KEYS}`}`,
    keys === undefined ? undefined : { keys },
  );
}

/** Re-derives every cluster's summaries (after reprocessing, retention, or a bulk load). */
export async function deriveAllSignals(tx: Tx): Promise<void> {
  const rows = await tx.query<{ cluster_key: string }>("SELECT DISTINCT cluster_key FROM events");
  await deriveSignals(tx, rows.map((r) => r.cluster_key));
}
