/**
 * Real PostgreSQL for tests: TEST_DATABASE_URL if set, else a throwaway
 * cluster started once from the system's binaries. Each test gets its own
 * database, cloned from a template holding the assisted-service fixture schema.
 */
import postgres from "postgres";
import { ASSISTED_SCHEMA_SQL } from "../fixtures/assisted_schema.ts";
import { startThrowawayPostgres, type ThrowawayPostgres } from "../../tools/postgres.ts";
import { connect, type Sql } from "../../src/db/mod.ts";

const TEMPLATE = "collector_fixture_template";

let server: Promise<{ adminUrl: string; pg?: ThrowawayPostgres }> | undefined;

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Runs `statements` one after another on a connection of their own. */
async function runOn(url: string, ...statements: string[]): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    for (const statement of statements) await sql.unsafe(statement);
  } finally {
    await sql.end();
  }
}

async function startServer(): Promise<{ adminUrl: string; pg?: ThrowawayPostgres }> {
  const external = Deno.env.get("TEST_DATABASE_URL");
  const pg = external ? undefined : await startThrowawayPostgres();
  const adminUrl = external ?? pg!.url;
  if (pg) globalThis.addEventListener("unload", () => pg.stopSync());
  await runOn(adminUrl, `DROP DATABASE IF EXISTS ${TEMPLATE}`, `CREATE DATABASE ${TEMPLATE}`);
  await runOn(withDatabase(adminUrl, TEMPLATE), ASSISTED_SCHEMA_SQL);
  return { adminUrl, pg };
}

/** A fresh database for one test. */
export interface TestDatabase {
  /** Superuser URL of this database. */
  url: string;
  /** A superuser pool on it, for seeding and inspection. */
  sql: Sql;
  /** URL of the same server with another role and this database. */
  urlFor(role: string, password: string): string;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

/** Creates an isolated database with the assisted-service schema. */
export async function testDatabase(): Promise<TestDatabase> {
  server ??= startServer();
  const { adminUrl } = await server;
  const name = `t_${crypto.randomUUID().replaceAll("-", "")}`;
  await runOn(adminUrl, `CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`);
  const url = withDatabase(adminUrl, name);
  const sql = connect(url, { max: 4 });
  return {
    url,
    sql,
    urlFor(role, password) {
      const u = new URL(url);
      u.username = role;
      u.password = password;
      return u.toString();
    },
    async drop() {
      await sql.end({ timeout: 5 });
      await runOn(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** An empty database on the same server (for the analysis service's shared store). */
export async function emptyDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  server ??= startServer();
  const { adminUrl } = await server;
  const name = `a_${crypto.randomUUID().replaceAll("-", "")}`;
  await runOn(adminUrl, `CREATE DATABASE ${name}`);
  return {
    url: withDatabase(adminUrl, name),
    drop: () => runOn(adminUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
