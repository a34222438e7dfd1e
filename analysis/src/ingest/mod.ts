/**
 * Ingest: every archive is stored raw, content-addressed, before it is
 * parsed; parsing happens after the answer, one archive at a time, and an
 * archive that cannot be parsed is quarantined with its reason. Nothing
 * received is lost: `reprocess` re-reads every raw archive.
 */
import { createHash } from "node:crypto";
import { ArchiveError } from "../../../contract/mod.ts";
import { normaliseArchive } from "../normalise/archive.ts";
import { deriveSaasAttempts, normaliseSaasFile, type SaasStream } from "../normalise/saas.ts";
import { keyOf } from "../normalise/keys.ts";
import type { Store } from "../store/duckdb.ts";
import { DERIVED_TABLES, deriveSignals } from "../store/signals.ts";

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

/** The ingest pipeline over one store. */
export class Ingest {
  readonly store: Store;
  readonly secret: string;
  readonly rawDir: string;
  #queue: Promise<void> = Promise.resolve();

  constructor(store: Store, options: { secret: string; rawDir: string }) {
    this.store = store;
    this.secret = options.secret;
    this.rawDir = options.rawDir;
  }

  /** The raw file's path. */
  rawPath(sha256: string, kind: string): string {
    return `${this.rawDir}/${sha256.slice(0, 2)}/${sha256}${
      kind === "archive" ? ".tgz" : ".ndjson"
    }`;
  }

  /**
   * Stores the bytes (once per content) and records the arrival; parsing is
   * queued. Returns when the archive is safely on disk.
   */
  async accept(bytes: Uint8Array, arrival: Arrival): Promise<IngestResult> {
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const path = this.rawPath(sha256, arrival.kind);
    const source = arrival.kind === "archive" ? "onprem" : "saas";
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    try {
      await Deno.stat(path);
    } catch {
      const tmp = `${path}.${crypto.randomUUID()}.tmp`;
      await Deno.writeFile(tmp, bytes);
      await Deno.rename(tmp, path);
    }
    const now = new Date().toISOString();
    const orgKey = keyOf(this.secret, arrival.orgLabel);
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
        [sha256, bytes.byteLength, arrival.kind, source, arrival.channel, orgKey, now],
      );
    }
    if (arrival.requestId) {
      await this.store.query(
        "INSERT OR IGNORE INTO requests VALUES ($1, $2, $3, $4)",
        [arrival.requestId, sha256, orgKey, now],
      );
    }
    if (!existing) this.#enqueue(sha256);
    return {
      sha256,
      status: (existing?.status ?? "received") as IngestResult["status"],
      reason: existing?.reason ?? undefined,
      duplicate: existing !== undefined,
    };
  }

  #enqueue(sha256: string): void {
    this.#queue = this.#queue.then(() => this.process(sha256)).then(
      () => {},
      (err) => console.error(`analysis: processing ${sha256} failed: ${err?.message ?? err}`),
    );
  }

  /** Resolves once every archive accepted so far has been processed. */
  async settled(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.#queue;
      await seen;
    } while (seen !== this.#queue);
  }

  /** Parses one stored archive into the model, or quarantines it with the reason. */
  async process(sha256: string): Promise<IngestResult> {
    const [row] = await this.store.query<
      { kind: string; source: string; channel: string; org_key: string | null }
    >("SELECT kind, source, channel, org_key FROM archives WHERE sha256 = $1", [sha256]);
    if (!row) throw new Error(`no archive ${sha256}`);
    await this.store.query("UPDATE archives SET status = 'processing' WHERE sha256 = $1", [sha256]);
    try {
      const path = this.rawPath(sha256, row.kind);
      const rows = await this.store.transaction(async (tx) => {
        if (row.kind === "archive") {
          const read = await normaliseArchive(tx, path, {
            secret: this.secret,
            provenance: { source: "onprem", channel: row.channel, sha256, orgKey: row.org_key },
          });
          if (read.clusterKey) await deriveSignals(tx, [read.clusterKey]);
          return read;
        }
        const file = await normaliseSaasFile(tx, path, {
          secret: this.secret,
          stream: row.kind as SaasStream,
        });
        await deriveSaasAttempts(tx, {
          secret: this.secret,
          clusterKeys: file.clusterKeys,
          sha256,
        });
        await deriveSignals(tx, file.clusterKeys);
        return {
          clusterKey: null,
          collector: `saas ${row.kind}`,
          eventsInArchive: file.records,
          eventsNew: null,
        };
      });
      await this.store.query(
        `UPDATE archives SET status = 'success', reason = NULL, cluster_key = $2, collector = $3,
           processed_at = now(), events_in_archive = $4, events_new = $5 WHERE sha256 = $1`,
        [sha256, rows.clusterKey, rows.collector, rows.eventsInArchive, rows.eventsNew],
      );
      return { sha256, status: "success", duplicate: false };
    } catch (err) {
      const reason = err instanceof ArchiveError
        ? `${err.code}: ${err.message}`
        : `unreadable: ${String((err as Error)?.message ?? err).split("\n")[0].slice(0, 300)}`;
      await this.store.query(
        "UPDATE archives SET status = 'error', reason = $2, processed_at = now() WHERE sha256 = $1",
        [sha256, reason],
      );
      return { sha256, status: "error", reason, duplicate: false };
    }
  }

  /** Re-reads every raw archive into freshly emptied tables (after a parser fix). */
  async reprocess(): Promise<{ success: number; error: number }> {
    await this.settled();
    const tables = ["attempts", "hosts", "events", "component_versions", "cluster_snapshots"];
    await this.store.exec(
      [...tables, ...DERIVED_TABLES].map((table) => `DELETE FROM ${table};`).join(" "),
    );
    // Cluster records before events, so SaaS attempts find their snapshot.
    const archives = await this.store.query<{ sha256: string }>(
      `SELECT sha256 FROM archives
       ORDER BY CASE kind WHEN '.clusters' THEN 0 ELSE 1 END, first_received_at, sha256`,
    );
    const counts = { success: 0, error: 0 };
    for (const { sha256 } of archives) {
      const result = await this.process(sha256);
      counts[result.status === "success" ? "success" : "error"]++;
    }
    return counts;
  }

  /** The status of an upload by request id, as ingress's tracker answers it. */
  async track(requestId: string): Promise<
    { status: string; status_msg: string; date: string; org: string | null } | undefined
  > {
    const [row] = await this.store.query<
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
