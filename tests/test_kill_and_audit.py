"""The kill switch holds (nothing of ours rests or fills while killed, orders landing during a kill are
cancelled on arrival) and the risk audit trail has a row for every state change, in order, even when
several actions land on one tick."""
import numpy as np
import pytest

import backtest
from backtest.config import preset
from backtest.engine import Simulation
from backtest.markets.generate import generate
from backtest.interventions import Intervention
from kernels.tick import STATE_FIELDS

QUIET = {"latency.spike_probability": 0.0, "sim.ticks": 600}


def transitions(r):
    e = r.risk_events
    return list(zip(e.tick, e.from_state, e.to_state, e.reason))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_orders_in_flight_at_a_kill_never_rest_or_fill(seed):
    """Slow order entry: orders sent before the kill land after it. They are cancelled on arrival, and
    orders whose cancel was in flight leave the book at the kill, so no fill happens while killed."""
    cfg = preset("fault_latency_spike_exchange1").with_dotted({"sim.seed": seed, "sim.ticks": 1400})
    kill_at = 1200
    r = backtest.run(cfg, [Intervention(kill_at, "kill")])
    t = r.ticks
    killed = t.state == "killed"
    assert killed.iloc[kill_at:].all()
    assert not (r.fills.tick >= kill_at).any()
    # nothing of ours is live from the kill on: no quote resting, none travelling, no cancel pending
    after = t.iloc[kill_at:]
    assert after.quote_bid_price.isna().all() and after.quote_ask_price.isna().all()
    assert (after.bid_cancel_pending_lots == 0).all() and (after.ask_cancel_pending_lots == 0).all()
    o = r.orders
    landed = o[(o.tick > kill_at) & (o.action == "new")]
    cancelled_on_arrival = o[(o.tick > kill_at) & (o.action == "cancel") & (o.reason == "kill switch")]
    assert set(landed.order_id) == set(cancelled_on_arrival.order_id)


def test_the_spike_scenario_has_orders_in_flight_that_the_ticks_frame_shows():
    """The scenario above is not vacuous: before the kill, orders are in flight and cancels pending, and
    the ticks frame shows them."""
    cfg = preset("fault_latency_spike_exchange1").with_dotted({"sim.seed": 1, "sim.ticks": 1400})
    t = backtest.run(cfg).ticks
    window = t[(t.time_s >= 100) & (t.time_s < 120)]
    assert window.bid_in_flight_price.notna().any() and window.ask_in_flight_price.notna().any()
    assert (window.bid_cancel_pending_lots > 0).any() or (window.ask_cancel_pending_lots > 0).any()
    # an order is either travelling or resting on a side, never both
    assert not (window.bid_in_flight_price.notna() & window.quote_bid_price.notna()).any()


def test_a_manual_kill_pulls_resting_quotes_before_the_tick_s_flow():
    cfg = backtest.make_config(**QUIET, **{"clients.rate_per_s": 20.0})
    kill_at = 300
    r = backtest.run(cfg, [Intervention(kill_at, "kill")])
    assert not (r.fills.tick >= kill_at).any()
    o = r.orders
    pulled = o[(o.tick == kill_at) & (o.action == "cancel")]
    assert (pulled.reason == "kill switch").all() and len(pulled) >= 1


def test_every_action_on_one_tick_is_a_row_in_order():
    cfg = backtest.make_config(**QUIET)
    at = 200
    r = backtest.run(cfg, [Intervention(at, "pause"), Intervention(at, "kill"), Intervention(at, "kill_reset"),
                           Intervention(at, "resume")])
    rows = [row for row in transitions(r) if row[0] == at]
    assert rows == [
        (at, "active", "paused", "manual pause"),
        (at, "paused", "killed", "manual kill"),
        (at, "killed", "paused", "kill switch reset"),
        (at, "paused", "active", "manual resume"),
    ]
    assert r.ticks.state.iloc[at] == "active"


def test_a_kill_and_its_reset_on_one_tick_leave_both_rows():
    r = backtest.run(backtest.make_config(**QUIET), [Intervention(150, "kill"), Intervention(150, "kill_reset")])
    assert [(f, to, why) for tick, f, to, why in transitions(r) if tick == 150] == [
        ("active", "killed", "manual kill"), ("killed", "active", "kill switch reset")]


def test_a_kill_reset_that_is_re_killed_at_once_says_so():
    """The hedge latency is above the kill threshold for the whole window: a reset inside it is followed,
    on the same tick, by a new kill with the latency as its reason."""
    cfg = backtest.make_config(**{**QUIET, "latency.spike_windows_s": [(20.0, 40.0)],
                                  "latency.spike_multiplier": 200.0})
    r = backtest.run(cfg, [Intervention(300, "kill_reset")])
    rows = [row for row in transitions(r) if row[0] == 300]
    assert rows == [(300, "killed", "active", "kill switch reset"), (300, "active", "killed", "hedge latency spike")]


def test_state_changes_chain_and_the_ticks_frame_agrees():
    """Each row leaves from the state the previous row entered, and the state at each tick is the one the
    last row at or before it entered."""
    cfg = backtest.make_config(**QUIET)
    ivs = [Intervention(t, k) for t, k in [(100, "pause"), (100, "resume"), (200, "kill"), (200, "pause"),
                                           (250, "kill_reset"), (260, "resume"), (300, "kill"), (300, "kill")]]
    r = backtest.run(cfg, ivs)
    e = r.risk_events
    assert (e.from_state.iloc[1:].to_numpy() == e.to_state.iloc[:-1].to_numpy()).all()
    assert e.from_state.iloc[0] == "active"
    last = e.groupby("tick").to_state.last()
    state = r.ticks.state.astype(str)
    for tick, to in last.items():
        assert state.iloc[tick] == to


