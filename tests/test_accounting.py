"""Accounting: every fill moves inventory and cash exactly; PnL reconciles to its attribution every tick."""
import numpy as np

import backtest
from backtest.interventions import Intervention


def test_identity_every_tick(default_run):
    t = default_run.ticks
    parts = t.spread_capture + t.hedge_cost + t.inventory_mtm - t.fees
    scale = np.maximum(1.0, t.total_pnl.abs().max())
    assert np.all(np.abs(parts - t.total_pnl) <= 1e-9 * scale)


def test_average_cost_realized_plus_unrealized_equals_total(default_run):
    t = default_run.ticks
    scale = np.maximum(1.0, t.total_pnl.abs().max())
    assert np.all(np.abs(t.realized_pnl + t.unrealized_pnl - t.fees - t.total_pnl) <= 1e-9 * scale)


def test_inventory_and_cash_follow_every_fill(default_run):
    r = default_run
    f = r.fills_raw
    h = r.hedges_raw
    assert len(f) > 10, "the default scenario should trade"
    inv1 = np.cumsum(f["side"] * f["qty"])
    assert np.array_equal(inv1, f["inv1_after"])
    last = r.account_raw[-1]  # the account as it stands at the last tick
    assert last["inv1"] == inv1[-1]
    assert last["inv2"] == int(np.sum(h["side"] * h["qty_filled"]))
    cash1 = -np.sum(f["side"] * f["price"] * f["qty"])
    cash2 = -np.sum(h["side"] * h["vwap"] * h["qty_filled"])
    assert last["cash1"] == cash1
    assert abs(last["cash2"] - cash2) < 1e-6
    assert abs(last["fees1"] - f["fee"].sum()) < 1e-9 and abs(last["fees2"] - h["fee"].sum()) < 1e-9


def test_identity_holds_with_hedging_off_and_manual_fills():
    cfg = backtest.make_config(**{"sim.ticks": 600, "hedging.enabled": False})
    r = backtest.run(cfg, [Intervention(100, "manual_fill", "buy", 5), Intervention(300, "manual_fill", "sell", 2, 10005)])
    t = r.ticks
    assert np.allclose(t.spread_capture + t.hedge_cost + t.inventory_mtm - t.fees, t.total_pnl, rtol=0, atol=1e-9)
    assert (t.inv2_lots == 0).all()
    manual = r.fills[r.fills.liquidity == "manual"]
    assert list(manual.qty_lots) == [5, 2] and manual.price.iloc[1] == 100.05


def test_spread_capture_definition(default_run):
    f = default_run.fills
    expected = np.where(f.side == "buy", 1, -1) * (f.feed1_price - f.price) * f.qty_lots
    assert np.allclose(f.spread_capture, expected)
