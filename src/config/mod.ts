/**
 * Configuration from the environment. Every setting is declared once, in
 * {@linkcode DEFINITIONS}: its check, default, `--help` line and README row
 * all come from there, and `Config` is derived from the checks. A bad
 * setting is reported by name in the project's own words, never by value,
 * since several hold secrets.
 */
import { z } from "zod";
import { parseDuration } from "./duration.ts";
import { defaultTrackTemplate } from "../upload/track.ts";
import { DEFAULT_LEVEL } from "../bundle/pieces.ts";

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

/** Thrown when one or more settings are bad; `problems` names each once. */
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

/** A decimal whole number in [min, max]: `0x10`, `1e3` and `5.6` are refused. */
function wholeNumber(fallback: string, min: number, max: number) {
  const message = `must be a whole number from ${min} to ${max}`;
  return z.preprocess(
    (v) => blankToUndefined(v) ?? fallback,
    z.string().trim().transform((text, ctx) => {
      const n = /^\d{1,15}$/.test(text) ? Number(text) : NaN;
      if (!(n >= min && n <= max)) {
        ctx.addIssue({ code: "custom", message });
        return z.NEVER;
      }
      return n;
    }),
  );
}

function choice<const T extends string>(fallback: T, options: readonly T[], message: string) {
  return z.preprocess(
    (v) => (blankToUndefined(v) ?? fallback) as string,
    z.string().trim().toLowerCase().pipe(z.enum(options as [T, ...T[]], { error: message })),
  );
}

/** Host names and addresses: no spaces, slashes, `@` or other URL punctuation. */
const HOST = /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+|[0-9a-fA-F:]+)$/;

