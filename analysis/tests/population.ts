/**
 * A generated population of clusters, each with a known list of results,
 * written as SaaS export files (both S3 layouts), and the ground truth the
 * answers must equal, computed here from the inputs alone.
 */
import { createHash } from "node:crypto";
import { packTar } from "modern-tar";

const enc = new TextEncoder();

/** One generated cluster and what happened to it. */
export interface GenCluster {
  id: string;
  source: "onprem" | "saas";
  openshiftVersion: string;
  platform: string;
  haMode: "Full" | "None";
  emailDomain: string;
  createdAt: string;
  /** Results in order; each is one finished attempt. */
  results: Array<"installed" | "error" | "cancelled">;
  features: string[];
  /** OLM operators it monitors. */
  operators: string[];
  /** `Cluster`, or `AddHostsCluster` for a day-2 addition. */
  kind: "Cluster" | "AddHostsCluster";
  /** Created with aicli (tagged so). */
  aicli: boolean;
  /** The discovery image's type. */
  isoType: "full-iso" | "minimal-iso";
}

const RESULT_PATTERNS: GenCluster["results"][] = [
  ["installed"],
  ["installed"],
  ["error"],
  ["error", "installed"],
  ["cancelled"],
  ["error", "error"],
  ["cancelled", "installed"],
];

/** A deterministic UUID from a seed. */
export function uuidOf(seed: string): string {
  const h = createHash("md5").update(seed).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${
    h.slice(20, 32)
  }`;
}

/** `n` clusters of `source`, spread over versions, platforms, topologies and results. */
export function generateClusters(
  source: GenCluster["source"],
  n: number,
  seed: string = source,
): GenCluster[] {
  return Array.from({ length: n }, (_, i) => ({
    id: uuidOf(`${seed}-${i}`),
    source,
    openshiftVersion: ["4.18.4", "4.17.12", "4.18.1"][i % 3],
    platform: ["baremetal", "vsphere", "none"][i % 3 === 2 ? 2 : i % 2],
    haMode: i % 4 === 0 ? "None" : "Full",
    emailDomain: i === 1 ? "redhat.com" : "customer.example",
    createdAt: `2026-${i % 2 ? "10" : "11"}-0${1 + (i % 9)}T08:00:00.000Z`,
    results: RESULT_PATTERNS[i % RESULT_PATTERNS.length],
    features: i % 3 === 0 ? ["SNO", "STATIC_NETWORK_CONFIG"] : ["OVN_NETWORK_TYPE"],
    operators: i % 2 === 0 ? ["lso"] : [],
    kind: i % 10 === 7 ? "AddHostsCluster" : "Cluster",
    aicli: i % 5 === 1,
    isoType: i % 3 === 0 ? "minimal-iso" : "full-iso",
  }));
}

/** The metrics event assisted-service writes when an attempt ends (saas-data-shape §8). */
export function resultEvent(cluster: GenCluster, index: number): Record<string, string> {
  const result = cluster.results[index];
  const ms = String(100 + index).padStart(3, "0");
  return {
    cluster_id: cluster.id,
    event_time: `2026-11-20T1${index}:00:00.${ms}Z`,
    message: "cluster.installation.results",
    category: "metrics",
    severity: "info",
    props: JSON.stringify({
      duration: 3000 + 600 * index,
      lastState: result === "installed" ? "finalizing" : "installing",
      result,
    }),
  };
}

function featureUsage(ids: string[]): string {
  return JSON.stringify(Object.fromEntries(ids.map((id) => [id.toLowerCase(), { id, name: id }])));
}

/** A cluster as a SaaS `.clusters` record (with hosts, as the list endpoint loads them). */
export function saasClusterRecord(c: GenCluster): Record<string, unknown> {
  return {
    id: c.id,
    kind: c.kind,
    tags: c.aicli ? "aicli,lab" : "lab",
    image_info: { type: c.isoType },
    status: c.results.at(-1),
    openshift_version: c.openshiftVersion,
    platform: { type: c.platform, external: {} },
    high_availability_mode: c.haMode,
    email_domain: c.emailDomain,
    org_id: `org-${c.id.slice(0, 4)}`,
    user_id: createHash("md5").update(`user-${c.id}`).digest("hex"),
    created_at: c.createdAt,
    updated_at: "2026-11-21T00:00:00.000000Z",
    cpu_architecture: "x86_64",
    network_type: "OVNKubernetes",
    total_host_count: c.haMode === "None" ? 1 : 3,
    feature_usage: featureUsage(c.features),
    monitored_operators: [
      ...c.operators.map((name) => ({ name, operator_type: "olm", cluster_id: c.id })),
      { name: "console", operator_type: "builtin", cluster_id: c.id },
    ],
    hosts: [{
      id: uuidOf(`host-${c.id}`),
      cluster_id: c.id,
      role: "master",
      status: "installed",
      host_inventory: {
        cpu: { architecture: "x86_64", count: 16 },
        memory: { physical_bytes: 34359738368 },
        system_vendor: {
          manufacturer: "Dell Inc.",
          product_name: "PowerEdge R650",
          virtual: false,
        },
      },
    }],
  };
}

/** Python's json.dumps separators, as the scraper writes its NDJSON. */
function scraperLine(value: Record<string, unknown>): string {
  return JSON.stringify(value).replaceAll('","', '", "').replaceAll('":', '": ');
}

/**
 * Writes `clusters` as a SaaS export under `dir`: cluster records and most
 * result events in the scraper's layout (decimal event ids), and the last
 * cluster's events also in ccx-exporter's layout (one object per file, hex
 * ids, 6-digit times) so that an event exported by both is counted once.
 */
export async function writeSaasExport(
  dir: string,
  clusters: GenCluster[],
  options: { lifecycle?: boolean } = {},
): Promise<void> {
  const day = "2026-11-21";
  await Deno.mkdir(`${dir}/.clusters/${day}`, { recursive: true });
  await Deno.mkdir(`${dir}/.events/${day}`, { recursive: true });
  await Deno.mkdir(`${dir}/ccx-exporter/output-0/.events/${day}`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/.clusters/${day}/1763683200_${"a".repeat(64)}.ndjson`,
    clusters.map((c) => scraperLine(saasClusterRecord(c)) + "\n").join(""),
  );
  const lines: string[] = [];
  for (const c of clusters) {
    c.results.forEach((_, i) => {
      const e = resultEvent(c, i);
      const md5 = createHash("md5").update(e.event_time + e.cluster_id + e.message).digest("hex");
      const { category: _category, ...scraper } = e;
      lines.push(scraperLine({ ...scraper, event_id: BigInt(`0x${md5}`).toString() }) + "\n");
    });
    if (!options.lifecycle) continue;
    lifecycleEvents(c).forEach((e, i) => {
      lines.push(
        scraperLine({
          ...e,
          event_id: String(BigInt(`0x${uuidOf(`${c.id}-${i}`).replaceAll("-", "")}`)),
        }) + "\n",
      );
    });
  }
  await Deno.writeTextFile(
    `${dir}/.events/${day}/1763683200_${"b".repeat(64)}.ndjson`,
    lines.join(""),
  );
  const last = clusters.at(-1)!;
  for (let i = 0; i < last.results.length; i++) {
    const e = resultEvent(last, i);
    const md5 = createHash("md5").update(e.event_time + e.cluster_id + e.message).digest("hex");
    const sorted = Object.fromEntries(
      Object.entries({ ...e, event_id: md5, event_time: e.event_time.replace("Z", "000Z") }).sort(),
    );
    await Deno.writeTextFile(
      `${dir}/ccx-exporter/output-0/.events/${day}/${md5}.ndjson`,
      JSON.stringify(sorted),
    );
  }
}

