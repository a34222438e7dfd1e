import assert from "node:assert/strict";
import { cli, serveHealthy } from "./support/cli.ts";
import { SETTINGS } from "../src/config/mod.ts";
import { seedCluster } from "./fixtures/assisted_data.ts";
import { scenario } from "./support/scenario.ts";

Deno.test("--help lists every command, endpoint and setting", async () => {
  const { code, stdout } = await cli(["--help"]);
  assert.equal(code, 0);
  for (
    const word of [
      "serve",
      "once",
      "opt-out",
      "opt-in",
      "receive",
      "/healthz",
      "/readyz",
      "/v1/status",
      "/v1/trigger",
      "/v1/opt-out",
      "/v1/opt-in",
    ]
  ) {
    assert.ok(stdout.includes(word), word);
  }
  for (const [name] of SETTINGS) assert.ok(stdout.includes(name), name);
});

Deno.test("bad configuration exits 2, naming every bad setting, sending nothing", async () => {
  const { code, stderr } = await cli(["once"], {
    ENABLE_DATA_COLLECTION: "perhaps",
    DATA_UPLOAD_ENDPOINT: "http://example.com",
    DB_PASS: "s3cret-pass",
  });
  assert.equal(code, 2);
  for (const name of ["ENABLE_DATA_COLLECTION", "DATA_UPLOAD_ENDPOINT", "DATABASE_URL"]) {
    assert.ok(stderr.includes(name), name);
  }
  assert.ok(!stderr.includes("s3cret-pass"));
  assert.equal((await cli(["frobnicate"])).code, 2);
});

Deno.test("once: 0 when all went out, 1 when an upload or the database failed", async () => {
  await scenario(async ({ db, receiver }) => {
    const env = { DATABASE_URL: db.url, DATA_UPLOAD_ENDPOINT: receiver.endpoint };
    assert.equal((await cli(["once"], env)).code, 0);
    await seedCluster(db.sql, crypto.randomUUID());
    const sent = await cli(["once"], env);
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(JSON.parse(sent.stdout).sent, 1);
    await seedCluster(db.sql, crypto.randomUUID());
    const refused = await cli(["once"], {
      ...env,
      DATA_UPLOAD_ENDPOINT: "http://127.0.0.1:1/upload",
    });
    assert.equal(refused.code, 1);
    assert.equal(JSON.parse(refused.stdout).failed, 1);
    assert.equal(
      (await cli(["once"], { ...env, DATABASE_URL: "postgres://x@127.0.0.1:1/none" })).code,
      1,
    );
    const off = await cli(["once"], { ...env, ENABLE_DATA_COLLECTION: "no" });
    assert.equal(off.code, 0);
    assert.match(off.stderr, /opted out/);
  });
});

Deno.test("opt-out and opt-in commands flip the recorded state", async () => {
  await scenario(async ({ db, receiver }) => {
    const env = { DATABASE_URL: db.url, DATA_UPLOAD_ENDPOINT: receiver.endpoint };
    const out = await cli(["opt-out"], env);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(JSON.parse(out.stdout).collection.enabled, false);
    await seedCluster(db.sql, crypto.randomUUID());
    assert.equal(JSON.parse((await cli(["once"], env)).stdout).optedOut, true);
    const back = await cli(["opt-in"], env);
    assert.equal(JSON.parse(back.stdout).collection.enabled, true);
    assert.equal(receiver.requests, 0);
  });
});

Deno.test("serve answers health checks and stops cleanly on SIGTERM", async () => {
  await scenario(async ({ db, receiver }) => {
    const { child, stderr } = await serveHealthy({
      DATABASE_URL: db.url,
      DATA_UPLOAD_ENDPOINT: receiver.endpoint,
    });
    child.kill("SIGTERM");
    const status = await child.status;
    const logs = await stderr;
    assert.equal(status.code, 0, logs);
    assert.match(logs, /"msg":"shutting down"/);
    for (const line of logs.trim().split("\n")) JSON.parse(line);
  });
});

Deno.test("<command> --help helps and does nothing else; bad usage exits 2 with the usage, no stack", async () => {
  await scenario(async ({ db, receiver }) => {
    const env = { DATABASE_URL: db.url, DATA_UPLOAD_ENDPOINT: receiver.endpoint };
    for (const command of ["once", "opt-out", "opt-in", "preview", "receive", "serve"]) {
      const help = await cli([command, "--help"], env);
      assert.equal(help.code, 0, command);
      assert.match(help.stdout, new RegExp(`^usage: deno run -A main.ts ${command}`), command);
    }
    const [state] = await db.sql`SELECT to_regclass('assisted_telemetry.enablement') AS t`;
    assert.equal(state.t, null, "no --help touched the database");
    assert.equal(receiver.requests, 0);
    for (
      const args of [
        ["once", "--bogus"],
        ["once", "extra"],
        ["opt-out", "now"],
        ["preview"],
        ["preview", "a", "b"],
        ["receive", "--port", "-1"],
        ["receive", "--port", "0x10"],
        ["receive", "--frobnicate"],
      ]
    ) {
      const bad = await cli(args, env);
      assert.equal(bad.code, 2, args.join(" "));
      assert.match(bad.stderr, /usage: deno run -A main.ts/, args.join(" "));
      assert.doesNotMatch(bad.stderr, /\n\s+at /, "no stack trace");
    }
  });
});

Deno.test("serve and receive that cannot listen say why and exit non-zero; a corrupt CA file is a configuration error", async () => {
  await scenario(async ({ db, receiver }) => {
    const busy = Deno.listen({ hostname: "0.0.0.0", port: 0 });
    const port = String((busy.addr as Deno.NetAddr).port);
    try {
      const serve = await cli(["serve"], {
        DATABASE_URL: db.url,
        DATA_UPLOAD_ENDPOINT: receiver.endpoint,
        PORT: port,
      });
      assert.equal(serve.code, 1, serve.stderr);
      assert.match(serve.stderr, /cannot listen.*the port is in use/);
      const receive = await cli(["receive", "--port", port, "--hostname", "0.0.0.0"]);
      assert.equal(receive.code, 1);
      assert.match(receive.stderr, /cannot listen on 0.0.0.0:\d+: the port is in use/);
    } finally {
      busy.close();
    }
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(
        `${dir}/bad.pem`,
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!!\n-----END CERTIFICATE-----\n",
      );
      const bad = await cli(["once"], {
        DATABASE_URL: db.url,
        DATA_UPLOAD_ENDPOINT: receiver.endpoint,
        UPLOAD_CA_FILE: `${dir}/bad.pem`,
      });
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /UPLOAD_CA_FILE: holds a PEM header but no usable certificate/);
      const unwritable = await cli(["receive", "--dir", "/proc/no-such/dir", "--port", "0"]);
      assert.equal(unwritable.code, 2);
      assert.match(unwritable.stderr, /--dir \/proc\/no-such\/dir cannot be used/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
