/**
 * The demo's last act (run by `tools/demo/mod.ts` under the analysis
 * service's own config): the analysis service fed by what the demo's
 * collector just sent, a generated SaaS export, and generated on-prem
 * archives (so on-prem cells clear the k-cluster rule), with the dashboards
 * up until interrupted. `--no-wait` checks every page once and exits.
 *
 *   deno run -A --config analysis/deno.json tools/analysis_demo.ts \
 *     --received DIR --dir DIR [--no-wait]
 */
import { parseArgs } from "node:util";
import { loadAnalysisConfig, loadTokens } from "../analysis/src/config.ts";
import { findImportFiles } from "../analysis/src/ingest/files.ts";
import { PAGES } from "../analysis/src/pages/catalog.ts";
import { assembleAnalysisService } from "../analysis/src/service.ts";
import { generateClusters, onpremArchive, writeSaasExport } from "../analysis/tests/population.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    received: { type: "string" },
    dir: { type: "string" },
    "no-wait": { type: "boolean", default: false },
  },
});
if (!values.received || !values.dir) {
  console.error("usage: analysis_demo.ts --received DIR --dir DIR [--no-wait]");
  Deno.exit(2);
}
const dir = values.dir;

await Deno.remove(dir, { recursive: true }).catch(() => {});
await Deno.mkdir(dir, { recursive: true });
const analyst = `analyst-${crypto.randomUUID()}`;
await Deno.writeTextFile(`${dir}/tokens.json`, JSON.stringify({ analysts: [analyst] }));
const config = loadAnalysisConfig({
  ...Deno.env.toObject(),
  ANALYSIS_DB: `${dir}/analysis.duckdb`,
  ANALYSIS_RAW_DIR: `${dir}/raw`,
  ANALYSIS_KEY_FILE: `${dir}/key`,
  ANALYSIS_TOKENS_FILE: `${dir}/tokens.json`,
  ANALYSIS_DEV_MODE: "true",
});
const assembled = await assembleAnalysisService(config, {
  tokens: await loadTokens(config.tokensFile),
  audit: (line) => console.log(`   audit: ${JSON.stringify(line)}`),
});
if (!assembled) throw new Error(`the store ${config.dbPath} is held by another process`);
const service = assembled;
const { ingest } = service;

const started = performance.now();
let sent = 0;
for (const file of await findImportFiles([values.received])) {
  await ingest.accept(await Deno.readFile(file.path), {
    kind: file.kind as "archive",
    channel: "upload",
    orgLabel: "demo",
  });
  sent++;
}
const saasDir = `${dir}/saas-export`;
const saas = generateClusters("saas", 200);
await writeSaasExport(saasDir, saas, { lifecycle: true });
for (const file of await findImportFiles([saasDir])) {
  await ingest.accept(await Deno.readFile(file.path), {
    kind: file.kind as "archive",
    channel: "saas_export",
    orgLabel: null,
  });
}
const generated = generateClusters("onprem", 60, "demo-onprem");
for (const [i, c] of generated.entries()) {
  await ingest.accept(await onpremArchive(c, { deploymentType: ["MCE", "ACM", "Podman"][i % 3] }), {
    kind: "archive",
    channel: "upload",
    orgLabel: `demo-org-${i % 12}`,
  });
}
await ingest.settled();
console.log(
  `   ${sent} archive(s) the collector sent, ${saas.length} generated SaaS clusters and ${generated.length} generated on-prem archives, read in ${
    ((performance.now() - started) / 1000).toFixed(1)
  } s`,
);

let server: Deno.HttpServer<Deno.NetAddr>;
try {
  server = service.listen({ port: config.port, hostname: "127.0.0.1" });
} catch {
  server = service.listen({ port: 0, hostname: "127.0.0.1" }); // the usual port is taken: any free one
}
const url = `http://127.0.0.1:${server.addr.port}`;
console.log(`\n== dashboards: ${url}/`);
console.log(
  `   (development mode: reading needs no token; the cluster timeline at ${url}/clusters`,
);
console.log(`    needs the analyst token ${analyst}, entered at ${url}/login)`);

function stop(): Promise<void> {
  return service.close();
}

if (values["no-wait"]) {
  let failed = 0;
  for (const path of ["/", ...PAGES.map((p) => `/pages/${p.id}`)]) {
    const t0 = performance.now();
    const res = await fetch(`${url}${path}`);
    const html = await res.text();
    const ok = res.status === 200 && html.includes("<svg");
    if (!ok) failed++;
    console.log(
      `   ${ok ? "ok  " : "FAIL"} ${path.padEnd(22)} ${res.status} ${
        (performance.now() - t0).toFixed(0)
      } ms`,
    );
  }
  await stop();
  if (failed) Deno.exit(1);
} else {
  console.log("   Ctrl-C stops it.");
  const done = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGINT", () => done.resolve());
  Deno.addSignalListener("SIGTERM", () => done.resolve());
  await done.promise;
  await stop();
}
