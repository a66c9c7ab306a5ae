"""Fault injection: each named scenario makes the control that must fire fire (at a bounded time), no
fill is ever left without a hedge, and the accounting identity holds to 1e-9 under every fault."""
import numpy as np
import pytest

import backtest
from backtest.config import FAULT_PRESETS
from backtest.interventions import Intervention


@pytest.fixture(scope="module")
def fault_runs():
    return {name: backtest.run(backtest.preset(name)) for name in FAULT_PRESETS}


def events(r):
    return list(zip(r.risk_events.time_s.round(6), r.risk_events.to_state, r.risk_events.reason))


@pytest.mark.parametrize("name", list(FAULT_PRESETS))
def test_accounting_reconciles_under_every_fault(fault_runs, name):
    t = fault_runs[name].ticks
    parts = t.spread_capture + t.hedge_cost + t.inventory_mtm - t.fees
    scale = max(1.0, t.total_pnl.abs().max())
    assert np.all(np.abs(parts - t.total_pnl) <= 1e-9 * scale)
    assert np.all(np.abs(t.realized_pnl + t.unrealized_pnl - t.fees - t.total_pnl) <= 1e-9 * scale)


@pytest.mark.parametrize("name", list(FAULT_PRESETS))
def test_no_fill_is_left_without_a_hedge(fault_runs, name):
    r = fault_runs[name]
    t = r.ticks
    # every Exchange 1 lot is either hedged on Exchange 2 or scheduled / working as a hedge, every tick
    assert (t.net_delta_lots + t.pending_hedge_lots == 0).all()
    f = r.fills
    assert (f.hedge_due_tick >= f.tick).all()
    # and every fill whose hedge was due before the end saw a hedge attempt at or after that time,
    # unless opposite fills netted it out first (then the pending quantity above is zero anyway)
    h = r.hedges
    for row in f[f.hedge_due_tick < len(t) - 1].itertuples():
        covered = ((h.first_fill_tick <= row.tick) & (h.tick >= row.hedge_due_tick)).any()
        # netted: nothing pending then, or an opposite fill reached the working hedge in the same tick
        opposite = (f.hedge_due_tick == row.hedge_due_tick) & (f.side != row.side)
        netted = t.pending_hedge_lots.iloc[row.hedge_due_tick] == 0 or opposite.any()
        assert covered or netted, f"fill {row.fill_id} at tick {row.tick} was never hedged"


def test_hedge_outage_fires_the_kill_switch_after_the_retries(fault_runs):
    r = fault_runs["fault_hedge_outage"]
    s = r.summary_dict
    assert s["kill_switch_fired"]
    first = r.risk_events[r.risk_events.to_state == "killed"].iloc[0]
    assert first.reason == "hedge failure"
    # outage from 100 s: the first fill after it, then 1 + max_retries attempts 0.2 s apart
    assert 100.0 <= first.time_s <= 115.0
    rejected = r.hedges[(r.hedges.time_s >= 100) & (r.hedges.time_s < 160)]
    assert len(rejected) and (rejected.status == "rejected").all()
    t = r.ticks
    during = t[(t.time_s >= first.time_s) & (t.time_s < 160.0)]
    assert (during.net_delta_lots != 0).all(), "the position stays naked until the venue comes back"
    after = r.hedges[r.hedges.time_s >= 160]
    assert (after.status == "filled").any(), "hedging resumes when the outage ends"


def test_hedge_latency_spike_kills_at_the_first_spiking_tick(fault_runs):
    r = fault_runs["fault_latency_spike_exchange2"]
    # x100 makes the median latency 5 s against the 3 s limit: the kill fires within the window's first ticks
    when, state, reason = events(r)[0]
    assert (state, reason) == ("killed", "hedge latency spike") and 100.0 <= when <= 100.5


def test_exchange1_latency_spike_makes_cancel_races_that_are_hedged(fault_runs):
    r = fault_runs["fault_latency_spike_exchange1"]
    s = r.summary_dict
    assert s["cancel_race_fills"] > 0 and not s["kill_switch_fired"]
    o = r.orders
    sent = o[o.action == "cancel_sent"]
    assert len(sent) and sent.time_s.between(100, 161).all(), "cancels are only in flight during the spike"
    race_ids = set(sent.order_id)
    race_fills = r.fills[r.fills.order_id.isin(race_ids)]
    sent_tick = sent.groupby("order_id").tick.min()
    late = race_fills[race_fills.tick.values > sent_tick.loc[race_fills.order_id].values]
    assert len(late) == s["cancel_race_fills"], "each race fill traded after its cancel was sent"
    assert (late.hedge_due_tick >= late.tick).all()


