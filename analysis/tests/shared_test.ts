/**
 * PostgreSQL as the shared store: two replicas take uploads at the same
 * time, each archive is processed once, and every question answers on both
 * replicas exactly as the embedded store answers the same inputs, and as
 * the inputs say.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { ARCHIVE_CONTENT_TYPE, USER_AGENT_PREFIX } from "../../contract/mod.ts";
import { emptyDatabase } from "../../tests/support/db.ts";
import { startThrowawayPostgres } from "../../tools/postgres.ts";
import { ConfigError, loadAnalysisConfig } from "../src/config.ts";
import type { Ingest } from "../src/ingest/mod.ts";
import { keyOf } from "../src/normalise/keys.ts";
import { ask, parseAsk, QUESTIONS } from "../src/questions/mod.ts";
import { openIngest } from "../src/service.ts";
import { Store } from "../src/store/duckdb.ts";
import { deleteSubject, prune } from "../src/store/retention.ts";
import { readGrowing, SharedStore, writeSegment } from "../src/store/shared.ts";
import * as population from "./population.ts";
import { importSaasExport, scratchTmpdir, startService, type TestService } from "./support.ts";
import { bigArchive, TOO_LITTLE } from "./big_archive.ts";

const TABLES = [
  "archives",
  "attempts",
  "hosts",
  "events",
  "cluster_snapshots",
  "component_versions",
  "cluster_signals",
  "failure_reasons",
  "host_stage_durations",
];

/** Every question, with every breakdown it takes, split by source where it can be. */
async function everyAnswer(ingest: Ingest, clusterId: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const question of QUESTIONS) {
    const views: Array<Record<string, string>> = Object.keys(question.by).length
      ? Object.keys(question.by).map((by) => ({ by }))
      : [{}];
    if (question.splits) views.push({ split: "source" });
    for (const view of views) {
      const query = { ...view, internal: "include", cluster: clusterId };
      const answer = await ask(ingest.store, question, {
        params: parseAsk(question.analystOnly ? query : { ...query, cluster: undefined }),
        k: 1,
        secret: ingest.secret,
      });
      out[`${question.id} ${JSON.stringify(view)}`] = answer.rows;
    }
  }
  return out;
}

async function counts(ingest: Ingest): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of TABLES) {
    const [{ n }] = await ingest.store.query<{ n: number }>(
      `SELECT count(*)::INTEGER AS n FROM ${table}`,
    );
    out[table] = n;
  }
  return out;
}

async function pgCounts(sql: postgres.Sql): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of TABLES) {
    if (table === "events") {
      [{ n: out[table] }] = await pgEvents<{ n: number }>(
        sql,
        "SELECT count(*)::INTEGER AS n FROM events",
      );
      continue;
    }
    if (table === "host_stage_durations") {
      // Not kept in PostgreSQL: each replica derives a row from each stage event.
      [{ n: out[table] }] = await pgEvents<{ n: number }>(
        sql,
        "SELECT count(*)::INTEGER AS n FROM events WHERE message = 'host.stage.duration'",
      );
      continue;
    }
    const [{ n }] = await sql<{ n: number }[]>`SELECT count(*)::integer AS n FROM ${sql(table)}`;
    out[table] = n;
  }
  return out;
}

/**
 * `select` over the events PostgreSQL holds: its Parquet segments, put together
 * and read with DuckDB, apart from the code under test.
 */
