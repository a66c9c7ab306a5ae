"""Config + seed -> MarketArrays: every random draw of a run, made here and only here.

The kernel is deterministic given these arrays, so the same config gives the same run bit for bit,
and a user's intervention at tick t cannot change anything before t.

Market model (each assumption is also stated in the README):

* Fair value: arithmetic random walk in currency, ``dX = mu dt + sigma_r dW``, where the volatility
  ``sigma_r`` switches between a calm and a high-volatility regime as a two-state Markov chain.
* Exchange 1's price feed is the fair value; Exchange 2's is fair value plus a basis that follows an
  Ornstein-Uhlenbeck process (mean ``basis_mean_ticks``), sampled exactly on the tick grid.
* Background participants (zero-intelligence, after Smith, Farmer et al. 2003): on each venue, limit
  and market orders arrive as independent Poisson streams per side; each resting order is cancelled
  at a constant per-order rate, so the book has a stationary size. Limit prices sit a geometric
  number of ticks from the venue price (a limit order priced through the touch trades); sizes are
  geometric in lots. Orders stranded through the venue price or more than ``max_depth_ticks`` behind
  it are withdrawn.
* Client market orders on Exchange 1 arrive as a Poisson stream; a fraction is informed: it trades
  in the direction of Exchange 1's price move over the next ``informed_horizon_s`` seconds.
* Hedge latency per tick is lognormal, multiplied during latency spikes that start at random and last
  ``spike_duration_s`` (and during configured spike windows); Exchange 2 rejects hedges at random and
  during configured outage windows.
* Exchange 1 order/cancel latency per tick is lognormal, multiplied in configured order-spike windows.

Random streams: every random input has its own generator (``random_stream``), which draws its values in
tick order. So a longer run with the same seed begins exactly as the shorter one did (only what looks
ahead of the last tick, the informed clients' horizon, can differ there), and turning a fault on changes
no other input's draws.

Fault injection (all off by default; a run without faults draws exactly what it drew before faults
existed):

* stale Exchange 2 feed: in ``market.feed2_stale_windows_s`` the feed the quoter sees holds its last
  value and sends no updates, while Exchange 2's market (book, marks) keeps moving;
* toxic burst: in ``clients.toxic_windows_s`` extra client market orders arrive at
  ``toxic_rate_per_s``, every one informed.
"""
from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from backtest.config import ConfigError, SimConfig, VenueFlowSection
from backtest.resources import check_memory
from kernels.records import EV_CANCEL, EV_CLIENT, EV_LIMIT, EV_MARKET, event_dt
from backtest.markets.inputs import (  # noqa: F401  (re-exported: their home before backtest.markets.inputs)
    RANDOM_STREAMS, LatencyDraws, VenueEvents, _lognormal, in_windows, random_stream,
)
from kernels.series import basis_feed, draw_events, fair_value_path, poisson_starts

BOOK_MARGIN_TICKS = 64

