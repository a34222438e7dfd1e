/**
 * The team's questions, declared as data: what each asks in words, the
 * formula it follows (cited from analysis-questions.md), the dimensions it
 * can be broken down by, and its SQL over the shared model. Every query
 * reads the filtered attempts as `fa` (see `mod.ts`), so source, dates,
 * internal users and dimension filters apply the same way everywhere.
 *
 * Each query returns one row per cell with `clusters`, the distinct
 * clusters behind the cell, which the runner uses to suppress small cells.
 */

/** A breakdown dimension: its SQL over the filtered attempts `fa`. */
export const DIMENSIONS: Readonly<Record<string, string>> = {
  all: "'all'",
  openshift_version: "fa.openshift_version",
  openshift_minor: "regexp_extract(fa.openshift_version, '^(\\d+\\.\\d+)', 1)",
  platform: "fa.platform",
  deployment_type: "fa.deployment_type",
  deployment_version: "fa.deployment_version",
  ai_version: "fa.ai_version",
  ha_mode: "CASE WHEN fa.ha_mode IS NULL OR fa.ha_mode = 'None' THEN 'SNO' ELSE 'multi-node' END",
  cpu_architecture: "fa.cpu_architecture",
  network_type: "fa.network_type",
  user_managed_networking: "CAST(fa.user_managed_networking AS VARCHAR)",
  host_count: "CAST(fa.host_count AS VARCHAR)",
  month: "strftime(coalesce(fa.cluster_created_at, fa.ended_at), '%Y-%m')",
  week: "strftime(date_trunc('week', coalesce(fa.cluster_created_at, fa.ended_at)), '%Y-%m-%d')",
  source: "fa.source",
  dual_stack: "CAST(fa.dual_stack AS VARCHAR)",
  channel: "fa.channel",
  iso_type: "coalesce(fa.iso_type, 'unknown')",
  day2:
    "CASE WHEN fa.cluster_kind = 'AddHostsCluster' THEN 'day-2 addition' ELSE 'new cluster' END",
  aicli: "CASE WHEN fa.created_by_aicli THEN 'aicli' ELSE 'not aicli' END",
};

/**
 * Filters of the hosts a cluster has (the reference's manufacturer and
 * product controls): the cluster is kept when one of its hosts matches.
 */
export const HOST_FILTERS: Readonly<Record<string, string>> = {
  vendor: "fa.cluster_key IN (SELECT cluster_key FROM hosts WHERE vendor = $f_vendor)",
  product: "fa.cluster_key IN (SELECT cluster_key FROM hosts WHERE product = $f_product)",
};

/**
 * Filters a caller may set (the reference's input controls): an equality on
 * a dimension, or one of the host filters.
 */
export const FILTERS: readonly string[] = [
  "openshift_version",
  "openshift_minor",
  "platform",
  "deployment_type",
  "ai_version",
  "ha_mode",
  "cpu_architecture",
  "network_type",
  "host_count",
  "channel",
  ...Object.keys(HOST_FILTERS),
];

/** One declared question. */
export interface Question {
  id: string;
  title: string;
  /** The question in words. */
  question: string;
  /** Which formula the numbers follow, with its source. */
  formula: string;
  /** Dimensions `by=` accepts, name to SQL; the first is the default. Empty: one row per cell of the query. */
  by: Record<string, string>;
  /** Whether `split=source` can add a source column (queries grouping over `fa`). */
  splits?: boolean;
  /**
   * SQL over `fa`; `{key}` is the breakdown expression, `{split}` the source column when split,
   * `{label}` the breakdown's label where `labels` names one (else `key`).
   */
  sql: string;
  /** Labels of breakdowns grouped by a value that is not itself the label. */
  labels?: Record<string, string>;
  /** Rates to give a Wilson interval: [rate column, successes column, n column]. */
  rates?: Array<[string, string, string]>;
  /** Answers rows of single clusters: only for an analyst token, and logged. */
  analystOnly?: boolean;
  /** Not subject to the k-cluster rule (counts of archives, not of clusters). */
  unsuppressed?: boolean;
}

/**
 * Per value of a list column of `fa` (features, operators): the distinct
 * clusters with it, and the canonical success rate's parts (§1.1) with it
 * and without it.
 */
