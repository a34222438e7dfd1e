/**
 * The demo's database: a throwaway PostgreSQL from the system's binaries
 * where they are installed, else embedded PGlite behind a loopback socket,
 * so the demo runs on a machine with nothing but Deno.
 */
import { findPostgresBin, startThrowawayPostgres } from "../postgres.ts";

/** A running demo database. */
export interface DemoDatabase {
  url: string;
  /** "PostgreSQL (system binaries)" or "PGlite (embedded)". */
  kind: string;
  /** PGlite serves one session at a time, so pools must hold one connection. */
  singleConnection: boolean;
  stop(): Promise<void>;
}

async function startPglite(): Promise<DemoDatabase> {
  const { PGlite } = await import("npm:@electric-sql/pglite@0.5.14");
  const { PGLiteSocketServer } = await import("npm:@electric-sql/pglite-socket@0.2.17");
  const db = await PGlite.create();
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const server = new PGLiteSocketServer({ db, port, host: "127.0.0.1" });
  await server.start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    kind: "PGlite (embedded)",
    singleConnection: true,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}

/** Starts the best database this machine offers. */
export async function startDemoDatabase(): Promise<DemoDatabase> {
  if (Deno.env.get("DEMO_DATABASE") === "pglite" || !findPostgresBin()) return await startPglite();
  const pg = await startThrowawayPostgres();
  return {
    url: pg.url,
    kind: "PostgreSQL (system binaries)",
    singleConnection: false,
    stop: () => pg.stop(),
  };
}
