"""FastAPI app: read the session's state at its clock, steer it with interventions.

Run with ``make run`` (``uvicorn --factory api.app:create_app``). OpenAPI docs at /docs. Every error is JSON
``{"error": ..., "details": [...]}`` with a 4xx status that says what is wrong and what is allowed.
"""
from __future__ import annotations

import io
import math
import os

import anyio
import numpy as np
import pandas as pd
from fastapi import FastAPI, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse

from api import dashboard
from api.schemas import ClockRequest, ManualFill, ResetRequest, StepRequest
from api.session import HORIZON_TICKS, Session
from backtest.config import (
    FAULT_PRESETS, PRESETS, ConfigError, SimConfig, describe_validation_error, make_config, preset,
)
from backtest.interventions import Intervention
from pydantic import ValidationError

MAX_BODY_BYTES = 64 * 1024
MAX_PRICE_DEVIATION = 0.2  # a manual fill more than 20% from the Exchange 1 feed is refused


class ApiError(Exception):
    def __init__(self, status: int, error: str, details: list | None = None):
        self.status, self.error, self.details = status, error, details or []


class BodyLimit:
    """Refuses bodies over ``max_bytes`` by their Content-Length with a JSON 413. Plain ASGI: it costs
    nothing on the many small GETs (Starlette's BaseHTTPMiddleware costs about a millisecond each)."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"content-length" and (not value.isdigit() or int(value) > self.max_bytes):
                    response = JSONResponse(status_code=413, content={
                        "error": "request body too large", "details": [f"at most {self.max_bytes} bytes"]})
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _clean(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return None if math.isnan(v) else v
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value


def _records(df):
    return [{k: _clean(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def create_app(config: SimConfig | None = None, ticks_per_second: float | None = None,
               horizon_ticks: int = HORIZON_TICKS) -> FastAPI:
    """``horizon_ticks``: how far past the clock an action's re-run is computed before it answers (the rest
    of the run is computed in the background)."""
    app = FastAPI(title="mmhedge", description="Market-making and hedging simulator session")
    rate = ticks_per_second if ticks_per_second is not None else float(os.environ.get("MMHEDGE_TICKS_PER_S", "10"))
    session = Session(config or _default_config(), ticks_per_second=rate, horizon_ticks=horizon_ticks)
    app.state.session = session

    @app.exception_handler(ApiError)
    async def _api_error(_, exc: ApiError):
        return JSONResponse(status_code=exc.status, content={"error": exc.error, "details": exc.details})

    @app.exception_handler(RequestValidationError)
    async def _validation(_, exc: RequestValidationError):
        details = []
        for e in exc.errors():
            ctx = e.get("ctx") or {}
            allowed = ", ".join(f"{k} {v}" for k, v in ctx.items() if k in ("gt", "ge", "lt", "le", "expected"))
            details.append({"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"],
                            "allowed": allowed or None})
        return JSONResponse(status_code=422, content={"error": "invalid request", "details": details})

    @app.exception_handler(Exception)
    async def _unexpected(_, exc: Exception):  # a bug: say so without a traceback
        return JSONResponse(status_code=500, content={"error": "internal error", "details": [type(exc).__name__]})

    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)

    def view():
        """The snapshot and clock tick a read answers from (for handlers run in the thread pool)."""
        tick = session.current_tick()
        return session.snapshot_at(tick), tick

    async def view_async():
        """The same for ``async`` handlers: the usual case (the snapshot holds the clock's tick) answers at
        once; waiting for a background completion happens in a worker thread, not on the event loop."""
        tick = session.current_tick()
        snap = session.snapshot
        if tick >= snap.computed:
            snap = await anyio.to_thread.run_sync(session.snapshot_at, tick)
        return snap, tick

    def risk_status(snap, tick):
        res = snap.results
        n = res.rows_until("risk_events", tick)
        state = res.tick_columns["state"][tick]
        if n:
            last = res.risk_events.iloc[n - 1]
            return {"state": state, "reason": last.reason, "since_tick": int(last.tick), "since_s": float(last.time_s)}
        return {"state": state, "reason": None, "since_tick": 0, "since_s": 0.0}

    dashboard.register(app, session, view_async, risk_status, _clean, _records)

    @app.get("/health")
    async def health():
        snap, tick = await view_async()
        return {"status": "ok", "tick": tick, "ticks": snap.config.sim.ticks, "running": session.running}

    @app.get("/summary")
    def summary():
        tick = session.current_tick()
        snap = session.full_snapshot()
        return {"tick": tick, "summary_full_run": {k: _clean(v) for k, v in snap.results.summary_dict.items()}}

    @app.get("/quotes")
    async def quotes():
        snap, tick = await view_async()
        s = snap.results.state_at(tick)
        keys = ["quote_bid_price", "quote_bid_lots", "bid_queue_ahead_lots", "quote_ask_price", "quote_ask_lots",
                "ask_queue_ahead_lots", "reference_price", "reservation_price", "half_spread_price",
                "best_bid1_price", "best_ask1_price", "best_bid2_price", "best_ask2_price", "feed1_price", "feed2_price"]
        out = {k: _clean(s[k]) for k in keys}
        out["skew_price"] = _clean(s["reservation_price"] - s["reference_price"])
        return {"tick": tick, **out}

    @app.get("/positions")
    async def positions():
        snap, tick = await view_async()
        s = snap.results.state_at(tick)
        r = snap.config.risk
        return {"tick": tick, "asset": "X", "exchange1_lots": s["inv1_lots"], "exchange2_lots": s["inv2_lots"],
                "net_delta_lots": s["net_delta_lots"], "pending_hedge_lots": s["pending_hedge_lots"],
                "soft_limit_lots": r.soft_position_lots, "hard_limit_lots": r.hard_position_lots,
                "exchange1_utilisation": abs(s["inv1_lots"]) / r.hard_position_lots}

    @app.get("/pnl")
    async def pnl():
        snap, tick = await view_async()
        s = snap.results.state_at(tick)
        keys = ["total_pnl", "realized_pnl", "unrealized_pnl", "fees", "spread_capture", "hedge_cost",
                "hedge_slippage", "hedge_latency_cost", "hedge_basis", "inventory_mtm"]
        return {"tick": tick, "currency": True, **{k: _clean(s[k]) for k in keys}}

    @app.get("/pnl/series")
    def pnl_series(start: int = Query(0, ge=0), end: int | None = Query(None, ge=0),
                   format: str = Query("json", pattern="^(json|csv)$")):
        snap, tick = view()
        end = tick if end is None else end
        if start > end or end > tick:
            raise ApiError(400, "tick range out of bounds",
                           [f"need 0 <= start <= end <= current tick {tick}; got start={start}, end={end}"])
        cols = ["tick", "time_s", "total_pnl", "realized_pnl", "unrealized_pnl", "fees", "spread_capture",
                "hedge_cost", "inventory_mtm", "net_delta_lots"]
        columns = snap.results.tick_columns
        frame = pd.DataFrame({c: columns[c][start:end + 1] for c in cols})
        if format == "csv":
            buf = io.StringIO()
            frame.to_csv(buf, index=False)
            return PlainTextResponse(buf.getvalue(), media_type="text/csv")
        return {"start": start, "end": end, "rows": _records(frame)}

    def paged(frame_name: str, offset: int, limit: int):
        snap, tick = view()
        frame = getattr(snap.results, frame_name)
        frame = frame.iloc[: snap.results.rows_until(frame_name, tick)]
        return {"tick": tick, "total": int(len(frame)), "offset": offset, "limit": limit,
                "rows": _records(frame.iloc[offset: offset + limit])}

    @app.get("/fills")
    def fills(offset: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000)):
        return paged("fills", offset, limit)

    @app.get("/hedges")
    def hedges(offset: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000)):
        return paged("hedges", offset, limit)

    @app.get("/risk/events")
    def risk_events(offset: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000)):
        return paged("risk_events", offset, limit)

    @app.get("/risk")
    async def risk():
        snap, tick = await view_async()
        r = snap.config.risk
        return {"tick": tick, **risk_status(snap, tick),
                "manual_pause": bool(snap.results.tick_columns["manual_pause"][tick]),
                "limits": {"soft_position_lots": r.soft_position_lots, "hard_position_lots": r.hard_position_lots,
                           "max_loss_window": r.max_loss_window, "loss_window_s": r.loss_window_s,
                           "kill_latency_ms": r.kill_latency_ms}}

    @app.post("/fills/manual")
    def manual_fill(body: ManualFill):
        snap, tick = view()
        tick_size = snap.config.market.tick_size
        price_ticks = None
        if body.price is not None:
            ratio = body.price / tick_size
            if abs(ratio - round(ratio)) > 1e-6:
                raise ApiError(400, "price is off the tick grid", [f"price must be a multiple of {tick_size}"])
            feed = float(snap.results.tick_columns["feed1_price"][tick])
            if abs(body.price - feed) > MAX_PRICE_DEVIATION * feed:
                raise ApiError(400, "price is too far from the market", [
                    f"allowed: within {MAX_PRICE_DEVIATION:.0%} of the Exchange 1 price {feed:.4f}"])
            price_ticks = int(round(ratio))
        at, snap = session.apply(lambda t: Intervention(t, "manual_fill", body.side, body.qty_lots, price_ticks))
        res = snap.results
        fill = res.fills[(res.fills.tick == at) & (res.fills.liquidity == "manual")].iloc[-1]
        hedges_ = res.hedges[(res.hedges.first_fill_tick <= at) & (res.hedges.tick >= at)]
        return {"tick": at, "fill": {k: _clean(v) for k, v in fill.items()},
                "hedges": _records(hedges_.head(5)),
                "position_after": {k: _clean(res.tick_columns[k][at]) for k in ("inv1_lots", "inv2_lots", "net_delta_lots")},
                "pnl_after": _clean(res.tick_columns["total_pnl"][at])}

    def control(kind: str, allowed_states: tuple[str, ...], why: str):
        snap, tick = view()
        state = snap.results.tick_columns["state"][tick]
        manual = bool(snap.results.tick_columns["manual_pause"][tick])
        if kind == "resume" and not manual:
            raise ApiError(409, "not paused by hand", ["resume undoes a manual pause; the loss pause ends by itself"])
        if kind == "pause" and manual:
            raise ApiError(409, "already paused", [])
        if state not in allowed_states:
            raise ApiError(409, f"cannot {kind} while {state}", [why])
        at, snap = session.apply(lambda t: Intervention(t, kind))
        return {"tick": at, **risk_status(snap, at)}

    @app.post("/control/pause")
    def pause():
        return control("pause", ("active", "reduced", "paused", "killed"), "")

    @app.post("/control/resume")
    def resume():
        return control("resume", ("paused", "active", "reduced"), "the kill switch needs a reset first")

    @app.post("/control/kill")
    def kill():
        return control("kill", ("active", "reduced", "paused"), "already killed")

    @app.post("/control/kill-reset")
    def kill_reset():
        return control("kill_reset", ("killed",), "the kill switch is not engaged")

    @app.post("/clock/step")
    def step(body: StepRequest):
        tick = session.step(body.ticks)
        session.snapshot_at(tick)  # a step past the computed horizon answers once reads there need not wait
        return {"tick": tick}

    @app.post("/clock")
    def clock(body: ClockRequest):
        session.set_running(body.running)
        return {"running": session.running, "tick": session.current_tick()}

    @app.get("/config")
    async def get_config():
        return {"current": session.snapshot.config.model_dump(), "next_reset": session.next_config.model_dump()}

    def validated(overrides: dict, base: SimConfig) -> SimConfig:
        try:
            return base.with_overrides(overrides)
        except ValidationError as err:
            raise ApiError(422, "invalid config", describe_validation_error(err)) from None
        except ConfigError as err:
            raise ApiError(422, "invalid config", err.problems) from None

    @app.put("/config")
    def put_config(overrides: dict):
        session.next_config = validated(overrides, session.next_config)
        return {"next_reset": session.next_config.model_dump()}

    @app.get("/presets")
    async def presets():
        """Named scenarios a reset can start from; fault_* presets inject one fault each."""
        return {"presets": [{"name": n, "description": FAULT_PRESETS[n][0] if n in FAULT_PRESETS else
                             ("the default market" if n == "default" else "Avellaneda-Stoikov (2008) experiment")}
                            for n in PRESETS]}

    @app.get("/exposure")
    async def exposure():
        """Unhedged exposure from the start to the clock: time above the threshold, the largest naked
        position and how long it was held, hedge fill ratio and attempts per fill."""
        snap, tick = await view_async()
        metrics = {k: _clean(v) for k, v in snap.results.exposure_until(tick).items()}
        return {"tick": tick, "net_delta_lots": int(snap.results.tick_columns["net_delta_lots"][tick]), **metrics}

    @app.post("/reset")
    def reset(body: ResetRequest | None = None):
        cfg = session.next_config
        if body and body.preset is not None:
            if body.preset not in PRESETS:
                raise ApiError(422, "unknown preset", [f"allowed: {', '.join(PRESETS)}"])
            cfg = preset(body.preset)
        if body and body.config:
            cfg = validated(body.config, cfg)
        if body and body.seed is not None:
            cfg = validated({"sim": {"seed": body.seed}}, cfg)
        session.reset(cfg)
        return {"tick": session.current_tick(), "seed": cfg.sim.seed, "ticks": cfg.sim.ticks}

    return app


def _default_config() -> SimConfig:
    ticks = int(os.environ.get("MMHEDGE_TICKS", "20000"))
    return make_config(**{"sim.ticks": ticks})

