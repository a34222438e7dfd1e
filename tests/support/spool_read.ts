/**
 * Run by bundle_test.ts in a process of its own: writes a 60 MB spooled file,
 * reads it back through its Blob's stream as an upload does, and prints how
 * far the RSS rose above where it was before the read (MB).
 */
import { archiveSpool, spoolWriter } from "../../src/bundle/spool.ts";

function rss(field: "VmRSS" | "VmHWM"): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]) / 1024;
}

const { dir } = archiveSpool();
if (!dir) throw new Error("no spool directory");
const writer = spoolWriter(dir);
const piece = new Uint8Array(1 << 20);
for (let i = 0; i < 60; i++) {
  crypto.getRandomValues(piece.subarray(0, 65536));
  writer.write(piece);
}
const blob = writer.finish();
await new Promise((resolve) => setTimeout(resolve, 100));
Deno.writeTextFileSync("/proc/self/clear_refs", "5"); // the high-water mark starts again here
const before = rss("VmRSS");
let read = 0;
for await (const chunk of blob.stream()) read += chunk.byteLength;
if (read !== 60 << 20) throw new Error(`read ${read} bytes`);
console.log((rss("VmHWM") - before).toFixed(1));