/** The reason a generated failed attempt gives (one of three templates). */
export function failureReason(c: GenCluster): string {
  const reasons = [
    "Timeout while waiting for cluster operators to be available",
    "Timeout while waiting for hosts to boot",
    "cluster has hosts in error",
  ];
  return reasons[Number.parseInt(c.id.slice(0, 2), 16) % reasons.length];
}

/**
 * The user and metrics events around a cluster's attempts, as assisted-service
 * writes them: registration, hosts, the trigger, completion or failure with
 * its reason, and one host stage duration per attempt.
 */
export function lifecycleEvents(c: GenCluster): Array<Record<string, string>> {
  const day = c.createdAt.slice(0, 10);
  const at = (h: number, m = 0) =>
    `${day}T${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}:00.000Z`;
  const user = (time: string, name: string, message: string, severity = "info") => ({
    cluster_id: c.id,
    event_time: time,
    name,
    message,
    category: "user",
    severity,
  });
  const out: Array<Record<string, string>> = [
    user(at(8), "cluster_registration_succeeded", `Successfully registered cluster ${c.id}`),
    user(at(8, 5), "host_registration_succeeded", "Host master-0: Successfully registered"),
  ];
  c.results.forEach((result, i) => {
    out.push(
      user(at(9 + i), "cluster_status_updated", "Updated status of the cluster to installing"),
      {
        cluster_id: c.id,
        host_id: uuidOf(`host-${c.id}`),
        event_time: at(9 + i, 30),
        message: "host.stage.duration",
        category: "metrics",
        severity: "info",
        props: JSON.stringify({
          host_stage: "Writing image to disk",
          duration: 120 + (i * 30),
          result: "Done",
          vendor: "Dell Inc.",
          product: "PowerEdge R650",
          disk_type: "SSD",
          host_role: "master",
        }),
      },
    );
    if (result === "installed") {
      out.push(
        user(
          at(9 + i, 50),
          "cluster_installation_completed",
          "Successfully completed installing cluster",
        ),
      );
    } else if (result === "error") {
      out.push(
        user(
          at(9 + i, 45),
          "host_status_updated",
          "Host master-0: updated status from installing-in-progress to error (Host failed to install)",
          "error",
        ),
        user(
          at(9 + i, 50),
          "cluster_installation_failed",
          `Failed installing cluster ${c.id}. Reason: ${failureReason(c)}`,
          "critical",
        ),
      );
    }
  });
  return out;
}

