/**
 * Where a compressed archive waits until it is sent: a file in a directory of
 * this process's own under the system's temporary directory (`TMPDIR`, else
 * `/tmp`), not the process's memory. A million events make ~56 MB of
 * archive; kept as Blobs, those bytes sat in glibc's malloc arenas, which did
 * not give them back between passes (README, Scale). Where no file can be
 * written (no write permission, a read-only file system), archives stay in
 * memory, as the log says at start.
 *
 * A file goes when its archive is collected (the collector collects after
 * each attempt), and the directory when the command is done (`main.ts`); one left by a
 * process that was killed goes when a later one starts.
 */

import { collectGarbage } from "./collector.ts";

/** The spool directory, or why there is none. */
export type SpoolState = { dir: string } | { dir?: undefined; reason: string };

let state: SpoolState | undefined;

/** Prepares the spool directory once per process and says where archives are kept. */
export function archiveSpool(): SpoolState {
  if (state) return state;
  const tmp = (Deno.env.get("TMPDIR") || "/tmp").replace(/\/+$/, "");
  const dir = `${tmp}/${PREFIX}${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  try {
    Deno.mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    return state = { reason: `cannot write ${dir}: ${(err as Error).message}` };
  }
  removeStale(tmp);
  // The commands remove it themselves (main.ts); a test module that made one ends with this.
  globalThis.addEventListener("unload", removeArchiveSpool);
  return state = { dir };
}

/** Removes the spool directory with whatever is in it (the command is done). */
export function removeArchiveSpool(): void {
  if (state?.dir === undefined) return;
  try {
    Deno.removeSync(state.dir, { recursive: true });
  } catch {
    // already gone
  }
  state = undefined;
}

const PREFIX = "assisted-telemetry-archives-";

/**
 * A spool directory untouched for this long belongs to a process that was
 * killed: an archive lives for one attempt, minutes at most.
 */
const STALE_MS = 60 * 60_000;

/** Removes other processes' spool directories left behind (see STALE_MS). */
function removeStale(tmp: string): void {
  try {
    for (const entry of Deno.readDirSync(tmp)) {
      if (!entry.isDirectory || !entry.name.startsWith(PREFIX)) continue;
      const path = `${tmp}/${entry.name}`;
      try {
        const { mtime } = Deno.statSync(path);
        if (mtime && Date.now() - mtime.getTime() > STALE_MS) {
          Deno.removeSync(path, { recursive: true });
        }
      } catch {
        // gone meanwhile, or not ours
      }
    }
  } catch {
    // an unreadable TMPDIR: nothing to tidy
  }
}

/** Removes a spooled file once its archive is collected. */
const spooled = new FinalizationRegistry<string>((path) => {
  Deno.remove(path).catch(() => {});
});

/** What the file is read in, and how much is read between collections. */
const READ_BYTES = 64 * 1024;
const COLLECT_EVERY = 8 * 1024 * 1024;

/**
 * A Blob whose bytes are a file: `size` is known, `stream()` reads the file.
 * Deno's Blob constructor takes it as a part and reads it through `stream()`,
 * so `new Blob([head, file, tail])` has the whole size, and `fetch` sends it
 * with a Content-Length, streamed (`bundle_test.ts` sends one and checks the
 * header and the bytes).
 *
 * Each piece read is a new buffer, used once. Reading allocates almost
 * nothing else in V8's heap, so V8 saw no reason to collect, and the pieces
 * of an upload piled up: sending 60 MB took 29-31 MB of RSS (42 MB with the
 * command thread's young generation). Garbage is collected every 8 MB read
 * instead: seven full collections for a million events' archive, ~0.24 s of
 * a pass (every 4 MB: twice that, for peaks within the noise; README, Scale).
 */
class SpooledBlob extends Blob {
  readonly #path: string;
  readonly #size: number;

  constructor(path: string, size: number) {
    super([]);
    this.#path = path;
    this.#size = size;
    spooled.register(this, path);
  }

  override get size(): number {
    return this.#size;
  }

  override stream(): ReadableStream<Uint8Array<ArrayBuffer>> {
    const file = Deno.openSync(this.#path);
    let sinceCollected = 0;
    const close = () => {
      try {
        file.close();
      } catch {
        // already closed
      }
    };
    return new ReadableStream<Uint8Array<ArrayBuffer>>({
      async pull(controller) {
        if (sinceCollected >= COLLECT_EVERY) {
          sinceCollected = 0;
          collectGarbage();
        }
        const buffer = new Uint8Array(READ_BYTES);
        let n: number | null;
        try {
          n = await file.read(buffer);
        } catch (err) {
          close();
          controller.error(err);
          return;
        }
        if (n === null) {
          close();
          controller.close();
          return;
        }
        sinceCollected += n;
        controller.enqueue(n === READ_BYTES ? buffer : buffer.slice(0, n));
      },
      cancel: close,
    }, { highWaterMark: 0 });
  }
}

/** A file being written, piece by piece, that becomes a Blob when done. */
export interface SpoolWriter {
  write(piece: Uint8Array): void;
  /** The file as a Blob (its file goes when the Blob is collected). */
  finish(): Blob;
  /** Removes the file (the archive was not built). */
  abort(): void;
}

/** A new file in the spool directory `dir`. */
export function spoolWriter(dir: string): SpoolWriter {
  // Made again if a long-idle directory was taken for a dead process's.
  Deno.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = Deno.makeTempFileSync({ dir, prefix: "archive-", suffix: ".gz" });
  const file = Deno.openSync(path, { write: true });
  let size = 0;
  let open = true;
  const close = () => {
    if (open) file.close();
    open = false;
  };
  return {
    write(piece) {
      for (let at = 0; at < piece.byteLength;) at += file.writeSync(piece.subarray(at));
      size += piece.byteLength;
    },
    finish() {
      close();
      return new SpooledBlob(path, size);
    },
    abort() {
      close();
      try {
        Deno.removeSync(path);
      } catch {
        // already gone
      }
    },
  };
}
