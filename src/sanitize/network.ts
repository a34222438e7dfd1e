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

/** IPv4 with zero-padded octets (`010.001.002.003`), which the strict pattern leaves alone. */
const IPV4_PADDED = /(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])/g;
/** Dotted (`aabb.ccdd.eeff`) and bare (`aabbccddeeff`) MAC addresses. */
const MAC_DOTTED =
  /(?<![0-9A-Fa-f.])[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}(?![0-9A-Fa-f.])/g;
const MAC_BARE = /(?<![0-9A-Za-z:-])[0-9A-Fa-f]{12}(?![0-9A-Za-z:-])/g;
/** World wide names of disks (serials by another name). */
const WWN = /\b(?:wwn-)?0x[0-9A-Fa-f]{16}(?:[0-9A-Fa-f]{16})?\b/g;
/** A fully qualified name: two labels or more and a letters-only top level. */
const FQDN =
  /(?<![\w.@-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w.-])/g;
/** Names that identify no customer: Red Hat's public services, and file names. */
const PUBLIC_NAME =
  /^(?:(?:[\w-]+\.)*(?:redhat\.(?:com|io)|openshift\.(?:com|org)|quay\.io|docker\.io|gcr\.io|k8s\.io|ghcr\.io)|[\w.-]+\.(?:ya?ml|json|iso|ign|log|txt|sh|conf|tgz|gz|tar|xz|img|raw|go))$/i;

/** Kinds of network identifier, each with its own numbering. */
type Kind = "host" | "domain" | "ipv4" | "ipv6" | "mac" | "serial";

/** A MAC in any spelling, as `aa:bb:cc:dd:ee:ff`, so each spelling gets one pseudonym. */
function macOf(text: string): string {
  const hex = text.replace(/[^0-9A-Fa-f]/g, "").toLowerCase();
  return hex.match(/../g)!.join(":");
}

/** A zero-padded IPv4 written plainly, or undefined when it is not an address. */
function paddedIpv4(text: string): string | undefined {
  const parts = text.split(".").map(Number);
  return parts.every((p) => p <= 255) ? parts.join(".") : undefined;
}

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
    // A host's short name (`master-0` of `master-0.lab.example.com`) names it too.
    if (kind === "host" && v.includes(".") && !/^[\d.]+$/.test(v)) {
      this.learn("host", v.split(".")[0]);
    }
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
      .replace(MAC_DOTTED, (m) => this.#pseudonym("mac", macOf(m)))
      .replace(WWN, (m) => this.#pseudonym("serial", m.replace(/^wwn-/i, "").toLowerCase()))
      .replace(MAC_BARE, (m) => this.#pseudonym("mac", macOf(m)))
      .replace(IPV4, (m) => this.#pseudonym("ipv4", m))
      .replace(IPV4_PADDED, (m) => paddedIpv4(m) ? this.#pseudonym("ipv4", paddedIpv4(m)!) : m)
      .replace(IPV6, (m) => this.#pseudonym("ipv6", m))
      // Names outside the base domain too: registries, proxies, bastions, BMCs.
      .replace(
        FQDN,
        (m) =>
          PUBLIC_NAME.test(m) || /^(?:host|domain|ipv4|ipv6|mac|serial)-\d+/.test(m)
            ? m
            : this.#pseudonym("host", m),
      );
  }
}
