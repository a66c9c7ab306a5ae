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

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from backtest.config import ConfigError, SimConfig
from backtest.data import PROJECT_ROOT, DataError, MarketData, import_capture, load
from backtest.data import resolve_path as resolve
from backtest.data.cache import import_cached
from backtest.instruments import check_pair, pair_notes
from backtest.inputs import VenueEvents, hedge_latency_and_rejects, spiked_and_order_latency
from kernels.records import ME_BBO_ASK, ME_BBO_BID, ME_BOOK, ME_TRADE
from kernels.replay import new_book, venue_mids

__all__ = ["PROJECT_ROOT", "ReplayMarket", "build_replay_market", "load_venue", "resolve"]


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
        return sum(v.nbytes for v in (self.feed1, self.feed2, self.hedge_latency_ms, self.hedge_reject,
                                      self.order_latency_ms, self.feed1_update, self.feed2_update)) + sum(
            e.start.nbytes + e.table.nbytes for e in (self.events1, self.events2))


@functools.lru_cache(maxsize=8)
def _load_venue(files: tuple, venue: str) -> tuple[MarketData, str]:
    # in memory, keyed by the files' identities (path, mtime, size), so an API session's resets and a sweep's
    # runs in one process read a recording once; across processes the import cache keeps the parsed capture
    paths = [f[0] for f in files]
    if len(paths) == 1 and paths[0].endswith(".parquet"):
        return load(paths[0]), ""
    cached = import_cached(paths, venue, import_capture)
    names = ", ".join(Path(p).name for p in paths)
    return cached.data, cached.describe(f"{venue}'s recording {names}")


def load_venue(path_text: str | list[str], venue: str, notes: list[str] | None = None) -> MarketData:
    """One venue's recording: a normalised file, or a raw capture (or a list of consecutive ones read as one)
    through the import cache (``backtest.data.cache``); where its events came from is appended to ``notes``."""
    files = []
    for text in (path_text if isinstance(path_text, list) else [path_text]):
        p = resolve(text)
        if not p.is_file():
            raise ConfigError([f"replay.{venue}: {text}: no such file (tried {p})"])
        st = os.stat(p)
        files.append((str(p), st.st_mtime_ns, st.st_size))
    try:
        data, note = _load_venue(tuple(files), venue)
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


def on_grid(d: MarketData, name: str, start: int, n: int, dt_ns: int, pk: int, qk: int, window_pct: float,
            clock: str = "receive", book_ticker: bool = True):
    """One venue's events on a tick grid of ``n`` ticks of ``dt_ns`` from ``start`` (prices x ``pk``, sizes x
    ``qk`` into the run's grid; events before ``start`` at tick 0), with its book window: the traded and
    quoted price range plus ``window_pct`` of the price each way. Returns (VenueEvents, base, levels).

    ``clock`` 'exchange' orders and places the events by the venue's own timestamps (their ``recv_ts`` is set
    to ``exch_ts``, so the kernel, which reads ``recv_ts``, matches on exchange time); ``book_ticker`` False
    drops the book-ticker stream (the touch then comes from the depth stream alone)."""
    ev = d.events
    if not book_ticker:
        ev = ev[(ev["kind"] != ME_BBO_BID) & (ev["kind"] != ME_BBO_ASK)]
    if clock == "exchange":
        ev = ev[np.argsort(ev["exch_ts"], kind="stable")]
        ev["recv_ts"] = ev["exch_ts"]
    end = start + n * dt_ns
    recv = ev["recv_ts"]
    if recv.size < 2 or bool((recv[1:] >= recv[:-1]).all()):  # in time order (as imported): cut, not filter
        ev = ev[:int(np.searchsorted(recv, end, side="left"))]
    else:
        ev = ev[recv < end]
    if np.shares_memory(ev, d.events):  # prices and sizes are rescaled below: never in the loaded recording
        ev = ev.copy()
    ev["price"] *= pk
    ev["qty"] *= qk
    ticks = np.maximum(0, (ev["recv_ts"] - start) // dt_ns)
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(ticks, minlength=n)[:n], out=starts[1:])
    seen = ev["price"][np.isin(ev["kind"], (ME_TRADE, ME_BBO_BID, ME_BBO_ASK)) & (ev["price"] > 0)]
    if seen.size == 0:  # no trade and no ticker (book_ticker off on a quiet span): the depth stream's levels
        seen = ev["price"][(ev["kind"] == ME_BOOK) & (ev["qty"] > 0)]
    if seen.size == 0:
        raise ConfigError([f"{name}'s recording has no trade or best bid/ask in the span used"])
    margin = int(seen.max() * window_pct / 100.0)
    base = max(1, int(seen.min()) - margin)
    levels = int(seen.max()) + margin - base + 1
    return VenueEvents(start=starts, table=ev), base, levels


