"""The portfolio under ``/portfolio``: several assets under one risk manager (``backtest.portfolio``).

The portfolio session is one whole run of a portfolio config (the preset ``portfolio_btc_eth_synthetic`` until a
reset names another) and the actions scheduled on it. An action (a manual fill on one asset, a pause, resume,
kill or kill reset of one asset or of all) names the tick it applies at; it is checked, added to the actions, and
the portfolio is run again with all of them, under one lock: what a read returns is always a whole run of the
actions accepted so far. A refused action changes nothing.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Literal

import anyio
import numpy as np
from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from backtest.config import ConfigError
from backtest.interventions import Intervention, manual_fill_problems
from backtest.portfolio import (
    PORTFOLIO_PRESETS, PortfolioConfig, PortfolioResults, check_portfolio_memory, make_portfolio_config,
    portfolio_preset, run_portfolio,
)
from kernels.records import STATE_NAMES

DEFAULT_PRESET = "portfolio_btc_eth_synthetic"
STATIC = Path(__file__).resolve().parent / "static"
MAX_ACTIONS = 10_000  # actions a session holds: each one is re-run with every later run
MAX_TICKS = 1_000_000  # an action re-runs the whole portfolio: longer portfolios are run from the CLI


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class PortfolioAction(_Body):
    asset: str | None = Field(None, description="the asset acted on; omitted or null = every asset")
    tick: int = Field(ge=0, description="the tick the action applies at (0 .. the run's last tick)")


class PortfolioFill(_Body):
    asset: str = Field(description="the asset whose Exchange 1 is filled")
    side: Literal["buy", "sell"] = Field(description="buy: we buy on Exchange 1 (a client sold into our bid)")
    qty_lots: int = Field(gt=0, description="lots of that asset")
    tick: int = Field(ge=0, description="the tick the fill happens at")
    price: float | None = Field(None, gt=0, description="currency per unit; omitted = at our quote, else the touch")


class PortfolioReset(_Body):
    preset: str | None = Field(None, description=f"a portfolio preset: {', '.join(PORTFOLIO_PRESETS)}")
    config: dict[str, Any] | None = Field(None, description="a portfolio config as JSON (the tables of a portfolio "
                                          "TOML file: shared sections, portfolio, assets)")


class PortfolioSession:
    """The portfolio's config, the actions on it and their run; ``lock`` serialises every change."""

    def __init__(self, pcfg: PortfolioConfig):
        self.lock = threading.Lock()
        self.pcfg = pcfg
        self.actions: list[tuple[str, Intervention]] = []
        self._results: PortfolioResults | None = None

    def results(self) -> PortfolioResults:
        """The run of the actions accepted so far. A read never waits for an action being run (it answers the run
        before it); only the session's first run is waited for."""
        current = self._results
        if current is not None:
            return current
        with self.lock:
            if self._results is None:
                self._results = run_portfolio(self.pcfg, self._by_asset(self.actions))
            return self._results

    @staticmethod
    def _by_asset(actions) -> dict[str, list[Intervention]]:
        out: dict[str, list[Intervention]] = {}
        for name, iv in actions:
            out.setdefault(name, []).append(iv)
        return out

    def act(self, names: list[str], make) -> PortfolioResults:
        """Check and apply ``make(name, results)`` (an Intervention) for each asset of ``names``, then run again;
        ConfigError (nothing changed) if any is refused."""
        with self.lock:
            current = self._results or run_portfolio(self.pcfg, self._by_asset(self.actions))
            if len(self.actions) + len(names) > MAX_ACTIONS:
                raise ConfigError([f"the session holds {len(self.actions)} actions; allowed: at most {MAX_ACTIONS} "
                                   "(POST /portfolio/reset starts again)"])
            added = [(name, make(name, current)) for name in names]
            results = run_portfolio(self.pcfg, self._by_asset(self.actions + added))
            self.actions += added
            self._results = results
            return results

    def reset(self, pcfg: PortfolioConfig) -> PortfolioResults:
        check_portfolio_memory(pcfg)
        results = run_portfolio(pcfg)  # outside the lock's state: a refused config leaves the session as it was
        with self.lock:
            self.pcfg, self.actions, self._results = pcfg, [], results
            return results


