/**
 * One on-prem archive (ours, or upstream's in any of its shapes) into the
 * shared model: the cluster's attempts, hosts, events and component
 * versions. Events are loaded by DuckDB straight from the spooled
 * `events.json`, deduplicated within the cluster by upstream's event id
 * (md5 of event_time + cluster_id + message), since every archive repeats
 * the cluster's whole history.
 */
import {
  ArchiveError,
  type ArchiveMetadata,
  archiveMetadata,
  memberJson,
  readArchive,
} from "../../../contract/mod.ts";
import { isResourceError, type Tx } from "../store/duckdb.ts";
import { makeScratchDir } from "../scratch.ts";
import { insertEvents } from "../store/events.ts";
import { type Halves, jsonArrayHalves } from "./halves.ts";
import { type ClusterFacts, clusterFacts, hostFacts, isInternal } from "./cluster.ts";
import { keyOf, keySql } from "./keys.ts";

/**
 * events.json read in halves did not parse: the split fell inside an event
 * (see `halves.ts`). The transaction is spoiled; run it again with `whole`.
 */
export class HalvesUnreadable extends Error {}

/** Where the rows of an archive come from. */
export interface Provenance {
  source: "onprem" | "saas";
  channel: string;
  sha256: string;
  /** The keyed organisation of the upload's token, if any. */
  orgKey: string | null;
}

/** What reading one archive gave. */
export interface ArchiveRows {
  clusterKey: string;
  collector: string;
  /** Null when DuckDB's profile did not say (see `insertEvents`). */
  eventsInArchive: number | null;
  eventsNew: number;
  attempts: number;
}

/** Final states that end an attempt (the others, like pending-user-action, do not). */
export const FINAL_RESULTS = ["installed", "error", "cancelled"] as const;

const EVENT_COLUMNS =
  "{cluster_id: 'VARCHAR', host_id: 'VARCHAR', event_time: 'VARCHAR', name: 'VARCHAR', message: 'VARCHAR', severity: 'VARCHAR', category: 'VARCHAR', props: 'VARCHAR'}";

/**
 * An archive's events in one statement, the file parsed once: per event
 * (equal time, cluster id and message: upstream's id is the md5 of the
 * three joined) the first row by position (half, then row), kept when
 * usable (of this cluster, with a time and a message) and not stored yet.
 * The md5 is computed after the grouping, outside the parse's pipeline
 * (grouping by the three columns rather than their md5 took 0.4 s and
 * 100 MB less for a million events, measured); host keys come from the
 * hosts the archive lists, keyed once each in TypeScript, and are computed
 * per row only for hosts it does not list. Texts that differ but join to
 * the same text, which only a crafted archive has, keep one row each under
 * the same id. Nothing filters below the grouping, so the scan reads every
 * row and its count in DuckDB's profile is the archive's event count.
 * events.json comes whole or in halves (see `halves.ts`), each half parsed
 * on a thread of its own.
 * $1 cluster key, $2 source, $3 secret, $4 cluster id, $5 the listed hosts'
 * keys (JSON), $6… the files.
 */
function archiveEventsSql(parts: number): string {
  const rows = Array.from({ length: parts }, (_, i) => {
    const file = `$${6 + i}`;
    return `SELECT ${i} AS part, * FROM read_json(${file}, format = 'array',
              columns = ${EVENT_COLUMNS}, maximum_object_size = 67108864) WITH ORDINALITY`;
  }).join(" UNION ALL ");
  return `
  SELECT $1 AS cluster_key, d.event_id, $2 AS source,
         coalesce(h.key, ${keySql("$3", "d.r.host_id")}) AS host_key,
         TRY_CAST(d.event_time AS TIMESTAMPTZ) AS event_time, d.r.name, d.message,
         d.r.severity, d.r.category, d.r.props
  FROM (
    SELECT event_time, cluster_id, message, md5(event_time || cluster_id || message) AS event_id,
           arg_min({host_id: host_id, name: name, severity: severity, category: category,
                    props: props}, (part, ordinality)) AS r
    FROM (${rows})
    GROUP BY event_time, cluster_id, message
  ) d
  LEFT JOIN (SELECT unnest(from_json($5, '[{"id": "VARCHAR", "key": "VARCHAR"}]'), recursive := true)) h
    ON h.id = d.r.host_id
  -- NOT IN, not NOT EXISTS: the same plan held 1.2 GB instead of 0.8 (measured); event_id is never null.
  WHERE d.cluster_id = $4 AND d.event_time IS NOT NULL AND d.message IS NOT NULL
    AND d.event_id NOT IN (SELECT event_id FROM events WHERE cluster_key = $1)`;
}

