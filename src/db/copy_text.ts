/**
 * Reading `COPY … TO STDOUT` in PostgreSQL's text format through postgres.js.
 * COPY hands rows over without a round trip per batch and without a string
 * per column in the client, which made reading a million events about twice
 * as fast as a cursor (README, Scale).
 */
import type { Readable } from "node:stream";
import { TurnTaker } from "../event_loop.ts";

/** A field of a text-format row: its text, or null for `\N`. */
export type CopyField = string | null;

/** What each backslash escape of the text format stands for. */
const ESCAPES: Record<string, string> = {
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
};

/** Undoes the text format's escapes in one field. */
function unescapeField(field: string): CopyField {
  if (field === "\\N") return null;
  if (!field.includes("\\")) return field;
  // COPY TO writes only these escapes; any other escaped character stands for itself.
  return field.replace(/\\(.)/gs, (_, c: string) => ESCAPES[c] ?? c);
}

/** Splits one text-format line (without its newline) into its fields. */
export function parseCopyLine(line: string): CopyField[] {
  // In place: a million rows a pass, and a second array per row cost more than the split.
  const fields: CopyField[] = line.split("\t");
  for (let i = 0; i < fields.length; i++) fields[i] = unescapeField(fields[i] as string);
  return fields;
}

/**
 * Text gathered before it is handed on: large enough that a million rows
 * take few calls, small enough to stay in V8's young generation.
 */
const PIECE_CHARS = 32 * 1024;

/**
 * Reads a COPY stream to its end and hands its rows on in pieces of about
 * {@linkcode PIECE_CHARS} characters. If `onRows` throws, the rest of the
 * stream is still read (and dropped), so the connection stays usable for
 * whatever the transaction does next; then the error is thrown.
 */
export async function forEachCopyPiece(
  stream: Readable,
  onRows: (rows: CopyField[][]) => Promise<void>,
): Promise<void> {
  const decoder = new TextDecoder();
  let text = "";
  let failure: { error: unknown } | undefined;
  const handOn = async (upTo: number) => {
    const lines = text.slice(0, upTo).split("\n");
    text = text.slice(upTo + 1);
    if (failure) return;
    try {
      await onRows(lines.map(parseCopyLine));
    } catch (error) {
      failure = { error };
    }
  };
  const turns = new TurnTaker();
  try {
    for await (const chunk of buffered(stream)) {
      // While PostgreSQL keeps the socket full, reading never waits for I/O:
      // give the event loop a turn now and then, so the server stays responsive.
      const turn = turns.due();
      if (turn) await turn;
      text += decoder.decode(chunk, { stream: true });
      if (text.length < PIECE_CHARS) continue;
      const end = text.lastIndexOf("\n");
      if (end >= 0) await handOn(end);
    }
    text += decoder.decode();
    if (text.endsWith("\n")) await handOn(text.length - 1);
    else if (text.length > 0) throw new Error("COPY output ended within a row");
  } finally {
    resumeConnection(stream);
  }
  if (failure) throw failure.error;
}

/**
 * The stream's bytes, up to its high-water mark at a time: postgres.js pushes
 * every CopyData message, a row, on its own, and taking them one by one cost
 * more than parsing them. (`read()` without a size gives one pushed chunk
 * under Deno; a size above the high-water mark would raise the mark.)
 */
async function* buffered(stream: Readable): AsyncGenerator<Uint8Array> {
  // Listened to for good: an error emitted with no listener is thrown as an
  // uncaught exception, outside the transaction that should record it, and
  // postgres.js may destroy the stream before it is handed over, with the
  // error's emission still to come after this generator has thrown it.
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const onError = (error: unknown) => {
    failure ??= { error };
    wake?.();
  };
  const onChange = () => wake?.();
  stream.on("error", onError).on("readable", onChange).on("end", onChange).on("close", onChange);
  try {
    for (;;) {
      if (failure) throw failure.error;
      const size = Math.min(stream.readableLength, stream.readableHighWaterMark);
      const chunk: Uint8Array | null = stream.read(size > 0 ? size : undefined);
      if (chunk !== null) {
        yield chunk;
        continue;
      }
      if (stream.readableEnded) return;
      if (stream.errored) throw stream.errored;
      if (stream.destroyed) throw new Error("the COPY stream closed before its end");
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    stream.off("readable", onChange).off("end", onChange).off("close", onChange);
  }
}

/**
 * postgres.js pauses its socket when a COPY stream's buffer is full, and
 * resumes it only when the stream asks for more. When the end of the COPY
 * arrives in the same read, the stream never asks again and the next query
 * on that connection waits forever (porsager/postgres#499). The stream's
 * read function is what resumes the socket; calling it once the stream has
 * ended is harmless otherwise.
 */
function resumeConnection(stream: Readable): void {
  (stream as unknown as { _read?: (size: number) => void })._read?.(0);
}
