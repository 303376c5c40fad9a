// The dashboard page: the sweeps list and one sweep live (server-sent events). Every element is built from text
// (never from markup), so a trial's reason or a swept value cannot become script. No library, no CDN.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const palette = ["#2463c7", "#d9480f", "#2f9e44", "#ae3ec9", "#e8590c", "#1098ad", "#c2255c", "#5c940d", "#7048e8", "#a61e4d", "#0b7285", "#f08c00"];
const finished = new Set(["completed", "stoppedEarly", "diverged", "failed", "cancelled"]);
// What a test (or a curious user) can read: when the page loaded and how many snapshots it drew since.
window.dashboard = { loadedAt: Date.now(), snapshots: 0, state: null };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v); else node.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) node.setAttribute(k, v);
  for (const c of children.flat()) if (c !== null && c !== undefined) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function num(v) { return typeof v === "number" ? v : v === null || v === undefined ? NaN : Number(v); }
function fmt(v) {
  v = num(v);
  if (!isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(2);
  return String(a >= 1000 ? Math.round(v) : a >= 10 ? Math.round(v * 100) / 100 : Math.round(v * 1e4) / 1e4);
}
function duration(s) {
  if (s === null || s === undefined || !isFinite(s)) return "–";
  return s < 90 ? `${Math.round(s)}s` : s < 5400 ? `${Math.round(s / 60)}m` : `${(s / 3600).toFixed(1)}h`;
}
function stateBadge(state) { return el("span", { class: `state ${state}` }, state); }

async function getJson(url, options) {
  const response = await fetch(url, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

// ---- charts ----------------------------------------------------------------------------------------------------

function ticks(lo, hi, count) {
  if (!(hi > lo)) return [lo];
  const step = Math.pow(10, Math.floor(Math.log10((hi - lo) / count)));
  const nice = [1, 2, 5, 10].map(m => m * step).find(s => (hi - lo) / s <= count) || step * 10;
  const out = [];
  for (let t = Math.ceil(lo / nice) * nice; t <= hi + nice * 1e-9; t += nice) out.push(Math.round(t / nice) * nice);
  return out;
}

function extent(values) {
  const finite = values.filter(isFinite);
  if (finite.length === 0) return [0, 1];
  let lo = Math.min(...finite), hi = Math.max(...finite);
  if (lo === hi) { lo -= Math.abs(lo) * 0.05 || 0.5; hi += Math.abs(hi) * 0.05 || 0.5; }
  return [lo, hi];
}

// Lines on shared axes: series = [{ name, color, points: [[x, y], ...], dashed }].
function lineChart(series, { xLabel, yLabel, width = 640, height = 300, step = false }) {
  const m = { l: 58, r: 14, t: 12, b: 40 };
  const xs = series.flatMap(s => s.points.map(p => p[0])), ys = series.flatMap(s => s.points.map(p => p[1]));
  const [x0, x1] = extent(xs), [y0, y1] = extent(ys);
  const X = x => m.l + (x - x0) / (x1 - x0) * (width - m.l - m.r), Y = y => height - m.b - (y - y0) / (y1 - y0) * (height - m.t - m.b);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img" });
  for (const t of ticks(y0, y1, 5)) {
    root.append(svg("line", { class: "gridline", x1: m.l, x2: width - m.r, y1: Y(t), y2: Y(t) }));
    root.append(svg("text", { x: m.l - 6, y: Y(t) + 4, "text-anchor": "end" }, fmt(t)));
  }
  for (const t of ticks(x0, x1, 6)) root.append(svg("text", { x: X(t), y: height - m.b + 15, "text-anchor": "middle" }, fmt(t)));
  root.append(svg("line", { class: "axis", x1: m.l, x2: width - m.r, y1: height - m.b, y2: height - m.b }));
  root.append(svg("line", { class: "axis", x1: m.l, x2: m.l, y1: m.t, y2: height - m.b }));
  root.append(svg("text", { x: (m.l + width - m.r) / 2, y: height - 6, "text-anchor": "middle" }, xLabel));
  root.append(svg("text", { x: 12, y: (m.t + height - m.b) / 2, transform: `rotate(-90 12 ${(m.t + height - m.b) / 2})`, "text-anchor": "middle" }, yLabel));
  for (const s of series) {
    if (s.points.length === 0) continue;
    let d = "";
    s.points.forEach((p, i) => {
      if (step && i > 0) d += ` L${X(p[0]).toFixed(1)},${Y(s.points[i - 1][1]).toFixed(1)}`;
      d += `${i === 0 ? "M" : " L"}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`;
    });
    root.append(svg("path", { d, fill: "none", stroke: s.color, "stroke-width": 1.6, "stroke-dasharray": s.dashed ? "4 3" : null, class: "series" }, svg("title", {}, s.name)));
    if (s.points.length <= 60)
      for (const p of s.points) root.append(svg("circle", { cx: X(p[0]), cy: Y(p[1]), r: 2.4, fill: s.color }, svg("title", {}, `${s.name}: ${fmt(p[1])} at ${fmt(p[0])}`)));
  }
  return root;
}

function legend(series) {
  return el("div", { class: "legend" }, series.slice(0, 16).map(s => el("span", {}, el("i", { style: `background:${s.color}` }), s.name)),
    series.length > 16 ? el("span", {}, `… ${series.length - 16} more`) : null);
}

// One axis per swept factor and one for the objective; a line per trial with an objective, coloured best to worst.
function parallelCoordinates(snapshot) {
  const trials = snapshot.trials.filter(t => t.best !== null && t.best !== undefined);
  const axes = [...snapshot.factors, snapshot.metric];
  const width = Math.max(420, axes.length * 150), height = 300, m = { l: 50, r: 60, t: 24, b: 22 };
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", id: "parallel-plot" });
  const value = (t, a) => a === snapshot.metric ? t.best : t.factors[a];
  const scales = axes.map(a => {
    const raw = trials.map(t => value(t, a));
    const numeric = raw.every(v => v !== undefined && isFinite(Number(v)));
    if (numeric) {
      const [lo, hi] = extent(raw.map(Number));
      return { at: v => (Number(v) - lo) / (hi - lo), labels: ticks(lo, hi, 4).map(t => [t, (t - lo) / (hi - lo)]) };
    }
    const levels = [...new Set(raw.map(v => v === undefined ? "–" : String(v)))].sort();
    const at = v => levels.length === 1 ? 0.5 : levels.indexOf(v === undefined ? "–" : String(v)) / (levels.length - 1);
    return { at, labels: levels.map(l => [l, at(l)]) };
  });
  const X = i => m.l + i * (width - m.l - m.r) / Math.max(1, axes.length - 1), Y = f => height - m.b - f * (height - m.t - m.b);
  const ranked = [...trials].sort((a, b) => snapshot.direction === "max" ? b.best - a.best : a.best - b.best);
  ranked.forEach((t, rank) => {
    const hue = trials.length <= 1 ? 120 : 120 - 120 * rank / (trials.length - 1);
    const d = axes.map((a, i) => `${i === 0 ? "M" : "L"}${X(i).toFixed(1)},${Y(scales[i].at(value(t, a))).toFixed(1)}`).join(" ");
    root.append(svg("path", { d, fill: "none", stroke: `hsl(${hue} 65% 42%)`, "stroke-width": 1.5, opacity: 0.8, class: "trial-line" },
      svg("title", {}, `trial ${t.number}: ${snapshot.metric} ${fmt(t.best)}`)));
  });
  axes.forEach((a, i) => {
    root.append(svg("line", { class: "axis", x1: X(i), x2: X(i), y1: m.t, y2: height - m.b }));
    root.append(svg("text", { x: X(i), y: 14, "text-anchor": "middle", "font-weight": 600 }, a));
    for (const [label, f] of scales[i].labels) root.append(svg("text", { x: X(i) + 5, y: Y(f) + 4 }, typeof label === "number" ? fmt(label) : label));
  });
  return root;
}

// Each factor's share of the objective's variation, with its 95% bootstrap interval as a whisker.
function importanceChart(importance) {
  const width = 560, row = 26, m = { l: 170, r: 60, t: 8 }, height = m.t + importance.length * row + 22;
  const X = f => m.l + Math.max(0, Math.min(1, f)) * (width - m.l - m.r);
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", id: "importance-plot" });
  importance.forEach((i, k) => {
    const y = m.t + k * row;
    root.append(svg("text", { x: m.l - 8, y: y + 15, "text-anchor": "end" }, i.factor));
    root.append(svg("rect", { x: m.l, y: y + 4, width: X(num(i.share)) - m.l, height: row - 10, fill: palette[k % palette.length], opacity: 0.75 }));
    if (isFinite(num(i.low)) && isFinite(num(i.high)))
      root.append(svg("line", { x1: X(num(i.low)), x2: X(num(i.high)), y1: y + row / 2 - 1, y2: y + row / 2 - 1, stroke: "#333", "stroke-width": 1.5 }));
    root.append(svg("text", { x: X(num(i.share)) + 6, y: y + 15 }, `${Math.round(num(i.share) * 100)}%`));
  });
  for (const t of [0, 0.25, 0.5, 0.75, 1]) root.append(svg("text", { x: X(t), y: height - 4, "text-anchor": "middle" }, `${t * 100}%`));
  return root;
}

// PBT: a lane per member over steps; an arrow where a member took another's weights.
function lineageChart(snapshot) {
  const exploits = snapshot.exploits;
  const members = snapshot.trials.map(t => t.number);
  const width = 640, lane = 22, m = { l: 64, r: 16, t: 10, b: 30 }, height = m.t + members.length * lane + m.b;
  const steps = snapshot.trials.map(t => t.steps).concat(exploits.map(e => e.step));
  const x1 = Math.max(1, ...steps);
  const X = s => m.l + s / x1 * (width - m.l - m.r), Y = n => m.t + members.indexOf(n) * lane + lane / 2;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", id: "lineage-plot" });
  root.append(svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 6, markerHeight: 6, orient: "auto" }, svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#555" }))));
  for (const n of members) {
    root.append(svg("line", { class: "gridline", x1: m.l, x2: width - m.r, y1: Y(n), y2: Y(n) }));
    root.append(svg("text", { x: m.l - 8, y: Y(n) + 4, "text-anchor": "end" }, `trial ${n}`));
  }
  for (const e of exploits)
    root.append(svg("line", { x1: X(e.step), x2: X(e.step), y1: Y(e.from), y2: Y(e.trial), stroke: "#555", "stroke-width": 1.4, "marker-end": "url(#arrow)" },
      svg("title", {}, `step ${e.step}: trial ${e.trial} (${fmt(e.score)}) took trial ${e.from}'s weights (${fmt(e.fromScore)}): ${e.values.join(", ")}`)));
  for (const t of ticks(0, x1, 6)) root.append(svg("text", { x: X(t), y: height - 10, "text-anchor": "middle" }, fmt(t)));
  return root;
}

// Attention weights of each output token (rows) over the source tokens (columns).
function heatmap(prediction) {
  const src = prediction.sourceTokens, out = prediction.outputTokens, cell = 26, m = { l: 80, t: 70 };
  const width = m.l + src.length * cell + 10, height = m.t + out.length * cell + 10;
  const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", id: "attention-plot" });
  src.forEach((s, j) => root.append(svg("text", { x: m.l + j * cell + cell / 2, y: m.t - 6, transform: `rotate(-50 ${m.l + j * cell + cell / 2} ${m.t - 6})` }, s)));
  out.forEach((o, i) => {
    root.append(svg("text", { x: m.l - 6, y: m.t + i * cell + cell / 2 + 4, "text-anchor": "end" }, o));
    (prediction.attention[i] || []).forEach((w, j) =>
      root.append(svg("rect", { x: m.l + j * cell, y: m.t + i * cell, width: cell - 1, height: cell - 1, fill: "#2463c7", "fill-opacity": Math.max(0.03, w).toFixed(3) },
        svg("title", {}, `${o} ← ${src[j]}: ${fmt(w)}`))));
  });
  return root;
}

// ---- views -----------------------------------------------------------------------------------------------------

const main = document.getElementById("main");
let me = { subject: "", role: "reader", mayAct: false };
let stream = null, listTimer = null;

function stop() {
  if (stream) { stream.close(); stream = null; }
  if (listTimer) { clearInterval(listTimer); listTimer = null; }
}

async function showList() {
  document.getElementById("crumb").textContent = "sweeps";
  const draw = async () => {
    try {
      const list = await getJson("api/sweeps");
      const table = el("table", { id: "sweeps" }, el("tr", {}, ["sweep", "name", "state", "search", "trials", "best", "created"].map(h => el("th", {}, h))),
        list.sweeps.map(s => el("tr", { "data-sweep": s.sweepId },
          el("td", {}, el("a", { href: `#/sweeps/${encodeURIComponent(s.sweepId)}` }, s.sweepId)), el("td", {}, s.name || ""),
          el("td", {}, stateBadge(s.state)), el("td", {}, s.method), el("td", { class: "num" }, `${s.finished}/${s.trials}`),
          el("td", { class: "num" }, `${s.metric} ${fmt(s.best)}`), el("td", {}, new Date(s.createdAt).toLocaleString()))));
      main.replaceChildren(el("h1", {}, "Sweeps"),
        list.sweeps.length === 0 ? el("p", { class: "quiet" }, "No sweeps yet: `distributed submit SPEC` starts one.") : table,
        list.total > list.sweeps.length ? el("p", { class: "quiet" }, `the newest ${list.sweeps.length} of ${list.total}; \`distributed list\` shows all`) : null);
    } catch (e) {
      main.replaceChildren(el("p", { class: "error" }, `cannot list sweeps: ${e.message}`));
    }
  };
  await draw();
  listTimer = setInterval(draw, 5000);
}

function showSweep(id) {
  document.getElementById("crumb").textContent = `sweep ${id}`;
  const parts = {
    title: el("h1", {}, `sweep ${id}`), summary: el("div", { class: "summary" }), actions: el("div", {}),
    trials: el("div", { id: "trials" }), curves: el("div", { class: "panel", id: "curves" }), loss: el("div", { class: "panel", id: "loss" }),
    best: el("div", { class: "panel", id: "best" }), parallel: el("div", { class: "panel", id: "parallel" }),
    importance: el("div", { class: "panel", id: "importance" }), effects: el("div", { class: "panel", id: "effects" }),
    lineage: el("div", { id: "lineage" }), attention: el("div", { id: "attention" }), status: el("p", { class: "quiet", id: "stream" }),
  };
  main.replaceChildren(parts.title, parts.summary, parts.actions, parts.status, el("h2", {}, "Trials"), parts.trials,
    el("div", { class: "grid" }, parts.curves, parts.loss, parts.best, parts.parallel, parts.importance, parts.effects), parts.lineage, parts.attention);
  let latest = null;
  attentionForm(parts.attention, id, () => latest);
  stream = new EventSource(`api/sweeps/${encodeURIComponent(id)}/events`);
  stream.onmessage = event => {
    latest = JSON.parse(event.data);
    window.dashboard.snapshots++;
    window.dashboard.state = latest.state;
    document.body.dataset.sweepState = latest.state;
    parts.status.textContent = finished.has(latest.state) || latest.state !== "running" ? "final: the sweep has ended" : "live: updates as the sweep changes";
    drawSweep(latest, parts);
  };
  stream.addEventListener("end", () => { stream.close(); stream = null; });
  stream.onerror = () => { if (stream) parts.status.textContent = "connection lost; reconnecting…"; };
}

function drawSweep(s, parts) {
  parts.title.textContent = `sweep ${s.sweepId}${s.name && s.name !== s.sweepId ? ` (${s.name})` : ""}`;
  const done = s.trials.filter(t => finished.has(t.state)).length;
  const leader = [...s.trials].filter(t => t.best !== null).sort((a, b) => s.direction === "max" ? b.best - a.best : a.best - b.best)[0];
  parts.summary.replaceChildren(
    el("span", {}, stateBadge(s.state)),
    el("span", {}, el("span", { class: "progress" }, el("div", { style: `width:${(100 * done / Math.max(1, s.trials.length)).toFixed(1)}%` })), ` ${done}/${s.trials.length} trials`),
    el("span", {}, el("b", {}, "best "), `${s.metric} ${leader ? `${fmt(leader.best)} (trial ${leader.number})` : "–"} (${s.direction})`),
    el("span", {}, el("b", {}, "steps "), `${s.stepsRun}/${s.stepsPlanned}`),
    el("span", {}, el("b", {}, "ETA "), s.state === "running" ? duration(s.etaSeconds) : "0s"),
    el("span", {}, el("b", {}, "search "), s.method),
    s.submittedBy ? el("span", { class: "quiet" }, `submitted by ${s.submittedBy}`) : null);
  parts.actions.replaceChildren();
  if (me.mayAct && s.state === "running")
    parts.actions.append(el("button", { class: "danger", id: "cancel", onclick: async e => {
      if (!confirm(`Cancel sweep ${s.sweepId}? Running trials stop and keep what they produced.`)) return;
      e.target.disabled = true;
      try { await getJson(`api/sweeps/${encodeURIComponent(s.sweepId)}/cancel`, { method: "POST", headers: { "X-Distributed-Action": "cancel" } }); }
      catch (err) { parts.actions.append(el("span", { class: "error" }, ` ${err.message}`)); e.target.disabled = false; }
    } }, "Cancel sweep"));

  const head = ["trial", ...s.factors, "seed", "state", "step", `best ${s.metric}`, "final", "test", "loss", "samples/s", "time", "ETA", "note"];
  parts.trials.replaceChildren(el("table", { id: "trials-table" }, el("tr", {}, head.map(h => el("th", {}, h))),
    s.trials.map(t => el("tr", { "data-trial": t.number, "data-state": t.state, class: leader && t.number === leader.number ? "best" : null },
      el("td", { class: "num" }, t.number), s.factors.map(f => el("td", {}, t.factors[f] ?? "–")),
      el("td", { class: "num" }, `${t.seed}${t.confirmation ? " (confirm)" : ""}`), el("td", {}, stateBadge(t.state)),
      el("td", { class: "num" }, `${t.step}/${t.steps}`), el("td", { class: "num" }, fmt(t.best)), el("td", { class: "num" }, fmt(t.final)),
      el("td", { class: "num" }, fmt(t.test)), el("td", { class: "num" }, fmt(t.loss)), el("td", { class: "num" }, fmt(t.samplesPerSecond)),
      el("td", { class: "num" }, duration(t.seconds)), el("td", { class: "num" }, t.state === "running" ? duration(t.etaSeconds) : ""),
      el("td", { class: "reason" }, t.reason || "")))));

  const label = t => `trial ${t.number}${s.factors.length ? ": " + s.factors.map(f => `${f}=${t.factors[f] ?? "–"}`).join(" ") : ""}`;
  const color = n => palette[(n - 1) % palette.length];
  const objective = s.trials.filter(t => s.curves[t.number]).map(t => ({ name: label(t), color: color(t.number), points: s.curves[t.number].objective, dashed: t.state === "stoppedEarly" }));
  parts.curves.replaceChildren(el("h2", {}, `Learning curves: validation ${s.metric}`), lineChart(objective, { xLabel: "step", yLabel: s.metric }), legend(objective));
  const loss = s.trials.filter(t => s.curves[t.number]).map(t => ({ name: label(t), color: color(t.number), points: s.curves[t.number].loss }));
  parts.loss.replaceChildren(el("h2", {}, "Training loss"), lineChart(loss, { xLabel: "step", yLabel: "loss" }));
  const best = [{ name: `best ${s.metric}`, color: "#1e7a3c", points: s.bestSoFar.map(p => [p.seconds, p.value]) }];
  parts.best.replaceChildren(el("h2", {}, `Best so far (${s.metric}, as trials end)`), lineChart(best, { xLabel: "seconds since submitted", yLabel: s.metric, step: true }));
  parts.parallel.replaceChildren(el("h2", {}, "Parallel coordinates"),
    s.factors.length === 0 ? el("p", { class: "quiet" }, "nothing is swept") : parallelCoordinates(s), el("p", { class: "quiet" }, "green: best, red: worst"));

  const c = s.comparison;
  parts.importance.replaceChildren(el("h2", {}, "Importance"),
    c && c.importance.length ? importanceChart(c.importance) : el("p", { class: "quiet" }, "after two trials have an objective"),
    c ? el("p", { class: "quiet" }, `each factor's share of the variation of validation ${c.metric} (95% bootstrap interval)`) : null);
  parts.effects.replaceChildren(el("h2", {}, "Effects"), ...(c ? c.factors.map(f => el("div", { class: "effect" },
    el("b", {}, f.factor), f.verdicts.map(v => el("p", { class: "verdict" }, v)),
    el("table", {}, el("tr", {}, ["value", "trials", "mean", "95% CI"].map(h => el("th", {}, h))),
      f.marginal.map(l => el("tr", {}, el("td", {}, l.value), el("td", { class: "num" }, l.trials), el("td", { class: "num" }, fmt(l.objective.mean)),
        el("td", {}, isFinite(num(l.objective.low)) ? `[${fmt(l.objective.low)}, ${fmt(l.objective.high)}]` : "(one trial)")))))) : [el("p", { class: "quiet" }, "after two trials have an objective")]));

  parts.lineage.replaceChildren();
  if (s.method === "pbt")
    parts.lineage.append(el("h2", {}, `PBT lineage: ${s.exploits.length} exploits`),
      s.exploits.length ? lineageChart(s) : el("p", { class: "quiet" }, "no member has copied another yet"));
}

function attentionForm(container, id, latest) {
  const trial = el("input", { type: "number", min: 1, value: "", placeholder: "best", id: "attention-trial", style: "width:6em" });
  const input = el("input", { type: "text", id: "attention-input", placeholder: "a source sentence", size: 40 });
  const out = el("div", { id: "attention-result" });
  const run = async e => {
    e.preventDefault();
    const s = latest();
    const leader = s && [...s.trials].filter(t => t.best !== null).sort((a, b) => s.direction === "max" ? b.best - a.best : a.best - b.best)[0];
    const n = trial.value || (leader && leader.number);
    if (!n) { out.replaceChildren(el("p", { class: "error" }, "no trial has an objective yet; name one")); return; }
    out.replaceChildren(el("p", { class: "quiet" }, "decoding…"));
    try {
      const p = await getJson(`api/sweeps/${encodeURIComponent(id)}/trials/${n}/attention?input=${encodeURIComponent(input.value)}`);
      out.replaceChildren(el("p", {}, `trial ${n}, checkpoint at step ${p.step}: `, el("b", {}, p.output)), heatmap(p));
    } catch (err) {
      out.replaceChildren(el("p", { class: "error" }, err.message));
    }
  };
  container.replaceChildren(el("h2", {}, "Attention of a trial on an input"),
    el("form", { onsubmit: run }, "trial ", trial, " input ", input, " ", el("button", { type: "submit" }, "Decode")), out);
}

async function route() {
  stop();
  const match = location.hash.match(/^#\/sweeps\/(.+)$/);
  if (match) showSweep(decodeURIComponent(match[1])); else await showList();
}

(async () => {
  try {
    me = await getJson("api/me");
    document.getElementById("who").textContent = `${me.subject} · ${me.role}${me.mayAct ? "" : " (read-only)"}`;
  } catch (e) {
    document.getElementById("who").textContent = e.message;
  }
  window.addEventListener("hashchange", route);
  await route();
})();
