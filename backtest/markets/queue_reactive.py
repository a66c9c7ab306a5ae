"""The queue-reactive market printed as a recording of two venues (``queue_reactive_recording``) that the replay
kernel then runs the strategy on, with the same queue-position rules as on a real recording
(``backtest.markets.queue_reactive_fit`` estimates it from one).

Exchange 1 is ``kernels.queue_reactive``'s model of a large-tick book (see its docstring). Exchange 2's mid follows
Exchange 1's: at time t it is Exchange 1's mid at t + a lead plus a basis (each move's lead drawn from ``lead_ms``;
the moves a market order made, from ``lead_at_trade_ms`` when it is set; or for a share ``lead_diffuse_share`` of
them within +/- ``lead_diffuse_ms`` by ``lead_diffuse_weights``), the basis an
Ornstein-Uhlenbeck process (``market.basis_mean_ticks``, ``basis_reversion_per_s``,
``basis_vol_ticks_per_sqrt_s``) drawn every ``basis_update_ms`` (calibrated so that Exchange 2's mid moves as often
as the recording's); its book is one price
step wide with ``exchange2_levels`` levels a side, each level's size drawn from the recorded distribution when the
level appears. A perpetual that leads spot (a positive lead_ms) is what the shipped recordings show; the hedge's
latency cost exists in this model because Exchange 2 keeps moving while a hedge is on its way.

With ``lead_moves_per_s`` > 0 it is the other way round: Exchange 2's mid moves on its own inside the generator
(``kernels.queue_reactive.generate_venue``), Exchange 1's flows react to its trend and its book reprices towards it
(``lead_pull_per_s``), and Exchange 2 prints that path plus ``market.basis_mean_ticks`` (the lead and basis keys above
are then not used). The README's "Exchange 2 leading" measures what it does and what it misses.
"""
from __future__ import annotations

import math

import numpy as np

from backtest.config import SimConfig
from backtest.markets.data import MarketData
from backtest.instruments import Instrument
from kernels.queue_reactive import (
    N_DISTRIBUTIONS, N_FLOWS, N_PARAMS, N_QUEUE_MULT, N_STATE, N_TRENDS, OUT_MARGIN, P_BRANCHING, P_CHASE_MEAN_S,
    P_CHASE_MIN_S, P_CHASE_PROB, P_CHASE_TAKE, P_DECAY, P_FOLLOW, P_GAP_FOLLOW, P_GAP_REVERT, P_LATENCY_NS,
    P_LEAD_FOLLOW, P_LEAD_FOLLOW_MEAN_S, P_LEAD_FOLLOW_PART, P_LEAD_GAP, P_LEAD_OTHER_REFILL, P_LEAD_PULL, P_LEAD_RATE, P_LEAD_REPEAT, P_LEAD_UP_BELOW, P_MU, P_START_NS, P_SWEEP_IN_JUMP, P_TAIL,
    P_TREND_WINDOW_S, QT_CANCEL, QT_IMPROVE, QT_INSPREAD, QT_JUMP, QT_LEAD_MOVE, QT_LIMIT, QT_MARKET, QT_REFILL,
    QT_REFILL_TREND, QT_SWEEP, QUANTILE_PROBS, Q_CANCEL_ASK, Q_CANCEL_BID, Q_LIMIT_ASK, Q_LIMIT_BID, S_A, S_B,
    S_LEAD_N, S_LEAD_SIGN, S_META_LEFT, S_META_SIGN, S_QA, S_QB, U_MARGIN, ar1, exchange2_book, generate_venue,
    sample_quantile)
from kernels.records import ME_BBO_ASK, ME_BBO_BID, ME_TRADE, market_event_dt

FLOW_KEYS = ("limit_bid_per_s", "limit_ask_per_s", "cancel_bid_per_s", "cancel_ask_per_s", "inspread_bid_per_s",
             "inspread_ask_per_s")  # in kernels.queue_reactive.Q_* order
