/** Finding what `import` reads: archives, directories of them, and SaaS export trees. */
import { type SaasStream, saasStream } from "../normalise/saas.ts";

/** One file to import. */
export interface ImportFile {
  path: string;
  kind: "archive" | "export" | SaasStream;
}

/**
 * Archives (`.tgz`, `.tar.gz`), export files of disconnected installations
 * (`.tar`) and SaaS export files under `paths`, cluster records first.
 */
export async function findImportFiles(paths: string[]): Promise<ImportFile[]> {
  const out: ImportFile[] = [];
  async function visit(path: string): Promise<void> {
    const info = await Deno.stat(path);
    if (info.isDirectory) {
      const names: string[] = [];
      for await (const entry of Deno.readDir(path)) names.push(entry.name);
      for (const name of names.sort()) await visit(`${path}/${name}`);
      return;
    }
    if (!info.isFile) return;
    const stream = saasStream(path);
    if (stream) out.push({ path, kind: stream });
    else if (/\.(tgz|tar\.gz)$/.test(path)) out.push({ path, kind: "archive" });
    else if (/\.tar$/.test(path)) out.push({ path, kind: "export" });
  }
  for (const p of paths) await visit(p.replace(/\/+$/, ""));
  const order = (f: ImportFile) => (f.kind === ".clusters" ? 0 : 1);
  return out.sort((a, b) => order(a) - order(b));
}

/**
 * A file's bytes, read into one buffer of the file's size: for a 32 MB
 * archive, 50-110 ms against 150-250 ms for `Deno.readFile`, which grows
 * its buffer as it reads (measured). A file that grows meanwhile is read whole.
 */
export async function readWhole(path: string): Promise<Uint8Array<ArrayBuffer>> {
  using file = await Deno.open(path);
  let buffer = new Uint8Array((await file.stat()).size);
  let filled = 0;
  const probe = new Uint8Array(1);
  for (;;) {
    if (filled === buffer.byteLength) {
      // Full at the size stat gave: one byte more tells the end from a file that grew
      // (growing the buffer first cost a copy of the whole file, and twice its memory).
      const n = await file.read(probe);
      if (n === null) return buffer;
      const grown = new Uint8Array(Math.max(64 << 10, buffer.byteLength * 2));
      grown.set(buffer);
      grown[filled++] = probe[0];
      buffer = grown;
    }
    const n = await file.read(buffer.subarray(filled));
    if (n === null) return buffer.subarray(0, filled);
    filled += n;
  }
}
