/**
 * `OBFUSCATE=networking`, as insights-operator offers it: hostnames, the base
 * domain, IP addresses, MAC addresses and serial numbers become pseudonyms
 * that are stable within one archive, so the analysis can still count
 * distinct hosts and networks without learning any of them.
 */

const MAC = /(?<![0-9A-Fa-f:-])(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}(?![0-9A-Fa-f:-])/g;
const IPV4 =
  /(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\w.])/g;
const H = "[0-9A-Fa-f]{1,4}";
const IPV6 = new RegExp(
  `(?<![\\w:])(?:(?:${H}:){7}${H}|(?:${H}:){1,7}:(?:${H}(?::${H}){0,6})?|::(?:${H}(?::${H}){0,6}))(?![\\w:])`,
  "g",
);

/** Kinds of network identifier, each with its own numbering. */
type Kind = "host" | "domain" | "ipv4" | "ipv6" | "mac" | "serial";

/** Pseudonymises network identifiers consistently for one archive. */
export class NetworkObfuscator {
  readonly #maps: Record<Kind, Map<string, string>> = {
    host: new Map(),
    domain: new Map(),
    ipv4: new Map(),
    ipv6: new Map(),
    mac: new Map(),
    serial: new Map(),
  };
  /** Known names (hostnames, domains, serials) longest first, so a domain never splits a hostname. */
  #known: Array<[string, Kind]> = [];

  #pseudonym(kind: Kind, value: string): string {
    const key = kind === "ipv4" || kind === "serial" ? value : value.toLowerCase();
    const map = this.#maps[kind];
    let out = map.get(key);
    if (!out) {
      const n = map.size + 1;
      out = kind === "domain" ? `domain-${n}.obfuscated` : `${kind}-${n}`;
      map.set(key, out);
    }
    return out;
  }

  /** Registers names learnt from the rows, so free text loses them too. */
  learn(kind: "host" | "domain" | "serial", value: unknown): void {
    if (typeof value !== "string" || value.trim().length < 3) return;
    const v = value.trim();
    if (this.#known.some(([known]) => known === v)) return;
    this.#known.push([v, kind]);
    this.#known.sort((a, b) => b[0].length - a[0].length);
  }

  /** Obfuscates a value or a piece of free text. */
  text(value: string): string {
    let out = value;
    for (const [known, kind] of this.#known) {
      if (out.toLowerCase().includes(known.toLowerCase())) {
        out = out.replace(
          new RegExp(known.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "gi"),
          () => this.#pseudonym(kind, known),
        );
      }
    }
    return out
      .replace(MAC, (m) => this.#pseudonym("mac", m.replaceAll("-", ":")))
      .replace(IPV4, (m) => this.#pseudonym("ipv4", m))
      .replace(IPV6, (m) => this.#pseudonym("ipv6", m));
  }
}
