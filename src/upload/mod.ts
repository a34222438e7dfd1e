/**
 * The ingress request: multipart with one `file` part named `events.tgz`,
 * the assisted-installer content type, a bearer token from the pull secret
 * and the User-Agent the gateway keys pull-secret auth on. TLS is verified
 * by fetch; nothing here can turn it off.
 */
import { redactForLog } from "../sanitize/text.ts";
import { VERSION } from "../version.ts";

/** Content type ingress parses the service and category from. */
export const CONTENT_TYPE = "application/vnd.redhat.assisted-installer.events+tar";

/** What the endpoint answered. */
export type UploadResult =
  | { ok: true; status: number; requestId: string | null }
  | { ok: false; status?: number; error: string; retryAfter?: string | null };

/** Options for {@linkcode uploadArchive}. */
export interface UploadOptions {
  endpoint: string;
  /** The raw `cloud.openshift.com` auth string. */
  token: string;
  clusterId: string;
  /** Total time for the request, body and answer. */
  timeoutMs: number;
  /** Time to reach the endpoint (or the proxy) at all; checked first. */
  connectTimeoutMs?: number;
  /** Client with extra CAs; proxies come from HTTPS_PROXY/NO_PROXY either way. */
  client?: Deno.HttpClient;
  /** Aborts the request (shutdown). */
  signal?: AbortSignal;
}

const MAX_ERROR_BODY = 512;

/**
 * The multipart/form-data body with one part, `file` named `events.tgz`. A
 * Blob of the three pieces has a size, so the request carries a
 * Content-Length (not chunked encoding), and the archive is copied once,
 * not into a FormData and again into the request.
 */
export function multipart(archive: Blob): { body: Blob; contentType: string } {
  const boundary = `----assisted-telemetry-${crypto.randomUUID()}`;
  const head =
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="events.tgz"\r\n` +
    `Content-Type: ${CONTENT_TYPE}\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  return {
    body: new Blob([head, archive, tail]),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

/** The User-Agent ingress expects: `assisted-installer-operator/<version> cluster/<id>`. */
export function userAgent(clusterId: string): string {
  return `assisted-installer-operator/${VERSION} cluster/${clusterId}`;
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]+/g, " ").trim().slice(0, MAX_ERROR_BODY);
}

/** The host and port a connection goes to first: the proxy when one applies, else the endpoint. */
export function firstHop(
  endpoint: string,
  env: Record<string, string | undefined> = Deno.env.toObject(),
): {
  hostname: string;
  port: number;
} {
  const url = new URL(endpoint);
  const proxy = url.protocol === "https:"
    ? env.HTTPS_PROXY ?? env.https_proxy ?? env.ALL_PROXY ?? env.all_proxy
    : env.HTTP_PROXY ?? env.http_proxy ?? env.ALL_PROXY ?? env.all_proxy;
  const target = proxy && !bypassesProxy(url.hostname, env.NO_PROXY ?? env.no_proxy)
    ? new URL(proxy)
    : url;
  const port = Number(target.port) || (target.protocol === "https:" ? 443 : 80);
  return { hostname: target.hostname.replace(/^\[|\]$/g, ""), port };
}

/** NO_PROXY matching: `*`, exact hosts, and domain suffixes (`.corp` or `corp`). */
export function bypassesProxy(hostname: string, noProxy: string | undefined): boolean {
  if (!noProxy) return false;
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  return noProxy.split(",").map((e) => e.trim().toLowerCase().replace(/:\d+$/, "")).filter(Boolean)
    .some(
      (entry) =>
        entry === "*" || host === entry.replace(/^\./, "") ||
        host.endsWith(entry.startsWith(".") ? entry : `.${entry}`),
    );
}

/**
 * Opens and closes a TCP connection to the first hop within `timeoutMs`, so
 * an unreachable network fails fast instead of using the whole upload
 * timeout. Returns a reason, or undefined when the hop answered.
 */
export async function probeConnect(
  endpoint: string,
  timeoutMs: number,
): Promise<string | undefined> {
  const hop = firstHop(endpoint);
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const conn = await Deno.connect({ hostname: hop.hostname, port: hop.port, signal });
    conn.close();
    return undefined;
  } catch (err) {
    return signal.aborted
      ? `could not connect to ${hop.hostname}:${hop.port} within ${timeoutMs} ms`
      : `could not connect to ${hop.hostname}:${hop.port}: ${
        printable(String((err as Error)?.message ?? err))
      }`;
  }
}

/** Sends one archive. Never throws: every failure comes back as a result. */
export async function uploadArchive(
  archive: Blob,
  options: UploadOptions,
): Promise<UploadResult> {
  const token = options.token.trim();
  if (token === "" || /[\r\n]/.test(token)) return { ok: false, error: "unusable upload token" };
  const request = multipart(archive);
  if (options.connectTimeoutMs) {
    const unreachable = await probeConnect(options.endpoint, options.connectTimeoutMs);
    if (unreachable) return { ok: false, error: `request failed: ${unreachable}` };
  }
  const timeout = AbortSignal.timeout(options.timeoutMs);
  let response: Response;
  try {
    response = await fetch(options.endpoint, {
      method: "POST",
      body: request.body,
      headers: {
        Authorization: `Bearer ${token}`,
        "User-Agent": userAgent(options.clusterId),
        "Content-Type": request.contentType,
      },
      signal: options.signal ? AbortSignal.any([timeout, options.signal]) : timeout,
      redirect: "error",
      client: options.client,
    });
  } catch (err) {
    const reason = timeout.aborted
      ? `timed out after ${options.timeoutMs} ms`
      : options.signal?.aborted
      ? "aborted at shutdown"
      : printable(String((err as Error)?.message ?? err));
    return { ok: false, error: `request failed: ${reason}` };
  }
  let body = "";
  try {
    body = await response.text();
  } catch {
    // an unreadable body does not change the verdict
  }
  if (response.ok) {
    let requestId = response.headers.get("x-rh-insights-request-id");
    if (!requestId) {
      try {
        const parsed = JSON.parse(body);
        if (typeof parsed?.request_id === "string") requestId = parsed.request_id;
      } catch {
        // no JSON body: the header was the only place to look
      }
    }
    return {
      ok: true,
      status: response.status,
      requestId: requestId ? printable(requestId) : null,
    };
  }
  return {
    ok: false,
    status: response.status,
    retryAfter: response.headers.get("retry-after"),
    error: `HTTP ${response.status}${body ? `: ${printable(redactForLog(body, [token]))}` : ""}`,
  };
}
