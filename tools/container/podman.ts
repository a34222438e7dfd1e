/**
 * Podman as the container tests drive it: the tools from Debian's packages,
 * the settings that work on these machines (vfs storage, chroot builds,
 * runc, cgroupfs, lowered ulimits) in files used only by the tests, and the
 * check both tests make of a running collector container.
 */
import type { Queryable } from "../../src/db/mod.ts";
import { unpackArchive } from "../../src/bundle/mod.ts";
import { seedCluster } from "../../tests/fixtures/assisted_data.ts";

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

/**
 * What every image built from scratch needs: a world-writable /tmp with the
 * sticky bit (as in the official images; mkdir's mode loses to umask) and
 * /etc/passwd and /etc/group for `users` (name → uid, each its own group).
 */
export async function prepareRootfs(rootfs: string, users: Record<string, number>): Promise<void> {
  await Deno.mkdir(`${rootfs}/tmp`, { recursive: true });
  await Deno.chmod(`${rootfs}/tmp`, 0o1777);
  await Deno.mkdir(`${rootfs}/etc`, { recursive: true });
  const entries = Object.entries(users);
  await Deno.writeTextFile(
    `${rootfs}/etc/passwd`,
    entries.map(([name, id]) => `${name}:x:${id}:${id}::/tmp:/bin/false\n`).join(""),
  );
  await Deno.writeTextFile(
    `${rootfs}/etc/group`,
    entries.map(([name, id]) => `${name}:x:${id}:\n`).join(""),
  );
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

/**
 * Builds the collector's Containerfile as `image` on `base`, a local base
 * image made from scratch out of this Deno binary and the few libraries it
 * links (no registry is reachable here). Behind a TLS-intercepting egress
 * proxy, Deno trusts its CA (`SSL_CERT_FILE` or `DENO_CERT`) while fetching.
 */
export async function buildCollectorImage(
  image: string,
  options: { base: string; dir: string; env: Record<string, string> },
): Promise<void> {
  const { base, dir, env } = options;
  const rootfs = `${dir}/base/rootfs`;
  await prepareRootfs(rootfs, { root: 0, deno: 1993 });
  await copyProgram(rootfs, Deno.execPath(), "/usr/bin/deno");
  await buildFromRootfs(base, `${dir}/base`, { env, lines: ["ENV PATH=/usr/bin"] });
  const ca = Deno.env.get("SSL_CERT_FILE") ?? Deno.env.get("DENO_CERT");
  const caArgs = ca
    ? [
      "-v",
      `${await Deno.realPath(ca)}:/run/build-ca.pem:ro`,
      "--build-arg",
      "DENO_CERT=/run/build-ca.pem",
    ]
    : [];
  const root = new URL("../../", import.meta.url).pathname;
  await run("podman", [
    "build",
    "--isolation",
    "chroot",
    "--network",
    "host",
    ...caArgs,
    "--build-arg",
    `BASE=${base}`,
    "-t",
    image,
    "-f",
    `${root}Containerfile`,
    root,
  ], env);
}

/** A running collector container, and where its uploads can be seen. */
export interface CollectorUnderTest {
  /** The environment that points Podman at the test's settings. */
  env: Record<string, string>;
  container: string;
  /** Its HTTP API, e.g. `http://127.0.0.1:8765`. */
  base: string;
  /** Its TRIGGER_TOKEN, if set: then /v1/* must refuse a caller without it. */
  token?: string;
  /** assisted-service's database, as the collector sees it. */
  sql: Queryable;
  uploads(): Promise<Array<{ request_id: string; cluster_id: string | null; bytes: number }>>;
  archive(requestId: string): Promise<Uint8Array | undefined>;
  log(text: string): void;
}

/**
 * /healthz answers; /v1/* wants the token if one is set; once collection has
 * begun, a cluster finished in the database is uploaded on a trigger, marked
 * as a Podman deployment; SIGTERM stops the collector cleanly (exit 0); and
 * archives waited for their upload in a file under /tmp, not in memory.
 */
export async function checkCollectorContainer(c: CollectorUnderTest): Promise<void> {
  const { env, container, base, sql, log } = c;
  await waitFor(
    `${base}/healthz`,
    async () => (await fetch(`${base}/healthz`).then((r) => r.text(), () => "")).includes("ok"),
  );
  log(`${base}/healthz answers`);
  const headers: Record<string, string> = c.token ? { Authorization: `Bearer ${c.token}` } : {};
  if (c.token) {
    const unauthenticated = await fetch(`${base}/v1/status`);
    await unauthenticated.body?.cancel();
    if (unauthenticated.status !== 401) {
      throw new Error(`/v1/status without the token answered ${unauthenticated.status}`);
    }
  }
  await waitFor(
    "collection to begin",
    async () => {
      // A 503 (the database not up yet) has no `collection` at all: not begun either.
      const response = await fetch(`${base}/v1/status`, { headers });
      const body = await response.json();
      return response.ok && body.collection != null;
    },
  );
  await waitFor("the database", async () => (await sql`SELECT 1 AS one`)[0].one === 1);
  // In a pod, the receiver's container may start after the collector answers.
  let before = -1;
  await waitFor("the receiver", async () => {
    before = (await c.uploads()).length;
    return true;
  });
  const clusterId = crypto.randomUUID();
  await seedCluster(sql, clusterId, { hosts: 3, events: 120 });
  log("a cluster finished in the database");
  const trigger = await fetch(`${base}/v1/trigger`, { method: "POST", headers });
  await trigger.body?.cancel();
  if (trigger.status !== 202) throw new Error(`trigger answered ${trigger.status}`);
  await waitFor("the upload", async () => (await c.uploads()).length === before + 1);
  const upload = (await c.uploads()).find((u) => u.cluster_id === clusterId);
  if (!upload) throw new Error("the upload is of another cluster");
  const files = await unpackArchive((await c.archive(upload.request_id))!);
  const metadata = files.find((f) => f.name.endsWith("/metadata.json"));
  if (!metadata) throw new Error("the archive has no metadata.json");
  const deploymentType = JSON.parse(new TextDecoder().decode(metadata.data))["deployment-type"];
  if (deploymentType !== "Podman") {
    throw new Error(`metadata.json says deployment-type ${deploymentType}`);
  }
  log(`upload arrived: ${upload.bytes} bytes, deployment-type Podman`);
  // As an operator or systemd stops it: SIGTERM, then a grace period.
  await run("podman", ["stop", "-t", "20", container], env);
  const code = (await run("podman", ["inspect", "--format", "{{.State.ExitCode}}", container], env))
    .trim();
  const logs = await run("podman", ["logs", container], env);
  if (code !== "0" || !logs.includes('"msg":"shutting down"')) {
    throw new Error(`unclean stop (exit ${code}):\n${logs.slice(-2000)}`);
  }
  log("stopped cleanly on SIGTERM (exit 0)");
  // The image may write /tmp only, and a read-only container has a tmpfs there.
  if (!logs.includes('"msg":"archives wait for their upload on disk"')) {
    throw new Error(`archives are not kept in /tmp:\n${logs.slice(0, 2000)}`);
  }
  log("archives waited for their upload in /tmp");
}
