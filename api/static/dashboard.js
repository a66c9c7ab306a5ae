// Live dashboard: polls /dashboard/state twice a second, appends the new rows to uPlot charts,
// and sends controls to the REST API. Every API error is shown in the #error box, never swallowed.
"use strict";

const POLL_MS = 500;
const KEEP_POINTS = 4000; // per series, client side; older points scroll off

const COLUMNS = ["time_s", "total_pnl", "realized_pnl", "unrealized_pnl", "quote_bid", "quote_ask", "feed1",
                 "feed2", "best_bid1", "best_ask1", "inv1", "inv2", "net_delta"];
const dash = {
  generation: null, lastTick: -1, state: null, polls: 0, inflight: false,
  rows: Object.fromEntries([["tick", []], ...COLUMNS.map(c => [c, []])]),
  charts: {},
  points() { return this.rows.tick.length; },
};
window.dashboard = dash; // for debugging and for the end-to-end test

const $ = id => document.getElementById(id);
const fmt = (v, d = 2) => (v === null || v === undefined || Number.isNaN(v)) ? "—" : Number(v).toFixed(d);
const signed = (el, v, d = 2) => { el.textContent = fmt(v, d); el.className = "value " + (v > 0 ? "pos" : v < 0 ? "neg" : ""); };

function showError(err) {
  const box = $("error");
  box.textContent = err.message || String(err);
  box.hidden = false;
  $("notice").hidden = true; // an older success message would contradict the error
}
function clearError() { $("error").hidden = true; }
function notify(text) { const box = $("notice"); box.textContent = text; box.hidden = false; }

// ---- charts -------------------------------------------------------------------------------------
function makeChart(el, series, height, yLabel) {
  const opts = {
    width: Math.max(300, el.clientWidth), height,
    scales: { x: { time: false } },
    axes: [{ label: "simulated time (s)", stroke: "#8a96a3", grid: { stroke: "#2a313c" } },
           { label: yLabel, stroke: "#8a96a3", grid: { stroke: "#2a313c" }, size: 60 }],
    series: [{ label: "t (s)", value: (u, v) => fmt(v, 1) }, ...series],
    legend: { live: true },
  };
  return new uPlot(opts, [[], ...series.map(() => [])], el);
}

function initCharts() {
  const line = (label, stroke, extra = {}) => ({ label, stroke, width: 1.5, value: (u, v) => fmt(v, 2), ...extra });
  dash.charts.pnl = makeChart($("chart-pnl"), [
    line("total", "#ffffff", { width: 2 }), line("realized", "#58a6ff"), line("unrealized", "#f0883e")],
    220, "currency");
  dash.charts.quotes = makeChart($("chart-quotes"), [
    line("our bid", "#3fb950", { width: 2, paths: uPlot.paths.stepped({ align: 1 }) }),
    line("our ask", "#f85149", { width: 2, paths: uPlot.paths.stepped({ align: 1 }) }),
    line("Exchange 1 price", "#58a6ff"), line("Exchange 2 price", "#d29922"),
    line("Exchange 1 best bid", "#3fb95088", { dash: [4, 4] }), line("Exchange 1 best ask", "#f8514988", { dash: [4, 4] })],
    260, "price");
  const lots = (label, stroke, extra = {}) => line(label, stroke, { value: (u, v) => fmt(v, 0), ...extra });
  dash.charts.inventory = makeChart($("chart-inventory"), [
    lots("Exchange 1", "#58a6ff", { paths: uPlot.paths.stepped({ align: 1 }) }),
    lots("Exchange 2", "#f0883e", { paths: uPlot.paths.stepped({ align: 1 }) }),
    lots("net delta", "#ffffff", { width: 2, paths: uPlot.paths.stepped({ align: 1 }) }),
    lots("+soft", "#d29922", { dash: [6, 4], width: 1 }), lots("-soft", "#d29922", { dash: [6, 4], width: 1 })],
    220, "lots");
  window.addEventListener("resize", () => {
    for (const [name, chart] of Object.entries(dash.charts)) {
      chart.setSize({ width: Math.max(300, $(`chart-${name}`).clientWidth), height: chart.height });
    }
  });
}

function redrawCharts() {
  const r = dash.rows, s = dash.state;
  const soft = s ? s.positions.soft_limit_lots : 0;
  dash.charts.pnl.setData([r.time_s, r.total_pnl, r.realized_pnl, r.unrealized_pnl]);
  dash.charts.quotes.setData([r.time_s, r.quote_bid, r.quote_ask, r.feed1, r.feed2, r.best_bid1, r.best_ask1]);
  dash.charts.inventory.setData([r.time_s, r.inv1, r.inv2, r.net_delta, r.time_s.map(() => soft), r.time_s.map(() => -soft)]);
}

