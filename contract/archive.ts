/**
 * The archive both programs agree on: its layout, its `metadata.json`, the
 * keys each file may carry, and a reader that holds bounded memory whatever
 * arrives (gzip bombs, huge or unknown members, path tricks).
 */
import { createGunzip } from "node:zlib";
import { createTarDecoder } from "modern-tar";
import { z } from "zod";
import { CLUSTER, EVENT, HOST, INFRA_ENV } from "./policy.ts";

/** The files of an archive, relative to its `<cluster id>/` folder. */
export const ARCHIVE_LAYOUT = {
  cluster: CLUSTER.file,
  hosts: HOST.file,
  infraEnv: INFRA_ENV.file,
  events: "events.json",
  versions: "versions.json",
  metadata: "metadata.json",
} as const;

/** One file of the layout. */
export type ArchiveMember = keyof typeof ARCHIVE_LAYOUT;

/** The part content type ingress expects (upstream says `+tar` of a gzip). */
export const ARCHIVE_CONTENT_TYPE = "application/vnd.redhat.assisted-installer.events+tar";

/** The User-Agent prefix that selects pull-secret authentication at the gateway. */
export const USER_AGENT_PREFIX = "assisted-installer-operator/";

/** Ingress refuses uploads over 100 MiB. */
export const INGRESS_MAX_BYTES = 100 * 1024 * 1024;

/** Every key each file may carry: what the allow-list lets leave, and nothing else. */
export const OUTPUT_KEYS: Readonly<Record<"cluster" | "host" | "infraEnv" | "event", string[]>> = {
  cluster: CLUSTER.fields.map((f) => f.key),
  host: HOST.fields.map((f) => f.key),
  infraEnv: INFRA_ENV.fields.map((f) => f.key),
  event: EVENT.fields.map((f) => f.key),
};

/**
 * `metadata.json`. Upstream writes seven strings (the four component versions,
 * `deployment-type`, `deployment-version`, `git-ref`); before 2024 it wrote
 * none. This collector adds the attempt and how it was cut.
 */
export const metadataSchema = z.looseObject({
  "deployment-type": z.string().optional(),
  "deployment-version": z.string().optional(),
  "git-ref": z.string().optional(),
  bundle_id: z.string().optional(),
  cluster_id: z.string().optional(),
  attempt_status: z.string().optional(),
  attempt_ended_at: z.string().optional(),
  collector: z.string().optional(),
  collector_version: z.string().optional(),
  event_count: z.number().int().nonnegative().optional(),
  host_count: z.number().int().nonnegative().optional(),
  reduction: z.looseObject({}).optional(),
});

/** A parsed `metadata.json`. */
export type ArchiveMetadata = z.infer<typeof metadataSchema>;

/** A UUID as assisted-service and ingress write them (cluster, host and request ids). */
export const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Cluster ids become paths, so anything but a plain id is refused. */
export function isSafeClusterId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(id) && !id.includes("..");
}

/** What a reader holds at most. */
export interface ArchiveLimits {
  /** Uncompressed bytes of any member kept in memory. */
  memberBytes: number;
  /** Uncompressed bytes of the whole archive, spooled members included. */
  totalBytes: number;
  /** Tar entries. */
  members: number;
}

/** Generous for real archives (150 hosts' inventories are a few MB), small for a bomb. */
export const DEFAULT_LIMITS: ArchiveLimits = {
  memberBytes: 64 * 1024 * 1024,
  totalBytes: 4 * 1024 * 1024 * 1024,
  members: 32,
};

/** Why an archive was refused; `code` is stable, `message` says what was wrong. */
export class ArchiveError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = "ArchiveError";
    this.code = code;
  }
}

/** An archive read: the cluster folder and each member found. */
export interface ReadArchive {
  clusterId: string;
  /** Members kept in memory, by layout name. */
  files: Partial<Record<ArchiveMember, Uint8Array>>;
  /** Members written to disk instead (see `spool`), by layout name: their paths. */
  spooled: Partial<Record<ArchiveMember, string>>;
  /** Members outside the layout, skipped unread. */
  ignored: string[];
}

