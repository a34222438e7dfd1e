/**
 * An archive too large for DuckDB within {@linkcode TOO_LITTLE} memory: for
 * the tests of archives that wait rather than being quarantined.
 */
import { archive, uuidOf } from "./population.ts";

/**
 * A memory limit DuckDB cannot read {@linkcode bigArchive} within, while it
 * reads an archive of a few events (measured with both).
 */
export const TOO_LITTLE = "200MB";

/** One cluster's archive of 400,000 distinct events (each its own time and message), so every one is stored. */
export async function bigArchive(seed: string): Promise<{ bytes: Uint8Array; events: number }> {
  const id = uuidOf(seed);
  const host = uuidOf(`h-${id}`);
  const events = Array.from({ length: 400_000 }, (_, i) => ({
    cluster_id: id,
    host_id: host,
    category: "user",
    event_time: new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString(),
    message: `Host master-0: updated status from installing to installing-in-progress (step ${i})`,
    name: "host_status_updated",
    severity: "info",
  }));
  const bytes = await archive({
    [`${id}/events/cluster.json`]: JSON.stringify({
      id,
      openshift_version: "4.16.3",
      platform: { type: "baremetal" },
      email_domain: "customer.example",
      created_at: "2026-11-01T00:00:00Z",
    }),
    [`${id}/events/hosts.json`]: JSON.stringify([{ id: host, cluster_id: id, role: "master" }]),
    [`${id}/events.json`]: JSON.stringify(events),
  });
  return { bytes, events: events.length };
}
