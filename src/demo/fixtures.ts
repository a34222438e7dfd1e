/**
 * Realistic assisted-service rows for the demo, the tests and the benchmark.
 * Defaults plant a secret or a personal value in every sensitive column, so
 * that whatever leaves can be checked for them.
 */
import type { Queryable } from "../db/mod.ts";

/** A row, keyed by column. */
export type Row = Record<string, unknown>;

/** Secrets and personal values the defaults plant; none may ever leave. */
export const PLANTED = {
  telemetryUser: "ocm-demo-user",
  telemetryPassword: "ocmTelemetryPassw0rd-planted",
  registryPassword: "quayRegistryPassw0rd-planted",
  proxyPassword: "proxyPassw0rd-planted",
  bmcPassword: "bmcPassw0rd-planted",
  ignitionToken: "ignitionTokenPlanted0123456789",
  imageToken: "imageTokenPlanted0123456789abcdef",
  imageTokenKey: "imageTokenKeyPlanted0123456789",
  apiKey: "apiKeyPlanted0123456789abcdef",
  overrideSecret: "installConfigOverrideSecret-planted",
  ignitionOverrideSecret: "ignitionOverrideSecret-planted",
  sshKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlantedSshKeyMaterial demo@example.com",
  email: "jane.doe@customer.example",
  serial: "SERIAL-PLANTED-0042",
  mac: "52:54:00:ab:cd:ef",
  bmcAddress: "bmc-planted.customer.example",
} as const;

/** A pull secret; without telemetry it lacks the `cloud.openshift.com` entry (opted out). */
export function pullSecret(
  options: { telemetry?: boolean; user?: string; password?: string } = {},
): string {
  const auths: Record<string, unknown> = {
    "quay.io": { auth: btoa(`quay-user:${PLANTED.registryPassword}`), email: PLANTED.email },
  };
  if (options.telemetry ?? true) {
    auths["cloud.openshift.com"] = {
      auth: btoa(
        `${options.user ?? PLANTED.telemetryUser}:${options.password ?? PLANTED.telemetryPassword}`,
      ),
      email: PLANTED.email,
    };
  }
  return JSON.stringify({ auths });
}

/** The upload token the default pull secret yields. */
export function telemetryToken(): string {
  return btoa(`${PLANTED.telemetryUser}:${PLANTED.telemetryPassword}`);
}

/** A finished cluster. `status_updated_at` defaults to the database's now at insert. */
export function clusterRow(id: string, overrides: Row = {}): Row {
  return {
    id,
    href: `/api/assisted-install/v2/clusters/${id}`,
    kind: "Cluster",
    name: `demo-${id.slice(0, 8)}`,
    status: "installed",
    status_info: "Cluster is installed",
    openshift_version: "4.16.3",
    ocp_release_image: "quay.io/openshift-release-dev/ocp-release:4.16.3-x86_64",
    cpu_architecture: "x86_64",
    high_availability_mode: "Full",
    control_plane_count: 3,
    base_dns_domain: "customer.example",
    cluster_network_cidr: "10.128.0.0/14",
    cluster_network_host_prefix: 23,
    service_network_cidr: "172.30.0.0/16",
    machine_network_cidr: "192.168.122.0/24",
    network_type: "OVNKubernetes",
    platform_type: "baremetal",
    http_proxy: `http://proxyuser:${PLANTED.proxyPassword}@proxy.customer.example:3128`,
    https_proxy: `http://proxyuser:${PLANTED.proxyPassword}@proxy.customer.example:3128`,
    no_proxy: "internal.customer.example,10.0.0.0/8",
    install_config_overrides: JSON.stringify({
      networking: { networkType: "OVNKubernetes" },
      fips: true,
      additionalTrustBundle: PLANTED.overrideSecret,
    }),
    feature_usage: JSON.stringify({
      "Static Network Config": { id: "STATIC_NETWORK_CONFIG", name: "Static Network Config" },
    }),
    validations_info: JSON.stringify({
      network: [{
        id: "api-vips-defined",
        status: "success",
        message: "API virtual IPs are defined.",
      }],
    }),
    image_download_url:
      `https://images.customer.example/images/x?api_key=${PLANTED.apiKey}&type=full-iso`,
    image_ssh_public_key: PLANTED.sshKey,
    image_size_bytes: 1_234_567_890,
    image_type: "full-iso",
    ssh_public_key: PLANTED.sshKey,
    pull_secret: pullSecret(),
    pull_secret_set: true,
    user_name: PLANTED.telemetryUser,
    email_domain: "customer.example",
    org_id: "12345678",
    tags: `owner ${PLANTED.email}`,
    ignition_endpoint_url: "https://ignition.customer.example:22623",
    api_vip_lease: PLANTED.mac,
    ui_settings: JSON.stringify({ secret: PLANTED.overrideSecret }),
    progress_total_percentage: 100,
    progress_installing_stage_percentage: 100,
    install_started_at: "2026-11-27T10:00:00.123456Z",
    install_completed_at: "2026-11-27T11:02:03.456789Z",
    created_at: "2026-11-27T09:00:00.000001Z",
    updated_at: "2026-11-27T11:02:03.456789Z",
    user_managed_networking: false,
    vip_dhcp_allocation: false,
    load_balancer_type: "cluster-managed",
    last_installation_preparation_status: "success",
    ...overrides,
  };
}

