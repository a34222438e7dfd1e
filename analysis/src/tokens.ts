/**
 * The tokens a request carries: its bearer header (uploads, tracking,
 * imports), or for reads also the browser session's cookie (set by the
 * pages' login form; SameSite=Strict, never accepted for a write).
 */
import type { Context } from "hono";
import { getCookie } from "hono/cookie";

/** The cookie a browser session carries its token in. */
export const SESSION_COOKIE = "analysis_token";

/** The bearer token of a request's Authorization header. */
export function bearer(c: Context): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "")?.[1];
}

/** The token a request carries: its bearer header, or (for reads) the session cookie. */
export function requestToken(c: Context): string | undefined {
  const header = bearer(c);
  if (header) return header;
  return c.req.method === "GET" || c.req.method === "HEAD"
    ? getCookie(c, SESSION_COOKIE) || undefined
    : undefined;
}
