/**
 * Sends an export file from a connected machine: each archive with the same
 * contract, retry policy and pauses as automatic sending, each delivery
 * verified with the payload tracker, and a record beside the file so that a
 * re-run sends nothing twice (each archive's bundle_id also lets any
 * receiver drop a duplicate). The file is verified whole before anything
 * goes: a tampered or truncated one is refused with the entry named.
 */
import { readExportFile } from "../../contract/mod.ts";
import { readGlobalSecret } from "../collect/enablement.ts";
import { UploadGate } from "../collect/gate.ts";
import { verifyBackoffMs } from "../collect/verify.ts";
import type { Config } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import { redactForLog } from "../sanitize/text.ts";
import { decide } from "../upload/policy.ts";

/** What became of one archive of the file. */
export interface SentArchive {
  cluster_id: string;
  bundle_id: string;
  status: "accepted" | "already accepted" | "failed";
  request_id?: string | null;
  error?: string;
  verification?: "verified" | "failed" | "unverified" | "off";
  verification_message?: string;
}

/** A problem with what the operator gave: exit 2. */
export class SendExportError extends Error {}

type Record_ = Record<string, { request_id: string | null; verification?: string; at: string }>;

async function readRecord(path: string): Promise<Record_> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return {};
    throw new SendExportError(`${path} is not a record of an earlier send-export`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends every archive of the export at `path` not accepted before. */
export async function sendExport(
  path: string,
  options: { config: Config; log: Logger; rateWindowMs?: number },
): Promise<SentArchive[]> {
  const { config, log } = options;
  const global = await readGlobalSecret(config.pullSecretFile);
  if (global?.verdict.kind !== "token") {
    throw new SendExportError(
      "send-export needs PULL_SECRET_FILE: a pull secret with a cloud.openshift.com entry",
    );
  }
  const token = global.verdict.token;
  const spoolDir = await Deno.makeTempDir({ prefix: "send-export-" });
  const recordPath = `${path}.sent.json`;
  const gate = new UploadGate(config, { log, rateWindowMs: options.rateWindowMs });
  try {
    let file;
    try {
      file = await readExportFile(path, { spoolDir });
    } catch (err) {
      throw new SendExportError(`${path} refused: ${(err as Error).message}`);
    }
    const record = await readRecord(recordPath);
    const results: SentArchive[] = [];
    for (const { entry, path: archivePath } of file.archives) {
      const base = { cluster_id: entry.cluster_id, bundle_id: entry.bundle_id };
      const earlier = record[entry.bundle_id];
      if (earlier) {
        results.push({ ...base, status: "already accepted", request_id: earlier.request_id });
        continue;
      }
      const archive = new Blob([await Deno.readFile(archivePath)]);
      const sent = await sendOne(gate, archive, { config, token, clusterId: entry.cluster_id });
      if (!sent.ok) {
        results.push({ ...base, status: "failed", error: sent.error });
        log.error("export archive not accepted", { ...base, error: sent.error });
        continue;
      }
      record[entry.bundle_id] = { request_id: sent.requestId, at: new Date().toISOString() };
      await Deno.writeTextFile(recordPath, JSON.stringify(record, null, 2));
      const verified = await verifyOne(gate, {
        config,
        token,
        clusterId: entry.cluster_id,
        requestId: sent.requestId,
      });
      record[entry.bundle_id].verification = verified.verification;
      await Deno.writeTextFile(recordPath, JSON.stringify(record, null, 2));
      results.push({ ...base, status: "accepted", request_id: sent.requestId, ...verified });
    }
    return results;
  } finally {
    gate.close();
    await Deno.remove(spoolDir, { recursive: true }).catch(() => {});
  }
}

/** One archive, with the automatic path's retry decision; pauses are waited out. */
async function sendOne(
  gate: UploadGate,
  archive: Blob,
  options: { config: Config; token: string; clusterId: string },
): Promise<{ ok: true; requestId: string | null } | { ok: false; error: string }> {
  const { config } = options;
  for (let tries = 1;;) {
    const pause = gate.pause;
    if (pause) {
      await sleep(Math.max(0, pause.until - Date.now()));
      continue;
    }
    const result = await gate.send(archive, {
      endpoint: config.uploadEndpoint,
      token: options.token,
      clusterId: options.clusterId,
      timeoutMs: config.uploadTimeoutMs,
      connectTimeoutMs: config.connectTimeoutMs,
    });
    if ("kind" in result) continue; // paused while waiting at the throttle: no try spent
    if (result.ok) return { ok: true, requestId: result.requestId };
    const error = redactForLog(result.error, [options.token]);
    const decision = decide(result, { tries, policy: config.retry, bytes: archive.size });
    if (decision.kind === "abandon") return { ok: false, error };
    if (decision.kind !== "retry") return { ok: false, error };
    // An archive of an export cannot be rebuilt smaller here: a 413 is final.
    if (decision.sizeLimit !== undefined) return { ok: false, error };
    if (decision.pause) {
      gate.startPause({
        kind: decision.pause.kind,
        until: Date.now() + decision.pause.ms,
        reason: decision.pause.reason,
        token: options.token,
      });
      // A refused token will not start working by waiting: say so now.
      if (decision.pause.kind === "auth") return { ok: false, error };
    }
    await sleep(decision.delayMs);
    tries++;
  }
}

/** Asks the payload tracker with backoff until a final status or the verification window ends. */
async function verifyOne(
  gate: UploadGate,
  options: { config: Config; token: string; clusterId: string; requestId: string | null },
): Promise<Pick<SentArchive, "verification" | "verification_message">> {
  const { config } = options;
  if (!config.trackTemplate || !options.requestId) return { verification: "off" };
  const deadline = Date.now() + config.verifyWindowMs;
  let last = "";
  for (let tries = 0; Date.now() < deadline; tries++) {
    const answer = await gate.track(config.trackTemplate, {
      requestId: options.requestId,
      token: options.token,
      clusterId: options.clusterId,
      timeoutMs: Math.min(config.uploadTimeoutMs, 30_000),
    });
    if (answer.kind !== "pending") {
      return { verification: answer.kind, verification_message: answer.message };
    }
    last = answer.message;
    await sleep(Math.min(verifyBackoffMs(tries), Math.max(0, deadline - Date.now())));
  }
  return { verification: "unverified", verification_message: last };
}
