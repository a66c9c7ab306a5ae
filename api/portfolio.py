"""The portfolio under ``/portfolio``: several assets under one risk manager (``backtest.portfolio``).

The portfolio session is one whole run of a portfolio config (the preset ``portfolio_btc_eth_synthetic`` until a
reset names another), the actions scheduled on it and a clock (``api.clock.TickClock``, at the single-asset
session's rate, ``MMHEDGE_TICKS_PER_S``). Reads answer at the clock: each asset's state, positions, quotes and PnL
at its tick, the portfolio's checks and risk events up to it (``GET /portfolio/summary``: the whole run). An action
(a manual fill on one asset, a pause, resume, kill or kill reset of one asset or of all) applies at the clock's
tick or at a later one it names, never before the clock (what was read cannot change); it is checked, added to
the actions, and the portfolio is run again with all of them, under one lock: what a read returns is always a
whole run of the actions accepted so far. A refused action changes nothing.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Literal

import anyio
import numpy as np
from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from api.clock import TickClock
from api.session import ready_for_readers
from backtest.config import ConfigError
from backtest.interventions import Intervention, manual_fill_problems
from backtest.portfolio import (
    PORTFOLIO_PRESETS, PortfolioConfig, PortfolioResults, check_portfolio_memory, make_portfolio_config,
    portfolio_preset, run_portfolio,
)
from kernels.records import LIQUIDITY_NAMES, STATE_NAMES

DEFAULT_PRESET = "portfolio_btc_eth_synthetic"
STATIC = Path(__file__).resolve().parent / "static"
MAX_ACTIONS = 10_000  # actions a session holds: each one is re-run with every later run
MANUAL = LIQUIDITY_NAMES.index("manual")
MAX_TICKS = 1_000_000  # an action re-runs the whole portfolio: longer portfolios are run from the CLI


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


TICK_HELP = "the tick the action applies at: the clock's (omitted or null) or a later one, up to the run's last"


class PortfolioAction(_Body):
    asset: str | None = Field(None, description="the asset acted on; omitted or null = every asset")
    tick: int | None = Field(None, ge=0, description=TICK_HELP)


class PortfolioFill(_Body):
    asset: str = Field(description="the asset whose Exchange 1 is filled")
    side: Literal["buy", "sell"] = Field(description="buy: we buy on Exchange 1 (a client sold into our bid)")
    qty_lots: int = Field(gt=0, description="lots of that asset")
    tick: int | None = Field(None, ge=0, description=TICK_HELP)
    price: float | None = Field(None, gt=0, description="currency per unit; omitted = at our quote, else the touch")


class PortfolioClock(_Body):
    running: bool = Field(description="true: the clock advances in real time; false: it stands still")


class PortfolioStep(_Body):
    ticks: int = Field(gt=0, le=10_000_000, description="ticks to move the clock forward")


class PortfolioReset(_Body):
    preset: str | None = Field(None, description=f"a portfolio preset: {', '.join(PORTFOLIO_PRESETS)}")
    config: dict[str, Any] | None = Field(None, description="a portfolio config as JSON (the tables of a portfolio "
                                          "TOML file: shared sections, portfolio, assets)")


class PortfolioSession:
    """The portfolio's config, the actions on it and their run; ``lock`` serialises every change."""

    def __init__(self, pcfg: PortfolioConfig, ticks_per_second: float = 10.0, now=time.monotonic):
        self.lock = threading.Lock()
        self.pcfg = pcfg
        self.actions: list[tuple[str, Intervention]] = []
        self._results: PortfolioResults | None = None
        self.clock = TickClock(pcfg.base.sim.ticks - 1, ticks_per_second, now)

    def results(self) -> PortfolioResults:
        """The run of the actions accepted so far. A read never waits for an action being run (it answers the run
        before it); only the session's first run is waited for."""
        current = self._results
        if current is not None:
            return current
        with self.lock:
            if self._results is None:
                self._results = self._run(self.pcfg, self.actions)
            return self._results

    def _run(self, pcfg: PortfolioConfig, actions) -> PortfolioResults:
        """The portfolio run with ``actions``, its lookups built before any reader sees it (a Results builds its
        columns lazily, and two threads building them at once would race)."""
        results = run_portfolio(pcfg, self._by_asset(actions))
        for asset in results.assets.values():
            ready_for_readers(asset)
        results.summary_dict
        return results

    @staticmethod
    def _by_asset(actions) -> dict[str, list[Intervention]]:
        out: dict[str, list[Intervention]] = {}
        for name, iv in actions:
            out.setdefault(name, []).append(iv)
        return out

    def at_clock(self) -> tuple[PortfolioResults, list, int, dict[str, Any]]:
        """The run, its actions, the clock's tick and the clock's state, read together (an action or a reset changes
        none of them while they are read)."""
        results = self.results()
        with self.lock:
            clock = self.clock.state()
            return self._results or results, list(self.actions), clock["tick"], clock

    def act(self, names: list[str], make, tick: int | None) -> tuple[PortfolioResults, int]:
        """Check and apply ``make(name, results, tick)`` (an Intervention) for each asset of ``names`` at ``tick``
        (None: the clock's), then run again; returns the run and the clock's tick. ConfigError (nothing changed) if
        any is refused: the tick before the clock or past the run, or what ``make`` refuses."""
        with self.lock:
            current = self._results or self._run(self.pcfg, self.actions)
            if len(self.actions) + len(names) > MAX_ACTIONS:
                raise ConfigError([f"the session holds {len(self.actions)} actions; allowed: at most {MAX_ACTIONS} "
                                   "(POST /portfolio/reset starts again)"])
            clock = self.clock.tick()
            last = self.pcfg.base.sim.ticks - 1
            at = clock if tick is None else tick
            if at > last:
                raise ConfigError([f"tick {at}: beyond the run's last tick; allowed: {clock}..{last}"])
            if at < clock:
                raise ConfigError([f"tick {at}: before the clock (tick {clock}); what has been read cannot change; "
                                   f"allowed: {clock}..{last}, or no tick (the clock's)"])
            if clock >= last:
                raise ConfigError([f"the clock is at the run's last tick {last}: nothing after it could happen; "
                                   "POST /portfolio/reset starts again"])
            added = [(name, make(name, current, at)) for name in names]
            results = self._run(self.pcfg, self.actions + added)
            self.actions += added
            self._results = results
            return results, clock

    def reset(self, pcfg: PortfolioConfig) -> tuple[PortfolioResults, int]:
        check_portfolio_memory(pcfg)
        results = self._run(pcfg, [])  # outside the lock's state: a refused config leaves the session as it was
        with self.lock:
            self.pcfg, self.actions, self._results = pcfg, [], results
            self.clock = TickClock(pcfg.base.sim.ticks - 1, self.clock.ticks_per_second, self.clock.now)
            return results, 0

    def step(self, ticks: int) -> int:
        with self.lock:
            return self.clock.step(ticks)

    def set_running(self, running: bool) -> None:
        with self.lock:
            self.clock.set_running(running)

    def clock_state(self) -> dict[str, Any]:
        with self.lock:
            return self.clock.state()


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


