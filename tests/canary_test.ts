import assert from "node:assert/strict";
import { unpackArchive } from "../src/bundle/mod.ts";
import {
  clusterRow,
  hostRow,
  infraEnvRow,
  insertRows,
  PLANTED,
  pullSecret,
} from "./fixtures/assisted_data.ts";
import { CLUSTER, type EntityPolicy, HOST, INFRA_ENV } from "../contract/policy.ts";
import { scenario } from "./support/scenario.ts";
import { columnsOf } from "./support/columns.ts";

/** A marker, shaped so the column's treatment gets a chance to keep it. */
function canary(policy: EntityPolicy, column: string, markers: string[]): string {
  const m = `CANARY${markers.length}x${crypto.randomUUID().replaceAll("-", "")}`;
  markers.push(m);
  const rule = policy.fields.find((f) => f.column === column);
  switch (rule?.treatment) {
    case "proxy":
      return `http://${m}:${m}@proxy.example:3128`;
    case "json":
    case "keyPaths":
      return JSON.stringify({ password: m, nested: { token: m }, note: `token=${m}` });
    case "inventory":
      return JSON.stringify({
        hostname: m,
        bmc_address: m,
        system_vendor: { serial_number: m },
        disks: [{ serial: m, by_id: m }],
      });
    case "args":
    case "kernelArgs":
      return JSON.stringify(["--append-karg", `ip=${m}`, {
        operation: "append",
        value: `ip=${m}`,
      }]);
    case "text":
      return `see https://x.example/bytoken/${m}/iso?api_key=${m} and Bearer ${m}`;
    case "diskName":
      return `/dev/disk/by-id/wwn-${m}`;
    case "disksInfo":
      return JSON.stringify({ [`/dev/disk/by-id/ata-${m}`]: { path: `/dev/disk/by-id/ata-${m}` } });
    default:
      return m;
  }
}

/** Every sensitive column: dropped ones and those the policy transforms. */
function sensitive(policy: EntityPolicy): string[] {
  const transformed = policy.fields.filter((f) => !["keep", "network"].includes(f.treatment)).map((
    f,
  ) => f.column);
  return [...new Set([...Object.keys(policy.dropped), ...transformed])].filter((c) =>
    !["id", "cluster_id", "infra_env_id", "deleted_at"].includes(c)
  );
}

Deno.test("canary: a marker in every sensitive column, a full pass, 0 leaks", async () => {
  await scenario(async ({ db, receiver, collector, secretFile }) => {
    const markers: string[] = [];
    const file = await secretFile(pullSecret({ password: "globalCanaryPassword01" }));
    const { collector: c, lines } = collector({
      PULL_SECRET_FILE: file,
      TRIGGER_TOKEN: "triggerCanaryToken-0123456789",
    });
    await c.reconcile();
    const id = crypto.randomUUID();
    const infraEnvId = crypto.randomUUID();
    const plant = (policy: EntityPolicy, table: string, row: Record<string, unknown>) => {
      const types = columnsOf(table);
      for (const column of sensitive(policy)) {
        const textual = /^(text|varchar)/.test(types[column] ?? "");
        if (textual && !["pull_secret", "user_name"].includes(column)) {
          row[column] = canary(policy, column, markers);
        }
      }
      return row;
    };
    const ie = plant(INFRA_ENV, "infra_envs", infraEnvRow(infraEnvId, id));
    const host = plant(HOST, "hosts", hostRow(crypto.randomUUID(), id, infraEnvId, 0));
    host.fencing_credentials = JSON.stringify({
      address: "redfish://bmc",
      username: "root",
      password: "bmcCanaryPassword01",
    });
    const cluster = plant(CLUSTER, "clusters", clusterRow(id));
    await insertRows(db.sql, "infra_envs", [ie]);
    await insertRows(db.sql, "hosts", [host]);
    await insertRows(db.sql, "clusters", [cluster]);
    await db.sql`INSERT INTO events (cluster_id, category, event_time, message, props) VALUES
      (${id}, 'user', now(), ${"user " + PLANTED.email + " token=" + markers[0]}, ${
      JSON.stringify({ password: markers[1] })
    })`;
    await db.sql`UPDATE clusters SET status_updated_at = clock_timestamp() WHERE id = ${id}`;

    assert.equal((await c.runPass()).sent, 1);
    const [upload] = await receiver.store.list();
    const archive = (await receiver.store.archive(upload.request_id))!;
    const text = (await unpackArchive(archive)).map((f) => new TextDecoder().decode(f.data)).join(
      "\n",
    );
    const secrets = [
      ...markers,
      "globalCanaryPassword01",
      "bmcCanaryPassword01",
      "triggerCanaryToken-0123456789",
      PLANTED.telemetryPassword,
      PLANTED.registryPassword,
      PLANTED.email,
    ];
    const leaks = secrets.filter((s) => text.includes(s));
    assert.ok(markers.length > 60, `only ${markers.length} markers planted`);
    assert.deepEqual(leaks, [], `${leaks.length} leaks`);
    // The logs of that pass hold none of them either.
    const logs = lines.join("\n");
    assert.deepEqual(secrets.filter((s) => logs.includes(s)), []);
  });
});

