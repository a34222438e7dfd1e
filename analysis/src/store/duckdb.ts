/**
 * The embedded store: one DuckDB file holding the raw-archive index, the
 * normalised tables and nothing else. One connection, used one statement
 * at a time, so ingest and questions never interleave inside a write.
 */
import {
  DuckDBConnection,
  DuckDBInstance,
  type DuckDBResultReader,
  type DuckDBValue,
} from "@duckdb/node-api";
import { SCHEMA_SQL } from "./schema.ts";
import { SIGNALS_SQL } from "./signals.ts";

/** A value a parameter can take. */
export type Param = string | number | boolean | null;

/** Positional (`$1`) or named (`$name`) parameters. */
export type Params = Param[] | Record<string, Param>;

/** Profiles keep row counts only: timing every operator cost 0.7 s of a million events' 5 (measured). */
const PROFILE_METRICS = JSON.stringify({ OPERATOR_CARDINALITY: "true", EXTRA_INFO: "true" });
const PROFILE_SETTINGS = ["enable_profiling", "custom_profiling_settings", "profiling_output"];

const WIDE_INTEGERS = new Set(["BIGINT", "HUGEINT", "UBIGINT", "UHUGEINT"]);

/** Rows as JSON-safe objects; 64-bit counts as numbers (they stay far below 2^53). */
function rowsOf(reader: DuckDBResultReader): Record<string, unknown>[] {
  const wide = reader.columnTypes().map((t) => WIDE_INTEGERS.has(t.toString()));
  const names = reader.columnNames();
  return reader.getRowObjectsJson().map((row) => {
    names.forEach((name, i) => {
      const v = row[name];
      if (wide[i] && typeof v === "string") (row as Record<string, unknown>)[name] = Number(v);
    });
    return row as Record<string, unknown>;
  });
}

/**
 * Whether `err` is the machine's, not the archive's: DuckDB out of memory
 * (within `ANALYSIS_MEMORY_LIMIT`) or unable to read or write its files (a
 * full disk). Reading the same archive again later may well succeed, so it
 * waits rather than being quarantined.
 */
export function isResourceError(err: unknown): boolean {
  return /^(Out of Memory Error|IO Error)\b/.test(String((err as Error)?.message ?? ""));
}

/** An open store. */
export class Store {
  readonly path: string;
  readonly #instance: DuckDBInstance;
  readonly #conn: DuckDBConnection;
  #queue: Promise<unknown> = Promise.resolve();
  #generation = 0;
  /** The second connection of {@linkcode beside}, made on first use. */
  #beside?: DuckDBConnection;
  #besideQueue: Promise<unknown> = Promise.resolve();

  private constructor(path: string, instance: DuckDBInstance, conn: DuckDBConnection) {
    this.path = path;
    this.#instance = instance;
    this.#conn = conn;
  }

  /**
   * Opens (creating if needed) the DuckDB file at `path`; `:memory:` for none.
   * `memoryLimit` bounds DuckDB's memory (its `memory_limit`, e.g. `600MB`);
   * beyond it, large operations spill to disk or fail with an out-of-memory error.
   */
  static async open(path: string, options: { memoryLimit?: string } = {}): Promise<Store> {
    const instance = await DuckDBInstance.create(path, {
      // DuckDB's cache of file contents checks a file by its modification time, in whole
      // seconds, and its size: a file written again at the same path within a second, at the
      // same size, was read as its earlier content (store_test). Only local files are read
      // here, which the system's page cache keeps anyway.
      enable_external_file_cache: "false",
      ...(options.memoryLimit ? { memory_limit: options.memoryLimit } : {}),
    });
    const conn = await instance.connect();
    const store = new Store(path, instance, conn);
    await store.exec(SCHEMA_SQL + SIGNALS_SQL);
    await dropEventsKey(store);
    return store;
  }

  /**
   * Counts the writes so far: any statement that is not a plain read moves
   * it, so an answer computed at one generation is current while it holds.
   */
  get generation(): number {
    return this.#generation;
  }

