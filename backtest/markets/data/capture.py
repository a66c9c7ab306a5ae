"""Captures of real venues -> normalised market events (``kernels.records.market_event_dt``).

Two formats are read:

* **Binance stream capture** (what hftbacktest's Binance collector writes): gzip or plain text, one message a
  line, ``<local receive time, ns since the epoch> <JSON as Binance sent it>``: combined-stream messages
  (``{"stream": "btcusdt@depth@100ms", "data": {...}}``: depth diffs, trades, book tickers) and REST depth
  snapshots (a line without ``stream``, with ``lastUpdateId``). Spot and USD-M futures are told apart by the
  diffs (futures carry ``pu``).
* **tardis.dev CSV**: ``incremental_book_L2`` and ``trades`` files (see ``backtest.markets.data.tardis``).

Book synchronisation follows Binance's documented procedure: start from a snapshot, drop every diff whose
last update id ``u`` is below it (spot: ``u <= lastUpdateId``; futures: ``u < lastUpdateId``), wherever it
sits in the file (the recorder subscribes before it fetches the snapshot, so the first diff kept can
precede the snapshot line: it is applied right after the snapshot), check that the first diff kept
straddles the snapshot, then check every diff's sequence (spot: ``U`` = previous ``u`` + 1; futures:
``pu`` = previous ``u``). A gap is never papered over: ``on_gap="stop"`` raises naming the file and line,
``on_gap="resync"`` empties the book at the gap and starts again from the next snapshot in the file (the
diffs in between are dropped, and the gap is listed in ``MarketData.gaps``, stored with the data and printed
by a run on it); with no later snapshot the data ends at the gap. A diff the recorder sent twice (same ``U``,
``u`` and levels) and a trade sent twice (same id and fields) are dropped and counted; a diff that arrives
after later ones were applied, or later than a gap that its successor fills further down, is named as out of
order.

Clocks: the recorder's clock is not the exchange's. An event's exchange time is the matching engine's time
of the change (``T`` where the message has one: trades, USD-M depth and book ticker; else the push time
``E``). For every message that carries an exchange time, ``local - exchange`` = clock offset + feed latency;
the offset is measured against the push time ``E`` (a trade's ``T``) and estimated as the smallest such
difference in the file, so the fastest message of the capture has zero feed latency (a capture cannot tell
a constant one-way latency from a clock offset: the offset absorbs the minimum latency). ``recv_ts`` is the
local time minus that offset, on the exchange's clock, and ``recv_ts - exch_ts`` is each event's residual
feed latency (>= 0). Messages without an exchange time (spot book tickers, the spot snapshot) get
``exch_ts = recv_ts`` and the ``MF_NO_EXCH_TS`` flag.

Prices become integer ticks and sizes integer lots of the venue's instrument rules, given or else inferred
from the decimals the capture uses (the most decimals seen, after trailing zeros: spot BTCUSDT's
``61837.63000000`` and ``0.00100000`` give 0.01 and 0.00001); ``MarketData.describe()`` says which.
"""
from __future__ import annotations

import gzip
import json
import zlib
from pathlib import Path
from typing import Iterator

import numpy as np

from backtest.markets.data.events import MS, DataError, MarketData, _Grid  # noqa: F401 - the names importers know
from kernels.records import (
    MF_NO_EXCH_TS, MF_SNAPSHOT, ME_BBO_ASK, ME_BBO_BID, ME_BOOK, ME_BOOK_CLEAR, ME_TRADE, market_event_dt,
)


