/** A streamed archive of `mb` MiB that does not compress, for the memory tests. */
import { packStreamingArchive } from "../../src/bundle/mod.ts";

const noise = new Uint8Array(1 << 20);
for (let at = 0; at < noise.length; at += 65536) {
  crypto.getRandomValues(noise.subarray(at, at + 65536));
}

/** Packs `mb` copies of 1 MiB of noise; 1 MiB apart is beyond deflate's 32 KiB window. */
export async function packNoise(mb: number): Promise<{ archive: Blob }> {
  const built = await packStreamingArchive([], {
    name: "noise.bin",
    async produce(sink) {
      for (let i = 0; i < mb; i++) await sink.bytes(noise);
    },
  }, { after: () => [] });
  if (built.archive.size < mb * 1e6) throw new Error(`archive of ${built.archive.size} bytes`);
  return built;
}
