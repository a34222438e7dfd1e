/**
 * A local stand-in for Red Hat's ingress: it speaks the same contract
 * (202 with a request_id; 400, 401, 413, 415), keeps what it receives on disk
 * so it can be listed and opened, and drops a re-sent bundle by `bundle_id`.
 * Like ingress, it answers once the archive is stored and reads it after.
 * The demo and the tests upload to it; operators can too, to see what leaves.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requireBearer } from "../server/auth.ts";
import {
  type ArchiveChunks,
  ArchiveError,
  archiveMetadata,
  clusterFromUserAgent,
  INGRESS_MAX_BYTES,
  readArchive,
  readIngressUpload,
  type ReceivedUpload,
  REQUEST_ID,
  storedFiles,
  USER_AGENT_PREFIX,
} from "../../contract/mod.ts";

export { INGRESS_MAX_BYTES, type ReceivedUpload };

/** Options for {@linkcode createReceiver}. */
export interface ReceiverOptions {
  /** Where uploads are kept. Created if missing. */
  dir: string;
  /** If set, the only bearer token accepted; otherwise any non-empty one. */
  token?: string;
  maxBytes?: number;
}

/** The facts of an upload known when it arrives, before its archive is read. */
export interface Arrival {
  userAgent: string;
}

/** The record of an upload not yet indexed (its bundle_id unknown). */
function newRecord(
  requestId: string,
  upload: { bytes: number; userAgent: string; receivedAt: Date },
): ReceivedUpload {
  return {
    request_id: requestId,
    received_at: upload.receivedAt.toISOString(),
    cluster_id: clusterFromUserAgent(upload.userAgent),
    bundle_id: null,
    bytes: upload.bytes,
    user_agent: upload.userAgent,
    duplicates: 0,
  };
}

/**
 * The receiver's state on disk: `<request_id>.tgz` and `<request_id>.json`.
 * As ingress does, an upload is answered once its archive is stored; reading
 * the archive for its `bundle_id` (and dropping a re-sent bundle) happens
 * after, one upload at a time, so the sender never waits for it.
 */
export class ReceiverStore {
  readonly dir: string;
  readonly #byBundle = new Map<string, ReceivedUpload>();
  #indexing: Promise<void> = Promise.resolve();

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Creates the directory, indexes what is there, and finishes archives left unindexed. */
  async open(): Promise<void> {
    await Deno.mkdir(this.dir, { recursive: true });
    const records = new Set<string>();
    for (const upload of await this.#records()) {
      records.add(upload.request_id);
      if (upload.bundle_id && !upload.reason) this.#byBundle.set(upload.bundle_id, upload);
    }
    for await (const entry of Deno.readDir(this.dir)) {
      const id = entry.name.replace(/\.tgz$/, "");
      if (!entry.isFile || id === entry.name || !REQUEST_ID.test(id) || records.has(id)) continue;
      const stat = await Deno.stat(`${this.dir}/${entry.name}`);
      this.#enqueue(
        newRecord(id, { bytes: stat.size, userAgent: "", receivedAt: stat.mtime ?? new Date() }),
      );
    }
  }

  async #records(): Promise<ReceivedUpload[]> {
    const out: ReceivedUpload[] = [];
    for await (const entry of Deno.readDir(this.dir)) {
      if (!entry.isFile || !entry.name.endsWith(".json")) continue;
      try {
        out.push(JSON.parse(await Deno.readTextFile(`${this.dir}/${entry.name}`)));
      } catch {
        // a half-written record is not an upload
      }
    }
    return out.sort((a, b) => a.received_at.localeCompare(b.received_at));
  }

  /** Every upload kept, oldest first, once the ones received so far are indexed. */
  async list(): Promise<ReceivedUpload[]> {
    await this.settled();
    return (await this.#records()).filter((r) => r.status !== "error" && !r.reason);
  }

  /**
   * What became of one upload, as ingress's tracker answers: `received`
   * while stored but not yet read, then `success` or `error`; undefined
   * when the id is unknown.
   */
  async track(requestId: string): Promise<
    { status: string; status_msg: string; date: string } | undefined
  > {
    if (!REQUEST_ID.test(requestId)) return undefined;
    try {
      const record: ReceivedUpload = JSON.parse(
        await Deno.readTextFile(`${this.dir}/${storedFiles(requestId).record}`),
      );
      return {
        status: record.status ?? "success",
        status_msg: record.reason ?? "payload read and kept",
        date: record.received_at,
      };
    } catch {
      // no record yet: stored and waiting to be read, or never received
    }
    try {
      const stat = await Deno.stat(`${this.dir}/${storedFiles(requestId).archive}`);
      return {
        status: "received",
        status_msg: "payload stored, not yet read",
        date: (stat.mtime ?? new Date()).toISOString(),
      };
    } catch {
      return undefined;
    }
  }

  /** Resolves when every upload received so far has been indexed. */
  async settled(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.#indexing;
      await seen;
    } while (seen !== this.#indexing);
  }

  /** The archive of one upload, or undefined. */
  async archive(requestId: string): Promise<Uint8Array | undefined> {
    if (!REQUEST_ID.test(requestId)) return undefined;
    await this.settled();
    try {
      return await Deno.readFile(`${this.dir}/${storedFiles(requestId).archive}`);
    } catch {
      return undefined;
    }
  }

  async #writeRecord(record: ReceivedUpload): Promise<void> {
    const tmp = `${this.dir}/${record.request_id}.json.tmp`;
    await Deno.writeTextFile(tmp, JSON.stringify(record, null, 2));
    await Deno.rename(tmp, `${this.dir}/${storedFiles(record.request_id).record}`);
  }

  /** Stores an archive and queues it for indexing; returns its request id. */
  async accept({ chunks, size }: ArchiveChunks, arrival: Arrival): Promise<string> {
    const record = newRecord(crypto.randomUUID(), {
      bytes: size,
      userAgent: arrival.userAgent,
      receivedAt: new Date(),
    });
    const path = `${this.dir}/${storedFiles(record.request_id).archive}`;
    try {
      using file = await Deno.open(path, { write: true, createNew: true });
      for (const chunk of chunks) {
        for (let at = 0; at < chunk.byteLength;) at += await file.write(chunk.subarray(at));
      }
    } catch (err) {
      // Not accepted (the sender tries again): no part of it stays behind.
      await Deno.remove(path).catch(() => {});
      throw err;
    }
    this.#enqueue(record);
    return record.request_id;
  }

  #enqueue(record: ReceivedUpload): void {
    this.#indexing = this.#indexing.then(() => this.#index(record)).catch((err) => {
      console.error(`receiver: indexing ${record.request_id} failed: ${err?.message ?? err}`);
    });
  }

  /** Keeps the upload, or drops it as unreadable or as a re-sent bundle. */
  async #index(record: ReceivedUpload): Promise<void> {
    const path = `${this.dir}/${storedFiles(record.request_id).archive}`;
    let bundleId: string | null;
    try {
      bundleId = await bundleIdOf(path);
    } catch (err) {
      if (!(err instanceof ArchiveError)) throw err;
      console.error(`receiver: ${record.request_id} refused (${err.message}); dropped`);
      await Deno.remove(path);
      await this.#writeRecord({ ...record, status: "error", reason: err.message });
      return;
    }
    const earlier = bundleId ? this.#byBundle.get(bundleId) : undefined;
    if (earlier) {
      await Deno.remove(path);
      earlier.duplicates++;
      await this.#writeRecord(earlier);
      await this.#writeRecord({
        ...record,
        bundle_id: bundleId,
        status: "success",
        reason: `duplicate of ${earlier.request_id}; dropped`,
      });
      return;
    }
    record.bundle_id = bundleId;
    record.status = "success";
    await this.#writeRecord(record);
    if (bundleId) this.#byBundle.set(bundleId, record);
  }
}

