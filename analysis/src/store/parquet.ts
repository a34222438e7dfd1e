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

/** An answer's rows as one Parquet file's bytes (column types as DuckDB infers them). */
export async function rowsToParquet(
  store: Store,
  rows: ReadonlyArray<Record<string, unknown>>,
): Promise<Uint8Array<ArrayBuffer>> {
  const dir = await Deno.makeTempDir({ prefix: "answer-" });
  try {
    const input = `${dir}/rows.ndjson`;
    const output = `${dir}/rows.parquet`;
    await Deno.writeTextFile(input, rows.map((r) => JSON.stringify(r)).join("\n"));
    const select = rows.length
      ? `SELECT * FROM read_json(${literal(input)}, format = 'newline_delimited')`
      : "SELECT CAST(NULL AS VARCHAR) AS key WHERE false";
    await store.exec(`COPY (${select}) TO ${literal(output)} (FORMAT parquet)`);
    return await Deno.readFile(output);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