def test_exchange1_latency_spike_over_the_limit_fires_the_kill_switch():
    cfg = backtest.preset("fault_latency_spike_exchange1").with_dotted({"latency.spike_multiplier": 200.0})
    r = backtest.run(cfg)
    assert events(r)[0] == (100.0, "killed", "order latency spike")


def test_deliberate_cancel_race():
    """Every quote change leaves the old order in the book for 4 more ticks of flow."""
    cfg = backtest.make_config(**{"sim.ticks": 3000, "latency.order_median_ms": 450.0, "latency.order_sigma": 0.0})
    r = backtest.run(cfg)
    o = r.orders
    sent = o[o.action == "cancel_sent"].set_index("order_id").tick
    landed = o[o.action == "cancel"].set_index("order_id").tick
    assert len(sent) > 50
    assert ((landed.loc[sent.index.intersection(landed.index)] - sent.loc[sent.index.intersection(landed.index)]) == 4).all()
    race = r.fills[r.fills.order_id.isin(sent.index)]
    race = race[race.tick.values > sent.loc[race.order_id].values]
    assert len(race) == r.summary_dict["cancel_race_fills"] > 0
    h = r.hedges
    for row in race.itertuples():
        assert ((h.first_fill_tick <= row.tick) & (h.tick >= row.hedge_due_tick)).any() or \
            r.ticks.pending_hedge_lots.iloc[row.hedge_due_tick] == 0


def test_order_latency_up_to_one_tick_is_the_implicit_order_entry():
    base = {"sim.ticks": 1500, "latency.order_sigma": 0.0}
    a = backtest.run(backtest.make_config(**base, **{"latency.order_median_ms": 0.0}))
    b = backtest.run(backtest.make_config(**base, **{"latency.order_median_ms": 100.0}))
    assert np.array_equal(a.ticks_raw, b.ticks_raw)
    c = backtest.run(backtest.make_config(**base, **{"latency.order_median_ms": 101.0}))
    assert not np.array_equal(a.ticks_raw, c.ticks_raw)


def test_thin_hedge_book_depth_check_shrinks_quotes_and_limits_exposure():
    on = backtest.run(backtest.preset("fault_thin_hedge_book").with_dotted({"hedging.escalation": "keep_retrying"}))
    off = backtest.run(backtest.preset("fault_thin_hedge_book").with_dotted(
        {"hedging.escalation": "keep_retrying", "risk.depth_check": False}))
    s_on, s_off = on.summary_dict, off.summary_dict
    assert s_on["depth_check_shrinks"] > 0 and s_off["depth_check_shrinks"] == 0
    assert s_on["hedge_failures"] < s_off["hedge_failures"]
    assert s_on["time_above_exposure_threshold_s"] < s_off["time_above_exposure_threshold_s"]
    assert s_on["largest_naked_lots"] <= s_off["largest_naked_lots"]


def test_thin_hedge_book_fires_the_kill_switch_on_hedge_failure(fault_runs):
    r = fault_runs["fault_thin_hedge_book"]
    kill = r.risk_events[r.risk_events.to_state == "killed"]
    assert len(kill) and kill.iloc[0].reason == "hedge failure"


def test_stale_feed_pauses_and_resumes_by_itself(fault_runs):
    ev = events(fault_runs["fault_stale_feed2"])
    assert ev[0][1:] == ("paused", "stale reference feed") and 102.9 <= ev[0][0] <= 103.1
    assert ev[1] == (160.0, "active", "reference feed updating again")
    t = fault_runs["fault_stale_feed2"].ticks
    paused = t[t.state == "paused"]
    assert paused.quote_bid_price.isna().all() and paused.quote_ask_price.isna().all()


def _first_loss_pause(cfg):
    ev = [e for e in events(backtest.run(cfg)) if e[1:] == ("paused", "loss over rolling window")]
    return ev[0][0] if ev else None


