/**
 * Ingest: every archive is stored raw, content-addressed, before it is
 * parsed; parsing happens after the answer, one archive at a time, and an
 * archive that cannot be parsed is quarantined with its reason. Nothing
 * received is lost: `reprocess` re-reads every raw archive.
 */
import { createHash } from "node:crypto";
import { ArchiveError } from "../../../contract/mod.ts";
import {
  discardUnpacked,
  HalvesUnreadable,
  normaliseArchive,
  unpackArchive,
  type Unpacked,
} from "../normalise/archive.ts";
import { deriveSaasAttempts, normaliseSaasFile, type SaasStream } from "../normalise/saas.ts";
import { keyOf } from "../normalise/keys.ts";
import { isResourceError, type Store, type Tx } from "../store/duckdb.ts";
import {
  CLUSTER_TABLES,
  type Pending,
  type SharedStore,
  type StagedSegment,
} from "../store/shared.ts";
import { deriveSignals } from "../store/signals.ts";

/** Where an archive or export file came from. */
export interface Arrival {
  /** `archive` (an on-prem tar.gz) or the SaaS export stream of an NDJSON file. */
  kind: "archive" | SaasStream;
  /** `upload` (HTTP), `import` (a file), `manual_export` (a disconnected install's export), `saas_export`. */
  channel: string;
  orgLabel: string | null;
  requestId?: string;
}

/** What became of an archive. */
export interface IngestResult {
  sha256: string;
  status: "received" | "processing" | "success" | "error";
  reason?: string;
  /** The same bytes had arrived before. */
  duplicate: boolean;
}

/** An archive that cannot be read: quarantined with this reason. */
class Quarantine extends Error {}

/** What normalising one archive or export file gave. */
interface Normalised {
  clusterKeys: string[];
  clusterKey: string | null;
  collector: string;
  eventsInArchive: number | null;
  eventsNew: number | null;
}

/** An archive unpacked ahead of its processing; `recorded` once its arrival is in PostgreSQL. */
interface Ahead {
  sha256: string;
  unpacking: Promise<Unpacked>;
  recorded: boolean;
}

/**
 * The ingest pipeline over one store: the embedded DuckDB file, or a
 * replica's local copy of the shared PostgreSQL store (`shared`).
 */
export class Ingest {
  /** Where questions are answered (in shared mode, this replica's local copy). */
  readonly store: Store;
  readonly secret: string;
  /** Raw archives by sha256 (in shared mode, a cache of what PostgreSQL holds). */
  readonly rawDir: string;
  readonly shared?: SharedStore;
  #queue: Promise<void> = Promise.resolve();
  /** Archives queued for processing here (embedded store), so none is queued twice. */
  readonly #queued = new Set<string>();
  /** Shared store: archives this replica could not read for want of memory or disk, and when to try again. */
  readonly #deferred = new Map<string, number>();
  /** Why the last pass over waiting archives stopped (shared store), for `settled`. */
  #drainError: unknown;
  #kicked = false;
  /**
   * An archive unpacked while its raw bytes were stored, for its processing
   * to take. At most one.
   */
  #ahead?: Ahead;
  /** Shared store: the local copy holds rows PostgreSQL lacks (see #processShared). */
  #reloadCopy = false;
  /** Told to stop: what is being read finishes, the rest waits for the next start. */
  #stopping = false;

  constructor(store: Store, options: { secret: string; rawDir: string; shared?: SharedStore }) {
    this.store = store;
    this.secret = options.secret;
    this.rawDir = options.rawDir;
    this.shared = options.shared;
  }

  /** Lets processing finish and closes the store (and the shared store's connections). */
  async close(): Promise<void> {
    await this.settled().catch(() => {});
    await this.stop();
  }

  /**
   * For a service told to stop: lets the archive being read finish, leaves
   * the others waiting (read again at the next start, here or by another
   * replica), and closes the store.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#queue;
    await this.#discardAhead();
    await this.shared?.close();
    await this.store.close();
  }

  /** The raw file's path. */
  rawPath(sha256: string, kind: string): string {
    return `${this.rawDir}/${sha256.slice(0, 2)}/${sha256}${
      kind === "archive" ? ".tgz" : ".ndjson"
    }`;
  }

