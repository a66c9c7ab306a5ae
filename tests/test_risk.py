"""Risk throttles: each fires on a scenario built to trigger it, and not otherwise."""

import backtest
from backtest.interventions import Intervention

QUIET = {"latency.spike_probability": 0.0, "sim.ticks": 800}
NO_FLOW_ON_US = {"clients.rate_per_s": 0.0, "exchange1.market_rate_per_s": 0.0, "exchange1.limit_rate_per_s": 0.0}


def events(r):
    return list(zip(r.risk_events.to_state, r.risk_events.reason))


def test_no_throttle_fires_in_a_quiet_run():
    r = backtest.run(backtest.make_config(**QUIET))
    assert len(r.risk_events) == 0
    assert (r.ticks.state == "active").all()


def test_soft_limit_reduces_and_hard_limit_caps_position():
    cfg = backtest.make_config(**{**QUIET, "risk.soft_position_lots": 4, "risk.hard_position_lots": 6,
                                  "hedging.enabled": False, "clients.rate_per_s": 5.0})
    r = backtest.run(cfg)
    t = r.ticks
    assert ("reduced", "soft position limit") in events(r)
    assert t.inv1_lots.abs().max() <= 6
    # at the hard limit the side that adds exposure is not quoted
    at_hard = t[t.inv1_lots >= 6]
    assert len(at_hard) == 0 or at_hard.quote_bid_price.isna().all()


def test_reduced_exactly_when_beyond_soft_limit_and_adding_side_shrinks():
    cfg = backtest.make_config(**{**QUIET, "risk.soft_position_lots": 3, "risk.hard_position_lots": 10,
                                  "hedging.enabled": False, "quoting.size_lots": 4})
    # a manual fill is at most the hard limit (10): the 12-lot sale as two fills at one tick
    r = backtest.run(cfg, [Intervention(100, "manual_fill", "buy", 6), Intervention(400, "manual_fill", "sell", 6),
                           Intervention(400, "manual_fill", "sell", 6)])
    t = r.ticks
    beyond = t.inv1_lots.abs() >= 3
    assert beyond.any() and (~beyond).any()
    assert ((t.state == "reduced") == beyond).all()
    long_ = t[(t.inv1_lots >= 3) & t.quote_bid_price.notna()]
    assert (long_.quote_bid_lots <= 2).all() and (t[t.inv1_lots >= 3].quote_ask_lots <= 4).all()
    short = t[(t.inv1_lots <= -3) & t.quote_ask_price.notna()]
    assert (short.quote_ask_lots <= 2).all()


def test_loss_window_pauses_then_resumes_after_cooldown():
    cfg = backtest.make_config(**{**QUIET, "sim.ticks": 1500, "risk.max_loss_window": 0.5, "risk.loss_window_s": 5.0,
                                  "risk.cooldown_s": 10.0, "hedging.enabled": False})
    # buy 50 lots far above the market: an immediate loss of about 50 * 1.00 = 50 currency
    r = backtest.run(cfg, [Intervention(100, "manual_fill", "buy", 25, 10100),  # at most the hard limit (40) each
                           Intervention(100, "manual_fill", "buy", 25, 10100)])
    ev = r.risk_events
    paused = ev[(ev.to_state == "paused") & (ev.reason == "loss over rolling window")]
    assert len(paused) >= 1 and paused.tick.iloc[0] == 100
    assert (r.ticks.quote_bid_price.iloc[101:150].isna()).all(), "no quotes while paused"
    resumed = ev[(ev.from_state == "paused") & (ev.reason == "cool-down over")]
    assert len(resumed) >= 1 and resumed.tick.iloc[0] >= 100 + 100


def test_latency_spike_fires_kill_switch_and_reset_restores_quoting():
    cfg = backtest.make_config(**{"sim.ticks": 800, "latency.spike_probability": 0.01, "latency.spike_multiplier": 100.0,
                                  "risk.kill_latency_ms": 2000.0})
    r = backtest.run(cfg)
    ev = r.risk_events
    assert ("killed", "hedge latency spike") in events(r)
    kill_tick = int(ev[ev.to_state == "killed"].tick.iloc[0])
    assert r.ticks.state.iloc[-1] == "killed", "the kill switch holds until reset"
    assert r.ticks.quote_bid_price.iloc[kill_tick:].isna().all()
    r2 = backtest.run(cfg.with_dotted({"risk.kill_latency_ms": 1e9}))
    assert "killed" not in set(r2.ticks.state)
    r3 = backtest.run(cfg, [Intervention(kill_tick + 10, "kill_reset")])
    assert r3.ticks.state.iloc[kill_tick + 10] != "killed" or ("killed", "hedge latency spike") in events(r3)
    assert any(reason == "kill switch reset" for _, reason in events(r3))


def test_hedge_failure_fires_kill_switch_after_retries():
    cfg = backtest.make_config(**{**QUIET, **NO_FLOW_ON_US, "latency.outage_windows_s": [[10.0, 40.0]],
                                  "latency.hedge_sigma": 0.0, "hedging.max_retries": 3,
                                  "hedging.retry_backoff_s": 0.2})
    r = backtest.run(cfg, [Intervention(120, "manual_fill", "buy", 2)])
    ev = r.risk_events
    kills = ev[ev.reason == "hedge failure"]
    assert len(kills) == 1
    # first attempt at tick 121 (50 ms -> next tick), retries every 2 ticks, the 4th failure kills
    assert kills.tick.iloc[0] == 121 + 2 * 3
    h = r.hedges
    assert (h[h.tick < 400].status == "rejected").all()
    # after the outage the exposure is hedged all the same
    assert r.ticks.net_delta_lots.iloc[-1] == 0
    assert r.summary_dict["hedge_failures"] == 1


def test_manual_pause_and_resume():
    r = backtest.run(backtest.make_config(**QUIET), [Intervention(100, "pause"), Intervention(200, "resume")])
    assert events(r) == [("paused", "manual pause"), ("active", "manual resume")]
    assert r.ticks.quote_bid_price.iloc[100:200].isna().all()
    assert r.ticks.quote_bid_price.iloc[200:].notna().any()
