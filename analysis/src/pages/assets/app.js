// The dashboards' only script (the pages work without it): a changed filter
// applies at once, and charts get tooltips and legend toggles through
// ECharts' SSR client. Served by the analysis service itself.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form.filters")) {
    form.addEventListener("change", () => {
      // Empty fields stay out of the URL, so a link shows just the view.
      const params = new URLSearchParams();
      for (const [name, value] of new FormData(form)) if (value) params.set(name, String(value));
      if (params.get("source") === "all") params.delete("source");
      if (params.get("manual") === "include") params.delete("manual");
      const query = params.toString();
      location.assign(form.getAttribute("action") + (query ? `?${query}` : ""));
    });
  }

  const tip = document.createElement("div");
  tip.className = "tooltip";
  tip.hidden = true;
  document.body.append(tip);

  for (const figure of document.querySelectorAll("figure.chart")) {
    const svg = figure.querySelector("svg");
    const data = figure.querySelector("script.tips");
    if (!svg || !data || !globalThis["echarts-ssr-client"]) continue;
    const tips = JSON.parse(data.textContent || "[]");
    const hidden = new Set();
    globalThis["echarts-ssr-client"].hydrate(figure, {
      on: {
        mouseover(params) {
          if (params.ssrType !== "chart") return;
          const text = tips[params.seriesIndex]?.[params.dataIndex];
          if (!text) return;
          tip.textContent = text;
          tip.hidden = false;
          tip.style.left = `${params.event.pageX + 12}px`;
          tip.style.top = `${params.event.pageY + 12}px`;
        },
        mouseout() {
          tip.hidden = true;
        },
        click(params) {
          if (params.ssrType !== "legend") return;
          const index = params.seriesIndex;
          if (hidden.has(index)) hidden.delete(index);
          else hidden.add(index);
          for (const el of svg.querySelectorAll(`[ecmeta_series_index="${index}"]`)) {
            if (el.getAttribute("ecmeta_ssr_type") === "chart") {
              el.style.visibility = hidden.has(index) ? "hidden" : "";
            } else if (el.getAttribute("ecmeta_ssr_type") === "legend") {
              el.style.opacity = hidden.has(index) ? "0.4" : "";
            }
          }
        },
      },
    });
  }
});
