/**
 * Run by bundle_test.ts in a process of its own, with `--expose-gc`: packs the
 * same 20 MB of incompressible bytes as a streamed archive several times,
 * dropping each archive and collecting garbage, and prints the RSS after each
 * round (MB, one per line). Memory that an archive leaves behind shows as growth.
 */
import { packNoise } from "./noise_archive.ts";

const rounds = Number(Deno.args[0] ?? 4);
const gc = (globalThis as unknown as { gc: () => void }).gc;
for (let round = 0; round < rounds; round++) {
  // Not kept: the archive is dropped as soon as it is built.
  await packNoise(20);
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  console.log((Deno.memoryUsage().rss / 1e6).toFixed(1));
}