async function pgEvents<T>(sql: postgres.Sql, select: string): Promise<T[]> {
  const dir = await Deno.makeTempDir({ prefix: "segments-" });
  const store = await Store.open(`${dir}/read.duckdb`);
  try {
    const parts = await sql<{ seq: string; bytes: Uint8Array }[]>`
      SELECT seq::text AS seq, bytes FROM assisted_analysis.event_segments ORDER BY seq, part`;
    const files = new Map<string, Uint8Array[]>();
    for (const { seq, bytes } of parts) files.set(seq, [...files.get(seq) ?? [], bytes]);
    for (const [seq, chunks] of files) {
      const path = `${dir}/${seq}.parquet`;
      await Deno.writeFile(
        path,
        new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer()),
      );
      await store.exec(`INSERT INTO events SELECT * FROM read_parquet('${path}')`);
    }
    return await store.query<T>(select);
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A key file every replica shares (they must key ids alike). */
async function sharedKey(dir: string): Promise<string> {
  const path = `${dir}/replicas.key`;
  await Deno.writeTextFile(path, "a".repeat(16) + crypto.randomUUID().replaceAll("-", ""));
  return path;
}

/** A fresh PostgreSQL database for one shared store: the replicas' settings and a look inside. */
async function sharedDatabase(): Promise<{
  env: Record<string, string>;
  pg: postgres.Sql;
  dir: string;
  close(): Promise<void>;
}> {
  const db = await emptyDatabase();
  const dir = await Deno.makeTempDir({ prefix: "analysis-key-" });
  const pg = postgres(db.url, {
    max: 1,
    onnotice: () => {},
    connection: { search_path: "assisted_analysis" },
  });
  return {
    env: {
      ANALYSIS_KEY_FILE: await sharedKey(dir),
      ANALYSIS_MIN_GROUP: "1",
      ANALYSIS_DATABASE_URL: db.url,
    },
    pg,
    dir,
    async close() {
      await pg.end();
      await db.drop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

interface Setup {
  replicas: TestService[];
  embedded: TestService;
  pg: postgres.Sql;
  saas: population.GenCluster[];
  onprem: population.GenCluster[];
  sends: number;
  close(): Promise<void>;
}

/** Two replicas on one fresh PostgreSQL database and an embedded store, fed the same inputs. */
async function setUp(): Promise<Setup> {
  const db = await emptyDatabase();
  const keyDir = await Deno.makeTempDir({ prefix: "analysis-key-" });
  const keyFile = await sharedKey(keyDir);
  const env = { ANALYSIS_KEY_FILE: keyFile, ANALYSIS_MIN_GROUP: "1" };
  const shared = { ...env, ANALYSIS_DATABASE_URL: db.url };
  const replicas = [await startService({ env: shared }), await startService({ env: shared })];
  const embedded = await startService({ env });
  const pg = postgres(db.url, {
    max: 2,
    onnotice: () => {},
    connection: { search_path: "assisted_analysis" },
  });
  const exportDir = await Deno.makeTempDir({ prefix: "saas-export-" });
  const saas = population.generateClusters("saas", 30);
  const onprem = population.generateClusters("onprem", 24);
  await population.writeSaasExport(exportDir, saas, { lifecycle: true });
  const archives = await Promise.all(onprem.map((c) => population.onpremArchive(c)));
  const upload = (service: TestService, bytes: Uint8Array) =>
    service.ingest.accept(bytes, { kind: "archive", channel: "upload", orgLabel: "org-a" });
  // Both replicas at once: each archive to one of them, the first four to both.
  let sends = 0;
  await Promise.all([
    importSaasExport(replicas[1], exportDir),
    ...archives.map((bytes, i) => {
      const to = i < 4 ? replicas : [replicas[i % 2]];
      sends += to.length;
      return Promise.all(to.map((r) => upload(r, bytes)));
    }),
  ]);
  await importSaasExport(embedded, exportDir);
  // The embedded store gets the same arrivals, one after another.
  for (const [i, bytes] of archives.entries()) {
    for (let n = i < 4 ? 2 : 1; n > 0; n--) await upload(embedded, bytes);
  }
  await Promise.all([...replicas, embedded].map((s) => s.ingest.settled()));
  return {
    replicas,
    embedded,
    pg,
    saas,
    onprem,
    sends,
    async close() {
      await pg.end();
      for (const s of [...replicas, embedded]) await s.close();
      await db.drop();
      await Deno.remove(keyDir, { recursive: true });
      await Deno.remove(exportDir, { recursive: true });
    },
  };
}

Deno.test("two replicas on one PostgreSQL take uploads at once, process each archive once, and answer every question as the embedded store does", async () => {
  const s = await setUp();
  try {
    const [a, b] = s.replicas;
    // Each archive stored and processed once; every arrival counted.
    const [ledger] = await s.pg<{ archives: number; success: number; received: number }[]>`
      SELECT count(*)::integer AS archives,
             count(*) FILTER (WHERE status = 'success')::integer AS success,
             sum(times_received)::integer AS received
      FROM archives WHERE kind = 'archive'`;
    assert.deepEqual(ledger, {
      archives: s.onprem.length,
      success: s.onprem.length,
      received: s.sends,
    });
    const [twice] = await pgEvents<{ n: number }>(
      s.pg,
      `SELECT count(*)::INTEGER AS n FROM (SELECT cluster_key, event_id FROM events
        GROUP BY cluster_key, event_id HAVING count(*) > 1) d`,
    );
    assert.equal(twice.n, 0, "an event stored twice");
    const [attemptsTwice] = await s.pg<{ n: number }[]>`
      SELECT (count(*) - count(DISTINCT attempt_id))::integer AS n FROM attempts`;
    assert.equal(attemptsTwice.n, 0);

    // PostgreSQL, both replicas' copies and the embedded store hold the same rows.
    const expected = await counts(s.embedded.ingest);
    assert.deepEqual(await pgCounts(s.pg), expected);
    assert.deepEqual(await counts(a.ingest), expected);
    assert.deepEqual(await counts(b.ingest), expected);

    // Every question, every breakdown: the same rows everywhere.
    const clusterId = s.onprem[0].id;
    const reference = await everyAnswer(s.embedded.ingest, clusterId);
    assert.ok(Object.keys(reference).length >= QUESTIONS.length);
    assert.deepEqual(await everyAnswer(a.ingest, clusterId), reference);
    assert.deepEqual(await everyAnswer(b.ingest, clusterId), reference);

    // And as the inputs say (internal users left out, as the dashboards do).
    const answer = await ask(b.ingest.store, QUESTIONS.find((q) => q.id === "success-rate")!, {
      params: parseAsk({ by: "source" }),
      k: 1,
      secret: b.ingest.secret,
    });
    for (const [source, clusters] of [["onprem", s.onprem], ["saas", s.saas]] as const) {
      const row = answer.rows.find((r) => r.key === source)!;
      const truth = population.expectedSuccess(
        clusters.filter((c) => c.emailDomain !== "redhat.com"),
      );
      for (const [name, value] of Object.entries(truth)) {
        if (name in row) assert.equal(row[name], value, `${source} ${name}`);
      }
    }

    // Track answers from PostgreSQL on either replica.
    const bytes = await population.onpremArchive(
      population.generateClusters("onprem", 1, "tracked")[0],
    );
    const requestId = crypto.randomUUID();
    await a.ingest.accept(bytes, {
      kind: "archive",
      channel: "upload",
      orgLabel: "org-a",
      requestId,
    });
    await a.ingest.settled();
    assert.equal((await b.ingest.track(requestId))?.status, "success");
  } finally {
    await s.close();
  }
});

Deno.test("on PostgreSQL, a deletion, retention and reprocess reach the shared tables and every replica", async () => {
  const s = await setUp();
  try {
    const [a, b] = s.replicas;
    const gone = s.onprem[3];
    await deleteSubject(a.ingest, { clusterId: gone.id });
    await deleteSubject(s.embedded.ingest, { clusterId: gone.id });
    await b.ingest.refresh();
    const key = keyOf(a.ingest.secret, gone.id)!;
    const [left] = await s.pg<{ n: number }[]>`
      SELECT ((SELECT count(*) FROM attempts WHERE cluster_key = ${key}) +
              (SELECT count(*) FROM archives WHERE cluster_key = ${key}) +
              (SELECT count(*) FROM hosts WHERE cluster_key = ${key}))::integer AS n`;
    assert.equal(left.n, 0, "rows of the deleted cluster left in PostgreSQL");
    const [{ n: eventsLeft }] = await pgEvents<{ n: number }>(
      s.pg,
      `SELECT count(*)::INTEGER AS n FROM events WHERE cluster_key = '${key}'`,
    );
    assert.equal(eventsLeft, 0, "events of the deleted cluster left in PostgreSQL");
    const expected = await counts(s.embedded.ingest);
    assert.deepEqual(await pgCounts(s.pg), expected);
    assert.deepEqual(await counts(b.ingest), expected);
    const clusterId = s.onprem[0].id;
    const reference = await everyAnswer(s.embedded.ingest, clusterId);
    assert.deepEqual(await everyAnswer(b.ingest, clusterId), reference);

    // Retention: events dated before the cut-off go from PostgreSQL and from both copies.
    await prune(b.ingest, 1);
    await prune(s.embedded.ingest, 1);
    await a.ingest.refresh();
    const pruned = await counts(s.embedded.ingest);
    assert.ok(pruned.events < expected.events, "the generated events are older than a month");
    assert.deepEqual(await pgCounts(s.pg), pruned);
    assert.deepEqual(await counts(a.ingest), pruned);

    // Reprocess on one replica: the other follows, as the embedded store reprocessed answers.
    // As the reprocess command does it: retention again right after.
    const result = await b.ingest.reprocess();
    await prune(b.ingest, 1);
    assert.deepEqual(result, await s.embedded.ingest.reprocess());
    await prune(s.embedded.ingest, 1);
    assert.equal(result.error, 0);
    await a.ingest.refresh();
    assert.deepEqual(
      await everyAnswer(a.ingest, clusterId),
      await everyAnswer(s.embedded.ingest, clusterId),
    );
    assert.deepEqual(await pgCounts(s.pg), await counts(s.embedded.ingest));
    assert.deepEqual(await counts(a.ingest), await counts(s.embedded.ingest));
    // What retention removed stays removed, though the raw archives still hold it.
    assert.deepEqual(await counts(a.ingest), pruned);
  } finally {
    await s.close();
  }
});

Deno.test("an archive of thousands of events reaches PostgreSQL value for value, as the embedded store holds it", async () => {
  const db = await emptyDatabase();
  const dir = await Deno.makeTempDir({ prefix: "analysis-fidelity-" });
  const keyFile = await sharedKey(dir);
  const replica = (await openIngest(loadAnalysisConfig({
    ANALYSIS_DB: `${dir}/replica.duckdb`,
    ANALYSIS_KEY_FILE: keyFile,
    ANALYSIS_DATABASE_URL: db.url,
  })))!;
  const embedded = (await openIngest(loadAnalysisConfig({
    ANALYSIS_DB: `${dir}/embedded.duckdb`,
    ANALYSIS_KEY_FILE: keyFile,
  })))!;
  const pg = postgres(db.url, {
    max: 1,
    onnotice: () => {},
    connection: { search_path: "assisted_analysis" },
  });
  try {
    const id = population.uuidOf("fidelity");
    // Awkward values, NULL and "" among them, must arrive as they were (events travel as
    // Parquet segments; rows of the other tables beyond 5,000 as CSV).
    const awkward = [
      "",
      "a,b",
      'say "hi"',
      "line\nbreak",
      "tab\there",
      "ünï 😀",
      "\\N",
      "NULL",
      " ",
    ];
    const events = Array.from({ length: 7_000 }, (_, i) => ({
      cluster_id: id,
      host_id: i % 5 === 0 ? null : population.uuidOf(`fidelity-host-${i % 7}`),
      event_time: new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString().replace(
        "Z",
        i % 2 ? "Z" : "+00:00",
      ),
      name: i % 11 === 0 ? null : `name-${i % 3}`,
      message: `${awkward[i % awkward.length]} #${i}`,
      severity: awkward[i % awkward.length],
      category: i % 13 === 0 ? null : "user",
      props: i % 4 === 0 ? null : i % 4 === 1 ? "" : `{"k":"${awkward[i % 3]}"}`,
    }));
    const bytes = await population.archive({
      [`${id}/events/cluster.json`]: JSON.stringify({ id, openshift_version: "4.18.1" }),
      [`${id}/events.json`]: JSON.stringify(events),
    });
    for (const ingest of [replica, embedded]) {
      await ingest.accept(bytes, { kind: "archive", channel: "import", orgLabel: null });
      await ingest.settled();
    }
    const columns =
      "cluster_key, event_id, source, host_key, name, message, severity, category, props";
    const order = "ORDER BY event_id";
    const want = await embedded.store.query(
      `SELECT ${columns}, epoch_ms(event_time) AS t FROM events ${order}`,
    );
    assert.equal(want.length, events.length);
    assert.ok(want.some((r) => r.props === "") && want.some((r) => r.props === null));
    const inPg = await pgEvents(
      pg,
      `SELECT ${columns}, epoch_ms(event_time) AS t FROM events ${order}`,
    );
    assert.deepEqual(inPg, want);
    assert.deepEqual(
      await replica.store.query(
        `SELECT ${columns}, epoch_ms(event_time) AS t FROM events ${order}`,
      ),
      want,
    );
  } finally {
    await pg.end();
    await replica.close();
    await embedded.close();
    await db.drop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a replica is refused, with the reason and no password, when it cannot share the store", async () => {
  const db = await emptyDatabase();
  const dir = await Deno.makeTempDir({ prefix: "analysis-refused-" });
  try {
    const open = async (env: Record<string, string>) => {
      try {
        const ingest = await openIngest(loadAnalysisConfig(env));
        await ingest?.close();
        return "opened";
      } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        return err.message;
      }
    };
    const keyFile = await sharedKey(dir);
    const first = { ANALYSIS_DB: `${dir}/one.duckdb`, ANALYSIS_KEY_FILE: keyFile };
    assert.equal(await open({ ...first, ANALYSIS_DATABASE_URL: db.url }), "opened");
    // Another secret would give the same cluster other keys.
    const other = await open({
      ANALYSIS_DB: `${dir}/two.duckdb`,
      ANALYSIS_DATABASE_URL: db.url,
    });
    assert.match(other, /ANALYSIS_KEY_FILE holds another key/);
    // An embedded store is never overwritten by a copy of the shared one.
    const embedded = { ANALYSIS_DB: `${dir}/embedded.duckdb`, ANALYSIS_KEY_FILE: keyFile };
    const ingest = (await openIngest(loadAnalysisConfig(embedded)))!;
    await ingest.accept(
      await population.onpremArchive(population.generateClusters("onprem", 1)[0]),
      {
        kind: "archive",
        channel: "import",
        orgLabel: null,
      },
    );
    await ingest.close();
    assert.match(
      await open({ ...embedded, ANALYSIS_DATABASE_URL: db.url }),
      /ANALYSIS_DB holds an embedded store/,
    );
    // Nothing listens: the cause, never the password.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const down = await open({
      ...first,
      ANALYSIS_DB: `${dir}/three.duckdb`,
      ANALYSIS_DATABASE_URL: `postgres://analysis:pa55-w0rd-secret@127.0.0.1:${port}/x`,
    });
    assert.match(down, /^ANALYSIS_DATABASE_URL: .*ECONNREFUSED/);
    assert.doesNotMatch(down, /pa55-w0rd-secret/);
    assert.throws(
      () => loadAnalysisConfig({ ANALYSIS_DATABASE_URL: "mysql://x@y/z" }),
      /ANALYSIS_DATABASE_URL must be a postgres:\/\/ URL/,
    );
  } finally {
    await db.drop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pulling large tables from PostgreSQL again and again leaves the connections usable", async () => {
  // postgres.js can leave its socket paused after a COPY stream (porsager/postgres#499); the
  // next query on that connection would then wait forever. Seen once with a million events
  // (events were then pulled as rows; the other tables still are).
  const db = await emptyDatabase();
  const local = await Store.open(":memory:");
  const shared = await SharedStore.open(db.url, { local, secret: "c".repeat(64) });
  const pg = postgres(db.url, { max: 1, connection: { search_path: "assisted_analysis" } });
  try {
    const key = "0".repeat(32);
    for (let round = 0; round < 25; round++) {
      // A few thousand more rows each round, so the stream ends at a different point each time.
      await pg`INSERT INTO hosts (cluster_key, host_key, source, role)
        SELECT ${key}, md5(${round} || '-' || i), 'saas', repeat('x', 80)
        FROM generate_series(1, ${3000 + round * 1500}) i`;
      await pg`INSERT INTO changes VALUES (1, 'append', ${[key]}) ON CONFLICT DO NOTHING`;
      await shared.forgetLocalCopy();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = await Promise.race([
        shared.catchUp().then(() => shared.pending()).then(() => true),
        new Promise<false>((r) => timer = setTimeout(() => r(false), 20_000)),
      ]);
      clearTimeout(timer);
      assert.ok(done, `round ${round}: a query after the pull never answered`);
    }
    const [{ n }] = await local.query<{ n: number }>("SELECT count(*)::INTEGER AS n FROM hosts");
    const [{ m }] = await pg<{ m: number }[]>`SELECT count(*)::integer AS m FROM hosts`;
    assert.equal(n, m);
  } finally {
    await pg.end();
    await shared.close();
    await local.close();
    await db.drop();
  }
});

Deno.test("with PostgreSQL down, a replica answers from its copy, refuses uploads with 503, and takes them again once it is back", async () => {
  const pg = await startThrowawayPostgres();
  const dir = await Deno.makeTempDir({ prefix: "analysis-outage-" });
  const service = await startService({
    env: {
      ANALYSIS_DATABASE_URL: pg.url,
      ANALYSIS_KEY_FILE: await sharedKey(dir),
      ANALYSIS_DEV_MODE: "true",
      ANALYSIS_MIN_GROUP: "1",
    },
  });
  const [first, second] = population.generateClusters("onprem", 2, "outage");
  const send = async (cluster: population.GenCluster) => {
    const form = new FormData();
    const bytes = await population.onpremArchive(cluster);
    form.append(
      "file",
      new File([bytes as Uint8Array<ArrayBuffer>], "a.tgz", { type: ARCHIVE_CONTENT_TYPE }),
    );
    return await fetch(`${service.url}/api/ingress/v1/upload`, {
      method: "POST",
      body: form,
      headers: { authorization: "Bearer dev-token", "user-agent": `${USER_AGENT_PREFIX}test` },
    });
  };
  const onprem = async () => {
    const res = await fetch(`${service.url}/api/v1/questions/success-rate?by=source`);
    assert.equal(res.status, 200);
    const body = await res.json();
    return body.rows.find((r: Record<string, unknown>) => r.key === "onprem")?.clusters_installed;
  };
  try {
    assert.equal((await send(first)).status, 202);
    await service.ingest.settled();
    const before = await onprem();
    assert.equal(before, first.results.includes("installed") ? 1 : 0);

    await pg.pause();
    const refused = await send(second);
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get("retry-after"), "30");
    assert.match((await refused.json()).error, /cannot be reached/);
    // Questions still answer, from the local copy.
    assert.equal(await onprem(), before);

    await pg.resume();
    const taken = await send(second);
    assert.equal(taken.status, 202);
    await service.ingest.settled();
    const [{ n }] = await service.ingest.store.query<{ n: number }>(
      "SELECT count(DISTINCT cluster_key)::INTEGER AS n FROM attempts",
    );
    assert.equal(n, 2);
  } finally {
    await service.close();
    await pg.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("on PostgreSQL, an archive a replica runs out of memory on waits for it, the ones behind it go on, and another replica reads it", async () => {
  const { env, pg, ...store } = await sharedDatabase();
  const starved = await startService({ env: { ...env, ANALYSIS_MEMORY_LIMIT: TOO_LITTLE } });
  let roomy: TestService | undefined;
  try {
    const big = await bigArchive("shared-out-of-memory");
    const small = await population.onpremArchive(population.generateClusters("onprem", 1)[0]);
    const upload = (bytes: Uint8Array) =>
      starved.ingest.accept(bytes, { kind: "archive", channel: "upload", orgLabel: "org-a" });
    const first = await upload(big.bytes);
    const second = await upload(small);
    // Returns although the big one still waits: this replica has put it off.
    await starved.ingest.settled();
    const status = async (sha256: string) =>
      (await pg<{ status: string; reason: string | null }[]>`
        SELECT status, reason FROM assisted_analysis.archives WHERE sha256 = ${sha256}`)[0];
    const waiting = await status(first.sha256);
    assert.equal(waiting.status, "received");
    assert.match(waiting.reason ?? "", /^waiting: Out of Memory Error/);
    // Not processed: waiting leaves no time of processing, as in the embedded store.
    const [{ processed }] = await pg<{ processed: Date | null }[]>`
      SELECT processed_at AS processed FROM assisted_analysis.archives WHERE sha256 = ${first.sha256}`;
    assert.equal(processed, null);
    assert.deepEqual(await status(second.sha256), { status: "success", reason: null });

    roomy = await startService({ env });
    roomy.ingest.kick();
    await roomy.ingest.settled();
    assert.deepEqual(await status(first.sha256), { status: "success", reason: null });
    const [{ n }] = await roomy.ingest.store.query<{ n: number }>(
      "SELECT count(*)::INTEGER AS n FROM events WHERE cluster_key = $1",
      [keyOf(roomy.ingest.secret, population.uuidOf("shared-out-of-memory"))],
    );
    assert.equal(n, big.events);
  } finally {
    await roomy?.close();
    await starved.close();
    await store.close();
  }
});

Deno.test("a shared store that kept events and stage durations as rows is read again from its raw archives, into segments", async () => {
  const { env, pg, ...store } = await sharedDatabase();
  let second: TestService | undefined;
  try {
    const first = await startService({ env });
    const cluster = population.generateClusters("onprem", 1, "legacy-layout")[0];
    await first.ingest.accept(await population.onpremArchive(cluster), {
      kind: "archive",
      channel: "upload",
      orgLabel: "org-a",
    });
    await first.ingest.settled();
    const count = "SELECT count(*)::INTEGER AS n FROM events";
    const [{ n: stored }] = await pgEvents<{ n: number }>(pg, count);
    assert.ok(stored > 0);
    await first.close();

    // The earlier layout: events as rows of PostgreSQL, no segments.
    await pg`DELETE FROM event_segments`;
    await pg`CREATE TABLE events (cluster_key text NOT NULL, event_id text NOT NULL,
                                  change_seq bigint NOT NULL)`;
    await pg`INSERT INTO events VALUES ('k', 'e', 1)`;
    // And the host stage durations as rows, which PostgreSQL no longer keeps.
    await pg`CREATE TABLE host_stage_durations (cluster_key text NOT NULL)`;

    second = await startService({ env });
    second.ingest.kick();
    await second.ingest.settled();
    const [{ legacy, stages }] = await pg<{ legacy: boolean; stages: boolean }[]>`
      SELECT to_regclass('assisted_analysis.events') IS NOT NULL AS legacy,
             to_regclass('assisted_analysis.host_stage_durations') IS NOT NULL AS stages`;
    assert.equal(legacy, false);
    assert.equal(stages, false);
    // The copy holds them, derived from the events.
    const stageRows = "SELECT count(*)::INTEGER AS n FROM host_stage_durations";
    const [{ n: stageEvents }] = await pgEvents<{ n: number }>(
      pg,
      "SELECT count(*)::INTEGER AS n FROM events WHERE message = 'host.stage.duration'",
    );
    assert.ok(stageEvents > 0);
    assert.deepEqual(await second.ingest.store.query(stageRows), [{ n: stageEvents }]);
    assert.deepEqual(await pgEvents(pg, count), [{ n: stored }]);
    assert.deepEqual(await second.ingest.store.query(count), [{ n: stored }]);
    const [{ status }] = await pg<{ status: string }[]>`SELECT status FROM archives`;
    assert.equal(status, "success");
  } finally {
    await second?.close();
    await store.close();
  }
});

Deno.test("a replica whose change PostgreSQL refuses after its own copy took it reloads the copy, stopped or not, and the archive is read again", async () => {
  const store = await sharedDatabase();
  // The replica's copy outlives a replica: a second one starts on the same file.
  const env = { ...store.env, ANALYSIS_DB: `${store.dir}/replica.duckdb` };
  let replica = await startService({ env });
  try {
    const [kept, refused] = population.generateClusters("onprem", 2, "unsent");
    const upload = async (cluster: population.GenCluster) =>
      replica.ingest.accept(await population.onpremArchive(cluster), {
        kind: "archive",
        channel: "upload",
        orgLabel: "org-a",
      });
    const eventsOf = async (cluster: population.GenCluster) =>
      (await replica.ingest.store.query<{ n: number }>(
        "SELECT count(*)::INTEGER AS n FROM events WHERE cluster_key = $1",
        [keyOf(replica.ingest.secret, cluster.id)],
      ))[0].n;
    await upload(kept);
    await replica.ingest.settled();
    const keptEvents = await eventsOf(kept);
    assert.ok(keptEvents > 0);

    // PostgreSQL takes no new change; the replica's local transaction has committed by then.
    await store.pg`ALTER TABLE changes ADD CONSTRAINT refuse_changes CHECK (seq < 0) NOT VALID`;
    await upload(refused);
    await assert.rejects(replica.ingest.settled(), /refuse_changes/);
    // Stopped there, and started again on the same copy: it holds what PostgreSQL holds.
    await replica.close();
    replica = await startService({ env });
    assert.deepEqual(await counts(replica.ingest), await pgCounts(store.pg));
    assert.equal(await eventsOf(refused), 0);
    assert.equal(await eventsOf(kept), keptEvents);

    // Refused again while running: the next catch-up reloads the copy.
    replica.ingest.kick();
    await assert.rejects(replica.ingest.settled(), /refuse_changes/);
    await replica.ingest.refresh();
    assert.deepEqual(await counts(replica.ingest), await pgCounts(store.pg));
    assert.equal(await eventsOf(refused), 0);

    // Taken once PostgreSQL takes changes again.
    await store.pg`ALTER TABLE changes DROP CONSTRAINT refuse_changes`;
    replica.ingest.kick();
    await replica.ingest.settled();
    assert.deepEqual(await counts(replica.ingest), await pgCounts(store.pg));
    assert.ok(await eventsOf(refused) > 0);
    const statuses = await store.pg<{ status: string }[]>`SELECT status FROM archives`;
    assert.deepEqual(statuses.map((r) => r.status), ["success", "success"]);
  } finally {
    await replica.close();
    await store.close();
  }
});

Deno.test("an archive quarantined after its events were committed locally leaves the copy as PostgreSQL holds it, and no staged segment", async () => {
  const store = await sharedDatabase();
  const replica = await startService({ env: store.env });
  try {
    const [before, bad, after] = population.generateClusters("onprem", 3, "staged");
    const upload = async (archive: Uint8Array) =>
      await replica.ingest.accept(archive, { kind: "archive", channel: "upload", orgLabel: null });
    const eventsOf = async (cluster: population.GenCluster) =>
      (await replica.ingest.store.query<{ n: number }>(
        "SELECT count(*)::INTEGER AS n FROM events WHERE cluster_key = $1",
        [keyOf(replica.ingest.secret, cluster.id)],
      ))[0].n;
    await upload(await population.onpremArchive(before));
    await replica.ingest.settled();
    // A CPU count no column holds fails the host rows, which are written after the events.
    const refused = await upload(await population.onpremArchive(bad, { hostCpus: 1e12 }));
    await upload(await population.onpremArchive(after));
    await replica.ingest.settled();

    const [row] = await store.pg<{ status: string; reason: string }[]>`
      SELECT status, reason FROM archives WHERE sha256 = ${refused.sha256}`;
    assert.equal(row.status, "error");
    assert.match(row.reason, /out of range|Conversion/i);
    assert.equal(await eventsOf(bad), 0);
    assert.ok(await eventsOf(before) > 0);
    assert.ok(await eventsOf(after) > 0);
    assert.deepEqual(await counts(replica.ingest), await pgCounts(store.pg));
    const staged = await store.pg`SELECT 1 FROM event_segments WHERE seq < 0`;
    assert.equal(staged.length, 0);
  } finally {
    await replica.close();
    await store.close();
  }
});

Deno.test("a segment still being written is read as it grows, in whole parts, to its last byte", async () => {
  const dir = await Deno.makeTempDir({ prefix: "analysis-growing-" });
  try {
    const path = `${dir}/segment.parquet`;
    const content = crypto.getRandomValues(new Uint8Array(30_001));
    await Deno.writeFile(path, content.subarray(0, 5_000));
    let finish!: () => void;
    const written = new Promise<void>((r) => finish = r);
    const parts: Uint8Array<ArrayBuffer>[] = [];
    const reading = (async () => {
      for await (const part of readGrowing(path, written, 4096)) parts.push(part);
    })();
    for (let at = 5_000; at < content.byteLength; at += 6_250) {
      await new Promise((r) => setTimeout(r, 15));
      await Deno.writeFile(path, content.subarray(at, at + 6_250), { append: true });
    }
    finish();
    await reading;
    assert.deepEqual(parts.map((p) => p.byteLength), [...Array(7).fill(4096), 30_001 - 7 * 4096]);
    assert.deepEqual(new Uint8Array(await new Blob(parts).arrayBuffer()), content);
    // Written already, an exact multiple of the part size: no empty part after the last.
    await Deno.writeFile(path, content.subarray(0, 8192));
    const whole: number[] = [];
    for await (const part of readGrowing(path, undefined, 4096)) whole.push(part.byteLength);
    assert.deepEqual(whole, [4096, 4096]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a segment not made yet when its reading starts is read once it is; a write that never made it fails with its own error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "analysis-growing-" });
  try {
    const path = `${dir}/segment.parquet`;
    const content = crypto.getRandomValues(new Uint8Array(10_000));
    let finish!: () => void;
    const written = new Promise<void>((r) => finish = r);
    const parts: Uint8Array<ArrayBuffer>[] = [];
    const reading = (async () => {
      for await (const part of readGrowing(path, written, 4096)) parts.push(part);
    })();
    await new Promise((r) => setTimeout(r, 50));
    await Deno.writeFile(path, content.subarray(0, 3_000));
    await new Promise((r) => setTimeout(r, 30));
    await Deno.writeFile(path, content.subarray(3_000), { append: true });
    finish();
    await reading;
    assert.deepEqual(new Uint8Array(await new Blob(parts).arrayBuffer()), content);
    // The write failed before it made the file: its error, not the missing file's.
    const failed = Promise.reject(new Error("IO Error: disk full"));
    failed.catch(() => {});
    await assert.rejects(async () => {
      for await (const _ of readGrowing(`${dir}/never.parquet`, failed, 4096)) {
        // nothing to read
      }
    }, /IO Error: disk full/);
    // Written already and missing: the missing file's error.
    await assert.rejects(async () => {
      for await (const _ of readGrowing(`${dir}/never.parquet`, undefined, 4096)) {
        // nothing to read
      }
    }, Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a segment rewritten in place while it was sent is sent again from the finished file; a failed write fails the send", async () => {
  const db = await emptyDatabase();
  const local = await Store.open(":memory:");
  const shared = await SharedStore.open(db.url, { local, secret: "d".repeat(64) });
  const pg = postgres(db.url, {
    max: 1,
    onnotice: () => {},
    connection: { search_path: "assisted_analysis" },
  });
  const dir = await Deno.makeTempDir({ prefix: "analysis-resend-" });
  try {
    const path = `${dir}/segment.parquet`;
    await Deno.writeFile(path, new TextEncoder().encode("a".repeat(100)));
    let finish!: () => void;
    const written = new Promise<void>((r) => finish = r);
    const sending = pg.begin((sql) =>
      writeSegment(sql, { seq: 7, clusterKeys: ["k"], path, written })
    );
    // Once the first bytes have been read, the first byte changes and more follow.
    await new Promise((r) => setTimeout(r, 200));
    const file = await Deno.open(path, { write: true });
    await file.write(new TextEncoder().encode("b"));
    file.close();
    await Deno.writeFile(path, new TextEncoder().encode("c".repeat(50)), { append: true });
    finish();
    assert.deepEqual(await sending, { resent: true });
    const [{ bytes }] = await pg<{ bytes: Uint8Array }[]>`
      SELECT string_agg(bytes, ''::bytea ORDER BY part) AS bytes FROM event_segments WHERE seq = 7`;
    assert.equal(new TextDecoder().decode(bytes), "b" + "a".repeat(99) + "c".repeat(50));

    const failing = Promise.reject(new Error("No space left on device"));
    failing.catch(() => {}); // as `commit` does: its failure is awaited, not unhandled
    await assert.rejects(
      pg.begin((sql) => writeSegment(sql, { seq: 8, clusterKeys: ["k"], path, written: failing })),
      /No space left/,
    );
    const [{ n }] = await pg<{ n: number }[]>`
      SELECT count(*)::integer AS n FROM event_segments WHERE seq = 8`;
    assert.equal(n, 0);
  } finally {
    await pg.end();
    await shared.close();
    await local.close();
    await db.drop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("on PostgreSQL, what a replica unpacks while an archive's bytes are stored is read, and nothing is left behind: new, sent twice, or not an archive", async () => {
  const db = await emptyDatabase();
  const dir = await Deno.makeTempDir({ prefix: "analysis-ahead-" });
  const tmpdir = await scratchTmpdir("analysis-ahead-tmp-");
  const replica = (await openIngest(loadAnalysisConfig({
    ANALYSIS_DB: `${dir}/replica.duckdb`,
    ANALYSIS_KEY_FILE: await sharedKey(dir),
    ANALYSIS_DATABASE_URL: db.url,
  })))!;
  try {
    const [cluster] = population.generateClusters("onprem", 1);
    const good = await population.onpremArchive(cluster);
    const arrive = (bytes: Uint8Array) =>
      replica.accept(bytes, { kind: "archive", channel: "import", orgLabel: null });
    const first = await arrive(good);
    const again = await arrive(good);
    const broken = await arrive(new TextEncoder().encode("not a gzip stream"));
    assert.equal(again.duplicate, true);
    await replica.settled();
    const status = async (sha256: string) =>
      (await replica.store.query<{ status: string; reason: string | null }>(
        "SELECT status, reason FROM archives WHERE sha256 = $1",
        [sha256],
      ))[0];
    assert.equal((await status(first.sha256)).status, "success");
    const quarantined = await status(broken.sha256);
    assert.equal(quarantined.status, "error");
    assert.match(quarantined.reason ?? "", /^not-tar-gz: /);
    // The same events as an embedded store reads from the same bytes.
    const embedded = (await openIngest(loadAnalysisConfig({
      ANALYSIS_DB: `${dir}/embedded.duckdb`,
      ANALYSIS_KEY_FILE: `${dir}/replicas.key`,
    })))!;
    await embedded.accept(good, { kind: "archive", channel: "import", orgLabel: null });
    await embedded.settled();
    const events = "SELECT event_id, message FROM events ORDER BY event_id";
    const want = await embedded.store.query(events);
    await embedded.close();
    assert.ok(want.length > 0);
    assert.deepEqual(await replica.store.query(events), want);
    const left = [];
    for await (const entry of Deno.readDir(tmpdir.path)) {
      if (entry.name.startsWith("analysis-spool-")) left.push(entry.name);
    }
    assert.deepEqual(left, []);
  } finally {
    await replica.close();
    await tmpdir.restore();
    await db.drop();
    await Deno.remove(dir, { recursive: true });
  }
});