@dataclass(frozen=True)
class MarketArrays:
    fair: np.ndarray  # float64 ticks
    feed1: np.ndarray  # float64 ticks, Exchange 1 price feed
    feed2: np.ndarray  # float64 ticks, Exchange 2 price feed
    center1: np.ndarray  # int64 ticks, feed1 rounded: where background orders are placed
    center2: np.ndarray
    regime: np.ndarray  # int8, 1 = high volatility
    events1: VenueEvents
    events2: VenueEvents
    hedge_latency_ms: np.ndarray  # float64 milliseconds
    order_latency_ms: np.ndarray  # float64 milliseconds, Exchange 1 order entry and cancels
    feed2_seen: np.ndarray  # float64 ticks: the Exchange 2 price as the quoter sees it (stale in faults)
    feed2_update: np.ndarray  # uint8, 1 = a feed update reached the quoter at this tick
    hedge_reject: np.ndarray  # uint8, 1 = Exchange 2 rejects hedges at this tick
    u_bid: np.ndarray  # float64 uniforms for the intensity fill model (length 1 if unused)
    u_ask: np.ndarray
    base1: int  # lowest price on Exchange 1's grid, ticks
    levels1: int
    base2: int
    levels2: int
    # set when the event tables are still being drawn by a helper thread (``generate(stream=True)``); such a
    # market's tables are allocated before their totals are drawn: the events are their first start[-1] rows
    events_progress: "EventStream | None" = None

    def wait_for_events(self, tick: int) -> int:
        """Return once the events of every tick before ``tick`` are drawn (at once for a whole market), with
        the tick the drawn events reach (``tick`` or beyond)."""
        if self.events_progress is not None:
            return self.events_progress.wait(tick)
        return self.n_ticks

    @property
    def n_ticks(self) -> int:
        return self.fair.shape[0]

    @property
    def nbytes(self) -> int:
        total = 0
        for value in self.__dict__.values():
            if isinstance(value, np.ndarray):
                total += value.nbytes
            elif isinstance(value, VenueEvents):
                total += value.start.nbytes + value.table.nbytes
        return total


def generate(config: SimConfig, stream: bool = False, memory_budget: int | None = None,
             fair_shocks: np.ndarray | None = None, regime_uniforms: np.ndarray | None = None) -> MarketArrays:
    """Draw every exogenous input of a run from ``numpy.random`` PCG64 generators seeded by ``sim.seed``,
    one per input (``random_stream``), each drawn in tick order: a run of more ticks with the same seed
    extends this one.

    The order flow is nearly all of the draws. By default both venues' flows are complete on return,
    Exchange 2's drawn in a helper thread while Exchange 1's is drawn here (numpy's
    generators and the jitted filler release the GIL). With ``stream=True`` the flows (and the hedge and
    order latencies) are drawn by a helper thread, tick-chunk by tick-chunk, after the function returns: the
    kernel can start once the prices are drawn
    and consume them as they come (``MarketArrays.wait_for_events``), so on two cores generation hides
    behind the kernel. Either way the arrays are identical, bit for bit.

    A config whose estimated memory (``backtest.resources``) exceeds ``memory_budget`` bytes (default:
    ``MMHEDGE_MEMORY_BUDGET_GB`` or 8 GiB) is refused with ConfigError before anything is allocated; so is a
    seed whose price path reaches the books' margin above zero.

    ``fair_shocks`` (one standard normal per tick) replace the seed's own draws of the fair value's shocks, and
    ``regime_uniforms`` (one uniform per tick) those of its volatility regime switches: a portfolio's assets move
    together through them (``backtest.portfolio``)."""
    check_memory(config, memory_budget)  # before anything is allocated
    if config.market.source == "replay":
        from backtest.markets.replay import ReplayChunks, build_replay_market

        # in chunks (replay.chunk_s): the engine asks for each chunk of the recording as the run reaches it
        return ReplayChunks(config) if config.replay.chunk_s > 0 else build_replay_market(config)
    if config.market.source == "queue_reactive":
        from backtest.markets.queue_reactive import queue_reactive_recording
        from backtest.markets.replay import ReplayChunks

        return ReplayChunks(config, venues=queue_reactive_recording(config)).first
    n = config.sim.ticks
    dt = config.sim.dt_s
    stream = stream and not config.clients.toxic_windows_s  # the burst is merged into a finished stream
    seed = config.sim.seed
    horizon = max(1, int(round(config.clients.informed_horizon_s / dt)))
    venue1 = _VenueStream(random_stream(seed, "exchange1_counts"), random_stream(seed, "exchange1_events"), n, dt,
                          config.exchange1, client=config.clients, horizon=horizon)
    venue2 = _VenueStream(random_stream(seed, "exchange2_counts"), random_stream(seed, "exchange2_events"), n, dt,
                          config.exchange2)
    # the helper counts the events per tick while the prices are drawn here; it fills them in once the
    # prices are there (informed clients look at Exchange 1's price path)
    progress = EventStream((venue1, venue2), n) if stream else None
    try:
        return _draw_market(config, venue1, venue2, progress, fair_shocks, regime_uniforms)
    except BaseException:
        if progress is not None:
            progress.stop()  # joined: a helper left running at interpreter exit crashes the process
        raise


