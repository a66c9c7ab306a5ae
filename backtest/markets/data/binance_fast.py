"""The fast Binance import: the compiled scan (``binance_scan``) of a capture's text, block by block, and a
vectorised assembly in two passes that never needs the whole capture at once.

Pass 1 (``_Facts``) reads every block for what the assembly must know before it writes the first event: the
symbol, spot or futures, the price and quantity decimals (the inferred grid), the recorder's clock offset
(the smallest ``local - exchange`` of the capture), the first snapshot, how many depth diffs are stale before
it and whether every diff after it follows its predecessor, whether a trade id repeats, and how far the
receive times ever step back (``disorder_ns``: 0 on a recorder that writes lines as they arrive). Pass 2
(``_events_of_block``) turns each block into events with those facts, and ``_Merge`` hands them out in the
reference reader's order (receive time, then snapshot, diffs, trades and best bid/ask, then file order): an
event is handed out once no later line can bring one received before it, i.e. when its receive time is
below the latest one read so far less the disorder.

``read_fast`` keeps the scanned blocks between the passes (the whole capture in memory, as before) and
returns the events; ``import_to_parquet`` scans the capture twice and writes the events to a normalised file
as they are handed out, so its memory is a text block, its scan rows and the events within the disorder of
the block's end, whatever the capture's length. Both give the reference reader's bytes, or None wherever the
reference has something to decide (a line the scanner does not read exactly, a gap, a repeat, an off-grid
value): the caller then reads the capture with the reference reader, which reads it or names the file and
line.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

import backtest.markets.data.binance_scan as bs
from backtest.markets.data.events import MS, MarketData, _Grid
from kernels.records import (
    MF_NO_EXCH_TS, MF_SNAPSHOT, ME_BBO_ASK, ME_BBO_BID, ME_BOOK, ME_BOOK_CLEAR, ME_TRADE, market_event_dt,
)

# -- the capture's text, block by block ---------------------------------------------------------------------
_TEXT_CHUNK = 8 << 20  # bytes of decompressed text scanned at a time: bounds the memory of a day's file


def _inflater():
    """A gzip decompressor: ISA-L's (about twice zlib's speed) where installed, else zlib's."""
    try:
        from isal import isal_zlib

        return isal_zlib.decompressobj(31), isal_zlib.error
    except ImportError:  # pragma: no cover - isal is a dependency; kept working without it
        return zlib.decompressobj(31), zlib.error


def _text_blocks(path: Path, state: dict) -> Iterator[bytes]:
    """The file's bytes, decompressed if gzip (several members too), in blocks of at most ``_TEXT_CHUNK``;
    sets ``state["complete"]`` False and stops at anything the reference reader should name (a truncated or
    corrupt stream, trailing bytes that are not gzip)."""
    with open(path, "rb") as fh:
        if fh.read(2) != b"\x1f\x8b":
            fh.seek(0)
            while block := fh.read(_TEXT_CHUNK):
                yield block
            return
        fh.seek(0)
        inflate, error = _inflater()
        fed = False  # the current member has had input
        raw = b""
        while True:
            if not raw:
                raw = fh.read(1 << 20)
                if not raw:
                    break
            fed = True
            try:
                out = inflate.decompress(raw, _TEXT_CHUNK)
            except error:
                state["complete"] = False
                return
            raw = inflate.unconsumed_tail
            if out:
                yield out
            if inflate.eof:  # the member ends: another may follow
                raw = inflate.unused_data + raw
                if raw and not raw.startswith(b"\x1f\x8b"):
                    state["complete"] = False
                    return
                inflate, error = _inflater()
                fed = False
        if fed and not inflate.eof:
            state["complete"] = False


