/** The deployment files agree with the program: settings, command, port, probes, hardening. */
import assert from "node:assert/strict";
import { parseAllDocuments } from "npm:yaml@2.9.1";
import { SETTINGS } from "../src/config/mod.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const KNOWN = new Set(SETTINGS.flatMap(([names]) => names.split(/,\s*/)));

// deno-lint-ignore no-explicit-any
type Doc = any;

async function documents(file: string): Promise<Doc[]> {
  const text = await Deno.readTextFile(`${ROOT}deploy/${file}`);
  return parseAllDocuments(text).map((d) => {
    assert.deepEqual(d.errors, [], `${file}: ${d.errors.join("; ")}`);
    return d.toJS();
  });
}

function podSpec(doc: Doc): Doc {
  return doc.kind === "Deployment" ? doc.spec.template.spec : doc.spec;
}

function collectorOf(docs: Doc[]): { pod: Doc; container: Doc } {
  for (const doc of docs.filter((d) => d.kind === "Pod" || d.kind === "Deployment")) {
    const pod = podSpec(doc);
    const container = pod.containers.find((c: Doc) => /collector/.test(c.name));
    if (container) return { pod, container };
  }
  throw new Error("no collector container");
}

for (const file of ["podman-kube.yaml", "kubernetes.yaml"]) {
  Deno.test(`${file}: the collector container runs serve with known settings, hardened and probed`, async () => {
    const { pod, container } = collectorOf(await documents(file));
    assert.deepEqual(container.args, ["serve"]);
    for (const { name } of container.env ?? []) {
      assert.ok(KNOWN.has(name), `${file}: ${name} is not a setting of the collector`);
    }
    const securityContext = { ...pod.securityContext, ...container.securityContext };
    assert.equal(securityContext.runAsNonRoot, true);
    assert.equal(securityContext.readOnlyRootFilesystem, true);
    assert.equal(securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(securityContext.capabilities.drop, ["ALL"]);
    assert.equal(container.livenessProbe.httpGet.path, "/healthz");
    assert.equal(container.readinessProbe.httpGet.path, "/readyz");
    const ports = (container.ports ?? []).map((p: Doc) => p.containerPort);
    assert.ok(ports.includes(8765), "the default PORT is published");
    assert.ok(container.resources.limits.memory, "a memory limit");
    const pullSecretFile = (container.env ?? []).find((e: Doc) => e.name === "PULL_SECRET_FILE");
    if (pullSecretFile) {
      const mounts = (container.volumeMounts ?? []).map((m: Doc) => m.mountPath);
      assert.ok(
        mounts.some((m: string) => pullSecretFile.value.startsWith(`${m}/`)),
        "PULL_SECRET_FILE lies in a mounted volume",
      );
    }
  });
}

Deno.test("podman-kube.yaml uses no Kubernetes Secret, which kube play before Podman 4.4 mishandles", async () => {
  const docs = await documents("podman-kube.yaml");
  assert.deepEqual(docs.map((d) => d.kind), ["Pod"]);
  const text = await Deno.readTextFile(`${ROOT}deploy/podman-kube.yaml`);
  const yaml = text.split("\n").filter((line) => !line.trimStart().startsWith("#")).join("\n");
  assert.doesNotMatch(yaml, /secretKeyRef|secretName|kind: Secret/);
  const { container } = collectorOf(docs);
  assert.deepEqual(container.envFrom, [{ configMapRef: { name: "config", optional: true } }]);
});

Deno.test("kubernetes.yaml: every secret the Deployment reads is one it defines or one the install has", async () => {
  const docs = await documents("kubernetes.yaml");
  const defined = new Set(docs.filter((d) => d.kind === "Secret").map((d) => d.metadata.name));
  const { pod, container } = collectorOf(docs);
  const referenced = (container.env ?? [])
    .map((e: Doc) => e.valueFrom?.secretKeyRef?.name)
    .filter(Boolean);
  // assisted-service's database Secret and the copied pull secret come with the install.
  const fromInstall = new Set(["postgres", "pull-secret"]);
  for (const name of referenced) {
    assert.ok(defined.has(name) || fromInstall.has(name), `secret ${name} is never defined`);
  }
  for (const volume of pod.volumes ?? []) {
    if (volume.secret) assert.ok(fromInstall.has(volume.secret.secretName));
  }
  const token = docs.find((d) => d.kind === "Secret" && d.metadata.name === "telemetry-collector");
  assert.ok(token.stringData["trigger-token"].length >= 16);
  const service = docs.find((d) => d.kind === "Service");
  assert.deepEqual(
    service.spec.selector,
    docs.find((d) => d.kind === "Deployment").spec.selector.matchLabels,
  );
});

for (const file of ["kubernetes.yaml", "podman-kube.yaml"]) {
  Deno.test(`${file}: archives wait in /tmp on disk, not in memory`, async () => {
    const { pod, container } = collectorOf(await documents(file));
    const mount = (container.volumeMounts ?? []).find((m: Doc) => m.mountPath === "/tmp");
    assert.ok(mount, "a volume at /tmp (the root file system is read-only)");
    const volume = (pod.volumes ?? []).find((v: Doc) => v.name === mount.name);
    assert.ok(volume?.emptyDir, "an emptyDir");
    assert.notEqual(volume.emptyDir.medium, "Memory");
  });
}

Deno.test("the image grants the permissions of `deno task start`, no more", async () => {
  const task: string = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).tasks.start;
  const containerfile = await Deno.readTextFile(`${ROOT}Containerfile`);
  const entrypoint: string[] = JSON.parse(/^ENTRYPOINT (.*)$/m.exec(containerfile)![1]);
  const permissions = (words: string[]) => words.filter((w) => w.startsWith("--allow")).sort();
  assert.deepEqual(permissions(entrypoint), permissions(task.split(" ")));
  assert.ok(permissions(entrypoint).includes("--allow-write=/tmp"));
});
