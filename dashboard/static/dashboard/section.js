/* Patterns / Security / Enhancements: the live feed of this page's events. */
(function () {
  "use strict";
  const prefixes = JSON.parse(document.getElementById("prefixes").textContent);
  const body = document.querySelector("#feed tbody");
  const empty = document.getElementById("feed-empty");
  const patternsPage = document.body.dataset.page === "patterns";

  function wanted(event) {
    if (patternsPage) return event.type === "request.completed" && !!event.data.pattern;
    return prefixes.some(function (p) { return event.type.indexOf(p) === 0; });
  }
  function details(event) {
    if (event.type === "request.completed") return event.data.model + " → pattern " + event.data.pattern;
    return JSON.stringify(event.data).slice(0, 300);
  }
  LP.onEvents(function (events) {
    events.filter(wanted).forEach(function (event) {
      const tr = document.createElement("tr");
      tr.appendChild(LP.el("td", {}, LP.time(event.ts)));
      tr.appendChild(LP.el("td", {}, event.type));
      tr.appendChild(LP.el("td", {}, LP.nsName(event.namespace_id)));
      tr.appendChild(LP.el("td", { class: "details" }, details(event)));
      body.insertBefore(tr, body.firstChild);
      while (body.rows.length > 200) body.deleteRow(body.rows.length - 1);
      empty.hidden = true;
    });
  });
})();
