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

/** Copies `path` (following links) to the same place under `rootfs`. */
export async function copyInto(rootfs: string, path: string, as = path): Promise<void> {
  const target = `${rootfs}${as}`;
  await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
  await Deno.copyFile(await Deno.realPath(path), target);
}

/** Copies a program and the shared libraries it links (ldd) under `rootfs`. */
export async function copyProgram(rootfs: string, path: string, as = path): Promise<void> {
  await copyInto(rootfs, path, as);
  const ldd = await run("ldd", [path]);
  for (const m of ldd.matchAll(/(\/[^\s]+\.so[^\s]*)/g)) await copyInto(rootfs, m[1]);
}

/**
 * Builds `tag` from scratch out of `<dir>/rootfs`, with `lines` after the
 * COPY (USER, CMD, ENV), as the tests build their local images.
 */
export async function buildFromRootfs(
  tag: string,
  dir: string,
  options: { env: Record<string, string>; copyFlags?: string; lines?: string[] },
): Promise<void> {
  const copy = `COPY ${options.copyFlags ? `${options.copyFlags} ` : ""}rootfs/ /`;
  await Deno.writeTextFile(
    `${dir}/Containerfile`,
    ["FROM scratch", copy, ...(options.lines ?? [])].join("\n") + "\n",
  );
  await run(
    "podman",
    ["build", "--isolation", "chroot", "-t", tag, "-f", `${dir}/Containerfile`, dir],
    options.env,
  );
}
