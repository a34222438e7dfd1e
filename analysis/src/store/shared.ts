/**
 * PostgreSQL as the shared store (`ANALYSIS_DATABASE_URL`), so several
 * `serve` replicas take uploads in parallel and each archive is processed
 * once.
 *
 * PostgreSQL holds everything: raw archives, the ledger of arrivals and the
 * normalised tables (the same columns as the embedded store, for anyone who
 * queries it directly), except that events, by far the largest, are kept as
 * Parquet segments, one per change that added them: a million event rows cost
 * PostgreSQL 7.4 s to take with their indexes, the same rows as a segment
 * ~1 s to write and send (README). The host stage durations, a row per stage
 * event, are not kept at all: each replica derives them from the events it
 * loads, as the replica that imported them did. Each replica keeps a local DuckDB copy of the
 * normalised tables, in step with PostgreSQL through a change log, and
 * normalises and answers there: the same code and the same SQL as the
 * embedded store, so every question gives the same answer on both.
 *
 * Writes to the normalised tables happen only under one advisory lock, so
 * the change log's order is the order of commits: a replica takes the lock,
 * catches up, processes one archive in a local transaction, and commits the
 * rows it changed (those of the archive's clusters) to PostgreSQL with a
 * change entry. The local transaction commits first, marked as not yet sent,
 * because DuckDB writes a segment from committed rows in half the time
 * (measured); a copy still marked when it next catches up (PostgreSQL failed,
 * or the process stopped) is reloaded whole. An archive's events commit
 * locally before its other rows are made, so that its segment is written (on
 * a second DuckDB connection) and stored in PostgreSQL meanwhile, under a
 * placeholder number its change then takes (see `stageSegment`). Arrivals (the ledger) need no
 * lock; a version number tells replicas when to reload it.
 */
import postgres from "postgres";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Buffer } from "node:buffer";
import { rowWriter } from "pg-copy-streams-binary";
import { keyOf } from "../normalise/keys.ts";
import { makeScratchDir } from "../scratch.ts";
import type { Params, Store, Tx } from "./duckdb.ts";
import { DERIVED_TABLES, deriveStageDurations, PER_EVENT_TABLES } from "./signals.ts";

/**
 * Tables of the model whose rows belong to one cluster, the per-cluster
 * summaries included; events, by far the largest, are handled on their own.
 */
export const CLUSTER_TABLES = [
  "attempts",
  "hosts",
  "cluster_snapshots",
  "component_versions",
  ...DERIVED_TABLES,
];

/**
 * Those PostgreSQL holds as rows; the per-event ones each replica derives
 * from the events it loads (see PER_EVENT_TABLES).
 */
const REPLICATED_TABLES = CLUSTER_TABLES.filter((t) => !PER_EVENT_TABLES.includes(t));

const LEDGER_TABLES = ["archives", "requests"];

/** The advisory lock every writer of the normalised tables holds. */
const WRITE_LOCK = 727_100_001;
const SCHEMA_LOCK = 727_100_002;

/** Every table lives in its own schema, so the database may hold others' tables too. */
const PG_SCHEMA = `
CREATE SCHEMA IF NOT EXISTS assisted_analysis;
CREATE TABLE IF NOT EXISTS analysis_meta (k text PRIMARY KEY, v text NOT NULL);
INSERT INTO analysis_meta VALUES ('ledger_version', '0') ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS raw_archives (
  sha256 text NOT NULL, part integer NOT NULL, bytes bytea NOT NULL, PRIMARY KEY (sha256, part)
);
CREATE TABLE IF NOT EXISTS changes (
  seq bigint PRIMARY KEY, kind text NOT NULL, cluster_keys text[] NOT NULL,
  at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS archives (
  sha256 text PRIMARY KEY, bytes bigint NOT NULL, kind text NOT NULL, source text NOT NULL,
  channel text NOT NULL, org_key text, first_received_at timestamptz NOT NULL,
  times_received integer NOT NULL DEFAULT 1, status text NOT NULL, reason text, cluster_key text,
  collector text, processed_at timestamptz, events_in_archive bigint, events_new bigint
);
CREATE TABLE IF NOT EXISTS requests (
  request_id text PRIMARY KEY, sha256 text NOT NULL, org_key text, received_at timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
  attempt_id text PRIMARY KEY, cluster_key text NOT NULL, source text NOT NULL, channel text NOT NULL,
  org_key text, user_key text, email_domain text, internal boolean NOT NULL,
  cluster_created_at timestamptz, ended_at timestamptz, result text NOT NULL, last_state text,
  duration_s double precision, openshift_version text, ai_version text, deployment_type text,
  deployment_version text, platform text, ha_mode text, host_count integer, cpu_architecture text,
  network_type text, user_managed_networking boolean, features text[], archive_sha256 text,
  operators text[], dual_stack boolean, cluster_kind text, created_by_aicli boolean, iso_type text
);
CREATE TABLE IF NOT EXISTS hosts (
  cluster_key text NOT NULL, host_key text NOT NULL, source text NOT NULL, role text, status text,
  final_stage text, vendor text, product text, is_virtual boolean, cpu_cores integer,
  memory_bytes bigint, boot_disk_type text, cpu_architecture text,
  PRIMARY KEY (cluster_key, host_key)
);
CREATE TABLE IF NOT EXISTS event_segments (
  seq bigint NOT NULL, part integer NOT NULL, cluster_keys text[] NOT NULL, bytes bytea NOT NULL,
  PRIMARY KEY (seq, part)
);
CREATE TABLE IF NOT EXISTS cluster_snapshots (
  cluster_key text NOT NULL, source text NOT NULL, updated_at timestamptz, facts text NOT NULL,
  PRIMARY KEY (cluster_key, source)
);
CREATE TABLE IF NOT EXISTS component_versions (
  cluster_key text NOT NULL, component text NOT NULL, version text,
  PRIMARY KEY (cluster_key, component)
);
CREATE TABLE IF NOT EXISTS cluster_signals (
  cluster_key text PRIMARY KEY, registered boolean NOT NULL, hosts_added boolean NOT NULL,
  install_triggered boolean NOT NULL, completed boolean NOT NULL, failed boolean NOT NULL,
  degraded boolean NOT NULL
);
CREATE TABLE IF NOT EXISTS failure_reasons (
  cluster_key text NOT NULL, kind text NOT NULL, reason text NOT NULL, events bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS cluster_numbers (cluster_key text PRIMARY KEY, cluster_no bigint NOT NULL);
-- Derived by each replica from the events (see PER_EVENT_TABLES); stores made before kept it.
DROP TABLE IF EXISTS host_stage_durations;
CREATE INDEX IF NOT EXISTS attempts_cluster ON attempts (cluster_key);
CREATE INDEX IF NOT EXISTS event_segments_keys ON event_segments USING gin (cluster_keys);
-- gzip and zstd bytes: PostgreSQL's own compression would cost time for nothing (measured:
-- storing a 32 MB archive 0.93 s with it, 0.53-0.56 s without). Altered once, as an ALTER
-- TABLE waits for every transaction on the table.
DO $$ BEGIN
  IF EXISTS (SELECT FROM pg_attribute WHERE attname = 'bytes' AND attstorage <> 'e'
             AND attrelid IN ('raw_archives'::regclass, 'event_segments'::regclass)) THEN
    ALTER TABLE raw_archives ALTER COLUMN bytes SET STORAGE EXTERNAL;
    ALTER TABLE event_segments ALTER COLUMN bytes SET STORAGE EXTERNAL;
  END IF;
END $$;
CREATE INDEX IF NOT EXISTS failure_reasons_cluster ON failure_reasons (cluster_key);
CREATE INDEX IF NOT EXISTS archives_status ON archives (status);
`;

