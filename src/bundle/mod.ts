/**
 * Packs archive files into a tar.gz: regular files only, mode 0644, zero
 * mtime, and a gzip header without a timestamp, so the same rows always give
 * the same bytes (the preview relies on it).
 *
 * One entry (events.json) can be streamed: its bytes are compressed as they
 * are produced, so memory holds the compressed output, never the whole file.
 * A tar header must state the size before the content, so the archive is
 * compressed in three independent deflate segments (before, streamed, after),
 * each ending on a byte boundary, and joined into one gzip member whose CRC is
 * combined from the segments' (the technique pigz uses for parallel gzip). The
 * streamed segment is itself deflated buffer by buffer, each primed with the
 * 32 KiB before it, as pigz does too.
 */
import zlib from "node:zlib";
import { createTarPacker, packTar, unpackTar } from "modern-tar";
import { joinBytes } from "../../contract/archive.ts";
import { collectGarbage } from "./collector.ts";
import { crc32Combine } from "./crc32.ts";
import { DEFAULT_LEVEL } from "./pieces.ts";
import type { FromWorker, ToWorker } from "./segment_worker.ts";
import { archiveSpool, type SpoolWriter, spoolWriter } from "./spool.ts";

/** One file of the archive. */
export interface ArchiveFile {
  /** Path inside the archive, e.g. `<cluster id>/events.json`. */
  name: string;
  data: Uint8Array;
}

/**
 * The deflate implementation and level. Only node:zlib can end a segment on a
 * byte boundary without ending the stream (Z_SYNC_FLUSH), which streaming
 * needs; fflate and CompressionStream are measured against it in the
 * benchmark (see README).
 */
export interface Compressor {
  kind: "zlib";
  level: number;
}

/** node:zlib at the default level ({@linkcode DEFAULT_LEVEL}). */
export const DEFAULT_COMPRESSOR: Compressor = { kind: "zlib", level: DEFAULT_LEVEL };

/** Parses `zlib:6` (levels 1-9). */
export function parseCompressor(text: string): Compressor | undefined {
  const m = /^zlib:([1-9])$/.exec(text.trim());
  return m ? { kind: "zlib", level: Number(m[1]) } : undefined;
}

interface Segment {
  write(chunk: Uint8Array): Promise<void>;
  /** Ends the segment; `final` marks the deflate stream's last block. */
  end(): Promise<Uint8Array[]>;
}

function zlibSegment(level: number, final: boolean): Segment {
  const deflate = zlib.createDeflateRaw({
    level,
    finishFlush: final ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH,
  });
  const out: Uint8Array[] = [];
  deflate.on("data", (chunk: Uint8Array) => out.push(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    deflate.on("end", resolve);
    deflate.on("error", reject);
  });
  return {
    write: (chunk) =>
      new Promise((resolve, reject) =>
        deflate.write(chunk, (err) => (err ? reject(err) : resolve()))
      ),
    async end() {
      deflate.end();
      await ended;
      return out;
    },
  };
}

function segment(compressor: Compressor, final: boolean): Segment {
  return zlibSegment(compressor.level, final);
}

const TAR_END = 1024;
const HEADER_DEFAULTS = {
  type: "file" as const,
  mode: 0o644,
  mtime: new Date(0),
  uid: 0,
  gid: 0,
  uname: "",
  gname: "",
};

/** Tar bytes of `files`; without the end-of-archive blocks unless `last`. */
async function tarOf(files: readonly ArchiveFile[], last: boolean): Promise<Uint8Array> {
  const tar = await packTar(files.map((f) => ({
    header: { ...HEADER_DEFAULTS, name: f.name, size: f.data.byteLength },
    body: f.data,
  })));
  return last ? tar : tar.subarray(0, tar.byteLength - TAR_END);
}

/** The 512-byte tar header of a file of `size` bytes. */
async function tarHeader(name: string, size: number): Promise<Uint8Array> {
  const { readable, controller } = createTarPacker();
  const reader = readable.getReader();
  controller.add({ ...HEADER_DEFAULTS, name, size });
  const { value } = await reader.read();
  reader.releaseLock();
  if (!value || value.byteLength !== 512) throw new Error("unexpected tar header");
  return value;
}

/** gzip member header: deflate, no name, mtime 0, Unix. */
const GZIP_HEADER = new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);

function trailer(crc: number, length: number): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, crc, true);
  view.setUint32(4, length % 2 ** 32, true);
  return out;
}

async function compressWhole(
  data: Uint8Array,
  compressor: Compressor,
  final: boolean,
): Promise<Uint8Array[]> {
  const s = segment(compressor, final);
  await s.write(data);
  return await s.end();
}