def _draw_market(config: SimConfig, venue1: "_VenueStream", venue2: "_VenueStream",
                 progress: "EventStream | None", fair_shocks: np.ndarray | None = None,
                 regime_uniforms: np.ndarray | None = None) -> MarketArrays:
    """Prices, latencies and faults, the venues' flows, the book grids."""
    n = config.sim.ticks
    dt = config.sim.dt_s
    seed = config.sim.seed
    fair, feed1, feed2, center1, center2, regime = _prices(config, fair_shocks, regime_uniforms)
    d1 = config.exchange1.max_depth_ticks + BOOK_MARGIN_TICKS
    d2 = config.exchange2.max_depth_ticks + BOOK_MARGIN_TICKS
    base1 = int(center1.min()) - d1
    base2 = int(center2.min()) - d2
    if base1 < 1 or base2 < 1:  # known before any order flow is drawn
        low = int(np.argmin(center1 if base1 < 1 else center2))
        raise ConfigError([
            f"seed {config.sim.seed}: the simulated price path falls to "
            f"{min(center1[low], center2[low]) * config.market.tick_size:.4g} (tick {low:,}), within the order "
            f"books' margin of {max(d1, d2) * config.market.tick_size:.4g} above zero; allowed: a path that stays "
            "above it: raise market.initial_price, lower market.volatility_per_sqrt_s, run fewer sim.ticks or "
            "try another seed"])
    venue1.center = center1
    draws = LatencyDraws(config)
    if progress is not None:
        # the kernel reads a tick's latencies when it reaches the tick: the helper draws them span by span with
        # the order flow (the same numbers: LatencyDraws continues its streams), so the kernel starts sooner
        latency, reject, order_latency = np.empty(n), np.empty(n, dtype=np.uint8), np.empty(n)

        def draw_latencies(a: int, b: int) -> None:
            latency[a:b], reject[a:b], order_latency[a:b] = draws.draw(a, b)

        progress.prices_ready(also_draw=draw_latencies)
    else:
        with ThreadPoolExecutor(max_workers=1) as pool:
            done2 = pool.submit(venue2.fill, n)
            venue1.fill(n)
            done2.result()
    mk = config.market

    lat = config.latency
    windows = (lat.outage_windows_s, lat.spike_windows_s, lat.order_spike_windows_s, mk.feed2_stale_windows_s,
               config.clients.toxic_windows_s)
    times = np.arange(n) * dt if any(windows) else None  # seconds, only needed to place windows
    if progress is None:
        latency, reject, order_latency = draws.draw(0, n)

    if config.quoting.fill_model == "intensity":
        u_bid = random_stream(seed, "fill_bid").random(n)
        u_ask = random_stream(seed, "fill_ask").random(n)
    else:
        u_bid = np.zeros(1)
        u_ask = np.zeros(1)

    feed2_update = np.ones(n, dtype=np.uint8)
    feed2_seen = feed2  # every update reaches the quoter, unless a stale window holds it
    if mk.feed2_stale_windows_s:
        for start_s, end_s in mk.feed2_stale_windows_s:
            feed2_update[(times >= start_s) & (times < end_s)] = 0
        feed2_update[0] = 1
        last_update = np.maximum.accumulate(np.where(feed2_update == 1, np.arange(n), 0))
        feed2_seen = feed2[last_update]
    if progress is not None:
        progress.wait(0)  # the events per tick are counted (the tables exist), the events come later
    events1, events2 = venue1.events, venue2.events
    if config.clients.toxic_windows_s:
        events1 = _add_toxic_flow(seed, events1, n, dt, config.clients, center1, venue1.horizon, times)

    levels1 = int(center1.max()) + d1 - base1 + 1
    levels2 = int(center2.max()) + d2 - base2 + 1
    return MarketArrays(
        fair=fair, feed1=feed1, feed2=feed2, center1=center1, center2=center2, regime=regime,
        events1=events1, events2=events2, hedge_latency_ms=latency, hedge_reject=reject.astype(np.uint8, copy=False),
        order_latency_ms=order_latency, feed2_seen=feed2_seen, feed2_update=feed2_update, u_bid=u_bid,
        u_ask=u_ask, base1=base1, levels1=levels1, base2=base2, levels2=levels2, events_progress=progress,
    )


