import assert from "node:assert/strict";
import { CONTENT_TYPE, uploadArchive, userAgent } from "../src/upload/mod.ts";
import { packArchive } from "../src/bundle/mod.ts";
import { startReceiver } from "./support/receiver.ts";

const bytes = await packArchive([{
  name: "c1/metadata.json",
  data: new TextEncoder().encode('{"bundle_id":"u1"}'),
}]);
const archive = new Blob([bytes as Uint8Array<ArrayBuffer>]);

Deno.test("the request is exactly the ingress contract's", async () => {
  let seen: { headers: Headers; file: File } | undefined;
  const r = await startReceiver({
    answer: (_n, req) => {
      // Inspect a clone; the real receiver still answers.
      req.clone().formData().then((
        f,
      ) => (seen = { headers: req.headers, file: f.get("file") as File }));
      return undefined;
    },
  });
  try {
    const result = await uploadArchive(archive, {
      endpoint: r.endpoint,
      token: " dG9rZW4= ",
      clusterId: "c1",
      timeoutMs: 5000,
    });
    assert.equal(result.ok, true);
    assert.ok(result.ok && result.status === 202 && /^[0-9a-f-]{36}$/.test(result.requestId!));
    assert.equal(seen!.headers.get("authorization"), "Bearer dG9rZW4=");
    assert.equal(seen!.headers.get("user-agent"), "assisted-installer-operator/0.1.0 cluster/c1");
    assert.equal(userAgent("c1"), seen!.headers.get("user-agent"));
    assert.match(seen!.headers.get("content-type")!, /^multipart\/form-data; boundary=/);
    assert.ok(
      Number(seen!.headers.get("content-length")) > archive.size,
      "a length, not chunked",
    );
    assert.equal(seen!.headers.get("transfer-encoding"), null);
    assert.equal(seen!.file.name, "events.tgz");
    assert.equal(seen!.file.type, CONTENT_TYPE);
    assert.deepEqual(new Uint8Array(await seen!.file.arrayBuffer()), bytes);
  } finally {
    await r.close();
  }
});

Deno.test("a refusal comes back with its status and a truncated, token-free body", async () => {
  const r = await startReceiver({
    answer: () => new Response("denied for dG9rZW4= " + "x".repeat(5000), { status: 401 }),
  });
  try {
    const result = await uploadArchive(archive, {
      endpoint: r.endpoint,
      token: "dG9rZW4=",
      clusterId: "c1",
      timeoutMs: 5000,
    });
    assert.equal(result.ok, false);
    assert.ok(!result.ok && result.status === 401);
    assert.ok(!result.ok && result.error.length < 600 && !result.error.includes("dG9rZW4="));
  } finally {
    await r.close();
  }
});

Deno.test("a slow endpoint times out instead of hanging", async () => {
  const r = await startReceiver({
    answer: () =>
      new Promise<Response>((resolve) => setTimeout(() => resolve(new Response("late")), 600)),
  });
  try {
    const result = await uploadArchive(archive, {
      endpoint: r.endpoint,
      token: "t0ken",
      clusterId: "c1",
      timeoutMs: 200,
    });
    assert.ok(!result.ok && /timed out/.test(result.error));
  } finally {
    await r.close();
  }
});

Deno.test("a token with a line break is never sent", async () => {
  const r = await startReceiver();
  try {
    const result = await uploadArchive(archive, {
      endpoint: r.endpoint,
      token: "abc\r\nX-Evil: 1",
      clusterId: "c1",
      timeoutMs: 1000,
    });
    assert.equal(result.ok, false);
    assert.equal(r.requests, 0);
  } finally {
    await r.close();
  }
});

Deno.test("an unreachable endpoint is a failure, not a crash", async () => {
  const result = await uploadArchive(archive, {
    endpoint: "http://127.0.0.1:1/upload",
    token: "t0ken",
    clusterId: "c1",
    timeoutMs: 2000,
  });
  assert.ok(!result.ok && /request failed/.test(result.error));
});
