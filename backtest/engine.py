"""run(config, interventions) -> Results: generate the market, call the kernel, wrap the records. The
market is streamed: the kernel starts on the first ticks while a helper thread still draws the order
flow of later ones (``generate(stream=True)``; the same arrays, so the same run).

``Simulation`` is the same run computed in spans of ticks, with checkpoints it can be resumed and forked
from (the API session uses it to re-run only from the last checkpoint before an action)."""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from backtest.config import SimConfig
from backtest.markets.generate import FlowTableFull, MarketArrays, generate
from backtest.interventions import Intervention, to_array
from backtest.markets.replay import ReplayChunks, ReplayMarket, reference_last_update
from backtest.resources import book_capacity
from backtest.results import Results, record_rows, record_ticks
from backtest.resolve import resolve_units
from kernels.replay import STATE_FIELDS as REPLAY_FIELDS
from kernels.replay import new_state as replay_state
from kernels.replay import run_replay
from kernels import params as P
from kernels.records import account_dt, fill_dt, hedge_dt, order_dt, risk_event_dt, tick_dt
from kernels.tick import (
    C_ACCOUNT, C_FILLS, C_HEDGES, C_ORDERS, C_OVERFLOW, C_RISK, N_ACC, STATE_FIELDS, new_state, run_ticks,
)

INTENT_CAPACITY = 4096
# a single run keeps no copies of its account for a portfolio's checks (``keep_at`` empty; ``kernels.portfolio``)
NO_KEEP = (np.zeros(0, dtype=np.int64), np.zeros((0, N_ACC)), np.zeros((0, 2), dtype=np.int64))
RECORD_DTYPES = (fill_dt, hedge_dt, order_dt, risk_event_dt, account_dt)
RECORD_COUNTERS = (C_FILLS, C_HEDGES, C_ORDERS, C_RISK, C_ACCOUNT)  # where the kernel counts each one's rows
_SCRATCH_FIELDS = frozenset(STATE_FIELDS.index(name) for name in ("fill_buf", "hedge_buf"))
_REPLAY_SCRATCH = frozenset(REPLAY_FIELDS.index(name) for name in ("qview",))


LOSS_WINDOW_BUCKETS = 4094  # the rolling loss window's peak deque never holds more entries than this (+2)


def loss_window_ticks(config: SimConfig) -> int:
    return max(1, round(config.risk.loss_window_s / config.sim.dt_s))


def loss_bucket_ticks(config: SimConfig) -> int:
    """Ticks per bucket of the rolling loss window: 1 (exact) while the window is at most
    ``LOSS_WINDOW_BUCKETS`` ticks, so the deque's memory never grows with the window; beyond that the
    window's peak is kept per bucket, which can only make the window up to one bucket longer (the
    throttle errs on the side of pausing)."""
    return max(1, math.ceil(loss_window_ticks(config) / LOSS_WINDOW_BUCKETS))


