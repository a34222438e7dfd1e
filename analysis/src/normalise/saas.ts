/**
 * SaaS exports into the shared model, marked `source = saas`. Both S3
 * layouts are read (saas-data-shape §3–5): the scraper's `ccx_export`
 * (`<stream>/<date>/<epoch>_<sha>.ndjson`, many records per file) and
 * ccx-exporter's (`<prefix><type>/<date>/<32 hex>.ndjson`, one object per
 * file). The stream is the path's `.events`, `.clusters`, `.infra_envs` or
 * `.component_versions` segment. Events keep upstream's event id (ccx's
 * hex, or the scraper's decimal recomputed as the same MD5), so an event
 * exported twice, or by both exporters, is stored once.
 */
import type { Tx } from "../store/duckdb.ts";
import { clusterFacts, hostFacts } from "./cluster.ts";
import { deriveAttempts, upsertHosts } from "./archive.ts";
import { addEvents } from "../store/events.ts";
import { keyOf, keySql } from "./keys.ts";

/** The SaaS streams. */
export type SaasStream = ".events" | ".clusters" | ".infra_envs" | ".component_versions";

/** The stream a file of an export belongs to, from its path; undefined for other files. */
export function saasStream(path: string): SaasStream | undefined {
  if (!path.endsWith(".ndjson")) return undefined;
  const parts = path.split("/");
  return parts.find((p): p is SaasStream =>
    [".events", ".clusters", ".infra_envs", ".component_versions"].includes(p)
  );
}

const EVENT_COLUMNS =
  "{event_id: 'VARCHAR', cluster_id: 'VARCHAR', host_id: 'VARCHAR', event_time: 'VARCHAR', name: 'VARCHAR', message: 'VARCHAR', severity: 'VARCHAR', category: 'VARCHAR', props: 'VARCHAR'}";

/** What one export file gave. */
export interface SaasFileRows {
  stream: SaasStream;
  records: number;
  /** Clusters whose attempts must be derived again. */
  clusterKeys: string[];
}

/**
 * Reads one export file (NDJSON, or a single object) into the model.
 * Cluster records are kept as the latest snapshot per cluster; attempts are
 * derived by {@linkcode deriveSaasAttempts} once a whole import is read.
 */
export async function normaliseSaasFile(
  tx: Tx,
  path: string,
  options: { secret: string; stream: SaasStream },
): Promise<SaasFileRows> {
  const { secret, stream } = options;
  if (stream === ".events") {
    const added = await addEvents(
      tx,
      `SELECT ${keySql("$2", "cluster_id")} AS cluster_key,
              CASE WHEN regexp_full_match(coalesce(event_id, ''), '[0-9a-f]{32}') THEN event_id
                   ELSE md5(event_time || cluster_id || message) END AS event_id,
              'saas' AS source, ${keySql("$2", "host_id")} AS host_key,
              TRY_CAST(event_time AS TIMESTAMPTZ) AS event_time, name, message, severity, category,
              props, coalesce(cluster_id, '') <> '' AND event_time IS NOT NULL AND message IS NOT NULL AS usable
       FROM read_json($1, format = 'newline_delimited', columns = ${EVENT_COLUMNS})`,
      [path, secret],
    );
    return { stream, records: added.read, clusterKeys: added.clusterKeys };
  }
  if (stream !== ".clusters") {
    // Infra envs and component versions answer no question yet; the raw file is kept.
    return { stream, records: 0, clusterKeys: [] };
  }
  const text = await Deno.readTextFile(path);
  const clusterKeys = new Set<string>();
  let records = 0;
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const record = JSON.parse(line) as Record<string, unknown>;
    records++;
    const facts = clusterFacts(record);
    const clusterKey = keyOf(secret, facts.clusterId);
    if (!clusterKey) continue;
    clusterKeys.add(clusterKey);
    const updated = typeof record.updated_at === "string" ? record.updated_at : null;
    await tx.run(
      `INSERT INTO cluster_snapshots VALUES ($1, 'saas', TRY_CAST($2 AS TIMESTAMPTZ), $3)
       ON CONFLICT (cluster_key, source) DO UPDATE SET updated_at = excluded.updated_at, facts = excluded.facts
       WHERE excluded.updated_at IS NULL OR cluster_snapshots.updated_at IS NULL
          OR excluded.updated_at >= cluster_snapshots.updated_at`,
      [
        clusterKey,
        updated,
        JSON.stringify({
          ...facts,
          clusterId: "",
          orgId: keyOf(secret, facts.orgId),
          userId: keyOf(secret, facts.userId),
        }),
      ],
    );
    await upsertHosts(tx, {
      clusterKey,
      secret,
      source: "saas",
      hosts: (Array.isArray(record.hosts) ? record.hosts : [])
        .map((raw) => hostFacts((raw ?? {}) as Record<string, unknown>))
        .filter((h) => h !== undefined),
    });
  }
  return { stream, records, clusterKeys: [...clusterKeys] };
}

/** Derives the attempts of SaaS clusters from their latest snapshot and result events. */
export async function deriveSaasAttempts(
  tx: Tx,
  options: { secret: string; clusterKeys: Iterable<string>; sha256: string },
): Promise<number> {
  let total = 0;
  for (const clusterKey of options.clusterKeys) {
    const [snapshot] = await tx.query<{ facts: string }>(
      "SELECT facts FROM cluster_snapshots WHERE cluster_key = $1 AND source = 'saas'",
      [clusterKey],
    );
    if (!snapshot) continue; // events before their cluster record: derived when it arrives
    const facts = JSON.parse(snapshot.facts);
    total += await deriveAttempts(tx, {
      clusterKey,
      facts,
      orgKey: facts.orgId,
      userKey: facts.userId,
      secret: options.secret,
      provenance: { source: "saas", channel: "saas_export", sha256: options.sha256, orgKey: null },
      aiVersion: null,
    });
  }
  return total;
}
