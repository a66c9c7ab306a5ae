"""Same config and seed -> identical results; an intervention at t leaves everything before t alone."""

import backtest
from backtest.interventions import Intervention


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
    from backtest.generate import generate

    cfg = backtest.make_config(**{"sim.ticks": 300})
    a, b = generate(cfg), generate(cfg)
    assert _same(a.fair, b.fair) and _same(a.events1.qty, b.events1.qty) and _same(a.hedge_latency_ms, b.hedge_latency_ms)
