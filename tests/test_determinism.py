"""Same config and seed -> identical results; an intervention at t leaves everything before t alone."""

import backtest
from backtest.interventions import Intervention


def _same(a, b):
    return a.tobytes() == b.tobytes()


def test_same_seed_bit_for_bit():
    cfg = backtest.make_config(**{"sim.ticks": 1500})
    a, b = backtest.run(cfg), backtest.run(cfg)
    for name in ("ticks_raw", "fills_raw", "hedges_raw", "orders_raw", "risk_raw"):
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


def test_event_classification_matches_numpy_searchsorted():
    """The jitted classifier must reproduce numpy's searchsorted exactly, or every run would change."""
    import numpy as np

    from kernels.series import classify_events

    rates = np.array([8.0, 8.0, 15.0, 15.0, 1.0, 1.0, 1.0])
    cum = np.cumsum(rates / rates.sum())
    cum[-1] = 1.0
    u = np.concatenate([np.random.default_rng(3).random(20000), cum, np.nextafter(cum, 0), [0.0]])
    u = u[u < 1.0]
    kind_of = np.arange(7, dtype=np.int8)
    side_of = (np.arange(7, dtype=np.int8) * 3) % 5
    kind, side = classify_events(u, cum, kind_of, side_of)
    expected = np.searchsorted(cum, u, side="right")
    assert np.array_equal(kind, kind_of[expected]) and np.array_equal(side, side_of[expected])
