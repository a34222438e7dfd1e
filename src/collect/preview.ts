/** A human-readable listing of a preview archive, for `main.ts preview`. */
import { unpackArchive } from "../bundle/mod.ts";
import type { PreviewResult } from "./mod.ts";

const SHOWN_EVENTS = 5;
const SHOWN_HOSTS = 2;

function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** Lists the files of the archive, then their content, long arrays shortened. */
export async function renderPreview(preview: PreviewResult): Promise<string> {
  const { attempt } = preview;
  const lines = [
    `Archive for cluster ${attempt.clusterId}`,
    `  attempt: ${attempt.clusterStatus} at ${attempt.endedAt}${
      preview.inLedger ? "" : " (not in the ledger yet)"
    }`,
    `  bundle_id: ${attempt.bundleId}`,
    `  ${preview.archive.size} bytes compressed, ${preview.hostCount} hosts, ${preview.eventCount} events`,
    "",
    ...preview.files.map((f) => `  ${String(f.bytes).padStart(10)}  ${f.name}`),
  ];
  for (const file of await unpackArchive(preview.archive)) {
    const parsed = JSON.parse(new TextDecoder().decode(file.data));
    lines.push("", `--- ${file.name}`);
    const limit = file.name.endsWith("/events.json")
      ? SHOWN_EVENTS
      : file.name.endsWith("/hosts.json")
      ? SHOWN_HOSTS
      : undefined;
    if (Array.isArray(parsed) && limit !== undefined && parsed.length > limit) {
      lines.push(
        pretty(parsed.slice(0, limit)),
        `(${parsed.length - limit} more not shown; --out writes them all)`,
      );
    } else {
      lines.push(pretty(parsed));
    }
  }
  return lines.join("\n");
}
