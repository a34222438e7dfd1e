/**
 * Run by bundle_test.ts in a process of its own, without V8 flags: builds a
 * 40 MB archive of incompressible bytes three times and prints the RSS while
 * each is held (MB, one per line). Each archive is dropped before the next is
 * built, and `release` (the first argument) says whether `releaseArchives()`
 * runs in between, as the collector runs it after every attempt. An archive
 * that outlives its drop shows as a higher RSS.
 */
import { releaseArchives } from "../../src/bundle/mod.ts";
import { packNoise } from "./noise_archive.ts";

const release = Deno.args[0] === "release";
/** The RSS while an archive is held; it is dropped on return. */
async function heldRss(): Promise<number> {
  const built = await packNoise(40);
  return built.archive.size > 0 ? Deno.memoryUsage().rss / 1e6 : NaN;
}

for (let round = 0; round < 3; round++) {
  console.log((await heldRss()).toFixed(1));
  if (release) releaseArchives();
  await new Promise((resolve) => setTimeout(resolve, 200));
}