def test_toxic_burst_trips_the_loss_throttle_inside_the_burst_and_rarely_without_it():
    """A hedged maker loses little per toxic fill, so on any one seed the throttle can also fire on an ordinary
    loss (README: which seeds do what). Over seeds 1-10 the burst trips it inside its window on most, and the
    same seeds without the burst rarely there."""
    preset = backtest.preset("fault_toxic_burst")
    inside_with = inside_without = 0
    for seed in range(1, 11):
        with_burst = _first_loss_pause(preset.with_dotted({"sim.seed": seed}))
        without = _first_loss_pause(preset.with_dotted({"sim.seed": seed, "clients.toxic_windows_s": []}))
        inside_with += with_burst is not None and 100.0 <= with_burst <= 131.0
        inside_without += without is not None and 100.0 <= without <= 131.0
    assert inside_with >= 7 and inside_without <= 2, (inside_with, inside_without)


def test_a_loss_pause_lifts_once_its_window_has_rolled_on(fault_runs):
    ev = events(fault_runs["fault_toxic_burst"])
    assert ev[0][1:] == ("paused", "loss over rolling window")
    assert ev[1][1:] == ("active", "cool-down over") and ev[1][0] >= ev[0][0] + 10.0


def test_escalation_flatten_at_market_then_kill():
    cfg = backtest.preset("fault_hedge_outage").with_dotted({"hedging.escalation": "flatten_at_market"})
    r = backtest.run(cfg)
    s = r.summary_dict
    assert s["hedge_escalations"] >= 1
    first = r.hedges.hedge_id[r.hedges.attempt > cfg.hedging.max_retries + 1].iloc[0]
    attempts = r.hedges[r.hedges.hedge_id == first]
    assert (attempts[attempts.attempt <= cfg.hedging.max_retries + 1].order_type == "limit").all()
    assert (attempts[attempts.attempt > cfg.hedging.max_retries + 1].order_type == "market").all()
    kill = r.risk_events[r.risk_events.to_state == "killed"].iloc[0]
    assert kill.reason == "hedge failure" and kill.value == 2 * cfg.hedging.max_retries + 2


def test_escalation_keep_retrying_never_kills():
    cfg = backtest.preset("fault_hedge_outage").with_dotted({"hedging.escalation": "keep_retrying"})
    s = backtest.run(cfg).summary_dict
    assert s["hedge_failures"] >= 1 and not s["kill_switch_fired"]


def test_drawdown_from_peak_kills_and_a_reset_starts_a_new_peak():
    cfg = backtest.make_config(**{"sim.ticks": 3000, "risk.kill_drawdown": 0.2})
    r = backtest.run(cfg)
    t = r.ticks
    kill = r.risk_events[r.risk_events.to_state == "killed"].iloc[0]
    assert kill.reason == "drawdown from peak" and kill.value >= 0.2
    k = int(kill.tick)
    peak = max(0.0, t.total_pnl.iloc[: k + 1].max())
    assert peak - t.total_pnl.iloc[k] == pytest.approx(kill.value)
    assert (np.maximum.accumulate(np.maximum(t.total_pnl.iloc[:k], 0)) - t.total_pnl.iloc[:k] < 0.2).all(), "fires at the first tick over the limit"
    reset = backtest.run(cfg, [Intervention(k + 5, "kill_reset")])
    after = reset.risk_events[reset.risk_events.tick >= k + 5]
    assert after.iloc[0].reason == "kill switch reset"
    assert reset.ticks.state.iloc[k + 6] != "killed", "the drawdown counts from the reset, not the old peak"


def test_loss_throttle_measures_drawdown_from_the_window_peak():
    cfg = backtest.make_config(**{"sim.ticks": 4000, "risk.max_loss_window": 0.2, "risk.cooldown_s": 5.0})
    r = backtest.run(cfg)
    pause = r.risk_events[r.risk_events.reason == "loss over rolling window"]
    assert len(pause)
    k = int(pause.iloc[0].tick)
    w = round(cfg.risk.loss_window_s / cfg.sim.dt_s)
    pnl = r.ticks.total_pnl.to_numpy()
    peak = max(pnl[max(0, k - w): k + 1].max(), 0.0 if k < w else -np.inf)
    assert peak - pnl[k] >= 0.2 and pause.iloc[0].value == pytest.approx(peak - pnl[k])


