/**
 * A panel's answer drawn on the server as SVG with Apache ECharts'
 * server-side renderer: complete without JavaScript. On-prem and SaaS keep
 * the same colours everywhere, far apart in lightness (and, on lines, in
 * dash and symbol) so they read in greyscale too; measures drawn side by
 * side (p50 and p90, with and without) alternate dark and light likewise.
 */
import * as echarts from "echarts";
import type { Panel, Unit } from "./catalog.ts";

/** Series colours: on-prem dark blue, SaaS light orange, then further distinct lightnesses. */
export const SOURCE_COLOURS: Readonly<Record<string, string>> = {
  onprem: "#1f3b73",
  saas: "#f2a93b",
};
/** For series that are not sources: alternating dark and light, none the sources' hues. */
const PALETTE = ["#2f6b3a", "#a7d18f", "#6b2150", "#e3a6c8", "#3d3d3d", "#c2c2c2"];
const DASHES = ["solid", "dashed", "dotted"];
const SYMBOLS = ["circle", "triangle", "rect", "diamond"];

/** A label for a source value. */
export function sourceLabel(value: unknown): string {
  return value === "onprem" ? "on-prem" : value === "saas" ? "SaaS" : String(value ?? "");
}

/** A measure's value in its unit for display (shares as percentages). */
export function scaled(unit: Unit, value: unknown): number | null {
  if (typeof value !== "number") return null;
  return unit === "share" ? Math.round(value * 1000) / 10 : value;
}

const UNIT_LABEL: Record<Unit, string> = {
  share: "%",
  count: "count",
  minutes: "minutes",
  seconds: "seconds",
  cores: "cores",
  GiB: "GiB",
  ratio: "attempts per cluster",
};

/** The series a panel draws: name, colour and one value (or null) per category. */
export interface Drawn {
  categories: string[];
  series: Array<{ name: string; colour: string; values: Array<number | null> }>;
  /** Categories all of whose cells were suppressed. */
  suppressed: Set<string>;
}

/** Splits an answer's rows into the categories and series a panel draws. */
export function drawn(
  panel: Panel,
  rows: ReadonlyArray<Record<string, unknown>>,
  split: boolean,
): Drawn {
  const categoryOf = (r: Record<string, unknown>) =>
    String(r[panel.category ?? "key"] ?? "unknown");
  const seriesBy = panel.seriesBy ?? (split ? "source" : undefined);
  let categories = [...new Set(rows.map(categoryOf))];
  if (!panel.ranked) {
    categories = categories.sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
  }
  const suppressed = new Set(
    categories.filter((c) => rows.filter((r) => categoryOf(r) === c).every((r) => r.suppressed)),
  );
  const groups = seriesBy ? [...new Set(rows.map((r) => String(r[seriesBy] ?? "")))].sort() : [""];
  const measures = seriesBy ? panel.measures.slice(0, 1) : panel.measures;
  const series: Drawn["series"] = [];
  for (const group of groups) {
    for (const measure of measures) {
      const colour = SOURCE_COLOURS[group] ?? PALETTE[series.length % PALETTE.length];
      const name = seriesBy ? sourceLabel(group) : measure.replaceAll("_", " ");
      const values = categories.map((c) => {
        const row = rows.find((r) =>
          categoryOf(r) === c && (!seriesBy || String(r[seriesBy] ?? "") === group)
        );
        return row && !row.suppressed ? scaled(panel.unit, row[measure]) : null;
      });
      series.push({ name, colour, values });
    }
  }
  return { categories, series, suppressed };
}

function shorten(label: string, max: number): string {
  return label.length > max ? `${label.slice(0, max - 1)}…` : label;
}

/** The panel's chart as an SVG string. */
export function renderChart(panel: Panel, data: Drawn): string {
  const horizontal = panel.chart === "hbar";
  const rows = data.categories.length;
  const height = horizontal
    ? Math.max(220, 70 + rows * 26 * Math.max(1, data.series.length / 2))
    : 320;
  const width = 1000;
  const labels = data.categories.map((c) =>
    shorten(data.suppressed.has(c) ? `${c} (suppressed)` : c, horizontal ? 48 : 18)
  );
  const chart = echarts.init(null, null, { renderer: "svg", ssr: true, width, height });
  const valueAxis = {
    type: "value",
    name: UNIT_LABEL[panel.unit],
    nameLocation: "middle",
    nameGap: horizontal ? 28 : 48,
    max: panel.unit === "share" ? 100 : undefined,
  };
  const categoryAxis = {
    type: "category",
    data: labels,
    name: panel.axis,
    nameLocation: "middle",
    nameGap: horizontal ? 0 : 34,
    axisLabel: { interval: 0, rotate: !horizontal && rows > 8 ? 30 : 0, fontSize: 11 },
    inverse: horizontal,
  };
  chart.setOption({
    animation: false,
    aria: { enabled: true, label: { enabled: true } },
    color: data.series.map((s) => s.colour),
    legend: { top: 0, data: data.series.map((s) => s.name) },
    grid: {
      left: horizontal ? 330 : 70,
      right: 24,
      top: 36,
      bottom: horizontal ? 40 : 70,
      containLabel: false,
    },
    xAxis: horizontal ? valueAxis : categoryAxis,
    yAxis: horizontal ? { ...categoryAxis, name: "" } : valueAxis,
    series: data.series.map((s, i) => ({
      name: s.name,
      type: panel.chart === "line" ? "line" : "bar",
      data: s.values,
      connectNulls: false,
      symbol: SYMBOLS[i % SYMBOLS.length],
      symbolSize: 7,
      lineStyle: { type: DASHES[i % DASHES.length], width: 2 },
      barMaxWidth: 28,
    })),
  });
  const svg = chart.renderToSVGString();
  chart.dispose();
  return svg;
}