/** Options for {@linkcode readArchive}. */
export interface ReadOptions {
  limits?: Partial<ArchiveLimits>;
  /** Members to write to a file in this folder rather than hold (e.g. `events`). */
  spool?: {
    dir: string;
    members: ArchiveMember[];
    /** Writes a member to its path its own way (`size`: the tar header's); default a plain file. */
    to?: (path: string, size: number) => Promise<WritableStream<Uint8Array>>;
  };
  /** Members to read; others are skipped (still counted against the total). Default: all. */
  only?: ArchiveMember[];
}

const BY_PATH = new Map(
  Object.entries(ARCHIVE_LAYOUT).map(([k, v]) => [v, k as ArchiveMember]),
);

/**
 * Reads a tar.gz archive of the layout. Refuses (ArchiveError) what is not a
 * gzip of a tar, entries that are not regular files under one plain cluster
 * folder, a member twice, and anything over the limits, without holding more
 * than `memberBytes` of any member.
 */
export async function readArchive(
  source: ReadableStream<Uint8Array<ArrayBuffer>>,
  options: ReadOptions = {},
): Promise<ReadArchive> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const out: ReadArchive = { clusterId: "", files: {}, spooled: {}, ignored: [] };
  const counted = countBytes(limits.totalBytes);
  let entries;
  try {
    entries = gunzip(source).pipeThrough(counted.stream)
      .pipeThrough(createTarDecoder({ strict: true }));
  } catch (err) {
    throw new ArchiveError("not-gzip", `not a gzip stream: ${message(err)}`);
  }
  let count = 0;
  try {
    for await (const entry of entries) {
      const name = entry.header.name;
      if (++count > limits.members) {
        await entry.body.cancel();
        throw new ArchiveError("too-many-members", `more than ${limits.members} entries`);
      }
      if (entry.header.type === "directory") {
        await entry.body.cancel();
        continue;
      }
      if (entry.header.type !== "file") {
        await entry.body.cancel();
        throw new ArchiveError(
          "not-a-file",
          `entry '${printable(name)}' is a ${entry.header.type}, not a file`,
        );
      }
      const slash = name.indexOf("/");
      const clusterId = slash > 0 ? name.slice(0, slash) : "";
      if (!isSafeClusterId(clusterId) || name.split("/").some((p) => p === ".." || p === "")) {
        await entry.body.cancel();
        throw new ArchiveError("bad-path", `entry '${printable(name)}' is not under a cluster id`);
      }
      if (out.clusterId && out.clusterId !== clusterId) {
        await entry.body.cancel();
        throw new ArchiveError("many-clusters", "entries of more than one cluster");
      }
      out.clusterId = clusterId;
      const member = BY_PATH.get(name.slice(slash + 1));
      if (!member || (options.only && !options.only.includes(member))) {
        if (!member) out.ignored.push(printable(name));
        await drain(entry.body);
        continue;
      }
      if (out.files[member] || out.spooled[member]) {
        await entry.body.cancel();
        throw new ArchiveError("duplicate-member", `${ARCHIVE_LAYOUT[member]} appears twice`);
      }
      if (options.spool?.members.includes(member)) {
        const path = `${options.spool.dir}/${member}.json`;
        const sink = options.spool.to
          ? await options.spool.to(path, entry.header.size)
          : (await Deno.create(path)).writable;
        await entry.body.pipeTo(sink);
        out.spooled[member] = path;
      } else {
        out.files[member] = await readCapped(
          entry.body,
          limits.memberBytes,
          ARCHIVE_LAYOUT[member],
        );
      }
    }
  } catch (err) {
    if (err instanceof ArchiveError) throw err;
    if (counted.over) {
      throw new ArchiveError("too-large", `more than ${limits.totalBytes} bytes uncompressed`);
    }
    throw new ArchiveError("not-tar-gz", `not a readable tar.gz: ${message(err)}`);
  }
  if (count === 0 || !out.clusterId) throw new ArchiveError("empty", "the archive holds no files");
  return out;
}

