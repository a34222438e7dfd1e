/**
 * Writes an export file (contract/export.ts): one tar, streamed, holding for
 * each finished attempt in range the archive preview would write for it and,
 * last, the manifest with each archive's size and sha256 and what was left
 * out and why. Memory holds one archive at a time.
 */
import { createHash } from "node:crypto";
import { createTarPacker } from "modern-tar";
import {
  EXPORT_FORMAT,
  EXPORT_MANIFEST,
  exportEntryName,
  type ExportManifest,
  isSafeClusterId,
} from "../../contract/mod.ts";
import type { Collector } from "../collect/mod.ts";
import { VERSION } from "../version.ts";

/** What to export. */
export interface ExportRequest {
  /** Attempts that ended at or after this time (any PostgreSQL timestamp). */
  since?: string;
  clusterId?: string;
  /** The file name recorded in the ledger for each exported attempt. */
  fileName: string;
}

const encoder = new TextEncoder();

/** A time for `since`: a date or an ISO date-time. */
const SINCE =
  /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** Checks what the operator asked for; the message names what is wrong. */
export function checkExportRequest(
  input: { since?: string; cluster?: string },
): { since?: string; clusterId?: string } | { error: string } {
  const { since, cluster } = input;
  if (since !== undefined && (!SINCE.test(since) || Number.isNaN(Date.parse(since)))) {
    return { error: "since must be a date or date-time, e.g. 2026-11-01 or 2026-11-01T10:00Z" };
  }
  if (cluster !== undefined && !isSafeClusterId(cluster)) {
    return { error: "cluster must be a cluster id" };
  }
  return { since, clusterId: cluster };
}

async function addEntry(
  controller: ReturnType<typeof createTarPacker>["controller"],
  name: string,
  data: Blob | Uint8Array,
): Promise<void> {
  const blob = data instanceof Blob ? data : new Blob([data as Uint8Array<ArrayBuffer>]);
  const stream = controller.add({
    name,
    size: blob.size,
    type: "file",
    mode: 0o644,
    mtime: new Date(0),
  });
  await blob.stream().pipeTo(stream);
}

/** The export tar as a stream; the manifest is written once every archive is in. */
export function exportStream(
  collector: Collector,
  request: ExportRequest,
): ReadableStream<Uint8Array> {
  const { readable, controller } = createTarPacker();
  const manifest: ExportManifest = {
    format: EXPORT_FORMAT,
    created_at: new Date().toISOString(),
    collector_version: VERSION,
    archives: [],
    left_out: [],
    left_out_counts: {},
  };
  (async () => {
    for await (const item of collector.exportArchives(request)) {
      const { attempt } = item;
      if ("leftOut" in item) {
        manifest.left_out.push({
          cluster_id: attempt.clusterId,
          attempt: attempt.endedAt,
          reason: item.leftOut,
        });
        manifest.left_out_counts[item.leftOut] = (manifest.left_out_counts[item.leftOut] ?? 0) + 1;
        continue;
      }
      const archive = item.built.archive;
      const hash = createHash("sha256");
      for await (const chunk of archive.stream()) hash.update(chunk);
      const file = exportEntryName(attempt.clusterId, attempt.bundleId);
      await addEntry(controller, file, archive);
      manifest.archives.push({
        file,
        cluster_id: attempt.clusterId,
        attempt: attempt.endedAt,
        attempt_status: attempt.clusterStatus,
        bundle_id: attempt.bundleId,
        bytes: archive.size,
        sha256: hash.digest("hex"),
      });
      await collector.markExported(attempt, request.fileName);
    }
    await addEntry(controller, EXPORT_MANIFEST, encoder.encode(JSON.stringify(manifest, null, 2)));
    controller.finalize();
  })().catch((err) => controller.error(err));
  return readable;
}
