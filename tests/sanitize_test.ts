import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import { ABSENT, encodeValue, formatDateTime, formatTime } from "../src/sanitize/encode.ts";
import { emailHmac, importHmacKey, normaliseEmail, userId } from "../src/sanitize/pseudonym.ts";
import {
  reduceArgs,
  reduceInventory,
  reduceKernelArgs,
  reduceKeyPaths,
  reduceProxy,
} from "../src/sanitize/reduce.ts";
import { REDACTED, removeSecrets, TextScrubber } from "../src/sanitize/text.ts";
import {
  CLUSTER,
  EVENT,
  HOST,
  INFRA_ENV,
  NetworkObfuscator,
  Sanitizer,
} from "../src/sanitize/mod.ts";

Deno.test("user_id is the scraper's FNV-1a 128-bit hash, in decimal", () => {
  // Published FNV-1a 128 test vectors.
  assert.equal(BigInt(userId("foobar")!).toString(16), "343e1662793c64bf6f0d3597ba446f18");
  assert.equal(BigInt(userId("a")!).toString(16), "d228cb696f1a8caf78912b704e4a8964");
  assert.equal(userId(""), null);
  assert.equal(userId(null), null);
  assert.match(userId("jdoe")!, /^\d+$/);
});

/** The keyed user pseudonym, computed here from its definition: HMAC-SHA-256("user:" + name). */
async function keyedUser(raw: Uint8Array, name: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    raw as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`user:${name}`));
  return `user-hmac:${
    Array.from(new Uint8Array(mac), (b) => b.toString(16).padStart(2, "0")).join("").slice(0, 32)
  }`;
}

Deno.test("e-mail pseudonyms are HMAC-SHA-256 of the normalised address", async () => {
  // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
  const jefe = await importHmacKey(new TextEncoder().encode("Jefe"));
  assert.equal(
    await emailHmac(jefe, "what do ya want for nothing?"),
    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
  );
  assert.equal(normaliseEmail("  Jane.Doe@Example.COM "), "jane.doe@example.com");
  assert.equal(await emailHmac(jefe, " A@B.example"), await emailHmac(jefe, "a@b.example"));
  const other = await importHmacKey(new Uint8Array(32).fill(7));
  assert.notEqual(await emailHmac(jefe, "a@b.example"), await emailHmac(other, "a@b.example"));
});

Deno.test("timestamps keep the consumer's layouts, truncating to milliseconds", () => {
  assert.equal(formatDateTime("2026-11-27 10:00:00.123999+00"), "2026-11-27T10:00:00.123Z");
  assert.equal(formatDateTime("2026-11-27T10:00:00+00:00"), "2026-11-27T10:00:00.000Z");
  assert.equal(formatDateTime("2026-11-27T10:00:00.5+00:00"), "2026-11-27T10:00:00.500Z");
  assert.equal(formatTime("2026-11-27T21:13:39.954685+00:00"), "2026-11-27T21:13:39.954685Z");
  assert.equal(formatTime("2026-11-27T21:13:39.950000+00:00"), "2026-11-27T21:13:39.95Z");
  assert.equal(formatTime("2026-11-27T21:13:39+00:00"), "2026-11-27T21:13:39Z");
  assert.equal(formatDateTime("2026-11-27T12:00:00.250+02:00"), "2026-11-27T10:00:00.250Z");
  assert.equal(formatDateTime("infinity"), null);
  assert.equal(encodeValue(null, "dateTime"), "0001-01-01T00:00:00.000Z");
  assert.equal(encodeValue(null, "time"), "0001-01-01T00:00:00Z");
  assert.equal(encodeValue(null, "dateTimePtr"), null);
});