DISTRIBUTION_KEYS = {QT_LIMIT: "limit_size_lots", QT_CANCEL: "cancel_fraction", QT_INSPREAD: "inspread_size_lots",
                     QT_MARKET: "market_size_over_queue", QT_JUMP: "depletion_jump_ticks", QT_REFILL: "refill_queue_lots",
                     QT_IMPROVE: "improvement_fraction", QT_SWEEP: "market_sweep_lots",
                     QT_REFILL_TREND: "refill_with_trend_lots", QT_LEAD_MOVE: "lead_move_ticks"}
START_NS = 1_700_000_000_000_000_000  # the printed recording's clock: any epoch works, this one reads as 2023
UNIFORM_BLOCK = 1 << 18


def _rates(section) -> np.ndarray:
    return np.array([getattr(section, k) for k in FLOW_KEYS], dtype=np.float64)


def _quantiles(section) -> np.ndarray:
    q = np.empty((N_DISTRIBUTIONS, len(QUANTILE_PROBS)))
    for row, key in DISTRIBUTION_KEYS.items():
        if row != QT_REFILL_TREND:
            q[row] = getattr(section, key)
    with_trend = section.refill_with_trend_lots if section.trend_window_ms > 0 else None
    q[QT_REFILL_TREND] = with_trend if with_trend is not None else section.refill_queue_lots
    return q


def expected_events_per_s(config: SimConfig) -> float:
    """A generous count of Exchange 1's model events per second (for allocation and memory estimates): the
    one-tick spread's limit orders, and twice its cancels and the market orders' mean rate (each may empty a queue,
    which an order inside the spread then refills)."""
    qr = config.queue_reactive
    # the one-tick row (where a large-tick book spends its time), each flow at its busiest trend
    trend = qr.trend_window_ms > 0
    rates = _rates(qr)[:, 0, :].mean(axis=1) * (np.max(qr.trend_flow_multiplier, axis=1) if trend else 1.0)
    # its moves (its own, and those after Exchange 1's market orders), and Exchange 1's repricing after them
    lead = 3.0 * qr.lead_moves_per_s + (2.0 * qr.hawkes_baseline_per_s / max(1e-9, 1.0 - qr.hawkes_branching)
                                        if qr.lead_follow_probability > 0 or qr.lead_follow_part_probability else 0.0)
    market = (qr.hawkes_baseline_per_s / max(1e-9, 1.0 - qr.hawkes_branching) * max(qr.market_rate_multiplier)
              * (max(qr.trend_market_multiplier) if trend else 1.0)
              * (max(qr.market_queue_multiplier) if qr.queue_bins_lots else 1.0) / (1.0 - qr.chase_probability))
    limit = max(qr.limit_queue_multiplier) if qr.queue_bins_lots else 1.0
    cancel = max(qr.cancel_queue_multiplier) if qr.queue_bins_lots else 1.0
    return float(limit * (rates[Q_LIMIT_BID] + rates[Q_LIMIT_ASK])
                 + 2.0 * (cancel * (rates[Q_CANCEL_BID] + rates[Q_CANCEL_ASK]) + market) + lead)


ROWS_PER_EVENT = 4  # printed rows per model event, with room for sweeps
MS_ARRAY_BYTES = 96  # Exchange 2 is built on a 1 ms grid: a dozen 8-byte arrays of it at once


def printed_bytes(config: SimConfig) -> tuple[int, int]:
    """(events of both printed venues, bytes of the arrays that print them beside the events) for the memory
    estimate: Exchange 1's expected rows, and Exchange 2's (at most a move of Exchange 1's each ms, a row per
    level a side each) with its 1 ms grid."""
    qr = config.queue_reactive
    span_s = config.sim.ticks * config.sim.dt_s + 1.0 + max(0.0, max(qr.lead_ms)) / 1000.0
    rows1 = expected_events_per_s(config) * span_s * ROWS_PER_EVENT
    rows2 = min(span_s * 1000.0, expected_events_per_s(config) * span_s) * 4 * qr.exchange2_levels
    # the uniforms drawn a block at a time and the rows grown by doubling: one more copy of Exchange 1's rows
    return int(rows1 + rows2), int(span_s * 1000.0 * MS_ARRAY_BYTES + rows1 * 40)