def test_loss_window_memory_does_not_grow_with_the_window():
    """A window of 10^7 s at 0.1 s per tick is 10^8 ticks: the peak deque stays bounded (one entry per
    bucket) instead of 1.6 GB, and checkpoints do not copy the scratch buffers."""
    small = backtest.make_config(**{"sim.ticks": 300})
    huge = small.with_dotted({"risk.loss_window_s": 1e7})
    for cfg in (small, huge):
        sim = Simulation(cfg, generate(cfg), checkpoint_every=100)
        sim.advance(cfg.sim.ticks)
        dq = sim.state[STATE_FIELDS.index("dq_val")]
        assert dq.nbytes <= 8 * 4100
        per_checkpoint = sum(a.nbytes for a in sim.checkpoints[-1].state)
        assert per_checkpoint < 2_000_000


def test_bucketed_loss_window_is_exact_for_short_windows_and_conservative_for_long_ones():
    base = {"sim.ticks": 3000, "latency.spike_probability": 0.0, "clients.rate_per_s": 4.0,
            "clients.informed_fraction": 0.8, "risk.max_loss_window": 0.2, "risk.cooldown_s": 5.0,
            "risk.kill_drawdown": 1e9}
    exact = backtest.run(backtest.make_config(**base, **{"risk.loss_window_s": 409.0}))  # 4090 ticks: 1 per bucket
    assert len(exact.risk_events) > 0
    # a bucketed window (2 ticks per bucket) can only see a peak at least as high: pauses no later
    coarse = backtest.run(backtest.make_config(**base, **{"risk.loss_window_s": 818.0}))
    first = lambda r: r.risk_events[r.risk_events.reason == "loss over rolling window"].tick.min()  # noqa: E731
    assert first(coarse) <= first(exact)


def test_remembered_floor_division_is_exact_for_any_sequence():
    """The loss window's bucket indices skip the division while the tick stays in the last quotient's range
    (``floor_div_memo``): every answer equals ``x // d`` for walks, jumps back (a run resumed from a checkpoint),
    negative values (the window's start before tick 0) and a divisor that changes under the same memo."""
    from kernels.strategy import floor_div_memo

    rng = np.random.default_rng(5)
    si = np.zeros(3, dtype=np.int64)  # zeros are a valid start
    x = -40
    for step in range(20_000):
        d = 15 if step < 12_000 else int(rng.integers(1, 40))
        x = x + 1 if rng.random() < 0.95 else int(rng.integers(-100, 10_000))
        assert floor_div_memo(x, d, si, 0) == x // d, (x, d)


def test_positions_do_not_wrap():
    # manual fills are capped at the hard limit (10^7 lots at most): 300 of them pass 2^31 lots
    cfg = backtest.make_config(**{"sim.ticks": 400, "hedging.enabled": False, "risk.soft_position_lots": 10_000_000,
                                  "risk.hard_position_lots": 10_000_000})
    r = backtest.run(cfg, [Intervention(10 + k, "manual_fill", "buy", 10_000_000) for k in range(300)])
    inv = r.ticks.inv1_lots
    signed = np.where(r.fills.side == "buy", 1, -1) * r.fills.qty_lots
    assert inv.iloc[-1] == signed.sum() and inv.iloc[-1] > 2**31
    assert r.ticks.inv1_lots.dtype == np.int64
    with pytest.raises(ValueError, match="qty_lots"):
        Intervention(10, "manual_fill", "buy", 3_000_000_000)


def test_the_python_api_checks_manual_fills_as_the_rest_api_does():
    from backtest.config import ConfigError

    cfg = backtest.make_config(**{"sim.ticks": 100})  # hard limit 40 lots, price about 100
    with pytest.raises(ConfigError, match=r"manual fill at tick 10: qty_lots 41: larger than the hard position limit"):
        backtest.run(cfg, [Intervention(10, "manual_fill", "buy", 41)])
    with pytest.raises(ConfigError, match=r"manual fill at tick 10: price 1e\+06: too far from the market"):
        backtest.run(cfg, [Intervention(10, "manual_fill", "buy", 1, 100_000_000)])


def test_an_intervention_beyond_the_last_tick_is_refused():
    cfg = backtest.make_config(**{"sim.ticks": 100})
    with pytest.raises(ValueError, match="beyond the run's last tick 99"):
        backtest.run(cfg, [Intervention(100, "pause")])
    assert len(backtest.run(cfg, [Intervention(99, "pause")]).risk_events) == 1


def test_a_pause_while_killed_is_a_row_and_holds_after_the_reset():
    r = backtest.run(backtest.make_config(**QUIET), [Intervention(100, "kill"), Intervention(150, "pause"),
                                                     Intervention(200, "kill_reset"), Intervention(260, "resume")])
    assert [(tick, f, to, why) for tick, f, to, why in transitions(r) if 100 <= tick <= 260] == [
        (100, "active", "killed", "manual kill"), (150, "killed", "killed", "manual pause"),
        (200, "killed", "paused", "kill switch reset"), (260, "paused", "active", "manual resume")]
