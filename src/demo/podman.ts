/**
 * Podman as the container tests drive it: the tools from Debian's packages,
 * and the settings that work on these machines (vfs storage, chroot builds,
 * runc, cgroupfs, lowered ulimits) in files used only by the tests.
 */

/** Runs a command; its output, or an error with the end of it. */
export async function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<string> {
  const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) {
    throw new Error(`${cmd} ${args.slice(0, 3).join(" ")} failed:\n${text.slice(-3000)}`);
  }
  return text;
}

async function have(cmd: string): Promise<boolean> {
  try {
    return (await new Deno.Command("sh", { args: ["-c", `command -v ${cmd}`], stdout: "null" })
      .output()).success;
  } catch {
    return false;
  }
}

/** Installs podman, buildah and runc from Debian when missing (as root). */
export async function ensureTools(): Promise<void> {
  const missing = [];
  for (const tool of ["podman", "buildah", "runc"]) if (!(await have(tool))) missing.push(tool);
  if (missing.length === 0) return;
  if (Deno.uid?.() !== 0) throw new Error(`install ${missing.join(", ")} (Debian packages) first`);
  console.log(`installing ${missing.join(", ")}`);
  await run("apt-get", ["update", "-qq"]);
  await run("apt-get", ["install", "-y", "-qq", "podman", "buildah", "runc"], {
    DEBIAN_FRONTEND: "noninteractive",
  });
}

/** The Podman settings that work on these machines, in a directory of their own. */
export async function containerConfig(dir: string): Promise<Record<string, string>> {
  await Deno.writeTextFile(
    `${dir}/storage.conf`,
    `[storage]\ndriver = "vfs"\nrunroot = "${dir}/run"\ngraphroot = "${dir}/storage"\n`,
  );
  await Deno.writeTextFile(
    `${dir}/containers.conf`,
    `[containers]\ndefault_ulimits = ["nofile=10000:10000", "nproc=4096:4096"]\n` +
      `[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n`,
  );
  return {
    CONTAINERS_CONF: `${dir}/containers.conf`,
    CONTAINERS_STORAGE_CONF: `${dir}/storage.conf`,
    BUILDAH_ISOLATION: "chroot",
    PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: Deno.env.get("HOME") ?? "/root",
  };
}

/** Polls `check` until it holds; throws after `ms`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  ms = 60_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