def kernel_params(config: SimConfig, hedge_step: int = 1, hedge_contract_value: float = 0.0) -> np.ndarray:
    """The config converted to kernel units (ticks, lots, tick index, tick-lots) in a flat vector.
    ``hedge_step``: Exchange 2's lot step in lots (a recorded perpetual's 0.001 BTC against a 1e-6 grid);
    ``hedge_contract_value``: an inverse Exchange 2's quote currency per unit of its sizes (0 = linear)."""
    c = config
    dt = c.sim.dt_s
    tick_lot_value = c.market.tick_size * c.market.lot_size
    p = np.zeros(P.N_PARAMS)
    p[P.P_N_TICKS] = c.sim.ticks
    p[P.P_DT_S] = dt
    p[P.P_TICK_SIZE] = c.market.tick_size
    p[P.P_LOT_SIZE] = c.market.lot_size
    p[P.P_FILL_MODEL] = 0 if c.quoting.fill_model == "book" else 1
    p[P.P_QUOTE_MODEL] = {"linear": 0, "avellaneda_stoikov": 1, "avellaneda_stoikov_symmetric": 2}[c.quoting.model]
    p[P.P_REFERENCE] = {"exchange1": 0, "exchange2": 1, "blend": 2}[c.quoting.reference]
    p[P.P_SIZE] = c.quoting.size_lots
    p[P.P_HALF_SPREAD] = c.quoting.half_spread_ticks
    p[P.P_VOL_MULT] = c.quoting.vol_spread_multiplier
    p[P.P_DRIFT_MULT] = c.quoting.drift_spread_multiplier
    p[P.P_VOL_HORIZON_S] = c.quoting.vol_horizon_s
    p[P.P_SQRT_VOL_HORIZON] = math.sqrt(c.quoting.vol_horizon_s)
    p[P.P_VOL_ALPHA] = 1.0 - 0.5 ** (dt / c.quoting.vol_halflife_s)
    p[P.P_SIGMA0] = c.market.volatility_per_sqrt_s / c.market.tick_size
    p[P.P_VOL_KNOWN] = 1 if c.quoting.volatility == "known" else 0
    p[P.P_SKEW] = c.quoting.skew_ticks_per_lot
    p[P.P_SKEW_ON] = 0 if c.quoting.skew_inventory == "exchange1" else 1
    p[P.P_REQUOTE_TOL] = c.quoting.requote_tolerance_ticks
    p[P.P_AS_GAMMA] = c.quoting.as_gamma
    p[P.P_AS_K] = c.quoting.as_k
    p[P.P_AS_HORIZON_S] = c.quoting.as_horizon_s
    p[P.P_INT_A] = c.quoting.intensity_a_per_s
    p[P.P_INT_K] = c.quoting.intensity_k
    p[P.P_INT_AFTER_MOVE] = 1 if c.quoting.intensity_timing == "after_move" else 0
    p[P.P_DECISION_TICKS] = max(1, round(c.replay.decision_interval_ms / (dt * 1000.0)))
    p[P.P_PARTIAL_FILLS] = 1 if c.replay.partial_fills else 0
    p[P.P_RESPONSE_NS] = round(c.replay.response_latency_ms * 1e6)
    p[P.P_HEDGE_ON] = 1 if c.hedging.enabled else 0
    p[P.P_MIN_HEDGE] = c.hedging.min_hedge_lots
    p[P.P_HEDGE_ROUND] = 1 if c.hedging.remainder == "round" else 0
    p[P.P_HEDGE_BUFFER] = c.hedging.slippage_buffer_ticks
    p[P.P_RETRY_TICKS] = max(1, math.ceil(c.hedging.retry_backoff_s / dt - 1e-9))
    p[P.P_MAX_RETRIES] = c.hedging.max_retries
    p[P.P_SOFT] = c.risk.soft_position_lots
    p[P.P_HARD] = c.risk.hard_position_lots
    p[P.P_SOFT_FACTOR] = c.risk.soft_size_factor
    p[P.P_MAX_LOSS] = c.risk.max_loss_window / tick_lot_value
    p[P.P_LOSS_WINDOW_TICKS] = loss_window_ticks(c)
    p[P.P_LOSS_BUCKET_TICKS] = loss_bucket_ticks(c)
    p[P.P_HEDGE_STEP] = hedge_step
    p[P.P_HEDGE_INVERSE] = 1 if hedge_contract_value > 0 else 0
    p[P.P_CONTRACT_TL] = hedge_contract_value / tick_lot_value
    halflife = c.quoting.basis_halflife_s
    p[P.P_BASIS_ALPHA] = 1.0 - 0.5 ** (dt / halflife) if halflife > 0 and c.quoting.reference != "exchange1" else 0.0
    p[P.P_QUEUE_MODEL] = 0 if c.replay.queue_model == "risk_averse" else 1
    p[P.P_QUEUE_POWER] = c.replay.queue_power
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
    p[P.P_RECORD_EVERY] = c.record_every_ticks
    return p


