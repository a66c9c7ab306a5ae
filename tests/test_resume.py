"""Resumable runs: a run advanced in spans, resumed from a checkpoint or forked with new interventions is
bit-for-bit the run computed from scratch in one go; the API session built on it publishes a prefix of the
run at once and the whole run after its background completion."""

import numpy as np
import pytest

import backtest
from api.session import Session
from backtest import engine
from backtest.engine import Simulation
from backtest.markets.generate import generate
from backtest.interventions import Intervention as Iv

RAW = ("ticks_raw", "fills_raw", "hedges_raw", "orders_raw", "risk_raw", "account_raw", "counters")


def assert_same_run(a, b):
    for name in RAW:
        x, y = getattr(a, name), getattr(b, name)
        assert x.shape == y.shape and x.tobytes() == y.tobytes(), name


@pytest.fixture(scope="module")
def setup():
    cfg = backtest.make_config(**{"sim.ticks": 3000})
    return cfg, generate(cfg)


def test_uneven_spans_equal_one_span(setup):
    cfg, market = setup
    sim = Simulation(cfg, market, (), checkpoint_every=400)
    for until in (1, 2, 399, 400, 401, 1234, 2000, 2999, 3000, 5000):
        sim.advance(until)
        assert sim.computed == min(until, 3000)
    assert sim.done
    assert [c.tick for c in sim.checkpoints] == list(range(0, 3000, 400))
    assert_same_run(sim.results(), backtest.run(cfg, market=market))


def test_forks_equal_runs_from_scratch(setup):
    """A chain of actions, some on checkpoint ticks and some between them, each forked from the run before."""
    cfg, market = setup
    sim = Simulation(cfg, market, (), checkpoint_every=500)
    sim.advance(3000)
    actions = [Iv(499, "manual_fill", "buy", 6), Iv(500, "pause"), Iv(500, "manual_fill", "sell", 2, None),
               Iv(1333, "resume"), Iv(2000, "kill"), Iv(2999, "kill_reset")]
    for k, action in enumerate(actions, start=1):
        sim = sim.fork(actions[:k], action.tick)
        assert sim.computed == action.tick // 500 * 500  # resumed from the last checkpoint at or before it
        sim.advance(action.tick + 1)
        prefix = sim.results()
        sim.advance(3000)
        full = backtest.run(cfg, actions[:k], market=market)
        assert_same_run(sim.results(), full)
        n = len(prefix.ticks_raw)
        assert prefix.ticks_raw.tobytes() == full.ticks_raw[:n].tobytes()
        assert prefix.fills_raw.tobytes() == full.fills_raw[full.fills_raw["tick"] < n].tobytes()


def test_record_overflow_inside_a_span_regrows_and_repeats_it(setup, monkeypatch):
    cfg, market = setup
    monkeypatch.setattr(engine, "_record_caps", lambda *a: (3, 2, 5, 1, 2))
    sim = Simulation(cfg, market, (Iv(10, "manual_fill", "buy", 4),), checkpoint_every=300)
    sim.advance(3000)
    assert sim.records[0].shape[0] > 3 and sim.records[4].shape[0] > 2  # they had to grow
    monkeypatch.undo()
    assert_same_run(sim.results(), backtest.run(cfg, (Iv(10, "manual_fill", "buy", 4),), market=market))


def test_fork_needs_checkpoints(setup):
    cfg, market = setup
    with pytest.raises(ValueError, match="checkpoint_every"):
        Simulation(cfg, market).fork((), 10)


def test_session_publishes_a_prefix_then_the_whole_run():
    cfg = backtest.make_config(**{"sim.ticks": 6000})
    session = Session(cfg, ticks_per_second=0.0, horizon_ticks=50)
    session.step(1200)
    tick, snap = session.apply(lambda _, t: Iv(t, "manual_fill", "sell", 5))
    assert tick == 1200 and 1200 < snap.computed <= 6000
    session.apply(lambda _, t: Iv(t, "pause"))  # supersedes the first action's background completion
    full = session.full_snapshot()
    assert full.is_full_run and len(full.interventions) == 2
    expected = backtest.run(cfg, full.interventions)
    assert_same_run(full.results, expected)
    assert snap.results.ticks_raw.tobytes() == backtest.run(cfg, snap.interventions).ticks_raw[: snap.computed].tobytes()
    assert session.snapshot_at(5999) is full


def test_session_without_background_completes_before_answering():
    cfg = backtest.make_config(**{"sim.ticks": 3000})
    session = Session(cfg, ticks_per_second=0.0, horizon_ticks=10, background=False)
    assert session.snapshot.is_full_run
    _, snap = session.apply(lambda _, t: Iv(t, "kill"))
    assert snap.is_full_run and snap.complete.is_set()
    assert np.all(snap.results.tick_columns["state"][1:] == "killed")
