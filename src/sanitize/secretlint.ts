/**
 * A maintained ruleset beside our own patterns: secretlint's recommended
 * preset (cloud and SaaS provider tokens, private keys, connection strings,
 * …). It costs about 2 ms a text under Deno, so it only sees texts that look
 * as if they might hold a token (a prefilter on cheap features), and each
 * distinct text once (the scrubber memoises what it finds).
 */
import { lintSource } from "@secretlint/core";
import { creator as recommended } from "@secretlint/secretlint-rule-preset-recommend";
import { charClass, hasRun } from "./runs.ts";

/**
 * Provider prefixes that make a text worth the ruleset's time. URLs,
 * `key=value` pairs and base64 credentials are our own patterns' work, so
 * they do not send a text to the ruleset on their own.
 */
const MAYBE_TOKEN =
  /-----BEGIN|\b(?:AKIA|ASIA|AGPA|AIDA|AROA|AIza|ghp_|gho_|ghu_|ghs_|ghr_|github_pat_|glpat-|xox[abposr]-|sk_live_|rk_live_|sk-[A-Za-z0-9]|npm_|SG\.|shpat_|shpss_|dop_v1_|lin_api_)/;
/** A long run of mixed-case letters and digits: a token of no known prefix, maybe. */
const LONG_RUN = /[A-Za-z0-9+/=_-]{40,}/g;
const LONG_RUN_CHARS = charClass("A-Za-z0-9+/=_-");

/** Whether the ruleset should look at `text`. */
export function maySecretlint(text: string): boolean {
  if (text.length < 16) return false;
  if (MAYBE_TOKEN.test(text)) return true;
  if (!hasRun(text, LONG_RUN_CHARS, 40)) return false;
  for (const run of text.match(LONG_RUN) ?? []) {
    if (/[a-z]/.test(run) && /[A-Z]/.test(run) && /\d/.test(run)) return true;
  }
  return false;
}

const CONFIG = {
  rules: [{ id: "@secretlint/secretlint-rule-preset-recommend", rule: recommended }],
};

/** The ranges of `text` the ruleset reports as secrets, in order. */
export async function secretlintRanges(text: string): Promise<Array<[number, number]>> {
  const result = await lintSource({
    source: { filePath: "/event.txt", content: text, contentType: "text" },
    options: { config: CONFIG },
  });
  return result.messages
    .map((m) => m.range as [number, number])
    .sort((a, b) => a[0] - b[0]);
}
