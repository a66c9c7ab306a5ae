"""run(config, interventions) -> Results: generate the market, call the kernel, wrap the records."""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from backtest.config import SimConfig
from backtest.generate import MarketArrays, generate
from backtest.interventions import Intervention, to_array
from backtest.results import Results
from kernels import params as P
from kernels.records import EV_CANCEL, fill_dt, hedge_dt, order_dt, risk_event_dt, tick_dt
from kernels.tick import C_OVERFLOW, N_COUNTERS, run_ticks

INTENT_CAPACITY = 4096


def kernel_params(config: SimConfig) -> np.ndarray:
    """The config converted to kernel units (ticks, lots, tick index, tick-lots) in a flat vector."""
    c = config
    dt = c.sim.dt_s
    tick_lot_value = c.market.tick_size * c.market.lot_size
    p = np.zeros(P.N_PARAMS)
    p[P.P_N_TICKS] = c.sim.ticks
    p[P.P_DT_S] = dt
    p[P.P_TICK_SIZE] = c.market.tick_size
    p[P.P_LOT_SIZE] = c.market.lot_size
    p[P.P_FILL_MODEL] = 0 if c.quoting.fill_model == "book" else 1
    p[P.P_QUOTE_MODEL] = 0 if c.quoting.model == "linear" else 1
    p[P.P_REFERENCE] = {"exchange1": 0, "exchange2": 1, "blend": 2}[c.quoting.reference]
    p[P.P_SIZE] = c.quoting.size_lots
    p[P.P_HALF_SPREAD] = c.quoting.half_spread_ticks
    p[P.P_VOL_MULT] = c.quoting.vol_spread_multiplier
    p[P.P_DRIFT_MULT] = c.quoting.drift_spread_multiplier
    p[P.P_VOL_HORIZON_S] = c.quoting.vol_horizon_s
    p[P.P_VOL_ALPHA] = 1.0 - 0.5 ** (dt / c.quoting.vol_halflife_s)
    p[P.P_SIGMA0] = c.market.volatility_per_sqrt_s / c.market.tick_size
    p[P.P_SKEW] = c.quoting.skew_ticks_per_lot
    p[P.P_SKEW_ON] = 0 if c.quoting.skew_inventory == "exchange1" else 1
    p[P.P_REQUOTE_TOL] = c.quoting.requote_tolerance_ticks
    p[P.P_AS_GAMMA] = c.quoting.as_gamma
    p[P.P_AS_K] = c.quoting.as_k
    p[P.P_AS_HORIZON_S] = c.quoting.as_horizon_s
    p[P.P_INT_A] = c.quoting.intensity_a_per_s
    p[P.P_INT_K] = c.quoting.intensity_k
    p[P.P_HEDGE_ON] = 1 if c.hedging.enabled else 0
    p[P.P_MIN_HEDGE] = c.hedging.min_hedge_lots
    p[P.P_HEDGE_BUFFER] = c.hedging.slippage_buffer_ticks
    p[P.P_RETRY_TICKS] = max(1, math.ceil(c.hedging.retry_backoff_s / dt - 1e-9))
    p[P.P_MAX_RETRIES] = c.hedging.max_retries
    p[P.P_SOFT] = c.risk.soft_position_lots
    p[P.P_HARD] = c.risk.hard_position_lots
    p[P.P_SOFT_FACTOR] = c.risk.soft_size_factor
    p[P.P_MAX_LOSS] = c.risk.max_loss_window / tick_lot_value
    p[P.P_LOSS_WINDOW_TICKS] = max(1, round(c.risk.loss_window_s / dt))
    p[P.P_COOLDOWN_TICKS] = max(1, round(c.risk.cooldown_s / dt))
    p[P.P_KILL_LATENCY_MS] = c.risk.kill_latency_ms
    p[P.P_ESCALATION] = {"kill": 0, "flatten_at_market": 1, "keep_retrying": 2}[c.hedging.escalation]
    p[P.P_KILL_DRAWDOWN] = c.risk.kill_drawdown / tick_lot_value
    p[P.P_STALE_TICKS] = max(1, round(c.risk.stale_feed_s / dt))
    p[P.P_DEPTH_CHECK] = 1 if (c.risk.depth_check and c.hedging.enabled) else 0
    p[P.P_MAKER_BPS] = c.fees.maker_bps_exchange1
    p[P.P_TAKER_BPS] = c.fees.taker_bps_exchange2
    p[P.P_DEPTH1] = c.exchange1.max_depth_ticks
    p[P.P_DEPTH2] = c.exchange2.max_depth_ticks
    p[P.P_INIT_DEPTH1] = c.exchange1.initial_depth_lots
    p[P.P_INIT_DEPTH2] = c.exchange2.initial_depth_lots
    p[P.P_MAX_ORDERS1] = c.exchange1.max_orders_per_side
    p[P.P_MAX_ORDERS2] = c.exchange2.max_orders_per_side
    return p


