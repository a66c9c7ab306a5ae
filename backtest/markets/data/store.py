"""Normalised market events on disk: one Parquet file per venue (``<dir>/<venue>.parquet``), the event
columns of ``kernels.records.market_event_dt`` plus the venue's metadata (symbol, source, tick size, lot
step, clock offset, gaps, counts) in the file's key-value metadata. pyarrow reads it back into the event
array without a per-row step."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from backtest.markets.data.events import DataError, MarketData
from backtest.instruments import Instrument
from kernels.records import market_event_dt

_META_KEY = b"mmhedge.market"
FORMAT_VERSION = 1


def check_venue_name(venue: str) -> None:
    """A venue's name names its file: refused (DataError) unless it is a plain file name."""
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", venue) or ".." in venue:
        raise DataError(f"venue name {venue[:80]!r}: it names the file written in the output directory; allowed: "
                        "1 to 64 letters, digits, '_', '-' or '.', starting with a letter or digit (e.g. spot, usdm)")


def _schema_and_path(data: MarketData, directory: str | Path):
    """The Parquet schema (the event columns, the venue's metadata) and ``directory/<venue>.parquet``."""
    import pyarrow as pa

    check_venue_name(data.venue)
    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    meta = {"format_version": FORMAT_VERSION, "venue": data.venue, "symbol": data.symbol, "source": data.source,
            "tick_size": data.tick_size, "lot_size": data.lot_size, "tick_size_inferred": data.tick_size_inferred,
            "lot_size_inferred": data.lot_size_inferred, "clock_offset_ns": data.clock_offset_ns,
            "gaps": data.gaps, "stats": data.stats, "instrument": data.instrument.to_dict(),
            "instrument_given": data.instrument_override is not None}
    schema = pa.schema([(name, pa.from_numpy_dtype(market_event_dt.fields[name][0])) for name in market_event_dt.names])
    return schema.with_metadata({_META_KEY: json.dumps(meta).encode()}), out / f"{data.venue}.parquet"


def _table(events: np.ndarray, schema):
    import pyarrow as pa

    return pa.table({name: events[name] for name in market_event_dt.names}, schema=schema)


def save(data: MarketData, directory: str | Path) -> Path:
    """Write ``data`` to ``directory/<venue>.parquet`` (the directory is created); returns the path."""
    import pyarrow.parquet as pq

    if not len(data.events):
        schema, path = _schema_and_path(data, directory)
        pq.write_table(_table(data.events, schema), path, compression="zstd")
        return path
    writer = EventWriter(data, directory)
    try:
        for at in range(0, len(data.events), GROUP_ROWS):
            writer.write(data.events[at:at + GROUP_ROWS])
    except BaseException:
        writer.abort()
        raise
    return writer.close()


GROUP_ROWS = 1 << 20  # events per row group of a file written piece by piece (40 MB before compression)
_GROUPS_KEY = b"mmhedge.groups"  # each row group's summary (kernels.replay.summarise_events), a JSON list


class EventWriter:
    """A normalised file written a row group at a time (``write``: one group of events, in receive-time order
    after the ones before), for ``data``'s venue (``data``'s own events are not written). Each group's summary
    (its times and the price ranges a run's first scan looks for) goes into the file's metadata at ``close``:
    a run then reads a group's summary instead of its events, except for a group its span ends in."""

    def __init__(self, data: MarketData, directory: str | Path):
        self.schema, self.path = _schema_and_path(data, directory)
        self._writer = None
        self._groups: list[list[int]] = []

    def write(self, events: np.ndarray) -> None:
        import pyarrow.parquet as pq

        from kernels.replay import SUMMARY_FIELDS, summarise_events

        if not len(events):
            return
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        # one group per call, whatever its size: the summaries are counted in the file's row groups
        self._writer.write_table(_table(events, self.schema), row_group_size=len(events))
        summary = np.empty(SUMMARY_FIELDS, dtype=np.int64)
        summarise_events(events["recv_ts"], events["exch_ts"], events["price"], events["qty"], events["kind"],
                         summary)
        self._groups.append([int(v) for v in summary])

    def close(self) -> Path | None:
        """The file's path (None, and no file, if no event was written)."""
        if self._writer is None:
            return None
        self._writer.add_key_value_metadata({_GROUPS_KEY: json.dumps(self._groups).encode()})
        self._writer.close()
        return self.path

    def abort(self) -> None:
        """Close and delete the file part written (after an error)."""
        if self._writer is not None:
            self._writer.close()
        self.path.unlink(missing_ok=True)


