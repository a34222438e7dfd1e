/**
 * Run by bundle_test.ts in a process of its own, with `--expose-gc`: packs the
 * same 20 MB of incompressible bytes as a streamed archive several times,
 * dropping each archive and collecting garbage, and prints the RSS after each
 * round (MB, one per line). Memory that an archive leaves behind shows as growth.
 */
import { packStreamingArchive } from "../../src/bundle/mod.ts";

const rounds = Number(Deno.args[0] ?? 4);
const noise = new Uint8Array(1 << 20);
for (let at = 0; at < noise.length; at += 65536) {
  crypto.getRandomValues(noise.subarray(at, at + 65536));
}
const gc = (globalThis as unknown as { gc: () => void }).gc;
for (let round = 0; round < rounds; round++) {
  let built: { archive: Blob } | undefined = await packStreamingArchive([], {
    name: "noise.bin",
    async produce(sink) {
      // 1 MiB apart: beyond deflate's 32 KiB window, so nothing compresses.
      for (let i = 0; i < 20; i++) await sink.bytes(noise);
    },
  }, { after: () => [] });
  if (built.archive.size < 20e6) throw new Error(`archive of ${built.archive.size} bytes`);
  built = undefined;
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  console.log((Deno.memoryUsage().rss / 1e6).toFixed(1));
}
