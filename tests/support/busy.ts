/** Keeps this thread busy for `ms` of wall time (synchronous work, as a pass's is). */
export function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) Math.sqrt(Math.random());
}
