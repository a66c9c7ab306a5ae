"""The gap's side (``queue_reactive.gap_revert_multiplier`` and ``gap_follow_multiplier``, calibrate --gap-sides).

While the spread is wider than a tick, the orders inside it on the side whose best moved away last (the price going
back) and on the other (the price following) come at their own multipliers of the state's rate. A tape printed with
them gives them back from ``estimate(gap_sides=True)``, one printed without gives 1 and 1 back, the multipliers live
in the generator's saved state (the draws cut anywhere give the same tape), and 1 and 1 is the model without them
byte for byte.
"""
import numpy as np
import pytest

from backtest.config import ConfigError
from backtest.markets.queue_reactive import queue_reactive_recording
from backtest.markets.queue_reactive_fit import estimate
from tests.test_queue_reactive import truth

GAP = {"queue_reactive.gap_revert_multiplier": 0.25, "queue_reactive.gap_follow_multiplier": 1.75}


def _gap_estimates(cfg):
    d1, d2 = queue_reactive_recording(cfg)
    _, est = estimate(d1, d2, base=cfg, gap_sides=True)
    return d1, {e.key.split(".")[-1]: e for e in est if e.key.startswith("queue_reactive.gap_")}


def test_the_gap_sides_come_back_and_are_not_found_where_there_are_none(monkeypatch):
    import backtest.markets.queue_reactive as qrm

    d1, got = _gap_estimates(truth(**GAP))
    revert, follow = got["gap_revert_multiplier"].value, got["gap_follow_multiplier"].value
    assert 0.15 < revert < 0.4 and 1.4 < follow < 2.1, (revert, follow, got["gap_follow_multiplier"].source)
    monkeypatch.setattr(qrm, "UNIFORM_BLOCK", 1000)  # the opener is in the saved state: cut anywhere, same tape
    again, _ = queue_reactive_recording(truth(**GAP))
    monkeypatch.undo()
    assert again.events.tobytes() == d1.events.tobytes()

    _, none = _gap_estimates(truth())
    assert 0.75 < none["gap_revert_multiplier"].value < 1.3 and 0.75 < none["gap_follow_multiplier"].value < 1.3


def test_one_and_one_is_the_model_without_them_and_the_estimate_needs_gaps():
    plain = queue_reactive_recording(truth(ticks=20_000))[0].events
    ones = {"queue_reactive.gap_revert_multiplier": 1.0, "queue_reactive.gap_follow_multiplier": 1.0}
    assert queue_reactive_recording(truth(ticks=20_000, **ones))[0].events.tobytes() == plain.tobytes()
    assert queue_reactive_recording(truth(ticks=20_000, **GAP))[0].events.tobytes() != plain.tobytes()
    # a book that never opens a gap: nothing to estimate from, the keys keep their value and say why
    from backtest.markets.queue_reactive_fit import _gap_sides

    got = {}
    t = np.arange(100, dtype=np.int64) * 1_000_000
    bid = np.full(100, 100, dtype=np.int64)
    queue = np.full(100, 50, dtype=np.int64)
    _gap_sides(lambda k, v, s: got.__setitem__(k, (v, s)), "", t, bid, queue, bid + 1, queue,
               np.array([1, 2], dtype=np.int64), np.ones((6, 2, 5)))
    assert got["gap_revert_multiplier"][0] is None and "0 orders inside a gap" in got["gap_revert_multiplier"][1]


@pytest.mark.parametrize("key", ["gap_revert_multiplier", "gap_follow_multiplier"])
@pytest.mark.parametrize("bad", [-0.5, float("nan"), 1e9])
def test_bad_gap_multipliers_are_refused_with_what_is_allowed(key, bad):
    with pytest.raises(ConfigError) as err:
        truth(ticks=1000, **{f"queue_reactive.{key}": bad})
    assert key in str(err.value)


def test_the_gap_walk_names_the_side_that_closes_each_gap():
    from kernels.queue_reactive import gap_walk

    # 1 ms apart: one-tick spread; the ask empties (100 -> 103); the bid follows into the gap (99 -> 101, spread 2);
    # the bid follows again (-> 102: closed); the bid empties (102 -> 100); the bid comes back (-> 102: closed)
    bid = np.array([99, 99, 101, 102, 100, 102], dtype=np.int64)
    ask = np.array([100, 103, 103, 103, 103, 103], dtype=np.int64)
    qb = np.array([50, 50, 5, 7, 40, 9], dtype=np.int64)
    qa = np.array([30, 60, 60, 60, 60, 60], dtype=np.int64)
    t = np.arange(6, dtype=np.int64) * 1_000_000
    time_open = np.zeros((2, 2, 5))
    in_gap = np.zeros(2)
    gap_walk(t, bid, qb, ask, qa, np.array([1, 2], dtype=np.int64), 5, time_open, in_gap)
    assert in_gap.tolist() == [1.0, 2.0]  # one order on the opener's side (the bid back), two on the other
    # wide with the ask as opener for 2 ms (messages 1 and 2), with the bid for 1 ms (message 4)
    assert time_open[1].sum() == pytest.approx(0.002) and time_open[0].sum() == pytest.approx(0.001)