# -- reading lines -------------------------------------------------------------------------------------
def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of a gzip or plain text file; a truncated or corrupt gzip stream is a DataError
    naming the last line read."""
    opener = gzip.open if _is_gzip(path) else open
    n = 0
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for n, text in enumerate(fh, start=1):
                yield n, text
    except (EOFError, OSError, zlib.error) as err:
        raise DataError(f"{path}: the gzip stream is truncated or corrupt after line {n} ({err})") from None
    except UnicodeDecodeError as err:
        raise DataError(f"{path}:{n + 1}: not UTF-8 text ({err.reason})") from None


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _decimals(text: str) -> int:
    """Decimals of a decimal string once trailing zeros are dropped: '61837.63000000' -> 2 (0 for anything else,
    which the grid then refuses with its line)."""
    if not isinstance(text, str):
        return 0
    dot = text.find(".")
    if dot < 0:
        return 0
    return len(text.rstrip("0")) - dot - 1


# -- Binance -------------------------------------------------------------------------------------------
def read_binance(path: str | Path | list, venue: str, symbol: str | None = None, tick_size: float | None = None,
                 lot_size: float | None = None, on_gap: str = "stop") -> MarketData:
    """A Binance stream capture (spot or USD-M futures) -> MarketData; see the module docstring. ``path`` may
    be a list of consecutive captures of one venue (a recorder rolls its file at midnight): they are read as
    one recording, the book carried across each file boundary and the diffs' sequence checked across it, so a
    file that starts without a snapshot is accepted when it continues the one before.

    A capture whose every line the compiled scanner reads exactly and whose diffs follow each other without a
    gap, repeat or swap is assembled by ``binance_fast.read_fast`` (vectorised); anything else, and every error, is
    the reference reader's (``_read_binance_reference``): the two give the same bytes where both apply."""
    files = [Path(p) for p in path] if isinstance(path, (list, tuple)) else [Path(path)]
    if not files:
        raise DataError("no capture file given")
    if on_gap not in ("stop", "resync"):
        raise DataError(f"on_gap {on_gap!r}: allowed: stop, resync")
    for f in files:
        if not f.is_file():
            raise DataError(f"{f}: no such file")
    import numba

    if not numba.config.DISABLE_JIT:  # without the JIT the scanner is pure Python: the reference is faster
        from backtest.markets.data.binance_fast import read_fast

        data = read_fast(files, venue, symbol, tick_size, lot_size)
        if data is not None:
            return data
    return _read_binance_reference(files, venue, symbol, tick_size, lot_size, on_gap)


