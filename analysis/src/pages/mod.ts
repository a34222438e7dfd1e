/**
 * The dashboards: server-rendered pages over the declared questions. Every
 * number on a page is a question's answer for the view in the URL, drawn as
 * an SVG chart and shown as a table, with the formula it follows and its
 * rows to download. A cluster's timeline is for analysts only, and logged.
 */
import type { Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { setCookie } from "hono/cookie";
import { SESSION_COOKIE } from "../tokens.ts";
import type { Ingest } from "../ingest/mod.ts";
import {
  type Answer,
  type AnswerCache,
  findQuestion,
  parseAsk,
  QuestionError,
} from "../questions/mod.ts";
import { DIMENSIONS, HOST_FILTERS } from "../questions/catalog.ts";
import { findPage, OVERVIEW, type Page, PAGES, type Panel } from "./catalog.ts";
import { drawn, renderChart } from "./chart.ts";
import {
  answerTable,
  escapeHtml,
  FILTER_LABELS,
  filterForm,
  layout,
  panelHtml,
  type ViewState,
} from "./html.ts";

/** Who may see what; the server decides from a bearer header or the session cookie. */
export interface PageAccess {
  mayRead(c: Context): boolean;
  isAnalyst(c: Context): boolean;
  /** Whether a token is one the service knows (for the login form). */
  known(token: string): boolean;
}

/** What the pages need. */
export interface PageDeps {
  ingest: Ingest;
  /** The service's answers, shared with the question API. */
  answers: AnswerCache;
  minGroup: number;
  access: PageAccess;
  audit?: (line: Record<string, unknown>) => void;
}

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
  "cache-control": "no-store",
};

const ASSETS: Record<string, { url: URL; type: string }> = {
  "app.js": { url: new URL("./assets/app.js", import.meta.url), type: "text/javascript" },
  "style.css": { url: new URL("./assets/style.css", import.meta.url), type: "text/css" },
  "echarts-ssr-client.js": {
    url: new URL(import.meta.resolve("echarts/ssr/client/dist/index.js")),
    type: "text/javascript",
  },
};

/** Reads the view from the query string, refusing values the form cannot produce. */
export function viewOf(query: Record<string, string | undefined>): ViewState {
  const filters: Record<string, string> = {};
  for (const [name] of FILTER_LABELS) if (query[name]) filters[name] = query[name]!;
  return {
    source: query.source ?? "all",
    from: query.from ?? "",
    to: query.to ?? "",
    internal: query.internal === "include",
    manual: query.manual ?? "include",
    feature: query.feature ?? "",
    filters,
  };
}

/** The question API's parameters for a view (what the page's numbers are the answer to). */
export function apiParams(state: ViewState, split: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  const source = state.source === "split" ? "all" : state.source;
  if (source !== "all") out.source = source;
  if (state.source === "split" && split) out.split = "source";
  if (state.from) out.from = state.from;
  if (state.to) out.to = state.to;
  if (state.internal) out.internal = "include";
  if (state.manual !== "include") out.manual = state.manual;
  if (state.feature) out.feature = state.feature;
  Object.assign(out, state.filters);
  return out;
}

/** The filters' options of the store's current generation (they change only with the data). */
const choicesMemo = new WeakMap<
  Ingest,
  { generation: number; choices: Record<string, string[]> }
>();

/** The options each filter offers: the values present in the store. */
async function choicesOf(ingest: Ingest): Promise<Record<string, string[]>> {
  const generation = ingest.store.generation;
  const memo = choicesMemo.get(ingest);
  if (memo?.generation === generation) return memo.choices;
  const choices = await readChoices(ingest);
  if (ingest.store.generation === generation) choicesMemo.set(ingest, { generation, choices });
  return choices;
}

async function readChoices(ingest: Ingest): Promise<Record<string, string[]>> {
  const selects = FILTER_LABELS.filter(([name]) => !(name in HOST_FILTERS)).map(([name]) =>
    `SELECT '${name}' AS filter, CAST(${DIMENSIONS[name]} AS VARCHAR) AS value FROM attempts fa`
  );
  selects.push("SELECT 'feature' AS filter, unnest(features) AS value FROM attempts fa");
  selects.push("SELECT 'vendor' AS filter, vendor AS value FROM hosts");
  selects.push("SELECT 'product' AS filter, product AS value FROM hosts");
  const rows = await ingest.store.query<{ filter: string; value: string }>(
    `SELECT DISTINCT filter, value FROM (${selects.join(" UNION ALL ")}) WHERE value IS NOT NULL
     ORDER BY filter, value LIMIT 2000`,
  );
  const out: Record<string, string[]> = {};
  for (const r of rows) (out[r.filter] ??= []).push(r.value);
  for (const values of Object.values(out)) {
    values.sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  }
  return out;
}