/** How the local copy stands against PostgreSQL. */
const LOCAL_STATE_SQL = `
CREATE TABLE IF NOT EXISTS replica_state (k VARCHAR PRIMARY KEY, v VARCHAR NOT NULL);
`;

/** A column of a replicated table, as DuckDB types it. */
interface Column {
  name: string;
  type: string;
}

/** Up to this many rows go to PostgreSQL as one JSON parameter; more are streamed with COPY. */
const JSON_ROWS = 5_000;

/** Rows of one table on their way to PostgreSQL. */
interface Batch {
  table: string;
  columns: Column[];
  rows?: Record<string, unknown>[];
  path?: string;
}

/** A change of the normalised tables, as the log records it. */
interface Change {
  seq: number;
  kind: "append" | "replace" | "reset";
  cluster_keys: string[];
}

/** A ledger row of an archive that waits to be processed. */
export interface Pending {
  sha256: string;
  kind: string;
  channel: string;
  org_key: string | null;
}

/** The shared store: PostgreSQL, and this replica's local copy in step with it. */
export class SharedStore {
  readonly #sql: postgres.Sql;
  readonly #local: Store;
  readonly #columns = new Map<string, Column[]>();
  readonly #tmp: string;
  /** Serialises catch-ups within this process. */
  #catching: Promise<unknown> = Promise.resolve();
  /** A change marked unsent here is on its way to PostgreSQL (see `sending`). */
  #sending = false;

  private constructor(sql: postgres.Sql, local: Store, tmp: string) {
    this.#sql = sql;
    this.#local = local;
    this.#tmp = tmp;
  }

