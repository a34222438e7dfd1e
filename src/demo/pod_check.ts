/**
 * The README's Podman section, followed as written: the collector container
 * of `deploy/podman-kube.yaml` in the assisted-installer pod, beside a
 * database, reading the pod's ConfigMap, started by `podman kube play
 * --configmap configmap.yml pod.yml`. assisted-service's own images cannot be
 * pulled here, so the pod's database is a stand-in built from this machine's
 * PostgreSQL with assisted-service's tables, and a cluster is written to it
 * the way assisted-service writes one. The upload goes to the local receiver,
 * run from the same image as a third container of the pod.
 */
import { connect } from "../db/mod.ts";
import { ASSISTED_SCHEMA_SQL } from "./assisted_schema.ts";
import { pullSecret, seedCluster } from "./fixtures.ts";
import { findPostgresBin } from "./postgres.ts";
import { freePort } from "./local_receiver.ts";
import { buildFromRootfs, copyInto, copyProgram, run, waitFor } from "./podman.ts";
import { unpackArchive } from "../bundle/mod.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
/** The image name `deploy/podman-kube.yaml` uses. */
const COLLECTOR = "localhost/assisted-telemetry-collector:latest";
const DB_IMAGE = "localhost/assisted-db-standin:test";
/** The pod's ConfigMap, as assisted-service's Podman deployment has it. */
const DB = { name: "installer", user: "admin", password: "admin" };
/** PostgreSQL's uid in the images assisted-service's deployment uses. */
const PG_UID = 26;

async function asPostgres(argv: string[]): Promise<string> {
  return Deno.uid?.() === 0
    ? await run("runuser", ["-u", "postgres", "--", ...argv])
    : await run(argv[0], argv.slice(1));
}

/**
 * An image of this machine's PostgreSQL with a database initialised as the
 * pod's ConfigMap says, holding assisted-service's tables (in place of
 * assisted-service's migrations): the stand-in for the pod's `db` container.
 */
