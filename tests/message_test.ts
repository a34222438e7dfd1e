/** Event messages read by their template, and metrics props by their metric's allow-list. */
import assert from "node:assert/strict";
import { EVENT_TEMPLATES, EVENT_TEMPLATES_SOURCE } from "../contract/event_templates.ts";
import { METRIC_PROPS } from "../contract/policy.ts";
import { compileTemplate, MessageReader, metricProps } from "../src/sanitize/message.ts";
import { NetworkObfuscator } from "../src/sanitize/network.ts";
import { importHmacKey } from "../src/sanitize/pseudonym.ts";
import { TextScrubber } from "../src/sanitize/text.ts";

const KEY = await importHmacKey(new Uint8Array(32).fill(7));

function reader(options: { network?: boolean; secrets?: string[] } = {}) {
  const network = options.network ? new NetworkObfuscator() : undefined;
  network?.learn("host", "master-0.lab.example.com");
  const scrubber = new TextScrubber(KEY, { knownSecrets: options.secrets ?? [], network });
  return { scrubber, reader: new MessageReader(scrubber) };
}

Deno.test("templates: every one of the 80 parses, with each parameter's kind declared", () => {
  assert.equal(EVENT_TEMPLATES.length, 80);
  assert.match(EVENT_TEMPLATES_SOURCE, /assisted-service@063b25795/);
  for (const t of EVENT_TEMPLATES) {
    const compiled = compileTemplate(t.template, t.params);
    // The template rendered with placeholder values matches itself.
    const sample = t.template.replace(/\{(\w+)\}/g, (_, name) =>
      ({
        uuid: "0b1f4a40-3c55-4c9b-9a4e-0c6c0c2b7d11",
        integer: "42",
        boolean: "true",
        enum: "installed",
        host: "master-0",
        address: "192.168.111.5",
        disk: "/dev/sda",
        image: "quay.io/org/agent:v1",
        text: "some words",
      })[t.params[name]]);
    assert.ok(compiled.pattern.test(sample), t.name);
  }
  assert.throws(
    () => compileTemplate("Host {host_name}: {undeclared}", { host_name: "host" }),
    /no declared kind/,
  );
});

Deno.test("messages: fixed text kept, each parameter treated by its kind", () => {
  const { reader: r } = reader();
  assert.equal(
    r.read(
      "host_status_updated",
      "Host master-0: updated status from installing to installing-in-progress (Writing image to disk)",
    ),
    "Host master-0: updated status from installing to installing-in-progress (Writing image to disk)",
  );
  assert.equal(
    r.read(
      "quick_disk_format_performed",
      "master-0: Performing quick format of disk /dev/sda(/dev/disk/by-id/wwn-0x5000c500a1b2c3d4)",
    ),
    "master-0: Performing quick format of disk /dev/sda([disk id])",
  );
  assert.equal(
    r.read(
      "upgrade_agent_started",
      "Host master-0: Agent has been instructed to download image 'robot:s3cr3tPassw0rd@registry.corp.example/ai/agent:v2' and restart",
    ),
    "Host master-0: Agent has been instructed to download image 'registry.corp.example/ai/agent:v2' and restart",
  );
  const failed = r.read(
    "cluster_installation_failed",
    "Failed installing cluster. Reason: bootstrap timed out; ask jane.doe@customer.example, password=hunter2hunter2",
  );
  assert.match(
    failed,
    /^Failed installing cluster\. Reason: bootstrap timed out; ask email-hmac:|\[EMAIL\]/,
  );
  assert.ok(!failed.includes("hunter2hunter2"), failed);
  assert.ok(!failed.includes("jane.doe"), failed);
  // A status that is not a short word: the message is not of its template, so it is free text.
  const odd = r.read(
    "cluster_status_updated",
    "Updated status of the cluster to installed by admin@corp.example",
  );
  assert.ok(!odd.includes("admin@corp.example"), odd);
});

Deno.test("messages: unknown names and mismatches are free text, with disk ids removed", () => {
  const { reader: r } = reader({ secrets: ["bmcPassw0rd-planted"] });
  const out = r.read(
    "some_future_event",
    "Disk /dev/disk/by-id/ata-SAMSUNG_MZ7LH960_S45NNA0M123456 failed; BMC password bmcPassw0rd-planted",
  );
  assert.ok(!out.includes("S45NNA0M123456"), out);
  assert.ok(!out.includes("bmcPassw0rd-planted"), out);
  assert.equal(r.read(null, "plain words"), "plain words");
});

Deno.test("messages: host names and VIPs are pseudonymised under OBFUSCATE=networking", () => {
  const { reader: r } = reader({ network: true });
  const out = r.read(
    "api_ingress_vip_updated",
    "Cluster was updated with api-vip 192.168.111.5, ingress-vip 192.168.111.4",
  );
  assert.ok(out.startsWith("Cluster was updated with api-vip "), out);
  assert.ok(!out.includes("192.168.111.5") && !out.includes("192.168.111.4"), out);
  const host = r.read(
    "host_registration_succeeded",
    "Host master-0.lab.example.com: Successfully registered",
  );
  assert.ok(!host.includes("master-0.lab.example.com"), host);
  assert.match(host, /: Successfully registered$/);
});

Deno.test("metrics props: only the keys each metric defines leave", () => {
  const { scrubber } = reader();
  const props = JSON.stringify({
    duration: 412.7,
    host_stage: "Writing image to disk",
    result: "Done",
    vendor: "Dell Inc.",
    product: "PowerEdge R650",
    disk_type: "SSD",
    host_role: "master",
    serial: "SERIAL-PLANTED-0042",
    password: "x",
  });
  assert.deepEqual(JSON.parse(metricProps(scrubber, METRIC_PROPS["host.stage.duration"], props)), {
    disk_type: "SSD",
    duration: 412.7,
    host_role: "master",
    host_stage: "Writing image to disk",
    product: "PowerEdge R650",
    result: "Done",
    vendor: "Dell Inc.",
  });
  assert.equal(
    metricProps(scrubber, undefined, props),
    "{}",
    "a user event's props or an unknown metric",
  );
  assert.equal(metricProps(scrubber, METRIC_PROPS["nic.speed"], "not json"), "{}");
  assert.deepEqual(
    JSON.parse(
      metricProps(
        scrubber,
        METRIC_PROPS["nic.virtual_interfaces"],
        '{"count":2,"types":["tun","veth"]}',
      ),
    ),
    { count: 2, types: ["tun", "veth"] },
  );
});