/**
 * The archive's `metadata.json` bundle_id: null without one; an ArchiveError
 * when the file is not an archive of the contract. Streams, holding only
 * metadata.json (capped) in memory.
 */
async function bundleIdOf(path: string): Promise<string | null> {
  const file = await Deno.open(path);
  const read = await readArchive(file.readable, {
    only: ["metadata"],
    limits: { memberBytes: 1024 * 1024 },
  });
  return archiveMetadata(read)?.bundle_id ?? null;
}

/** Builds the receiver's hono app over an opened store. */
export function createReceiver(
  store: ReceiverStore,
  options: Omit<ReceiverOptions, "dir"> = {},
): Hono {
  const app = new Hono();
  const maxBytes = options.maxBytes ?? INGRESS_MAX_BYTES;
  const tooLarge = { error: `payload larger than ${maxBytes} bytes` };

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  // With RECEIVER_TOKEN, only that token; without, any token (as ingress, whose
  // gateway checks it); the listing and downloads need RECEIVER_TOKEN when set.
  const upload = requireBearer(
    options.token !== undefined ? { token: options.token } : { verify: () => true },
  );
  if (options.token !== undefined) app.use("/uploads", requireBearer({ token: options.token }));
  if (options.token !== undefined) app.use("/uploads/*", requireBearer({ token: options.token }));

  app.post(
    "/api/ingress/v1/upload",
    upload,
    async (c, next) => {
      if (!(c.req.header("user-agent") ?? "").startsWith(USER_AGENT_PREFIX)) {
        return c.json({
          error: "unrecognised client: pull-secret auth needs the operator User-Agent",
        }, 401);
      }
      await next();
    },
    // Multipart framing adds a little to the file itself.
    bodyLimit({ maxSize: maxBytes + 64 * 1024, onError: (c) => c.json(tooLarge, 413) }),
    async (c) => {
      const upload = await readIngressUpload(c.req.raw, { maxBytes });
      if (!upload.ok) return c.json({ error: upload.error }, upload.status);
      const requestId = await store.accept(upload.archive, {
        userAgent: c.req.header("user-agent") ?? "",
      });
      c.header("x-rh-insights-request-id", requestId);
      return c.json({ request_id: requestId, upload: { account_number: "", org_id: "" } }, 202);
    },
  );

  app.get("/api/ingress/v1/track/:id", upload, async (c) => {
    const id = c.req.param("id");
    if (!REQUEST_ID.test(id)) return c.json({ error: "request id is not a UUID" }, 400);
    const tracked = await store.track(id);
    if (!tracked) return c.json({ error: "unknown request id" }, 404);
    return c.json({ ...tracked, service: "assisted-installer", inventory_id: null });
  });

  app.get("/uploads", async (c) => c.json(await store.list()));
  app.get("/uploads/:id", async (c) => {
    const archive = await store.archive(c.req.param("id"));
    if (!archive) return c.json({ error: "no such upload" }, 404);
    return c.body(archive as Uint8Array<ArrayBuffer>, 200, { "content-type": "application/gzip" });
  });
  return app;
}
