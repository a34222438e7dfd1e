/**
 * Fault injection: the receiver is scripted to fail in each way the real
 * world does. Every case asserts the attempt is accepted exactly once or
 * recorded as permanently failed, and that the requests stay within what
 * the policy promises.
 */
import assert from "node:assert/strict";
import { seedCluster } from "./fixtures/assisted_data.ts";
import { backoffMs, classify, decide, parseRetryAfter } from "../src/upload/policy.ts";
import { bypassesProxy, firstHop } from "../src/upload/mod.ts";
import { scenario } from "./support/scenario.ts";
import { statusBody } from "../src/server/mod.ts";

const FAST = {
  UPLOAD_RETRY_INITIAL: "20ms",
  UPLOAD_RETRY_MAX: "40ms",
  UPLOAD_CONNECT_TIMEOUT: "1s",
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Answers the first `n` requests with `make()`, then lets the real receiver answer. */
function firstAnswers(n: number, make: () => Response) {
  return (k: number) => (k <= n ? make() : undefined);
}

Deno.test("policy: answers are classified as the table says", () => {
  const fail = (status?: number, retryAfter?: string) =>
    classify({ ok: false, status, error: "x", retryAfter });
  assert.equal(fail().kind, "transient");
  assert.equal(fail(500).kind, "transient");
  assert.equal(fail(502).kind, "transient");
  assert.deepEqual(fail(429, "7"), { kind: "transient", retryAfterMs: 7000, pauseAllMs: 7000 });
  assert.deepEqual(fail(503, "2"), { kind: "transient", retryAfterMs: 2000, pauseAllMs: 2000 });
  assert.deepEqual(fail(500, "2"), {
    kind: "transient",
    retryAfterMs: 2000,
    pauseAllMs: undefined,
  });
  assert.equal(fail(401).kind, "auth");
  assert.equal(fail(403).kind, "auth");
  assert.equal(fail(400).kind, "permanent");
  assert.equal(fail(415).kind, "permanent");
  assert.equal(fail(413).kind, "too-large");
  assert.equal(classify({ ok: true, status: 202, requestId: null }).kind, "accepted");
});

Deno.test("policy: Retry-After in seconds or as an HTTP date, bounded", () => {
  const now = Date.parse("2026-11-27T12:00:00Z");
  assert.equal(parseRetryAfter("120", now), 120_000);
  assert.equal(parseRetryAfter("Fri, 27 Nov 2026 12:01:00 GMT", now), 60_000);
  assert.equal(parseRetryAfter("Fri, 27 Nov 2026 11:00:00 GMT", now), 0);
  assert.equal(parseRetryAfter("99999999", now), 24 * 3_600_000);
  assert.equal(parseRetryAfter("soon", now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
});

Deno.test("policy: backoff doubles, caps and jitters within [d/2, d]", () => {
  const p = { initialMs: 60_000, maxMs: 6 * 3_600_000, maxAttempts: 12, authPauseMs: 3_600_000 };
  assert.equal(backoffMs(1, p, () => 1), 60_000);
  assert.equal(backoffMs(1, p, () => 0), 30_000);
  assert.equal(backoffMs(3, p, () => 1), 240_000);
  assert.equal(backoffMs(20, p, () => 1), 6 * 3_600_000);
  for (let tries = 1; tries < 15; tries++) {
    const d = Math.min(p.maxMs, p.initialMs * 2 ** (tries - 1));
    const got = backoffMs(tries, p);
    assert.ok(got >= d / 2 && got <= d, `${tries}: ${got}`);
  }
});

Deno.test("policy: decide turns each answer into one next step", () => {
  const policy = { initialMs: 1000, maxMs: 8000, maxAttempts: 5, authPauseMs: 3_600_000 };
  const half = () => 0.5;
  const fail = (status?: number, retryAfter?: string) => ({
    ok: false as const,
    status,
    error: "x",
    retryAfter,
  });
  const cases: Array<[string, Parameters<typeof decide>[0], number, unknown]> = [
    ["2xx", { ok: true, status: 202, requestId: "r" }, 1, { kind: "sent" }],
    ["400", fail(400), 1, { kind: "abandon", reason: "permanent" }],
    ["415 even on the last try", fail(415), 5, { kind: "abandon", reason: "permanent" }],
    ["500 on the last try", fail(500), 5, { kind: "abandon", reason: "max-tries" }],
    ["500, first try", fail(500), 1, { kind: "retry", delayMs: 750 }],
    ["500, third try", fail(500), 3, { kind: "retry", delayMs: 3000 }],
    ["network error", fail(undefined), 2, { kind: "retry", delayMs: 1500 }],
    ["413", fail(413), 1, { kind: "retry", delayMs: 0, sizeLimit: 800 }],
    ["401", fail(401), 1, {
      kind: "retry",
      delayMs: 3_600_000,
      pause: {
        kind: "auth",
        ms: 3_600_000,
        reason: "HTTP 401: the pull secret's token was refused",
      },
    }],
    ["429 + Retry-After", fail(429, "30"), 1, {
      kind: "retry",
      delayMs: 30_000,
      pause: { kind: "rate", ms: 30_000, reason: "HTTP 429 with Retry-After" },
    }],
    ["500 + short Retry-After keeps half the backoff", fail(500, "0"), 4, {
      kind: "retry",
      delayMs: 3000,
    }],
  ];
  for (const [name, result, tries, expected] of cases) {
    assert.deepEqual(
      decide(result, { tries, policy, bytes: 1000, random: half, now: 0 }),
      expected,
      name,
    );
  }
});

Deno.test("proxy selection honours HTTPS_PROXY and NO_PROXY", () => {
  const env = { HTTPS_PROXY: "http://proxy.corp:3128", NO_PROXY: "localhost,.internal,10.0.0.1" };
  assert.deepEqual(firstHop("https://console.redhat.com/api", env), {
    hostname: "proxy.corp",
    port: 3128,
  });
  assert.deepEqual(firstHop("https://svc.internal/x", env), {
    hostname: "svc.internal",
    port: 443,
  });
  assert.deepEqual(firstHop("http://127.0.0.1:8766/x", {}), { hostname: "127.0.0.1", port: 8766 });
  assert.equal(bypassesProxy("a.b.internal", ".internal"), true);
  assert.equal(bypassesProxy("internal.evil.com", ".internal"), false);
  assert.equal(bypassesProxy("anything", "*"), true);
});

Deno.test("500s are retried with backoff until accepted, once", async () => {
  await scenario(async ({ db, receiver, collector, ledger }) => {
    const { collector: c } = collector(FAST);
    await c.reconcile();
    await seedCluster(db.sql, crypto.randomUUID());
    let passes = 0;
    while ((await ledger())[0]?.state !== "sent" && passes < 40) {
      await c.runPass();
      passes++;
      await sleep(25);
    }
    assert.equal((await ledger())[0].state, "sent");
    assert.equal(receiver.requests, 3, "two failures, one success");
    assert.equal((await receiver.store.list()).length, 1);
    assert.ok(passes >= 3);
  }, { answer: firstAnswers(2, () => new Response("boom", { status: 500 })) });
});

Deno.test("an attempt is abandoned after UPLOAD_MAX_ATTEMPTS, visible in status, never retried again", async () => {
  await scenario(async ({ db, receiver, collector, ledger }) => {
    const { collector: c } = collector({ ...FAST, UPLOAD_MAX_ATTEMPTS: "3" });
    await c.reconcile();
    await seedCluster(db.sql, crypto.randomUUID());
    for (let i = 0; i < 12; i++) {
      await c.runPass();
      await sleep(25);
    }
    const [row] = await ledger();
    assert.deepEqual([row.state, row.tries, row.abandon_reason], ["abandoned", 3, "max-tries"]);
    assert.match(String(row.last_error), /^gave up after 3 tries: HTTP 502/);
    assert.equal(receiver.requests, 3);
    const status = statusBody(await c.status());
    assert.equal((status.attempts as Record<string, number>).abandoned, 1);
  }, { answer: () => new Response("bad gateway", { status: 502 }) });
});

for (const status of [400, 415]) {
  Deno.test(`HTTP ${status} is permanent: recorded once, not retried`, async () => {
    await scenario(async ({ db, receiver, collector, ledger }) => {
      const { collector: c } = collector(FAST);
      await c.reconcile();
      await seedCluster(db.sql, crypto.randomUUID());
      for (let i = 0; i < 4; i++) {
        await c.runPass();
        await sleep(25);
      }
      const [row] = await ledger();
      assert.deepEqual([row.state, row.last_http_status, row.abandon_reason], [
        "abandoned",
        status,
        "permanent",
      ]);
      assert.match(String(row.last_error), /^HTTP \d{3}/);
      assert.equal(receiver.requests, 1);
    }, { answer: () => new Response("no", { status }) });
  });
}

for (const status of [401, 403]) {
  Deno.test(`HTTP ${status} pauses every upload; a new pull secret ends the pause`, async () => {
    await scenario(async ({ db, receiver, collector, secretFile, ledger }) => {
      const { pullSecret } = await import("./fixtures/assisted_data.ts");
      const file = await secretFile(pullSecret({ password: "expired-password" }));
      const { collector: c, lines } = collector({ ...FAST, PULL_SECRET_FILE: file });
      await c.reconcile();
      for (let i = 0; i < 3; i++) await seedCluster(db.sql, crypto.randomUUID());
      await c.runPass();
      assert.equal(receiver.requests, 1, "the first refusal stops the pass");
      assert.equal(c.pause?.kind, "auth");
      const status = statusBody(await c.status());
      assert.match(JSON.stringify(status.uploads_paused), /auth/);
      assert.ok(lines.some((l) => l.includes("uploads paused")));
      for (let i = 0; i < 3; i++) await c.runPass();
      assert.equal(receiver.requests, 1, "no request while paused");
      await Deno.writeTextFile(file, pullSecret({ password: "renewed-password" }));
      // No hand reset of next_attempt_at: the end of the pause makes what it held back due.
      await c.runPass();
      assert.equal(c.pause, undefined);
      assert.equal((await ledger()).filter((r) => r.state === "sent").length, 3);
      assert.equal(receiver.requests, 4);
    }, { answer: firstAnswers(1, () => new Response("expired", { status })) });
  });
}

Deno.test("HTTP 413 makes the next try smaller, cut as UPLOAD_MAX_BYTES cuts", async () => {
  let received: Uint8Array | undefined;
  await scenario(async ({ db, receiver, collector, ledger }) => {
    const { collector: c } = collector(FAST);
    await c.reconcile();
    await seedCluster(db.sql, crypto.randomUUID(), { events: 400 });
    assert.equal((await c.runPass()).failed, 1);
    const [row] = await ledger();
    assert.equal(row.last_http_status, 413);
    assert.equal((await c.runPass()).sent, 1);
    assert.equal(receiver.requests, 2);
    const { unpackArchive } = await import("../src/bundle/mod.ts");
    const [upload] = await receiver.store.list();
    received = (await receiver.store.archive(upload.request_id))!;
    const meta = JSON.parse(
      new TextDecoder().decode(
        (await unpackArchive(received)).find((f) => f.name.endsWith("metadata.json"))!.data,
      ),
    );
    assert.equal(meta.reduction.reason, "the endpoint answered 413");
    assert.equal(meta.reduction.metrics_events_dropped, 40);
    assert.ok(received.byteLength <= meta.reduction.limit_bytes);
  }, { answer: firstAnswers(1, () => new Response("too large", { status: 413 })) });
});

Deno.test("an endpoint that always answers 413 gets a bounded number of ever smaller tries", async () => {
  await scenario(async ({ db, receiver, collector, ledger }) => {
    const { collector: c } = collector({ ...FAST, UPLOAD_MAX_ATTEMPTS: "20" });
    await c.reconcile();
    await seedCluster(db.sql, crypto.randomUUID(), { events: 200 });
    for (let i = 0; i < 40; i++) {
      await c.runPass();
      if ((await ledger())[0]?.state !== "pending") break;
    }
    const [row] = await ledger();
    assert.deepEqual([row.state, row.abandon_reason], ["abandoned", "too-large"]);
    assert.match(String(row.last_error), /^archive of \d+ bytes cannot be reduced/);
    assert.ok(receiver.requests < 20, `${receiver.requests} requests`);
  }, { answer: () => new Response("too large", { status: 413 }) });
});

Deno.test("429 and 503 with Retry-After pause all uploads to the endpoint until it passes", async () => {
  await scenario(async ({ db, receiver, collector, ledger }) => {
    const { collector: c } = collector(FAST);
    await c.reconcile();
    for (let i = 0; i < 3; i++) await seedCluster(db.sql, crypto.randomUUID());
    await c.runPass();
    assert.equal(receiver.requests, 1);
    assert.equal(c.pause?.kind, "rate");
    await c.runPass();
    assert.equal(receiver.requests, 1, "paused: nothing sent");
    await sleep(1100);
    await c.runPass();
    assert.equal(receiver.requests, 2, "the second answer is a 503 with Retry-After too");
    await sleep(2100);
    await c.runPass();
    assert.equal((await ledger()).filter((r) => r.state === "sent").length, 3);
    assert.equal(receiver.requests, 5);
  }, {
    answer: (k) =>
      k === 1
        ? new Response("slow down", { status: 429, headers: { "retry-after": "1" } })
        : k === 2
        ? new Response("busy", {
          status: 503,
          // An HTTP date counts whole seconds: 2 s ahead is a pause of more than 1 s (at 1 s
          // ahead, truncation could leave a few milliseconds, and the pass went on sending).
          headers: { "retry-after": new Date(Date.now() + 2000).toUTCString() },
        })
        : undefined,
  });
});

Deno.test("a slow endpoint times out; the attempt is retried, and accepted once", async () => {
  await scenario(async ({ db, receiver, collector, ledger }) => {
    const { collector: c } = collector({ ...FAST, UPLOAD_TIMEOUT: "200ms" });
    await c.reconcile();
    await seedCluster(db.sql, crypto.randomUUID());
    const first = await c.runPass();
    assert.equal(first.failed, 1);
    assert.match(String((await ledger())[0].last_error), /timed out after 200 ms/);
    await sleep(600);
    await c.runPass();
    assert.equal((await ledger())[0].state, "sent");
    assert.equal(receiver.requests, 2);
  }, { answer: (k) => (k === 1 ? sleep(500).then(() => new Response("late")) : undefined) });
});

Deno.test("a reset connection is transient; the attempt goes once it can", async () => {
  await scenario(async ({ db, receiver, collector: _c, ledger }) => {
    // A front that resets the first upload's connection, then forwards to the receiver.
    const target = new URL(receiver.endpoint);
    const front = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    let uploads = 0;
    const serving = (async () => {
      for await (const conn of front) {
        (async () => {
          const buf = new Uint8Array(65536);
          const n = await conn.read(buf).catch(() => null);
          if (!n) return conn.close(); // the connect probe
          if (++uploads === 1) return conn.close();
          const up = await Deno.connect({ hostname: "127.0.0.1", port: Number(target.port) });
          await up.write(buf.subarray(0, n));
          await Promise.all([
            conn.readable.pipeTo(up.writable).catch(() => {}),
            up.readable.pipeTo(conn.writable).catch(() => {}),
          ]);
        })().catch(() => {});
      }
    })();
    const { testCollector, testConfig } = await import("./support/setup.ts");
    const endpoint = `http://127.0.0.1:${(front.addr as Deno.NetAddr).port}${target.pathname}`;
    const c = testCollector(testConfig(db.url, endpoint, FAST));
    try {
      await c.collector.reconcile();
      await seedCluster(db.sql, crypto.randomUUID());
      assert.equal((await c.collector.runPass()).failed, 1);
      assert.match(String((await ledger())[0].last_error), /request failed/);
      await sleep(50);
      assert.equal((await c.collector.runPass()).sent, 1);
      assert.equal(uploads, 2);
      assert.equal(receiver.requests, 1);
    } finally {
      await c.close();
      front.close();
      await serving.catch(() => {});
    }
  });
});

Deno.test("an unreachable endpoint fails at the connect timeout, not the upload timeout", async () => {
  await scenario(async ({ db, collector, ledger }) => {
    const { testCollector, testConfig } = await import("./support/setup.ts");
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const c = testCollector(testConfig(db.url, `http://127.0.0.1:${port}/upload`, FAST));
    try {
      await c.collector.reconcile();
      await seedCluster(db.sql, crypto.randomUUID());
      assert.equal((await c.collector.runPass()).failed, 1);
      assert.match(String((await ledger())[0].last_error), /could not connect to 127\.0\.0\.1/);
    } finally {
      await c.close();
    }
    void collector;
  });
});

Deno.test("UPLOAD_CONCURRENCY bounds uploads in flight", async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  await scenario(async ({ db, receiver, collector }) => {
    const { collector: c } = collector({ UPLOAD_CONCURRENCY: "2", UPLOAD_RATE_PER_MINUTE: "600" });
    await c.reconcile();
    for (let i = 0; i < 6; i++) await seedCluster(db.sql, crypto.randomUUID(), { events: 5 });
    assert.equal((await c.runPass()).sent, 6);
    assert.equal(receiver.requests, 6);
    assert.equal(maxInFlight, 2);
  }, {
    answer: async () => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      // Long enough that the second upload starts while the first is open, even on a loaded machine.
      await sleep(300);
      inFlight--;
      return undefined;
    },
  });
});

Deno.test("the per-minute ceiling spaces uploads out instead of bursting", async () => {
  const arrivals: number[] = [];
  await scenario(async ({ db, collector }) => {
    // A 300 ms window stands in for the minute.
    const { collector: c } = collector({ UPLOAD_RATE_PER_MINUTE: "2", UPLOAD_CONCURRENCY: "4" }, {
      rateWindowMs: 300,
    });
    await c.reconcile();
    for (let i = 0; i < 6; i++) await seedCluster(db.sql, crypto.randomUUID(), { events: 5 });
    assert.equal((await c.runPass()).sent, 6);
    assert.equal(arrivals.length, 6);
    // Two per window: six uploads need at least two more windows after the first
    // (a lower bound, so a slow machine cannot make it fail).
    assert.ok(
      arrivals[5] - arrivals[0] >= 2 * 300 * 0.8,
      `burst: ${arrivals.map((a) => Math.round(a - arrivals[0]))}`,
    );
  }, {
    answer: () => {
      arrivals.push(performance.now());
      return undefined;
    },
  });
});

Deno.test("a pass ends when its uploads end, even when another attempt's claim fails", async () => {
  const slow = crypto.randomUUID();
  const broken = crypto.randomUUID();
  await scenario(async ({ db, collector, ledger }) => {
    const { collector: c } = collector({ ...FAST, UPLOAD_CONCURRENCY: "2" });
    await c.reconcile();
    // A real database failure: recording the broken attempt's outcome raises.
    await db.sql.unsafe(`
      CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'refused for the test'; END $$;
      CREATE TRIGGER refuse BEFORE UPDATE ON assisted_telemetry.attempts
      FOR EACH ROW WHEN (NEW.cluster_id = '${broken}') EXECUTE FUNCTION refuse();`);
    await seedCluster(db.sql, broken, { events: 5 });
    await seedCluster(db.sql, slow, { events: 5 });
    const result = await c.runPass();
    const states = Object.fromEntries((await ledger()).map((r) => [r.cluster_id, r.state]));
    assert.equal(
      states[slow],
      "sent",
      "the slow upload finished and was recorded before the pass returned",
    );
    assert.equal(states[broken], "pending");
    assert.equal(result.sent, 1);
    assert.equal(result.errors.length, 1, "the rolled-back claim is a pass error");
    assert.match(result.errors.join("\n"), /refused for the test/);
  }, {
    answer: async (_n, request) => {
      if ((request.headers.get("user-agent") ?? "").includes(slow)) await sleep(1500);
      return undefined;
    },
  });
});

Deno.test("a 429 stops uploads already waiting at the throttle; they wait without spending a try", async () => {
  await scenario(async ({ db, receiver, collector, ledger }) => {
    // One upload per 400 ms window, two workers: the second waits at the throttle
    // while the first meets the 429.
    const { collector: c } = collector({
      ...FAST,
      UPLOAD_RATE_PER_MINUTE: "1",
      UPLOAD_CONCURRENCY: "2",
    }, {
      rateWindowMs: 400,
    });
    await c.reconcile();
    for (let i = 0; i < 2; i++) await seedCluster(db.sql, crypto.randomUUID(), { events: 5 });
    await c.runPass();
    assert.equal(receiver.requests, 1, "nothing goes out during the pause");
    const rows = await ledger();
    const held = rows.find((r) => r.last_http_status === null)!;
    assert.equal(held.tries, 0, "the held-back attempt spent no try");
    assert.match(String(held.last_error), /uploads paused/);
    assert.equal(held.state, "pending");
    const [due] = await db.sql`
      SELECT extract(epoch FROM next_attempt_at - clock_timestamp()) AS s
      FROM assisted_telemetry.attempts WHERE cluster_id = ${held.cluster_id as string}`;
    assert.ok(Number(due.s) > 20 && Number(due.s) <= 30, `due in ${due.s} s`);
  }, {
    answer: (k) =>
      k === 1
        ? new Response("slow down", { status: 429, headers: { "retry-after": "30" } })
        : undefined,
  });
});

Deno.test("a database error while building one attempt's archive is that attempt's failure, with its cause; the others go", async () => {
  const broken = crypto.randomUUID();
  await scenario(async ({ db, collector, ledger }) => {
    const { collector: c } = collector({ ...FAST, UPLOAD_MAX_ATTEMPTS: "2" });
    await c.reconcile();
    await seedCluster(db.sql, broken, { events: 5 });
    const healthy = crypto.randomUUID();
    await seedCluster(db.sql, healthy, { events: 5 });
    // A real error from the database while one cluster's events are read.
    await db.sql.unsafe(`
      ALTER TABLE events RENAME TO events_data;
      CREATE FUNCTION refuse_row(m text) RETURNS text LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'invalid byte sequence for encoding "UTF8": 0xff'; END $$;
      CREATE VIEW events AS SELECT id, cluster_id, host_id, infra_env_id, category, name, severity,
        event_time, CASE WHEN cluster_id = '${broken}' THEN refuse_row(message) ELSE message END AS message,
        props, request_id, created_at, updated_at, deleted_at FROM events_data;`);
    await c.runPass();
    let rows = Object.fromEntries((await ledger()).map((r) => [r.cluster_id, r]));
    assert.equal(rows[healthy].state, "sent", "a healthy attempt of the same pass goes");
    assert.deepEqual([rows[broken].state, rows[broken].tries], ["pending", 1]);
    assert.match(String(rows[broken].last_error), /invalid byte sequence for encoding "UTF8"/);
    await sleep(60);
    await c.runPass();
    rows = Object.fromEntries((await ledger()).map((r) => [r.cluster_id, r]));
    assert.deepEqual([rows[broken].state, rows[broken].abandon_reason], ["abandoned", "max-tries"]);
  });
});

Deno.test("a restart ends an auth pause: what it held back is due at once", async () => {
  await scenario(async ({ db, receiver, collector, secretFile, ledger }) => {
    const { pullSecret } = await import("./fixtures/assisted_data.ts");
    const file = await secretFile(pullSecret({ password: "expired-password" }));
    const before = collector({ ...FAST, PULL_SECRET_FILE: file }).collector;
    await before.reconcile();
    for (let i = 0; i < 2; i++) await seedCluster(db.sql, crypto.randomUUID());
    await before.runPass();
    assert.equal(before.pause?.kind, "auth");
    const [held] = await db.sql`SELECT count(*)::int AS n FROM assisted_telemetry.attempts
      WHERE next_attempt_at > clock_timestamp() + interval '30 minutes'`;
    assert.equal(held.n, 1, "the refused attempt waits for the pause to end");
    // The operator fixes the pull secret and restarts the collector.
    await Deno.writeTextFile(file, pullSecret({ password: "renewed-password" }));
    const after = collector({ ...FAST, PULL_SECRET_FILE: file }).collector;
    assert.equal((await after.runPass()).sent, 2);
    assert.ok((await ledger()).every((r) => r.state === "sent"));
    assert.equal(receiver.requests, 3);
  }, { answer: firstAnswers(1, () => new Response("expired", { status: 401 })) });
});
