"""How much memory a run will take, estimated from its config before anything is allocated.

A run's memory has three parts that grow with the config: arrays with one entry per tick (market paths,
tick records, the records of our orders and the account), the pre-generated order flow (one 10-byte row
per event, ``rate x dt`` events per tick per venue), and the two order books (one row per price level on a
grid that spans the price path's range: ``range / tick_size`` levels, so a tiny tick size makes huge
books). Sessions of the API also keep per-tick columns for reads and a copy of the loop state (mostly the
books) per checkpoint. The estimate bounds the price range by six standard deviations of the path (with
the high-volatility regime's share), so it errs on the large side.

A config whose estimate exceeds the budget is refused with the estimate in the message. The budget is
``DEFAULT_BUDGET_BYTES`` (three quarters of the machine's physical memory) unless the environment
variable ``MMHEDGE_MEMORY_BUDGET_GB`` or an explicit argument says otherwise.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

from backtest.config import ConfigError, SimConfig, price_wander

GIB = 1 << 30


def _default_budget() -> int:
    """Three quarters of the machine's physical memory (8 GiB where that cannot be read)."""
    try:
        return int(0.75 * os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 8 * GIB


DEFAULT_BUDGET_BYTES = _default_budget()
EVENT_BYTES = 10  # kernels.records.event_dt
MARKET_EVENT_BYTES = 40  # kernels.records.market_event_dt: a recorded event
TICK_RECORD_BYTES = 120  # kernels.records.tick_dt
MARKET_BYTES_PER_TICK = 72  # paths, centres, latencies, feed flags, event starts (67 measured by default)
GENERATION_TEMP_BYTES_PER_TICK = 24  # normals and uniforms alive while the paths are drawn
RECORD_BYTES_PER_TICK = 64  # our orders (about one row a tick), fills, hedges, account rows
TICK_COLUMN_BYTES_PER_TICK = 8 * 36  # Results.tick_columns: 42 columns, some views of the records (274 measured)
BOOK_MARGIN_TICKS = 64  # backtest.markets.generate.BOOK_MARGIN_TICKS
BOOK_HEADER_WORDS, LEVEL_WORDS, ORDER_WORDS = 16, 4, 10  # kernels.book: per level and side; per order + live list


def budget_bytes(explicit: float | None = None) -> int:
    """The memory budget: ``explicit`` GiB, else ``MMHEDGE_MEMORY_BUDGET_GB``, else 3/4 of physical memory."""
    if explicit is not None:
        return int(explicit * GIB)
    text = os.environ.get("MMHEDGE_MEMORY_BUDGET_GB")
    if text:
        try:
            value = float(text)
        except ValueError:
            raise ConfigError([f"MMHEDGE_MEMORY_BUDGET_GB={text!r}: expected a number of GiB, e.g. 8"]) from None
        if not value > 0:
            raise ConfigError([f"MMHEDGE_MEMORY_BUDGET_GB={text!r}: must be > 0"])
        return int(value * GIB)
    return DEFAULT_BUDGET_BYTES


def price_range_ticks(config: SimConfig, wander_sds: float = 6.0) -> float:
    """A generous bound (``wander_sds`` standard deviations of the walk) on how far the fair value and the
    basis can wander over the run, ticks."""
    mk = config.market
    horizon = config.sim.ticks * config.sim.dt_s
    if mk.basis_reversion_per_s > 0:
        basis_sd = mk.basis_vol_ticks_per_sqrt_s / math.sqrt(2.0 * mk.basis_reversion_per_s)
    else:
        basis_sd = mk.basis_vol_ticks_per_sqrt_s * math.sqrt(horizon)
    return 2.0 * price_wander(config, wander_sds) / mk.tick_size + abs(mk.basis_mean_ticks) + 2 * wander_sds * basis_sd


def book_capacity(config: SimConfig) -> int:
    """Order slots per book: every other participant's order the cancel model allows, the seeded book and ours."""
    return 2 * max(config.exchange1.max_orders_per_side + config.exchange1.max_depth_ticks,
                   config.exchange2.max_orders_per_side + config.exchange2.max_depth_ticks) + 64


def book_bytes(config: SimConfig, wander_sds: float = 6.0) -> int:
    """Both order books (levels on the price grid plus the order pool), bytes, for a path within
    ``wander_sds`` standard deviations."""
    levels_common = price_range_ticks(config, wander_sds)
    total = 0
    capacity = book_capacity(config)
    for venue in (config.exchange1, config.exchange2):
        levels = levels_common + 2 * (venue.max_depth_ticks + BOOK_MARGIN_TICKS) + 1
        total += 8 * (BOOK_HEADER_WORDS + 2 * levels * LEVEL_WORDS + capacity * ORDER_WORDS)
    return int(total)


def events_per_tick(config: SimConfig) -> tuple[float, float]:
    """Expected pre-generated events per tick on Exchange 1 (with clients and toxic bursts) and Exchange 2."""
    dt = config.sim.dt_s
    out = []
    for venue, clients in ((config.exchange1, config.clients), (config.exchange2, None)):
        rate = 2 * (venue.limit_rate_per_s + venue.market_rate_per_s
                    + venue.cancel_rate_per_order_per_s * venue.max_orders_per_side)
        if clients is not None:
            rate += clients.rate_per_s
        out.append(rate * dt)
    toxic_s = sum(end - start for start, end in config.clients.toxic_windows_s)
    horizon = config.sim.ticks * dt
    if horizon > 0:
        out[0] += config.clients.toxic_rate_per_s * min(toxic_s, horizon) / config.sim.ticks
    return out[0], out[1]


@dataclass(frozen=True)
class MemoryEstimate:
    parts: dict[str, int]  # bytes per part

    @property
    def total(self) -> int:
        return sum(self.parts.values())

    def describe(self) -> str:
        shown = ", ".join(f"{k} {_fmt(v)}" for k, v in self.parts.items() if v >= 1 << 20)
        return f"{_fmt(self.total)}" + (f" ({shown})" if shown else "")


def _fmt(n: float) -> str:
    if n >= GIB:
        return f"{n / GIB:,.1f} GiB"
    return f"{n / (1 << 20):,.0f} MiB"


# a chunked replay (replay.chunk_s) of a normalised file: a chunk may hold this many times its share of the
# recording's events (bursts), and each venue's reader keeps up to 4 batches of backtest.markets.replay.STREAM_BATCH_ROWS
# (2^18) events for reuse (backtest.markets.data.store._Buffers.KEPT)
CHUNK_BURST = 4
# chunks a replay builds ahead of the one in use (backtest.markets.replay.ReplayChunks): at most this many, and as
# many as AHEAD_BYTES holds at the mean size of those built so far
CHUNKS_AHEAD = 8
AHEAD_BYTES = 256 << 20
STREAM_BATCH_BYTES = 4 * (1 << 18) * MARKET_EVENT_BYTES
REPLAY_RECORD_BYTES_PER_DECISION = 8

# A checkpoint's loop state beside the books: hedge intents in flight (4096 x 5 x 8 bytes), the hedge FIFO
# (4096 x 4 x 8 bytes) and on a replay the ring of fill reports in flight (4096 x 2 x 8 bytes); the rest is
# small (backtest.engine.INTENT_CAPACITY, kernels.strategy, kernels.replay.RESPONSE_RING)
STATE_BYTES_BESIDE_BOOKS = 4096 * 11 * 8 + (64 << 10)


# Events per byte of a capture, an upper bound: the shipped Binance captures hold 0.15-0.17 events per byte
# of gzip and 0.02 per byte of text (prices and sizes are decimal strings of 20-30 bytes a level)
EVENTS_PER_GZIP_BYTE = 0.25
EVENTS_PER_TEXT_BYTE = 0.04
# while a capture is imported: a message row (23 int64) per few events, a level row (6 int64) per event, and
# the event array built from them, in units of one event's 40 bytes
IMPORT_ROWS_PER_EVENT = 2
# a raw capture imported a block at a time (backtest.markets.data.binance_fast.import_to_parquet): three 8 MB text
# blocks in flight, a block's scan rows, and a row group of events being written
STREAM_IMPORT_BYTES = 128 << 20


def recording_events(spec: str | list[str]) -> list[int]:
    """Events each file of a replay recording holds, or at most holds, read without loading it: a normalised
    (Parquet) file's row count from its footer, a capture's bound from its size (``EVENTS_PER_*_BYTE``). A path
    that does not exist counts 0 (the run is refused for it when it loads)."""
    from backtest.markets.data import resolve_path as resolve

    out = []
    for text in (spec if isinstance(spec, list) else [spec]):
        if not text:
            continue
        path = resolve(text)
        try:
            size = path.stat().st_size
            if path.suffix == ".parquet":
                import pyarrow.parquet as pq

                out.append(int(pq.read_metadata(path).num_rows))
                continue
            with open(path, "rb") as fh:
                gzip = fh.read(2) == b"\x1f\x8b"
        except Exception:  # noqa: BLE001 - unreadable, or a damaged Parquet footer: the load says what is wrong
            out.append(0)
            continue
        out.append(int(size * (EVENTS_PER_GZIP_BYTE if gzip else EVENTS_PER_TEXT_BYTE)))
    return out


def estimate_memory(config: SimConfig, checkpoints: int = 0, session: bool = False) -> MemoryEstimate:
    """Bytes a run of ``config`` will hold at its peak: per-tick arrays, the order flow, the books, and
    optionally ``checkpoints`` copies of the loop state. An API session (``session``) also holds the per-tick
    read columns and, while an action re-runs, the new run's records and columns beside the run its readers
    still have."""
    n = config.sim.ticks
    rows = -(-n // config.record_every_ticks)  # tick records (sim.record_every_ms)
    session_parts = {"read columns": n * TICK_COLUMN_BYTES_PER_TICK, "an action's re-run": n * (
        TICK_RECORD_BYTES + RECORD_BYTES_PER_TICK + TICK_COLUMN_BYTES_PER_TICK)} if session else {}
    if config.market.source in ("replay", "queue_reactive"):
        # book windows are known only once the recording is loaded: a few MB on the shipped ones
        books = 16 << 20
        # replay.clock 'split' adds the strategy's own view of Exchange 1's touch: two int64 a tick
        view = 16 if config.replay.clock == "split" else 0
        specs = (config.replay.exchange1, config.replay.exchange2)
        if config.market.source == "queue_reactive":  # the market printed as a recording, then replayed
            from backtest.markets.queue_reactive import printed_bytes

            events, printing = printed_bytes(config)
        else:
            events, printing = sum(sum(recording_events(spec)) for spec in specs), 0
        # the loaded events, their copy on the run's grid (two with 'split'), and, while a capture is imported,
        # the scan's rows beside them
        grid_copies = 2 if config.replay.clock == "split" else 1
        copies = 1 + grid_copies + IMPORT_ROWS_PER_EVENT
        chunk = n
        if config.replay.chunk_s > 0:
            chunk = min(n, max(1, round(config.replay.chunk_s / config.sim.dt_s)))
            # only a chunk's events (with room for bursts) and the batches being read, from a normalised file or
            # the import cache's entry for a raw capture (imported into it a block at a time: STREAM_IMPORT_BYTES;
            # one the fast importer leaves to the reference reader is checked against the budget when it is read)
            share = min(1.0, CHUNK_BURST * chunk / n)
            in_use = events * share * MARKET_EVENT_BYTES * (1 + grid_copies)
            # those built ahead: as many as AHEAD_BYTES holds at their mean size, each allowed its burst, or twice
            # AHEAD_BYTES (a burst after a calm stretch), whichever is less
            recording = int(in_use + min(CHUNKS_AHEAD * in_use, 2 * AHEAD_BYTES)) + 2 * STREAM_BATCH_BYTES
            if not all(isinstance(spec, str) and spec.endswith(".parquet") for spec in specs):
                recording += STREAM_IMPORT_BYTES
        else:
            recording = int(events * MARKET_EVENT_BYTES * copies)
        # our orders' records: at most a few rows per decision, typically far fewer (0.3-0.5 bytes a tick on the
        # shipped recordings at a decision every tick)
        decisions = n / max(1.0, config.replay.decision_interval_ms / (config.sim.dt_s * 1000.0))
        held = chunk if chunk == n else min(n, chunk * (1 + CHUNKS_AHEAD))  # in chunks: the one in use and those ahead
        parts = {"per-tick arrays": held * (MARKET_BYTES_PER_TICK + view) + rows * (TICK_RECORD_BYTES + 16),
                 "records": int(decisions * REPLAY_RECORD_BYTES_PER_DECISION),
                 "recording": max(64 << 20, recording + printing), "order books": books}
        per_checkpoint = books
    else:
        e1, e2 = events_per_tick(config)
        parts = {
            "per-tick arrays": n * (MARKET_BYTES_PER_TICK + GENERATION_TEMP_BYTES_PER_TICK + RECORD_BYTES_PER_TICK)
                               + rows * TICK_RECORD_BYTES,
            "order flow": int(n * (e1 + e2) * EVENT_BYTES),
            "order books": book_bytes(config),
        }
        # a checkpoint copies the books the run really has: their levels span the path's range, which is
        # typically a third of the bound the first allocation is checked against (book_bytes)
        per_checkpoint = book_bytes(config, wander_sds=2.0)
    if checkpoints:
        parts["checkpoints"] = checkpoints * (per_checkpoint + STATE_BYTES_BESIDE_BOOKS)
    parts.update(session_parts)
    return MemoryEstimate(parts)


def check_memory(config: SimConfig, budget: int | None = None, checkpoints: int = 0,
                 session: bool = False) -> MemoryEstimate:
    """The estimate, or ConfigError if it exceeds ``budget`` bytes (default: ``budget_bytes()``)."""
    budget = budget_bytes() if budget is None else budget
    est = estimate_memory(config, checkpoints=checkpoints, session=session)
    if est.total > budget:
        largest = max(est.parts, key=est.parts.get)
        hint = ("fewer sim.ticks shrink it" if config.market.source == "queue_reactive" else
                "a shorter recording (replay.exchange1 / replay.exchange2) shrinks it" if largest == "recording" else
                "fewer sim.ticks, a larger market.tick_size or sim.dt_s closer to the default 0.1 s shrink it")
        raise ConfigError([
            f"this run would need about {est.describe()}, more than the memory budget of {_fmt(budget)}; {hint} "
            "(the budget is set by MMHEDGE_MEMORY_BUDGET_GB or --memory-budget-gb)"
        ])
    return est
