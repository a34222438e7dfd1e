/**
 * The analysis service's settings, each declared once: its name, what it
 * means, its default and how it is read. Help text and the README's table
 * come from this list. A bad value is named (never echoed) and exits 2.
 */
import { z } from "zod";

/** A usage or configuration error: the CLI prints it and exits 2. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** The validated settings. */
export interface AnalysisConfig {
  dbPath: string;
  /** PostgreSQL as the shared store; `dbPath` is then this replica's local copy. */
  databaseUrl?: string;
  port: number;
  host: string;
  minGroup: number;
  retentionMonths: number;
  tokensFile?: string;
  devMode: boolean;
  rawDir: string;
  keyFile: string;
  /** Where `ask` and `import` reach a running service that holds the store. */
  serviceUrl: string;
  /** The analyst token the CLI presents to a running service. */
  cliToken?: string;
  /** DuckDB's memory limit (e.g. `600MB`); DuckDB's own default when absent. */
  memoryLimit?: string;
}

interface Setting {
  name: string;
  description: string;
  default?: string;
}

/** Every setting, in the order `--help` shows them. */
export const ANALYSIS_SETTINGS: readonly Setting[] = [
  {
    name: "ANALYSIS_DB",
    description:
      "the DuckDB file of the store (with ANALYSIS_DATABASE_URL, this replica's local copy)",
    default: "./analysis.duckdb",
  },
  {
    name: "ANALYSIS_DATABASE_URL",
    description:
      "PostgreSQL (postgres://…) as the shared store of several replicas; ANALYSIS_DB is then " +
      "this replica's local copy, and every replica needs the same ANALYSIS_KEY_FILE",
  },
  {
    name: "ANALYSIS_RAW_DIR",
    description: "where raw archives are kept, by sha256 (with ANALYSIS_DATABASE_URL, a cache)",
    default: "<ANALYSIS_DB>.raw",
  },
  {
    name: "ANALYSIS_KEY_FILE",
    description: "the secret that keys cluster, host, org and user ids (created 0600 if missing)",
    default: "<ANALYSIS_DB>.key",
  },
  {
    name: "ANALYSIS_RETENTION_MONTHS",
    description: "raw archives and rows older than this many months are deleted",
    default: "18",
  },
  {
    name: "ANALYSIS_MEMORY_LIMIT",
    description:
      "DuckDB's memory limit (e.g. 800MB, 1GB; unset: DuckDB's default, 80% of RAM): an " +
      "archive that does not fit waits (never quarantined for it) and is read again later",
  },
  { name: "ANALYSIS_PORT", description: "HTTP port of serve", default: "8767" },
  { name: "ANALYSIS_HOST", description: "address serve listens on", default: "127.0.0.1" },
  {
    name: "ANALYSIS_MIN_GROUP",
    description: "k: the fewest distinct clusters a released cell may count",
    default: "5",
  },
  {
    name: "ANALYSIS_TOKENS_FILE",
    description:
      'JSON {"uploaders": {"<token>": "<org label>"}, "readers": [...], "analysts": [...]}',
  },
  {
    name: "ANALYSIS_DEV_MODE",
    description: "true: any upload token is accepted (org 'development') and reads need no token",
    default: "false",
  },
  {
    name: "ANALYSIS_URL",
    description: "a running serve that `ask` and `import` use when it holds the store",
    default: "http://127.0.0.1:<ANALYSIS_PORT>",
  },
  {
    name: "ANALYSIS_TOKEN",
    description: "the analyst token `ask` and `import` present to ANALYSIS_URL",
  },
];

const integer = (name: string, min: number, max: number) =>
  z.string().regex(/^\d+$/, `${name} must be a whole number`).transform(Number).refine(
    (n) => n >= min && n <= max,
    `${name} must be between ${min} and ${max}`,
  );

const boolean = (name: string) =>
  z.enum(["true", "false", "1", "0", "yes", "no"], {
    error: `${name} must be true or false`,
  }).transform((v) => ["true", "1", "yes"].includes(v));

