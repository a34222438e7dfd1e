/**
 * The allow-lists: the single source of truth for what leaves. Each entity
 * lists the keys it writes, the column each comes from, how it is encoded
 * and how it is treated. A column not listed here is dropped, so a column
 * that assisted-service adds tomorrow is dropped, not leaked.
 */
/** How a Go field type serialises. */
export type Encoding =
  | "string" // string, omitempty: absent when NULL or ""
  | "stringAlways" // always present, null when NULL
  | "stringPtr" // *string, omitempty: absent when NULL, "" kept
  | "bool" // bool, omitempty: only true is written
  | "boolPtr" // *bool, omitempty: true or false, absent when NULL
  | "int" // int64, omitempty: absent when 0 or NULL
  | "intPtr" // *int64, omitempty: absent when NULL, 0 kept
  | "dateTime" // strfmt.DateTime: always, milliseconds, zero time when NULL
  | "dateTimePtr" // *strfmt.DateTime: milliseconds, or null
  | "time" // time.Time: always, RFC 3339 with trimmed fraction
  | "timePtr" // *time.Time: RFC 3339, or null
  | "list" // a list built by its treatment, absent when there is none
  | "object"; // an object built by its treatment, absent when there is none

/** What happens to a listed value before it is written. */
export type Treatment =
  | "keep" // written as stored (still scrubbed as text, as a second line of defence)
  | "network" // kept, or pseudonymised under OBFUSCATE=networking
  | "text" // free text: credentials removed, e-mail addresses hashed
  | "json" // JSON in a text column: secret keys redacted, strings scrubbed
  | "userId" // user_name becomes the scraper's FNV-1a user_id
  | "proxy" // proxy URL becomes its scheme and whether it had credentials
  | "keyPaths" // free-form JSON becomes the list of keys it sets
  | "args" // installer arguments become their flags
  | "kernelArgs" // kernel arguments become operation and name
  | "inventory" // hardware facts only
  | "presence" // whether it was set, as a boolean
  | "message" // an event message, read through its name's template (event_templates.ts)
  | "metricProps" // a metrics event's props: only the keys its metric defines (METRIC_PROPS)
  | "diskName" // a plain device path, or "[disk id]" (by-id and WWN names carry serials)
  | "disksInfo" // JSON keyed by disk name: keys and paths as diskName, values scrubbed
  | "operators" // monitored operators: the OPERATOR keys of each
  | "networkShape"; // how many VIPs and networks, per address family; no addresses

/** One allowed output key. */
export interface FieldRule {
  /** Output key; dots nest into objects (`image_info.size_bytes`). */
  key: string;
  /** Source column. */
  column: string;
  encoding: Encoding;
  treatment: Treatment;
}

/** An entity's allow-list and the columns it deliberately leaves out. */
export interface EntityPolicy {
  /** Archive file the entity is written to. */
  file: string;
  fields: FieldRule[];
  /** Nested objects always present, even when empty (GORM allocates them). */
  objects: string[];
  /** Known columns that never leave, with the reason: documentation, not logic. */
  dropped: Record<string, string>;
  /** Keys always written with a fixed value, whatever the row holds (the consumer expects them). */
  fixed?: Record<string, null>;
}

/**
 * The props each metric defines (saas-data-shape §8), the only ones that
 * leave; a user event's props and an unknown metric's leave as `{}`.
 */
export const METRIC_PROPS: Readonly<Record<string, readonly string[]>> = {
  "cluster.installation.results": ["duration", "lastState", "result"],
  "host.stage.duration": [
    "disk_type",
    "duration",
    "host_role",
    "host_stage",
    "product",
    "result",
    "vendor",
  ],
  "host.mem.cpu": ["core_count", "host_result", "host_role", "mem_bytes"],
  "disk.size.type": ["disk_size", "disk_type", "host_result", "host_role"],
  "nic.speed": ["host_result", "host_role", "nic_speed"],
  "nic.virtual_interfaces": ["count", "types"],
  "nic.physical_interfaces": ["count"],
  "host_monitor.slow_host": ["duration"],
  "cluster_monitor.slow_cluster": ["duration"],
  "installercache.release.metrics": [
    "cached",
    "end_time",
    "extract_duration",
    "release_id",
    "start_time",
  ],
};

