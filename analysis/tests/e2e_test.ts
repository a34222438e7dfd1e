/**
 * End to end: the real collector (its own process) uploads finished attempts
 * from a real assisted-service database to `serve` over HTTP, a SaaS export
 * in both S3 layouts is imported beside them, and every answer equals the
 * ground truth computed from the generated inputs.
 */
import assert from "node:assert/strict";
import { seedCluster, telemetryToken } from "../../tests/fixtures/assisted_data.ts";
import { emptyDatabase, testDatabase } from "../../tests/support/db.ts";
import { ask, findQuestion, parseAsk } from "../src/questions/mod.ts";
import {
  expectedSuccess,
  type GenCluster,
  generateClusters,
  resultEvent,
  writeSaasExport,
} from "./population.ts";
import { importSaasExport, runProgram, startService } from "./support.ts";

const ANALYST = "analyst-token-0123456789";

async function seedOnprem(
  sql: Parameters<typeof seedCluster>[0],
  clusters: GenCluster[],
): Promise<void> {
  for (const c of clusters) {
    await seedCluster(sql, c.id, {
      hosts: c.haMode === "None" ? 1 : 3,
      events: 20,
      cluster: {
        openshift_version: c.openshiftVersion,
        platform_type: c.platform,
        high_availability_mode: c.haMode,
        email_domain: c.emailDomain,
        created_at: c.createdAt,
        status: c.results.at(-1),
        feature_usage: JSON.stringify(
          Object.fromEntries(c.features.map((id) => [id.toLowerCase(), { id, name: id }])),
        ),
      },
    });
    for (let i = 0; i < c.results.length; i++) {
      const e = resultEvent(c, i);
      await sql`INSERT INTO events (cluster_id, category, severity, event_time, message, props, created_at)
        VALUES (${c.id}, 'metrics', 'info', ${e.event_time}::timestamptz, ${e.message}, ${e.props}, now())`;
    }
  }
}

type Row = Record<string, unknown>;
// deno-lint-ignore no-explicit-any
type Body = any;

async function get(url: string, token?: string): Promise<{ status: number; body: Body }> {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  return {
    status: res.status,
    body: text.startsWith("{") || text.startsWith("[") ? JSON.parse(text) : text,
  };
}

function pick(row: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, row[k]]));
}

const SUCCESS_KEYS = [
  "clusters_installed",
  "clusters_error",
  "attempts_installed",
  "attempts_error",
  "attempts_cancelled",
  "n",
  "success_rate",
];

for (const store of ["embedded DuckDB", "PostgreSQL"] as const) {
  Deno.test(`end to end on ${store}: collector uploads and a SaaS export answer the questions as the inputs say`, () =>
    endToEnd(store));
}