/** The settings' schema: one key per entry of {@linkcode ANALYSIS_SETTINGS}. */
function settingsSchema() {
  return z.object({
    ANALYSIS_DB: z.string().min(1, "ANALYSIS_DB must not be empty").default("./analysis.duckdb"),
    ANALYSIS_PORT: integer("ANALYSIS_PORT", 1, 65535).default(8767),
    ANALYSIS_HOST: z.string().regex(/^[^\s/]+$/, "ANALYSIS_HOST must be a host or address")
      .default("127.0.0.1"),
    ANALYSIS_MIN_GROUP: integer("ANALYSIS_MIN_GROUP", 1, 1000).default(5),
    ANALYSIS_RETENTION_MONTHS: integer("ANALYSIS_RETENTION_MONTHS", 1, 1200).default(18),
    ANALYSIS_TOKENS_FILE: z.string().min(1).optional(),
    ANALYSIS_DEV_MODE: boolean("ANALYSIS_DEV_MODE").default(false),
    ANALYSIS_RAW_DIR: z.string().min(1).optional(),
    ANALYSIS_KEY_FILE: z.string().min(1).optional(),
    ANALYSIS_URL: z.url({ error: "ANALYSIS_URL must be a URL" }).optional(),
    ANALYSIS_TOKEN: z.string().min(1).optional(),
    ANALYSIS_DATABASE_URL: z.string().refine(isPostgresUrl, {
      error: "ANALYSIS_DATABASE_URL must be a postgres:// URL with a host",
    }).optional(),
    ANALYSIS_MEMORY_LIMIT: z.string().regex(
      /^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i,
      "ANALYSIS_MEMORY_LIMIT must be a size such as 600MB or 1GB",
    ).optional(),
  });
}

/** The names the settings' schema reads (every one must be declared in ANALYSIS_SETTINGS). */
export function readSettingNames(): string[] {
  return Object.keys(settingsSchema().shape);
}

/** Reads the settings from `env`; throws ConfigError naming every bad one. */
export function loadAnalysisConfig(env: Record<string, string | undefined>): AnalysisConfig {
  const schema = settingsSchema();
  const present = Object.fromEntries(
    Object.entries(env).filter(([k, v]) =>
      k.startsWith("ANALYSIS_") && v !== undefined && v !== ""
    ),
  );
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const problems = [...new Set(parsed.error.issues.map((i) => i.message))];
    throw new ConfigError(problems.join("; "));
  }
  const s = parsed.data;
  return {
    dbPath: s.ANALYSIS_DB,
    databaseUrl: s.ANALYSIS_DATABASE_URL,
    port: s.ANALYSIS_PORT,
    host: s.ANALYSIS_HOST,
    minGroup: s.ANALYSIS_MIN_GROUP,
    retentionMonths: s.ANALYSIS_RETENTION_MONTHS,
    tokensFile: s.ANALYSIS_TOKENS_FILE,
    devMode: s.ANALYSIS_DEV_MODE,
    rawDir: s.ANALYSIS_RAW_DIR ?? `${s.ANALYSIS_DB}.raw`,
    keyFile: s.ANALYSIS_KEY_FILE ?? `${s.ANALYSIS_DB}.key`,
    serviceUrl: s.ANALYSIS_URL ?? `http://127.0.0.1:${s.ANALYSIS_PORT}`,
    cliToken: s.ANALYSIS_TOKEN,
    memoryLimit: s.ANALYSIS_MEMORY_LIMIT,
  };
}

function isPostgresUrl(value: string): boolean {
  try {
    const url = new URL(value);
    const port = url.port === "" ? 5432 : Number(url.port);
    return ["postgres:", "postgresql:"].includes(url.protocol) && url.hostname !== "" &&
      port >= 1 && port <= 65535;
  } catch {
    return false;
  }
}

/** Who a token is. */
export interface Tokens {
  /** Upload token to organisation label. */
  uploaders: Map<string, string>;
  readers: Set<string>;
  analysts: Set<string>;
}

const tokensSchema = z.object({
  uploaders: z.record(z.string().min(8), z.string().min(1)).default({}),
  readers: z.array(z.string().min(8)).default([]),
  analysts: z.array(z.string().min(8)).default([]),
}).strict();

/** Reads the tokens file (empty when there is none). */
export async function loadTokens(path: string | undefined): Promise<Tokens> {
  if (!path) return { uploaders: new Map(), readers: new Set(), analysts: new Set() };
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound ? "not found" : "not readable JSON";
    throw new ConfigError(`ANALYSIS_TOKENS_FILE: ${why}`);
  }
  const parsed = tokensSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(
      `ANALYSIS_TOKENS_FILE: ${issue.path.slice(0, 1).join(".") || "file"} ${issue.message}`,
    );
  }
  return {
    uploaders: new Map(Object.entries(parsed.data.uploaders)),
    readers: new Set(parsed.data.readers),
    analysts: new Set(parsed.data.analysts),
  };
}

/** The settings as `--help` lines. */
export function settingsHelp(): string {
  return ANALYSIS_SETTINGS.map((s) =>
    `  ${s.name.padEnd(21)} ${s.description}${s.default ? ` (default ${s.default})` : ""}`
  ).join("\n");
}