/** An infra env bound to a cluster. */
export function infraEnvRow(id: string, clusterId: string | null, overrides: Row = {}): Row {
  return {
    id,
    href: `/api/assisted-install/v2/infra-envs/${id}`,
    kind: "InfraEnv",
    name: `demo-infra-env-${id.slice(0, 8)}`,
    type: "full-iso",
    cluster_id: clusterId,
    cpu_architecture: "x86_64",
    openshift_version: "4.16",
    download_url:
      `https://images.customer.example/bytoken/${PLANTED.imageToken}/4.16/x86_64/full.iso?api_key=${PLANTED.apiKey}`,
    pull_secret: pullSecret(),
    pull_secret_set: true,
    image_token_key: PLANTED.imageTokenKey,
    ssh_authorized_key: PLANTED.sshKey,
    proxy_http_proxy: `http://proxyuser:${PLANTED.proxyPassword}@proxy.customer.example:3128`,
    proxy_https_proxy: "",
    proxy_no_proxy: "internal.customer.example",
    static_network_config: JSON.stringify([{ mac: PLANTED.mac, ip: "192.168.122.10" }]),
    kernel_arguments: JSON.stringify([{
      operation: "append",
      value: "ip=192.168.122.10::192.168.122.1",
    }]),
    ignition_config_override: JSON.stringify({
      ignition: { version: "3.1.0" },
      storage: {
        files: [{
          path: "/etc/x",
          contents: { source: `data:,${PLANTED.ignitionOverrideSecret}` },
        }],
      },
    }),
    user_name: PLANTED.telemetryUser,
    email_domain: "customer.example",
    org_id: "12345678",
    size_bytes: 1_234_567_890,
    expires_at: "2026-11-28T09:00:00Z",
    created_at: "2026-11-27T09:00:00.5Z",
    updated_at: "2026-11-27T09:00:01Z",
    ...overrides,
  };
}

function inventory(index: number): string {
  return JSON.stringify({
    hostname: `master-${index}.customer.example`,
    bmc_address: PLANTED.bmcAddress,
    bmc_v6address: "fe80::1",
    cpu: {
      architecture: "x86_64",
      count: 16,
      frequency: 2400,
      model_name: "Intel Xeon",
      flags: ["vmx"],
    },
    memory: { physical_bytes: 68_719_476_736, usable_bytes: 67_000_000_000 },
    disks: [{
      name: "sda",
      path: "/dev/sda",
      by_id: `/dev/disk/by-id/wwn-${PLANTED.serial}`,
      serial: PLANTED.serial,
      drive_type: "SSD",
      size_bytes: 480_000_000_000,
      vendor: "ATA",
      model: "SSD 480",
      bootable: true,
    }],
    interfaces: [{
      name: "eno1",
      mac_address: PLANTED.mac,
      ipv4_addresses: [`192.168.122.${10 + index}/24`],
      speed_mbps: 10000,
      vendor: "0x8086",
      product: "0x1572",
    }],
    system_vendor: {
      manufacturer: "Dell Inc.",
      product_name: "PowerEdge R640",
      serial_number: PLANTED.serial,
      virtual: false,
    },
    boot: { current_boot_mode: "uefi" },
    routes: [{ destination: "0.0.0.0", gateway: "192.168.122.1" }],
  });
}

