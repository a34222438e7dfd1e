/**
 * Disconnected installs: export what would be sent, then send it from a
 * connected machine, over real HTTP to the real receiver and a real database.
 */
import assert from "node:assert/strict";
import { createTarDecoder, packTar } from "modern-tar";
import { pullSecret, seedCluster } from "./fixtures/assisted_data.ts";
import { cli } from "./support/cli.ts";
import { scenario } from "./support/scenario.ts";
import { statusBody } from "../src/server/mod.ts";

async function entries(path: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  const file = await Deno.open(path);
  for await (const entry of file.readable.pipeThrough(createTarDecoder())) {
    out.set(entry.header.name, new Uint8Array(await new Response(entry.body).arrayBuffer()));
  }
  return out;
}

async function rewrite(
  path: string,
  to: string,
  change: (name: string, data: Uint8Array) => Uint8Array,
) {
  const files = await entries(path);
  const tar = await packTar(
    [...files].map(([name, data]) => {
      const body = change(name, data);
      return { header: { name, size: body.byteLength, type: "file" as const }, body };
    }),
  );
  await Deno.writeFile(to, tar);
}

Deno.test("export → send-export → receiver: the archives preview writes, sent once, verified, safe to re-run; tampering refused", async () => {
  await scenario(async ({ db, receiver, secretFile, ledger, collector }) => {
    const dir = await Deno.makeTempDir({ prefix: "export-test-" });
    try {
      const env = {
        DATABASE_URL: db.url,
        DATA_UPLOAD_ENDPOINT: receiver.endpoint,
        ENABLE_DATA_COLLECTION: "false",
      };
      const a = crypto.randomUUID();
      const b = crypto.randomUUID();
      const own = crypto.randomUUID();
      await seedCluster(db.sql, a, { events: 30 });
      await seedCluster(db.sql, b, { events: 20, cluster: { status: "error" } });
      await seedCluster(db.sql, own, {
        events: 10,
        cluster: { pull_secret: pullSecret({ telemetry: false }) },
      });
      // Export works while automatic sending is opted out.
      const file = `${dir}/export.tar`;
      const out = await cli(["export", "--out", file], env);
      assert.equal(out.code, 0, out.stderr);
      const summary = JSON.parse(out.stdout);
      assert.equal(summary.archives, 2);
      assert.deepEqual(summary.left_out_reasons, { "its own pull secret opts it out": 1 });
      assert.equal(receiver.requests, 0, "export sends nothing");

      // Each archive is byte for byte what preview --out writes.
      const files = await entries(file);
      const manifest = JSON.parse(new TextDecoder().decode(files.get("manifest.json")!));
      assert.equal(manifest.left_out[0].cluster_id, own);
      const entryA = manifest.archives.find((x: { cluster_id: string }) => x.cluster_id === a);
      const preview = await cli(["preview", a, "--out", `${dir}/a.tgz`], env);
      assert.equal(preview.code, 0, preview.stderr);
      assert.deepEqual(files.get(entryA.file), await Deno.readFile(`${dir}/a.tgz`));

      // Recorded as exported, not as sent.
      const rows = await ledger();
      const exported = await db
        .sql`SELECT cluster_id, state, export_file FROM assisted_telemetry.attempts
        WHERE exported_at IS NOT NULL ORDER BY cluster_id`;
      assert.deepEqual(
        exported.map((r) => [r.cluster_id, r.state, r.export_file]),
        [a, b].sort().map((id) => [id, "skipped", "export.tar"]),
      );
      assert.ok(rows.every((r) => r.state !== "sent"));

      // Tampered and truncated files are refused, naming the entry; nothing is sent.
      const secret = await secretFile(pullSecret());
      const sendEnv = { DATA_UPLOAD_ENDPOINT: receiver.endpoint, PULL_SECRET_FILE: secret };
      await rewrite(file, `${dir}/tampered.tar`, (name, data) => {
        if (name !== entryA.file) return data;
        const copy = data.slice();
        copy[copy.length - 20] ^= 0xff;
        return copy;
      });
      const tampered = await cli(["send-export", `${dir}/tampered.tar`], sendEnv);
      assert.equal(tampered.code, 2);
      assert.match(tampered.stderr, new RegExp(`entry '${entryA.file}' does not match its sha256`));
      const whole = await Deno.readFile(file);
      await Deno.writeFile(`${dir}/truncated.tar`, whole.subarray(0, Math.floor(whole.length / 2)));
      const truncated = await cli(["send-export", `${dir}/truncated.tar`], sendEnv);
      assert.equal(truncated.code, 2);
      assert.match(truncated.stderr, /truncated/);
      assert.equal(receiver.requests, 0);

      // Sent from the connected machine (no database there), each delivery verified.
      const sent = await cli(["send-export", file], sendEnv);
      assert.equal(sent.code, 0, sent.stderr);
      assert.match(sent.stdout, /accepted \(request [0-9a-f-]{36}\), delivery verified/);
      assert.deepEqual(JSON.parse(sent.stdout.trim().split("\n").at(-1)!), {
        archives: 2,
        accepted: 2,
        already_accepted: 0,
        failed: 0,
      });
      const uploads = await receiver.store.list();
      assert.deepEqual(
        uploads.map((u) => u.bundle_id).sort(),
        manifest.archives.map((x: { bundle_id: string }) => x.bundle_id).sort(),
      );

      // A re-run sends nothing again.
      const again = await cli(["send-export", file], sendEnv);
      assert.equal(again.code, 0);
      assert.match(again.stdout, /already accepted/);
      assert.equal(receiver.requests, 2);
      const status = statusBody(await collector().collector.status());
      assert.equal(status.exported, 2, "/v1/status counts what was exported");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("an exported attempt later sent automatically is still sent once, with the same bundle_id", async () => {
  await scenario(async ({ db, receiver, collector, ledger }) => {
    const { collector: c, service } = collector();
    await c.reconcile();
    const id = crypto.randomUUID();
    await seedCluster(db.sql, id, { events: 10 });
    // The export over the API, streamed, before any pass found the attempt.
    const res = await service.app.fetch(new Request("http://c/v1/export"), { peer: "127.0.0.1" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/x-tar");
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeFile(`${dir}/x.tar`, new Uint8Array(await res.arrayBuffer()));
      const files = await entries(`${dir}/x.tar`);
      const manifest = JSON.parse(new TextDecoder().decode(files.get("manifest.json")!));
      assert.equal(manifest.archives.length, 1);
      assert.equal((await c.runPass()).sent, 1);
      const [row] = await ledger();
      assert.equal(row.state, "sent");
      assert.equal(row.bundle_id, manifest.archives[0].bundle_id);
      assert.equal((await c.runPass()).sent, 0);
      assert.equal(receiver.requests, 1);
      const bad = await service.app.fetch(new Request("http://c/v1/export?since=yesterday"), {
        peer: "127.0.0.1",
      });
      assert.equal(bad.status, 400);
      const outsider = await service.app.fetch(new Request("http://c/v1/export"), {
        peer: "10.1.1.1",
      });
      assert.equal(outsider.status, 403);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
