/**
 * Compresses the streamed entry off the main thread: deflate (ending on a
 * byte boundary), CRC-32, and the tripwire's scan of the raw bytes, so the
 * event loop stays free for health checks and the second core does the work.
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

let deflate: zlib.DeflateRaw | undefined;
let scanner: ByteScanner | undefined;
const parts: Blob[] = [];
let crc = 0;
let length = 0;
let stopped = false;

function post(message: FromWorker, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  if (stopped) return;
  try {
    if (message.type === "start") {
      scanner = new ByteScanner(message.patterns);
      deflate = zlib.createDeflateRaw({
        level: message.level,
        finishFlush: zlib.constants.Z_SYNC_FLUSH,
      });
      // Into Blobs at once: they leave zlib's pooled buffers behind, and a Blob
      // crosses to the main thread without being copied.
      deflate.on(
        "data",
        (chunk: Uint8Array) => parts.push(new Blob([chunk as Uint8Array<ArrayBuffer>])),
      );
      deflate.on(
        "end",
        () => post({ type: "done", parts, crc, length }),
      );
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
      // Once compressed, the buffer goes back to be filled again.
      const buffer = message.chunk.buffer as ArrayBuffer;
      deflate!.write(view, () => post({ type: "ack", buffer }, [buffer]));
    } else {
      deflate!.end();
    }
  } catch (err) {
    stopped = true;
    post({ type: "error", message: String((err as Error)?.message ?? err) });
  }
};
