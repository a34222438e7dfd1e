import assert from "node:assert/strict";
import {
  ConfigError,
  DEFAULT_ENDPOINT,
  DEFAULT_PORT,
  isLoopbackHost,
  loadConfig,
  readVersions,
} from "../src/config/mod.ts";
import { parseDuration } from "../src/config/duration.ts";

const DB = { DATABASE_URL: "postgres://u:p@db:5432/installer" };

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("defaults are the documented ones", () => {
  const c = loadConfig(DB);
  assert.equal(c.enableDataCollection, true);
  assert.equal(c.uploadEndpoint, DEFAULT_ENDPOINT);
  assert.equal(c.port, DEFAULT_PORT);
  assert.ok(![8080, 8090, 8888, 5432].includes(c.port));
  assert.equal(c.scanIntervalMs, 5 * 60_000);
  assert.equal(c.uploadTimeoutMs, 60_000);
  assert.equal(c.triggerToken, undefined);
  assert.equal(c.deploymentType, "");
});

Deno.test("ENABLE_DATA_COLLECTION accepts false, 0 and no as opt-out", () => {
  for (const off of ["false", "0", "no", "NO", " False "]) {
    assert.equal(
      loadConfig({ ...DB, ENABLE_DATA_COLLECTION: off }).enableDataCollection,
      false,
      off,
    );
  }
  for (const on of ["true", "1", "yes", ""]) {
    assert.equal(loadConfig({ ...DB, ENABLE_DATA_COLLECTION: on }).enableDataCollection, true, on);
  }
});

Deno.test("every bad setting is named at once, and no value is echoed", () => {
  const list = problems({
    ENABLE_DATA_COLLECTION: "maybe",
    DATA_UPLOAD_ENDPOINT: "http://example.com/upload",
    PORT: "99999",
    SCAN_INTERVAL: "soon",
    TRIGGER_TOKEN: "hunter2",
    LOG_LEVEL: "chatty",
  });
  const named = list.map((p) => p.split(":")[0]).sort();
  assert.deepEqual(named, [
    "DATABASE_URL",
    "DATA_UPLOAD_ENDPOINT",
    "ENABLE_DATA_COLLECTION",
    "LOG_LEVEL",
    "PORT",
    "SCAN_INTERVAL",
    "TRIGGER_TOKEN",
  ]);
  assert.ok(!list.join("\n").includes("hunter2"));
});

Deno.test("the endpoint must be https, or http only to loopback", () => {
  assert.equal(
    loadConfig({ ...DB, DATA_UPLOAD_ENDPOINT: "http://127.0.0.1:8766/x" }).uploadEndpoint,
    "http://127.0.0.1:8766/x",
  );
  assert.ok(loadConfig({ ...DB, DATA_UPLOAD_ENDPOINT: "http://localhost:1/x" }));
  assert.ok(loadConfig({ ...DB, DATA_UPLOAD_ENDPOINT: "https://ingress.example/x" }));
  for (
    const bad of [
      "http://10.0.0.1/x",
      "http://127.0.0.1.example.com/x",
      "ftp://127.0.0.1/x",
      "not a url",
      "https://user:pw@ingress.example/x",
    ]
  ) {
    assert.deepEqual(problems({ ...DB, DATA_UPLOAD_ENDPOINT: bad }).map((p) => p.split(":")[0]), [
      "DATA_UPLOAD_ENDPOINT",
    ], bad);
  }
  assert.equal(isLoopbackHost("127.1.2.3"), true);
  assert.equal(isLoopbackHost("[::1]"), true);
  assert.equal(isLoopbackHost("128.0.0.1"), false);
});

Deno.test("assisted-service's DB_* settings build the URL, escaping the password", () => {
  const c = loadConfig({
    DB_HOST: "postgres",
    DB_PORT: "5433",
    DB_USER: "admin",
    DB_PASS: "p@ss:/word",
    DB_NAME: "installer",
  });
  assert.equal(c.databaseUrl, "postgres://admin:p%40ss%3A%2Fword@postgres:5433/installer");
  assert.equal(new URL(c.databaseUrl).password, "p%40ss%3A%2Fword");
  assert.deepEqual(problems({ DB_HOST: "postgres" }), [
    "DATABASE_URL: required, or set DB_HOST, DB_USER and DB_NAME (missing DB_USER, DB_NAME)",
  ]);
  assert.deepEqual(problems({ DATABASE_URL: "mysql://x@y/z" }).map((p) => p.split(":")[0]), [
    "DATABASE_URL",
  ]);
});

Deno.test("durations parse Go-style, and out-of-range intervals are refused", () => {
  assert.equal(parseDuration("200ms"), 200);
  assert.equal(parseDuration("30s"), 30_000);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("1.5s"), 1500);
  for (const bad of ["", "5", "5 m", "m5", "-1s", "1d"]) {
    assert.equal(parseDuration(bad), undefined, bad);
  }
  assert.equal(loadConfig({ ...DB, SCAN_INTERVAL: "30s" }).scanIntervalMs, 30_000);
  assert.deepEqual(problems({ ...DB, SCAN_INTERVAL: "10ms" }).map((p) => p.split(":")[0]), [
    "SCAN_INTERVAL",
  ]);
});