def test_fault_presets_from_the_api():
    from fastapi.testclient import TestClient

    from api.app import create_app

    app = create_app(backtest.make_config(**{"sim.ticks": 1000}), ticks_per_second=0.0)
    with TestClient(app) as c:
        names = [p["name"] for p in c.get("/presets").json()["presets"]]
        assert set(FAULT_PRESETS) <= set(names)
        before = c.app.state.session.snapshot.results.ticks_raw.tobytes()
        bad = c.post("/reset", json={"preset": "no_such_fault"})
        assert bad.status_code == 422 and "fault_hedge_outage" in bad.json()["details"][0]["problem"]  # names them
        assert c.app.state.session.snapshot.results.ticks_raw.tobytes() == before
        assert c.post("/reset", json={"preset": "fault_latency_spike_exchange2"}).json()["ticks"] == 3000
        c.post("/clock/step", json={"ticks": 1005})
        risk = c.get("/risk").json()
        assert risk["state"] == "killed" and risk["reason"] == "hedge latency spike" and 100.0 <= risk["since_s"] <= 100.5
        exp = c.get("/exposure").json()
        assert exp["tick"] == 1005 and exp["largest_naked_lots"] >= 0 and "time_above_exposure_threshold_s" in exp


def test_faults_command_tabulates_every_scenario(capsys):
    from backtest.cli import main

    assert main(["faults"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| `fault_")]
    assert len(rows) == len(FAULT_PRESETS)
    assert any("hedge latency spike (100." in r for r in rows)


def test_decision_log_shows_cancel_races():
    from reports import decision_frame

    r = backtest.run(backtest.make_config(**{"sim.ticks": 1500, "latency.order_median_ms": 450.0,
                                             "latency.order_sigma": 0.0}))
    d = decision_frame(r)
    quotes = d[d.event == "quote"]
    assert set(quotes.action.dropna()) == {"place", "cancel", "cancel sent"} and quotes.action.notna().all()


def test_exposure_column_matches_the_summary(fault_runs):
    r = fault_runs["fault_hedge_outage"]
    assert r.ticks.exposure_above_threshold.sum() * r.config.sim.dt_s == pytest.approx(
        r.summary_dict["time_above_exposure_threshold_s"])


def test_faults_command_rejects_a_bad_seed_before_any_output(capsys):
    from backtest.cli import main

    assert main(["faults", "--seed", "-1"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "sim.seed" in err and ">= 0" in err


def test_overlapping_spike_windows_spike_once():
    import backtest
    from backtest.markets.generate import generate

    one = backtest.make_config(**{"sim.ticks": 500, "latency.spike_probability": 0.0,
                                  "latency.spike_windows_s": [(10.0, 20.0)],
                                  "latency.order_spike_windows_s": [(10.0, 20.0)]})
    two = one.with_dotted({"latency.spike_windows_s": [(10.0, 20.0), (10.0, 20.0), (15.0, 30.0)],
                           "latency.order_spike_windows_s": [(10.0, 20.0), (12.0, 18.0)]})
    m1, m2 = generate(one), generate(two)
    assert np.array_equal(m1.hedge_latency_ms[:200], m2.hedge_latency_ms[:200])  # x10 once, not x100
    assert np.array_equal(m1.order_latency_ms, m2.order_latency_ms)
    base = generate(one.with_dotted({"latency.spike_windows_s": []}))
    assert np.allclose(m2.hedge_latency_ms[200:300], base.hedge_latency_ms[200:300] * 10.0)


def test_too_many_windows_are_refused_with_the_limit():
    from backtest.config import ConfigError, make_config

    with pytest.raises(ConfigError, match="at most 1000"):
        make_config(**{"latency.spike_windows_s": [(float(i), i + 0.5) for i in range(1001)]})


ACCOUNT_FIELDS = ("cash1", "cash2", "fees1", "fees2", "realized", "spread_capture", "hedge_slippage", "hedge_latency",
                  "inv1", "inv2", "pending_hedge", "state", "manual_pause")


@pytest.mark.parametrize("name", list(FAULT_PRESETS))
def test_an_account_row_at_every_trade_and_state_change_and_only_then(fault_runs, name):
    """The account row is written only when something in it changed (the kernel skips its comparison while no fill
    or hedge attempt has been booked and the state is as last written: ``kernels.strategy.record_account``), and
    never misses a tick where a fill, a hedge that traded or a change of state happened."""
    r = fault_runs[name]
    a = r.account_raw
    rows = np.stack([a[f].astype(np.float64) for f in ACCOUNT_FIELDS], axis=1)
    assert (np.diff(rows, axis=0) != 0).any(axis=1).all()  # each row differs from the one before it
    written = set(a["tick"].tolist())
    traded = r.hedges_raw[r.hedges_raw["qty_filled"] > 0]["tick"]
    assert set(r.fills_raw["tick"].tolist()) <= written
    assert set(traded.tolist()) <= written
    assert set(r.risk_raw["tick"].tolist()) <= written
    assert len(r.fills_raw) > 0 and len(traded) > 0
