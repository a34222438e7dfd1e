/**
 * Renders the README's "what leaves" table from the allow-lists, so the
 * documentation cannot drift from the code (a test compares the two).
 */
import {
  CLUSTER,
  type EntityPolicy,
  EVENT,
  HOST,
  INFRA_ENV,
  INVENTORY,
  METRIC_PROPS,
  NETWORK_SHAPE_PARTS,
  OPERATOR_KEYS,
} from "../../contract/policy.ts";
import type { Treatment } from "../../contract/policy.ts";

const TREATMENT_TEXT: Record<Treatment, string> = {
  keep: "as stored (scrubbed like free text as a second line of defence)",
  network: "as stored; pseudonymised (stable within the archive) under `OBFUSCATE=networking`",
  text: "free text: credentials and tokens removed, e-mail addresses hashed",
  json: "JSON: secret-named keys redacted, strings scrubbed as free text",
  userId:
    "`user_name` → `user_id`, a keyed hash (HMAC-SHA-256 under the installation's key; `USER_ID_HASH=scraper-fnv` sends the scraper's reversible FNV-1a 128 instead)",
  proxy: "scheme only, plus `+credentials` if it had any",
  keyPaths: "only the list of keys it sets, no values",
  args: "only the flags, no values",
  kernelArgs: "only operation and argument name",
  inventory: `hardware facts only: ${
    INVENTORY.map((r) => r.keys ? `${r.key} (${r.keys.join(", ")})` : r.key).join("; ")
  }`,
  presence: "only whether it was set (`true`)",
  message:
    "read through its event's template (the 80 of \`contract/event_templates.ts\`): fixed text kept; UUIDs validated, integers and booleans as such, statuses, stages and validation ids as short words; host names and VIPs as network identifiers (pseudonymised under \`OBFUSCATE=networking\`); disk ids never raw; image references without credentials; free-text parameters scrubbed. A message matching no template is scrubbed as free text, disk ids removed",
  metricProps: `a metrics event's props keep only the keys its metric defines (${
    Object.entries(METRIC_PROPS).map(([m, keys]) => `\`${m}\`: ${keys.join(", ")}`).join("; ")
  }), strings scrubbed; any other props leave as \`{}\``,
  diskName:
    "a plain device path (`/dev/sda`, `/dev/nvme0n1`) as stored; a by-id, by-path or WWN name, which carries the disk's serial, becomes `[disk id]`",
  disksInfo:
    "JSON keyed by disk: plain device paths keep their key, every other key becomes `disk-<n>`; paths and ids inside as above; the rest scrubbed as JSON",
  operators: `from the \`monitored_operators\` table: ${OPERATOR_KEYS.join(", ")} of each`,
  networkShape: `how many of each of ${
    NETWORK_SHAPE_PARTS.join(", ")
  } per address family (\`ipv4\`, \`ipv6\`): never an address`,
};

/** Markdown rows for one entity: sent keys grouped by treatment, then dropped columns. */
function entityRows(policy: EntityPolicy): string[] {
  const byTreatment = new Map<Treatment, string[]>();
  for (const f of policy.fields) {
    const shown = f.column === f.key.replaceAll(".", "_")
      ? `\`${f.key}\``
      : `\`${f.key}\` ← \`${f.column}\``;
    byTreatment.set(f.treatment, [...(byTreatment.get(f.treatment) ?? []), shown]);
  }
  const rows = [...byTreatment].map(([t, keys]) =>
    `| \`${policy.file}\` | sent | ${TREATMENT_TEXT[t]} | ${keys.join(", ")} |`
  );
  const fixed = Object.keys(policy.fixed ?? {});
  if (fixed.length > 0) {
    rows.push(
      `| \`${policy.file}\` | sent | always \`null\`, whatever is stored | ${
        fixed.map((k) => `\`${k}\``).join(", ")
      } |`,
    );
  }
  const reasons = new Map<string, string[]>();
  for (const [column, reason] of Object.entries(policy.dropped)) {
    reasons.set(reason, [...(reasons.get(reason) ?? []), `\`${column}\``]);
  }
  for (const [reason, columns] of reasons) {
    rows.push(`| \`${policy.file}\` | **dropped** | ${reason} | ${columns.join(", ")} |`);
  }
  rows.push(
    `| \`${policy.file}\` | **dropped** | not on the allow-list | every other column, including ones added later |`,
  );
  return rows;
}

/** The whole table, as it appears in the README between the markers. */
export function whatLeavesTable(): string {
  return [
    "| file | fate | how | fields |",
    "|---|---|---|---|",
    ...[CLUSTER, HOST, INFRA_ENV, EVENT].flatMap(entityRows),
  ].join("\n");
}