Deno.test("a UTC session's timestamps, read by hand, give what the general reading gives", () => {
  const digits = (n: number) =>
    fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: n, maxLength: n });
  // Independent of the code: the layout written out from the parts.
  const expected = (date: string, time: string, fraction: string | undefined) =>
    `${date}T${time}.${(fraction ?? "").padEnd(3, "0").slice(0, 3)}Z`;
  fc.assert(fc.property(
    digits(4),
    digits(2),
    digits(2),
    digits(2),
    digits(2),
    digits(2),
    fc.option(fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: 1, maxLength: 9 }), {
      nil: undefined,
    }),
    (y, mo, d, h, mi, s, fraction) => {
      const date = `${y}-${mo}-${d}`;
      const time = `${h}:${mi}:${s}`;
      const text = `${date} ${time}${fraction === undefined ? "" : "." + fraction}+00`;
      assert.equal(formatDateTime(text), expected(date, time, fraction));
    },
  ));
  // Near misses are not taken by the quick reading: the general one decides.
  assert.equal(formatDateTime("2026-11-27 10:00:00.+00"), null);
  assert.equal(formatDateTime("2026-11-27 10:00:00.1234567890+00"), null);
  assert.equal(formatDateTime("2026-11-27 10:0x:00.123+00"), null);
  assert.equal(formatDateTime(" 2026-11-27 10:00:00.123+00 "), "2026-11-27T10:00:00.123Z");
  assert.equal(formatDateTime("2026-11-27 10:00:00.5+00:00"), "2026-11-27T10:00:00.500Z");
});

Deno.test("values encode by their Go type", () => {
  assert.equal(encodeValue("", "string"), ABSENT);
  assert.equal(encodeValue(null, "string"), ABSENT);
  assert.equal(encodeValue("", "stringPtr"), "");
  assert.equal(encodeValue(null, "stringPtr"), ABSENT);
  assert.equal(encodeValue(null, "stringAlways"), null);
  assert.equal(encodeValue(false, "bool"), ABSENT);
  assert.equal(encodeValue(true, "bool"), true);
  assert.equal(encodeValue(false, "boolPtr"), false);
  assert.equal(encodeValue(0, "int"), ABSENT);
  assert.equal(encodeValue("42", "int"), 42);
  assert.equal(encodeValue(0, "intPtr"), 0);
  assert.equal(encodeValue("not a number", "intPtr"), ABSENT);
});

Deno.test("reductions keep the fact, not the value", () => {
  assert.equal(reduceProxy("http://user:pw@proxy:3128"), "http+credentials");
  assert.equal(reduceProxy("https://proxy.corp:3128"), "https");
  assert.equal(reduceProxy("proxy.corp:3128"), "http");
  assert.equal(reduceProxy(""), "");
  assert.deepEqual(JSON.parse(reduceKeyPaths('{"a":{"b":"secret"},"c":[{"d":1}]}')), [
    "a.b",
    "c[].d",
  ]);
  assert.deepEqual(JSON.parse(reduceKeyPaths("{not json")), ["<unparseable>"]);
  assert.deepEqual(JSON.parse(reduceArgs('["--append-karg","ip=10.0.0.1","--copy-network"]')), [
    "--append-karg",
    "--copy-network",
  ]);
  assert.deepEqual(JSON.parse(reduceKernelArgs('[{"operation":"append","value":"ip=10.0.0.1"}]')), [
    { operation: "append", name: "ip" },
  ]);
  const inv = JSON.parse(reduceInventory(JSON.stringify({
    hostname: "h1",
    bmc_address: "10.0.0.9",
    cpu: { count: 8, architecture: "x86_64" },
    disks: [{ serial: "S1", size_bytes: 10, drive_type: "SSD" }],
    interfaces: [{ mac_address: "aa:bb", ipv4_addresses: ["10.0.0.1/24"], speed_mbps: 1000 }],
    system_vendor: { manufacturer: "Dell", serial_number: "S2" },
  })));
  assert.deepEqual(inv.cpu, { architecture: "x86_64", count: 8 });
  assert.deepEqual(inv.disks, [{ drive_type: "SSD", size_bytes: 10 }]);
  assert.deepEqual(inv.interfaces, [{ speed_mbps: 1000 }]);
  assert.deepEqual(inv.system_vendor, { manufacturer: "Dell" });
  assert.ok(!JSON.stringify(inv).includes("10.0.0"));
  assert.deepEqual(JSON.parse(reduceInventory("][")), { unparseable: true });
});

