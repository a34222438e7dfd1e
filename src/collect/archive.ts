/**
 * Gathers one attempt's rows, sanitises them and packs the archive in the
 * layout the existing consumer reads.
 */
import type { Versions } from "../config/mod.ts";
import type { Queryable } from "../db/mod.ts";
import { forEachEventBatch, readHosts, readInfraEnv, type Row } from "../db/assisted.ts";
import { type ArchiveFile, packArchive } from "../bundle/mod.ts";
import {
  type IdentityFallback,
  NetworkObfuscator,
  Sanitizer,
  TextScrubber,
} from "../sanitize/mod.ts";
import { VERSION } from "../version.ts";
import { formatTime } from "../sanitize/encode.ts";
import { parsePullSecret } from "./pull_secret.ts";
import { type KnownSecret, SecretRegistry, TripwireError } from "./secrets.ts";

/** What every archive of this installation shares. */
export interface ArchiveContext {
  hmacKey: CryptoKey;
  versions: Versions;
  deploymentType: string;
  deploymentVersion: string;
  /** Secrets known before any row is read (global pull secret, trigger token). */
  knownSecrets: readonly KnownSecret[];
  /** Pseudonymise network identifiers (`OBFUSCATE=networking`). */
  obfuscateNetworking?: boolean;
  /** Identity from the global pull secret, preferred as upstream prefers the hub's. */
  identity?: IdentityFallback;
}

/** The attempt an archive describes. */
export interface ArchiveAttempt {
  clusterId: string;
  endedAt: string;
  clusterStatus: string;
  bundleId: string;
}

/** A built archive and what went into it. */
export interface BuiltArchive {
  archive: Uint8Array;
  eventCount: number;
  hostCount: number;
  files: Array<{ name: string; bytes: number }>;
  /** Secret values met while building: never written, used to scrub diagnostics. */
  knownSecrets: string[];
}

function inventoryFacts(text: unknown): { hostname?: unknown; serials: unknown[] } {
  try {
    const inv = JSON.parse(String(text));
    return {
      hostname: inv?.hostname,
      serials: [
        inv?.system_vendor?.serial_number,
        ...(Array.isArray(inv?.disks) ? inv.disks.map((d: { serial?: unknown }) => d?.serial) : []),
      ],
    };
  } catch {
    return { serials: [] };
  }
}

/** Teaches an obfuscator the names in the rows, so free text loses them too. */
function learnNetwork(cluster: Row, hosts: Row[]): NetworkObfuscator {
  const network = new NetworkObfuscator();
  network.learn("domain", cluster.base_dns_domain);
  for (const host of hosts) {
    network.learn("host", host.requested_hostname);
    const facts = inventoryFacts(host.inventory);
    network.learn("host", facts.hostname);
    facts.serials.forEach((serial) => network.learn("serial", serial));
  }
  return network;
}

/** Cluster ids become tar paths, so anything but a plain id is refused. */
export function isSafeClusterId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id) && !id.includes("..");
}

const encoder = new TextEncoder();

function json(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

async function eventsFile(
  sql: Queryable,
  clusterId: string,
  sanitizer: Sanitizer,
): Promise<[Uint8Array, number]> {
  const chunks: Uint8Array[] = [encoder.encode("[")];
  let count = 0;
  await forEachEventBatch(sql, clusterId, async (rows) => {
    const parts: string[] = [];
    for (const row of rows) {
      parts.push(JSON.stringify(await sanitizer.event(row as unknown as Row)));
    }
    chunks.push(encoder.encode((count > 0 ? "," : "") + parts.join(",")));
    count += rows.length;
  });
  chunks.push(encoder.encode("]"));
  return [concat(chunks), count];
}

/**
 * Builds the archive for `attempt` from the cluster `row` already read.
 * Deterministic: the same rows and context give the same bytes.
 */
export async function buildArchive(
  sql: Queryable,
  attempt: ArchiveAttempt,
  options: { context: ArchiveContext; cluster: Row },
): Promise<BuiltArchive> {
  const { context, cluster } = options;
  const id = attempt.clusterId;
  if (!isSafeClusterId(id)) throw new Error("cluster id is not a plain identifier");
  const hosts = await readHosts(sql, id);
  const firstInfraEnv = hosts.map((h) => h.infra_env_id).find((v) => typeof v === "string") as
    | string
    | undefined;
  const infraEnv = await readInfraEnv(sql, id, { infraEnvId: firstInfraEnv });

  const secrets = new SecretRegistry();
  for (const known of context.knownSecrets) secrets.add(known.field, [known.value]);
  secrets.addCluster(cluster);
  hosts.forEach((h) => secrets.addHost(h));
  if (infraEnv) secrets.addInfraEnv(infraEnv);
  const network = context.obfuscateNetworking ? learnNetwork(cluster, hosts) : undefined;
  const scrubber = new TextScrubber(context.hmacKey, { knownSecrets: secrets.values(), network });
  const sanitizer = new Sanitizer(scrubber);
  const own = parsePullSecret(typeof cluster.pull_secret === "string" ? cluster.pull_secret : null);
  const identity = context.identity?.user || context.identity?.email
    ? context.identity
    : own.kind === "token"
    ? { user: own.user, email: own.email }
    : {};

  const files: ArchiveFile[] = [
    { name: `${id}/events/cluster.json`, data: json(await sanitizer.cluster(cluster, identity)) },
  ];
  if (hosts.length > 0) {
    const shaped = [];
    for (const h of hosts) shaped.push(await sanitizer.host(h));
    files.push({ name: `${id}/events/hosts.json`, data: json(shaped) });
  }
  if (infraEnv) {
    files.push({
      name: `${id}/events/infraenv.json`,
      data: json(await sanitizer.infraEnv(infraEnv)),
    });
  }
  const [events, eventCount] = await eventsFile(sql, id, sanitizer);
  files.push({ name: `${id}/events.json`, data: events });
  files.push({ name: `${id}/versions.json`, data: json(context.versions) });
  files.push({
    name: `${id}/metadata.json`,
    data: json({
      ...context.versions,
      "deployment-type": context.deploymentType,
      "deployment-version": context.deploymentVersion,
      "git-ref": "<unknown>",
      bundle_id: attempt.bundleId,
      cluster_id: id,
      attempt_status: attempt.clusterStatus,
      attempt_ended_at: formatTime(attempt.endedAt),
      collector: "assisted-telemetry-collector",
      collector_version: VERSION,
      event_count: eventCount,
      host_count: hosts.length,
    }),
  });
  // Last line of defence: no known secret may leave, whatever a rule missed.
  const decoder = new TextDecoder();
  for (const file of files) {
    const field = secrets.findIn(decoder.decode(file.data));
    if (field) throw new TripwireError(field, file.name.slice(id.length + 1));
  }
  return {
    archive: await packArchive(files),
    eventCount,
    hostCount: hosts.length,
    files: files.map((f) => ({ name: f.name, bytes: f.data.byteLength })),
    knownSecrets: secrets.values(),
  };
}
