/**
 * Pseudonymous keys. Every cluster, host, organisation and user identifier
 * is replaced at ingest by SHA-256 over the service's own secret and the id
 * (the same formula in TypeScript and in SQL), so the store never holds a
 * raw id and a dictionary of names or ids cannot reverse a key without the
 * secret.
 */
import { createHash } from "node:crypto";

/** The keyed pseudonym of `id` (32 hex characters); null for a missing id. */
export function keyOf(secret: string, id: unknown): string | null {
  if (typeof id !== "string" || id === "") return null;
  return createHash("sha256").update(`${secret}:${id}`).digest("hex").slice(0, 32);
}

/** The same pseudonym computed by DuckDB or PostgreSQL over a column (`$secret` bound). */
export function keySql(secretParam: string, column: string): string {
  return `CASE WHEN ${column} IS NULL OR ${column} = '' THEN NULL ELSE substr(sha256(${secretParam} || ':' || ${column}), 1, 32) END`;
}

/** Reads the secret from `path`, creating a random one (mode 0600) when the file is missing. */
export async function loadSecret(path: string): Promise<string> {
  try {
    const text = (await Deno.readTextFile(path)).trim();
    if (text.length < 32) throw new Error(`${path}: the key must be at least 32 characters`);
    return text;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const secret = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  await Deno.writeTextFile(path, secret + "\n", { mode: 0o600, createNew: true });
  return secret;
}
