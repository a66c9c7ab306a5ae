"""The queue-reactive model's opt-in refinements: intensities of the queue's own size (``queue_bins_lots`` and the
three ``*_queue_multiplier``, calibrate --queue-sizes), sweeps that end at the new best (``sweep_within_jump``,
calibrate --sweep-within-jump) and the chase of an order that emptied its queue (``chase_*``, calibrate --chase).
Each is estimated back from a tape the model printed with it, and not found in one
printed without it; bad tables are refused with what is allowed; the generator gives the same events without the JIT.

Tolerances, and why: the estimated bins are time quantiles of the tape's queues, not the printed bins, so the shapes
are compared (the thinnest bins against the thickest); the limit orders' and cancels' multipliers are ratios to the
spread-and-imbalance tables fitted on the same tape, which take up part of the effect where a thin queue and an
extreme imbalance go together (attenuated, not reversed). The chase's probability comes back high (0.70 for 0.6):
the orders that took their queue and the others differ in more than the chase (a chased order that empties its
queue is chased again, and the others' baseline is what the estimate subtracts); its delays within 50%.
"""
import os
import subprocess
import sys
import hashlib

import numpy as np
import pytest

from backtest.config import ConfigError, _qr_quantiles
from backtest.markets.queue_reactive import queue_reactive_recording
from backtest.markets.queue_reactive_fit import QUANTILE_PROBS, estimate
from tests.test_queue_reactive import truth

SIZES = {"queue_reactive.queue_bins_lots": [10.0, 30.0],
         "queue_reactive.market_queue_multiplier": [4.0, 1.0, 0.3],
         "queue_reactive.limit_queue_multiplier": [3.0, 1.0, 0.3],
         "queue_reactive.cancel_queue_multiplier": [0.3, 1.0, 3.0],
         "queue_reactive.market_rate_multiplier": [1.0] * 5}
KEYS = ("queue_bins_lots", "market_queue_multiplier", "limit_queue_multiplier", "cancel_queue_multiplier")


def _estimated(cfg):
    d1, d2 = queue_reactive_recording(cfg)
    _, est = estimate(d1, d2, base=cfg, queue_sizes=True)
    got = {e.key: e.value for e in est}
    return {k: np.array(got[f"queue_reactive.{k}"]) for k in KEYS}, got


def test_the_queue_size_intensities_come_back_and_are_not_found_where_there_are_none():
    got, every = _estimated(truth(**SIZES))
    bins = got["queue_bins_lots"]
    thin = np.r_[bins, np.inf] <= 10.0  # the estimated bins inside the printed thinnest one
    thick = np.r_[bins, np.inf] > 30.0
    assert thin.any() and thick.any()
    market, limit, cancel = got["market_queue_multiplier"], got["limit_queue_multiplier"], got["cancel_queue_multiplier"]
    assert market[thin].mean() > 2.5 and market[thick].mean() < 0.6
    assert limit[thin].mean() > 1.2 and limit[thick].mean() < 0.6
    assert cancel[thin].mean() < 0.6 and cancel[thick].mean() > 1.4
    assert every["queue_reactive.market_rate_multiplier"] == [1.0] * 5  # the queue's size stands for the imbalance

    plain, _ = _estimated(truth())
    assert plain["market_queue_multiplier"].max() / plain["market_queue_multiplier"].min() < 2.5
    assert np.all((plain["limit_queue_multiplier"] > 0.8) & (plain["limit_queue_multiplier"] < 1.25))
    assert np.all((plain["cancel_queue_multiplier"] > 0.7) & (plain["cancel_queue_multiplier"] < 1.25))


def test_sweeps_within_the_jump_give_the_printed_jumps_back():
    """A market order larger than its queue: with sweep_within_jump the estimator measures on the model's own tape the
    jumps it was printed with; without, the new queues empty again and the measured jumps compound."""
    jumps = [1.0] * 10 + [2.0] * 4 + [3.0] * 3 + [4.0] * 2
    more = {"queue_reactive.depletion_jump_ticks": jumps, "queue_reactive.market_sweep_lots": _qr_quantiles(40.0),
            "queue_reactive.market_take_probability": [0.9, 0.8, 0.6, 0.4, 0.2]}
    grid = np.linspace(0.0, 1.0, 1001)
    printed_mean = np.interp(grid, QUANTILE_PROBS, jumps).mean()
    measured = {}
    for sweep in (True, False):
        cfg = truth(ticks=60_000, **more, **{"queue_reactive.sweep_within_jump": sweep})
        d1, d2 = queue_reactive_recording(cfg)
        _, est = estimate(d1, d2, base=cfg)
        measured[sweep] = np.array({e.key: e.value for e in est}["queue_reactive.depletion_jump_ticks"])
    assert np.interp(grid, QUANTILE_PROBS, measured[True]).mean() == pytest.approx(printed_mean, rel=0.1)
    assert measured[True][8] == 1.0 and measured[True][12] == 2.0  # the median and 90th percentile
    assert np.interp(grid, QUANTILE_PROBS, measured[False]).mean() > 1.5 * printed_mean