  /**
   * Connects, creates the shared tables if missing, checks that this
   * replica keys ids with the same secret as the others, and brings the
   * local copy up to date.
   */
  static async open(
    url: string,
    options: { local: Store; secret: string },
  ): Promise<SharedStore> {
    const sql = postgres(url, {
      max: 4,
      onnotice: () => {},
      connection: {
        TimeZone: "UTC",
        application_name: "assisted-analysis",
        search_path: "assisted_analysis",
      },
    });
    try {
      await sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK})`;
        await tx.unsafe(PG_SCHEMA);
        const check = keyOf(options.secret, "analysis-key-check")!;
        await tx`INSERT INTO analysis_meta VALUES ('key_check', ${check}) ON CONFLICT DO NOTHING`;
        const [row] = await tx<{ v: string }[]>`SELECT v FROM analysis_meta WHERE k = 'key_check'`;
        if (row.v !== check) {
          throw new SharedStoreError(
            "ANALYSIS_KEY_FILE holds another key than the store's other replicas use; " +
              "every replica must key ids with the same secret",
          );
        }
        await tx`INSERT INTO analysis_meta VALUES ('store_id', ${crypto.randomUUID()})
                 ON CONFLICT DO NOTHING`;
        await dropEventRows(tx);
      });
    } catch (err) {
      await sql.end({ timeout: 1 });
      if (err instanceof SharedStoreError) throw err;
      throw new SharedStoreError(`ANALYSIS_DATABASE_URL: ${describe(err)}`);
    }
    await options.local.exec(LOCAL_STATE_SQL);
    const [local] = await options.local.query<{ copy: number; archives: number }>(
      `SELECT (SELECT count(*) FROM replica_state WHERE k = 'store_id')::INTEGER AS copy,
              (SELECT count(*) FROM archives)::INTEGER AS archives`,
    );
    if (!local.copy && local.archives) {
      await sql.end({ timeout: 1 });
      throw new SharedStoreError(
        "ANALYSIS_DB holds an embedded store, not a copy of the shared one, and would be " +
          "overwritten: give this replica a new ANALYSIS_DB file (the embedded store's raw " +
          "archives can be brought over with `import`)",
      );
    }
    const tmp = await makeScratchDir("sync");
    const shared = new SharedStore(sql, options.local, tmp);
    try {
      await shared.catchUp();
    } catch (err) {
      await shared.close();
      throw new SharedStoreError(`ANALYSIS_DATABASE_URL: copying the store: ${describe(err)}`);
    }
    return shared;
  }

  /** Closes the connections. */
  async close(): Promise<void> {
    // A catch-up in flight may finish; one stuck on the network ends with the connections.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#catching.catch(() => {}),
      new Promise((r) => timer = setTimeout(r, 5_000)),
    ]);
    clearTimeout(timer);
    await this.#sql.end({ timeout: 5 });
    await Deno.remove(this.#tmp, { recursive: true }).catch(() => {});
  }

  // --- The ledger: arrivals, without the write lock ----------------------------------------

  /**
   * Records an arrival: the raw bytes once per content, the archive's row,
   * the request. Returns the archive's status before this arrival, if any.
   */
  async accept(
    bytes: Uint8Array,
    row: {
      sha256: string;
      kind: string;
      source: string;
      channel: string;
      orgKey: string | null;
      requestId?: string;
    },
  ): Promise<{ status: string; reason: string | null } | undefined> {
    return await this.#sql.begin(async (tx) => {
      await writeRaw(tx, row.sha256, bytes);
      const [before] = await tx<{ status: string; reason: string | null }[]>`
        SELECT status, reason FROM archives WHERE sha256 = ${row.sha256} FOR UPDATE`;
      if (before) {
        await tx`UPDATE archives SET times_received = times_received + 1
                 WHERE sha256 = ${row.sha256}`;
      } else {
        await tx`INSERT INTO archives (sha256, bytes, kind, source, channel, org_key,
                   first_received_at, status)
                 VALUES (${row.sha256}, ${bytes.byteLength}, ${row.kind}, ${row.source},
                   ${row.channel}, ${row.orgKey}, now(), 'received')`;
      }
      if (row.requestId) {
        await tx`INSERT INTO requests VALUES (${row.requestId}, ${row.sha256}, ${row.orgKey}, now())
                 ON CONFLICT DO NOTHING`;
      }
      await bumpLedger(tx);
      return before;
    });
  }

  /** Sets an archive's status in the ledger (and whatever else `fields` names). */
  async setStatus(
    sha256: string,
    fields: { status: string; reason?: string | null },
  ): Promise<void> {
    await this.#sql.begin(async (tx) => {
      await tx`UPDATE archives SET status = ${fields.status}, reason = ${fields.reason ?? null},
                 processed_at = CASE WHEN ${fields.status} = 'error' THEN now() ELSE processed_at END
               WHERE sha256 = ${sha256}`;
      await bumpLedger(tx);
    });
  }

  /** The raw bytes of an archive, written to `path` (for processing or rewriting). */
  async fetchRaw(sha256: string, path: string): Promise<boolean> {
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    const tmp = `${path}.${crypto.randomUUID()}.tmp`;
    const parts = await partsToFile(
      this.#sql`SELECT bytes FROM raw_archives WHERE sha256 = ${sha256} ORDER BY part`,
      tmp,
    );
    if (!parts) {
      await Deno.remove(tmp);
      return false;
    }
    await Deno.rename(tmp, path);
    return true;
  }

  /** Replaces the raw bytes of an archive (a SaaS file rewritten without a deleted cluster). */
  async replaceRaw(sha256: string, bytes: Uint8Array): Promise<void> {
    await this.#sql.begin(async (tx) => {
      await tx`DELETE FROM raw_archives WHERE sha256 = ${sha256}`;
      await writeRaw(tx, sha256, bytes);
    });
  }

  /** An upload's status by request id, read from PostgreSQL (always current). */
  async track(requestId: string): Promise<
    { status: string; reason: string | null; at: string; org_key: string | null } | undefined
  > {
    const [row] = await this.#sql<
      { status: string; reason: string | null; at: string; org_key: string | null }[]
    >`SELECT a.status, a.reason, coalesce(a.processed_at, r.received_at)::text AS at, r.org_key
      FROM requests r JOIN archives a USING (sha256) WHERE r.request_id = ${requestId}`;
    return row;
  }

  /** How many archives wait to be processed, by any replica (less those `skip` names). */
  async pending(options: { skip?: string[] } = {}): Promise<number> {
    const [row] = await this.#sql<{ n: number }[]>`
      SELECT count(*)::integer AS n FROM archives WHERE status IN ('received', 'processing')
        AND NOT (sha256 = ANY(${options.skip ?? []}::text[]))`;
    return row.n;
  }

  // --- Writing the normalised tables, under the lock --------------------------------------

  /**
   * Runs `work` holding the write lock, with the local copy caught up first;
   * returns undefined at once when another replica holds it (it will
   * process what waits).
   */
  async exclusive<T>(work: () => Promise<T>): Promise<{ value: T } | undefined> {
    const conn = await this.#sql.reserve();
    try {
      const [{ locked }] = await conn<{ locked: boolean }[]>`
        SELECT pg_try_advisory_lock(${WRITE_LOCK}) AS locked`;
      if (!locked) return undefined;
      try {
        // Segments staged by a holder of the lock that did not commit them (see stageSegment).
        await this.#sql`DELETE FROM event_segments WHERE seq < 0`;
        await this.catchUp();
        return { value: await work() };
      } finally {
        await conn`SELECT pg_advisory_unlock(${WRITE_LOCK})`;
      }
    } finally {
      conn.release();
    }
  }

  /** {@linkcode exclusive}, waiting for the lock while another replica holds it. */
  async whenExclusive<T>(work: () => Promise<T>): Promise<T> {
    for (;;) {
      const ran = await this.exclusive(work);
      if (ran) return ran.value;
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /**
   * The next archive to process, oldest first, less those `skip` names (call
   * under {@linkcode exclusive}).
   */
  async nextPending(options: { skip?: string[] } = {}): Promise<Pending | undefined> {
    const [row] = await this.#sql<Pending[]>`
      SELECT sha256, kind, channel, org_key FROM archives WHERE status IN ('received', 'processing')
        AND NOT (sha256 = ANY(${options.skip ?? []}::text[]))
      ORDER BY CASE kind WHEN '.clusters' THEN 0 ELSE 1 END, first_received_at, sha256 LIMIT 1`;
    return row;
  }

  /**
   * Runs `work`, which changes rows in a local transaction that it marks
   * with {@linkcode markUnsent}, then sends them with {@linkcode commit}.
   * Meanwhile the mark is known to be this replica's own; one that a later
   * catch-up finds (the send failed, or the process stopped first) makes it
   * reload the copy whole.
   */
  async sending<T>(work: () => Promise<T>): Promise<T> {
    this.#sending = true;
    try {
      return await work();
    } finally {
      this.#sending = false;
    }
  }

  /** Marks, inside the local transaction `tx`, that its change is not in PostgreSQL yet. */
  async markUnsent(tx: Tx): Promise<void> {
    await tx.run("INSERT OR REPLACE INTO replica_state VALUES ('unsent', 'true')");
  }

  /**
   * Commits to PostgreSQL what changed locally for `clusterKeys` (call under
   * {@linkcode exclusive}, in a local transaction `tx`; when the one that
   * changed them committed first, inside {@linkcode sending}): their rows of
   * every cluster table, and their events either appended (the rows
   * `insertEvents` and `addEvents` kept in `events_added`) or replaced.
   * `ledger` runs in the same PostgreSQL transaction. Records the change in
   * the log and, inside `tx`, as caught up and sent.
   */
  async commit(
    tx: Tx,
    change: {
      clusterKeys: string[];
      events: "append" | "replace";
      ledger?: (sql: postgres.TransactionSql) => Promise<unknown>;
      /** The events' segment, staged already (see stageSegment). */
      staged?: StagedSegment;
    },
  ): Promise<void> {
    const keys = [...new Set(change.clusterKeys)];
    await tx.run(
      `CREATE OR REPLACE TEMP TABLE sync_keys AS SELECT unnest(from_json($1, '["VARCHAR"]')) AS k`,
      [JSON.stringify(keys)],
    );
    const mine = "cluster_key IN (SELECT k FROM sync_keys)";
    const batches: Batch[] = [];
    for (const table of REPLICATED_TABLES) {
      batches.push(await this.#batch(tx, { table, from: table, where: mine }));
    }
    // Appended: the rows the archive added, kept in events_added (none when it added no events).
    const [{ added }] = await tx.query<{ added: number }>(
      "SELECT count(*)::INTEGER AS added FROM duckdb_tables() WHERE table_name = 'events_added'",
    );
    // The events this change leaves: those the archive added, or all of these clusters'.
    // DuckDB writes them while PostgreSQL takes the other tables' rows, and PostgreSQL then
    // takes the segment as it is written (nothing else uses `tx` until it is written).
    // A staged segment serves when it holds exactly these clusters' events; one that does not
    // is left unused (and removed when the lock is next taken).
    const staged = change.staged && change.events === "replace" &&
        sameKeys(change.staged.clusterKeys, keys)
      ? change.staged
      : undefined;
    const segment = staged
      ? undefined
      : change.events === "replace" || added > 0
      ? await this.#startSegment(tx, change.events === "append" ? "events_added" : "events", mine)
      : undefined;
    segment?.written.catch(() => {}); // awaited below; until then its failure is not unhandled
    let seq: number;
    try {
      seq = await this.#sql.begin(async (sql) => {
        const seq = await nextChange(sql);
        for (const table of REPLICATED_TABLES) {
          await sql`DELETE FROM ${sql(table)} WHERE cluster_key = ANY(${keys})`;
        }
        for (const batch of batches) await this.#send(sql, batch);
        if (change.events === "replace") {
          await this.#removeFromSegments(sql, tx, { keys, duckdbFree: segment?.written });
        }
        if (segment) await writeSegment(sql, { seq, clusterKeys: keys, ...segment });
        if (staged) await adoptStaged(sql, staged, seq);
        await sql`INSERT INTO changes (seq, kind, cluster_keys)
                  VALUES (${seq}, ${change.events}, ${keys})`;
        await change.ledger?.(sql);
        await bumpLedger(sql);
        return seq;
      });
    } finally {
      // Whatever failed, DuckDB is done with the segment before `tx` is used or rolled back.
      if (segment) {
        await segment.written.catch(() => {});
        await Deno.remove(segment.path).catch(() => {});
      }
    }
    await tx.run("DROP TABLE IF EXISTS events_added");
    await tx.run("INSERT OR REPLACE INTO replica_state VALUES ('change_seq', $1)", [String(seq)]);
    await tx.run("DELETE FROM replica_state WHERE k = 'unsent'");
  }

  /**
   * Starts writing every committed event of `clusterKeys` as a segment, on
   * the local store's second connection, and storing it in PostgreSQL as it
   * grows, in a transaction of its own under a placeholder number (negative:
   * no catch-up reads it) that {@linkcode commit} replaces with its change's.
   * So the segment is written and sent while the local transaction goes on
   * (`tx`, which committed the events with `commitSoFar`), not after it.
   * Call under {@linkcode exclusive}; one never committed is removed when the
   * lock is next taken. Undefined when the clusters have no events.
   */
  async stageSegment(tx: Tx, clusterKeys: string[]): Promise<StagedSegment | undefined> {
    const keys = JSON.stringify(clusterKeys);
    const mine = `cluster_key IN (SELECT unnest(from_json($1, '["VARCHAR"]')))`;
    const segment = await this.#segmentCopy(tx, { from: "events", where: mine, params: [keys] });
    if (!segment) return undefined;
    const { path } = segment;
    const written = this.#local.beside(segment.copy, {
      params: [keys],
      settings: { preserve_insertion_order: "false" },
    });
    written.catch(() => {}); // the send awaits it
    const id = -1 - Math.floor(Math.random() * Number.MAX_SAFE_INTEGER);
    const stored = this.#sql.begin((sql) =>
      writeSegment(sql, { seq: id, clusterKeys, path, written })
    );
    const done = Promise.allSettled([written, stored]).then(async (results) => {
      await Deno.remove(path).catch(() => {});
      for (const r of results) if (r.status === "rejected") throw r.reason;
    });
    done.catch(() => {}); // commit awaits it
    return { id, clusterKeys, done };
  }

  /**
   * Removes a staged segment that no change took (best effort: one left is
   * removed when the lock is next taken).
   */
  async dropStaged(staged: StagedSegment): Promise<void> {
    await staged.done.catch(() => {});
    await this.#sql`DELETE FROM event_segments WHERE seq = ${staged.id}`.catch(() => {});
  }

  /**
   * Makes the next catch-up reload the local copy whole (after a change
   * that reached the local copy but not PostgreSQL).
   */
  async forgetLocalCopy(): Promise<void> {
    await this.#local.exec("UPDATE replica_state SET v = 'forgotten' WHERE k = 'store_id'");
  }

  /** Empties every normalised table and queues every archive again (reprocess). */
  async reset(): Promise<void> {
    await this.#sql.begin(resetTables);
  }

  /** Deletes archives (and their requests and raw bytes) from the ledger. */
  async deleteArchives(shas: string[]): Promise<void> {
    if (!shas.length) return;
    await this.#sql.begin(async (sql) => {
      await sql`DELETE FROM requests WHERE sha256 = ANY(${shas})`;
      await sql`DELETE FROM archives WHERE sha256 = ANY(${shas})`;
      await sql`DELETE FROM raw_archives WHERE sha256 = ANY(${shas})`;
      await bumpLedger(sql);
    });
  }

  /** Deletes the requests of an organisation (a deletion on request). */
  async deleteRequestsOf(orgKey: string): Promise<void> {
    await this.#sql.begin(async (sql) => {
      await sql`DELETE FROM requests WHERE org_key = ${orgKey}`;
      await bumpLedger(sql);
    });
  }

  // --- Keeping the local copy in step ------------------------------------------------------

  /** Brings the local copy up to date with PostgreSQL: the change log, then the ledger. */
  catchUp(): Promise<void> {
    const run = this.#catching.then(() => this.#catchUp(), () => this.#catchUp());
    this.#catching = run.catch(() => {});
    return run;
  }

  async #catchUp(): Promise<void> {
    const state = Object.fromEntries(
      (await this.#local.query<{ k: string; v: string }>("SELECT k, v FROM replica_state"))
        .map((r) => [r.k, r.v]),
    );
    const [meta] = await this.#sql<{ store_id: string; ledger: string; seq: string }[]>`
      SELECT (SELECT v FROM analysis_meta WHERE k = 'store_id') AS store_id,
             (SELECT v FROM analysis_meta WHERE k = 'ledger_version') AS ledger,
             (SELECT coalesce(max(seq), 0)::text FROM changes) AS seq`;
    // Marked unsent and not on its way: rows PostgreSQL may lack, so the copy is reloaded.
    const fresh = state.store_id !== meta.store_id ||
      (state.unsent !== undefined && !this.#sending);
    let seq = fresh ? 0 : Number(state.change_seq ?? 0);
    if (fresh || Number(meta.seq) > seq) {
      const changes: Change[] = fresh ? [] : (await this.#sql<Change[]>`
        SELECT seq::integer AS seq, kind, cluster_keys FROM changes WHERE seq > ${seq} ORDER BY seq`);
      await this.#local.transaction(async (tx) => {
        if (fresh) {
          await this.#pullAll(tx, Number(meta.seq));
          seq = Number(meta.seq);
        }
        const touched = new Set<string>();
        for (const change of changes) {
          await this.#apply(tx, change);
          for (const key of change.cluster_keys) touched.add(key);
          seq = change.seq;
        }
        // Once for all the changes: their clusters' events as they now stand.
        await deriveStageDurations(tx, touched);
        await tx.run("INSERT OR REPLACE INTO replica_state VALUES ('change_seq', $1)", [
          String(seq),
        ]);
        await tx.run("INSERT OR REPLACE INTO replica_state VALUES ('store_id', $1)", [
          meta.store_id,
        ]);
        if (fresh) await tx.run("DELETE FROM replica_state WHERE k = 'unsent'");
        await resetClusterNumbers(tx);
      });
    }
    if (fresh || state.ledger_version !== meta.ledger) await this.#pullLedger();
  }

  /**
   * Replaces the local copy with everything PostgreSQL holds up to change
   * `upTo`, and what each replica derives from it.
   */
  async #pullAll(tx: Tx, upTo: number): Promise<void> {
    for (const table of [...CLUSTER_TABLES, "events"]) await tx.run(`DELETE FROM ${table}`);
    // Rows reach PostgreSQL only with a change: a store without one has none to pull (a new
    // store's first import is spared a round of empty copies, ~0.07 s).
    if (upTo === 0) return;
    for (const table of REPLICATED_TABLES) await this.#pull(tx, table, "true");
    await this.#loadSegments(tx, { from: 0, to: upTo });
    await deriveStageDurations(tx);
  }

  async #apply(tx: Tx, change: Change): Promise<void> {
    if (change.kind === "reset") {
      for (const table of [...CLUSTER_TABLES, "events"]) await tx.run(`DELETE FROM ${table}`);
      return;
    }
    const keys = JSON.stringify(change.cluster_keys);
    const mine = "cluster_key IN (SELECT unnest(from_json($1, '[\"VARCHAR\"]')))";
    const tables = change.kind === "replace" ? [...CLUSTER_TABLES, "events"] : CLUSTER_TABLES;
    for (const table of tables) await tx.run(`DELETE FROM ${table} WHERE ${mine}`, [keys]);
    const inKeys = `cluster_key IN (SELECT unnest(${pgTextArray(change.cluster_keys)}))`;
    for (const table of REPLICATED_TABLES) await this.#pull(tx, table, inKeys);
    // A replace's segment holds all of its clusters' events; an append's, those it added.
    // A later replace may have taken rows out of this segment since: applied in order,
    // the copy ends as PostgreSQL stands.
    await this.#loadSegments(tx, { from: change.seq, to: change.seq });
  }

  /** Reloads the ledger (archives, requests) as one consistent read. */
  async #pullLedger(): Promise<void> {
    await this.#sql.begin("ISOLATION LEVEL REPEATABLE READ", async (sql) => {
      const [{ v }] = await sql<{ v: string }[]>`
        SELECT v FROM analysis_meta WHERE k = 'ledger_version'`;
      await this.#local.transaction(async (tx) => {
        for (const table of LEDGER_TABLES) {
          await tx.run(`DELETE FROM ${table}`);
          await this.#pull(tx, table, "true", sql);
        }
        await tx.run("INSERT OR REPLACE INTO replica_state VALUES ('ledger_version', $1)", [v]);
      });
    });
  }

  /** The columns of a replicated table, as the local store types them. */
  async #columnsOf(tx: Tx, table: string): Promise<Column[]> {
    let columns = this.#columns.get(table);
    if (!columns) {
      columns = await tx.query<Column>(
        `SELECT column_name AS name, data_type AS type FROM information_schema.columns
         WHERE table_name = $1 AND table_schema = 'main' ORDER BY ordinal_position`,
        [table],
      );
      this.#columns.set(table, columns);
    }
    return columns;
  }

  /**
   * Rows of a local table (or a table shaped like it) to send: a few as one
   * JSON parameter (one round trip), many as a CSV file streamed with COPY.
   */
  async #batch(
    tx: Tx,
    what: { table: string; from: string; where: string },
  ): Promise<Batch> {
    const { table, from, where } = what;
    const columns = await this.#columnsOf(tx, table);
    const [{ n }] = await tx.query<{ n: number }>(
      `SELECT count(*)::INTEGER AS n FROM ${from} WHERE ${where}`,
    );
    if (n === 0) return { table, columns, rows: [] };
    if (n <= JSON_ROWS) {
      return {
        table,
        columns,
        rows: await tx.query(`SELECT * FROM ${from} WHERE ${where}`),
      };
    }
    const select = columns.map((c) =>
      c.type.endsWith("[]")
        ? `CASE WHEN ${c.name} IS NULL THEN NULL ELSE to_json(${c.name})::VARCHAR END`
        : c.type.startsWith("TIMESTAMP")
        ? `${c.name}::VARCHAR`
        : c.name
    );
    const path = this.#scratch(`push_${table}.csv`);
    await tx.run(
      `COPY (SELECT ${select.join(", ")} FROM ${from} WHERE ${where})
       TO '${path}' (FORMAT csv, HEADER false)`,
    );
    return { table, columns, path };
  }

  /** Inserts a batch into its PostgreSQL table. */
  async #send(sql: postgres.TransactionSql, batch: Batch): Promise<void> {
    const { table, columns } = batch;
    const names = columns.map((c) => c.name).join(", ");
    if (batch.rows) {
      if (!batch.rows.length) return;
      await sql.unsafe(
        `INSERT INTO ${table} SELECT ${names}
         FROM json_populate_recordset(NULL::${table}, $1::text::json)`,
        [JSON.stringify(batch.rows)],
      );
      return;
    }
    // Without arrays, straight into the table: each CSV field is what PostgreSQL reads for its
    // type (a million events: 7.8 s, instead of 9.8 s through a text staging table, measured).
    const direct = !columns.some((c) => c.type.endsWith("[]"));
    const staging = `staging_${table}`;
    if (!direct) {
      await sql.unsafe(
        `CREATE TEMP TABLE IF NOT EXISTS ${staging} (${
          columns.map((c) => `${c.name} text`).join(", ")
        }) ON COMMIT DROP`,
      );
    }
    const into = direct ? `${table} (${names})` : staging;
    const writable = await sql.unsafe(`COPY ${into} FROM STDIN (FORMAT csv)`).writable();
    await pipeline(createReadStream(batch.path!), writable);
    await Deno.remove(batch.path!).catch(() => {});
    if (direct) return;
    const cast = columns.map((c) =>
      c.type.endsWith("[]")
        ? `CASE WHEN ${c.name} IS NULL THEN NULL ELSE ARRAY(SELECT json_array_elements_text(${c.name}::json)) END`
        : `${c.name}::${PG_TYPES[c.type] ?? "text"}`
    );
    await sql.unsafe(`INSERT INTO ${table} SELECT ${cast.join(", ")} FROM ${staging}`);
    await sql.unsafe(`TRUNCATE ${staging}`);
  }

  /**
   * A new path in this replica's scratch directory, never reused. With DuckDB's file cache
   * on, a file written again at the same path, within a second and at the same size, was
   * read as its earlier content (CI saw a segment fail zstd's check); the cache is off
   * (`Store.open`), and no path is reused either.
   */
  #scratch(name: string): string {
    return `${this.#tmp}/${crypto.randomUUID()}-${name}`;
  }