/** An archive unpacked into a spool directory of its own (see {@linkcode unpackArchive}). */
export interface Unpacked {
  read: Awaited<ReturnType<typeof readArchive>>;
  /** events.json in two halves, unless it was spooled whole. */
  halves?: Halves;
  spool: string;
}

/**
 * Unpacks an archive (its file's path, or its bytes): its small members
 * parsed, events.json spooled to disk, in halves (DuckDB reads the two in
 * parallel) unless `whole`. Throws ArchiveError for what is not an archive
 * of the contract. The caller removes the spool with {@linkcode discardUnpacked}.
 */
export async function unpackArchive(
  archive: string | Uint8Array,
  options: { whole?: boolean } = {},
): Promise<Unpacked> {
  const spool = await makeScratchDir("spool");
  try {
    const source = typeof archive === "string"
      ? (await Deno.open(archive)).readable
      : ReadableStream.from([archive as Uint8Array<ArrayBuffer>]); // the bytes, not a copy
    let halves: Halves | undefined;
    const read = await readArchive(source, {
      spool: {
        dir: spool,
        members: ["events"],
        to: options.whole ? undefined : async (path, size) => {
          halves = await jsonArrayHalves(path, path.replace(/\.json$/, ".2.json"), { size });
          return halves.writable;
        },
      },
    });
    return { read, halves, spool };
  } catch (err) {
    await Deno.remove(spool, { recursive: true }).catch(() => {});
    throw err;
  }
}

/** Removes what {@linkcode unpackArchive} spooled (once it settles, whether it failed or not). */
export async function discardUnpacked(unpacking: Promise<Unpacked>): Promise<void> {
  const unpacked = await unpacking.catch(() => undefined);
  if (unpacked) await Deno.remove(unpacked.spool, { recursive: true }).catch(() => {});
}

/**
 * Reads the archive at `path` and writes its rows inside `tx`. Throws
 * ArchiveError (the archive is quarantined with that reason) for anything
 * that is not an archive of the contract. `unpacking`, when given, is this
 * archive's unpacking begun earlier (with `whole` unset); it is consumed.
 */
