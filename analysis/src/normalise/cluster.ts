/**
 * What the questions need of a cluster record, read the same way from an
 * on-prem `cluster.json`, a SaaS `.clusters` record or a stream snapshot.
 */

/** Domains of Red Hat's own and partners' test users (analysis-questions §4, Weekly Report). */
export const INTERNAL_DOMAINS: readonly string[] = [
  "redhat.com",
  "ibm.com",
  "fr.ibm.com",
  "juniper.net",
];

/** Whether an e-mail domain belongs to an internal or test user. */
export function isInternal(domain: string | null): boolean {
  if (!domain) return false;
  const d = domain.toLowerCase();
  return INTERNAL_DOMAINS.includes(d) || d.endsWith(".ibm.com");
}

/** The cluster facts every attempt of it carries. */
export interface ClusterFacts {
  clusterId: string;
  orgId: string | null;
  userId: string | null;
  emailDomain: string | null;
  createdAt: string | null;
  openshiftVersion: string | null;
  platform: string | null;
  haMode: string | null;
  hostCount: number | null;
  cpuArchitecture: string | null;
  networkType: string | null;
  userManagedNetworking: boolean | null;
  features: string[];
  /** Names of the OLM operators it monitors (from `monitored_operators`). */
  operators: string[];
  /** Both IPv4 and IPv6 cluster networks: dual-stack. Null when unknown. */
  dualStack: boolean | null;
  status: string | null;
  /** `Cluster`, or `AddHostsCluster` for day-2 additions to an installed cluster. */
  kind: string | null;
  /** Created by the aicli tool: its tag in `tags` (comma-separated, as OpenSearch tokenises it). */
  aicli: boolean;
  /** The discovery image's type (`full-iso`, `minimal-iso`, …): the infra env's `type`. */
  isoType: string | null;
}

/** OLM operator names from `monitored_operators` (on-prem archives and SaaS records alike). */
export function operatorNames(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  const names = value.filter((op) => op?.operator_type === "olm" && typeof op?.name === "string")
    .map((op) => String(op.name));
  return [...new Set(names)].sort();
}

/** Dual-stack from the archive's `network_shape`, or from SaaS `cluster_networks` CIDRs. */
export function dualStackOf(cluster: Record<string, unknown>): boolean | null {
  const shape = (cluster.network_shape as Record<string, { ipv4?: number; ipv6?: number }>)
    ?.cluster_networks;
  if (shape) return (shape.ipv4 ?? 0) > 0 && (shape.ipv6 ?? 0) > 0;
  if (Array.isArray(cluster.cluster_networks)) {
    const cidrs = cluster.cluster_networks.map((n) => String(n?.cidr ?? ""));
    return cidrs.some((c) => c.includes(":")) && cidrs.some((c) => c.includes("."));
  }
  return null;
}

type Json = Record<string, unknown>;

function str(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

/** Feature ids from `feature_usage`: a JSON string (or object) mapping names to `{id, name}`. */
export function featureIds(value: unknown): string[] {
  let parsed = value;
  if (typeof value === "string") {
    try {
      parsed = JSON.parse(value);
    } catch {
      return [];
    }
  }
  if (!parsed || typeof parsed !== "object") return [];
  const ids = Object.entries(parsed as Json).map(([name, v]) =>
    str((v as Json | null)?.id) ?? name.toUpperCase().replace(/[^A-Z0-9]+/g, "_")
  );
  return [...new Set(ids)].sort();
}

/** Reads the facts of a cluster record; `hostCount` falls back to the hosts seen. */
export function clusterFacts(
  cluster: Json,
  options: { hostsSeen?: number; isoType?: unknown } = {},
): ClusterFacts {
  const platform = cluster.platform as Json | undefined;
  const counted = [cluster.total_host_count, cluster.enabled_host_count].find((v) =>
    typeof v === "number" && v > 0
  ) as number | undefined;
  const hostsArray = Array.isArray(cluster.hosts) ? cluster.hosts.length : undefined;
  const umn = cluster.user_managed_networking;
  return {
    clusterId: String(cluster.id ?? ""),
    orgId: str(cluster.org_id),
    userId: str(cluster.user_id),
    emailDomain: str(cluster.email_domain)?.toLowerCase() ?? null,
    createdAt: str(cluster.created_at),
    openshiftVersion: str(cluster.openshift_version),
    platform: str(platform?.type),
    haMode: str(cluster.high_availability_mode),
    hostCount: counted ?? options.hostsSeen ?? hostsArray ?? null,
    cpuArchitecture: str(cluster.cpu_architecture),
    networkType: str(cluster.network_type),
    userManagedNetworking: typeof umn === "boolean" ? umn : null,
    features: featureIds(cluster.feature_usage),
    operators: operatorNames(cluster.monitored_operators),
    dualStack: dualStackOf(cluster),
    status: str(cluster.status),
    kind: str(cluster.kind),
    aicli: typeof cluster.tags === "string" &&
      cluster.tags.split(",").some((t) => t.trim().toLowerCase() === "aicli"),
    isoType: str(options.isoType) ?? str((cluster.image_info as Json | undefined)?.type),
  };
}

/** One host's facts, from a host record whose `inventory` is a JSON string or an object. */
export interface HostFacts {
  hostId: string;
  role: string | null;
  status: string | null;
  finalStage: string | null;
  vendor: string | null;
  product: string | null;
  isVirtual: boolean | null;
  cpuCores: number | null;
  memoryBytes: number | null;
  cpuArchitecture: string | null;
}

/** Reads a host record (on-prem `hosts.json` entry, or a host inside a SaaS `.clusters` record). */
export function hostFacts(host: Json): HostFacts | undefined {
  const id = str(host.id);
  if (!id) return undefined;
  let inv = host.host_inventory ?? host.inventory;
  if (typeof inv === "string") {
    try {
      inv = JSON.parse(inv);
    } catch {
      inv = undefined;
    }
  }
  const i = (inv ?? {}) as Json;
  const vendor = (i.system_vendor ?? {}) as Json;
  const cpu = (i.cpu ?? {}) as Json;
  const memory = (i.memory ?? {}) as Json;
  const progress = (host.progress ?? {}) as Json;
  return {
    hostId: id,
    role: str(host.role),
    status: str(host.status),
    finalStage: str(progress.current_stage),
    vendor: str(vendor.manufacturer),
    product: str(vendor.product_name),
    isVirtual: typeof vendor.virtual === "boolean" ? vendor.virtual : null,
    cpuCores: typeof cpu.count === "number" ? cpu.count : null,
    memoryBytes: typeof memory.physical_bytes === "number" ? memory.physical_bytes : null,
    cpuArchitecture: str(cpu.architecture),
  };
}