  // --- Events as Parquet segments ---------------------------------------------------------

  /**
   * Starts writing the events of `from` matching `where` as a Parquet file:
   * its path, and when it is `written` (until then `tx` is DuckDB's); undefined
   * when there are none.
   */
  async #startSegment(
    tx: Tx,
    from: string,
    where: string,
  ): Promise<{ path: string; written: Promise<void> } | undefined> {
    const segment = await this.#segmentCopy(tx, { from, where });
    if (!segment) return undefined;
    await tx.set("preserve_insertion_order", "false");
    const written = tx.run(segment.copy).finally(() => tx.set("preserve_insertion_order", null));
    return { path: segment.path, written };
  }

  /**
   * The `COPY` that writes the events of `from` matching `where` as a
   * segment, and the file it writes; undefined when there are none. Run it
   * with `preserve_insertion_order` off: nothing reads a segment's order, and
   * each thread then writes its row groups as it fills them, where keeping
   * the order held most of the file back to the end (a million events:
   * 1.4-1.5 s instead of 2.1 s beside other work, measured). Written in place
   * (no temporary file to rename), so it can be read as it grows.
   */
  async #segmentCopy(
    tx: Tx,
    what: { from: string; where: string; params?: Params },
  ): Promise<{ path: string; copy: string } | undefined> {
    const { from, where, params = [] } = what;
    const [{ n }] = await tx.query<{ n: number }>(
      `SELECT count(*)::INTEGER AS n FROM ${from} WHERE ${where}`,
      params,
    );
    if (n === 0) return undefined;
    const names = (await this.#columnsOf(tx, "events")).map((c) => c.name).join(", ");
    const path = this.#scratch("segment.parquet");
    return {
      path,
      copy: `COPY (SELECT ${names} FROM ${from} WHERE ${where}) TO '${path}'
             (${PARQUET}, USE_TMP_FILE false)`,
    };
  }

  /**
   * Takes the events of `keys` out of every segment (before a replace writes
   * them anew): a segment of those clusters only goes, one shared with
   * others (a SaaS export's) is written again without them. Deletions rely
   * on it: no row of a deleted cluster stays in PostgreSQL.
   */
  async #removeFromSegments(
    sql: postgres.TransactionSql,
    tx: Tx,
    what: { keys: string[]; duckdbFree?: Promise<unknown> },
  ): Promise<void> {
    const { keys } = what;
    const segments = await sql<{ seq: string; cluster_keys: string[] }[]>`
      SELECT DISTINCT seq::text AS seq, cluster_keys FROM event_segments
      WHERE cluster_keys && ${keys}::text[] AND seq > 0 ORDER BY seq`;
    const gone = new Set(keys);
    for (const { seq, cluster_keys } of segments) {
      const rest = cluster_keys.filter((k) => !gone.has(k));
      const path = this.#scratch("rewrite.parquet");
      const kept = this.#scratch("kept.parquet");
      let left = 0;
      if (rest.length > 0 && await fetchSegment(sql, seq, path)) {
        await what.duckdbFree;
        await tx.run(
          `COPY (SELECT * FROM read_parquet('${path}')
                 WHERE cluster_key NOT IN (SELECT unnest(from_json($1, '["VARCHAR"]'))))
           TO '${kept}' (${PARQUET})`,
          [JSON.stringify(keys)],
        );
        [{ left }] = await tx.query<{ left: number }>(
          `SELECT count(*)::INTEGER AS left FROM read_parquet('${kept}')`,
        );
      }
      await sql`DELETE FROM event_segments WHERE seq = ${seq}`;
      if (left > 0) await writeSegment(sql, { seq: Number(seq), clusterKeys: rest, path: kept });
      await Deno.remove(path).catch(() => {});
      await Deno.remove(kept).catch(() => {});
    }
  }

  /** Adds the events of the segments numbered `from` to `to` to the local copy. */
  async #loadSegments(tx: Tx, range: { from: number; to: number }): Promise<void> {
    const segments = await this.#sql<{ seq: string }[]>`
      SELECT DISTINCT seq::text AS seq FROM event_segments
      WHERE seq BETWEEN ${range.from} AND ${range.to} ORDER BY seq`;
    const names = (await this.#columnsOf(tx, "events")).map((c) => c.name).join(", ");
    for (const { seq } of segments) {
      const path = this.#scratch("pull_segment.parquet");
      if (await fetchSegment(this.#sql, seq, path)) {
        await tx.run(
          `INSERT INTO events (${names}) SELECT ${names} FROM read_parquet('${path}')`,
        );
      }
      await Deno.remove(path).catch(() => {});
    }
  }

  /** Loads rows of a PostgreSQL table matching `where` into the local table. */
  async #pull(
    tx: Tx,
    table: string,
    where: string,
    sql: postgres.Sql | postgres.TransactionSql = this.#sql,
  ): Promise<void> {
    const columns = await this.#columnsOf(tx, table);
    const path = this.#scratch(`pull_${table}.csv`);
    const select = columns.map((c) =>
      c.type.endsWith("[]") ? `to_json(${c.name})::text` : `${c.name}::text`
    );
    const readable = await sql.unsafe(
      `COPY (SELECT ${select.join(", ")} FROM ${table} WHERE ${where}) TO STDOUT (FORMAT csv)`,
    ).readable();
    await pipeline(readable, createWriteStream(path));
    // postgres.js pauses its socket when the stream's buffer is full, and only reading the
    // stream resumes it; when that happens on the last chunk, the ended stream is never read
    // again and the connection hangs (porsager/postgres#499, cause in #1016; seen here once
    // after pulling a million events). Reading once more resumes it.
    (readable as unknown as { _read(size: number): void })._read(0);
    if ((await Deno.stat(path)).size === 0) return;
    const spec = columns.map((_, i) => `'c${i}': 'VARCHAR'`).join(", ");
    const cast = columns.map((c, i) =>
      c.type.endsWith("[]") ? `from_json(c${i}, '["VARCHAR"]')` : `CAST(c${i} AS ${c.type})`
    );
    await tx.run(
      `INSERT INTO ${table} SELECT ${cast.join(", ")}
       FROM read_csv('${path}', auto_detect = false, header = false, delim = ',', quote = '"',
                     escape = '"', allow_quoted_nulls = false, columns = {${spec}})`,
    );
    await Deno.remove(path).catch(() => {});
  }
}

/** Errors that mean PostgreSQL cannot be reached now (worth retrying later). */
const UNAVAILABLE = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTFOUND",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "57P01", // admin_shutdown
  "57P03", // cannot_connect_now
]);

/** Whether `err` says the shared store is unreachable for now (an answer of 503, not 500). */
export function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" && UNAVAILABLE.has(code);
}

/** A segment stored ahead of its change (see {@linkcode SharedStore.stageSegment}). */
export interface StagedSegment {
  /** Its placeholder number. */
  id: number;
  /** The clusters whose every event it holds. */
  clusterKeys: string[];
  /** Settles once it is written and stored (its file removed), or failed to be. */
  done: Promise<void>;
}

/** Gives a staged segment its change's number, in the change's transaction. */
async function adoptStaged(
  sql: postgres.TransactionSql,
  staged: StagedSegment,
  seq: number,
): Promise<void> {
  await staged.done;
  const moved = await sql`UPDATE event_segments SET seq = ${seq} WHERE seq = ${staged.id}`;
  if (moved.count === 0) throw new Error("the staged segment is gone from PostgreSQL");
}

function sameKeys(a: string[], b: string[]): boolean {
  const set = new Set(a);
  return set.size === new Set(b).size && b.every((k) => set.has(k));
}

/** A problem with the shared store the operator must fix (exit 2). */
export class SharedStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SharedStoreError";
  }
}

const PG_TYPES: Record<string, string> = {
  "VARCHAR": "text",
  "BIGINT": "bigint",
  "INTEGER": "integer",
  "DOUBLE": "double precision",
  "BOOLEAN": "boolean",
  "TIMESTAMP WITH TIME ZONE": "timestamptz",
};

/** Raw bytes per row of `raw_archives`. */
const RAW_PART = 1 << 20;

/** A field of a row for {@linkcode copyIn}: its PostgreSQL binary type and value. */
type Field =
  | { type: "text"; value: string }
  | { type: "int4"; value: number }
  | { type: "int8"; value: bigint }
  | { type: "bytea"; value: Buffer }
  | { type: "_text"; value: string[] };

/**
 * Streams rows into `into` (a table and its columns) with COPY's binary
 * format: bytes go as they are. As a parameter, postgres.js sends a bytea as
 * hex text, twice the bytes: a 32 MB archive took 0.49-0.79 s that way and
 * 0.23-0.31 s this way (measured).
 */
async function copyIn(
  sql: postgres.TransactionSql,
  into: string,
  rows: AsyncIterable<Field[]> | Iterable<Field[]>,
): Promise<void> {
  const writable = await sql.unsafe(`COPY ${into} FROM STDIN (FORMAT binary)`).writable();
  await pipeline(Readable.from(rows), rowWriter(), writable);
}

/** `bytes` as a Buffer over the same memory (what the binary writer takes). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Stores an archive's raw bytes, in parts, unless they are stored already. */
async function writeRaw(
  sql: postgres.TransactionSql,
  sha256: string,
  bytes: Uint8Array,
): Promise<void> {
  // Two replicas taking the same bytes at once: the second waits here, then finds them.
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${sha256}, 0))`;
  const [stored] = await sql`SELECT 1 FROM raw_archives WHERE sha256 = ${sha256} LIMIT 1`;
  if (stored) return;
  await copyIn(
    sql,
    "raw_archives (sha256, part, bytes)",
    function* () {
      for (let part = 0; part * RAW_PART < bytes.byteLength || part === 0; part++) {
        yield [
          { type: "text", value: sha256 },
          { type: "int4", value: part },
          {
            type: "bytea",
            value: asBuffer(bytes.subarray(part * RAW_PART, (part + 1) * RAW_PART)),
          },
        ] satisfies Field[];
      }
    }(),
  );
}

