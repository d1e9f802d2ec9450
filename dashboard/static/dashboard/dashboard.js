/* Shared dashboard client: the live event socket, formatting helpers. No framework. */
(function () {
  "use strict";
  const namespaces = JSON.parse(document.getElementById("namespaces").textContent || "{}");
  const listeners = [];
  let socket = null;
  let retry = 500;

  function setConn(state) {
    const el = document.getElementById("conn");
    if (el) { el.className = "conn " + state; el.title = "Live connection: " + state; }
  }

  function connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(proto + "//" + location.host + "/dashboard/ws/events/");
    socket.onopen = function () { retry = 500; setConn("open"); };
    socket.onmessage = function (message) {
      const frame = JSON.parse(message.data);
      if (!frame.events) return;
      listeners.forEach(function (fn) { fn(frame.events, frame.dropped || 0); });
    };
    socket.onclose = function () {
      setConn("closed");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  const LP = {
    namespaces: namespaces,
    onEvents: function (fn) { listeners.push(fn); if (!socket) connect(); },
    nsName: function (id) { return id == null ? "—" : (namespaces[id] || "#" + id); },
    time: function (seconds) { return new Date(seconds * 1000).toLocaleTimeString(); },
    ms: function (v) { return v == null ? "–" : (v >= 1000 ? (v / 1000).toFixed(2) + " s" : v.toFixed(0) + " ms"); },
    money: function (v) { return v == null ? "–" : "$" + Number(v).toFixed(v === 0 ? 2 : v < 0.01 ? 5 : 4); },
    num: function (v) { return v == null ? "–" : Number(v).toLocaleString(); },
    quantile: function (values, q) {
      if (!values.length) return null;
      const sorted = values.slice().sort(function (a, b) { return a - b; });
      return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    },
    el: function (tag, attrs, text) {
      const node = document.createElement(tag);
      Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
      if (text != null) node.textContent = text;
      return node;
    },
    statusCell: function (status) {
      return LP.el("span", { class: "status s" + String(status).charAt(0) }, String(status));
    },
    flags: function (d) {
      const out = [];
      if (d.stream) out.push("stream");
      if (d.cache_hit) out.push("cache");
      if (d.finish_reason === "length") out.push("truncated");
      if (d.pattern) out.push("pattern: " + d.pattern);
      if (d.security && (!Array.isArray(d.security) || d.security.length)) out.push("security: " + d.security);
      return out;
    },
    chart: function (id, series, opts) {
      const el = document.getElementById(id);
      const width = Math.max(280, el.clientWidth - 8);
      const s = [{}].concat(series.map(function (x) {
        return { label: x.label, stroke: x.color, width: 2, fill: x.fill || null, spanGaps: true,
          points: { show: false } };
      }));
      const data = [[]].concat(series.map(function () { return []; }));
      return new uPlot(Object.assign({ width: width, height: 200, series: s, legend: { live: false },
        axes: [{}, { size: 56 }], cursor: { drag: { x: false, y: false } } }, opts || {}), data, el);
    },
  };
  window.LP = LP;
})();
