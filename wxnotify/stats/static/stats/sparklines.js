// A small line of each template's weekly new subscriptions in the notification list. The rows are
// refreshed by htmx every few seconds, so the lines are drawn again after each swap from the fetched data.
(function () {
  "use strict";
  var table = document.querySelector("[data-sparklines]");
  if (!table) { return; }
  var data = null;
  var SVG = "http://www.w3.org/2000/svg";
  var W = 96, H = 22;

  function draw() {
    if (!data) { return; }
    document.querySelectorAll("[data-spark]").forEach(function (el) {
      var values = data.series[el.dataset.spark] || new Array(data.weeks).fill(0);
      var max = Math.max.apply(null, values.concat([1]));
      var points = values.map(function (v, i) {
        return (i * (W - 4) / (values.length - 1) + 2).toFixed(1) + "," + (H - 2 - v * (H - 4) / max).toFixed(1);
      }).join(" ");
      var svg = document.createElementNS(SVG, "svg");
      svg.setAttribute("width", W); svg.setAttribute("height", H); svg.setAttribute("viewBox", "0 0 " + W + " " + H);
      svg.setAttribute("role", "img");
      var title = document.createElementNS(SVG, "title");
      title.textContent = data.label + "：" + values.join(", ");
      var line = document.createElementNS(SVG, "polyline");
      line.setAttribute("points", points); line.setAttribute("fill", "none");
      line.setAttribute("stroke", "#07c160"); line.setAttribute("stroke-width", "1.5");
      svg.appendChild(title); svg.appendChild(line);
      el.replaceChildren(svg);
      el.dataset.values = values.join(",");
    });
  }

  fetch(table.dataset.sparklines, { credentials: "same-origin" })
    .then(function (response) { return response.json(); })
    .then(function (json) { data = json; draw(); });
  document.body.addEventListener("htmx:afterSwap", draw);
})();
