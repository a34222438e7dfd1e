/**
 * Configuration from the environment, validated with zod at start. A bad
 * setting is reported by name, never by value, since several hold secrets.
 */
import { z } from "zod";
import { parseDuration } from "./duration.ts";
import type { LogLevel } from "../log/mod.ts";

/** The Red Hat ingress endpoint that accepts assisted-installer uploads. */
export const DEFAULT_ENDPOINT = "https://console.redhat.com/api/ingress/v1/upload";
/** Chosen clear of the assisted-service pod's ports (8080, 8090, 8888, 5432). */
export const DEFAULT_PORT = 8765;

/** The four component versions of `versions.json`, keyed as upstream writes them. */
export type Versions = Record<
  | "assisted-installer"
  | "assisted-installer-controller"
  | "assisted-installer-service"
  | "discovery-agent",
  string
>;

/** The validated configuration. */
export interface Config {
  databaseUrl: string;
  enableDataCollection: boolean;
  uploadEndpoint: string;
  pullSecretFile?: string;
  port: number;
  triggerToken?: string;
  scanIntervalMs: number;
  uploadTimeoutMs: number;
  deploymentType: string;
  deploymentVersion: string;
  versions: Versions;
  logLevel: LogLevel;
  /** `OBFUSCATE=networking`: pseudonymise hostnames, domains, IPs, MACs and serials. */
  obfuscateNetworking: boolean;
  retry: { initialMs: number; maxMs: number; maxAttempts: number; authPauseMs: number };
  uploadConcurrency: number;
  uploadsPerMinute: number;
  connectTimeoutMs: number;
  /** PEM text of UPLOAD_CA_FILE, read at start. */
  uploadCaPem?: string;
  uploadCaFile?: string;
  /** Largest archive sent; larger ones are cut (UPLOAD_MAX_BYTES). */
  uploadMaxBytes: number;
  gzipLevel: number;
}

/** Every setting the collector reads, with a one-line description for `--help`. */
export const SETTINGS: ReadonlyArray<[string, string]> = [
  ["DATABASE_URL", "postgres://user:pass@host:5432/db of assisted-service's database"],
  [
    "DB_HOST, DB_PORT, DB_USER, DB_PASS, DB_NAME",
    "alternative to DATABASE_URL (assisted-service's own)",
  ],
  ["ENABLE_DATA_COLLECTION", "true (default); false, 0 or no opts out"],
  ["DATA_UPLOAD_ENDPOINT", `upload URL (default ${DEFAULT_ENDPOINT}); https, or http to loopback`],
  ["PULL_SECRET_FILE", "global pull secret; without a cloud.openshift.com entry it opts out"],
  ["PORT", `HTTP listen port (default ${DEFAULT_PORT})`],
  ["TRIGGER_TOKEN", "bearer token for /v1/*; unset: /v1/* answers loopback only"],
  ["SCAN_INTERVAL", "time between passes, e.g. 30s or 5m (default 5m)"],
  ["UPLOAD_TIMEOUT", "total time allowed for one upload (default 60s)"],
  ["UPLOAD_CONNECT_TIMEOUT", "time allowed to reach the endpoint or proxy (default 10s)"],
  ["UPLOAD_RETRY_INITIAL", "first retry delay, doubled each try, with jitter (default 1m)"],
  ["UPLOAD_RETRY_MAX", "longest retry delay (default 6h)"],
  ["UPLOAD_MAX_ATTEMPTS", "tries before an attempt is abandoned (default 12)"],
  ["UPLOAD_AUTH_PAUSE", "pause of all uploads after a 401 or 403 (default 1h)"],
  ["UPLOAD_CONCURRENCY", "uploads in flight at most (default 1)"],
  ["UPLOAD_RATE_PER_MINUTE", "uploads started per minute at most (default 10)"],
  ["UPLOAD_CA_FILE", "extra CA bundle (PEM) for TLS-intercepting proxies"],
  [
    "UPLOAD_MAX_BYTES",
    "largest archive; larger ones lose metrics, then oldest info events (100 MiB)",
  ],
  ["ARCHIVE_GZIP_LEVEL", "gzip level 1-9 (default 6)"],
  ["HTTPS_PROXY, NO_PROXY", "proxy for uploads, and hosts that bypass it"],
  ["DEPLOYMENT_TYPE, DEPLOYMENT_VERSION", "written to metadata.json (e.g. Podman, ACM)"],
  ["SELF_VERSION, AGENT_DOCKER_IMAGE, INSTALLER_IMAGE, CONTROLLER_IMAGE", "versions.json"],
  ["LOG_LEVEL", "debug, info (default), warn or error"],
  ["OBFUSCATE", "networking: also pseudonymise hostnames, domains, IPs, MACs, serials"],
];

