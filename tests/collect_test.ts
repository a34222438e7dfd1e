import assert from "node:assert/strict";
import { unpackArchive } from "../src/bundle/mod.ts";
import { REASONS } from "../src/collect/mod.ts";
import {
  clusterRow,
  insertRows,
  PLANTED,
  pullSecret,
  seedCluster,
  telemetryToken,
} from "./fixtures/assisted_data.ts";
import { userId } from "../src/sanitize/pseudonym.ts";
import { scenario } from "./support/scenario.ts";
import { receivedFiles } from "./support/setup.ts";

const MS_LAYOUT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

Deno.test("a finished attempt is sent once, in the consumer's layout and JSON shape", async () => {
  await scenario(async ({ db, receiver, collector }) => {
    const { collector: c } = collector();
    assert.equal((await c.reconcile()).state?.enabled, true);
    const id = crypto.randomUUID();
    const hostIds = await seedCluster(db.sql, id, { hosts: 3, events: 40 });
    // Left out: other categories, soft-deleted events and hosts.
    await db.sql`INSERT INTO events (cluster_id, category, message, event_time) VALUES
      (${id}, 'internal', 'not for upload', now()),
      (${id}, 'user', 'deleted event', now())`;
    await db.sql`UPDATE events SET deleted_at = now() WHERE message = 'deleted event'`;
    await db.sql`UPDATE hosts SET deleted_at = now() WHERE id = ${hostIds[2]}`;

    const first = await c.runPass();
    assert.deepEqual([first.sent, first.failed, first.errors], [1, 0, []]);
    const second = await c.runPass();
    assert.deepEqual([second.sent, second.discovered], [0, 0]);
    assert.equal(receiver.requests, 1);

    const [files] = await receivedFiles(receiver);
    assert.deepEqual(Object.keys(files).sort(), [
      `${id}/events.json`,
      `${id}/events/cluster.json`,
      `${id}/events/hosts.json`,
      `${id}/events/infraenv.json`,
      `${id}/metadata.json`,
      `${id}/versions.json`,
    ]);
    const events = JSON.parse(files[`${id}/events.json`]);
    assert.equal(events.length, 40);
    assert.ok(events.every((e: { event_time: string }) => MS_LAYOUT.test(e.event_time)));
    const times = events.map((e: { event_time: string }) => e.event_time);
    assert.deepEqual(times, [...times].sort());
    assert.ok(events.every((e: { category: string }) => ["user", "metrics"].includes(e.category)));
    assert.ok(!files[`${id}/events.json`].includes("deleted event"));
    const metric = events.find((e: { category: string }) => e.category === "metrics");
    assert.equal(typeof metric.props, "string");
    assert.equal(typeof JSON.parse(metric.props).duration, "number");
    assert.ok(
      events.every((e: Record<string, unknown>) =>
        !("id" in e) && "message" in e && "severity" in e
      ),
    );

    const cluster = JSON.parse(files[`${id}/events/cluster.json`]);
    assert.equal(cluster.id, id);
    assert.equal(cluster.control_plane_count, 3);
    assert.equal(cluster.image_info.size_bytes, 1_234_567_890);
    assert.equal(cluster.platform.type, "baremetal");
    assert.deepEqual(cluster.platform.external, {});
    assert.equal(cluster.progress.total_percentage, 100);
    assert.equal(cluster.install_started_at, "2026-11-27T10:00:00.123Z");
    assert.equal(cluster.created_at, "2026-11-27T09:00:00.000001Z");
    assert.match(cluster.status_updated_at, MS_LAYOUT);
    // Keyed by default: not the scraper's reversible FNV of the name.
    assert.match(cluster.user_id, /^user-hmac:[0-9a-f]{32}$/);
    assert.notEqual(cluster.user_id, userId(PLANTED.telemetryUser));
    assert.equal(cluster.user_name, undefined);
    assert.equal(cluster.http_proxy, "http+credentials");
    assert.deepEqual(JSON.parse(cluster.install_config_overrides), [
      "additionalTrustBundle",
      "fips",
      "networking.networkType",
    ]);
    assert.equal(typeof cluster.feature_usage, "string");

    const hosts = JSON.parse(files[`${id}/events/hosts.json`]);
    assert.equal(hosts.length, 2);
    assert.ok(!hosts.some((h: { id: string }) => h.id === hostIds[2]));
    assert.ok(
      hosts.every((h: { cluster_id: string; infra_env_id: string }) =>
        h.cluster_id === id && h.infra_env_id
      ),
    );
    const infraEnv = JSON.parse(files[`${id}/events/infraenv.json`]);
    assert.equal(infraEnv.id, hosts[0].infra_env_id);

    const versions = JSON.parse(files[`${id}/versions.json`]);
    assert.deepEqual(Object.keys(versions), [
      "assisted-installer",
      "assisted-installer-controller",
      "assisted-installer-service",
      "discovery-agent",
    ]);
    const meta = JSON.parse(files[`${id}/metadata.json`]);
    for (
      const key of [...Object.keys(versions), "deployment-type", "deployment-version", "git-ref"]
    ) {
      assert.equal(typeof meta[key], "string", key);
    }
    const [row] = await db.sql`
      SELECT bundle_id::text AS b, request_id, event_count::int AS n, bytes::int AS bytes, state FROM assisted_telemetry.attempts`;
    assert.equal(meta.bundle_id, row.b);
    assert.equal(meta.event_count, 40);
    assert.equal(row.n, 40);
    assert.equal(row.state, "sent");
    const [kept] = await receiver.store.list();
    assert.equal(row.request_id, kept.request_id);
    assert.equal(row.bytes, kept.bytes);
  });
});

