import assert from "node:assert/strict";
import { connect } from "../src/db/mod.ts";
import {
  ATTEMPT_STATES,
  ledgerSummary,
  loadInstallation,
  migrateLedger,
  reconcileEnablement,
} from "../src/db/ledger.ts";
import { seedCluster } from "./fixtures/assisted_data.ts";
import { testDatabase } from "./support/db.ts";
import { scenario } from "./support/scenario.ts";

Deno.test("migrations are idempotent and safe to race; the key is made once", async () => {
  const db = await testDatabase();
  try {
    await Promise.all([migrateLedger(db.sql), migrateLedger(db.sql), migrateLedger(db.sql)]);
    const first = await loadInstallation(db.sql);
    await migrateLedger(db.sql);
    const again = await loadInstallation(db.sql);
    assert.equal(first.emailHmacKey.byteLength, 32);
    assert.deepEqual(again.emailHmacKey, first.emailHmacKey);
    const [{ n, v }] = await db.sql`
      SELECT count(*)::int AS n, max(version)::int AS v FROM assisted_telemetry.migrations`;
    assert.equal(n, v);
  } finally {
    await db.drop();
  }
});

Deno.test("the states are one list: the table's CHECK and the summary follow it", async () => {
  const db = await testDatabase();
  try {
    await migrateLedger(db.sql);
    for (const state of ATTEMPT_STATES) {
      await db
        .sql`INSERT INTO assisted_telemetry.attempts (cluster_id, ended_at, cluster_status, bundle_id, state)
        VALUES (${state}, now(), 'installed', gen_random_uuid(), ${state})`;
    }
    await assert.rejects(
      db.sql`INSERT INTO assisted_telemetry.attempts (cluster_id, ended_at, cluster_status, bundle_id, state)
        VALUES ('x', now(), 'installed', gen_random_uuid(), 'lost')`,
      /attempts_state_check/,
    );
    const { counts } = await ledgerSummary(db.sql);
    assert.deepEqual(Object.keys(counts), [...ATTEMPT_STATES]);
    assert.ok(Object.values(counts).every((n) => n === 1));
  } finally {
    await db.drop();
  }
});

Deno.test("enablement is recorded on change only", async () => {
  const db = await testDatabase();
  try {
    await migrateLedger(db.sql);
    const a = await reconcileEnablement(db.sql, { enabled: true, reason: "on" });
    const b = await reconcileEnablement(db.sql, { enabled: true, reason: "on" });
    const c = await reconcileEnablement(db.sql, { enabled: false, reason: "off" });
    assert.deepEqual([a.changed, b.changed, c.changed], [true, false, true]);
    assert.equal(a.since, b.since);
    assert.match(a.since, /\.\d+\+00$/);
    assert.ok(c.since > a.since);
  } finally {
    await db.drop();
  }
});

Deno.test("a role with only SELECT on assisted-service's tables and its own schema works", async () => {
  await scenario(async ({ db, receiver }) => {
    const role = `collector_${crypto.randomUUID().slice(0, 8)}`;
    // The README's GRANTs, with the schema created by an admin.
    await db.sql.unsafe(`
      CREATE ROLE ${role} LOGIN PASSWORD 'collector-pw';
      CREATE SCHEMA assisted_telemetry AUTHORIZATION ${role};
      GRANT USAGE ON SCHEMA public TO ${role};
      GRANT SELECT ON clusters, hosts, infra_envs, events, monitored_operators, api_vips,
        ingress_vips, cluster_networks, machine_networks, service_networks TO ${role};
      REVOKE CREATE ON SCHEMA public FROM PUBLIC;
    `);
    const { testCollector, testConfig } = await import("./support/setup.ts");
    const c = testCollector(testConfig(db.urlFor(role, "collector-pw"), receiver.endpoint));
    try {
      await c.collector.reconcile();
      const id = crypto.randomUUID();
      await seedCluster(db.sql, id);
      assert.equal((await c.collector.runPass()).sent, 1);
      await assert.rejects(
        c.sql`UPDATE clusters SET uploaded = true WHERE id = ${id}`,
        /permission denied/,
      );
      const [{ uploaded }] = await db.sql`SELECT uploaded FROM clusters WHERE id = ${id}`;
      assert.equal(uploaded, null);
    } finally {
      await c.close();
      await db.sql.unsafe(`DROP OWNED BY ${role} CASCADE; DROP ROLE ${role}`);
    }
  });
});

Deno.test("a collector killed mid-upload leaves the attempt to be sent by the next", async () => {
  let release!: () => void;
  const hold = new Promise<void>((resolve) => (release = resolve));
  await scenario(async ({ db, receiver, ledger }) => {
    const { testConfig } = await import("./support/setup.ts");
    const config = testConfig(db.url, receiver.endpoint);
    const { Collector } = await import("../src/collect/mod.ts");
    const { createLogger } = await import("../src/log/mod.ts");
    const doomedSql = connect(config.databaseUrl);
    const doomed = new Collector({
      sql: doomedSql,
      config,
      log: createLogger("error", { sink: () => {} }),
    });
    await doomed.reconcile();
    await seedCluster(db.sql, crypto.randomUUID());
    const pass = doomed.runPass();
    while (receiver.requests === 0) await new Promise((r) => setTimeout(r, 10));
    // The process dies: its connections drop without a commit.
    await doomedSql.end({ timeout: 0 });
    release();
    await pass;
    assert.equal((await ledger())[0].state, "pending");
    const survivor = connect(config.databaseUrl);
    try {
      const next = new Collector({
        sql: survivor,
        config,
        log: createLogger("error", { sink: () => {} }),
      });
      assert.equal((await next.runPass()).sent, 1);
    } finally {
      await survivor.end();
    }
    assert.equal((await ledger())[0].state, "sent");
  }, {
    answer: (n) => (n === 1 ? hold.then(() => new Response("late", { status: 503 })) : undefined),
  });
});
