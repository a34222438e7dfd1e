/**
 * Read-only access to assisted-service's tables. Rows are read whole with
 * to_jsonb, so a column that is missing or extra on a real install changes
 * nothing here: the sanitiser's allow-list decides what is used. Soft-deleted
 * rows are excluded in SQL, since GORM's default filter does not apply.
 */
import type { Queryable } from "./mod.ts";
import { type CopyField, forEachCopyPiece } from "./copy_text.ts";

/** A row as column → JSON value; timestamps are UTC text with microseconds. */
export type Row = Record<string, unknown>;

/** The cluster row, or undefined when it is gone or soft-deleted. */
export async function readCluster(sql: Queryable, clusterId: string): Promise<Row | undefined> {
  const [r] = await sql`
    SELECT to_jsonb(c) AS row FROM clusters c WHERE c.id = ${clusterId} AND c.deleted_at IS NULL`;
  return r?.row;
}

/** The cluster's hosts that are not soft-deleted, by id for a stable archive. */
export async function readHosts(sql: Queryable, clusterId: string): Promise<Row[]> {
  const rows = await sql`
    SELECT to_jsonb(h) AS row FROM hosts h
    WHERE h.cluster_id = ${clusterId} AND h.deleted_at IS NULL
    ORDER BY h.id, h.infra_env_id`;
  return rows.map((r) => r.row);
}

/** The relation tables the API nests in a cluster, when this install has them. */
export const CLUSTER_RELATIONS = [
  "monitored_operators",
  "api_vips",
  "ingress_vips",
  "cluster_networks",
  "machine_networks",
  "service_networks",
] as const;

/**
 * The cluster's rows of each relation table (whole, as JSON; the allow-list
 * picks). A table this install does not have, or that the collector was not
 * granted SELECT on, gives no rows.
 */
export async function readClusterRelations(
  sql: Queryable,
  clusterId: string,
): Promise<Record<(typeof CLUSTER_RELATIONS)[number], Row[]>> {
  const [present] = await sql`
    SELECT array_agg(t) FILTER (
      WHERE to_regclass(t) IS NOT NULL AND has_table_privilege(to_regclass(t), 'SELECT')
    ) AS tables
    FROM unnest(${CLUSTER_RELATIONS as unknown as string[]}::text[]) AS t`;
  const tables = new Set<string>(present?.tables ?? []);
  const out = {} as Record<(typeof CLUSTER_RELATIONS)[number], Row[]>;
  for (const table of CLUSTER_RELATIONS) {
    out[table] = tables.has(table)
      ? (await sql`SELECT to_jsonb(r) AS row FROM ${sql(table)} r WHERE r.cluster_id = ${clusterId}
          ORDER BY to_jsonb(r)::text`).map((r) => r.row)
      : [];
  }
  return out;
}

/**
 * The cluster's infra env: the first host's, as upstream picks it, else one
 * bound to the cluster (the newest).
 */
export async function readInfraEnv(
  sql: Queryable,
  clusterId: string,
  options: { infraEnvId?: string } = {},
): Promise<Row | undefined> {
  if (options.infraEnvId) {
    const [r] =
      await sql`SELECT to_jsonb(i) AS row FROM infra_envs i WHERE i.id = ${options.infraEnvId}`;
    if (r) return r.row;
  }
  const [r] = await sql`
    SELECT to_jsonb(i) AS row FROM infra_envs i WHERE i.cluster_id = ${clusterId}
    ORDER BY i.created_at DESC NULLS LAST, i.id LIMIT 1`;
  return r?.row;
}

/** Every infra env bound to the cluster or to one of its hosts (their secrets are all known). */
export async function readInfraEnvs(
  sql: Queryable,
  clusterId: string,
  hosts: Row[],
): Promise<Row[]> {
  const ids = [...new Set(hosts.map((h) => h.infra_env_id).filter((v) => typeof v === "string"))];
  const rows = await sql`
    SELECT to_jsonb(i) AS row FROM infra_envs i
    WHERE i.cluster_id = ${clusterId} OR i.id = ANY(${ids as string[]}::text[])`;
  return rows.map((r) => r.row);
}