def write_events(data: MarketData, pieces, directory: str | Path) -> Path | None:
    """``save`` for events that arrive in ``pieces`` (market_event_dt arrays, in order; ``data``'s own events are
    not written): the file is written a row group at a time, so memory holds one group. None, and no file,
    if no piece holds an event."""
    writer = EventWriter(data, directory)
    held, rows = [], 0
    try:
        for piece in pieces:
            held.append(piece)
            rows += len(piece)
            if rows < GROUP_ROWS:
                continue
            group = np.concatenate(held)
            for at in range(0, len(group) - GROUP_ROWS + 1, GROUP_ROWS):
                writer.write(group[at:at + GROUP_ROWS])
            cut = len(group) - len(group) % GROUP_ROWS
            held, rows = ([group[cut:]], len(group) - cut) if cut < len(group) else ([], 0)
        if rows:
            writer.write(np.concatenate(held))
    except BaseException:
        writer.abort()
        raise
    return writer.close()


def group_summaries(path: str | Path) -> np.ndarray | None:
    """Each row group's summary (``kernels.replay.summarise_events``; groups x fields, int64) of a file written
    by ``EventWriter``; None for a file without them (written before they were, or by other means) or whose
    summaries do not match its row groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kernels.replay import SUMMARY_FIELDS

    p = _path(path)
    try:
        meta = pq.ParquetFile(p).metadata
    except (pa.ArrowInvalid, OSError) as err:
        raise DataError(f"{p}: not a readable Parquet file ({err})") from None
    raw = (meta.metadata or {}).get(_GROUPS_KEY)
    if raw is None:
        return None
    try:
        table = np.array(json.loads(raw), dtype=np.int64)
    except (ValueError, TypeError, OverflowError):
        return None
    if table.shape != (meta.num_row_groups, SUMMARY_FIELDS):
        return None
    return table if all(_agrees(table[g], meta.row_group(g)) for g in range(meta.num_row_groups)) else None


def _agrees(summary: np.ndarray, group) -> bool:
    """Whether a row group's summary agrees with the statistics Parquet keeps of the group's columns (its rows;
    the least and greatest receive and venue times; every price range within the prices'): a file whose events
    were changed in place after it was written is scanned event by event, not trusted."""
    from kernels.replay import (
        SUM_EXCH_HI, SUM_EXCH_LO, SUM_LEVEL_HI, SUM_LEVEL_LO, SUM_RECV_HI, SUM_RECV_LO, SUM_ROWS, SUM_TICKER_HI,
        SUM_TICKER_LO, SUM_TRADE_HI, SUM_TRADE_LO,
    )

    if int(summary[SUM_ROWS]) != group.num_rows:
        return False
    stats = {}
    for i in range(group.num_columns):
        column = group.column(i)
        if column.path_in_schema in ("recv_ts", "exch_ts", "price"):
            st = column.statistics
            if st is None or not st.has_min_max:
                return False
            stats[column.path_in_schema] = (int(st.min), int(st.max))
    if len(stats) != 3 or stats["recv_ts"] != (summary[SUM_RECV_LO], summary[SUM_RECV_HI]) \
            or stats["exch_ts"] != (summary[SUM_EXCH_LO], summary[SUM_EXCH_HI]):
        return False
    lowest, highest = stats["price"]
    return all(summary[hi] < 0 or lowest <= summary[lo] <= summary[hi] <= highest for lo, hi in
               ((SUM_TRADE_LO, SUM_TRADE_HI), (SUM_TICKER_LO, SUM_TICKER_HI), (SUM_LEVEL_LO, SUM_LEVEL_HI)))


def _path(path: str | Path) -> Path:
    p = Path(path)
    if p.is_dir():
        files = sorted(p.glob("*.parquet"))
        raise DataError(f"{p}: a directory; give one venue's file: {', '.join(f.name for f in files) or 'none here'}")
    if not p.exists() and p.with_suffix(".parquet").exists():
        p = p.with_suffix(".parquet")
    if not p.is_file():
        raise DataError(f"{p}: no such file")
    return p


def _checked_meta(p: Path, schema) -> dict:
    raw = (schema.metadata or {}).get(_META_KEY)
    if raw is None:
        raise DataError(f"{p}: not a normalised market file (no {_META_KEY.decode()} metadata); make one with "
                        "`python -m backtest data import`")
    missing = [n for n in market_event_dt.names if n not in schema.names]
    if missing:
        raise DataError(f"{p}: columns {', '.join(missing)} are missing")
    return json.loads(raw)


def _events(table) -> np.ndarray:
    events = np.empty(table.num_rows, dtype=market_event_dt)
    for name in market_event_dt.names:
        events[name] = table.column(name).to_numpy()
    return events


def load(path: str | Path) -> MarketData:
    """One venue's MarketData from a file written by ``save`` (or the directory and venue: ``dir/venue``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = _path(path)
    try:
        table = pq.read_table(p)
    except (pa.ArrowInvalid, OSError) as err:
        raise DataError(f"{p}: not a readable Parquet file ({err})") from None
    meta = _checked_meta(p, table.schema)
    return _market_data(meta, _events(table))


def read_info(path: str | Path) -> MarketData:
    """What ``load`` gives without the events: the venue's metadata, its first and last receive times
    (``span_ns``) and the file (``path``), for reading its events in chunks (``iter_events``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = _path(path)
    try:
        f = pq.ParquetFile(p)
        meta = _checked_meta(p, f.schema_arrow)
        if f.metadata.num_rows == 0:
            raise DataError(f"{p}: holds no events")
        first = f.read_row_group(0, columns=["recv_ts"]).column(0)
        last = f.read_row_group(f.num_row_groups - 1, columns=["recv_ts"]).column(0)
        span = (int(first[0].as_py()), int(last[len(last) - 1].as_py()))
    except (pa.ArrowInvalid, OSError) as err:
        raise DataError(f"{p}: not a readable Parquet file ({err})") from None
    data = _market_data(meta, np.empty(0, dtype=market_event_dt))
    data.span_ns = span
    data.path = str(p)
    return data


def iter_events(path: str | Path, batch_rows: int = 1 << 20, columns=None):
    """The file's events in stored order, ``batch_rows`` at a time (market_event_dt arrays; with ``columns``
    only those fields are read, the others 0). Memory: one batch."""
    from kernels.replay import assemble_events

    names = list(columns or market_event_dt.names)
    buffers = _Buffers()
    for cols in iter_columns(path, batch_rows, names):
        events = buffers.take(len(cols[names[0]]))
        # a field not read is passed as no values: the assembly writes 0 there
        assemble_events(*(np.ascontiguousarray(cols[name], dtype=market_event_dt[name]) if name in cols
                          else np.zeros(0, dtype=market_event_dt[name]) for name in market_event_dt.names), events)
        yield events


class _Buffers:
    """Event arrays handed out again once nothing refers to them any more (no array is a view of one, no
    name holds one): assembling a batch into fresh memory cost 31 ns an event, most of it the OS zeroing new
    pages, against 6-8 ns into memory used before. Whoever takes an array may keep it, or views of it, as long
    as it likes: it is not handed out again while they live."""

    KEPT = 4  # arrays kept for reuse at most (a chunked replay holds 2-4 of a reader's batches at once)

    def __init__(self):
        self._arrays: list[np.ndarray] = []

    def take(self, n: int) -> np.ndarray:
        """``n`` events' room (market_event_dt; its values are whatever was there)."""
        for i in range(len(self._arrays)):
            # 2: the list's reference and getrefcount's own argument; any view or other holder adds one
            if self._arrays[i].shape[0] >= n and sys.getrefcount(self._arrays[i]) == 2:
                return self._arrays[i][:n]
        fresh = np.empty(n, dtype=market_event_dt)
        if len(self._arrays) < self.KEPT:
            self._arrays.append(fresh)
        return fresh


