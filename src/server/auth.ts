/**
 * Bearer tokens, parsed and compared (in constant time) by hono's
 * bearerAuth, for the control API and the local receiver alike. The control
 * API without TRIGGER_TOKEN answers loopback callers only; the peer address
 * comes from the socket, never from a forwarded header.
 */
import type { MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { isLoopbackHost } from "../config/mod.ts";

function refuse(message: string): () => Response {
  return () =>
    new Response(JSON.stringify({ error: message }), {
      status: 401,
      headers: { "content-type": "application/json" },
    });
}

/** Requires `Authorization: Bearer <token>`: this token, or any that `verify` accepts. */
export function requireBearer(
  check: { token: string } | { verify: (token: string) => boolean },
): MiddlewareHandler {
  return bearerAuth({
    ...("token" in check ? { token: check.token } : { verifyToken: (t) => check.verify(t) }),
    noAuthenticationHeader: { message: refuse("missing bearer token") },
    invalidAuthenticationHeader: { message: refuse("malformed bearer token") },
    invalidToken: { message: refuse("missing or wrong bearer token") },
  });
}

/** Whether a socket peer is this machine. */
export function isLoopbackPeer(peer: string | undefined): boolean {
  const host = (peer ?? "").startsWith("::ffff:") ? peer!.slice(7) : peer ?? "";
  return isLoopbackHost(host);
}

/** The control API's access: the bearer token when set, else loopback callers only. */
export function controlAccess(
  options: { token?: string },
): MiddlewareHandler<{ Bindings: { peer?: string } }> {
  if (options.token) return requireBearer({ token: options.token });
  return async (c, next) => {
    if (!isLoopbackPeer(c.env?.peer)) {
      return c.json(
        { error: "TRIGGER_TOKEN is not set, so only loopback callers are allowed" },
        403,
      );
    }
    await next();
  };
}