/** Where a streamed entry's content goes, in order. */
export interface StreamSink {
  /**
   * Appends text as UTF-8. Returns a promise only when the caller must wait
   * for room (await it then); otherwise nothing, sparing a microtask per event.
   */
  text(value: string): Promise<void> | void;
  /** Appends bytes. */
  bytes(value: Uint8Array): Promise<void>;
}

/** A streamed entry: `produce` writes its content through the sink. */
export interface StreamedFile {
  name: string;
  produce(sink: StreamSink): Promise<void>;
}

/** Thrown when the streamed bytes hold a pattern the caller asked to watch for. */
export class PatternFoundError extends Error {
  /** The label of the pattern found. */
  readonly field: string;
  constructor(field: string) {
    super(`pattern of ${field} found`);
    this.name = "PatternFoundError";
    this.field = field;
  }
}

/**
 * The streamed content travels to the worker in a few fixed buffers that come
 * back once compressed, so uncompressed bytes in memory are bounded by
 * POOL × BUFFER_BYTES however long the stream, and no garbage piles up.
 */
const BUFFER_BYTES = 1 << 20;
const POOL = 4;

/**
 * Buffers of finished segments, kept for the next rather than freed: a freed
 * buffer this large raises glibc's threshold for mapping blocks on their own,
 * and blocks below it stay in malloc's arenas once freed (README, Scale).
 */
const spareBuffers: ArrayBuffer[] = [];

function takeBuffers(): Uint8Array[] {
  return Array.from(
    { length: POOL },
    () => new Uint8Array(spareBuffers.pop() ?? new ArrayBuffer(BUFFER_BYTES)),
  );
}

function keepBuffers(buffers: Uint8Array[]): void {
  for (const b of buffers) {
    if (spareBuffers.length < POOL && b.buffer.byteLength === BUFFER_BYTES) {
      spareBuffers.push(b.buffer as ArrayBuffer);
    }
  }
}

/** The streamed segment, compressed, checksummed and scanned in a worker. */
function workerSegment(level: number, patterns: Array<{ bytes: Uint8Array; field: string }>) {
  const worker = new Worker(new URL("./segment_worker.ts", import.meta.url), { type: "module" });
  const free: Uint8Array[] = takeBuffers();
  const encoder = new TextEncoder();
  let current: Uint8Array | undefined;
  let used = 0;
  let waiting: (() => void) | undefined;
  let failure: Error | undefined;
  // Compressed pieces go to a file where one can be written (see spool.ts), else to Blobs.
  const spool = archiveSpool();
  let file: SpoolWriter | undefined;
  try {
    file = spool.dir === undefined ? undefined : spoolWriter(spool.dir);
  } catch {
    // the directory went: this archive stays in memory
  }
  const parts: Blob[] = [];
  const done = Promise.withResolvers<{ parts: Blob[]; crc: number; length: number }>();
  done.promise.catch(() => {});
  const fail = (err: Error) => {
    failure ??= err;
    waiting?.();
    done.reject(failure);
  };
  worker.onmessage = (event: MessageEvent<FromWorker>) => {
    const m = event.data;
    if (m.type === "ack") {
      try {
        const piece = m.piece ?? new Uint8Array(m.buffer, 0, m.length);
        if (file) file.write(piece);
        // A Blob copies its parts, so the buffer can be filled again.
        else parts.push(new Blob([piece as Uint8Array<ArrayBuffer>]));
      } catch (err) {
        fail(new Error(`keeping the archive on disk failed: ${(err as Error).message}`));
        return;
      }
      free.push(new Uint8Array(m.buffer));
      waiting?.();
    } else if (m.type === "hit") fail(new PatternFoundError(m.field));
    else if (m.type === "error") fail(new Error(`compression failed: ${m.message}`));
    else done.resolve({ parts: file ? [file.finish()] : parts, crc: m.crc, length: m.length });
  };
  worker.onerror = (event) => {
    event.preventDefault();
    fail(new Error(`compression worker failed: ${event.message}`));
  };
  worker.postMessage({ type: "start", level, patterns } satisfies ToWorker);

  const send = () => {
    if (!current || used === 0) return;
    worker.postMessage({ type: "chunk", chunk: current, length: used } satisfies ToWorker, [
      current.buffer as ArrayBuffer,
    ]);
    current = undefined;
    used = 0;
  };
  const next = async () => {
    send();
    while (free.length === 0 && !failure) await new Promise<void>((resolve) => (waiting = resolve));
    if (failure) throw failure;
    current = free.pop()!;
  };
  const sink: StreamSink = {
    text(value) {
      if (failure) throw failure;
      if (!current) return next().then(() => sink.text(value));
      const { read, written } = encoder.encodeInto(value, current.subarray(used));
      used += written;
      if (read === value.length) return;
      // The buffer is full: send it, and go on with the rest in the next one.
      return next().then(() => sink.text(value.slice(read)));
    },
    async bytes(value) {
      for (let at = 0; at < value.byteLength;) {
        if (!current || used === BUFFER_BYTES) await next();
        const n = Math.min(value.byteLength - at, BUFFER_BYTES - used);
        current!.set(value.subarray(at, at + n), used);
        used += n;
        at += n;
      }
    },
  };
  return {
    sink,
    async end(): Promise<{ parts: Blob[]; crc: number; length: number }> {
      if (!failure) {
        send();
        worker.postMessage({ type: "end" } satisfies ToWorker);
      }
      try {
        const result = await done.promise;
        // Every buffer has come back: the worker acknowledges each before it is done.
        keepBuffers(free);
        return result;
      } catch (err) {
        file?.abort();
        throw err;
      } finally {
        worker.terminate();
      }
    },
    abort(): void {
      worker.terminate();
      file?.abort();
    },
  };
}

