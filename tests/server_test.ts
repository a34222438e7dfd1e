import assert from "node:assert/strict";
import { controlAccess } from "../src/server/auth.ts";
import { serve } from "../src/server/mod.ts";
import { testCollector, testConfig } from "./support/setup.ts";
import { seedCluster } from "./fixtures/assisted_data.ts";
import { scenario } from "./support/scenario.ts";

const TOKEN = "trigger-token-0123456789";

Deno.test("control access: the bearer token when set, else loopback only", async () => {
  const { Hono } = await import("hono");
  const app = (token?: string) => {
    const a = new Hono<{ Bindings: { peer?: string } }>();
    a.use("/v1/*", controlAccess({ token }));
    a.get("/v1/x", (c) => c.text("ok"));
    return a;
  };
  const call = async (token: string | undefined, auth: string | undefined, peer?: string) =>
    (await app(token).fetch(
      new Request("http://c/v1/x", { headers: auth ? { authorization: auth } : {} }),
      { peer },
    )).status;
  assert.equal(await call(TOKEN, `Bearer ${TOKEN}`, "10.1.2.3"), 200);
  assert.equal(await call(TOKEN, "Bearer wrong-token-0123456789", "127.0.0.1"), 401);
  assert.equal(await call(TOKEN, undefined, "127.0.0.1"), 401);
  assert.equal(await call(TOKEN, `Basic ${TOKEN}`), 401);
  assert.equal(await call(TOKEN, "Bearer two words"), 401);
  assert.equal(await call(undefined, undefined, "127.0.0.1"), 200);
  assert.equal(await call(undefined, undefined, "::1"), 200);
  assert.equal(await call(undefined, undefined, "::ffff:127.0.0.1"), 200);
  assert.equal(await call(undefined, undefined, "192.168.1.9"), 403);
  assert.equal(await call(undefined, undefined), 403);
});

Deno.test("the API: health, auth, trigger validation, opt switch and status", async () => {
  await scenario(async ({ db, receiver, collector }) => {
    const { collector: c, lines, service } = collector({ TRIGGER_TOKEN: TOKEN });
    const { app, scheduler } = service;
    const ready = Promise.withResolvers<number>();
    const server = serve(app, {
      port: 0,
      hostname: "127.0.0.1",
      onListen: (p) => ready.resolve(p),
    });
    const base = `http://127.0.0.1:${await ready.promise}`;
    const call = async (
      method: string,
      path: string,
      init: { body?: string; auth?: string | null; type?: string } = {},
    ) => {
      const headers: Record<string, string> = {};
      if (init.auth !== null) headers.Authorization = init.auth ?? `Bearer ${TOKEN}`;
      if (init.type) headers["Content-Type"] = init.type;
      const res = await fetch(base + path, { method, body: init.body, headers });
      return { status: res.status, json: await res.json() };
    };
    try {
      assert.deepEqual(await call("GET", "/healthz", { auth: null }), {
        status: 200,
        json: { status: "ok" },
      });
      assert.equal((await call("GET", "/readyz", { auth: null })).status, 200);
      assert.equal((await call("POST", "/v1/trigger", { auth: null })).status, 401);
      assert.equal((await call("GET", "/v1/status", { auth: "Bearer nope" })).status, 401);

      for (
        const body of [
          "{",
          "[1]",
          '{"cluster_id": 5}',
          '{"cluster_id": "../x"}',
          '{"other": 1}',
          "null",
          `{"cluster_id": "not-a-uuid"}`,
        ]
      ) {
        const bad = await call("POST", "/v1/trigger", { body, type: "application/json" });
        assert.equal(bad.status, 400, body);
        assert.match(bad.json.error, /body/, body);
      }

      const big = await call("POST", "/v1/trigger", {
        body: "x".repeat(5000),
        type: "application/json",
      });
      assert.deepEqual([big.status, big.json.error], [413, "body larger than 4096 bytes"]);
      const unknown = crypto.randomUUID();
      const missing = await call("POST", "/v1/trigger", {
        body: JSON.stringify({ cluster_id: unknown }),
        type: "application/json",
      });
      assert.deepEqual([missing.status, missing.json.error], [404, `no cluster ${unknown}`]);

      await c.reconcile();
      const id = crypto.randomUUID();
      await seedCluster(db.sql, id);
      const trig = await call("POST", "/v1/trigger", {
        body: JSON.stringify({ cluster_id: id }),
        type: "application/json",
      });
      assert.equal(trig.status, 202);
      assert.equal(trig.json.accepted, true);
      await scheduler.idle();
      assert.equal(receiver.requests, 1);
      assert.equal((await call("POST", "/v1/trigger")).status, 202);
      await scheduler.idle();

      const status = await call("GET", "/v1/status");
      assert.equal(status.status, 200);
      assert.equal(status.json.attempts.sent, 1);
      assert.equal(status.json.collection.enabled, true);
      assert.equal(status.json.recent[0].cluster_id, id);
      assert.ok(!JSON.stringify(status.json).includes(TOKEN));

      const out = await call("POST", "/v1/opt-out");
      assert.deepEqual([out.status, out.json.collection.enabled], [200, false]);
      const state = await call("GET", "/v1/status");
      assert.deepEqual([state.json.runtime_opted_out, state.json.collection.enabled], [
        true,
        false,
      ]);
      const back = await call("POST", "/v1/opt-in");
      assert.deepEqual([back.status, back.json.collection.enabled], [200, true]);
      assert.equal((await call("GET", "/nope")).status, 404);
      assert.ok(!lines.join("\n").includes(TOKEN));
    } finally {
      await server.shutdown();
      await scheduler.idle();
    }
  });
});