/**
 * How segments are written: zstd at level 1. A million events: 0.67-0.69 s and 25.9 MB,
 * against 0.92-0.98 s and 25.5 MB at zstd's default level, and 0.65-0.73 s but 48-49 MB with
 * lz4 or snappy, twice the bytes to send and store (measured, DuckDB's COPY … TO).
 */
const PARQUET = "FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1";

/** Segment bytes per row of `event_segments`. */
const SEGMENT_PART = 8 << 20;

/** How often a segment still being written is looked at again for more bytes. */
const GROWING_POLL_MS = 10;

/**
 * Stores the Parquet file at `path` as segment `seq`, in parts. With
 * `written` (pending while DuckDB still writes the file), parts are sent as
 * the file grows: DuckDB appends and does not go back, and what was sent is
 * checked against the finished file (and sent again from it, were it not so).
 * Returns whether it was sent again.
 */
export async function writeSegment(
  sql: postgres.TransactionSql,
  segment: { seq: number; clusterKeys: string[]; path: string; written?: Promise<unknown> },
): Promise<{ resent: boolean }> {
  const sent = createHash("sha256");
  await copyIn(
    sql,
    "event_segments (seq, part, cluster_keys, bytes)",
    async function* () {
      let part = 0;
      for await (const bytes of readGrowing(segment.path, segment.written, SEGMENT_PART)) {
        sent.update(bytes);
        yield [
          { type: "int8", value: BigInt(segment.seq) },
          { type: "int4", value: part++ },
          { type: "_text", value: segment.clusterKeys },
          { type: "bytea", value: asBuffer(bytes) },
        ] satisfies Field[];
      }
    }(),
  );
  if (!segment.written) return { resent: false };
  await segment.written;
  const whole = createHash("sha256");
  for await (const bytes of readGrowing(segment.path, undefined, 1 << 20)) whole.update(bytes);
  if (sent.digest("hex") === whole.digest("hex")) return { resent: false };
  await sql`DELETE FROM event_segments WHERE seq = ${segment.seq}`;
  await writeSegment(sql, { ...segment, written: undefined });
  return { resent: true };
}

