/**
 * Opening a store made by an earlier version migrates it: the events table
 * loses its primary key (rows kept), and stage rows get cluster numbers.
 */
import assert from "node:assert/strict";
import { DuckDBInstance } from "@duckdb/node-api";
import { Store } from "../src/store/duckdb.ts";

Deno.test("a store of an earlier version is migrated on open, nothing lost", async () => {
  const dir = await Deno.makeTempDir({ prefix: "analysis-store-" });
  try {
    const path = `${dir}/old.duckdb`;
    const db = await DuckDBInstance.create(path);
    const c = await db.connect();
    await c.run(`
      CREATE TABLE events (cluster_key VARCHAR NOT NULL, event_id VARCHAR NOT NULL,
        source VARCHAR NOT NULL, host_key VARCHAR, event_time TIMESTAMPTZ, name VARCHAR,
        message VARCHAR, severity VARCHAR, category VARCHAR, props VARCHAR,
        PRIMARY KEY (cluster_key, event_id));
      INSERT INTO events VALUES ('k1', 'e1', 'onprem', NULL, now(), 'n', 'm', 'info', 'user', NULL);
      CREATE TABLE host_stage_durations (cluster_key VARCHAR NOT NULL, host_key VARCHAR,
        source VARCHAR NOT NULL, event_time TIMESTAMPTZ, stage VARCHAR, duration_s DOUBLE,
        result VARCHAR, vendor VARCHAR, product VARCHAR, disk_type VARCHAR, role VARCHAR);
      INSERT INTO host_stage_durations VALUES
        ('k1', 'h1', 'onprem', now(), 'Rebooting', 12.5, 'Done', NULL, NULL, 'SSD', 'master'),
        ('k2', 'h2', 'onprem', now(), 'Rebooting', 14.0, 'Done', NULL, NULL, 'SSD', 'master');`);
    c.closeSync();
    db.closeSync();

    const store = await Store.open(path);
    try {
      const [keys] = await store.query<{ n: number }>(
        `SELECT count(*)::INTEGER AS n FROM duckdb_constraints()
         WHERE table_name = 'events' AND constraint_type = 'PRIMARY KEY'`,
      );
      assert.equal(keys.n, 0, "events lost their key");
      assert.deepEqual(await store.query("SELECT event_id FROM events"), [{ event_id: "e1" }]);
      const stages = await store.query<{ cluster_key: string; cluster_no: number | null }>(
        "SELECT cluster_key, cluster_no FROM host_stage_durations ORDER BY cluster_key",
      );
      assert.equal(stages.length, 2);
      assert.ok(stages.every((s) => typeof s.cluster_no === "number"));
      assert.notEqual(stages[0].cluster_no, stages[1].cluster_no, "one number per cluster");
      const numbers = await store.query("SELECT cluster_key FROM cluster_numbers ORDER BY 1");
      assert.deepEqual(numbers, [{ cluster_key: "k1" }, { cluster_key: "k2" }]);
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a file written again at the same path, at the same size, is read as it is now", async () => {
  const dir = await Deno.makeTempDir({ prefix: "analysis-store-" });
  const store = await Store.open(`${dir}/store.duckdb`);
  try {
    const source = `${dir}/source.parquet`;
    const target = `${dir}/target.parquet`;
    for (let round = 0; round < 5; round++) {
      // Fixed-width values, uncompressed: every round's file has the same size.
      await store.exec(
        `COPY (SELECT range + ${round * 1_000_000} AS x FROM range(50000)) TO '${source}'
         (FORMAT parquet, COMPRESSION uncompressed)`,
      );
      await Deno.writeFile(target, await Deno.readFile(source));
      const [{ low }] = await store.query<{ low: number }>(
        `SELECT min(x)::INTEGER AS low FROM read_parquet('${target}')`,
      );
      assert.equal(low, round * 1_000_000);
    }
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("what a transaction commits so far is read beside it while it goes on, and a later failure rolls back only what followed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "analysis-beside-" });
  const store = await Store.open(`${dir}/store.duckdb`);
  try {
    await store.exec("CREATE TABLE t (n INTEGER)");
    const file = `${dir}/beside.csv`;
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.run("INSERT INTO t VALUES (1), (2)");
        await tx.commitSoFar();
        await tx.run("INSERT INTO t VALUES (3)");
        // The second connection sees the committed rows only, while this transaction is open.
        await store.beside(`COPY (SELECT n FROM t ORDER BY n) TO '${file}' (HEADER false)`, {
          settings: { preserve_insertion_order: "false" },
        });
        throw new Error("later failure");
      }),
      /later failure/,
    );
    assert.equal(await Deno.readTextFile(file), "1\n2\n");
    const rows = await store.query<{ n: number }>("SELECT n FROM t ORDER BY n");
    assert.deepEqual(rows.map((r) => r.n), [1, 2]);
    // The setting held for that statement alone.
    await store.beside(
      `COPY (SELECT current_setting('preserve_insertion_order') AS v) TO '${file}' (HEADER false)`,
    );
    assert.equal((await Deno.readTextFile(file)).trim(), "true");
  } finally {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a setting a transaction sets is reset at its end, also when it failed", async () => {
  const store = await Store.open(":memory:");
  try {
    const setting = async () =>
      (await store.query<{ v: boolean }>(
        "SELECT current_setting('preserve_insertion_order') AS v",
      ))[0].v;
    assert.equal(await setting(), true);
    await store.transaction(async (tx) => {
      await tx.set("preserve_insertion_order", "false");
      assert.equal(
        (await tx.query<{ v: boolean }>(
          "SELECT current_setting('preserve_insertion_order') AS v",
        ))[0].v,
        false,
      );
    });
    assert.equal(await setting(), true);
    await assert.rejects(store.transaction(async (tx) => {
      await tx.set("preserve_insertion_order", "false");
      await tx.run("SELECT * FROM no_such_table");
    }));
    assert.equal(await setting(), true);
  } finally {
    await store.close();
  }
});
