"""tardis.dev CSV files -> normalised market events.

``incremental_book_L2`` (``exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount``) and
``trades`` (``exchange,symbol,timestamp,local_timestamp,id,side,price,amount``), plain or gzip, times in
microseconds since the epoch (``timestamp`` the exchange's, ``local_timestamp`` tardis' receive time).
A block of rows with ``is_snapshot=true`` replaces the book (tardis writes one at the start and after every
reconnection): the book is emptied (``ME_BOOK_CLEAR``) and the block's levels set. ``amount`` 0 removes a
level. Trade ``side`` is the taker's (buy / sell; ``unknown`` is refused: the queue model needs it).
Clock offset and feed latency as for Binance captures (``backtest.markets.data.capture``).
"""
from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import numpy as np

from backtest.markets.data.capture import DataError, MarketData, _decimals, _Grid, _is_gzip
from kernels.records import ME_BOOK, ME_BOOK_CLEAR, ME_TRADE, MF_SNAPSHOT, market_event_dt

BOOK_COLUMNS = ["exchange", "symbol", "timestamp", "local_timestamp", "is_snapshot", "side", "price", "amount"]
TRADE_COLUMNS = ["exchange", "symbol", "timestamp", "local_timestamp", "id", "side", "price", "amount"]
US = 1000  # ns per microsecond


def _rows(path: Path, columns: list[str]):
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    opener = gzip.open if _is_gzip(path) else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as fh:
            text = fh.read()
    except (EOFError, OSError) as err:
        raise DataError(f"{path}: the gzip stream is truncated or corrupt ({err})") from None
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err.reason})") from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None:
        raise DataError(f"{path}: empty")
    if [h.strip() for h in header] != columns:
        raise DataError(f"{path}:1: header {','.join(header)!r}; expected {','.join(columns)!r}")
    for n, row in enumerate(reader, start=2):
        if not row:
            continue
        if len(row) != len(columns):
            raise DataError(f"{path}:{n}: {len(row)} fields, expected {len(columns)}")
        yield n, row


def read_tardis(path: str | Path, venue: str, trades: str | Path | None = None, symbol: str | None = None,
                tick_size: float | None = None, lot_size: float | None = None) -> MarketData:
    """``path``: an incremental_book_L2 CSV; ``trades``: the same instrument's trades CSV (optional)."""
    book_path = Path(path)
    raw = []  # (n, path, kind, exch_us, local_us, side, price_text, qty_text, snapshot)
    seen = None
    for file, cols, kind in ((book_path, BOOK_COLUMNS, "book"), (Path(trades) if trades else None, TRADE_COLUMNS,
                                                                 "trade")):
        if file is None:
            continue
        for n, row in _rows(file, cols):
            rec = dict(zip(cols, row))
            sym = rec["symbol"].upper()
            if seen is None:
                seen = sym
                if symbol is not None and sym != symbol.upper():
                    raise DataError(f"{file}:{n}: the file holds {sym}, not the asked {symbol.upper()}")
            elif sym != seen:
                raise DataError(f"{file}:{n}: a row for {sym} among rows of {seen}: one symbol per import")
            try:
                exch, local = int(rec["timestamp"]), int(rec["local_timestamp"])
            except ValueError:
                raise DataError(f"{file}:{n}: timestamps must be integer microseconds") from None
            side_text = rec["side"].lower()
            if kind == "book":
                if side_text not in ("bid", "ask"):
                    raise DataError(f"{file}:{n}: side {rec['side']!r}; allowed: bid, ask")
                if rec["is_snapshot"].lower() not in ("true", "false"):
                    raise DataError(f"{file}:{n}: is_snapshot {rec['is_snapshot']!r}; allowed: true, false")
                side, snap = (0 if side_text == "bid" else 1), rec["is_snapshot"].lower() == "true"
            else:
                if side_text not in ("buy", "sell"):
                    raise DataError(f"{file}:{n}: trade side {rec['side']!r}; allowed: buy, sell (the taker's side)")
                side, snap = (0 if side_text == "buy" else 1), False
            raw.append((n, file, kind, exch, local, side, rec["price"], rec["amount"], snap))
    if not raw:
        raise DataError(f"{book_path}: no rows")
    if not any(r[8] for r in raw):
        raise DataError(f"{book_path}: no snapshot rows (is_snapshot=true): the book cannot be built")
    tick = tick_size if tick_size is not None else 10.0 ** -max(_decimals(r[6]) for r in raw)
    lot = lot_size if lot_size is not None else 10.0 ** -max(_decimals(r[7]) for r in raw)
    offset = min(r[4] - r[3] for r in raw) * US
    raw.sort(key=lambda r: (r[4], 0 if r[2] == "book" else 1))  # receive time; a message's rows stay together
    first_snapshot = next(r[4] for r in raw if r[8])
    rows = []
    in_snapshot = False
    dropped = 0
    for n, file, kind, exch, local, side, p, q, snap in raw:
        if local < first_snapshot:
            dropped += 1
            continue
        px, qty = _Grid(tick, "price", file)(p, n), _Grid(lot, "quantity", file)(q, n)
        recv = local * US - offset
        if kind == "book":
            if snap and not in_snapshot:
                rows.append((exch * US, recv, 0, 0, ME_BOOK_CLEAR, 0, MF_SNAPSHOT))
            in_snapshot = snap
            rows.append((exch * US, recv, px, qty, ME_BOOK, side, MF_SNAPSHOT if snap else 0))
        else:
            rows.append((exch * US, recv, px, qty, ME_TRADE, side, 0))
    events = np.empty(len(rows), dtype=market_event_dt)
    cols = list(zip(*rows))
    for i, name in enumerate(("exch_ts", "recv_ts", "price", "qty", "kind", "side", "flags")):
        events[name] = cols[i]
    return MarketData(venue=venue, symbol=seen, source="tardis", tick_size=tick, lot_size=lot,
                      tick_size_inferred=tick_size is None, lot_size_inferred=lot_size is None,
                      clock_offset_ns=offset, events=events, stats={"rows_before_first_snapshot_dropped": dropped})