Deno.test("attempts that ended before collection began are never sent", async () => {
  await scenario(async ({ db, receiver, collector }) => {
    await seedCluster(db.sql, crypto.randomUUID(), {
      cluster: { status_updated_at: "2026-01-01T00:00:00Z" },
    });
    await seedCluster(db.sql, crypto.randomUUID());
    const { collector: c } = collector();
    const result = await c.runPass();
    assert.deepEqual([result.discovered, result.sent], [0, 0]);
    assert.equal(receiver.requests, 0);
  });
});

Deno.test("a reset and reinstalled cluster makes a new attempt, distinct to the microsecond", async () => {
  await scenario(async ({ db, receiver, collector, ledger }) => {
    const { collector: c } = collector();
    await c.reconcile();
    const id = crypto.randomUUID();
    await seedCluster(db.sql, id, { events: 5 });
    assert.equal((await c.runPass()).sent, 1);
    await db
      .sql`UPDATE clusters SET status = 'error', status_updated_at = status_updated_at + interval '1 microsecond' WHERE id = ${id}`;
    const again = await c.runPass();
    assert.deepEqual([again.discovered, again.sent], [1, 1]);
    assert.equal((await c.runPass()).sent, 0);
    const rows = await ledger();
    assert.equal(rows.length, 2);
    assert.notEqual(rows[0].bundle_id, rows[1].bundle_id);
    const [a, b] = rows.map((r) => String(r.ended_at));
    assert.equal(a.slice(0, 19), b.slice(0, 19));
    assert.equal(receiver.requests, 2);
  });
});

Deno.test("only finished, not soft-deleted clusters are attempts", async () => {
  await scenario(async ({ db, receiver, collector }) => {
    const { collector: c } = collector();
    await c.reconcile();
    await seedCluster(db.sql, crypto.randomUUID(), { cluster: { status: "installing" } });
    await seedCluster(db.sql, crypto.randomUUID(), { cluster: { status: "adding-hosts" } });
    const deleted = crypto.randomUUID();
    await seedCluster(db.sql, deleted);
    await db.sql`UPDATE clusters SET deleted_at = now() WHERE id = ${deleted}`;
    for (const status of ["installed", "error", "cancelled"]) {
      await seedCluster(db.sql, crypto.randomUUID(), { cluster: { status } });
    }
    const result = await c.runPass();
    assert.deepEqual([result.discovered, result.sent], [3, 3]);
    assert.equal(receiver.requests, 3);
  });
});

