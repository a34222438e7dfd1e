/**
 * Answers a declared question: applies the shared filters to the attempts,
 * breaks the answer down, suppresses cells of fewer than k distinct clusters
 * (their numbers are withheld, never shown as zero), and adds a Wilson 95 %
 * interval to every rate, computed from released cells only.
 */
import { keyOf } from "../normalise/keys.ts";
import type { Param, Store } from "../store/duckdb.ts";
import {
  DIMENSIONS,
  FILTERS,
  findQuestion,
  HOST_FILTERS,
  type Question,
  QUESTIONS,
} from "./catalog.ts";

export { findQuestion, QUESTIONS };

/** What a caller may ask for. */
export interface AskParams {
  source: "onprem" | "saas" | "all";
  /** Side by side: one row per source in each cell. */
  split?: boolean;
  by?: string;
  /** Cohort dates (cluster creation, else the attempt's end), ISO dates, `to` exclusive. */
  from?: string;
  to?: string;
  /** Keep internal and test users (excluded by default, as the dashboards do). */
  includeInternal?: boolean;
  /** Equality filters on dimensions (`openshift_minor=4.18`). */
  filters?: Record<string, string>;
  /**
   * Hand-exported attempts (channel manual_export, skewed towards installs
   * that had problems): `include` (default), `exclude` or `only`.
   */
  manual?: "include" | "exclude" | "only";
  /** Only clusters using this feature id. */
  feature?: string;
  /** One cluster (id or key), for the analyst-only timeline. */
  cluster?: string;
}

/** A bad request, with a message for the caller. */
export class QuestionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "QuestionError";
  }
}

/** An answer: the question's declaration and its rows. */
export interface Answer {
  id: string;
  title: string;
  formula: string;
  by: string | null;
  k: number;
  rows: Array<Record<string, unknown>>;
  /** Cells withheld because fewer than k distinct clusters were behind them. */
  suppressed: number;
}

/** Parses query-string parameters into AskParams, refusing what is not understood. */
export function parseAsk(query: Record<string, string | undefined>): AskParams {
  const source = query.source ?? "all";
  if (!["onprem", "saas", "all"].includes(source)) {
    throw new QuestionError("source must be onprem, saas or all");
  }
  for (const d of ["from", "to"] as const) {
    const v = query[d];
    if (v !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(v)) {
      throw new QuestionError(`${d} must be a date YYYY-MM-DD`);
    }
  }
  const manual = query.manual ?? "include";
  if (!["include", "exclude", "only"].includes(manual)) {
    throw new QuestionError("manual must be include, exclude or only");
  }
  const filters: Record<string, string> = {};
  for (const f of FILTERS) if (query[f]) filters[f] = query[f]!;
  return {
    source: source as AskParams["source"],
    split: query.split === "source",
    by: query.by,
    from: query.from,
    to: query.to,
    includeInternal: query.internal === "include",
    filters,
    feature: query.feature,
    cluster: query.cluster,
    manual: manual as AskParams["manual"],
  };
}

