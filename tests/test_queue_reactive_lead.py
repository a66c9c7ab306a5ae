"""Exchange 2 leading (``queue_reactive.lead_moves_per_s`` > 0, calibrate --perp-leads [--lead-follow]).

Exchange 2's mid moves on its own (a Poisson flow with recorded sizes, a chance of repeating its last direction and
of moving up by where it stands against Exchange 1) and after Exchange 1's market orders (a chance for those that
took their whole queue, another for the others, as far as the order moved Exchange 1's best); Exchange 1's flows
react to its trend over the trend window, and Exchange 1's book reprices towards it at ``lead_pull_per_s`` per tick
of gap. A tape printed with it gives its keys back from ``estimate(perp_leads=True, lead_follow=True)``; the pull
holds the venues together; the follow makes Exchange 2 move after the orders it follows; 0 moves a second is the
model without it byte for byte, whatever the other lead keys say; the leader's state is carried between the
generator's calls; bad values are refused with what is allowed.
"""
import os

import numpy as np
import pytest

from backtest.config import ConfigError
from backtest.markets.queue_reactive import lead_gap_std, queue_reactive_recording
from backtest.markets.queue_reactive_fit import cross_impact_by_take, estimate
from tests.test_queue_reactive import assert_same_tape_without_jit, truth

LEAD = {"queue_reactive.trend_window_ms": 20.0, "queue_reactive.lead_moves_per_s": 5.0,
        "queue_reactive.lead_move_ticks": [2.0] * 19, "queue_reactive.lead_repeat_probability": 0.4,
        "queue_reactive.lead_gap_ticks": 3.0, "queue_reactive.lead_up_probability": [0.8, 0.5, 0.2],
        "queue_reactive.lead_pull_per_s": 1.0, "queue_reactive.trend_market_multiplier": [5.0, 0.6, 5.0],
        "queue_reactive.trend_buy_probability": [[0.15] * 5, [0.5] * 5, [0.85] * 5],
        "queue_reactive.lead_follow_probability": 0.8, "queue_reactive.lead_follow_part_probability": 0.2,
        "queue_reactive.sweep_within_jump": True, "market.basis_mean_ticks": -40.0}
NO_FOLLOW = {"queue_reactive.lead_follow_probability": 0.0, "queue_reactive.lead_follow_part_probability": 0.0}


@pytest.fixture(scope="module")
def leading():
    cfg = truth(**LEAD)
    d1, d2 = queue_reactive_recording(cfg)
    est_cfg, est = estimate(d1, d2, base=truth(**{**LEAD, **NO_FOLLOW}), trend_window_ms=20.0, perp_leads=True,
                            lead_follow=True)
    return cfg, d1, d2, {e.key.split(".")[-1]: e for e in est}


def test_the_leaders_keys_come_back_from_its_own_tape(leading):
    _, _, _, got = leading
    # its own moves: what is left of the recorded rate once the moves after orders are taken out
    rate = got["lead_moves_per_s"].value
    assert 3.0 < rate < 7.0, got["lead_moves_per_s"].source
    sizes = got["lead_move_ticks"].value
    assert 1.0 <= sizes[9] <= 2.0, sizes  # its own 2 ticks, and the orders' 1-tick moves it follows
    mult = got["trend_market_multiplier"].value
    assert mult[0] > 2.0 and mult[2] > 2.0 and mult[1] < 1.0, mult  # orders crowd in after the leader moved
    buy = got["trend_buy_probability"].value
    assert np.mean(buy[2]) > 0.7 and np.mean(buy[0]) < 0.3, buy  # and follow its direction
    assert got["basis_mean_ticks"].value == pytest.approx(-40.0, abs=3.0)
    # the pull and the follow are matched by simulation: the truth's within the grids' reach
    assert 0.3 < got["lead_pull_per_s"].value < 3.5, got["lead_pull_per_s"].source
    took, part = got["lead_follow_probability"].value, got["lead_follow_part_probability"].value
    assert 0.5 <= took <= 1.0 and 0.05 <= part <= 0.4, (took, part, got["lead_follow_probability"].source)
    ups = got["lead_up_probability"].value
    assert ups[0] > ups[2], ups  # below Exchange 1 it goes up more often than above it


