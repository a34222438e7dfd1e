import assert from "node:assert/strict";
import { packArchive } from "../src/bundle/mod.ts";
import { CONTENT_TYPE } from "../src/upload/mod.ts";
import { ReceiverStore } from "../src/receiver/mod.ts";
import { startReceiver } from "./support/receiver.ts";

const UA = "assisted-installer-operator/0.1.0 cluster/c1";

async function archive(bundleId: string): Promise<Uint8Array> {
  return await packArchive([{
    name: "c1/metadata.json",
    data: new TextEncoder().encode(JSON.stringify({ bundle_id: bundleId })),
  }]);
}

function form(data: Uint8Array, type = CONTENT_TYPE, field = "file"): FormData {
  const f = new FormData();
  f.append(field, new Blob([data as Uint8Array<ArrayBuffer>], { type }), "events.tgz");
  return f;
}

async function post(endpoint: string, body: BodyInit, headers: Record<string, string> = {}) {
  const res = await fetch(endpoint, {
    method: "POST",
    body,
    headers: { Authorization: "Bearer tok", "User-Agent": UA, ...headers },
  });
  return {
    status: res.status,
    body: await res.json(),
    requestId: res.headers.get("x-rh-insights-request-id"),
  };
}

Deno.test("the receiver speaks the ingress contract", async () => {
  const r = await startReceiver({ maxBytes: 2048 });
  try {
    const data = await archive("b-1");
    assert.equal((await post(r.endpoint, form(data), { Authorization: "" })).status, 401);
    assert.equal((await post(r.endpoint, form(data), { "User-Agent": "curl/8" })).status, 401);
    assert.equal((await post(r.endpoint, form(data, CONTENT_TYPE, "upload"))).status, 400);
    assert.equal(
      (await post(r.endpoint, "plain text", { "Content-Type": "text/plain" })).status,
      400,
    );
    assert.equal((await post(r.endpoint, form(data, "application/json"))).status, 415);
    assert.equal(
      (await post(r.endpoint, form(data, "application/vnd.redhat.other-service.events+tgz")))
        .status,
      415,
    );
    assert.equal((await post(r.endpoint, form(new Uint8Array(4096)))).status, 413);
    assert.equal((await post(r.endpoint, form(new TextEncoder().encode("not gzip")))).status, 400);
    const ok = await post(r.endpoint, form(data));
    assert.equal(ok.status, 202);
    assert.match(ok.body.request_id, /^[0-9a-f-]{36}$/);
    assert.equal(ok.requestId, ok.body.request_id);
    const [kept] = await r.store.list();
    assert.deepEqual([kept.bundle_id, kept.cluster_id, kept.bytes], ["b-1", "c1", data.byteLength]);
    assert.deepEqual(await r.store.archive(kept.request_id), data);
  } finally {
    await r.close();
  }
});

Deno.test("the receiver keeps one copy per bundle_id and counts re-sends", async () => {
  const r = await startReceiver();
  try {
    const first = await post(r.endpoint, form(await archive("same")));
    const again = await post(r.endpoint, form(await archive("same")));
    const other = await post(r.endpoint, form(await archive("other")));
    assert.deepEqual([first.status, again.status, other.status], [202, 202, 202]);
    const list = await r.store.list();
    assert.deepEqual(list.map((u) => u.request_id), [first.body.request_id, other.body.request_id]);
    assert.equal(list.find((u) => u.bundle_id === "same")!.duplicates, 1);
    assert.equal(await r.store.archive(again.body.request_id), undefined);
  } finally {
    await r.close();
  }
});

Deno.test("a configured receiver token is the only one accepted", async () => {
  const r = await startReceiver({ token: "right-token" });
  try {
    assert.equal(
      (await post(r.endpoint, form(await archive("x")), { Authorization: "Bearer wrong" })).status,
      401,
    );
    assert.equal(
      (await post(r.endpoint, form(await archive("x")), { Authorization: "Bearer right-token" }))
        .status,
      202,
    );
    // The listing and the downloads need the token too.
    const base = r.endpoint.replace("/api/ingress/v1/upload", "");
    const list = (auth?: string) =>
      fetch(`${base}/uploads`, { headers: auth ? { authorization: auth } : {} });
    assert.equal((await list()).status, 401);
    assert.equal((await list("Bearer wrong")).status, 401);
    const listed = await list("Bearer right-token");
    assert.equal(listed.status, 200);
    const [upload] = await listed.json();
    const download = (auth?: string) =>
      fetch(`${base}/uploads/${upload.request_id}`, {
        headers: auth ? { authorization: auth } : {},
      });
    assert.equal((await download()).status, 401);
    const got = await download("Bearer right-token");
    assert.equal(got.status, 200);
    await got.body?.cancel();
  } finally {
    await r.close();
  }
});

