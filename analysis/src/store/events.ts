/**
 * Adding events: each (cluster, event id) once, as upstream's event id rule
 * deduplicates (every archive repeats its cluster's whole history). The
 * events table has no primary key: maintaining one cost 5.8 of the 8 s an
 * insert of a million events took (measured); those already stored are
 * left out by an anti-join against the events of the same clusters only.
 * Ingest is serial, so nothing races it.
 *
 * Two ways in: `addEvents` stages rows of many clusters first (a SaaS
 * export file); `insertEvents` takes one statement that reads, deduplicates
 * and leaves out what is stored (an archive: one cluster), which spares
 * writing a million rows twice.
 */
import type { Params, Tx } from "./duckdb.ts";

/** The table function whose rows `insertEvents` counts as read. */
const SCAN = "READ_JSON";

/** What an addition read and added. */
export interface Added {
  /** Rows the source held. */
  read: number;
  /** Rows that were new. */
  added: number;
  /** The clusters the rows belong to. */
  clusterKeys: string[];
}

/**
 * Stages `select` (the events table's columns, in order, plus `usable`: whether
 * the row may be stored) and adds the usable rows not stored yet.
 */
export async function addEvents(tx: Tx, select: string, params: Params): Promise<Added> {
  await tx.run(`CREATE OR REPLACE TEMP TABLE incoming_events AS ${select}`, params);
  try {
    const [{ n }] = await tx.query<{ n: number }>(
      "SELECT count(*)::INTEGER AS n FROM incoming_events",
    );
    const keys = await tx.query<{ k: string }>(
      "SELECT DISTINCT cluster_key AS k FROM incoming_events WHERE usable AND cluster_key IS NOT NULL",
    );
    // The first row of each id (by position), less the ids stored already.
    const fresh = `SELECT i.* EXCLUDE (usable)
       FROM incoming_events i
       SEMI JOIN (SELECT min(rowid) AS first FROM incoming_events WHERE usable
                  GROUP BY cluster_key, event_id) d ON i.rowid = d.first
       ANTI JOIN (SELECT cluster_key, event_id FROM events
                  WHERE cluster_key IN (SELECT cluster_key FROM incoming_events)) e
         USING (cluster_key, event_id)`;
    const added = await addFresh(tx, fresh);
    return { read: n, added, clusterKeys: keys.map((r) => r.k) };
  } finally {
    await tx.run("DROP TABLE IF EXISTS incoming_events");
  }
}

/**
 * Adds the rows of `select` (the events table's columns, in order, already
 * deduplicated and new) in one statement, and counts the rows its
 * `read_json` scan read from DuckDB's profile of that statement, written
 * in `scratch` (a count of its own would parse the file a second time).
 * `read` is null when the profile does not say.
 */
export async function insertEvents(
  tx: Tx,
  select: string,
  options: { params: Params; clusterKeys: string[]; scratch: string },
): Promise<Omit<Added, "read"> & { read: number | null }> {
  const profile = `${options.scratch}/profile.json`;
  const added = await addFresh(tx, select, { params: options.params, profile });
  return { read: await scanned(profile), added, clusterKeys: options.clusterKeys };
}

/**
 * Adds the rows of `fresh` to events and returns how many; with
 * `tx.keepAdded`, by way of the temp table `events_added`. `profile`
 * profiles the statement that runs `fresh`, and only that one.
 */
async function addFresh(
  tx: Tx,
  fresh: string,
  options: { params?: Params; profile?: string } = {},
): Promise<number> {
  if (options.profile) await tx.profile(options.profile);
  let added = 0;
  if (tx.keepAdded) {
    await tx.run(`CREATE OR REPLACE TEMP TABLE events_added AS ${fresh}`, options.params);
  } else {
    const [inserted] = await tx.query<{ Count: number }>(
      `INSERT INTO events ${fresh}`,
      options.params,
    );
    added = Number(inserted?.Count ?? 0);
  }
  if (options.profile) await tx.profile(null);
  if (!tx.keepAdded) return added;
  await tx.run("INSERT INTO events SELECT * FROM events_added");
  [{ added }] = await tx.query<{ added: number }>(
    "SELECT count(*)::INTEGER AS added FROM events_added",
  );
  return added;
}

/** Rows the profiled statement's scans read, or null when the profile does not say. */
async function scanned(profile: string): Promise<number | null> {
  interface Node {
    extra_info?: { Function?: string };
    operator_cardinality?: number;
    children?: Node[];
  }
  let root: Node;
  try {
    root = JSON.parse(await Deno.readTextFile(profile));
  } catch {
    return null;
  }
  let rows: number | null = null;
  const walk = (node: Node) => {
    if (node.extra_info?.Function === SCAN && typeof node.operator_cardinality === "number") {
      rows = (rows ?? 0) + node.operator_cardinality;
    }
    node.children?.forEach(walk);
  };
  walk(root);
  return rows;
}