/** A host of a cluster. */
export function hostRow(
  id: string,
  clusterId: string,
  infraEnvId: string,
  index: number,
  overrides: Row = {},
): Row {
  return {
    id,
    infra_env_id: infraEnvId,
    cluster_id: clusterId,
    href: `/api/assisted-install/v2/infra-envs/${infraEnvId}/hosts/${id}`,
    kind: "Host",
    status: "installed",
    status_info: "Done",
    role: index < 3 ? "master" : "worker",
    suggested_role: index < 3 ? "master" : "worker",
    bootstrap: index === 0,
    requested_hostname: `node-${index}.customer.example`,
    inventory: inventory(index),
    connectivity: JSON.stringify({
      remote_hosts: [{ host_id: id, l2_connectivity: [{ remote_mac: PLANTED.mac }] }],
    }),
    free_addresses: JSON.stringify([{
      network: "192.168.122.0/24",
      free_addresses: ["192.168.122.200"],
    }]),
    domain_name_resolutions: JSON.stringify({
      resolutions: [{ domain_name: "api.customer.example", ipv4_addresses: ["192.168.122.5"] }],
    }),
    fencing_credentials: JSON.stringify({
      address: `redfish://${PLANTED.bmcAddress}`,
      username: "root",
      password: PLANTED.bmcPassword,
    }),
    ignition_endpoint_token: PLANTED.ignitionToken,
    ignition_endpoint_token_set: true,
    ignition_endpoint_http_headers: JSON.stringify({
      Authorization: `Bearer ${PLANTED.ignitionToken}`,
    }),
    ignition_config_overrides: JSON.stringify({
      passwd: { users: [{ name: "core", passwordHash: PLANTED.ignitionOverrideSecret }] },
    }),
    installer_args: JSON.stringify(["--append-karg", `nameserver=192.168.122.1`, "--copy-network"]),
    installation_disk_id: `/dev/disk/by-id/wwn-${PLANTED.serial}`,
    installation_disk_path: "/dev/sda",
    discovery_agent_version:
      "registry.redhat.io/rhai-tech-preview/assisted-installer-agent-rhel8:v1.0.0",
    installer_version: "registry.redhat.io/rhai-tech-preview/assisted-installer-rhel8:v1.0.0",
    disks_info: JSON.stringify({
      "/dev/sda": { disk_speed: { tested: true, speed_ms: 3 }, path: "/dev/sda" },
    }),
    images_status: JSON.stringify({
      "quay.io/ocp/release": {
        name: "quay.io/ocp/release",
        result: "success",
        download_rate: 100.5,
      },
    }),
    validations_info: JSON.stringify({
      hardware: [{
        id: "has-inventory",
        status: "success",
        message: "Valid inventory exists for the host",
      }],
    }),
    user_name: PLANTED.telemetryUser,
    progress_current_stage: "Done",
    progress_installation_percentage: 100,
    progress_progress_info: "",
    timestamp: 1_795_000_000 + index,
    checked_in_at: "2026-11-27T11:00:00.999999Z",
    registered_at: "2026-11-27T09:10:00Z",
    status_updated_at: "2026-11-27T11:00:00.123Z",
    created_at: "2026-11-27T09:10:00.1Z",
    updated_at: "2026-11-27T11:00:00.123456Z",
    ...overrides,
  };
}