export async function normaliseArchive(
  tx: Tx,
  path: string,
  options: {
    secret: string;
    provenance: Provenance;
    /** Spool events.json whole, not in halves (after HalvesUnreadable). */
    whole?: boolean;
    unpacking?: Promise<Unpacked>;
    /** Called once the cluster's events are in, before the rest of its rows. */
    afterEvents?: (clusterKey: string) => Promise<void>;
  },
): Promise<ArchiveRows> {
  const { secret, provenance } = options;
  const unpacking = options.unpacking ?? unpackArchive(path, { whole: options.whole });
  try {
    const { read, halves, spool } = await unpacking;
    const cluster = memberJson(read, "cluster");
    if (!cluster || typeof cluster !== "object" || Array.isArray(cluster)) {
      throw new ArchiveError("no-cluster", "events/cluster.json is missing or not an object");
    }
    const hostsJson = memberJson(read, "hosts") ?? [];
    if (!Array.isArray(hostsJson)) {
      throw new ArchiveError("bad-hosts", "events/hosts.json is not an array");
    }
    const versions = memberJson(read, "versions");
    const metadata = archiveMetadata(read);
    const infraEnv = memberJson(read, "infraEnv") as Record<string, unknown> | undefined;
    const facts = clusterFacts(cluster as Record<string, unknown>, {
      hostsSeen: hostsJson.length,
      isoType: infraEnv && typeof infraEnv === "object" ? infraEnv.type : undefined,
    });
    if (facts.clusterId !== read.clusterId) {
      throw new ArchiveError("cluster-mismatch", "cluster.json's id is not the archive's folder");
    }
    const clusterKey = keyOf(secret, facts.clusterId)!;

    const hosts = hostsJson.map((raw) => hostFacts((raw ?? {}) as Record<string, unknown>))
      .filter((h) => h !== undefined);
    const eventsPath = read.spooled.events;
    let eventsInArchive: number | null = 0;
    let eventsNew = 0;
    if (eventsPath && !(await isJsonNull(eventsPath))) {
      const parts = halves?.paths ?? [eventsPath];
      const added = await insertEvents(tx, archiveEventsSql(parts.length), {
        params: [
          clusterKey,
          provenance.source,
          secret,
          facts.clusterId,
          JSON.stringify(hosts.map((h) => ({ id: h.hostId, key: keyOf(secret, h.hostId) }))),
          ...parts,
        ],
        clusterKeys: [clusterKey],
        scratch: spool,
      }).catch((err) => {
        // Out of memory or disk is the machine's trouble, not the archive's: it waits.
        if (isResourceError(err)) throw err;
        if (parts.length > 1) throw new HalvesUnreadable(firstLine(err));
        throw new ArchiveError("bad-events", `events.json: ${firstLine(err)}`);
      });
      eventsInArchive = added.read;
      eventsNew = added.added;
    }
    await options.afterEvents?.(clusterKey);

    await upsertHosts(tx, {
      clusterKey,
      secret,
      source: provenance.source,
      hosts,
    });
    if (versions && typeof versions === "object" && !Array.isArray(versions)) {
      for (const [component, version] of Object.entries(versions)) {
        if (typeof version !== "string") continue;
        await tx.run(
          `INSERT OR REPLACE INTO component_versions VALUES ($1, $2, $3)`,
          [clusterKey, component, version.slice(0, 500)],
        );
      }
    }
    const attempts = await deriveAttempts(tx, {
      clusterKey,
      facts,
      orgKey: keyOf(secret, facts.orgId) ?? provenance.orgKey,
      userKey: keyOf(secret, facts.userId),
      secret,
      provenance,
      metadata,
      aiVersion:
        typeof (versions as Record<string, unknown> | undefined)?.["assisted-installer-service"] ===
            "string"
          ? (versions as Record<string, string>)["assisted-installer-service"]
          : null,
    });
    return {
      clusterKey,
      collector: metadata?.collector ??
        (metadata ? "assisted-service" : "assisted-service (before 2024)"),
      eventsInArchive,
      eventsNew,
      attempts,
    };
  } finally {
    await discardUnpacked(unpacking);
  }
}

async function isJsonNull(path: string): Promise<boolean> {
  const file = await Deno.open(path);
  try {
    const head = new Uint8Array(16);
    const n = (await file.read(head)) ?? 0;
    return new TextDecoder().decode(head.subarray(0, n)).trim().startsWith("null") || n === 0;
  } finally {
    file.close();
  }
}

/** Writes (or replaces, the latest archive winning) hosts, in statements of up to 200. */
export async function upsertHosts(
  tx: Tx,
  rows: {
    clusterKey: string;
    secret: string;
    source: string;
    hosts: Array<NonNullable<ReturnType<typeof hostFacts>>>;
  },
): Promise<void> {
  // One row per host key (the last wins), as one statement may not hold a key twice.
  const byKey = new Map(rows.hosts.map((h) => [keyOf(rows.secret, h.hostId)!, h]));
  const all = [...byKey];
  for (let at = 0; at < all.length; at += 200) {
    const chunk = all.slice(at, at + 200);
    const params = chunk.flatMap(([hostKey, host]) => [
      rows.clusterKey,
      hostKey,
      rows.source,
      host.role,
      host.status,
      host.finalStage,
      host.vendor,
      host.product,
      host.isVirtual,
      host.cpuCores,
      host.memoryBytes,
      host.cpuArchitecture,
    ]);
    const tuples = chunk.map((_, i) => {
      const p = (n: number) => `$${i * 12 + n}`;
      return `(${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)}, ${p(8)}, ${p(9)}, ${
        p(10)
      }, ${p(11)}, NULL, ${p(12)})`;
    });
    await tx.run(`INSERT OR REPLACE INTO hosts VALUES ${tuples.join(", ")}`, params);
  }
}

