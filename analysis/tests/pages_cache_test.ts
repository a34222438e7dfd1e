/**
 * The answer cache behind the pages: warming answers every page's default
 * views from the store once, a later ask of the same view needs no store,
 * and any write empties it.
 */
import assert from "node:assert/strict";
import { warmPages } from "../src/pages/mod.ts";
import { AnswerCache, findQuestion, parseAsk } from "../src/questions/mod.ts";
import { OVERVIEW, PAGES } from "../src/pages/catalog.ts";
import type { Store } from "../src/store/duckdb.ts";
import { generateClusters, writeSaasExport } from "./population.ts";
import { importSaasExport, startService } from "./support.ts";

Deno.test("warming answers every page's default views; writes empty the cache", async () => {
  const service = await startService({ env: { ANALYSIS_DEV_MODE: "true" } });
  const dir = await Deno.makeTempDir({ prefix: "saas-export-" });
  try {
    await writeSaasExport(dir, generateClusters("saas", 30), { lifecycle: true });
    await importSaasExport(service, dir);
    const store = service.ingest.store;
    const answers = new AnswerCache();
    const generation = store.generation;
    const answered = await warmPages({
      ingest: service.ingest,
      answers,
      minGroup: 5,
      access: { mayRead: () => true, isAnalyst: () => false, known: () => false },
    });
    const panels = [OVERVIEW, ...PAGES].reduce((n, p) => n + p.panels.length, 0);
    assert.equal(answered, panels * 2, "every panel, combined and side by side");
    assert.equal(store.generation, generation, "warming only reads");

    // The same view again is answered without the store.
    const question = findQuestion("success-rate")!;
    const params = parseAsk({ by: "openshift_minor" });
    const query = store.query.bind(store);
    let reads = 0;
    (store as { query: Store["query"] }).query = ((sql: string, p?: unknown) => {
      reads++;
      return query(sql, p as never);
    }) as Store["query"];
    const options = { params, k: 5, secret: service.ingest.secret };
    const warmed = await answers.ask(store, question, options);
    assert.equal(reads, 0, "the versions page's first panel was warmed, as the API asks it");
    const other = { ...options, params: parseAsk({ by: "platform", source: "saas" }) };
    const first = await answers.ask(store, question, other);
    assert.equal(reads, 1, "a view not warmed is asked once");
    assert.deepEqual(await answers.ask(store, question, other), first);
    assert.equal(reads, 1, "then answered from the cache");

    // A write moves the generation: the next ask reads the store again.
    await store.exec("UPDATE attempts SET last_state = last_state");
    assert.deepEqual(await answers.ask(store, question, options), warmed);
    assert.equal(reads, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await service.close();
  }
});