/** Thrown when one or more settings are bad; `problems` names each. */
export class ConfigError extends Error {
  /** One line per bad setting. */
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

type Env = Record<string, string | undefined>;

const LOOPBACK_HOSTS = new Set(["localhost", "[::1]"]);

/** True for 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127(?:\.\d{1,3}){3}$/.test(hostname) ||
    hostname === "::1";
}

function blankToUndefined(value: unknown): unknown {
  return typeof value === "string" && value.trim() === "" ? undefined : value;
}

const optionalText = z.preprocess(blankToUndefined, z.string().trim().optional());

function duration(fallback: string, bounds: { minMs: number; maxMs: number }) {
  return z.preprocess(
    (v) => blankToUndefined(v) ?? fallback,
    z.string().transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined) {
        ctx.addIssue({ code: "custom", message: "must be a duration such as 30s, 5m or 1h" });
        return z.NEVER;
      }
      if (ms < bounds.minMs || ms > bounds.maxMs) {
        ctx.addIssue({
          code: "custom",
          message: `must be between ${bounds.minMs / 1000}s and ${bounds.maxMs / 1000}s`,
        });
        return z.NEVER;
      }
      return ms;
    }),
  );
}

function wholeNumber(fallback: string, min: number, max: number) {
  return z.preprocess(
    (v) => blankToUndefined(v) ?? fallback,
    z.coerce.number().int(`must be a whole number from ${min} to ${max}`).min(
      min,
      `must be a whole number from ${min} to ${max}`,
    ).max(max, `must be a whole number from ${min} to ${max}`),
  );
}

const schema = z.object({
  DATABASE_URL: z.preprocess(
    blankToUndefined,
    z.string().trim().refine((v) => {
      try {
        return ["postgres:", "postgresql:"].includes(new URL(v).protocol);
      } catch {
        return false;
      }
    }, "must be a postgres:// or postgresql:// URL").optional(),
  ),
  DB_PORT: z.preprocess(
    (v) => blankToUndefined(v) ?? "5432",
    z.coerce.number().int("must be a port number").min(1).max(65535),
  ),
  ENABLE_DATA_COLLECTION: z.preprocess(
    (v) => (blankToUndefined(v) ?? "true") as string,
    z.string().trim().toLowerCase().pipe(
      z.enum(["true", "1", "yes", "false", "0", "no"], {
        error: "must be true, false, 1, 0, yes or no",
      }),
    ).transform((v) => ["true", "1", "yes"].includes(v)),
  ),
  DATA_UPLOAD_ENDPOINT: z.preprocess(
    (v) => blankToUndefined(v) ?? DEFAULT_ENDPOINT,
    z.string().trim().transform((text, ctx) => {
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        ctx.addIssue({ code: "custom", message: "must be a URL" });
        return z.NEVER;
      }
      if (url.username || url.password) {
        ctx.addIssue({ code: "custom", message: "must not carry credentials" });
        return z.NEVER;
      }
      const loopbackHttp = url.protocol === "http:" && isLoopbackHost(url.hostname);
      if (url.protocol !== "https:" && !loopbackHttp) {
        ctx.addIssue({
          code: "custom",
          message: "must be https (http only to a loopback address)",
        });
        return z.NEVER;
      }
      return url.toString();
    }),
  ),
  PULL_SECRET_FILE: optionalText,
  PORT: z.preprocess(
    (v) => blankToUndefined(v) ?? String(DEFAULT_PORT),
    z.coerce.number().int("must be a port number").min(1, "must be 1-65535").max(
      65535,
      "must be 1-65535",
    ),
  ),
  TRIGGER_TOKEN: z.preprocess(
    blankToUndefined,
    z.string().trim().min(16, "must be at least 16 characters").regex(
      /^[\x21-\x7e]+$/,
      "must be printable ASCII without spaces",
    ).optional(),
  ),
  SCAN_INTERVAL: duration("5m", { minMs: 1000, maxMs: 24 * 3_600_000 }),
  UPLOAD_TIMEOUT: duration("60s", { minMs: 100, maxMs: 3_600_000 }),
  UPLOAD_CONNECT_TIMEOUT: duration("10s", { minMs: 50, maxMs: 600_000 }),
  UPLOAD_RETRY_INITIAL: duration("1m", { minMs: 10, maxMs: 24 * 3_600_000 }),
  UPLOAD_RETRY_MAX: duration("6h", { minMs: 10, maxMs: 7 * 24 * 3_600_000 }),
  UPLOAD_AUTH_PAUSE: duration("1h", { minMs: 10, maxMs: 7 * 24 * 3_600_000 }),
  UPLOAD_MAX_ATTEMPTS: wholeNumber("12", 1, 1000),
  UPLOAD_CONCURRENCY: wholeNumber("1", 1, 16),
  UPLOAD_RATE_PER_MINUTE: wholeNumber("10", 1, 600),
  UPLOAD_CA_FILE: optionalText,
  UPLOAD_MAX_BYTES: wholeNumber(String(100 * 1024 * 1024), 1024, 100 * 1024 * 1024),
  ARCHIVE_GZIP_LEVEL: wholeNumber("6", 1, 9),
  DEPLOYMENT_TYPE: z.string().default(""),
  DEPLOYMENT_VERSION: z.string().default(""),
  OBFUSCATE: z.preprocess(
    (v) => (blankToUndefined(v) ?? "") as string,
    z.string().transform((text, ctx) => {
      const parts = text.split(",").map((p) => p.trim().toLowerCase()).filter(Boolean);
      const unknown = parts.filter((p) => p !== "networking");
      if (unknown.length > 0) {
        ctx.addIssue({ code: "custom", message: "only 'networking' is supported" });
        return z.NEVER;
      }
      return parts;
    }),
  ),
  LOG_LEVEL: z.preprocess(
    (v) => (blankToUndefined(v) ?? "info") as string,
    z.string().trim().toLowerCase().pipe(
      z.enum(["debug", "info", "warn", "error"], { error: "must be debug, info, warn or error" }),
    ),
  ),
});

function firstSet(env: Env, names: string[], fallback: string): string {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return value;
  }
  return fallback;
}

/** Reads `versions.json` the way assisted-service's envconfig does: prefixed name first. */
export function readVersions(env: Env): Versions {
  const image = (name: string, fallback: string) =>
    firstSet(env, [`MYAPP_VERSIONS_${name}`, name], fallback);
  return {
    "assisted-installer": image(
      "INSTALLER_IMAGE",
      "quay.io/edge-infrastructure/assisted-installer:latest",
    ),
    "assisted-installer-controller": image(
      "CONTROLLER_IMAGE",
      "quay.io/edge-infrastructure/assisted-installer-controller:latest",
    ),
    "assisted-installer-service": image("SELF_VERSION", "Unknown"),
    "discovery-agent": image(
      "AGENT_DOCKER_IMAGE",
      "quay.io/edge-infrastructure/assisted-installer-agent:latest",
    ),
  };
}

function databaseUrl(env: Env, problems: string[]): string {
  const get = (name: string) => env[name]?.trim() || undefined;
  if (get("DATABASE_URL")) return get("DATABASE_URL")!;
  const missing = ["DB_HOST", "DB_USER", "DB_NAME"].filter((k) => !get(k));
  if (missing.length > 0) {
    problems.push(
      `DATABASE_URL: required, or set DB_HOST, DB_USER and DB_NAME (missing ${missing.join(", ")})`,
    );
    return "";
  }
  const user = encodeURIComponent(get("DB_USER")!);
  const pass = env.DB_PASS ? `:${encodeURIComponent(env.DB_PASS)}` : "";
  const host = get("DB_HOST")!.includes(":") ? `[${get("DB_HOST")}]` : get("DB_HOST");
  const port = get("DB_PORT") ?? "5432";
  return `postgres://${user}${pass}@${host}:${port}/${encodeURIComponent(get("DB_NAME")!)}`;
}

function readCaFile(path: string | undefined, problems: string[]): string | undefined {
  if (!path?.trim()) return undefined;
  let text: string;
  try {
    text = Deno.readTextFileSync(path.trim());
  } catch (err) {
    problems.push(`UPLOAD_CA_FILE: cannot be read (${(err as Error).name})`);
    return undefined;
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) {
    problems.push("UPLOAD_CA_FILE: holds no PEM certificate");
    return undefined;
  }
  return text;
}

/**
 * Validates the environment. Throws a {@linkcode ConfigError} naming every bad
 * setting at once, so an operator fixes them in one go.
 */
export function loadConfig(env: Env): Config {
  const result = schema.safeParse(env);
  const problems = result.success
    ? []
    : result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
  const url = databaseUrl(env, problems);
  const caPem = readCaFile(env.UPLOAD_CA_FILE, problems);
  if (result.success && result.data.UPLOAD_RETRY_INITIAL > result.data.UPLOAD_RETRY_MAX) {
    problems.push("UPLOAD_RETRY_INITIAL: must not exceed UPLOAD_RETRY_MAX");
  }
  if (!result.success || problems.length > 0) throw new ConfigError(problems);
  const parsed = result.data;
  return {
    databaseUrl: url,
    enableDataCollection: parsed.ENABLE_DATA_COLLECTION,
    uploadEndpoint: parsed.DATA_UPLOAD_ENDPOINT,
    pullSecretFile: parsed.PULL_SECRET_FILE,
    port: parsed.PORT,
    triggerToken: parsed.TRIGGER_TOKEN,
    scanIntervalMs: parsed.SCAN_INTERVAL,
    uploadTimeoutMs: parsed.UPLOAD_TIMEOUT,
    deploymentType: parsed.DEPLOYMENT_TYPE,
    deploymentVersion: parsed.DEPLOYMENT_VERSION,
    versions: readVersions(env),
    logLevel: parsed.LOG_LEVEL,
    obfuscateNetworking: parsed.OBFUSCATE.includes("networking"),
    retry: {
      initialMs: parsed.UPLOAD_RETRY_INITIAL,
      maxMs: parsed.UPLOAD_RETRY_MAX,
      maxAttempts: parsed.UPLOAD_MAX_ATTEMPTS,
      authPauseMs: parsed.UPLOAD_AUTH_PAUSE,
    },
    uploadConcurrency: parsed.UPLOAD_CONCURRENCY,
    uploadsPerMinute: parsed.UPLOAD_RATE_PER_MINUTE,
    connectTimeoutMs: parsed.UPLOAD_CONNECT_TIMEOUT,
    uploadCaPem: caPem,
    uploadCaFile: parsed.UPLOAD_CA_FILE,
    uploadMaxBytes: parsed.UPLOAD_MAX_BYTES,
    gzipLevel: parsed.ARCHIVE_GZIP_LEVEL,
  };
}