Deno.test("ENABLE_DATA_COLLECTION=false: no request at all, the change recorded, logged once", async () => {
  await scenario(async ({ db, receiver, collector }) => {
    const off = collector({ ENABLE_DATA_COLLECTION: "false" });
    await off.collector.runPass();
    await seedCluster(db.sql, crypto.randomUUID());
    const result = await off.collector.runPass();
    assert.deepEqual([result.optedOut, result.reason, result.sent], [true, REASONS.env, 0]);
    assert.equal(receiver.requests, 0);
    assert.equal(off.lines.filter((l) => l.includes("opted out")).length, 1);
    const history = await db
      .sql`SELECT enabled, reason FROM assisted_telemetry.enablement ORDER BY id`;
    assert.deepEqual(history.map((r) => [r.enabled, r.reason]), [[false, REASONS.env]]);

    // Opting in sets a new start: the attempt that ended while opted out stays unsent.
    const on = collector({});
    const after = await on.collector.runPass();
    assert.deepEqual([after.optedOut, after.discovered, after.sent], [false, 0, 0]);
    await seedCluster(db.sql, crypto.randomUUID());
    assert.equal((await on.collector.runPass()).sent, 1);
    assert.equal(receiver.requests, 1);
  });
});

Deno.test("a global pull secret without cloud.openshift.com opts out, re-read every pass", async () => {
  await scenario(async ({ db, receiver, collector, secretFile }) => {
    const file = await secretFile(pullSecret({ telemetry: false }));
    const { collector: c, lines } = collector({ PULL_SECRET_FILE: file });
    const out = await c.runPass();
    assert.deepEqual([out.optedOut, out.reason], [true, REASONS.pullSecret]);
    await seedCluster(db.sql, crypto.randomUUID());
    assert.equal((await c.runPass()).optedOut, true);
    assert.equal(receiver.requests, 0);

    await Deno.writeTextFile(file, pullSecret({ password: "global-password-1" }));
    const back = await c.runPass();
    assert.deepEqual([back.optedOut, back.sent], [false, 0]);
    await seedCluster(db.sql, crypto.randomUUID());
    assert.equal((await c.runPass()).sent, 1);
    assert.ok(lines.some((l) => l.includes("turned on")));

    await Deno.writeTextFile(file, "{ not json");
    const broken = await c.runPass();
    assert.equal(broken.errors.length, 1);
    assert.match(broken.errors[0], /global pull secret unusable/);
    assert.equal(receiver.requests, 1);
  });
});

Deno.test("the global pull secret's token is used; else the cluster's own", async () => {
  const tokens: string[] = [];
  await scenario(async ({ db, collector, secretFile }) => {
    const { collector: plain } = collector();
    await plain.reconcile();
    await seedCluster(db.sql, crypto.randomUUID());
    await plain.runPass();
    const file = await secretFile(pullSecret({ user: "hub", password: "hub-password" }));
    const { collector: withGlobal } = collector({ PULL_SECRET_FILE: file });
    await seedCluster(db.sql, crypto.randomUUID());
    await withGlobal.runPass();
  }, {
    answer: (_n, req) => {
      tokens.push(req.headers.get("authorization") ?? "");
      return undefined;
    },
  });
  assert.deepEqual(tokens, [`Bearer ${telemetryToken()}`, `Bearer ${btoa("hub:hub-password")}`]);
});

Deno.test("a cluster whose own pull secret opts out is skipped, and stays skipped", async () => {
  await scenario(async ({ db, receiver, collector, secretFile, ledger }) => {
    const file = await secretFile(pullSecret());
    const { collector: c } = collector({ PULL_SECRET_FILE: file });
    await c.reconcile();
    await seedCluster(db.sql, crypto.randomUUID(), {
      cluster: { pull_secret: pullSecret({ telemetry: false }) },
    });
    const first = await c.runPass();
    assert.deepEqual([first.skipped, first.sent], [1, 0]);
    assert.equal((await c.runPass()).skipped, 0);
    assert.equal(receiver.requests, 0);
    const [row] = await ledger();
    assert.equal(row.state, "skipped");
    assert.match(String(row.last_error), /cloud\.openshift\.com/);
  });
});

