// Sluice dashboard: polls /status once a second and keeps the last five minutes in the page.
// A token for an admin listener that requires one: open the page as /#token=THE-TOKEN.
(function () {
  "use strict";
  var HISTORY = 300; // points, one a second
  var token = (location.hash.match(/token=([^&]+)/) || [])[1];
  var cards = {}; // backend id -> {el, t, limit, inFlight, queue, rate, p99, charts}
  var polls = 0;

  function fmt(v, digits) {
    return v === null || v === undefined || isNaN(v) ? "-" : Number(v).toFixed(digits || 0);
  }

  function figure(name, label) {
    var f = document.createElement("div");
    f.className = "figure";
    f.innerHTML = '<span class="value" data-field="' + name + '">-</span><span class="label">' + label + "</span>";
    return f;
  }

  function chart(el, title, series, axes) {
    var opts = {
      title: title, width: 600, height: 170,
      scales: { x: { time: true } },
      series: [{}].concat(series),
      axes: axes
    };
    var data = [[]];
    series.forEach(function () { data.push([]); });
    return new uPlot(opts, data, el);
  }

  function card(poolEl, id) {
    var el = document.createElement("section");
    el.className = "card";
    el.dataset.backend = id;
    el.innerHTML = "<h3></h3>";
    el.querySelector("h3").textContent = id;
    var figs = document.createElement("div");
    figs.className = "figures";
    [["limit", "limit"], ["inFlight", "in flight"], ["queue", "pool queue"], ["rate", "goodput req/s"],
     ["p99", "p99 ms"], ["served", "served"]].forEach(function (f) { figs.appendChild(figure(f[0], f[1])); });
    el.appendChild(figs);
    var reason = document.createElement("div");
    reason.className = "reason";
    el.appendChild(reason);
    var c1 = document.createElement("div");
    c1.className = "chart";
    c1.dataset.chart = "load";
    var c2 = document.createElement("div");
    c2.className = "chart";
    c2.dataset.chart = "goodput";
    el.appendChild(c1);
    el.appendChild(c2);
    poolEl.querySelector(".backends").appendChild(el);
    var c = {
      el: el, reason: reason, t: [], limit: [], inFlight: [], queue: [], rate: [], p99: [],
      load: chart(c1, "limit, in flight, queue", [
        { label: "limit", stroke: "#d32f2f", width: 2 },
        { label: "in flight", stroke: "#1976d2" },
        { label: "queue", stroke: "#9e9e9e", scale: "q" }],
        [{}, {}, { scale: "q", side: 1, grid: { show: false } }]),
      goodput: chart(c2, "goodput and p99", [
        { label: "req/s", stroke: "#388e3c", width: 2 },
        { label: "p99 ms", stroke: "#f57c00", scale: "ms" }],
        [{}, {}, { scale: "ms", side: 1, grid: { show: false } }])
    };
    return c;
  }

  function poolSection(pool) {
    var id = "pool-" + pool;
    var el = document.getElementById(id);
    if (!el) {
      el = document.createElement("section");
      el.id = id;
      el.dataset.pool = pool;
      el.innerHTML = '<h2></h2><div class="pool-line">queue <b data-field="queue">-</b> &middot; in progress ' +
        '<b data-field="inProgress">-</b> &middot; 503 queue full <b data-field="rejectedFull">-</b> &middot; ' +
        '503 timed out <b data-field="expired">-</b> &middot; 503 none up <b data-field="noBackendUp">-</b></div>' +
        '<div class="backends"></div>';
      el.querySelector("h2").textContent = "pool " + pool;
      document.getElementById("pools").appendChild(el);
    }
    return el;
  }

  function set(el, field, value, digits) {
    var f = el.querySelector('[data-field="' + field + '"]');
    f.textContent = fmt(value, digits);
    f.dataset.value = value;
  }

  function push(arr, v) {
    arr.push(v);
    if (arr.length > HISTORY) {
      arr.shift();
    }
  }

  function update(status) {
    var now = Date.now() / 1000;
    document.getElementById("node").textContent = "node " + status.node + " (" + status.member + ")";
    status.pools.forEach(function (p) {
      var poolEl = poolSection(p.pool);
      ["queue", "inProgress", "rejectedFull", "expired", "noBackendUp"].forEach(function (f) { set(poolEl, f, p[f]); });
      p.backends.forEach(function (b) {
        var c = cards[b.id] || (cards[b.id] = card(poolEl, b.id));
        c.el.classList.toggle("down", !b.up);
        set(c.el, "limit", b.limit);
        set(c.el, "inFlight", b.inFlight);
        set(c.el, "queue", p.queue);
        set(c.el, "rate", b.ratePerSecond);
        set(c.el, "p99", parseFloat(b.p99Millis), 1);
        set(c.el, "served", b.served);
        var reason = b.limitReason || "";
        var algorithm = b.algorithm && reason.indexOf(b.algorithm + ":") !== 0 ? b.algorithm + ": " : "";
        c.reason.textContent = (b.up ? "" : "DOWN \u00b7 ") + (b.pinned ? "pinned \u00b7 " : "") +
          (b.drained ? "drained \u00b7 " : "") + algorithm + reason;
        push(c.t, now);
        push(c.limit, b.limit);
        push(c.inFlight, b.inFlight);
        push(c.queue, p.queue);
        push(c.rate, b.ratePerSecond);
        push(c.p99, parseFloat(b.p99Millis));
        c.load.setData([c.t, c.limit, c.inFlight, c.queue]);
        c.goodput.setData([c.t, c.rate, c.p99]);
        c.el.querySelectorAll(".chart").forEach(function (e) { e.dataset.points = c.t.length; });
      });
    });
  }

  function poll() {
    var headers = token ? { Authorization: "Bearer " + decodeURIComponent(token) } : {};
    fetch("/status", { headers: headers, cache: "no-store" })
      .then(function (r) {
        if (!r.ok) {
          throw new Error("/status answered " + r.status);
        }
        return r.json();
      })
      .then(function (s) {
        update(s);
        polls++;
        var st = document.getElementById("state");
        st.className = "";
        st.dataset.polls = polls;
        st.textContent = "live, updated " + new Date().toLocaleTimeString();
      })
      .catch(function (e) {
        var st = document.getElementById("state");
        st.className = "error";
        st.textContent = String(e.message || e);
      })
      .finally(function () { setTimeout(poll, 1000); });
  }

  poll();
})();