  /**
   * Stores the bytes (once per content) and records the arrival; parsing is
   * queued. Returns when the archive is safely on disk. `unpacking`, when
   * given, is the caller's unpacking of these bytes (begun while the store
   * opened); accept takes it over.
   */
  async accept(
    bytes: Uint8Array,
    arrival: Arrival,
    options: { unpacking?: Promise<Unpacked> } = {},
  ): Promise<IngestResult> {
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const path = this.rawPath(sha256, arrival.kind);
    const source = arrival.kind === "archive" ? "onprem" : "saas";
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    let seenHere = true;
    await Deno.stat(path).catch(() => seenHere = false);
    // Bytes not stored here are most likely new: they are unpacked while they are stored
    // (in PostgreSQL, which takes about as long, or in a file), not after.
    let ahead: Ahead | undefined;
    if (!seenHere && arrival.kind === "archive" && !this.#ahead) {
      const unpacking = options.unpacking ?? unpackArchive(bytes);
      ahead = this.#ahead = { sha256, unpacking, recorded: false };
      ahead.unpacking.catch(() => {}); // its processing awaits it and learns why
    } else if (options.unpacking) await discardUnpacked(options.unpacking);
    const now = new Date().toISOString();
    const orgKey = keyOf(this.secret, arrival.orgLabel);
    let before;
    // With the shared store, this file is a cache of PostgreSQL's copy: written meanwhile.
    const storing = seenHere ? undefined : storeRaw(path, bytes);
    storing?.catch(() => {}); // awaited below
    try {
      if (!this.shared) {
        await storing;
        const result = await this.#record(sha256, {
          arrival,
          source,
          orgKey,
          now,
          bytes: bytes.byteLength,
        });
        // Read already (not queued again): what was unpacked is not needed.
        const queued = !result.duplicate || WAITING.includes(result.status);
        if (ahead && !queued) await this.#discardAhead(sha256);
        return result;
      }
      before = await this.shared.accept(bytes, {
        sha256,
        kind: arrival.kind,
        source,
        channel: arrival.channel,
        orgKey,
        requestId: arrival.requestId,
      });
      if (ahead) ahead.recorded = true;
      // PostgreSQL holds the bytes: without the cache, processing fetches them from there.
      await storing?.catch(() => {});
    } catch (err) {
      if (ahead) await this.#discardAhead(sha256);
      throw err;
    }
    if (before && ahead) await this.#discardAhead(sha256);
    if (!before) this.kick();
    return {
      sha256,
      status: (before?.status ?? "received") as IngestResult["status"],
      reason: before?.reason ?? undefined,
      duplicate: before !== undefined,
    };
  }

  /** Embedded store: records the arrival of stored bytes and queues them unless read already. */
  async #record(
    sha256: string,
    what: { arrival: Arrival; source: string; orgKey: string | null; now: string; bytes: number },
  ): Promise<IngestResult> {
    const { arrival, source, orgKey, now } = what;
    const [existing] = await this.store.query<{ status: string; reason: string | null }>(
      "SELECT status, reason FROM archives WHERE sha256 = $1",
      [sha256],
    );
    if (existing) {
      await this.store.query(
        "UPDATE archives SET times_received = times_received + 1 WHERE sha256 = $1",
        [sha256],
      );
    } else {
      await this.store.query(
        `INSERT INTO archives (sha256, bytes, kind, source, channel, org_key, first_received_at, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'received')`,
        [sha256, what.bytes, arrival.kind, source, arrival.channel, orgKey, now],
      );
    }
    if (arrival.requestId) {
      await this.store.query(
        "INSERT OR IGNORE INTO requests VALUES ($1, $2, $3, $4)",
        [arrival.requestId, sha256, orgKey, now],
      );
    }
    // An archive left waiting (by a crash, or out of memory) is read again when it comes again.
    if (!existing || WAITING.includes(existing.status)) this.#enqueue(sha256);
    return {
      sha256,
      status: (existing?.status ?? "received") as IngestResult["status"],
      reason: existing?.reason ?? undefined,
      duplicate: existing !== undefined,
    };
  }

  #enqueue(sha256: string): void {
    if (this.#queued.has(sha256)) return;
    this.#queued.add(sha256);
    this.#queue = this.#queue.then(() => this.#stopping ? undefined : this.process(sha256)).then(
      () => {},
      (err) => console.error(`analysis: processing ${sha256} failed: ${err?.message ?? err}`),
    ).finally(() => this.#queued.delete(sha256));
  }

  /**
   * Embedded store: queues every archive still waiting (received but not
   * read, because the process stopped before it was, or because reading it
   * ran out of memory or disk). Returns how many were queued. The shared
   * store's replicas take over what waits there themselves (see `kick`).
   */
  async resume(): Promise<number> {
    if (this.shared) return 0;
    const rows = await this.store.query<{ sha256: string }>(
      `SELECT sha256 FROM archives WHERE status IN ('received', 'processing')
       ORDER BY CASE kind WHEN '.clusters' THEN 0 ELSE 1 END, first_received_at, sha256`,
    );
    const fresh = rows.filter((r) => !this.#queued.has(r.sha256));
    for (const { sha256 } of fresh) this.#enqueue(sha256);
    return fresh.length;
  }

  /**
   * Shared store: processes what waits, by whichever replica accepted it,
   * unless another replica is already at it (it will see this arrival too).
   */
  kick(): void {
    if (!this.shared || this.#kicked) return;
    // One pass waiting is enough: it takes whatever waits when it starts.
    this.#kicked = true;
    this.#queue = this.#queue.then(() => {
      this.#kicked = false;
      return this.#drain();
    }).then(
      () => {
        this.#drainError = undefined;
      },
      (err) => {
        // The same failure again (PostgreSQL down, retried every second) is not logged again.
        const repeated = String(err) === String(this.#drainError);
        this.#drainError = err;
        if (!repeated) console.error(`analysis: processing failed: ${err?.message ?? err}`);
      },
    );
  }

  async #drain(): Promise<void> {
    const shared = this.shared!;
    await shared.exclusive(async () => {
      const next = () => shared.nextPending({ skip: this.#deferredNow() });
      for (let row = await next(); row && !this.#stopping; row = await next()) {
        await this.#processShared(row);
        if (this.#reloadCopy) {
          // The copy is still marked unsent, and nothing is on its way: catching up reloads it.
          this.#reloadCopy = false;
          await shared.catchUp();
        }
      }
    });
    // Unpacked ahead and not taken: another replica read it, or this one put it off.
    if (this.#ahead?.recorded) await this.#discardAhead();
  }

  /** The archive unpacked ahead (only if it is `sha256`'s, when given); the caller consumes it. */
  #takeAhead(sha256?: string): Promise<Unpacked> | undefined {
    const ahead = this.#ahead;
    if (!ahead || (sha256 && ahead.sha256 !== sha256)) return undefined;
    this.#ahead = undefined;
    return ahead.unpacking;
  }

  /** Removes what was unpacked ahead (only if it is `sha256`'s, when given). */
  async #discardAhead(sha256?: string): Promise<void> {
    const unpacking = this.#takeAhead(sha256);
    if (unpacking) await discardUnpacked(unpacking);
  }

  /** Resolves once every archive accepted so far has been processed (by any replica). */
  async settled(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.#queue;
      await seen;
    } while (seen !== this.#queue);
    if (!this.shared) return;
    const pending = () => this.shared!.pending({ skip: this.#deferredNow() });
    while (await pending()) {
      this.#drainError = undefined;
      this.kick();
      await this.#queue;
      // The archive stays waiting for a later pass; a caller waiting for it learns why now.
      if (this.#drainError) throw this.#drainError;
      if (await pending()) await new Promise((r) => setTimeout(r, 100));
    }
    await this.shared.catchUp();
  }

  /** Shared store: the local copy brought up to date (questions read it). */
  async refresh(): Promise<void> {
    await this.shared?.catchUp();
  }

  /**
   * Runs a change of the stored rows (retention, a deletion) on the local
   * copy and, in shared mode, holds the write lock meanwhile and sends what
   * changed to PostgreSQL: every cluster whose rows changed, whole.
   */
  async mutate<T>(work: () => Promise<T>): Promise<T> {
    const shared = this.shared;
    if (!shared) return await work();
    return await shared.whenExclusive(async () => {
      const before = await this.#fingerprints();
      const archivesBefore = await this.store.query<{ sha256: string }>(
        "SELECT sha256 FROM archives",
      );
      const out = await work();
      const after = await this.#fingerprints();
      const changed = [...new Set([...before.keys(), ...after.keys()])]
        .filter((k) => before.get(k) !== after.get(k));
      const kept = new Set(
        (await this.store.query<{ sha256: string }>("SELECT sha256 FROM archives"))
          .map((r) => r.sha256),
      );
      try {
        if (changed.length) {
          await this.store.transaction((tx) =>
            shared.commit(tx, { clusterKeys: changed, events: "replace" })
          );
        }
        await shared.deleteArchives(
          archivesBefore.map((r) => r.sha256).filter((sha) => !kept.has(sha)),
        );
      } catch (err) {
        await shared.forgetLocalCopy();
        throw err;
      }
      return out;
    });
  }

  /** Per cluster, its row counts in every table: what a change of rows moves. */
  async #fingerprints(): Promise<Map<string, string>> {
    const rows = await this.store.query<{ k: string; f: string }>(
      `SELECT cluster_key AS k, string_agg(t || ':' || n, ',' ORDER BY t) AS f FROM (${
        [...CLUSTER_TABLES, "events"].map((t) =>
          `SELECT '${t}' AS t, cluster_key, count(*) AS n FROM ${t} GROUP BY cluster_key`
        ).join(" UNION ALL ")
      }) GROUP BY cluster_key`,
    );
    return new Map(rows.map((r) => [r.k, r.f]));
  }

  /** The raw file of an archive, fetched from the shared store when not cached here. */
  async rawFile(sha256: string, kind: string): Promise<string> {
    const path = this.rawPath(sha256, kind);
    if (this.shared) {
      try {
        await Deno.stat(path);
      } catch {
        await this.shared.fetchRaw(sha256, path);
      }
    }
    return path;
  }

  async #processShared(row: Pending): Promise<void> {
    const shared = this.shared!;
    await shared.setStatus(row.sha256, { status: "processing" });
    const path = await this.rawFile(row.sha256, row.kind);
    let unpacking = this.#takeAhead(row.sha256);
    // An archive holds its cluster's whole history: its segment is that cluster's events,
    // which spares keeping the added rows apart (a second write of a million rows). A SaaS
    // file touches many clusters and sends only the events it added.
    const wholeHistory = row.kind === "archive";
    // Its events are committed locally (marked unsent) as soon as they are in, so that its
    // segment is written and sent beside the rest of its rows rather than after them.
    let staged: StagedSegment | undefined;
    let eventsCommitted = false;
    try {
      // Committed here first, marked unsent; then sent (see SharedStore.sending).
      await shared.sending(async () => {
        const read = await this.#transaction(async (local, whole) => {
          const tx: Tx = { ...local, keepAdded: !wholeHistory };
          // What was unpacked ahead serves the first try only (a second reads events.json whole).
          const ahead = unpacking;
          unpacking = undefined;
          const afterEvents = wholeHistory
            ? async (clusterKey: string) => {
              await shared.markUnsent(tx);
              await tx.commitSoFar();
              eventsCommitted = true;
              staged = await shared.stageSegment(tx, [clusterKey]);
            }
            : undefined;
          const read = await this.#normalise(tx, row, path, {
            whole,
            unpacking: ahead,
            afterEvents,
          }).catch(
            (err) => {
              if (err instanceof HalvesUnreadable || isResourceError(err)) throw err;
              throw new Quarantine(quarantineReason(err));
            },
          );
          await shared.markUnsent(tx);
          return read;
        });
        await this.store.transaction((tx) =>
          shared.commit(tx, {
            clusterKeys: read.clusterKeys,
            events: wholeHistory ? "replace" : "append",
            staged,
            ledger: (sql) =>
              sql`UPDATE archives SET status = 'success', reason = NULL,
                  cluster_key = ${read.clusterKey}, collector = ${read.collector},
                  processed_at = now(), events_in_archive = ${read.eventsInArchive},
                  events_new = ${read.eventsNew}
                WHERE sha256 = ${row.sha256}`,
          })
        );
      });
    } catch (err) {
      if (unpacking) await discardUnpacked(unpacking);
      if (staged) await shared.dropStaged(staged);
      // Its events are in the local copy, its other rows are not, and PostgreSQL took none of
      // it: the copy is reloaded whole before the next archive (see #drain). (Any other error
      // ends the pass, and the next one's catch-up finds the copy marked unsent.)
      if (eventsCommitted && (isResourceError(err) || err instanceof Quarantine)) {
        this.#reloadCopy = true;
      }
      if (isResourceError(err)) {
        // This replica cannot read it now; the others (or this one, later) may. The rest go on.
        this.#deferred.set(row.sha256, Date.now() + WAIT_RETRY_MS);
        await shared.setStatus(row.sha256, {
          status: "received",
          reason: waiting(row.sha256, err),
        });
        return;
      }
      // Anything else (PostgreSQL unreachable) leaves the archive waiting for the next pass.
      if (!(err instanceof Quarantine)) throw err;
      await shared.setStatus(row.sha256, { status: "error", reason: err.message });
    } finally {
      // Its file is removed once written and sent (or failed).
      await staged?.done.catch(() => {});
    }
  }

  /**
   * Runs `work` in a transaction of the local store; again, reading events
   * whole, when reading them in halves failed (see `normalise/halves.ts`).
   */
  async #transaction<T>(work: (tx: Tx, whole: boolean) => Promise<T>): Promise<T> {
    try {
      return await this.store.transaction((tx) => work(tx, false));
    } catch (err) {
      if (!(err instanceof HalvesUnreadable)) throw err;
      return await this.store.transaction((tx) => work(tx, true));
    }
  }

  /** Normalises one archive or export file into the model inside `tx`. */
  async #normalise(
    tx: Tx,
    row: Pending,
    path: string,
    options: {
      whole?: boolean;
      unpacking?: Promise<Unpacked>;
      afterEvents?: (clusterKey: string) => Promise<void>;
    } = {},
  ): Promise<Normalised> {
    if (row.kind === "archive") {
      const read = await normaliseArchive(tx, path, {
        ...options,
        secret: this.secret,
        provenance: {
          source: "onprem",
          channel: row.channel,
          sha256: row.sha256,
          orgKey: row.org_key,
        },
      });
      if (read.clusterKey) await deriveSignals(tx, [read.clusterKey]);
      return { ...read, clusterKeys: [read.clusterKey] };
    }
    const file = await normaliseSaasFile(tx, path, {
      secret: this.secret,
      stream: row.kind as SaasStream,
    });
    await deriveSaasAttempts(tx, {
      secret: this.secret,
      clusterKeys: file.clusterKeys,
      sha256: row.sha256,
    });
    await deriveSignals(tx, file.clusterKeys);
    return {
      clusterKeys: file.clusterKeys,
      clusterKey: null,
      collector: `saas ${row.kind}`,
      eventsInArchive: file.records,
      eventsNew: null,
    };
  }

  /** The archives this replica puts off until later (see #deferred). */
  #deferredNow(): string[] {
    const now = Date.now();
    for (const [sha256, until] of this.#deferred) if (until <= now) this.#deferred.delete(sha256);
    return [...this.#deferred.keys()];
  }

  /** Parses one stored archive into the model, or quarantines it with the reason. */
  async process(sha256: string): Promise<IngestResult> {
    const [row] = await this.store.query<Pending>(
      "SELECT sha256, kind, channel, org_key FROM archives WHERE sha256 = $1",
      [sha256],
    );
    if (!row) throw new Error(`no archive ${sha256}`);
    await this.store.query("UPDATE archives SET status = 'processing' WHERE sha256 = $1", [sha256]);
    // What was unpacked ahead serves the first try only (a second reads events.json whole).
    let unpacking = this.#takeAhead(sha256);
    try {
      const path = this.rawPath(sha256, row.kind);
      const rows = await this.#transaction((tx, whole) => {
        const ahead = unpacking;
        unpacking = undefined;
        return this.#normalise(tx, row, path, { whole, unpacking: ahead });
      });
      await this.store.query(
        `UPDATE archives SET status = 'success', reason = NULL, cluster_key = $2, collector = $3,
           processed_at = now(), events_in_archive = $4, events_new = $5 WHERE sha256 = $1`,
        [sha256, rows.clusterKey, rows.collector, rows.eventsInArchive, rows.eventsNew],
      );
      return { sha256, status: "success", duplicate: false };
    } catch (err) {
      if (unpacking) await discardUnpacked(unpacking);
      if (isResourceError(err)) {
        // Not the archive's fault: it waits, with the cause, and is read again later.
        const reason = waiting(sha256, err);
        await this.store.query(
          "UPDATE archives SET status = 'received', reason = $2 WHERE sha256 = $1",
          [sha256, reason],
        );
        return { sha256, status: "received", reason, duplicate: false };
      }
      const reason = quarantineReason(err);
      await this.store.query(
        "UPDATE archives SET status = 'error', reason = $2, processed_at = now() WHERE sha256 = $1",
        [sha256, reason],
      );
      return { sha256, status: "error", reason, duplicate: false };
    }
  }

  /**
   * Re-reads every raw archive into freshly emptied tables (after a parser
   * fix): how many were read, quarantined, and left waiting (see `resume`).
   */
  async reprocess(): Promise<{ success: number; error: number; waiting: number }> {
    await this.settled();
    if (this.shared) return await this.#reprocessShared(this.shared);
    await this.store.exec(
      [...CLUSTER_TABLES, "events"].map((table) => `DELETE FROM ${table};`).join(" "),
    );
    // Cluster records before events, so SaaS attempts find their snapshot.
    const archives = await this.store.query<{ sha256: string }>(
      `SELECT sha256 FROM archives
       ORDER BY CASE kind WHEN '.clusters' THEN 0 ELSE 1 END, first_received_at, sha256`,
    );
    const counts = { success: 0, error: 0, waiting: 0 };
    for (const { sha256 } of archives) {
      const { status } = await this.process(sha256);
      counts[status === "success" || status === "error" ? status : "waiting"]++;
    }
    return counts;
  }

  async #reprocessShared(
    shared: SharedStore,
  ): Promise<{ success: number; error: number; waiting: number }> {
    await shared.whenExclusive(() => shared.reset());
    await this.settled();
    const counts = await this.store.query<{ status: string; n: number }>(
      "SELECT status, count(*)::INTEGER AS n FROM archives GROUP BY status",
    );
    const n = (status: string) => counts.find((c) => c.status === status)?.n ?? 0;
    return {
      success: n("success"),
      error: n("error"),
      waiting: n("received") + n("processing"),
    };
  }

  /** The status of an upload by request id, as ingress's tracker answers it. */
  async track(requestId: string): Promise<
    { status: string; status_msg: string; date: string; org: string | null } | undefined
  > {
    const [row] = this.shared ? [await this.shared.track(requestId)] : await this.store.query<
      { status: string; reason: string | null; at: string; org_key: string | null }
    >(
      `SELECT a.status, a.reason, coalesce(a.processed_at, r.received_at)::VARCHAR AS at, r.org_key
       FROM requests r JOIN archives a USING (sha256) WHERE r.request_id = $1`,
      [requestId],
    );
    if (!row) return undefined;
    const messages: Record<string, string> = {
      received: "payload received",
      processing: "payload being processed",
      success: "payload processed",
    };
    return {
      status: row.status,
      status_msg: row.status === "error" ? row.reason ?? "error" : messages[row.status],
      date: row.at,
      org: row.org_key,
    };
  }
}

