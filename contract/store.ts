import { UUID } from "./archive.ts";

/**
 * The local receiver's store on disk, which the analysis program can import:
 * `<request_id>.tgz` (the archive as received) beside `<request_id>.json`
 * (this record).
 */

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
  /**
   * What became of it, as ingress's tracker says: `success` once read and
   * kept, `error` (with `reason`) when refused; absent while not yet read.
   * A re-sent bundle is `success`, naming the upload it repeats.
   */
  status?: "success" | "error";
  reason?: string;
}

/** Request ids are lower-case UUIDs; nothing else names a stored file. */
export const REQUEST_ID = new RegExp(UUID.source.replaceAll("A-F", ""));

/** The two files of one stored upload, relative to the store's folder. */
export function storedFiles(requestId: string): { archive: string; record: string } {
  return { archive: `${requestId}.tgz`, record: `${requestId}.json` };
}

/** The cluster id a User-Agent names (`… cluster/<id>`), if any. */
export function clusterFromUserAgent(userAgent: string): string | null {
  return /cluster\/(\S+)/.exec(userAgent)?.[1] ?? null;
}