Deno.test("a refused upload is recorded and retried with the same bundle_id", async () => {
  const bundles: string[] = [];
  await scenario(async ({ db, receiver, collector, ledger }) => {
    const { collector: c } = collector({ UPLOAD_RETRY_INITIAL: "20ms", UPLOAD_RETRY_MAX: "20ms" });
    await c.reconcile();
    await seedCluster(db.sql, crypto.randomUUID());
    const failed = await c.runPass();
    assert.deepEqual([failed.failed, failed.sent], [1, 0]);
    let [row] = await ledger();
    assert.deepEqual([row.state, row.tries, row.last_http_status], ["pending", 1, 500]);
    assert.match(String(row.last_error), /^HTTP 500: staging failed/);
    assert.ok(String(row.last_error).length <= 540);
    await new Promise((r) => setTimeout(r, 30));
    const ok = await c.runPass();
    assert.equal(ok.sent, 1);
    [row] = await ledger();
    assert.deepEqual([row.state, row.tries, row.last_error], ["sent", 2, null]);
    assert.equal(receiver.requests, 2);
    assert.equal(bundles.length, 2, "both tries were read");
    assert.deepEqual(bundles, [row.bundle_id, row.bundle_id]);
  }, {
    answer: (n, req) => {
      const archive = req.clone().formData().then((f) => (f.get("file") as File).arrayBuffer());
      const record = archive.then(async (buf) => {
        const files = await unpackArchive(new Uint8Array(buf));
        const meta = files.find((f) => f.name.endsWith("metadata.json"))!;
        bundles.push(JSON.parse(new TextDecoder().decode(meta.data)).bundle_id);
      });
      if (n === 1) {
        return record.then(() =>
          new Response("staging failed " + "x".repeat(2000), { status: 500 })
        );
      }
      return undefined;
    },
  });
});

Deno.test("opting out cancels waiting attempts; opting in does not revive them", async () => {
  await scenario(async ({ db, receiver, collector, ledger }) => {
    const { collector: c } = collector();
    await c.reconcile();
    await seedCluster(db.sql, crypto.randomUUID());
    assert.equal((await c.runPass()).failed, 1);
    const out = await c.setOptOut(true);
    assert.equal(out.state?.enabled, false);
    assert.equal((await ledger())[0].state, "cancelled");
    assert.equal((await c.runPass()).optedOut, true);
    const back = await c.setOptOut(false);
    assert.equal(back.state?.enabled, true);
    const pass = await c.runPass();
    assert.deepEqual([pass.sent, pass.failed, pass.discovered], [0, 0, 0]);
    assert.equal(receiver.requests, 1);
    const history = await db.sql`SELECT enabled FROM assisted_telemetry.enablement ORDER BY id`;
    assert.deepEqual(history.map((r) => r.enabled), [true, false, true]);
  }, { answer: () => new Response("unavailable", { status: 503 }) });
});

Deno.test("two collectors on one database send each attempt once", async () => {
  await scenario(async ({ db, receiver, collector }) => {
    const a = collector().collector;
    const b = collector().collector;
    await a.reconcile();
    for (let i = 0; i < 4; i++) await seedCluster(db.sql, crypto.randomUUID(), { events: 10 });
    const [ra, rb] = await Promise.all([a.runPass(), b.runPass()]);
    assert.equal(ra.sent + rb.sent, 4);
    assert.equal(receiver.requests, 4);
    assert.equal((await receiver.store.list()).reduce((n, u) => n + u.duplicates, 0), 0);
  }, {
    // Slow answers keep each claim open while the other collector looks.
    answer: () => new Promise((resolve) => setTimeout(() => resolve(undefined), 150)),
  });
});

