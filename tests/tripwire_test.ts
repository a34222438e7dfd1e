import assert from "node:assert/strict";
import { seedCluster } from "./fixtures/assisted_data.ts";
import { TripwireError } from "../src/collect/secrets.ts";
import { scenario } from "./support/scenario.ts";

Deno.test("a known secret pasted into a setting that leaves is removed, not sent", async () => {
  const token = "tripwireToken-0123456789abcdef";
  await scenario(async ({ db, receiver, collector }) => {
    // An operator pasted the trigger token into DEPLOYMENT_VERSION: it leaves through the scrubber.
    const { collector: c, lines } = collector({ TRIGGER_TOKEN: token, DEPLOYMENT_VERSION: token });
    await c.reconcile();
    const id = crypto.randomUUID();
    await seedCluster(db.sql, id);
    assert.equal((await c.runPass()).sent, 1);
    const [upload] = await receiver.store.list();
    const { unpackArchive } = await import("../src/bundle/mod.ts");
    const text = (await unpackArchive((await receiver.store.archive(upload.request_id))!))
      .map((f) => new TextDecoder().decode(f.data)).join("\n");
    assert.ok(!text.includes(token));
    assert.match(text, /"deployment-version":"\[REDACTED\]"/);
    assert.ok(!lines.join("\n").includes(token));
  });
});

Deno.test("tripwire: a BMC password equal to a number that is kept blocks the upload, naming the field only", async () => {
  await scenario(async ({ db, receiver, collector, ledger }) => {
    const { collector: c, lines } = collector();
    await c.reconcile();
    const id = crypto.randomUUID();
    await seedCluster(db.sql, id);
    await db
      .sql`UPDATE hosts SET fencing_credentials = '{"username":"root","password":"1234567890"}' WHERE cluster_id = ${id}`;
    assert.equal((await c.runPass()).blocked, 1);
    assert.equal(receiver.requests, 0);
    const [row] = await ledger();
    assert.equal(row.state, "blocked");
    assert.match(String(row.last_error), /hosts\.fencing_credentials\.password/);
    assert.ok(
      !String(row.last_error).includes("1234567890"),
      "the field is named, never the value",
    );
    assert.ok(lines.some((l) => l.includes("blocked by the tripwire")));
    assert.ok(!lines.join("\n").includes("1234567890"));
    await assert.rejects(c.preview(id), TripwireError);
    assert.equal((await c.runPass()).blocked, 0, "a blocked attempt is not retried");
  });
});

Deno.test("tripwire: a known secret is found percent-encoded and base64-encoded, at any alignment", async () => {
  const { SecretRegistry } = await import("../src/collect/secrets.ts");
  const registry = new SecretRegistry();
  const secret = "Pr0xy/P@ss:word-planted";
  registry.add("clusters.https_proxy", [secret]);
  registry.addEncodings();
  assert.equal(
    registry.findIn(`x=${encodeURIComponent(secret)}&y`),
    "clusters.https_proxy (encoded)",
  );
  for (const prefix of ["", "a", "ab"]) {
    const blob = btoa(`${prefix}${secret}tail`);
    assert.equal(registry.findIn(`data: ${blob}`), "clusters.https_proxy (encoded)", prefix);
  }
  assert.equal(registry.findIn("an ordinary message without it"), undefined);
});

Deno.test("known secrets: identitytoken, a proxy password holding @, a header's token alone", async () => {
  const { SecretRegistry } = await import("../src/collect/secrets.ts");
  const registry = new SecretRegistry();
  registry.addCluster({
    pull_secret: JSON.stringify({
      auths: {
        "registry.example": { auth: btoa("u:regPass-planted"), identitytoken: "idTok-planted-123" },
      },
    }),
    https_proxy: "http://proxyuser:p@ss-planted@proxy.example:3128",
  });
  registry.addHost({
    ignition_endpoint_http_headers: JSON.stringify({ Authorization: "Bearer hdrTok-planted-456" }),
  });
  const values = registry.values();
  for (const v of ["idTok-planted-123", "p@ss-planted", "hdrTok-planted-456", "regPass-planted"]) {
    assert.ok(values.includes(v), v);
  }
});