/** The event columns the archive carries; timestamps as UTC text. */
export interface EventRow {
  cluster_id: string | null;
  host_id: string | null;
  infra_env_id: string | null;
  category: string | null;
  name: string | null;
  severity: string | null;
  event_time: string | null;
  message: string | null;
  props: string | null;
  request_id: string | null;
}

/** Events left out to fit the size limit: metrics first, then the oldest info events. */
export interface EventCut {
  dropMetrics: boolean;
  /** How many of the oldest `info` user events to leave out. */
  dropOldestInfo: number;
}

/** No cut: every event. */
export const NO_CUT: EventCut = { dropMetrics: false, dropOldestInfo: 0 };

/** The columns of {@linkcode EventRow}, in the order the COPY below writes them. */
const EVENT_COLUMNS = [
  "cluster_id",
  "host_id",
  "infra_env_id",
  "category",
  "name",
  "severity",
  "event_time",
  "message",
  "props",
  "request_id",
] as const satisfies readonly (keyof EventRow)[];

/**
 * Streams the cluster's events as the reference selects them: categories
 * `user` and `metrics`, not soft-deleted, ordered by `event_time` (then id,
 * so equal times keep a stable order), in batches of ~32 KB of rows, less
 * what `cut` leaves out. Read with `COPY … TO STDOUT`, which takes no bind
 * parameters: the values go in as transaction-local settings instead, so the
 * SQL stays parameterised.
 */
export async function forEachEventBatch(
  sql: Queryable,
  clusterId: string,
  onBatch: (rows: EventRow[]) => Promise<void>,
  options: { cut?: EventCut } = {},
): Promise<void> {
  const cut = options.cut ?? NO_CUT;
  const read = async (tx: Queryable) => {
    await tx`SELECT set_config('assisted_telemetry.cluster_id', ${clusterId}, true),
      set_config('assisted_telemetry.drop_oldest_info', ${String(cut.dropOldestInfo)}, true)`;
    const stream = await tx`COPY (
      WITH dropped AS (
        SELECT id FROM events
        WHERE cluster_id = current_setting('assisted_telemetry.cluster_id')
          AND category = 'user' AND severity = 'info' AND deleted_at IS NULL
        ORDER BY event_time, id
        LIMIT current_setting('assisted_telemetry.drop_oldest_info')::bigint
      )
      SELECT cluster_id, host_id, infra_env_id, category, name, severity,
             event_time::text AS event_time, message, props, request_id
      FROM events e
      WHERE e.cluster_id = current_setting('assisted_telemetry.cluster_id')
        AND e.category IN ('user', 'metrics') AND e.deleted_at IS NULL
        ${cut.dropMetrics ? tx`AND e.category <> 'metrics'` : tx``}
        ${cut.dropOldestInfo > 0 ? tx`AND e.id NOT IN (SELECT id FROM dropped)` : tx``}
      ORDER BY e.event_time, e.id
    ) TO STDOUT`.readable();
    await forEachCopyPiece(stream, (fields) => onBatch(fields.map(eventRowOf)));
  };
  // A transaction of its own unless the caller's is open (settings last until its end).
  if ("savepoint" in sql) await read(sql);
  else await sql.begin(read);
}

/** An event row from the COPY's fields, in {@linkcode EVENT_COLUMNS} order. */
function eventRowOf(fields: CopyField[]): EventRow {
  if (fields.length !== EVENT_COLUMNS.length) {
    throw new Error(`an event row has ${fields.length} fields, not ${EVENT_COLUMNS.length}`);
  }
  const row = {} as EventRow;
  for (let i = 0; i < EVENT_COLUMNS.length; i++) row[EVENT_COLUMNS[i]] = fields[i];
  return row;
}

/** The event_time of the newest info event that `cut` leaves out, for the record. */
export async function lastDroppedInfoTime(
  sql: Queryable,
  clusterId: string,
  cut: EventCut,
): Promise<string | null> {
  if (cut.dropOldestInfo === 0) return null;
  const [r] = await sql`
    SELECT max(event_time)::text AS t FROM (
      SELECT event_time FROM events
      WHERE cluster_id = ${clusterId} AND category = 'user' AND severity = 'info' AND deleted_at IS NULL
      ORDER BY event_time, id LIMIT ${cut.dropOldestInfo}) d`;
  return r?.t ?? null;
}