async function buildDatabaseImage(dir: string, env: Record<string, string>): Promise<void> {
  const bin = findPostgresBin();
  if (!bin) throw new Error("the pod test needs PostgreSQL server binaries");
  const rootfs = `${dir}/db/rootfs`;
  const lib = bin.replace(/\/bin$/, "/lib");
  const share = bin.replace(/^\/usr\/lib\/postgresql/, "/usr/share/postgresql").replace(
    /\/bin$/,
    "",
  );
  for (const program of ["postgres", "psql"]) await copyProgram(rootfs, `${bin}/${program}`);
  for (const entry of Deno.readDirSync(lib)) {
    if (entry.name.endsWith(".so") && !entry.name.startsWith("llvmjit")) {
      await copyInto(rootfs, `${lib}/${entry.name}`);
    }
  }
  const shareParent = `${rootfs}${share.slice(0, share.lastIndexOf("/"))}`;
  await Deno.mkdir(shareParent, { recursive: true });
  await run("cp", ["-a", share, shareParent]);
  for (const zone of ["/usr/share/zoneinfo/UTC", "/usr/share/zoneinfo/Etc/UTC"]) {
    await copyInto(rootfs, zone);
  }
  await Deno.mkdir(`${rootfs}/etc`, { recursive: true });
  await Deno.mkdir(`${rootfs}/tmp`, { mode: 0o1777 });
  await Deno.chmod(`${rootfs}/tmp`, 0o1777);
  await Deno.writeTextFile(
    `${rootfs}/etc/passwd`,
    `postgres:x:${PG_UID}:${PG_UID}::/tmp:/bin/false\n`,
  );
  await Deno.writeTextFile(`${rootfs}/etc/group`, `postgres:x:${PG_UID}:\n`);

  const data = `${rootfs}/var/lib/pgsql/data`;
  const sockets = `${dir}/db/sockets`;
  await Deno.mkdir(data, { recursive: true });
  await Deno.mkdir(sockets, { recursive: true });
  if (Deno.uid?.() === 0) {
    // initdb runs as postgres, which must reach into this (private) scratch directory.
    await Deno.chmod(dir, 0o711);
    await run("chown", ["-R", "postgres:postgres", `${rootfs}/var`, sockets]);
  }
  await asPostgres([
    `${bin}/initdb`,
    "-D",
    data,
    "-U",
    "postgres",
    "--auth-local=trust",
    "--auth-host=scram-sha-256",
    "-E",
    "UTF8",
    "--locale=C",
    "--no-sync",
  ]);
  await Deno.writeTextFile(
    `${data}/postgresql.conf`,
    "listen_addresses = '*'\nunix_socket_directories = '/tmp'\njit = off\n" +
      "timezone = 'UTC'\nlog_timezone = 'UTC'\n",
    { append: true },
  );
  // The test reaches it through a published port, so not only from 127.0.0.1.
  await Deno.writeTextFile(`${data}/pg_hba.conf`, "host all all 0.0.0.0/0 scram-sha-256\n", {
    append: true,
  });
  const ctl = (action: string[]) =>
    asPostgres([
      `${bin}/pg_ctl`,
      "-D",
      data,
      "-o",
      `-c listen_addresses='' -c unix_socket_directories=${sockets}`,
      // A log file, or the server would hold our output pipe open.
      "-l",
      `${sockets}/server.log`,
      "-w",
      ...action,
    ]);
  await ctl(["start"]);
  try {
    const psql = (db: string, user: string, sql: string) =>
      asPostgres([
        `${bin}/psql`,
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "-h",
        sockets,
        "-U",
        user,
        "-d",
        db,
        "-c",
        sql,
      ]);
    await psql("postgres", "postgres", `CREATE ROLE ${DB.user} LOGIN PASSWORD '${DB.password}'`);
    await psql("postgres", "postgres", `CREATE DATABASE ${DB.name} OWNER ${DB.user}`);
    await psql(DB.name, DB.user, ASSISTED_SCHEMA_SQL);
  } finally {
    await ctl(["-m", "fast", "stop"]);
  }
  await buildFromRootfs(DB_IMAGE, `${dir}/db`, {
    env,
    copyFlags: `--chown=${PG_UID}:${PG_UID}`,
    lines: [`USER ${PG_UID}`, `CMD ["${bin}/postgres", "-D", "/var/lib/pgsql/data"]`],
  });
}

/** The pod's ConfigMap: assisted-service's settings, and the collector's. */
function configMap(settings: Record<string, string>): string {
  const data = {
    DB_HOST: "127.0.0.1",
    DB_PORT: "5432",
    DB_NAME: DB.name,
    DB_USER: DB.user,
    DB_PASS: DB.password,
    POSTGRESQL_DATABASE: DB.name,
    POSTGRESQL_USER: DB.user,
    POSTGRESQL_PASSWORD: DB.password,
    AGENT_DOCKER_IMAGE: "quay.io/edge-infrastructure/assisted-installer-agent:latest",
    CONTROLLER_IMAGE: "quay.io/edge-infrastructure/assisted-installer-controller:latest",
    INSTALLER_IMAGE: "quay.io/edge-infrastructure/assisted-installer:latest",
    SELF_VERSION: "quay.io/edge-infrastructure/assisted-service:latest",
    ...settings,
  };
  return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config\ndata:\n" +
    Object.entries(data).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}\n`).join("");
}

/**
 * pod.yml: `deploy/podman-kube.yaml` as shipped, with the database (and, to
 * see what leaves, the local receiver) merged into its pod.
 */
async function podYaml(ports: { db: number; receiver: number }): Promise<string> {
  const shipped = await Deno.readTextFile(`${ROOT}deploy/podman-kube.yaml`);
  const others = `    - name: db
      image: ${DB_IMAGE}
      ports:
        - containerPort: 5432
          hostPort: ${ports.db}
    - name: receiver
      image: ${COLLECTOR}
      # The image grants no writes; the receiver keeps what it receives in /tmp.
      command: ["deno", "run", "--cached-only", "--frozen", "--allow-net", "--allow-env",
        "--allow-read", "--allow-write=/tmp", "main.ts", "receive", "--dir", "/tmp/received",
        "--port", "8766", "--hostname", "0.0.0.0"]
      ports:
        - containerPort: 8766
          hostPort: ${ports.receiver}