def test_calibrate_sets_the_sweep_only_when_asked():
    cfg = truth(ticks=60_000)
    d1, d2 = queue_reactive_recording(cfg)
    _, with_it = estimate(d1, d2, base=cfg, sweep_within_jump=True)
    assert {e.key: e.value for e in with_it}["queue_reactive.sweep_within_jump"] is True
    _, without = estimate(d1, d2, base=cfg)
    assert "queue_reactive.sweep_within_jump" not in {e.key for e in without}
    assert "queue_reactive.queue_bins_lots" not in {e.key for e in without}


def test_the_chase_comes_back_and_is_not_found_where_there_is_none(monkeypatch):
    import backtest.markets.queue_reactive as qrm

    more = {"queue_reactive.market_take_probability": [0.9, 0.8, 0.6, 0.4, 0.2],
            "queue_reactive.chase_min_delay_ms": 1.0, "queue_reactive.chase_mean_delay_ms": 3.0}
    got = {}
    for prob, take in ((0.6, None), (0.0, None), (0.6, 0.05)):
        cfg = truth(**more, **{"queue_reactive.chase_probability": prob,
                               "queue_reactive.chase_take_probability": take})
        d1, d2 = queue_reactive_recording(cfg)
        _, est = estimate(d1, d2, base=cfg, chase=True)
        got[prob, take] = {e.key.split(".")[-1]: e.value for e in est if e.key.startswith("queue_reactive.chase")}
        if prob > 0:  # the chase is in the saved state: the draws cut anywhere give the same events
            monkeypatch.setattr(qrm, "UNIFORM_BLOCK", 1000)
            again, _ = queue_reactive_recording(cfg)
            monkeypatch.undo()
            assert again.events.tobytes() == d1.events.tobytes()
    chase, none, rarely = got[0.6, None], got[0.0, None], got[0.6, 0.05]
    assert 0.45 < chase["chase_probability"] < 0.8
    assert 0.5 <= chase["chase_min_delay_ms"] <= 2.0 and 1.5 <= chase["chase_mean_delay_ms"] <= 4.5
    assert none["chase_probability"] < 0.2
    # the chased orders' take: by the queue's size (this table takes most thin queues), or rarely when set so; the
    # estimate counts every order that follows within the window, chased or not, so it moves with the truth
    assert rarely["chase_take_probability"] < chase["chase_take_probability"] - 0.2, (rarely, chase)


@pytest.mark.parametrize("override,message", [
    ({"queue_reactive.chase_probability": 1.5}, "chase_probability"),
    ({"queue_reactive.chase_mean_delay_ms": 0.0}, "chase_mean_delay_ms"),
    ({"queue_reactive.chase_take_probability": 1.5}, "chase_take_probability"),
    ({"queue_reactive.queue_bins_lots": [10.0]}, "allowed: all empty (off)"),
    ({**SIZES, "queue_reactive.limit_queue_multiplier": [1.0, 1.0]}, "one more than the bounds"),
    ({**SIZES, "queue_reactive.queue_bins_lots": [30.0, 10.0]}, "positive increasing bounds"),
    ({**SIZES, "queue_reactive.cancel_queue_multiplier": [1.0, -1.0, 1.0]}, "from 0 to 1000"),
    ({**SIZES, "queue_reactive.market_queue_multiplier": [0.0, 0.0, 0.0]}, "the market orders' not all 0"),
    ({**SIZES, "queue_reactive.market_queue_multiplier": [float("nan"), 1.0, 1.0]}, "finite number"),
])
def test_bad_queue_tables_are_refused_with_what_is_allowed(override, message):
    with pytest.raises(ConfigError) as err:
        truth(ticks=1000, **override)
    assert message in str(err.value)


def test_the_generator_with_every_option_runs_without_jit():
    if os.environ.get("NUMBA_DISABLE_JIT") == "1":
        return
    cfg = truth(ticks=5_000, **SIZES, **{"queue_reactive.sweep_within_jump": True,
                                         "queue_reactive.chase_probability": 0.5,
                                         "queue_reactive.gap_revert_multiplier": 0.3,
                                         "queue_reactive.gap_follow_multiplier": 1.7,
                                         "queue_reactive.chase_take_probability": 0.7})
    code = ("import sys, hashlib; from backtest.config import SimConfig;"
            "from backtest.markets.queue_reactive import queue_reactive_recording;"
            "d1, d2 = queue_reactive_recording(SimConfig.model_validate_json(sys.argv[1]));"
            "print(hashlib.sha256(d1.events.tobytes() + d2.events.tobytes()).hexdigest())")
    d1, d2 = queue_reactive_recording(cfg)
    assert d1.events.tobytes() != queue_reactive_recording(truth(ticks=5_000))[0].events.tobytes()
    want = hashlib.sha256(d1.events.tobytes() + d2.events.tobytes()).hexdigest()
    proc = subprocess.run([sys.executable, "-c", code, cfg.model_dump_json()],
                          env=dict(os.environ, NUMBA_DISABLE_JIT="1"), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == want