/** What leaves of each monitored operator (treatment `operators`). */
export const OPERATOR_KEYS: readonly string[] = [
  "name",
  "version",
  "operator_type",
  "namespace",
  "bundles",
];

/** The networking a cluster's shape counts (treatment `networkShape`), per address family. */
export const NETWORK_SHAPE_PARTS: readonly string[] = [
  "api_vips",
  "ingress_vips",
  "cluster_networks",
  "machine_networks",
  "service_networks",
];

/** One key of a host inventory that leaves, and what of it. */
export interface InventoryRule {
  key: string;
  /** An object or a list of objects keeps only `keys` (scalars); a scalar keeps its type. */
  kind: "object" | "list" | "string" | "number";
  keys?: string[];
}

/** What a host inventory keeps (treatment `inventory`): hardware facts only, in this order. */
export const INVENTORY: readonly InventoryRule[] = [
  { key: "cpu", kind: "object", keys: ["architecture", "count", "frequency", "model_name"] },
  {
    key: "memory",
    kind: "object",
    keys: ["physical_bytes", "usable_bytes", "physical_bytes_method"],
  },
  {
    key: "disks",
    kind: "list",
    keys: [
      "drive_type",
      "size_bytes",
      "vendor",
      "model",
      "bootable",
      "removable",
      "is_installation_media",
    ],
  },
  { key: "interfaces", kind: "list", keys: ["speed_mbps", "type", "vendor", "product", "mtu"] },
  { key: "system_vendor", kind: "object", keys: ["manufacturer", "product_name", "virtual"] },
  { key: "boot", kind: "object", keys: ["current_boot_mode", "secure_boot_state"] },
  { key: "gpus", kind: "list", keys: ["vendor", "vendor_id", "device_id", "name"] },
  { key: "tpm_version", kind: "string" },
  { key: "timestamp", kind: "number" },
];

/** GORM's embedded prefixes where they differ from the JSON key. */
const PREFIXES: Array<[string, string]> = [
  ["image_info.", "image_"],
  ["last-installation-preparation.", "last_installation_preparation_"],
];

function columnFor(key: string): string {
  for (const [from, to] of PREFIXES) if (key.startsWith(from)) return to + key.slice(from.length);
  return key.replaceAll(".", "_");
}

function rule(
  key: string,
  encoding: Encoding,
  treatment: Treatment = "keep",
  column?: string,
): FieldRule {
  return { key, column: column ?? columnFor(key), encoding, treatment };
}

const SECRET = "secret: never leaves";
const NETWORK = "internal addresses or names";

