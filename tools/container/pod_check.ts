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
import { connect } from "../../src/db/mod.ts";
import { ASSISTED_SCHEMA_SQL } from "../../tests/fixtures/assisted_schema.ts";
import { pullSecret } from "../../tests/fixtures/assisted_data.ts";
import { findPostgresBin } from "../postgres.ts";
import { freePort } from "../child.ts";
import {
  buildFromRootfs,
  checkCollectorContainer,
  copyInto,
  copyProgram,
  prepareRootfs,
  run,
} from "./podman.ts";

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
  await prepareRootfs(rootfs, { postgres: PG_UID });

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
      # The receiver, from the same image with its own command, keeps what it receives in /tmp.
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
  while (ports.receiver === ports.db) ports.receiver = freePort();
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
  const receiver = `http://127.0.0.1:${ports.receiver}`;
  const collector = {
    env,
    sql,
    base: "http://127.0.0.1:8765",
    uploads: async () => await (await fetch(`${receiver}/uploads`)).json(),
    archive: async (id: string) =>
      new Uint8Array(await (await fetch(`${receiver}/uploads/${id}`)).arrayBuffer()),
    log,
  };
  try {
    log("podman kube play --configmap configmap.yml pod.yml");
    await run(
      "podman",
      ["kube", "play", "--configmap", `${dir}/configmap.yml`, `${dir}/pod.yml`],
      env,
    );
    const played = "assisted-installer-telemetry-collector";
    await checkCollectorContainer({ ...collector, container: played, token });
    await run("podman", ["rm", played], env);

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
    await checkCollectorContainer({
      ...collector,
      container: "telemetry-collector",
      token: token2,
    });
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