function navFor(current: string, analyst: boolean) {
  const pages = [
    { id: "overview", title: "Overview", href: "/" },
    ...PAGES.map((p) => ({ id: p.id, title: p.title, href: `/pages/${p.id}` })),
  ];
  if (analyst) pages.push({ id: "timeline", title: "Cluster timeline", href: "/clusters" });
  return { current, pages };
}

/** Tooltip texts per series and category, for the client's hover. */
function tipsOf(panel: Panel, data: ReturnType<typeof drawn>): string {
  const unit = panel.unit === "share" ? " %" : ` ${panel.unit === "count" ? "" : panel.unit}`;
  return JSON.stringify(
    data.series.map((s) =>
      s.values.map((v, i) =>
        `${data.categories[i]} · ${s.name}: ${
          v === null
            ? (data.suppressed.has(data.categories[i]) ? "suppressed" : "none")
            : `${v}${unit}`
        }`.trimEnd()
      )
    ),
  );
}

/** Answers and draws every panel of a page for a view. */
async function renderPanels(
  deps: PageDeps,
  page: Page,
  state: ViewState,
): Promise<string[]> {
  const out: string[] = [];
  await renderAnswers(deps, page, state, (panel, answer, split, params) => {
    const question = findQuestion(panel.question)!;
    const data = drawn(panel, answer.rows, split);
    const note = state.source === "split" && !question.splits && !panel.seriesBy
      ? "This question is answered for both sources combined."
      : undefined;
    out.push(panelHtml(panel, answer, {
      svg: data.categories.length ? renderChart(panel, data) : "",
      apiQuery: `?${new URLSearchParams(params)}`.replace(/^\?$/, ""),
      index: out.length,
      tips: tipsOf(panel, data),
      note,
    }));
  });
  return out;
}

/** A rate, its interval and n, as one compact cell. */
function rateCell(row: Record<string, unknown> | undefined): string {
  if (!row) return `<td data-rate="null">no attempts</td>`;
  if (row.suppressed) return `<td data-rate="null"><span class="suppressed">suppressed</span></td>`;
  const pct = (v: unknown) => typeof v === "number" ? Math.round(v * 1000) / 10 : null;
  return `<td data-rate="${row.success_rate ?? "null"}" data-n="${row.n}">${
    pct(row.success_rate) ?? "–"
  } % <small>[${pct(row.success_rate_low)}–${pct(row.success_rate_high)}] n=${row.n}</small></td>`;
}

/** The overview's comparison: the latest four weeks of data against the four before. */
async function recentWeeks(deps: PageDeps, state: ViewState): Promise<string> {
  const [latest] = await deps.ingest.store.query<{ at: string | null }>(
    "SELECT strftime(max(coalesce(cluster_created_at, ended_at)), '%Y-%m-%d') AS at FROM attempts",
  );
  if (!latest?.at) return "";
  const day = 86_400_000;
  const end = Date.parse(latest.at) + day;
  const iso = (t: number) => new Date(t).toISOString().slice(0, 10);
  const windows = [
    { label: "latest 4 weeks", from: iso(end - 28 * day), to: iso(end) },
    { label: "4 weeks before", from: iso(end - 56 * day), to: iso(end - 28 * day) },
  ];
  const question = findQuestion("success-rate")!;
  const answers: Answer[] = [];
  for (const w of windows) {
    for (const by of ["source", "all"]) {
      const params = { ...apiParams({ ...state, from: w.from, to: w.to }, false), by };
      answers.push(
        await deps.answers.ask(deps.ingest.store, question, {
          params: parseAsk(params),
          k: deps.minGroup,
          secret: deps.ingest.secret,
        }),
      );
    }
  }
  const rowOf = (answer: Answer, key: string) => answer.rows.find((r) => r.key === key);
  const lines = [["onprem", "on-prem", 0], ["saas", "SaaS", 0], ["all", "both", 1]] as const;
  const body = lines.map(([key, label, offset]) => {
    const now = rowOf(answers[offset], key);
    const before = rowOf(answers[2 + offset], key);
    const change = typeof now?.success_rate === "number" && typeof before?.success_rate === "number"
      ? `${((now.success_rate - before.success_rate) * 100).toFixed(1)} points`
      : "–";
    return `<tr data-source="${key}"><th scope="row">${label}</th>${rateCell(now)}${
      rateCell(before)
    }<td>${change}</td></tr>`;
  }).join("");
  return `<section class="panel compare"><h2>The latest weeks against the weeks before</h2>
  <p class="formula">Canonical success rate (§1.1: distinct clusters ever installed / distinct clusters installed or failed), with its 95 % Wilson interval and n, for clusters created in each window; the windows end at the latest data (${latest.at}).</p>
  <table class="compare-table"><thead><tr><th>source</th>${
    windows.map((w) =>
      `<th scope="col">${w.label}<br><small>${w.from} – ${w.to} (exclusive)</small></th>`
    )
      .join("")
  }<th>change</th></tr></thead><tbody>${body}</tbody></table></section>`;
}