def test_the_pull_holds_the_venues_together():
    # a leader that does not come back by itself: without the pull the gap wanders off
    cfg = truth(ticks=120_000, **{**LEAD, **NO_FOLLOW, "queue_reactive.lead_up_probability": [0.5, 0.5, 0.5]})
    gone, held = lead_gap_std(cfg, [0.0, 1.0])
    assert held < 0.5 * gone, (gone, held)


def test_exchange2_moves_after_the_orders_it_follows(leading):
    _, d1, d2, _ = leading
    took, part, _, _ = cross_impact_by_take(d1, d2)
    none = cross_impact_by_take(*queue_reactive_recording(truth(**{**LEAD, **NO_FOLLOW})))
    only_took = cross_impact_by_take(*queue_reactive_recording(truth(**{
        **LEAD, **NO_FOLLOW, "queue_reactive.lead_follow_probability": 1.0})))
    assert took > none[0] + 0.5 and part > none[1] + 0.1, (took, part, none)
    # following only the orders that took their queue moves Exchange 2 after those, not after the others
    assert only_took[0] > none[0] + 0.5 and abs(only_took[1] - none[1]) < 0.5 * (only_took[0] - none[0]), (
        only_took, none)


def test_no_moves_is_the_model_without_a_leader_and_its_state_survives_a_cut(monkeypatch, leading):
    import backtest.markets.queue_reactive as qrm

    plain = {k: v for k, v in LEAD.items() if not k.startswith("queue_reactive.lead_")}
    off = {**LEAD, "queue_reactive.lead_moves_per_s": 0.0}
    base = queue_reactive_recording(truth(ticks=20_000, **plain))
    same = queue_reactive_recording(truth(ticks=20_000, **off))
    assert all(a.events.tobytes() == b.events.tobytes() for a, b in zip(base, same))
    cfg, d1, _, _ = leading
    monkeypatch.setattr(qrm, "UNIFORM_BLOCK", 1000)  # the leader's mid, sign and rows are in the saved state
    again = queue_reactive_recording(cfg)
    assert again[0].events.tobytes() == d1.events.tobytes()


@pytest.mark.parametrize("override,message", [
    ({"queue_reactive.trend_window_ms": 0.0}, "trend_window_ms 0"),
    ({"queue_reactive.lead_up_probability": [0.5, 0.5]}, "lead_up_probability"),
    ({"queue_reactive.lead_up_probability": [0.5, 1.5, 0.5]}, "lead_up_probability"),
    ({"queue_reactive.lead_move_ticks": [0.0] * 19}, "lead_move_ticks"),
    ({"queue_reactive.lead_repeat_probability": 1.0}, "lead_repeat_probability"),
    ({"queue_reactive.lead_pull_per_s": -1.0}, "lead_pull_per_s"),
    ({"queue_reactive.lead_follow_probability": 1.5}, "lead_follow_probability"),
    ({"queue_reactive.lead_follow_part_probability": -0.1}, "lead_follow_part_probability"),
    ({"queue_reactive.lead_follow_delay_ms": 0.0}, "lead_follow_delay_ms"),
    ({"queue_reactive.lead_reprice_other_queue": "both"}, "lead_reprice_other_queue"),
])
def test_bad_leader_values_are_refused_with_what_is_allowed(override, message):
    with pytest.raises(ConfigError) as err:
        truth(ticks=1000, **{**LEAD, **override})
    assert message in str(err.value)


def test_the_estimate_refuses_a_leader_without_a_trend_window(leading):
    _, d1, _, _ = leading
    with pytest.raises(ConfigError) as err:
        estimate(d1, d1, perp_leads=True)
    assert "--trend-window-ms" in str(err.value)


def test_the_leading_generator_runs_without_jit():
    if os.environ.get("NUMBA_DISABLE_JIT") == "1":
        return
    assert_same_tape_without_jit(truth(ticks=5_000, **LEAD, **{"queue_reactive.gap_revert_multiplier": 0.3,
                                                               "queue_reactive.chase_probability": 0.5}))


