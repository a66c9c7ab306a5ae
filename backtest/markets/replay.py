"""Config -> ReplayMarket: a recording of two venues laid on the run's tick grid for ``kernels.replay``.

Both venues' events are converted to one grid of prices (``market.tick_size``) and sizes (``market.lot_size``)
that each venue's own tick and lot step are whole multiples of, so that positions, hedges and PnL add up
across venues exactly as on the synthetic market; an inverse (coin-margined) Exchange 2 keeps its sizes in its
own lot steps of contracts, which the kernel turns into base at each trade's price. Time: the run starts when both recordings are under way
(the later first receive time) and tick ``t`` holds the events received in ``[start + t dt, start + (t+1) dt)``;
events received before the start (the first venue's book snapshot, typically) are applied at tick 0. Each
tick's mark per venue is its mid after that tick's events (the book ticker when the venue has one).
Latencies and hedge rejections are drawn from the config's latency model with the run's seed, as on the
synthetic market.
"""
from __future__ import annotations

import collections
import contextlib
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from backtest.config import MAX_PRICE_TICKS, ConfigError, SimConfig
from backtest.markets.data import PROJECT_ROOT, DataError, MarketData, import_capture, import_capture_to, load
from backtest.markets.data.store import read_info
from backtest.markets.data import resolve_path as resolve
from backtest.markets.data.cache import import_cached
from backtest.instruments import check_pair, pair_notes
from backtest.resources import AHEAD_BYTES, CHUNKS_AHEAD
from backtest.markets.inputs import LatencyDraws, VenueEvents
from kernels.records import ME_BBO_ASK, ME_BBO_BID, market_event_dt
from kernels.replay import (
    SUM_EXCH_HI, SUM_EXCH_LO, SUM_RECV_HI, SUM_RECV_LO, fold_lag, fold_summary, latest_updates, new_book, new_scan,
    scan_prices, tick_starts, venue_mids,
)

__all__ = ["PROJECT_ROOT", "ReplayChunks", "ReplayMarket", "build_replay_market", "load_venue", "resolve"]


@dataclass(frozen=True)
class ReplayMarket:
    feed1: np.ndarray  # float64 ticks: Exchange 1's mid after each tick's events
    feed2: np.ndarray
    events1: VenueEvents  # market_event_dt rows in the run's ticks and lots, per tick
    events2: VenueEvents
    hedge_latency_ms: np.ndarray
    hedge_reject: np.ndarray  # uint8
    order_latency_ms: np.ndarray
    feed1_update: np.ndarray  # uint8: an Exchange 1 event arrived in the tick
    feed2_update: np.ndarray  # uint8: an Exchange 2 event arrived in the tick
    base1: int  # lowest price of Exchange 1's book window, ticks
    levels1: int
    base2: int
    levels2: int
    hedge_step: int  # Exchange 2's lot step in lots of the run (1 on an inverse contract: its unit is its lot step)
    start_ns: int  # recorded time of tick 0, ns since the epoch (exchange clock)
    venues: tuple = field(repr=False)  # the two MarketData, for reports
    # replay.clock 'split': Exchange 1's best bid and ask as the strategy sees them at the end of each tick
    # (n x 2 int64 ticks, -1 unknown); 0 rows when the strategy sees the book its orders meet
    view_touch1: np.ndarray = field(default_factory=lambda: np.empty((0, 2), dtype=np.int64), repr=False)
    events_progress: None = None
    # an inverse Exchange 2: quote currency one unit of its sizes (its lot step of contracts) is worth; 0 = linear
    hedge_contract_value: float = 0.0
    notes: tuple = ()  # what the run assumes about the pair (backtest.instruments.pair_notes)
    tick_offset: int = 0  # the run's tick of row 0 of the per-tick arrays (a chunk of a longer replay)
    # per tick, the latest tick every feed of the quotes' reference had an update (None: computed from the flags)
    ref_last_update: np.ndarray | None = field(default=None, repr=False)

    @property
    def fair(self) -> np.ndarray:  # for Results: the quoting venue's mid stands for the fair value
        return self.feed1

    @property
    def regime(self) -> np.ndarray:
        return np.zeros(self.n_ticks, dtype=np.int8)

    @property
    def n_ticks(self) -> int:
        return self.feed1.shape[0]

    def wait_for_events(self, tick: int) -> None:
        return None

    @property
    def nbytes(self) -> int:
        """The memory its arrays hold, bytes."""
        arrays = (self.feed1, self.feed2, self.hedge_latency_ms, self.hedge_reject, self.order_latency_ms,
                  self.feed1_update, self.feed2_update, self.view_touch1, self.ref_last_update)
        return sum(v.nbytes for v in arrays if v is not None) + sum(
            e.start.nbytes + e.table.nbytes for e in (self.events1, self.events2))


