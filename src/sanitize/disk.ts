/**
 * Disk names. A plain device path (`/dev/sda`, `/dev/nvme0n1`) names no
 * particular disk; a by-id, by-path or WWN name carries the disk's serial
 * number, which never leaves raw.
 */

const PLAIN_DISK =
  /^\/dev\/(?:sd[a-z]{1,2}|vd[a-z]{1,2}|xvd[a-z]{1,2}|hd[a-z]|nvme\d+n\d+|mmcblk\d+|dm-\d+|md\d+|loop\d+|sr\d+)$/;

/** Marker left where a disk's identifying name was. */
export const DISK_ID = "[disk id]";

/** Whether a disk name is a plain device path that identifies no particular disk. */
export function isPlainDisk(name: string): boolean {
  return PLAIN_DISK.test(name);
}

/** A disk name as it may leave: a plain device path, or the marker. */
export function diskName(name: string): string {
  return isPlainDisk(name) ? name : DISK_ID;
}

/**
 * `disks_info` (a JSON object keyed by disk name): plain device paths keep
 * their key, every other key becomes `disk-<n>` in order; the values' own
 * `path`/`id` fields are treated the same way. Returns the reshaped object.
 */
export function reshapeDisksInfo(value: unknown): unknown {
  if (!value || typeof value !== "object" || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  let n = 0;
  for (const [key, info] of Object.entries(value as Record<string, unknown>)) {
    const shaped = info && typeof info === "object" && !Array.isArray(info)
      ? Object.fromEntries(
        Object.entries(info as Record<string, unknown>).map((
          [k, v],
        ) => [
          k,
          ["path", "id", "by_id", "by_path", "wwn", "serial"].includes(k) && typeof v === "string"
            ? diskName(v)
            : v,
        ]),
      )
      : info;
    out[isPlainDisk(key) ? key : `disk-${n++}`] = shaped;
  }
  return out;
}