Deno.test("no pull secret, token or planted secret ever enters an archive", async () => {
  await scenario(async ({ db, receiver, collector, secretFile }) => {
    const file = await secretFile(
      pullSecret({ user: "hub-user", password: "hubPassw0rd-planted" }),
    );
    const { collector: c } = collector({
      PULL_SECRET_FILE: file,
      TRIGGER_TOKEN: "triggerTokenPlanted-0123456789",
    });
    await c.reconcile();
    await seedCluster(db.sql, crypto.randomUUID(), { hosts: 4, events: 1200 });
    assert.equal((await c.runPass()).sent, 1);
    const [upload] = await receiver.store.list();
    const files = await unpackArchive((await receiver.store.archive(upload.request_id))!);
    const text = files.map((f) => new TextDecoder().decode(f.data)).join("\n");
    const secrets = [
      ...Object.values(PLANTED),
      "hubPassw0rd-planted",
      btoa("hub-user:hubPassw0rd-planted"),
      telemetryToken(),
      "triggerTokenPlanted-0123456789",
      "proxyuser",
    ];
    assert.deepEqual(secrets.filter((s) => text.includes(s)), []);
    assert.match(text, /email-hmac:[0-9a-f]{32}/);
  });
});

Deno.test("corrupt rows and hostile values neither crash a pass nor leak", async () => {
  await scenario(async ({ db, receiver, collector, ledger }) => {
    const { collector: c } = collector();
    await c.reconcile();
    const id = crypto.randomUUID();
    await seedCluster(db.sql, id, { events: 3 });
    await db.sql`UPDATE clusters SET install_config_overrides = '{"pullSecret": "hunter2-planted"',
      feature_usage = 'not json at all password=hunter3-planted', control_plane_count = NULL,
      install_started_at = NULL, name = ${"x\u0000y".replace("\u0000", "\u0001")} WHERE id = ${id}`;
    await db
      .sql`UPDATE hosts SET inventory = '][', fencing_credentials = '{"password":', installer_args = '"--x"'`;
    await db
      .sql`UPDATE events SET props = '{"token": "hunter4-planted"', event_time = NULL WHERE cluster_id = ${id}
      AND id = (SELECT min(id) FROM events WHERE cluster_id = ${id})`;
    const hostile = "../../etc/passwd";
    await insertRows(db.sql, "clusters", [clusterRow(hostile)]);
    await db.sql`UPDATE clusters SET status_updated_at = clock_timestamp() WHERE id = ${hostile}`;
    const result = await c.runPass();
    assert.deepEqual([result.sent, result.skipped, result.errors], [1, 1, []]);
    const [files] = await receivedFiles(receiver);
    const text = Object.values(files).join("\n");
    for (const s of ["hunter2-planted", "hunter3-planted", "hunter4-planted"]) {
      assert.ok(!text.includes(s), s);
    }
    const events = JSON.parse(files[`${id}/events.json`]);
    assert.equal(events[events.length - 1].event_time, null);
    const cluster = JSON.parse(files[`${id}/events/cluster.json`]);
    assert.equal(cluster.install_started_at, "0001-01-01T00:00:00.000Z");
    assert.equal(cluster.control_plane_count, undefined);
    const skipped = (await ledger()).find((r) => r.cluster_id === hostile)!;
    assert.deepEqual([skipped.state, skipped.last_error], [
      "skipped",
      "cluster id is not a plain identifier",
    ]);
  });
});

Deno.test("a database outage fails the pass without losing an attempt", async () => {
  await scenario(async ({ db, receiver, ledger }) => {
    const { testCollector, testConfig } = await import("./support/setup.ts");
    const good = testCollector(testConfig(db.url, receiver.endpoint));
    try {
      // The attempt ends before the outage.
      await good.collector.reconcile();
      await seedCluster(db.sql, crypto.randomUUID());
      const broken = testCollector(
        testConfig("postgres://nobody@127.0.0.1:1/none", receiver.endpoint),
      );
      try {
        const result = await broken.collector.runPass();
        assert.equal(result.errors.length, 1);
        assert.equal(receiver.requests, 0);
      } finally {
        await broken.close();
      }
      // The database is back: the same attempt goes, once.
      assert.equal((await good.collector.runPass()).sent, 1);
      const rows = await ledger();
      assert.deepEqual(rows.map((r) => [r.state, r.tries]), [["sent", 1]]);
    } finally {
      await good.close();
    }
  });
});