async function endToEnd(store: "embedded DuckDB" | "PostgreSQL"): Promise<void> {
  const db = await testDatabase();
  const shared = store === "PostgreSQL" ? await emptyDatabase() : undefined;
  const service = await startService({
    env: {
      ANALYSIS_MIN_GROUP: "1",
      ...(shared ? { ANALYSIS_DATABASE_URL: shared.url } : {}),
    },
    tokens: {
      uploaders: new Map([[telemetryToken(), "customer-org"]]),
      analysts: new Set([ANALYST]),
    },
  });
  const exportDir = await Deno.makeTempDir({ prefix: "saas-export-" });
  try {
    const env = {
      DATABASE_URL: db.url,
      DATA_UPLOAD_ENDPOINT: `${service.url}/api/ingress/v1/upload`,
      UPLOAD_RATE_PER_MINUTE: "600",
      UPLOAD_CONCURRENCY: "2",
    };
    // The first pass starts collection; attempts that end after it are sent.
    assert.equal((await runProgram("collector", ["once"], env)).code, 0);
    const onprem = generateClusters("onprem", 9);
    await seedOnprem(db.sql, onprem);
    const once = await runProgram("collector", ["once"], env);
    assert.equal(once.code, 0, once.stderr + once.stdout);
    await service.ingest.settled();

    const saas = generateClusters("saas", 10);
    await writeSaasExport(exportDir, saas);
    await importSaasExport(service, exportDir);

    // Every archive read, none quarantined.
    const health = await get(`${service.url}/api/v1/questions/ingest-health?by=source`, ANALYST);
    const bySource = Object.fromEntries(health.body.rows.map((r: Row) => [r.key, r]));
    assert.equal(bySource.onprem.archives, onprem.length);
    assert.equal(bySource.onprem.quarantined, 0);
    assert.equal(bySource.saas.quarantined, 0);

    // The collector verified each delivery against this service's tracker (the design's Test 1).
    const delivery = await db.sql`SELECT verification, count(*)::int AS n
      FROM assisted_telemetry.attempts WHERE state = 'sent' GROUP BY verification`;
    assert.deepEqual([...delivery], [{ verification: "verified", n: onprem.length }]);

    // The collector's uploads are tracked as processed.
    const [ledger] = await db
      .sql`SELECT request_id FROM assisted_telemetry.attempts WHERE state = 'sent' LIMIT 1`;
    const tracked = await get(
      `${service.url}/api/ingress/v1/track/${ledger.request_id}`,
      telemetryToken(),
    );
    assert.equal(tracked.status, 200);
    assert.equal(tracked.body.status, "success");
    assert.equal(
      (await get(`${service.url}/api/ingress/v1/track/${ledger.request_id}`, "someone-else-token"))
        .status,
      401,
    );
    assert.equal(
      (await get(`${service.url}/api/ingress/v1/track/not-a-uuid`, telemetryToken())).status,
      400,
    );
    assert.equal(
      (await get(`${service.url}/api/ingress/v1/track/${crypto.randomUUID()}`, telemetryToken()))
        .status,
      404,
    );

    // Success rate per source, internal users excluded by default.
    const external = (cs: GenCluster[]) => cs.filter((c) => c.emailDomain !== "redhat.com");
    const answer = await get(`${service.url}/api/v1/questions/success-rate?by=source`, ANALYST);
    assert.equal(answer.status, 200);
    const rows = Object.fromEntries(answer.body.rows.map((r: Row) => [r.key, r]));
    assert.deepEqual(pick(rows.onprem, SUCCESS_KEYS), expectedSuccess(external(onprem)));
    assert.deepEqual(pick(rows.saas, SUCCESS_KEYS), expectedSuccess(external(saas)));
    assert.ok(rows.onprem.success_rate_low <= rows.onprem.success_rate);
    assert.ok(rows.onprem.success_rate_high >= rows.onprem.success_rate);

    // With internal users, by OpenShift version over both sources.
    const all = [...onprem, ...saas];
    const byVersion = await get(
      `${service.url}/api/v1/questions/success-rate?by=openshift_version&internal=include`,
      ANALYST,
    );
    for (const row of byVersion.body.rows) {
      const expected = expectedSuccess(all.filter((c) => c.openshiftVersion === row.key));
      assert.deepEqual(pick(row, SUCCESS_KEYS), expected, `version ${row.key}`);
    }
    assert.equal(byVersion.body.rows.length, 3);

    // Side by side, filtered to one platform.
    const split = await get(
      `${service.url}/api/v1/questions/success-rate?by=platform&split=source&platform=vsphere`,
      ANALYST,
    );
    for (const row of split.body.rows) {
      const expected = expectedSuccess(
        external(row.source === "onprem" ? onprem : saas).filter((c) => c.platform === "vsphere"),
      );
      assert.equal(row.key, "vsphere");
      assert.deepEqual(pick(row, SUCCESS_KEYS), expected);
    }

    // Attempts per cluster (§1.4).
    const perCluster = await get(
      `${service.url}/api/v1/questions/attempts-per-cluster?by=source&internal=include`,
      ANALYST,
    );
    for (const row of perCluster.body.rows) {
      const cs = row.key === "onprem" ? onprem : saas;
      assert.equal(row.attempts, cs.reduce((n, c) => n + c.results.length, 0));
      assert.equal(row.clusters, cs.length);
    }

    // Feature adoption, with and without.
    const features = await get(
      `${service.url}/api/v1/questions/feature-usage?internal=include`,
      ANALYST,
    );
    const sno = features.body.rows.find((r: Row) => r.key === "SNO");
    assert.equal(sno.clusters, all.filter((c) => c.features.includes("SNO")).length);

    // Operators (on-prem: every seeded cluster monitors lso) and dual-stack networking.
    const operators = await get(
      `${service.url}/api/v1/questions/operator-usage?internal=include`,
      ANALYST,
    );
    const lso = operators.body.rows.find((r: Row) => r.key === "lso");
    assert.equal(
      lso.clusters,
      onprem.length + saas.filter((c) => c.operators.includes("lso")).length,
    );
    assert.equal(operators.body.rows.length, 1, "builtin operators are not counted");
    const stacks = await get(
      `${service.url}/api/v1/questions/success-rate?by=dual_stack&split=source&internal=include`,
      ANALYST,
    );
    const onpremStack = stacks.body.rows.filter((r: Row) => r.source === "onprem");
    assert.deepEqual(onpremStack.map((r: Row) => r.key), ["true"], "the fixture is dual-stack");

    // CSV of the same rows.
    const csv = await get(
      `${service.url}/api/v1/questions/success-rate?by=source&format=csv`,
      ANALYST,
    );
    assert.match(csv.body, /^key,clusters_installed,/);
    assert.equal(csv.body.trim().split("\r\n").length, 3);

    // The CLI at a terminal goes through the running service, which holds the store.
    const cli = await runProgram("analysis", [
      "ask",
      "success-rate",
      "--by",
      "source",
      "--format",
      "json",
    ], {
      ANALYSIS_DB: service.config.dbPath,
      ANALYSIS_URL: service.url,
      ANALYSIS_TOKEN: ANALYST,
    });
    assert.equal(cli.code, 0, cli.stderr);
    assert.deepEqual(JSON.parse(cli.stdout).rows, answer.body.rows);

    // A disconnected install's export, imported by hand: its attempts are marked manual_export,
    // and an attempt that also arrived by upload counts once.
    const late = generateClusters("onprem", 1, "exported-only")[0];
    late.results = ["error"];
    await seedOnprem(db.sql, [late]);
    const exportFile = `${exportDir}/disconnected.tar`;
    const exported = await runProgram("collector", ["export", "--out", exportFile], {
      ...env,
      ENABLE_DATA_COLLECTION: "false",
    });
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(JSON.parse(exported.stdout).archives, onprem.length + 1);
    const imported = await runProgram("analysis", ["import", exportFile], {
      ANALYSIS_DB: service.config.dbPath,
      ANALYSIS_URL: service.url,
      ANALYSIS_TOKEN: ANALYST,
    });
    assert.equal(imported.code, 0, imported.stderr + imported.stdout);
    const channels = await get(
      `${service.url}/api/v1/questions/attempts-per-cluster?by=channel&internal=include&source=onprem`,
      ANALYST,
    );
    const byChannel = Object.fromEntries(channels.body.rows.map((r: Row) => [r.key, r.attempts]));
    assert.deepEqual(byChannel, {
      upload: onprem.reduce((n, c) => n + c.results.length, 0),
      manual_export: 1,
    });
    const withoutManual = await get(
      `${service.url}/api/v1/questions/success-rate?by=source&source=onprem&manual=exclude`,
      ANALYST,
    );
    assert.deepEqual(
      pick(withoutManual.body.rows[0], SUCCESS_KEYS),
      expectedSuccess(external(onprem)),
    );

    // One cluster's timeline: analyst token only, and logged.
    const timeline = `${service.url}/api/v1/questions/cluster-timeline?cluster=${onprem[0].id}`;
    assert.equal((await get(timeline)).status, 401);
    const rowsOfOne = await get(timeline, ANALYST);
    assert.equal(rowsOfOne.status, 200);
    assert.ok(rowsOfOne.body.rows.length >= onprem[0].results.length);
    assert.equal(service.audit.length, 1);
    assert.equal((await get(`${service.url}/api/v1/questions/success-rate`)).status, 401);
  } finally {
    await service.close();
    await db.drop();
    await shared?.drop();
    await Deno.remove(exportDir, { recursive: true }).catch(() => {});
  }
}

Deno.test("cells of fewer than k clusters are suppressed, never shown as zero", async () => {
  const service = await startService({ env: { ANALYSIS_DEV_MODE: "true" } });
  const dir = await Deno.makeTempDir({ prefix: "saas-export-" });
  try {
    const saas = generateClusters("saas", 10);
    await writeSaasExport(dir, saas);
    await importSaasExport(service, dir);
    const question = findQuestion("success-rate")!;
    const answer = await ask(service.ingest.store, question, {
      params: parseAsk({ by: "openshift_version", internal: "include" }),
      k: 4,
      secret: service.ingest.secret,
    });
    for (const row of answer.rows) {
      const clusters = saas.filter((c) => c.openshiftVersion === row.key).length;
      if (clusters < 4) {
        assert.equal(row.suppressed, true, String(row.key));
        assert.equal(row.success_rate, null);
        assert.equal(row.clusters_installed, null);
      } else {
        assert.equal(row.suppressed, false);
        assert.equal(row.clusters, clusters);
      }
    }
    assert.ok(answer.suppressed >= 1, "the population has a version with 3 clusters");
  } finally {
    await service.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