function resetSeries() {
  for (const key of Object.keys(dash.rows)) dash.rows[key] = [];
  dash.lastTick = -1;
}

function truncateSeries(beforeTick) {
  // An action re-runs the simulation from its tick on: drop rows at or after it, they are fetched again.
  const keep = dash.rows.tick.findIndex(t => t >= beforeTick);
  if (keep >= 0) for (const key of Object.keys(dash.rows)) dash.rows[key].length = keep;
  dash.lastTick = dash.rows.tick.length ? dash.rows.tick[dash.rows.tick.length - 1] : -1;
}

function appendSeries(series) {
  for (const key of Object.keys(dash.rows)) {
    const arr = dash.rows[key];
    for (const v of series[key]) arr.push(v);
    if (arr.length > KEEP_POINTS) arr.splice(0, arr.length - KEEP_POINTS);
  }
}

// ---- panels -------------------------------------------------------------------------------------
function setBar(id, value, soft, hard) {
  const bar = $(id), fill = bar.querySelector(".fill");
  const frac = Math.max(-1, Math.min(1, value / hard));
  fill.style.left = (frac >= 0 ? 50 : 50 + frac * 50) + "%";
  fill.style.width = Math.abs(frac) * 50 + "%";
  fill.className = "fill" + (Math.abs(value) >= hard ? " over" : Math.abs(value) >= soft ? " warn" : "");
  bar.querySelector(".soft.l").style.left = (50 - 50 * soft / hard) + "%";
  bar.querySelector(".soft.r").style.left = (50 + 50 * soft / hard) + "%";
}

function rows(tbody, items, cells) {
  tbody.innerHTML = "";
  for (const item of items) {
    const tr = document.createElement("tr");
    for (const text of cells(item)) { const td = document.createElement("td"); td.textContent = text; tr.appendChild(td); }
    tbody.appendChild(tr);
  }
}

function render(s) {
  $("clock-tick").textContent = s.tick;
  $("clock-ticks").textContent = s.ticks;
  $("clock-time").textContent = fmt(s.time_s, 1);
  $("clock-seed").textContent = s.seed;
  $("clock-running").textContent = s.finished ? "session ended: reset to start again"
    : s.running ? `clock running (${s.ticks_per_second} ticks/s)` : "clock stopped";
  $("btn-clock").textContent = s.running ? "Stop clock" : "Start clock";
  const badge = $("state-badge");
  badge.textContent = s.risk.state + (s.risk.manual_pause ? " (by hand)" : "");
  badge.className = "badge " + s.risk.state;
  $("state-reason").textContent = s.risk.reason ? `${s.risk.reason} since ${fmt(s.risk.since_s, 1)} s (tick ${s.risk.since_tick})` : "no risk event yet";

  signed($("pnl-total"), s.pnl.total_pnl); signed($("pnl-realized"), s.pnl.realized_pnl);
  signed($("pnl-unrealized"), s.pnl.unrealized_pnl); signed($("pnl-spread"), s.pnl.spread_capture);
  signed($("pnl-hedge"), s.pnl.hedge_cost); $("pnl-fees").textContent = fmt(s.pnl.fees);

  const q = s.quotes;
  $("q-bid").textContent = fmt(q.quote_bid_price); $("q-ask").textContent = fmt(q.quote_ask_price);
  $("q-bid-lots").textContent = q.quote_bid_price === null ? "—" : q.quote_bid_lots;
  $("q-ask-lots").textContent = q.quote_ask_price === null ? "—" : q.quote_ask_lots;
  $("q-bid-queue").textContent = q.quote_bid_price === null ? "—" : q.bid_queue_ahead_lots;
  $("q-ask-queue").textContent = q.quote_ask_price === null ? "—" : q.ask_queue_ahead_lots;
  $("q-bb1").textContent = fmt(q.best_bid1_price); $("q-ba1").textContent = fmt(q.best_ask1_price);
  $("q-bb2").textContent = fmt(q.best_bid2_price); $("q-ba2").textContent = fmt(q.best_ask2_price);
  $("q-ref").textContent = fmt(q.reference_price, 3); $("q-res").textContent = fmt(q.reservation_price, 3);
  $("q-half").textContent = fmt(q.half_spread_price, 3);
  $("q-feed1").textContent = fmt(q.feed1_price, 3); $("q-feed2").textContent = fmt(q.feed2_price, 3);

  const p = s.positions;
  $("pos-inv1").textContent = p.exchange1_lots; $("pos-inv2").textContent = p.exchange2_lots;
  $("pos-net").textContent = p.net_delta_lots; $("pos-pending").textContent = p.pending_hedge_lots;
  $("pos-soft").textContent = p.soft_limit_lots; $("pos-hard").textContent = p.hard_limit_lots;
  $("exp-time").textContent = fmt(s.exposure.time_naked_s, 1);
  $("exp-thr").textContent = s.exposure.threshold_lots;
  $("exp-largest").textContent = s.exposure.largest_naked_lots;
  setBar("bar-inv1", p.exchange1_lots, p.soft_limit_lots, p.hard_limit_lots);
  setBar("bar-inv2", p.exchange2_lots, p.soft_limit_lots, p.hard_limit_lots);
  setBar("bar-net", p.net_delta_lots, p.soft_limit_lots, p.hard_limit_lots);

  rows($("fills-body"), s.fills, f => [f.tick, f.side, fmt(f.price), f.qty_lots, f.liquidity, fmt(f.spread_capture, 4), f.inv1_after_lots]);
  rows($("hedges-body"), s.hedges, h => [h.tick, h.hedge_id, h.attempt, h.side, h.qty_filled_lots,
    fmt(h.vwap_price), fmt(h.fill_to_hedge_latency_ms, 0), fmt(h.slippage, 4), h.status]);
}

