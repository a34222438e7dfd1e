/**
 * Every user event assisted-service writes, as data: its `events.name`, the
 * template its message is rendered from, and the kind of each parameter.
 * Written from openshift/assisted-service@063b25795 `docs/events.yaml` (via
 * the reference event-templates.md); a test fails when one cannot be parsed.
 * The sanitiser reads each message through its template: fixed text is
 * known safe, and each parameter gets the treatment its kind allows.
 */

/** What a parameter can hold, and so how it is treated. */
export type ParamKind =
  | "uuid" // validated as a UUID
  | "integer" // decimal digits
  | "boolean" // true or false
  | "enum" // a status, stage, role or validation id: a short word of a safe character set
  | "host" // a host or node name: a network identifier
  | "address" // a VIP: a network identifier
  | "disk" // a device path or by-id name: carries serial numbers, never raw
  | "image" // an image reference: kept without credentials
  | "text"; // free text: through the free-text scrubber

/** One event template. */
export interface EventTemplate {
  name: string;
  type: "cluster" | "host" | "infra_env";
  severity: string;
  /** `{param}` marks where a parameter is rendered. */
  template: string;
  params: Record<string, ParamKind>;
}

/** The source the table was written from. */
export const EVENT_TEMPLATES_SOURCE = "openshift/assisted-service@063b25795 docs/events.yaml";

