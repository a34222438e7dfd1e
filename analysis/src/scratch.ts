/**
 * Scratch directories this program makes in the system's temporary folder
 * (`TMPDIR`, else `/tmp`): an archive's spool (its events.json, hundreds of
 * MB for a large cluster), a replica's sync files, an import's export
 * files. Each goes when its work ends; a process that was killed (out of
 * memory, say) leaves them, and a later start removes them.
 */

/** What a scratch directory is for; its name says so, and which process made it. */
export type ScratchKind = "spool" | "sync" | "import";

const NAME = /^analysis-(spool|sync|import)-(?:(\d+)-)?/;

/**
 * A scratch directory of a process that is gone is removed once untouched
 * for this long (a process in another PID namespace may share the folder).
 */
const STALE_MS = 60 * 60_000;

/** A new scratch directory of this process for `kind`. */
export async function makeScratchDir(kind: ScratchKind): Promise<string> {
  return await Deno.makeTempDir({ prefix: `analysis-${kind}-${Deno.pid}-` });
}

/**
 * Removes the scratch directories in `folder` (default: the temporary folder)
 * of processes that are gone and untouched for an hour (their own time and
 * their entries'); returns how many. Other files, the directories of
 * running processes (as far as /proc tells), and an unreadable folder are
 * left alone.
 */
export async function removeStaleScratch(
  folder: string = Deno.env.get("TMPDIR") || "/tmp",
  options: { now?: number } = {},
): Promise<number> {
  const now = options.now ?? Date.now();
  let removed = 0;
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(folder));
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const match = entry.isDirectory ? NAME.exec(entry.name) : null;
    if (!match || (match[2] && await isRunning(Number(match[2])))) continue;
    const path = `${folder}/${entry.name}`;
    try {
      if (now - await lastTouched(path) > STALE_MS) {
        await Deno.remove(path, { recursive: true });
        removed++;
      }
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
  return removed;
}

/** Whether process `pid` runs, as far as /proc tells (without /proc: not known, so no). */
async function isRunning(pid: number): Promise<boolean> {
  if (pid === Deno.pid) return true;
  try {
    await Deno.stat(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** The latest modification time of `dir` and of the entries directly in it. */
async function lastTouched(dir: string): Promise<number> {
  let latest = (await Deno.stat(dir)).mtime?.getTime() ?? 0;
  for await (const entry of Deno.readDir(dir)) {
    const mtime = (await Deno.lstat(`${dir}/${entry.name}`)).mtime?.getTime() ?? 0;
    latest = Math.max(latest, mtime);
  }
  return latest;
}
