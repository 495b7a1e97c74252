/* rnnkit inspect: colours the text and draws the charts from the JSON data in #rnnkit-data.
   Charts are SVG written as markup; everything the page needs is in this file. */
"use strict";
(function () {
  var data = JSON.parse(document.getElementById("rnnkit-data").textContent);
  var tip = document.getElementById("tip");
  var NEG = [214, 39, 40], POS = [31, 119, 180];

  function byId(id) { return document.getElementById(id); }
  function esc(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;");
  }
  function fmt(v, digits) { return Number(v).toFixed(digits === undefined ? 3 : digits); }
  function sci(v) { return v === 0 ? "0" : Number(v).toExponential(2); }
  // v in [-1, 1]: red below zero, blue above, transparent at zero
  function colour(v) {
    var a = Math.min(1, Math.abs(v)), c = v < 0 ? NEG : POS;
    return "rgba(" + c[0] + "," + c[1] + "," + c[2] + "," + (0.8 * a).toFixed(3) + ")";
  }
  function shown(c) { return c === "\n" ? "\\n" : c === "\t" ? "\\t" : c === " " ? "\u2423" : c; }

  function place(ev) {
    var x = ev.clientX + 14, y = ev.clientY + 14;
    if (x + tip.offsetWidth > window.innerWidth - 8) x = ev.clientX - tip.offsetWidth - 14;
    if (y + tip.offsetHeight > window.innerHeight - 8) y = ev.clientY - tip.offsetHeight - 14;
    tip.style.left = Math.max(4, x) + "px";
    tip.style.top = Math.max(4, y) + "px";
  }
  function showTip(ev, html) { tip.innerHTML = html; tip.style.display = "block"; place(ev); }
  function hideTip() { tip.style.display = "none"; }
  function hover(container, selector, describe) {
    container.addEventListener("mouseover", function (ev) {
      var el = ev.target;
      if (el.matches && el.matches(selector)) showTip(ev, describe(el));
    });
    container.addEventListener("mousemove", function (ev) {
      if (tip.style.display === "block") place(ev);
    });
    container.addEventListener("mouseout", hideTip);
  }

  // -- SVG as markup -------------------------------------------------------------------------
  function svg(w, h, body) {
    return '<svg viewBox="0 0 ' + w + " " + h + '" width="' + w + '" height="' + h +
      '" role="img">' + body + "</svg>";
  }
  function seg(x1, y1, x2, y2, cls, extra) {
    return '<line class="' + cls + '" x1="' + fmt(x1, 1) + '" y1="' + fmt(y1, 1) + '" x2="' +
      fmt(x2, 1) + '" y2="' + fmt(y2, 1) + '"' + (extra || "") + "/>";
  }
  function label(x, y, s, anchor, extra) {
    return '<text x="' + fmt(x, 1) + '" y="' + fmt(y, 1) + '" text-anchor="' + (anchor || "middle") +
      '"' + (extra || "") + ">" + esc(s) + "</text>";
  }
  function poly(points, stroke, width, opacity, dash) {
    return '<polyline fill="none" stroke="' + stroke + '" stroke-width="' + width +
      '" stroke-opacity="' + opacity + '"' + (dash ? ' stroke-dasharray="' + dash + '"' : "") +
      ' stroke-linejoin="round" points="' + points.join(" ") + '"/>';
  }
  function dot(x, y, r, fill, stroke, title) {
    return '<circle cx="' + fmt(x, 1) + '" cy="' + fmt(y, 1) + '" r="' + r + '" fill="' + fill +
      '" stroke="' + stroke + '">' + (title ? "<title>" + esc(title) + "</title>" : "") + "</circle>";
  }
  function rgb(c, a) { return "rgba(" + c[0] + "," + c[1] + "," + c[2] + "," + a + ")"; }
  function chart(title, body) {
    return '<div class="chart"><div class="title">' + esc(title) + "</div>" + body + "</div>";
  }

  // -- the characters of a language model -------------------------------------------------------
  // a (T, H) matrix written as {shape, float32: base64 of little-endian float32} -> T rows
  function unpack(packed) {
    var bytes = atob(packed.float32), buffer = new ArrayBuffer(bytes.length);
    var octets = new Uint8Array(buffer);
    for (var i = 0; i < bytes.length; i++) octets[i] = bytes.charCodeAt(i);
    var data = new DataView(buffer), steps = packed.shape[0], units = packed.shape[1], rows = [];
    for (var t = 0; t < steps; t++) {
      var row = new Float32Array(units);
      for (var u = 0; u < units; u++) row[u] = data.getFloat32(4 * (t * units + u), true);
      rows.push(row);
    }
    return rows;
  }

  function characters(view) {
    for (var name in view.states) view.states[name] = unpack(view.states[name]);
    var spans = byId("text").querySelectorAll(".ch");
    var picker = byId("unit"), which = byId("state");
    var state = "h", unit = view.unit;
    function largest(name, u) {
      var rows = view.states[name], m = 0;
      for (var t = 0; t < rows.length; t++) m = Math.max(m, Math.abs(rows[t][u]));
      return m || 1;
    }
    function fill() {
      var ranks = view.ranks[state], html = "";
      for (var k = 0; k < ranks.length; k++) {
        var r = ranks[k];
        html += '<option value="' + r.unit + '">#' + (k + 1) + " \u00b7 unit " + r.unit + " \u00b7 " +
          esc(r.feature) + " r = " + fmt(r.r, 2) + " \u00b7 variance " + fmt(r.variance, 3) +
          "</option>";
      }
      picker.innerHTML = html;
      picker.value = String(unit);
    }
    function paint() {
      var rows = view.states[state], scale = state === "h" ? 1 : largest(state, unit);
      for (var t = 0; t < spans.length; t++) {
        spans[t].style.backgroundColor = colour(rows[t][unit] / scale);
      }
      byId("scale").textContent = state === "h" ? "h from \u22121 to +1" :
        "c / " + fmt(scale, 3) + " (the unit's largest |c| here)";
    }
    picker.addEventListener("change", function () { unit = Number(picker.value); paint(); });
    if (which) {
      which.addEventListener("change", function () { state = which.value; fill(); paint(); });
    }
    hover(byId("text"), ".ch", function (el) {
      var t = Number(el.getAttribute("data-t")), top = view.top[t];
      var html = "<b>" + esc(shown(view.chars[t])) + "</b> &nbsp; " + state + "[" + unit + "] = " +
        fmt(view.states[state][t][unit], 4) + "<br>next character:<table>";
      for (var k = 0; k < top.length; k++) {
        html += '<tr><td class="c">' + esc(shown(top[k][0])) + '</td><td><div class="bar" style="width:' +
          fmt(80 * top[k][1], 1) + 'px"></div></td><td>' + fmt(top[k][1], 3) + "</td></tr>";
      }
      return html + "</table>";
    });
    fill();
    paint();
    gates(view.gates);
  }

  function gates(list) {
    var box = byId("gate-charts");
    if (!box) return;
    var html = "";
    for (var g = 0; g < list.length; g++) {
      var item = list[g], name = "layer " + item.layer + ", gate " + item.gate;
      html += chart(name + ": each unit", saturationScatter(item)) +
        chart(name + ": units by time saturated", saturationHistogram(item));
    }
    box.innerHTML = html;
  }

  function saturationScatter(item) {
    var w = 240, h = 230, m = 48, size = w - m - 12;
    function X(v) { return m + v * size; }
    function Y(v) { return h - m + 8 - v * size; }
    var body = "";
    for (var k = 0; k <= 4; k++) {
      var v = k / 4;
      body += seg(X(v), Y(0), X(v), Y(1), "grid") + seg(X(0), Y(v), X(1), Y(v), "grid");
      body += label(X(v), Y(0) + 14, fmt(v, 2)) + label(X(0) - 5, Y(v) + 4, fmt(v, 2), "end");
    }
    body += seg(X(0), Y(1), X(1), Y(0), "axis", ' stroke-dasharray="4 3"');
    body += seg(X(0), Y(0), X(1), Y(0), "axis") + seg(X(0), Y(0), X(0), Y(1), "axis");
    for (var u = 0; u < item.left.length; u++) {
      body += dot(X(item.left[u]), Y(item.right[u]), 3, rgb(POS, 0.55), rgb(POS, 0.9),
        "unit " + u + ": left " + fmt(item.left[u], 2) + ", right " + fmt(item.right[u], 2));
    }
    body += label(X(0.5), h - 4, "fraction left-saturated (< 0.1)");
    body += label(12, Y(0.5), "fraction right-saturated (> 0.9)", "middle",
      ' transform="rotate(-90 12 ' + fmt(Y(0.5), 1) + ')"');
    return svg(w, h, body);
  }

  function saturationHistogram(item) {
    var w = 230, h = 230, m = 38, bins = 10, counts = [], most = 0, k;
    for (k = 0; k < bins; k++) counts.push(0);
    for (var u = 0; u < item.left.length; u++) {
      var f = item.left[u] + item.right[u];
      counts[Math.min(bins - 1, Math.floor(f * bins))] += 1;
    }
    for (k = 0; k < bins; k++) most = Math.max(most, counts[k]);
    var width = (w - m - 12) / bins, height = h - m - 16, body = "";
    for (k = 0; k < bins; k++) {
      var bar = most ? height * counts[k] / most : 0;
      body += '<rect x="' + fmt(m + k * width + 1, 1) + '" y="' + fmt(h - m + 8 - bar, 1) +
        '" width="' + fmt(width - 2, 1) + '" height="' + fmt(bar, 1) + '" fill="' + rgb(POS, 0.7) +
        '"><title>' + counts[k] + " units saturated " + fmt(k / bins, 1) + "\u2013" +
        fmt((k + 1) / bins, 1) + " of the time</title></rect>";
    }
    body += seg(m, h - m + 8, w - 12, h - m + 8, "axis") + seg(m, h - m + 8, m, 8, "axis");
    body += label(m, h - m + 22, "0") + label(w - 12, h - m + 22, "1");
    body += label(m - 5, 14, String(most), "end") + label(m - 5, h - m + 8, "0", "end");
    body += label((m + w - 12) / 2, h - 4, "fraction of steps saturated");
    body += label(12, (h - m) / 2, "units", "middle", ' transform="rotate(-90 12 ' +
      fmt((h - m) / 2, 1) + ')"');
    return svg(w, h, body);
  }

  // -- gradient flow through time -------------------------------------------------------------
  function gradients(view) {
    var series = [
      { name: "trained", values: view.trained, colour: rgb(POS, 1), dash: "" },
      { name: "at initialisation", values: view.init, colour: rgb(NEG, 1), dash: "6 4" }
    ];
    var lo = Infinity, hi = -Infinity, steps = 0, s, t;
    for (s = 0; s < series.length; s++) {
      var values = series[s].values;
      steps = Math.max(steps, values.length);
      for (t = 0; t < values.length; t++) {
        if (values[t] > 0 && isFinite(values[t])) {
          lo = Math.min(lo, Math.log10(values[t]));
          hi = Math.max(hi, Math.log10(values[t]));
        }
      }
    }
    var box = byId("gradient-chart");
    if (!isFinite(lo)) { box.textContent = "No step of the loss reached the hidden state."; return; }
    lo = Math.floor(lo); hi = Math.ceil(hi);
    if (hi === lo) hi = lo + 1;
    var w = 720, h = 320, left = 64, right = 16, top = 14, bottom = 44, body = "";
    function X(i) { return left + (steps > 1 ? i / (steps - 1) : 0.5) * (w - left - right); }
    function Y(v) { return top + (hi - v) / (hi - lo) * (h - top - bottom); }
    var every = Math.max(1, Math.ceil((hi - lo) / 8));
    for (var p = lo; p <= hi; p += every) {
      body += seg(left, Y(p), w - right, Y(p), "grid") + label(left - 6, Y(p) + 4, "1e" + p, "end");
    }
    var tick = Math.max(1, Math.ceil(steps / 10));
    for (t = 0; t < steps; t += tick) body += label(X(t), h - bottom + 16, String(t));
    body += seg(left, h - bottom, w - right, h - bottom, "axis") + seg(left, top, left, h - bottom, "axis");
    for (s = 0; s < series.length; s++) {
      var run = [], vals = series[s].values;
      for (t = 0; t < vals.length; t++) {
        if (vals[t] > 0 && isFinite(vals[t])) {
          run.push(fmt(X(t), 1) + "," + fmt(Y(Math.log10(vals[t])), 1));
        } else if (run.length) { body += poly(run, series[s].colour, 2, 0.9, series[s].dash); run = []; }
      }
      if (run.length) body += poly(run, series[s].colour, 2, 0.9, series[s].dash);
      body += seg(w - 190, top + 10 + 18 * s, w - 160, top + 10 + 18 * s, "legend",
        ' stroke="' + series[s].colour + '" stroke-width="2"' +
        (series[s].dash ? ' stroke-dasharray="' + series[s].dash + '"' : ""));
      body += label(w - 154, top + 14 + 18 * s, series[s].name, "start");
    }
    body += label((left + w - right) / 2, h - 6, "time step t");
    body += label(14, (top + h - bottom) / 2, "\u2016dL/dh_t\u2016 (log scale)", "middle",
      ' transform="rotate(-90 14 ' + fmt((top + h - bottom) / 2, 1) + ')"');
    box.innerHTML = svg(w, h, body);
    box.setAttribute("data-steps", String(steps));
  }

  // -- a classifier's token contributions -------------------------------------------------------
  function tokens(view) {
    var examples = byId("examples").querySelectorAll(".example");
    for (var e = 0; e < examples.length; e++) {
      var values = view.examples[e].contributions, m = 0, k;
      for (k = 0; k < values.length; k++) m = Math.max(m, Math.abs(values[k]));
      var spans = examples[e].querySelectorAll(".tok");
      for (k = 0; k < spans.length; k++) spans[k].style.backgroundColor = colour(values[k] / (m || 1));
    }
    hover(byId("examples"), ".tok", function (el) {
      var e = Number(el.getAttribute("data-e")), k = Number(el.getAttribute("data-k"));
      var ex = view.examples[e];
      return "<b>" + esc(ex.tokens[k]) + "</b><br>contribution to \u201c" + esc(ex.predicted) +
        "\u201d: " + fmt(ex.contributions[k], 4);
    });
  }

  // -- hidden-state paths, PCA ------------------------------------------------------------------
  function paths(view) {
    var lo = [Infinity, Infinity], hi = [-Infinity, -Infinity], p, t, d;
    for (p = 0; p < view.paths.length; p++) {
      for (t = 0; t < view.paths[p].points.length; t++) {
        for (d = 0; d < 2; d++) {
          lo[d] = Math.min(lo[d], view.paths[p].points[t][d]);
          hi[d] = Math.max(hi[d], view.paths[p].points[t][d]);
        }
      }
    }
    for (d = 0; d < 2; d++) {
      if (!(hi[d] > lo[d])) { lo[d] -= 1; hi[d] += 1; }
      var pad = 0.05 * (hi[d] - lo[d]); lo[d] -= pad; hi[d] += pad;
    }
    var w = 480, h = 480, m = 40, body = "";
    function X(v) { return m + (v - lo[0]) / (hi[0] - lo[0]) * (w - m - 10); }
    function Y(v) { return h - m - (v - lo[1]) / (hi[1] - lo[1]) * (h - m - 10); }
    body += seg(m, h - m, w - 10, h - m, "axis") + seg(m, 10, m, h - m, "axis");
    var colours = [NEG, POS];
    for (p = 0; p < view.paths.length; p++) {
      var path = view.paths[p], c = colours[path.label % 2], pts = [];
      for (t = 0; t < path.points.length; t++) pts.push(fmt(X(path.points[t][0]), 1) + "," + fmt(Y(path.points[t][1]), 1));
      body += poly(pts, rgb(c, 1), 1.5, 0.55, "");
      var first = path.points[0], last = path.points[path.points.length - 1];
      body += dot(X(first[0]), Y(first[1]), 3, "#ffffff", rgb(c, 1), "start");
      body += dot(X(last[0]), Y(last[1]), 4, rgb(c, 1), rgb(c, 1),
        view.names[path.label] + ", predicted " + view.names[path.predicted]);
    }
    for (d = 0; d < 2; d++) {
      body += seg(w - 170, 20 + 18 * d, w - 140, 20 + 18 * d, "legend", ' stroke="' + rgb(colours[d], 1) + '" stroke-width="2"');
      body += label(w - 134, 24 + 18 * d, view.names[d], "start");
    }
    body += label((m + w) / 2, h - 8, "PC1 (" + fmt(100 * view.explained[0], 1) + "% of the variance)");
    body += label(14, (h - m) / 2, "PC2 (" + fmt(100 * view.explained[1], 1) + "%)", "middle",
      ' transform="rotate(-90 14 ' + fmt((h - m) / 2, 1) + ')"');
    byId("path-chart").innerHTML = svg(w, h, body);
  }

  if (data.characters) characters(data.characters);
  if (data.gradients) gradients(data.gradients);
  if (data.tokens) tokens(data.tokens);
  if (data.paths) paths(data.paths);
  document.body.setAttribute("data-ready", "1");
})();
