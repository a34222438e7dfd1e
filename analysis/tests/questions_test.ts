/**
 * The distribution questions (ISO type, day-2 additions, aicli) on both
 * sources, against ground truth counted from the generated inputs.
 */
import assert from "node:assert/strict";
import { ask, findQuestion, parseAsk } from "../src/questions/mod.ts";
import { type GenCluster, generateClusters, onpremArchive, writeSaasExport } from "./population.ts";
import { importSaasExport, startService } from "./support.ts";

/** Distinct clusters, and the canonical success parts, per value of `key` (internal users left out). */
function truth(clusters: GenCluster[], key: (c: GenCluster) => string) {
  const out: Record<string, { clusters: number; clusters_installed: number; n: number }> = {};
  for (const c of clusters.filter((c) => c.emailDomain !== "redhat.com")) {
    const cell = out[key(c)] ??= { clusters: 0, clusters_installed: 0, n: 0 };
    cell.clusters++;
    if (c.results.includes("installed")) cell.clusters_installed++;
    if (c.results.includes("installed") || c.results.includes("error")) cell.n++;
  }
  return out;
}

Deno.test("ISO types, day-2 additions, aicli use and hosts' disk types answer as the inputs say, per source", async () => {
  const service = await startService({ env: { ANALYSIS_MIN_GROUP: "1" } });
  const dir = await Deno.makeTempDir({ prefix: "saas-export-" });
  try {
    const inputs = { saas: generateClusters("saas", 40), onprem: generateClusters("onprem", 30) };
    await writeSaasExport(dir, inputs.saas, { lifecycle: true });
    await importSaasExport(service, dir);
    for (const c of inputs.onprem) {
      await service.ingest.accept(await onpremArchive(c), {
        kind: "archive",
        channel: "upload",
        orgLabel: "org-a",
      });
    }
    await service.ingest.settled();
    const cases: Array<[string, (c: GenCluster) => string]> = [
      ["iso-type", (c) => c.isoType],
      ["day2-additions", (c) => c.kind === "AddHostsCluster" ? "day-2 addition" : "new cluster"],
      ["aicli-usage", (c) => c.aicli ? "aicli" : "not aicli"],
    ];
    for (const [id, key] of cases) {
      const answer = await ask(service.ingest.store, findQuestion(id)!, {
        params: parseAsk({ split: "source" }),
        k: 1,
        secret: service.ingest.secret,
      });
      for (const source of ["saas", "onprem"] as const) {
        const expected = truth(inputs[source], key);
        const got = Object.fromEntries(
          answer.rows.filter((r) => r.source === source).map((r) => [
            r.key,
            { clusters: r.clusters, clusters_installed: r.clusters_installed, n: r.n },
          ]),
        );
        assert.deepEqual(got, expected, `${id} ${source}`);
      }
    }
    // Each host's installation disk type, as its stage events report it (SSD in every input).
    const disks = await service.ingest.store.query<
      { source: string; type: string | null; n: number }
    >(
      "SELECT source, boot_disk_type AS type, count(*)::INTEGER AS n FROM hosts GROUP BY ALL ORDER BY ALL",
    );
    assert.deepEqual(disks, [
      { source: "onprem", type: "SSD", n: inputs.onprem.length },
      { source: "saas", type: "SSD", n: inputs.saas.length },
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await service.close();
  }
});
