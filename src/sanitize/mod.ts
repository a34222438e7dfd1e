/**
 * Turns rows into the API-shaped, sanitised objects of the archive, by the
 * allow-lists of `policy.ts`. Nothing outside those lists is ever copied.
 */
import { ABSENT, encodeValue, formatDateTime } from "./encode.ts";
import {
  CLUSTER,
  type EntityPolicy,
  EVENT,
  type FieldRule,
  HOST,
  INFRA_ENV,
  METRIC_PROPS,
  NETWORK_SHAPE_PARTS,
  OPERATOR_KEYS,
} from "../../contract/policy.ts";
import { userId } from "./pseudonym.ts";
import {
  reduceArgs,
  reduceInventory,
  reduceKernelArgs,
  reduceKeyPaths,
  reduceProxy,
} from "./reduce.ts";
import { needsPreparing, TextScrubber } from "./text.ts";

export { CLUSTER, EVENT, HOST, INFRA_ENV } from "../../contract/policy.ts";
import { MessageReader, metricProps } from "./message.ts";
import { diskName, reshapeDisksInfo } from "./disk.ts";
export { TextScrubber } from "./text.ts";
export { NetworkObfuscator } from "./network.ts";
export { importHmacKey, userId } from "./pseudonym.ts";

/** Counts of VIPs and networks per address family, from their rows: never an address. */
export function networkShape(
  raw: unknown,
): Record<string, { ipv4: number; ipv6: number }> | undefined {
  if (!raw || typeof raw !== "object") return undefined;
  const out: Record<string, { ipv4: number; ipv6: number }> = {};
  for (const part of NETWORK_SHAPE_PARTS) {
    const rows = (raw as Record<string, unknown>)[part];
    const counts = { ipv4: 0, ipv6: 0 };
    for (const row of Array.isArray(rows) ? rows : []) {
      const text = String((row as Row)?.ip ?? (row as Row)?.cidr ?? "");
      if (text.includes(":")) counts.ipv6++;
      else if (/^\d+\.\d+\.\d+\.\d+/.test(text)) counts.ipv4++;
    }
    out[part] = counts;
  }
  return out;
}

/** The columns of an event that hold free text. */
const EVENT_TEXT = ["message", "props"];

/** How `user_id` is made: keyed (default), or the SaaS scraper's unsalted FNV-1a. */
export type UserIdHash = "hmac" | "scraper-fnv";

/** A database row, keyed by column name. */
export type Row = Record<string, unknown>;

/** Identity facts taken from a pull secret, as upstream fills empty cluster fields. */
export interface IdentityFallback {
  user?: string;
  email?: string;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  if (!path.includes(".")) {
    target[path] = value;
    return;
  }
  const parts = path.split(".");
  let node = target;
  for (const part of parts.slice(0, -1)) {
    if (typeof node[part] !== "object" || node[part] === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]] = value;
}

// writeEvent writes the event's keys itself: it relies on a flat policy without fixed keys.
if (EVENT.objects.length > 0 || EVENT.fixed || EVENT.fields.some((f) => f.key.includes("."))) {
  throw new Error("events.json entries must be flat objects");
}
const EVENT_FIELDS = EVENT.fields;
/** Each event key as JSON with its colon, opening the object or after a comma. */
const EVENT_KEYS_FIRST = EVENT_FIELDS.map((f) => `{${JSON.stringify(f.key)}:`);
const EVENT_KEYS_AFTER = EVENT_FIELDS.map((f) => `,${JSON.stringify(f.key)}:`);
/** Fields whose output depends on their own column alone (a message is read by its name). */
const EVENT_OWN_COLUMN = EVENT_FIELDS.map((f) =>
  f.treatment !== "message" && f.treatment !== "metricProps"
);
/** Fields that are nullable timestamps kept as they are (rebuilt from their digits). */
const EVENT_TIME = EVENT_FIELDS.map((f) => f.treatment === "keep" && f.encoding === "dateTimePtr");
/** Fields kept as stored text, where an id is written as it is (see TextScrubber.keepsAsIs). */
const EVENT_ID = EVENT_FIELDS.map((f) =>
  f.treatment === "keep" && ["string", "stringPtr", "stringAlways"].includes(f.encoding)
);
const NOT_SEEN = Symbol("not seen");

const TIME_ENCODINGS: ReadonlySet<string> = new Set(["dateTime", "dateTimePtr", "time", "timePtr"]);

/** Applies an entity's allow-list to rows; one instance per archive. */
export class Sanitizer {
  readonly scrubber: TextScrubber;