/** Every template, in the source's order. */
export const EVENT_TEMPLATES: readonly EventTemplate[] = [
  {
    name: "cancel_install_start_failed",
    type: "cluster",
    severity: "error",
    template: "Failed to cancel installation: error starting DB transaction",
    params: { cluster_id: "uuid" },
  },
  {
    name: "cancel_install_commit_failed",
    type: "cluster",
    severity: "error",
    template: "Failed to cancel installation: error committing DB transaction",
    params: { cluster_id: "uuid" },
  },
  {
    name: "host_registration_setting_properties_failed",
    type: "host",
    severity: "error",
    template: "Failed to register host: error setting host properties",
    params: { host_id: "uuid", infra_env_id: "uuid", cluster_id: "uuid" },
  },
  {
    name: "host_media_disconnected",
    type: "host",
    severity: "error",
    template:
      "Unable to read from the discovery media. It was either disconnected or poor network conditions prevented it from being read. Try using the minimal ISO option and be sure to keep the media connected until the installation is completed",
    params: { host_id: "uuid", infra_env_id: "uuid", cluster_id: "uuid" },
  },
  {
    name: "cluster_registration_succeeded",
    type: "cluster",
    severity: "info",
    template: "Successfully registered cluster",
    params: { cluster_id: "uuid", cluster_kind: "enum" },
  },
  {
    name: "cluster_deregister_failed",
    type: "cluster",
    severity: "error",
    template: "Failed to deregister cluster. Error: {error}",
    params: { cluster_id: "uuid", error: "text" },
  },
  {
    name: "cluster_deregistered",
    type: "cluster",
    severity: "info",
    template: "Deregistered cluster",
    params: { cluster_id: "uuid" },
  },
  {
    name: "cluster_validation_failed",
    type: "cluster",
    severity: "warning",
    template: "Cluster validation '{validation_id}' {failure_message}",
    params: {
      cluster_id: "uuid",
      validation_id: "enum",
      validation_msg: "text",
      failure_message: "text",
    },
  },
  {
    name: "cluster_validation_fixed",
    type: "cluster",
    severity: "info",
    template: "Cluster validation '{validation_id}' is now fixed",
    params: { cluster_id: "uuid", validation_id: "enum", validation_msg: "text" },
  },
  {
    name: "after_inactivity_cluster_deregistered",
    type: "cluster",
    severity: "info",
    template: "Cluster is deregistered due to inactivity",
    params: { cluster_id: "uuid" },
  },
  {
    name: "cluster_installation_completed",
    type: "cluster",
    severity: "info",
    template: "Successfully completed installing cluster",
    params: { cluster_id: "uuid" },
  },
  {
    name: "cluster_installation_failed",
    type: "cluster",
    severity: "critical",
    template: "Failed installing cluster. Reason: {failure_reason}",
    params: { cluster_id: "uuid", failure_reason: "text" },
  },
  {
    name: "cluster_installation_canceled",
    type: "cluster",
    severity: "info",
    template: "Canceled cluster installation",
    params: { cluster_id: "uuid" },
  },
  {
    name: "cancel_installation_failed",
    type: "cluster",
    severity: "error",
    template: "Failed to cancel installation: {error}",
    params: { cluster_id: "uuid", error: "text" },
  },
  {
    name: "cluster_status_updated",
    type: "cluster",
    severity: "info",
    template: "Updated status of the cluster to {cluster_status}",
    params: { cluster_id: "uuid", cluster_status: "enum", status_info: "text" },
  },
  {
    name: "cluster_finalizing_stage_updated",
    type: "cluster",
    severity: "info",
    template: "Updated finalizing stage of the cluster to '{finalizing_stage}'",
    params: { cluster_id: "uuid", finalizing_stage: "enum" },
  },
  {
    name: "cluster_installation_reset",
    type: "cluster",
    severity: "info",
    template: "Reset cluster installation",
    params: { cluster_id: "uuid" },
  },
  {
    name: "reset_installation_failed",
    type: "cluster",
    severity: "error",
    template: "Failed to reset installation. Error: {error}",
    params: { cluster_id: "uuid", error: "text" },
  },
  {
    name: "api_ingress_vip_updated",
    type: "cluster",
    severity: "info",
    template: "Cluster was updated with api-vip {api_vip}, ingress-vip {ingress_vip}",
    params: { cluster_id: "uuid", api_vip: "address", ingress_vip: "address" },
  },
  {
    name: "api_ingress_vip_timed_out",
    type: "cluster",
    severity: "warning",
    template: "API and Ingress VIPs lease allocation has been timed out",
    params: { cluster_id: "uuid", timeout_interval: "integer" },
  },
  {
    name: "prepare_installation_failed",
    type: "cluster",
    severity: "warning",
    template:
      "Failed to prepare the installation due to an unexpected error: {error}. Please retry later",
    params: { cluster_id: "uuid", error: "text" },
  },
  {
    name: "cluster_prepare_installation_started",
    type: "cluster",
    severity: "info",
    template: "Cluster starting to prepare for installation",
    params: { cluster_id: "uuid" },
  },
  {
    name: "installation_preparing_timed_out",
    type: "cluster",
    severity: "warning",
    template: "Preparing for installation was timed out for the cluster, reason {reason}",
    params: { cluster_id: "uuid", reason: "text" },
  },
  {
    name: "cluster_degraded_OLM_operators_failed",
    type: "cluster",
    severity: "warning",
    template: "Cluster is installed but degraded due to failed OLM operators {failed_operators}",
    params: { cluster_id: "uuid", failed_operators: "text" },
  },
  {
    name: "expired_image_deleted",
    type: "cluster",
    severity: "info",
    template:
      "Deleted image from backend because it expired. It may be generated again at any time",
    params: { cluster_id: "uuid" },
  },
  {
    name: "cluster_operator_report",
    type: "cluster",
    severity: "info",
    template: "The following operators are experiencing issues: {report}",
    params: { cluster_id: "uuid", report: "text" },
  },
  {
    name: "cluster_operator_status",
    type: "cluster",
    severity: "info",
    template: "Operator {operator_name} status: {status} message: {status_info}",
    params: { cluster_id: "uuid", operator_name: "enum", status: "enum", status_info: "text" },
  },
  {
    name: "finalizing_stage_timed_out",
    type: "cluster",
    severity: "warning",
    template:
      "Cluster {cluster_id}: finalizing stage {stage} has been active more than the expected completion time ({minutes} minutes)",
    params: { cluster_id: "uuid", stage: "enum", minutes: "integer" },
  },
  {
    name: "host_deregistered",
    type: "host",
    severity: "info",
    template: "Host {host_name} deregistered",
    params: { host_id: "uuid", infra_env_id: "uuid", cluster_id: "uuid", host_name: "host" },
  },
  {
    name: "host_installer_args_applied",
    type: "host",
    severity: "info",
    template: "Host {host_name}: custom installer arguments were applied",
    params: { host_id: "uuid", infra_env_id: "uuid", cluster_id: "uuid", host_name: "host" },
  },
  {
    name: "host_bootstrap_set",
    type: "host",
    severity: "info",
    template: "Host {host_name}: set as bootstrap",
    params: { host_id: "uuid", infra_env_id: "uuid", cluster_id: "uuid", host_name: "host" },
  },
  {
    name: "host_status_updated",
    type: "host",
    severity: "info",
    template: "Host {host_name}: updated status from {src_status} to {new_status} {info}",
    params: {
      host_id: "uuid",
      infra_env_id: "uuid",
      cluster_id: "uuid",
      severity: "enum",
      host_name: "host",
      src_status: "enum",
      new_status: "enum",
      info: "text",
    },
  },
  {
    name: "host_stage_timed_out",
    type: "host",
    severity: "warning",
    template:
      "Host {host_name}: host stage {stage} has been active more than the expected completion time ({minutes} minutes)",
    params: {
      host_id: "uuid",
      infra_env_id: "uuid",
      cluster_id: "uuid",
      host_name: "host",
      stage: "enum",
      minutes: "integer",
    },
  },
  {
    name: "host_role_updated",
    type: "host",
    severity: "info",
    template: "Host {host_name}: calculated role is {suggested_role}",
    params: {
      cluster_id: "uuid",
      host_id: "uuid",
      infra_env_id: "uuid",
      host_name: "host",
      suggested_role: "enum",
    },
  },
  {
    name: "image_status_updated",
    type: "host",
    severity: "info",
    template: "Host {host_name}: New image status {image_status}. result: {result}. {info}",
    params: {
      host_id: "uuid",
      infra_env_id: "uuid",
      cluster_id: "uuid",
      host_name: "host",
      image_status: "enum",
      result: "enum",
      info: "text",
    },
  },
  {
    name: "host_installation_cancelled",
    type: "host",
    severity: "info",
    template: "Installation cancelled for host {host_name}",
    params: { host_id: "uuid", infra_env_id: "uuid", cluster_id: "uuid", host_name: "host" },
  },
  {
    name: "host_installation_started",
    type: "host",
    severity: "info",
    template: "Host {host_name} starting installation as a worker node",
    params: { host_id: "uuid", infra_env_id: "uuid", cluster_id: "uuid", host_name: "host" },
  },
  {
    name: "host_cancel_installation_failed",
    type: "host",
    severity: "error",
    template: "Failed to cancel installation of host {host_name}: {error}",
    params: {
      host_id: "uuid",
      infra_env_id: "uuid",
      cluster_id: "uuid",
      host_name: "host",
      error: "text",
    },
  },
  {
    name: "host_installation_reset",
    type: "host",
    severity: "info",
    template: "Installation reset for host {host_name}",
    params: { host_id: "uuid", infra_env_id: "uuid", cluster_id: "uuid", host_name: "host" },
  },
  {
    name: "host_installation_reset_failed",
    type: "host",
    severity: "error",
    template: "Failed to reset installation of host {host_name}. Error: {error}",
    params: {
      host_id: "uuid",
      infra_env_id: "uuid",
      cluster_id: "uuid",
      host_name: "host",
      error: "text",
    },
  },
  {
    name: "user_required_complete_installation_reset",
    type: "host",
    severity: "info",
    template:
      "User action is required in order to complete installation reset for host {host_name}",
    params: { host_id: "uuid", infra_env_id: "uuid", cluster_id: "uuid", host_name: "host" },
  },
  {
    name: "host_set_status_failed",
    type: "host",
    severity: "error",
    template:
      "Failed to set status of host {host_name} to reset-pending-user-action. Error: {error}",
    params: {
      host_id: "uuid",
      infra_env_id: "uuid",
      cluster_id: "uuid",
      host_name: "host",
      error: "text",
    },
  },
  {
    name: "host_validation_failed",
    type: "host",
    severity: "warning",
    template: "Host {host_name}: validation '{validation_id}' {failure_message}",
    params: {
      host_id: "uuid",
      infra_env_id: "uuid",
      cluster_id: "uuid",
      host_name: "host",
      validation_id: "enum",
      failure_message: "text",
    },
  },
  {
    name: "host_validation_fixed",
    type: "host",
    severity: "info",
    template: "Host {host_name}: validation '{validation_id}' is now fixed",
    params: {
      host_id: "uuid",
      infra_env_id: "uuid",
      cluster_id: "uuid",
      host_name: "host",
      validation_id: "enum",
    },
  },
  {
    name: "quick_disk_format_performed",
    type: "host",
    severity: "info",
    template: "{host_name}: Performing quick format of disk {disk_name}({disk_id})",
    params: {
      host_id: "uuid",
      infra_env_id: "uuid",
      cluster_id: "uuid",
      host_name: "host",
      disk_name: "disk",
      disk_id: "disk",
    },
  },
  {
    name: "quick_disk_format_skipped",
    type: "host",
    severity: "info",
    template:
      "{host_name}: Skipping quick format of disk {disk_name}({disk_id}) due to user request. This could lead to boot order issues during installation",
    params: {
      host_id: "uuid",
      infra_env_id: "uuid",
      cluster_id: "uuid",
      host_name: "host",
      disk_name: "disk",
      disk_id: "disk",
    },
  },
  {
    name: "infra_env_registration_failed",
    type: "infra_env",
    severity: "error",
    template: "Failed to register infra env. Error: {error}",
    params: { infra_env_id: "uuid", error: "text" },
  },
  {
    name: "infra_env_registered",
    type: "infra_env",
    severity: "info",
    template: "Registered infra env",
    params: { infra_env_id: "uuid" },
  },
  {
    name: "infra_env_deregister_failed",
    type: "infra_env",
    severity: "error",
    template: "Failed to deregister infra env. Error: {error}",
    params: { infra_env_id: "uuid", error: "text" },
  },
  {
    name: "infra_env_deregistered",
    type: "infra_env",
    severity: "info",
    template: "Deregistered infra env",
    params: { infra_env_id: "uuid" },
  },
  {
    name: "generate_image_fetch_failed",
    type: "infra_env",
    severity: "error",
    template: "Failed to generate image: error fetching updated infra env metadata",
    params: { infra_env_id: "uuid" },
  },
  {
    name: "existing_image_reused",
    type: "infra_env",
    severity: "info",
    template:
      "Re-used existing image rather than generating a new one (image type is '{image_type}')",
    params: { infra_env_id: "uuid", image_type: "enum" },
  },
  {
    name: "install_config_applied",
    type: "cluster",
    severity: "info",
    template: "Custom install config was applied to the cluster",
    params: { cluster_id: "uuid" },
  },
  {
    name: "proxy_settings_changed",
    type: "cluster",
    severity: "info",
    template: "Proxy settings changed",
    params: { cluster_id: "uuid" },
  },
  {
    name: "disk_speed_slower_than_supported",
    type: "host",
    severity: "warning",
    template:
      "Host's disk {host_disk} is slower than the supported speed, and may cause degraded cluster performance (fdatasync duration: {fdatasync_duration} ms)",
    params: {
      host_id: "uuid",
      infra_env_id: "uuid",
      cluster_id: "uuid",
      host_disk: "disk",
      fdatasync_duration: "integer",
    },
  },
  {
    name: "host_discovery_ignition_config_applied",
    type: "host",
    severity: "info",
    template: "Host {host_name}: custom discovery ignition config was applied",
    params: { host_id: "uuid", infra_env_id: "uuid", host_name: "host" },
  },
  {
    name: "host_reset_fetch_failed",
    type: "host",
    severity: "error",
    template: "Failed to reset host {host_name}: error fetching host from DB",
    params: { host_id: "uuid", infra_env_id: "uuid", host_name: "host" },
  },
  {
    name: "host_boot_logs_uploaded",
    type: "host",
    severity: "info",
    template: "Uploaded node boot logs for host {host_name} cluster {cluster_id}",
    params: { host_id: "uuid", infra_env_id: "uuid", cluster_id: "uuid", host_name: "host" },
  },
  {
    name: "host_logs_uploaded",
    type: "host",
    severity: "info",
    template: "Uploaded logs for host {host_name} cluster {cluster_id}",
    params: { host_id: "uuid", infra_env_id: "uuid", cluster_id: "uuid", host_name: "host" },
  },
  {
    name: "cluster_logs_uploaded",
    type: "cluster",
    severity: "info",
    template: "Uploaded logs for the cluster",
    params: { cluster_id: "uuid" },
  },
  {
    name: "host_approved_updated",
    type: "host",
    severity: "info",
    template: "Host {host_name}: updated approved to {approved_value}",
    params: { host_id: "uuid", infra_env_id: "uuid", host_name: "host", approved_value: "boolean" },
  },
  {
    name: "host_registration_succeeded",
    type: "host",
    severity: "info",
    template: "Host {host_name}: Successfully registered",
    params: { host_id: "uuid", infra_env_id: "uuid", cluster_id: "uuid", host_name: "host" },
  },
  {
    name: "host_bind_succeeded",
    type: "host",
    severity: "info",
    template: "Host {host_name}: Successfully bound to cluster {cluster_id}",
    params: { host_id: "uuid", infra_env_id: "uuid", cluster_id: "uuid", host_name: "host" },
  },
  {
    name: "host_unbind_succeeded",
    type: "host",
    severity: "info",
    template: "Host {host_name}: Successfully unbound from cluster",
    params: { host_id: "uuid", infra_env_id: "uuid", host_name: "host" },
  },
  {
    name: "generate_image_format_failed",
    type: "infra_env",
    severity: "error",
    template: "Failed to generate image: error formatting ignition file",
    params: { infra_env_id: "uuid" },
  },
  {
    name: "generate_minimal_iso_failed",
    type: "infra_env",
    severity: "error",
    template: "Failed to generate minimal ISO",
    params: { infra_env_id: "uuid" },
  },
  {
    name: "upload_image_failed",
    type: "infra_env",
    severity: "error",
    template: "Failed to upload image",
    params: { infra_env_id: "uuid" },
  },
  {
    name: "ignition_config_image_generated",
    type: "infra_env",
    severity: "info",
    template: "Generated image ({details})",
    params: { infra_env_id: "uuid", details: "text" },
  },
  {
    name: "host_install_progress_updated",
    type: "host",
    severity: "info",
    template: "Host: {host_name}, {event}",
    params: {
      host_id: "uuid",
      infra_env_id: "uuid",
      cluster_id: "uuid",
      host_name: "host",
      event: "text",
    },
  },
  {
    name: "host_registration_failed",
    type: "host",
    severity: "error",
    template: "{message}",
    params: { host_id: "uuid", infra_env_id: "uuid", cluster_id: "uuid", message: "text" },
  },
  {
    name: "host_bind_failed",
    type: "host",
    severity: "error",
    template: "Failed to bind host {host_id} to cluster {cluster_id}: {message}",
    params: { host_id: "uuid", infra_env_id: "uuid", cluster_id: "uuid", message: "text" },
  },
  {
    name: "host_unbind_failed",
    type: "host",
    severity: "error",
    template: "Failed to unbind host {host_id} to cluster: {message}",
    params: { host_id: "uuid", infra_env_id: "uuid", message: "text" },
  },
  {
    name: "inactive_clusters_deregistered",
    type: "cluster",
    severity: "info",
    template: "{message}",
    params: { cluster_id: "uuid", message: "text" },
  },
  {
    name: "clusters_permanently_deleted",
    type: "cluster",
    severity: "info",
    template: "{message}",
    params: { cluster_id: "uuid", message: "text" },
  },
  {
    name: "image_info_updated",
    type: "infra_env",
    severity: "info",
    template: "Updated image information ({details})",
    params: { cluster_id: "uuid", infra_env_id: "uuid", details: "text" },
  },
  {
    name: "upgrade_agent_started",
    type: "host",
    severity: "info",
    template:
      "Host {host_name}: Agent has been instructed to download image '{agent_image}' and restart",
    params: {
      host_id: "uuid",
      host_name: "host",
      infra_env_id: "uuid",
      cluster_id: "uuid",
      agent_image: "image",
    },
  },
  {
    name: "upgrade_agent_finished",
    type: "host",
    severity: "info",
    template: "Host {host_name}: Agent has downloaded image '{agent_image}' and will now restart",
    params: {
      host_id: "uuid",
      host_name: "host",
      infra_env_id: "uuid",
      cluster_id: "uuid",
      agent_image: "image",
    },
  },
  {
    name: "upgrade_agent_failed",
    type: "host",
    severity: "error",
    template: "Host {host_name}: Agent failed to download image '{agent_image}', will try again",
    params: {
      host_id: "uuid",
      host_name: "host",
      infra_env_id: "uuid",
      cluster_id: "uuid",
      agent_image: "image",
    },
  },
  {
    name: "validations_ignored",
    type: "cluster",
    severity: "info",
    template: "Cluster {cluster_id}: ignored some or all validations at the discretion of the user",
    params: { cluster_id: "uuid" },
  },
  {
    name: "reboots_for_node",
    type: "host",
    severity: "info",
    template: "Node {node_name} has been rebooted {reboots} times before completing installation",
    params: {
      host_id: "uuid",
      node_name: "host",
      infra_env_id: "uuid",
      cluster_id: "uuid",
      reboots: "integer",
    },
  },
];