Deno.test("a gzip that holds no tar is answered, then dropped when read", async () => {
  const r = await startReceiver();
  try {
    const { gzipSync } = await import("node:zlib");
    const res = await post(r.endpoint, form(new Uint8Array(gzipSync("not a tar archive"))));
    assert.equal(res.status, 202);
    assert.deepEqual(await r.store.list(), []);
    assert.equal(await r.store.archive(res.body.request_id), undefined);
  } finally {
    await r.close();
  }
});

Deno.test("an archive stored but not yet read when the receiver stopped is read when it opens", async () => {
  const dir = await Deno.makeTempDir({ prefix: "collector-received-" });
  try {
    const id = crypto.randomUUID();
    await Deno.writeFile(`${dir}/${id}.tgz`, await archive("left-over"));
    const store = new ReceiverStore(dir);
    await store.open();
    const [kept] = await store.list();
    assert.deepEqual([kept.request_id, kept.bundle_id], [id, "left-over"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an archive whose writing fails leaves no part of it behind and is not listed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "collector-received-" });
  try {
    const store = new ReceiverStore(dir);
    await store.open();
    const bytes = await archive("cut-short");
    // The second piece cannot be read: the write fails after the first piece is on disk.
    class Unreadable extends Uint8Array {
      override subarray(): Uint8Array<ArrayBuffer> {
        throw new Error("the piece cannot be read");
      }
    }
    const pieces = [bytes.subarray(0, 100), new Unreadable(bytes.slice(100))];
    await assert.rejects(
      store.accept({ chunks: pieces, size: bytes.byteLength }, {
        userAgent: "assisted-installer-operator/test",
      }),
      /the piece cannot be read/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    assert.deepEqual(await store.list(), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a member that inflates past its cap is refused when read, holding no more than the cap", async () => {
  const r = await startReceiver();
  try {
    const { packArchive } = await import("../src/bundle/mod.ts");
    // 64 MiB of zeros as metadata.json: a few tens of KB on the wire.
    const bomb = await packArchive([
      { name: "c1/metadata.json", data: new Uint8Array(64 * 1024 * 1024) },
    ]);
    assert.ok(bomb.byteLength < 200_000);
    const res = await post(r.endpoint, form(bomb), { Authorization: "Bearer any" });
    assert.equal(res.status, 202);
    assert.deepEqual(await r.store.list(), [], "dropped once read");
  } finally {
    await r.close();
  }
});

Deno.test("the receiver's tracker answers received, success, error, 404 and 400 as ingress does", async () => {
  const r = await startReceiver();
  try {
    const track = (id: string) =>
      fetch(r.endpoint.replace("/upload", `/track/${id}`), {
        headers: { Authorization: "Bearer any" },
      });
    const good = await post(r.endpoint, form(await archive("b-1")), {
      Authorization: "Bearer any",
    });
    const again = await post(r.endpoint, form(await archive("b-1")), {
      Authorization: "Bearer any",
    });
    const { packArchive } = await import("../src/bundle/mod.ts");
    const bad = await post(
      r.endpoint,
      form(await packArchive([{ name: "../x/metadata.json", data: new Uint8Array(2) }])),
      { Authorization: "Bearer any" },
    );
    await r.store.settled();
    const ok = await (await track(good.requestId!)).json();
    assert.deepEqual([ok.status, ok.service], ["success", "assisted-installer"]);
    const dup = await (await track(again.requestId!)).json();
    assert.equal(dup.status, "success");
    assert.equal(dup.status_msg, `duplicate of ${good.requestId!}; dropped`);
    const refused = await (await track(bad.requestId!)).json();
    assert.equal(refused.status, "error");
    assert.match(refused.status_msg, /not under a cluster id/);
    assert.equal((await track(crypto.randomUUID())).status, 404);
    assert.equal((await track("nope")).status, 400);
    assert.equal(
      (await fetch(r.endpoint.replace("/upload", `/track/${good.requestId!}`))).status,
      401,
    );
    assert.equal((await r.store.list()).length, 1, "only the kept upload is listed");
  } finally {
    await r.close();
  }
});