/**
 * Every finished attempt of the cluster: one per `cluster.installation.results`
 * event with a final result (the metrics event the dashboards count, §1.1),
 * each carrying the cluster's facts as this archive states them. An on-prem
 * archive whose events hold no result (older assisted-service) still counts
 * the attempt its metadata names.
 */
export async function deriveAttempts(
  tx: Tx,
  input: {
    clusterKey: string;
    facts: ClusterFacts;
    /** Keyed organisation and user (already pseudonymous). */
    orgKey: string | null;
    userKey: string | null;
    secret: string;
    provenance: Provenance;
    metadata?: ArchiveMetadata;
    aiVersion: string | null;
  },
): Promise<number> {
  const { clusterKey, facts, secret, provenance, metadata } = input;
  const results = await tx.query<
    {
      attempt_id: string;
      ended_at: string;
      result: string;
      last_state: string | null;
      duration_s: number | null;
    }
  >(
    `SELECT event_id AS attempt_id, event_time::VARCHAR AS ended_at,
            json_extract_string(props, '$.result') AS result,
            json_extract_string(props, '$.lastState') AS last_state,
            TRY_CAST(json_extract_string(props, '$.duration') AS DOUBLE) AS duration_s
     FROM events WHERE cluster_key = $1 AND message = 'cluster.installation.results'
       AND json_valid(props) AND json_extract_string(props, '$.result') IN ('installed', 'error', 'cancelled')`,
    [clusterKey],
  );
  if (
    results.length === 0 && metadata?.attempt_status &&
    (FINAL_RESULTS as readonly string[]).includes(metadata.attempt_status)
  ) {
    results.push({
      attempt_id: keyOf(secret, `${facts.clusterId}/${metadata.attempt_ended_at ?? ""}`)!,
      ended_at: metadata.attempt_ended_at ?? "",
      result: metadata.attempt_status,
      last_state: null,
      duration_s: null,
    });
  }
  for (const r of results) {
    // A zero install_started_at gives ~6.3e10 s (saas-data-shape §8): not a duration.
    const duration = r.duration_s !== null && r.duration_s >= 0 && r.duration_s < 1e9
      ? r.duration_s
      : null;
    await tx.run(
      `INSERT OR IGNORE INTO attempts VALUES ($1, $2, $3, $4, $5, $6, $7, $8, TRY_CAST($9 AS TIMESTAMPTZ),
         TRY_CAST($10 AS TIMESTAMPTZ), $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23,
         from_json($24, '["VARCHAR"]'), $25, from_json($26, '["VARCHAR"]'), $27, $28, $29, $30)`,
      [
        r.attempt_id,
        clusterKey,
        provenance.source,
        provenance.channel,
        input.orgKey,
        input.userKey,
        facts.emailDomain,
        isInternal(facts.emailDomain),
        facts.createdAt,
        r.ended_at,
        r.result,
        r.last_state,
        duration,
        facts.openshiftVersion,
        input.aiVersion,
        provenance.source === "onprem" ? metadata?.["deployment-type"] || null : "SaaS",
        provenance.source === "onprem" ? metadata?.["deployment-version"] || null : null,
        facts.platform,
        facts.haMode,
        facts.hostCount,
        facts.cpuArchitecture,
        facts.networkType,
        facts.userManagedNetworking,
        JSON.stringify(facts.features),
        provenance.sha256,
        JSON.stringify(facts.operators ?? []),
        facts.dualStack ?? null,
        facts.kind ?? null,
        facts.aicli ?? false,
        facts.isoType ?? null,
      ],
    );
  }
  return results.length;
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split("\n")[0].slice(0, 300);
}