@functools.lru_cache(maxsize=8)
def _load_venue(files: tuple, venue: str, streamed: bool = False) -> tuple[MarketData, str]:
    # in memory, keyed by the files' identities (path, mtime, size), so an API session's resets and a sweep's
    # runs in one process read a recording once; across processes the import cache keeps the parsed capture
    paths = [f[0] for f in files]
    if len(paths) == 1 and paths[0].endswith(".parquet"):
        if streamed:  # read in batches as the replay goes: only the metadata now
            return read_info(paths[0]), ""
        return load(paths[0]), ""
    if streamed:  # imported into the cache a block at a time, then read in batches as the replay goes
        from backtest.resources import IMPORT_ROWS_PER_EVENT, MARKET_EVENT_BYTES, budget_bytes, recording_events

        whole = sum(recording_events(paths)) * MARKET_EVENT_BYTES * (1 + IMPORT_ROWS_PER_EVENT)
        cached = import_cached(paths, venue, import_capture, import_capture_to, whole, budget_bytes())
    else:
        cached = import_cached(paths, venue, import_capture)
    names = ", ".join(Path(p).name for p in paths)
    return cached.data, cached.describe(f"{venue}'s recording {names}")


def load_venue(path_text: str | list[str], venue: str, notes: list[str] | None = None,
               streamed: bool = False) -> MarketData:
    """One venue's recording: a normalised file, or a raw capture (or a list of consecutive ones read as one)
    through the import cache (``backtest.markets.data.cache``); where its events came from is appended to ``notes``.
    ``streamed``: the recording's metadata only, its events to be read in batches (``store.iter_events``) from the
    normalised file, or from the import cache's entry for a raw capture (imported into it in bounded memory)."""
    files = []
    for text in (path_text if isinstance(path_text, list) else [path_text]):
        p = resolve(text)
        if not p.is_file():
            raise ConfigError([f"replay.{venue}: {text}: no such file (tried {p})"])
        st = os.stat(p)
        files.append((str(p), st.st_mtime_ns, st.st_size))
    try:
        data, note = _load_venue(tuple(files), venue, streamed)
    except DataError as err:
        raise ConfigError([f"replay.{venue}: {err}"]) from None
    if notes is not None and note:
        notes.append(note)
    return data


def _ratio(venue_step: float, grid: float, what: str, venue: str) -> int:
    r = venue_step / grid
    k = round(r)
    if k < 1 or abs(r - k) > 1e-6 * k:
        raise ConfigError([f"market.{what} {grid:g}: {venue}'s {what.split('_')[0]} step {venue_step:g} is not a whole "
                           f"multiple of it; allowed: a {what} that divides both venues' steps"])
    return k


STREAM_BATCH_ROWS = 1 << 18  # events read from a normalised file at a time in a chunked replay (10 MB)


@contextlib.contextmanager
def _as_config_error():
    """A file found damaged part way through a chunked replay is refused like one that cannot be opened."""
    try:
        yield
    except DataError as err:
        raise ConfigError([f"replay: {err}"]) from None


