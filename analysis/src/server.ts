/**
 * The analysis service's HTTP face: ingress's upload and tracking contract
 * (so a collector's DATA_UPLOAD_ENDPOINT can point here), and the question
 * API. Tokens are compared in constant time.
 */
import { timingSafeEqual } from "node:crypto";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Context } from "hono";
import {
  INGRESS_MAX_BYTES,
  joinBytes,
  readIngressUpload,
  REQUEST_ID,
  USER_AGENT_PREFIX,
} from "../../contract/mod.ts";
import type { AnalysisConfig, Tokens } from "./config.ts";
import type { Ingest } from "./ingest/mod.ts";
import { keyOf } from "./normalise/keys.ts";
import { AnswerCache, findQuestion, parseAsk, QuestionError, QUESTIONS } from "./questions/mod.ts";
import { toCsv } from "./questions/format.ts";
import { mountPages, type PageDeps, warmPages } from "./pages/mod.ts";
import { bearer, requestToken } from "./tokens.ts";
import { rowsToParquet } from "./store/parquet.ts";
import { isUnavailable } from "./store/shared.ts";

/** What the app needs. */
export interface AppDeps {
  ingest: Ingest;
  config: AnalysisConfig;
  tokens: Tokens;
  /** Where reads of single clusters are logged. */
  audit?: (line: Record<string, unknown>) => void;
  /**
   * How often to look for new data and, once the store has been quiet for
   * one look, answer every page's default views ahead of the first visitor.
   */
  warmEveryMs?: number;
}

function sameToken(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  return x.byteLength === y.byteLength && timingSafeEqual(x, y);
}

function inSet(token: string | undefined, set: Iterable<string>): boolean {
  if (!token) return false;
  let found = false;
  for (const t of set) found = sameToken(token, t) || found;
  return found;
}

/** Answers the pages' default views whenever the store has changed and then been quiet. */
function keepWarm(pages: PageDeps, everyMs: number): void {
  const store = pages.ingest.store;
  let seen = -1;
  let warmed = -1;
  let running = false;
  const timer = setInterval(async () => {
    const generation = store.generation;
    if (running || generation === warmed) return;
    if (generation !== seen) {
      seen = generation; // still changing: wait for a quiet look
      return;
    }
    running = true;
    try {
      await warmPages(pages);
      warmed = generation;
    } catch (err) {
      console.error(
        JSON.stringify({
          level: "error",
          msg: "warming the pages failed",
          error: String((err as Error)?.message ?? err).slice(0, 300),
        }),
      );
      warmed = generation; // not again until the data changes
    } finally {
      running = false;
    }
  }, everyMs);
  Deno.unrefTimer(timer);
}