def _geometric(rng: np.random.Generator, mean: float, size: int, cap: int) -> np.ndarray:
    """Geometric draws on {1, 2, ...} with the given mean, capped."""
    if mean <= 1.0:
        return np.ones(size, dtype=np.int32)
    return np.minimum(rng.geometric(1.0 / mean, size), cap).astype(np.int32)


def _prices(config: SimConfig, fair_shocks: np.ndarray | None = None, regime_uniforms: np.ndarray | None = None):
    """Fair value and venue feeds (ticks); ``fair_shocks`` / ``regime_uniforms`` given, the fair value's shocks /
    regime switches are drawn from those."""
    seed = config.sim.seed
    n = config.sim.ticks
    dt = config.sim.dt_s
    mk = config.market
    tick = mk.tick_size

    # fair value with volatility regimes
    switch_p = 1.0 - np.exp(-mk.regime_switch_per_s * dt)
    if regime_uniforms is None:
        regime_uniforms = random_stream(seed, "regime_switches").random(n)
    if fair_shocks is None:
        fair_shocks = random_stream(seed, "fair_shocks").standard_normal(n)
    regime, fair = fair_value_path(regime_uniforms, switch_p, fair_shocks, mk.volatility_per_sqrt_s,
                                   mk.volatility_per_sqrt_s * mk.high_vol_multiplier, np.sqrt(dt),
                                   mk.drift_per_s * dt, tick, mk.initial_price / tick)

    # Exchange 2 basis: exact OU discretisation
    theta = mk.basis_reversion_per_s
    decay = np.exp(-theta * dt)
    if theta > 0:
        shock_sd = mk.basis_vol_ticks_per_sqrt_s * np.sqrt((1.0 - decay**2) / (2.0 * theta))
    else:
        shock_sd = mk.basis_vol_ticks_per_sqrt_s * np.sqrt(dt)
    feed2, center1, center2 = basis_feed(fair, random_stream(seed, "basis_shocks").standard_normal(n), shock_sd,
                                         decay, mk.basis_mean_ticks)
    feed1 = fair  # the same array: nothing writes to market arrays

    return fair, feed1, feed2, center1, center2, regime


def _inv_log(mean: float) -> float:
    """``1 / log(1 - p)`` of a geometric law on {1, 2, ...} with this mean (``p = 1 / mean``); 0 for mean 1."""
    return 0.0 if mean <= 1.0 else 1.0 / math.log1p(-1.0 / mean)


EVENT_CHUNK = 1 << 16  # events drawn per call: bounds the uniforms buffer at 1 MiB


def poisson_start_index(rng: np.random.Generator, lam: float, n: int, buffer: np.ndarray | None = None) -> np.ndarray:
    """``start`` (int64, n + 1) with ``start[t + 1] - start[t]`` ~ Poisson(``lam``) for each of ``n`` ticks:
    the same numbers, and the same generator state afterwards, as ``rng.poisson(lam, n)`` followed by a
    cumulative sum, at a fraction of the cost for the usual small means (numpy's sampler recomputes
    ``exp(-lam)`` for every draw). See ``poisson_counts_into``."""
    start = np.zeros(n + 1, dtype=np.int64)
    poisson_counts_into(rng, lam, start, 0, n, buffer)
    return start


