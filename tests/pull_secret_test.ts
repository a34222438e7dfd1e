import assert from "node:assert/strict";
import { parsePullSecret, pullSecretSecrets } from "../src/collect/pull_secret.ts";
import { pullSecret } from "./fixtures/assisted_data.ts";

Deno.test("the token is the raw cloud.openshift.com auth, trimmed", () => {
  const auth = btoa("ocm-user:tokenvalue123");
  const v = parsePullSecret(
    JSON.stringify({
      auths: { "cloud.openshift.com": { auth: ` ${auth}\t`, email: "a@b.example" } },
    }),
  );
  assert.deepEqual(v, { kind: "token", token: auth, email: "a@b.example", user: "ocm-user" });
});

Deno.test("a pull secret without cloud.openshift.com opts out", () => {
  assert.deepEqual(parsePullSecret(pullSecret({ telemetry: false })), { kind: "opted-out" });
});

Deno.test("unusable pull secrets are invalid, never a token", () => {
  for (
    const text of [
      "",
      "{",
      "[]",
      '{"auths":1}',
      '{"auths":{"cloud.openshift.com":{}}}',
      '{"auths":{"cloud.openshift.com":{"auth":"ab\\r\\nX-Evil: 1"}}}',
    ]
  ) {
    assert.equal(parsePullSecret(text).kind, "invalid", text);
  }
  assert.equal(parsePullSecret(null).kind, "invalid");
});

Deno.test("every credential of a pull secret is listed, raw and decoded", () => {
  const secrets = pullSecretSecrets(pullSecret({ password: "decoded-password-1" }));
  assert.ok(secrets.includes("decoded-password-1"));
  assert.ok(secrets.includes(btoa("ocm-demo-user:decoded-password-1")));
  assert.deepEqual(pullSecretSecrets("{broken"), []);
});