/** Answers `question` over the store. */
export async function ask(
  store: Store,
  question: Question,
  options: { params: AskParams; k: number; secret: string },
): Promise<Answer> {
  const { params, k } = options;
  const byNames = Object.keys(question.by);
  const by = params.by ?? byNames[0];
  if (params.by !== undefined && !byNames.includes(params.by)) {
    throw new QuestionError(
      byNames.length
        ? `by must be one of ${byNames.join(", ")}`
        : `${question.id} takes no breakdown`,
    );
  }
  if (params.split && !question.splits) {
    throw new QuestionError(`${question.id} cannot be split by source`);
  }
  if (question.analystOnly && !params.cluster) {
    throw new QuestionError("cluster is required");
  }
  const named: Record<string, Param> = {
    source: params.source,
    internal: params.includeInternal ?? false,
    from: params.from ?? null,
    to: params.to ?? null,
  };
  const where = [
    "($source = 'all' OR fa.source = $source)",
    "($internal OR NOT fa.internal)",
    "($from IS NULL OR coalesce(fa.cluster_created_at, fa.ended_at) >= CAST($from AS TIMESTAMPTZ))",
    "($to IS NULL OR coalesce(fa.cluster_created_at, fa.ended_at) < CAST($to AS TIMESTAMPTZ))",
  ];
  for (const [name, value] of Object.entries(params.filters ?? {})) {
    named[`f_${name}`] = value;
    where.push(HOST_FILTERS[name] ?? `${DIMENSIONS[name]} = $f_${name}`);
  }
  if (params.manual === "exclude") where.push("fa.channel <> 'manual_export'");
  if (params.manual === "only") where.push("fa.channel = 'manual_export'");
  if (params.feature) {
    named.feature = params.feature;
    where.push("list_contains(fa.features, $feature)");
  }
  if (params.cluster) {
    named.cluster = /^[0-9a-f]{32}$/.test(params.cluster)
      ? params.cluster
      : keyOf(options.secret, params.cluster);
  }
  const body = question.sql
    .replaceAll("{label}", (by && question.labels?.[by]) || "key")
    .replaceAll("{key}", by ? question.by[by] : "'all'")
    .replaceAll("{split}", params.split ? ", fa.source AS source" : "");
  const filtered = `fa AS (SELECT * FROM attempts fa WHERE ${where.join(" AND ")})`;
  // Rows in a stable order, so the same question gives the same rows everywhere.
  const ordered = /ORDER BY[^)]*(LIMIT \d+)?\s*$/i.test(body) ? body : `${body} ORDER BY ALL`;
  const sql = /^\s*WITH\s/i.test(ordered)
    ? ordered.replace(/^\s*WITH\s/i, `WITH ${filtered}, `)
    : `WITH ${filtered} ${ordered}`;
  const used = Object.fromEntries(
    Object.entries(named).filter(([name]) => new RegExp(`\\$${name}\\b`).test(sql)),
  );
  const raw = await store.query(sql, used);
  let suppressed = 0;
  const rows = raw.map((row) => {
    const out: Record<string, unknown> = { ...row };
    if (!question.unsuppressed && typeof row.clusters === "number" && row.clusters < k) {
      suppressed++;
      for (const [name, value] of Object.entries(row)) {
        if (typeof value === "number" && !["step_order"].includes(name)) out[name] = null;
      }
      for (const [rate] of question.rates ?? []) {
        Object.assign(out, { [rate]: null, [`${rate}_low`]: null, [`${rate}_high`]: null });
      }
      out.suppressed = true;
      return out;
    }
    out.suppressed = false;
    for (const [rate, hits, n] of question.rates ?? []) {
      Object.assign(out, rateWithInterval(rate, row[hits] as number, row[n] as number));
    }
    return out;
  });
  return {
    id: question.id,
    title: question.title,
    formula: question.formula,
    by: by ?? null,
    k,
    rows,
    suppressed,
  };
}

/**
 * Answers kept while the store has not changed: a dashboard asks the same
 * questions for the same views again and again, and any write (an archive
 * processed, a prune, a deletion) moves the store's generation and empties
 * the cache. Bounded; the oldest entry goes first.
 */
export class AnswerCache {
  readonly #entries = new Map<string, Answer>();
  readonly #limit: number;
  #generation = -1;

  constructor(limit = 500) {
    this.#limit = limit;
  }

  /** `ask`, answered from the cache when the same question was asked since the last write. */
  async ask(
    store: Store,
    question: Question,
    options: { params: AskParams; k: number; secret: string },
  ): Promise<Answer> {
    if (store.generation !== this.#generation) {
      this.#entries.clear();
      this.#generation = store.generation;
    }
    const key = canonical([question.id, options.params, options.k]);
    const hit = this.#entries.get(key);
    if (hit) return structuredClone(hit);
    const generation = store.generation;
    const answer = await ask(store, question, options);
    if (store.generation === generation) {
      if (this.#entries.size >= this.#limit) {
        this.#entries.delete(this.#entries.keys().next().value!);
      }
      this.#entries.set(key, structuredClone(answer));
    }
    return answer;
  }
}

/** JSON with object keys sorted and empty values left out: one key per meaning. */
function canonical(value: unknown): string {
  return JSON.stringify(
    value,
    (_, v) =>
      v && typeof v === "object" && !Array.isArray(v)
        ? Object.fromEntries(
          Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => a < b ? -1 : 1),
        )
        : v,
  );
}

/** A rate and its Wilson score interval (95 %); null without observations. */
export function rateWithInterval(
  name: string,
  hits: number,
  n: number,
): Record<string, number | null> {
  if (!n) return { [name]: null, [`${name}_low`]: null, [`${name}_high`]: null };
  const z = 1.959963984540054;
  const p = hits / n;
  const denom = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denom;
  const round = (x: number) => Math.round(x * 10000) / 10000;
  return {
    [name]: round(p),
    [`${name}_low`]: round(Math.max(0, centre - half)),
    [`${name}_high`]: round(Math.min(1, centre + half)),
  };
}
