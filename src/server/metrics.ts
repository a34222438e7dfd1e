/**
 * Prometheus metrics (prom-client): uploads by outcome, bytes and events
 * sent, pass duration, the last success, the opt-out state, pauses and the
 * backlog of attempts that are due. Nothing here carries a value from a row.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Outcome } from "../db/ledger.ts";
import type { CollectorObserver } from "../collect/mod.ts";

/** The collector's metrics, in their own registry. */
export class CollectorMetrics implements CollectorObserver {
  readonly registry = new Registry();
  readonly #uploads: Counter<"outcome">;
  readonly #bytes: Counter;
  readonly #events: Counter;
  readonly #passes: Histogram;
  readonly #lastSuccess: Gauge;
  readonly #optedOut: Gauge;
  readonly #paused: Gauge;
  readonly #driverFaults: Counter;
  readonly #verifications: Counter<"result">;

  constructor(options: { backlog?: () => Promise<number>; paused?: () => boolean } = {}) {
    const registers = [this.registry];
    this.#uploads = new Counter({
      name: "assisted_telemetry_attempts_total",
      help: "Attempts handled, by outcome (sent, failed, abandoned, blocked, skipped, cancelled)",
      labelNames: ["outcome"],
      registers,
    });
    this.#bytes = new Counter({
      name: "assisted_telemetry_sent_bytes_total",
      help: "Compressed bytes accepted by the endpoint",
      registers,
    });
    this.#events = new Counter({
      name: "assisted_telemetry_sent_events_total",
      help: "Events in archives accepted by the endpoint",
      registers,
    });
    this.#passes = new Histogram({
      name: "assisted_telemetry_pass_duration_seconds",
      help: "Duration of collection passes",
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900],
      registers,
    });
    this.#lastSuccess = new Gauge({
      name: "assisted_telemetry_last_success_timestamp_seconds",
      help: "Unix time of the last accepted upload (0: none since start)",
      registers,
    });
    this.#optedOut = new Gauge({
      name: "assisted_telemetry_opted_out",
      help: "1 while data collection is opted out",
      registers,
    });
    this.#paused = new Gauge({
      name: "assisted_telemetry_uploads_paused",
      help: "1 while uploads are paused (401/403, or Retry-After)",
      registers,
      collect() {
        this.set(options.paused?.() ? 1 : 0);
      },
    });
    this.#verifications = new Counter({
      name: "assisted_telemetry_deliveries_verified_total",
      help: "Sent attempts by what the payload tracker finally said (verified, failed, unverified)",
      labelNames: ["result"],
      registers,
    });
    this.#driverFaults = new Counter({
      name: "assisted_telemetry_driver_socket_faults_total",
      help: "Uncaught database-driver writes on a closed socket survived (porsager/postgres#1208)",
      registers,
    });
    new Gauge({
      name: "assisted_telemetry_backlog_attempts",
      help: "Attempts waiting to be sent and due now (-1: database unreachable)",
      registers,
      async collect() {
        this.set(options.backlog ? await options.backlog().catch(() => -1) : 0);
      },
    });
  }

  /** Counts one attempt's outcome. */
  outcome(outcome: Outcome): void {
    this.#uploads.inc({ outcome: outcome.kind });
    if (outcome.kind === "sent") {
      this.#bytes.inc(outcome.bytes);
      this.#events.inc(outcome.events);
      this.#lastSuccess.set(Date.now() / 1000);
    }
  }

  /** Counts one final verification of a delivery. */
  verification(result: "verified" | "failed" | "unverified"): void {
    this.#verifications.inc({ result });
  }

  /** Counts one survived driver socket fault. */
  driverFault(): void {
    this.#driverFaults.inc();
  }

  /** Records a finished pass. */
  pass(seconds: number, optedOut: boolean): void {
    this.#passes.observe(seconds);
    this.#optedOut.set(optedOut ? 1 : 0);
  }

  /** The text exposition. */
  async render(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}
