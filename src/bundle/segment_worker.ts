/**
 * Compresses the streamed entry off the main thread: deflate (ending on a
 * byte boundary), CRC-32, and the tripwire's scan of the raw bytes, so the
 * event loop stays free for health checks and the second core does the work.
 */
/// <reference lib="deno.worker" />
import zlib from "node:zlib";
import { ByteScanner } from "../sanitize/scanner.ts";
import { PieceDeflater } from "./pieces.ts";

/** Messages to the worker. */
export type ToWorker =
  | { type: "start"; level: number; patterns: Array<{ bytes: Uint8Array; field: string }> }
  | { type: "chunk"; chunk: Uint8Array; length: number }
  | { type: "end" };

/** Messages from the worker. */
export type FromWorker =
  | { type: "ack"; buffer: ArrayBuffer; piece: Uint8Array }
  | { type: "hit"; field: string }
  | { type: "error"; message: string }
  | { type: "done"; crc: number; length: number };

let deflater: PieceDeflater | undefined;
let scanner: ByteScanner | undefined;
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
      deflater = new PieceDeflater(message.level);
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
      // The compressed piece travels back as bytes in a buffer of its own: a Blob
      // made here and handed over was never freed (measured: ~60 MB a million
      // events kept per pass), so the thread that keeps the archive makes it.
      const piece = new Uint8Array(deflater!.piece(view));
      // Once compressed, the buffer goes back to be filled again.
      const buffer = message.chunk.buffer as ArrayBuffer;
      post({ type: "ack", buffer, piece }, [buffer, piece.buffer as ArrayBuffer]);
    } else {
      post({ type: "done", crc, length });
    }
  } catch (err) {
    stopped = true;
    post({ type: "error", message: String((err as Error)?.message ?? err) });
  }
};
