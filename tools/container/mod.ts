/**
 * `deno task container-test`: builds the Containerfile here, on a local base
 * image made from this Deno binary (no registry is reachable), and smoke-tests
 * the image against a throwaway PostgreSQL and the local receiver: /healthz,
 * a triggered pass whose upload arrives, and a clean stop on SIGTERM, on a
 * read-only root filesystem as a non-root user. Then it follows the README's
 * Podman section in a pod (pod_check.ts). Podman and buildah come from
 * Debian's packages, set up (vfs, chroot, runc, cgroupfs) by files used only
 * here.
 */
import { connect } from "../../src/db/mod.ts";
import { freePort } from "../child.ts";
import { serveLocalReceiver } from "../local_receiver.ts";
import { ASSISTED_SCHEMA_SQL } from "../../tests/fixtures/assisted_schema.ts";
import { startThrowawayPostgres } from "../postgres.ts";
import {
  buildCollectorImage,
  checkCollectorContainer,
  containerConfig,
  ensureTools,
  run,
} from "./podman.ts";
import { checkPod } from "./pod_check.ts";

const IMAGE = "localhost/assisted-telemetry-collector:test";
const BASE = "localhost/collector-deno-base:test";

function log(text: string): void {
  console.log(`container-test: ${text}`);
}

/** What the image's /app may hold: the collector and the contract, no tools, tests or analysis. */
const APP_CONTENTS = ["contract", "deno.json", "deno.lock", "main.ts", "src"];

async function checkImageContents(env: Record<string, string>): Promise<void> {
  const listing = await run("podman", [
    "run",
    "--rm",
    "--entrypoint",
    "/usr/bin/deno",
    IMAGE,
    "eval",
    "console.log(JSON.stringify([...Deno.readDirSync('/app')].map((e) => e.name).sort()))",
  ], env);
  const names = JSON.parse(listing.trim().split("\n").at(-1)!);
  if (JSON.stringify(names) !== JSON.stringify(APP_CONTENTS)) {
    throw new Error(`image /app holds ${names.join(", ")}; expected ${APP_CONTENTS.join(", ")}`);
  }
  log(`image /app holds only ${APP_CONTENTS.join(", ")}`);
}

async function main(): Promise<void> {
  await ensureTools();
  const dir = await Deno.makeTempDir({ prefix: "collector-containers-" });
  const env = await containerConfig(dir);
  const pg = await startThrowawayPostgres();
  const sql = connect(pg.url);
  const storeDir = await Deno.makeTempDir({ prefix: "collector-received-" });
  const receiver = await serveLocalReceiver(storeDir);
  const { endpoint, store } = receiver;
  const port = freePort();
  try {
    log("building the local base image and the Containerfile");
    await buildCollectorImage(IMAGE, { base: BASE, dir, env });
    const size = Number(
      (await run("podman", ["image", "inspect", "--format", "{{.Size}}", IMAGE], env)).trim(),
    );
    const baseSize = Number(
      (await run("podman", ["image", "inspect", "--format", "{{.Size}}", BASE], env)).trim(),
    );
    log(
      `image ${IMAGE}: ${
        (size / 1e6).toFixed(1)
      } MB (of which the base, the Deno binary and its libraries: ${
        (baseSize / 1e6).toFixed(1)
      } MB)`,
    );

    await checkImageContents(env);

    await sql.unsafe(ASSISTED_SCHEMA_SQL);
    log("starting the container: read-only root, non-root user, host network");
    await run("podman", [
      "run",
      "-d",
      "--name",
      "collector-test",
      "--network",
      "host",
      "--read-only",
      "-e",
      `DATABASE_URL=${pg.url}`,
      "-e",
      `DATA_UPLOAD_ENDPOINT=${endpoint}`,
      "-e",
      `PORT=${port}`,
      "-e",
      "SCAN_INTERVAL=1h",
      "-e",
      "DEPLOYMENT_TYPE=Podman",
      IMAGE,
    ], env);
    await checkCollectorContainer({
      env,
      container: "collector-test",
      base: `http://127.0.0.1:${port}`,
      sql,
      uploads: () => store.list(),
      archive: (id) => store.archive(id),
      log,
    });
    await checkPod(IMAGE, { env, dir, log: (text) => log(`pod: ${text}`) });
    console.log("container-test: PASSED");
  } finally {
    await run("podman", ["rm", "-f", "collector-test"], env).catch(() => {});
    await run("podman", ["rmi", "-f", IMAGE, BASE], env).catch(() => {});
    await receiver.close();
    await sql.end({ timeout: 5 });
    await pg.stop();
    await Deno.remove(storeDir, { recursive: true }).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (err) {
    console.error(`container-test: ${(err as Error).message}`);
    console.log("container-test: FAILED");
    Deno.exit(1);
  }
}