/** The success-rate row the answers must hold for a set of clusters (§1.1 and §1.2). */
export function expectedSuccess(clusters: GenCluster[]): Record<string, number> {
  const any = (c: GenCluster, r: string) => c.results.includes(r as never);
  const count = (r: string) =>
    clusters.reduce((n, c) => n + c.results.filter((x) => x === r).length, 0);
  const installed = clusters.filter((c) => any(c, "installed")).length;
  const n = clusters.filter((c) => any(c, "installed") || any(c, "error")).length;
  return {
    clusters_installed: installed,
    clusters_error: clusters.filter((c) => any(c, "error")).length,
    attempts_installed: count("installed"),
    attempts_error: count("error"),
    attempts_cancelled: count("cancelled"),
    n,
    success_rate: Math.round((installed / n) * 10000) / 10000,
  };
}

/** Gzips bytes. */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A tar.gz of `files` (name → text or bytes). */
export async function archive(files: Record<string, string | Uint8Array>): Promise<Uint8Array> {
  const tar = await packTar(
    Object.entries(files).map(([name, body]) => {
      const data = typeof body === "string" ? enc.encode(body) : body;
      return { header: { name, size: data.byteLength, type: "file" as const }, body: data };
    }),
  );
  return await gzip(tar);
}

/**
 * One on-prem archive of a generated cluster, as our collector packs it after
 * its last attempt: cluster, hosts, every event (results and lifecycle), the
 * deployment's metadata and versions.
 */
export async function onpremArchive(
  c: GenCluster,
  options: { deploymentType?: string; failureMessage?: string; hostCpus?: number } = {},
): Promise<Uint8Array> {
  const events = [
    ...lifecycleEvents(c).map((e) =>
      options.failureMessage && e.name === "cluster_installation_failed"
        ? { ...e, message: options.failureMessage }
        : e
    ),
    ...c.results.map((_, i) => resultEvent(c, i)),
  ];
  return await archive({
    [`${c.id}/events/cluster.json`]: JSON.stringify({
      id: c.id,
      kind: c.kind,
      tags: c.aicli ? "aicli" : "",
      openshift_version: c.openshiftVersion,
      platform: { type: c.platform },
      high_availability_mode: c.haMode,
      email_domain: c.emailDomain,
      created_at: c.createdAt,
      cpu_architecture: "x86_64",
      network_type: "OVNKubernetes",
      feature_usage: featureUsage(c.features),
    }),
    [`${c.id}/events/hosts.json`]: JSON.stringify([{
      id: uuidOf(`host-${c.id}`),
      cluster_id: c.id,
      role: "master",
      inventory: JSON.stringify({
        cpu: { architecture: "x86_64", count: options.hostCpus ?? 8 },
        memory: { physical_bytes: 17179869184 },
        system_vendor: { manufacturer: "HPE", product_name: "ProLiant DL360", virtual: false },
      }),
    }]),
    [`${c.id}/events/infraenv.json`]: JSON.stringify({
      id: uuidOf(`env-${c.id}`),
      type: c.isoType,
    }),
    [`${c.id}/events.json`]: JSON.stringify(events),
    [`${c.id}/versions.json`]: JSON.stringify({
      "assisted-installer-service": "quay.io/edge-infrastructure/assisted-service:v2.40",
    }),
    [`${c.id}/metadata.json`]: JSON.stringify({
      "assisted-installer-service": "quay.io/edge-infrastructure/assisted-service:v2.40",
      "deployment-type": options.deploymentType ?? "MCE",
      "deployment-version": "2.8.0",
      "git-ref": "abc",
    }),
  });
}
