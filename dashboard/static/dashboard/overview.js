/* Overview: live tiles over the last 60 s and live charts over the last 5 min. */
(function () {
  "use strict";
  const WINDOW = 60, HISTORY = 300;
  const recent = [];      // {t, latency, error, cost}
  const perSecond = {};   // second -> {n, lat: []}
  const latest = document.querySelector("#latest tbody");
  const spend = document.getElementById("t-spend");
  const today = document.getElementById("t-today");
  let spendTotal = Number(spend.dataset.base || 0), todayTotal = Number(today.dataset.base || 0);
  const rps = LP.chart("chart-rps", [{ label: "req/s", color: "#417690", fill: "rgba(65,118,144,0.15)" }]);
  const lat = LP.chart("chart-lat", [{ label: "p50", color: "#417690" }, { label: "p95", color: "#ba2121" }]);

  function addRow(event) {
    const d = event.data, tr = document.createElement("tr");
    tr.dataset.id = d.id;
    tr.appendChild(LP.el("td", {}, LP.time(d.created_at)));
    tr.appendChild(LP.el("td", {}, LP.nsName(event.namespace_id)));
    tr.appendChild(LP.el("td", {}, d.model || "—"));
    const st = LP.el("td"); st.appendChild(LP.statusCell(d.status)); tr.appendChild(st);
    tr.appendChild(LP.el("td", { class: "num" }, LP.ms(d.latency_ms)));
    tr.appendChild(LP.el("td", { class: "num" }, (d.prompt_tokens || 0) + " / " + (d.completion_tokens || 0)));
    tr.onclick = function () { location.href = "/dashboard/requests/" + d.id + "/"; };
    latest.insertBefore(tr, latest.firstChild);
    while (latest.rows.length > 10) latest.deleteRow(latest.rows.length - 1);
  }

  function take(event, live) {
    if (event.type !== "request.completed") return;
    const d = event.data, t = d.created_at;
    recent.push({ t: t, latency: d.latency_ms, error: d.status >= 400 });
    const sec = Math.floor(t);
    (perSecond[sec] = perSecond[sec] || { n: 0, lat: [] }).n += 1;
    perSecond[sec].lat.push(d.latency_ms);
    if (live) {
      spendTotal += d.cost_usd || 0; todayTotal += 1;
      spend.textContent = LP.money(spendTotal); today.textContent = LP.num(todayTotal);
    }
    addRow(event);
  }

  function refresh() {
    const now = Date.now() / 1000;
    while (recent.length && recent[0].t < now - WINDOW) recent.shift();
    const lats = recent.map(function (r) { return r.latency; });
    const errors = recent.filter(function (r) { return r.error; }).length;
    document.getElementById("t-rps").textContent = (recent.length / WINDOW).toFixed(2);
    document.getElementById("t-lat").textContent = recent.length ?
      LP.ms(LP.quantile(lats, 0.5)) + " / " + LP.ms(LP.quantile(lats, 0.95)) : "–";
    document.getElementById("t-err").textContent = recent.length ? (100 * errors / recent.length).toFixed(1) + "%" : "–";
    const xs = [], n = [], p50 = [], p95 = [];
    const end = Math.floor(now);
    for (let s = end - HISTORY; s <= end; s++) {
      const b = perSecond[s];
      xs.push(s); n.push(b ? b.n : 0);
      p50.push(b ? LP.quantile(b.lat, 0.5) : null); p95.push(b ? LP.quantile(b.lat, 0.95) : null);
    }
    Object.keys(perSecond).forEach(function (k) { if (k < end - HISTORY) delete perSecond[k]; });
    rps.setData([xs, n]); lat.setData([xs, p50, p95]);
  }

  JSON.parse(document.getElementById("recent").textContent).forEach(function (e) { take(e, false); });
  LP.onEvents(function (events) { events.forEach(function (e) { take(e, true); }); refresh(); });
  refresh();
  setInterval(refresh, 1000);
})();