function withAndWithout(column: "features" | "operators"): string {
  const has = `list_contains(fa.${column}, v.value)`;
  const clusters = (condition: string) =>
    `count(DISTINCT fa.cluster_key) FILTER (WHERE ${condition})`;
  return `WITH v AS (SELECT DISTINCT unnest(${column}) AS value FROM fa)
      SELECT v.value AS key,
        ${clusters(has)} AS clusters,
        ${clusters(`${has} AND fa.result = 'installed'`)} AS with_installed,
        ${clusters(`${has} AND fa.result IN ('installed', 'error')`)} AS with_n,
        ${clusters(`NOT ${has} AND fa.result = 'installed'`)} AS without_installed,
        ${clusters(`NOT ${has} AND fa.result IN ('installed', 'error')`)} AS without_n
      FROM v CROSS JOIN fa GROUP BY ALL ORDER BY clusters DESC`;
}

/**
 * A distribution question: distinct clusters per value of one dimension,
 * with the canonical success rate (§1.1) of each value.
 */
function distribution(
  id: string,
  dimension: string,
  text: Pick<Question, "title" | "question" | "formula">,
): Question {
  return {
    id,
    ...text,
    by: { [dimension]: DIMENSIONS[dimension] },
    splits: true,
    sql: `SELECT {key} AS key{split},
        count(DISTINCT fa.cluster_key) AS clusters,
        count(DISTINCT fa.cluster_key) FILTER (WHERE fa.result = 'installed') AS clusters_installed,
        count(DISTINCT fa.cluster_key) FILTER (WHERE fa.result IN ('installed', 'error')) AS n
      FROM fa GROUP BY ALL`,
    rates: [["success_rate", "clusters_installed", "n"]],
  };
}

function dims(...names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, DIMENSIONS[n]]));
}

const RESULT_DIMENSIONS = dims(
  "openshift_version",
  "all",
  "openshift_minor",
  "platform",
  "deployment_type",
  "deployment_version",
  "ai_version",
  "ha_mode",
  "cpu_architecture",
  "network_type",
  "user_managed_networking",
  "host_count",
  "month",
  "week",
  "source",
  "dual_stack",
  "channel",
  "iso_type",
  "day2",
  "aicli",
);

