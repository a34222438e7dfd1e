/** The fixture schema's columns, by table, read from its DDL. */
import { ASSISTED_SCHEMA_SQL } from "../fixtures/assisted_schema.ts";

/** Column name → SQL type, for one table. */
export function columnsOf(table: string): Record<string, string> {
  const body = new RegExp(`CREATE TABLE ${table} \\(([\\s\\S]*?)\\n\\);`).exec(ASSISTED_SCHEMA_SQL)
    ?.[1];
  if (!body) throw new Error(`no table ${table}`);
  const out: Record<string, string> = {};
  for (const line of body.split("\n")) {
    const m = /^\s+([a-z_0-9]+) ([a-z0-9()]+)/.exec(line);
    if (m && m[1] !== "PRIMARY") out[m[1]] = m[2];
  }
  return out;
}