def poisson_counts_into(rng: np.random.Generator, lam: float, start: np.ndarray, t_from: int, t_to: int,
                        buffer: np.ndarray | None = None) -> np.ndarray | None:
    """Continue ``start`` (int64 running totals, ``start[t_from]`` already set) with Poisson(``lam``) counts of
    ticks ``t_from .. t_to - 1``: ``start[t + 1] = start[t] + count_t``. Counting a run's ticks span by span
    gives the same numbers as all at once (each count takes the generator's next values, nothing is kept
    between calls). Uniforms are drawn into ``buffer`` (reused, so no fresh memory per block); after each
    block the generator is rewound and advanced by exactly the number used (``PCG64.advance``). Returns
    the buffer, bigger if one count needed more uniforms than it held."""
    total = int(start[t_from])
    if t_to <= t_from:
        return buffer
    if lam <= 0.0:
        start[t_from + 1:t_to + 1] = total
        return buffer
    bit_gen = rng.bit_generator
    if lam >= 10.0 or not isinstance(bit_gen, np.random.PCG64):
        span = start[t_from + 1:t_to + 1]
        np.cumsum(rng.poisson(lam, t_to - t_from), out=span)
        span += total
        return buffer
    if buffer is None:
        buffer = np.empty(2 * EVENT_CHUNK)
    exp_minus_lam = math.exp(-lam)
    until = start[:t_to + 1]  # poisson_starts stops at this view's last tick
    t = t_from
    while t < t_to:
        before = bit_gen.state
        block = rng.random(out=buffer)
        t_done, used, total = poisson_starts(block, exp_minus_lam, until, t, total)
        bit_gen.state = before
        bit_gen.advance(used)
        if t_done == t:  # one count needed more uniforms than the buffer holds: a bigger one
            buffer = np.empty(2 * buffer.shape[0])
        t = t_done
    return buffer


STREAM_TICKS = 1 << 15  # ticks of events a streaming helper draws before it tells the kernel
FIRST_STREAM_TICKS = 1 << 11  # its first span, doubled span after span up to STREAM_TICKS
# a streamed venue's event table is allocated before its total is drawn: this many standard deviations of the
# Poisson total above its mean (a larger total has a probability below 1e-30; it is still handled: FlowTableFull)
TABLE_SIGMAS = 12.0


class FlowTableFull(RuntimeError):
    """A streamed venue drew more events than its table was allocated for: the run is drawn again whole."""


