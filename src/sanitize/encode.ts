/**
 * Encodes column values the way assisted-service's API types serialise them
 * (see the archive shape reference): one rule per Go field type.
 */

import type { Encoding } from "../../contract/policy.ts";

export type { Encoding };

/** Marks a key as absent from the output object. */
export const ABSENT: unique symbol = Symbol("absent");

const TS = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}(?::?\d{2})?)$/;

const ZERO_DATETIME = "0001-01-01T00:00:00.000Z";
const ZERO_TIME = "0001-01-01T00:00:00Z";

/** Splits a PostgreSQL UTC timestamp into date, time and fraction digits. */
function splitTimestamp(value: unknown): [string, string, string] | undefined {
  if (typeof value !== "string") return undefined;
  const m = TS.exec(value.trim());
  if (!m) return undefined;
  const [, date, time, fraction = "", zone] = m;
  if (!/^(Z|[+-]00(:?00)?)$/.test(zone)) {
    // Sessions run in UTC; anything else is re-read through Date (milliseconds).
    const d = new Date(value);
    if (Number.isNaN(d.getTime())) return undefined;
    const iso = d.toISOString();
    return [iso.slice(0, 10), iso.slice(11, 19), iso.slice(20, 23)];
  }
  return [date, time, fraction];
}

function isDigits(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * `formatDateTime` of what a UTC session writes (`2006-01-02 15:04:05.123456+00`,
 * fraction optional), checked by hand; undefined for any other shape. Every
 * event has a time of its own, so this runs a million times a pass.
 */
function formatUtcDateTime(v: string): string | undefined {
  const n = v.length;
  if (
    n < 22 || v.charCodeAt(4) !== 45 || v.charCodeAt(7) !== 45 || v.charCodeAt(10) !== 32 ||
    v.charCodeAt(13) !== 58 || v.charCodeAt(16) !== 58 || !v.endsWith("+00") ||
    !isDigits(v, 0, 4) || !isDigits(v, 5, 7) || !isDigits(v, 8, 10) || !isDigits(v, 11, 13) ||
    !isDigits(v, 14, 16) || !isDigits(v, 17, 19)
  ) return undefined;
  let fraction = "";
  if (n > 22) {
    if (v.charCodeAt(19) !== 46 || n < 24 || n > 32 || !isDigits(v, 20, n - 3)) return undefined;
    fraction = v.slice(20, Math.min(23, n - 3));
  } else if (n !== 22) return undefined;
  return `${v.slice(0, 10)}T${v.slice(11, 19)}.${fraction.padEnd(3, "0")}Z`;
}

/** `2006-01-02T15:04:05.000Z`: milliseconds, truncated, as the consumer keys events on. */
export function formatDateTime(value: unknown): string | null {
  const fast = typeof value === "string" ? formatUtcDateTime(value) : undefined;
  if (fast !== undefined) return fast;
  const parts = splitTimestamp(value);
  if (!parts) return null;
  const [date, time, fraction] = parts;
  return `${date}T${time}.${fraction.padEnd(3, "0").slice(0, 3)}Z`;
}

/** RFC 3339 with 0-6 fraction digits, trailing zeros dropped, as Go's time.Time writes. */
export function formatTime(value: unknown): string | null {
  const parts = splitTimestamp(value);
  if (!parts) return null;
  const [date, time, fraction] = parts;
  const trimmed = fraction.slice(0, 6).replace(/0+$/, "");
  return `${date}T${time}${trimmed ? "." + trimmed : ""}Z`;
}

function asInteger(value: unknown): number | null {
  if (typeof value === "number" && Number.isFinite(value)) return Math.trunc(value);
  if (typeof value === "string" && /^-?\d+$/.test(value.trim())) {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : null;
  }
  return null;
}

function asBool(value: unknown): boolean | null {
  if (typeof value === "boolean") return value;
  return null;
}

function asString(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

/** Encodes one column value; returns {@linkcode ABSENT} where Go would omit the key. */
export function encodeValue(value: unknown, encoding: Encoding): unknown {
  switch (encoding) {
    case "string": {
      const s = asString(value);
      return s === null || s === "" ? ABSENT : s;
    }
    case "stringAlways":
      return asString(value);
    case "stringPtr": {
      const s = asString(value);
      return s === null ? ABSENT : s;
    }
    case "bool":
      return asBool(value) === true ? true : ABSENT;
    case "boolPtr": {
      const b = asBool(value);
      return b === null ? ABSENT : b;
    }
    case "int": {
      const n = asInteger(value);
      return n === null || n === 0 ? ABSENT : n;
    }
    case "intPtr": {
      const n = asInteger(value);
      return n === null ? ABSENT : n;
    }
    case "list":
      return Array.isArray(value) ? value : ABSENT;
    case "object":
      return value !== null && typeof value === "object" && !Array.isArray(value) ? value : ABSENT;
    case "dateTime":
      return formatDateTime(value) ?? ZERO_DATETIME;
    case "dateTimePtr":
      return formatDateTime(value);
    case "time":
      return formatTime(value) ?? ZERO_TIME;
    case "timePtr":
      return formatTime(value);
  }
}