def iter_columns(path: str | Path, batch_rows: int, names, row_groups=None):
    """The named fields of the file's events in stored order, ``batch_rows`` at a time, as a dict of arrays
    (only the row groups numbered in ``row_groups`` if given). (Without pre-buffering: its read cache grew with
    the part of the file read, 0.3 GiB live after 3 h of a day's recording.)"""
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = _path(path)
    try:
        for batch in pq.ParquetFile(p, pre_buffer=False).iter_batches(batch_size=batch_rows, columns=list(names),
                                                                     row_groups=row_groups):
            yield {name: batch.column(name).to_numpy() for name in names}
    except (pa.ArrowInvalid, OSError) as err:
        raise DataError(f"{p}: not a readable Parquet file ({err})") from None


def _market_data(meta: dict, events: np.ndarray) -> MarketData:
    return MarketData(
        venue=meta["venue"], symbol=meta["symbol"], source=meta["source"], tick_size=meta["tick_size"],
        lot_size=meta["lot_size"], tick_size_inferred=meta["tick_size_inferred"],
        lot_size_inferred=meta["lot_size_inferred"], clock_offset_ns=meta["clock_offset_ns"], events=events,
        gaps=list(meta.get("gaps", [])), stats=dict(meta.get("stats", {})),
        # files written before instruments were stored: inferred from the names, as at import
        instrument_override=Instrument.from_dict(meta["instrument"]) if meta.get("instrument_given") else None,
    )
