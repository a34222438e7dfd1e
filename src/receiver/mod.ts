/**
 * A local stand-in for Red Hat's ingress: it speaks the same contract
 * (202 with a request_id; 400, 401, 413, 415), keeps what it receives on disk
 * so it can be listed and opened, and drops a re-sent bundle by `bundle_id`.
 * The demo and the tests upload to it; operators can too, to see what leaves.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { unpackArchive } from "../bundle/mod.ts";

/** Ingress refuses uploads over 100 MiB. */
export const INGRESS_MAX_BYTES = 100 * 1024 * 1024;

/** What the receiver records of one accepted upload. */
export interface ReceivedUpload {
  request_id: string;
  received_at: string;
  cluster_id: string | null;
  bundle_id: string | null;
  bytes: number;
  user_agent: string;
  /** How many more times the same bundle arrived. */
  duplicates: number;
}

/** Options for {@linkcode createReceiver}. */
export interface ReceiverOptions {
  /** Where uploads are kept. Created if missing. */
  dir: string;
  /** If set, the only bearer token accepted; otherwise any non-empty one. */
  token?: string;
  maxBytes?: number;
}

const CONTENT_TYPE = /^application\/vnd\.redhat\.([a-z0-9-]+)\.([a-z0-9-]+)(\+[a-z0-9]+)?$/i;
const ID = /^[0-9a-f-]{36}$/;

/** The receiver's state on disk: `<request_id>.tgz` and `<request_id>.json`. */
export class ReceiverStore {
  readonly dir: string;
  readonly #byBundle = new Map<string, ReceivedUpload>();

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Creates the directory and indexes what is already there. */
  async open(): Promise<void> {
    await Deno.mkdir(this.dir, { recursive: true });
    for (const upload of await this.list()) {
      if (upload.bundle_id) this.#byBundle.set(upload.bundle_id, upload);
    }
  }

  /** Every accepted upload, oldest first. */
  async list(): Promise<ReceivedUpload[]> {
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

  /** The archive of one upload, or undefined. */
  async archive(requestId: string): Promise<Uint8Array | undefined> {
    if (!ID.test(requestId)) return undefined;
    try {
      return await Deno.readFile(`${this.dir}/${requestId}.tgz`);
    } catch {
      return undefined;
    }
  }

  /** The earlier upload of the same bundle, if any. */
  byBundle(bundleId: string): ReceivedUpload | undefined {
    return this.#byBundle.get(bundleId);
  }

  async #writeRecord(record: ReceivedUpload): Promise<void> {
    const tmp = `${this.dir}/${record.request_id}.json.tmp`;
    await Deno.writeTextFile(tmp, JSON.stringify(record, null, 2));
    await Deno.rename(tmp, `${this.dir}/${record.request_id}.json`);
  }

  /** Keeps a new upload: the archive first, then its record. */
  async save(record: ReceivedUpload, archive: Uint8Array): Promise<void> {
    await Deno.writeFile(`${this.dir}/${record.request_id}.tgz`, archive);
    await this.#writeRecord(record);
    if (record.bundle_id) this.#byBundle.set(record.bundle_id, record);
  }

  /** Counts a duplicate against the first upload of its bundle. */
  async countDuplicate(record: ReceivedUpload): Promise<void> {
    record.duplicates++;
    await this.#writeRecord(record);
  }
}

async function bundleIdOf(archive: Uint8Array): Promise<string | null | undefined> {
  try {
    const files = await unpackArchive(archive);
    const meta = files.find((f) => f.name.endsWith("/metadata.json"));
    if (!meta) return null;
    const parsed = JSON.parse(new TextDecoder().decode(meta.data));
    return typeof parsed?.bundle_id === "string" ? parsed.bundle_id : null;
  } catch {
    return undefined;
  }
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

  app.post(
    "/api/ingress/v1/upload",
    async (c, next) => {
      const auth = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("authorization") ?? "");
      if (!auth || (options.token !== undefined && auth[1] !== options.token)) {
        return c.json({ error: "missing or invalid bearer token" }, 401);
      }
      if (!(c.req.header("user-agent") ?? "").startsWith("assisted-installer-operator/")) {
        return c.json({
          error: "unrecognised client: pull-secret auth needs the operator User-Agent",
        }, 401);
      }
      await next();
    },
    // Multipart framing adds a little to the file itself.
    bodyLimit({ maxSize: maxBytes + 64 * 1024, onError: (c) => c.json(tooLarge, 413) }),
    async (c) => {
      let form: FormData;
      try {
        form = await c.req.raw.formData();
      } catch {
        return c.json({ error: "body is not multipart/form-data" }, 400);
      }
      const file = form.get("file");
      if (!(file instanceof File)) return c.json({ error: "no file part named 'file'" }, 400);
      const type = CONTENT_TYPE.exec(file.type);
      if (!type || type[1] !== "assisted-installer") {
        return c.json({ error: `unsupported content type '${file.type.slice(0, 100)}'` }, 415);
      }
      if (file.size > maxBytes) return c.json(tooLarge, 413);
      const archive = new Uint8Array(await file.arrayBuffer());
      const bundleId = await bundleIdOf(archive);
      if (bundleId === undefined) return c.json({ error: "file is not a tar.gz archive" }, 400);
      const earlier = bundleId ? store.byBundle(bundleId) : undefined;
      if (earlier) {
        await store.countDuplicate(earlier);
        c.header("x-rh-insights-request-id", earlier.request_id);
        return c.json({ request_id: earlier.request_id, upload: { duplicate: true } }, 202);
      }
      const userAgent = c.req.header("user-agent") ?? "";
      const record: ReceivedUpload = {
        request_id: crypto.randomUUID(),
        received_at: new Date().toISOString(),
        cluster_id: /cluster\/(\S+)/.exec(userAgent)?.[1] ?? null,
        bundle_id: bundleId,
        bytes: archive.byteLength,
        user_agent: userAgent,
        duplicates: 0,
      };
      await store.save(record, archive);
      c.header("x-rh-insights-request-id", record.request_id);
      return c.json(
        { request_id: record.request_id, upload: { account_number: "", org_id: "" } },
        202,
      );
    },
  );

  app.get("/uploads", async (c) => c.json(await store.list()));
  app.get("/uploads/:id", async (c) => {
    const archive = await store.archive(c.req.param("id"));
    if (!archive) return c.json({ error: "no such upload" }, 404);
    return c.body(archive as Uint8Array<ArrayBuffer>, 200, { "content-type": "application/gzip" });
  });
  return app;
}
