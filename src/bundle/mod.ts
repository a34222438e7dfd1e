/**
 * Packs archive files into a tar.gz: regular files only, mode 0644, zero
 * mtime, and a gzip header without a timestamp, so the same rows always give
 * the same bytes (the preview relies on it).
 */
import { gzip } from "fflate";
import { packTar, unpackTar } from "modern-tar";

/** One file of the archive. */
export interface ArchiveFile {
  /** Path inside the archive, e.g. `<cluster id>/events.json`. */
  name: string;
  data: Uint8Array;
}

/** Gzip level: 6, gzip's own default, balancing CPU against the customer's uplink. */
const LEVEL = 6;

function gzipAsync(data: Uint8Array): Promise<Uint8Array> {
  // fflate's async API compresses in a worker, keeping the event loop free.
  return new Promise((resolve, reject) =>
    gzip(data, { level: LEVEL, mtime: 0 }, (err, out) => (err ? reject(err) : resolve(out)))
  );
}

/** Builds the tar.gz of `files`, in the given order. */
export async function packArchive(files: readonly ArchiveFile[]): Promise<Uint8Array> {
  const tar = await packTar(files.map((f) => ({
    header: {
      name: f.name,
      size: f.data.byteLength,
      type: "file" as const,
      mode: 0o644,
      mtime: new Date(0),
      uid: 0,
      gid: 0,
      uname: "",
      gname: "",
    },
    body: f.data,
  })));
  return await gzipAsync(tar);
}

/** Reads a tar.gz back into its files (the receiver and the tests use it). */
export async function unpackArchive(archive: Uint8Array): Promise<ArchiveFile[]> {
  const stream = new Blob([archive as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new DecompressionStream("gzip"));
  const entries = await unpackTar(stream);
  return entries.filter((e) => e.header.type === "file" && e.data).map((e) => ({
    name: e.header.name,
    data: e.data!,
  }));
}
