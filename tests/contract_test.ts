/** The archive contract: the reader accepts our archives and refuses hostile ones with bounded memory. */
import assert from "node:assert/strict";
import { packTar } from "modern-tar";
import {
  ArchiveError,
  archiveMetadata,
  DEFAULT_LIMITS,
  joinBytes,
  memberJson,
  OUTPUT_KEYS,
  readArchive,
  readIngressUpload,
} from "../contract/mod.ts";
import { CLUSTER } from "../contract/policy.ts";
import { packArchive } from "../src/bundle/mod.ts";

const ID = "0b1f4a40-3c55-4c9b-9a4e-0c6c0c2b7d11";
const text = (s: string) => new TextEncoder().encode(s);

function stream(bytes: Uint8Array): ReadableStream<Uint8Array<ArrayBuffer>> {
  return new Blob([bytes as Uint8Array<ArrayBuffer>]).stream();
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(
    await new Response(stream(bytes).pipeThrough(new CompressionStream("gzip"))).arrayBuffer(),
  );
}

async function refusal(archive: Uint8Array, options = {}): Promise<ArchiveError> {
  try {
    await readArchive(stream(archive), options);
  } catch (err) {
    assert.ok(err instanceof ArchiveError, `not an ArchiveError: ${err}`);
    return err;
  }
  assert.fail("the archive was accepted");
}

Deno.test("contract: an archive of the layout is read member by member, metadata parsed", async () => {
  const archive = await packArchive([
    { name: `${ID}/events/cluster.json`, data: text(`{"id":"${ID}"}`) },
    { name: `${ID}/events.json`, data: text(`[{"cluster_id":"${ID}"}]`) },
    { name: `${ID}/metadata.json`, data: text(`{"bundle_id":"b","deployment-type":"Podman"}`) },
    { name: `${ID}/notes.txt`, data: text("not in the layout") },
  ]);
  const read = await readArchive(stream(archive));
  assert.equal(read.clusterId, ID);
  assert.deepEqual(memberJson(read, "cluster"), { id: ID });
  assert.equal(archiveMetadata(read)?.["deployment-type"], "Podman");
  assert.deepEqual(read.ignored, [`${ID}/notes.txt`]);
  assert.equal(read.files.hosts, undefined);
});

Deno.test("contract: output keys are the allow-list's keys", () => {
  assert.deepEqual(OUTPUT_KEYS.cluster, CLUSTER.fields.map((f) => f.key));
  assert.ok(!OUTPUT_KEYS.cluster.includes("pull_secret"));
  // What the API computes for a cluster belongs to the cluster alone.
  for (const key of ["monitored_operators", "network_shape", "total_host_count"]) {
    assert.ok(OUTPUT_KEYS.cluster.includes(key), key);
    assert.ok(!OUTPUT_KEYS.host.includes(key) && !OUTPUT_KEYS.infraEnv.includes(key), key);
  }
});

Deno.test("contract: a gzip bomb in one member is refused at the member cap", async () => {
  // 600 MiB of zeros would inflate from ~600 KB; here 8 MiB against a 1 MiB cap.
  const zeros = new Uint8Array(8 * 1024 * 1024);
  const archive = await packArchive([{ name: `${ID}/metadata.json`, data: zeros }]);
  assert.ok(archive.byteLength < 64 * 1024);
  const err = await refusal(archive, { limits: { memberBytes: 1024 * 1024 } });
  assert.equal(err.code, "member-too-large");
  assert.match(err.message, /metadata.json is larger than 1048576 bytes/);
});

Deno.test("contract: the whole archive is capped, spooled and skipped members included", async () => {
  const archive = await packArchive([
    { name: `${ID}/events.json`, data: new Uint8Array(3 * 1024 * 1024) },
  ]);
  const err = await refusal(archive, { limits: { totalBytes: 1024 * 1024 }, only: ["metadata"] });
  assert.equal(err.code, "too-large");
});

