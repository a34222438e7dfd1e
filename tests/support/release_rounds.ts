/**
 * Run by bundle_test.ts in a process of its own, without V8 flags: builds a
 * 40 MB archive of incompressible bytes several times and prints the RSS
 * while each is held (MB, one per line). Each archive is dropped before the
 * next is built, and `release` (the first argument) says whether
 * `releaseArchives()` runs in between, as the collector runs it after every
 * attempt. An archive that outlives its drop shows as a higher RSS.
 */
import { packStreamingArchive, releaseArchives } from "../../src/bundle/mod.ts";

const release = Deno.args[0] === "release";
const noise = new Uint8Array(1 << 20);
for (let at = 0; at < noise.length; at += 65536) {
  crypto.getRandomValues(noise.subarray(at, at + 65536));
}
for (let round = 0; round < 3; round++) {
  let built: { archive: Blob } | undefined = await packStreamingArchive([], {
    name: "noise.bin",
    async produce(sink) {
      // 1 MiB apart: beyond deflate's 32 KiB window, so nothing compresses.
      for (let i = 0; i < 40; i++) await sink.bytes(noise);
    },
  }, { after: () => [] });
  if (built.archive.size < 40e6) throw new Error(`archive of ${built.archive.size} bytes`);
  console.log((Deno.memoryUsage().rss / 1e6).toFixed(1));
  built = undefined;
  if (release) releaseArchives();
  await new Promise((resolve) => setTimeout(resolve, 200));
}