// ---- polling ------------------------------------------------------------------------------------
async function poll() {
  if (dash.inflight) return;
  dash.inflight = true;
  try {
    let s = await api("GET", `/dashboard/state?since=${dash.lastTick}`);
    if (dash.generation !== null && (s.generation !== dash.generation || s.tick < dash.lastTick)) {
      resetSeries(); // a reset replaced the history: start the charts over
      s = await api("GET", "/dashboard/state?since=-1");
    }
    dash.generation = s.generation;
    appendSeries(s.series);
    if (s.series.tick.length) dash.lastTick = s.series.tick[s.series.tick.length - 1];
    dash.state = s;
    dash.polls += 1;
    render(s);
    redrawCharts();
  } catch (e) {
    showError(e);
  } finally {
    dash.inflight = false;
  }
}

// ---- controls -----------------------------------------------------------------------------------
async function act(label, method, path, body, describe) {
  try {
    const out = await api(method, path, body);
    clearError();
    if (out && typeof out.tick === "number") truncateSeries(out.tick);
    notify(describe ? describe(out) : `${label}: done at tick ${out.tick}`);
    await poll();
    return out;
  } catch (e) {
    showError(e);
    return null;
  }
}

function wireControls() {
  $("btn-pause").onclick = () => act("pause", "POST", "/control/pause");
  $("btn-resume").onclick = () => act("resume", "POST", "/control/resume");
  $("btn-kill").onclick = () => act("kill switch", "POST", "/control/kill");
  $("btn-kill-reset").onclick = () => act("kill-switch reset", "POST", "/control/kill-reset");
  $("btn-clock").onclick = () => act("clock", "POST", "/clock", { running: !(dash.state && dash.state.running) },
    out => `clock ${out.running ? "running" : "stopped"} at tick ${out.tick}`);
  $("btn-step").onclick = () => act("step", "POST", "/clock/step", { ticks: 10 }, out => `clock at tick ${out.tick}`);
  $("btn-reset").onclick = () => {
    const seed = $("reset-seed").value.trim();
    const body = seed === "" ? {} : { seed: Number(seed) };
    return act("reset", "POST", "/reset", body, out => `new session, seed ${out.seed}, ${out.ticks} ticks`);
  };
  $("fill-form").onsubmit = async ev => {
    ev.preventDefault();
    const body = { side: $("fill-side").value, qty_lots: Number($("fill-qty").value) };
    const price = $("fill-price").value.trim();
    if (price !== "") body.price = Number(price);
    // the result is written with the notice, before act's poll: a poll of the interval can show the new
    // position first, and the result must not lag behind it
    await act("manual fill", "POST", "/fills/manual", body, o => {
      const text = `filled: ${o.fill.side} ${o.fill.qty_lots} lots @ ${fmt(o.fill.price)} at tick ${o.tick}; ` +
        `Exchange 1 position now ${o.position_after.inv1_lots}, net delta ${o.position_after.net_delta_lots}; ` +
        `${o.hedges.length ? "hedge at tick " + o.hedges[0].tick : "hedge pending"}`;
      $("fill-result").textContent = text;
      return text;
    });
  };
}

initCharts();
wireControls();
poll();
setInterval(poll, POLL_MS);