/**
 * The file at `path` in parts of `size` bytes (the last one shorter, and at
 * least one part), read as it grows until `written` settles (none: already
 * written). A new buffer per part: the consumer may still hold the last one.
 * The file may not exist yet when reading starts: DuckDB makes it once its
 * `COPY` begins (a test caught the send opening it first).
 */
export async function* readGrowing(
  path: string,
  written: Promise<unknown> | undefined,
  size: number,
): AsyncGenerator<Uint8Array<ArrayBuffer>> {
  let done = written === undefined;
  written?.then(() => done = true, () => done = true);
  using file = await openWhenMade(path, written, () => done);
  for (let part = 0;; part++) {
    const buffer = new Uint8Array(size);
    let filled = 0;
    while (filled < size) {
      // Done before this read came up empty: the end of the finished file.
      const finished = done;
      const n = await file.read(buffer.subarray(filled));
      if (n !== null) {
        filled += n;
      } else if (finished) {
        break;
      } else {
        await Promise.race([written, delay(GROWING_POLL_MS)]).catch(() => {});
      }
    }
    if (filled === 0 && part > 0) return;
    yield buffer.subarray(0, filled);
    if (filled < size) return;
  }
}

/**
 * Opens `path`, waiting while `written` is pending and the file is not there
 * yet. A write that ended without making it rejects with its own error.
 */