`;
  if (!shipped.includes("\n  containers:\n")) throw new Error("podman-kube.yaml has no containers");
  return shipped.replace("\n  containers:\n", `\n  containers:\n${others}`);
}

/** Options for {@linkcode checkPod}. */
export interface PodCheckOptions {
  /** The environment that points Podman at the test's settings. */
  env: Record<string, string>;
  /** A scratch directory. */
  dir: string;
  log(text: string): void;
}

/** What one round of the check needs. */
interface Round {
  env: Record<string, string>;
  sql: ReturnType<typeof connect>;
  token: string;
  receiver: string;
  container: string;
  log(text: string): void;
}

/**
 * With the collector running in the pod: /healthz from the host, /v1 only
 * with the token, a cluster finished in the database, a triggered pass whose
 * upload arrives, and a clean stop on SIGTERM.
 */
async function uploadThroughPod(round: Round, uploadsBefore: number): Promise<void> {
  const { env, sql, token, receiver, container, log } = round;
  const base = "http://127.0.0.1:8765";
  await waitFor(
    "curl -s localhost:8765/healthz",
    async () => (await fetch(`${base}/healthz`).then((r) => r.text(), () => "")).includes("ok"),
  );
  log("localhost:8765/healthz answers");
  const auth = { Authorization: `Bearer ${token}` };
  const unauthenticated = await fetch(`${base}/v1/status`);
  await unauthenticated.body?.cancel();
  if (unauthenticated.status !== 401) {
    throw new Error(`/v1/status without the token answered ${unauthenticated.status}`);
  }
  await waitFor(
    "collection to begin",
    async () =>
      (await (await fetch(`${base}/v1/status`, { headers: auth })).json()).collection !== null,
  );
  await waitFor("the pod's database", async () => (await sql`SELECT 1 AS one`)[0].one === 1);
  const clusterId = crypto.randomUUID();
  await seedCluster(sql, clusterId, { hosts: 3, events: 120 });
  log("a cluster finished in the pod's database");
  const trigger = await fetch(`${base}/v1/trigger`, { method: "POST", headers: auth });
  await trigger.body?.cancel();
  if (trigger.status !== 202) throw new Error(`trigger answered ${trigger.status}`);
  let uploads: Array<{ request_id: string; cluster_id: string; bytes: number }> = [];
  await waitFor("the upload", async () => {
    uploads = await (await fetch(`${receiver}/uploads`)).json();
    return uploads.length === uploadsBefore + 1;
  });
  const upload = uploads.find((u) => u.cluster_id === clusterId);
  if (!upload) throw new Error("the upload is of another cluster");
  const archive = await fetch(`${receiver}/uploads/${upload.request_id}`);
  const metadata = await metadataOf(new Uint8Array(await archive.arrayBuffer()));
  if (metadata["deployment-type"] !== "Podman") {
    throw new Error(`metadata.json says deployment-type ${metadata["deployment-type"]}`);
  }
  log(`upload arrived through the pod: ${upload.bytes} bytes, deployment-type Podman`);
  // As an operator or systemd stops it: SIGTERM, then a grace period.
  await run("podman", ["stop", "-t", "20", container], env);
  const code = (await run("podman", ["inspect", "--format", "{{.State.ExitCode}}", container], env))
    .trim();
  const logs = await run("podman", ["logs", container], env);
  if (code !== "0" || !logs.includes('"msg":"shutting down"')) {
    throw new Error(`the collector did not stop cleanly (exit ${code}):\n${logs.slice(-2000)}`);
  }
  log("podman stop: the collector stopped cleanly (exit 0)");
}

/**
 * Builds the pod of the README's Podman section from `image` and follows
 * both of its ways: `podman kube play` of the merged pod.yml, then, in the
 * same pod, the plain `podman run --pod` with a global pull secret.
 */
export async function checkPod(image: string, options: PodCheckOptions): Promise<void> {
  const { env, dir, log } = options;
  log("building a stand-in of the pod's database from this machine's PostgreSQL");
  await buildDatabaseImage(dir, env);
  await run("podman", ["tag", image, COLLECTOR], env);
  const ports = { db: freePort(), receiver: freePort() };
  const token = crypto.randomUUID();
  const endpoint = "http://127.0.0.1:8766/api/ingress/v1/upload";
  await Deno.writeTextFile(
    `${dir}/configmap.yml`,
    configMap({ TRIGGER_TOKEN: token, DATA_UPLOAD_ENDPOINT: endpoint }),
  );
  await Deno.writeTextFile(`${dir}/pod.yml`, await podYaml(ports));
  await Deno.writeTextFile(`${dir}/pull-secret.json`, pullSecret());
  const sql = connect(
    `postgres://${DB.user}:${DB.password}@127.0.0.1:${ports.db}/${DB.name}`,
    { max: 1 },
  );
  const round = {
    env,
    sql,
    token,
    receiver: `http://127.0.0.1:${ports.receiver}`,
    container: "assisted-installer-telemetry-collector",
    log,
  };
  try {
    log("podman kube play --configmap configmap.yml pod.yml");
    await run(
      "podman",
      ["kube", "play", "--configmap", `${dir}/configmap.yml`, `${dir}/pod.yml`],
      env,
    );
    await uploadThroughPod(round, 0);
    await run("podman", ["rm", round.container], env);

    log("podman run -d --pod assisted-installer --name telemetry-collector --read-only …");
    const token2 = crypto.randomUUID();
    await run("podman", [
      "run",
      "-d",
      "--pod",
      "assisted-installer",
      "--name",
      "telemetry-collector",
      "--read-only",
      ...["-e", "DB_HOST=127.0.0.1", "-e", "DB_PORT=5432", "-e", `DB_USER=${DB.user}`],
      ...["-e", `DB_PASS=${DB.password}`, "-e", `DB_NAME=${DB.name}`],
      ...["-e", "PULL_SECRET_FILE=/run/secrets/pull-secret", "-e", "DEPLOYMENT_TYPE=Podman"],
      ...["-e", `TRIGGER_TOKEN=${token2}`, "-e", `DATA_UPLOAD_ENDPOINT=${endpoint}`],
      ...["-v", `${dir}/pull-secret.json:/run/secrets/pull-secret:ro,Z`],
      COLLECTOR,
    ], env);
    await uploadThroughPod({ ...round, token: token2, container: "telemetry-collector" }, 1);
  } catch (err) {
    const logs = [];
    for (
      const name of [
        "assisted-installer-telemetry-collector",
        "telemetry-collector",
        "assisted-installer-receiver",
        "assisted-installer-db",
      ]
    ) {
      const text = await run("podman", ["logs", name], env).catch((e) => String(e));
      logs.push(`--- ${name}:\n${text.slice(-1500)}`);
    }
    throw new Error(`${(err as Error).message}\n${logs.join("\n")}`);
  } finally {
    await sql.end({ timeout: 2 }).catch(() => {});
    await run("podman", ["rm", "-f", "telemetry-collector"], env).catch(() => {});
    await run("podman", ["kube", "down", `${dir}/pod.yml`], env).catch(() => {});
    await run("podman", ["rmi", "-f", COLLECTOR, DB_IMAGE], env).catch(() => {});
  }
  log("podman kube down: the pod is gone");
}

async function metadataOf(archive: Uint8Array): Promise<Record<string, unknown>> {
  const file = (await unpackArchive(archive)).find((f) => f.name.endsWith("/metadata.json"));
  if (!file) throw new Error("the archive has no metadata.json");
  return JSON.parse(new TextDecoder().decode(file.data));
}
