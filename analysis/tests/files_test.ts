/** Finding and reading the files `import` takes. */
import assert from "node:assert/strict";
import { findImportFiles, readWhole } from "../src/ingest/files.ts";

Deno.test("readWhole reads a file's exact bytes: empty, large, and one that grows past its size as it is read", async () => {
  const dir = await Deno.makeTempDir({ prefix: "analysis-files-" });
  try {
    await Deno.writeFile(`${dir}/empty.tgz`, new Uint8Array());
    assert.equal((await readWhole(`${dir}/empty.tgz`)).byteLength, 0);
    const big = new Uint8Array((3 << 20) + 7);
    for (let i = 0; i < big.byteLength; i += 65536) {
      crypto.getRandomValues(big.subarray(i, i + 65536));
    }
    await Deno.writeFile(`${dir}/big.tgz`, big);
    assert.deepEqual(await readWhole(`${dir}/big.tgz`), big);
    // A FIFO's size is 0: everything it gives is beyond the size read at the start.
    const fifo = `${dir}/fifo.tgz`;
    const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.ok(made.success);
    const sent = big.subarray(0, 200_001);
    const [got] = await Promise.all([readWhole(fifo), Deno.writeFile(fifo, sent)]);
    assert.deepEqual(got, sent);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("findImportFiles finds archives and export files under directories, in name order, and skips the rest", async () => {
  const dir = await Deno.makeTempDir({ prefix: "analysis-files-" });
  try {
    await Deno.mkdir(`${dir}/sub`);
    for (const name of ["b.tgz", "a.tar.gz", "notes.txt", "sub/c.tar"]) {
      await Deno.writeTextFile(`${dir}/${name}`, "x");
    }
    const found = await findImportFiles([`${dir}/`]);
    assert.deepEqual(found.map((f) => [f.path.slice(dir.length + 1), f.kind]), [
      ["a.tar.gz", "archive"],
      ["b.tgz", "archive"],
      ["sub/c.tar", "export"],
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
