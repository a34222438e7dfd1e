/**
 * Keeping data no longer than needed: a retention period (default 18 months,
 * as Red Hat's index curator keeps events) and deletion of everything of one
 * cluster or organisation on request, raw archives included.
 */
import type { Ingest } from "../ingest/mod.ts";
import { keyOf } from "../normalise/keys.ts";
import { CLUSTER_TABLES } from "./shared.ts";
import { deriveSignals } from "./signals.ts";

/** What a prune or a deletion removed. */
export interface Removed {
  archives: number;
  attempts: number;
  events: number;
  hosts: number;
}

async function count(ingest: Ingest, sql: string, params: (string | null)[]): Promise<number> {
  const [row] = await ingest.store.query<{ n: number }>(sql, params);
  return row?.n ?? 0;
}

/** Deletes what is older than `months`: raw archives by arrival, rows by their own time. */
export async function prune(ingest: Ingest, months: number): Promise<Removed> {
  await ingest.settled();
  return await ingest.mutate(() => pruneRows(ingest, months));
}

async function pruneRows(ingest: Ingest, months: number): Promise<Removed> {
  const cutoff = `now() - INTERVAL ${Math.floor(months)} MONTH`;
  const old = await ingest.store.query<{ sha256: string; kind: string }>(
    `SELECT sha256, kind FROM archives WHERE first_received_at < ${cutoff}`,
  );
  for (const { sha256, kind } of old) {
    await Deno.remove(ingest.rawPath(sha256, kind)).catch(() => {});
  }
  const removed: Removed = {
    archives: old.length,
    attempts: await count(
      ingest,
      `SELECT count(*)::INTEGER AS n FROM attempts WHERE coalesce(ended_at, cluster_created_at) < ${cutoff}`,
      [],
    ),
    events: await count(
      ingest,
      `SELECT count(*)::INTEGER AS n FROM events WHERE event_time < ${cutoff}`,
      [],
    ),
    hosts: 0,
  };
  await ingest.store.transaction(async (tx) => {
    // Clusters losing events get their summaries re-derived from what remains.
    const touched = await tx.query<{ cluster_key: string }>(
      `SELECT DISTINCT cluster_key FROM events WHERE event_time < ${cutoff}`,
    );
    await tx.run(
      `DELETE FROM requests WHERE sha256 IN (SELECT sha256 FROM archives WHERE first_received_at < ${cutoff})`,
    );
    await tx.run(`DELETE FROM archives WHERE first_received_at < ${cutoff}`);
    await tx.run(`DELETE FROM attempts WHERE coalesce(ended_at, cluster_created_at) < ${cutoff}`);
    await tx.run(`DELETE FROM events WHERE event_time < ${cutoff}`);
    await deriveSignals(tx, touched.map((r) => r.cluster_key));
  });
  // Hosts and snapshots of clusters with nothing left go too.
  removed.hosts = await deleteOrphans(ingest);
  return removed;
}

async function deleteOrphans(ingest: Ingest): Promise<number> {
  const live = "(SELECT cluster_key FROM attempts UNION SELECT cluster_key FROM events)";
  const hosts = await count(
    ingest,
    `SELECT count(*)::INTEGER AS n FROM hosts WHERE cluster_key NOT IN ${live}`,
    [],
  );
  await ingest.store.transaction(async (tx) => {
    await tx.run(`DELETE FROM hosts WHERE cluster_key NOT IN ${live}`);
    await tx.run(`DELETE FROM component_versions WHERE cluster_key NOT IN ${live}`);
    await tx.run(`DELETE FROM cluster_snapshots WHERE cluster_key NOT IN ${live}`);
  });
  return hosts;
}

/**
 * Deletes everything of the clusters given by id, or of every cluster of an
 * organisation: rows, and the raw archives that hold them (a SaaS export
 * file holding other clusters too is rewritten without them).
 */
