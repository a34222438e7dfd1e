/**
 * Ingest: ingress's contract, raw storage by content, quarantine with
 * reasons, every collector's archive shapes, reprocessing, and Parquet that
 * an independent reader reads back.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { parquetReadObjects } from "npm:hyparquet@1.33.0";
import { exportParquet } from "../src/store/parquet.ts";
import { findBoundary, SPLIT_FROM_BYTES } from "../src/normalise/halves.ts";
import { ask, findQuestion, parseAsk } from "../src/questions/mod.ts";
import {
  archive,
  generateClusters,
  gzip,
  onpremArchive,
  resultEvent,
  uuidOf,
} from "./population.ts";
import { bigArchive, TOO_LITTLE } from "./big_archive.ts";
import {
  importSaasExport,
  runProgram,
  scratchTmpdir,
  startService,
  type TestService,
} from "./support.ts";
import { loadAnalysisConfig } from "../src/config.ts";
import { assembleAnalysisService, openIngest } from "../src/service.ts";

const TOKEN = "uploader-token-0123456789";
const UA = "assisted-installer-operator/test cluster/x";
const TYPE = "application/vnd.redhat.assisted-installer.events+tar";
const enc = new TextEncoder();

/** An upstream-shaped archive of one generated cluster (optionally without metadata or versions). */
function upstreamFiles(
  id: string,
  options: { metadata?: boolean; versions?: boolean; events?: unknown } = {},
): Record<string, string> {
  const cluster = generateClusters("onprem", 1, id)[0];
  cluster.id = id;
  const files: Record<string, string> = {
    [`${id}/events/cluster.json`]: JSON.stringify({
      id,
      openshift_version: "4.16.3",
      platform: { type: "baremetal" },
      email_domain: "customer.example",
      user_name: "jdoe@example.com",
      created_at: "2026-11-01T00:00:00Z",
    }),
    [`${id}/events/hosts.json`]: JSON.stringify([{
      id: uuidOf(`h-${id}`),
      cluster_id: id,
      role: "master",
      inventory: '{"cpu":{"count":8}}',
    }]),
    [`${id}/events.json`]: JSON.stringify(
      options.events !== undefined
        ? options.events
        : cluster.results.map((_, i) => resultEvent(cluster, i)),
    ),
  };
  if (options.versions ?? true) {
    files[`${id}/versions.json`] = JSON.stringify({
      "assisted-installer-service": "quay.io/x/assisted-service:v2.40",
    });
  }
  if (options.metadata ?? true) {
    files[`${id}/metadata.json`] = JSON.stringify({
      "assisted-installer-service": "quay.io/x/assisted-service:v2.40",
      "deployment-type": "MCE",
      "deployment-version": "2.8.0",
      "git-ref": "abc",
    });
  }
  return files;
}

async function upload(
  service: TestService,
  body: Uint8Array,
  options: { token?: string; ua?: string; type?: string; field?: string } = {},
): Promise<Response> {
  const form = new FormData();
  form.append(
    options.field ?? "file",
    new File([body as Uint8Array<ArrayBuffer>], "events.tgz", { type: options.type ?? TYPE }),
  );
  return await fetch(`${service.url}/api/ingress/v1/upload`, {
    method: "POST",
    body: form,
    headers: {
      ...(options.token === "" ? {} : { authorization: `Bearer ${options.token ?? TOKEN}` }),
      "user-agent": options.ua ?? UA,
    },
  });
}