def _read_ahead(blocks: Iterator[bytes], depth: int = 2) -> Iterator[bytes]:
    """``blocks`` produced by a thread one or two ahead of the consumer: inflating the next block (which
    releases the GIL) overlaps scanning this one (compiled with nogil). Stops the thread if the consumer
    stops early."""
    import queue
    import threading

    done = object()
    ahead: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def hand_over(item) -> bool:
        """Queue ``item`` unless the consumer has stopped (it no longer takes any: a plain put would wait for
        ever, and so would the consumer joining this thread)."""
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for block in blocks:
                if not hand_over(block):
                    return
            hand_over(done)
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, raised there
            hand_over(err)
        finally:
            blocks.close()  # the file, when the consumer stopped early

    worker = threading.Thread(target=produce, name="inflate", daemon=True)
    worker.start()
    try:
        while (item := ahead.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def _on_grid(mantissa: np.ndarray, decimals: np.ndarray, grid: _Grid) -> np.ndarray | None:
    """Decimal values (mantissa, decimals) as integer steps of ``grid``; None if one is off the grid or beyond
    int64 (the reference reader then names it)."""
    if mantissa.size == 0:
        return mantissa.astype(np.int64)
    low, high = int(decimals.min()), int(decimals.max())
    if low == high == grid.decimals:  # the common case: every value written with the grid's decimals
        units = mantissa
    else:
        shift = grid.decimals - decimals
        if high > grid.decimals or grid.decimals - low > 18:
            return None
        scale = 10 ** shift
        if (mantissa > np.iinfo(np.int64).max // scale).any():
            return None
        units = mantissa * scale
    if grid.step_units == 1:
        return units
    if (units % grid.step_units).any():
        return None
    return units // grid.step_units




class _NeedsReference(Exception):
    """The capture holds something only the reference reader decides (``read_binance`` then reads it whole)."""


def _scanned_blocks(path: Path) -> Iterator[tuple[np.ndarray, np.ndarray, int, str | None]]:
    """One capture's text through the compiled scan, a block at a time: (message rows, level rows whose
    ``V_MSG`` indexes this block's message rows, lines read, the symbol the block names or None). Raises
    ``_NeedsReference`` at a line or a stream the reference reader must read."""
    state = {"complete": True}
    blocks = _read_ahead(_text_blocks(path, state))
    lines = 0
    pending = b""

    def scan(text: memoryview):
        nonlocal lines
        buf = np.frombuffer(text, dtype=np.uint8)
        newlines, brackets, foreign = bs.count_bytes(buf)
        if foreign:  # control bytes, CR, non-ASCII: Python's text decoding decides what the lines are
            raise _NeedsReference
        msgs = np.empty((newlines + 1, bs.N_COLS), dtype=np.int64)
        vals = np.empty((brackets, bs.N_VCOLS), dtype=np.int64)  # a level opens with '['
        sym = np.array([-1, 0], dtype=np.int64)
        rows, vrows, read, bad = bs.scan(buf, lines + 1, msgs, vals, sym, np.zeros(64, dtype=np.uint8))
        if bad:
            raise _NeedsReference
        symbol = bytes(text[sym[0]:sym[0] + sym[1]]).decode("ascii").upper() if sym[0] >= 0 else None
        lines += read
        # the level rows' capacity was every '[' (about twice the levels): keep only those written
        return (msgs[:rows] if rows > newlines // 2 else msgs[:rows].copy()), vals[:vrows].copy(), read, symbol

    try:
        for block in blocks:
            text = pending + block if pending else block
            cut = text.rfind(b"\n")
            if cut < 0:
                pending = text
                continue
            yield scan(memoryview(text)[:cut + 1])
            pending = text[cut + 1:]
        if not state["complete"]:
            raise _NeedsReference
        if pending:
            yield scan(memoryview(pending))
    finally:
        blocks.close()  # the inflating thread, when the scan stops early


class _DiffChain:
    """Binance's book synchronisation under one rule (spot: a diff is stale if ``u <= lastUpdateId`` and each
    follows with ``U`` = previous ``u`` + 1; futures: stale if ``u < lastUpdateId``, each carries ``pu`` =
    previous ``u``), kept as the depth diffs go by: the stale ones before the first kept, the first kept
    straddling the snapshot, every later one following its predecessor (else ``ok`` turns False)."""

    def __init__(self, futures: bool):
        self.futures = futures
        self.stale = 0  # diffs dropped before the first kept one
        self.applied = 0
        self.last_u: int | None = None
        self.ok = True

    def add(self, lid: int, U: np.ndarray, u: np.ndarray, pu: np.ndarray, has_pu: np.ndarray) -> None:
        if not self.ok or not len(u):
            return
        first = self.last_u is None
        if first:
            stale = (u < lid) if self.futures else (u <= lid)
            if stale.all():
                self.stale += len(u)
                return
            j = int(np.argmin(stale))
            self.stale += j
            U, u, pu, has_pu = U[j:], u[j:], pu[j:], has_pu[j:]
            U0, u0 = int(U[0]), int(u[0])
            if not ((U0 <= lid <= u0) if self.futures else (U0 <= lid + 1 <= u0)):
                self.ok = False
                return
        prev = np.empty_like(u)
        prev[1:] = u[:-1]
        at = 1 if first else 0
        if not first:
            prev[0] = self.last_u
        if self.futures:
            follows = (has_pu[at:] == 1) & (pu[at:] == prev[at:])
        else:
            follows = U[at:] == prev[at:] + 1
        if not follows.all():
            self.ok = False
            return
        self.applied += len(u)
        self.last_u = int(u[-1])


_MIN = np.iinfo(np.int64).min
_FAR_MS = 9_000_000_000_000  # an exchange time beyond this many ms from the epoch is not a time


class _Facts:
    """Pass 1: what the assembly must know before it writes an event, gathered block by block (memory: a few
    scalars, the trade ids, and the depth diffs and trade times read before the first snapshot)."""

    def __init__(self):
        self.symbol: str | None = None
        self.symbols_agree = True
        self.futures = False
        self.price_dec = self.qty_dec = 0
        self.offset: int | None = None  # smallest local - exchange time, ns
        self.too_far = False
        self.any_market = self.any_feed = False
        self.snapshot: tuple | None = None  # (file, message row, lastUpdateId, local ns, exchange ms)
        self.chains = (_DiffChain(False), _DiffChain(True))
        self.early_diffs: list[tuple] = []  # diffs read before the first snapshot (its id decides which are stale)
        self.early_feed_local: list[np.ndarray] = []  # trades' / best bid-asks' local times before it
        self.before_sync = 0
        self.trade_ids: list[np.ndarray] = []
        self.ignored = 0
        self.rows = 0
        self.file_lines: dict[int, int] = {}
        self.file_span: dict[int, tuple[int, int]] = {}
        self.max_local = _MIN
        self.disorder = 0  # ns: how far a line's receive time ever fell below the latest one before it

    def add(self, fi: int, M: np.ndarray, V: np.ndarray, lines: int, symbol: str | None) -> None:
        if symbol is not None:
            if self.symbol is None:
                self.symbol = symbol
            elif symbol != self.symbol:
                self.symbols_agree = False
        self.file_lines[fi] = self.file_lines.get(fi, 0) + lines
        kind, local = M[:, bs.C_KIND], M[:, bs.C_LOCAL]
        market = kind != bs.K_IGNORED
        self.ignored += int(len(kind) - market.sum())
        is_depth, is_trade, is_bbo = kind == bs.K_DEPTH, kind == bs.K_TRADE, kind == bs.K_BBO
        self.any_market |= bool(market.any())
        self.any_feed |= bool((is_depth | is_trade | is_bbo).any())
        self.futures |= bool((M[is_depth, bs.C_HAS_PU] == 1).any())
        if len(V):
            self.price_dec = max(self.price_dec, int(V[:, bs.V_P_D].max()))
            self.qty_dec = max(self.qty_dec, int(V[:, bs.V_Q_D].max()))
        for mask, pcol, qcol in ((is_trade, bs.C_P_D, bs.C_Q_D), (is_bbo, bs.C_BB_D, bs.C_BQ_D),
                                 (is_bbo, bs.C_AA_D, bs.C_AQ_D)):
            if mask.any():
                self.price_dec = max(self.price_dec, int(M[mask, pcol].max()))
                self.qty_dec = max(self.qty_dec, int(M[mask, qcol].max()))
        E, T, missing = M[:, bs.C_E], M[:, bs.C_T], bs.MISSING
        offset_ms = np.where(is_trade, np.where(T != missing, T, E), np.where(E != missing, E, T))
        has_time = market & (offset_ms != missing)
        exch_ms = np.where(T != missing, T, E)
        if (market & (exch_ms != missing) & (np.abs(exch_ms) > _FAR_MS)).any():
            self.too_far = True
        if has_time.any():
            if np.abs(offset_ms[has_time]).max() > _FAR_MS:
                self.too_far = True
            else:
                low = int((local[has_time] - offset_ms[has_time] * MS).min())
                self.offset = low if self.offset is None else min(self.offset, low)
        if market.any():
            lm = local[market]
            span = self.file_span.get(fi)
            self.file_span[fi] = (int(lm.min()), int(lm.max())) if span is None else (
                min(span[0], int(lm.min())), max(span[1], int(lm.max())))
            running = np.maximum.accumulate(lm)
            if self.max_local != _MIN:  # (the first block has no line before its first)
                running = np.maximum(running, self.max_local)
                self.disorder = max(self.disorder, self.max_local - int(lm[0]))
            self.disorder = max(self.disorder, int((running[:-1] - lm[1:]).max()) if lm.size > 1 else 0)
            self.max_local = int(running[-1])
        if self.snapshot is None:
            snaps = np.flatnonzero(kind == bs.K_SNAPSHOT)
            if snaps.size:
                s = int(snaps[0])
                self.snapshot = (fi, self.rows + s, int(M[s, bs.C_LID]), int(local[s]), int(exch_ms[s]))
        depth = M[is_depth]
        diffs = (depth[:, bs.C_U], depth[:, bs.C_LU], depth[:, bs.C_PU], depth[:, bs.C_HAS_PU])
        feed_local = local[is_trade | is_bbo]
        if self.snapshot is None:
            if any(self.file_lines.get(f, 0) > 0 for f in range(fi)):
                # a file before this one had lines and no snapshot: the plan is None whatever follows, and
                # nothing need be held for it
                self.early_diffs, self.early_feed_local = [], []
            else:
                self.early_diffs.append(diffs)
                self.early_feed_local.append(feed_local)
        else:
            lid, sync_local = self.snapshot[2], self.snapshot[3]
            for early in self.early_diffs + [diffs]:
                for chain in self.chains:
                    chain.add(lid, *early)
            self.before_sync += sum(int((f < sync_local).sum()) for f in self.early_feed_local + [feed_local])
            self.early_diffs, self.early_feed_local = [], []
        ids = M[is_trade, bs.C_TID]
        self.trade_ids.append(ids[ids != missing])
        self.rows += len(M)

    def plan(self, symbol: str | None, tick_size: float | None, lot_size: float | None) -> "_Plan | None":
        """What pass 2 needs, or None when the reference reader must decide."""
        if not self.symbols_agree or self.symbol is None or (symbol is not None and self.symbol != symbol.upper()):
            return None
        if not self.any_market or not self.any_feed or self.too_far or self.offset is None:
            return None
        with_lines = [fi for fi in sorted(self.file_lines) if self.file_lines[fi] > 0]
        spans = [self.file_span.get(fi) for fi in with_lines]
        for a, b in zip(spans, spans[1:]):  # consecutive files each start after the one before ends, 1 s of slack
            if a and b and b[0] < a[1] - 1_000_000_000:
                return None
        if self.snapshot is None or not with_lines or self.snapshot[0] != with_lines[0]:
            return None
        chain = self.chains[1 if self.futures else 0]
        if not chain.ok:
            return None
        ids = np.concatenate(self.trade_ids) if self.trade_ids else np.empty(0, np.int64)
        if np.unique(ids).size != ids.size:  # a repeated trade: the reference decides
            return None
        tick = tick_size if tick_size is not None else 10.0 ** -self.price_dec
        lot = lot_size if lot_size is not None else 10.0 ** -self.qty_dec
        if not (tick > 0 and lot > 0):
            return None
        stats = {"depth_diffs_applied": chain.applied, "stale_diffs_dropped": chain.stale,
                 "duplicate_diffs_dropped": 0, "duplicate_trades_dropped": 0,
                 "messages_before_sync_dropped": self.before_sync, "streams_ignored": self.ignored}
        return _Plan(symbol=self.symbol, futures=self.futures, tick=tick, lot=lot,
                     tick_inferred=tick_size is None, lot_inferred=lot_size is None, offset=self.offset,
                     snapshot_row=self.snapshot[1], snapshot_exch_ms=self.snapshot[4],
                     first_sync=self.snapshot[3] - self.offset, kept_from=chain.stale, disorder=self.disorder,
                     stats=stats)


@dataclass
class _Plan:
    """Pass 1's result: the grid, the clock offset, where the book starts and which diffs it applies."""

    symbol: str
    futures: bool
    tick: float  # the price step, quote currency
    lot: float  # the quantity step, base units (contracts on COIN-M)
    tick_inferred: bool
    lot_inferred: bool
    offset: int  # ns: local clock minus exchange clock
    snapshot_row: int  # the first snapshot's message row in the capture
    snapshot_exch_ms: int
    first_sync: int  # ns, exchange clock: the first snapshot's receive time
    kept_from: int  # depth diffs before this one (in capture order) are stale
    disorder: int  # ns: how far a line's receive time ever fell below the latest before it
    stats: dict

    def __post_init__(self):
        self.px, self.qty = _Grid(self.tick, "price", None), _Grid(self.lot, "quantity", None)

    def market_data(self, venue: str, events: np.ndarray) -> MarketData:
        return MarketData(
            venue=venue, symbol=self.symbol,
            # the futures stream carries both margin kinds: a BTCUSD_PERP-style symbol is coin-margined
            source=("binance-coinm" if "_" in self.symbol else "binance-usdm") if self.futures else "binance-spot",
            tick_size=self.tick, lot_size=self.lot, tick_size_inferred=self.tick_inferred,
            lot_size_inferred=self.lot_inferred, clock_offset_ns=self.offset, events=events, gaps=[],
            stats=dict(self.stats))


def _structured(exch, recv, price, qty, kind, side, flags) -> np.ndarray:
    out = np.empty(len(exch), dtype=market_event_dt)
    for name, values in zip(("exch_ts", "recv_ts", "price", "qty", "kind", "side", "flags"),
                            (exch, recv, price, qty, kind, side, flags)):
        out[name] = values
    return out


def _events_of_block(plan: _Plan, M: np.ndarray, V: np.ndarray, row0: int, depth0: int) -> list[np.ndarray]:
    """Pass 2 on one block (its first message is row ``row0`` of the capture, its first depth diff diff
    ``depth0``): its events as three arrays, the snapshot's (in the block that holds it), the applied diffs'
    and the trades' and best bid/asks', each in file order. Raises ``_NeedsReference`` at an off-grid value."""
    missing = bs.MISSING
    kind, local = M[:, bs.C_KIND], M[:, bs.C_LOCAL]
    is_depth, is_trade, is_bbo = kind == bs.K_DEPTH, kind == bs.K_TRADE, kind == bs.K_BBO
    E, T = M[:, bs.C_E], M[:, bs.C_T]
    exch_ms = np.where(T != missing, T, E)
    offset, first_sync, px, qty = plan.offset, plan.first_sync, plan.px, plan.qty

    def on_grid(mantissa, decimals, grid):
        got = _on_grid(mantissa, decimals, grid)
        if got is None:
            raise _NeedsReference
        return got

    def exch_and_flags(rows_exch_ms, recv, flags):
        none = rows_exch_ms == missing
        return np.where(none, recv, rows_exch_ms * MS), np.where(none, flags | MF_NO_EXCH_TS, flags)

    V = V[np.argsort(V[:, bs.V_MSG] * 2 + V[:, bs.V_SIDE], kind="stable")]  # per message: bids, then asks
    empty = np.empty(0, dtype=market_event_dt)
    out = [empty, empty, empty]

    # 1. the snapshot: a clear, then its bids, then its asks
    s0 = plan.snapshot_row - row0
    if 0 <= s0 < len(M):
        snap = V[V[:, bs.V_MSG] == s0]
        sp, sq = on_grid(snap[:, bs.V_P_M], snap[:, bs.V_P_D], px), on_grid(snap[:, bs.V_Q_M], snap[:, bs.V_Q_D], qty)
        n = 1 + len(snap)
        recv = np.full(n, first_sync, dtype=np.int64)
        exch, flags = exch_and_flags(np.full(n, plan.snapshot_exch_ms), recv, np.full(n, MF_SNAPSHOT, dtype=np.int64))
        out[0] = _structured(exch, recv, np.r_[0, sp], np.r_[0, sq],
                             np.r_[ME_BOOK_CLEAR, np.full(n - 1, ME_BOOK)], np.r_[0, snap[:, bs.V_SIDE]], flags)

    # 2. the diffs applied, each its bids then its asks; none before the snapshot's time
    depth_rows = np.flatnonzero(is_depth)
    applied = depth_rows[depth0 + np.arange(len(depth_rows)) >= plan.kept_from]
    if applied.size:
        is_applied = np.zeros(len(M), dtype=bool)
        is_applied[applied] = True
        dl = V[is_applied[V[:, bs.V_MSG]]]
        lm = dl[:, bs.V_MSG]
        dp, dq = on_grid(dl[:, bs.V_P_M], dl[:, bs.V_P_D], px), on_grid(dl[:, bs.V_Q_M], dl[:, bs.V_Q_D], qty)
        recv = np.maximum(local[lm] - offset, first_sync)
        exch, flags = exch_and_flags(exch_ms[lm], recv, np.zeros(len(dl), dtype=np.int64))
        out[1] = _structured(exch, recv, dp, dq, np.full(len(dl), ME_BOOK), dl[:, bs.V_SIDE], flags)

    # 3. trades and best bid/ask, from the first snapshot's time on
    live = (is_trade | is_bbo) & (local - offset >= first_sync)
    t_rows, b_rows = np.flatnonzero(live & is_trade), np.flatnonzero(live & is_bbo)
    if t_rows.size or b_rows.size:
        prices = [on_grid(M[t_rows, bs.C_P_M], M[t_rows, bs.C_P_D], px),
                  on_grid(M[b_rows, bs.C_BB_M], M[b_rows, bs.C_BB_D], px),
                  on_grid(M[b_rows, bs.C_AA_M], M[b_rows, bs.C_AA_D], px)]
        sizes = [on_grid(M[t_rows, bs.C_Q_M], M[t_rows, bs.C_Q_D], qty),
                 on_grid(M[b_rows, bs.C_BQ_M], M[b_rows, bs.C_BQ_D], qty),
                 on_grid(M[b_rows, bs.C_AQ_M], M[b_rows, bs.C_AQ_D], qty)]
        rows = np.concatenate([t_rows, b_rows, b_rows])
        sub = np.concatenate([np.zeros(len(t_rows)), np.zeros(len(b_rows)), np.ones(len(b_rows))])
        order = np.lexsort((sub, rows))
        kinds = np.concatenate([np.full(len(t_rows), ME_TRADE), np.full(len(b_rows), ME_BBO_BID),
                                np.full(len(b_rows), ME_BBO_ASK)])
        sides = np.concatenate([M[t_rows, bs.C_MAKER], np.zeros(len(b_rows), np.int64),
                                np.ones(len(b_rows), np.int64)])
        recv = local[rows] - offset
        exch, flags = exch_and_flags(exch_ms[rows], recv, np.zeros(len(rows), dtype=np.int64))
        out[2] = _structured(*(a[order] for a in (exch, recv, np.concatenate(prices), np.concatenate(sizes), kinds,
                                                  sides, flags)))
    return out


class _Merge:
    """Hands out the events in the reference reader's order: receive time, then part (snapshot, diffs, trades
    and best bid/asks), then file order. Events that a later line could still precede are held (per part, in
    that order) until the receive times read have moved past them by more than the capture's disorder."""

    def __init__(self, plan: _Plan):
        self.plan = plan
        empty = np.empty(0, dtype=market_event_dt)
        self.held = [empty, empty, empty]
        self.max_local = _MIN

    def add(self, parts: list[np.ndarray], M: np.ndarray) -> np.ndarray:
        local = M[M[:, bs.C_KIND] != bs.K_IGNORED, bs.C_LOCAL]
        if local.size:
            self.max_local = max(self.max_local, int(local.max()))
        if self.max_local == _MIN:
            return self._take(parts, _MIN)
        # every later line was received at or after max_local - disorder: its events no earlier than this
        return self._take(parts, self.max_local - self.plan.disorder - self.plan.offset)

    def flush(self) -> np.ndarray:
        return self._take([self.held[0][:0]] * 3, None)

    def _take(self, parts: list[np.ndarray], below: int | None) -> np.ndarray:
        # held before new within a part: the held came earlier in the file; a stable sort on the receive time
        # of (held, new) part after part is then the order by (receive time, part, file order)
        pieces = [x for p in range(3) for x in (self.held[p], parts[p])]
        every = np.concatenate(pieces)
        part = np.repeat(np.array([0, 0, 1, 1, 2, 2], dtype=np.int8), [len(x) for x in pieces])
        order = np.argsort(every["recv_ts"], kind="stable")
        every, part = every[order], part[order]
        k = len(every) if below is None else int(np.searchsorted(every["recv_ts"], below, side="left"))
        rest, rest_part = every[k:], part[k:]
        self.held = [rest[rest_part == p] for p in range(3)]
        return every[:k]


def _plan_of(blocks, symbol, tick_size, lot_size) -> "_Plan | None":
    facts = _Facts()
    for fi, (M, V, lines, sym) in blocks:
        facts.add(fi, M, V, lines, sym)
    return facts.plan(symbol, tick_size, lot_size)


def _events(plan: _Plan, blocks) -> Iterator[np.ndarray]:
    """Pass 2: the capture's events in the reference reader's order, handed out a block at a time."""
    merge = _Merge(plan)
    row0 = depth0 = 0
    for _, (M, V, _lines, _sym) in blocks:
        got = merge.add(_events_of_block(plan, M, V, row0, depth0), M)
        row0 += len(M)
        depth0 += int((M[:, bs.C_KIND] == bs.K_DEPTH).sum())
        if len(got):
            yield got
    last = merge.flush()
    if len(last):
        yield last


def _blocks_of(files: list[Path]):
    return ((fi, block) for fi, f in enumerate(files) for block in _scanned_blocks(f))


def read_fast(files: list[Path], venue: str, symbol: str | None, tick_size: float | None,
              lot_size: float | None) -> MarketData | None:
    """The reference reader's result for a clean capture, computed from the compiled scan; None whenever the
    capture holds anything the reference reader has to decide (see ``read_binance``). The scanned rows are
    kept between the passes: memory grows with the capture (``import_to_parquet`` does not)."""
    kept: list = []

    def scanned():
        for item in _blocks_of(files):
            kept.append(item)
            yield item
    try:
        plan = _plan_of(scanned(), symbol, tick_size, lot_size)
        if plan is None:
            return None

        def handed_over():  # each block's rows are dropped once pass 2 has read them
            kept.reverse()
            while kept:
                yield kept.pop()
        pieces = list(_events(plan, handed_over()))
    except _NeedsReference:
        return None
    events = np.concatenate(pieces) if pieces else np.empty(0, dtype=market_event_dt)
    return plan.market_data(venue, events)


def import_to_parquet(files: list[Path], venue: str, directory: Path, symbol: str | None, tick_size: float | None,
                      lot_size: float | None, prepare=None) -> MarketData | None:
    """A clean capture -> ``directory/<venue>.parquet`` (``store``'s format, the same events as ``read_fast``),
    in bounded memory: the capture is scanned twice and the events are written as they are handed out.
    ``prepare(data)`` may set the metadata's instrument before it is written. Returns the file's metadata
    (``store.read_info``: its events stay on disk), or None when the capture has something the reference reader
    must decide or no events (nothing is left in ``directory`` then)."""
    from backtest.markets.data.store import check_venue_name, read_info, write_events

    check_venue_name(venue)  # before the capture is read, not after
    try:
        plan = _plan_of(_blocks_of(files), symbol, tick_size, lot_size)
        if plan is None:
            return None
        meta = plan.market_data(venue, np.empty(0, dtype=market_event_dt))
        if prepare is not None:
            prepare(meta)
        path = write_events(meta, _events(plan, _blocks_of(files)), directory)
    except _NeedsReference:
        (Path(directory) / f"{venue}.parquet").unlink(missing_ok=True)
        return None
    if path is None:
        return None
    return read_info(path)