Deno.test("the reason shown for being opted out is the current one, all of them when several hold", async () => {
  await scenario(async ({ collector, secretFile }) => {
    const { pullSecret } = await import("./fixtures/assisted_data.ts");
    const optedOut = await secretFile(pullSecret({ telemetry: false }));
    const withEntry = await secretFile(pullSecret());
    // env off, then env on but the pull secret without the entry: the pull secret is the reason.
    let out = await collector({ ENABLE_DATA_COLLECTION: "false", PULL_SECRET_FILE: withEntry })
      .collector.runPass();
    assert.equal(out.reason, REASONS.env);
    out = await collector({ PULL_SECRET_FILE: optedOut }).collector.runPass();
    assert.equal(out.reason, REASONS.pullSecret);
    // both at once: both are given.
    out = await collector({ ENABLE_DATA_COLLECTION: "false", PULL_SECRET_FILE: optedOut })
      .collector.runPass();
    assert.equal(out.reason, `${REASONS.env}; ${REASONS.pullSecret}`);
    // and the reverse order: pull secret first, then env alone.
    out = await collector({ ENABLE_DATA_COLLECTION: "false", PULL_SECRET_FILE: withEntry })
      .collector.runPass();
    assert.equal(out.reason, REASONS.env);
    out = await collector().collector.runPass();
    assert.equal(out.optedOut, false, "on again with nothing against it");
  });
});

Deno.test("an attempt no pass had found yet is recorded as cancelled by an opt-out", async () => {
  await scenario(async ({ db, collector, ledger }) => {
    const { collector: c } = collector();
    await c.reconcile();
    await seedCluster(db.sql, crypto.randomUUID());
    // No pass ran: the attempt is not in the ledger yet when collection is turned off.
    assert.equal((await ledger()).length, 0);
    await c.setOptOut(true);
    const rows = await ledger();
    assert.deepEqual(rows.map((r) => r.state), ["cancelled"]);
    assert.match(String(rows[0].last_error), /opted out/);
  });
});

Deno.test("a malformed per-cluster pull secret is reported as malformed, not as missing an entry", async () => {
  await scenario(async ({ db, collector, ledger }) => {
    const { collector: c } = collector();
    await c.reconcile();
    await seedCluster(db.sql, crypto.randomUUID(), { cluster: { pull_secret: "{not json" } });
    await c.runPass();
    const [row] = await ledger();
    assert.equal(row.state, "skipped");
    assert.match(String(row.last_error), /cluster pull secret is malformed \(not JSON\)/);
  });
});

Deno.test("pointed at a database without assisted-service's tables, it says so and leaves no trace", async () => {
  const { testDatabase } = await import("./support/db.ts");
  const db = await testDatabase();
  try {
    await db.sql.unsafe("DROP TABLE clusters, hosts, events, infra_envs CASCADE");
    const { cli } = await import("./support/cli.ts");
    const out = await cli(["once"], {
      DATABASE_URL: db.url,
      DATA_UPLOAD_ENDPOINT: "http://127.0.0.1:1/upload",
    });
    assert.equal(out.code, 1);
    assert.match(
      out.stdout + out.stderr,
      /holds no assisted-service tables \(missing clusters, hosts, events, infra_envs\)/,
    );
    const [schema] = await db.sql`SELECT to_regnamespace('assisted_telemetry') AS s`;
    assert.equal(schema.s, null);
  } finally {
    await db.drop();
  }
});