def _view(r: PortfolioResults, actions) -> dict[str, Any]:
    s = r.summary_dict
    assets = {}
    for name, a in r.assets.items():
        last = a.account_raw[-1] if len(a.account_raw) else None
        tick = a.ticks_raw[-1] if len(a.ticks_raw) else None
        tick_size = a.config.market.tick_size
        assets[name] = {
            "state": STATE_NAMES[int(last["state"])] if last is not None else "active",
            "inv1_lots": int(last["inv1"]) if last is not None else 0,
            "inv2_lots": int(last["inv2"]) if last is not None else 0,
            "net_delta_lots": s["assets"][name]["final_net_delta_lots"],
            "quote_bid": float(tick["quote_bid"] * tick_size) if tick is not None and tick["quote_bid"] > 0 else None,
            "quote_ask": float(tick["quote_ask"] * tick_size) if tick is not None and tick["quote_ask"] > 0 else None,
            "summary": {k: v for k, v in s["assets"][name].items() if isinstance(v, (int, float))},
        }
    return {
        "ticks": r.config.base.sim.ticks, "dt_s": r.config.base.sim.dt_s, "assets": assets,
        "portfolio": s["portfolio"],
        "actions": [{"asset": n, "tick": iv.tick, "kind": iv.kind, "side": iv.side, "qty_lots": iv.qty_lots}
                    for n, iv in actions],
    }


def _names(pcfg: PortfolioConfig, asset: str | None) -> list[str]:
    if asset is None:
        return list(pcfg.names)
    if asset not in pcfg.names:
        raise ConfigError([f"asset {asset[:60]!r}: no such asset; allowed: {', '.join(pcfg.names)} (or omit it: every "
                           "asset)"])
    return [asset]


def _check_tick(pcfg: PortfolioConfig, tick: int) -> None:
    n = pcfg.base.sim.ticks
    if tick >= n:
        raise ConfigError([f"tick {tick}: beyond the run's last tick; allowed: 0..{n - 1}"])