class _Source:
    """One venue's recorded events in receive-time order, read forward: from the loaded array, or from a
    normalised file in batches (only the events not yet handed out and one batch are in memory)."""

    def __init__(self, data: MarketData, book_ticker: bool, exchange_times: bool = True,
                 _prepared: np.ndarray | None = None):
        self.data = data
        self.book_ticker = book_ticker
        # a file read on the receive clock: the venue's timestamps and flags are not decoded (nothing reads them
        # there; they are left 0)
        self._fields = None if exchange_times else ("recv_ts", "price", "qty", "kind", "side")
        self.drop_ticker = not book_ticker
        self._pos = 0
        self._batches = None
        self._held = np.empty(0, dtype=market_event_dt)
        self._last_recv = np.iinfo(np.int64).min
        if data.path is None and _prepared is not None:
            self._all = _prepared
        elif data.path is None:
            ev = self._filter(data.events)
            recv = ev["recv_ts"]
            if recv.size > 1 and not bool((recv[1:] >= recv[:-1]).all()):
                ev = ev[np.argsort(recv, kind="stable")]
            self._all = ev

    def another(self, exchange_times: bool = True) -> "_Source":
        """A new reader of the same events from the start, sharing the loaded (and filtered, ordered) array:
        a venue is read by its scan, its matching stream and the strategy's stream."""
        return _Source(self.data, self.book_ticker, exchange_times, getattr(self, "_all", None))

    def _filter(self, ev):
        """``ev`` (events, or a dict of fields) without the book-ticker stream when it is not used."""
        if not self.drop_ticker:
            return ev
        keep = (ev["kind"] != ME_BBO_BID) & (ev["kind"] != ME_BBO_ASK)
        if isinstance(ev, dict):
            return {name: values[keep] for name, values in ev.items()}
        return _gather(ev, np.flatnonzero(keep))

    def _batches_of_file(self):
        from backtest.markets.data.store import iter_events

        with _as_config_error():
            for ev in iter_events(self.data.path, STREAM_BATCH_ROWS, columns=self._fields):
                yield self._filter(ev)

    def columns(self, names, row_groups=None):
        """Every event once, in order, batch by batch, as a dict of the named fields' arrays (read-only): the
        file's columns as they are decoded, without assembling events (of a file, only the row groups numbered
        in ``row_groups`` if given)."""
        if self.data.path is None:
            yield {name: self._all[name] for name in names}
            return
        from backtest.markets.data.store import iter_columns

        with _as_config_error():
            for cols in iter_columns(self.data.path, STREAM_BATCH_ROWS, names, row_groups):
                yield self._filter(cols)

    def group_summaries(self):
        """The file's row-group summaries (``store.group_summaries``), or None (loaded events; a file without)."""
        if self.data.path is None:
            return None
        from backtest.markets.data.store import group_summaries

        with _as_config_error():
            return group_summaries(self.data.path)

    def until(self, recv_end: int) -> np.ndarray:
        """The events received before ``recv_end`` (ns) not handed out yet, in order (a view of the loaded
        array where there is one: never to be written)."""
        if self.data.path is None:
            k = int(np.searchsorted(self._all["recv_ts"], recv_end, side="left"))
            out = self._all[self._pos:max(k, self._pos)]
            self._pos = max(k, self._pos)
            return out
        if self._batches is None:
            self._batches = self._batches_of_file()
        parts = []
        while True:
            held = self._held
            k = int(np.searchsorted(held["recv_ts"], recv_end, side="left"))
            if k < held.shape[0]:
                parts.append(held[:k])
                self._held = held[k:]
                break
            parts.append(held)
            nxt = next(self._batches, None)
            if nxt is None:
                self._held = np.empty(0, dtype=market_event_dt)
                break
            recv = nxt["recv_ts"]
            if recv.size and (recv[0] < self._last_recv or not bool((recv[1:] >= recv[:-1]).all())):
                raise ConfigError([f"{self.data.path}: events not in receive-time order; allowed for replay.chunk_s: "
                                   "a file written by `python -m backtest data import` (time-ordered)"])
            if recv.size:
                self._last_recv = int(recv[-1])
            self._held = nxt
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _gather(events: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``events[index]`` (market_event_dt), copied as rows of five int64 (``np.take``): 2-4x faster than numpy's
    fancy indexing of 40-byte records, the same bytes."""
    if events.dtype != market_event_dt or not events.flags.c_contiguous:
        return events[index]
    rows = np.take(events.view(np.int64).reshape(-1, 5), index, axis=0)
    return rows.reshape(-1).view(market_event_dt)


class _VenueStream:
    """One venue's events on the run's tick grid, span by span, in the order and on the clock its orders meet
    them: ``clock`` 'receive' (the recorder's receive times) or 'exchange' (the venue's timestamps: the
    events re-ordered by them, and ``recv_ts`` set to them, as the kernel reads ``recv_ts``). Events before the
    run's start belong to tick 0. Prices are scaled by ``pk`` and sizes by ``qk`` into the run's grid."""

    def __init__(self, source: _Source, clock: str, start: int, dt_ns: int, pk: int, qk: int, max_lag: int):
        self.source, self.clock, self.start, self.dt_ns, self.pk, self.qk = source, clock, start, dt_ns, pk, qk
        self.max_lag = max_lag  # the largest recv_ts - exch_ts: how far past a span to read on the exchange clock
        self._waiting = np.empty(0, dtype=market_event_dt)  # read, not yet due (exchange clock)
        self.next_tick = 0

    def take(self, a: int, b: int) -> VenueEvents:
        """Ticks ``a`` to ``b - 1`` (``a`` is where the previous span ended)."""
        if a != self.next_tick:
            raise ValueError(f"the stream continues at tick {self.next_tick}, not {a}")
        self.next_tick = b
        end = self.start + b * self.dt_ns
        if self.clock == "exchange":
            read = self.source.until(end + self.max_lag + 1)
            pool = read if self._waiting.size == 0 else np.concatenate([self._waiting, read])
            exch = pool["exch_ts"]
            due = exch < end
            idx = np.flatnonzero(due)
            # the due events in exchange-time order (stable), gathered once: pool[due][argsort] in one copy
            ev = _gather(pool, idx[np.argsort(exch[idx], kind="stable")])
            self._waiting = pool[~due]
            ev["recv_ts"] = ev["exch_ts"]
        else:
            ev = self.source.until(end)
        if self.pk != 1 or self.qk != 1:
            # rescaled: never the loaded recording, nor the array a venue's readers share (a view of it here
            # unless the exchange clock re-ordered it into a copy)
            if self.source.data.path is None and self.clock != "exchange":
                ev = ev.copy()
            ev["price"] *= self.pk
            ev["qty"] *= self.qk
        # the events are in time order: tick k (of this span) starts at the first received at or after its start
        # (those received before the run's start belong to its first tick)
        starts = np.empty(b - a + 1, dtype=np.int64)
        tick_starts(ev["recv_ts"], self.start + (a + 1) * self.dt_ns, self.dt_ns, starts)
        return VenueEvents(start=starts, table=ev)


def _scan(source: _Source, clock: str, end: int):
    """One pass over a venue's recording: (the largest recv_ts - exch_ts, the lowest and highest trade or
    book-ticker price, the lowest and highest price of a depth level with size, venue ticks) over the events a
    run ending at ``end`` (ns) uses; -1 prices where there are none. On the receive clock the pass stops at
    ``end``; on the exchange clock it reads the whole recording (an event received late may be stamped early)."""
    fold = new_scan()
    exchange = clock == "exchange"
    names = ("exch_ts", "recv_ts", "price", "qty", "kind")
    groups = source.group_summaries()
    if groups is None:
        batches = source.columns(names)
    else:
        # a file's row groups summarised when written: a group wholly inside the run is folded from its summary,
        # one wholly after it adds only its lag (as a pass would), and only a group the run ends in is read (four
        # hours of the printed day of bench_day: 0.2-0.75 s a venue -> 2 ms)
        lo, hi = (SUM_EXCH_LO, SUM_EXCH_HI) if exchange else (SUM_RECV_LO, SUM_RECV_HI)
        partial = []
        for g, summary in enumerate(groups):
            if summary[hi] < end:
                fold_summary(summary, source.book_ticker, fold)
            elif summary[lo] >= end:
                fold_lag(summary, source.book_ticker, fold)
            else:
                partial.append(g)
            if not exchange and summary[hi] >= end:
                break
        batches = source.columns(names, partial) if partial else ()
    for ev in batches:
        if ev["recv_ts"].size == 0:
            continue
        last = scan_prices(ev["recv_ts"], ev["exch_ts"], ev["price"], ev["qty"], ev["kind"], end, exchange, fold)
        if not exchange and last >= end:
            break
    quoted = [int(fold[1]), int(fold[2])]
    levels = [int(fold[3]), int(fold[4])]
    return max(int(fold[0]), 0), quoted, levels


# a venue's books over the window: the matching book and the mids' book, 16 bytes a level each and a count per 64 levels
# (kernels.replay.LB_BLOCK), and the strategy's view of them
BOOK_BYTES_PER_LEVEL = 65


def _window(name: str, quoted, levels, pk: int, window_pct: float) -> tuple[int, int]:
    """A venue's book window on the run's grid: its traded and quoted price range (the depth stream's levels
    where it has neither) plus ``window_pct`` of the price each way: (lowest price, levels)."""
    lo, hi = quoted if quoted[1] >= 0 else levels
    if hi < 0:
        raise ConfigError([f"{name}'s recording has no trade or best bid/ask in the span used"])
    lo, hi = lo * pk, hi * pk
    margin = int(hi * window_pct / 100.0)
    base = max(1, lo - margin)
    levels = hi + margin - base + 1
    # checked before the books are allocated: a recording (or a printed market) whose prices run far apart would
    # otherwise ask for a window of levels no machine holds
    from backtest.resources import budget_bytes

    need = levels * BOOK_BYTES_PER_LEVEL
    if hi + margin > MAX_PRICE_TICKS or need > budget_bytes():
        raise ConfigError([f"{name}'s prices run from {lo:,} to {hi:,} ticks of market.tick_size: its book window of "
                           f"{levels:,} levels would need {need / 2**30:,.1f} GiB and prices up to "
                           f"{MAX_PRICE_TICKS:,} ticks fit the kernel; allowed: a price range whose window fits the "
                           "memory budget (a larger market.tick_size, or a recording without such prices)"])
    return base, levels


class _Mids:
    """Each tick's mid of one venue (and, wanted, its best bid and ask) from its events span by span, with
    the book and the ticker carried over (``kernels.replay.venue_mids``)."""

    def __init__(self, base: int, levels: int, touch: bool):
        self.book = new_book(base, levels)
        self.carry = np.array([-1.0, -1.0, 0.0])  # ticker bid, ticker ask, last mid
        self.touch = touch

    def of(self, e: VenueEvents, n: int):
        mid = np.empty(n)
        updated = np.empty(n, dtype=np.uint8)
        best = np.empty((n if self.touch else 0, 2), dtype=np.int64)
        venue_mids(e.table, e.start, n, self.book, self.carry, mid, updated, best)
        return mid, updated, best


def available_ticks(config: SimConfig) -> int:
    """Ticks of ``sim.dt_s`` both recordings cover."""
    streamed = config.replay.chunk_s > 0  # a file to be read in chunks: its span from the metadata
    d1 = load_venue(config.replay.exchange1, "exchange1", streamed=streamed)
    d2 = load_venue(config.replay.exchange2, "exchange2", streamed=streamed)
    return _covered(config, d1, d2)[1]


def _covered(config: SimConfig, d1: MarketData, d2: MarketData) -> tuple[int, int]:
    """(the run's tick 0, ns: when both recordings are under way, plus ``replay.start_s``; how many ticks of
    ``sim.dt_s`` both cover from there)."""
    start = max(d1.start_ns, d2.start_ns) + int(round(config.replay.start_s * 1e9))
    end = min(d1.end_ns, d2.end_ns)
    return start, max(0, int((end - start) // int(round(config.sim.dt_s * 1e9))))


def on_grid(d: MarketData, name: str, start: int, n: int, dt_ns: int, pk: int, qk: int, window_pct: float,
            clock: str = "receive", book_ticker: bool = True):
    """One venue's events on a tick grid of ``n`` ticks of ``dt_ns`` from ``start`` (prices x ``pk``, sizes x
    ``qk`` into the run's grid; events before ``start`` at tick 0), with its book window: the traded and
    quoted price range plus ``window_pct`` of the price each way. Returns (VenueEvents, base, levels).
    ``clock`` 'exchange' orders and places the events by the venue's own timestamps; ``book_ticker`` False
    drops the book-ticker stream (the touch then comes from the depth stream alone)."""
    source = _Source(d, book_ticker)
    max_lag, quoted, levels = _scan(source, clock, start + n * dt_ns)
    base, n_levels = _window(name, quoted, levels, pk, window_pct)
    return _VenueStream(source.another(), clock, start, dt_ns, pk, qk, max_lag).take(0, n), base, n_levels


def mid_series(e: VenueEvents, base: int, levels: int, n: int, touch: bool = False):
    """(mid after each tick's events, ticks; 1 where an event arrived in the tick; with ``touch`` the best bid
    and ask after each tick's events, n x 2 int64 ticks, else an empty n-by-2 array)."""
    mid, updated, best = _Mids(base, levels, touch).of(e, n)
    if not mid[0] > 0:
        raise ConfigError(["a venue has no best bid and ask at the start of the span"])
    return mid, updated, best


def reference_last_update(market: ReplayMarket, reference: str) -> np.ndarray:
    """Per tick, the latest tick at or before it at which every feed the quotes' ``reference`` is made of had
    received an event (int64; 0 before the first): what the stale-feed pause measures its silence from."""
    if market.ref_last_update is not None:
        return market.ref_last_update
    return _LastUpdates(reference).of(market.feed1_update, market.feed2_update, 0)


class _LastUpdates:
    """``reference_last_update`` span by span: the latest update of each feed carried over."""

    def __init__(self, reference: str):
        self.reference = reference
        self.last = [0, 0]

    def of(self, feed1_update: np.ndarray, feed2_update: np.ndarray, a: int) -> np.ndarray:
        # only the feeds the reference is made of (one pass each: a day's np.where and accumulate took 0.6 s)
        wanted = {"exchange1": (0,), "exchange2": (1,)}.get(self.reference, (0, 1))
        out = []
        for k in wanted:
            latest = np.empty(feed1_update.shape[0], dtype=np.int64)
            self.last[k] = int(latest_updates((feed1_update, feed2_update)[k], a, self.last[k], latest))
            out.append(latest)
        return out[0] if len(out) == 1 else np.minimum(out[0], out[1])


def build_replay_market(config: SimConfig) -> ReplayMarket:
    """The recording named by ``config.replay`` on the run's grid, all ticks at once; ConfigError for anything
    that does not fit (a venue's steps not multiples of the grid, more ticks than the recordings cover)."""
    chunks = ReplayChunks(config, chunk_ticks=config.sim.ticks)
    return chunks.first


class ReplayChunks:
    """The recording named by ``config.replay`` laid on the run's grid ``chunk_ticks`` ticks at a time
    (``replay.chunk_s``; default the whole run): ``first`` is the first chunk's ReplayMarket, ``next()`` each
    following one (in order: each venue's book, ticker, latest updates and the latency draws carry over, so
    the chunks together equal the one-pass market). A chunk's arrays hold its ticks only (``tick_offset`` is
    its first); the book windows (``base1``, ``levels1``...) are the whole run's, from a first scan of the
    recordings. A normalised (Parquet) recording is read from its file in batches; a capture is imported
    (through the import cache) and held in memory."""

    def __init__(self, config: SimConfig, chunk_ticks: int | None = None,
                 venues: tuple[MarketData, MarketData] | None = None, _sources: tuple[str, ...] = ()):
        mk = config.market
        self.config = config
        sources: list[str] = list(_sources)
        streamed = config.replay.chunk_s > 0
        if venues is None:  # the recordings the config names; else a market printed as one (queue_reactive)
            d1 = load_venue(config.replay.exchange1, "exchange1", sources, streamed)
            d2 = load_venue(config.replay.exchange2, "exchange2", sources, streamed)
        else:
            d1, d2 = venues
        refused = check_pair(d1.instrument, d2.instrument)
        if refused:
            raise ConfigError([f"replay: {line}" for line in refused])
        dt_ns = int(round(config.sim.dt_s * 1e9))
        start, covered = _covered(config, d1, d2)
        n = config.sim.ticks
        if n > covered:
            raise ConfigError([f"sim.ticks {n:,}: from replay.start_s {config.replay.start_s:g} the recordings cover "
                               f"{covered:,} ticks of {config.sim.dt_s:g} s; allowed: at most {covered:,}"])
        if chunk_ticks is None:
            chunk_ticks = chunk_ticks_of(config)
        self.n_ticks = n
        self.chunk_ticks = max(1, min(int(chunk_ticks), n))
        self.start_ns = start
        run_end = start + n * dt_ns
        clock = config.replay.clock
        split = clock == "split"
        inverse2 = d2.instrument.inverse
        self._venues = []
        windows = []
        for d, name in ((d1, "Exchange 1"), (d2, "Exchange 2")):
            pk = _ratio(d.tick_size, mk.tick_size, "tick_size", name)
            # an inverse contract's sizes stay in its lot steps: a contract's base amount depends on the price
            qk = 1 if (inverse2 and d is d2) else _ratio(d.lot_size, mk.lot_size, "lot_size", name)
            # 'split': the orders meet the venue's own sequence; the strategy's mids (and Exchange 1's touch) come
            # from the same events in the order and at the time the recorder received them
            match_clock = "exchange" if split else clock
            source = _Source(d, config.replay.book_ticker)
            max_lag, quoted, levels = _scan(source, match_clock, run_end)
            base, n_levels = _window(name, quoted, levels, pk, config.replay.window_pct)
            matching = _VenueStream(source.another(match_clock == "exchange"), match_clock,
                                    start, dt_ns, pk, qk, max_lag)
            seen = _VenueStream(source.another(False), "receive", start, dt_ns, pk, qk,
                                max_lag) if split else None
            self._venues.append((matching, seen, _Mids(base, n_levels, touch=split and name == "Exchange 1")))
            windows.append((base, n_levels, qk))
        (self.base1, self.levels1, _), (self.base2, self.levels2, self.hedge_step) = windows
        self.venues = (d1, d2)
        self._sources = tuple(sources)
        self.hedge_contract_value = d2.lot_size * d2.instrument.contract_multiplier if inverse2 else 0.0
        self.notes = tuple(pair_notes(d1.instrument, d2.instrument)) + tuple(
            f"{name}'s recording ({d.venue}) has a sequence gap at {gap}" for d, name in
            ((d1, "Exchange 1"), (d2, "Exchange 2")) for gap in d.gaps) + tuple(sources)
        self._latency = LatencyDraws(config)
        self._last_updates = _LastUpdates(config.quoting.reference)
        self.next_tick = 0
        self._ahead = collections.deque()  # the next chunks, built in turn by a helper thread while the kernel runs
        self._helper = None
        self.first = self._build()
        if not self.first.feed1[0] > 0 or not self.first.feed2[0] > 0:
            raise ConfigError(["a venue has no best bid and ask at the start of the span"])
        self._planned = self.next_tick  # where the chunks handed to the helper end
        self._built_bytes, self._built = self.first.nbytes, 1  # of the chunks handed out, for how many to keep ahead
        self._prefetch()

    def _prefetch(self) -> None:
        """Keep up to ``CHUNKS_AHEAD`` chunks built or being built, as many as ``AHEAD_BYTES`` holds at the mean
        size of those built so far. One ahead was not enough: a chunk's building and its kernel span each vary,
        and with only the next one ready each side waited for the other in turn (the printed day: 3.2 s of the
        kernel's thread waiting for chunks; 1.2 s with two ahead, 0.5 with three, 0.08 with eight)."""
        mean = self._built_bytes / self._built
        ahead = max(1, min(CHUNKS_AHEAD, int(AHEAD_BYTES // max(mean, 1.0))))
        while len(self._ahead) < ahead and self._planned < self.n_ticks:
            if self._helper is None:
                from concurrent.futures import ThreadPoolExecutor

                self._helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="replay-chunks")
            # one thread builds every chunk in turn: the same computation, in the same order, as without it
            self._ahead.append(self._helper.submit(self._build))
            self._planned = min(self.n_ticks, self._planned + self.chunk_ticks)
            if self._planned >= self.n_ticks:
                self._helper.shutdown(wait=False)  # the chunks submitted are still built

    def again(self) -> "ReplayChunks":
        """The same recordings' chunks from the first one again (this reader stops building)."""
        if self._helper is not None:
            self._helper.shutdown(wait=True, cancel_futures=True)
        return ReplayChunks(self.config, self.chunk_ticks, self.venues, self._sources)

    def next(self) -> ReplayMarket:
        """The next chunk (ValueError past the run's end; whatever its building raised)."""
        if not self._ahead:
            raise ValueError("the recording's chunks are all handed out")
        chunk = self._ahead.popleft().result()
        self._built_bytes += chunk.nbytes
        self._built += 1
        self._prefetch()
        return chunk

    def _build(self) -> ReplayMarket:
        a = self.next_tick
        if a >= self.n_ticks:
            raise ValueError("the recording's chunks are all handed out")
        b = min(self.n_ticks, a + self.chunk_ticks)
        n = b - a
        venues, mids = [], []
        for matching, seen, mid in self._venues:
            e = matching.take(a, b)
            venues.append(e)
            mids.append(mid.of(seen.take(a, b) if seen is not None else e, n))
        latency, reject, order_latency = self._latency.draw(a, b)
        self.next_tick = b
        return ReplayMarket(
            feed1=mids[0][0], feed2=mids[1][0], events1=venues[0], events2=venues[1], hedge_latency_ms=latency,
            hedge_reject=reject.astype(np.uint8), order_latency_ms=order_latency, feed1_update=mids[0][1],
            feed2_update=mids[1][1], view_touch1=mids[0][2],
            base1=self.base1, levels1=self.levels1, base2=self.base2, levels2=self.levels2,
            hedge_step=self.hedge_step, start_ns=self.start_ns, venues=self.venues,
            hedge_contract_value=self.hedge_contract_value, notes=self.notes, tick_offset=a,
            ref_last_update=self._last_updates.of(mids[0][1], mids[1][1], a),
        )


def chunk_ticks_of(config: SimConfig) -> int:
    """Ticks per chunk of a replay (``replay.chunk_s``; the whole run when 0)."""
    if config.replay.chunk_s <= 0:
        return config.sim.ticks
    return max(1, int(round(config.replay.chunk_s / config.sim.dt_s)))
