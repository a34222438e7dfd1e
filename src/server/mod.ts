/**
 * The collector's HTTP API: health, status, trigger and the opt-out switch.
 * Handlers only enqueue or read; a pass never runs on a request's time.
 */
import { Hono } from "hono";
import { z } from "zod";
import type { Collector } from "../collect/mod.ts";
import { type CollectorStatus, safeError } from "../collect/mod.ts";
import { TripwireError } from "../collect/secrets.ts";
import type { Sql } from "../db/mod.ts";
import { ping } from "../db/mod.ts";
import type { Logger } from "../log/mod.ts";
import { controlAccess } from "./auth.ts";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { readCluster } from "../db/assisted.ts";
import { UUID } from "../../contract/mod.ts";
import { checkExportRequest, exportStream } from "../export/mod.ts";

import type { PassScheduler } from "../collect/scheduler.ts";
import type { CollectorMetrics } from "./metrics.ts";
import { requestId } from "hono/request-id";
import { expectRequests } from "../event_loop.ts";

export { PassScheduler } from "../collect/scheduler.ts";
export { CollectorMetrics } from "./metrics.ts";

/** Bindings handed to `app.fetch` by the listener. */
export interface ServerEnv {
  /** The peer's IP address, from the socket. */
  peer?: string;
}

/** What the API needs. */
export interface ServerDeps {
  collector: Collector;
  scheduler: PassScheduler;
  sql: Sql;
  log: Logger;
  triggerToken?: string;
  metrics?: CollectorMetrics;
}

const MAX_BODY = 4096;

const triggerBody = z.object({
  cluster_id: z.string().regex(UUID, "must be a cluster id (a UUID)").optional(),
}, { error: "must be a JSON object" }).strict();

/** Runs database work, telling "the database is unavailable" (with its cause) from an answer. */
async function withDatabase<T>(
  work: () => Promise<T>,
): Promise<{ value: T } | { unavailable: string }> {
  try {
    return { value: await work() };
  } catch (err) {
    return { unavailable: `database unavailable: ${safeError(err)}` };
  }
}

/** Reads an optional JSON body: empty is fine, anything else must be JSON. */
async function optionalJson(request: Request): Promise<{ value?: unknown; error?: string }> {
  const text = await request.text();
  if (text.length > MAX_BODY) return { error: `body larger than ${MAX_BODY} bytes` };
  if (text.trim() === "") return {};
  try {
    return { value: JSON.parse(text) };
  } catch {
    return { error: "body is not valid JSON" };
  }
}

/** The `/v1/status` JSON of the collector's state. */
export function statusBody(status: CollectorStatus): Record<string, unknown> {
  const { pause, retry } = status;
  return {
    collection: status.enablement ?? null,
    runtime_opted_out: status.runtimeOptedOut,
    uploads_paused: pause
      ? { kind: pause.kind, until: new Date(pause.until).toISOString(), reason: pause.reason }
      : null,
    retry_policy: {
      initial_ms: retry.initialMs,
      max_ms: retry.maxMs,
      max_attempts: retry.maxAttempts,
      auth_pause_ms: retry.authPauseMs,
      concurrency: status.concurrency,
      per_minute: status.perMinute,
    },
    attempts: status.attempts,
    delivery: status.verification,
    exported: status.exported,
    recent: status.recent,
  };
}

