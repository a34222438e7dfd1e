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
  | { ok: false; status?: number; error: string };

/** Options for {@linkcode uploadArchive}. */
export interface UploadOptions {
  endpoint: string;
  /** The raw `cloud.openshift.com` auth string. */
  token: string;
  clusterId: string;
  timeoutMs: number;
  /** Substitutable only so tests can count requests; defaults to global fetch. */
  fetch?: typeof fetch;
}

const MAX_ERROR_BODY = 512;

/** The User-Agent ingress expects: `assisted-installer-operator/<version> cluster/<id>`. */
export function userAgent(clusterId: string): string {
  return `assisted-installer-operator/${VERSION} cluster/${clusterId}`;
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]+/g, " ").trim().slice(0, MAX_ERROR_BODY);
}

/** Sends one archive. Never throws: every failure comes back as a result. */
export async function uploadArchive(
  archive: Uint8Array,
  options: UploadOptions,
): Promise<UploadResult> {
  const token = options.token.trim();
  if (token === "" || /[\r\n]/.test(token)) return { ok: false, error: "unusable upload token" };
  const form = new FormData();
  form.append(
    "file",
    new Blob([archive as Uint8Array<ArrayBuffer>], { type: CONTENT_TYPE }),
    "events.tgz",
  );
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(options.endpoint, {
      method: "POST",
      body: form,
      headers: { Authorization: `Bearer ${token}`, "User-Agent": userAgent(options.clusterId) },
      signal: AbortSignal.timeout(options.timeoutMs),
      redirect: "error",
    });
  } catch (err) {
    const name = (err as Error)?.name;
    const reason = name === "TimeoutError"
      ? `timed out after ${options.timeoutMs} ms`
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
    error: `HTTP ${response.status}${
      body ? `: ${printable(redactForLog(body, [token]))}` : ""
    }`,
  };
}
