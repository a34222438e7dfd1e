/**
 * What starting a child process needs, for the tests and tools of both
 * programs: no dependencies, so the analysis side can import it too.
 */

/**
 * A clean environment for a child, but for what Deno needs to find its cache
 * (without HOME or DENO_DIR it would resolve every npm package again).
 */
export function childEnv(env: Record<string, string>): Record<string, string> {
  // No update check: it would reach out (through HTTPS_PROXY when a test sets one).
  const keep: Record<string, string> = { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
  for (const name of ["HOME", "DENO_DIR", "PATH", "XDG_CACHE_HOME", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value) keep[name] = value;
  }
  return { ...keep, ...env };
}

/** A free loopback port (closed again, so a child process can take it). */
export function freePort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  return port;
}
