/** The free-text scrubber against every shape the adversarial review planted. */
import assert from "node:assert/strict";
import { importHmacKey } from "../src/sanitize/pseudonym.ts";
import { isSecretKey, Memo, removeSecrets, TextScrubber } from "../src/sanitize/text.ts";
import { SHAPES } from "./fixtures/secret_shapes.ts";

const KEY = await importHmacKey(new Uint8Array(32).fill(3));

Deno.test("scrubber: none of the review's secret shapes survives free text", () => {
  for (const [text, secret] of SHAPES) {
    const out = removeSecrets(text);
    assert.ok(!out.includes(secret), `${JSON.stringify(text)} → ${JSON.stringify(out)}`);
  }
});

Deno.test("scrubber: e-mail addresses in every spelling become email-hmac pseudonyms", async () => {
  const s = new TextScrubber(KEY);
  const spellings = [
    "jane.doe@customer.example",
    '"jane doe"@customer.example',
    "jürgen@bücher.example",
    "jane%40customer.example",
    "jane\\u0040customer.example",
    "jane&#64;customer.example",
    "jane＠customer.example",
    "root@[192.168.1.10]",
    "jane (at) customer (dot) example",
    "jane[at]customer[dot]example",
  ];
  for (const spelling of spellings) {
    const out = await s.text(`contact ${spelling} now`);
    assert.match(out, /^contact email-hmac:[0-9a-f]{32} now$/, `${spelling} → ${out}`);
  }
  // One mailbox, one pseudonym, however it is spelled.
  assert.equal(await s.text("jane%40customer.example"), await s.text("jane@customer.example"));
});

Deno.test("scrubber: a known secret that is an ordinary word neither hides the context nor stays", async () => {
  const s = new TextScrubber(KEY, { knownSecrets: ["password"] });
  const out = await s.text("ipmi password=RealBmcPlanted9");
  assert.ok(!out.includes("RealBmcPlanted9"), out);
});

Deno.test("scrubber: JSON keys whose normalised name holds a secret word are redacted", () => {
  for (
    const key of [
      "passphrase",
      "accessKey",
      "privateKeyPem",
      "sshKey",
      "clientKey",
      "cookie",
      "db-password",
      "X_AUTH_TOKEN",
      "bmcCredentials",
    ]
  ) {
    assert.ok(isSecretKey(key), key);
  }
  for (const key of ["hostname", "role", "status", "vendor"]) assert.ok(!isSecretKey(key), key);
  const s = new TextScrubber(KEY);
  const out = JSON.parse(
    s.jsonTextSync(JSON.stringify({ accessKey: "AKIAPLANTED", nested: { sshKey: "k" } })),
  );
  assert.deepEqual(out, { accessKey: "[REDACTED]", nested: { sshKey: "[REDACTED]" } });
});

Deno.test("the maintained ruleset (secretlint's recommended preset) removes provider tokens our patterns do not know", async () => {
  const { Sanitizer, EVENT } = await import("../src/sanitize/mod.ts");
  const tokens = [
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "npm_1234567890abcdefghijABCDEFGHIJ123456",
  ];
  const sanitizer = new Sanitizer(new TextScrubber(KEY));
  for (const token of tokens) {
    // In free text of an unknown event, in a template's free-text parameter, and in props.
    for (
      const row of [
        { name: "some_event", message: `deploy key ${token} was used` },
        {
          name: "cluster_installation_failed",
          message: `Failed installing cluster. Reason: bad ${token}`,
        },
        {
          category: "metrics",
          message: "host.stage.duration",
          props: JSON.stringify({ vendor: token }),
        },
      ]
    ) {
      const out = JSON.stringify(await sanitizer.apply(EVENT, row));
      assert.ok(!out.includes(token), out);
    }
  }
  // Ordinary messages never reach the ruleset.
  const { maySecretlint } = await import("../src/sanitize/secretlint.ts");
  assert.equal(
    maySecretlint("Host master-0: updated status from installing to installed (Done)"),
    false,
  );
});

Deno.test("a memo holds at most its limit, then starts over", () => {
  const memo = new Memo<string, number>({ limit: 2 });
  assert.equal(memo.set("a", 1), 1);
  memo.set("b", 2);
  assert.deepEqual([memo.get("a"), memo.get("b"), memo.size], [1, 2, 2]);
  assert.equal(memo.set("c", 3), 3);
  assert.deepEqual([memo.get("a"), memo.get("c"), memo.size], [undefined, 3, 1]);
});

Deno.test("a memo whose texts do not repeat keeps a few of them, and all again once they do", () => {
  const memo = new Memo<string, number>({ limit: 100_000 });
  // Unique texts: after the first window of lookups, one in sixteen is looked up and
  // at most 64 are kept, so that they die young instead of filling the old generation.
  for (let i = 0; i < 20_000; i++) {
    memo.get(`u${i}`) ?? memo.set(`u${i}`, i);
    if (i >= 2_048) assert.ok(memo.size <= 64, `kept ${memo.size} after ${i + 1} unique texts`);
  }
  // Repeating texts: the sampled ones come back, the hit rate rises, all are kept again.
  for (let round = 0; round < 200; round++) {
    for (let i = 0; i < 50; i++) memo.get(`r${i}`) ?? memo.set(`r${i}`, i);
  }
  for (let i = 0; i < 50; i++) assert.equal(memo.get(`r${i}`), i);
});
