/** Shared wiring for the analysis tests: a store, the service on loopback, the real collector. */
import { type AnalysisConfig, loadAnalysisConfig, type Tokens } from "../src/config.ts";
import type { Ingest } from "../src/ingest/mod.ts";
import { findImportFiles } from "../src/ingest/files.ts";
import { assembleAnalysisService } from "../src/service.ts";
import { childEnv } from "../../tools/child.ts";

export { childEnv };

const ROOT = new URL("../../", import.meta.url).pathname;

/** A running analysis service over a fresh store in a temporary folder. */
export interface TestService {
  dir: string;
  config: AnalysisConfig;
  ingest: Ingest;
  url: string;
  audit: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** Starts the service in-process on a free loopback port. */
export async function startService(
  options: { env?: Record<string, string>; tokens?: Partial<Tokens> } = {},
): Promise<TestService> {
  const dir = await Deno.makeTempDir({ prefix: "analysis-test-" });
  const config = loadAnalysisConfig({ ANALYSIS_DB: `${dir}/store.duckdb`, ...options.env });
  const tokens: Tokens = {
    uploaders: options.tokens?.uploaders ?? new Map(),
    readers: options.tokens?.readers ?? new Set(),
    analysts: options.tokens?.analysts ?? new Set(),
  };
  const audit: Array<Record<string, unknown>> = [];
  const service = await assembleAnalysisService(config, { tokens, audit: (l) => audit.push(l) });
  if (!service) throw new Error(`the store ${config.dbPath} is held by another process`);
  const server = service.listen({ port: 0, hostname: "127.0.0.1" });
  return {
    dir,
    config,
    ingest: service.ingest,
    url: `http://127.0.0.1:${server.addr.port}`,
    audit,
    async close() {
      // A test ends with what it sent read (a service told to stop leaves the rest waiting).
      await service.ingest.settled().catch(() => {});
      await service.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Imports every SaaS export file under `dir` into the service's store, and waits for it. */
export async function importSaasExport(service: TestService, dir: string): Promise<void> {
  for (const file of await findImportFiles([dir])) {
    await service.ingest.accept(await Deno.readFile(file.path), {
      kind: file.kind as "archive",
      channel: "saas_export",
      orgLabel: null,
    });
  }
  await service.ingest.settled();
}

/** The command that runs a program of this repository (`main.ts` or `analysis/main.ts`). */
export function programCommand(
  program: "collector" | "analysis",
  args: string[],
  options: { env?: Record<string, string>; stdout?: "piped" | "null" } = {},
): Deno.Command {
  const config = program === "collector" ? `${ROOT}deno.json` : `${ROOT}analysis/deno.json`;
  const main = program === "collector" ? `${ROOT}main.ts` : `${ROOT}analysis/main.ts`;
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--config", config, main, ...args],
    env: childEnv(options.env ?? {}),
    clearEnv: true,
    stdout: options.stdout ?? "piped",
    stderr: "piped",
  });
}

/** Runs a program of this repository to completion. */
export async function runProgram(
  program: "collector" | "analysis",
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await programCommand(program, args, { env }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * A new folder made this process's `TMPDIR` (where scratch directories go),
 * for a test that checks what is left there; `restore` sets `TMPDIR` back
 * as it was and removes the folder.
 */
export async function scratchTmpdir(
  prefix: string,
): Promise<{ path: string; restore(): Promise<void> }> {
  const path = await Deno.makeTempDir({ prefix });
  const before = Deno.env.get("TMPDIR");
  Deno.env.set("TMPDIR", path);
  return {
    path,
    async restore() {
      if (before === undefined) Deno.env.delete("TMPDIR");
      else Deno.env.set("TMPDIR", before);
      await Deno.remove(path, { recursive: true });
    },
  };
}
