import assert from "node:assert/strict";
import { seedCluster } from "../src/demo/fixtures.ts";
import { testDatabase } from "./support/db.ts";
import { startReceiver } from "./support/receiver.ts";
import { receivedFiles, testCollector, testConfig } from "./support/setup.ts";

Deno.test("a finished attempt is sent once, in the consumer's layout", async () => {
  const db = await testDatabase();
  const receiver = await startReceiver();
  const { collector, close } = testCollector(testConfig(db.url, receiver.endpoint));
  try {
    assert.equal((await collector.reconcile()).state?.enabled, true);
    const id = crypto.randomUUID();
    await seedCluster(db.sql, id, { hosts: 3, events: 40 });
    const first = await collector.runPass();
    assert.deepEqual([first.sent, first.failed, first.errors], [1, 0, []]);
    const second = await collector.runPass();
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
    console.log(files[`${id}/events/cluster.json`]);
    console.log(JSON.stringify(JSON.parse(files[`${id}/events/hosts.json`])[0]));
    console.log(files[`${id}/events/infraenv.json`]);
    console.log(JSON.stringify(events.slice(0, 3)));
    console.log(files[`${id}/metadata.json`]);
  } finally {
    await close();
    await receiver.close();
    await db.drop();
  }
});