async function track(service: TestService, id: string) {
  const res = await fetch(`${service.url}/api/ingress/v1/track/${id}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  return { status: res.status, body: await res.json() };
}

function withService(body: (s: TestService) => Promise<void>, env: Record<string, string> = {}) {
  return async () => {
    const service = await startService({
      env: { ANALYSIS_MIN_GROUP: "1", ...env },
      tokens: { uploaders: new Map([[TOKEN, "org-a"], ["other-org-token-0123", "org-b"]]) },
    });
    try {
      await body(service);
    } finally {
      await service.close();
    }
  };
}

Deno.test(
  "upload answers as ingress does: 202 with a request id, 400, 401, 415",
  withService(async (s) => {
    const good = await archive(upstreamFiles(uuidOf("u1")));
    const ok = await upload(s, good);
    assert.equal(ok.status, 202);
    const body = await ok.json();
    assert.match(body.request_id, /^[0-9a-f-]{36}$/);
    assert.equal(ok.headers.get("x-rh-insights-request-id"), body.request_id);
    assert.equal((await upload(s, good, { token: "" })).status, 401);
    assert.equal((await upload(s, good, { token: "not-a-known-token" })).status, 401);
    assert.equal((await upload(s, good, { ua: "curl/8" })).status, 401);
    assert.equal((await upload(s, good, { type: "application/json" })).status, 415);
    assert.equal((await upload(s, good, { field: "other" })).status, 400);
    assert.equal((await upload(s, enc.encode("plain"))).status, 400);
    await s.ingest.settled();
    assert.equal((await track(s, body.request_id)).body.status, "success");
    const other = await fetch(`${s.url}/api/ingress/v1/track/${body.request_id}`, {
      headers: { authorization: "Bearer other-org-token-0123" },
    });
    assert.equal(other.status, 403, "another organisation's payload");
  }),
);

Deno.test(
  "hostile archives are quarantined with their reason; nothing received is lost",
  withService(async (s) => {
    const id = uuidOf("hostile");
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ["traversal", await archive({ [`../${id}/events.json`]: "[]" }), /bad-path/],
      [
        "bomb",
        await archive({ [`${id}/events/cluster.json`]: new Uint8Array(80 * 1024 * 1024) }),
        /member-too-large/,
      ],
      ["not json", await archive({ [`${id}/events/cluster.json`]: "{nope" }), /bad-json/],
      [
        "wrong type",
        await archive({
          [`${id}/events/cluster.json`]: `{"id":"${id}"}`,
          [`${id}/events/hosts.json`]: "{}",
        }),
        /bad-hosts/,
      ],
      [
        "events not an array of objects",
        await archive({
          [`${id}/events/cluster.json`]: `{"id":"${id}"}`,
          [`${id}/events.json`]: `{"a":`,
        }),
        /bad-events/,
      ],
      ["gzip of no tar", await gzip(enc.encode("x".repeat(5000))), /not-tar-gz/],
      ["no cluster", await archive({ [`${id}/events.json`]: "[]" }), /no-cluster/],
    ];
    const ids: string[] = [];
    for (const [, bytes] of cases) {
      const res = await upload(s, bytes);
      assert.equal(res.status, 202);
      ids.push((await res.json()).request_id);
    }
    await s.ingest.settled();
    for (let i = 0; i < cases.length; i++) {
      const t = await track(s, ids[i]);
      assert.equal(t.body.status, "error", cases[i][0]);
      assert.match(t.body.status_msg, cases[i][2], cases[i][0]);
    }
    const health = await ask(s.ingest.store, findQuestion("ingest-health")!, {
      params: parseAsk({ by: "source" }),
      k: 1,
      secret: s.ingest.secret,
    });
    assert.equal(health.rows[0].quarantined, cases.length);
    // Every raw archive is kept, by content.
    const [{ n }] = await s.ingest.store.query<{ n: number }>("SELECT count(*) AS n FROM archives");
    assert.equal(n, cases.length);
    for (const [, bytes] of cases) {
      const sha = Array.from(
        new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>)),
        (b) => b.toString(16).padStart(2, "0"),
      ).join("");
      assert.deepEqual(await Deno.readFile(s.ingest.rawPath(sha, "archive")), bytes);
    }
  }),
);

Deno.test(
  "an archive's events are stored once each, the first by position; the ledger counts what was read and what was new",
  withService(async (s) => {
    const id = uuidOf("dedup");
    const host = uuidOf(`h-${id}`); // listed in hosts.json
    const unlisted = uuidOf("dedup-unlisted-host");
    const ev = (
      time: string | null,
      message: string | null,
      extra: Record<string, unknown> = {},
    ) => ({
      cluster_id: id,
      host_id: host,
      event_time: time,
      message,
      name: "host_status_updated",
      severity: "info",
      category: "user",
      ...extra,
    });
    const first = [
      ev("2026-11-01T10:00:00Z", "A", { name: "first" }),
      ev("2026-11-01T10:00:00Z", "A", { name: "second", severity: "error" }), // same id: dropped
      ev("2026-11-01T10:00:01Z", "B"),
      ev("2026-11-01T10:00:02Z", "C", { cluster_id: uuidOf("elsewhere") }), // another cluster's
      ev("2026-11-01T10:00:03Z", null), // no message
      ev(null, "D"), // no time
      ev("2026-11-01T10:00:04Z", "E", { host_id: null }),
      ev("2026-11-01T10:00:06Z", "G", { host_id: unlisted }),
    ];
    const second = [
      first[0],
      first[2],
      ev("2026-11-01T10:00:05Z", "F"),
      ev("2026-11-01T10:00:05Z", "F"),
    ];
    const sent: Uint8Array[] = [];
    for (const events of [first, second]) {
      const bytes = await archive(upstreamFiles(id, { events }));
      sent.push(bytes);
      assert.equal((await upload(s, bytes)).status, 202);
      await s.ingest.settled();
    }
    // Ground truth, computed here: upstream's id rule and the keyed host.
    const md5 = (t: string) => createHash("md5").update(t).digest("hex");
    const key = (v: string) =>
      createHash("sha256").update(`${s.ingest.secret}:${v}`).digest("hex").slice(0, 32);
    const rows = await s.ingest.store.query<
      { event_id: string; name: string; severity: string; message: string; host_key: string | null }
    >(
      "SELECT event_id, name, severity, message, host_key FROM events WHERE cluster_key = $1 ORDER BY message",
      [key(id)],
    );
    const stored = (time: string, message: string, hostKey: string | null, name?: string) => ({
      event_id: md5(`${time}${id}${message}`),
      name: name ?? "host_status_updated",
      severity: "info",
      message,
      host_key: hostKey,
    });
    assert.deepEqual(rows, [
      stored("2026-11-01T10:00:00Z", "A", key(host), "first"),
      stored("2026-11-01T10:00:01Z", "B", key(host)),
      stored("2026-11-01T10:00:04Z", "E", null),
      stored("2026-11-01T10:00:05Z", "F", key(host)),
      stored("2026-11-01T10:00:06Z", "G", key(unlisted)),
    ]);
    const ledger = [];
    for (const bytes of sent) {
      const sha = createHash("sha256").update(bytes).digest("hex");
      const [row] = await s.ingest.store.query<{ read: number; added: number }>(
        "SELECT events_in_archive AS read, events_new AS added FROM archives WHERE sha256 = $1",
        [sha],
      );
      ledger.push(row);
    }
    assert.deepEqual(ledger, [{ read: 8, added: 4 }, { read: 4, added: 1 }]);
  }),
);

Deno.test(
  "a large events.json whose middle falls inside an event is read whole, nothing lost",
  withService(async (s) => {
    const id = uuidOf("nested");
    // Each event carries an array of objects: the first boundary past the middle is inside one.
    const events = Array.from({ length: 30_000 }, (_, i) => ({
      cluster_id: id,
      event_time: new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString(),
      message: `step ${i}`,
      name: "host_status_updated",
      extra: Array.from({ length: 20 }, (_, j) => ({ k: `v${i}-${j}` })),
    }));
    const text = JSON.stringify(events);
    const bytes = enc.encode(text);
    assert.ok(bytes.byteLength >= SPLIT_FROM_BYTES, "large enough to be split");
    const at = findBoundary(bytes, Math.floor(bytes.byteLength / 2));
    assert.equal(text.slice(at, at + 5), '},{"k', "the split would fall inside an event");
    const files = upstreamFiles(id, { events: [] });
    files[`${id}/events.json`] = text;
    assert.equal((await upload(s, await archive(files))).status, 202);
    await s.ingest.settled();
    const [row] = await s.ingest.store.query<{ status: string; read: number; added: number }>(
      "SELECT status, events_in_archive AS read, events_new AS added FROM archives",
    );
    assert.deepEqual(row, { status: "success", read: events.length, added: events.length });
    const [{ n, last }] = await s.ingest.store.query<{ n: number; last: string }>(
      "SELECT count(*)::INTEGER AS n, max(message) FILTER (WHERE message = 'step 29999') AS last FROM events",
    );
    assert.deepEqual({ n, last }, { n: events.length, last: "step 29999" });
  }),
);

Deno.test(
  "every collector's shape is read: no metadata, no versions, events null; the same bytes twice are stored once",
  withService(async (s) => {
    const a = uuidOf("pre-2024");
    const b = uuidOf("with-metadata");
    const c = uuidOf("no-events");
    const oldest = await archive(upstreamFiles(a, { metadata: false, versions: false }));
    await upload(s, await archive(upstreamFiles(b)));
    await upload(s, oldest);
    await upload(s, oldest);
    await upload(s, await archive(upstreamFiles(c, { events: null })));
    await s.ingest.settled();
    const archives = await s.ingest.store.query<{ status: string; times_received: number }>(
      "SELECT status, times_received FROM archives ORDER BY times_received DESC",
    );
    assert.deepEqual(archives.map((r) => r.status), ["success", "success", "success"]);
    assert.equal(archives[0].times_received, 2);
    const attempts = await s.ingest.store.query<
      { deployment_type: string | null; ai_version: string | null; n: number }
    >(
      "SELECT deployment_type, ai_version, count(*) AS n FROM attempts GROUP BY ALL ORDER BY deployment_type NULLS LAST",
    );
    assert.deepEqual(attempts, [
      { deployment_type: "MCE", ai_version: "quay.io/x/assisted-service:v2.40", n: 1 },
      { deployment_type: null, ai_version: null, n: 1 },
    ]);
    // No raw user name or cluster id is stored anywhere.
    const dump = JSON.stringify(await s.ingest.store.query("SELECT * FROM attempts")) +
      JSON.stringify(await s.ingest.store.query("SELECT * FROM events")) +
      JSON.stringify(await s.ingest.store.query("SELECT * FROM hosts"));
    for (const secret of [a, b, c, "jdoe@example.com"]) assert.ok(!dump.includes(secret), secret);
  }),
);

Deno.test(
  "reprocess re-reads every raw archive into the same answers",
  withService(async (s) => {
    for (let i = 0; i < 4; i++) await upload(s, await archive(upstreamFiles(uuidOf(`re-${i}`))));
    await s.ingest.settled();
    const question = findQuestion("success-rate")!;
    const params = { params: parseAsk({ by: "source" }), k: 1, secret: s.ingest.secret };
    const before = await ask(s.ingest.store, question, params);
    const [events] = await s.ingest.store.query<{ n: number }>("SELECT count(*) AS n FROM events");
    assert.ok(events.n > 0);
    assert.deepEqual(await s.ingest.reprocess(), { success: 4, error: 0, waiting: 0 });
    assert.deepEqual(await ask(s.ingest.store, question, params), before);
    const [after] = await s.ingest.store.query<{ n: number }>("SELECT count(*) AS n FROM events");
    assert.equal(after.n, events.n);
  }),
);

Deno.test(
  "the tables export as Hive-partitioned Parquet that another reader reads back",
  withService(async (s) => {
    for (let i = 0; i < 3; i++) await upload(s, await archive(upstreamFiles(uuidOf(`pq-${i}`))));
    await s.ingest.settled();
    const out = `${s.dir}/lake`;
    await exportParquet(s.ingest.store, out);
    const dirs = [...Deno.readDirSync(`${out}/attempts`)].map((e) => e.name);
    assert.deepEqual(dirs, ["source=onprem"]);
    const months = [...Deno.readDirSync(`${out}/attempts/source=onprem`)].map((e) => e.name);
    assert.deepEqual(months, ["month=2026-11"]);
    const files = [...Deno.readDirSync(`${out}/attempts/source=onprem/month=2026-11`)];
    const bytes = await Deno.readFile(
      `${out}/attempts/source=onprem/month=2026-11/${files[0].name}`,
    );
    const rows = await parquetReadObjects({ file: bytes.buffer as ArrayBuffer });
    const expected = await s.ingest.store.query<{ attempt_id: string; result: string }>(
      "SELECT attempt_id, result FROM attempts ORDER BY attempt_id",
    );
    assert.deepEqual(
      rows.map((r) => ({ attempt_id: r.attempt_id, result: r.result }))
        .sort((x, y) => String(x.attempt_id).localeCompare(String(y.attempt_id))),
      expected,
    );
  }),
);

Deno.test("the CLI: usage and settings errors exit 2; import and ask on a store of their own", async () => {
  const dir = await Deno.makeTempDir({ prefix: "analysis-cli-" });
  try {
    const env = { ANALYSIS_DB: `${dir}/cli.duckdb` };
    const unknown = await runProgram("analysis", ["frobnicate"], env);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    const badPort = await runProgram("analysis", ["questions"], { ...env, ANALYSIS_PORT: "0x10" });
    assert.equal(badPort.code, 2);
    assert.match(badPort.stderr, /ANALYSIS_PORT must be a whole number/);
    assert.equal((await runProgram("analysis", ["ask", "no-such-question"], env)).code, 2);
    assert.equal(
      (await runProgram("analysis", ["ask", "success-rate", "--by", "colour"], env)).code,
      2,
    );
    assert.equal((await runProgram("analysis", ["ask", "success-rate", "--bogus"], env)).code, 2);
    const help = await runProgram("analysis", ["import", "--help"], env);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /ANALYSIS_MIN_GROUP/);
    const serveWithoutTokens = await runProgram("analysis", ["serve"], env);
    assert.equal(serveWithoutTokens.code, 2);
    assert.match(serveWithoutTokens.stderr, /ANALYSIS_TOKENS_FILE/);

    for (let i = 0; i < 3; i++) {
      await Deno.writeFile(`${dir}/a${i}.tgz`, await archive(upstreamFiles(uuidOf(`cli-${i}`))));
    }
    await Deno.writeFile(`${dir}/broken.tgz`, enc.encode("not an archive"));
    // The first archive is unpacked while the store opens: nothing of it is left, whether it
    // is read or (the second time, stored already) dropped.
    const tmp = await Deno.makeTempDir({ prefix: "analysis-cli-tmp-" });
    const files = ["a0", "a1", "a2", "broken"].map((name) => `${dir}/${name}.tgz`);
    try {
      for (const time of ["first", "second"]) {
        const imported = await runProgram("analysis", ["import", ...files], {
          ...env,
          TMPDIR: tmp,
        });
        assert.equal(imported.code, 1, "a quarantined file makes import exit 1");
        assert.match(imported.stdout, /4 files read, 1 quarantined/);
        if (time === "second") assert.match(imported.stdout, /a0\.tgz: success \(already stored\)/);
        assert.deepEqual(await Array.fromAsync(Deno.readDir(tmp)), [], `${time} import`);
      }
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
    const answer = await runProgram("analysis", [
      "ask",
      "attempts-per-cluster",
      "--by",
      "source",
      "--format",
      "csv",
    ], {
      ...env,
      ANALYSIS_MIN_GROUP: "1",
    });
    assert.equal(answer.code, 0, answer.stderr);
    assert.match(
      answer.stdout,
      /^key,attempts,clusters,attempts_per_cluster,suppressed\r\nonprem,/,
    );
    const table = await runProgram("analysis", ["ask", "success-rate", "--by", "source"], env);
    assert.equal(table.code, 0);
    assert.match(table.stdout, /suppressed/, "3 clusters under the default k of 5");
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test(
  "retention deletes what is older, raw archives included; deleting a cluster or an organisation removes everything of it",
  withService(async (s) => {
    const keep = uuidOf("keep");
    const gone = uuidOf("gone");
    const old = uuidOf("old");
    for (const id of [keep, old]) await upload(s, await archive(upstreamFiles(id)));
    // One with its whole lifecycle, so its derived summaries exist too.
    await upload(s, await onpremArchive({ ...generateClusters("onprem", 1)[0], id: gone }));
    await s.ingest.settled();
    const { keyOf } = await import("../src/normalise/keys.ts");
    const { prune, deleteSubject } = await import("../src/store/retention.ts");
    const oldKey = keyOf(s.ingest.secret, old)!;
    // Make one cluster's archive and rows 19 months old.
    await s.ingest.store.exec(`
    UPDATE archives SET first_received_at = now() - INTERVAL 19 MONTH WHERE cluster_key = '${oldKey}';
    UPDATE events SET event_time = now() - INTERVAL 19 MONTH WHERE cluster_key = '${oldKey}';
    UPDATE attempts SET ended_at = now() - INTERVAL 19 MONTH WHERE cluster_key = '${oldKey}';`);
    const [oldArchive] = await s.ingest.store.query<{ sha256: string }>(
      "SELECT sha256 FROM archives WHERE cluster_key = $1",
      [oldKey],
    );
    const pruned = await prune(s.ingest, 18);
    assert.equal(pruned.archives, 1);
    assert.ok(pruned.attempts >= 1 && pruned.events >= 1);
    await assert.rejects(Deno.stat(s.ingest.rawPath(oldArchive.sha256, "archive")));
    const left = await s.ingest.store.query<{ n: number }>(
      "SELECT count(*)::INTEGER AS n FROM attempts WHERE cluster_key = $1",
      [oldKey],
    );
    assert.equal(left[0].n, 0);

    // One cluster on request: rows and raw archive.
    const goneKey = keyOf(s.ingest.secret, gone)!;
    const derived = ["cluster_signals", "host_stage_durations", "cluster_numbers"];
    for (const table of derived) {
      const [row] = await s.ingest.store.query<{ n: number }>(
        `SELECT count(*)::INTEGER AS n FROM ${table} WHERE cluster_key = $1`,
        [goneKey],
      );
      assert.ok(row.n > 0, `${table} before`);
    }
    const removed = await deleteSubject(s.ingest, { clusterId: gone });
    assert.equal(removed.archives, 1);
    for (const table of ["attempts", "events", "hosts", "archives", ...derived]) {
      const [row] = await s.ingest.store.query<{ n: number }>(
        `SELECT count(*)::INTEGER AS n FROM ${table} WHERE cluster_key = $1`,
        [goneKey],
      );
      assert.equal(row.n, 0, table);
    }
    const [kept] = await s.ingest.store.query<{ n: number }>(
      "SELECT count(*)::INTEGER AS n FROM attempts WHERE cluster_key = $1",
      [keyOf(s.ingest.secret, keep)!],
    );
    assert.equal(kept.n, 1, "others stay");

    // An organisation: every archive its token sent.
    const byOrg = await deleteSubject(s.ingest, { org: "org-a" });
    assert.equal(byOrg.archives, 1);
    const [all] = await s.ingest.store.query<{ n: number }>(
      "SELECT count(*)::INTEGER AS n FROM attempts",
    );
    assert.equal(all.n, 0);
  }),
);

Deno.test("deleting a SaaS cluster rewrites the export files that held it", async () => {
  const service = await startService({ env: { ANALYSIS_MIN_GROUP: "1" } });
  const dir = await Deno.makeTempDir();
  try {
    const { writeSaasExport } = await import("./population.ts");
    const { deleteSubject } = await import("../src/store/retention.ts");
    const saas = generateClusters("saas", 4);
    await writeSaasExport(dir, saas);
    await importSaasExport(service, dir);
    await deleteSubject(service.ingest, { clusterId: saas[0].id });
    const raw = await service.ingest.store.query<{ sha256: string; kind: string }>(
      "SELECT sha256, kind FROM archives",
    );
    for (const { sha256, kind } of raw) {
      const text = await Deno.readTextFile(service.ingest.rawPath(sha256, kind)).catch(() => "");
      assert.ok(!text.includes(saas[0].id), kind);
    }
    assert.deepEqual(await service.ingest.reprocess(), {
      success: raw.length,
      error: 0,
      waiting: 0,
    });
    const [{ n }] = await service.ingest.store.query<{ n: number }>(
      "SELECT count(DISTINCT cluster_key)::INTEGER AS n FROM attempts",
    );
    assert.equal(n, 3, "the deleted cluster does not come back on reprocess");
  } finally {
    await service.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an archive DuckDB runs out of memory on waits, never quarantined, and is read once there is room", async () => {
  const dir = await Deno.makeTempDir({ prefix: "analysis-oom-" });
  try {
    const big = await bigArchive("out-of-memory");
    const path = `${dir}/big.tgz`;
    await Deno.writeFile(path, big.bytes);
    const env = { ANALYSIS_DB: `${dir}/store.duckdb` };

    // Far too little memory for this archive: it waits, with the cause.
    const starved = await runProgram("analysis", ["import", path], {
      ...env,
      ANALYSIS_MEMORY_LIMIT: TOO_LITTLE,
    });
    assert.equal(starved.code, 1, starved.stderr);
    assert.match(starved.stdout, /big\.tgz: received — waiting: Out of Memory Error/);
    assert.match(starved.stdout, /1 files read, 0 quarantined, 1 waiting/);
    const again = await runProgram("analysis", ["reprocess"], {
      ...env,
      ANALYSIS_MEMORY_LIMIT: TOO_LITTLE,
    });
    assert.equal(again.code, 1, again.stderr);
    assert.match(again.stdout, /reprocessed: 0 read, 0 quarantined, 1 waiting/);

    // A service started on the same store with room reads what waits, at start.
    const config = loadAnalysisConfig({ ...env, ANALYSIS_MIN_GROUP: "1" });
    const service = await assembleAnalysisService(config, {
      tokens: { uploaders: new Map(), readers: new Set(), analysts: new Set() },
      audit: () => {},
    });
    assert.ok(service);
    const log: Array<Record<string, unknown>> = [];
    try {
      await service.start((line) => log.push(line));
      await service.ingest.settled();
      const [row] = await service.ingest.store.query<
        { status: string; reason: string | null; added: number }
      >("SELECT status, reason, events_new AS added FROM archives");
      assert.deepEqual(row, { status: "success", reason: null, added: big.events });
      const [{ n }] = await service.ingest.store.query<{ n: number }>(
        "SELECT count(*)::INTEGER AS n FROM events",
      );
      assert.equal(n, big.events);
      assert.ok(log.some((l) => l.msg === "reading archives that waited" && l.archives === 1));
    } finally {
      await service.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("an archive unpacked while its bytes are stored is read whole, and nothing is left behind: new, sent twice, or not an archive", async () => {
  const dir = await Deno.makeTempDir({ prefix: "analysis-ahead-" });
  const tmpdir = await scratchTmpdir("analysis-ahead-tmp-");
  await Deno.writeTextFile(`${dir}/key`, "f".repeat(64));
  const ingest = (await openIngest(loadAnalysisConfig({
    ANALYSIS_DB: `${dir}/store.duckdb`,
    ANALYSIS_KEY_FILE: `${dir}/key`,
  })))!;
  try {
    // Large enough to be read in halves (its events.json is over SPLIT_FROM_BYTES).
    const big = await bigArchive("ahead");
    const arrive = (bytes: Uint8Array) =>
      ingest.accept(bytes, { kind: "archive", channel: "import", orgLabel: null });
    const first = await arrive(big.bytes);
    const again = await arrive(big.bytes);
    const broken = await arrive(enc.encode("not a gzip stream"));
    assert.equal(first.duplicate, false);
    assert.equal(again.duplicate, true);
    await ingest.settled();
    const status = async (sha256: string) =>
      (await ingest.store.query<{ status: string; reason: string | null; n: number }>(
        "SELECT status, reason, events_in_archive::INTEGER AS n FROM archives WHERE sha256 = $1",
        [sha256],
      ))[0];
    assert.deepEqual(await status(first.sha256), {
      status: "success",
      reason: null,
      n: big.events,
    });
    assert.match((await status(broken.sha256)).reason ?? "", /^not-tar-gz: /);
    // Its raw file, written in 1 MiB pieces, holds the bytes as they came.
    assert.ok(big.bytes.byteLength > 2 << 20, `${big.bytes.byteLength} bytes`);
    assert.deepEqual(await Deno.readFile(ingest.rawPath(first.sha256, "archive")), big.bytes);
    const events = "SELECT event_id, host_key, event_time, message FROM events ORDER BY event_id";
    const read = await ingest.store.query(events);
    assert.equal(read.length, big.events);
    // Read again from the stored file, nothing unpacked ahead: the same rows.
    assert.deepEqual(await ingest.reprocess(), { success: 1, error: 1, waiting: 0 });
    assert.deepEqual(await ingest.store.query(events), read);
    const left = [];
    for await (const entry of Deno.readDir(tmpdir.path)) left.push(entry.name);
    assert.deepEqual(left, []);
  } finally {
    await ingest.close();
    await tmpdir.restore();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a store told to stop finishes the archive it is reading, leaves the others waiting, and the next start reads them", async () => {
  const dir = await Deno.makeTempDir({ prefix: "analysis-stop-" });
  const env = { ANALYSIS_DB: `${dir}/store.duckdb`, ANALYSIS_KEY_FILE: `${dir}/key` };
  await Deno.writeTextFile(`${dir}/key`, "e".repeat(64));
  try {
    const clusters = generateClusters("onprem", 4, "stop");
    const archives = await Promise.all(clusters.map((c) => onpremArchive(c)));
    const first = (await openIngest(loadAnalysisConfig(env)))!;
    const shas: string[] = [];
    for (const bytes of archives) {
      shas.push(
        (await first.accept(bytes, { kind: "archive", channel: "upload", orgLabel: null })).sha256,
      );
    }
    await first.stop();
    const again = (await openIngest(loadAnalysisConfig(env)))!;
    try {
      const statuses = async () =>
        (await again.store.query<{ status: string }>(
          "SELECT status FROM archives ORDER BY first_received_at",
        )).map((r) => r.status);
      const stopped = await statuses();
      assert.equal(stopped.length, 4);
      assert.ok(stopped.every((s) => s === "success" || s === "received"), String(stopped));
      assert.ok(stopped.includes("received"), `nothing was left waiting: ${stopped}`);
      assert.equal(await again.resume(), stopped.filter((s) => s === "received").length);
      await again.settled();
      assert.deepEqual(await statuses(), ["success", "success", "success", "success"]);
    } finally {
      await again.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