/** The catalogue, in the order of analysis-questions.md §8. */
export const QUESTIONS: readonly Question[] = [
  {
    id: "success-rate",
    title: "Installation success rate",
    question:
      "Of the clusters whose installation finished as installed or error, how many ever installed? " +
      "Also the attempt-weighted rate.",
    formula:
      "success_rate: distinct clusters with an installed result / distinct clusters with an installed " +
      "or error result (§1.1, canonical, cluster-level and 'ever'; cancelled in neither set). " +
      "attempt_success_rate: installed results / (installed + error) results (§1.2).",
    by: RESULT_DIMENSIONS,
    splits: true,
    sql: `SELECT {key} AS key{split},
        count(DISTINCT fa.cluster_key) FILTER (WHERE fa.result = 'installed') AS clusters_installed,
        count(DISTINCT fa.cluster_key) FILTER (WHERE fa.result = 'error') AS clusters_error,
        count(*) FILTER (WHERE fa.result = 'installed') AS attempts_installed,
        count(*) FILTER (WHERE fa.result = 'error') AS attempts_error,
        count(*) FILTER (WHERE fa.result = 'cancelled') AS attempts_cancelled,
        count(*) FILTER (WHERE fa.result IN ('installed', 'error')) AS attempts_decided,
        count(DISTINCT fa.cluster_key) FILTER (WHERE fa.result IN ('installed', 'error')) AS n,
        count(DISTINCT fa.cluster_key) AS clusters
      FROM fa GROUP BY ALL`,
    rates: [["success_rate", "clusters_installed", "n"], [
      "attempt_success_rate",
      "attempts_installed",
      "attempts_decided",
    ]],
  },
  {
    id: "event-name-success",
    title: "Completed against failed (event names)",
    question: "How many clusters completed, and how many failed, by their user events?",
    formula:
      "Completed = distinct clusters with cluster_installation_completed; Failed = distinct clusters " +
      "with cluster_status_updated 'to error' or cluster_installation_failed; rate = Completed / " +
      "(Completed + Failed) (§1.3; a cluster can count in both).",
    by: dims("month", "source", "openshift_minor", "platform"),
    splits: true,
    sql: `SELECT {key} AS key{split},
        count(DISTINCT fa.cluster_key) FILTER (WHERE s.completed) AS completed,
        count(DISTINCT fa.cluster_key) FILTER (WHERE s.failed) AS failed,
        count(DISTINCT fa.cluster_key) FILTER (WHERE s.completed)
          + count(DISTINCT fa.cluster_key) FILTER (WHERE s.failed) AS completed_plus_failed,
        count(DISTINCT fa.cluster_key) AS clusters
      FROM (SELECT DISTINCT ON (cluster_key) * FROM fa) fa JOIN cluster_signals s USING (cluster_key)
      WHERE s.completed OR s.failed
      GROUP BY ALL`,
    rates: [["completed_rate", "completed", "completed_plus_failed"]],
  },
  {
    id: "attempts-per-cluster",
    title: "Install attempts per cluster",
    question: "How many finished attempts does a cluster take?",
    formula:
      "attempts (installed, error and cancelled results) / distinct clusters (§1.4; pending-user-action is not an attempt).",
    by: dims("month", "source", "openshift_minor", "platform", "deployment_type", "channel"),
    splits: true,
    sql:
      `SELECT {key} AS key{split}, count(*) AS attempts, count(DISTINCT fa.cluster_key) AS clusters,
        round(count(*) / count(DISTINCT fa.cluster_key), 3) AS attempts_per_cluster
      FROM fa GROUP BY ALL`,
  },
  {
    id: "funnel",
    title: "Funnel from registration to installed",
    question:
      "How many clusters registered, had hosts register, had installation triggered, and installed?",
    formula:
      "Each step is the distinct clusters with its event, computed independently (§2). On-prem: only " +
      "finished attempts arrive, so the funnel starts at clusters that reached an end state.",
    by: dims("source", "month", "openshift_minor"),
    splits: true,
    sql: `SELECT {key} AS key{split}, s.step, s.step_order,
        count(DISTINCT fa.cluster_key) AS clusters
      FROM (SELECT DISTINCT ON (cluster_key) * FROM fa) fa JOIN cluster_signals c USING (cluster_key)
      JOIN (VALUES (1, 'Registered cluster'), (2, 'Hosts added'), (3, 'Installation triggered'), (4, 'Installed'))
        AS s(step_order, step)
        ON (s.step_order = 1 AND c.registered) OR (s.step_order = 2 AND c.hosts_added)
        OR (s.step_order = 3 AND c.install_triggered) OR (s.step_order = 4 AND c.completed)
      GROUP BY ALL ORDER BY key, s.step_order`,
  },
  {
    id: "install-duration",
    title: "Installation duration",
    question: "How long does a successful installation take, from start to installed?",
    formula:
      "p50 and p90 of the installed result's props.duration (seconds since install_started_at, finalizing included; caveat 9).",
    by: dims("openshift_minor", "ha_mode", "host_count", "platform", "source", "deployment_type"),
    splits: true,
    sql: `SELECT {key} AS key{split},
        round(quantile_cont(fa.duration_s, 0.5) / 60, 1) AS p50_minutes,
        round(quantile_cont(fa.duration_s, 0.9) / 60, 1) AS p90_minutes,
        count(*) AS attempts, count(DISTINCT fa.cluster_key) AS clusters
      FROM fa WHERE fa.result = 'installed' AND fa.duration_s IS NOT NULL GROUP BY ALL`,
  },
  {
    id: "host-stage-duration",
    title: "Host installation stage durations",
    question: "How long does each host installation stage take, by vendor, disk type and role?",
    formula:
      "p50 and p90 of host.stage.duration props.duration per stage (§8; the stage that just ended).",
    by: {
      all: "'all'",
      vendor: "s.vendor",
      disk_type: "s.disk_type",
      role: "s.role",
      // Grouped as a pair and labelled once per cell, not once per stage row.
      vendor_disk: "struct_pack(vendor := s.vendor, disk := s.disk_type)",
    },
    labels: {
      vendor_disk: "coalesce(key.vendor, 'unknown') || ' · ' || coalesce(key.disk, 'unknown')",
    },
    sql: `SELECT stage, {label} AS key,
        round(q[1], 1) AS p50_seconds, round(q[2], 1) AS p90_seconds, stages, clusters
      FROM (SELECT s.stage, {key} AS key, quantile_cont(s.duration_s, [0.5, 0.9]) AS q,
              count(*) AS stages, count(DISTINCT s.cluster_no) AS clusters
            FROM host_stage_durations s
            WHERE s.cluster_no IN (SELECT cluster_no FROM cluster_numbers
                                   WHERE cluster_key IN (SELECT cluster_key FROM fa))
              AND s.duration_s IS NOT NULL GROUP BY ALL)`,
  },
  {
    id: "host-failure-reasons",
    title: "Why hosts fail",
    question:
      "Which host status changes into error happen, grouped by their message with names blanked?",
    formula:
      "host_status_updated messages 'to error', host names replaced by a placeholder, the four generic " +
      "'part of a cluster that failed' cascades left out; distinct clusters per reason (§3).",
    by: {},
    sql: `SELECT r.reason AS key, sum(r.events) AS events, count(DISTINCT r.cluster_key) AS clusters
      FROM failure_reasons r WHERE r.kind = 'host' AND r.cluster_key IN (SELECT cluster_key FROM fa)
      GROUP BY ALL ORDER BY clusters DESC, key LIMIT 20`,
  },
  {
    id: "cluster-failure-reasons",
    title: "Why installations fail",
    question: "What reasons do failed installations give, and in which state did they stop?",
    formula:
      "cluster_installation_failed messages with ids and numbers blanked, with the error results' lastState; distinct clusters per reason.",
    by: {},
    sql: `SELECT r.reason AS key, sum(r.events) AS events, count(DISTINCT r.cluster_key) AS clusters
      FROM failure_reasons r WHERE r.kind = 'cluster' AND r.cluster_key IN (SELECT cluster_key FROM fa)
      GROUP BY ALL ORDER BY clusters DESC, key LIMIT 20`,
  },
  {
    id: "last-state",
    title: "Where failed installations stop",
    question: "In which state were installations when they ended in error?",
    formula: "error results' props.lastState; distinct clusters and attempts per state (§8).",
    by: dims("source", "openshift_minor"),
    splits: true,
    sql: `SELECT coalesce(fa.last_state, 'unknown') AS state, {key} AS key{split},
        count(*) AS attempts, count(DISTINCT fa.cluster_key) AS clusters
      FROM fa WHERE fa.result = 'error' GROUP BY ALL ORDER BY clusters DESC`,
  },
  {
    id: "feature-usage",
    title: "Feature adoption and success",
    question: "Which features do clusters use, and how does success differ with and without each?",
    formula:
      "Per feature id of cluster.feature_usage: distinct clusters using it; canonical success rate (§1.1) " +
      "with the feature and without it.",
    by: {},
    sql: withAndWithout("features"),
    rates: [["with_rate", "with_installed", "with_n"], [
      "without_rate",
      "without_installed",
      "without_n",
    ]],
  },
  {
    id: "operator-usage",
    title: "Operators installed and success",
    question:
      "Which OLM operators do clusters install, and how does success differ with and without each?",
    formula:
      "Per operator of the cluster's monitored_operators (type olm): distinct clusters; canonical success rate (§1.1) with it and without it.",
    by: {},
    sql: withAndWithout("operators"),
    rates: [["with_rate", "with_installed", "with_n"], [
      "without_rate",
      "without_installed",
      "without_n",
    ]],
  },
  {
    id: "hardware-vendors",
    title: "Hardware vendors",
    question: "Which hardware vendors and products do hosts run on, and how many are virtual?",
    formula:
      "hosts.json inventory system_vendor; distinct clusters and hosts per vendor and product.",
    by: {
      vendor: "coalesce(h.vendor, 'unknown')",
      product: "coalesce(h.vendor, 'unknown') || ' ' || coalesce(h.product, 'unknown')",
      is_virtual: "CAST(h.is_virtual AS VARCHAR)",
    },
    sql: `SELECT {key} AS key, count(*) AS hosts, count(DISTINCT h.cluster_key) AS clusters,
        count(*) FILTER (WHERE h.is_virtual) AS virtual_hosts
      FROM hosts h WHERE h.cluster_key IN (SELECT cluster_key FROM fa) GROUP BY ALL ORDER BY clusters DESC`,
  },
  {
    id: "host-sizes",
    title: "Host sizes",
    question: "How many cores and how much memory do hosts have, by role?",
    formula: "p50 and p90 of inventory cpu.count and memory.physical_bytes (GiB) per host role.",
    by: { role: "coalesce(h.role, 'unknown')" },
    sql: `SELECT {key} AS key,
        quantile_cont(h.cpu_cores, 0.5) AS p50_cores, quantile_cont(h.cpu_cores, 0.9) AS p90_cores,
        round(quantile_cont(h.memory_bytes, 0.5) / 1073741824, 1) AS p50_memory_gib,
        round(quantile_cont(h.memory_bytes, 0.9) / 1073741824, 1) AS p90_memory_gib,
        count(*) AS hosts, count(DISTINCT h.cluster_key) AS clusters
      FROM hosts h WHERE h.cluster_key IN (SELECT cluster_key FROM fa) GROUP BY ALL`,
  },
  {
    id: "degraded-installs",
    title: "Installed but degraded",
    question: "How many installed clusters were degraded by failed OLM operators?",
    formula:
      "distinct clusters with cluster_degraded_OLM_operators_failed among those with an installed result.",
    by: dims("openshift_minor", "source", "month"),
    splits: true,
    sql: `SELECT {key} AS key{split},
        count(DISTINCT fa.cluster_key) FILTER (WHERE s.degraded) AS degraded,
        count(DISTINCT fa.cluster_key) AS clusters
      FROM fa LEFT JOIN cluster_signals s USING (cluster_key) WHERE fa.result = 'installed' GROUP BY ALL`,
    rates: [["degraded_rate", "degraded", "clusters"]],
  },
  {
    id: "users-and-orgs",
    title: "Unique users and organisations",
    question: "How many distinct users and organisations install?",
    formula:
      "distinct keyed user and organisation pseudonyms (re-keyed at ingest; not joinable across pipelines, caveat 3).",
    by: dims("month", "source"),
    splits: true,
    sql:
      `SELECT {key} AS key{split}, count(DISTINCT fa.user_key) AS users, count(DISTINCT fa.org_key) AS organisations,
        count(DISTINCT fa.cluster_key) AS clusters
      FROM fa GROUP BY ALL`,
  },
  distribution("iso-type", "iso_type", {
    title: "Discovery ISO types",
    question:
      "Which discovery image do clusters boot from (full or minimal ISO), and how do they fare?",
    formula:
      "distinct clusters per infra env type (on-prem infraenv.json type; SaaS image_info.type), with the canonical success rate (§1.1) per type.",
  }),
  distribution("day2-additions", "day2", {
    title: "Day-2 host additions",
    question: "How many clusters are day-2 additions of hosts to an installed cluster?",
    formula:
      "distinct clusters whose kind is AddHostsCluster against new clusters (cluster.json kind), with the canonical success rate (§1.1) of each.",
  }),
  distribution("aicli-usage", "aicli", {
    title: "aicli against the web UI",
    question: "How many clusters are created with aicli, and does their success differ?",
    formula:
      "distinct clusters tagged aicli (cluster.tags, comma-separated, as S_aicli of §0.3) against the rest, with the canonical success rate (§1.1) of each ([AI Report] Success rate aicli vs. not-aicli).",
  }),
  {
    id: "ingest-health",
    title: "Ingest health",
    question:
      "How many archives arrived per day, how many were quarantined and why, how many were duplicates or late?",
    formula:
      "archives by first arrival day: received, processed, quarantined (with reasons), re-sent copies; late = processed more than a day after arrival.",
    by: {
      day: "strftime(first_received_at, '%Y-%m-%d')",
      reason: "coalesce(split_part(reason, ':', 1), status)",
      source: "source",
    },
    unsuppressed: true,
    sql: `SELECT {key} AS key, count(*) AS archives,
        count(*) FILTER (WHERE status = 'success') AS processed,
        count(*) FILTER (WHERE status = 'error') AS quarantined,
        sum(times_received - 1) AS duplicates,
        count(*) FILTER (WHERE processed_at > first_received_at + INTERVAL 1 DAY) AS late
      FROM archives WHERE ($source = 'all' OR source = $source) GROUP BY ALL ORDER BY key`,
  },
  {
    id: "cluster-timeline",
    title: "One cluster's timeline",
    question: "What happened to one cluster: its attempts and events, in order?",
    formula: "every attempt and event of the cluster key given as cluster=…",
    by: {},
    analystOnly: true,
    unsuppressed: true,
    sql: `SELECT e.event_time::VARCHAR AS at, e.name, e.severity, e.message, e.host_key
      FROM events e WHERE e.cluster_key = $cluster ORDER BY e.event_time`,
  },
  {
    id: "cluster-attempts",
    title: "One cluster's attempts",
    question: "Which finished attempts did one cluster have, with what result and facts?",
    formula: "every attempt of the cluster key given as cluster=…, in the order they ended",
    by: {},
    analystOnly: true,
    unsuppressed: true,
    sql: `SELECT a.ended_at::VARCHAR AS ended_at, a.result, a.last_state, a.duration_s,
        a.openshift_version, a.platform, a.host_count, a.source, a.channel
      FROM attempts a WHERE a.cluster_key = $cluster ORDER BY a.ended_at`,
  },
  {
    id: "cluster-host-stages",
    title: "One cluster's host stages",
    question: "How long did each host stage of one cluster take?",
    formula: "every host.stage.duration event of the cluster key given as cluster=…",
    by: {},
    analystOnly: true,
    unsuppressed: true,
    sql: `SELECT s.event_time::VARCHAR AS at, s.host_key, s.role, s.stage, s.duration_s, s.result
      FROM host_stage_durations s WHERE s.cluster_key = $cluster ORDER BY s.event_time, s.host_key`,
  },
];

/** A question by id. */
export function findQuestion(id: string): Question | undefined {
  return QUESTIONS.find((q) => q.id === id);
}
