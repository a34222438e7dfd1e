/** Scratch directories: named by their process, and removed once it is gone. */
import assert from "node:assert/strict";
import { makeScratchDir, removeStaleScratch } from "../src/scratch.ts";
import { scratchTmpdir } from "./support.ts";

Deno.test("scratch directories of processes that are gone are removed once untouched for an hour; the rest stay", async () => {
  const tmpdir = await scratchTmpdir("scratch-test-");
  const folder = tmpdir.path;
  try {
    const mine = await makeScratchDir("spool");
    assert.ok(mine.startsWith(`${folder}/analysis-spool-${Deno.pid}-`), mine);
    // A process that has gone: a child that has exited.
    const gone = new Deno.Command("true").spawn();
    await gone.status;
    const dirs = {
      mine,
      goneOld: `${folder}/analysis-sync-${gone.pid}-aaaa`,
      goneFresh: `${folder}/analysis-import-${gone.pid}-bbbb`,
      goneFreshInside: `${folder}/analysis-spool-${gone.pid}-cccc`,
      earlierVersionOld: `${folder}/analysis-spool-x1y2z3`,
      othersOld: `${folder}/other-program-${gone.pid}-dddd`,
    };
    for (const dir of Object.values(dirs)) await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dirs.goneFreshInside}/events.json`, "[]");
    const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);
    for (const dir of [dirs.mine, dirs.goneOld, dirs.earlierVersionOld, dirs.othersOld]) {
      await Deno.utime(dir, hoursAgo(2), hoursAgo(2));
    }
    // Its directory is old, but a file in it was written just now.
    await Deno.utime(dirs.goneFreshInside, hoursAgo(2), hoursAgo(2));
    assert.equal(await removeStaleScratch(), 2);
    const left = new Set((await Array.fromAsync(Deno.readDir(folder))).map((e) => e.name));
    const name = (path: string) => path.slice(folder.length + 1);
    assert.deepEqual(
      Object.entries(dirs).filter(([, path]) => left.has(name(path))).map(([k]) => k).sort(),
      ["goneFresh", "goneFreshInside", "mine", "othersOld"],
    );
    // A folder that cannot be read is left alone.
    assert.equal(await removeStaleScratch(`${folder}/missing`), 0);
  } finally {
    await tmpdir.restore();
  }
});
