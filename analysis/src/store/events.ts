/**
 * Adding events: each (cluster, event id) once, as upstream's event id rule
 * deduplicates (every archive repeats its cluster's whole history). The
 * events table has no primary key: maintaining one cost 5.8 of the 8 s an
 * insert of a million events took (measured); the rows are staged once,
 * and those already stored are left out by an anti-join against the
 * events of the same clusters only. Ingest is serial, so nothing races it.
 */
import type { Params, Tx } from "./duckdb.ts";

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
    let added: number;
    if (tx.keepAdded) {
      await tx.run(`CREATE OR REPLACE TEMP TABLE events_added AS ${fresh}`);
      await tx.run("INSERT INTO events SELECT * FROM events_added");
      [{ added }] = await tx.query<{ added: number }>(
        "SELECT count(*)::INTEGER AS added FROM events_added",
      );
    } else {
      const [inserted] = await tx.query<{ Count: number }>(`INSERT INTO events ${fresh}`);
      added = Number(inserted?.Count ?? 0);
    }
    return { read: n, added, clusterKeys: keys.map((r) => r.k) };
  } finally {
    await tx.run("DROP TABLE IF EXISTS incoming_events");
  }
}