/**
 * Inflates a gzip stream with node's zlib in 1 MiB pieces: it spools a
 * 300 MB member in about 0.85 s, the web DecompressionStream in 1.3 s
 * (measured; ingest time is a budget of the analysis service). Pulled
 * like any web stream: the inflater pauses while the reader is behind, and
 * cancelling stops it and the source.
 */
function gunzip(source: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const inflater = createGunzip({ chunkSize: 1024 * 1024 });
  const input = source.getReader();
  let done = false;
  let writable = () => {};
  const finish = (end: () => void) => {
    if (done) return;
    done = true;
    end();
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      inflater.on("data", (chunk: Uint8Array) => {
        if (done) return;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 0) <= 0) inflater.pause();
      });
      inflater.on("end", () => finish(() => controller.close()));
      // The writer waits for room; an error or cancel closes the inflater and wakes it too.
      inflater.on("drain", () => writable());
      inflater.on("close", () => writable());
      inflater.on("error", (err) => {
        finish(() => controller.error(err));
        input.cancel(err).catch(() => {});
      });
      (async () => {
        for (let r = await input.read(); !r.done; r = await input.read()) {
          if (done) return;
          if (!inflater.write(r.value)) await new Promise<void>((wake) => (writable = wake));
        }
        inflater.end();
      })().catch((err) => {
        finish(() => controller.error(err));
        inflater.destroy();
      });
    },
    pull() {
      inflater.resume();
    },
    cancel(reason) {
      done = true;
      inflater.destroy();
      return input.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 2 });
}

/** Parses one member as JSON, naming it when it is not. */
export function memberJson(read: ReadArchive, member: ArchiveMember): unknown {
  const data = read.files[member];
  if (!data) return undefined;
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data));
  } catch (err) {
    throw new ArchiveError("bad-json", `${ARCHIVE_LAYOUT[member]} is not JSON: ${message(err)}`);
  }
}

/** The archive's metadata, when it has one (upstream before 2024 did not). */
export function archiveMetadata(read: ReadArchive): ArchiveMetadata | undefined {
  const raw = memberJson(read, "metadata");
  if (raw === undefined) return undefined;
  const parsed = metadataSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ArchiveError(
      "bad-metadata",
      `metadata.json: ${issue?.path.join(".") || "value"} ${issue?.message ?? "is invalid"}`,
    );
  }
  return parsed.data;
}

function countBytes(
  max: number,
): { stream: TransformStream<Uint8Array, Uint8Array>; over: boolean } {
  const state = { over: false, stream: undefined as unknown as TransformStream };
  let total = 0;
  state.stream = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      total += chunk.byteLength;
      if (total > max) {
        state.over = true;
        controller.error(new ArchiveError("too-large", `more than ${max} bytes uncompressed`));
        return;
      }
      controller.enqueue(chunk);
    },
  });
  return state;
}

async function readCapped(
  body: ReadableStream<Uint8Array>,
  max: number,
  name: string,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > max) {
      await body.cancel().catch(() => {});
      throw new ArchiveError("member-too-large", `${name} is larger than ${max} bytes`);
    }
    parts.push(chunk);
  }
  return joinBytes(parts, size);
}

/** `chunks` joined into one new buffer; `size`, when known, is their total length. */
export function joinBytes(
  chunks: readonly Uint8Array[],
  size = chunks.reduce((n, c) => n + c.byteLength, 0),
): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

async function drain(body: ReadableStream<Uint8Array>): Promise<void> {
  for await (const _ of body) { /* counted by the total */ }
}

function printable(name: string): string {
  return name.replace(/[^\x20-\x7e]/g, "?").slice(0, 200);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