def _record_caps(config: SimConfig, market: MarketArrays, n_interventions: int) -> tuple[int, int, int, int]:
    """First guesses for record array sizes; exact upper bounds where cheap, else generous estimates.
    If a guess is too small the kernel says so and the run is repeated with the exact counts."""
    n = config.sim.ticks
    e1 = market.events1
    aggressive = int(np.count_nonzero(e1.kind != EV_CANCEL)) if e1.kind.size else 0
    fills_bound = aggressive + n_interventions + (2 * n if config.quoting.fill_model == "intensity" else 0)
    fills = min(fills_bound, max(1024, n // 2)) + 16
    hedges = min(n, fills) + 16
    orders = min(4 * n, n // 2 + 4 * fills + 1024) + 16
    risk = 1024
    return fills, hedges, orders, risk


def run(config: SimConfig | None = None, interventions: Iterable[Intervention] = (),
        market: MarketArrays | None = None) -> Results:
    """Simulate one run. ``market`` may be passed to reuse arrays generated from the same config."""
    config = config or SimConfig()
    market = market if market is not None else generate(config)
    iv = to_array(interventions)
    p = kernel_params(config)
    caps = _record_caps(config, market, len(iv))
    while True:
        out = _run_kernel(p, market, iv, caps, config)
        counters = out[-1]
        if counters[C_OVERFLOW] == 0:
            break
        caps = (int(counters[0]) + 16, int(counters[1]) + 16, int(counters[2]) + 16, int(counters[3]) + 16)
    ticks, fills, hedges, orders, risk, counters = out
    return Results(
        config=config,
        ticks_raw=ticks,
        fills_raw=fills[: counters[0]],
        hedges_raw=hedges[: counters[1]],
        orders_raw=orders[: counters[2]],
        risk_raw=risk[: counters[3]],
        counters=counters,
        interventions=iv,
        regime=market.regime,
    )


def _run_kernel(p, m: MarketArrays, iv, caps, config: SimConfig):
    n = m.n_ticks
    ticks = np.zeros(n, dtype=tick_dt)
    fills = np.zeros(caps[0], dtype=fill_dt)
    hedges = np.zeros(caps[1], dtype=hedge_dt)
    orders = np.zeros(caps[2], dtype=order_dt)
    risk = np.zeros(caps[3], dtype=risk_event_dt)
    counters = np.zeros(N_COUNTERS, dtype=np.int64)
    # Room for every other participant's order the cancel model allows, the seeded book and ours.
    capacity = 2 * max(
        config.exchange1.max_orders_per_side + config.exchange1.max_depth_ticks,
        config.exchange2.max_orders_per_side + config.exchange2.max_depth_ticks,
    ) + 64
    e1, e2 = m.events1, m.events2
    run_ticks(
        p, m.fair, m.feed1, m.feed2, m.center1, m.center2,
        e1.start, e1.kind, e1.side, e1.offset, e1.qty, e1.u,
        e2.start, e2.kind, e2.side, e2.offset, e2.qty, e2.u,
        m.hedge_latency_ms, m.hedge_reject, m.u_bid, m.u_ask, iv,
        m.order_latency_ms, m.feed2_seen, m.feed2_update,
        m.base1, m.levels1, m.base2, m.levels2, capacity, INTENT_CAPACITY,
        ticks, fills, hedges, orders, risk, counters,
    )
    return ticks, fills, hedges, orders, risk, counters
