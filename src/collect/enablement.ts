/**
 * Whether collection is on: the environment switch, the run-time opt-out
 * and the global pull secret, each a reason of its own. When several hold,
 * every current reason is given, in that order.
 */
import type { Config } from "../config/mod.ts";
import type { DesiredEnablement, Enablement } from "../db/ledger.ts";
import type { Logger } from "../log/mod.ts";
import {
  parsePullSecret,
  pullSecretSecrets,
  type PullSecretVerdict,
  TELEMETRY_REGISTRY,
} from "./pull_secret.ts";

/** The global pull secret as read on this pass: absent, or a verdict. */
export type GlobalSecret = { verdict: PullSecretVerdict; secrets: string[] } | undefined;

/** Reasons recorded in the enablement history. */
export const REASONS = {
  enabled: "collection enabled",
  env: "ENABLE_DATA_COLLECTION is false",
  runtime: "opted out at run time (opt-out command or POST /v1/opt-out)",
  pullSecret: `global pull secret has no ${TELEMETRY_REGISTRY} entry`,
} as const;

/** Reads PULL_SECRET_FILE; undefined when none is configured. */
export async function readGlobalSecret(file: string | undefined): Promise<GlobalSecret> {
  if (!file) return undefined;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound ? "not found" : (err as Error).name;
    return {
      verdict: { kind: "invalid", problem: `cannot read PULL_SECRET_FILE (${why})` },
      secrets: [],
    };
  }
  return { verdict: parsePullSecret(text), secrets: pullSecretSecrets(text) };
}

/** What the switches say now: on, off with every current reason, or an error. */
export function desiredEnablement(
  config: Pick<Config, "enableDataCollection">,
  input: { global: GlobalSecret; runtimeOptedOut: boolean },
): DesiredEnablement | { error: string } {
  const reasons: string[] = [];
  if (!config.enableDataCollection) reasons.push(REASONS.env);
  if (input.runtimeOptedOut) reasons.push(REASONS.runtime);
  if (input.global?.verdict.kind === "opted-out") reasons.push(REASONS.pullSecret);
  if (reasons.length > 0) return { enabled: false, reason: reasons.join("; ") };
  if (input.global?.verdict.kind === "invalid") {
    return { error: `global pull secret unusable: ${input.global.verdict.problem}` };
  }
  return { enabled: true, reason: REASONS.enabled };
}

/** Logs a change of enablement once, not on every pass. */
export class EnablementLog {
  #logged?: string;

  /** Logs `state` when it differs from the last one logged. */
  log(state: Enablement, log: Logger): void {
    const key = `${state.enabled}:${state.reason}`;
    if (this.#logged === key) return;
    const first = this.#logged === undefined;
    this.#logged = key;
    if (state.enabled) {
      log.info(first ? "data collection is on" : "data collection turned on", {
        since: state.since,
      });
    } else {
      log.info(first ? "data collection is opted out" : "data collection turned off", {
        reason: state.reason,
        since: state.since,
      });
    }
  }
}
