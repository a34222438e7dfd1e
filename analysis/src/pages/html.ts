/**
 * The pages' HTML: the layout, the filter form, and each panel's table.
 * Every text that came from data is escaped here; nothing is inlined as
 * script (the content security policy allows only the service's own files).
 */
import type { Answer } from "../questions/mod.ts";
import type { Panel } from "./catalog.ts";
import { scaled, sourceLabel } from "./chart.ts";

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: unknown): string {
  return String(text ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** What the filter form shows and the URL carries. */
export interface ViewState {
  /** onprem, saas, all (combined) or split (side by side). */
  source: string;
  from: string;
  to: string;
  internal: boolean;
  manual: string;
  feature: string;
  filters: Record<string, string>;
}

/** The filters the form offers (the reference's input controls), with their labels. */
export const FILTER_LABELS: ReadonlyArray<[string, string]> = [
  ["openshift_minor", "OpenShift version"],
  ["ai_version", "AI version"],
  ["platform", "platform"],
  ["ha_mode", "topology"],
  ["deployment_type", "deployment type"],
  ["cpu_architecture", "architecture"],
  ["host_count", "hosts"],
  ["vendor", "host vendor"],
  ["product", "host product"],
];

function select(name: string, label: string, current: string, options: string[][]): string {
  const opts = options.map(([value, text]) =>
    `<option value="${escapeHtml(value)}"${value === current ? " selected" : ""}>${
      escapeHtml(text)
    }</option>`
  ).join("");
  return `<label>${escapeHtml(label)} <select name="${name}">${opts}</select></label>`;
}

/** The filter form: a GET form, so every view is a URL. */
export function filterForm(
  action: string,
  state: ViewState,
  choices: Record<string, string[]>,
): string {
  const any = (values: string[]) => [["", "any"], ...values.map((v) => [v, v])];
  return `<form class="filters" method="get" action="${escapeHtml(action)}">
  ${
    select("source", "source", state.source, [
      ["all", "both combined"],
      ["split", "side by side"],
      ["onprem", "on-prem"],
      ["saas", "SaaS"],
    ])
  }
  <label>from <input type="date" name="from" value="${escapeHtml(state.from)}"></label>
  <label>to <input type="date" name="to" value="${escapeHtml(state.to)}"></label>
  ${
    FILTER_LABELS.map(([name, label]) =>
      select(name, label, state.filters[name] ?? "", any(choices[name] ?? []))
    ).join("\n  ")
  }
  ${select("feature", "feature", state.feature, any(choices.feature ?? []))}
  ${
    select("manual", "hand-exported", state.manual, [
      ["include", "included"],
      ["exclude", "excluded"],
      ["only", "only"],
    ])
  }
  <label><input type="checkbox" name="internal" value="include"${
    state.internal ? " checked" : ""
  }> internal and test users</label>
  <button type="submit">Apply</button>
</form>`;
}

/** Columns of a table: every column of the rows but the interval bounds and the flag. */
function columnsOf(rows: ReadonlyArray<Record<string, unknown>>): string[] {
  return [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((c) =>
    c !== "suppressed" && !/_(low|high)$/.test(c)
  );
}

function display(column: string, row: Record<string, unknown>, rates: Set<string>): string {
  const value = row[column];
  if (row.suppressed && (value === null || value === undefined) && column !== "key") {
    return `<span class="suppressed">suppressed</span>`;
  }
  if (column === "source") return escapeHtml(sourceLabel(value));
  if (rates.has(column)) {
    if (typeof value !== "number") return "–";
    const low = scaled("share", row[`${column}_low`]);
    const high = scaled("share", row[`${column}_high`]);
    return `${scaled("share", value)} % <small>[${low}–${high}]</small>`;
  }
  if (Array.isArray(value)) return escapeHtml(value.join(", "));
  if (value === null || value === undefined) return "–";
  return escapeHtml(value);
}

/** An answer's rows as a table; each cell carries its raw value for checks and copying. */
export function answerTable(answer: Answer): string {
  const rates = new Set(
    Object.keys(answer.rows[0] ?? {}).filter((c) =>
      `${c}_low` in (answer.rows[0] ?? {}) && `${c}_high` in (answer.rows[0] ?? {})
    ),
  );
  if (answer.rows.length === 0) return `<p class="empty">No rows for this view.</p>`;
  const columns = columnsOf(answer.rows);
  const head = columns.map((c) => `<th scope="col">${escapeHtml(c.replaceAll("_", " "))}</th>`)
    .join("");
  const body = answer.rows.map((row) =>
    `<tr${row.suppressed ? ' class="suppressed-row"' : ""}>${
      columns.map((c) =>
        `<td data-col="${escapeHtml(c)}" data-value="${
          escapeHtml(JSON.stringify(row[c] ?? null))
        }">${display(c, row, rates)}</td>`
      ).join("")
    }</tr>`
  ).join("\n");
  return `<table><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

/** One panel: title, formula, chart, table and downloads. */
export function panelHtml(
  panel: Panel,
  answer: Answer,
  parts: { svg: string; apiQuery: string; index: number; tips: string; note?: string },
): string {
  const api = `/api/v1/questions/${encodeURIComponent(panel.question)}${parts.apiQuery}`;
  const join = parts.apiQuery ? "&" : "?";
  const suppressed = answer.suppressed
    ? `<p class="suppressed-note">${answer.suppressed} cell(s) suppressed: fewer than ${answer.k} clusters.</p>`
    : "";
  return `<section class="panel" id="panel-${parts.index}" data-question="${
    escapeHtml(panel.question)
  }" data-api="${escapeHtml(api)}">
  <h2>${escapeHtml(panel.title)}</h2>
  <p class="formula">${escapeHtml(answer.formula)}</p>
  ${parts.note ? `<p class="note">${escapeHtml(parts.note)}</p>` : ""}
  <figure class="chart">${parts.svg}<script type="application/json" class="tips">${
    parts.tips.replaceAll("<", "\\u003c")
  }</script></figure>
  ${suppressed}
  <details class="table-view" open><summary>Table</summary>${answerTable(answer)}</details>
  <p class="downloads">Download the rows: <a href="${
    escapeHtml(`${api}${join}format=csv`)
  }">CSV</a> ·
    <a href="${escapeHtml(`${api}${join}format=parquet`)}">Parquet</a> ·
    <a href="${escapeHtml(api)}">JSON</a></p>
</section>`;
}

/** The whole page around `body`. */
export function layout(
  title: string,
  body: string,
  nav: { current: string; pages: ReadonlyArray<{ id: string; title: string; href: string }> },
): string {
  const links = nav.pages.map((p) =>
    `<a href="${escapeHtml(p.href)}"${p.id === nav.current ? ' aria-current="page"' : ""}>${
      escapeHtml(p.title)
    }</a>`
  ).join("\n    ");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Assisted Installer telemetry</title>
<link rel="stylesheet" href="/assets/style.css">
<link rel="icon" href="data:,">
<script src="/assets/echarts-ssr-client.js" defer></script>
<script src="/assets/app.js" defer></script>
</head>
<body>
<header><strong>Assisted Installer telemetry</strong>
  <nav>
    ${links}
  </nav>
</header>
<main>
${body}
</main>
</body>
</html>`;
}