  readonly #messages: MessageReader;
  readonly #userIds: UserIdHash;

  constructor(scrubber: TextScrubber, options: { userIds?: UserIdHash } = {}) {
    this.scrubber = scrubber;
    this.#messages = new MessageReader(scrubber);
    this.#userIds = options.userIds ?? "hmac";
  }

  #treat(rule: FieldRule, raw: unknown): unknown {
    // A timestamp is rebuilt from the digits its strict pattern matched, or
    // dropped: nothing else of the text can reach the output, so there is
    // nothing to scrub (and a million unique event times would each miss the memo).
    if (rule.treatment === "keep" && TIME_ENCODINGS.has(rule.encoding)) return raw;
    if (rule.treatment === "userId") {
      return this.#userIds === "scraper-fnv"
        ? userId(typeof raw === "string" ? raw : null)
        : this.scrubber.userSync(raw);
    }
    if (rule.treatment === "presence") return typeof raw === "string" && raw.trim() !== "";
    if (rule.treatment === "operators") return this.#operators(raw);
    if (rule.treatment === "diskName") return typeof raw === "string" && raw ? diskName(raw) : raw;
    if (rule.treatment === "disksInfo") {
      if (typeof raw !== "string" || raw === "") return raw;
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        return "{}"; // not the object it should be: nothing of it is known to be a fact
      }
      // Secret-named keys are judged before disk keys are renamed.
      return JSON.stringify(reshapeDisksInfo(this.scrubber.jsonSync(parsed)));
    }
    if (rule.treatment === "networkShape") return networkShape(raw);
    if (typeof raw !== "string" || raw === "") return raw;
    const s = this.scrubber;
    switch (rule.treatment) {
      case "keep":
      case "network":
        return s.valueSync(raw);
      case "text":
        return s.textSync(raw);
      case "json":
        return s.jsonTextSync(raw);
      case "proxy":
        return reduceProxy(raw);
      case "keyPaths":
        return s.textSync(reduceKeyPaths(raw));
      case "args":
        return reduceArgs(raw);
      case "kernelArgs":
        return reduceKernelArgs(raw);
      case "inventory":
        return s.jsonTextSync(reduceInventory(raw));
    }
  }

  /** Each monitored operator's allowed keys; strings scrubbed, `bundles` a list of names. */
  #operators(raw: unknown): unknown {
    if (!Array.isArray(raw)) return undefined;
    return raw.map((op) => {
      const out: Record<string, unknown> = {};
      for (const key of OPERATOR_KEYS) {
        let value = (op as Row)?.[key];
        if (typeof value === "string" && key === "bundles") {
          try {
            value = JSON.parse(value);
          } catch {
            value = undefined;
          }
        }
        if (Array.isArray(value)) {
          out[key] = value.filter((v) => typeof v === "string").map((v) =>
            this.scrubber.valueSync(v)
          );
        } else if (typeof value === "string" && value !== "") {
          out[key] = this.scrubber.valueSync(value);
        }
      }
      return out;
    });
  }

  /** One field's output value by its rule, or {@linkcode ABSENT}. */
  #field(rule: FieldRule, row: Row): unknown {
    const raw = row[rule.column] ?? null;
    const treated = rule.treatment === "message" && typeof raw === "string"
      ? this.#messages.read(row.name, raw)
      : rule.treatment === "metricProps" && typeof raw === "string" && raw !== ""
      ? metricProps(
        this.scrubber,
        // Own keys only: a metric named `valueOf` must not find Object's method.
        row.category === "metrics" && typeof row.message === "string" &&
          Object.hasOwn(METRIC_PROPS, row.message)
          ? METRIC_PROPS[row.message]
          : undefined,
        raw,
      )
      : this.#treat(rule, raw);
    return encodeValue(treated, rule.encoding);
  }

  /** Builds one output object from a row by `policy`, once `prepare` has seen the row. */
  applySync(policy: EntityPolicy, row: Row): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const path of policy.objects) setPath(out, path, {});
    for (const rule of policy.fields) {
      const value = this.#field(rule, row);
      if (value !== ABSENT) setPath(out, rule.key, value);
    }
    for (const [key, value] of Object.entries(policy.fixed ?? {})) out[key] = value;
    return out;
  }

  /** Hashes the e-mail addresses of these rows ahead of the synchronous work. */
  async prepare(rows: Iterable<Row>): Promise<void> {
    // Few values hold an "@": hand over just those, so a batch costs one await, not one per row.
    const texts: string[] = [];
    const users: unknown[] = [];
    for (const row of rows) {
      if (row.user_name) users.push(row.user_name);
      // An event's only free text is its message and props: a million ids and
      // times need no look (this runs for every event).
      for (const key of "event_time" in row ? EVENT_TEXT : Object.keys(row)) {
        const value = row[key];
        if (typeof value === "string" && needsPreparing(value)) texts.push(value);
      }
    }
    if (users.length > 0 && this.#userIds === "hmac") await this.scrubber.prepareUsers(users);
    if (texts.length > 0) await this.scrubber.prepare(texts);
  }

  /** Builds one output object from a row by `policy`. */
  async apply(policy: EntityPolicy, row: Row): Promise<Record<string, unknown>> {
    await this.prepare([row]);
    return this.applySync(policy, row);
  }

  /**
   * `cluster.json`. As upstream does, an empty `user_name` or `email_domain`
   * is filled from the pull secret's identity before pseudonymisation.
   */
  async cluster(row: Row, identity: IdentityFallback = {}): Promise<Record<string, unknown>> {
    const filled = { ...row };
    if (!filled.user_name && identity.user) filled.user_name = identity.user;
    const domain = identity.email?.split("@")[1];
    if ((!filled.email_domain || filled.email_domain === "Unknown") && domain) {
      filled.email_domain = domain;
    }
    return await this.apply(CLUSTER, filled);
  }

  /** One entry of `hosts.json`. */
  async host(row: Row): Promise<Record<string, unknown>> {
    return await this.apply(HOST, row);
  }

  /** `infraenv.json`. */
  async infraEnv(row: Row): Promise<Record<string, unknown>> {
    return await this.apply(INFRA_ENV, row);
  }

  /** One entry of `events.json`. */
  async event(row: Row): Promise<Record<string, unknown>> {
    return await this.apply(EVENT, row);
  }

  /** One entry of `events.json`, once `prepare` has seen the row. */
  eventSync(row: Row): Record<string, unknown> {
    return this.applySync(EVENT, row);
  }

  /** Per field of an event: the last raw value seen and its JSON value (see writeEvent). */
  readonly #lastRaw: unknown[] = EVENT_FIELDS.map(() => NOT_SEEN);
  readonly #lastJson: Array<string | undefined> = EVENT_FIELDS.map(() => undefined);
  /** A field's value as JSON, or undefined when the key is left out (as in an object). */
  #fieldJson(i: number, row: Row): string | undefined {
    // Times and ids hold nothing JSON escapes: quoted as they are, a few times
    // faster than JSON.stringify, for the two or three of them every event has.
    if (EVENT_TIME[i]) {
      const time = formatDateTime(row[EVENT_FIELDS[i].column]);
      return time === null ? "null" : '"' + time + '"';
    }
    if (EVENT_ID[i]) {
      const raw = row[EVENT_FIELDS[i].column];
      if (typeof raw === "string" && this.scrubber.keepsAsIs(raw)) return '"' + raw + '"';
    }
    const value = this.#field(EVENT_FIELDS[i], row);
    if (value === ABSENT || value === undefined) return undefined;
    return JSON.stringify(value);
  }

  /**
   * One entry of `events.json` as JSON text, once `prepare` has seen the row:
   * exactly the text `JSON.stringify(eventSync(row))` gives. Written key by
   * key, without the object between (a pass does this a million times), by
   * concatenation: V8 links the pieces and copies them once, when the batch's
   * text is encoded, where joining an array of them cost about three times as
   * much (README, Scale). A field that depends on its own column only and
   * holds the same value as in the previous event (the cluster id, often the
   * host, category, severity) reuses that event's text: the treatment of a
   * value does not change within an archive.
   */
  eventJson(row: Row): string {
    let out = "";
    for (let i = 0; i < EVENT_FIELDS.length; i++) {
      let json: string | undefined;
      if (EVENT_OWN_COLUMN[i]) {
        const raw = row[EVENT_FIELDS[i].column];
        if (raw === this.#lastRaw[i]) json = this.#lastJson[i];
        else {
          json = this.#fieldJson(i, row);
          this.#lastRaw[i] = raw;
          this.#lastJson[i] = json;
        }
      } else json = this.#fieldJson(i, row);
      if (json === undefined) continue;
      out += (out === "" ? EVENT_KEYS_FIRST[i] : EVENT_KEYS_AFTER[i]) + json;
    }
    return out === "" ? "{}" : out + "}";
  }
}
