// losslab optimiser explorer: the page only draws; every number comes from the /api endpoints.
"use strict";

const COLORS = ["#e4572e", "#2e86de", "#17a673", "#a05195"];
const OPT_FIELDS = ["name", "lr", "beta", "gamma", "batch_size", "steps", "seed", "line_search", "max_dist"];

const ui = {};            // DOM elements by id
let catalog = null;       // GET /api/objectives
let state = null;         // everything the URL encodes
let land = null;          // last landscape response
let runData = null;       // last run response
let lsData = null;        // last line-search response
let playing = null;       // interval id while animating
const latest = {};        // newest request id per kind: older answers are dropped
let started = false;

// What tests (and curious people) can read: window.losslab.
window.losslab = { get state() { return state; }, get run() { return runData; }, get landscape() { return land; },
                   get linesearch() { return lsData; }, runCount: 0, landscapeCount: 0, errorCount: 0, ready: false };

// ---------------------------------------------------------------- helpers
function $(id) { return document.getElementById(id); }
function fmt(v) {
  if (v === null || v === undefined) return "–";
  if (typeof v === "string") return v;
  if (!isFinite(v)) return String(v);
  const a = Math.abs(v);
  return (a !== 0 && (a < 1e-3 || a >= 1e5)) ? v.toExponential(4) : v.toPrecision(6).replace(/\.?0+$/, "");
}
function num(text) {
  // "" -> null; anything else -> Number (NaN stays NaN so the server can say what is wrong)
  if (text === "" || text === null || text === undefined) return null;
  const v = Number(text);
  return Number.isNaN(v) ? text : v;
}
function objInfo(key) { return catalog.objectives.find(o => o.key === key); }
function optInfo(name) { return catalog.optimizers.find(o => o.name === name); }
function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }

function showError(message) {
  ui.error.textContent = message;
  ui.error.hidden = false;
  window.losslab.errorCount += 1;
}
function clearError() { ui.error.hidden = true; ui.error.textContent = ""; }

