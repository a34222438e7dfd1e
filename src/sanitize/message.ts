/**
 * Event messages read by their template (allow-list at the level of a
 * message's parts). assisted-service renders each user event's message from
 * the template its `name` names; the template's fixed text is known safe,
 * and each parameter gets the treatment its kind allows. A message that does
 * not match its name's template, or whose name is unknown, is free text and
 * gets the strictest treatment.
 */
import { EVENT_TEMPLATES, type ParamKind } from "../../contract/event_templates.ts";
import { UUID } from "../../contract/archive.ts";
import { Memo, type TextScrubber } from "./text.ts";
import { DISK_ID, diskName } from "./disk.ts";

/** Event names memoised at most (assisted-service has ~80; a full memo starts over). */
const NAMES_LIMIT = 256;

interface Compiled {
  pattern: RegExp;
  /** The fixed parts around the parameters, and the parameters in order. */
  parts: string[];
  params: Array<{ name: string; kind: ParamKind }>;
}

/** Statuses, stages, roles, validation ids: short words of a safe character set. */
const ENUM = /^[A-Za-z0-9][A-Za-z0-9 _.:()-]{0,79}$/;
/** Where each kind is captured: words for the strict kinds, anything for the rest. */
const CAPTURE: Record<ParamKind, string> = {
  uuid: "([0-9a-fA-F-]{36})",
  integer: "(-?\\d+)",
  boolean: "(true|false)",
  enum: "([\\s\\S]*?)",
  host: "([\\s\\S]*?)",
  address: "([\\s\\S]*?)",
  disk: "([\\s\\S]*?)",
  image: "([\\s\\S]*?)",
  text: "([\\s\\S]*?)",
};

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Compiles one template; throws when it cannot be parsed (a test runs every one). */
export function compileTemplate(
  template: string,
  params: Record<string, ParamKind>,
): Compiled {
  const parts: string[] = [];
  const order: Array<{ name: string; kind: ParamKind }> = [];
  let source = "^";
  let last = 0;
  for (const match of template.matchAll(/\{([a-z_]+)\}/g)) {
    const name = match[1];
    const kind = params[name];
    if (!kind) throw new Error(`template parameter {${name}} has no declared kind`);
    parts.push(template.slice(last, match.index));
    source += escape(template.slice(last, match.index)) + CAPTURE[kind];
    order.push({ name, kind });
    last = match.index! + match[0].length;
  }
  if (/[{}]/.test(template.slice(last)) || parts.some((p) => /[{}]/.test(p))) {
    throw new Error(`template has an unparseable brace: ${template}`);
  }
  parts.push(template.slice(last));
  source += escape(template.slice(last)) + "$";
  return { pattern: new RegExp(source), parts, params: order };
}

const COMPILED = new Map<string, Compiled>(
  EVENT_TEMPLATES.map((t) => [t.name, compileTemplate(t.template, t.params)]),
);

/** Reads messages through their templates; one per archive (it memoises per scrubber). */
export class MessageReader {
  readonly #scrubber: TextScrubber;
  /** What each message gave, by event name (no key is built per event: this runs for every one). */
  readonly #memo = new Map<string, Memo<string, string>>();

  constructor(scrubber: TextScrubber) {
    this.#scrubber = scrubber;
  }

  /** The message as it may leave. */
  read(name: unknown, message: string): string {
    const eventName = typeof name === "string" ? name : "";
    let byMessage = this.#memo.get(eventName);
    if (!byMessage) {
      if (this.#memo.size >= NAMES_LIMIT) this.#memo.clear();
      this.#memo.set(eventName, byMessage = new Memo());
    }
    return byMessage.get(message) ?? byMessage.set(message, this.#read(eventName, message));
  }

  #read(name: string, message: string): string {
    const compiled = COMPILED.get(name);
    // A message the maintained ruleset flagged is read strictly, as free text.
    if (this.#scrubber.flagged(message)) return this.#strict(message);
    const match = compiled?.pattern.exec(message);
    if (!compiled || !match) return this.#strict(message);
    let out = compiled.parts[0];
    for (let i = 0; i < compiled.params.length; i++) {
      const value = this.#param(compiled.params[i].kind, match[i + 1]);
      if (value === undefined) return this.#strict(message);
      out += value + compiled.parts[i + 1];
    }
    return out;
  }

  /** A parameter's value as its kind allows; undefined when it is not of its kind. */
  #param(kind: ParamKind, value: string): string | undefined {
    const s = this.#scrubber;
    switch (kind) {
      case "uuid":
        return UUID.test(value) ? s.valueSync(value) : undefined;
      case "integer":
      case "boolean":
        return value;
      case "enum":
        return ENUM.test(value) && !value.includes("@") ? s.valueSync(value) : undefined;
      case "host":
      case "address":
        // A network identifier: kept, or pseudonymised under OBFUSCATE=networking.
        return s.valueSync(value);
      case "disk":
        return diskName(value);
      case "image":
        return s.textSync(value.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/@\s]+@(?=[^/]+\/)/i, "$1"));
      case "text":
        return s.textSync(value);
    }
  }

  /** A message of no known template: free text, scrubbed, and no disk id left raw. */
  #strict(message: string): string {
    return this.#scrubber.textSync(message).replace(
      /\/dev\/disk\/by-[a-z-]+\/\S+|\bwwn-0x[0-9a-f]+\b|\b(?:ata|scsi|nvme|usb)-[A-Za-z0-9_.-]+/gi,
      DISK_ID,
    );
  }
}

/** Only the props a metric defines, values scrubbed; `{}` for anything else. */
export function metricProps(
  scrubber: TextScrubber,
  allowed: readonly string[] | undefined,
  raw: string,
): string {
  if (!allowed || scrubber.flagged(raw)) return "{}";
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return "{}";
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return "{}";
  const out: Record<string, unknown> = {};
  for (const key of allowed) {
    const value = (parsed as Record<string, unknown>)[key];
    // A metric's props are facts (roles, vendors, stages) that repeat: scrubbed as values.
    if (typeof value === "number" || typeof value === "boolean") out[key] = value;
    else if (typeof value === "string") out[key] = scrubber.valueSync(value);
    else if (Array.isArray(value)) {
      out[key] = value.filter((v) => typeof v === "string").map((v) => scrubber.valueSync(v));
    }
  }
  return JSON.stringify(out);
}
