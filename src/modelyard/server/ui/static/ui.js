/* modelyard UI: charts (uPlot for series; small canvases for scatter, parallel coordinates and
   histograms) and the runs table's selection. No framework; every page works without it. */
(function () {
  "use strict";
  var PREFIX = document.body.dataset.prefix || "/ui";
  var COLORS = ["#1849a9", "#b42318", "#067647", "#a15c07", "#7a2e9e", "#0e7490", "#be185d", "#4d7c0f", "#9a3412", "#334155"];
  var SWAP = "#7a2e9e", ALERT = "#f79009", THRESH = "#b42318";

  function width(el) { return Math.max(280, el.clientWidth || 600); }

  function ema(values, w) {
    if (!w) return values;
    var out = new Array(values.length), last = 0, n = 0;
    for (var i = 0; i < values.length; i++) {
      var v = values[i];
      if (v == null || !isFinite(v)) { out[i] = null; continue; }
      last = last * w + (1 - w) * v; n++;
      out[i] = last / (1 - Math.pow(w, n));
    }
    return out;
  }

  function markersPlugin(opts) {
    return { hooks: { draw: [function (u) {
      var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height, left = u.bbox.left, w = u.bbox.width;
      ctx.save();
      (opts.vlines || []).forEach(function (m) {
        var x = u.valToPos(m.x, "x", true);
        if (x < left || x > left + w) return;
        ctx.strokeStyle = m.color; ctx.lineWidth = 2 * devicePixelRatio;
        ctx.setLineDash(m.dash ? [4 * devicePixelRatio, 3 * devicePixelRatio] : []);
        ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + h); ctx.stroke();
      });
      (opts.hlines || []).forEach(function (m) {
        var y = u.valToPos(m.y, m.scale || "y", true);
        if (y < top || y > top + h) return;
        ctx.strokeStyle = m.color || THRESH; ctx.lineWidth = 1.5 * devicePixelRatio;
        ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
        ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + w, y); ctx.stroke();
      });
      ctx.restore();
    }] } };
  }

  function plot(el, data, labels, o) {
    o = o || {};
    el.innerHTML = "";
    var series = [{ label: o.xLabel || "x" }];
    labels.forEach(function (l, i) {
      series.push({ label: l, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true, points: { show: data[0].length < 200 } });
    });
    var opts = {
      width: width(el), height: o.height || 300, series: series,
      scales: { x: { time: !!o.time }, y: o.log ? { distr: 3 } : {} },
      axes: [{}, { size: 64, values: o.log ? function (u, vals) { return vals.map(function (v) { return v == null ? "" : (v < 0.001 ? v.toExponential(0) : +v.toPrecision(3)); }); } : undefined }],
      plugins: [markersPlugin({ vlines: o.vlines, hlines: o.hlines })],
      cursor: { drag: { x: true, y: false } },
    };
    var chart = new uPlot(opts, data, el);
    el._chart = chart;
    return chart;
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  /* metric histories: the run page (several metrics of one run) and compare (one metric, many runs) */
  function seriesChart(el) {
    var controls = document.querySelector('.chart-controls[data-chart="' + el.id + '"]');
    var runs = JSON.parse(el.dataset.runs || "[]");
    var cache = {};
    function keys() {
      var select = controls.querySelector(".series-select");
      if (select) return [select.value];
      return Array.prototype.map.call(controls.querySelectorAll(".series-key:checked"), function (c) { return c.value; });
    }
    function draw() {
      var ks = keys();
      if (!ks.length) { el.innerHTML = '<p class="hint">Choose a metric.</p>'; return; }
      var axis = controls.querySelector(".x-axis").value, log = controls.querySelector(".log-scale").checked;
      var smooth = parseFloat(controls.querySelector(".smoothing").value) || 0;
      var wanted = ks.filter(function (k) { return !cache[k]; });
      var load = wanted.length ? getJSON(PREFIX + "/series.json?" + runs.map(function (r) { return "run=" + encodeURIComponent(r); }).join("&") + "&" + wanted.map(function (k) { return "key=" + encodeURIComponent(k); }).join("&")) : Promise.resolve({ series: [] });
      load.then(function (got) {
        got.series.forEach(function (s) { (cache[s.key] = cache[s.key] || []).push(s); });
        var tables = [], labels = [];
        ks.forEach(function (k) {
          (cache[k] || []).forEach(function (s) {
            var xs = axis === "time" ? s.timestamp.map(function (t) { return t / 1000; }) : s.step;
            var ys = ema(s.value, smooth);
            if (log) ys = ys.map(function (v) { return v != null && v > 0 ? v : null; });
            tables.push([xs, ys]);
            labels.push(runs.length > 1 ? s.run_name + " · " + k : k);
          });
        });
        if (!tables.length) { el.innerHTML = '<p class="hint">No points.</p>'; return; }
        var data = tables.length === 1 ? tables[0] : uPlot.join(tables);
        plot(el, data, labels, { time: axis === "time", log: log, xLabel: axis });
        var notes = [];
        ks.forEach(function (k) { (cache[k] || []).forEach(function (s) { if (s.downsampled) notes.push(s.key + ": " + s.total.toLocaleString() + " points, drawn as the min and max of " + Math.ceil(s.step.length / 2).toLocaleString() + " step buckets"); }); });
        if (notes.length) { var p = document.createElement("p"); p.className = "hint"; p.textContent = notes.join("; "); el.appendChild(p); }
        el.dataset.points = String(tables.reduce(function (n, t) { return n + t[0].length; }, 0));
        el.dataset.ready = "1";
      }).catch(function (e) { el.innerHTML = '<p class="error-box">could not load the series: ' + e.message + "</p>"; });
    }
    controls.addEventListener("change", draw);
    controls.addEventListener("input", function (e) { if (e.target.classList.contains("smoothing")) draw(); });
    draw();
  }

  /* monitoring: every time series with the hot swaps and alerts marked */
  function monitoring() {
    var node = document.getElementById("monitor-data");
    if (!node) return;
    var d = JSON.parse(node.textContent), s = d.series, x = s.x;
    var vlines = d.swaps.map(function (w) { return { x: w.at / 1000, color: SWAP }; })
      .concat(d.alerts.map(function (a) { return { x: a.window_end / 1000, color: ALERT, dash: true }; }));
    function th(metric) { return d.thresholds.filter(function (t) { return t.metric === metric; }).map(function (t) { return { y: t.value }; }); }
    function draw(id, names, pick, o) {
      var el = document.getElementById(id);
      if (!el) return;
      var cols = [], labels = [];
      names.forEach(function (n) { var v = pick(n); if (v) { cols.push(v); labels.push(n); } });
      if (!cols.length) { el.innerHTML = '<p class="hint">No data.</p>'; return; }
      plot(el, [x].concat(cols), labels, Object.assign({ time: true, vlines: vlines, height: 240 }, o || {}));
      el.dataset.ready = "1";
    }
    var ov = function (n) { return s.overall[n]; };
    draw("chart-drift", ["drift_share"], ov, { hlines: th("drift_share") });
    var columns = Object.keys(s.columns).sort();
    var thresholds = [];
    columns.forEach(function (c) { (s.columns[c].threshold || []).forEach(function (t) { if (t != null) thresholds.push(t); }); });
    var median = thresholds.length ? thresholds.sort()[Math.floor(thresholds.length / 2)] : 0.05 / Math.max(1, columns.length);
    draw("chart-columns", columns, function (c) {
      var p = s.columns[c].p_value;
      return p && p.map(function (v) { return v == null ? null : Math.max(v, 1e-12); });
    }, { log: true, hlines: [{ y: median }] });
    var versions = Object.keys(s.versions).sort();
    draw("chart-perf", ["auc"].concat(versions), function (n) { return n === "auc" ? s.overall.auc : (s.versions[n] || {}).auc; }, { hlines: th("auc") });
    draw("chart-latency", ["p50_latency_ms", "p95_latency_ms", "p99_latency_ms"], ov, { hlines: th("p99_latency_ms") });
    draw("chart-traffic", ["rows", "requests", "throughput_rps", "error_rate"], ov);
  }

  function axes2d(ctx, W, H, pad) {
    ctx.strokeStyle = "#98a2b3"; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(pad, pad / 2); ctx.lineTo(pad, H - pad); ctx.lineTo(W - pad / 2, H - pad); ctx.stroke();
  }
  function extent(vs) {
    var lo = Infinity, hi = -Infinity;
    vs.forEach(function (v) { if (v != null) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
    if (lo === hi) { lo -= 1; hi += 1; }
    return [lo, hi];
  }
  function fmt(v) { return Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(2) : +v.toPrecision(4) + ""; }

  function scatter() {
    var canvas = document.getElementById("scatter"), node = document.getElementById("compare-data");
    if (!canvas || !node) return;
    var d = JSON.parse(node.textContent), xs = document.getElementById("scatter-x"), ys = document.getElementById("scatter-y");
    function draw() {
      var ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height, pad = 50;
      ctx.clearRect(0, 0, W, H); axes2d(ctx, W, H, pad);
      var X = d.numeric[xs.value] || [], Y = d.numeric[ys.value] || [], ex = extent(X), ey = extent(Y);
      ctx.fillStyle = "#1b2230"; ctx.font = "12px system-ui";
      ctx.fillText(xs.value + " (" + fmt(ex[0]) + " … " + fmt(ex[1]) + ")", pad, H - 15);
      ctx.save(); ctx.translate(14, H - pad); ctx.rotate(-Math.PI / 2); ctx.fillText(ys.value + " (" + fmt(ey[0]) + " … " + fmt(ey[1]) + ")", 0, 0); ctx.restore();
      d.runs.forEach(function (r, i) {
        if (X[i] == null || Y[i] == null) return;
        var px = pad + (X[i] - ex[0]) / (ex[1] - ex[0]) * (W - pad * 1.5), py = H - pad - (Y[i] - ey[0]) / (ey[1] - ey[0]) * (H - pad * 1.5);
        ctx.fillStyle = COLORS[i % COLORS.length]; ctx.beginPath(); ctx.arc(px, py, 5, 0, 2 * Math.PI); ctx.fill();
        if (d.runs.length <= 20) { ctx.fillStyle = "#1b2230"; ctx.fillText(r.run_name, px + 7, py - 5); }
      });
    }
    xs.addEventListener("change", draw); ys.addEventListener("change", draw); draw();
  }

  function parallel() {
    var canvas = document.getElementById("parallel"), node = document.getElementById("compare-data");
    if (!canvas || !node) return;
    var d = JSON.parse(node.textContent), keys = Object.keys(d.numeric).slice(0, 12);
    var ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height, pad = 40;
    var step = (W - 2 * pad) / Math.max(1, keys.length - 1), ext = keys.map(function (k) { return extent(d.numeric[k]); });
    ctx.font = "11px system-ui"; ctx.fillStyle = "#1b2230";
    keys.forEach(function (k, j) {
      var x = pad + j * step;
      ctx.strokeStyle = "#98a2b3"; ctx.beginPath(); ctx.moveTo(x, pad); ctx.lineTo(x, H - pad); ctx.stroke();
      ctx.fillText(k.replace(/^(params|metrics)\./, ""), Math.max(0, x - 30), pad - 12);
      ctx.fillText(fmt(ext[j][1]), x + 3, pad + 10); ctx.fillText(fmt(ext[j][0]), x + 3, H - pad);
    });
    d.runs.forEach(function (r, i) {
      ctx.strokeStyle = COLORS[i % COLORS.length]; ctx.globalAlpha = 0.8; ctx.lineWidth = 1.5; ctx.beginPath();
      var started = false;
      keys.forEach(function (k, j) {
        var v = d.numeric[k][i];
        if (v == null) { started = false; return; }
        var x = pad + j * step, y = H - pad - (v - ext[j][0]) / (ext[j][1] - ext[j][0]) * (H - 2 * pad);
        if (started) ctx.lineTo(x, y); else ctx.moveTo(x, y);
        started = true;
      });
      ctx.stroke();
    });
    ctx.globalAlpha = 1;
  }

  function histograms(root) {
    (root || document).querySelectorAll("canvas.histogram").forEach(function (canvas) {
      var h = JSON.parse(canvas.dataset.hist), ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height, pad = 30;
      var ref = h.reference || [], cur = h.current || [], n = Math.max(ref.length, cur.length);
      if (!n) return;
      var b = h.bins || [], numeric = h.kind === "numeric" && b.length === n + 1;
      /* numbers: density over the real axis (quantile bins have unequal widths); categories: shares */
      var lo = numeric ? b[0] : 0, hi = numeric ? b[n] : n;
      if (hi === lo) hi = lo + 1;
      var dens = function (share, i) { return numeric ? share / Math.max(b[i + 1] - b[i], (hi - lo) * 1e-4) : share; };
      var top = 1e-12;
      for (var k = 0; k < n; k++) top = Math.max(top, dens(ref[k] || 0, k), dens(cur[k] || 0, k));
      ctx.clearRect(0, 0, W, H); axes2d(ctx, W, H, pad);
      var span = W - 1.5 * pad, tall = H - 2 * pad;
      for (var i = 0; i < n; i++) {
        var x0 = pad + (numeric ? (b[i] - lo) / (hi - lo) : i / n) * span;
        var x1 = pad + (numeric ? (b[i + 1] - lo) / (hi - lo) : (i + 1) / n) * span;
        var bw = Math.max(1, x1 - x0), r = dens(ref[i] || 0, i) / top * tall, c = dens(cur[i] || 0, i) / top * tall;
        ctx.fillStyle = "rgba(24,73,169,.45)"; ctx.fillRect(x0, H - pad - r, bw, r);
        ctx.fillStyle = "rgba(180,35,24,.45)"; ctx.fillRect(x0, H - pad - c, bw, c);
      }
      ctx.fillStyle = "#1b2230"; ctx.font = "11px system-ui";
      if (numeric) { ctx.fillText(fmt(b[0]), pad, H - 10); ctx.fillText(fmt(b[b.length - 1]), W - pad - 40, H - 10); }
      ctx.fillText("reference", W - 150, 14); ctx.fillStyle = "rgba(24,73,169,.8)"; ctx.fillRect(W - 165, 6, 10, 10);
      ctx.fillStyle = "#1b2230"; ctx.fillText("window", W - 70, 14); ctx.fillStyle = "rgba(180,35,24,.8)"; ctx.fillRect(W - 85, 6, 10, 10);
      canvas.dataset.ready = "1";
    });
  }

  function selection() {
    var form = document.getElementById("compare-form");
    if (!form) return;
    function update() {
      var n = document.querySelectorAll('input[name="run"][form="compare-form"]:checked').length;
      var out = document.getElementById("selected-count");
      if (out) out.textContent = n ? n + " selected" : "tick runs to compare them";
      document.getElementById("compare-button").disabled = n < 1;
    }
    document.addEventListener("change", function (e) { if (e.target.name === "run") update(); });
    document.body.addEventListener("htmx:afterSwap", update);
    update();
  }

  function start() {
    document.querySelectorAll(".chart[data-runs]").forEach(seriesChart);
    monitoring(); scatter(); parallel(); histograms(); selection();
    document.body.addEventListener("htmx:afterSwap", function (e) { histograms(e.target); });
    var resize;
    window.addEventListener("resize", function () {
      clearTimeout(resize);
      resize = setTimeout(function () {
        document.querySelectorAll(".chart").forEach(function (el) { if (el._chart) el._chart.setSize({ width: width(el), height: el._chart.height }); });
      }, 150);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();
})();
