/**
 * The export file of a disconnected installation (the design's Alternative
 * 1): a tar holding, for each finished attempt, the archive that would have
 * been sent (`archives/<cluster id>/<bundle id>.tgz`), then `manifest.json`
 * naming each with its size and sha256. The collector writes it; its
 * `send-export` and the analysis service's `import` read it, refusing a
 * tampered or truncated file with the entry named.
 */
import { createHash } from "node:crypto";
import { createTarDecoder } from "modern-tar";
import { z } from "zod";
import { INGRESS_MAX_BYTES, isSafeClusterId, UUID } from "./archive.ts";

/** The manifest's name, last in the tar. */
export const EXPORT_MANIFEST = "manifest.json";

/** The format marker a reader checks. */
export const EXPORT_FORMAT = "assisted-telemetry-export/1";

/** Where an attempt's archive sits in the export tar. */
export function exportEntryName(clusterId: string, bundleId: string): string {
  return `archives/${clusterId}/${bundleId}.tgz`;
}

/** `manifest.json`. */
export const manifestSchema = z.object({
  format: z.literal(EXPORT_FORMAT),
  created_at: z.string(),
  collector_version: z.string(),
  archives: z.array(z.object({
    file: z.string(),
    cluster_id: z.string().refine(isSafeClusterId, "must be a plain cluster id"),
    attempt: z.string(),
    attempt_status: z.string(),
    bundle_id: z.string().regex(UUID, "must be a UUID"),
    bytes: z.number().int().nonnegative().max(INGRESS_MAX_BYTES),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  })),
  left_out: z.array(z.object({ cluster_id: z.string(), attempt: z.string(), reason: z.string() })),
  left_out_counts: z.record(z.string(), z.number()),
});

/** A parsed manifest. */
export type ExportManifest = z.infer<typeof manifestSchema>;

/** An export file that must not be used, naming the entry at fault. */
export class ExportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ExportError";
  }
}

/** One archive of an export, verified and spooled to a file. */
export interface ExportedArchive {
  entry: ExportManifest["archives"][number];
  path: string;
}

/**
 * Reads and verifies a whole export file before anything is used: every
 * archive spooled to `spoolDir` (so memory stays bounded), hashed, and
 * checked against the manifest; any difference is an ExportError naming the
 * entry.
 */
export async function readExportFile(
  path: string,
  options: { spoolDir: string },
): Promise<{ manifest: ExportManifest; archives: ExportedArchive[] }> {
  const seen = new Map<string, { sha256: string; bytes: number; path: string }>();
  let manifestText: string | undefined;
  const file = await Deno.open(path);
  try {
    for await (const entry of file.readable.pipeThrough(createTarDecoder({ strict: true }))) {
      const name = entry.header.name;
      if (entry.header.type !== "file") {
        await entry.body.cancel();
        throw new ExportError(`entry '${name.slice(0, 200)}' is not a file`);
      }
      if (name === EXPORT_MANIFEST) {
        manifestText = await readSmall(entry.body, 64 * 1024 * 1024, name);
        continue;
      }
      if (!/^archives\/[A-Za-z0-9._-]+\/[0-9a-f-]{36}\.tgz$/.test(name) || name.includes("..")) {
        await entry.body.cancel();
        throw new ExportError(`entry '${name.slice(0, 200)}' is not an archive of an export`);
      }
      const spooled = `${options.spoolDir}/${seen.size}.tgz`;
      const hash = createHash("sha256");
      let bytes = 0;
      const out = await Deno.create(spooled);
      await entry.body.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, controller) {
            bytes += chunk.byteLength;
            if (bytes > INGRESS_MAX_BYTES) {
              controller.error(new ExportError(`entry '${name}' is larger than ingress accepts`));
              return;
            }
            hash.update(chunk);
            controller.enqueue(chunk);
          },
        }),
      ).pipeTo(out.writable);
      seen.set(name, { sha256: hash.digest("hex"), bytes, path: spooled });
    }
  } catch (err) {
    if (err instanceof ExportError) throw err;
    throw new ExportError(`not a readable export file (truncated?): ${(err as Error).message}`);
  } finally {
    try {
      file.close();
    } catch {
      // closed with its stream
    }
  }
  if (manifestText === undefined) throw new ExportError("no manifest.json: the file is truncated");
  let manifest: ExportManifest;
  try {
    manifest = manifestSchema.parse(JSON.parse(manifestText));
  } catch (err) {
    throw new ExportError(`manifest.json is not an export manifest: ${(err as Error).message}`);
  }
  const archives: ExportedArchive[] = [];
  for (const entry of manifest.archives) {
    const got = seen.get(entry.file);
    if (!got) throw new ExportError(`entry '${entry.file}' is missing: the file is truncated`);
    if (got.sha256 !== entry.sha256 || got.bytes !== entry.bytes) {
      throw new ExportError(`entry '${entry.file}' does not match its sha256 in the manifest`);
    }
    if (entry.file !== exportEntryName(entry.cluster_id, entry.bundle_id)) {
      throw new ExportError(`entry '${entry.file}' is not named after its cluster and bundle`);
    }
    seen.delete(entry.file);
    archives.push({ entry, path: got.path });
  }
  const extra = [...seen.keys()][0];
  if (extra) throw new ExportError(`entry '${extra}' is not in the manifest`);
  return { manifest, archives };
}

async function readSmall(body: ReadableStream<Uint8Array>, max: number, name: string) {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > max) throw new ExportError(`entry '${name}' is too large`);
    parts.push(chunk);
  }
  return new TextDecoder().decode(await new Blob(parts as Uint8Array<ArrayBuffer>[]).arrayBuffer());
}
