/** Runs main.ts as its own process, as an operator or cron would. */
import { childEnv, freePort } from "../../tools/child.ts";

export { childEnv, freePort };

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const PERMISSIONS = ["--allow-net", "--allow-env", "--allow-read", "--allow-write"];

/** Runs a Deno program to completion in a clean environment; `flags` go to deno. */
export async function runDeno(
  program: string,
  args: string[],
  options: { env?: Record<string, string>; flags?: string[] } = {},
) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...(options.flags ?? []), program, ...args],
    env: childEnv(options.env ?? {}),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Runs a command of main.ts to completion, as an operator or cron would. */
export function cli(args: string[], env: Record<string, string> = {}) {
  return runDeno(MAIN, args, { env, flags: PERMISSIONS });
}

/**
 * As {@linkcode cli}, also watching the child's peak resident memory (VmHWM,
 * which starts afresh at exec; getrusage in the child would report this test
 * runner's size, inherited through fork).
 */
export async function cliPeak(
  args: string[],
  env: Record<string, string> = {},
) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN, ...args],
    env: childEnv(env),
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  let peakRssBytes = 0;
  let running = true;
  output.finally(() => (running = false));
  while (running) {
    try {
      const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
      peakRssBytes = Math.max(
        peakRssBytes,
        Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024,
      );
    } catch {
      // gone between the check and the read
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  const out = await output;
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    peakRssBytes,
  };
}

/** Starts a long-running command (serve); stderr is collected. */
export function spawn(args: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN, ...args],
    env: childEnv(env),
    clearEnv: true,
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  return { child, stderr };
}

/**
 * Starts `serve` on a free port with `env` and waits until `/healthz`
 * answers 200; `base` is its address.
 */
export async function serveHealthy(env: Record<string, string>) {
  const port = String(freePort());
  const served = spawn(["serve"], { ...env, PORT: port });
  const base = `http://127.0.0.1:${port}`;
  await until(async () =>
    (await fetch(`${base}/healthz`).then(async (r) => (await r.body?.cancel(), r.status))
      .catch(() => 0)) === 200
  );
  return { ...served, base };
}

/** Waits until `check` holds, polling; fails after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