async function openWhenMade(
  path: string,
  written: Promise<unknown> | undefined,
  isDone: () => boolean,
): Promise<Deno.FsFile> {
  for (;;) {
    const finished = isDone();
    try {
      return await Deno.open(path, { read: true });
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
      if (finished) {
        await written;
        throw err;
      }
      await Promise.race([written, delay(GROWING_POLL_MS)]).catch(() => {});
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Writes segment `seq` to `path`; false when it is gone (a writer took it out
 * since it was listed: the change that did so comes next in the log).
 */
async function fetchSegment(
  sql: postgres.Sql | postgres.TransactionSql,
  seq: string,
  path: string,
): Promise<boolean> {
  return await partsToFile(
    sql`SELECT bytes FROM event_segments WHERE seq = ${seq} ORDER BY part`,
    path,
  ) > 0;
}

/**
 * Writes the `bytes` of `query`'s rows, in order, to a new file at `path`,
 * one row at a time (memory holds a part, not the whole); returns how many.
 */
async function partsToFile(
  query: postgres.PendingQuery<postgres.Row[]>,
  path: string,
): Promise<number> {
  const file = await Deno.open(path, { write: true, createNew: true });
  let parts = 0;
  try {
    for await (const [row] of query.cursor(1)) {
      const bytes = row.bytes as Uint8Array;
      for (let written = 0; written < bytes.byteLength;) {
        written += await file.write(bytes.subarray(written));
      }
      parts++;
    }
  } finally {
    file.close();
  }
  return parts;
}

/**
 * A store made before events became segments holds them as rows of an
 * `events` table. They are dropped and every archive is read again from its
 * raw bytes (kept in PostgreSQL), as `reprocess` does: nothing is lost, and
 * the segments are written by the same code as any other.
 */
async function dropEventRows(sql: postgres.TransactionSql): Promise<void> {
  const [{ legacy }] = await sql<{ legacy: boolean }[]>`
    SELECT to_regclass('assisted_analysis.events') IS NOT NULL AS legacy`;
  if (!legacy) return;
  await sql`SELECT pg_advisory_xact_lock(${WRITE_LOCK})`;
  await sql`DROP TABLE assisted_analysis.events`;
  await resetTables(sql);
}

/** Empties the normalised tables and queues every archive again, as one change. */
async function resetTables(sql: postgres.TransactionSql): Promise<void> {
  const seq = await nextChange(sql);
  for (const table of REPLICATED_TABLES) await sql`DELETE FROM ${sql(table)}`;
  await sql`DELETE FROM event_segments`;
  await sql`UPDATE archives SET status = 'received', reason = NULL`;
  await sql`INSERT INTO changes (seq, kind, cluster_keys) VALUES (${seq}, 'reset', '{}')`;
  await bumpLedger(sql);
}

/** The number of the next change (writers of changes hold the write lock, so none races it). */
async function nextChange(sql: postgres.TransactionSql): Promise<number> {
  const [{ next }] = await sql<{ next: string }[]>`
    SELECT (coalesce(max(seq), 0) + 1)::text AS next FROM changes`;
  return Number(next);
}

async function bumpLedger(sql: postgres.TransactionSql): Promise<void> {
  await sql`UPDATE analysis_meta SET v = (v::bigint + 1)::text WHERE k = 'ledger_version'`;
}

/** A PostgreSQL text[] literal of 32-hex keys (checked, so it is safe inline in COPY). */
function pgTextArray(keys: string[]): string {
  for (const k of keys) if (!/^[0-9a-f]{32}$/.test(k)) throw new Error("not a cluster key");
  return `ARRAY[${keys.map((k) => `'${k}'`).join(",")}]::text[]`;
}

/** Local cluster numbers continue after the largest any replica gave. */
async function resetClusterNumbers(tx: Tx): Promise<void> {
  const [{ next }] = await tx.query<{ next: number }>(
    "SELECT (coalesce(max(cluster_no), 0) + 1)::BIGINT AS next FROM cluster_numbers",
  );
  await tx.run(`CREATE OR REPLACE SEQUENCE cluster_no_seq START WITH ${Number(next)}`);
}

/** A connection error without the URL (and so without its password). */
function describe(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const message = String(e?.message ?? err).split("\n")[0];
  return e?.code ? `${e.code}: ${message}` : message;
}
