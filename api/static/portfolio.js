// Portfolio dashboard: reads the portfolio at its clock (/portfolio, /portfolio/risk, /portfolio/series), every second
// while the clock runs, and sends actions (each runs the portfolio again) and clock moves. Every API error is shown in
// the #error box.
"use strict";

const pd = { loaded: 0, state: null, charts: {} };
window.portfolioDash = pd; // for the end-to-end test

const $ = id => document.getElementById(id);
const fmt = (v, d = 2) => (v === null || v === undefined || Number.isNaN(v)) ? "—" : Number(v).toFixed(d);
const COLOURS = ["#58a6ff", "#f0883e", "#3fb950", "#d2a8ff", "#f85149", "#d29922", "#79c0ff", "#ffa657"];

function showError(err) { const box = $("error"); box.textContent = err.message || String(err); box.hidden = false; $("notice").hidden = true; }
function notify(text) { $("error").hidden = true; const box = $("notice"); box.textContent = text; box.hidden = false; }

function chart(el, series, yLabel) {
  if (pd.charts[el.id]) { pd.charts[el.id].destroy(); }
  const opts = {
    width: Math.max(300, el.clientWidth), height: 220, scales: { x: { time: false } },
    axes: [{ label: "simulated time (s)", stroke: "#8a96a3", grid: { stroke: "#2a313c" } },
           { label: yLabel, stroke: "#8a96a3", grid: { stroke: "#2a313c" }, size: 60 }],
    series: [{ label: "t (s)", value: (u, v) => fmt(v, 1) }, ...series.map(s => ({ width: 1.5, value: (u, v) => fmt(v, 2), ...s }))],
  };
  const c = new uPlot(opts, [[], ...series.map(() => [])], el);
  pd.charts[el.id] = c;
  return c;
}

function drawSeries(s) {
  const names = Object.keys(s.assets);
  const pnl = chart($("chart-pnl"), [...names.map((n, i) => ({ label: n, stroke: COLOURS[i % COLOURS.length] })),
    { label: "portfolio", stroke: "#ffffff", width: 2 }], "currency");
  pnl.setData([s.time_s, ...names.map(n => s.assets[n]), s.total_pnl]);
  const limit = s.max_exposure > 0 ? s.max_exposure : null;
  const exp = chart($("chart-exposure"), [{ label: "through the covariance", stroke: "#58a6ff" },
    { label: "every correlation 1", stroke: "#8a96a3" }, { label: "limit", stroke: "#f85149", dash: [6, 4] }], "currency / minute");
  exp.setData([s.time_s, s.exposure, s.exposure_undiversified, s.time_s.map(() => limit)]);
}

function render(state, risk) {
  pd.state = state;
  const p = state.portfolio;
  $("p-tick").textContent = state.tick;
  $("btn-clock").textContent = state.clock.running ? "Stop clock" : "Start clock";
  $("p-assets").textContent = Object.keys(state.assets).length;
  $("p-ticks").textContent = state.ticks;
  $("p-actions").textContent = state.actions.length;
  $("p-state").textContent = risk.state;
  $("p-state").className = "badge " + risk.state;
  for (const [id, v] of [["p-net", p.net_pnl], ["p-spread", p.spread_capture], ["p-hedge", p.hedge_cost], ["p-fees", p.fees],
                         ["p-gross", p.max_gross_notional], ["p-exposure", p.max_exposure]]) $(id).textContent = fmt(v);
  const body = $("assets-body");
  body.innerHTML = "";
  const select = $("act-asset"), chosen = select.value;
  select.innerHTML = '<option value="">every asset</option>';
  for (const [name, a] of Object.entries(state.assets)) {
    const tr = document.createElement("tr");
    tr.id = `asset-${name}`;
    for (const v of [name, a.state, fmt(a.summary.net_pnl), a.summary.fills, a.inv1_lots, a.inv2_lots, a.net_delta_lots,
                     fmt(a.quote_bid, 4), fmt(a.quote_ask, 4)]) {
      const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
    }
    tr.children[1].className = "state-" + a.state;
    body.appendChild(tr);
    const opt = document.createElement("option"); opt.value = name; opt.textContent = name; select.appendChild(opt);
  }
  select.value = chosen;
  const ev = $("events-body");
  ev.innerHTML = "";
  for (const e of risk.events.slice(-200)) {
    const tr = document.createElement("tr");
    for (const v of [e.tick, e.asset, e.limit_kind, e.action, fmt(e.value), fmt(e.limit)]) {
      const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
    }
    ev.appendChild(tr);
  }
  $("events-more").textContent = risk.events_total > 200 ? `last 200 of ${risk.events_total}` : "";
}

async function load() {
  clearTimeout(pd.timer);
  try {
    const [state, risk, series] = await Promise.all([api("GET", "/portfolio"), api("GET", "/portfolio/risk"),
                                                     api("GET", "/portfolio/series")]);
    render(state, risk);
    drawSeries(series);
    pd.loaded += 1;
    if (state.clock.running) pd.timer = setTimeout(load, 1000);
  } catch (e) { showError(e); }
}

async function act(path, body, describe) {
  try {
    await api("POST", path, body);
    notify(describe);
    await load();
  } catch (e) { showError(e); }
}

function target() {
  const asset = $("act-asset").value, tick = $("act-tick").value;
  const body = {};
  if (tick !== "") body.tick = Number(tick);  // else at the clock
  if (asset !== "") body.asset = asset;
  return body;
}

const when = b => b.tick === undefined ? "at the clock" : `at tick ${b.tick}`;

function wire() {
  for (const [id, path, word] of [["btn-pause", "pause", "paused"], ["btn-resume", "resume", "resumed"],
                                  ["btn-kill", "kill", "killed"], ["btn-kill-reset", "kill-reset", "kill reset"]]) {
    $(id).onclick = () => { const b = target(); return act(`/portfolio/control/${path}`, b, `${b.asset || "every asset"} ${word} ${when(b)}`); };
  }
  $("fill-form").onsubmit = ev => {
    ev.preventDefault();
    const b = target();
    if (!b.asset) { showError(new Error("a manual fill names one asset: choose it above")); return; }
    b.side = $("fill-side").value;
    b.qty_lots = Number($("fill-qty").value);
    return act("/portfolio/fills/manual", b, `filled: ${b.asset} ${b.side} ${b.qty_lots} lots ${when(b)}`);
  };
  $("btn-clock").onclick = () => act("/portfolio/clock", { running: !pd.state.clock.running },
                                     pd.state.clock.running ? "clock stopped" : "clock started");
  $("btn-step").onclick = () => act("/portfolio/clock/step", { ticks: Number($("clock-step").value) },
                                    `clock stepped ${$("clock-step").value} ticks`);
}

wire();
load();
