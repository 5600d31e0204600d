// Renders every chart of the page from the JSON the builder embedded (figures already formatted there).
// SVG renderer: the charts are DOM a test (or a screen reader) can inspect. No network, no other script.
(function () {
  "use strict";
  const specs = JSON.parse(document.getElementById("chart-data").textContent);
  const palette = ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#14b8a6", "#f97316", "#64748b"];

  function axisFormatter(format) {
    if (format === "rate") return (v) => (v * 100).toFixed(1) + "%";
    return (v) => v.toLocaleString("en-US");
  }

  function option(spec) {
    const horizontal = spec.kind === "hbar";
    const type = spec.kind === "line" ? "line" : "bar";
    const categoryAxis = { type: "category", data: spec.categories, axisLabel: { hideOverlap: true } };
    const valueAxis = { type: "value", axisLabel: { formatter: axisFormatter(spec.y_format) } };
    if (horizontal) categoryAxis.inverse = true;
    return {
      animation: false,
      color: palette,
      grid: { left: horizontal ? 140 : 60, right: 24, top: 36, bottom: 48 },
      legend: { top: 0, type: "scroll" },
      tooltip: {
        trigger: "axis",
        formatter: (items) =>
          items
            .filter((p) => p.data)
            .map((p) => `${p.marker}${p.seriesName} · ${p.name}: <b>${p.data.text}</b>`)
            .join("<br>"),
      },
      xAxis: horizontal ? valueAxis : categoryAxis,
      yAxis: horizontal ? categoryAxis : valueAxis,
      series: spec.series.map((s) => ({
        name: s.name,
        type: type,
        stack: spec.stack ? "total" : undefined,
        barGap: spec.kind === "histogram" ? "0%" : undefined,
        connectNulls: true,
        showSymbol: spec.categories.length < 40,
        data: s.data.map((d) => (d === null ? null : { value: d.value, text: d.text })),
      })),
    };
  }

  for (const spec of specs) {
    const el = document.getElementById(spec.id);
    if (!spec.categories.length) {
      el.textContent = "no data";
      el.classList.add("empty");
      continue;
    }
    const chart = echarts.init(el, null, { renderer: "svg" });
    chart.on("finished", () => el.setAttribute("data-rendered", "true"));
    chart.setOption(option(spec));
    window.addEventListener("resize", () => chart.resize());
  }
})();