async function api(kind, path, body) {
  const id = (latest[kind] || 0) + 1;
  latest[kind] = id;
  ui.status.textContent = "computing…";
  let resp, payload;
  try {
    resp = await fetch(path, body instanceof FormData ? { method: "POST", body }
      : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    payload = await resp.json();
  } catch (err) {
    if (id === latest[kind]) { ui.status.textContent = ""; showError(`The server did not answer (${err}). Is 'losslab serve' still running?`); }
    return null;
  }
  if (id !== latest[kind]) return null;     // a newer request of this kind is on its way
  ui.status.textContent = "";
  if (!resp.ok) {
    showError(payload && payload.detail ? String(payload.detail) : `Request failed with status ${resp.status}.`);
    return null;
  }
  return payload;
}

// ---------------------------------------------------------------- URL <-> state
function encodeState() {
  const q = new URLSearchParams();
  q.set("obj", state.obj);
  if (state.data) q.set("data", state.data);
  q.set("r0", state.r0.join(","));
  if (state.r1) q.set("r1", state.r1.join(","));
  q.set("res", state.res);
  q.set("log", state.log ? "1" : "0");
  if (state.start) q.set("start", state.start.join(","));
  q.set("step", state.step);
  for (const o of state.opts) {
    q.append("o", [o.name, o.lr, o.beta, o.gamma, o.batch_size ?? "", o.steps, o.seed, o.line_search ? 1 : 0, o.max_dist].join("~"));
  }
  return "#" + q.toString();
}

function decodeState(hash) {
  if (!hash || hash.length < 2) return null;
  const q = new URLSearchParams(hash.slice(1));
  const key = catalog.aliases[q.get("obj")] ?? q.get("obj");   // links made before the notebook functions' renaming
  const info = key && objInfo(key);
  if (!info) return null;
  const pair = s => (s ? s.split(",").map(num) : null);
  const s = {
    obj: key,
    data: q.get("data") || null,
    r0: pair(q.get("r0")) || info.range0,
    r1: info.dims === 2 ? (pair(q.get("r1")) || info.range1) : null,
    res: num(q.get("res")) ?? info.resolution,
    log: q.has("log") ? q.get("log") === "1" : !!info.log_color,
    start: pair(q.get("start")) || [...info.start],
    step: num(q.get("step")) ?? 0,
    opts: [],
  };
  for (const text of q.getAll("o")) {
    const f = text.split("~");
    s.opts.push({ name: f[0], lr: num(f[1]), beta: num(f[2]), gamma: num(f[3]), batch_size: num(f[4] ?? ""),
                  steps: num(f[5]), seed: num(f[6]), line_search: f[7] === "1", max_dist: num(f[8]) ?? 0.1 });
  }
  if (!s.opts.length) s.opts = info.optimizers.map(o => ({ ...o }));
  return s;
}

function defaultState(key) {
  const info = objInfo(key);
  return { obj: key, data: null, r0: [...info.range0], r1: info.range1 ? [...info.range1] : null,
           res: info.resolution, log: info.log_color, start: [...info.start], step: 0,
           opts: info.optimizers.map(o => ({ ...o })) };
}

function saveUrl() { history.replaceState(null, "", encodeState()); }

// ---------------------------------------------------------------- controls -> state
function renderControls() {
  const info = objInfo(state.obj);
  ui.objective.value = state.obj;
  const isLogistic = info.key === "logistic";
  ui["data-seed-label"].hidden = !isLogistic;
  ui["upload-label"].hidden = info.kind !== "model";
  ui["clear-upload"].hidden = !(state.data && state.data.startsWith("upload:"));
  if (isLogistic) ui["data-seed"].value = state.data && state.data.startsWith("logistic:") ? state.data.slice(9) : 0;
  ui["data-name"].textContent = info.kind === "model" ? `data: ${state.data || info.data_name}` : "";
  ui.formula.innerHTML = info.formula_html || "";   // MathML the server rendered from the catalog's LaTeX
  ui.r0lo.value = state.r0[0]; ui.r0hi.value = state.r0[1];
  ui["r1-controls"].hidden = info.dims !== 2;
  ui["start1-label"].hidden = info.dims !== 2;
  if (state.r1) { ui.r1lo.value = state.r1[0]; ui.r1hi.value = state.r1[1]; }
  ui.resolution.value = state.res;
  ui.logcolor.checked = !!state.log;
  ui.start0.value = state.start ? state.start[0] : "";
  ui.start1.value = state.start && state.start.length > 1 ? state.start[1] : "";
  renderOptimizers();
}

function renderOptimizers() {
  const info = objInfo(state.obj);
  ui.optimizers.innerHTML = "";
  state.opts.forEach((o, i) => {
    const node = ui["opt-template"].content.firstElementChild.cloneNode(true);
    node.style.borderLeftColor = COLORS[i];
    node.dataset.testid = `opt-${i}`;
    node.querySelector(".swatch").style.background = COLORS[i];
    const select = node.querySelector(".opt-name");
    select.dataset.testid = `opt-${i}-name`;
    for (const oi of catalog.optimizers) select.add(new Option(oi.label, oi.name));
    select.value = o.name;
    node.querySelector(".final-loss").dataset.testid = `final-loss-${i}`;
    node.querySelector(".run-note").dataset.testid = `run-note-${i}`;
    const oi = optInfo(o.name);
    const lsBox = node.querySelector('[data-field="line_search"]');
    lsBox.checked = !!o.line_search;
    lsBox.dataset.testid = `opt-${i}-line_search`;
    node.querySelector(".ls-label").hidden = !(oi && oi.line_search);
    for (const div of node.querySelectorAll(".param")) {
      const p = div.dataset.param;
      let shown = oi ? oi.params.includes(p) : true;
      if (p === "lr" && o.line_search) shown = false;
      if (p === "max_dist") shown = !!o.line_search;
      if (p === "batch_size" || p === "seed") shown = shown && info.kind === "model";
      div.hidden = !shown;
      const field = div.querySelector("input[type=number]");
      const slider = div.querySelector("input[type=range]");
      field.dataset.testid = `opt-${i}-${p}`;
      slider.dataset.testid = `opt-${i}-${p}-slider`;
      if (p === "batch_size") slider.max = info.n_data || 30;
      if (p === "steps") slider.max = Math.max(1000, o.steps || 0);
      const v = o[p];
      field.value = v === null || v === undefined ? "" : v;
      setSlider(slider, v);
      slider.addEventListener("input", () => {
        let value = Number(slider.value);
        if (slider.dataset.log) value = Number(Math.pow(10, value).toPrecision(3));
        if (p === "batch_size" && value === 0) value = null;
        field.value = value === null ? "" : value;
        o[p] = value;
        scheduleRun();
      });
      field.addEventListener("change", () => {
        o[p] = num(field.value);
        setSlider(slider, o[p]);
        scheduleRun();
      });
    }
    select.addEventListener("change", () => {
      o.name = select.value;
      const d = optInfo(o.name);
      if (!(d && d.line_search)) o.line_search = false;
      renderOptimizers();
      scheduleRun();
    });
    lsBox.addEventListener("change", () => { o.line_search = lsBox.checked; renderOptimizers(); scheduleRun(); });
    const remove = node.querySelector(".remove");
    remove.dataset.testid = `opt-${i}-remove`;
    remove.disabled = state.opts.length <= 1;
    remove.addEventListener("click", () => { state.opts.splice(i, 1); renderOptimizers(); scheduleRun(); });
    ui.optimizers.appendChild(node);
  });
  ui["add-opt"].disabled = state.opts.length >= catalog.limits.max_optimizers;
  showFinalLosses();
}

function setSlider(slider, v) {
  if (v === null || v === undefined || typeof v !== "number" || !isFinite(v)) { slider.value = slider.min; return; }
  slider.value = slider.dataset.log ? Math.log10(Math.max(v, 1e-12)) : v;
}

let runTimer = null;
function scheduleRun() {
  clearTimeout(runTimer);
  runTimer = setTimeout(() => { saveUrl(); computeRun(); }, 120);
}

// ---------------------------------------------------------------- requests
function objectiveRef() { return { objective: state.obj, data: state.data }; }

async function computeLandscape() {
  const body = { ...objectiveRef(), range0: state.r0, resolution: state.res };
  if (state.r1) body.range1 = state.r1;
  const out = await api("landscape", "/api/landscape", body);
  if (!out) return;
  land = out;
  window.losslab.landscapeCount += 1;
  drawLandscape();
  await computeRun();
}

async function computeRun() {
  if (!state.start) { runData = null; drawRuns(); return; }
  const opts = state.opts.map(o => {
    const spec = {};
    for (const f of OPT_FIELDS) if (o[f] !== null && o[f] !== undefined && o[f] !== "") spec[f] = o[f];
    return spec;
  });
  const out = await api("run", "/api/run", { ...objectiveRef(), start: state.start, optimizers: opts });
  if (!out) return;
  clearError();
  runData = out;
  const maxStep = Math.max(...out.runs.map(r => r.loss.length - 1));
  ui.step.max = maxStep;
  state.step = clamp(Math.round(Number(state.step)) || 0, 0, maxStep);
  ui.step.value = state.step;
  window.losslab.runCount += 1;
  drawRuns();
  saveUrl();
}

let stepTimer = null;
function scheduleStepExtras() {
  clearTimeout(stepTimer);
  stepTimer = setTimeout(() => { drawFit(); computeLineSearch(); }, playing ? 200 : 60);
}

function paramsAt(r, step) { return r.params[Math.min(step, r.params.length - 1)]; }

async function drawFit() {
  const info = objInfo(state.obj);
  if (info.kind !== "model" || !runData) {
    Plotly.purge(ui.fit);
    ui.fit.classList.add("empty");
    ui.fit.textContent = info.kind === "model" ? "" : `Model fit: the ${info.label} is a plain function of the parameters, with no data to fit.`;
    return;
  }
  const out = await api("fit", "/api/fit", { ...objectiveRef(), params: runData.runs.map(r => paramsAt(r, state.step)) });
  if (!out) return;
  if (ui.fit.classList.contains("empty")) { ui.fit.classList.remove("empty"); ui.fit.textContent = ""; }
  const traces = [{ x: out.x_data, y: out.y_data, mode: "markers", type: "scatter", name: "data",
                    marker: { color: "#333", size: 6 } }];
  out.curves.forEach((c, i) => traces.push({ x: out.x, y: c, mode: "lines", type: "scatter",
                                            name: state.opts[i] ? state.opts[i].name : `run ${i + 1}`, line: { color: COLORS[i] } }));
  Plotly.react(ui.fit, traces, fitLayout(info, out), { responsive: true, displayModeBar: false });
}

function fitLayout(info, out) {
  return { title: { text: info.kind === "model" ? `model fit at step ${state.step}` : "model fit: this objective has no data", font: { size: 13 } },
           margin: { l: 45, r: 10, t: 30, b: 35 }, showlegend: false,
           xaxis: { title: { text: "x" } }, yaxis: { title: { text: out && out.output === "logit" ? "Pr(y = 1 | x)" : "y" } } };
}

async function computeLineSearch() {
  const info = objInfo(state.obj);
  let idx = state.opts.findIndex(o => o.line_search);
  let body = null, title = "";
  if (idx >= 0 && runData && runData.runs[idx]) {
    const r = runData.runs[idx];
    const step = Math.min(state.step, r.params.length - 2);
    if (step >= 0) {
      body = { ...objectiveRef(), point: r.params[step], max_dist: state.opts[idx].max_dist ?? 0.1, direction: "gradient" };
      title = `line search of ${state.opts[idx].name} at step ${step}: L(φ − t ∇L) on t ∈ [0, ${fmt(body.max_dist)}]`;
    }
  } else if (info.dims === 1 && state.start) {
    body = { ...objectiveRef(), point: [state.r0[0]], max_dist: state.r0[1] - state.r0[0], direction: "positive" };
    title = `four-point line search (notebook 6.1) of L on [${fmt(state.r0[0])}, ${fmt(state.r0[1])}]`;
  }
  if (!body) {
    lsData = null;
    Plotly.purge(ui.linesearch);
    ui.linesearch.classList.add("empty");
    ui.linesearch.textContent = "Line search: tick 'line search' on a gradient-descent optimiser to see each iteration's bracket (a, b, c, d) on the 1-D slice.";
    return;
  }
  const out = await api("linesearch", "/api/linesearch", body);
  if (!out) return;
  lsData = out;
  drawLineSearch(out, title);
}

function lsLayout(title, n) {
  return { title: { text: title, font: { size: 13 } }, margin: { l: 55, r: 10, t: 30, b: 40 }, showlegend: true,
           legend: { orientation: "h", x: 1, xanchor: "right", y: 1.0, yanchor: "bottom", font: { size: 11 } },
           xaxis: { title: { text: "t" }, anchor: "y2" },
           yaxis: { domain: [0.5, 1], title: { text: "L along the line" }, tickformat: ".6~g", automargin: true },
           yaxis2: { domain: [0, 0.42], title: { text: "iteration" }, autorange: "reversed", dtick: Math.max(1, Math.ceil((n || 1) / 8)) } };
}

function drawLineSearch(out, title) {
  const traces = [{ x: out.t, y: out.f, mode: "lines", line: { color: "#555" }, name: "slice", hoverinfo: "x+y", showlegend: false }];
  const names = ["a", "b", "c", "d"];
  const colors = ["#1f77b4", "#2ca02c", "#ff7f0e", "#d62728"];
  out.brackets.forEach((br, k) => {
    traces.push({ x: [br[0], br[3]], y: [k, k], yaxis: "y2", mode: "lines", line: { color: "#bbb" }, hoverinfo: "skip", showlegend: false });
  });
  names.forEach((n, j) => {
    traces.push({ x: out.brackets.map(b => b[j]), y: out.brackets.map((b, k) => k), yaxis: "y2", mode: "markers",
                  marker: { color: colors[j], size: 7 },
                  name: n, hovertemplate: `${n} = %{x:.5g}<extra>iteration %{y}</extra>` });
  });
  if (out.brackets.length) {
    const last = out.brackets[out.brackets.length - 1];
    names.forEach((n, j) => traces.push({ x: [last[j]], y: [out.f_brackets[out.brackets.length - 1][j]], mode: "markers",
                                          marker: { color: colors[j], size: 9, symbol: "diamond" }, hoverinfo: "x+y", showlegend: false }));
  }
  traces.push({ x: [out.step], y: [out.f_step], mode: "markers", marker: { color: "#000", size: 11, symbol: "star" }, name: "chosen",
                hovertemplate: "chosen t = %{x:.5g}<extra></extra>" });
  if (ui.linesearch.classList.contains("empty")) { ui.linesearch.classList.remove("empty"); ui.linesearch.textContent = ""; }
  Plotly.react(ui.linesearch, traces, lsLayout(title, out.brackets.length), { responsive: true, displayModeBar: false });
}

// ---------------------------------------------------------------- drawing
function zValues() {
  if (!land) return null;
  if (!state.log) return land.loss;
  // every loss here is >= 0; the floor keeps log10 finite at an exact zero
  return land.loss.map(row => row.map(v => (v === null ? null : Math.log10(Math.max(v, 0) + 1e-12))));
}

function drawLandscape() {
  const info = objInfo(state.obj);
  const traces = [];
  if (land.dims === 2) {
    const z = zValues();
    traces.push({ type: "heatmap", x: land.phi0, y: land.phi1, z, colorscale: "Viridis", reversescale: false,
                  colorbar: { title: { text: state.log ? "log₁₀ L" : "L" }, thickness: 12 },
                  hovertemplate: "φ₀ %{x:.4g}<br>φ₁ %{y:.4g}<br>" + (state.log ? "log₁₀ L" : "L") + " %{z:.4g}<extra></extra>" });
    traces.push({ type: "contour", x: land.phi0, y: land.phi1, z, contours: { coloring: "none" }, ncontours: 18,
                  line: { color: "rgba(255,255,255,0.55)", width: 1 }, showscale: false, hoverinfo: "skip" });
  } else {
    traces.push({ type: "scatter", mode: "lines", x: land.phi0, y: land.loss, line: { color: "#444" }, hovertemplate: "φ %{x:.4g}<br>L %{y:.4g}<extra></extra>" });
    traces.push({ type: "scatter", x: [], y: [] });
  }
  for (let i = 0; i < 4; i++) traces.push({ type: "scatter", mode: "lines+markers", x: [], y: [], line: { color: COLORS[i], width: 2 },
                                             marker: { size: 3 }, hoverinfo: "skip", name: `path ${i}` });
  for (let i = 0; i < 4; i++) traces.push({ type: "scatter", mode: "markers", x: [], y: [], marker: { color: COLORS[i], size: 12, line: { color: "#fff", width: 2 } },
                                             hoverinfo: "skip" });
  traces.push({ type: "scatter", mode: "markers", x: [], y: [], marker: { color: "#fff", size: 11, symbol: "x", line: { color: "#000", width: 1 } }, hoverinfo: "skip" });
  const layout = {
    margin: { l: 55, r: 10, t: 30, b: 45 }, showlegend: false, dragmode: false, hovermode: "closest",
    title: { text: `${info.label}: ${info.dims === 2 ? "click to set the start" : "click to set the start φ"}`, font: { size: 13 } },
    xaxis: { title: { text: info.param_names[0] }, range: [land.phi0[0], land.phi0[land.phi0.length - 1]] },
    yaxis: info.dims === 2 ? { title: { text: info.param_names[1] }, range: [land.phi1[0], land.phi1[land.phi1.length - 1]] }
                           : { title: { text: "L[φ]" }, type: state.log ? "log" : "linear" },
  };
  Plotly.react(ui.landscape, traces, layout, { responsive: true, displayModeBar: false });
  drawRuns();
}

function pathXY(r, upto) {
  const n = Math.min(upto + 1, r.params.length);
  const x = [], y = [];
  for (let t = 0; t < n; t++) {
    x.push(r.params[t][0]);
    y.push(land && land.dims === 1 ? r.loss[t] : r.params[t][1]);
  }
  return [x, y];
}

function drawRuns() {
  if (!land || !ui.landscape.data) return;
  const xs = [], ys = [];
  for (let i = 0; i < 4; i++) {
    const r = runData && runData.runs[i];
    const [x, y] = r ? pathXY(r, r.params.length) : [[], []];
    xs.push(x); ys.push(y);
  }
  const mx = [], my = [];
  for (let i = 0; i < 4; i++) {
    const r = runData && runData.runs[i];
    if (!r) { mx.push([]); my.push([]); continue; }
    const s = Math.min(state.step, r.params.length - 1);
    mx.push([r.params[s][0]]);
    my.push([land.dims === 1 ? r.loss[s] : r.params[s][1]]);
  }
  let sx = [], sy = [];
  if (state.start) { sx = [state.start[0]]; sy = [land.dims === 1 ? (runData ? runData.start_loss : null) : state.start[1]]; }
  Plotly.restyle(ui.landscape, { x: [...xs, ...mx, sx], y: [...ys, ...my, sy] }, [2, 3, 4, 5, 6, 7, 8, 9, 10]);
  drawLosses();
  showFinalLosses();
  ui["step-label"].textContent = `${state.step} / ${ui.step.max}`;
  ui["start-loss"].textContent = runData ? fmt(runData.start_loss) : "–";
  scheduleStepExtras();
}

function showFinalLosses() {
  state.opts.forEach((o, i) => {
    const el = document.querySelector(`[data-testid="final-loss-${i}"]`);
    const note = document.querySelector(`[data-testid="run-note-${i}"]`);
    const r = runData && runData.runs[i];
    if (!el) return;
    el.textContent = r ? fmt(r.final_loss) : "–";
    const epochs = r && r.batch_size ? `, ${r.epochs} epoch${r.epochs === 1 ? "" : "s"} of batches of ${r.batch_size}` : "";
    if (note) note.textContent = r ? (r.diverged ? `diverged at step ${r.diverged_at}` : `${r.steps} steps${epochs}`) : "";
  });
}

function drawLosses() {
  const traces = [];
  if (runData) runData.runs.forEach((r, i) => traces.push({ x: r.loss.map((_, t) => t), y: r.loss, mode: "lines", type: "scatter",
                                                           line: { color: COLORS[i] }, name: r.name }));
  const layout = { title: { text: "loss per step", font: { size: 13 } }, margin: { l: 50, r: 10, t: 30, b: 35 }, showlegend: false,
                   xaxis: { title: { text: "step" } }, yaxis: { type: "log", title: { text: "L" } },
                   shapes: [{ type: "line", x0: state.step, x1: state.step, yref: "paper", y0: 0, y1: 1, line: { color: "#999", dash: "dot" } }] };
  Plotly.react(ui.losses, traces, layout, { responsive: true, displayModeBar: false });
}

// ---------------------------------------------------------------- events
function onLandscapeClick(ev) {
  const gd = ui.landscape;
  const fl = gd._fullLayout;
  if (!fl || !land) return;
  const rect = gd.getBoundingClientRect();
  const px = ev.clientX - rect.left - fl.xaxis._offset;
  const py = ev.clientY - rect.top - fl.yaxis._offset;
  if (px < 0 || py < 0 || px > fl.xaxis._length || py > fl.yaxis._length) return;
  const x = Number(fl.xaxis.p2l(px).toPrecision(5));
  const y = Number(fl.yaxis.p2l(py).toPrecision(5));
  state.start = land.dims === 2 ? [x, y] : [x];
  state.step = 0;
  ui.start0.value = state.start[0];
  ui.start1.value = land.dims === 2 ? state.start[1] : "";
  saveUrl();
  computeRun();
}

function readRanges() {
  state.r0 = [num(ui.r0lo.value), num(ui.r0hi.value)];
  if (objInfo(state.obj).dims === 2) state.r1 = [num(ui.r1lo.value), num(ui.r1hi.value)];
  state.res = num(ui.resolution.value);
  saveUrl();
  computeLandscape();
}

function setStep(step) {
  state.step = clamp(step, 0, Number(ui.step.max));
  ui.step.value = state.step;
  drawRuns();
}

function togglePlay() {
  if (playing) { clearInterval(playing); playing = null; ui.play.textContent = "▶ play"; saveUrl(); return; }
  if (state.step >= Number(ui.step.max)) setStep(0);
  ui.play.textContent = "❚❚ pause";
  const max = Number(ui.step.max);
  const stride = Math.max(1, Math.round(max / 150));   // about five seconds whatever the length
  playing = setInterval(() => {
    if (state.step >= max) { togglePlay(); drawFit(); computeLineSearch(); return; }
    setStep(state.step + stride);
  }, 33);
}

async function uploadFile() {
  const file = ui.upload.files[0];
  if (!file) return;
  if (file.size > catalog.limits.max_upload_bytes) {
    // the server refuses it too; saying so here spares the upload
    showError(`The CSV file must be at most ${catalog.limits.max_upload_bytes} bytes. Got ${file.size} bytes instead.`);
    return;
  }
  const form = new FormData();
  form.append("file", file);
  const out = await api("upload", "/api/upload", form);
  ui.upload.value = "";
  if (!out) return;
  clearError();
  state.data = out.data;
  renderControls();
  saveUrl();
  computeLandscape();
}

async function init() {
  for (const el of document.querySelectorAll("[id]")) ui[el.id] = el;
  const resp = await fetch("/api/objectives");
  catalog = await resp.json();
  for (const o of catalog.objectives) ui.objective.add(new Option(o.label, o.key));
  state = decodeState(location.hash) || defaultState(catalog.default);
  renderControls();
  ui.objective.addEventListener("change", () => {
    state = defaultState(ui.objective.value);
    renderControls(); saveUrl(); computeLandscape();
  });
  ui["data-seed"].addEventListener("change", () => {
    state.data = `logistic:${ui["data-seed"].value}`;
    renderControls(); saveUrl(); computeLandscape();
  });
  ui.upload.addEventListener("change", uploadFile);
  ui["clear-upload"].addEventListener("click", () => { state.data = null; renderControls(); saveUrl(); computeLandscape(); });
  for (const id of ["r0lo", "r0hi", "r1lo", "r1hi", "resolution"]) ui[id].addEventListener("change", readRanges);
  ui.logcolor.addEventListener("change", () => { state.log = ui.logcolor.checked; saveUrl(); drawLandscape(); });
  const readStart = () => {
    state.start = objInfo(state.obj).dims === 2 ? [num(ui.start0.value), num(ui.start1.value)] : [num(ui.start0.value)];
    saveUrl(); computeRun();
  };
  ui.start0.addEventListener("change", readStart);
  ui.start1.addEventListener("change", readStart);
  ui.step.addEventListener("input", () => setStep(Number(ui.step.value)));
  ui.step.addEventListener("change", saveUrl);
  ui.play.addEventListener("click", togglePlay);
  ui["add-opt"].addEventListener("click", () => {
    if (state.opts.length >= catalog.limits.max_optimizers) return;
    const base = objInfo(state.obj).optimizers[0];
    state.opts.push({ ...base, name: catalog.optimizers[(state.opts.length) % catalog.optimizers.length].name });
    renderOptimizers(); scheduleRun();
  });
  ui.landscape.addEventListener("click", onLandscapeClick);
  window.addEventListener("hashchange", () => {
    if (location.hash === encodeState()) return;
    const s = decodeState(location.hash);
    if (s) { state = s; renderControls(); computeLandscape(); }
  });
  await computeLandscape();
  window.losslab.ready = true;
}

init();