Deno.test("cluster.json carries the monitored operators, host counts and the shape of its networking, nothing more", async () => {
  await scenario(async ({ db, receiver, collector }) => {
    const { collector: c } = collector();
    await c.reconcile();
    const id = crypto.randomUUID();
    await seedCluster(db.sql, id, { hosts: 3 });
    await db.sql`UPDATE hosts SET status = 'error' WHERE cluster_id = ${id} AND role = 'worker'`;
    await c.runPass();
    const [files] = await receivedFiles(receiver);
    const cluster = JSON.parse(files[`${id}/events/cluster.json`]);
    assert.deepEqual(cluster.monitored_operators, [
      { name: "console", operator_type: "builtin" },
      {
        name: "lso",
        version: "4.16.0",
        operator_type: "olm",
        namespace: "openshift-local-storage",
        bundles: ["virtualization"],
      },
    ]);
    const [{ ready }] = await db.sql`SELECT count(*)::int AS ready FROM hosts
      WHERE cluster_id = ${id} AND status IN ('known', 'installed')`;
    assert.deepEqual(
      [cluster.total_host_count, cluster.enabled_host_count, cluster.ready_host_count ?? 0],
      [3, 3, ready],
    );
    assert.deepEqual(cluster.network_shape, {
      api_vips: { ipv4: 1, ipv6: 1 },
      ingress_vips: { ipv4: 1, ipv6: 0 },
      cluster_networks: { ipv4: 1, ipv6: 1 },
      machine_networks: { ipv4: 1, ipv6: 0 },
      service_networks: { ipv4: 1, ipv6: 1 },
    });
    const text = files[`${id}/events/cluster.json`];
    for (
      const leak of ["fd2e:6f44:5dd8::5", "192.168.111.5", "local-storage-operator", "installed by"]
    ) {
      assert.ok(!text.includes(leak), leak);
    }
  });
});

Deno.test("user_id: keyed by default, no dictionary reverses it; the scraper's FNV only when asked for", async () => {
  await scenario(async ({ db, receiver, collector }) => {
    const users = ["jdoe", "admin", "jane.doe@customer.example", "kubeadmin", "root"];
    const { collector: c } = collector();
    await c.reconcile();
    const ids = [];
    for (const user of users) {
      const id = crypto.randomUUID();
      ids.push(id);
      await seedCluster(db.sql, id, { events: 5, cluster: { user_name: user } });
    }
    await c.runPass();
    const files = await receivedFiles(receiver);
    const sent = files.map((f) =>
      JSON.parse(Object.entries(f).find(([n]) => n.endsWith("cluster.json"))![1]).user_id
    );
    // A dictionary attack: hash every candidate name the scraper's way; none matches.
    const dictionary = new Set(users.map((u) => userId(u)));
    assert.ok(sent.every((id: string) => !dictionary.has(id)), JSON.stringify(sent));
    assert.equal(new Set(sent).size, users.length, "one pseudonym per user");

    const fnv = collector({ USER_ID_HASH: "scraper-fnv" }).collector;
    const id = crypto.randomUUID();
    await seedCluster(db.sql, id, { events: 5, cluster: { user_name: "jdoe" } });
    await fnv.runPass();
    const after = await receivedFiles(receiver);
    const last = after.map((f) => f[`${id}/events/cluster.json`]).find(Boolean)!;
    assert.equal(JSON.parse(last).user_id, userId("jdoe"));
  });
});

Deno.test("versions.json and metadata.json from the environment pass through the scrubber", async () => {
  await scenario(async ({ db, receiver, collector }) => {
    const { collector: c } = collector({
      SELF_VERSION: "robot:regPlanted99@registry.corp.example/ai/assisted-service:v2",
      DEPLOYMENT_VERSION: "2.8 by jane.doe@customer.example",
      DEPLOYMENT_TYPE: "MCE",
    });
    await c.reconcile();
    const id = crypto.randomUUID();
    await seedCluster(db.sql, id, { events: 5 });
    await c.runPass();
    const [files] = await receivedFiles(receiver);
    for (const name of [`${id}/versions.json`, `${id}/metadata.json`]) {
      assert.ok(!files[name].includes("regPlanted99"), name);
      assert.ok(!files[name].includes("jane.doe"), name);
    }
    const meta = JSON.parse(files[`${id}/metadata.json`]);
    assert.equal(meta["deployment-type"], "MCE");
    assert.match(meta["deployment-version"], /^2\.8 by email-hmac:[0-9a-f]{32}$/);
  });
});
