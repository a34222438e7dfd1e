/**
 * Gathers one attempt's rows, sanitises them and packs the archive in the
 * layout the existing consumer reads.
 */
import type { Versions } from "../config/mod.ts";
import type { Queryable } from "../db/mod.ts";
import {
  type EventCut,
  forEachEventBatch,
  lastDroppedInfoTime,
  NO_CUT,
  readClusterRelations,
  readHosts,
  readInfraEnv,
  readInfraEnvs,
  type Row,
} from "../db/assisted.ts";
import {
  type ArchiveFile,
  type Compressor,
  packStreamingArchive,
  PatternFoundError,
} from "../bundle/mod.ts";
import {
  type IdentityFallback,
  NetworkObfuscator,
  Sanitizer,
  TextScrubber,
  type UserIdHash,
} from "../sanitize/mod.ts";
import { VERSION } from "../version.ts";
import { ARCHIVE_LAYOUT, isSafeClusterId } from "../../contract/mod.ts";
import { formatTime } from "../sanitize/encode.ts";
import { parsePullSecret } from "./pull_secret.ts";
import { type KnownSecret, SecretRegistry, TripwireError } from "./secrets.ts";
import { TurnTaker } from "../event_loop.ts";

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
  compressor?: Compressor;
  /** Identity from the global pull secret, preferred as upstream prefers the hub's. */
  identity?: IdentityFallback;
  /** How `user_id` is made (USER_ID_HASH); keyed by default. */
  userIds?: UserIdHash;
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
  archive: Blob;
  eventCount: number;
  hostCount: number;
  files: Array<{ name: string; bytes: number }>;
  /** Secret values met while building: never written, used to scrub diagnostics. */
  knownSecrets: string[];
  /** Events were cut to fit the size limit (metadata.json says how). */
  reduced: boolean;
}

