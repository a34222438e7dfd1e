/**
 * Every secret value the collector can know from what it read, with the
 * field it came from: fed to the scrubber (so free text loses them) and to
 * the tripwire (so an archive holding one is never sent).
 */
import { MIN_SECRET } from "../sanitize/text.ts";
import { SecretScanner } from "../sanitize/scanner.ts";
import { pullSecretSecrets } from "./pull_secret.ts";

/** A secret value and where it came from; the field may be logged, the value never. */
export interface KnownSecret {
  field: string;
  value: string;
}

type Row = Record<string, unknown>;

function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

function urlPassword(value: unknown): string[] {
  const text = str(value);
  if (!text) return [];
  // The userinfo ends at the last @ before the host, as Go's URL parser reads it:
  // a password may hold @ or / itself.
  const m = /^[a-z][a-z0-9+.-]*:\/\/(.*)@[^@/?#]*(?:[/?#]|$)/i.exec(text.trim());
  if (!m) return [];
  const [user, ...rest] = m[1].split(":");
  const password = rest.join(":");
  const out = [password, decodeSafe(password)];
  if (!password) out.push(user, decodeSafe(user));
  return out;
}

function decodeSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function jsonStrings(value: unknown, keys?: RegExp): string[] {
  const text = str(value);
  if (!text) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return keys ? [] : [text];
  }
  const out: string[] = [];
  const walk = (v: unknown, key: string, depth: number) => {
    if (depth > 16) return;
    if (typeof v === "string" && (!keys || keys.test(key))) out.push(v);
    else if (Array.isArray(v)) v.forEach((item) => walk(item, key, depth + 1));
    else if (v && typeof v === "object") {
      for (const [k, child] of Object.entries(v)) walk(child, k, depth + 1);
    }
  };
  walk(parsed, "", 0);
  return out;
}

/** Collects the secrets of the rows of one archive. */
export class SecretRegistry {
  readonly #secrets = new Map<string, string>();
  readonly #scanner = new SecretScanner();

  /** Adds values under `field`, ignoring ones too short to scan for. */
  add(field: string, values: Iterable<string | undefined>): void {
    for (const value of values) {
      if (value && value.length >= MIN_SECRET && !this.#secrets.has(value)) {
        this.#secrets.set(value, field);
        this.#scanner.add(value, field);
      }
    }
  }

  /** The secrets of a cluster row. */
  addCluster(row: Row): void {
    this.add("clusters.pull_secret", pullSecretSecrets(str(row.pull_secret)));
    this.add("clusters.http_proxy", urlPassword(row.http_proxy));
    this.add("clusters.https_proxy", urlPassword(row.https_proxy));
  }

  /** The secrets of a host row. */
  addHost(row: Row): void {
    this.add("hosts.fencing_credentials.password", jsonStrings(row.fencing_credentials, /pass/i));
    this.add("hosts.ignition_endpoint_token", [str(row.ignition_endpoint_token)]);
    const headers = jsonStrings(row.ignition_endpoint_http_headers);
    this.add("hosts.ignition_endpoint_http_headers", headers);
    // "Bearer <token>" also as the token alone, wherever it turns up.
    this.add(
      "hosts.ignition_endpoint_http_headers",
      headers.map((h) => /^\s*(?:bearer|basic|token)\s+(\S+)\s*$/i.exec(h)?.[1]),
    );
  }

  /** The secrets of an infra env row. */
  addInfraEnv(row: Row): void {
    this.add("infra_envs.pull_secret", pullSecretSecrets(str(row.pull_secret)));
    this.add("infra_envs.image_token_key", [str(row.image_token_key)]);
    this.add("infra_envs.proxy_http_proxy", urlPassword(row.proxy_http_proxy));
    this.add("infra_envs.proxy_https_proxy", urlPassword(row.proxy_https_proxy));
  }

  /** Every value, for the scrubber. */
  values(): string[] {
    return [...this.#secrets.keys()];
  }

  /**
   * Adds each value also as it would appear encoded: percent-encoded and
   * base64 (on its own and in the three alignments inside a longer blob),
   * so the tripwire finds a secret in those spellings too.
   */
  addEncodings(): void {
    for (const [value, field] of [...this.#secrets]) {
      const forms = new Set<string>([encodeURIComponent(value)]);
      const bytes = new TextEncoder().encode(value);
      for (let shift = 0; shift < 3; shift++) {
        const padded = new Uint8Array(shift + bytes.length);
        padded.set(bytes, shift);
        const b64 = btoa(String.fromCharCode(...padded));
        // Only the characters that depend on the value alone, not on its neighbours;
        // long enough that ordinary text cannot match by chance.
        const start = Math.ceil((shift * 4) / 3);
        const end = Math.floor(((shift + bytes.length) * 4) / 3);
        if (end - start >= 12) forms.add(b64.slice(start, end));
      }
      forms.delete(value);
      this.add(`${field} (encoded)`, forms);
    }
  }

  /** The field of the first secret found in `text`, raw or JSON-escaped, or undefined. */
  findIn(text: string): string | undefined {
    return this.#scanner.find(text);
  }

  /** The patterns, as bytes, for scanning off the main thread. */
  patterns(): Array<{ bytes: Uint8Array; field: string }> {
    return this.#scanner.patterns();
  }
}

/** Thrown when an archive would carry a known secret; names the field, never the value. */
export class TripwireError extends Error {
  readonly field: string;
  readonly file: string;
  constructor(field: string, file: string) {
    super(`tripwire: a value of ${field} was found in ${file}; the archive was not sent`);
    this.name = "TripwireError";
    this.field = field;
    this.file = file;
  }
}