def _read_binance_reference(files: list[Path], venue: str, symbol: str | None, tick_size: float | None,
                            lot_size: float | None, on_gap: str) -> MarketData:
    """The reader that decides: every message through ``json.loads``, gaps and repeats handled, every error
    named with its file and line."""
    path = str(files[0]) if len(files) == 1 else " + ".join(str(f) for f in files)  # names the capture
    msgs = []  # (message index, local_ns, kind, data)
    locs: list[tuple[Path, int]] = []  # message index -> (file, line)
    file_starts: list[int] = []  # index of each file's first message
    spans: list[list[int]] = []  # each file's earliest and latest receive time, ns

    def where(i: int) -> str:
        f, line = locs[i]
        return f"{f}:{line}"

    def line_of(i: int) -> str:  # for the gap list: "line 8", or "day2.jsonl.gz line 8" across files
        f, line = locs[i]
        return f"line {line}" if len(files) == 1 else f"{f.name} line {line}"

    seen_symbol = None
    price_dec = qty_dec = 0
    skipped = 0
    for f, n, text in ((f, n, text) for f in files for n, text in _lines(f)):
        if not file_starts or locs[file_starts[-1]][0] != f:
            file_starts.append(len(locs))
            spans.append([])
        locs.append((f, n))
        n = len(locs) - 1
        text = text.strip()
        if not text:
            continue
        head, _, body = text.partition(" ")
        try:
            local = int(head)
            msg = json.loads(body)
        except (ValueError, json.JSONDecodeError):
            # the line itself is not quoted: an error must not show a file's contents (a path given over the API)
            raise DataError(f"{where(n)}: not '<receive time ns> <JSON>' (a line of a Binance stream capture; this "
                            f"one is {len(text):,} characters)") from None
        if not isinstance(msg, dict):
            raise DataError(f"{where(n)}: expected a JSON object, got {type(msg).__name__}")
        if "stream" in msg:
            data = msg.get("data")
            stream = str(msg["stream"])
            if not isinstance(data, dict):
                raise DataError(f"{where(n)}: stream message without a data object")
            kind = ("depth" if "@depth" in stream else "trade" if stream.endswith("@trade") or
                    stream.endswith("@aggTrade") else "bbo" if stream.endswith("@bookTicker") else None)
            if kind is None:
                skipped += 1
                continue
            sym = str(data.get("s", "")).upper()
            if seen_symbol is None:
                seen_symbol = sym
                if symbol is not None and sym != symbol.upper():
                    raise DataError(f"{where(n)}: the capture holds {sym}, not the asked {symbol.upper()}")
            elif sym != seen_symbol:
                raise DataError(f"{where(n)}: a message for {sym} in a capture of {seen_symbol}: one symbol per "
                                "file (split the capture by symbol)")
        elif "lastUpdateId" in msg:
            kind, data = "snapshot", msg
        else:
            raise DataError(f"{where(n)}: neither a stream message nor a depth snapshot (a JSON object without "
                            "'stream' or 'lastUpdateId')")
        try:
            if kind == "depth":  # the sequence ids the synchronisation reads
                int(data["U"]), int(data["u"])
            elif kind == "snapshot":
                int(data["lastUpdateId"])
            if kind in ("depth", "snapshot"):
                for key in ("b", "a", "bids", "asks"):
                    for p, q in data.get(key, ()):
                        price_dec = max(price_dec, _decimals(p))
                        qty_dec = max(qty_dec, _decimals(q))
            elif kind == "trade":
                price_dec = max(price_dec, _decimals(data["p"]))
                qty_dec = max(qty_dec, _decimals(data["q"]))
            else:
                price_dec = max(price_dec, _decimals(data["b"]), _decimals(data["a"]))
                qty_dec = max(qty_dec, _decimals(data["B"]), _decimals(data["A"]))
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{where(n)}: a {kind} message without the fields Binance sends") from None
        msgs.append((n, local, kind, data))
        spans[-1] = [min(local, spans[-1][0]), max(local, spans[-1][1])] if spans[-1] else [local, local]
    if not msgs:
        raise DataError(f"{path}: empty: no market messages")
    if seen_symbol is None:
        raise DataError(f"{path}: no stream messages (depth, trade or book ticker), only snapshots")
    for k in range(1, len(spans)):  # consecutive files: each starts after the one before ends (1 s of slack)
        if spans[k - 1] and spans[k] and spans[k][0] < spans[k - 1][1] - 1_000_000_000:
            raise DataError(f"{locs[file_starts[k]][0]} starts at {spans[k][0]} ns, before "
                            f"{locs[file_starts[k - 1]][0]} ends ({spans[k - 1][1]} ns): give the captures in time "
                            "order")
    snapshots = [m for m in msgs if m[2] == "snapshot"]
    first_file_end = file_starts[1] if len(file_starts) > 1 else len(locs)
    if not any(m[0] < first_file_end for m in snapshots):
        raise DataError(f"{files[0]}: no depth snapshot in the capture: the book cannot be synchronised (a capture "
                        "must hold a REST depth snapshot line, with lastUpdateId). A file that continues the "
                        "previous one (the recorder rolls its file at midnight) is imported together with it, in "
                        "order: `data import DAY1 DAY2 ...`")
    futures = any("pu" in m[3] for m in msgs if m[2] == "depth")
    tick_inferred, lot_inferred = tick_size is None, lot_size is None
    tick = tick_size if tick_size is not None else 10.0 ** -price_dec
    lot = lot_size if lot_size is not None else 10.0 ** -qty_dec
    if not (tick > 0 and lot > 0):
        raise DataError(f"tick size {tick} and lot step {lot} must be > 0")
    px, qty = _Grid(tick, "price", where), _Grid(lot, "quantity", where)

    # clock offset: the smallest local - exchange time over messages that carry one
    diffs = [m[1] - int(_offset_ms(m[2], m[3])) * MS for m in msgs if _offset_ms(m[2], m[3]) is not None]
    if not diffs:
        raise DataError(f"{path}: no message carries an exchange time (E or T): cannot tell the clocks apart")
    offset = int(min(diffs))

    rows: list[tuple] = []
    gaps: list[str] = []
    stats = {"depth_diffs_applied": 0, "stale_diffs_dropped": 0, "duplicate_diffs_dropped": 0,
             "duplicate_trades_dropped": 0, "messages_before_sync_dropped": 0, "streams_ignored": skipped}

    def emit(exch_ms, local, kind, side, price, q, flags=0, not_before=None):
        recv = local - offset
        if not_before is not None and recv < not_before:
            recv = not_before
        if exch_ms is None:
            rows.append((recv, recv, price, q, kind, side, flags | MF_NO_EXCH_TS))
        else:
            rows.append((int(exch_ms) * MS, recv, price, q, kind, side, flags))

    def emit_snapshot(m):
        n, local, _, data = m
        e = _exch_ms("snapshot", data)
        emit(e, local, ME_BOOK_CLEAR, 0, 0, 0, MF_SNAPSHOT)
        for side, key in ((0, "bids"), (1, "asks")):
            for p, q in data.get(key, ()):
                emit(e, local, ME_BOOK, side, px(p, n), qty(q, n), MF_SNAPSHOT)
        return local - offset

    depth = [m for m in msgs if m[2] == "depth"]
    first_sync = snapshots[0][1] - offset
    end_recv = None  # set when a gap with no later snapshot ends the usable data
    applied_by_range: dict[tuple[int, int], tuple] = {}  # (U, u) -> the diff applied: repeats are recognised

    def continues(d, last_u) -> bool:
        return (d.get("pu") is not None and int(d["pu"]) == last_u) if futures else int(d["U"]) == last_u + 1
    snap_i = 0
    synced_from = None  # recv time of the snapshot in force
    last_u = None
    last_n = 0  # message index of the last diff applied
    applied: set[int] = set()  # lines of the diffs applied or skipped for good
    while snap_i < len(snapshots):
        snap = snapshots[snap_i]
        lid = int(snap[3]["lastUpdateId"])
        synced_from = emit_snapshot(snap)
        last_u = None
        gap_at = None
        for m in depth:
            n, local, _, d = m
            if n in applied:
                continue
            U, u = int(d["U"]), int(d["u"])
            if last_u is None:
                if (u <= lid) if not futures else (u < lid):
                    stats["stale_diffs_dropped"] += 1
                    applied.add(n)
                    continue
                straddles = (U <= lid + 1 <= u) if not futures else (U <= lid <= u)
                if not straddles:
                    gap_at = (n, f"the first diff after the snapshot ({line_of(snap[0])}, lastUpdateId {lid}) has "
                                 f"U={U}, u={u}: updates between them are missing")
                    break
            else:
                if not continues(d, last_u) and u <= last_u:
                    earlier = applied_by_range.get((U, u))
                    if earlier is not None and earlier[3] == d:  # the recorder sent it twice: nothing new
                        stats["duplicate_diffs_dropped"] += 1
                        applied.add(n)
                        continue
                    gap_at = (n, f"a diff out of order: U={U}, u={u} arrives after u={last_u} was applied "
                                 f"({line_of(last_n)}): the diffs are not in sequence (lines swapped?)")
                    break
                if not continues(d, last_u):
                    want = f"pu={last_u}" if futures else f"U={last_u + 1}"
                    got = f"pu={d.get('pu')}" if futures else f"U={U}"
                    gap_at = (n, f"sequence gap: {got}, expected {want}")
                    late = next((m for m in depth if m[0] > n and continues(m[3], last_u)), None)
                    if late is not None:  # not lost: further down the file
                        gap_at = (n, gap_at[1] + f"; the diff that continues the sequence comes later, on "
                                                 f"{line_of(late[0])}: the diffs are out of order (lines swapped?)")
                    f_gap, f_last = locs[n][0], locs[last_n][0]
                    if f_gap != f_last:
                        gap_at = (n, gap_at[1] + f" ({f_gap} does not continue {f_last}: a file without a snapshot "
                                               "must start where the one before it ends)")
                    break
            e = _exch_ms("depth", d)
            for side, key in ((0, "b"), (1, "a")):
                for p, q in d.get(key, ()):
                    emit(e, local, ME_BOOK, side, px(p, n), qty(q, n), 0, not_before=synced_from)
            applied.add(n)
            applied_by_range[(U, u)] = m
            stats["depth_diffs_applied"] += 1
            last_u = u
            last_n = n
        if gap_at is None:
            break
        n_gap, why = gap_at
        if on_gap == "stop":
            raise DataError(f"{where(n_gap)}: {why}; the book cannot be trusted from here (on_gap='resync', or "
                            "--on-gap resync, starts again from the next snapshot)")
        later = [i for i in range(snap_i + 1, len(snapshots)) if snapshots[i][0] > n_gap]
        gap_msg = next(m for m in msgs if m[0] == n_gap)
        gap_local = gap_msg[1]
        at = f"{(gap_local - offset - first_sync) / 1e9:,.3f} s after the first snapshot"
        if not later:
            gaps.append(f"{line_of(n_gap)} ({at}): {why}; no later snapshot: the data ends there")
            end_recv = gap_local - offset
            rows = [r for r in rows if r[1] < end_recv]
            break
        resync = snapshots[later[0]]
        gaps.append(f"{line_of(n_gap)} ({at}): {why}; the book is empty from there until the snapshot on "
                    f"{line_of(resync[0])}, {(resync[1] - gap_local) / 1e9:,.3f} s later")
        # the book is unknown from the gap on: empty, so that nothing trades against levels that may be gone
        emit(_exch_ms("depth", gap_msg[3]), gap_local, ME_BOOK_CLEAR, 0, 0, 0)
        # diffs between the gap and the next snapshot cannot be applied
        for m in depth:
            if n_gap <= m[0] < snapshots[later[0]][0]:
                applied.add(m[0])
        snap_i = later[0]
    trades_by_id: dict[int, tuple[int, dict]] = {}  # Binance's trade id ('t', or 'a' for aggTrade)
    for n, local, kind, d in msgs:
        if kind not in ("trade", "bbo"):
            continue
        if kind == "trade" and (d.get("t", d.get("a"))) is not None:
            tid = d.get("t", d.get("a"))
            if tid in trades_by_id:
                first_n, first = trades_by_id[tid]
                if first != d:
                    raise DataError(f"{where(n)}: trade id {str(tid)[:30]} again, with other fields than on "
                                    f"{line_of(first_n)}: two different trades cannot share an id")
                stats["duplicate_trades_dropped"] += 1  # the recorder sent it twice (a reconnect replays some)
                continue
            trades_by_id[tid] = (n, d)
        if local - offset < first_sync:  # the book is not known yet
            stats["messages_before_sync_dropped"] += 1
            continue
        if end_recv is not None and local - offset >= end_recv:
            continue
        e = _exch_ms(kind, d)
        if kind == "trade":
            side = 1 if d.get("m") else 0  # buyer is maker: the seller was the aggressor
            emit(e, local, ME_TRADE, side, px(d["p"], n), qty(d["q"], n))
        else:
            emit(e, local, ME_BBO_BID, 0, px(d["b"], n), qty(d["B"], n))
            emit(e, local, ME_BBO_ASK, 1, px(d["a"], n), qty(d["A"], n))
    events = np.array(rows, dtype=[(name, market_event_dt.fields[name][0]) for name in
                                   ("exch_ts", "recv_ts", "price", "qty", "kind", "side", "flags")])
    out = np.empty(len(events), dtype=market_event_dt)
    for name in events.dtype.names:
        out[name] = events[name]
    out = out[np.argsort(out["recv_ts"], kind="stable")]
    return MarketData(
        venue=venue, symbol=seen_symbol,
        # the futures stream carries both margin kinds: a BTCUSD_PERP-style symbol is coin-margined
        source=("binance-coinm" if "_" in seen_symbol else "binance-usdm") if futures else "binance-spot",
        tick_size=tick, lot_size=lot, tick_size_inferred=tick_inferred, lot_size_inferred=lot_inferred,
        clock_offset_ns=offset, events=out, gaps=gaps, stats=stats,
    )


def _exch_ms(kind: str, data: dict):
    """The time the venue's matching engine made the change, in ms: the transaction time T where the message
    carries one (trades; USD-M depth and book ticker), else the event time E (spot depth), else None. On the
    perpetual a depth update's E, when the message was pushed, comes up to 11 ms after its T in fast moves:
    matching on E would let an order land between a sweep's trades and the book change they made."""
    return data.get("T", data.get("E"))


def _offset_ms(kind: str, data: dict):
    """The exchange time the recorder's clock offset is measured against, ms: a trade's time T, another
    message's push time E (what the network delay starts from), else whichever it carries."""
    if kind == "trade":
        return data.get("T", data.get("E"))
    return data.get("E", data.get("T"))
