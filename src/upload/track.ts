/**
 * Delivery verified (the design's Test 1): after a 2xx, ingress's payload
 * tracker is asked what became of the upload. `GET …/track/{request_id}`,
 * with the upload's own authentication, answers the latest status as JSON
 * `{status, status_msg, date, …}`; 404 while it is unknown. A tracker that
 * cannot answer never causes a re-send: the upload already succeeded.
 */
import { redactForLog } from "../sanitize/text.ts";
import { userAgent } from "./mod.ts";

/** What the tracker said about one upload. */
export type TrackAnswer =
  | { kind: "verified"; message: string }
  | { kind: "failed"; message: string }
  /** Not final yet, unknown yet, or the tracker did not answer: ask again later. */
  | { kind: "pending"; message: string };

/** The tracking URL template derived from the upload endpoint: `…/upload` → `…/track/{id}`. */
export function defaultTrackTemplate(uploadEndpoint: string): string | undefined {
  const url = new URL(uploadEndpoint);
  if (!/\/upload\/?$/.test(url.pathname)) return undefined;
  url.pathname = url.pathname.replace(/\/upload\/?$/, "/track/{id}");
  return url.toString().replace("%7Bid%7D", "{id}");
}

/** Statuses after which the payload's fate no longer changes. */
const SUCCESS = new Set(["success"]);
const FAILURE = new Set(["error", "failed", "failure"]);

function printable(text: unknown): string {
  return String(text ?? "").replace(/[^\x20-\x7e]+/g, " ").trim().slice(0, 300);
}

/** Asks the tracker once. Never throws. */
export async function trackPayload(
  template: string,
  options: {
    requestId: string;
    token: string;
    clusterId: string;
    timeoutMs: number;
    client?: Deno.HttpClient;
  },
): Promise<TrackAnswer> {
  const url = template.replace("{id}", encodeURIComponent(options.requestId));
  let response: Response;
  try {
    response = await fetch(url, {
      headers: {
        Authorization: `Bearer ${options.token.trim()}`,
        "User-Agent": userAgent(options.clusterId),
        Accept: "application/json",
      },
      signal: AbortSignal.timeout(options.timeoutMs),
      redirect: "error",
      client: options.client,
    });
  } catch (err) {
    return {
      kind: "pending",
      message: `tracker unreachable: ${printable((err as Error)?.message)}`,
    };
  }
  const text = await response.text().catch(() => "");
  if (response.status === 404) return { kind: "pending", message: "not known to the tracker yet" };
  if (!response.ok) {
    return { kind: "pending", message: `tracker answered HTTP ${response.status}` };
  }
  let body: { status?: unknown; status_msg?: unknown };
  try {
    body = JSON.parse(text);
  } catch {
    return { kind: "pending", message: "tracker answered something that is not JSON" };
  }
  const status = printable(body?.status).toLowerCase();
  const message = redactForLog(printable(body?.status_msg ?? status), [options.token]);
  if (SUCCESS.has(status)) return { kind: "verified", message };
  if (FAILURE.has(status)) return { kind: "failed", message };
  return { kind: "pending", message: `tracker status '${status || "none"}'` };
}