Deno.test("free text loses credentials and tokens", () => {
  const cases: Array<[string, string]> = [
    ["proxy http://bob:hunter2@proxy:3128 down", "hunter2"],
    ["GET https://img/x?api_key=abc123def&arch=x86", "abc123def"],
    ["https://svc/bytoken/tok3n-value/4.14/minimal.iso", "tok3n-value"],
    ["Authorization: Bearer abcdefghijklmnop", "abcdefghijklmnop"],
    ["jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl here", "eyJzdWIiOiIxMjMifQ"],
    [`basic ${btoa("admin:s3cretpass")}`, btoa("admin:s3cretpass")],
    ["password=hunter2 and more", "hunter2"],
  ];
  for (const [text, secret] of cases) {
    const out = removeSecrets(text);
    assert.ok(!out.includes(secret), `${text} → ${out}`);
    assert.ok(out.includes(REDACTED), out);
  }
  const plain = "Host master-0: updated status from discovering to known (Host is ready)";
  assert.equal(removeSecrets(plain), plain);
});

Deno.test("the scrubber hashes addresses, removes known secrets and survives bad JSON", async () => {
  const s = new TextScrubber(await importHmacKey(new Uint8Array(32)), {
    knownSecrets: ["planted-secret-value"],
  });
  const out = await s.text("by Jane@Example.com, see planted-secret-value");
  assert.ok(!out.includes("Jane@Example.com") && !out.includes("planted-secret-value"));
  assert.match(out, /email-hmac:[0-9a-f]{32}/);
  assert.equal(await s.text("Jane@Example.com"), await s.text("jane@example.com"));
  assert.notEqual(await s.text("jane@example.com"), await s.text("john@example.com"));
  const json = JSON.parse(
    await s.jsonText(
      '{"password":"x1","pullSecret":"y2","nested":{"token":"z3"},"ok":"a@b.io","n":1}',
    ),
  );
  assert.deepEqual([json.password, json.pullSecret, json.nested.token, json.n], [
    REDACTED,
    REDACTED,
    REDACTED,
    1,
  ]);
  assert.match(json.ok, /^email-hmac:/);
  const broken = await s.jsonText('{"password": "hunter2", "unterminated');
  assert.ok(!broken.includes("hunter2"));
  let deep = '"leaf"';
  for (let i = 0; i < 200; i++) deep = `[${deep}]`;
  assert.ok((await s.jsonText(deep)).includes(REDACTED));
});

Deno.test("an entity keeps only its allow-list: an unknown column is dropped", async () => {
  const sanitizer = new Sanitizer(new TextScrubber(await importHmacKey(new Uint8Array(32))));
  const host = await sanitizer.host({
    id: "h1",
    cluster_id: "c1",
    infra_env_id: "i1",
    status: "installed",
    brand_new_column: "leaky-value",
    fencing_credentials: '{"password":"bmc"}',
    user_name: "jdoe",
  });
  assert.ok(!JSON.stringify(host).includes("leaky-value"));
  assert.equal(host.fencing_credentials_set, true);
  assert.equal(host.fencing_credentials, undefined);
  assert.equal(host.user_id, await keyedUser(new Uint8Array(32), "jdoe"));
  assert.deepEqual(host.progress, {
    stage_started_at: "0001-01-01T00:00:00.000Z",
    stage_updated_at: "0001-01-01T00:00:00.000Z",
  });
  for (const policy of [CLUSTER, HOST, INFRA_ENV, EVENT]) {
    const keys = policy.fields.map((f) => f.key);
    assert.equal(new Set(keys).size, keys.length, `${policy.file} lists a key twice`);
    for (const column of Object.keys(policy.dropped)) {
      assert.ok(
        !policy.fields.some((f) => f.column === column && f.treatment === "keep"),
        `${column} is both kept and dropped`,
      );
    }
  }
});

Deno.test("the cluster's empty identity is filled from the pull secret, then pseudonymised", async () => {
  const sanitizer = new Sanitizer(new TextScrubber(await importHmacKey(new Uint8Array(32))));
  const c = await sanitizer.cluster({ id: "c1", user_name: "", email_domain: "Unknown" }, {
    user: "ocm-user",
    email: "x@corp.example",
  });
  assert.equal(c.user_id, await keyedUser(new Uint8Array(32), "ocm-user"));
  assert.equal(c.email_domain, "corp.example");
  assert.equal(c.user_name, undefined);
  assert.equal(c.deleted_at, null);
  assert.deepEqual(c["last-installation-preparation"], {});
});