Deno.test("without TRIGGER_TOKEN, a non-loopback peer is refused", async () => {
  await scenario(async ({ collector }) => {
    const { service } = collector();
    const { app, scheduler } = service;
    const req = () => new Request("http://collector/v1/trigger", { method: "POST" });
    assert.equal((await app.fetch(req(), { peer: "10.0.0.7" })).status, 403);
    assert.equal(
      (await app.fetch(
        new Request("http://collector/v1/trigger", {
          method: "POST",
          headers: { "X-Forwarded-For": "127.0.0.1" },
        }),
        { peer: "10.0.0.7" },
      )).status,
      403,
    );
    assert.equal((await app.fetch(req(), { peer: "127.0.0.1" })).status, 202);
    await scheduler.idle();
  });
});

Deno.test("readyz reports a database that cannot be reached", async () => {
  const c = testCollector(testConfig("postgres://nobody@127.0.0.1:1/none", "http://127.0.0.1:1/x"));
  try {
    const { app } = c.service;
    const res = await app.fetch(new Request("http://collector/readyz"), { peer: "127.0.0.1" });
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { ready: false, database: false, paused: false });
    assert.equal((await app.fetch(new Request("http://collector/healthz"), {})).status, 200);
    const status = await app.fetch(new Request("http://collector/v1/status"), {
      peer: "127.0.0.1",
    });
    assert.equal(status.status, 503);
    // Every control endpoint that needs the database says so, with the cause.
    for (
      const [method, path, body] of [
        ["POST", "/v1/opt-out", undefined],
        ["POST", "/v1/opt-in", undefined],
        ["GET", `/v1/clusters/${crypto.randomUUID()}/preview`, undefined],
        ["POST", "/v1/trigger", JSON.stringify({ cluster_id: crypto.randomUUID() })],
      ] as const
    ) {
      const res = await app.fetch(new Request(`http://collector${path}`, { method, body }), {
        peer: "127.0.0.1",
      });
      assert.equal(res.status, 503, path);
      assert.match(
        (await res.json()).error,
        /^database unavailable: .*(ECONNREFUSED|connect)/i,
        path,
      );
    }
  } finally {
    await c.close();
  }
});

Deno.test("metrics: outcomes, bytes, events, passes, opt-out and backlog in Prometheus format", async () => {
  await scenario(async ({ db, receiver, collector }) => {
    // The service's own metrics, wired as serve wires them (backlog and pause closures included).
    const { collector: c, service } = collector();
    await c.reconcile();
    await seedCluster(db.sql, crypto.randomUUID(), { events: 25 });
    await seedCluster(db.sql, crypto.randomUUID(), {
      events: 5,
      cluster: { pull_secret: "{not json" },
    });
    await c.runPass();
    const res = await service.app.fetch(new Request("http://c/metrics"), { peer: "10.0.0.1" });
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^text\/plain/);
    assert.match(text, /assisted_telemetry_attempts_total\{outcome="sent"\} 1/);
    assert.match(text, /assisted_telemetry_sent_events_total 25/);
    const [upload] = await receiver.store.list();
    assert.match(text, new RegExp(`assisted_telemetry_sent_bytes_total ${upload.bytes}`));
    assert.match(text, /assisted_telemetry_pass_duration_seconds_count 1/);
    assert.match(text, /assisted_telemetry_last_success_timestamp_seconds \d{10}/);
    assert.match(text, /assisted_telemetry_opted_out 0/);
    assert.match(text, /assisted_telemetry_uploads_paused 0/);
    assert.ok(res.headers.get("x-request-id"), "every answer carries a request id");
    // The backlog is read from the ledger at scrape time: one attempt made due again.
    await db.sql`UPDATE assisted_telemetry.attempts SET state = 'pending', next_attempt_at = NULL
      WHERE state <> 'sent'`;
    const again =
      await (await service.app.fetch(new Request("http://c/metrics"), { peer: "10.0.0.1" }))
        .text();
    assert.match(again, /assisted_telemetry_backlog_attempts 1/);
  });
});

Deno.test("concurrent huge bodies are refused at the limit, and serve stays well within its memory limit", async () => {
  const { serveHealthy } = await import("./support/cli.ts");
  await scenario(async ({ db, receiver }) => {
    const { child, stderr, base } = await serveHealthy({
      DATABASE_URL: db.url,
      DATA_UPLOAD_ENDPOINT: receiver.endpoint,
    });
    try {
      // 250 MB each, streamed without a Content-Length, three at once.
      const chunk = new Uint8Array(1024 * 1024).fill(120);
      const body = () => {
        let sent = 0;
        return new ReadableStream<Uint8Array>({
          pull(controller) {
            if (sent++ >= 250) controller.close();
            else controller.enqueue(chunk);
          },
        });
      };
      const statuses = await Promise.all(
        Array.from(
          { length: 3 },
          () =>
            fetch(`${base}/v1/trigger`, { method: "POST", body: body() })
              .then(async (r) => (await r.body?.cancel(), r.status))
              .catch(() => 0),
        ),
      );
      for (const status of statuses) assert.ok([413, 0].includes(status), String(statuses));
      assert.ok(statuses.includes(413));
      const health = await fetch(`${base}/healthz`);
      assert.equal(health.status, 200, "still serving");
      await health.body?.cancel();
      const peak = Number(
        /VmHWM:\s+(\d+) kB/.exec(await Deno.readTextFile(`/proc/${child.pid}/status`))?.[1],
      ) * 1024;
      // The deployment files allow 384 MiB; the bodies alone would be 750 MB.
      assert.ok(peak < 200 * 1024 * 1024, `peak ${(peak / 1048576).toFixed(0)} MiB`);
    } finally {
      child.kill("SIGTERM");
      await child.status;
      await stderr;
    }
  });
});