function sendPage(c: Context, html: string, status = 200): Response {
  return c.html(html, status as 200, SECURITY_HEADERS);
}

function errorPage(c: Context, status: number, title: string, message: string): Response {
  return sendPage(
    c,
    layout(title, `<h1>${escapeHtml(title)}</h1><p class="error">${escapeHtml(message)}</p>`, {
      current: "",
      pages: navFor("", false).pages,
    }),
    status,
  );
}

function loginPage(c: Context, next: string, message = ""): Response {
  return sendPage(
    c,
    layout(
      "Sign in",
      `<h1>Sign in</h1>
<p>The dashboards need a reader or analyst token (from the service's token file).</p>
${message ? `<p class="error">${escapeHtml(message)}</p>` : ""}
<form method="post" action="/login" class="login">
  <input type="hidden" name="next" value="${escapeHtml(next)}">
  <label>token <input type="password" name="token" autocomplete="off" required></label>
  <button type="submit">Sign in</button>
</form>`,
      { current: "", pages: [] },
    ),
    401,
  );
}

/** Only a path of this service: never another origin. */
function safeNext(next: unknown): string {
  return typeof next === "string" && /^\/(?![/\\])/.test(next) ? next : "/";
}

/**
 * Answers every page's default views (combined and side by side) into the
 * cache, so the first visitor after new data does not wait for the
 * heaviest questions. Only reads; returns how many answers it computed.
 */
export async function warmPages(deps: PageDeps): Promise<number> {
  let answered = 0;
  for (const page of [OVERVIEW, ...PAGES]) {
    for (const source of ["all", "split"]) {
      const state = viewOf(source === "all" ? {} : { source });
      await renderAnswers(deps, page, state, () => answered++);
      if (page === OVERVIEW) await recentWeeks(deps, state);
    }
  }
  return answered;
}

/** Asks every panel's question of a page for a view (through the cache). */
async function renderAnswers(
  deps: PageDeps,
  page: Page,
  state: ViewState,
  each: (panel: Panel, answer: Answer, split: boolean, params: Record<string, string>) => void,
): Promise<void> {
  for (const panel of page.panels) {
    const question = findQuestion(panel.question)!;
    const view = panel.perSource && state.source === "all" ? { ...state, source: "split" } : state;
    const split = view.source === "split" && (question.splits ?? false);
    const params = {
      ...apiParams(view, question.splits ?? false),
      ...(panel.by ? { by: panel.by } : {}),
    };
    const answer = await deps.answers.ask(deps.ingest.store, question, {
      params: parseAsk(params),
      k: deps.minGroup,
      secret: deps.ingest.secret,
    });
    each(panel, answer, split, params);
  }
}