Deno.test("a time column is rebuilt from its digits: only a real timestamp passes", async () => {
  const key = await importHmacKey(new Uint8Array(32));
  // A known secret that happens to be digits of a time does not mangle the timestamp…
  const s = new Sanitizer(new TextScrubber(key, { knownSecrets: ["23:33:15"] }));
  const event = (event_time: string) => s.eventSync({ event_time, severity: "info" }).event_time;
  assert.equal(event("2026-11-27 23:33:15.123456+00"), "2026-11-27T23:33:15.123Z");
  // …and no text that is not a timestamp reaches the output through a time column.
  assert.equal(event("password=hunter22"), null);
  assert.equal(event("2026-11-27 23:33:15 token=abc"), null);
  assert.equal(event("user@example.com"), null);
});

Deno.test("kernel and installer arguments keep short names only, never a value without '='", async () => {
  const { reduceArgs, reduceKernelArgs } = await import("../src/sanitize/reduce.ts");
  assert.deepEqual(
    JSON.parse(reduceKernelArgs(JSON.stringify([
      { operation: "append", value: "ip=dhcp" },
      { operation: "append", value: "rd.break" },
      { operation: "append", value: "S3cretValue with spaces" },
    ]))),
    [
      { operation: "append", name: "ip" },
      { operation: "append", name: "rd.break" },
      { operation: "append", name: "[REDACTED]" },
    ],
  );
  assert.deepEqual(
    JSON.parse(
      reduceArgs(JSON.stringify(["--append-karg", "nosecret", "-pS3cr3t!", "--copy-network"])),
    ),
    ["--append-karg", "--copy-network"],
  );
});

Deno.test("disk names that carry serials never leave raw: by-id keys, paths and the installation disk", async () => {
  const { Sanitizer, TextScrubber } = await import("../src/sanitize/mod.ts");
  const sanitizer = new Sanitizer(new TextScrubber(await importHmacKey(new Uint8Array(32))));
  const host = await sanitizer.host({
    id: "h1",
    installation_disk_path: "/dev/disk/by-id/wwn-0x5000c500SERIAL42",
    disks_info: JSON.stringify({
      "/dev/sda": { disk_speed: { tested: true, speed_ms: 3 }, path: "/dev/sda" },
      "/dev/disk/by-id/ata-SAMSUNG_MZ7_S45NSERIAL43": {
        disk_speed: { tested: true, speed_ms: 9 },
        path: "/dev/disk/by-id/ata-SAMSUNG_MZ7_S45NSERIAL43",
      },
    }),
  });
  const text = JSON.stringify(host);
  assert.ok(!text.includes("SERIAL42") && !text.includes("SERIAL43"), text);
  assert.equal(host.installation_disk_path, "[disk id]");
  assert.deepEqual(JSON.parse(host.disks_info as string), {
    "/dev/sda": { disk_speed: { tested: true, speed_ms: 3 }, path: "/dev/sda" },
    "disk-0": { disk_speed: { tested: true, speed_ms: 9 }, path: "[disk id]" },
  });
  assert.equal(
    (await sanitizer.host({ id: "h2", installation_disk_path: "/dev/nvme0n1" }))
      .installation_disk_path,
    "/dev/nvme0n1",
  );
});

Deno.test("OBFUSCATE=networking: short names, outside names, BMCs, padded IPv4, MAC spellings and WWNs", async () => {
  const { NetworkObfuscator } = await import("../src/sanitize/network.ts");
  const n = new NetworkObfuscator();
  n.learn("host", "master-0.lab.example.com");
  const out = n.text(
    "master-0 at 010.001.002.003 (10.1.2.3), mac aabb.ccdd.eeff = aabbccddeeff = aa:bb:cc:dd:ee:ff, " +
      "disk wwn-0x5000c500a1b2c3d4, pulls registry.corp.example:5000/ai via bastion.corp.example, " +
      "bmc idrac-7.oob.corp.example; images from quay.io and registry.redhat.io; install-config.yaml",
  );
  for (
    const raw of [
      "master-0",
      "010.001.002.003",
      "10.1.2.3",
      "aabb.ccdd.eeff",
      "aabbccddeeff",
      "aa:bb:cc:dd:ee:ff",
      "5000c500a1b2c3d4",
      "registry.corp.example",
      "bastion.corp.example",
      "idrac-7",
    ]
  ) {
    assert.ok(!out.includes(raw), `${raw} in ${out}`);
  }
  // One pseudonym per address and per MAC, however spelled; public names and file names stay.
  assert.equal(out.match(/ipv4-\d+/g)!.length, 2);
  assert.equal(new Set(out.match(/ipv4-\d+/g)).size, 1);
  assert.equal(new Set(out.match(/mac-\d+/g)).size, 1);
  for (const kept of ["quay.io", "registry.redhat.io", "install-config.yaml"]) {
    assert.ok(out.includes(kept), kept);
  }
});