def _record_caps(config: SimConfig, market: MarketArrays, n_interventions: int,
                 n: int | None = None) -> tuple[int, int, int, int, int]:
    """First guesses for record array sizes over ``n`` ticks (default: the run's) of ``market``; exact upper
    bounds where cheap, else generous estimates. If a guess is too small the kernel says so and the span is
    repeated with the exact counts."""
    n = config.sim.ticks if n is None else n
    # every Exchange 1 event could trade with us (cancels cannot, but counting them would need the events
    # drawn, and with a streamed market they are not yet)
    streamed = getattr(market, "events_progress", None) is not None  # its table is allocated, its counts come later
    events1 = len(market.events1.table) if streamed else int(market.events1.start[-1])
    fills_bound = events1 + n_interventions + (2 * n if config.quoting.fill_model == "intensity" else 0)
    fills = min(fills_bound, max(1024, n // 2)) + 16
    hedges = min(n, fills) + 16
    orders = min(4 * n, n // 2 + 4 * fills + 1024) + 16
    risk = 1024
    # a row per tick with a fill, a hedge attempt, a pending-hedge change or a state change
    account = min(n, 2 * (fills + hedges) + risk + n_interventions) + 16
    return fills, hedges, orders, risk, account


def run(config: SimConfig | None = None, interventions: Iterable[Intervention] = (),
        market: MarketArrays | None = None, should_stop=None) -> Results:
    """Simulate one run. ``market`` may be passed to reuse arrays generated from the same config.
    ``should_stop()``, asked between spans of ticks, stops the run with KeyboardInterrupt (the CLI's Ctrl-C)."""
    config = config or SimConfig()
    try:
        # a streamed market: the kernel starts while a helper thread is still drawing the order flow
        return _run(config, interventions, market if market is not None else generate(config, stream=True),
                    should_stop)
    except FlowTableFull:  # (probability below 1e-30) the same market drawn whole, then the same run
        return _run(config, interventions, generate(config), should_stop)


def _run(config: SimConfig, interventions: Iterable[Intervention], market, should_stop) -> Results:
    try:
        if should_stop is not None and should_stop():
            raise KeyboardInterrupt
        sim = Simulation(config, market, interventions)
        sim.advance(config.sim.ticks, should_stop)
        if should_stop is not None and should_stop():
            raise KeyboardInterrupt
    except BaseException:
        # Ctrl-C or an error: the helper thread must stop before the interpreter frees what it writes into
        # (left to run at exit it crashed the process)
        stream = getattr(market, "events_progress", None)
        if stream is not None:
            stream.stop()
        raise
    return sim.results()


MIN_LOTS_PER_CONTRACT = 10


def hedge_contract_value(config: SimConfig, market) -> float:
    """Quote currency one unit of an inverse Exchange 2's sizes is worth (0: Exchange 2 is linear)."""
    if isinstance(market, ReplayMarket):
        return float(market.hedge_contract_value)
    mk = config.market
    return float(mk.exchange2_contract_value) if mk.exchange2_instrument == "inverse" else 0.0


def check_contract_grid(contract_value: float, price: float, lot: float) -> None:
    """An inverse contract's hedges cover the fills' whole lots (kernels.strategy.hedge_settle): the lot grid must
    be fine against a contract, or a hedge could cover nothing. ConfigError when a contract is worth fewer than
    ``MIN_LOTS_PER_CONTRACT`` lots at ``price`` (quote currency per base unit)."""
    from backtest.config import ConfigError

    lots = contract_value / (price * lot)
    if lots < MIN_LOTS_PER_CONTRACT:
        raise ConfigError([f"market.lot_size {lot:g}: a contract of {contract_value:g} on Exchange 2 is worth "
                           f"{contract_value / price:.6g} base units at {price:.6g}, {lots:.3g} lots; allowed: a "
                           f"lot_size of at most {contract_value / price / MIN_LOTS_PER_CONTRACT:.3g} (a contract "
                           f"at least {MIN_LOTS_PER_CONTRACT} lots)"])


def hedge_step_lots(config: SimConfig, price: float, contract_value: float, linear_step: int = 1) -> float:
    """Exchange 2's quantity step in lots at ``price`` (what carrying notional settings round to): ``linear_step``
    on a linear venue; on an inverse one what a contract is worth (checked against the lot grid)."""
    if contract_value > 0:
        check_contract_grid(contract_value, price, config.market.lot_size)
        return contract_value / (price * config.market.lot_size)
    return linear_step


def check_manual_fills(config: SimConfig, market, interventions) -> None:
    """The manual fills checked as the REST API checks them (size against the hard limit, price near the
    Exchange 1 feed at their tick): ConfigError naming each one refused. A chunk of a replay
    (``tick_offset``) checks the fills within its ticks."""
    from backtest.config import ConfigError
    from backtest.interventions import manual_fill_problems

    tick_size = config.market.tick_size
    offset = getattr(market, "tick_offset", 0)
    problems = []
    for iv in interventions:
        if iv.kind != "manual_fill" or not offset <= iv.tick < offset + market.n_ticks:
            continue
        price = None if iv.price_ticks is None else iv.price_ticks * tick_size
        for p in manual_fill_problems(config.risk.hard_position_lots, tick_size,
                                      float(market.feed1[iv.tick - offset]) * tick_size, iv.qty_lots, price):
            problems.append(f"manual fill at tick {iv.tick}: {p}")
    if problems:
        raise ConfigError(problems)


def check_synthetic(config: SimConfig) -> SimConfig:
    """A synthetic config resolved as a run would resolve it at its first price (ConfigError if it cannot):
    what the API checks before it accepts a config for the next reset."""
    price = config.market.initial_price
    return resolve_units(config, price, hedge_step_lots(config, price, hedge_contract_value(config, None)))


def check_queue_reactive(config: SimConfig) -> SimConfig:
    """A queue-reactive config resolved at its first price with Exchange 2's lot step, as its run resolves it
    (ConfigError if it cannot), without printing its market."""
    price = config.market.initial_price
    return resolve_units(config, price, hedge_step_lots(config, price, 0.0,
                                                        config.queue_reactive.exchange2_lot_step_lots))


def check_replay(config: SimConfig) -> SimConfig:
    """A replay config resolved as a run would resolve it (ConfigError if its recordings cannot be read, do not
    cover its ticks, cannot hedge each other, or its settings cannot resolve at the first price)."""
    from backtest.markets.replay import ReplayChunks

    market = ReplayChunks(config).first
    price = float(market.feed1[0] * config.market.tick_size)
    contract = hedge_contract_value(config, market)
    return resolve_units(config, price, hedge_step_lots(config, price, contract, int(market.hedge_step)))


def enlarged(rec: np.ndarray, rows: int) -> np.ndarray:
    """A record array of ``rows`` rows starting with ``rec``'s (the rest zero)."""
    bigger = np.zeros(rows, dtype=rec.dtype)
    bigger[: rec.shape[0]] = rec
    return bigger


def rows_at_pace(rows: int, n_ticks: int, through: int) -> int:
    """Rows for a whole run of ``n_ticks`` ticks at the pace of ``rows`` rows in its first ``through`` ticks, with a
    tenth to spare. Records grown to it instead of by half are copied a few times, not dozens (a printed day's grew
    28 times, 2.1 s of copying); the zeros past the rows written cost no memory until written."""
    return int(rows * n_ticks / max(1, through) * 1.1)


class _StartOver(Exception):
    """A chunked span overflowed a record array with no copy of the state to run it again from."""


@dataclass(frozen=True)
class Checkpoint:
    """The kernel's loop state at the start of ``tick`` (copies, never written again)."""

    tick: int
    state: tuple


class Simulation:
    """One run computed in spans of ticks, resumable from checkpoints.

    ``advance(t)`` runs the kernel up to (not including) tick ``t``; ``results()`` wraps the ticks computed
    so far, which are exactly the first rows of the full run. With ``checkpoint_every`` set, the loop state
    is copied every that many ticks, and ``fork(interventions, tick)`` starts a run with more interventions
    at ``tick`` or later from the last checkpoint at or before ``tick``: everything before it is shared,
    because a run with an intervention at tick t is identical to the run without it before t. The API uses
    this to answer an action by re-running only a few thousand ticks instead of the whole session.
    One thread at a time may advance a simulation; forking from one being advanced is safe.
    """

    def __init__(self, config: SimConfig, market: MarketArrays | ReplayMarket | ReplayChunks,
                 interventions: Iterable[Intervention] = (), checkpoint_every: int | None = None,
                 _parent: tuple | None = None):
        # a recording replayed chunk by chunk: the chunk in use stands for the market (same windows and steps)
        self.chunks = market if isinstance(market, ReplayChunks) else None
        if self.chunks is not None:
            if checkpoint_every:
                raise ValueError("a replay in chunks (replay.chunk_s) cannot be checkpointed: its chunks are read once")
            market = self.chunks.first
        self.replay = isinstance(market, ReplayMarket)
        # settings in bps, base units or notional become ticks and lots at the run's first price
        first_price = market.feed1[0] * config.market.tick_size if self.replay else config.market.initial_price
        self.first_price = float(first_price)
        self.hedge_contract_value = hedge_contract_value(config, market)
        self.hedge_step_lots = hedge_step_lots(config, self.first_price, self.hedge_contract_value,
                                               int(market.hedge_step) if self.replay else 1)
        config = resolve_units(config, self.first_price, self.hedge_step_lots)
        self.config = config
        self.market = market
        self.interventions = tuple(interventions)
        self.n_ticks = self.chunks.n_ticks if self.chunks is not None else market.n_ticks
        self.iv = to_array(self.interventions, self.n_ticks)
        check_manual_fills(config, market, self.interventions)
        self.p = kernel_params(config, market.hedge_step if self.replay else 1, self.hedge_contract_value)
        self.p[P.P_N_TICKS] = self.n_ticks
        self.every = config.record_every_ticks
        self.checkpoint_every = checkpoint_every
        self.lock = threading.Lock()
        self._span_most = None  # in chunks: the most rows of each record a span has written (see _span)
        self.started_over = 0  # times a chunked run started over (_start_over)
        m = market
        e1, e2 = m.events1, m.events2
        if self.replay:
            self._kernel = run_replay
            self._scratch = _REPLAY_SCRATCH
            self._use_chunk(m)
        else:
            self._kernel = run_ticks
            self._scratch = _SCRATCH_FIELDS
            self._inputs = (
                self.p, m.feed1, m.feed2, m.center1, m.center2,
                e1.start, e1.table, e2.start, e2.table,
                m.hedge_latency_ms, m.hedge_reject, m.u_bid, m.u_ask, self.iv,
                m.order_latency_ms, m.feed2_seen, m.feed2_update,
            )
        # rows past ``computed`` are never read, so no need to zero (and touch) them: a fork stays cheap
        self.ticks_raw = np.empty(record_rows(self.n_ticks, self.every), dtype=tick_dt)
        if self.chunks is not None:  # the feeds at the tick records' ticks, kept as the chunks go by
            self._feed_rows = np.empty((2, len(self.ticks_raw)))
            self._keep_feeds(m)
        if _parent is None:
            if self.replay:
                self.state = self._first_replay_state(m)
            else:
                self.state = new_state(self.p, m.feed1, m.feed2, m.center1, m.center2, m.base1, m.levels1, m.base2,
                                       m.levels2, book_capacity(config), INTENT_CAPACITY)
            self.computed = 0
            self.checkpoints: list[Checkpoint] = []
            self.records = [np.zeros(cap, dtype=dt) for cap, dt in
                            zip(_record_caps(config, market, len(self.iv), market.n_ticks), RECORD_DTYPES)]
        else:
            checkpoints, records, ticks_raw = _parent
            at = checkpoints[-1]
            self.state = tuple(np.zeros_like(a) if i in self._scratch else a.copy()
                               for i, a in enumerate(at.state))
            self.computed = at.tick
            self.checkpoints = list(checkpoints)
            counts = at.state[-1]
            self.records = []
            for rec, c in zip(records, RECORD_COUNTERS):
                own = np.empty(max(rec.shape[0], int(counts[c]) + 1024), dtype=rec.dtype)
                own[: counts[c]] = rec[: counts[c]]
                self.records.append(own)
            rows = record_rows(self.n_ticks, self.every, at.tick)
            self.ticks_raw[:rows] = ticks_raw[:rows]
        if checkpoint_every and (not self.checkpoints or self.checkpoints[-1].tick < self.computed):
            self._checkpoint()

    def _use_chunk(self, m: ReplayMarket) -> None:
        """Run the replay kernel on ``m``'s ticks (the whole recording, or the chunk from ``m.tick_offset``)."""
        e1, e2 = m.events1, m.events2
        self._chunk = m
        self._inputs = (self.p, m.feed1, m.feed2, e1.start, e1.table, e2.start, e2.table, m.hedge_latency_ms,
                        m.hedge_reject, self.iv, m.order_latency_ms,
                        reference_last_update(m, self.config.quoting.reference), m.view_touch1, m.start_ns,
                        m.tick_offset)

    def reach_chunk(self) -> int:
        """In chunks: the next chunk of the recording if the run has reached the end of the one in use; returns the
        tick the chunk in use ends at (exclusive)."""
        chunk_end = self._chunk.tick_offset + self._chunk.n_ticks
        if self.computed >= chunk_end:
            chunk = self.chunks.next()
            check_manual_fills(self.config, chunk, self.interventions)
            self._use_chunk(chunk)
            self._keep_feeds(chunk)
            chunk_end = chunk.tick_offset + chunk.n_ticks
        return chunk_end

    @property
    def feeds(self) -> tuple[np.ndarray, np.ndarray, int]:
        """(Exchange 1 feed, Exchange 2 feed, the tick their first element is at): the market in use (a chunk's
        ticks in chunks, else the whole run's from tick 0). Ticks."""
        m = self._chunk if self.replay else self.market
        return m.feed1, m.feed2, int(m.tick_offset) if self.replay else 0

    def _keep_feeds(self, m: ReplayMarket) -> None:
        a, b = m.tick_offset, m.tick_offset + m.n_ticks
        r0, r1 = record_rows(self.n_ticks, self.every, a), record_rows(self.n_ticks, self.every, b)
        ticks = record_ticks(self.n_ticks, self.every, r1, first=r0) - a
        self._feed_rows[0, r0:r1] = m.feed1[ticks]
        self._feed_rows[1, r0:r1] = m.feed2[ticks]

    def _checkpoint(self) -> None:
        # scratch buffers (matches within one event) carry nothing between ticks: not copied
        self.checkpoints.append(Checkpoint(self.computed, tuple(
            a if i in self._scratch else a.copy() for i, a in enumerate(self.state))))

    @property
    def done(self) -> bool:
        return self.computed >= self.n_ticks

    def advance(self, until: int, should_stop=None) -> int:
        """Compute ticks up to ``until`` (exclusive, capped at the run's length); returns ticks computed.
        ``should_stop()`` is asked between spans, so a background completion can be abandoned."""
        until = min(until, self.n_ticks)
        with self.lock:
            while self.computed < until:
                if should_stop is not None and should_stop():
                    break
                step = self.checkpoint_every or self.n_ticks
                end = min(until, (self.computed // step + 1) * step)
                if self.chunks is not None:
                    end = min(end, self.reach_chunk())
                if self.market.events_progress is not None:  # run on what the flow helper has drawn so far
                    end = min(end, self.market.wait_for_events(self.computed + 1))
                try:
                    self._span(self.computed, end)
                except _StartOver:
                    self._start_over()
                    continue
                self.computed = end
                if self.checkpoint_every and end % self.checkpoint_every == 0:
                    self._checkpoint()
            return self.computed

    # in chunks: room kept in each record array before a span, as a multiple of the most rows any span wrote so far
    # plus a margin (rows)
    SPAN_ROOM_FACTOR, SPAN_ROOM_MARGIN = 2, 4096

    def _span(self, t0: int, t1: int) -> None:
        # The state before the span, to run it again if a record array overflows. In chunks it is not copied once
        # the record arrays have room for twice the most rows a span has written (copying a day's books before
        # each minute's span took 5.4 of the day's 30 s end to end); a span that still overflows has nothing to
        # run again from, and the run starts over from its first tick with the arrays it needs (_StartOver).
        before = None if self._room_for_span() else tuple(a.copy() for a in self.state)
        counts = [int(self.state[-1][c]) for c in RECORD_COUNTERS]
        while True:
            self._kernel(*self._inputs, t0, t1, *NO_KEEP, self.ticks_raw, *self.records, *self.state)
            counters = self.state[-1]
            if counters[C_OVERFLOW] == 0:
                if self.chunks is not None:
                    self._span_most = [max(most, int(counters[c]) - n) for most, c, n in
                                       zip(self._span_most or [0] * len(counts), RECORD_COUNTERS, counts)]
                return
            if before is None:
                raise _StartOver
            # a record array was too small: grow to the exact counts and run the span again
            self._grow_records()
            self.state = tuple(a.copy() for a in before)

    def _room_for_span(self) -> bool:
        """In chunks, after a first span: grow each record array that has less free room than the next span
        could want (``SPAN_ROOM_FACTOR`` x the most rows a span wrote, + ``SPAN_ROOM_MARGIN``); True. Else False:
        the span keeps a copy of the state."""
        if self.chunks is None or self._span_most is None:
            return False
        counters = self.state[-1]
        grown = []
        for rec, c, most in zip(self.records, RECORD_COUNTERS, self._span_most):
            rows = int(counters[c])
            want = rows + self.SPAN_ROOM_FACTOR * most + self.SPAN_ROOM_MARGIN
            if want > rec.shape[0]:
                # to the whole run's rows at the pace so far (within 16 times what the next span wants), at least
                # double
                pace = rows_at_pace(rows, self.n_ticks, self.computed) + self.SPAN_ROOM_MARGIN
                rec = enlarged(rec, max(want, 2 * rec.shape[0], min(pace, 16 * want)))
            grown.append(rec)
        self.records = grown
        return True

    def _start_over(self) -> None:
        """A chunked run whose span overflowed without a copy of the state: back to its first tick, with the
        recording's chunks read again and record arrays of at least the rows the run had reached (the same run:
        everything in it is a function of the config and the recording)."""
        reached = [int(self.state[-1][c]) for c in RECORD_COUNTERS]
        self.chunks = self.chunks.again()
        m = self.market = self.chunks.first
        self._use_chunk(m)
        self._keep_feeds(m)
        self.state = self._first_replay_state(m)
        self.records = [np.zeros(max(rec.shape[0], n + n // 2 + self.SPAN_ROOM_MARGIN), dtype=rec.dtype)
                        for rec, n in zip(self.records, reached)]
        self.computed = 0
        self._span_most = None
        self.started_over += 1

    def _first_replay_state(self, m: ReplayMarket) -> tuple:
        """The replay loop's state before the run's first tick, on ``m``'s (the first chunk's) books."""
        return replay_state(self.p, m.feed1, m.feed2, m.base1, m.levels1, m.base2, m.levels2, INTENT_CAPACITY)

    def _grow_records(self, through: int | None = None) -> None:
        """Each record array too small for the counts the kernel reached, replaced by one that holds them. With
        ``through`` (the tick the counts were reached at), one that holds the whole run's rows at that pace
        (``rows_at_pace``): a caller running longer and longer stretches would otherwise overflow, and run a stretch
        again, every time."""
        counters = self.state[-1]
        grown = []
        for rec, c in zip(self.records, RECORD_COUNTERS):
            need = int(counters[c]) + 16
            if need > rec.shape[0]:
                # in chunks, the records' first sizes are a chunk's: grow geometrically (by half) over a long run
                rows = need + max(need // 4, rec.shape[0] // 2 if self.chunks is not None else 0)
                if through:
                    rows = max(rows, rows_at_pace(need, self.n_ticks, through))
                rec = enlarged(rec, rows)
            grown.append(rec)
        self.records = grown

    def fork(self, interventions: Iterable[Intervention], tick: int) -> "Simulation":
        """A new run with ``interventions`` (all of this run's, plus new ones at ``tick`` or later), sharing
        this run's history before the last checkpoint at or before ``tick``."""
        if self.checkpoint_every is None:
            raise ValueError("fork needs a simulation created with checkpoint_every")
        usable = [c for c in self.checkpoints if c.tick <= tick]
        return Simulation(self.config, self.market, interventions, self.checkpoint_every,
                          _parent=(usable, self.records, self.ticks_raw))

    def results(self) -> Results:
        """The run's ticks computed so far as Results (the whole run once ``done``)."""
        n = self.computed
        rows = record_rows(self.n_ticks, self.every, n)
        if self.chunks is not None:
            fair = feed1 = self._feed_rows[0, :rows]
            feed2, regime = self._feed_rows[1, :rows], np.zeros(rows, dtype=np.int8)
        else:
            at = slice(0, n) if self.every == 1 else record_ticks(self.n_ticks, self.every, rows)
            fair = self.market.fair[at]
            feed1 = fair if self.market.feed1 is self.market.fair else self.market.feed1[at]
            feed2, regime = self.market.feed2[at], self.market.regime[at]
        counters = self.state[-1].copy()
        fills, hedges, orders, risk, account = self.records
        return Results(
            config=self.config,
            ticks_raw=self.ticks_raw[:rows],
            fills_raw=fills[: counters[C_FILLS]],
            hedges_raw=hedges[: counters[C_HEDGES]],
            orders_raw=orders[: counters[C_ORDERS]],
            risk_raw=risk[: counters[C_RISK]],
            account_raw=account[: counters[C_ACCOUNT]],
            counters=counters,
            interventions=self.iv,
            regime=regime,
            fair=fair,
            feed1=feed1,
            feed2=feed2,
            n_ticks=n,
            first_price=self.first_price,
            hedge_step_lots=self.hedge_step_lots,
            hedge_contract_value=self.hedge_contract_value,
            notes=tuple(getattr(self.market, "notes", ())),
        )