export async function deleteSubject(
  ingest: Ingest,
  subject: { clusterId?: string; org?: string },
): Promise<Removed> {
  await ingest.settled();
  return await ingest.mutate(() => deleteRows(ingest, subject));
}

async function deleteRows(
  ingest: Ingest,
  subject: { clusterId?: string; org?: string },
): Promise<Removed> {
  const secret = ingest.secret;
  let clusterKeys: string[] = [];
  let orgKey: string | null = null;
  if (subject.clusterId) clusterKeys = [keyOf(secret, subject.clusterId)!];
  if (subject.org) {
    orgKey = keyOf(secret, subject.org);
    const rows = await ingest.store.query<{ cluster_key: string }>(
      `SELECT DISTINCT cluster_key FROM attempts WHERE org_key = $1
       UNION SELECT DISTINCT cluster_key FROM archives WHERE org_key = $1 AND cluster_key IS NOT NULL`,
      [orgKey],
    );
    clusterKeys = rows.map((r) => r.cluster_key);
  }
  const removed: Removed = { archives: 0, attempts: 0, events: 0, hosts: 0 };
  for (const clusterKey of clusterKeys) {
    removed.attempts += await count(
      ingest,
      "SELECT count(*)::INTEGER AS n FROM attempts WHERE cluster_key = $1",
      [clusterKey],
    );
    removed.events += await count(
      ingest,
      "SELECT count(*)::INTEGER AS n FROM events WHERE cluster_key = $1",
      [clusterKey],
    );
    removed.hosts += await count(
      ingest,
      "SELECT count(*)::INTEGER AS n FROM hosts WHERE cluster_key = $1",
      [clusterKey],
    );
    const archives = await ingest.store.query<{ sha256: string; kind: string }>(
      "SELECT sha256, kind FROM archives WHERE cluster_key = $1",
      [clusterKey],
    );
    for (const { sha256, kind } of archives) {
      await Deno.remove(ingest.rawPath(sha256, kind)).catch(() => {});
      removed.archives++;
    }
    await ingest.store.transaction(async (tx) => {
      for (const table of [...CLUSTER_TABLES, "events"]) {
        await tx.run(`DELETE FROM ${table} WHERE cluster_key = $1`, [clusterKey]);
      }
      await tx.run(
        "DELETE FROM requests WHERE sha256 IN (SELECT sha256 FROM archives WHERE cluster_key = $1)",
        [clusterKey],
      );
      await tx.run("DELETE FROM archives WHERE cluster_key = $1", [clusterKey]);
    });
    removed.archives += await rewriteSaasFiles(ingest, clusterKey);
  }
  if (orgKey) {
    await ingest.store.query("DELETE FROM requests WHERE org_key = $1", [orgKey]);
    await ingest.shared?.deleteRequestsOf(orgKey);
  }
  return removed;
}

/** SaaS export files are many clusters each: rewrite those holding this one without its lines. */
async function rewriteSaasFiles(ingest: Ingest, clusterKey: string): Promise<number> {
  const files = await ingest.store.query<{ sha256: string; kind: string }>(
    "SELECT sha256, kind FROM archives WHERE source = 'saas'",
  );
  let rewritten = 0;
  for (const { sha256, kind } of files) {
    const path = await ingest.rawFile(sha256, kind);
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch {
      continue;
    }
    const lines = text.split("\n");
    const kept = lines.filter((line) => {
      if (!line.trim()) return true;
      try {
        const record = JSON.parse(line);
        const id = kind === ".clusters" ? record.id : record.cluster_id;
        return keyOf(ingest.secret, id) !== clusterKey;
      } catch {
        return true;
      }
    });
    if (kept.length === lines.length) continue;
    const rewrittenText = kept.join("\n");
    await Deno.writeTextFile(path, rewrittenText);
    await ingest.shared?.replaceRaw(sha256, new TextEncoder().encode(rewrittenText));
    rewritten++;
  }
  return rewritten;
}