/** Builds the service's app. */
export function createAnalysisApp(deps: AppDeps): Hono {
  const { ingest, config, tokens } = deps;
  const app = new Hono();
  const answers = new AnswerCache();
  const tooLarge = { error: `payload larger than ${INGRESS_MAX_BYTES} bytes` };

  /** The organisation an upload token belongs to; undefined when refused. */
  function uploader(token: string | undefined): string | undefined {
    if (!token) return undefined;
    for (const [t, org] of tokens.uploaders) if (sameToken(token, t)) return org;
    return config.devMode ? "development" : undefined;
  }
  // Reads accept the browser session's cookie as well as a bearer header.
  const isAnalyst = (c: Context) => inSet(requestToken(c), tokens.analysts);
  const mayRead = (c: Context) =>
    config.devMode || isAnalyst(c) || inSet(requestToken(c), tokens.readers);

  app.get("/healthz", (c) => c.json({ status: "ok" }));

  app.post(
    "/api/ingress/v1/upload",
    async (c, next) => {
      if (uploader(bearer(c)) === undefined) {
        return c.json({ error: "missing or invalid bearer token" }, 401);
      }
      if (!(c.req.header("user-agent") ?? "").startsWith(USER_AGENT_PREFIX)) {
        return c.json({
          error: "unrecognised client: pull-secret auth needs the operator User-Agent",
        }, 401);
      }
      await next();
    },
    bodyLimit({ maxSize: INGRESS_MAX_BYTES + 64 * 1024, onError: (c) => c.json(tooLarge, 413) }),
    async (c) => {
      const upload = await readIngressUpload(c.req.raw);
      if (!upload.ok) return c.json({ error: upload.error }, upload.status);
      const bytes = joinBytes(upload.archive.chunks, upload.archive.size);
      const requestId = crypto.randomUUID();
      await ingest.accept(bytes, {
        kind: "archive",
        channel: "upload",
        orgLabel: uploader(bearer(c))!,
        requestId,
      });
      c.header("x-rh-insights-request-id", requestId);
      return c.json({ request_id: requestId, upload: { account_number: "", org_id: "" } }, 202);
    },
  );

  app.get("/api/ingress/v1/track/:id", async (c) => {
    const org = uploader(bearer(c));
    if (org === undefined) return c.json({ error: "missing or invalid bearer token" }, 401);
    const id = c.req.param("id");
    if (!REQUEST_ID.test(id)) return c.json({ error: "request id is not a UUID" }, 400);
    const status = await ingest.track(id);
    if (!status) return c.json({ error: "unknown request id" }, 404);
    if (status.org !== keyOf(ingest.secret, org)) {
      return c.json({ error: "payload of another organisation" }, 403);
    }
    return c.json({
      status: status.status,
      status_msg: status.status_msg,
      date: status.date,
      service: "assisted-installer",
      inventory_id: null,
    });
  });

  app.get("/api/v1/questions", (c) => {
    if (!mayRead(c)) return c.json({ error: "a reader or analyst token is required" }, 401);
    return c.json(QUESTIONS.map((q) => ({
      id: q.id,
      title: q.title,
      question: q.question,
      formula: q.formula,
      by: Object.keys(q.by),
      split_by_source: q.splits ?? false,
      analyst_only: q.analystOnly ?? false,
    })));
  });

  app.get("/api/v1/questions/:id", async (c) => {
    if (!mayRead(c)) return c.json({ error: "a reader or analyst token is required" }, 401);
    const question = findQuestion(c.req.param("id"));
    if (!question) return c.json({ error: "no such question" }, 404);
    if (question.analystOnly && !isAnalyst(c)) {
      return c.json({ error: "rows of one cluster need an analyst token" }, 403);
    }
    const format = c.req.query("format") ?? "json";
    if (!["json", "csv", "parquet"].includes(format)) {
      return c.json({ error: "format must be json, csv or parquet" }, 400);
    }
    try {
      const params = parseAsk(c.req.query());
      const answer = await answers.ask(ingest.store, question, {
        params,
        k: config.minGroup,
        secret: ingest.secret,
      });
      if (question.analystOnly) {
        deps.audit?.({ msg: "cluster rows read", question: question.id, rows: answer.rows.length });
      }
      const file = `${question.id}${params.by ? `-by-${params.by}` : ""}`;
      if (format === "csv") {
        return c.body(toCsv(answer.rows), 200, {
          "content-type": "text/csv; charset=utf-8",
          "content-disposition": `attachment; filename="${file}.csv"`,
        });
      }
      if (format === "parquet") {
        return c.body(await rowsToParquet(ingest.store, answer.rows), 200, {
          "content-type": "application/vnd.apache.parquet",
          "content-disposition": `attachment; filename="${file}.parquet"`,
        });
      }
      return c.json(answer);
    } catch (err) {
      if (err instanceof QuestionError) return c.json({ error: err.message }, 400);
      throw err;
    }
  });

  app.post(
    "/api/v1/import",
    bodyLimit({
      maxSize: INGRESS_MAX_BYTES,
      onError: (c) => c.json(tooLarge, 413),
    }),
    async (c) => {
      if (!isAnalyst(c)) return c.json({ error: "an analyst token is required" }, 401);
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      const channel = c.req.query("channel") ?? "import";
      if (!["import", "manual_export"].includes(channel)) {
        return c.json({ error: "channel must be import or manual_export" }, 400);
      }
      const kind = c.req.query("kind") ?? "archive";
      if (
        ![
          "archive",
          ".events",
          ".clusters",
          ".infra_envs",
          ".component_versions",
        ].includes(kind)
      ) {
        return c.json({ error: "kind must be archive or a SaaS export stream" }, 400);
      }
      const result = await ingest.accept(bytes, {
        kind: kind as "archive",
        channel: kind === "archive" ? channel : "saas_export",
        orgLabel: null,
      });
      await ingest.settled();
      const [row] = await ingest.store.query<{ status: string; reason: string | null }>(
        "SELECT status, reason FROM archives WHERE sha256 = $1",
        [result.sha256],
      );
      return c.json({ ...result, status: row.status, reason: row.reason ?? undefined });
    },
  );

  const pages: PageDeps = {
    ingest,
    answers,
    minGroup: config.minGroup,
    audit: deps.audit,
    access: {
      mayRead,
      isAnalyst,
      known: (token) =>
        inSet(token, tokens.analysts) || inSet(token, tokens.readers) ||
        (config.devMode && token.length > 0),
    },
  };
  mountPages(app, pages);
  if (deps.warmEveryMs) keepWarm(pages, deps.warmEveryMs);

  app.onError((err, c) => {
    if (isUnavailable(err)) {
      c.header("retry-after", "30");
      return c.json(
        { error: "the shared store (PostgreSQL) cannot be reached; try again later" },
        503,
      );
    }
    console.error(
      JSON.stringify({
        level: "error",
        msg: "request failed",
        error: String(err?.message ?? err).slice(0, 300),
      }),
    );
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}