Deno.test("schema drift: a column assisted-service adds tomorrow is dropped, not leaked", async () => {
  await scenario(async ({ db, receiver, collector }) => {
    const { seedCluster } = await import("./fixtures/assisted_data.ts");
    const { collector: c } = collector();
    await c.reconcile();
    for (const table of ["clusters", "hosts", "infra_envs", "events"]) {
      await db.sql.unsafe(
        `ALTER TABLE ${table} ADD COLUMN brand_new_secret text DEFAULT 'driftSecret-${table}'`,
      );
    }
    await seedCluster(db.sql, crypto.randomUUID());
    assert.equal((await c.runPass()).sent, 1);
    const [upload] = await receiver.store.list();
    const text = (await unpackArchive((await receiver.store.archive(upload.request_id))!))
      .map((f) => new TextDecoder().decode(f.data)).join("\n");
    assert.ok(!text.includes("driftSecret") && !text.includes("brand_new_secret"));
  });
});

Deno.test("logs hold no secret, even when uploads fail and echo what they were sent", async () => {
  const token = btoa(`${PLANTED.telemetryUser}:${PLANTED.telemetryPassword}`);
  await scenario(async ({ db, collector }) => {
    const { seedCluster } = await import("./fixtures/assisted_data.ts");
    const { collector: c, lines } = collector({
      TRIGGER_TOKEN: "triggerLogToken-0123456789",
      LOG_LEVEL: "debug",
    });
    await c.reconcile();
    await seedCluster(db.sql, crypto.randomUUID());
    const result = await c.runPass();
    assert.equal(result.failed, 1);
    const logs = lines.join("\n");
    for (const s of [...Object.values(PLANTED), token, "triggerLogToken-0123456789"]) {
      assert.ok(!logs.includes(s), s);
    }
    assert.match(logs, /upload failed/);
  }, {
    answer: (_n, req) =>
      new Response(
        `bad token ${
          req.headers.get("authorization")
        } for ${PLANTED.email} password=${PLANTED.bmcPassword}`,
        { status: 401 },
      ),
  });
});

Deno.test("canary: every shape of the review, in messages, props, JSON and reduced columns, leaves in no form", async () => {
  const { SHAPES, EMAIL_SPELLINGS, leakForms } = await import("./fixtures/secret_shapes.ts");
  const { seedCluster } = await import("./fixtures/assisted_data.ts");
  await scenario(async ({ db, receiver, collector }) => {
    const { collector: c, service } = collector();
    await c.reconcile();
    const id = crypto.randomUUID();
    await seedCluster(db.sql, id, { events: 5 });
    const texts = [...SHAPES.map(([t]) => t), ...EMAIL_SPELLINGS.map(([t]) => `mail ${t} now`)];
    const secrets = [...SHAPES.map(([, s]) => s), ...EMAIL_SPELLINGS.map(([, s]) => s)];
    for (const [i, text] of texts.entries()) {
      // In a template's free-text parameter, in a message of no template, and in props.
      await db
        .sql`INSERT INTO events (cluster_id, category, name, severity, event_time, message, props) VALUES
        (${id}, 'user', 'host_status_updated', 'info', now(),
          ${`Host master-0: updated status from installing to error ${text}`}, ''),
        (${id}, 'user', 'cluster_installation_failed', 'critical', now(),
          ${`Failed installing cluster. Reason: ${text}`}, ${JSON.stringify({ note: text })}),
        (${id}, 'user', ${`unknown_event_${i}`}, 'error', now(), ${text}, ''),
        (${id}, 'metrics', NULL, 'info', now(), 'host.stage.duration',
          ${JSON.stringify({ vendor: text, host_stage: "Done", duration: 1, extra: text })})`;
    }
    const json = JSON.stringify(Object.fromEntries(texts.map((t, i) => [`k${i}`, t])));
    await db.sql`UPDATE clusters SET validations_info = ${json}, status_info = ${texts.join(" | ")},
      feature_usage = ${
      JSON.stringify({
        passphrase: "ppPlanted99",
        accessKey: "akPlanted99",
        privateKeyPem: "pkPlanted99",
        sshKey: "skPlanted99",
        clientKey: "ckPlanted99",
        cookie: "cookiePlanted77",
      })
    },
      status_updated_at = clock_timestamp() WHERE id = ${id}`;
    await db.sql`UPDATE hosts SET installer_args = ${JSON.stringify(["--copy-network", ...texts])},
      installation_disk_path = '/dev/disk/by-id/wwn-0x5000c500SERIALPLANTED'
      WHERE cluster_id = ${id}`;
    secrets.push(
      "ppPlanted99",
      "akPlanted99",
      "pkPlanted99",
      "skPlanted99",
      "ckPlanted99",
      "cookiePlanted77",
      "SERIALPLANTED",
    );

    assert.equal((await c.runPass()).sent, 1);
    const [upload] = await receiver.store.list();
    const sent = (await unpackArchive((await receiver.store.archive(upload.request_id))!))
      .map((f) => new TextDecoder().decode(f.data)).join("\n");
    const preview = await service.app.fetch(new Request(`http://c/v1/clusters/${id}/preview`), {
      peer: "127.0.0.1",
    });
    const previewed = (await unpackArchive(new Uint8Array(await preview.arrayBuffer())))
      .map((f) => new TextDecoder().decode(f.data)).join("\n");
    for (const [what, text] of [["upload", sent], ["preview", previewed]]) {
      const leaks = secrets.flatMap((s) => leakForms(s).filter((form) => text.includes(form)));
      assert.deepEqual(leaks, [], `${what}: ${leaks.length} leaks`);
      assert.match(text, /email-hmac:[0-9a-f]{32}/, `${what}: addresses become pseudonyms`);
    }
  });
});
