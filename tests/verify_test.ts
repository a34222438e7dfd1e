/**
 * Delivery verified (the design's Test 1): after a 2xx the collector asks the
 * payload tracker, records what it says, and never sends again because of it.
 */
import assert from "node:assert/strict";
import { seedCluster } from "./fixtures/assisted_data.ts";
import { scenario } from "./support/scenario.ts";
import { statusBody } from "../src/server/mod.ts";
import { defaultTrackTemplate } from "../src/upload/track.ts";
import { verifyBackoffMs } from "../src/collect/verify.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function verification(db: { sql: import("../src/db/mod.ts").Sql }) {
  return await db.sql`SELECT state, verification, verification_message, verify_tries
    FROM assisted_telemetry.attempts`;
}

Deno.test("verify: the tracking URL is the upload endpoint's /track/{id}", () => {
  assert.equal(
    defaultTrackTemplate("https://console.redhat.com/api/ingress/v1/upload"),
    "https://console.redhat.com/api/ingress/v1/track/{id}",
  );
  assert.equal(defaultTrackTemplate("https://x.example/other"), undefined);
  assert.deepEqual([0, 1, 2, 3, 20].map(verifyBackoffMs), [250, 500, 1000, 2000, 300_000]);
});

Deno.test("verify: an upload the receiver read is verified, counted and shown", async () => {
  await scenario(async ({ db, receiver, collector }) => {
    const { collector: c, service } = collector();
    await c.reconcile();
    await seedCluster(db.sql, crypto.randomUUID());
    assert.equal((await c.runPass()).sent, 1);
    const [row] = await verification(db);
    assert.deepEqual([row.state, row.verification], ["sent", "verified"]);
    assert.ok(receiver.tracks >= 1);
    const status = statusBody(await c.status());
    assert.deepEqual(status.delivery, { pending: 0, verified: 1, failed: 0, unverified: 0 });
    const metrics = await (await service.app.fetch(new Request("http://c/metrics"), {})).text();
    assert.match(metrics, /assisted_telemetry_deliveries_verified_total\{result="verified"\} 1/);
  });
});

Deno.test("verify: a payload the receiving end refused is recorded as failed, with its message, and not re-sent", async () => {
  await scenario(async ({ db, receiver, collector }) => {
    const { collector: c } = collector();
    await c.reconcile();
    await seedCluster(db.sql, crypto.randomUUID());
    await c.runPass();
    await c.runPass();
    const [row] = await verification(db);
    assert.deepEqual([row.state, row.verification], ["sent", "failed"]);
    assert.equal(row.verification_message, "validation failed: unreadable events.json");
    assert.equal(receiver.requests, 1, "never sent again");
  }, {
    track: () =>
      Response.json({
        status: "error",
        status_msg: "validation failed: unreadable events.json",
        date: new Date().toISOString(),
      }),
  });
});

Deno.test("verify: a tracker that never answers leaves the attempt unverified after the window, sent once", async () => {
  await scenario(async ({ db, receiver, collector }) => {
    // Longer than one pass's verification rounds (about 4 s), so the first pass leaves it pending.
    const { collector: c } = collector({ UPLOAD_VERIFY_WINDOW: "6s" });
    await c.reconcile();
    await seedCluster(db.sql, crypto.randomUUID());
    const started = Date.now();
    await c.runPass();
    let [row] = await verification(db);
    assert.deepEqual([row.state, row.verification], ["sent", "pending"]);
    assert.match(String(row.verification_message), /HTTP 503/);
    await sleep(Math.max(0, started + 6_200 - Date.now()));
    await c.runPass();
    [row] = await verification(db);
    assert.equal(row.verification, "unverified");
    assert.match(
      String(row.verification_message),
      /no final status within the verification window/,
    );
    assert.equal(receiver.requests, 1, "a tracker failure never causes a re-send");
    assert.ok(receiver.tracks >= 2);
  }, { track: () => new Response("tracker down", { status: 503 }) });
});

Deno.test("verify: DATA_UPLOAD_TRACK_ENDPOINT=off asks nothing", async () => {
  await scenario(async ({ db, receiver, collector }) => {
    const { collector: c } = collector({ DATA_UPLOAD_TRACK_ENDPOINT: "off" });
    await c.reconcile();
    await seedCluster(db.sql, crypto.randomUUID());
    assert.equal((await c.runPass()).sent, 1);
    const [row] = await verification(db);
    assert.equal(row.verification, null);
    assert.equal(receiver.tracks, 0);
  });
});