Deno.test("contract: paths outside one plain cluster folder are refused", async () => {
  for (
    const [name, code] of [
      ["../etc/passwd", "bad-path"],
      [`${ID}/../../x`, "bad-path"],
      ["metadata.json", "bad-path"],
      ["/abs/metadata.json", "bad-path"],
    ]
  ) {
    const err = await refusal(
      await gzip(await packTar([{ header: { name, size: 2 }, body: "{}" }])),
    );
    assert.equal(err.code, code, name);
  }
  const two = await packArchive([
    { name: `${ID}/events.json`, data: text("[]") },
    { name: `other/events.json`, data: text("[]") },
  ]);
  assert.equal((await refusal(two)).code, "many-clusters");
  const twice = await packArchive([
    { name: `${ID}/events.json`, data: text("[]") },
    { name: `${ID}/events.json`, data: text("[]") },
  ]);
  assert.equal((await refusal(twice)).code, "duplicate-member");
});

Deno.test("contract: links, non-gzip, non-tar, empty and bad metadata are refused with a reason", async () => {
  const link = await gzip(
    await packTar([{
      header: { name: `${ID}/metadata.json`, type: "symlink", linkname: "/etc/passwd", size: 0 },
    }]),
  );
  assert.equal((await refusal(link)).code, "not-a-file");
  assert.equal((await refusal(text("plain text"))).code, "not-tar-gz");
  assert.equal((await refusal(await gzip(text("x".repeat(2000))))).code, "not-tar-gz");
  assert.equal((await refusal(await gzip(new Uint8Array(1024)))).code, "empty");
  const many = await packArchive(
    Array.from({ length: DEFAULT_LIMITS.members + 1 }, (_, i) => ({
      name: `${ID}/x${i}`,
      data: text(""),
    })),
  );
  assert.equal((await refusal(many)).code, "too-many-members");
  const badMeta = await readArchive(
    stream(await packArchive([{ name: `${ID}/metadata.json`, data: text(`{"event_count":"x"}`) }])),
  );
  assert.throws(() => archiveMetadata(badMeta), /metadata.json: event_count/);
  const notJson = await readArchive(
    stream(await packArchive([{ name: `${ID}/metadata.json`, data: text(`{`) }])),
  );
  assert.throws(() => archiveMetadata(notJson), /metadata.json is not JSON/);
});

/** An upload request whose body arrives in pieces of the given sizes (the rest in one). */
function uploadInPieces(file: Uint8Array, sizes: number[]): Request {
  const boundary = "b-0123456789";
  const body = new Uint8Array([
    ...text(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.tgz"\r\n` +
        `Content-Type: application/vnd.redhat.assisted-installer.events+tar\r\n\r\n`,
    ),
    ...file,
    ...text(`\r\n--${boundary}--\r\n`),
  ]);
  const pieces: Uint8Array[] = [];
  let at = 0;
  for (const size of sizes) pieces.push(body.slice(at, at += size));
  pieces.push(body.slice(at));
  return new Request("http://x/", {
    method: "POST",
    headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
    body: ReadableStream.from(pieces),
  });
}

Deno.test("contract: an upload's archive is read whole however its body is split", async () => {
  const archive = await gzip(
    Uint8Array.from({ length: 200_000 }, (_, i) => (i * 2654435761) >>> 24),
  );
  // The file's first bytes (gzip's magic) split one by one, then pieces of every size.
  const header = 149;
  for (const sizes of [[header + 1, 1, 1, 7], [header, 1], [header + 2, 65_536, 3], []]) {
    const upload = await readIngressUpload(uploadInPieces(archive, sizes));
    assert.ok(upload.ok, `refused with pieces ${sizes}`);
    assert.equal(upload.archive.size, archive.byteLength);
    assert.deepEqual(joinBytes(upload.archive.chunks), archive);
  }
  // Not gzip, with its first bytes split alike: refused.
  const notGzip = archive.slice();
  notGzip[1] = 0x8c;
  const refused = await readIngressUpload(uploadInPieces(notGzip, [header + 1, 1]));
  assert.deepEqual(refused, { ok: false, status: 400, error: "file is not gzip-compressed" });
  // A file shorter than the magic: refused, not read past its end.
  const short = await readIngressUpload(uploadInPieces(archive.slice(0, 2), [header + 1]));
  assert.deepEqual(short, { ok: false, status: 400, error: "file is not gzip-compressed" });
});
