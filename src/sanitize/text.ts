/**
 * Free-text scrubbing for event messages, status texts and JSON held in text
 * columns: credentials and tokens are removed, e-mail addresses replaced by
 * their keyed hash. Patterns run in an order where an earlier one can never
 * expose what a later one hides (URL credentials before e-mail addresses).
 */
import type { NetworkObfuscator } from "./network.ts";
import { emailHmac, userHmac } from "./pseudonym.ts";
import { redactRanges, SecretScanner } from "./scanner.ts";
import { charClass, hasRun } from "./runs.ts";
import { maySecretlint, secretlintRanges } from "./secretlint.ts";

/** Marker left where a secret was. */
export const REDACTED = "[REDACTED]";

/** Memoised scrubbing results kept at most (then the memo starts over). */
const MEMO_LIMIT = 8_000;
/** Calls over which a memo judges whether its texts repeat. */
const MEMO_WINDOW = 1_024;
/** While they do not, it looks up (and keeps) one text in this many. */
const MEMO_SAMPLE = 16;
/**
 * While they do not, it keeps at most this many: enough for texts that come
 * back within a window to be seen (the sampled ones of 64 × 16 calls), few
 * enough that they die in the young generation instead of piling up in the
 * old one (a serve process on a million unique messages peaked ~7 MB lower,
 * README, Scale). The cost: texts that come back only after more than ~1,000
 * others no longer bring the memo back.
 */
const MEMO_PROBATION = 64;

/**
 * A memo of at most `limit` entries (a full memo starts over: texts repeat in
 * runs, so the recent ones come back at once). While fewer than `worthAt` of
 * its lookups hit, over windows of {@linkcode MEMO_WINDOW} calls, it looks
 * up and keeps only one text in {@linkcode MEMO_SAMPLE}, and at most
 * {@linkcode MEMO_PROBATION} of them: for a million
 * messages that never repeat, the lookups (each hashing a new text) and the
 * entries (each outliving the young generation) cost more than the work they
 * could spare (README, Scale). The sample lets texts that start repeating back in.
 */
export class Memo<K, V> {
  readonly #map = new Map<K, V>();
  readonly #limit: number;
  readonly #worthAt: number;
  #lookups = 0;
  #hits = 0;
  #sparse = false;
  #calls = 0;
  /** Whether the last `get` looked (only then may `set` keep). */
  #looked = true;

  constructor(options: { limit?: number; worthAt?: number } = {}) {
    this.#limit = options.limit ?? MEMO_LIMIT;
    this.#worthAt = options.worthAt ?? 0.1;
  }

  /** The value kept for `key`, if any (while texts do not repeat, mostly not looked for). */
  get(key: K): V | undefined {
    let value: V | undefined;
    this.#looked = !this.#sparse || this.#calls % MEMO_SAMPLE === 0;
    if (this.#looked) {
      value = this.#map.get(key);
      this.#lookups++;
      if (value !== undefined) this.#hits++;
    }
    // Judged over a window of calls: while sparse, on the one in sixteen looked up.
    if (++this.#calls === MEMO_WINDOW) {
      this.#sparse = this.#hits < this.#lookups * this.#worthAt;
      this.#calls = this.#lookups = this.#hits = 0;
    }
    return value;
  }

  /** Keeps `value` under `key` if the last `get` looked for it, and returns it. */
  set(key: K, value: V): V {
    if (!this.#looked) return value;
    if (this.#map.size >= (this.#sparse ? MEMO_PROBATION : this.#limit)) this.#map.clear();
    this.#map.set(detach(key), detach(value));
    return value;
  }

  /** How many entries are kept. */
  get size(): number {
    return this.#map.size;
  }

  /** Forgets every entry. */
  clear(): void {
    this.#map.clear();
  }
}

/**
 * `value` itself, or for a string, a copy that keeps no larger string alive.
 * The texts read from the database are slices of the ~32 KB pieces the COPY
 * reader splits (V8 shares the characters): a memo keeping one slice of a
 * piece kept the whole piece alive, event text that the pass had done with.
 */
export function detach<T>(value: T): T {
  // Prepending makes a new string; slicing it flattens it into characters of its own.
  return typeof value === "string" && value.length >= 13 ? (" " + value).slice(1) as T : value;
}

/** Shorter values are too common to treat as secrets without false alarms. */
export const MIN_SECRET = 6;

const HEX_DIGIT = new Uint8Array(128);
for (const c of "0123456789abcdefABCDEF") HEX_DIGIT[c.charCodeAt(0)] = 1;

/** A canonical UUID, checked by hand: this runs for every id of every event. */
function isUuid(value: string): boolean {
  if (
    value.length !== 36 || value.charCodeAt(8) !== 45 || value.charCodeAt(13) !== 45 ||
    value.charCodeAt(18) !== 45 || value.charCodeAt(23) !== 45
  ) return false;
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) continue;
    const c = value.charCodeAt(i);
    if (c > 127 || HEX_DIGIT[c] === 0) return false;
  }
  return true;
}

