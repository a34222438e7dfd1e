/** Answers as CSV (RFC 4180) and as a terminal table. */

function cell(value: unknown): string {
  if (value === null || value === undefined) return "";
  return Array.isArray(value) ? value.join(";") : String(value);
}

/** Rows as CSV with a header of every column seen. */
export function toCsv(rows: Array<Record<string, unknown>>): string {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const quote = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
  return [columns, ...rows.map((r) => columns.map((c) => cell(r[c])))]
    .map((line) => line.map(quote).join(","))
    .join("\r\n") + "\r\n";
}

/** Rows as an aligned text table; a suppressed cell's numbers show as "suppressed". */
export function toTable(rows: Array<Record<string, unknown>>): string {
  if (rows.length === 0) return "(no rows)\n";
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))].filter((c) =>
    c !== "suppressed"
  );
  const text = rows.map((r) =>
    columns.map((c) => (r.suppressed && r[c] === null ? "suppressed" : cell(r[c])))
  );
  const widths = columns.map((c, i) => Math.max(c.length, ...text.map((t) => t[i].length)));
  const line = (values: string[]) => values.map((v, i) => v.padEnd(widths[i])).join("  ").trimEnd();
  return [line(columns), line(widths.map((w) => "-".repeat(w))), ...text.map(line)].join("\n") +
    "\n";
}