/** `cluster.json`. */
export const CLUSTER: EntityPolicy = {
  file: "events/cluster.json",
  fixed: { deleted_at: null },
  objects: [
    "image_info",
    "progress",
    "platform",
    "platform.external",
    "ignition_endpoint",
    "disk_encryption",
    "load_balancer",
    "last-installation-preparation",
  ],
  fields: [
    rule("id", "stringAlways"),
    rule("href", "stringAlways"),
    rule("kind", "stringAlways"),
    rule("status", "stringAlways"),
    rule("status_info", "stringAlways", "text"),
    rule("name", "string", "text"),
    rule("openshift_version", "string"),
    rule("ocp_release_image", "string", "text"),
    rule("cpu_architecture", "string"),
    rule("high_availability_mode", "stringPtr"),
    rule("control_plane_count", "int"),
    rule("hyperthreading", "string"),
    rule("network_type", "stringPtr"),
    rule("base_dns_domain", "string", "network"),
    rule("api_vip_dns_name", "stringPtr", "network"),
    rule("cluster_network_cidr", "string", "network"),
    rule("cluster_network_host_prefix", "int"),
    rule("service_network_cidr", "string", "network"),
    rule("machine_network_cidr", "string", "network"),
    rule("http_proxy", "string", "proxy"),
    rule("https_proxy", "string", "proxy"),
    rule("install_config_overrides", "string", "keyPaths"),
    rule("feature_usage", "string", "json"),
    rule("validations_info", "string", "json"),
    rule("connectivity_majority_groups", "string", "json"),
    rule("logs_info", "string"),
    rule("tags", "string", "text"),
    rule("email_domain", "string"),
    rule("org_id", "string"),
    rule("user_id", "stringAlways", "userId", "user_name"),
    // Not columns: what the API computes or nests, read from the hosts and relation tables.
    rule("monitored_operators", "list", "operators"),
    rule("total_host_count", "int"),
    rule("enabled_host_count", "int"),
    rule("ready_host_count", "int"),
    rule("network_shape", "object", "networkShape"),
    rule("ams_subscription_id", "string"),
    rule("openshift_cluster_id", "string"),
    rule("org_soft_timeouts_enabled", "bool"),
    rule("pull_secret_set", "bool"),
    rule("imported", "boolPtr"),
    rule("schedulable_masters", "boolPtr"),
    rule("schedulable_masters_forced_true", "boolPtr"),
    rule("user_managed_networking", "boolPtr"),
    rule("vip_dhcp_allocation", "boolPtr"),
    rule("controller_logs_collected_at", "dateTime"),
    rule("controller_logs_started_at", "dateTime"),
    rule("install_started_at", "dateTime"),
    rule("install_completed_at", "dateTime"),
    rule("status_updated_at", "dateTime"),
    rule("created_at", "time"),
    rule("updated_at", "time"),
    rule("image_info.created_at", "time"),
    rule("image_info.expires_at", "dateTime"),
    rule("image_info.size_bytes", "intPtr"),
    rule("image_info.generator_version", "string"),
    rule("image_info.type", "string"),
    rule("progress.finalizing_stage", "string"),
    rule("progress.finalizing_stage_percentage", "int"),
    rule("progress.installing_stage_percentage", "int"),
    rule("progress.preparing_for_installation_stage_percentage", "int"),
    rule("progress.total_percentage", "int"),
    rule("progress.finalizing_stage_started_at", "dateTime"),
    rule("progress.finalizing_stage_timed_out", "bool"),
    rule("platform.type", "stringAlways"),
    rule("platform.external.platform_name", "stringPtr"),
    rule("platform.external.cloud_controller_manager", "stringPtr"),
    rule("disk_encryption.enable_on", "stringPtr"),
    rule("disk_encryption.mode", "stringPtr"),
    rule("load_balancer.type", "string"),
    rule("last-installation-preparation.reason", "string", "text"),
    rule("last-installation-preparation.status", "string"),
  ],
  dropped: {
    pull_secret: SECRET,
    user_name: "replaced by user_id",
    ssh_public_key: "user key material",
    image_ssh_public_key: "user key material",
    image_download_url: "may carry an image token",
    image_static_network_config: NETWORK,
    no_proxy: NETWORK,
    ntp_sources: NETWORK,
    additional_ntp_source: NETWORK,
    ip_collisions: NETWORK,
    ignition_endpoint_url: NETWORK,
    ignition_endpoint_ca_certificate: "customer CA",
    disk_encryption_tang_servers: NETWORK,
    api_vip_lease: NETWORK,
    ingress_vip_lease: NETWORK,
    ignored_cluster_validations: "never written upstream",
    ignored_host_validations: "never written upstream",
    proxy_hash: "internal",
    kube_key_name: "internal",
    kube_key_namespace: "internal",
    ui_settings: "internal",
    mirror_registry_configuration: "internal registry configuration",
    uploaded: "internal",
  },
};

