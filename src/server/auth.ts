/**
 * Access to the control endpoints: a bearer token when TRIGGER_TOKEN is set,
 * otherwise loopback callers only. The peer address comes from the socket,
 * never from a forwarded header.
 */
import { timingSafeEqual } from "node:crypto";
import { isLoopbackHost } from "../config/mod.ts";

/** Why a request was refused, or undefined when it may pass. */
export function authorize(
  authorization: string | undefined,
  options: { token?: string; peer?: string },
): { status: 401 | 403; message: string } | undefined {
  if (options.token) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
    const given = new TextEncoder().encode(match?.[1] ?? "");
    const want = new TextEncoder().encode(options.token);
    const ok = given.byteLength === want.byteLength && timingSafeEqual(given, want);
    return ok ? undefined : { status: 401, message: "missing or wrong bearer token" };
  }
  const peer = options.peer ?? "";
  const host = peer.startsWith("::ffff:") ? peer.slice(7) : peer;
  return isLoopbackHost(host)
    ? undefined
    : { status: 403, message: "TRIGGER_TOKEN is not set, so only loopback callers are allowed" };
}
