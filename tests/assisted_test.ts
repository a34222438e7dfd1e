import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import { type EventRow, forEachEventBatch } from "../src/db/assisted.ts";
import { connect } from "../src/db/mod.ts";
import { insertEvents } from "./fixtures/assisted_data.ts";
import { testDatabase } from "./support/db.ts";

/** What a plain query returns for the same selection: the ground truth. */
async function plainRead(
  sql: ReturnType<typeof connect>,
  clusterId: string,
): Promise<EventRow[]> {
  const rows = await sql<EventRow[]>`
    SELECT cluster_id, host_id, infra_env_id, category, name, severity,
           event_time::text AS event_time, message, props, request_id
    FROM events WHERE cluster_id = ${clusterId} AND category IN ('user', 'metrics')
      AND deleted_at IS NULL
    ORDER BY event_time, id`;
  return rows.map((r) => ({ ...r }));
}

async function copyRead(
  sql: ReturnType<typeof connect>,
  clusterId: string,
  options: Parameters<typeof forEachEventBatch>[3] = {},
): Promise<EventRow[]> {
  const out: EventRow[] = [];
  await forEachEventBatch(sql, clusterId, (rows) => {
    out.push(...rows);
    return Promise.resolve();
  }, options);
  return out;
}

Deno.test("events read through COPY equal what a plain query returns, whatever their text", async () => {
  const db = await testDatabase();
  try {
    // Any text PostgreSQL can hold (no NUL), including tabs, newlines, backslashes and \N.
    const text = fc.string({ unit: "grapheme", maxLength: 40 }).map((s) => s.replaceAll("\0", ""))
      .chain((s) => fc.constantFrom(s, `\\N${s}\t\\\n\r`, "\\N"));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.option(text), { minLength: 1, maxLength: 30 }),
        async (texts) => {
          const id = crypto.randomUUID();
          await db
            .sql`INSERT INTO events (cluster_id, category, name, severity, event_time, message, props, request_id)
          SELECT ${id}, 'user', t, 'info', '2026-12-01T00:00:00Z'::timestamptz + n * interval '1 second', t, t, t
          FROM unnest(${texts as string[]}::text[]) WITH ORDINALITY AS u(t, n)`;
          assert.deepEqual(await copyRead(db.sql, id), await plainRead(db.sql, id));
        },
      ),
      { numRuns: 40 },
    );
  } finally {
    await db.drop();
  }
});

Deno.test("a connection that read events through COPY answers its next query, every time (porsager/postgres#499)", async () => {
  const db = await testDatabase();
  // One connection, so every read and query share the socket the bug left paused.
  const sql = connect(db.url, { max: 1 });
  try {
    const id = crypto.randomUUID();
    await insertEvents(db.sql, id, { count: 3000, hostIds: ["h1", "h2"] });
    const expected = await plainRead(db.sql, id);
    for (let round = 0; round < 40; round++) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const read = (async () => {
        // A handler that makes the stream's buffer fill, as the compressor's backpressure does.
        const rows: EventRow[] = [];
        await forEachEventBatch(sql, id, async (batch) => {
          rows.push(...batch);
          await new Promise((r) => setTimeout(r, 0));
        });
        const [{ n }] = await sql`SELECT count(*)::int AS n FROM events WHERE cluster_id = ${id}`;
        return { rows, n };
      })();
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`round ${round}: the connection hung`)), 10_000);
      });
      try {
        const { rows, n } = await Promise.race([read, timeout]);
        assert.equal(n, 3000);
        assert.deepEqual(rows, expected);
      } finally {
        clearTimeout(timer);
      }
    }
  } finally {
    await sql.end({ timeout: 5 });
    await db.drop();
  }
});

Deno.test("the cut leaves out metrics and the oldest info events, inside a caller's transaction too", async () => {
  const db = await testDatabase();
  try {
    const id = crypto.randomUUID();
    await insertEvents(db.sql, id, { count: 500, hostIds: ["h1"] });
    const all = await plainRead(db.sql, id);
    const cut = { dropMetrics: true, dropOldestInfo: 25 };
    const oldestInfo = new Set(
      all.filter((r) => r.category === "user" && r.severity === "info").slice(0, 25)
        .map((r) => r.request_id),
    );
    const expected = all.filter((r) => r.category !== "metrics" && !oldestInfo.has(r.request_id));
    assert.deepEqual(await copyRead(db.sql, id, { cut }), expected);
    const inTx = await db.sql.begin(async (tx) => {
      const out: EventRow[] = [];
      await forEachEventBatch(tx, id, (rows) => {
        out.push(...rows);
        return Promise.resolve();
      }, { cut });
      return out;
    });
    assert.deepEqual(inTx, expected);
    // The settings were local to their transactions.
    const [s] = await db.sql`SELECT current_setting('assisted_telemetry.cluster_id', true) AS v`;
    assert.ok(!s.v, `setting leaked: ${s.v}`);
  } finally {
    await db.drop();
  }
});
