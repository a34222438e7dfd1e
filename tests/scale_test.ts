/** Scale: streaming, order, the size limit's cut, and memory that does not grow with N. */
import assert from "node:assert/strict";
import { unpackArchive } from "../src/bundle/mod.ts";
import { insertEvents, seedCluster } from "./fixtures/assisted_data.ts";
import { cli, cliPeak } from "./support/cli.ts";
import { scenario } from "./support/scenario.ts";

async function received(
  store: {
    list(): Promise<Array<{ request_id: string }>>;
    archive(id: string): Promise<Uint8Array | undefined>;
  },
) {
  const [upload] = await store.list();
  const archive = (await store.archive(upload.request_id))!;
  const files = Object.fromEntries(
    (await unpackArchive(archive)).map((f) => [f.name.split("/").slice(1).join("/"), f.data]),
  );
  const text = (name: string) => new TextDecoder().decode(files[name]);
  return {
    archive,
    events: JSON.parse(text("events.json")),
    metadata: JSON.parse(text("metadata.json")),
  };
}

Deno.test("a 100,000-event pass: every event, in order, once", async () => {
  await scenario(async ({ db, receiver, collector }) => {
    const { collector: c } = collector();
    await c.reconcile();
    const id = crypto.randomUUID();
    await seedCluster(db.sql, id, { hosts: 150, events: 100_000 });
    assert.equal((await c.runPass()).sent, 1);
    const { events, metadata } = await received(receiver.store);
    assert.equal(events.length, 100_000);
    assert.equal(metadata.event_count, 100_000);
    assert.equal(new Set(events.map((e: { request_id: string }) => e.request_id)).size, 100_000);
    for (let i = 1; i < events.length; i++) {
      assert.ok(events[i - 1].event_time <= events[i].event_time, `order broken at ${i}`);
    }
  });
});

Deno.test("over UPLOAD_MAX_BYTES: metrics go first, then the oldest info events, never warnings or errors", async () => {
  await scenario(async ({ db, receiver, collector }) => {
    const id = crypto.randomUUID();
    const probe = collector();
    await probe.collector.reconcile();
    await seedCluster(db.sql, id, { hosts: 3, events: 0 });
    // Incompressible messages, so the size follows the event count.
    await insertEvents(db.sql, id, { count: 3000, hostIds: [] });
    await db
      .sql`UPDATE events SET message = message || ' ' || md5(random()::text) || md5(random()::text) WHERE cluster_id = ${id}`;
    const full = (await probe.collector.preview(id))!;
    const limit = Math.floor(full.archive.size * 0.5);
    const { collector: c } = collector({ UPLOAD_MAX_BYTES: String(limit) });
    assert.equal((await c.runPass()).sent, 1);
    const { archive, events, metadata } = await received(receiver.store);
    const all = await db.sql`
      SELECT category, severity, count(*)::int AS n FROM events WHERE cluster_id = ${id} GROUP BY 1, 2`;
    const count = (f: (r: { category: string; severity: string }) => boolean) =>
      all.filter((r) => f(r as unknown as { category: string; severity: string })).reduce(
        (n, r) => n + r.n,
        0,
      );
    const metrics = count((r) => r.category === "metrics");
    const warningsAndErrors = count((r) => r.category === "user" && r.severity !== "info");
    assert.ok(archive.byteLength <= limit, `${archive.byteLength} > ${limit}`);
    const r = metadata.reduction;
    assert.equal(r.metrics_events_dropped, metrics);
    assert.ok(r.info_events_dropped > 0);
    assert.equal(r.events_before, count(() => true));
    assert.equal(r.events_sent, events.length);
    assert.equal(r.events_sent, r.events_before - r.metrics_events_dropped - r.info_events_dropped);
    assert.equal(events.filter((e: { category: string }) => e.category === "metrics").length, 0);
    assert.equal(
      events.filter((e: { severity: string }) => e.severity !== "info").length,
      warningsAndErrors,
    );
    const keptInfo = events.filter((e: { severity: string }) => e.severity === "info").map((
      e: { event_time: string },
    ) => e.event_time);
    assert.ok(
      keptInfo.every((t: string) => t >= r.info_events_dropped_through.slice(0, 23)),
      "an old info event was kept over a newer one",
    );
  });
});

Deno.test("when even warnings and errors alone do not fit, the attempt is abandoned, not sent truncated", async () => {
  await scenario(async ({ db, receiver, collector, ledger }) => {
    const { collector: c } = collector({ UPLOAD_MAX_BYTES: "1024" });
    await c.reconcile();
    await seedCluster(db.sql, crypto.randomUUID(), { events: 500 });
    assert.equal((await c.runPass()).failed, 1);
    const [row] = await ledger();
    assert.equal(row.state, "abandoned");
    assert.match(String(row.last_error), /cannot be reduced below 1024 bytes/);
    assert.equal(receiver.requests, 0);
  });
});

Deno.test("peak memory stays flat from 200,000 to 400,000 events", async () => {
  // Below ~200,000 events the heaps are still growing to their working size;
  // from there on, twice the events must cost about the compressed output only.
  const peaks: number[] = [];
  for (const n of [200_000, 400_000]) {
    await scenario(async ({ db, receiver }) => {
      const env = { DATABASE_URL: db.url, DATA_UPLOAD_ENDPOINT: receiver.endpoint };
      await cli(["once"], env);
      await seedCluster(db.sql, crypto.randomUUID(), { hosts: 150, events: n });
      const out = await cliPeak(["once"], env);
      assert.equal(JSON.parse(out.stdout).sent, 1, out.stderr);
      peaks.push(out.peakRssBytes);
    });
  }
  const [small, large] = peaks;
  // 200,000 more events: ~70 MB of JSON, ~11 MB compressed.
  assert.ok(small > 0);
  assert.ok(
    large - small < 30 * 1024 * 1024,
    `peak RSS ${Math.round(small / 1e6)} MB → ${Math.round(large / 1e6)} MB`,
  );
});

Deno.test("preview of a 400,000-event cluster lists it within the bounded heap", async () => {
  await scenario(async ({ db }) => {
    const id = crypto.randomUUID();
    await seedCluster(db.sql, id, { hosts: 150, events: 400_000 });
    // events.json alone is ~140 MB here: parsed whole it would not fit the worker's heap.
    const out = await cli(["preview", id], { DATABASE_URL: db.url });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /399995 more not shown/);
  });
});
