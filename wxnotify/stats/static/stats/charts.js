// Draws every [data-chart] element from the JSON block it names (json_script: no inline script under the CSP).
// The table beside each chart holds the same figures; the chart is for comparing them at a glance.
(function () {
  "use strict";
  var palette = ["#07c160", "#2f7ed8", "#f0a30a", "#c0504d", "#8064a2", "#4bacc6", "#9bbb59", "#7f7f7f"];

  function option(spec) {
    if (spec.kind === "pie") {
      return {
        color: palette,
        animation: false,
        tooltip: { trigger: "item", formatter: "{b}: {c} ({d}%)" },
        legend: { show: false },  // each slice is labelled; a legend would only repeat the names
        series: [{
          type: "pie", radius: ["30%", "58%"], data: spec.series,
          // Labels aligned to the card's edges, never cut off by it.
          label: { formatter: "{b}\n{d}%", alignTo: "edge", edgeDistance: 8, overflow: "break", width: 96 },
          labelLine: { length: 12, length2: 0 }
        }]
      };
    }
    return {
      color: palette,
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { type: "scroll", top: 0, left: 56, right: 16 },
      grid: { left: 48, right: spec.yName2 ? 56 : 16, top: 64, bottom: 32 },
      xAxis: { type: "category", data: spec.categories },
      yAxis: spec.yName2
        ? [{ type: "value", name: spec.yName, minInterval: 1 }, { type: "value", name: spec.yName2, minInterval: 1 }]
        : { type: "value", name: spec.yName, minInterval: 1 },
      series: spec.series.map(function (s) {
        return {
          name: s.name, type: s.type || spec.kind, stack: s.stack, data: s.data,
          yAxisIndex: s.axis || 0, emphasis: { focus: "series" },
          // A dot on every one of 400 days hides the line; the tooltip still gives each day's figure.
          showSymbol: spec.categories.length <= 62
        };
      })
    };
  }

  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var spec = JSON.parse(document.getElementById(el.dataset.chart).textContent);
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(option(spec));
    el.dataset.drawn = "true";
    window.addEventListener("resize", function () { chart.resize(); });
  });
})();