def mid_series(e: VenueEvents, base: int, levels: int, n: int, touch: bool = False):
    """(mid after each tick's events, ticks; 1 where an event arrived in the tick; with ``touch`` the best bid
    and ask after each tick's events, n x 2 int64 ticks, else an empty n-by-2 array)."""
    mid = np.empty(n)
    updated = np.empty(n, dtype=np.uint8)
    best = np.empty((n if touch else 0, 2), dtype=np.int64)
    venue_mids(e.table, e.start, n, new_book(base, levels), mid, updated, best)
    if not mid[0] > 0:
        raise ConfigError(["a venue has no best bid and ask at the start of the span"])
    return mid, updated, best


def reference_last_update(market: ReplayMarket, reference: str) -> np.ndarray:
    """Per tick, the latest tick at or before it at which every feed the quotes' ``reference`` is made of had
    received an event (int64; 0 before the first): what the stale-feed pause measures its silence from."""
    ticks = np.arange(market.n_ticks)
    last1 = np.maximum.accumulate(np.where(market.feed1_update == 1, ticks, 0))
    if reference == "exchange1":
        return last1
    last2 = np.maximum.accumulate(np.where(market.feed2_update == 1, ticks, 0))
    return last2 if reference == "exchange2" else np.minimum(last1, last2)


def available_ticks(config: SimConfig) -> int:
    """Ticks of ``sim.dt_s`` both recordings cover."""
    d1, d2 = load_venue(config.replay.exchange1, "exchange1"), load_venue(config.replay.exchange2, "exchange2")
    start = max(d1.start_ns, d2.start_ns) + int(round(config.replay.start_s * 1e9))
    end = min(d1.end_ns, d2.end_ns)
    return max(0, int((end - start) // int(round(config.sim.dt_s * 1e9))))


def build_replay_market(config: SimConfig) -> ReplayMarket:
    """The recording named by ``config.replay`` on the run's grid; ConfigError for anything that does not fit
    (a venue's steps not multiples of the grid, more ticks than the recordings cover)."""
    mk = config.market
    sources: list[str] = []
    d1 = load_venue(config.replay.exchange1, "exchange1", sources)
    d2 = load_venue(config.replay.exchange2, "exchange2", sources)
    refused = check_pair(d1.instrument, d2.instrument)
    if refused:
        raise ConfigError([f"replay: {line}" for line in refused])
    dt_ns = int(round(config.sim.dt_s * 1e9))
    start = max(d1.start_ns, d2.start_ns) + int(round(config.replay.start_s * 1e9))
    end = min(d1.end_ns, d2.end_ns)
    covered = max(0, int((end - start) // dt_ns))
    n = config.sim.ticks
    if n > covered:
        raise ConfigError([f"sim.ticks {n:,}: from replay.start_s {config.replay.start_s:g} the recordings cover "
                           f"{covered:,} ticks of {config.sim.dt_s:g} s; allowed: at most {covered:,}"])
    clock = config.replay.clock
    split = clock == "split"
    venues, mids = [], []
    inverse2 = d2.instrument.inverse
    for d, name in ((d1, "Exchange 1"), (d2, "Exchange 2")):
        pk = _ratio(d.tick_size, mk.tick_size, "tick_size", name)
        # an inverse contract's sizes stay in its lot steps: a contract's base amount depends on the price
        qk = 1 if (inverse2 and d is d2) else _ratio(d.lot_size, mk.lot_size, "lot_size", name)
        # 'split': the orders meet the venue's own sequence; the strategy's mids (and Exchange 1's touch) come
        # from the same events in the order and at the time the recorder received them
        e, base, levels = on_grid(d, name, start, n, dt_ns, pk, qk, config.replay.window_pct,
                                  "exchange" if split else clock, config.replay.book_ticker)
        seen = on_grid(d, name, start, n, dt_ns, pk, qk, config.replay.window_pct, "receive",
                       config.replay.book_ticker)[0] if split else e
        venues.append((e, base, levels, qk))
        mids.append(mid_series(seen, base, levels, n, touch=split and name == "Exchange 1"))
    (e1, base1, levels1, _), (e2, base2, levels2, step2) = venues
    lat = config.latency
    windows = (lat.outage_windows_s, lat.spike_windows_s, lat.order_spike_windows_s)
    times = np.arange(n) * config.sim.dt_s if any(windows) else None
    latency, reject = hedge_latency_and_rejects(config, n, times)
    latency, order_latency = spiked_and_order_latency(config, n, times, latency)
    return ReplayMarket(
        feed1=mids[0][0], feed2=mids[1][0], events1=e1, events2=e2, hedge_latency_ms=latency,
        hedge_reject=reject.astype(np.uint8), order_latency_ms=order_latency, feed1_update=mids[0][1],
        feed2_update=mids[1][1], view_touch1=mids[0][2],
        base1=base1, levels1=levels1, base2=base2, levels2=levels2, hedge_step=step2, start_ns=start,
        venues=(d1, d2),
        hedge_contract_value=d2.lot_size * d2.instrument.contract_multiplier if inverse2 else 0.0,
        notes=tuple(pair_notes(d1.instrument, d2.instrument)) + tuple(
            f"{name}'s recording ({d.venue}) has a sequence gap at {gap}" for d, name in
            ((d1, "Exchange 1"), (d2, "Exchange 2")) for gap in d.gaps) + tuple(sources),
    )

