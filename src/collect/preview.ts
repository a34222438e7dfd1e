/**
 * A human-readable listing of a preview archive, for `main.ts preview`. The
 * archive is read as a stream and only what is shown is parsed: a million
 * events are ~350 MB of JSON, far more than the heap the collector runs in.
 */
import { createTarDecoder } from "modern-tar";
import type { PreviewResult } from "./mod.ts";

const SHOWN_EVENTS = 5;
const SHOWN_HOSTS = 2;

function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

function isSpace(c: string): boolean {
  return c === " " || c === "\n" || c === "\r" || c === "\t";
}

/**
 * The first `n` elements of the JSON array in `body`, parsed; reading stops
 * once they are found. Anything but an array gives undefined.
 */
export async function firstElements(
  body: ReadableStream<Uint8Array>,
  n: number,
): Promise<unknown[] | undefined> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const found: unknown[] = [];
  let text = "";
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  let ended = false;
  try {
    while (!ended && found.length < n) {
      const { value, done } = await reader.read();
      if (done) break;
      const from = text.length;
      text += value;
      for (let i = from; i < text.length && !ended && found.length < n; i++) {
        const c = text[i];
        if (inString) {
          if (escaped) escaped = false;
          else if (c === "\\") escaped = true;
          else if (c === '"') inString = false;
          continue;
        }
        if (isSpace(c)) continue;
        if (depth === 0 && c !== "[") return undefined;
        if (depth === 1 && start < 0 && c !== "]" && c !== ",") start = i;
        if (c === '"') inString = true;
        else if (c === "[" || c === "{") depth++;
        else if ((c === "]" || c === "}") && depth > 1) depth--;
        else if (depth === 1 && (c === "," || c === "]")) {
          if (start >= 0) found.push(JSON.parse(text.slice(start, i)));
          start = -1;
          ended = c === "]";
        }
      }
      // Keep only the element being read, so memory holds one element at most.
      const keep = start >= 0 ? start : text.length;
      text = text.slice(keep);
      if (start >= 0) start = 0;
    }
    return found;
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/** Lists the files of the archive, then their content, long arrays shortened. */
export async function renderPreview(preview: PreviewResult): Promise<string> {
  const { attempt } = preview;
  const lines = [
    `Archive for cluster ${attempt.clusterId}`,
    `  attempt: ${attempt.clusterStatus} at ${attempt.endedAt}${
      preview.inLedger ? "" : " (not in the ledger yet)"
    }`,
    `  bundle_id: ${attempt.bundleId}`,
    `  ${preview.archive.size} bytes compressed, ${preview.hostCount} hosts, ${preview.eventCount} events`,
    "",
    ...preview.files.map((f) => `  ${String(f.bytes).padStart(10)}  ${f.name}`),
  ];
  const decoder = createTarDecoder();
  const entries = preview.archive.stream().pipeThrough(new DecompressionStream("gzip"))
    .pipeThrough(decoder);
  for await (const entry of entries) {
    const name = entry.header.name;
    lines.push("", `--- ${name}`);
    if (name.endsWith("/events.json")) {
      const shown = await firstElements(entry.body, SHOWN_EVENTS) ?? [];
      lines.push(pretty(shown));
      const more = preview.eventCount - shown.length;
      if (more > 0) lines.push(`(${more} more not shown; --out writes them all)`);
      continue;
    }
    const parsed = JSON.parse(await new Response(entry.body).text());
    if (name.endsWith("/hosts.json") && Array.isArray(parsed) && parsed.length > SHOWN_HOSTS) {
      lines.push(
        pretty(parsed.slice(0, SHOWN_HOSTS)),
        `(${parsed.length - SHOWN_HOSTS} more not shown; --out writes them all)`,
      );
    } else {
      lines.push(pretty(parsed));
    }
  }
  return lines.join("\n");
}