class _VenueStream:
    """One venue's flow. Competing Poisson streams: one total count per tick (drawn before the events of the
    same ticks: all at once, or span by span when streamed), then a type per event drawn in proportion to its
    rate.
    Equivalent in law to independent streams, and events within a tick come out in random order without
    a sort. ``fill`` draws the events themselves, two uniforms each (see ``kernels.series.draw_events``),
    in chunks into one reused buffer written straight into the compact event table: no per-event
    temporaries, and the same table whatever the chunking."""

    def __init__(self, count_rng, event_rng, n, dt, flow: VenueFlowSection, client=None, horizon=1):
        cancel_events = flow.cancel_rate_per_order_per_s * flow.max_orders_per_side
        rates = np.array(
            [
                flow.limit_rate_per_s, flow.limit_rate_per_s,  # limit bid, limit ask
                cancel_events, cancel_events,  # cancel bid, cancel ask (thinned in the kernel)
                flow.market_rate_per_s, flow.market_rate_per_s,  # market buy, market sell
                (client.rate_per_s if client is not None else 0.0),  # client market order
            ]
        )
        total_rate = rates.sum()
        self.n_ticks = n
        self.events_per_tick = total_rate * dt
        self.start: np.ndarray | None = None  # int64, n + 1: events of tick t are table[start[t]:start[t+1]]
        self.table: np.ndarray | None = None
        self.count_rng = count_rng  # the events per tick
        self.event_rng = event_rng  # the events' attributes, two uniforms each, in tick order
        self.cum = np.cumsum(rates / total_rate) if total_rate > 0 else np.ones(7)
        self.cum[-1] = 1.0
        self.kind_of = np.array([EV_LIMIT, EV_LIMIT, EV_CANCEL, EV_CANCEL, EV_MARKET, EV_MARKET, EV_CLIENT],
                                dtype=np.int8)
        self.side_of = np.array([0, 1, 0, 1, 0, 1, 0], dtype=np.int8)
        self.laws = (
            _inv_log(flow.mean_offset_ticks), flow.max_depth_ticks, _inv_log(flow.mean_limit_size_lots),
            _inv_log(flow.mean_market_size_lots), _inv_log(client.mean_size_lots) if client is not None else 0.0,
            flow.max_orders_per_side, client.informed_fraction if client is not None else 0.0,
        )
        # Exchange 1's price path, ticks, which informed clients look ahead on; set before ``fill``
        self.center = np.zeros(n, dtype=np.int64)
        self.horizon = horizon
        self.filled_ticks = 0
        self.counted_ticks = 0
        self._tick_cursor = 0
        self._buffer = np.empty(2 * EVENT_CHUNK)

    def count(self, until_tick: int | None = None) -> None:
        """Draw the number of events of every tick before ``until_tick`` (default: all) not counted yet.

        Counted all at once (``generate``), the event table is allocated to the exact total. Counted span by
        span (the streaming helper, so the kernel need not wait for a whole run's counts), it is allocated
        before the total is known, to ``TABLE_SIGMAS`` standard deviations above the mean total: memory the
        events never reach is never touched. A total beyond that raises ``FlowTableFull``."""
        n = self.n_ticks
        until = n if until_tick is None else min(until_tick, n)
        if self.start is None:
            self.start = np.zeros(n + 1, dtype=np.int64)
        if until <= self.counted_ticks:
            return
        self._buffer = poisson_counts_into(self.count_rng, self.events_per_tick, self.start, self.counted_ticks,
                                           until, self._buffer)
        self.counted_ticks = until
        total = int(self.start[until])
        if self.table is None:
            mean = self.events_per_tick * n
            size = total if until == n else max(0, math.ceil(mean + TABLE_SIGMAS * math.sqrt(mean))) + 64
            self.table = np.empty(size, dtype=event_dt)
        if total > self.table.shape[0]:
            raise FlowTableFull(f"{total:,} events by tick {until:,}, above the {self.table.shape[0]:,} allocated")

    def fill(self, until_tick: int) -> None:
        """Draw the events of ticks ``filled_ticks .. until_tick - 1``."""
        self.count(until_tick)
        e = int(self.start[self.filled_ticks])
        e_end = int(self.start[until_tick])
        while e < e_end:
            k = min(EVENT_CHUNK, e_end - e)
            uniforms = self.event_rng.random(out=self._buffer[: 2 * k])
            self._tick_cursor = draw_events(uniforms, e, self._tick_cursor, self.start, self.cum, self.kind_of,
                                            self.side_of, self.table, *self.laws, self.center, self.horizon)
            e += k
        self.filled_ticks = until_tick

    @property
    def events(self) -> VenueEvents:
        return VenueEvents(self.start, self.table)


