/**
 * The upload gate: one HTTP client, the per-minute throttle and the pause
 * of all uploads (after 401/403, or a 429/503 with Retry-After). The pause
 * is checked when the throttle lets a call through, not before it waits,
 * so a 429 met while others queue stops them all; what a pause holds back
 * is deferred without spending a try.
 */
import type { Config } from "../config/mod.ts";
import { type Outcome, releaseAuthHeld } from "../db/ledger.ts";
import type { Sql } from "../db/mod.ts";
import type { Logger } from "../log/mod.ts";
import { uploadArchive, type UploadOptions, type UploadResult } from "../upload/mod.ts";
import pThrottle from "p-throttle";
import { trackPayload } from "../upload/track.ts";
import type { GlobalSecret } from "./enablement.ts";

/** Uploads to the endpoint are paused: after 401/403, or a 429/503 with Retry-After. */
export interface Pause {
  kind: "auth" | "rate";
  /** Epoch milliseconds. */
  until: number;
  reason: string;
  /** The global pull secret's token when the pause began; a new one ends an auth pause. */
  token?: string;
}

/** An attempt held back by a pause. */
export type Deferral = Extract<Outcome, { kind: "deferred" }>;

/** Due again when the pause ends, without spending a try. */
export function deferral(pause: Pause): Deferral {
  return {
    kind: "deferred",
    reason: `uploads paused: ${pause.reason}`,
    retryInMs: Math.max(0, pause.until - Date.now()),
  };
}

/** The gate every upload goes through. */
export class UploadGate {
  readonly #log: Logger;
  readonly #client: Deno.HttpClient;
  readonly #send: (archive: Blob, options: UploadOptions) => Promise<UploadResult | Deferral>;
  #pause?: Pause;

  constructor(config: Config, options: { log: Logger; rateWindowMs?: number }) {
    this.#log = options.log;
    // Proxies come from HTTPS_PROXY/NO_PROXY, which Deno's client reads itself.
    this.#client = Deno.createHttpClient({
      caCerts: config.uploadCaPem ? [config.uploadCaPem] : [],
    });
    this.#send = pThrottle({
      limit: config.uploadsPerMinute,
      interval: options.rateWindowMs ?? 60_000,
      strict: true,
    })((archive: Blob, upload: UploadOptions) => {
      const pause = this.pause;
      return pause ? Promise.resolve(deferral(pause)) : uploadArchive(archive, upload);
    });
  }

  /** The current pause of all uploads, if any. */
  get pause(): Pause | undefined {
    return this.#pause && this.#pause.until > Date.now() ? this.#pause : undefined;
  }

  /** Pauses every upload until `pause.until` (a longer pause already running stays). */
  startPause(pause: Pause): void {
    if (this.#pause && this.#pause.until >= pause.until) return;
    this.#pause = pause;
    this.#log.warn("uploads paused", {
      kind: pause.kind,
      until: new Date(pause.until).toISOString(),
      reason: pause.reason,
    });
  }

  /** An auth pause ends early when the global pull secret's token changes; what it held is due. */
  async checkPause(global: GlobalSecret, sql: Sql): Promise<Pause | undefined> {
    const pause = this.pause;
    if (
      pause?.kind === "auth" && global?.verdict.kind === "token" &&
      global.verdict.token !== pause.token
    ) {
      this.#pause = undefined;
      const released = await releaseAuthHeld(sql);
      this.#log.info("pull secret changed; uploads resume", { released });
      return undefined;
    }
    return pause;
  }

  /** Sends through the throttle, or defers when a pause holds at the moment of sending. */
  send(archive: Blob, options: Omit<UploadOptions, "client">): Promise<UploadResult | Deferral> {
    return this.#send(archive, { ...options, client: this.#client });
  }

  /** Asks the payload tracker through the same client (proxy and CA as for uploads). */
  track(template: string, options: Omit<Parameters<typeof trackPayload>[1], "client">) {
    return trackPayload(template, { ...options, client: this.#client });
  }

  /** Releases the HTTP client. */
  close(): void {
    this.#client.close();
  }
}