function inventoryFacts(
  text: unknown,
): { hostname?: unknown; bmc?: unknown; serials: unknown[] } {
  try {
    const inv = JSON.parse(String(text));
    return {
      hostname: inv?.hostname,
      bmc: typeof inv?.bmc_address === "string"
        ? inv.bmc_address.replace(/^\w+:\/\//, "").split(/[/:]/)[0]
        : undefined,
      serials: [
        inv?.system_vendor?.serial_number,
        inv?.system_vendor?.uuid,
        inv?.system_uuid,
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
    network.learn("host", facts.bmc);
    facts.serials.forEach((serial) => network.learn("serial", serial));
  }
  return network;
}

export { isSafeClusterId };

const encoder = new TextEncoder();

function json(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Thrown when even the smallest allowed archive is over the limit. */
export class ArchiveTooLargeError extends Error {
  constructor(bytes: number, limit: number) {
    super(
      `archive of ${bytes} bytes cannot be reduced below ${limit} bytes without dropping warnings or errors`,
    );
    this.name = "ArchiveTooLargeError";
  }
}

/** Counts of one build, to plan a cut. */
interface EventCounts {
  total: number;
  metrics: number;
  info: number;
}

/** What the rows of one attempt give, before any cut. */
interface Gathered {
  id: string;
  files: ArchiveFile[];
  hostCount: number;
  sanitizer: Sanitizer;
  secrets: SecretRegistry;
  /** versions.json and the deployment facts, as scrubbed. */
  versions: Record<string, string>;
  deployment: { type: string; version: string };
}

async function gather(
  sql: Queryable,
  attempt: ArchiveAttempt,
  context: ArchiveContext,
  cluster: Row,
): Promise<Gathered> {
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
  // Every infra env bound to the cluster or one of its hosts (the one sent among them).
  for (const env of await readInfraEnvs(sql, id, hosts)) secrets.addInfraEnv(env);
  secrets.addEncodings();
  const network = context.obfuscateNetworking ? learnNetwork(cluster, hosts) : undefined;
  const scrubber = new TextScrubber(context.hmacKey, { knownSecrets: secrets.values(), network });
  const sanitizer = new Sanitizer(scrubber, { userIds: context.userIds });
  const own = parsePullSecret(typeof cluster.pull_secret === "string" ? cluster.pull_secret : null);
  const identity = context.identity?.user || context.identity?.email
    ? context.identity
    : own.kind === "token"
    ? { user: own.user, email: own.email }
    : {};

  const relations = await readClusterRelations(sql, id);
  // What the API computes or nests in a cluster; the allow-list decides what of it leaves.
  const withRelations = {
    ...cluster,
    monitored_operators: relations.monitored_operators,
    total_host_count: hosts.length,
    enabled_host_count: hosts.filter((h) => h.status !== "disabled").length,
    ready_host_count: hosts.filter((h) => ["known", "installed"].includes(String(h.status))).length,
    network_shape: {
      api_vips: relations.api_vips,
      ingress_vips: relations.ingress_vips,
      // Installs without the network tables keep one CIDR in the cluster row.
      cluster_networks: relations.cluster_networks.length
        ? relations.cluster_networks
        : [{ cidr: cluster.cluster_network_cidr }],
      machine_networks: relations.machine_networks.length
        ? relations.machine_networks
        : [{ cidr: cluster.machine_network_cidr }],
      service_networks: relations.service_networks.length
        ? relations.service_networks
        : [{ cidr: cluster.service_network_cidr }],
    },
  };
  const files: ArchiveFile[] = [
    {
      name: `${id}/${ARCHIVE_LAYOUT.cluster}`,
      data: json(await sanitizer.cluster(withRelations, identity)),
    },
  ];
  if (hosts.length > 0) {
    const shaped = [];
    const turns = new TurnTaker();
    for (const h of hosts) {
      shaped.push(await sanitizer.host(h));
      // A host's inventory takes ~0.5 ms: 150 of them held /healthz for ~100 ms.
      const turn = turns.due();
      if (turn) await turn;
    }
    files.push({ name: `${id}/${ARCHIVE_LAYOUT.hosts}`, data: json(shaped) });
  }
  if (infraEnv) {
    files.push({
      name: `${id}/${ARCHIVE_LAYOUT.infraEnv}`,
      data: json(await sanitizer.infraEnv(infraEnv)),
    });
  }
  // What the operator's environment says leaves through the scrubber too: an image
  // reference with credentials, an address or an e-mail in DEPLOYMENT_VERSION.
  const fromEnv = [
    ...Object.values(context.versions),
    context.deploymentType,
    context.deploymentVersion,
  ];
  await scrubber.prepare(fromEnv);
  const versions = Object.fromEntries(
    Object.entries(context.versions).map(([k, v]) => [k, scrubber.textSync(v)]),
  );
  const deployment = {
    type: scrubber.textSync(context.deploymentType),
    version: scrubber.textSync(context.deploymentVersion),
  };
  files.push({ name: `${id}/${ARCHIVE_LAYOUT.versions}`, data: json(versions) });
  // These files are the same in every reduction round: check them once.
  const decoder = new TextDecoder();
  for (const file of files) {
    tripwire(secrets, decoder.decode(file.data), file.name.slice(id.length + 1));
  }
  return { id, files, hostCount: hosts.length, sanitizer, secrets, versions, deployment };
}

/** Refuses an archive part that holds a known secret. */
function tripwire(secrets: SecretRegistry, text: string, file: string): void {
  const field = secrets.findIn(text);
  if (field) throw new TripwireError(field, file);
}

/** One build of the archive with events cut by `cut`. */
async function buildWith(
  sql: Queryable,
  attempt: ArchiveAttempt,
  g: Gathered,
  options: { context: ArchiveContext; cut: EventCut; reduction?: Record<string, unknown> },
): Promise<
  { archive: Blob; counts: EventCounts; eventsBytes: number; metadata: ArchiveFile }
> {
  const counts: EventCounts = { total: 0, metrics: 0, info: 0 };
  let eventsBytes = 0;
  let metadata: ArchiveFile | undefined;
  let archive: Blob;
  // Packing starts by creating the compressing worker, ~33 ms that hold this thread at
  // once: a turn before it and one after it, so the work around it (the files gathered,
  // the collection it brings) does not add up to a ~100 ms wait for a request (README, Scale).
  const turns = new TurnTaker();
  await turns.now();
  try {
    ({ archive, streamedBytes: eventsBytes } = await packStreamingArchive(g.files, {
      name: `${g.id}/${ARCHIVE_LAYOUT.events}`,
      async produce(sink) {
        await turns.now();
        await sink.text("[");
        await forEachEventBatch(sql, g.id, async (rows) => {
          await g.sanitizer.prepare(rows as unknown as Row[]);
          // The batch's events as one text, copied once as it is encoded (see eventJson).
          let text = "";
          for (const row of rows) {
            if (counts.total > 0 || text !== "") text += ",";
            text += g.sanitizer.eventJson(row as unknown as Row);
            if (row.category === "metrics") counts.metrics++;
            else if (row.severity === "info") counts.info++;
          }
          counts.total += rows.length;
          const wait = sink.text(text);
          if (wait) await wait;
        }, { cut: options.cut });
        await sink.text("]");
      },
    }, {
      compressor: options.context.compressor,
      forbidden: g.secrets.patterns(),
      after() {
        const text = JSON.stringify({
          ...g.versions,
          "deployment-type": g.deployment.type,
          "deployment-version": g.deployment.version,
          "git-ref": "<unknown>",
          bundle_id: attempt.bundleId,
          cluster_id: g.id,
          attempt_status: attempt.clusterStatus,
          attempt_ended_at: formatTime(attempt.endedAt),
          collector: "assisted-telemetry-collector",
          collector_version: VERSION,
          event_count: counts.total,
          host_count: g.hostCount,
          ...(options.reduction ? { reduction: options.reduction } : {}),
        });
        tripwire(g.secrets, text, "metadata.json");
        metadata = { name: `${g.id}/${ARCHIVE_LAYOUT.metadata}`, data: encoder.encode(text) };
        return [metadata];
      },
    }));
  } catch (err) {
    // The worker's scan of the streamed bytes is the tripwire for events.json.
    if (err instanceof PatternFoundError) throw new TripwireError(err.field, "events.json");
    throw err;
  }
  return { archive, counts, eventsBytes, metadata: metadata! };
}

/** The most reduction rounds before giving up. */
const MAX_ROUNDS = 8;

/**
 * Builds the archive for `attempt` from the cluster `row` already read.
 * Deterministic: the same rows and context give the same bytes. When the
 * archive is over `maxBytes`, events are cut in a fixed order, metrics
 * first, then the oldest info events, never warnings or errors, and
 * `metadata.json` records exactly what was cut.
 */
export async function buildArchive(
  sql: Queryable,
  attempt: ArchiveAttempt,
  options: { context: ArchiveContext; cluster: Row; maxBytes?: number; limitReason?: string },
): Promise<BuiltArchive> {
  const { context } = options;
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
  const g = await gather(sql, attempt, context, options.cluster);
  let cut: EventCut = NO_CUT;
  let built = await buildWith(sql, attempt, g, { context, cut });
  const full = built.counts;
  for (let round = 0; built.archive.size > maxBytes; round++) {
    if (round >= MAX_ROUNDS) throw new ArchiveTooLargeError(built.archive.size, maxBytes);
    if (!cut.dropMetrics && full.metrics > 0) {
      cut = { ...cut, dropMetrics: true };
    } else {
      if (cut.dropOldestInfo >= full.info) {
        throw new ArchiveTooLargeError(built.archive.size, maxBytes);
      }
      const perEvent = built.archive.size / Math.max(1, built.counts.total);
      const excess = built.archive.size - maxBytes * 0.97;
      const more = Math.max(1, Math.ceil((excess / perEvent) * 1.1));
      cut = { ...cut, dropOldestInfo: Math.min(full.info, cut.dropOldestInfo + more) };
    }
    const reduction = {
      reason: options.limitReason ?? "over UPLOAD_MAX_BYTES",
      limit_bytes: maxBytes,
      events_before: full.total,
      events_sent: full.total - (cut.dropMetrics ? full.metrics : 0) - cut.dropOldestInfo,
      metrics_events_dropped: cut.dropMetrics ? full.metrics : 0,
      info_events_dropped: cut.dropOldestInfo,
      info_events_dropped_through: formatTime(await lastDroppedInfoTime(sql, g.id, cut)),
      kept: "every warning, error and critical event",
    };
    built = await buildWith(sql, attempt, g, { context, cut, reduction });
  }
  return {
    archive: built.archive,
    eventCount: built.counts.total,
    hostCount: g.hostCount,
    files: [
      ...g.files.map((f) => ({ name: f.name, bytes: f.data.byteLength })),
      { name: `${g.id}/${ARCHIVE_LAYOUT.events}`, bytes: built.eventsBytes },
      { name: built.metadata.name, bytes: built.metadata.data.byteLength },
    ],
    knownSecrets: g.secrets.values(),
    reduced: cut !== NO_CUT,
  };
}