Deno.test("an event written as JSON text is exactly the JSON of its object, row after row", async () => {
  const key = await importHmacKey(new Uint8Array(32).fill(3));
  const uuid = fc.uuid();
  const hosts = Array.from({ length: 3 }, () => crypto.randomUUID());
  // Small pools, so that consecutive rows often share a value and differ in another column.
  const value = (pool: fc.Arbitrary<string>) =>
    fc.oneof(
      { weight: 6, arbitrary: pool },
      { weight: 1, arbitrary: fc.constantFrom(null, undefined, "") },
      { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
    );
  const message = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.constantFrom(
        "Host node-1: updated status from installing to installing-in-progress (Writing image to disk)",
        "User jane.doe@customer.example started the installation",
        "password=hunter2hunter2 and token: abcdefabcdef0123456789",
        `Cluster was prepared successfully for installation`,
        'quote " backslash \\ newline \n tab \t unicode \u2028 ü',
        // A metric's name: its props are kept only for a metrics event.
        "host.stage.duration",
        // Read by its template (name host_status_updated) or strictly, as free text.
        "Host node-1: updated status from installing to installing-in-progress (/dev/disk/by-id/wwn-0x5000c500a1b2c3d4)",
      ),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 80 }) },
    { weight: 1, arbitrary: fc.string({ minLength: 40, maxLength: 120 }) },
  );
  const row = fc.record({
    cluster_id: value(uuid),
    host_id: value(fc.constantFrom(...hosts)),
    infra_env_id: value(uuid),
    category: value(fc.constantFrom("user", "metrics")),
    name: value(fc.constantFrom("host_status_updated", "cluster_installation_started", "nope")),
    severity: value(fc.constantFrom("info", "warning", "error")),
    event_time: value(fc.constantFrom(
      "2026-11-27 10:00:03.599001+00",
      "2026-11-27 10:00:03+00",
      "2026-11-27T12:00:00.250+02:00",
      "not a time",
    )),
    message: value(message),
    props: value(fc.constantFrom(
      '{"duration":12.5,"host_role":"master","result":"Done"}',
      '{"password":"hunter2hunter2"}',
      "not json",
    )),
    request_id: value(uuid),
  });
  const network = () => {
    const n = new NetworkObfuscator();
    n.learn("host", "node-1");
    n.learn("domain", "customer.example");
    return n;
  };
  await fc.assert(
    fc.asyncProperty(
      fc.array(row, { maxLength: 30 }),
      fc.boolean(),
      fc.boolean(),
      async (rows, obfuscate, hostIdIsSecret) => {
        // Two sanitisers, so neither's memory of the previous row helps the other.
        const [a, b] = [0, 1].map(() =>
          new Sanitizer(
            new TextScrubber(key, {
              ...(obfuscate ? { network: network() } : {}),
              // An id that is also a known secret is no longer written as it is.
              knownSecrets: hostIdIsSecret ? [hosts[0]] : [],
            }),
          )
        );
        for (const r of rows) {
          await a.prepare([r]);
          await b.prepare([r]);
          assert.equal(a.eventJson(r), JSON.stringify(b.eventSync(r)));
        }
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("a metrics event named like an object's own property (valueOf, constructor) keeps no props", async () => {
  const sanitizer = new Sanitizer(new TextScrubber(await importHmacKey(new Uint8Array(32))));
  const props = '{"duration":12.5,"host_role":"master","result":"Done"}';
  for (const message of ["valueOf", "constructor", "toString", "__proto__", "hasOwnProperty"]) {
    const event = sanitizer.eventSync({ category: "metrics", severity: "info", message, props });
    assert.equal(event.props, "{}", message);
    assert.equal(
      JSON.parse(sanitizer.eventJson({ category: "metrics", message, props })).props,
      "{}",
    );
  }
});
