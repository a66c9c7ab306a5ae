"""FastAPI app: read the session's state at its clock, steer it with interventions.

Run with ``make run`` (``uvicorn --factory api.app:create_app --http api.protocol:HttpProtocol``: the
protocol closes connections that send no request head in time). OpenAPI docs at /docs. Every error is JSON
``{"error": ..., "details": [...]}`` with a 4xx status that says what is wrong and what is allowed.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import dashboard
from api.portfolio import router as portfolio_router
from api.schemas import (
    ClockRequest, ClockState, ConfigState, ErrorBody, Exposure, Health, ManualFill, ManualFillResult, NextConfig,
    Page, Pnl, PnlSeries, Positions, Presets, Quotes, ResetRequest, ResetResult, Risk, RiskStatus, StepRequest,
    StepResult, Summary,
)
from api.session import HORIZON_TICKS, Session, SessionEnded, check_session_memory, session_memory_estimate
from backtest.config import (
    PRESETS, ConfigError, SimConfig, config_warnings, describe_validation_error, make_config, preset,
    preset_description,
)
from backtest.research.experiment import strict
from backtest.interventions import Intervention, manual_fill_problems
from backtest.markets.replay import PROJECT_ROOT

MAX_BODY_BYTES = 64 * 1024
MAX_SERIES_ROWS = 10_000  # rows per page of GET /pnl/series
READ_THREADS = 16  # worker threads for reads that block (pages of records, waits for a run's completion)
ACTION_THREADS = 2  # and for actions, which take the session lock one at a time anyway
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


class ApiError(Exception):
    def __init__(self, status: int, error: str, details: list | None = None):
        self.status, self.error, self.details = status, error, details or []


def _error(status: int, error: str, details: list) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": error, "details": details})


class RequestGuard:
    """Plain ASGI middleware (Starlette's BaseHTTPMiddleware costs about a millisecond per request) in front
    of every request.

    * Every request, reads too, must name this server in its Host header: a loopback address, the address
      the connection came in on, or a name in ``MMHEDGE_ALLOWED_HOSTS`` (comma-separated). A page on another
      site that re-points its own name at this server (DNS rebinding) is refused: 403.
    * Same origin only for state-changing requests: a browser page elsewhere must not pause or reset a running
      session. An Origin header, when sent, must be that same host and port. Refused: 403.
    * HEAD is answered as GET without the body (headers, Content-Length included, as GET would send them).
    * Body size: at most ``max_bytes``, enforced on the stream as it arrives, not only by Content-Length (a
      chunked body has none). The body is read here, at most ``max_bytes + 1`` bytes of it, then handed to
      the app. Refused: 413.
    """

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name: value for name, value in scope["headers"]}
        refused = _foreign_host(scope, headers)
        if refused is None and scope["method"] in STATE_CHANGING:
            refused = _cross_origin(headers)
        if refused:
            await _error(403, "cross-origin request refused", [refused])(scope, receive, send)
            return
        if scope["method"] == "HEAD":
            await self.app(dict(scope, method="GET"), receive, _without_body(send))
            return
        if scope["method"] not in STATE_CHANGING:
            await self.app(scope, receive, send)
            return
        length = headers.get(b"content-length")
        too_large = _error(413, "request body too large", [f"at most {self.max_bytes} bytes"])
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await too_large(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _without_body(send):
    async def send_headers_only(message):
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)
    return send_headers_only


def allowed_hosts(scope) -> set[str]:
    """Host names a request may address this server by (lower case, no port)."""
    server = scope.get("server") or ("", None)
    extra = {h.strip().lower() for h in os.environ.get("MMHEDGE_ALLOWED_HOSTS", "").split(",") if h.strip()}
    return LOOPBACK_HOSTS | {str(server[0]).lower()} | extra


def _host(headers: dict) -> tuple[str, str]:
    host_header = headers.get(b"host", b"").decode("latin-1").lower()
    host = host_header.rsplit(":", 1)[0] if not host_header.endswith("]") else host_header
    return host_header, host


def _foreign_host(scope, headers: dict) -> str | None:
    """Why a request is refused for naming another server in its Host header, or None."""
    host_header, host = _host(headers)
    if host not in allowed_hosts(scope):
        server = scope.get("server") or ("", None)
        return (f"Host {host_header[:100]!r} is not this server; allowed: a loopback address "
                f"({', '.join(sorted(LOOPBACK_HOSTS))}), {server[0]}, or a name listed in MMHEDGE_ALLOWED_HOSTS")
    return None


def _cross_origin(headers: dict) -> str | None:
    """Why a state-changing request is refused as cross-origin, or None."""
    host_header, _ = _host(headers)
    origin = headers.get(b"origin")
    if origin is not None:
        parsed = urlsplit(origin.decode("latin-1").lower())
        if origin == b"null" or parsed.netloc != host_header:
            return f"Origin {origin.decode('latin-1')!r} is not this server ({host_header}); the API takes " \
                   "state-changing requests from its own pages and from non-browser clients only"
    if headers.get(b"sec-fetch-site", b"same-origin") not in (b"same-origin", b"none"):
        return "Sec-Fetch-Site says the request comes from another site"
    return None


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
    app = FastAPIOffline(  # /docs with Swagger UI served from the package: works without a network
        generate_unique_id_function=lambda route: route.name,  # operationId = handler name, as links() names them
        title="mmhedge", description="Market-making and hedging simulator session. Every error answers "
        "`{\"error\": ..., \"details\": [...]}`.",
        responses={400: {"model": ErrorBody, "description": "bad input (unparsable body, value out of range)"},
                   403: {"model": ErrorBody, "description": "cross-origin state-changing request"},
                   404: {"model": ErrorBody, "description": "no such path"},
                   405: {"model": ErrorBody, "description": "method not allowed on this path"},
                   413: {"model": ErrorBody, "description": "body larger than 64 KiB"},
                   415: {"model": ErrorBody, "description": "a body that is not application/json"},
                   422: {"model": ErrorBody, "description": "a field fails validation"}},
    )
    try:
        rate = ticks_per_second if ticks_per_second is not None else _env_number("MMHEDGE_TICKS_PER_S", 10.0, 0.0, 1e7)
        default_ticks = server_ticks()
        config = config or make_config(**{"sim.ticks": default_ticks})
    except ConfigError as err:  # the server's own settings: say which and stop, no traceback
        import sys

        print("error: " + "; ".join(err.problems), file=sys.stderr)
        raise SystemExit(2) from None
    session = Session(config, ticks_per_second=rate, horizon_ticks=horizon_ticks)
    app.state.session = session
    conflict = {409: {"model": ErrorBody, "description": "not allowed in the current state"}}
    control_responses = {200: links("risk", "risk_events"), **conflict}

    @app.exception_handler(ApiError)
    async def _api_error(_, exc: ApiError):
        return _error(exc.status, exc.error, exc.details)

    @app.exception_handler(SessionEnded)
    async def _ended(_, exc: SessionEnded):
        return _error(409, "the session has ended", [str(exc)])

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        headers, details = dict(exc.headers or {}), []
        if exc.status_code == 405:  # Starlette names the first matching route's methods only (GET /config, not PUT)
            headers["Allow"] = ", ".join(sorted(methods_on(app, request.url.path)))
            details = [f"allowed on {request.url.path[:100]}: {headers['Allow']}"]
        return JSONResponse(status_code=exc.status_code, content={"error": str(exc.detail), "details": details},
                            headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_, exc: RequestValidationError):
        errors = exc.errors()
        if any(e["type"] == "json_invalid" for e in errors):
            return _error(400, "unparsable body", ["the body must be JSON (Content-Type: application/json)"])
        details = []
        for e in errors:
            ctx = e.get("ctx") or {}
            allowed = ", ".join(f"{k} {v}" for k, v in ctx.items() if k in ("gt", "ge", "lt", "le", "expected"))
            details.append({"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"],
                            "allowed": allowed or None})
        return _error(422, "invalid request", details)

    @app.exception_handler(Exception)
    async def _unexpected(_, exc: Exception):  # a bug: say so without a traceback
        return _error(500, "internal error", [type(exc).__name__])

    app.add_middleware(RequestGuard, max_bytes=MAX_BODY_BYTES)

    # Reads and actions run their blocking parts in separate worker-thread pools: actions queue on the session
    # lock behind a slow reset, and in one shared pool 40 of them took every thread, so that a read of the
    # current state waited for the reset. Queued actions now wait as tasks for one of ACTION_THREADS threads.
    limiters: dict[str, anyio.CapacityLimiter] = {}

    async def off_loop(kind: str, fn, *args):
        if kind not in limiters:  # created inside the event loop, on first use
            limiters[kind] = anyio.CapacityLimiter(READ_THREADS if kind == "read" else ACTION_THREADS)
        return await anyio.to_thread.run_sync(fn, *args, limiter=limiters[kind])

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
            snap = await off_loop("read", session.snapshot_at, tick)
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
    portfolio = portfolio_router(ApiError, strict, rate)
    app.state.portfolio_session = portfolio.session  # the portfolio session (made at its first request)
    app.include_router(portfolio)

    @app.get("/health", response_model=Health)
    async def health():
        snap, tick = await view_async()
        return {"status": "ok", "tick": tick, "ticks": snap.config.sim.ticks, "running": session.clock_running(),
                "finished": session.finished()}

    @app.get("/summary", response_model=Summary)
    async def summary():
        def answer():
            tick = session.current_tick()
            snap = session.full_snapshot()
            return {"tick": tick, "summary_full_run": {k: _clean(v) for k, v in snap.results.summary_dict.items()}}
        return await off_loop("read", answer)

    @app.get("/quotes", response_model=Quotes)
    async def quotes():
        snap, tick = await view_async()
        s = snap.results.state_at(tick)
        keys = ["quote_bid_price", "quote_bid_lots", "bid_queue_ahead_lots", "quote_ask_price", "quote_ask_lots",
                "ask_queue_ahead_lots", "bid_in_flight_price", "ask_in_flight_price", "reference_price",
                "reservation_price", "half_spread_price", "best_bid1_price", "best_ask1_price", "best_bid2_price",
                "best_ask2_price", "feed1_price", "feed2_price"]
        out = {k: _clean(s[k]) for k in keys}
        out["skew_price"] = _clean(s["reservation_price"] - s["reference_price"])
        return {"tick": tick, **out}

    @app.get("/positions", response_model=Positions)
    async def positions():
        snap, tick = await view_async()
        s = snap.results.state_at(tick)
        r = snap.config.risk
        return {"tick": tick, "asset": "X", "exchange1_lots": s["inv1_lots"], "exchange2_lots": s["inv2_lots"],
                "exchange2_base_lots": s["hedge_leg_base_lots"], "net_delta_lots": s["net_delta_lots"], "pending_hedge_lots": s["pending_hedge_lots"],
                "soft_limit_lots": r.soft_position_lots, "hard_limit_lots": r.hard_position_lots,
                "exchange1_utilisation": abs(s["inv1_lots"]) / r.hard_position_lots}

    @app.get("/pnl", response_model=Pnl)
    async def pnl():
        snap, tick = await view_async()
        s = snap.results.state_at(tick)
        keys = ["total_pnl", "realized_pnl", "unrealized_pnl", "fees", "spread_capture", "hedge_cost",
                "hedge_slippage", "hedge_latency_cost", "hedge_basis", "inventory_mtm"]
        return {"tick": tick, "currency": True, **{k: _clean(s[k]) for k in keys}}

    series_cols = ["tick", "time_s", "total_pnl", "realized_pnl", "unrealized_pnl", "fees", "spread_capture",
                   "hedge_cost", "inventory_mtm", "net_delta_lots"]

    def series_page(start: int, end: int | None, limit: int, fmt: str) -> Response:
        """One page of the PnL series, rendered to bytes here (in a worker thread), never on the event loop."""
        snap, tick = view()
        end = tick if end is None else end
        if end > tick:  # the series exists up to the clock: asked again later, this range will answer
            raise ApiError(409, "the clock has not reached the range's end",
                           [f"the series goes up to the current tick {tick}; got end={end}"])
        # start > end is an empty range: an empty page, as an empty slice is
        stop = max(start, min(end + 1, start + limit))
        next_start = stop if stop <= end else None
        columns = snap.results.tick_columns
        block = {c: columns[c][start:stop] for c in series_cols}
        if fmt == "csv":
            lines = [",".join(series_cols)]
            rows = zip(*(block[c].tolist() for c in series_cols))
            lines.extend(",".join("" if v != v else repr(v) for v in row) for row in rows)
            headers = {"X-Next-Start": str(next_start)} if next_start is not None else {}
            return Response("\n".join(lines) + "\n", media_type="text/csv", headers=headers)
        rows = [dict(zip(series_cols, row)) for row in zip(*(block[c].tolist() for c in series_cols))]
        for row in rows:
            for k, v in row.items():
                if v != v:
                    row[k] = None
        body = json.dumps({"start": start, "end": stop - 1, "next_start": next_start, "rows": rows},
                          separators=(",", ":"), allow_nan=False)
        return Response(body, media_type="application/json")

    @app.get("/pnl/series", response_model=PnlSeries, responses={200: {"content": {"text/csv": {"schema": {
        "type": "string", "description": "format=csv: a header line of the JSON rows' keys, then one line per tick"}}}},
        409: {"model": ErrorBody, "description": "the range ends past the clock"}})
    async def pnl_series(start: int = Query(0, ge=0, description="first tick"),
                         end: int | None = Query(None, ge=0, description="last tick (default: the clock)"),
                         limit: int = Query(MAX_SERIES_ROWS, ge=1, le=MAX_SERIES_ROWS,
                                            description=f"rows per page, at most {MAX_SERIES_ROWS}; "
                                            "follow next_start (JSON) or the X-Next-Start header (CSV)"),
                         format: str = Query("json", pattern="^(json|csv)$")):
        """PnL and attribution per tick over [start, end], at most ``limit`` rows per page."""
        return await off_loop("read", series_page, start, end, limit, format)

    def paged(frame_name: str, offset: int, limit: int):
        snap, tick = view()
        frame = getattr(snap.results, frame_name)
        frame = frame.iloc[: snap.results.rows_until(frame_name, tick)]
        return {"tick": tick, "total": int(len(frame)), "offset": offset, "limit": limit,
                "rows": _records(frame.iloc[offset: offset + limit])}

    @app.get("/fills", response_model=Page)
    async def fills(offset: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000)):
        return await off_loop("read", paged, "fills", offset, limit)

    @app.get("/hedges", response_model=Page)
    async def hedges(offset: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000)):
        return await off_loop("read", paged, "hedges", offset, limit)

    @app.get("/risk/events", response_model=Page)
    async def risk_events(offset: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000)):
        return await off_loop("read", paged, "risk_events", offset, limit)

    @app.get("/risk", response_model=Risk)
    async def risk():
        snap, tick = await view_async()
        r = snap.config.risk
        return {"tick": tick, **risk_status(snap, tick),
                "manual_pause": bool(snap.results.tick_columns["manual_pause"][tick]),
                "limits": {"soft_position_lots": r.soft_position_lots, "hard_position_lots": r.hard_position_lots,
                           "max_loss_window": r.max_loss_window, "loss_window_s": r.loss_window_s,
                           "kill_latency_ms": r.kill_latency_ms}}

    @app.post("/fills/manual", response_model=ManualFillResult, responses={
        200: links("positions", "fills", "hedges", "pnl"), **conflict})
    async def manual_fill(body: ManualFill):
        """A test fill on Exchange 1 at the clock tick, hedged like any other fill."""
        return await off_loop("action", apply_manual_fill, body)

    def apply_manual_fill(body: ManualFill):
        def make(snap, tick):
            cfg = snap.config
            cols = snap.results.tick_columns
            feed = float(cols["feed1_price"][tick])
            problems = manual_fill_problems(cfg.risk.hard_position_lots, cfg.market.tick_size, feed, body.qty_lots,
                                            body.price)
            if problems:
                raise ApiError(400, "manual fill refused", problems)
            if cols["state"][tick] == "killed":
                raise ApiError(409, "cannot fill while killed", [
                    "the kill switch holds: our quotes are pulled, so no client can trade with us; POST "
                    "/control/kill-reset first"])
            hard = cfg.risk.hard_position_lots
            after = int(cols["inv1_lots"][tick]) + (body.qty_lots if body.side == "buy" else -body.qty_lots)
            if abs(after) > hard:
                raise ApiError(409, "the fill would pass the hard position limit", [
                    f"it would take Exchange 1's position to {after} lots; allowed: within +/-{hard} lots "
                    "(risk.hard_position_lots), as our quotes are"])
            price_ticks = None if body.price is None else int(round(body.price / cfg.market.tick_size))
            return Intervention(tick, "manual_fill", body.side, body.qty_lots, price_ticks)

        at, snap = session.apply(make)
        res = snap.results
        fill = res.fills[(res.fills.tick == at) & (res.fills.liquidity == "manual")].iloc[-1]
        hedges_ = res.hedges[(res.hedges.first_fill_tick <= at) & (res.hedges.tick >= at)]
        return {"tick": at, "fill": {k: _clean(v) for k, v in fill.items()},
                "hedges": _records(hedges_.head(5)),
                "position_after": {k: _clean(res.tick_columns[k][at]) for k in ("inv1_lots", "inv2_lots", "net_delta_lots")},
                "pnl_after": _clean(res.tick_columns["total_pnl"][at])}

    def control(kind: str, allowed_states: tuple[str, ...], why: str):
        def check(snap, tick):
            state = snap.results.tick_columns["state"][tick]
            manual = bool(snap.results.tick_columns["manual_pause"][tick])
            if kind == "resume" and not manual:
                raise ApiError(409, "not paused by hand", ["resume undoes a manual pause; the loss pause ends by itself"])
            if kind == "pause" and manual:
                raise ApiError(409, "already paused", ["a manual pause is in force; POST /control/resume ends it"])
            if state not in allowed_states:
                raise ApiError(409, f"cannot {kind} while {state}", [why])

        at, snap = session.apply(lambda _, t: Intervention(t, kind), check=check)
        return {"tick": at, **risk_status(snap, at)}

    @app.post("/control/pause", response_model=RiskStatus, responses=control_responses)
    async def pause():
        return await off_loop("action", control, "pause", ("active", "reduced", "paused", "killed"), "")

    @app.post("/control/resume", response_model=RiskStatus, responses=control_responses)
    async def resume():
        return await off_loop("action", control, "resume", ("paused", "active", "reduced"), "the kill switch needs a reset first")

    @app.post("/control/kill", response_model=RiskStatus, responses=control_responses)
    async def kill():
        return await off_loop("action", control, "kill", ("active", "reduced", "paused"), "already killed")

    @app.post("/control/kill-reset", response_model=RiskStatus, responses=control_responses)
    async def kill_reset():
        return await off_loop("action", control, "kill_reset", ("killed",), "the kill switch is not engaged")

    @app.post("/clock/step", response_model=StepResult, responses={
        200: links("pnl", "quotes", pnl_series={"end": "$response.body#/tick"})})
    async def step(body: StepRequest):
        def act():
            tick = session.step(body.ticks)
            session.snapshot_at(tick)  # a step past the computed horizon answers once reads there need not wait
            return {"tick": tick}
        return await off_loop("action", act)

    @app.post("/clock", response_model=ClockState)
    async def clock(body: ClockRequest):
        def act():
            session.set_running(body.running)
            return session.clock.state()
        return await off_loop("action", act)

    @app.get("/config", response_model=ConfigState)
    async def get_config():
        pending = session.pending_config or session.next_config
        return {"current": session.snapshot.config.model_dump(), "next_reset": pending.model_dump()}

    def runnable(overrides: dict, base: SimConfig, start_check: bool = True) -> SimConfig:
        """``base`` with ``overrides``, accepted only if a session can start from it: every field and
        cross-field check, and the memory estimate within the budget; with ``start_check`` a replay's recordings
        are read and laid on the grid as the session would (a reset, which starts the session, does that itself)."""
        if not isinstance(overrides, dict):
            raise ApiError(422, "invalid config", ["the config must be an object of sections, e.g. "
                                                   '{"quoting": {"size_lots": 3}}'])
        try:
            cfg = base.with_overrides(overrides)
            check_session_memory(cfg)
            if cfg.market.source == "synthetic":  # settings in bps or notional resolve at the first price
                from backtest.engine import check_synthetic
                check_synthetic(cfg)
            elif cfg.market.source == "queue_reactive":
                from backtest.engine import check_queue_reactive
                check_queue_reactive(cfg)
            else:  # recordings from the data directories only; and the session must be able to start on them
                check_recording_paths(cfg)
                if start_check:
                    from backtest.engine import check_replay
                    check_replay(cfg)
            return cfg
        except ValidationError as err:
            raise ApiError(422, "invalid config", describe_validation_error(err)) from None
        except ConfigError as err:
            raise ApiError(422, "invalid config", err.problems) from None

    config_body_schema = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
        "$ref": "#/components/schemas/SimConfig"}}}, "description": "overrides, nested by section; any subset"}}

    @app.put("/config", response_model=NextConfig, openapi_extra=config_body_schema,
             responses={200: links("reset", "get_config")})
    async def put_config(request: Request):
        """Overrides for the next plain reset, merged onto the config it would start from. Refused unless a
        session can start from the result (validation, cross-field checks, memory budget)."""
        overrides = await _json_body(request)

        def store():
            with session._lock:
                base = session.pending_config or session.next_config
                cfg = runnable(overrides, base)
                session.pending_config = cfg
                return cfg

        cfg = await off_loop("action", store)
        return {"next_reset": cfg.model_dump(), "memory_estimate_bytes": session_memory_estimate(cfg).total}

    @app.get("/presets", response_model=Presets)
    async def presets():
        """Named scenarios a reset can start from; fault_* presets inject one fault each."""
        def describe(name):
            if name == "default":
                return f"the default synthetic market, {default_ticks:,} ticks (the server's MMHEDGE_TICKS)"
            return preset_description(name)
        return {"presets": [{"name": n, "description": describe(n)} for n in PRESETS]}

    @app.get("/exposure", response_model=Exposure)
    async def exposure():
        """Unhedged exposure from the start to the clock: time above the threshold, the largest naked
        position and how long it was held, hedge fill ratio and attempts per fill."""
        snap, tick = await view_async()
        metrics = {k: _clean(v) for k, v in snap.results.exposure_until(tick).items()}
        return {"tick": tick, "net_delta_lots": snap.results.tick_columns["net_delta_lots"][tick].item(), **metrics}

    @app.post("/reset", response_model=ResetResult, responses={200: links("summary", "quotes", "get_config")})
    async def reset(body: ResetRequest | None = None):
        """Start a new session: from the next-reset config, a preset, and/or overrides and a seed. If the
        session cannot start, the running one is left as it was."""
        return await off_loop("action", apply_reset, body)

    def apply_reset(body: ResetRequest | None):
        with session._lock:
            cfg = session.pending_config or session.next_config
            if body and body.preset is not None:  # one of PRESETS: the request schema's enum
                cfg = preset(body.preset)
                if body.preset == "default":  # the server's length (MMHEDGE_TICKS), as the session it started
                    cfg = cfg.with_overrides({"sim": {"ticks": default_ticks}})
            if body and body.config:
                cfg = runnable(body.config, cfg, start_check=False)
            if body and body.seed is not None:
                cfg = runnable({"sim": {"seed": body.seed}}, cfg, start_check=False)
            try:
                session.reset(cfg)
            except ConfigError as err:  # the seed's price path reaches zero, or over the memory budget
                session.pending_config = None  # a plain reset goes back to the config that last started
                raise ApiError(422, "the session could not start from this config", err.problems) from None
            session.pending_config = None
            return {"tick": session.current_tick(), "seed": cfg.sim.seed, "ticks": cfg.sim.ticks,
                    "warnings": config_warnings(cfg)}

    base_openapi = app.openapi

    def openapi():
        """The generated schema plus the config body's schema (PUT /config, POST /reset's ``config``)."""
        if app.openapi_schema is None:
            schema = base_openapi()
            defs = SimConfig.model_json_schema(ref_template="#/components/schemas/{model}")
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components.update(defs.pop("$defs", {}))
            components["SimConfig"] = defs
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
    return app


def links(*operations: str, **with_parameters: dict) -> dict:
    """OpenAPI links from an answer to the reads (or the action) that show its effect, named by handler:
    clients and stateful fuzzers follow them. ``with_parameters``: handler -> {parameter: runtime expression}."""
    out = {name: {"operationId": name} for name in operations}
    for name, parameters in with_parameters.items():
        out[name] = {"operationId": name, "parameters": parameters}
    return {"links": out}


def methods_on(app: FastAPI, path: str) -> set[str]:
    """Every method some route answers on ``path`` (HEAD wherever GET is: the guard answers it)."""
    methods = set()
    for route in app.routes:
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            methods |= set(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    return methods


def recording_roots() -> list[Path]:
    """Directories the API reads recordings from: the project's ``data/`` and those in ``MMHEDGE_DATA_DIR``
    (separated by the OS path separator)."""
    roots = [PROJECT_ROOT / "data"]
    roots += [Path(p).expanduser().resolve() for p in os.environ.get("MMHEDGE_DATA_DIR", "").split(os.pathsep) if p]
    return roots


def check_recording_paths(cfg: SimConfig) -> None:
    """Over the API a recording is a file under ``recording_roots()``: a config cannot make the server open (and
    an error describe) any other file. Paths resolve as a run resolves them, symlinks and '..' followed."""
    from backtest.markets.replay import resolve

    roots = recording_roots()
    problems = []
    for venue in ("exchange1", "exchange2"):
        value = getattr(cfg.replay, venue)
        for text in (value if isinstance(value, list) else [value]):
            real = resolve(text).resolve()
            if not any(real.is_relative_to(root.resolve()) for root in roots):
                problems.append(f"replay.{venue}: {str(text)[:200]}: not under the server's data directories; "
                                f"allowed: a recording under {', '.join(str(r) for r in roots)} (MMHEDGE_DATA_DIR adds "
                                "directories)")
    if problems:
        raise ConfigError(problems)


MAX_BODY_DEPTH = 8  # a config nests section -> key -> value, windows a list of pairs: 4 levels


def _depth(value, limit: int) -> int:
    """Nesting depth of parsed JSON, counted without recursion, stopping past ``limit``."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            deepest = max(deepest, d)
            if deepest > limit:
                return deepest
            stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