def test_the_top_lead_quantile_is_the_last_lag_with_weight_whatever_the_sums_rounding():
    """The cross-correlation's weights are summed twice (a cumulative sum for the CDF, a total to normalise it); added
    in different orders they may differ in the last bit, which sent the top quantile to the last lag, whose weight
    is 0 (BTC's lead_at_trade_ms[18] came out 101 on one machine and 94 on another)."""
    from backtest.markets.queue_reactive_fit import lead_distribution

    rng = np.random.default_rng(3)
    lags = np.arange(-100, 101)
    for _ in range(200):
        xcorr = np.zeros(lags.size)
        xcorr[rng.choice(lags.size - 20, 40, replace=False)] = rng.random(40) * 0.3 + 0.1  # the last 20 lags: none
        q, _ = lead_distribution({"lags": lags, "xcorr": xcorr, "peak": 0.3, "lag": 0.0}, 10_000)
        lead = -lags[::-1]
        last = lead[np.flatnonzero(np.maximum(xcorr - 0.01, 0.0)[::-1] > 0)[-1]]
        assert q[-1] == last, (q[-1], last)


def test_the_take_probability_by_trend_comes_back_and_needs_a_trend():
    """``trend_take_probability`` (calibrate --trend-takes): orders take their whole queue far more often after the
    leader rose in this tape; the estimate says so, and an unset table is the model without it byte for byte."""
    takes = {**LEAD, **NO_FOLLOW, "queue_reactive.trend_take_probability": [[0.1] * 5, [0.1] * 5, [0.9] * 5]}
    d1, d2 = queue_reactive_recording(truth(**takes))
    _, est = estimate(d1, d2, base=truth(**{**LEAD, **NO_FOLLOW}), trend_window_ms=20.0, perp_leads=True,
                      trend_takes=True)
    table = {e.key: e.value for e in est}["queue_reactive.trend_take_probability"]
    assert np.mean(table[2]) > np.mean(table[1]) + 0.4 and abs(np.mean(table[0]) - np.mean(table[1])) < 0.15, table
    plain = {**LEAD, **NO_FOLLOW}
    tiled = {**plain, "queue_reactive.trend_take_probability": [list(truth(**plain).queue_reactive
                                                                      .market_take_probability)] * 3}
    assert (queue_reactive_recording(truth(ticks=20_000, **plain))[0].events.tobytes()
            == queue_reactive_recording(truth(ticks=20_000, **tiled))[0].events.tobytes())
    with pytest.raises(ConfigError) as err:
        estimate(d1, d2, trend_takes=True)
    assert "--trend-takes needs a trend window" in str(err.value)
    with pytest.raises(ConfigError) as err:
        truth(ticks=1000, **{**takes, "queue_reactive.trend_take_probability": [[0.5] * 4] * 3})
    assert "trend_take_probability" in str(err.value)


def test_a_repricing_leaves_a_refill_queue_or_an_inside_order_on_the_other_side():
    """``lead_reprice_other_queue``: after Exchange 1 reprices, the side it moved away from holds a refill's queue
    (its makers reprice too) or one order's (the sizes differ by two orders of magnitude here)."""
    import backtest.markets.queue_reactive as qrm
    from kernels.records import ME_BBO_ASK, ME_BBO_BID

    sizes = {"queue_reactive.refill_queue_lots": [500.0] * 19, "queue_reactive.inspread_size_lots": [3.0] * 19}
    touch = {}
    for kind in ("refill", "inside"):
        cfg = truth(ticks=60_000, **{**LEAD, **NO_FOLLOW, **sizes, "queue_reactive.lead_reprice_other_queue": kind,
                                     "queue_reactive.lead_pull_per_s": 50.0})
        ev, _ = qrm._exchange1_events(cfg, 60.0)
        bbo = ev[(ev["kind"] == ME_BBO_BID) | (ev["kind"] == ME_BBO_ASK)]
        touch[kind] = np.median(bbo["qty"])
    assert touch["refill"] > 3 * touch["inside"], touch