def _venue_data(name: str, kind: str, tick: float, lot: float, events: np.ndarray) -> MarketData:
    symbol = "QRSPOT" if kind == "spot" else "QRPERP"
    inst = Instrument(kind, symbol, "ASSET", "USD", "USD", tick, lot)
    return MarketData(venue=name, symbol=symbol, source="queue_reactive", tick_size=tick, lot_size=lot,
                      tick_size_inferred=False, lot_size_inferred=False, clock_offset_ns=0, events=events,
                      instrument_override=inst)


def generator_inputs(config: SimConfig) -> tuple:
    """The arrays ``kernels.queue_reactive.generate_venue`` takes before its state: (params, rates, market_mult,
    buy_prob, take_edges, take_prob, edges, quantiles, probs, trend_mult, queue_edges, queue_mult)."""
    qr = config.queue_reactive
    params = np.zeros(N_PARAMS)
    params[P_MU] = qr.hawkes_baseline_per_s
    params[P_BRANCHING] = qr.hawkes_branching
    params[P_DECAY] = qr.hawkes_decay_per_s
    params[P_FOLLOW] = qr.sign_follow
    params[P_TAIL] = qr.metaorder_tail
    params[P_LATENCY_NS] = round(qr.exchange1_feed_latency_ms * 1e6)
    params[P_START_NS] = START_NS
    params[P_TREND_WINDOW_S] = qr.trend_window_ms / 1000.0
    params[P_SWEEP_IN_JUMP] = 1.0 if qr.sweep_within_jump else 0.0
    params[P_CHASE_PROB] = qr.chase_probability
    params[P_CHASE_MIN_S] = qr.chase_min_delay_ms / 1000.0
    params[P_CHASE_MEAN_S] = qr.chase_mean_delay_ms / 1000.0
    params[P_GAP_REVERT] = qr.gap_revert_multiplier
    params[P_GAP_FOLLOW] = qr.gap_follow_multiplier
    params[P_CHASE_TAKE] = -1.0 if qr.chase_take_probability is None else qr.chase_take_probability
    params[P_LEAD_RATE] = qr.lead_moves_per_s
    params[P_LEAD_REPEAT] = qr.lead_repeat_probability
    params[P_LEAD_GAP] = qr.lead_gap_ticks
    params[P_LEAD_UP_BELOW:P_LEAD_UP_BELOW + 3] = qr.lead_up_probability
    params[P_LEAD_PULL] = qr.lead_pull_per_s
    params[P_LEAD_FOLLOW] = qr.lead_follow_probability
    params[P_LEAD_OTHER_REFILL] = 1.0 if qr.lead_reprice_other_queue == "refill" else 0.0
    params[P_LEAD_FOLLOW_PART] = -1.0 if qr.lead_follow_part_probability is None else qr.lead_follow_part_probability
    params[P_LEAD_FOLLOW_MEAN_S] = qr.lead_follow_delay_ms / 1000.0
    f64 = np.float64
    trend = qr.trend_window_ms > 0  # without a window, the trend's keys are not used
    buy = (np.asarray(qr.trend_buy_probability, dtype=f64) if trend and qr.trend_buy_probability is not None
           else np.tile(np.asarray(qr.market_buy_probability, dtype=f64), (N_TRENDS, 1)))
    trend_mult = np.ones((N_FLOWS + 1, N_TRENDS))
    if trend:
        trend_mult[:N_FLOWS] = qr.trend_flow_multiplier
        trend_mult[N_FLOWS] = qr.trend_market_multiplier
    take = (np.asarray(qr.trend_take_probability, dtype=f64) if trend and qr.trend_take_probability is not None
            else np.tile(np.asarray(qr.market_take_probability, dtype=f64), (N_TRENDS, 1)))
    return (params, _rates(qr), np.asarray(qr.market_rate_multiplier, dtype=f64), buy,
            np.asarray(qr.market_take_queue_lots, dtype=f64), take,
            np.array(qr.spread_bins_ticks, dtype=np.int64), _quantiles(qr), QUANTILE_PROBS, trend_mult,
            np.asarray(qr.queue_bins_lots, dtype=f64),
            np.array([qr.market_queue_multiplier, qr.limit_queue_multiplier, qr.cancel_queue_multiplier],
                     dtype=f64).reshape(N_QUEUE_MULT, -1))


