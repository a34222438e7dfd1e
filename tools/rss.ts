/**
 * Peak resident memory of a process and its descendants, for the
 * benchmarks: read from /proc while they run.
 */

/** A process's own high-water mark of resident memory, in bytes. */
function peakRss(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

/** The process and its descendants. */
function processTree(pid: number): number[] {
  const out = [pid];
  for (const task of Array.from(Deno.readDirSync(`/proc/${pid}/task`))) {
    try {
      const children = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/children`).trim();
      for (const child of children ? children.split(/\s+/) : []) {
        out.push(...processTree(Number(child)));
      }
    } catch {
      // the thread ended while we looked
    }
  }
  return out;
}

/**
 * Watches a process tree's peak RSS: each process's own high-water mark,
 * summed over every process seen (an upper bound of the tree's peak).
 */
export function watchTreeRss(pid: number): { stop(): number } {
  const peaks = new Map<number, number>();
  const look = () => {
    try {
      for (const p of processTree(pid)) peaks.set(p, Math.max(peaks.get(p) ?? 0, peakRss(p)));
    } catch {
      // a process ended between two looks
    }
  };
  look();
  const timer = setInterval(look, 25);
  return {
    stop() {
      look();
      clearInterval(timer);
      return [...peaks.values()].reduce((a, b) => a + b, 0);
    },
  };
}
