/** The free-text scrubber against every shape the adversarial review planted. */
import assert from "node:assert/strict";
import { importHmacKey } from "../src/sanitize/pseudonym.ts";
import { isSecretKey, removeSecrets, TextScrubber } from "../src/sanitize/text.ts";

const KEY = await importHmacKey(new Uint8Array(32).fill(3));

/** Each text, and the secret in it that must not survive. */
const SHAPES: Array<[string, string]> = [
  [
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAplanted\n-----END RSA PRIVATE KEY-----",
    "MIIEowIBAAKCAQEAplanted",
  ],
  [
    "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktplanted\n-----END OPENSSH PRIVATE KEY-----",
    "b3BlbnNzaC1rZXktplanted",
  ],
  ["a truncated -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANplanted", "MIIEvQIBADANplanted"],
  ["client-key-data: LS0tLS1CRUdJTiBQUklWQVRFplanted", "LS0tLS1CRUdJTiBQUklWQVRFplanted"],
  ["AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMIplanted", "wJalrXUtnFEMIplanted"],
  ["DB_PASSWORD=dbPlanted99", "dbPlanted99"],
  ["MYSQL_ROOT_PASSWORD=rootPlanted99", "rootPlanted99"],
  ["IPMI_PASSWORD=ipmiPlanted99", "ipmiPlanted99"],
  ["bmc_password: bmcPlanted99", "bmcPlanted99"],
  ["admin_token=adminTokPlanted", "adminTokPlanted"],
  ["kubeadmin_password=kubePlanted99", "kubePlanted99"],
  ["GET /x?auth_token=qAuthPlanted&y=1", "qAuthPlanted"],
  ["GET /x?private_token=qPrivPlanted", "qPrivPlanted"],
  ["GET /x?apiToken=qApiPlanted", "qApiPlanted"],
  ["ipmitool -U admin -P flagPlanted99 power status", "flagPlanted99"],
  ["mysql -p flagLowerPlanted", "flagLowerPlanted"],
  ["tool --password longFlagPlanted --verbose", "longFlagPlanted"],
  ["tool --token tokFlagPlanted", "tokFlagPlanted"],
  ["the password is prosePlanted99", "prosePlanted99"],
  ["Authorization: Token schemeTokPlanted", "schemeTokPlanted"],
  ['Authorization: Digest username="u", response="digestPlanted99"', "digestPlanted99"],
  ["Cookie: session=cookiePlanted99; theme=dark", "cookiePlanted99"],
  ['password: "multi word planted"', "multi word planted"],
  ["password=commaPlanted,second", "commaPlanted"],
  ["https://user:p@ss/wordPlanted@host.example/path", "wordPlanted"],
  ["https%3A%2F%2Fuser%3ApctPlanted99%40host.example", "pctPlanted99"],
  [
    "key ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIsshPlantedKeyMaterial1 me@laptop",
    "AAAAC3NzaC1lZDI1NTE5AAAAIsshPlantedKeyMaterial1",
  ],
];

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