def _asset_at(a, tick: int) -> tuple[int, str]:
    """An asset's tick-record row at or before ``tick`` (never a later one: with ``sim.record_every_ms`` the rows
    are coarser than ticks) and its risk state in force at ``tick`` (the account rows are exact on every tick)."""
    row = max(int(np.searchsorted(a.tick_index, tick, side="right")) - 1, 0)
    account = int(a.account_row_at(np.array([tick]))[0]) if len(a.account_raw) else -1
    return row, STATE_NAMES[int(a.account_raw[account]["state"])] if account >= 0 else "active"


def _view_at(r: PortfolioResults, actions: list, tick: int, clock: dict[str, Any]) -> dict[str, Any]:
    """The portfolio at ``tick`` (the clock): each asset's state, positions, quotes and PnL parts at that tick and its
    fills up to it; the money summed over assets; the notionals and exposure of the last check at or before it and
    the largest up to it. Currency."""
    assets = {}
    money = ("net_pnl", "spread_capture", "hedge_cost", "fees", "inventory_mtm", "realized_pnl", "unrealized_pnl")
    total = dict.fromkeys(money, 0.0)
    total.update(fills=0, fills_manual=0)
    for name, a in r.assets.items():
        row, risk_state = _asset_at(a, tick)
        cols = a.tick_columns
        fills = a.fills_raw[: a.rows_until("fills", tick)]
        summary = {k: float(cols["total_pnl" if k == "net_pnl" else k][row]) for k in money}
        summary.update(fills=len(fills), fills_manual=int(np.count_nonzero(fills["liquidity"] == MANUAL)))
        for k in total:
            total[k] += summary[k]
        bid, ask = float(cols["quote_bid_price"][row]), float(cols["quote_ask_price"][row])
        assets[name] = {
            "state": risk_state,
            "inv1_lots": int(cols["inv1_lots"][row]), "inv2_lots": int(cols["inv2_lots"][row]),
            "net_delta_lots": int(round(float(cols["net_delta_lots"][row]))),
            "quote_bid": bid if bid > 0 else None, "quote_ask": ask if ask > 0 else None,
            "summary": summary,
        }
    checks = r.rows_raw[: int(np.searchsorted(r.rows_raw["tick"], tick, side="right"))]
    last = checks[-1] if len(checks) else None
    total.update({
        "gross_notional": float(last["gross_notional"]) if last is not None else 0.0,
        "net_notional": float(last["net_notional"]) if last is not None else 0.0,
        "exposure": float(last["exposure"]) if last is not None else 0.0,
        "max_gross_notional": float(checks["gross_notional"].max()) if len(checks) else 0.0,
        "max_exposure": float(checks["exposure"].max()) if len(checks) else 0.0,
        "state": STATE_NAMES[int(last["state"])] if last is not None else "active",
    })
    return {
        "tick": tick, "clock": clock, "ticks": r.config.base.sim.ticks, "dt_s": r.config.base.sim.dt_s,
        "assets": assets, "portfolio": total,
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


def router(api_error, strict, ticks_per_second: float = 10.0, now=time.monotonic) -> APIRouter:
    """The /portfolio routes. ``api_error(status, error, details)`` builds the app's JSON error; ``strict`` makes a
    value JSON-safe (NaN -> null); the clock runs ``ticks_per_second`` on the wall clock ``now``."""
    r = APIRouter(prefix="/portfolio", tags=["portfolio"])
    state: dict[str, PortfolioSession] = {}
    make_lock = threading.Lock()

    def session() -> PortfolioSession:
        with make_lock:
            if "s" not in state:
                state["s"] = PortfolioSession(portfolio_preset(DEFAULT_PRESET), ticks_per_second, now)
            return state["s"]

    r.session = session  # for tests and the app: the session this router serves

    def at_clock(s: PortfolioSession) -> dict[str, Any]:
        return strict(_view_at(*s.at_clock()))

    async def in_thread(fn):
        try:
            return await anyio.to_thread.run_sync(fn)
        except ConfigError as err:
            raise api_error(422, "invalid portfolio action", err.problems) from None

    @r.get("", summary="The portfolio at the clock: each asset's state, position, quotes and PnL, and the total")
    async def portfolio_state() -> dict:
        s = session()
        return await in_thread(lambda: at_clock(s))

    @r.get("/summary", summary="The portfolio's whole run: each asset's summary and the total")
    async def portfolio_summary() -> dict:
        s = session()
        results = await in_thread(s.results)
        return strict(_view(results, list(s.actions)))

    @r.get("/risk", summary="The portfolio's limits, each asset's risk state at the clock and the portfolio's risk "
           "events up to it")
    async def portfolio_risk() -> dict:
        s = session()
        results, _, tick, _ = await in_thread(s.at_clock)
        events = results.risk_events
        events = events[events["tick"] <= tick]
        checks = results.rows_raw[: int(np.searchsorted(results.rows_raw["tick"], tick, side="right"))]
        states = {n: _asset_at(a, tick)[1] for n, a in results.assets.items()}
        return strict({
            "tick": tick, "limits": s.pcfg.portfolio.model_dump(mode="json"),
            "state": STATE_NAMES[int(checks[-1]["state"])] if len(checks) else "active",
            "assets": states,
            "events": events.head(1000).to_dict("records"), "events_total": len(events),
        })

    @r.post("/clock", summary="Start or stop the portfolio's clock")
    async def portfolio_clock(body: PortfolioClock) -> dict:
        s = session()
        s.set_running(body.running)
        return s.clock_state()

    @r.post("/clock/step", summary="Move the portfolio's clock forward")
    async def portfolio_step(body: PortfolioStep) -> dict:
        s = session()
        s.step(body.ticks)
        return s.clock_state()

    @r.get("/series", summary="The portfolio's check rows up to the clock for charts: total and each asset's PnL, "
           "exposure (thinned)")
    async def portfolio_series(max_points: int = Query(600, ge=10, le=5000,
                                                       description="cap on rows returned")) -> dict:
        s = session()
        results, _, tick, _ = await in_thread(s.at_clock)
        rows = results.rows_raw[: int(np.searchsorted(results.rows_raw["tick"], tick, side="right"))]
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

    @r.post("/fills/manual", summary="A manual fill on one asset's Exchange 1 at the clock (or a later tick); the "
            "portfolio runs again")
    async def portfolio_fill(body: PortfolioFill) -> dict:
        s = session()

        def make(name, current, tick):
            cfg = current.assets[name].config
            row, _ = _asset_at(current.assets[name], tick)
            price_now = float(current.assets[name].feed1[row]) * cfg.market.tick_size
            problems = manual_fill_problems(cfg.risk.hard_position_lots, cfg.market.tick_size, price_now,
                                            body.qty_lots, body.price)
            if problems:
                raise ConfigError([f"{name}: {p}" for p in problems])
            ticks = None if body.price is None else round(body.price / cfg.market.tick_size)
            return Intervention(tick, "manual_fill", body.side, body.qty_lots, ticks)

        return await in_thread(lambda: answer(s, s.act(_names(s.pcfg, body.asset), make, body.tick)))

    def answer(s: PortfolioSession, done: tuple[PortfolioResults, int]) -> dict:
        """What an action answers: the whole run under every action accepted (a later tick's effect shows there),
        with the clock's tick."""
        results, clock = done
        return strict({**_view(results, list(s.actions)), "clock": clock})

    def control(kind: str):
        async def act(body: PortfolioAction) -> dict:
            s = session()
            return await in_thread(lambda: answer(s, s.act(_names(s.pcfg, body.asset),
                                                           lambda name, current, tick: Intervention(tick, kind),
                                                           body.tick)))
        act.__name__ = f"portfolio_{kind}"
        return act

    for kind, path in (("pause", "pause"), ("resume", "resume"), ("kill", "kill"), ("kill_reset", "kill-reset")):
        r.post(f"/control/{path}", summary=f"{kind.replace('_', ' ').capitalize()} one asset (or all) at the clock (or "
               "a later tick); the portfolio runs again")(control(kind))

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

        return await in_thread(lambda: answer(session(), build()))

    return r
