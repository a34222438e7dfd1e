/**
 * The normalised tables as Hive-partitioned Parquet (`<table>/source=…/month=…/`),
 * the layout a data lake and distributed engines (Trino, Spark, ClickHouse,
 * Athena) read.
 */
import type { Store } from "./duckdb.ts";

/** Each table, and the month it is partitioned by (none: by source only). */
const TABLES: ReadonlyArray<[string, string | null]> = [
  ["attempts", "coalesce(cluster_created_at, ended_at)"],
  ["events", "event_time"],
  ["hosts", null],
];

function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** Writes every table under `dir`, replacing what an earlier export wrote there. */
export async function exportParquet(store: Store, dir: string): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  for (const [table, month] of TABLES) {
    const select = month
      ? `SELECT *, coalesce(strftime(${month}, '%Y-%m'), 'unknown') AS month FROM ${table}`
      : `SELECT * FROM ${table}`;
    const partition = month ? "source, month" : "source";
    await store.exec(
      `COPY (${select}) TO ${
        literal(`${dir}/${table}`)
      } (FORMAT parquet, PARTITION_BY (${partition}), OVERWRITE)`,
    );
  }
  return TABLES.map(([t]) => t);
}
