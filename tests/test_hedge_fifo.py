"""Hedge bookkeeping against an independent first-in-first-out matching of fills to hedges.

The rebuild below knows nothing of the kernel's ring: it replays the fills frame (each fill's lots reach
Exchange 2 at its ``hedge_due_tick``, in fill order) and the hedge attempts, matching lots oldest first. Each
hedge's covered fills, its first fill tick, its Exchange 2 mark at the fills and its latency cost must be what
the kernel recorded, and the run's final inventory MTM and hedge basis follow from the same matching.
"""
from collections import deque

import numpy as np
import pytest

import backtest
from backtest.config import FAULT_PRESETS, preset
from backtest.interventions import Intervention
from kernels.strategy import C_INTENT_MERGES


def fifo_rebuild(r):
    """Per hedge attempt: (first fill tick, Exchange 2 mark at the covered fills, latency cost in tick-lots);
    and the sums of lots x Exchange 1 / Exchange 2 marks of every hedged lot's fill (tick-lots)."""
    assert r.counters[C_INTENT_MERGES] == 0, "merged intents lose the per-fill order this rebuild relies on"
    fills = r.fills_raw
    arrivals = sorted((int(f["hedge_due_tick"]), int(f["fill_id"])) for f in fills if f["hedge_due_tick"] >= 0)
    by_id = {int(f["fill_id"]): f for f in fills}
    queue = deque()  # [signed lots to trade on Exchange 2, fill tick, f1, f2]
    a = 0
    out = []
    turns = [0]  # arrivals that offset every held lot of the other side and leave lots of their own
    b2m1 = b2m2 = 0.0

    def arrive(until_tick):
        nonlocal a
        while a < len(arrivals) and arrivals[a][0] <= until_tick:
            f = by_id[arrivals[a][1]]
            q = -int(f["side"]) * int(f["qty"])
            opposed = bool(queue) and (queue[0][0] > 0) != (q > 0)
            while q and queue and (queue[0][0] > 0) != (q > 0):
                held = queue[0][0]
                if abs(held) <= abs(q):
                    q += held
                    queue.popleft()
                else:
                    queue[0][0] = held + q
                    q = 0
            if q:
                turns[0] += opposed
                queue.append([q, int(f["tick"]), float(f["feed1"]), float(f["feed2"])])
            a += 1

    for h in r.hedges_raw:
        arrive(int(h["tick"]))
        side, filled, want = int(h["side"]), int(h["qty_filled"]), int(h["qty_requested"])
        cover = filled if filled > 0 else want
        first = queue[0][1]
        m1 = m2 = 0.0
        left = cover
        for seg in list(queue):
            if left == 0:
                break
            assert (seg[0] > 0) == (side > 0), "a hedge trades the side of the lots it covers"
            take = min(left, abs(seg[0]))
            m1 += side * take * seg[2]
            m2 += side * take * seg[3]
            left -= take
            if filled > 0:
                if take == abs(seg[0]):
                    queue.popleft()
                else:
                    seg[0] -= side * take
        assert left == 0, "a hedge never trades more lots than have reached Exchange 2"
        lat_cost = m2 - side * filled * float(h["feed2_at_hedge"]) if filled > 0 else 0.0
        if filled > 0:
            b2m1 += m1
            b2m2 += m2
        out.append((first, m2 / (side * cover), lat_cost))
    arrive(len(r.ticks_raw))
    return out, b2m1, b2m2, turns[0]


def assert_matches_fifo(r):
    """Returns how many fills turned the lots waiting for a hedge to the other side."""
    expected, b2m1, b2m2, turns = fifo_rebuild(r)
    h = r.hedges_raw
    assert len(expected) == len(h)
    if len(h):
        first, f2_at_fill, lat_cost = (np.array(c) for c in zip(*expected))
        assert np.array_equal(h["first_fill_tick"], first)
        np.testing.assert_allclose(h["feed2_at_fill"], f2_at_fill, rtol=1e-12, atol=1e-9)
        np.testing.assert_allclose(h["latency_cost"], lat_cost, rtol=1e-9, atol=1e-6)
    # the end of the run: inventory MTM and hedge basis follow from the same matching
    f, t = r.fills_raw, r.ticks_raw[-1]
    b1 = float(np.sum(f["side"] * f["qty"] * f["feed1"]))
    inv1, inv2 = int(r.ticks.inv1_lots.iloc[-1]), int(r.ticks.inv2_lots.iloc[-1])
    f1, f2 = r.feed1[-1], r.feed2[-1]
    money = r.money_per_tick_lot
    assert r.summary_dict["inventory_mtm"] == pytest.approx(((inv1 + inv2) * f1 - b1 - b2m1) * money, abs=1e-6)
    assert r.summary_dict["hedge_basis"] == pytest.approx((inv2 * (f2 - f1) - (b2m2 - b2m1)) * money, abs=1e-6)
    return turns


