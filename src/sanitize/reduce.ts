/**
 * Reductions: a sensitive value becomes the fact the analysis needs, never
 * the value itself.
 */
import { INVENTORY } from "../../contract/policy.ts";

/** A proxy URL becomes its scheme, plus `+credentials` when it carried any. */
export function reduceProxy(value: string): string {
  const text = value.trim();
  if (text === "") return "";
  const match = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)/i.exec(text);
  const scheme = match ? match[1].toLowerCase() : "http";
  const authority = match ? match[2] : text.split(/[/?#]/)[0];
  return authority.includes("@") ? `${scheme}+credentials` : scheme;
}

const MAX_PATHS = 200;

function collectPaths(value: unknown, prefix: string, out: Set<string>, depth: number): void {
  if (out.size >= MAX_PATHS || depth > 32) return;
  if (Array.isArray(value)) {
    if (value.length === 0 && prefix) out.add(prefix + "[]");
    for (const item of value) collectPaths(item, prefix + "[]", out, depth + 1);
    return;
  }
  if (value && typeof value === "object") {
    const entries = Object.entries(value);
    if (entries.length === 0 && prefix) out.add(prefix);
    for (const [k, v] of entries) collectPaths(v, prefix ? `${prefix}.${k}` : k, out, depth + 1);
    return;
  }
  if (prefix) out.add(prefix);
}

/**
 * Free-form JSON (install-config or ignition overrides, labels) becomes the
 * sorted list of key paths it sets, as a JSON string, with no values.
 */
export function reduceKeyPaths(value: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return JSON.stringify(["<unparseable>"]);
  }
  const paths = new Set<string>();
  collectPaths(parsed, "", paths, 0);
  return JSON.stringify([...paths].sort());
}

/** Installer arguments keep their flags (`--append-karg`), not their values. */
export function reduceArgs(value: string): string {
  try {
    const parsed = JSON.parse(value);
    if (Array.isArray(parsed)) {
      return JSON.stringify(
        parsed.filter((a) => typeof a === "string" && /^-{1,2}[A-Za-z]/.test(a))
          .map((a) => a.split("=")[0])
          // A flag is a short word; anything else ("-pS3cret") is not kept.
          .filter((flag) => /^--?[A-Za-z][A-Za-z0-9-]{0,40}$/.test(flag)),
      );
    }
  } catch {
    // fall through
  }
  return JSON.stringify(["<unparseable>"]);
}

/** A kernel argument's name (`ip`, `rd.break`): a short word, or nothing of it. */
function argumentName(value: string): string {
  const name = value.split("=")[0].trim();
  return /^[A-Za-z0-9_.-]{1,64}$/.test(name) ? name : "[REDACTED]";
}

/** Kernel arguments keep each operation and argument name (`ip`, `rd.break`), not values. */
export function reduceKernelArgs(value: string): string {
  try {
    const parsed = JSON.parse(value);
    if (Array.isArray(parsed)) {
      return JSON.stringify(parsed.map((a) => ({
        operation: typeof a?.operation === "string" ? a.operation : undefined,
        name: typeof a?.value === "string" ? argumentName(a.value) : undefined,
      })));
    }
  } catch {
    // fall through
  }
  return JSON.stringify(["<unparseable>"]);
}

type Json = Record<string, unknown>;

function pick(source: unknown, keys: string[]): Json | undefined {
  if (!source || typeof source !== "object" || Array.isArray(source)) return undefined;
  const out: Json = {};
  for (const k of keys) {
    const v = (source as Json)[k];
    if (v !== undefined && (typeof v !== "object" || v === null)) out[k] = v;
  }
  return out;
}

function pickEach(source: unknown, keys: string[]): Json[] | undefined {
  return Array.isArray(source) ? source.map((item) => pick(item, keys) ?? {}) : undefined;
}

/**
 * A host inventory keeps its hardware facts (CPU, memory, disks by type and
 * size, vendor and model, NICs by speed) and loses serials, MACs, IPs,
 * hostnames and the BMC address. Returns a JSON string.
 */
export function reduceInventory(value: string): string {
  let inv: Json;
  try {
    inv = JSON.parse(value);
    if (!inv || typeof inv !== "object" || Array.isArray(inv)) throw new Error("not an object");
  } catch {
    return JSON.stringify({ unparseable: true });
  }
  const out: Json = {};
  for (const { key, kind, keys } of INVENTORY) {
    out[key] = kind === "object"
      ? pick(inv[key], keys!)
      : kind === "list"
      ? pickEach(inv[key], keys!)
      : (kind === "string" ? typeof inv[key] === "string" : typeof inv[key] === "number")
      ? inv[key]
      : undefined;
  }
  return JSON.stringify(out);
}