/**
 * Builds `before` + the streamed file + `after()` as one tar.gz. `after` is
 * called once the stream is done, so it can describe what was streamed.
 */
export async function packStreamingArchive(
  before: readonly ArchiveFile[],
  streamed: StreamedFile,
  options: {
    after: () => readonly ArchiveFile[] | Promise<readonly ArchiveFile[]>;
    compressor?: Compressor;
    /** Patterns that must not appear in the streamed bytes (PatternFoundError). */
    forbidden?: Array<{ bytes: Uint8Array; field: string }>;
  },
): Promise<{ archive: Blob; streamedBytes: number }> {
  const compressor = options.compressor ?? DEFAULT_COMPRESSOR;
  const middle = workerSegment(compressor.level, options.forbidden ?? []);
  try {
    await streamed.produce(middle.sink);
  } catch (err) {
    middle.abort();
    throw err;
  }
  const { parts: middleParts, crc: crcMiddle, length: lengthMiddle } = await middle.end();

  const head = joinBytes([
    await tarOf(before, false),
    await tarHeader(streamed.name, lengthMiddle),
  ]);
  const padding = new Uint8Array((512 - (lengthMiddle % 512)) % 512);
  const tail = joinBytes([padding, await tarOf(await options.after(), true)]);
  const crc = crc32Combine(
    crc32Combine(zlib.crc32(head), crcMiddle, lengthMiddle),
    zlib.crc32(tail),
    tail.byteLength,
  );
  // A Blob of the parts: one copy, after which the parts can go; the upload
  // and the receiver read it without copying again.
  const archive = new Blob([
    GZIP_HEADER,
    ...await compressWhole(head, compressor, false),
    ...middleParts,
    ...await compressWhole(tail, compressor, true),
    trailer(crc, head.byteLength + lengthMiddle + tail.byteLength),
  ] as BlobPart[]);
  return { archive, streamedBytes: lengthMiddle };
}

/** Builds the tar.gz of `files`, in the given order. */
export async function packArchive(
  files: readonly ArchiveFile[],
  options: { compressor?: Compressor } = {},
): Promise<Uint8Array> {
  const tar = await tarOf(files, true);
  return joinBytes([
    GZIP_HEADER,
    ...await compressWhole(tar, options.compressor ?? DEFAULT_COMPRESSOR, true),
    trailer(zlib.crc32(tar), tar.byteLength),
  ]);
}

/** Reads a tar.gz back into its files (the receiver and the tests use it). */
export async function unpackArchive(archive: Uint8Array | Blob): Promise<ArchiveFile[]> {
  const blob = archive instanceof Blob ? archive : new Blob([archive as Uint8Array<ArrayBuffer>]);
  const stream = blob.stream().pipeThrough(new DecompressionStream("gzip"));
  const entries = await unpackTar(stream);
  return entries.filter((e) => e.header.type === "file" && e.data).map((e) => ({
    name: e.header.name,
    data: e.data!,
  }));
}

/**
 * Collects garbage now, so that the bytes of archives no longer referenced
 * are freed before the next is built. A Blob's bytes live outside V8's heap
 * and V8 does not count them, so nothing prompts it to collect a dropped
 * archive (measured in isolation: three 56 MB archives built one after
 * another, each dropped, held 244 MB without a collection, 161 MB with one).
 */
export function releaseArchives(): void {
  collectGarbage();
}
