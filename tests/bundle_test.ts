import assert from "node:assert/strict";
import { packArchive, unpackArchive } from "../src/bundle/mod.ts";

const files = [
  { name: "c1/events/cluster.json", data: new TextEncoder().encode('{"id":"c1"}') },
  { name: "c1/events.json", data: new TextEncoder().encode("[]") },
];

Deno.test("archives round-trip, regular files only, in order", async () => {
  const archive = await packArchive(files);
  assert.deepEqual([archive[0], archive[1]], [0x1f, 0x8b]);
  const back = await unpackArchive(archive);
  assert.deepEqual(back.map((f) => f.name), files.map((f) => f.name));
  assert.deepEqual(back.map((f) => new TextDecoder().decode(f.data)), ['{"id":"c1"}', "[]"]);
});

Deno.test("the same files give the same bytes (no timestamps)", async () => {
  const a = await packArchive(files);
  const b = await packArchive(files);
  assert.deepEqual(a, b);
  assert.deepEqual([...a.subarray(4, 8)], [0, 0, 0, 0]);
});

Deno.test("system tar reads the archive as 0644 files with zero mtime", async () => {
  const path = await Deno.makeTempFile({ suffix: ".tgz" });
  try {
    await Deno.writeFile(path, await packArchive(files));
    const out = await new Deno.Command("tar", { args: ["-tvzf", path], stdout: "piped" }).output();
    const listing = new TextDecoder().decode(out.stdout);
    assert.ok(out.success);
    assert.match(listing, /^-rw-r--r-- .*1970-01-01 00:00 c1\/events\/cluster\.json$/m);
  } finally {
    await Deno.remove(path);
  }
});
