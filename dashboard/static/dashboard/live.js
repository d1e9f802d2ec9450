/* Live monitor: a streaming table of requests with filters; a click opens the request. */
(function () {
  "use strict";
  const MAX_ROWS = 500;
  const body = document.querySelector("#live tbody");
  const form = document.getElementById("filters");
  const empty = document.getElementById("live-empty");
  const counts = document.getElementById("counts");
  let seen = 0, dropped = 0;
  const held = [];

  function matches(event) {
    const f = form.elements, d = event.data;
    if (f.namespace.value && String(event.namespace_id) !== f.namespace.value) return false;
    if (f.model.value && (d.model || "").indexOf(f.model.value) < 0) return false;
    if (f.status.value === "ok" && d.status >= 400) return false;
    if (f.status.value === "error" && d.status < 400) return false;
    return true;
  }

  function row(event) {
    const d = event.data, tr = document.createElement("tr");
    tr.dataset.id = d.id;
    tr.dataset.ns = event.namespace_id;
    tr.dataset.status = d.status;
    tr.dataset.model = d.model || "";
    tr.appendChild(LP.el("td", {}, LP.time(d.created_at)));
    tr.appendChild(LP.el("td", {}, LP.nsName(event.namespace_id)));
    tr.appendChild(LP.el("td", { class: "model" }, d.model || "—"));
    tr.appendChild(LP.el("td", {}, d.provider || "—"));
    const st = LP.el("td"); st.appendChild(LP.statusCell(d.status));
    if (d.error_type) st.appendChild(LP.el("span", { class: "muted" }, " " + d.error_type));
    tr.appendChild(st);
    tr.appendChild(LP.el("td", { class: "num" }, LP.ms(d.latency_ms)));
    tr.appendChild(LP.el("td", { class: "num" }, LP.ms(d.ttft_ms)));
    tr.appendChild(LP.el("td", { class: "num" }, LP.num(d.prompt_tokens) + " / " + LP.num(d.completion_tokens)));
    tr.appendChild(LP.el("td", { class: "num" }, LP.money(d.cost_usd)));
    const flags = LP.el("td");
    LP.flags(d).forEach(function (f) { flags.appendChild(LP.el("span", { class: "flag" }, f)); });
    tr.appendChild(flags);
    tr.onclick = function () { location.href = "/dashboard/requests/" + d.id + "/"; };
    return tr;
  }

  function show(events) {
    events.forEach(function (event) {
      if (event.type !== "request.completed") return;
      seen += 1;
      const tr = row(event);
      tr.hidden = !matches(event);
      body.insertBefore(tr, body.firstChild);
    });
    while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
    empty.hidden = body.rows.length > 0;
    counts.textContent = seen + " requests" + (dropped ? ", " + dropped + " dropped (browser behind)" : "");
  }

  function refilter() {
    Array.prototype.forEach.call(body.rows, function (tr) {
      tr.hidden = !matches({ namespace_id: tr.dataset.ns, data: { model: tr.dataset.model, status: Number(tr.dataset.status) } });
    });
  }
  form.addEventListener("input", function () {
    refilter();
    if (!form.elements.pause.checked && held.length) show(held.splice(0));
  });

  show(JSON.parse(document.getElementById("recent").textContent));
  LP.onEvents(function (events, lost) {
    dropped += lost;
    if (form.elements.pause.checked) { held.push.apply(held, events); return; }
    show(events);
  });
})();
