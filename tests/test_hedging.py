"""Hedging: every fill is hedged after its latency, net delta returns inside the threshold."""
import numpy as np

import backtest
from backtest.interventions import Intervention


def test_every_fill_is_hedged_and_delta_returns_to_zero(default_run):
    r = default_run
    f, t = r.fills, r.ticks
    assert len(f) > 0
    # every lot bought or sold on Exchange 1 is traded back on Exchange 2 unless still in flight
    assert t.inv1_lots.iloc[-1] + t.inv2_lots.iloc[-1] + t.pending_hedge_lots.iloc[-1] == 0
    assert (t.net_delta_lots + t.pending_hedge_lots == 0).all()
    # delta only deviates while a hedge is in flight, and never more than one tick's fills
    assert t.net_delta_lots.abs().max() <= 2 * r.config.quoting.size_lots + 1
    # each fill's hedge arrives no earlier than its latency allows
    due = f.tick + np.ceil(f.hedge_latency_ms / (r.config.sim.dt_s * 1000) - 1e-9)
    assert np.array_equal(due.astype(int), f.hedge_due_tick)


def test_hedge_records_latency_and_slippage(default_run):
    h = default_run.hedges
    filled = h[h.qty_filled_lots > 0]
    assert (filled.fill_to_hedge_latency_ms >= 0).all()
    assert filled.fill_to_hedge_latency_ms.max() > 0
    # a buy hedge pays at or above the touch, so slippage against the Exchange 2 mark is bounded
    assert np.allclose(
        filled.slippage,
        np.where(filled.side == "buy", 1, -1) * (filled.feed2_at_hedge_price - filled.vwap_price) * filled.qty_filled_lots,
    )


def test_zero_latency_hedges_same_tick():
    cfg = backtest.make_config(**{"sim.ticks": 300, "latency.hedge_median_ms": 0.0, "latency.spike_probability": 0.0})
    r = backtest.run(cfg, [Intervention(50, "manual_fill", "buy", 3)])
    h = r.hedges
    first = h[h.first_fill_tick == 50].iloc[0]
    assert first.tick == 50 and first.side == "sell" and first.qty_filled_lots == 3
    assert r.ticks.net_delta_lots.iloc[50] == 0


def test_latency_delays_hedge_and_delta_is_open_meanwhile():
    cfg = backtest.make_config(**{"sim.ticks": 300, "latency.hedge_median_ms": 1000.0, "latency.hedge_sigma": 0.0,
                                  "latency.spike_probability": 0.0, "clients.rate_per_s": 0.0,
                                  "exchange1.market_rate_per_s": 0.0})
    r = backtest.run(cfg, [Intervention(50, "manual_fill", "sell", 4)])
    t = r.ticks
    assert (t.net_delta_lots.iloc[50:60] == -4).all()
    assert t.net_delta_lots.iloc[60] == 0
    assert r.hedges.iloc[0].fill_to_hedge_latency_ms == 1000.0


def test_min_hedge_size_batches_fills():
    cfg = backtest.make_config(**{"sim.ticks": 200, "hedging.min_hedge_lots": 5, "latency.hedge_median_ms": 0.0,
                                  "latency.spike_probability": 0.0, "clients.rate_per_s": 0.0,
                                  "exchange1.market_rate_per_s": 0.0, "exchange1.limit_rate_per_s": 0.0})
    r = backtest.run(cfg, [Intervention(10, "manual_fill", "buy", 2), Intervention(20, "manual_fill", "buy", 3)])
    h = r.hedges
    assert len(h) == 1
    assert h.iloc[0].qty_filled_lots == 5 and h.iloc[0].tick == 20 and h.iloc[0].first_fill_tick == 10


def test_opposite_fills_net_out_without_a_hedge():
    cfg = backtest.make_config(**{"sim.ticks": 200, "latency.hedge_median_ms": 500.0, "latency.hedge_sigma": 0.0,
                                  "latency.spike_probability": 0.0, "clients.rate_per_s": 0.0,
                                  "exchange1.market_rate_per_s": 0.0, "exchange1.limit_rate_per_s": 0.0})
    r = backtest.run(cfg, [Intervention(10, "manual_fill", "buy", 2), Intervention(10, "manual_fill", "sell", 2)])
    assert len(r.hedges) == 0
    assert (r.ticks.net_delta_lots == 0).all()