  /** Runs `work` alone on the connection. */
  #serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(work, work);
    this.#queue = next.catch(() => {});
    return next;
  }

  /** Runs statements without parameters or results. */
  exec(sql: string): Promise<void> {
    return this.#serial(async () => {
      this.#generation++;
      await this.#conn.run(sql);
    });
  }

  /** Runs one parameterised statement and returns its rows as JSON-safe objects. */
  query<T = Record<string, unknown>>(sql: string, params: Params = []): Promise<T[]> {
    return this.#serial(async () => {
      if (!/^\s*(SELECT|WITH)\b/i.test(sql)) this.#generation++;
      const reader = await this.#conn.runAndReadAll(sql, params as Record<string, DuckDBValue>);
      return rowsOf(reader) as T[];
    });
  }

  /** Runs `work` inside one transaction, rolled back if it throws. */
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.#serial(async () => {
      await this.#conn.run("BEGIN TRANSACTION");
      // What the transaction sets, reset at its end (see below).
      const settings = new Set<string>();
      const set = async (name: string, value: string | null) => {
        if (value === null) {
          await this.#conn.run(`RESET ${name}`);
          settings.delete(name);
        } else {
          settings.add(name);
          await this.#conn.run(`SET ${name} = ${value}`);
        }
      };
      const profile = async (path: string | null) => {
        if (path === null) {
          for (const setting of PROFILE_SETTINGS) await set(setting, null);
          return;
        }
        await set("enable_profiling", "'json'");
        await set("custom_profiling_settings", `'${PROFILE_METRICS}'`);
        await set("profiling_output", `'${path.replaceAll("'", "''")}'`);
      };
      const tx: Tx = {
        run: async (sql, params = []) => {
          await this.#conn.run(sql, params as Record<string, DuckDBValue>);
        },
        query: async <R>(sql: string, params: Params = []) =>
          rowsOf(
            await this.#conn.runAndReadAll(sql, params as Record<string, DuckDBValue>),
          ) as R[],
        profile,
        set,
        commitSoFar: async () => {
          await this.#conn.run("COMMIT");
          await this.#conn.run("BEGIN TRANSACTION");
        },
      };
      try {
        this.#generation++;
        const out = await work(tx);
        await this.#conn.run("COMMIT");
        return out;
      } catch (err) {
        await this.#conn.run("ROLLBACK").catch(() => {});
        this.#generation++;
        throw err;
      } finally {
        // A statement that failed leaves what was set on (the aborted transaction refused to
        // reset it): later statements would write a profile, or lose insertion order.
        for (const name of settings) await this.#conn.run(`RESET ${name}`).catch(() => {});
      }
    });
  }

  /** Closes the file. */
  async close(): Promise<void> {
    await this.#queue.catch(() => {});
    await this.#besideQueue.catch(() => {});
    this.#beside?.closeSync();
    this.#conn.closeSync();
    this.#instance.closeSync();
  }

  /**
   * Runs one statement on a second connection, beside whatever the first
   * one does (a transaction's later statements included); it sees committed
   * rows only. `settings` hold for that statement alone.
   */
  beside(
    sql: string,
    options: { params?: Params; settings?: Record<string, string> } = {},
  ): Promise<void> {
    const work = async () => {
      this.#beside ??= await this.#instance.connect();
      const conn = this.#beside;
      const names = Object.keys(options.settings ?? {});
      try {
        for (const name of names) await conn.run(`SET ${name} = ${options.settings![name]}`);
        await conn.run(sql, (options.params ?? []) as Record<string, DuckDBValue>);
      } finally {
        for (const name of names) await conn.run(`RESET ${name}`).catch(() => {});
      }
    };
    const next = this.#besideQueue.then(work, work);
    this.#besideQueue = next.catch(() => {});
    return next;
  }
}

/**
 * Stores made before events lost their primary key (see `events.ts`) are
 * rebuilt without it once; DuckDB cannot drop a constraint in place.
 */
async function dropEventsKey(store: Store): Promise<void> {
  const [keyed] = await store.query<{ n: number }>(
    `SELECT count(*)::INTEGER AS n FROM duckdb_constraints()
     WHERE table_name = 'events' AND constraint_type = 'PRIMARY KEY'`,
  );
  if (!keyed.n) return;
  await store.transaction(async (tx) => {
    await tx.run("CREATE TABLE events_unkeyed AS SELECT * FROM events");
    await tx.run("DROP TABLE events CASCADE");
    await tx.run("ALTER TABLE events_unkeyed RENAME TO events");
  });
  await store.exec(SCHEMA_SQL + SIGNALS_SQL); // the views over events, again
}

/** Statements inside a transaction. */
export interface Tx {
  /**
   * Keep the events this transaction adds in the temp table `events_added`
   * (the shared store sends exactly those to PostgreSQL).
   */
  keepAdded?: boolean;
  run(sql: string, params?: Params): Promise<void>;
  query<R = Record<string, unknown>>(sql: string, params?: Params): Promise<R[]>;
  /**
   * Writes DuckDB's profile (row counts per operator, JSON) of each following
   * statement to `path`; null stops. The transaction's end stops it too.
   */
  profile(path: string | null): Promise<void>;
  /**
   * Sets a DuckDB setting (a name of ours, a literal value) for the following
   * statements; null resets it. The transaction's end resets it too.
   */
  set(name: string, value: string | null): Promise<void>;
  /**
   * Commits what the transaction wrote so far and goes on in a new one: a
   * later failure rolls back only what follows. A second connection (see
   * {@linkcode Store.beside}) reads what was committed meanwhile.
   */
  commitSoFar(): Promise<void>;
}