def router(api_error, strict) -> APIRouter:
    """The /portfolio routes. ``api_error(status, error, details)`` builds the app's JSON error; ``strict`` makes a
    value JSON-safe (NaN -> null)."""
    r = APIRouter(prefix="/portfolio", tags=["portfolio"])
    state: dict[str, PortfolioSession] = {}
    make_lock = threading.Lock()

    def session() -> PortfolioSession:
        with make_lock:
            if "s" not in state:
                state["s"] = PortfolioSession(portfolio_preset(DEFAULT_PRESET))
            return state["s"]

    async def in_thread(fn):
        try:
            return await anyio.to_thread.run_sync(fn)
        except ConfigError as err:
            raise api_error(422, "invalid portfolio action", err.problems) from None

    @r.get("", summary="The portfolio's run: each asset's state, position, quotes and summary, and the total")
    async def portfolio_state() -> dict:
        s = session()
        results = await in_thread(s.results)
        return strict(_view(results, list(s.actions)))

    @r.get("/risk", summary="The portfolio's limits, each asset's risk state and the portfolio's risk events")
    async def portfolio_risk() -> dict:
        s = session()
        results = await in_thread(s.results)
        events = results.risk_events
        return strict({
            "limits": s.pcfg.portfolio.model_dump(mode="json"),
            "state": str(results.portfolio["state"].iloc[-1]) if len(results.rows_raw) else "active",
            "assets": {n: STATE_NAMES[int(a.account_raw[-1]["state"])] if len(a.account_raw) else "active"
                       for n, a in results.assets.items()},
            "events": events.head(1000).to_dict("records"), "events_total": len(events),
        })

    @r.get("/series", summary="The portfolio's check rows for charts: total and each asset's PnL, exposure (thinned)")
    async def portfolio_series(max_points: int = Query(600, ge=10, le=5000,
                                                       description="cap on rows returned")) -> dict:
        s = session()
        results = await in_thread(s.results)
        rows = results.rows_raw
        step = max(1, -(-len(rows) // max_points))
        at = np.unique(np.append(np.arange(0, len(rows), step), len(rows) - 1)) if len(rows) else np.zeros(0, int)
        ticks = rows["tick"][at]
        assets = {name: pnl.tolist() for name, pnl in results.asset_pnl_at(ticks).items()}
        return strict({
            "tick": ticks.tolist(), "time_s": (ticks * s.pcfg.base.sim.dt_s).tolist(),
            "total_pnl": rows["total_pnl"][at].tolist(), "assets": assets,
            "exposure": rows["exposure"][at].tolist(), "exposure_undiversified": rows["exposure_undiversified"][at].tolist(),
            "gross_notional": rows["gross_notional"][at].tolist(), "max_exposure": s.pcfg.portfolio.max_exposure,
        })

    @r.get("/dashboard", include_in_schema=False)
    async def portfolio_page():
        return FileResponse(STATIC / "portfolio.html", media_type="text/html")

    @r.post("/fills/manual", summary="A manual fill on one asset's Exchange 1 at a tick; the portfolio runs again")
    async def portfolio_fill(body: PortfolioFill) -> dict:
        s = session()

        def make(name, current):
            _check_tick(s.pcfg, body.tick)
            cfg = current.assets[name].config
            rows, _ = current.assets[name].record_row_at([body.tick])
            price_now = float(current.assets[name].feed1[rows[0]]) * cfg.market.tick_size
            problems = manual_fill_problems(cfg.risk.hard_position_lots, cfg.market.tick_size, price_now,
                                            body.qty_lots, body.price)
            if problems:
                raise ConfigError([f"{name}: {p}" for p in problems])
            ticks = None if body.price is None else round(body.price / cfg.market.tick_size)
            return Intervention(body.tick, "manual_fill", body.side, body.qty_lots, ticks)

        results = await in_thread(lambda: s.act(_names(s.pcfg, body.asset), make))
        return strict(_view(results, list(s.actions)))

    def control(kind: str):
        async def act(body: PortfolioAction) -> dict:
            s = session()

            def make(name, current):
                _check_tick(s.pcfg, body.tick)
                return Intervention(body.tick, kind)

            results = await in_thread(lambda: s.act(_names(s.pcfg, body.asset), make))
            return strict(_view(results, list(s.actions)))
        act.__name__ = f"portfolio_{kind}"
        return act

    for kind, path in (("pause", "pause"), ("resume", "resume"), ("kill", "kill"), ("kill_reset", "kill-reset")):
        r.post(f"/control/{path}", summary=f"{kind.replace('_', ' ').capitalize()} one asset (or all) at a tick; "
               "the portfolio runs again")(control(kind))

    @r.post("/reset", summary="A new portfolio session: a preset or a portfolio config, no actions")
    async def portfolio_reset(body: PortfolioReset) -> dict:
        if (body.preset is None) == (body.config is None):
            raise api_error(422, "invalid portfolio reset", ["give one of preset or config"])

        def build():
            pcfg = portfolio_preset(body.preset) if body.preset is not None else make_portfolio_config(body.config)
            if pcfg.base.sim.ticks > MAX_TICKS:
                raise ConfigError([f"sim.ticks {pcfg.base.sim.ticks:,}: every action re-runs the whole portfolio; "
                                   f"allowed here: at most {MAX_TICKS:,} (longer ones: `python -m backtest portfolio`)"])
            if pcfg.base.market.source == "replay":
                raise ConfigError(["a portfolio of recordings is run from the CLI (`python -m backtest portfolio`); "
                                   "allowed here: synthetic portfolios"])
            return session().reset(pcfg)

        results = await in_thread(build)
        return strict(_view(results, []))

    return r
