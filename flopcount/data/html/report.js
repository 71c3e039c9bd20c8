// flopcount HTML report: lays out the JSON that flopcount computed (no number is computed here beyond
// shares and positions). Offline: no request, no library; SVG drawn with the DOM API; text set with
// textContent only, never parsed as HTML.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("flopcount-data").textContent);
  const SVG = "http://www.w3.org/2000/svg";
  const PALETTE = {
    conv: "#3567b5", linear: "#6a4fb3", matmul: "#8e5db8", attention: "#b34f8f", norm: "#4f9a94",
    activation: "#7fb069", pool: "#d9b44a", resample: "#c98b3a", elementwise: "#d9822b", reduction: "#a8763e",
    embedding: "#5e8fd6", movement: "#9aa3ae", none: "#c3c9d1", uncounted: "#d64545",
  };

  // ---------------------------------------------------------------------------------------- formats
  const fmtInt = (n) => Math.round(n).toLocaleString("en-US");
  function human(n) {
    const a = Math.abs(n), sign = n < 0 ? "-" : "";
    for (const [size, unit] of [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "K"]]) {
      if (a >= size) return sign + (a / size).toFixed(2) + unit;
    }
    return sign + String(Math.round(a * 100) / 100);
  }
  function bytes(n) {
    for (const [size, unit] of [[2 ** 40, "TiB"], [2 ** 30, "GiB"], [2 ** 20, "MiB"], [2 ** 10, "KiB"]]) {
      if (n >= size) return (n / size).toFixed(2) + " " + unit;
    }
    return n + " B";
  }
  const tick = (v) => (v >= 1000 ? human(v).replace(".00", "") : String(v));
  const ms = (s) => (s * 1e3 < 1 ? (s * 1e6).toFixed(1) + " µs" : (s * 1e3).toFixed(3) + " ms");
  const pct = (x) => (100 * x).toFixed(x < 0.001 ? 3 : 2) + "%";
  const TIMES = ["latency_ms", "predicted_ms"];
  function metricText(key, v) {
    if (TIMES.includes(key)) return v.toFixed(3) + " ms";
    if (key === "activation_bytes") return fmtInt(v) + " B (" + bytes(v) + ")";
    return fmtInt(v) + " (" + human(v) + ")";
  }
  function metricShort(key, v) {
    if (TIMES.includes(key)) return v.toFixed(3) + " ms";
    if (key === "activation_bytes") return bytes(v);
    return human(v);
  }
  function factor(r) {
    if (r === null || r === undefined) return "–";
    if (r === 0) return "0 (none left)";
    const digits = r >= 1000 || r <= 0.001 ? 5 : 4;
    const head = r.toPrecision(digits).replace(/\.?0+$/, "");
    if (Math.abs(r - 1) < 5e-5) return head + " (same)";
    return head + (r > 1 ? " (" + r.toFixed(2) + "x more)" : " (" + (1 / r).toFixed(2) + "x fewer)");
  }

  // ---------------------------------------------------------------------------------------- DOM helpers
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function svgEl(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function newSvg(host, width, height, label) {
    host.textContent = "";
    const s = svgEl("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": label });
    host.appendChild(s);
    return s;
  }
  function buttons(host, options, current, onPick) {
    host.textContent = "";
    for (const o of options) {
      const b = el("button", { type: "button", "data-key": o.key, "aria-pressed": String(o.key === current), title: o.meaning || "" }, o.label);
      b.addEventListener("click", () => onPick(o.key));
      host.appendChild(b);
    }
  }
  // One tooltip for every element with data-tip.
  const tip = document.getElementById("tip");
  document.addEventListener("mousemove", (ev) => {
    const target = ev.target.closest ? ev.target.closest("[data-tip]") : null;
    if (!target) { tip.hidden = true; return; }
    tip.textContent = target.getAttribute("data-tip");
    tip.hidden = false;
    const x = Math.min(ev.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
    const y = Math.min(ev.clientY + 14, window.innerHeight - tip.offsetHeight - 8);
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  });

  // ---------------------------------------------------------------------------------------- header
  function header() {
    const t = DATA.totals;
    document.getElementById("title").textContent = DATA.model;
    document.getElementById("subtitle").textContent =
      `input ${DATA.inputs.join(", ")} · analysed on ${DATA.device} · flopcount report`;
    const cards = document.getElementById("totals");
    const add = (metric, name, value, sub) => {
      const card = el("div", { class: "card", "data-metric": metric });
      card.appendChild(el("div", { class: "name" }, name));
      card.appendChild(el("div", { class: "value", "data-value": String(value) }, fmtInt(value)));
      card.appendChild(el("div", { class: "sub" }, sub));
      cards.appendChild(card);
    };
    add("params", "params", t.params, `${human(t.params)} · trainable ${fmtInt(t.trainable_params)}`);
    add("paper_flops", "paper FLOPs", t.paper_flops, `${human(t.paper_flops)} · conv + linear + matmul + attention`);
    add("flops", "all-ops FLOPs", t.flops, `${human(t.flops)} · + norms, activations, pools, element-wise`);
    add("mac", "MAC (elements)", t.mac, `${human(t.mac)} · ${bytes(t.mac_bytes)} read + written`);
    const card = (metric, name, value, shown, sub) => {
      const c = el("div", { class: "card", "data-metric": metric });
      c.appendChild(el("div", { class: "name" }, name));
      c.appendChild(el("div", { class: "value", "data-value": String(value) }, shown));
      c.appendChild(el("div", { class: "sub" }, sub));
      cards.appendChild(c);
    };
    const M = DATA.memory;
    if (M) {
      const where = M.peak_name === null ? "" : ` at ${M.peak_name} (${M.peak_op})`;
      const weights = M.param_bytes + M.buffer_bytes + M.optimizer_state_bytes;
      card("peak_memory", "peak memory", M.peak_memory_bytes, bytes(M.peak_memory_bytes),
        `activations ${bytes(M.peak_activation_bytes)}${where} + weights ${bytes(weights)}`);
    }
    const P = DATA.prediction;
    if (P) {
      card("predicted_latency", "predicted latency", P.total_ms, P.total_ms.toFixed(3) + " ms",
        `calibrated profile ${P.profile}, ${P.runtime}, ${P.threads} thread${P.threads === 1 ? "" : "s"}`);
    }
    if (DATA.roofline) {
      card("roofline_time", P ? "roofline time" : "latency (roofline time)", DATA.roofline.total_time_s, ms(DATA.roofline.total_time_s),
        P ? `max(compute, memory) per call, ${DATA.roofline.device.name}` : `${DATA.latency_note}; ${DATA.roofline.device.name}`);
    }
    const status = document.getElementById("status");
    if (DATA.complete) {
      status.className = "complete";
      status.textContent = "complete: every op had a formula, the totals are exact";
    } else {
      status.className = "partial";
      const missing = Object.entries(DATA.uncounted).map(([op, n]) => `${op} x${n}`).join(", ");
      status.textContent = `lower bound: no formula for ${missing}`;
    }
    status.setAttribute("data-complete", String(DATA.complete));
    const fromOps = Object.entries(DATA.counted_from_ops);
    if (fromOps.length) {
      status.appendChild(el("span", { class: "hint" },
        " · counted from their ops: " + fromOps.map(([p, typ]) => `${p} (${typ})`).join(", ")));
    }
    document.getElementById("conventions").textContent =
      "FLOPs are multiply-adds (one fused multiply-add = 1 FLOP). MAC is memory access cost: elements read + written (ShuffleNet V2), never multiply-accumulates.";
  }

  // ---------------------------------------------------------------------------------------- module tree
  // The view can be linked: report.html#metric=mac&layout=icicle
  const wanted = new URLSearchParams(location.hash.slice(1));
  const tree = {
    metric: DATA.metrics.some((m) => m.key === wanted.get("metric")) ? wanted.get("metric") : DATA.default_metric,
    layout: wanted.get("layout") === "icicle" ? "icicle" : "treemap",
    focus: null,
  };
  (function index(node, parent) {
    node.parent = parent;
    for (const c of node.children || []) index(c, node);
  })(DATA.tree, null);
  tree.focus = DATA.tree;
  const key = (n) => n.key || "(root)";
  const label = (n) => (n.key === "" ? DATA.model : n.name);

  function nodeTip(n) {
    const lines = [`${key(n)}  ${n.type || ""}`];
    const total = DATA.tree.values;
    for (const m of DATA.metrics) {
      const v = n.values[m.key];
      lines.push(`${m.label}: ${metricText(m.key, v)}${total[m.key] ? "  " + pct(v / total[m.key]) : ""}`);
    }
    return lines.join("\n");
  }
  function nodeText(n) {
    const typ = n.type && n.type !== n.name ? " " + n.type : "";
    return `${label(n)}${typ}  ${metricShort(tree.metric, n.values[tree.metric])}`;
  }
  function nodeColor(n, depth) {
    if (n.category) return PALETTE[n.category] || "#9aa3ae";  // a layer call (its children hold only params)
    const l = Math.max(70, 95 - depth * 5);
    return `hsl(215, 18%, ${l}%)`;
  }
  function visibleChildren(n) {
    return (n.children || []).filter((c) => c.values[tree.metric] > 0)
      .sort((a, b) => b.values[tree.metric] - a.values[tree.metric]);
  }
  function drawNode(parent, n, x, y, w, h, depth, text) {
    const g = svgEl("g", { class: "node", "data-path": key(n), "data-value": String(n.values[tree.metric]), "data-tip": nodeTip(n) });
    g.appendChild(svgEl("rect", { x: x.toFixed(2), y: y.toFixed(2), width: Math.max(0, w).toFixed(2), height: Math.max(0, h).toFixed(2), fill: nodeColor(n, depth) }));
    if (text && w > 44 && h > 13) {
      const maxChars = Math.floor((w - 6) / 6.2);
      let s = text.length > maxChars ? text.slice(0, Math.max(1, maxChars - 1)) + "…" : text;
      const light = n.category && !["none", "movement", "pool", "activation"].includes(n.category);
      g.appendChild(svgEl("text", { x: (x + 4).toFixed(2), y: (y + 11).toFixed(2), fill: light ? "#fff" : "#1d2430" }, s));
    }
    g.addEventListener("click", (ev) => {
      ev.stopPropagation();
      if (n.children && n !== tree.focus) { tree.focus = n; drawTree(); }
    });
    parent.appendChild(g);
  }
  function squarify(items, x, y, w, h) {
    const total = items.reduce((s, it) => s + it.v, 0);
    const scale = (w * h) / total;
    let rest = items.map((it) => ({ node: it.node, a: it.v * scale }));
    const out = [];
    const worst = (row, side) => {
      const s = row.reduce((t, r) => t + r.a, 0);
      const mx = Math.max(...row.map((r) => r.a)), mn = Math.min(...row.map((r) => r.a));
      return Math.max((side * side * mx) / (s * s), (s * s) / (side * side * mn));
    };
    while (rest.length) {
      const side = Math.min(w, h);
      let row = [rest.shift()], best = worst(row, side);
      while (rest.length) {
        const score = worst(row.concat([rest[0]]), side);
        if (score > best) break;
        row.push(rest.shift());
        best = score;
      }
      const area = row.reduce((t, r) => t + r.a, 0);
      if (w >= h) {
        const cw = area / h;
        let cy = y;
        for (const r of row) { const rh = r.a / cw; out.push({ node: r.node, x, y: cy, w: cw, h: rh }); cy += rh; }
        x += cw; w -= cw;
      } else {
        const rh = area / w;
        let cx = x;
        for (const r of row) { const rw = r.a / rh; out.push({ node: r.node, x: cx, y, w: rw, h: rh }); cx += rw; }
        y += rh; h -= rh;
      }
    }
    return out;
  }
  function treemap(svg, n, x, y, w, h, depth) {
    const kids = visibleChildren(n);
    const header = kids.length && h > 36 && w > 60 ? 15 : 0;
    drawNode(svg, n, x, y, w, h, depth, nodeText(n));
    if (!kids.length || w < 14 || h < 14) return;
    const pad = depth === 0 ? 0 : 2;
    const inner = [x + pad, y + header + (header ? 0 : pad), w - 2 * pad, h - header - (header ? pad : 2 * pad)];
    if (inner[2] < 4 || inner[3] < 4) return;
    for (const r of squarify(kids.map((c) => ({ node: c, v: c.values[tree.metric] })), ...inner)) {
      treemap(svg, r.node, r.x, r.y, r.w, r.h, depth + 1);
    }
  }
  function icicle(svg, n, x, y, w, rowH, depth) {
    drawNode(svg, n, x, y, w, rowH - 1, depth, nodeText(n));
    const total = n.values[tree.metric];
    let cx = x;
    for (const c of (n.children || []).filter((c) => c.values[tree.metric] > 0)) {
      const cw = (w * c.values[tree.metric]) / total;
      if (cw >= 0.5) icicle(svg, c, cx, y + rowH, cw, rowH, depth + 1);
      cx += cw;
    }
  }
  function height(n) {
    return 1 + Math.max(0, ...(n.children || []).map(height));
  }
  function drawTree() {
    buttons(document.getElementById("metric-buttons"), DATA.metrics, tree.metric, (k) => { tree.metric = k; drawTree(); });
    buttons(document.getElementById("layout-buttons"),
      [{ key: "treemap", label: "treemap" }, { key: "icicle", label: "icicle" }], tree.layout,
      (k) => { tree.layout = k; drawTree(); });
    const crumbs = document.getElementById("crumbs");
    crumbs.textContent = "";
    const chain = [];
    for (let n = tree.focus; n; n = n.parent) chain.unshift(n);
    chain.forEach((n, i) => {
      if (i) crumbs.appendChild(document.createTextNode(" › "));
      const a = el("a", {}, label(n));
      a.addEventListener("click", () => { tree.focus = n; drawTree(); });
      crumbs.appendChild(a);
    });
    const chosen = DATA.metrics.find((m) => m.key === tree.metric);
    const note = document.getElementById("metric-note");
    note.textContent = `${chosen.label}: ${chosen.meaning}.`;
    note.setAttribute("data-metric", chosen.key);
    const host = document.getElementById("tree");
    const focus = tree.focus;
    if (!(focus.values[tree.metric] > 0)) {
      host.textContent = `no ${tree.metric} in ${label(focus)}`;
      return;
    }
    if (tree.layout === "treemap") {
      const svg = newSvg(host, 1180, 560, "module treemap");
      treemap(svg, focus, 0, 0, 1180, 560, 0);
    } else {
      const rowH = 24, rows = height(focus);
      const svg = newSvg(host, 1180, rows * rowH, "module icicle");
      icicle(svg, focus, 0, 0, 1180, rowH, 0);
    }
    const legend = document.getElementById("legend");
    legend.textContent = "";
    const seen = new Set(DATA.layers.map((l) => l.category));
    for (const c of DATA.categories.filter((c) => seen.has(c))) {
      const item = el("span");
      const swatch = el("i");
      swatch.style.background = PALETTE[c];
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(c));
      legend.appendChild(item);
    }
  }

  // ---------------------------------------------------------------------------------------- layers
  function drawLayers() {
    const t = DATA.totals;
    const layers = DATA.layers.filter((l) => l.flops > 0 || l.mac > 0);
    const W = 1180, H = 330, left = 54, right = 10, top = 20, bottom = 40;
    const svg = newSvg(document.getElementById("layers"), W, H, "per-layer FLOPs and MAC shares");
    const plotW = W - left - right, half = (H - top - bottom) / 2, axis = top + half;
    const share = (l) => [t.flops ? l.flops / t.flops : 0, t.mac ? l.mac / t.mac : 0];
    const maxShare = Math.max(1e-12, ...layers.map((l) => Math.max(...share(l))));
    const bw = plotW / Math.max(1, layers.length);
    // Stage boundaries: where the first two components of the path change (features.3 -> features.4).
    const stage = (name) => name.split(":")[0].split(".").slice(0, 2).join(".");
    const grid = svgEl("g", { class: "grid" });
    const labels = svgEl("g", { class: "axis" });
    let last = null, lastLabelX = -1e9;
    layers.forEach((l, i) => {
      const s = stage(l.name);
      if (s !== last) {
        const x = left + i * bw;
        grid.appendChild(svgEl("line", { x1: x, x2: x, y1: top, y2: H - bottom }));
        if (x - lastLabelX > 72) {
          labels.appendChild(svgEl("text", { x: x + 2, y: H - bottom + 14 }, s || "(root)"));
          lastLabelX = x;
        }
        last = s;
      }
    });
    svg.appendChild(grid);
    svg.appendChild(labels);
    const scale = half / maxShare;
    layers.forEach((l, i) => {
      const [f, m] = share(l);
      const x = (left + i * bw).toFixed(2), w = Math.max(0.6, bw - (bw > 3 ? 1 : 0)).toFixed(2);
      const tipText = `${l.name}  ${l.op}  → ${l.output}\nFLOPs ${fmtInt(l.flops)}  ${pct(f)} of all\nMAC ${fmtInt(l.mac)}  ${pct(m)} of all` + (l.params ? `\nparams ${fmtInt(l.params)}` : "");
      svg.appendChild(svgEl("rect", { class: "bar-flops", x, y: (axis - f * scale).toFixed(2), width: w, height: (f * scale).toFixed(2), "data-index": l.index, "data-tip": tipText }));
      svg.appendChild(svgEl("rect", { class: "bar-mac", x, y: axis.toFixed(2), width: w, height: (m * scale).toFixed(2), "data-index": l.index, "data-tip": tipText }));
    });
    const ax = svgEl("g", { class: "axis" });
    ax.appendChild(svgEl("line", { x1: left, x2: W - right, y1: axis, y2: axis }));
    ax.appendChild(svgEl("text", { x: 4, y: top + 10 }, pct(maxShare)));
    ax.appendChild(svgEl("text", { x: 4, y: H - bottom }, pct(maxShare)));
    ax.appendChild(svgEl("text", { x: 4, y: axis - 6, fill: "#3567b5" }, "FLOPs ▲"));
    ax.appendChild(svgEl("text", { x: 4, y: axis + 14, fill: "#d9822b" }, "MAC ▼"));
    ax.appendChild(svgEl("text", { x: left, y: H - 6 }, `${layers.length} layer calls with a cost, in execution order (of ${DATA.layers.length})`));
    svg.appendChild(ax);
  }

  // ---------------------------------------------------------------------------------------- roofline
  function drawRoofline() {
    const note = document.getElementById("roofline-note");
    const R = DATA.roofline;
    if (!R) { note.textContent = DATA.roofline_note; return; }
    const dev = R.device;
    const pts = R.points.filter((p) => p.flop > 0 && p.bytes > 0);
    const byBound = R.time_by_bound_s;
    note.textContent = `${dev.name} (${dev.description}): peak ${human(dev.peak_flops)}FLOP/s, bandwidth ${human(dev.bandwidth)}B/s, ridge ${dev.ridge.toFixed(1)} FLOP/B. ` +
      `Roofline time ${ms(R.total_time_s)} (memory-bound layers ${ms(byBound.memory)}, compute-bound ${ms(byBound.compute)}). ` +
      `FLOP here = 2 per multiply-add, as peaks are quoted; bytes = MAC in bytes. ` +
      `${R.points.length - pts.length} calls that only move memory (no FLOPs) are not drawn on the log axes.`;
    const W = 1180, H = 440, left = 70, right = 20, top = 16, bottom = 46;
    const svg = newSvg(document.getElementById("roofline"), W, H, "roofline");
    const perf = (p) => p.flop / p.time_s;
    const xs = pts.map((p) => p.intensity).concat([dev.ridge]);
    const ys = pts.map(perf).concat([dev.peak_flops]);
    const x0 = Math.floor(Math.log10(Math.min(...xs) / 1.5)), x1 = Math.ceil(Math.log10(Math.max(...xs) * 1.5));
    const y0 = Math.floor(Math.log10(Math.min(...ys) / 1.5)), y1 = Math.ceil(Math.log10(Math.max(...ys) * 1.2));
    const X = (v) => left + ((Math.log10(v) - x0) / (x1 - x0)) * (W - left - right);
    const Y = (v) => H - bottom - ((Math.log10(v) - y0) / (y1 - y0)) * (H - top - bottom);
    const grid = svgEl("g", { class: "grid" }), axis = svgEl("g", { class: "axis" });
    for (let k = x0; k <= x1; k++) {
      grid.appendChild(svgEl("line", { x1: X(10 ** k), x2: X(10 ** k), y1: top, y2: H - bottom }));
      axis.appendChild(svgEl("text", { x: X(10 ** k) - 8, y: H - bottom + 14 }, tick(10 ** k)));
    }
    for (let k = y0; k <= y1; k++) {
      grid.appendChild(svgEl("line", { x1: left, x2: W - right, y1: Y(10 ** k), y2: Y(10 ** k) }));
      axis.appendChild(svgEl("text", { x: 8, y: Y(10 ** k) + 4 }, tick(10 ** k) + "FLOP/s"));
    }
    axis.appendChild(svgEl("text", { x: left, y: H - 8 }, "arithmetic intensity: FLOP (2 per multiply-add) per byte of MAC"));
    svg.appendChild(grid);
    svg.appendChild(axis);
    const lo = 10 ** x0, hi = 10 ** x1;
    const roof = [lo, dev.ridge, hi].map((v) => `${X(v).toFixed(1)},${Y(Math.min(dev.peak_flops, v * dev.bandwidth)).toFixed(1)}`);
    svg.appendChild(svgEl("polyline", { class: "roof", points: roof.join(" ") }));
    svg.appendChild(svgEl("text", { x: X(dev.ridge) + 6, y: Y(dev.peak_flops) - 6 }, `ridge ${dev.ridge.toFixed(1)} FLOP/B`));
    const longest = Math.max(...pts.map((p) => p.time_s));
    const total = R.total_time_s;
    for (const p of pts.slice().sort((a, b) => b.time_s - a.time_s)) {
      svg.appendChild(svgEl("circle", {
        class: "point", cx: X(p.intensity).toFixed(2), cy: Y(perf(p)).toFixed(2), r: (2.5 + 9 * Math.sqrt(p.time_s / longest)).toFixed(2),
        fill: PALETTE[p.category] || "#888", "data-index": p.index,
        "data-tip": `${p.name}  ${p.op}\n${p.bound} bound, intensity ${p.intensity.toFixed(2)} FLOP/B\nroofline time ${ms(p.time_s)} (${pct(p.time_s / total)} of the model)\nFLOP ${fmtInt(p.flop)}, bytes ${fmtInt(p.bytes)}`,
      }));
    }
  }

  // ---------------------------------------------------------------------------------------- before / after
  const METRIC_LABELS = { params: "params", flops: "all-ops FLOPs", paper_flops: "paper FLOPs", mac: "MAC (elements)", mac_bytes: "MAC (bytes)", latency_ms: "latency (ms)", memory_bytes: "memory (bytes)" };
  const diffState = { metric: null };
  function drawDiff() {
    const D = DATA.diff;
    if (!D) return;
    document.getElementById("diff-section").hidden = false;
    const m = D.matches;
    document.getElementById("diff-note").textContent =
      `A (before): ${D.a.label} [${D.a.source}]  →  B (after): ${D.b.label} [${D.b.source}]. ` +
      `Modules: ${m.path} matched by path, ${m.structure} by structure, ${m.only_a} only in A, ${m.only_b} only in B. Ratio = B / A.`;
    const table = el("table", { id: "diff-totals-table" });
    const head = el("tr");
    for (const h of ["total", "A", "B", "B − A", "B / A"]) head.appendChild(el("th", {}, h));
    table.appendChild(head);
    for (const [metric, v] of Object.entries(D.totals)) {
      const tr = el("tr", { "data-metric": metric });
      tr.appendChild(el("td", {}, METRIC_LABELS[metric] || metric));
      tr.appendChild(el("td", { "data-value": String(v.a) }, fmtInt(v.a)));
      tr.appendChild(el("td", { "data-value": String(v.b) }, fmtInt(v.b)));
      tr.appendChild(el("td", { class: v.delta > 0 ? "up" : v.delta < 0 ? "down" : "" }, (v.delta > 0 ? "+" : "") + fmtInt(v.delta)));
      tr.appendChild(el("td", { class: "ratio", "data-value": String(v.ratio) }, factor(v.ratio)));
      table.appendChild(tr);
    }
    const host = document.getElementById("diff-totals");
    host.textContent = "";
    host.appendChild(table);
    const metrics = Object.keys(D.modules.length ? D.modules[0] : {}).filter((k) => METRIC_LABELS[k]);
    if (!metrics.length) return;
    diffState.metric = diffState.metric || metrics[0];
    const draw = () => {
      buttons(document.getElementById("diff-buttons"), metrics.map((k) => ({ key: k, label: METRIC_LABELS[k] })), diffState.metric,
        (k) => { diffState.metric = k; draw(); });
      const k = diffState.metric;
      const rows = D.modules.filter((r) => r[k].delta !== 0).sort((a, b) => Math.abs(b[k].delta) - Math.abs(a[k].delta)).slice(0, 25);
      const W = 1180, rowH = 18, left = 420, H = Math.max(1, rows.length) * rowH + 8;
      const svg = newSvg(document.getElementById("diff-chart"), W, H, "largest changes per module");
      if (!rows.length) { svg.appendChild(svgEl("text", { x: 4, y: 14 }, "no module changed")); return; }
      const big = Math.max(...rows.map((r) => Math.abs(r[k].delta)));
      const mid = left + (W - left - 150) / 2, span = (W - left - 150) / 2;
      svg.appendChild(svgEl("line", { x1: mid, x2: mid, y1: 0, y2: H, stroke: "#b8c0cc" }));
      rows.forEach((r, i) => {
        const d = r[k].delta, w = (Math.abs(d) / big) * span, y = 4 + i * rowH;
        svg.appendChild(svgEl("text", { x: 4, y: y + 12 }, `${r.name}  [${r.match}]`.slice(0, 64)));
        svg.appendChild(svgEl("rect", {
          class: d > 0 ? "delta-up" : "delta-down", x: (d > 0 ? mid : mid - w).toFixed(2), y, width: Math.max(0.8, w).toFixed(2), height: rowH - 4,
          "data-tip": `${r.name} (${r.match})\n${r.a_type || "–"} → ${r.b_type || "–"}\nA ${fmtInt(r[k].a)}  B ${fmtInt(r[k].b)}\nB − A ${fmtInt(d)}, B / A ${factor(r[k].ratio)}`,
        }));
        svg.appendChild(svgEl("text", { x: W - 146, y: y + 12 }, (d > 0 ? "+" : "") + human(d)));
      });
    };
    draw();
    const full = el("table", { id: "diff-modules-table" });
    const hr = el("tr");
    for (const h of ["module", "match", "type A → B"].concat(metrics.flatMap((k) => [`${METRIC_LABELS[k]} A`, "B", "B − A"]))) hr.appendChild(el("th", {}, h));
    full.appendChild(hr);
    for (const r of D.modules) {
      const tr = el("tr");
      tr.appendChild(el("td", {}, r.name));
      tr.appendChild(el("td", { class: "text" }, r.match));
      tr.appendChild(el("td", { class: "text" }, `${r.a_type || "–"} → ${r.b_type || "–"}`));
      for (const k of metrics) {
        tr.appendChild(el("td", {}, r.a_path === null ? "" : fmtInt(r[k].a)));
        tr.appendChild(el("td", {}, r.b_path === null ? "" : fmtInt(r[k].b)));
        tr.appendChild(el("td", { class: r[k].delta > 0 ? "up" : r[k].delta < 0 ? "down" : "" }, r[k].delta ? (r[k].delta > 0 ? "+" : "") + fmtInt(r[k].delta) : ""));
      }
      full.appendChild(tr);
    }
    const tableHost = document.getElementById("diff-table");
    tableHost.textContent = "";
    tableHost.appendChild(full);
  }

  header();
  drawTree();
  drawLayers();
  drawRoofline();
  drawDiff();
  document.body.setAttribute("data-rendered", "true");
})();