const HOST_MESSAGES = [
  "Host {h}: registered to cluster",
  "Host {h}: updated status from discovering to known (Host is ready to be installed)",
  "Host {h}: validation 'ntp-synced' is now fixed",
  "Host {h}: updated status from installing to installing-in-progress (Writing image to disk)",
  "Host {h}: reached installation stage Rebooting",
  "Host {h}: updated status from installing-in-progress to installed (Done)",
];

/**
 * Inserts `count` events for a cluster in one statement: host progress
 * messages cycling over `hosts`, some metrics, and a few that mention an
 * e-mail address or a tokenised URL, spread over the install's hour.
 */
export async function insertEvents(
  sql: Queryable,
  clusterId: string,
  options: { count: number; hostIds: string[]; start?: string },
): Promise<void> {
  const hostIds = options.hostIds.length > 0 ? options.hostIds : [null];
  await sql`
    INSERT INTO events (cluster_id, host_id, category, name, severity, event_time, message, props, request_id, created_at)
    SELECT ${clusterId},
      (${hostIds as string[]}::text[])[1 + (n % ${hostIds.length})],
      CASE WHEN n % 10 = 9 THEN 'metrics' ELSE 'user' END,
      CASE WHEN n % 10 = 9 THEN 'host.stage.duration' ELSE 'host_status_updated' END,
      CASE WHEN n % 97 = 0 THEN 'warning' WHEN n % 199 = 0 THEN 'error' ELSE 'info' END,
      ${
    options.start ?? "2026-11-27T10:00:00Z"
  }::timestamptz + (n * interval '1 millisecond' * 3599) + (n % 7) * interval '1 microsecond',
      CASE
        WHEN n % 500 = 1 THEN 'User ' || ${PLANTED.email} || ' started the installation'
        WHEN n % 500 = 2 THEN 'Image download https://images.customer.example/bytoken/' || ${PLANTED.imageToken} || '/full.iso?api_key=' || ${PLANTED.apiKey}
        ELSE replace((${HOST_MESSAGES}::text[])[1 + (n % ${HOST_MESSAGES.length})], '{h}', 'node-' || (n % ${hostIds.length}))
      END,
      CASE WHEN n % 10 = 9 THEN '{"duration_ms":' || (n % 1000) || ',"stage":"Writing image to disk"}' ELSE '' END,
      md5(n::text)::uuid::text,
      now()
    FROM generate_series(1, ${options.count}) AS n`;
}

/** Inserts rows into `table` (one statement), using the union of their keys. */
export async function insertRows(sql: Queryable, table: string, rows: Row[]): Promise<void> {
  if (rows.length === 0) return;
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  // deno-lint-ignore no-explicit-any
  const full: Record<string, any>[] = rows.map((r) =>
    Object.fromEntries(columns.map((c) => [c, r[c] ?? null]))
  );
  await sql`INSERT INTO ${sql(table)} ${sql(full, columns)}`;
}

/** A cluster with `hosts` hosts, one infra env and `events` events. Returns the host ids. */
export async function seedCluster(
  sql: Queryable,
  id: string,
  options: { hosts?: number; events?: number; cluster?: Row } = {},
): Promise<string[]> {
  const infraEnvId = crypto.randomUUID();
  const hostIds = Array.from({ length: options.hosts ?? 3 }, () => crypto.randomUUID());
  await insertRows(sql, "infra_envs", [infraEnvRow(infraEnvId, id)]);
  await insertRows(sql, "hosts", hostIds.map((h, i) => hostRow(h, id, infraEnvId, i)));
  await insertEvents(sql, id, { count: options.events ?? 50, hostIds });
  // The cluster last, with the database's clock, as assisted-service marks the attempt's end.
  await insertRows(sql, "clusters", [clusterRow(id, options.cluster)]);
  if (!options.cluster || !("status_updated_at" in options.cluster)) {
    await sql`UPDATE clusters SET status_updated_at = clock_timestamp() WHERE id = ${id}`;
  }
  return hostIds;
}
