/**
 * The dashboards, declared as data: each page is a list of panels, each
 * panel one declared question (with its breakdown) drawn as a chart and
 * shown as a table. The page groups follow analysis-questions.md §6.
 */

/** How a measure is read and labelled. */
export type Unit = "share" | "count" | "minutes" | "seconds" | "cores" | "GiB" | "ratio";

/** One chart: a question, a breakdown, and the columns drawn. */
export interface Panel {
  question: string;
  /** The breakdown (`by=`); the question's default when absent. */
  by?: string;
  title: string;
  /** Columns drawn, one series each (only the first when split by source). */
  measures: string[];
  unit: Unit;
  /** `bar` (default), `line` over time, `hbar` for long labels. */
  chart?: "bar" | "line" | "hbar";
  /** The column naming the categories (default `key`). */
  category?: string;
  /** A column whose values make the series (default: source when split). */
  seriesBy?: string;
  /** Keep the rows' own order (ranked answers) instead of sorting the categories. */
  ranked?: boolean;
  /** The category axis' label. */
  axis: string;
  /** Always one series per source (unless the view picks one source). */
  perSource?: boolean;
}

/** One page. */
export interface Page {
  id: string;
  title: string;
  /** What the page answers, in one line. */
  summary: string;
  panels: Panel[];
  /** A caveat shown under the summary. */
  note?: string;
}

const rate = (by: string, axis: string, title: string): Panel => ({
  question: "success-rate",
  by,
  title,
  measures: ["success_rate"],
  unit: "share",
  axis,
});

