import assert from "node:assert/strict";
import fc from "npm:fast-check@4.11.0";
import { Sanitizer, TextScrubber } from "../src/sanitize/mod.ts";
import { importHmacKey } from "../src/sanitize/pseudonym.ts";
import { CLUSTER, type EntityPolicy, EVENT, HOST, INFRA_ENV } from "../contract/policy.ts";
import { columnsOf } from "./support/columns.ts";

const key = await importHmacKey(new Uint8Array(32).fill(1));

/** Secret-shaped values: what a secret looks like when it sits in a column. */
const SHAPES: Array<(s: string) => string> = [
  (s) => `http://user:${s}@proxy.example:3128`,
  (s) => `see https://img.example/x?api_key=${s}&arch=x86_64 now`,
  (s) => `https://svc.example/bytoken/${s}/4.16/full.iso`,
  (s) => `Authorization: Bearer ${s}`,
  (s) => JSON.stringify({ password: s, ok: "yes" }),
  (s) =>
    JSON.stringify({
      auths: { "cloud.openshift.com": { auth: btoa(`user:${s}`), email: `${s}@corp.example` } },
    }),
  (s) => `creds ${btoa(`admin:${s}`)} here`,
  (s) => `mail ${s}@corp.example please`,
  (s) => `token=${s}`,
  (s) => `{"nested": {"secret": "${s}"}, "list": ["password: ${s}"]}`,
  (s) => `{"broken json with password": "${s}"`,
];

const secret = fc.stringMatching(/^[A-Za-z0-9]{12,24}$/).map((s) => `Zq${s}`);
const benign = fc.stringMatching(/^[a-z]{2,8}(-[a-z0-9]{1,8}){0,3}$/);

function entity(policy: EntityPolicy, table: string) {
  return { policy, columns: Object.keys(columnsOf(table)) };
}
const ENTITIES = [
  entity(CLUSTER, "clusters"),
  entity(HOST, "hosts"),
  entity(INFRA_ENV, "infra_envs"),
  entity(EVENT, "events"),
];

async function shape(policy: EntityPolicy, row: Record<string, unknown>) {
  const sanitizer = new Sanitizer(new TextScrubber(key));
  return JSON.stringify(await sanitizer.apply(policy, row));
}

Deno.test("property: a secret planted in any column of any entity never survives", async () => {
  for (const { policy, columns } of ENTITIES) {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(SHAPES.length - 1), secret), {
          minLength: columns.length,
          maxLength: columns.length,
        }),
        async (plants) => {
          const row = Object.fromEntries(
            columns.map((c, i) => [c, SHAPES[plants[i][0]](plants[i][1])]),
          );
          const out = await shape(policy, row);
          for (const [shapeIndex, s] of plants) {
            assert.ok(!out.includes(s), `${policy.file}: shape ${shapeIndex} leaked`);
            assert.ok(!out.includes(btoa(`user:${s}`)) && !out.includes(btoa(`admin:${s}`)));
          }
        },
      ),
      { numRuns: 60 },
    );
  }
});

Deno.test("property: allowed plain values pass through unchanged", async () => {
  for (const { policy } of ENTITIES) {
    const kept = policy.fields.filter((f) =>
      ["keep", "network", "text", "json"].includes(f.treatment) && f.encoding.startsWith("string")
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(benign, { minLength: kept.length, maxLength: kept.length }),
        async (values) => {
          const row = Object.fromEntries(
            kept.map((
              f,
              i,
            ) => [f.column, f.treatment === "json" ? JSON.stringify({ v: values[i] }) : values[i]]),
          );
          const out = JSON.parse(await shape(policy, row));
          kept.forEach((f, i) => {
            const got = f.key.split(".").reduce((o, k) => o?.[k], out);
            assert.equal(
              got,
              f.treatment === "json" ? JSON.stringify({ v: values[i] }) : values[i],
              f.key,
            );
          });
        },
      ),
      { numRuns: 40 },
    );
  }
});

Deno.test("property: free text loses every planted secret and keeps the rest of the words", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.oneof(benign, fc.tuple(fc.nat(SHAPES.length - 1), secret)), { maxLength: 12 }),
      async (parts) => {
        const text = parts.map((p) => (typeof p === "string" ? p : SHAPES[p[0]](p[1]))).join(" ");
        const out = await new TextScrubber(key).text(text);
        for (const p of parts) {
          if (typeof p === "string") assert.ok(out.includes(p), `lost ${p}`);
          else assert.ok(!out.includes(p[1]), `leaked ${p[1]} from shape ${p[0]}`);
        }
      },
    ),
    { numRuns: 200 },
  );
});