def _exchange1_events(config: SimConfig, span_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Exchange 1's model events over ``span_s`` seconds (market_event_dt, its own ticks and lots), and Exchange
    2's moves when it leads (rows: time s, mid in Exchange 1 ticks less the basis' mean; no rows when it does
    not)."""
    from backtest.markets.inputs import random_stream

    qr = config.queue_reactive
    mk = config.market
    step = qr.exchange1_price_step_ticks
    rng = random_stream(config.sim.seed, "queue_reactive")
    inputs = generator_inputs(config)
    quantiles = inputs[7]
    state = np.zeros(N_STATE)
    bid = math.floor(mk.initial_price / (mk.tick_size * step))
    opening = rng.random(2)
    state[S_B], state[S_A] = bid, bid + 1
    state[S_QB] = max(1, round(_inverse_cdf(quantiles[QT_REFILL], opening[0])))
    state[S_QA] = max(1, round(_inverse_cdf(quantiles[QT_REFILL], opening[1])))
    state[S_META_LEFT], state[S_META_SIGN] = 0, 1
    leading = qr.lead_moves_per_s > 0
    if leading:  # its first move's direction, if that repeats the last: a coin's (a draw only when it leads)
        state[S_LEAD_SIGN] = 1.0 if rng.random() < 0.5 else -1.0
    lead_out = np.empty((int(expected_events_per_s(config) * span_s * 0.5) + 64 if leading else 0, 2))
    rows = int(expected_events_per_s(config) * span_s * ROWS_PER_EVENT) + 4 * OUT_MARGIN
    out = np.empty(rows, dtype=market_event_dt)
    k = 0
    uniforms = rng.random(UNIFORM_BLOCK)
    u = 0
    while True:
        u, k, done = generate_venue(*inputs, state, uniforms, u, span_s, out, k, lead_out)
        if done:
            break
        if leading and state[S_LEAD_N] >= lead_out.shape[0]:
            lead_out = np.concatenate([lead_out, np.empty_like(lead_out)])
        if u + U_MARGIN > uniforms.shape[0]:  # the unused draws first, then fresh ones: one stream in order
            uniforms = np.concatenate([uniforms[u:], rng.random(UNIFORM_BLOCK)])
            u = 0
        if k + OUT_MARGIN > out.shape[0]:
            grown = np.empty(2 * out.shape[0], dtype=market_event_dt)
            grown[:k] = out[:k]
            out = grown
    return out[:k].copy(), lead_out[:int(state[S_LEAD_N])].copy()


def max_lead_ms(config: SimConfig) -> int:
    """The furthest Exchange 2 runs ahead of Exchange 1, ms (0 when it only lags)."""
    qr = config.queue_reactive
    if qr.lead_moves_per_s > 0:  # Exchange 2 moves first on its own: nothing to print ahead of Exchange 1
        return 0
    diffuse = qr.lead_diffuse_ms if qr.lead_diffuse_share > 0 else 0.0
    at_trade = max(qr.lead_at_trade_ms) if qr.lead_at_trade_ms is not None else 0.0
    return max(0, math.ceil(max(qr.lead_ms)), math.ceil(at_trade), math.ceil(diffuse))


def moves_at_trades(changes: np.ndarray, trade_ms: np.ndarray) -> np.ndarray:
    """Which of a mid's 1 ms changes (``changes[i]``: from ms i to ms i + 1) come with a trade: one printed in ms
    i - 1, i or i + 1 (``trade_ms``: the trades' ms on the same grid). The same rule on a recording
    (``backtest.markets.queue_reactive_fit``) and on the model's own tape."""
    at = np.zeros(changes.size, dtype=bool)
    for off in (-1, 0, 1):
        k = trade_ms + off
        at[k[(k >= 0) & (k < changes.size)]] = True
    return at


def _inverse_cdf(q: np.ndarray, u: float) -> float:
    return float(sample_quantile(q, u, QUANTILE_PROBS))


def touch_series(events: np.ndarray, grid_ns: int, start_ns: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The best bid and ask (the book ticker's) at the end of each of ``n`` steps of ``grid_ns`` from
    ``start_ns`` (receive time), venue ticks; 0 before the first."""
    out = []
    for kind in (ME_BBO_BID, ME_BBO_ASK):
        rows = events[events["kind"] == kind]
        idx = np.searchsorted(rows["recv_ts"], start_ns + (np.arange(n) + 1) * grid_ns, side="left") - 1
        px = np.where(idx >= 0, rows["price"][np.maximum(idx, 0)], 0)
        out.append(px.astype(np.int64))
    return out[0], out[1]


def exchange2_bids(config: SimConfig, ev1: np.ndarray, span_s: float, lead_path: np.ndarray | None = None
                   ) -> np.ndarray:
    """Exchange 2's best bid every ms over ``span_s`` (its own price steps; its book is one step wide): Exchange 1's
    mid ``lead_ms`` later plus the basis, floored to a step; or, when it leads (``lead_path``: its moves, rows time
    s and mid in Exchange 1 ticks less the basis' mean, from ``_exchange1_events``), its own path plus the basis'
    mean."""
    from backtest.markets.inputs import random_stream

    qr = config.queue_reactive
    mk = config.market
    grid_ns = 1_000_000  # Exchange 2 follows on a 1 ms grid
    n = max(1, int(span_s * 1000))
    if qr.lead_moves_per_s > 0:
        if lead_path is None:
            raise ValueError("Exchange 2 leads (queue_reactive.lead_moves_per_s > 0): its path is needed")
        first = [ev1[ev1["kind"] == kind]["price"][0] for kind in (ME_BBO_BID, ME_BBO_ASK)]
        opening = 0.5 * (first[0] + first[1])
        at = np.searchsorted(lead_path[:, 0], (np.arange(n) + 1) * 1e-3, side="right") - 1
        mid = np.where(at >= 0, lead_path[np.maximum(at, 0), 1] if len(lead_path) else 0.0, opening)
        latent = (mid * qr.exchange1_price_step_ticks + mk.basis_mean_ticks) / qr.exchange2_price_step_ticks
        return np.floor(latent).astype(np.int64)
    ahead = max_lead_ms(config)
    step1 = qr.exchange1_price_step_ticks
    bid1, ask1 = touch_series(ev1, grid_ns, START_NS + int(round(qr.exchange1_feed_latency_ms * 1e6)), n + ahead + 1)
    mid1 = (bid1 + ask1) * 0.5 * step1  # ticks of the grid
    valid = bid1 > 0
    mid1 = np.where(valid, mid1, mid1[np.argmax(valid)])
    # each of Exchange 1's moves made earlier by its own lead (a move Exchange 2 made first, Exchange 1 following
    # after a variable delay: what spreads the recorded cross-correlation over lags)
    moves = np.flatnonzero(np.diff(mid1)) + 1
    # a lag distribution is discrete (its mass sits on a few lags): the quantile at or above each draw, not between
    u = random_stream(config.sim.seed, "queue_reactive_leads").random(moves.size)
    pick = np.minimum(np.searchsorted(QUANTILE_PROBS, u, side="left"), len(QUANTILE_PROBS) - 1)
    leads = np.round(np.asarray(qr.lead_ms, dtype=float)[pick]).astype(np.int64)
    if qr.lead_at_trade_ms is not None:  # the moves a market order made: their own leads (the same draws)
        trades = ev1[ev1["kind"] == ME_TRADE]["recv_ts"]
        trade_ms = (trades - START_NS - int(round(qr.exchange1_feed_latency_ms * 1e6))) // grid_ns
        at = moves_at_trades(np.diff(mid1), np.unique(trade_ms))[moves - 1]
        leads[at] = np.round(np.asarray(qr.lead_at_trade_ms, dtype=float)[pick[at]]).astype(np.int64)
    if qr.lead_diffuse_share > 0:  # from a stream of their own: a share of 0 draws nothing and changes nothing
        d = random_stream(config.sim.seed, "queue_reactive_diffuse_leads").random((2, moves.size))
        spread = d[0] < qr.lead_diffuse_share
        if qr.lead_diffuse_weights is None:
            leads[spread] = np.round((2.0 * d[1][spread] - 1.0) * qr.lead_diffuse_ms).astype(np.int64)
        else:  # one lead per ms of the window, drawn by its weight
            half = round(qr.lead_diffuse_ms)
            cdf = np.cumsum(np.asarray(qr.lead_diffuse_weights, dtype=float))
            cdf /= cdf[-1]
            leads[spread] = np.minimum(np.searchsorted(cdf, d[1][spread], side="right"), 2 * half) - half
    at = np.clip(moves - leads, 0, n - 1)
    follow = mid1[0] + np.cumsum(np.bincount(at, weights=mid1[moves] - mid1[moves - 1], minlength=n)[:n])
    # the basis: Ornstein-Uhlenbeck, exact steps of basis_update_ms, held in between
    rng = random_stream(config.sim.seed, "queue_reactive_basis")
    every = max(1, int(round(qr.basis_update_ms)))
    steps = -(-n // every)
    theta = mk.basis_reversion_per_s
    h = every / 1000.0
    phi = math.exp(-theta * h)
    sd = mk.basis_vol_ticks_per_sqrt_s * (math.sqrt((1 - phi * phi) / (2 * theta)) if theta > 0 else math.sqrt(h))
    shocks = rng.standard_normal(steps) * sd
    stationary = mk.basis_vol_ticks_per_sqrt_s / math.sqrt(2 * theta) if theta > 0 else 0.0
    dev = ar1(shocks, phi, rng.standard_normal() * stationary)
    basis = mk.basis_mean_ticks + np.repeat(dev, every)[:n]
    latent = (follow + basis) / qr.exchange2_price_step_ticks  # Exchange 2 ticks
    return np.floor(latent).astype(np.int64)


MOVE_RATE_SPAN_S = 600.0  # the span exchange2_move_rates prints: a rate per second needs no more (a day would)


def exchange2_move_rates(config: SimConfig, intervals_ms) -> list[float]:
    """How often Exchange 2's mid moves, per second, with the basis drawn every each of ``intervals_ms`` (the rest
    of ``config`` as it is; Exchange 1 printed once, over the run's span or MOVE_RATE_SPAN_S if shorter)."""
    span_s = min(config.sim.ticks * config.sim.dt_s, MOVE_RATE_SPAN_S) + 1.0
    ev1, lead_path = _exchange1_events(config, span_s + max_lead_ms(config) / 1000.0)
    return [float(np.count_nonzero(np.diff(exchange2_bids(config.with_dotted(
        {"queue_reactive.basis_update_ms": float(h)}), ev1, span_s, lead_path)))) / span_s for h in intervals_ms]


def lead_gap_std(config: SimConfig, pulls: list[float]) -> list[float]:
    """The standard deviation of a leading Exchange 2's mid (less the basis' mean) minus Exchange 1's, Exchange 1
    ticks on a 1 ms grid, with ``queue_reactive.lead_pull_per_s`` at each of ``pulls`` (the rest of ``config`` as
    it is; over the run's span or MOVE_RATE_SPAN_S if shorter)."""
    span_s = min(config.sim.ticks * config.sim.dt_s, MOVE_RATE_SPAN_S) + 1.0
    n = int(span_s * 1000)
    out = []
    for pull in pulls:
        cfg = config.with_dotted({"queue_reactive.lead_pull_per_s": float(pull)})
        ev1, path = _exchange1_events(cfg, span_s)
        bid1, ask1 = touch_series(ev1, 1_000_000, START_NS + int(round(cfg.queue_reactive.exchange1_feed_latency_ms
                                                                        * 1e6)), n)
        at = np.searchsorted(path[:, 0], (np.arange(n) + 1) * 1e-3, side="right") - 1
        ok = (at >= 0) & (bid1 > 0)
        gap = path[at[ok], 1] - 0.5 * (bid1[ok] + ask1[ok])
        out.append(float(np.std(gap)) if gap.size else float("nan"))
    return out


def _exchange2_events(config: SimConfig, ev1: np.ndarray, span_s: float, lead_path: np.ndarray) -> np.ndarray:
    """Exchange 2's book, one step wide around Exchange 1's mid ``lead_ms`` later plus the basis."""
    from backtest.markets.inputs import random_stream

    qr = config.queue_reactive
    grid_ns = 1_000_000
    bid2 = exchange2_bids(config, ev1, span_s, lead_path)
    rows = 4 * qr.exchange2_levels * (int(np.count_nonzero(np.diff(bid2))) + 1) + 16
    out = np.empty(rows, dtype=market_event_dt)
    draws = random_stream(config.sim.seed, "queue_reactive_levels").random(rows)
    level_q = np.maximum(1.0, np.asarray(qr.exchange2_level_lots, dtype=np.float64) / qr.exchange2_lot_step_lots)
    k = exchange2_book(bid2, grid_ns, START_NS, int(round(qr.exchange2_feed_latency_ms * 1e6)), qr.exchange2_levels,
                       level_q, QUANTILE_PROBS, draws, out)
    return out[:k].copy()


def _closed(events: np.ndarray, end_ns: int) -> np.ndarray:
    last = [events[events["kind"] == kind][-1:] for kind in (ME_BBO_BID, ME_BBO_ASK)]
    tail = np.concatenate(last)
    latency = tail["recv_ts"] - tail["exch_ts"]
    tail["exch_ts"] = np.maximum(end_ns, tail["exch_ts"])
    tail["recv_ts"] = tail["exch_ts"] + latency
    return np.concatenate([events[events["exch_ts"] <= end_ns], tail])


def queue_reactive_recording(config: SimConfig) -> tuple[MarketData, MarketData]:
    """Both venues of the queue-reactive market over the run's span (``sim.ticks x sim.dt_s``, plus Exchange 2's
    lead) as the recordings a capture would give, seeded by ``sim.seed``."""
    qr = config.queue_reactive
    mk = config.market
    span_s = config.sim.ticks * config.sim.dt_s + 1.0
    ev1, lead_path = _exchange1_events(config, span_s + max_lead_ms(config) / 1000.0)
    ev2 = _exchange2_events(config, ev1, span_s, lead_path)
    # each venue's touch repeated at the span's end, as a recording's last messages: the replay covers the span
    end_ns = START_NS + int(round(span_s * 1e9))
    ev1, ev2 = _closed(ev1, end_ns), _closed(ev2, end_ns)
    tick1 = mk.tick_size * qr.exchange1_price_step_ticks
    tick2 = mk.tick_size * qr.exchange2_price_step_ticks
    return (_venue_data("exchange1", "spot", tick1, mk.lot_size, ev1),
            _venue_data("exchange2", "linear_perpetual", tick2, mk.lot_size * qr.exchange2_lot_step_lots, ev2))