/** Each entry of `hosts.json`. */
export const HOST: EntityPolicy = {
  file: "events/hosts.json",
  fixed: { deleted_at: null },
  objects: ["progress"],
  fields: [
    rule("id", "stringAlways"),
    rule("href", "stringAlways"),
    rule("kind", "stringAlways"),
    rule("status", "stringAlways"),
    rule("status_info", "stringAlways", "text"),
    rule("cluster_id", "stringAlways"),
    rule("infra_env_id", "string"),
    rule("role", "string"),
    rule("suggested_role", "string"),
    rule("bootstrap", "bool"),
    rule("requested_hostname", "string", "network"),
    rule("discovery_agent_version", "string"),
    rule("installer_version", "string"),
    rule("installation_disk_path", "string", "diskName"),
    rule("machine_config_pool_name", "string"),
    rule("media_status", "stringPtr"),
    rule("logs_info", "string"),
    rule("inventory", "string", "inventory"),
    rule("disks_info", "string", "disksInfo"),
    rule("images_status", "string", "json"),
    rule("validations_info", "string", "json"),
    rule("installer_args", "string", "args"),
    rule("ignition_config_overrides", "string", "keyPaths"),
    rule("node_labels", "string", "keyPaths"),
    rule("fencing_credentials_set", "bool", "presence", "fencing_credentials"),
    rule("user_id", "stringAlways", "userId", "user_name"),
    rule("connection_timed_out", "bool"),
    rule("ignition_endpoint_token_set", "bool"),
    rule("timestamp", "int"),
    rule("checked_in_at", "dateTime"),
    rule("registered_at", "dateTime"),
    rule("logs_collected_at", "dateTime"),
    rule("logs_started_at", "dateTime"),
    rule("stage_started_at", "dateTime"),
    rule("stage_updated_at", "dateTime"),
    rule("status_updated_at", "dateTime"),
    rule("created_at", "time"),
    rule("updated_at", "time"),
    rule("progress.current_stage", "string"),
    rule("progress.progress_info", "string", "text"),
    rule("progress.installation_percentage", "int"),
    rule("progress.stage_started_at", "dateTime"),
    rule("progress.stage_updated_at", "dateTime"),
    rule("progress.stage_timed_out", "bool"),
  ],
  dropped: {
    fencing_credentials: "BMC address, user and password: replaced by fencing_credentials_set",
    ignition_endpoint_token: SECRET,
    ignition_endpoint_http_headers: SECRET,
    user_name: "replaced by user_id",
    connectivity: NETWORK,
    api_vip_connectivity: NETWORK,
    domain_name_resolutions: NETWORK,
    free_addresses: NETWORK,
    tang_connectivity: NETWORK,
    ntp_sources: NETWORK,
    installation_disk_id: "disk serial numbers",
    disks_to_be_formatted: "disk serial numbers",
    skip_formatting_disks: "disk serial numbers",
    approved: "internal",
    kube_key_namespace: "internal",
    trigger_monitor_timestamp: "internal",
  },
};

/** `infraenv.json`. */
export const INFRA_ENV: EntityPolicy = {
  file: "events/infraenv.json",
  objects: ["proxy"],
  fields: [
    rule("id", "stringAlways"),
    rule("href", "stringAlways"),
    rule("kind", "stringAlways"),
    rule("name", "stringAlways", "text"),
    rule("type", "stringAlways"),
    rule("cluster_id", "string"),
    rule("cpu_architecture", "string"),
    rule("openshift_version", "string"),
    rule("generator_version", "string"),
    rule("email_domain", "string"),
    rule("org_id", "string"),
    rule("user_id", "stringAlways", "userId", "user_name"),
    rule("pull_secret_set", "bool"),
    rule("size_bytes", "intPtr"),
    rule("network_discovery_delay_seconds", "intPtr"),
    rule("kernel_arguments", "stringPtr", "kernelArgs"),
    rule("ignition_config_override", "string", "keyPaths"),
    rule("proxy.http_proxy", "stringPtr", "proxy"),
    rule("proxy.https_proxy", "stringPtr", "proxy"),
    rule("expires_at", "dateTime"),
    rule("created_at", "timePtr"),
    rule("updated_at", "timePtr"),
  ],
  dropped: {
    pull_secret: SECRET,
    image_token_key: SECRET,
    user_name: "replaced by user_id",
    download_url: "may carry an image token",
    ssh_authorized_key: "user key material",
    additional_trust_bundle: "customer CA",
    static_network_config: NETWORK,
    rendezvous_ip: NETWORK,
    proxy_no_proxy: NETWORK,
    ntp_sources: NETWORK,
    additional_ntp_sources: NETWORK,
    internal_ignition_config_override: "internal",
    mirror_registry_configuration: "internal registry configuration",
    kube_key_namespace: "internal",
    proxy_hash: "internal",
    generated: "internal",
    generated_at: "internal",
    image_expires_at: "internal",
  },
};

/** Each entry of `events.json`. */
export const EVENT: EntityPolicy = {
  file: "events.json",
  objects: [],
  fields: [
    rule("cluster_id", "stringPtr"),
    rule("host_id", "stringPtr"),
    rule("infra_env_id", "stringPtr"),
    rule("category", "string"),
    rule("name", "string"),
    rule("severity", "stringAlways"),
    rule("event_time", "dateTimePtr"),
    rule("message", "stringAlways", "message"),
    rule("props", "string", "metricProps"),
    rule("request_id", "string"),
  ],
  dropped: {
    id: "internal",
    created_at: "internal",
    updated_at: "internal",
    deleted_at: "soft-deleted events are never read",
  },
};
