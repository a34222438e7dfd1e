/**
 * Compresses the streamed entry off the main thread: deflate (ending on a
 * byte boundary), CRC-32, and the tripwire's scan of the raw bytes, so the
 * event loop stays free for health checks and the second core does the work.
 * (node:zlib's streaming API was used before: its 16 KiB output buffers were
 * garbage this quiet isolate collected only every ~60 MB.)
 */
/// <reference lib="deno.worker" />
import zlib from "node:zlib";
import { ByteScanner } from "../sanitize/scanner.ts";

/** Messages to the worker. */
export type ToWorker =
  | { type: "start"; level: number; patterns: Array<{ bytes: Uint8Array; field: string }> }
  | { type: "chunk"; chunk: Uint8Array; length: number }
  | { type: "end" };

/** Messages from the worker. */
export type FromWorker =
  | { type: "ack"; buffer: ArrayBuffer }
  | { type: "hit"; field: string }
  | { type: "error"; message: string }
  | { type: "done"; parts: Blob[]; crc: number; length: number };

/** Deflate's window: each buffer is compressed with the 32 KiB before it as its dictionary. */
const WINDOW = 1 << 15;
/**
 * zlib's output buffer for one call. Only the bytes written are ever touched
 * (the allocation is mmapped, above glibc's largest mmap threshold), but V8
 * counts the whole size as external memory, so the few spent buffers are
 * collected within a couple of calls instead of piling up: this isolate
 * allocates almost nothing else that would prompt a collection.
 */
const OUT_BYTES = 40 << 20;

let level = 6;
let scanner: ByteScanner | undefined;
const window = new Uint8Array(WINDOW);
let windowBytes = 0;
const parts: Blob[] = [];
let crc = 0;
let length = 0;
let stopped = false;

function post(message: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

/**
 * Compresses one buffer as a piece of a single deflate stream: primed with
 * the previous 32 KiB and ended on a byte boundary without the final bit, so
 * the pieces simply join (the technique of pigz).
 */
function compress(view: Uint8Array): void {
  const out = zlib.deflateRawSync(view, {
    level,
    finishFlush: zlib.constants.Z_SYNC_FLUSH,
    chunkSize: Math.max(OUT_BYTES, view.byteLength * 2),
    ...(windowBytes > 0 ? { dictionary: window.subarray(WINDOW - windowBytes) } : {}),
  });
  parts.push(new Blob([out as Uint8Array<ArrayBuffer>]));
  if (view.byteLength >= WINDOW) {
    window.set(view.subarray(view.byteLength - WINDOW));
    windowBytes = WINDOW;
  } else {
    window.copyWithin(0, view.byteLength);
    window.set(view, WINDOW - view.byteLength);
    windowBytes = Math.min(WINDOW, windowBytes + view.byteLength);
  }
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (stopped) return;
  try {
    if (message.type === "start") {
      scanner = new ByteScanner(message.patterns);
      level = message.level;
    } else if (message.type === "chunk") {
      const view = message.chunk.subarray(0, message.length);
      const field = scanner!.find(view);
      if (field) {
        stopped = true;
        post({ type: "hit", field });
        return;
      }
      crc = zlib.crc32(view, crc);
      length += view.byteLength;
      compress(view);
      // Once compressed, the buffer goes back to be filled again.
      const buffer = message.chunk.buffer as ArrayBuffer;
      post({ type: "ack", buffer }, [buffer]);
    } else {
      post({ type: "done", parts, crc, length });
    }
  } catch (err) {
    stopped = true;
    post({ type: "error", message: String((err as Error)?.message ?? err) });
  }
};
