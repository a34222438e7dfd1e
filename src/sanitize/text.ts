/**
 * Free-text scrubbing for event messages, status texts and JSON held in text
 * columns: credentials and tokens are removed, e-mail addresses replaced by
 * their keyed hash. Patterns run in an order where an earlier one can never
 * expose what a later one hides (URL credentials before e-mail addresses).
 */
import type { NetworkObfuscator } from "./network.ts";
import { emailHmac } from "./pseudonym.ts";

/** Marker left where a secret was. */
export const REDACTED = "[REDACTED]";

/** Shorter values are too common to treat as secrets without false alarms. */
export const MIN_SECRET = 6;

/** UUIDs and short words that no secret pattern can match. */
const PLAIN_ID =
  /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[A-Za-z0-9_.-]{0,11})$/i;

const SECRET_PARAM =
  "api[_-]?key|apikey|access[_-]?token|refresh[_-]?token|id[_-]?token|token|auth|authorization|" +
  "password|passwd|pwd|pass|secret|client[_-]?secret|sig|signature|x-amz-signature|" +
  "x-amz-credential|x-amz-security-token|credential|key|session";

const RULES: Array<[RegExp, string | ((...m: string[]) => string)]> = [
  // scheme://user:password@host → scheme://[REDACTED]@host
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]+@/gi, `$1${REDACTED}@`],
  // ?token=…, &api_key=…, ;sig=…
  [new RegExp(`([?&;](?:${SECRET_PARAM})=)[^&#\\s"'<>]*`, "gi"), `$1${REDACTED}`],
  // the image service's /bytoken/<token>/ paths
  [/(\/bytoken\/)[^/\s"'?#]+/gi, `$1${REDACTED}`],
  // Authorization: Bearer …, Basic …
  [/\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{8,}/gi, `$1$2${REDACTED}`],
  // JWTs
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, REDACTED],
  // password=…, "token": "…", secret: …
  [
    new RegExp(
      `\\b(${SECRET_PARAM})(\\\\?["']?\\s*[:=]\\s*\\\\?["']?)(?!\\[REDACTED\\])[^\\s"'\\\\,;&}]+`,
      "gi",
    ),
    `$1$2${REDACTED}`,
  ],
];

const BASE64_BLOB = /(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{12,}={0,2}(?![A-Za-z0-9+/=])/g;
const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;

/** Whether a base64 blob decodes to a printable `user:password` pair. */
function isCredentialBlob(blob: string): boolean {
  if (blob.length % 4 === 1) return false;
  let decoded: string;
  try {
    decoded = atob(blob.padEnd(Math.ceil(blob.length / 4) * 4, "="));
  } catch {
    return false;
  }
  return /^[\x20-\x7e]+:[\x20-\x7e]+$/.test(decoded) && !/\s/.test(decoded);
}

/** Removes credentials and tokens from `text`; leaves e-mail addresses alone. */
export function removeSecrets(text: string): string {
  let out = text;
  for (const [pattern, replacement] of RULES) {
    out = out.replace(pattern, replacement as string);
  }
  return out.replace(BASE64_BLOB, (blob) => (isCredentialBlob(blob) ? REDACTED : blob));
}

/**
 * For diagnostics (logs, the ledger's last error): secrets and known values
 * removed, e-mail addresses masked. Synchronous, so any error path can use it.
 */
export function redactForLog(text: string, known: Iterable<string> = []): string {
  let out = text;
  for (const secret of [...known].sort((a, b) => b.length - a.length)) {
    if (secret.length >= MIN_SECRET && out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return removeSecrets(out).replace(EMAIL, "[EMAIL]");
}

/** Scrubs text and JSON-in-text, hashing e-mail addresses under one key. */
export class TextScrubber {
  readonly #key: CryptoKey;
  readonly #emails = new Map<string, string>();
  /** Known secret values (pull-secret auths, tokens): removed wherever they appear. */
  readonly #known: string[];
  /** Set under OBFUSCATE=networking. */
  readonly network?: NetworkObfuscator;

  constructor(
    key: CryptoKey,
    options: { knownSecrets?: Iterable<string>; network?: NetworkObfuscator } = {},
  ) {
    this.#key = key;
    this.#known = [...(options.knownSecrets ?? [])].filter((s) => s.length >= MIN_SECRET)
      .sort((a, b) => b.length - a.length);
    this.network = options.network;
  }

  /** Adds secret values learnt from a row (for example a cluster's own pull secret). */
  addKnownSecrets(values: Iterable<string>): void {
    for (const v of values) {
      if (v.length >= MIN_SECRET && !this.#known.includes(v)) this.#known.push(v);
    }
    this.#known.sort((a, b) => b.length - a.length);
  }

  /** The pseudonym that replaces an e-mail address. */
  async email(address: string): Promise<string> {
    let hashed = this.#emails.get(address);
    if (hashed === undefined) {
      hashed = `email-hmac:${(await emailHmac(this.#key, address)).slice(0, 32)}`;
      this.#emails.set(address, hashed);
    }
    return hashed;
  }

  /** Scrubs free text. */
  async text(value: string): Promise<string> {
    let out = value;
    for (const secret of this.#known) {
      if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    }
    out = removeSecrets(out);
    if (out.includes("@")) {
      const found = new Set(out.match(EMAIL) ?? []);
      for (const address of found) out = out.split(address).join(await this.email(address));
    }
    return this.network ? this.network.text(out) : out;
  }

  /**
   * Scrubs a value kept as stored (ids, statuses, names): the same as free
   * text, as a second line of defence, with a fast path for identifiers.
   */
  async value(value: string): Promise<string> {
    if (!this.network && PLAIN_ID.test(value) && !this.#known.includes(value)) return value;
    return await this.text(value);
  }

  /**
   * Scrubs a text column holding JSON: values under secret-looking keys are
   * redacted and every string is scrubbed as text. Text that is not valid
   * JSON is scrubbed as plain text, so a corrupt row neither crashes nor leaks.
   */
  async jsonText(value: string): Promise<string> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      return await this.text(value);
    }
    return JSON.stringify(await this.json(parsed));
  }

  /** Scrubs a parsed JSON value, recursively. */
  async json(value: unknown, depth = 0): Promise<unknown> {
    if (depth > 64) return REDACTED;
    if (typeof value === "string") return await this.text(value);
    if (Array.isArray(value)) {
      const out = [];
      for (const item of value) out.push(await this.json(item, depth + 1));
      return out;
    }
    if (value && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        const key = await this.text(k);
        out[key] = isSecretKey(k) && v !== null && v !== "" && typeof v !== "boolean"
          ? REDACTED
          : await this.json(v, depth + 1);
      }
      return out;
    }
    return value;
  }
}

const SECRET_KEY = new RegExp(
  `^(?:[a-z0-9]*[_-])?(?:${SECRET_PARAM}|pull[_-]?secret|private[_-]?key)$`,
  "i",
);

/** True for JSON keys whose values are secrets (`password`, `api_key`, `pullSecret`, …). */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) || /(password|secret|token|credential)/i.test(key);
}
