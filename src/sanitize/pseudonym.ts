/**
 * Pseudonyms. By default `user_id` and e-mail addresses get a keyed hash
 * (HMAC-SHA-256 under the installation's key) that Red Hat can count but
 * cannot reverse with a dictionary. `USER_ID_HASH=scraper-fnv` sends the SaaS
 * scraper's unsalted FNV-1a 128 instead, which joins scraper-era SaaS data
 * but is reversible by anyone with a list of likely user names.
 */
import fnv1a from "@sindresorhus/fnv1a";

/** The scraper's `user_id`: FNV-1a 128 of the UTF-8 name, as a decimal string; null when empty. */
export function userId(userName: string | null | undefined): string | null {
  if (userName === null || userName === undefined || userName === "") return null;
  return fnv1a(userName, { size: 128 }).toString(10);
}

/** The keyed `user_id`: HMAC-SHA-256 of the user name, 32 hex digits; null when empty. */
export async function userHmac(key: CryptoKey, userName: string): Promise<string> {
  const data = new TextEncoder().encode(`user:${userName}`);
  return `user-hmac:${hex(await crypto.subtle.sign("HMAC", key, data)).slice(0, 32)}`;
}

/** Trims and lower-cases an address, so one mailbox gets one pseudonym. */
export function normaliseEmail(address: string): string {
  return address.trim().toLowerCase();
}

/** Imports raw key bytes for HMAC-SHA-256 signing. */
export async function importHmacKey(raw: Uint8Array): Promise<CryptoKey> {
  return await crypto.subtle.importKey(
    "raw",
    raw as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
}

function hex(bytes: ArrayBuffer): string {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** HMAC-SHA-256 of the normalised address, as 64 lower-case hex digits. */
export async function emailHmac(key: CryptoKey, address: string): Promise<string> {
  const data = new TextEncoder().encode(normaliseEmail(address));
  return hex(await crypto.subtle.sign("HMAC", key, data));
}