QUIET = {"sim.ticks": 200, "latency.spike_probability": 0.0, "clients.rate_per_s": 0.0,
         "exchange1.market_rate_per_s": 0.0, "exchange1.limit_rate_per_s": 0.0}


def test_a_fill_that_turns_the_pending_hedge_keeps_only_its_own_marks():
    # 2 lots bought wait (below the 3-lot minimum hedge); 5 sold later offset them and leave 3 to buy back:
    # the hedge covers the sale alone, so its Exchange 2 mark and its first fill are the sale's
    cfg = backtest.make_config(**QUIET, **{"hedging.min_hedge_lots": 3, "latency.hedge_median_ms": 0.0})
    r = backtest.run(cfg, [Intervention(10, "manual_fill", "buy", 2), Intervention(60, "manual_fill", "sell", 5)])
    h = r.hedges
    assert len(h) == 1 and h.side.iloc[0] == "buy" and h.qty_filled_lots.iloc[0] == 3
    assert h.first_fill_tick.iloc[0] == 60
    assert h.feed2_at_fill_price.iloc[0] == pytest.approx(r.fills.feed2_price.iloc[1])
    # the two lots held from tick 10 to 60 and never hedged are inventory MTM, not hedge latency
    f1 = r.fills.feed1_price
    assert r.summary_dict["inventory_mtm"] == pytest.approx(
        2 * (f1.iloc[1] - f1.iloc[0]) * r.config.market.lot_size, abs=1e-9)
    assert assert_matches_fifo(r) == 1


def test_each_hedge_order_has_its_own_id_and_attempts():
    # three separate fills hedged one after the other: three hedge orders, each one attempt
    cfg = backtest.make_config(**QUIET, **{"latency.hedge_median_ms": 0.0})
    r = backtest.run(cfg, [Intervention(t, "manual_fill", "buy", 2) for t in (10, 40, 70)])
    h = r.hedges
    assert list(h.hedge_id) == [0, 1, 2] and list(h.attempt) == [1, 1, 1]
    assert list(h.first_fill_tick) == [10, 40, 70]
    assert r.summary_dict["hedges"] == 3


@pytest.mark.parametrize("name", sorted(FAULT_PRESETS))
@pytest.mark.parametrize("seed", [1, 7])
def test_fault_presets_match_a_fifo_rebuild(name, seed):
    cfg = preset(name).with_dotted({"sim.seed": seed})
    assert_matches_fifo(backtest.run(cfg))


def test_fill_flow_that_turns_the_pending_hedge_matches_a_fifo_rebuild():
    # hedges batched to 5 lots: fills of both sides wait together, and the waiting lots turn side (7 times)
    cfg = backtest.make_config(**{"sim.ticks": 4000, "hedging.min_hedge_lots": 5})
    turns = assert_matches_fifo(backtest.run(cfg))
    assert turns > 0, "the scenario must exercise lots waiting for a hedge turned to the other side"


@pytest.fixture(scope="module")
def replay_run():
    return backtest.run(preset("replay_binance_btcusdt_20240808"))


def test_replay_matches_a_fifo_rebuild(replay_run):
    assert_matches_fifo(replay_run)


def test_replay_hedge_orders_and_their_latency(replay_run):
    r = replay_run
    h = r.hedges
    # every hedge order is a run of attempts 1, 2, ... under one id; ids count up
    for _, g in h.groupby("hedge_id"):
        assert list(g.attempt) == list(range(1, len(g) + 1))
    assert list(h.hedge_id.drop_duplicates()) == sorted(h.hedge_id.unique())
    assert r.summary_dict["hedges"] == h.hedge_id.nunique()
    # a sub-lot remainder waits for more fills, but the next attempt is a new hedge order: as many orders as
    # first attempts (one id per remainder chain counted 32 orders where 54 filled on the whole recording)
    assert r.summary_dict["hedges"] == int((h.attempt == 1).sum())
    assert (h.qty_filled_lots > 0).sum() >= 20