function urlOrProblem(text: string, ctx: z.RefinementCtx, what: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    const port = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*:(\d+)(?:[/?#]|$)/i.exec(text)?.[1];
    ctx.addIssue({
      code: "custom",
      message: port !== undefined && Number(port) > 65535
        ? "its port must be 1-65535"
        : `must be ${what}`,
    });
    return undefined;
  }
}

/** One setting: its check, and the words `--help` and the README use. */
interface Definition {
  schema: z.ZodType;
  /** One line for `--help`. */
  help: string;
  /** The README's default column. */
  default: string;
  /** The README's meaning column (the help line when absent). */
  doc?: string;
  /** Settings documented in one row share a group (its first member's row). */
  group?: string;
}

/**
 * Every setting the collector reads, in the order `--help` and the README
 * show them. The only place a setting is written down.
 */
const DEFINITIONS = {
  DATABASE_URL: {
    schema: z.preprocess(
      blankToUndefined,
      z.string().trim().transform((text, ctx) => {
        const url = urlOrProblem(text, ctx, "a postgres:// or postgresql:// URL");
        if (!url) return z.NEVER;
        if (!["postgres:", "postgresql:"].includes(url.protocol)) {
          ctx.addIssue({ code: "custom", message: "must be a postgres:// or postgresql:// URL" });
          return z.NEVER;
        }
        if (!url.hostname && !url.searchParams.get("host")) {
          ctx.addIssue({ code: "custom", message: "must name a host" });
          return z.NEVER;
        }
        return text;
      }).optional(),
    ),
    help: "postgres://user:pass@host:5432/db of assisted-service's database",
    default: "—",
    doc: "`postgres://user:pass@host:5432/db`, assisted-service's database",
  },
  DB_HOST: {
    schema: z.preprocess(
      blankToUndefined,
      z.string().trim().regex(HOST, "must be a host name or address, without spaces").optional(),
    ),
    help: "alternative to DATABASE_URL (assisted-service's own)",
    default: "port 5432",
    doc:
      "instead of `DATABASE_URL`: assisted-service's own settings, so its ConfigMap and Secret can be shared",
    group: "DB",
  },
  DB_PORT: {
    schema: wholeNumber("5432", 1, 65535),
    help: "",
    default: "",
    group: "DB",
  },
  DB_USER: { schema: optionalText, help: "", default: "", group: "DB" },
  DB_PASS: { schema: z.string().optional(), help: "", default: "", group: "DB" },
  DB_NAME: { schema: optionalText, help: "", default: "", group: "DB" },
  ENABLE_DATA_COLLECTION: {
    schema: choice("true", ["true", "1", "yes", "false", "0", "no"], "must be true or false")
      .transform((v) => ["true", "1", "yes"].includes(v)),
    help: "true (default); false, 0 or no opts out",
    default: "`true`",
    doc: "`false`, `0` or `no` opts out",
  },
  DATA_UPLOAD_ENDPOINT: {
    // Unset means the default; set but blank is a mistake, not a wish for production.
    schema: z.string().trim().default(DEFAULT_ENDPOINT).transform((text, ctx) => {
      if (text === "") {
        ctx.addIssue({ code: "custom", message: "is empty; unset it to use the default" });
        return z.NEVER;
      }
      const url = urlOrProblem(text, ctx, "a URL");
      if (!url) return z.NEVER;
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
    help: `upload URL (default ${DEFAULT_ENDPOINT}); https, or http to loopback`,
    default: `\`${DEFAULT_ENDPOINT}\``,
    doc: "must be https; plain http only to a loopback address (local receiver, tests)",
  },
  DATA_UPLOAD_TRACK_ENDPOINT: {
    schema: z.preprocess(
      blankToUndefined,
      z.string().trim().transform((text, ctx) => {
        if (text.toLowerCase() === "off") return "off";
        const url = urlOrProblem(text.replace("{id}", "x"), ctx, "a URL with {id}, or off");
        if (!url) return z.NEVER;
        const loopbackHttp = url.protocol === "http:" && isLoopbackHost(url.hostname);
        if (!text.includes("{id}") || (url.protocol !== "https:" && !loopbackHttp)) {
          ctx.addIssue({
            code: "custom",
            message: "must be an https URL with {id} (http only to loopback), or off",
          });
          return z.NEVER;
        }
        return text;
      }).optional(),
    ),
    help: "payload tracker URL with {id}, or off (default: the endpoint's /track/{id})",
    default: "the upload endpoint with `/upload` → `/track/{id}`",
    doc:
      "where delivery is verified after a 2xx (ingress's payload tracker); `off` turns verification off. A tracker failure never causes a re-send",
  },
  UPLOAD_VERIFY_WINDOW: {
    schema: duration("1h", { minMs: 1000, maxMs: 7 * 24 * 3_600_000 }),
    help: "how long after a 2xx the tracker is asked for a final status (default 1h)",
    default: "`1h`",
    doc:
      "how long after a 2xx the tracker is asked, with backoff, for a final status; after that the attempt is `unverified`",
  },
  PULL_SECRET_FILE: {
    schema: optionalText,
    help: "global pull secret; without a cloud.openshift.com entry it opts out",
    default: "unset",
    doc:
      "the global pull secret; its `cloud.openshift.com` auth is the upload token, its absence opts out",
  },
  PORT: {
    schema: wholeNumber(String(DEFAULT_PORT), 1, 65535),
    help: `HTTP listen port (default ${DEFAULT_PORT})`,
    default: `\`${DEFAULT_PORT}\``,
    doc: "HTTP listen port (clear of the assisted-service pod's 8080, 8090, 8888, 5432)",
  },
  TRIGGER_TOKEN: {
    schema: z.preprocess(
      blankToUndefined,
      z.string().trim().min(16, "must be at least 16 characters").regex(
        /^[A-Za-z0-9._~+/-]+=*$/,
        "must be a token of letters, digits and ._~+/- (no spaces)",
      ).optional(),
    ),
    help: "bearer token for /v1/*; unset: /v1/* answers loopback only",
    default: "unset",
    doc: "bearer token for `/v1/*` (16+ characters); unset: `/v1/*` answers loopback callers only",
  },
  SCAN_INTERVAL: {
    schema: duration("5m", { minMs: 1000, maxMs: 24 * 3_600_000 }),
    help: "time between passes, e.g. 30s or 5m (default 5m)",
    default: "`5m`",
    doc: "time between passes (`30s`, `5m`, `1h`…; 1s to 24h)",
  },
  UPLOAD_TIMEOUT: {
    schema: duration("60s", { minMs: 100, maxMs: 3_600_000 }),
    help: "total time allowed for one upload (default 60s)",
    default: "`60s`",
    doc: "total time allowed for one upload, enforced with `AbortSignal`",
  },
  UPLOAD_CONNECT_TIMEOUT: {
    schema: duration("10s", { minMs: 50, maxMs: 600_000 }),
    help: "time allowed to reach the endpoint or proxy (default 10s)",
    default: "`10s`",
    doc: "time allowed to open a connection to the endpoint (or the proxy) before each upload",
  },
  UPLOAD_RETRY_INITIAL: {
    schema: duration("1m", { minMs: 10, maxMs: 24 * 3_600_000 }),
    help: "first retry delay, doubled each try, with jitter (default 1m)",
    default: "`1m`",
    doc: "delay before the first retry; doubled at each try, with jitter",
  },
  UPLOAD_RETRY_MAX: {
    schema: duration("6h", { minMs: 10, maxMs: 7 * 24 * 3_600_000 }),
    help: "longest retry delay (default 6h)",
    default: "`6h`",
    doc: "longest delay between tries",
  },
  UPLOAD_MAX_ATTEMPTS: {
    schema: wholeNumber("12", 1, 1000),
    help: "tries before an attempt is abandoned (default 12)",
    default: "`12`",
    doc: "tries before an attempt is recorded as `abandoned`",
  },
  UPLOAD_AUTH_PAUSE: {
    schema: duration("1h", { minMs: 10, maxMs: 7 * 24 * 3_600_000 }),
    help: "pause of all uploads after a 401 or 403 (default 1h)",
    default: "`1h`",
    doc: "pause of every upload after a 401 or 403",
  },
  UPLOAD_CONCURRENCY: {
    schema: wholeNumber("1", 1, 16),
    help: "uploads in flight at most (default 1)",
    default: "`1`",
    doc: "uploads in flight at most (1-16)",
  },
  UPLOAD_RATE_PER_MINUTE: {
    schema: wholeNumber("10", 1, 600),
    help: "uploads started per minute at most (default 10)",
    default: "`10`",
    doc:
      "uploads started per minute at most (1-600), so a thousand clusters finishing together never make a burst",
  },
  UPLOAD_CA_FILE: {
    schema: optionalText,
    help: "extra CA bundle (PEM) for TLS-intercepting proxies",
    default: "unset",
    doc:
      "PEM CA bundle added to the system roots, for TLS-intercepting proxies; TLS verification itself can never be turned off",
  },
  UPLOAD_MAX_BYTES: {
    schema: wholeNumber(String(100 * 1024 * 1024), 1024, 100 * 1024 * 1024),
    help: "largest archive; larger ones lose metrics, then oldest info events (100 MiB)",
    default: "`104857600` (100 MiB, ingress's limit)",
    doc:
      "largest archive sent; a larger one loses, in this order, all `metrics` events, then the oldest `info` events, never warnings or errors, and `metadata.json` records what was cut",
  },
  ARCHIVE_GZIP_LEVEL: {
    schema: wholeNumber(String(DEFAULT_LEVEL), 1, 9),
    help: `gzip level 1-9 (default ${DEFAULT_LEVEL})`,
    default: `\`${DEFAULT_LEVEL}\``,
    doc: "gzip level 1-9 (node:zlib); see [Scale](#scale)",
  },
  HTTPS_PROXY: {
    schema: z.preprocess(
      blankToUndefined,
      z.string().trim().transform((text, ctx) => {
        const url = urlOrProblem(text, ctx, "an http:// or https:// proxy URL");
        if (!url) return z.NEVER;
        if (!["http:", "https:"].includes(url.protocol) || !url.hostname) {
          ctx.addIssue({ code: "custom", message: "must be an http:// or https:// proxy URL" });
          return z.NEVER;
        }
        return text;
      }).optional(),
    ),
    help: "proxy for uploads, and hosts that bypass it",
    default: "unset",
    doc: "proxy for uploads, and hosts that bypass it (upstream's uploader ignored them)",
    group: "PROXY",
  },
  NO_PROXY: {
    schema: z.preprocess(
      blankToUndefined,
      z.string().trim().refine(
        (text) =>
          text.split(",").map((h) => h.trim()).every((h) =>
            h === "" || h === "*" ||
            /^\.?[A-Za-z0-9.*_-]+(?::\d{1,5})?$|^[0-9a-fA-F:.\[\]/]+$/.test(h)
          ),
        "must be a comma-separated list of hosts, domains or addresses",
      ).optional(),
    ),
    help: "",
    default: "",
    group: "PROXY",
  },
  DEPLOYMENT_TYPE: {
    schema: z.string().default(""),
    help: "written to metadata.json (e.g. Podman, ACM)",
    default: "empty",
    doc: "written to `metadata.json` (e.g. `Podman`, `ACM`)",
    group: "DEPLOYMENT",
  },
  DEPLOYMENT_VERSION: {
    schema: z.string().default(""),
    help: "",
    default: "",
    group: "DEPLOYMENT",
  },
  SELF_VERSION: {
    schema: z.string().optional(),
    help: "versions.json",
    default: "upstream's",
    doc: "`versions.json`; the `MYAPP_VERSIONS_`-prefixed names win, as in assisted-service",
    group: "VERSIONS",
  },
  AGENT_DOCKER_IMAGE: { schema: z.string().optional(), help: "", default: "", group: "VERSIONS" },
  INSTALLER_IMAGE: { schema: z.string().optional(), help: "", default: "", group: "VERSIONS" },
  CONTROLLER_IMAGE: { schema: z.string().optional(), help: "", default: "", group: "VERSIONS" },
  LOG_LEVEL: {
    schema: choice(
      "info",
      ["debug", "info", "warn", "error"],
      "must be debug, info, warn or error",
    ),
    help: "debug, info (default), warn or error",
    default: "`info`",
    doc: "`debug`, `info`, `warn`, `error`; logs are JSON lines on stderr",
  },
  OBFUSCATE: {
    schema: z.preprocess(
      (v) => (blankToUndefined(v) ?? "") as string,
      z.string().transform((text, ctx) => {
        const parts = text.split(",").map((p) => p.trim().toLowerCase()).filter(Boolean);
        if (parts.some((p) => p !== "networking")) {
          ctx.addIssue({ code: "custom", message: "only 'networking' is supported" });
          return z.NEVER;
        }
        return parts;
      }),
    ),
    help: "networking: also pseudonymise hostnames, domains, IPs, MACs, serials",
    default: "unset",
    doc:
      "`networking`: also pseudonymise hostnames, the base domain, IP and MAC addresses and serial numbers, stably within each archive (as insights-operator offers it)",
  },
  USER_ID_HASH: {
    schema: choice("hmac", ["hmac", "scraper-fnv"], "must be hmac or scraper-fnv"),
    help: "user_id as a keyed hash (hmac, default) or the SaaS scraper's FNV-1a (scraper-fnv)",
    default: "`hmac`",
    doc:
      "`hmac`: `user_id` is a keyed hash of the user name (HMAC-SHA-256 under the installation's key), which no dictionary reverses. `scraper-fnv`: the SaaS scraper's unsalted FNV-1a 128, which joins scraper-era SaaS users but which **anyone with a list of likely user names or e-mail addresses can reverse**; Red Hat's own on-prem consumer hashes differently (MD5), so even then users do not join across pipelines",
  },
  RECEIVER_TOKEN: {
    schema: optionalText,
    help: "receive only: the one bearer token the local receiver accepts",
    default: "unset",
    doc:
      "`receive` only: the one bearer token the local receiver accepts (also for its listing and downloads)",
  },
} satisfies Record<string, Definition>;

type Definitions = typeof DEFINITIONS;
type Parsed = { [K in keyof Definitions]: z.output<Definitions[K]["schema"]> };

const schema = z.object(
  Object.fromEntries(Object.entries(DEFINITIONS).map(([name, d]) => [name, d.schema])) as {
    [K in keyof Definitions]: Definitions[K]["schema"];
  },
);

/** Documented rows: settings of one group share the first member's row. */
function rows(): Array<{ names: string[]; definition: Definition }> {
  const out: Array<{ names: string[]; definition: Definition }> = [];
  const groups = new Map<string, { names: string[]; definition: Definition }>();
  for (const [name, definition] of Object.entries(DEFINITIONS) as Array<[string, Definition]>) {
    const group = definition.group ? groups.get(definition.group) : undefined;
    if (group) {
      group.names.push(name);
      continue;
    }
    const row = { names: [name], definition };
    if (definition.group) groups.set(definition.group, row);
    out.push(row);
  }
  return out;
}

/** Every setting the collector reads, with a one-line description for `--help`. */
export const SETTINGS: ReadonlyArray<[string, string]> = rows().map((
  r,
) => [r.names.join(", "), r.definition.help]);

/** The README's settings table, generated from the definitions. */
export function settingsTable(): string {
  const lines = ["| setting | default | meaning |", "| --- | --- | --- |"];
  for (const { names, definition } of rows()) {
    lines.push(
      `| ${names.map((n) => `\`${n}\``).join(", ")} | ${definition.default} | ${
        definition.doc ?? definition.help
      } |`,
    );
  }
  return lines.join("\n");
}

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

/** DATABASE_URL, or one composed from assisted-service's DB_* settings. */
function databaseUrl(parsed: Partial<Parsed>, problems: Map<string, string>): string {
  if (parsed.DATABASE_URL) return parsed.DATABASE_URL;
  if (problems.has("DATABASE_URL") || problems.has("DB_HOST") || problems.has("DB_PORT")) {
    return "";
  }
  const missing = (["DB_HOST", "DB_USER", "DB_NAME"] as const).filter((k) => !parsed[k]);
  if (missing.length > 0) {
    problems.set(
      "DATABASE_URL",
      `required, or set DB_HOST, DB_USER and DB_NAME (missing ${missing.join(", ")})`,
    );
    return "";
  }
  const user = encodeURIComponent(parsed.DB_USER!);
  const pass = parsed.DB_PASS ? `:${encodeURIComponent(parsed.DB_PASS)}` : "";
  const host = parsed.DB_HOST!.includes(":") && !parsed.DB_HOST!.startsWith("[")
    ? `[${parsed.DB_HOST}]`
    : parsed.DB_HOST;
  return `postgres://${user}${pass}@${host}:${parsed.DB_PORT}/${
    encodeURIComponent(parsed.DB_NAME!)
  }`;
}

function readCaFile(path: string | undefined, problems: Map<string, string>): string | undefined {
  if (!path) return undefined;
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (err) {
    problems.set("UPLOAD_CA_FILE", `cannot be read (${(err as Error).name})`);
    return undefined;
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) {
    problems.set("UPLOAD_CA_FILE", "holds no PEM certificate");
    return undefined;
  }
  try {
    // The HTTP client parses it the same way at start: a corrupt body fails here, not later.
    Deno.createHttpClient({ caCerts: [text] }).close();
  } catch {
    problems.set("UPLOAD_CA_FILE", "holds a PEM header but no usable certificate");
    return undefined;
  }
  return text;
}

/** The validated settings, in the shape the program uses. */
function toConfig(parsed: Parsed, env: Env, extra: { databaseUrl: string; caPem?: string }) {
  return {
    databaseUrl: extra.databaseUrl,
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
    /** `OBFUSCATE=networking`: pseudonymise hostnames, domains, IPs, MACs and serials. */
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
    /** PEM text of UPLOAD_CA_FILE, read at start. */
    uploadCaPem: extra.caPem,
    uploadCaFile: parsed.UPLOAD_CA_FILE,
    /** Largest archive sent; larger ones are cut (UPLOAD_MAX_BYTES). */
    uploadMaxBytes: parsed.UPLOAD_MAX_BYTES,
    gzipLevel: parsed.ARCHIVE_GZIP_LEVEL,
    receiverToken: parsed.RECEIVER_TOKEN,
    userIdHash: parsed.USER_ID_HASH,
    /** The payload tracker's URL template (`{id}`), or undefined when verification is off. */
    trackTemplate: parsed.DATA_UPLOAD_TRACK_ENDPOINT === "off"
      ? undefined
      : parsed.DATA_UPLOAD_TRACK_ENDPOINT ?? defaultTrackTemplate(parsed.DATA_UPLOAD_ENDPOINT),
    verifyWindowMs: parsed.UPLOAD_VERIFY_WINDOW,
  };
}

/** The validated configuration. */
export type Config = ReturnType<typeof toConfig>;

/**
 * Validates the environment. Throws a {@linkcode ConfigError} naming every bad
 * setting once, so an operator fixes them in one go.
 */
export function loadConfig(env: Env, options: { database?: boolean } = {}): Config {
  // Deno reads the proxy settings in either case; they are checked in either case.
  const proxies = {
    HTTPS_PROXY: env.HTTPS_PROXY ?? env.https_proxy,
    NO_PROXY: env.NO_PROXY ?? env.no_proxy,
  };
  const input: Env = { ...env, ...proxies };
  const result = schema.safeParse(input);
  const problems = new Map<string, string>();
  if (!result.success) {
    for (const issue of result.error.issues) {
      const name = String(issue.path[0] ?? "configuration");
      if (!problems.has(name)) problems.set(name, issue.message);
    }
  }
  // What parsed, setting by setting, so the composed URL can be checked alongside the rest.
  const partial: Partial<Parsed> = {};
  for (const [name, definition] of Object.entries(DEFINITIONS) as Array<[string, Definition]>) {
    const one = definition.schema.safeParse(input[name]);
    if (one.success) (partial as Record<string, unknown>)[name] = one.data;
  }
  // send-export runs on a connected machine without assisted-service's database.
  const url = options.database === false ? "" : databaseUrl(partial, problems);
  const caPem = readCaFile(partial.UPLOAD_CA_FILE, problems);
  if (
    partial.UPLOAD_RETRY_INITIAL !== undefined && partial.UPLOAD_RETRY_MAX !== undefined &&
    partial.UPLOAD_RETRY_INITIAL > partial.UPLOAD_RETRY_MAX
  ) {
    problems.set("UPLOAD_RETRY_INITIAL", "must not exceed UPLOAD_RETRY_MAX");
  }
  if (!result.success || problems.size > 0) {
    throw new ConfigError([...problems].map(([name, message]) => `${name}: ${message}`));
  }
  return toConfig(result.data as Parsed, env, { databaseUrl: url, caPem });
}
