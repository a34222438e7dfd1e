import assert from "node:assert/strict";
import { childEnv } from "./support/cli.ts";
import { seedCluster } from "./fixtures/assisted_data.ts";
import { scenario } from "./support/scenario.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

Deno.test("preview is byte for byte the archive the upload path sent", async () => {
  await scenario(async ({ db, receiver, collector }) => {
    const { collector: c, service } = collector({ OBFUSCATE: "networking" });
    await c.reconcile();
    const id = crypto.randomUUID();
    await seedCluster(db.sql, id, { hosts: 5, events: 300 });
    assert.equal((await c.runPass()).sent, 1);
    const [upload] = await receiver.store.list();
    const sent = (await receiver.store.archive(upload.request_id))!;

    const preview = await c.preview(id);
    assert.ok(preview?.inLedger);
    assert.deepEqual(new Uint8Array(await preview.archive.arrayBuffer()), sent);

    const { app } = service;
    const res = await app.fetch(new Request(`http://collector/v1/clusters/${id}/preview`), {
      peer: "127.0.0.1",
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/gzip");
    assert.deepEqual(new Uint8Array(await res.arrayBuffer()), sent);
    assert.equal(
      (await app.fetch(new Request(`http://collector/v1/clusters/nope/preview`), {
        peer: "127.0.0.1",
      })).status,
      404,
    );
    assert.equal(
      (await app.fetch(new Request(`http://collector/v1/clusters/${id}/preview`), {
        peer: "10.9.9.9",
      })).status,
      403,
    );

    const out = await Deno.makeTempFile({ suffix: ".tgz" });
    try {
      const cli = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, "preview", id, "--out", out],
        env: childEnv({
          DATABASE_URL: db.url,
          DATA_UPLOAD_ENDPOINT: receiver.endpoint,
          OBFUSCATE: "networking",
        }),
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const listing = new TextDecoder().decode(cli.stdout);
      assert.equal(cli.code, 0, new TextDecoder().decode(cli.stderr));
      assert.match(listing, new RegExp(`${id}/events\\.json`));
      assert.match(listing, /300 events/);
      assert.match(listing, /295 more not shown/);
      assert.deepEqual(await Deno.readFile(out), sent);
    } finally {
      await Deno.remove(out);
    }
    assert.equal(receiver.requests, 1, "preview never sends");
  });
});

Deno.test("OBFUSCATE=networking: names, domain, addresses become stable pseudonyms", async () => {
  await scenario(async ({ db, collector }) => {
    const { collector: c } = collector({ OBFUSCATE: "networking" });
    await c.reconcile();
    const id = crypto.randomUUID();
    await seedCluster(db.sql, id, { hosts: 4, events: 20 });
    await db
      .sql`UPDATE clusters SET status_info = 'api at 192.168.122.5 (52:54:00:12:34:56) on node-1.customer.example' WHERE id = ${id}`;
    const preview = (await c.preview(id))!;
    const { unpackArchive } = await import("../src/bundle/mod.ts");
    const files = Object.fromEntries(
      (await unpackArchive(preview.archive)).map((f) => [f.name, new TextDecoder().decode(f.data)]),
    );
    const text = Object.values(files).join("\n");
    assert.ok(!text.includes("customer.example"), "domain left");
    assert.doesNotMatch(text, /\b192\.168\.\d+\.\d+\b/);
    assert.doesNotMatch(text, /52:54:00/);
    const cluster = JSON.parse(files[`${id}/events/cluster.json`]);
    assert.equal(cluster.base_dns_domain, "domain-1.obfuscated");
    assert.match(cluster.machine_network_cidr, /^ipv4-\d+\/24$/);
    assert.match(cluster.status_info, /^api at ipv4-\d+ \(mac-\d+\) on host-\d+$/);
    const hosts = JSON.parse(files[`${id}/events/hosts.json`]);
    const names = hosts.map((h: { requested_hostname: string }) => h.requested_hostname);
    assert.equal(new Set(names).size, 4);
    assert.ok(names.every((n: string) => /^host-\d+$/.test(n)));
    const again = (await c.preview(id))!;
    assert.deepEqual(
      new Uint8Array(await again.archive.arrayBuffer()),
      new Uint8Array(await preview.archive.arrayBuffer()),
      "stable for the same rows",
    );
  });
});

Deno.test("firstElements: the first n elements of any JSON array, however the bytes are cut", async () => {
  const { firstElements } = await import("../src/collect/preview.ts");
  const fc = (await import("npm:fast-check@4.11.0")).default;
  const enc = new TextEncoder();
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.jsonValue(), { maxLength: 12 }),
      fc.integer({ min: 0, max: 14 }),
      fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 8 }),
      fc.boolean(),
      async (array, n, cuts, spaced) => {
        const bytes = enc.encode(JSON.stringify(array, null, spaced ? 1 : undefined));
        // Fed in pieces of awkward sizes, so elements, strings and characters split.
        const body = new ReadableStream<Uint8Array>({
          start(controller) {
            for (let at = 0, k = 0; at < bytes.byteLength; k++) {
              const size = cuts[k % cuts.length];
              controller.enqueue(bytes.slice(at, at + size));
              at += size;
            }
            controller.close();
          },
        });
        const got = await firstElements(body, n);
        assert.deepEqual(got, JSON.parse(JSON.stringify(array.slice(0, n))));
      },
    ),
    { numRuns: 300 },
  );
  const notArray = new Blob(['{"a":[1,2]}']).stream();
  assert.equal(await firstElements(notArray, 3), undefined);
});