Deno.test("versions.json takes assisted-service's settings, prefixed names first", () => {
  const v = readVersions({
    SELF_VERSION: "quay.io/x/assisted-service:v1",
    MYAPP_VERSIONS_AGENT_DOCKER_IMAGE: "quay.io/x/agent:prefixed",
    AGENT_DOCKER_IMAGE: "quay.io/x/agent:bare",
  });
  assert.equal(v["assisted-installer-service"], "quay.io/x/assisted-service:v1");
  assert.equal(v["discovery-agent"], "quay.io/x/agent:prefixed");
  assert.equal(v["assisted-installer"], "quay.io/edge-infrastructure/assisted-installer:latest");
  assert.deepEqual(Object.keys(v).sort(), Object.keys(v));
  assert.equal(Object.keys(v).length, 4);
});

Deno.test("numbers are decimal whole numbers, in the project's words, each setting named once", () => {
  for (const bad of ["0x10", "1e3", "5.6432e4", "-1", "12abc", "99999"]) {
    assert.deepEqual(problems({ ...DB, PORT: bad }), [
      "PORT: must be a whole number from 1 to 65535",
    ], bad);
  }
  assert.deepEqual(problems({ ...DB, UPLOAD_MAX_ATTEMPTS: "1e3" }), [
    "UPLOAD_MAX_ATTEMPTS: must be a whole number from 1 to 1000",
  ]);
  const list = problems({ ...DB, PORT: "x", UPLOAD_CONCURRENCY: "0x2", LOG_LEVEL: "loud" });
  assert.equal(new Set(list.map((p) => p.split(":")[0])).size, list.length, "each named once");
  assert.ok(!list.join().includes("expected"), "no zod wording");
});

Deno.test("assisted-service's DB_* settings are checked like DATABASE_URL, and no password is printed", () => {
  const base = {
    DB_HOST: "postgres",
    DB_USER: "admin",
    DB_PASS: "s3cret-Passw0rd",
    DB_NAME: "installer",
  };
  for (const port of ["0x10", "1e3", "0", "65536"]) {
    assert.deepEqual(problems({ ...base, DB_PORT: port }), [
      "DB_PORT: must be a whole number from 1 to 65535",
    ], port);
  }
  assert.deepEqual(problems({ ...base, DB_HOST: "bad host" }), [
    "DB_HOST: must be a host name or address, without spaces",
  ]);
  assert.deepEqual(problems({ DATABASE_URL: "postgres://admin:s3cret-Passw0rd@db:99999/x" }), [
    "DATABASE_URL: its port must be 1-65535",
  ]);
  const all = [
    ...problems({ ...base, DB_PORT: "1e3" }),
    ...problems({ DATABASE_URL: "postgres://admin:s3cret-Passw0rd@db:99999/x" }),
    ...problems({ DATABASE_URL: "postgres://admin:s3cret-Passw0rd@/x" }),
  ].join("\n");
  assert.ok(!all.includes("s3cret-Passw0rd"), all);
  assert.equal(loadConfig({ ...base, DB_HOST: "::1" }).databaseUrl.includes("@[::1]:5432/"), true);
});

Deno.test("a blank upload endpoint is an error, not the production default; proxies are checked", () => {
  assert.deepEqual(problems({ ...DB, DATA_UPLOAD_ENDPOINT: "" }), [
    "DATA_UPLOAD_ENDPOINT: is empty; unset it to use the default",
  ]);
  assert.deepEqual(problems({ ...DB, DATA_UPLOAD_ENDPOINT: "   " }), [
    "DATA_UPLOAD_ENDPOINT: is empty; unset it to use the default",
  ]);
  assert.equal(loadConfig(DB).uploadEndpoint, DEFAULT_ENDPOINT);
  assert.deepEqual(problems({ ...DB, HTTPS_PROXY: "proxy host:3128" }), [
    "HTTPS_PROXY: must be an http:// or https:// proxy URL",
  ]);
  assert.deepEqual(problems({ ...DB, https_proxy: "socks5://proxy:1080" }), [
    "HTTPS_PROXY: must be an http:// or https:// proxy URL",
  ]);
  assert.deepEqual(problems({ ...DB, NO_PROXY: "a b,c" }), [
    "NO_PROXY: must be a comma-separated list of hosts, domains or addresses",
  ]);
  assert.ok(loadConfig({
    ...DB,
    HTTPS_PROXY: "http://user:pw@proxy.example:3128",
    NO_PROXY: "localhost,.cluster.local,10.0.0.0/8,*",
  }));
});
