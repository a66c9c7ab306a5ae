"""The live dashboard: a static page at ``/`` (uPlot charts, served locally) that polls one endpoint,
``GET /dashboard/state?since=N``, about twice a second.

The endpoint returns everything the page shows at the session's clock tick in one consistent snapshot,
plus the chart rows after tick ``since`` (thinned to at most ``max_points``), so each poll sends only
what is new. ``generation`` changes on every reset: the page then drops its series and starts over.
History before the clock never changes on an action, so rows already sent stay valid.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from fastapi import FastAPI, Query
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"

SERIES = {
    "time_s": "time_s",
    "total_pnl": "total_pnl",
    "realized_pnl": "realized_pnl",
    "unrealized_pnl": "unrealized_pnl",
    "quote_bid": "quote_bid_price",
    "quote_ask": "quote_ask_price",
    "feed1": "feed1_price",
    "feed2": "feed2_price",
    "best_bid1": "best_bid1_price",
    "best_ask1": "best_ask1_price",
    "inv1": "inv1_lots",
    "inv2": "hedge_leg_base_lots",  # lots of the base asset (an inverse venue's contracts as the base they stand for)
    "net_delta": "net_delta_lots",
}


def _col(values) -> list:
    arr = np.asarray(values, dtype=np.float64)
    out = arr.tolist()
    if np.isnan(arr).any():  # JSON has no NaN: an empty book side or no quote is null
        out = [None if v != v else v for v in out]
    return out


def _exposure(m: dict) -> dict:
    return {"time_naked_s": m["time_above_exposure_threshold_s"], "largest_naked_lots": m["largest_naked_lots"],
            "threshold_lots": m["exposure_threshold_lots"]}


def register(app: FastAPI, session, view, risk_status, clean, records) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    async def dashboard_page():
        return FileResponse(STATIC / "dashboard.html", media_type="text/html")

    @app.get("/dashboard/state")
    async def dashboard_state(since: int = Query(-1, ge=-1, description="last tick the page already has; -1 = none"),
                              max_points: int = Query(600, ge=10, le=5000, description="cap on chart rows returned")):
        """Everything the dashboard shows at the clock tick, and chart rows for ticks (since, tick]."""
        snap, tick = await view()
        res = snap.results
        cols = res.tick_columns
        cfg = snap.config
        at = res.state_at(tick)
        start = min(since + 1, tick + 1)
        idx = np.arange(start, tick + 1)
        if idx.size > max_points:  # keep the newest row: the charts end at the clock
            idx = idx[np.linspace(0, idx.size - 1, max_points).round().astype(int)]
        series = {"tick": idx.tolist()}
        for name, column in SERIES.items():
            series[name] = _col(cols[column][idx])
        n_fills = res.rows_until("fills", tick)
        n_hedges = res.rows_until("hedges", tick)
        fills = res.fills.iloc[max(0, n_fills - 8): n_fills].iloc[::-1]
        hedges = res.hedges.iloc[max(0, n_hedges - 8): n_hedges].iloc[::-1]
        return {
            "generation": session.generation,
            "tick": tick,
            "ticks": cfg.sim.ticks,
            "time_s": at["time_s"],
            "running": session.clock_running(),
            "finished": session.finished(),
            "ticks_per_second": session.ticks_per_second,
            "seed": cfg.sim.seed,
            "quotes": {k: clean(at[k]) for k in (
                "quote_bid_price", "quote_bid_lots", "bid_queue_ahead_lots", "quote_ask_price", "quote_ask_lots",
                "ask_queue_ahead_lots", "reference_price", "reservation_price", "half_spread_price",
                "best_bid1_price", "best_ask1_price", "best_bid2_price", "best_ask2_price",
                "feed1_price", "feed2_price")},
            "positions": {
                "exchange1_lots": at["inv1_lots"], "exchange2_lots": at["inv2_lots"],
                "net_delta_lots": at["net_delta_lots"], "pending_hedge_lots": at["pending_hedge_lots"],
                "soft_limit_lots": cfg.risk.soft_position_lots, "hard_limit_lots": cfg.risk.hard_position_lots,
            },
            "pnl": {k: clean(at[k]) for k in (
                "total_pnl", "realized_pnl", "unrealized_pnl", "fees", "spread_capture", "hedge_cost",
                "inventory_mtm")},
            "risk": {**risk_status(snap, tick), "manual_pause": bool(at["manual_pause"])},
            "exposure": _exposure(res.exposure_until(tick)),
            "fills": records(fills[["tick", "side", "price", "qty_lots", "liquidity", "spread_capture",
                                    "inv1_after_lots"]]),
            "hedges": records(hedges[["tick", "hedge_id", "attempt", "side", "qty_filled_lots", "vwap_price",
                                      "fill_to_hedge_latency_ms", "slippage", "latency_cost", "status"]]),
            "series": series,
        }
