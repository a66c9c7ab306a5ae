"""Same config and seed -> identical results; more ticks extend a run; an intervention at t leaves everything
before t alone."""

import pytest

import backtest
from backtest.config import REPLAY_PRESET, make_config, preset
from backtest.interventions import Intervention


def preset_with_ticks(name, ticks, overrides):
    data = preset(name).model_dump()
    data["sim"]["ticks"] = ticks
    return make_config(data, **overrides)


def _same(a, b):
    return a.tobytes() == b.tobytes()


def test_same_seed_bit_for_bit():
    cfg = backtest.make_config(**{"sim.ticks": 1500})
    a, b = backtest.run(cfg), backtest.run(cfg)
    for name in ("ticks_raw", "fills_raw", "hedges_raw", "orders_raw", "risk_raw", "account_raw"):
        assert _same(getattr(a, name), getattr(b, name)), name


def test_different_seed_differs():
    a = backtest.run(backtest.make_config(**{"sim.ticks": 500, "sim.seed": 1}))
    b = backtest.run(backtest.make_config(**{"sim.ticks": 500, "sim.seed": 2}))
    assert not _same(a.ticks_raw, b.ticks_raw)


def test_intervention_does_not_change_the_past():
    cfg = backtest.make_config(**{"sim.ticks": 1500})
    base = backtest.run(cfg)
    t = 700
    for iv in ([Intervention(t, "manual_fill", "buy", 4)], [Intervention(t, "pause")], [Intervention(t, "kill")]):
        other = backtest.run(cfg, iv)
        assert _same(base.ticks_raw[:t], other.ticks_raw[:t])
        assert not _same(base.ticks_raw[t:], other.ticks_raw[t:])
        before = base.fills_raw[base.fills_raw["tick"] < t]
        assert _same(before, other.fills_raw[: len(before)])


def test_market_arrays_do_not_depend_on_interventions():
    from backtest.markets.generate import generate

    cfg = backtest.make_config(**{"sim.ticks": 300})
    a, b = generate(cfg), generate(cfg)
    assert _same(a.fair, b.fair) and _same(a.events1.qty, b.events1.qty) and _same(a.hedge_latency_ms, b.hedge_latency_ms)


def _assert_extends(short, long, cut):
    """Every record of ``short`` before tick ``cut`` is ``long``'s, bit for bit, and nothing else is."""
    assert _same(short.ticks_raw[:cut], long.ticks_raw[:cut])
    for name, tick in (("fills_raw", "tick"), ("hedges_raw", "tick"), ("orders_raw", "tick"), ("risk_raw", "tick"),
                       ("account_raw", "tick")):
        a, b = getattr(short, name), getattr(long, name)
        a, b = a[a[tick] < cut], b[b[tick] < cut]
        assert _same(a, b), name


@pytest.mark.parametrize("overrides", [
    {},
    {"quoting.fill_model": "intensity", "latency.spike_probability": 0.01},
    # every fault that draws, each from its own stream
    {"clients.toxic_windows_s": [(20.0, 90.0)], "clients.toxic_rate_per_s": 5.0, "latency.hedge_reject_probability": 0.05,
     "latency.spike_windows_s": [(30.0, 40.0)], "latency.order_spike_windows_s": [(50.0, 60.0)],
     "market.feed2_stale_windows_s": [(70.0, 80.0)], "market.regime_switch_per_s": 0.2},
], ids=["default", "intensity-fills-random-spikes", "faults"])
def test_a_longer_run_extends_a_shorter_one(overrides):
    """The same seed with more ticks keeps the shorter run's start: every input draws its own stream in tick
    order. Only the informed clients' last horizon looks past the shorter run's end."""
    short_cfg = backtest.make_config(**{"sim.ticks": 1200, **overrides})
    long_cfg = backtest.make_config(**{"sim.ticks": 2500, **overrides})
    short, long = backtest.run(short_cfg), backtest.run(long_cfg)
    horizon = round(short_cfg.clients.informed_horizon_s / short_cfg.sim.dt_s)
    cut = 1200 - horizon
    assert len(short.fills_raw[short.fills_raw["tick"] < cut]) > 20  # a run with something in it
    _assert_extends(short, long, cut)

    from backtest.markets.generate import generate

    a, b = generate(short_cfg), generate(long_cfg)
    for name in ("fair", "feed2", "hedge_latency_ms", "hedge_reject", "order_latency_ms", "feed2_seen"):
        assert _same(getattr(a, name), getattr(b, name)[:1200]), name
    ea, eb = a.events1, b.events1
    assert _same(ea.start, eb.start[:1201])
    end = int(ea.start[cut])
    assert _same(ea.table[:end], eb.table[:end])


def test_a_longer_replay_extends_a_shorter_one():
    """On a recording too: the latencies drawn for it extend the same way."""
    overrides = {"latency.spike_probability": 0.001, "latency.hedge_reject_probability": 0.01}
    short = backtest.run(preset_with_ticks(REPLAY_PRESET, 40_000, overrides))
    long = backtest.run(preset_with_ticks(REPLAY_PRESET, 60_000, overrides))
    assert len(short.fills_raw) >= 3 and len(long.fills_raw) > len(short.fills_raw)
    _assert_extends(short, long, 40_000)
