/**
 * A throwaway PostgreSQL cluster started from the system's binaries, for the
 * demo, the tests and the benchmark. Never used in production.
 */

import { freePort } from "./child.ts";

/** A running throwaway cluster. */
export interface ThrowawayPostgres {
  /** A superuser URL for the `postgres` database. */
  url: string;
  /** The TCP port on 127.0.0.1. */
  port: number;
  /** Stop the server and remove its data directory. */
  stop(): Promise<void>;
  /** The same, synchronously, for exit handlers. */
  stopSync(): void;
  /** Stops the server but keeps its data (an outage). */
  pause(): Promise<void>;
  /** Starts it again on the same port. */
  resume(): Promise<void>;
}

/** Options for {@linkcode startThrowawayPostgres}. */
export interface StartOptions {
  /** Extra server settings, as `-c name=value` pairs. */
  settings?: Record<string, string>;
}

/** Finds the newest `/usr/lib/postgresql/<major>/bin`, or undefined. */
export function findPostgresBin(): string | undefined {
  const root = "/usr/lib/postgresql";
  let majors: number[] = [];
  try {
    majors = [...Deno.readDirSync(root)]
      .map((e) => Number(e.name))
      .filter((n) => Number.isInteger(n));
  } catch {
    return undefined;
  }
  majors.sort((a, b) => b - a);
  for (const major of majors) {
    const bin = `${root}/${major}/bin`;
    try {
      Deno.statSync(`${bin}/initdb`);
      return bin;
    } catch {
      // try the next major
    }
  }
  return undefined;
}

function isRoot(): boolean {
  return Deno.uid?.() === 0;
}

async function run(argv: string[], options: { asPostgres: boolean }): Promise<string> {
  const [cmd, ...args] = options.asPostgres && isRoot()
    ? ["runuser", "-u", "postgres", "--", ...argv]
    : argv;
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`${argv[0]} failed (${out.code}): ${text.trim()}`);
  return text;
}

/**
 * Initialises and starts a cluster on a free loopback port, with trust
 * authentication (it listens on 127.0.0.1 only). As root, the binaries run as
 * the `postgres` user, since PostgreSQL refuses to run as root.
 */
export async function startThrowawayPostgres(
  options: StartOptions = {},
): Promise<ThrowawayPostgres> {
  const bin = findPostgresBin();
  if (!bin) {
    throw new Error(
      "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin; " +
        "install the postgresql package or set TEST_DATABASE_URL",
    );
  }
  const dir = await Deno.makeTempDir({ prefix: "collector-pg-" });
  if (isRoot()) await run(["chown", "postgres:postgres", dir], { asPostgres: false });
  const data = `${dir}/data`;
  await run([
    `${bin}/initdb`,
    "-D",
    data,
    "-U",
    "postgres",
    "-A",
    "trust",
    "--no-sync",
    "-E",
    "UTF8",
  ], {
    asPostgres: true,
  });
  const port = freePort();
  const settings = {
    listen_addresses: "127.0.0.1",
    port: String(port),
    unix_socket_directories: dir,
    fsync: "off",
    synchronous_commit: "off",
    full_page_writes: "off",
    max_connections: "200",
    ...options.settings,
  };
  const opts = Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`).join(" ");
  const startArgv = [
    `${bin}/pg_ctl`,
    "-D",
    data,
    "-o",
    opts,
    "-l",
    `${dir}/server.log`,
    "-w",
    "start",
  ];
  await run(startArgv, { asPostgres: true });
  let stopped = false;
  const stopArgv = [`${bin}/pg_ctl`, "-D", data, "-m", "immediate", "-w", "stop"];
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      await run(stopArgv, { asPostgres: true }).catch(() => {});
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
    async pause() {
      await run([`${bin}/pg_ctl`, "-D", data, "-m", "immediate", "-w", "stop"], {
        asPostgres: true,
      });
    },
    async resume() {
      await run(startArgv, { asPostgres: true });
    },
    stopSync() {
      if (stopped) return;
      stopped = true;
      const [cmd, ...args] = isRoot() ? ["runuser", "-u", "postgres", "--", ...stopArgv] : stopArgv;
      new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).outputSync();
      try {
        Deno.removeSync(dir, { recursive: true });
      } catch {
        // already gone
      }
    },
  };
}
