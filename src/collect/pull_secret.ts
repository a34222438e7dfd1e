/**
 * Pull secrets: the upload token, and the telemetry opt-out switch (a pull
 * secret without a `cloud.openshift.com` entry).
 */

/** The registry entry whose presence means "telemetry allowed". */
export const TELEMETRY_REGISTRY = "cloud.openshift.com";

/** What a pull secret says about telemetry. */
export type PullSecretVerdict =
  | { kind: "token"; token: string; email?: string; user?: string }
  | { kind: "opted-out" }
  | { kind: "invalid"; problem: string };

/** Splits a base64 `user:password` auth into its user half, or undefined. */
function authUser(auth: string): string | undefined {
  try {
    const decoded = atob(auth);
    const colon = decoded.indexOf(":");
    return colon > 0 ? decoded.slice(0, colon) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads a pull secret's `cloud.openshift.com` entry. The token is the raw
 * `auth` string (still base64), trimmed; one with CR or LF is refused so it
 * can never split a header.
 */
export function parsePullSecret(text: string | null | undefined): PullSecretVerdict {
  if (text === null || text === undefined || text.trim() === "") {
    return { kind: "invalid", problem: "empty" };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { kind: "invalid", problem: "not JSON" };
  }
  const auths = (parsed as { auths?: unknown })?.auths;
  if (typeof auths !== "object" || auths === null || Array.isArray(auths)) {
    return { kind: "invalid", problem: "no auths object" };
  }
  const entry = (auths as Record<string, unknown>)[TELEMETRY_REGISTRY];
  if (entry === undefined || entry === null) return { kind: "opted-out" };
  const rawAuth = (entry as { auth?: unknown }).auth;
  if (typeof rawAuth !== "string" || rawAuth.trim() === "") {
    return { kind: "invalid", problem: `${TELEMETRY_REGISTRY} entry has no auth` };
  }
  const token = rawAuth.trim();
  if (/[\r\n]/.test(token)) {
    return { kind: "invalid", problem: `${TELEMETRY_REGISTRY} auth contains a line break` };
  }
  const email = (entry as { email?: unknown }).email;
  return {
    kind: "token",
    token,
    email: typeof email === "string" ? email : undefined,
    user: authUser(token),
  };
}

/** Every credential string inside a pull secret, for scrubbing and tripwires. */
export function pullSecretSecrets(text: string | null | undefined): string[] {
  if (!text) return [];
  const found = new Set<string>();
  try {
    const auths = JSON.parse(text)?.auths;
    if (auths && typeof auths === "object") {
      for (
        const entry of Object.values(
          auths as Record<string, { auth?: unknown; password?: unknown; identitytoken?: unknown }>,
        )
      ) {
        if (typeof entry?.auth === "string" && entry.auth.trim()) {
          const auth = entry.auth.trim();
          found.add(auth);
          try {
            const decoded = atob(auth);
            const colon = decoded.indexOf(":");
            if (colon >= 0 && decoded.length > colon + 1) found.add(decoded.slice(colon + 1));
          } catch {
            // not base64: the raw value is already listed
          }
        }
        if (typeof entry?.password === "string" && entry.password) found.add(entry.password);
        if (typeof entry?.identitytoken === "string" && entry.identitytoken) {
          found.add(entry.identitytoken);
        }
      }
    }
  } catch {
    // malformed: nothing parseable to list
  }
  return [...found].filter((s) => s.length >= 6);
}
