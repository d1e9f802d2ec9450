/* Analytics: time series and breakdowns from /api/analytics/ (rollups), with CSV export. */
(function () {
  "use strict";
  const form = document.getElementById("range");
  const by = document.getElementById("by");
  const charts = {
    requests: LP.chart("a-requests", [{ label: "requests", color: "#417690", fill: "rgba(65,118,144,0.15)" }, { label: "errors", color: "#ba2121" }]),
    latency: LP.chart("a-latency", [{ label: "p50", color: "#417690" }, { label: "p95", color: "#e29d2d" }, { label: "p99", color: "#ba2121" }]),
    tokens: LP.chart("a-tokens", [{ label: "prompt", color: "#417690" }, { label: "completion", color: "#79aec8" }]),
    spend: LP.chart("a-spend", [{ label: "USD", color: "#2b8a3e", fill: "rgba(43,138,62,0.12)" }]),
  };

  function params() {
    const p = new URLSearchParams();
    ["range", "namespace_id", "model", "provider"].forEach(function (k) {
      if (form.elements[k].value) p.set(k, form.elements[k].value);
    });
    return p;
  }
  function get(path, p) {
    return fetch("/api/analytics/" + path + "?" + p.toString(), { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); });
  }
  function tile(label, value) {
    const t = LP.el("div", { class: "tile" });
    t.appendChild(LP.el("div", { class: "label" }, label));
    t.appendChild(LP.el("div", { class: "value" }, value));
    return t;
  }

  function load() {
    const p = params();
    document.getElementById("csv").href = "/api/analytics/timeseries.csv?" + p.toString();
    get("summary", p).then(function (s) {
      const box = document.getElementById("summary");
      box.replaceChildren(
        tile("Requests", LP.num(s.requests)),
        tile("Error rate", (100 * s.error_rate).toFixed(1) + "%"),
        tile("Latency p50 / p95", LP.ms(s.latency_p50_ms) + " / " + LP.ms(s.latency_p95_ms)),
        tile("Tokens in / out", LP.num(s.prompt_tokens) + " / " + LP.num(s.completion_tokens)),
        tile("Spend", LP.money(s.cost_usd)));
    });
    get("timeseries", p).then(function (ts) {
      document.getElementById("granularity").textContent = "by " + ts.granularity;
      const xs = ts.points.map(function (pt) { return Date.parse(pt.t) / 1000; });
      const col = function (k) { return ts.points.map(function (pt) { return pt[k]; }); };
      charts.requests.setData([xs, col("requests"), col("errors")]);
      charts.latency.setData([xs, col("latency_p50_ms"), col("latency_p95_ms"), col("latency_p99_ms")]);
      charts.tokens.setData([xs, col("prompt_tokens"), col("completion_tokens")]);
      charts.spend.setData([xs, col("cost_usd")]);
    });
    const bp = params(); bp.set("by", by.value);
    get("breakdown", bp).then(function (b) {
      const body = document.querySelector("#breakdown tbody");
      body.replaceChildren();
      b.groups.forEach(function (g) {
        const tr = document.createElement("tr");
        [g.label, LP.num(g.requests), (100 * g.error_rate).toFixed(1) + "%", LP.ms(g.latency_p50_ms),
         LP.ms(g.latency_p95_ms), LP.num(g.prompt_tokens), LP.num(g.completion_tokens), LP.money(g.cost_usd)]
          .forEach(function (v, i) { tr.appendChild(LP.el("td", i ? { class: "num" } : {}, v)); });
        body.appendChild(tr);
      });
      if (!b.groups.length) {
        const tr = document.createElement("tr");
        tr.appendChild(LP.el("td", { colspan: 8, class: "empty" }, "No traffic in this range yet."));
        body.appendChild(tr);
      }
    });
  }
  form.addEventListener("change", load);
  by.addEventListener("change", load);
  load();
  setInterval(load, 60000);
})();
