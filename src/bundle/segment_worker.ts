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
  /**
   * A chunk compressed: its piece is the first `length` bytes of `buffer`,
   * or `piece` on its own when it did not fit there.
   */
  | { type: "ack"; buffer: ArrayBuffer; length: number; piece?: Uint8Array }
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
      const out = deflater!.piece(view);
      // The piece goes back in the chunk's own buffer, which is then filled
      // again: no buffer is made and freed per piece, and malloc's arenas grew
      // by a quarter as much during a pass (README, Scale; freeing large
      // blocks raises glibc's threshold for mapping blocks on their own, the
      // likely reason). Compressed text is smaller than the text; where a
      // piece is not, it travels in a buffer of its own.
      const buffer = message.chunk.buffer as ArrayBuffer;
      if (out.byteLength <= buffer.byteLength) {
        new Uint8Array(buffer).set(out);
        post({ type: "ack", buffer, length: out.byteLength }, [buffer]);
      } else {
        const piece = new Uint8Array(out);
        post({ type: "ack", buffer, length: 0, piece }, [buffer, piece.buffer as ArrayBuffer]);
      }
    } else {
      post({ type: "done", crc, length });
    }
  } catch (err) {
    stopped = true;
    post({ type: "error", message: String((err as Error)?.message ?? err) });
  }
};
