/**
 * Regenerates the README's generated tables (what leaves, settings) from the
 * code that defines them: `deno task readme`.
 */
import { settingsTable } from "../src/config/mod.ts";
import { whatLeavesTable } from "../src/sanitize/table.ts";
import { QUESTIONS } from "../analysis/src/questions/catalog.ts";
import { ANALYSIS_SETTINGS } from "../analysis/src/config.ts";
import { OVERVIEW, PAGES } from "../analysis/src/pages/catalog.ts";

/** The analysis service's questions, from their declarations. */
export function questionsTable(): string {
  return [
    "| id | question | breakdowns (`by=`) | formula |",
    "| --- | --- | --- | --- |",
    ...QUESTIONS.map((q) =>
      `| \`${q.id}\`${q.analystOnly ? " (analyst token)" : ""} | ${q.question} | ${
        Object.keys(q.by).join(", ") || "—"
      } | ${q.formula.replaceAll("|", "\\|")} |`
    ),
  ].join("\n");
}

/** The analysis service's settings, from their declarations. */
export function analysisSettingsTable(): string {
  return [
    "| setting | default | meaning |",
    "| --- | --- | --- |",
    ...ANALYSIS_SETTINGS.map((s) =>
      `| \`${s.name}\` | ${s.default ? `\`${s.default}\`` : "unset"} | ${s.description} |`
    ),
  ].join("\n");
}

/** The dashboards' pages and the questions behind each panel, from their declarations. */
export function pagesTable(): string {
  return [
    "| page | answers | panels (question, `by=`) |",
    "| --- | --- | --- |",
    ...[OVERVIEW, ...PAGES].map((p) =>
      `| \`${p.id === "overview" ? "/" : `/pages/${p.id}`}\` | ${p.summary} | ${
        p.panels.map((panel) =>
          `${panel.title} (\`${panel.question}\`${panel.by ? `, ${panel.by}` : ""})`
        ).join("; ")
      } |`
    ),
    "| `/clusters` (analyst token) | One cluster's attempts, host stages and events, in order; every read logged. | `cluster-attempts`; `cluster-host-stages`; `cluster-timeline` |",
  ].join("\n");
}

/** The generated sections: marker name and content. */
export const SECTIONS: ReadonlyArray<[string, () => string]> = [
  ["what-leaves", whatLeavesTable],
  ["settings", settingsTable],
  ["analysis-questions", questionsTable],
  ["analysis-settings", analysisSettingsTable],
  ["analysis-pages", pagesTable],
];

/** `readme` with every generated section replaced by what the code generates now. */
export function regenerate(readme: string): string {
  let out = readme;
  for (const [name, generate] of SECTIONS) {
    const begin = `<!-- ${name}:begin -->\n`;
    const end = `<!-- ${name}:end -->`;
    const start = out.indexOf(begin);
    const stop = out.indexOf(end);
    if (start < 0 || stop < start) throw new Error(`${name} markers not found`);
    out = out.slice(0, start + begin.length) + generate() + "\n" + out.slice(stop);
  }
  return out;
}

if (import.meta.main) {
  const path = Deno.args[0] ?? "README.md";
  await Deno.writeTextFile(path, regenerate(await Deno.readTextFile(path)));
}
