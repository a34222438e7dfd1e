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

/**
 * A free TCP port (closed again, so a child process or a container can take it).
 *
 * It is picked below the kernel's ephemeral range: a port the kernel hands out
 * for `port: 0` can be taken again at any moment as the local end of some
 * outgoing connection, before the child binds it (CI saw Podman fail so).
 */
export function freePort(): number {
  const low = ephemeralLow();
  const floor = 20000;
  for (let tries = 0; low - floor > 1000 && tries < 100; tries++) {
    const port = floor + Math.floor(Math.random() * (low - floor));
    if (isFree(port)) return port;
  }
  const probe = Deno.listen({ hostname: "0.0.0.0", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  return port;
}

/** Whether `port` can be bound on every address now. */
function isFree(port: number): boolean {
  try {
    // 0.0.0.0: a published container port binds every address, not only loopback.
    Deno.listen({ hostname: "0.0.0.0", port }).close();
    return true;
  } catch {
    return false;
  }
}

/** The lowest port of the kernel's ephemeral range; 0 where it cannot be read. */
function ephemeralLow(): number {
  try {
    const text = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range");
    const low = Number(text.trim().split(/\s+/)[0]);
    if (Number.isInteger(low)) return low;
  } catch {
    // Not Linux, or /proc unreadable: the kernel's own pick below.
  }
  return 0;
}