/** Every page, in menu order; the first is the overview's detail. */
export const PAGES: readonly Page[] = [
  {
    id: "versions",
    title: "Versions",
    summary:
      "Success by OpenShift version, by Assisted Installer version and by on-prem deployment type and version.",
    note:
      "Deployment type and version come from the archive's metadata.json, which today's SaaS pipeline never reads.",
    panels: [
      rate("openshift_minor", "OpenShift minor version", "Success rate by OpenShift version"),
      rate(
        "ai_version",
        "Assisted Installer version",
        "Success rate by Assisted Installer version",
      ),
      rate("deployment_type", "deployment type", "Success rate by deployment type"),
      rate("deployment_version", "deployment version", "Success rate by deployment version"),
    ],
  },
  {
    id: "platforms",
    title: "Platforms and topology",
    summary: "Platform mix and success; single-node against multi-node; host counts; networking.",
    panels: [
      rate("platform", "platform", "Success rate by platform"),
      {
        question: "success-rate",
        by: "platform",
        title: "Clusters by platform",
        measures: ["n"],
        unit: "count",
        axis: "platform",
      },
      rate("ha_mode", "topology", "Success rate: single-node against multi-node"),
      rate("host_count", "hosts in the cluster", "Success rate by host count"),
      rate("network_type", "network type", "Success rate by network type"),
      rate(
        "user_managed_networking",
        "user-managed networking",
        "Success rate by user-managed networking",
      ),
      rate("dual_stack", "dual-stack", "Success rate: dual-stack or not"),
    ],
  },
  {
    id: "architectures",
    title: "Architectures",
    summary: "CPU architectures in use and their success.",
    panels: [
      rate("cpu_architecture", "CPU architecture", "Success rate by CPU architecture"),
      {
        question: "success-rate",
        by: "cpu_architecture",
        title: "Clusters by CPU architecture",
        measures: ["n"],
        unit: "count",
        axis: "CPU architecture",
      },
    ],
  },
  {
    id: "creation",
    title: "How clusters are made",
    summary: "aicli against the web UI, day-2 host additions, and discovery ISO types.",
    panels: [
      {
        question: "aicli-usage",
        title: "Success rate: aicli against the rest",
        measures: ["success_rate"],
        unit: "share",
        axis: "client",
      },
      {
        question: "day2-additions",
        title: "Clusters: new ones and day-2 additions",
        measures: ["clusters"],
        unit: "count",
        axis: "kind",
      },
      {
        question: "iso-type",
        title: "Clusters by discovery ISO type",
        measures: ["clusters"],
        unit: "count",
        axis: "ISO type",
      },
      {
        question: "iso-type",
        title: "Success rate by discovery ISO type",
        measures: ["success_rate"],
        unit: "share",
        axis: "ISO type",
      },
    ],
  },
  {
    id: "features",
    title: "Features",
    summary: "Feature and operator adoption, and success with and without each.",
    panels: [
      {
        question: "feature-usage",
        title: "Success with and without each feature",
        measures: ["with_rate", "without_rate"],
        unit: "share",
        chart: "hbar",
        ranked: true,
        axis: "feature",
      },
      {
        question: "feature-usage",
        title: "Clusters using each feature",
        measures: ["clusters"],
        unit: "count",
        chart: "hbar",
        ranked: true,
        axis: "feature",
      },
      {
        question: "operator-usage",
        title: "Success with and without each operator",
        measures: ["with_rate", "without_rate"],
        unit: "share",
        chart: "hbar",
        ranked: true,
        axis: "operator",
      },
    ],
  },
  {
    id: "funnel",
    title: "Funnel",
    summary: "From registration to installed: distinct clusters reaching each step.",
    note:
      "On-prem archives are sent only when an attempt finishes, so on-prem clusters that never reached an end state are not in the funnel.",
    panels: [
      {
        question: "funnel",
        by: "source",
        title: "Clusters reaching each step",
        measures: ["clusters"],
        unit: "count",
        category: "step",
        seriesBy: "key",
        ranked: true,
        axis: "step",
      },
      {
        question: "event-name-success",
        by: "month",
        title: "Completed against failed, by month (event names)",
        measures: ["completed_rate"],
        unit: "share",
        chart: "line",
        axis: "month of cluster creation",
      },
    ],
  },
  {
    id: "failures",
    title: "Failures",
    summary: "Where failed installations stop and why, grouped by message template.",
    panels: [
      {
        question: "last-state",
        by: "source",
        title: "Last state of failed attempts",
        measures: ["clusters"],
        unit: "count",
        category: "state",
        seriesBy: "key",
        ranked: true,
        axis: "state",
      },
      {
        question: "cluster-failure-reasons",
        title: "Why installations fail",
        measures: ["clusters"],
        unit: "count",
        chart: "hbar",
        ranked: true,
        axis: "reason",
      },
      {
        question: "host-failure-reasons",
        title: "Why hosts fail",
        measures: ["clusters"],
        unit: "count",
        chart: "hbar",
        ranked: true,
        axis: "reason",
      },
      {
        question: "degraded-installs",
        by: "openshift_minor",
        title: "Installed but degraded by OLM operators",
        measures: ["degraded_rate"],
        unit: "share",
        axis: "OpenShift minor version",
      },
    ],
  },
  {
    id: "durations",
    title: "Durations",
    summary: "Installation durations (p50, p90) by version and host count; host stages overall.",
    panels: [
      {
        question: "install-duration",
        by: "openshift_minor",
        title: "Installation duration by OpenShift version",
        measures: ["p50_minutes", "p90_minutes"],
        unit: "minutes",
        axis: "OpenShift minor version",
      },
      {
        question: "install-duration",
        by: "host_count",
        title: "Installation duration by host count",
        measures: ["p50_minutes", "p90_minutes"],
        unit: "minutes",
        axis: "hosts in the cluster",
      },
      {
        question: "host-stage-duration",
        by: "all",
        title: "Host stage durations",
        measures: ["p50_seconds", "p90_seconds"],
        unit: "seconds",
        category: "stage",
        chart: "hbar",
        axis: "stage",
      },
    ],
  },
  {
    id: "host-stages",
    title: "Host stages",
    summary: "How long each host installation stage takes, by hardware vendor and disk type (p50).",
    note:
      "Vendor and disk type are those the host.stage.duration events report (props vendor, disk_type); a stage without them counts as unknown.",
    panels: [
      {
        question: "host-stage-duration",
        by: "vendor_disk",
        title: "Host stage durations by vendor and disk type (p50)",
        measures: ["p50_seconds"],
        unit: "seconds",
        category: "stage",
        seriesBy: "key",
        chart: "hbar",
        axis: "stage",
      },
    ],
  },
  {
    id: "hardware",
    title: "Hardware",
    summary: "Hardware vendors and products, virtual hosts, host sizes.",
    panels: [
      {
        question: "hardware-vendors",
        by: "vendor",
        title: "Clusters by hardware vendor",
        measures: ["clusters"],
        unit: "count",
        chart: "hbar",
        ranked: true,
        axis: "vendor",
      },
      {
        question: "hardware-vendors",
        by: "is_virtual",
        title: "Virtual and physical hosts",
        measures: ["hosts"],
        unit: "count",
        axis: "virtual",
      },
      {
        question: "host-sizes",
        title: "CPU cores by role",
        measures: ["p50_cores", "p90_cores"],
        unit: "cores",
        axis: "role",
      },
      {
        question: "host-sizes",
        title: "Memory by role",
        measures: ["p50_memory_gib", "p90_memory_gib"],
        unit: "GiB",
        axis: "role",
      },
    ],
  },
  {
    id: "attempts",
    title: "Attempts and users",
    summary: "Attempts per cluster; distinct users and organisations.",
    panels: [
      {
        question: "attempts-per-cluster",
        by: "month",
        title: "Attempts per cluster by month",
        measures: ["attempts_per_cluster"],
        unit: "ratio",
        chart: "line",
        axis: "month of cluster creation",
      },
      {
        question: "users-and-orgs",
        by: "month",
        title: "Distinct users and organisations by month",
        measures: ["users", "organisations"],
        unit: "count",
        chart: "line",
        axis: "month of cluster creation",
      },
    ],
  },
  {
    id: "ingest",
    title: "Ingest health",
    summary: "Archives per day, quarantined ones with reasons, duplicates and late data.",
    panels: [
      {
        question: "ingest-health",
        by: "day",
        title: "Archives per day",
        measures: ["processed", "quarantined", "duplicates", "late"],
        unit: "count",
        axis: "day of first arrival",
      },
      {
        question: "ingest-health",
        by: "reason",
        title: "Archives by outcome and quarantine reason",
        measures: ["archives"],
        unit: "count",
        chart: "hbar",
        axis: "outcome or reason",
      },
    ],
  },
];

/** The overview's panels (its comparison of recent weeks is computed beside them). */
export const OVERVIEW: Page = {
  id: "overview",
  title: "Overview",
  summary:
    "Attempts and success rate over time, per source; the latest weeks against the weeks before.",
  panels: [
    {
      question: "success-rate",
      by: "week",
      title: "Success rate by week",
      measures: ["success_rate"],
      unit: "share",
      chart: "line",
      axis: "week of cluster creation",
      perSource: true,
    },
    {
      question: "success-rate",
      by: "week",
      title: "Finished attempts by week",
      measures: ["attempts_decided"],
      unit: "count",
      axis: "week of cluster creation",
      perSource: true,
    },
  ],
};

/** A page by id. */
export function findPage(id: string): Page | undefined {
  return PAGES.find((p) => p.id === id);
}