/**
 * How long an archive that could not be read for want of memory or disk
 * waits before it is tried again (unless it arrives again, or serve restarts).
 */
export const WAIT_RETRY_MS = 15 * 60_000;

/** Writes `bytes` to `path` whole or not at all (a temporary file, renamed). */
async function storeRaw(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    // In pieces: `Deno.writeFile` holds the event loop while it takes the whole buffer (32 MB:
    // 3-5 ms, and ~0.13 s the first time in a process, measured), meanwhile an upload's answer
    // and the round trips that store the same bytes in PostgreSQL wait; a 1 MiB write, <1 ms.
    {
      using file = await Deno.open(tmp, { write: true, createNew: true });
      for (let at = 0; at < bytes.byteLength;) {
        at += await file.write(bytes.subarray(at, at + RAW_PIECE));
      }
    }
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/** Bytes per write of a raw archive's file. */
const RAW_PIECE = 1 << 20;

/** Archive statuses that mean "not read yet". */
const WAITING = ["received", "processing"];

function firstLineOf(err: unknown): string {
  return String((err as Error)?.message ?? err).split("\n")[0].slice(0, 300);
}

/** Logs that an archive waits after the resource error `err`; the reason it waits with. */
function waiting(sha256: string, err: unknown): string {
  console.error(`analysis: ${sha256} waits to be read again: ${firstLineOf(err)}`);
  return `waiting: ${firstLineOf(err)}`;
}

/** The reason an archive is quarantined with. */
function quarantineReason(err: unknown): string {
  return err instanceof ArchiveError
    ? `${err.code}: ${err.message}`
    : `unreadable: ${firstLineOf(err)}`;
}