async def _json_body(request: Request):
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json" and not (kind.startswith("application/") and kind.endswith("+json")):
        raise ApiError(415, "unsupported media type", [f"Content-Type {kind or '(none)'!r}; allowed: "
                                                       "application/json"])
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ApiError(400, "unparsable body", [f"the body must be JSON: {err}"]) from None
    except RecursionError:
        body = None
    if body is None or _depth(body, MAX_BODY_DEPTH) > MAX_BODY_DEPTH:
        raise ApiError(422, "invalid config", [f"the body nests deeper than {MAX_BODY_DEPTH} levels; a config is "
                                               "sections of keys (windows: lists of [start, end] pairs)"])
    return body


def _env_number(name: str, default: float, lo: float, hi: float, integer: bool = False) -> float:
    """An environment setting of the server, checked: a clear error at start, never a traceback or a negative
    clock."""
    text = os.environ.get(name)
    if text is None or text.strip() == "":
        return default
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or not lo <= value <= hi:
        bounds = f"{int(lo):,} to {int(hi):,}" if integer else f"{lo:g} to {hi:g}"
        raise ConfigError([f"{name}={text[:40]!r}: allowed: {'an integer' if integer else 'a number'} from {bounds}"])
    return value


def server_ticks() -> int:
    """Ticks of the server's default session (``MMHEDGE_TICKS``, default 20 000)."""
    return int(_env_number("MMHEDGE_TICKS", 20000, 10, 20_000_000, integer=True))