/** Builds the hono app. */
export function createApp(deps: ServerDeps): Hono<{ Bindings: ServerEnv }> {
  const app = new Hono<{ Bindings: ServerEnv }>();
  const { collector, scheduler, log } = deps;

  app.onError((err, c) => {
    // Refusals thrown by middleware (bearerAuth) carry their own answer.
    if (err instanceof HTTPException) return err.getResponse();
    log.error("request failed", { path: c.req.path, error: safeError(err) });
    return c.json({ error: "internal error" }, 500);
  });
  app.notFound((c) => c.json({ error: "not found" }, 404));

  // A request id on every answer and every request's log line; a caller's own is kept.
  app.use(requestId());
  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    const health = c.req.path === "/healthz" || c.req.path === "/readyz" ||
      c.req.path === "/metrics";
    log[health ? "debug" : "info"]("request", {
      request_id: c.get("requestId"),
      method: c.req.method,
      path: c.req.routePath || c.req.path,
      status: c.res.status,
      ms: Math.round(performance.now() - started),
    });
  });

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    const database = await ping(deps.sql);
    const pause = collector.pause;
    const ready = database && !pause;
    return c.json(
      {
        ready,
        database,
        // Whether, not why: the pause's details are behind the token, on /v1/status.
        paused: pause !== undefined,
      },
      ready ? 200 : 503,
    );
  });
  app.get("/metrics", async (c) => {
    if (!deps.metrics) return c.text("metrics are off\n", 404);
    const { body, contentType } = await deps.metrics.render();
    return c.body(body, 200, { "content-type": contentType });
  });

  app.use("/v1/*", controlAccess({ token: deps.triggerToken }));
  // Bounded before anything reads it: no control request needs more than a few bytes.
  app.use(
    "/v1/*",
    bodyLimit({
      maxSize: MAX_BODY,
      onError: (c) => c.json({ error: `body larger than ${MAX_BODY} bytes` }, 413),
    }),
  );

  app.post("/v1/trigger", async (c) => {
    const body = await optionalJson(c.req.raw);
    if (body.error) return c.json({ error: body.error }, 400);
    const parsed = triggerBody.safeParse(body.value === undefined ? {} : body.value);
    if (!parsed.success) {
      const detail = parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`);
      return c.json({ error: `invalid trigger body: ${detail.join("; ")}` }, 400);
    }
    const clusterId = parsed.data.cluster_id;
    if (clusterId) {
      const known = await withDatabase(() => readCluster(deps.sql, clusterId));
      if ("unavailable" in known) return c.json({ error: known.unavailable }, 503);
      if (!known.value) return c.json({ error: `no cluster ${clusterId}` }, 404);
    }
    const { started, queued } = scheduler.request({
      clusters: clusterId ? [clusterId] : undefined,
    });
    log.info("pass triggered", { cluster_id: clusterId ?? null, started, queued });
    return c.json({ accepted: true, started, queued }, 202);
  });

  for (const [path, optedOut] of [["/v1/opt-out", true], ["/v1/opt-in", false]] as const) {
    app.post(path, async (c) => {
      const done = await withDatabase(() => collector.setOptOut(optedOut));
      if ("unavailable" in done) return c.json({ error: done.unavailable }, 503);
      const { state, error } = done.value;
      log.info(optedOut ? "opt-out requested" : "opt-in requested", { enabled: state?.enabled });
      if (error) return c.json({ runtime_opted_out: optedOut, error }, 409);
      return c.json({ runtime_opted_out: optedOut, collection: state }, 200);
    });
  }

  app.get("/v1/clusters/:id/preview", async (c) => {
    let preview;
    try {
      preview = await collector.preview(c.req.param("id"));
    } catch (err) {
      if (err instanceof TripwireError) return c.json({ error: err.message }, 409);
      return c.json({ error: `database unavailable: ${safeError(err)}` }, 503);
    }
    if (!preview) return c.json({ error: "no such cluster" }, 404);
    return c.body(await preview.archive.arrayBuffer(), 200, {
      "content-type": "application/gzip",
      "content-disposition": `attachment; filename="${preview.attempt.clusterId}.tgz"`,
      "x-bundle-id": preview.attempt.bundleId,
    });
  });

  app.get("/v1/export", async (c) => {
    const request = checkExportRequest({
      since: c.req.query("since"),
      cluster: c.req.query("cluster"),
    });
    if ("error" in request) return c.json({ error: request.error }, 400);
    // Fail before the first byte when the database is away, not in the middle of the tar.
    const reachable = await withDatabase(() => deps.sql`SELECT 1`);
    if ("unavailable" in reachable) return c.json({ error: reachable.unavailable }, 503);
    const fileName = `assisted-telemetry-export-${
      new Date().toISOString().replace(/[:.]/g, "-")
    }.tar`;
    log.info("export requested", {
      since: request.since ?? null,
      cluster_id: request.clusterId ?? null,
    });
    return c.body(exportStream(collector, { ...request, fileName }), 200, {
      "content-type": "application/x-tar",
      "content-disposition": `attachment; filename="${fileName}"`,
    });
  });

  app.get("/v1/status", async (c) => {
    let ledger: Record<string, unknown>;
    try {
      ledger = statusBody(await collector.status());
    } catch (err) {
      return c.json({ database: false, error: safeError(err), pass: scheduler.state }, 503);
    }
    return c.json({ database: true, ...ledger, pass: scheduler.state });
  });

  return app;
}

/** Serves `app` on `port`, passing the socket's peer address to handlers. */
export function serve(
  app: Hono<{ Bindings: ServerEnv }>,
  options: {
    port: number;
    hostname?: string;
    signal?: AbortSignal;
    onListen?: (port: number) => void;
  },
): Deno.HttpServer<Deno.NetAddr> {
  expectRequests();
  return Deno.serve({
    port: options.port,
    hostname: options.hostname ?? "0.0.0.0",
    signal: options.signal,
    onListen: ({ port }) => options.onListen?.(port),
  }, (request, info) => app.fetch(request, { peer: (info.remoteAddr as Deno.NetAddr).hostname }));
}