/** Mounts the pages, their assets and the login form on `app`. */
export function mountPages(app: Hono, deps: PageDeps): void {
  const { access } = deps;
  // Draw one chart now, so the first visitor does not wait for the chart library to compile.
  const [first] = OVERVIEW.panels;
  renderChart(first, drawn(first, [{ key: "2026-01-01", success_rate: 0.5 }], false));

  app.get("/assets/:name", async (c) => {
    const asset = ASSETS[c.req.param("name")];
    if (!asset) return c.text("not found", 404);
    return c.body(await Deno.readTextFile(asset.url), 200, {
      "content-type": `${asset.type}; charset=utf-8`,
      "cache-control": "public, max-age=3600",
      "x-content-type-options": "nosniff",
    });
  });

  app.get("/login", (c) => loginPage(c, safeNext(c.req.query("next"))));
  app.post("/login", bodyLimit({ maxSize: 8 * 1024 }), async (c) => {
    const form = await c.req.parseBody();
    const token = typeof form.token === "string" ? form.token.trim() : "";
    const next = safeNext(form.next);
    if (!access.known(token)) return loginPage(c, next, "That token is not known here.");
    setCookie(c, SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: "Strict",
      path: "/",
      secure: new URL(c.req.url).protocol === "https:",
      maxAge: 12 * 3600,
    });
    return c.redirect(next, 303);
  });
  app.post("/logout", (c) => {
    setCookie(c, SESSION_COOKIE, "", { path: "/", maxAge: 0 });
    return c.redirect("/login", 303);
  });

  async function page(c: Context, page: Page, extra: () => Promise<string>): Promise<Response> {
    if (!access.mayRead(c)) return loginPage(c, c.req.path + new URL(c.req.url).search);
    const state = viewOf(c.req.query());
    try {
      const [panels, choices, top] = [
        await renderPanels(deps, page, state),
        await choicesOf(deps.ingest),
        await extra(),
      ];
      const body = `<h1>${escapeHtml(page.title)}</h1>
<p class="summary">${escapeHtml(page.summary)}</p>
${page.note ? `<p class="note">${escapeHtml(page.note)}</p>` : ""}
${filterForm(c.req.path, state, choices)}
<p class="legend-note">Rates are shown with their n and a 95 % Wilson interval; cells of fewer than ${deps.minGroup} clusters are suppressed. Internal and test users are ${
        state.internal ? "included" : "excluded"
      }.</p>
${top}
${panels.join("\n")}`;
      return sendPage(c, layout(page.title, body, navFor(page.id, access.isAnalyst(c))));
    } catch (err) {
      if (err instanceof QuestionError) return errorPage(c, 400, "Bad filter", err.message);
      throw err;
    }
  }

  app.get("/", (c) => page(c, OVERVIEW, () => recentWeeks(deps, viewOf(c.req.query()))));
  app.get("/pages/:id", (c) => {
    const found = findPage(c.req.param("id"));
    if (!found) return errorPage(c, 404, "No such page", "That page does not exist.");
    return page(c, found, () => Promise.resolve(""));
  });

  app.get("/clusters", async (c) => {
    if (!access.mayRead(c)) return loginPage(c, c.req.path + new URL(c.req.url).search);
    if (!access.isAnalyst(c)) {
      return errorPage(c, 403, "Analysts only", "A cluster's timeline needs an analyst token.");
    }
    const cluster = (c.req.query("cluster") ?? "").trim();
    const form = `<form method="get" action="/clusters" class="filters">
  <label>cluster id or key <input name="cluster" value="${escapeHtml(cluster)}" size="40"></label>
  <button type="submit">Show</button></form>`;
    const sections: string[] = [];
    if (cluster) {
      for (const id of ["cluster-attempts", "cluster-host-stages", "cluster-timeline"]) {
        const answer: Answer = await deps.answers.ask(deps.ingest.store, findQuestion(id)!, {
          params: parseAsk({ cluster }),
          k: deps.minGroup,
          secret: deps.ingest.secret,
        });
        deps.audit?.({
          msg: "cluster rows read",
          question: id,
          rows: answer.rows.length,
          via: "page",
        });
        sections.push(
          `<section class="panel" data-question="${id}"><h2>${escapeHtml(answer.title)}</h2>
<p class="formula">${escapeHtml(answer.formula)}</p>${answerTable(answer)}</section>`,
        );
      }
    }
    return sendPage(
      c,
      layout(
        "Cluster timeline",
        `<h1>Cluster timeline</h1><p class="summary">One cluster's attempts, host stages and events, in order. Every read is logged.</p>${form}${
          sections.join("\n")
        }`,
        navFor("timeline", true),
      ),
    );
  });
}