class EventStream:
    """Draws venues' flows in a helper thread, ``STREAM_TICKS`` ticks at a time, and lets a consumer
    wait until the events it needs are there. An error in the helper is raised in the consumer."""

    def __init__(self, venues, n_ticks: int):
        self._ready = -1  # -1: not even the events per tick are counted yet
        self._error: BaseException | None = None
        self._cond = threading.Condition()
        self._prices = threading.Event()  # set once the venues' price paths are in place
        self._also_draw = None  # (first tick, end tick) -> None: more per-tick inputs drawn with each span
        self._abandoned = False
        self._thread = threading.Thread(target=self._draw, args=(venues, n_ticks), name="mmhedge-flow",
                                        daemon=True)
        self._thread.start()

    def _draw(self, venues, n_ticks):
        try:
            for venue in venues:  # the tables exist; the rest is counted span by span
                venue.count(FIRST_STREAM_TICKS)
            with self._cond:
                self._ready = 0
                self._cond.notify_all()
            self._prices.wait()
            t0, span = 0, FIRST_STREAM_TICKS
            while t0 < n_ticks:
                if self._abandoned:
                    return
                # short spans first, so the kernel can start on them while longer ones (fewer hand-overs) follow
                t1 = min(n_ticks, t0 + span)
                span = min(2 * span, STREAM_TICKS)
                for venue in venues:
                    venue.fill(t1)
                if self._also_draw is not None:
                    self._also_draw(t0, t1)
                with self._cond:
                    self._ready = t1
                    self._cond.notify_all()
                t0 = t1
        except BaseException as exc:  # handed to the consumer, which would otherwise wait forever
            with self._cond:
                self._error = exc
                self._cond.notify_all()

    def prices_ready(self, also_draw=None) -> None:
        """The price paths the flow depends on are set: drawing the events can start. ``also_draw(a, b)``, if
        given, draws further inputs of ticks ``a`` to ``b - 1`` with each span, before the span is ready."""
        self._also_draw = also_draw
        self._prices.set()

    def abandon(self) -> None:
        """The market will not be used (its construction failed): stop drawing."""
        self._abandoned = True
        self._prices.set()

    def stop(self) -> None:
        """Stop drawing and wait for the helper thread to finish its chunk and end."""
        self.abandon()
        self._thread.join()

    def wait(self, tick: int) -> int:
        """Block until the events of the ticks before ``tick`` are drawn (``tick`` 0: until the tables exist);
        returns the tick the drawn events reach (``tick`` or beyond)."""
        with self._cond:
            while self._ready < tick and self._error is None:
                self._cond.wait()
            if isinstance(self._error, FlowTableFull):
                raise self._error
            if self._error is not None:
                raise RuntimeError("drawing the order flow failed") from self._error
            return self._ready


def _add_toxic_flow(seed, events: VenueEvents, n, dt, clients, center, horizon, times) -> VenueEvents:
    """Merge a burst of informed client market orders (Poisson at ``toxic_rate_per_s`` inside the toxic
    windows, each trading the way Exchange 1's price goes over the informed horizon) into the stream;
    within a tick the burst's orders come after the tick's other events."""
    window = np.zeros(n, dtype=bool)
    for start_s, end_s in clients.toxic_windows_s:
        window |= (times >= start_s) & (times < end_s)
    counts = np.where(window, random_stream(seed, "toxic_counts").poisson(clients.toxic_rate_per_s * dt, n), 0)
    k = int(counts.sum())
    if k == 0:
        return events
    ticks_of = np.repeat(np.arange(n), counts)
    ahead = center[np.minimum(ticks_of + horizon, n - 1)] - center[ticks_of]
    side = np.where(ahead > 0, 0, np.where(ahead < 0, 1, (random_stream(seed, "toxic_sides").random(k) < 0.5))).astype(np.int8)
    qty = _geometric(random_stream(seed, "toxic_sizes"), clients.toxic_mean_size_lots, k, 1_000_000)
    old_counts = np.diff(events.start)
    old_ticks = np.repeat(np.arange(n), old_counts)
    order = np.argsort(np.concatenate([old_ticks, ticks_of]), kind="stable")
    start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(old_counts + counts, out=start[1:])
    burst = np.zeros(k, dtype=event_dt)
    burst["kind"] = EV_CLIENT
    burst["side"] = side
    burst["qty"] = qty
    return VenueEvents(start=start, table=np.concatenate([events.table, burst])[order])