/** UUIDs and short words that no secret pattern can match. */
const PLAIN_ID =
  /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[A-Za-z0-9_.-]{0,11})$/i;

const SECRET_PARAM =
  "api[_-]?key|apikey|access[_-]?token|refresh[_-]?token|id[_-]?token|token|auth|authorization|" +
  "password|passwd|pwd|pass|secret|client[_-]?secret|sig|signature|x-amz-signature|" +
  "x-amz-credential|x-amz-security-token|credential|key|session";

/** Any identifier ending in a secret word: `DB_PASSWORD`, `apiToken`, `kubeadmin_password`. */
const SECRET_NAME =
  `[A-Za-z0-9_.-]*?(?:${SECRET_PARAM}|passphrase|private[_-]?key|client[_-]?key[_-]?data)`;

const RULES: Array<[RegExp, string | ((...m: string[]) => string)]> = [
  // PEM and OpenSSH private key blocks (a block cut short is removed to the end)
  [
    /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----[\s\S]*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY( BLOCK)?-----|$)/g,
    REDACTED,
  ],
  // scheme://user:password@host, the password possibly holding @ or / (up to the last @)
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s"'<>]*@(?=[^\s@"'<>]+)/gi, `$1${REDACTED}@`],
  // the same, percent-encoded: https%3A%2F%2Fuser%3Apw%40host
  [/\b([a-z][a-z0-9+.-]*%3A%2F%2F)[^\s"'<>&]*?%40/gi, `$1${REDACTED}%40`],
  // ?token=…, &api_key=…, ;sig=…, &private_token=…
  [new RegExp(`([?&;]${SECRET_NAME}=)[^&#\\s"'<>]*`, "gi"), `$1${REDACTED}`],
  // the image service's /bytoken/<token>/ paths
  [/(\/bytoken\/)[^/\s"'?#]+/gi, `$1${REDACTED}`],
  // Authorization: Bearer …, Basic …, Token …; Digest … to the end of the line
  [/\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/=-]{8,}/gi, `$1$2${REDACTED}`],
  [/\b(digest)\s+[^\r\n]+/gi, `$1 ${REDACTED}`],
  // Cookie: a=b; c=d and Set-Cookie: …
  [/\b((?:set-)?cookie\s*[:=]\s*)[^\r\n]+/gi, `$1${REDACTED}`],
  // JWTs
  [/\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g, REDACTED],
  // SSH public keys (dropped from their columns; not through a message either)
  [
    /\b(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp\d+|sk-(?:ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)\s+[A-Za-z0-9+/]{16,}={0,3}/g,
    REDACTED,
  ],
  // password: "a b" (a quoted value, spaces included)
  [
    new RegExp(
      `(?<![A-Za-z0-9])(${SECRET_NAME})(\\\\?["']?\\s*[:=]\\s*)(\\\\?["'])(?!\\[REDACTED\\])(?:(?!\\3)[^\\r\\n])*\\3`,
      "gi",
    ),
    `$1$2$3${REDACTED}$3`,
  ],
  // password=…, "token": …, DB_PASSWORD=a,b, bmc_password: …
  [
    new RegExp(
      `(?<![A-Za-z0-9])(${SECRET_NAME})(\\\\?["']?\\s*[:=]\\s*\\\\?["']?)(?!\\[REDACTED\\])[^\\s"'\\\\;&}]+`,
      "gi",
    ),
    `$1$2${REDACTED}`,
  ],
  // --password X, --token=X, -p X (flags that take a secret)
  [
    /(^|\s)(--[a-z0-9-]*(?:password|passwd|passphrase|token|secret|api-key)(?:\s+|=)|-p\s+|-P\s+)(?!\[REDACTED\])(\S+)/gi,
    `$1$2${REDACTED}`,
  ],
  // prose: "the password is X", "token was X"
  [
    /\b(password|passphrase|passwd|secret|token)(\s+(?:is|was|of|set to)\s+)(?!\[REDACTED\])(\S+)/gi,
    `$1$2${REDACTED}`,
  ],
];

const BASE64_BLOB = /(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{12,}={0,2}(?![A-Za-z0-9+/=])/g;
/** An e-mail address in any script, with a quoted local part or an IP-literal domain too. */
const EMAIL =
  /(?:"[^"\r\n@]{1,64}"|[\p{L}\p{N}._%+-]+)@(?:\[[0-9A-Fa-f.:]+\]|[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)*\.\p{L}{2,})/gu;
/** Other spellings of `@` and `.` that still make an address. */
const AT_SPELLINGS = /%40|\\u0040|&#0*64;|&#x0*40;|\uFF20|\s*[(\[]\s*at\s*[)\]]\s*/gi;
const DOT_SPELLINGS = /\s*[(\[]\s*dot\s*[)\]]\s*/gi;
const MAYBE_SPELLED = /%40|\\u0040|&#|\uFF20|[(\[]\s*at\s*[)\]]/i;

/** Whether `prepare` may have work for a value: any text long enough to hold a token or an address. */
export function needsPreparing(value: string): boolean {
  return value.length >= 6;
}

/** The text with every spelling of an address written plainly, so one pattern finds them all. */
export function unifyEmailSpellings(text: string): string {
  if (!MAYBE_SPELLED.test(text)) return text;
  return text.replace(AT_SPELLINGS, "@").replace(DOT_SPELLINGS, ".");
}

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

/** Cheap tests that decide whether a rule can match at all; most event messages pass none. */
const MAYBE_SECRET_WORD = new RegExp(
  `${SECRET_PARAM}|passphrase|client[_-]?key|cookie|digest`,
  "i",
);
const BASE64_CHARS = charClass("A-Za-z0-9+/");
const MAYBE_FLAG =
  /(?:^|\s)-[pP]\s|--[a-z0-9-]*(?:password|passwd|passphrase|token|secret|api-key)/i;

/** Removes credentials and tokens from `text`; leaves e-mail addresses alone. */
export function removeSecrets(text: string): string {
  let out = text;
  const [
    pem,
    creds,
    encodedCreds,
    params,
    bytoken,
    auth,
    digest,
    cookie,
    jwt,
    ssh,
    quoted,
    keyword,
    flags,
    prose,
  ] = RULES;
  const apply = (rule: (typeof RULES)[number]) => {
    out = out.replace(rule[0], rule[1] as string);
  };
  if (out.includes("-----BEGIN")) apply(pem);
  if (out.includes("://") && out.includes("@")) apply(creds);
  if (out.includes("%40")) apply(encodedCreds);
  const hasWord = MAYBE_SECRET_WORD.test(out);
  if (hasWord && out.includes("=")) apply(params);
  if (/bytoken/i.test(out)) apply(bytoken);
  if (hasWord || /bearer|basic/i.test(out)) apply(auth);
  if (hasWord) {
    apply(digest);
    apply(cookie);
  }
  if (out.includes("eyJ")) apply(jwt);
  if (/ssh-|ecdsa-/.test(out)) apply(ssh);
  if (hasWord) {
    apply(quoted);
    apply(keyword);
  }
  if (MAYBE_FLAG.test(out)) apply(flags);
  if (hasWord) apply(prose);
  if (!hasRun(out, BASE64_CHARS, 12)) return out;
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
  readonly #users = new Map<string, string>();
  /**
   * Texts `prepare` has looked at already. Looking again costs little more
   * than a lookup, so it pays only while most texts repeat.
   */
  readonly #screened = new Memo<string, true>({ worthAt: 0.5 });
  /** What secretlint found in texts `prepare` gave it, by text. */
  readonly #linted = new Map<string, Array<[number, number]>>();
  /** How many of those it found something in. */
  #flaggedTexts = 0;
  /** Free texts scrubbed. */
  readonly #memo = new Memo<string, string>();
  /** Values kept as stored (names, statuses): apart, as they repeat where texts may not. */
  readonly #values = new Memo<string, string>();
  readonly #knownSet = new Set<string>();
  #knownUuids = 0;
  /** Known secret values (pull-secret auths, tokens): removed wherever they appear. */
  readonly #known = new SecretScanner();
  /** Set under OBFUSCATE=networking. */
  readonly network?: NetworkObfuscator;

  constructor(
    key: CryptoKey,
    options: { knownSecrets?: Iterable<string>; network?: NetworkObfuscator } = {},
  ) {
    this.#key = key;
    this.network = options.network;
    this.addKnownSecrets(options.knownSecrets ?? []);
  }

  /** Adds secret values learnt from a row (for example a cluster's own pull secret). */
  addKnownSecrets(values: Iterable<string>): void {
    for (const v of values) {
      if (v.length >= MIN_SECRET && !this.#knownSet.has(v)) {
        this.#known.add(v, "known");
        this.#knownSet.add(v);
        if (isUuid(v)) this.#knownUuids++;
      }
    }
    this.#memo.clear();
    this.#values.clear();
  }

  /**
   * Hashes, ahead of time, every e-mail address in `values`, so the
   * synchronous scrubbing that follows finds them cached. Web Crypto is
   * asynchronous; doing it per batch keeps a million events off the
   * microtask queue.
   */
  async prepare(values: Iterable<unknown>): Promise<void> {
    // What the ruleset found is forgotten only between batches, and with the texts
    // screened: a text counted as screened always has its findings kept, and every
    // text of this batch keeps them until the next one.
    if (this.#screened.size >= MEMO_LIMIT || this.#linted.size >= MEMO_LIMIT) {
      this.#screened.clear();
      this.#linted.clear();
      this.#flaggedTexts = 0;
    }
    for (const raw of values) {
      // Each distinct text is looked at once (while texts repeat, as event texts do).
      if (typeof raw !== "string" || raw === "" || this.#screened.get(raw)) continue;
      this.#screened.set(raw, true);
      // The ruleset is slow: a text it has read is not read again, even while texts
      // are no longer memoised as screened.
      if (maySecretlint(raw) && !this.#linted.has(raw)) {
        const ranges = await secretlintRanges(raw);
        this.#linted.set(detach(raw), ranges);
        if (ranges.length > 0) this.#flaggedTexts++;
      }
      if (!raw.includes("@") && !MAYBE_SPELLED.test(raw)) continue;
      const value = unifyEmailSpellings(raw);
      for (const address of value.match(EMAIL) ?? []) {
        if (this.#emails.has(address)) continue;
        this.#emails.set(
          detach(address),
          `email-hmac:${(await emailHmac(this.#key, address)).slice(0, 32)}`,
        );
      }
    }
  }

  /** Whether the maintained ruleset found a secret in `text` (given to `prepare`). */
  flagged(text: string): boolean {
    return (this.#findings(text)?.length ?? 0) > 0;
  }

  /**
   * What the ruleset found in `text`, if it read it and found anything. Only
   * texts that may hold a token are read, so no other text is looked up, and
   * none while it found nothing (hashing a new text for a lookup costs more
   * than that test).
   */
  #findings(text: string): Array<[number, number]> | undefined {
    return this.#flaggedTexts > 0 && maySecretlint(text) ? this.#linted.get(text) : undefined;
  }

  /** `text` without what the ruleset found in it. */
  withoutLinted(text: string): string {
    const ranges = this.#findings(text);
    return ranges?.length ? redactRanges(text, ranges, REDACTED) : text;
  }

  /** Hashes user names ahead of {@linkcode userSync}. */
  async prepareUsers(names: Iterable<unknown>): Promise<void> {
    for (const name of names) {
      if (typeof name !== "string" || name === "" || this.#users.has(name)) continue;
      this.#users.set(name, await userHmac(this.#key, name));
    }
  }

  /** The keyed pseudonym of a user name hashed by `prepareUsers`; null when empty or unseen. */
  userSync(name: unknown): string | null {
    return typeof name === "string" && name !== "" ? this.#users.get(name) ?? null : null;
  }

  /** The pseudonym of an address hashed by `prepare`; `[EMAIL]` for one it did not see. */
  #email(address: string): string {
    return this.#emails.get(address) ?? "[EMAIL]";
  }

  /** Scrubs free text (after `prepare`). Results are memoised: event texts repeat a lot. */
  textSync(value: string): string {
    const out = this.#memo.get(value);
    if (out !== undefined) return out;
    return this.#memo.set(value, this.#scrub(value));
  }

  #scrub(value: string): string {
    // The maintained ruleset's findings first (on the text as it was given),
    // then our patterns: redacting a known value that is an ordinary word
    // (a BMC password "password") must not remove the context they need.
    let out = removeSecrets(unifyEmailSpellings(this.withoutLinted(value)));
    out = this.#known.redact(out, REDACTED);
    if (out.includes("@")) out = out.replace(EMAIL, (address) => this.#email(address));
    return this.network ? this.network.text(out) : out;
  }

  /** Scrubs free text. */
  async text(value: string): Promise<string> {
    await this.prepare([value]);
    return this.textSync(value);
  }

  /**
   * Whether {@linkcode valueSync} gives `value` back as it is without a look:
   * a canonical UUID that is no known secret, while networking is not
   * pseudonymised. Such a value holds only hex digits and dashes.
   */
  keepsAsIs(value: string): boolean {
    return !this.network && isUuid(value) &&
      (this.#knownUuids === 0 || !this.#knownSet.has(value));
  }

  /**
   * Scrubs a value kept as stored (ids, statuses, names): the same as free
   * text, as a second line of defence, with a fast path for identifiers.
   */
  valueSync(value: string): string {
    if (this.keepsAsIs(value)) return value;
    const memo = this.#values.get(value);
    if (memo !== undefined) return memo;
    if (!this.network && PLAIN_ID.test(value) && !this.#knownSet.has(value)) {
      return this.#values.set(value, value);
    }
    return this.#values.set(value, this.#scrub(value));
  }

  /**
   * Scrubs a text column holding JSON: values under secret-looking keys are
   * redacted and every string is scrubbed as text. Text that is not valid
   * JSON is scrubbed as plain text, so a corrupt row neither crashes nor leaks.
   */
  jsonTextSync(value: string): string {
    let parsed: unknown;
    try {
      // What the ruleset found is removed first: its tokens sit inside JSON strings.
      parsed = JSON.parse(this.withoutLinted(value));
    } catch {
      return this.textSync(value);
    }
    return JSON.stringify(this.jsonSync(parsed));
  }

  /** As {@linkcode jsonTextSync}, hashing the addresses first. */
  async jsonText(value: string): Promise<string> {
    await this.prepare([value]);
    return this.jsonTextSync(value);
  }

  /** Scrubs a parsed JSON value, recursively. */
  jsonSync(value: unknown, depth = 0): unknown {
    if (depth > 64) return REDACTED;
    if (typeof value === "string") return this.textSync(value);
    if (Array.isArray(value)) return value.map((item) => this.jsonSync(item, depth + 1));
    if (value && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        out[this.textSync(k)] = isSecretKey(k) && v !== null && v !== "" && typeof v !== "boolean"
          ? REDACTED
          : this.jsonSync(v, depth + 1);
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

/** Secret words a JSON key may contain once normalised (lower case, no `_`, `-` or `.`). */
const SECRET_KEY_WORDS =
  /password|passwd|passphrase|secret|token|credential|apikey|accesskey|privatekey|sshkey|clientkey|cookie|authorization|^auth$|pullsecret|sessionid|signature/;

/** True for JSON keys whose values are secrets (`password`, `api_key`, `accessKey`, `privateKeyPem`, …). */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) || SECRET_KEY_WORDS.test(key.toLowerCase().replace(/[_.-]/g, ""));
}
