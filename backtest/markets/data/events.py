"""What a venue's recording is once imported (``MarketData``: normalised events and what they are), the error a
capture or a normalised file that cannot be read raises, and the decimal grid prices and sizes are read onto.
No I/O but ``MarketData.describe`` of a file read in chunks; every reader and writer imports these."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from kernels.records import MF_NO_EXCH_TS, ME_BBO_ASK, ME_BBO_BID, ME_BOOK, ME_TRADE

if TYPE_CHECKING:
    from backtest.instruments import Instrument

MS = 1_000_000  # ns per millisecond


class DataError(ValueError):
    """A capture that cannot be read as asked: the message names the file, the line and what is wrong."""


@dataclass
class MarketData:
    """One venue's normalised events (``events``, market_event_dt, in receive-time order) and what they are."""

    venue: str
    symbol: str
    source: str  # binance-spot | binance-usdm | tardis
    tick_size: float
    lot_size: float
    tick_size_inferred: bool
    lot_size_inferred: bool
    clock_offset_ns: int  # local clock minus exchange clock (includes the fastest message's latency)
    events: np.ndarray
    gaps: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    instrument_override: "Instrument | None" = None  # given at import or stored with the data; else inferred
    # (first, last) receive time, ns, of a file whose events are read in chunks (``store.read_info``), and
    # the file: ``events`` is then empty
    span_ns: tuple[int, int] | None = None
    path: str | None = None

    @property
    def instrument(self) -> "Instrument":
        """What the venue trades (backtest.instruments): as stored or given, else inferred from the names."""
        if self.instrument_override is not None:
            return self.instrument_override
        from backtest.instruments import infer_instrument
        return infer_instrument(self.source, self.symbol, self.tick_size, self.lot_size)

    @property
    def start_ns(self) -> int:
        return int(self.span_ns[0]) if self.span_ns is not None else int(self.events["recv_ts"][0])

    @property
    def end_ns(self) -> int:
        return int(self.span_ns[1]) if self.span_ns is not None else int(self.events["recv_ts"][-1])

    def _kinds_and_latency(self) -> tuple[np.ndarray, float, float]:
        """Events per kind and the residual feed latency's p50 and p99, ms. A file read in chunks is read here
        in batches: its percentiles come from a histogram of 0.01 ms bins (memory: the histogram, not the
        events)."""
        if self.path is None:
            ev = self.events
            lat = (ev["recv_ts"] - ev["exch_ts"])[(ev["flags"] & MF_NO_EXCH_TS) == 0] / MS
            return (np.bincount(ev["kind"], minlength=5), np.median(lat) if lat.size else float("nan"),
                    np.percentile(lat, 99) if lat.size else float("nan"))
        import pyarrow as pa
        import pyarrow.parquet as pq

        bin_ns, bins = 10_000, 1_000_000  # 0.01 ms up to 10 s; later ones count in the last bin
        hist = np.zeros(bins, dtype=np.int64)
        kinds = np.zeros(5, dtype=np.int64)
        names = ("recv_ts", "exch_ts", "flags", "kind")
        try:
            for batch in pq.ParquetFile(self.path, pre_buffer=False).iter_batches(batch_size=1 << 20, columns=names):
                recv, exch, flags, kind = (batch.column(name).to_numpy() for name in names)
                kinds += np.bincount(kind, minlength=5)[:5]
                timed = (flags & MF_NO_EXCH_TS) == 0
                hist += np.bincount(np.clip((recv[timed] - exch[timed]) // bin_ns, 0, bins - 1), minlength=bins)
        except (pa.ArrowInvalid, OSError) as err:
            raise DataError(f"{self.path}: not a readable Parquet file ({err})") from None
        total = int(hist.sum())
        if not total:
            return kinds, float("nan"), float("nan")
        cum = np.cumsum(hist)
        p50, p99 = (float((np.searchsorted(cum, q * total) + 0.5) * bin_ns / MS) for q in (0.5, 0.99))
        return kinds, p50, p99

    def describe(self) -> str:
        kinds, p50, p99 = self._kinds_and_latency()
        lines = [
            f"{self.venue}: {self.symbol} ({self.source}), {int(kinds.sum()):,} events over "
            f"{(self.end_ns - self.start_ns) / 1e9:,.1f} s",
            f"  tick size {self.tick_size:g} ({'inferred from the capture' if self.tick_size_inferred else 'given'}), "
            f"lot step {self.lot_size:g} ({'inferred from the capture' if self.lot_size_inferred else 'given'})",
            f"  instrument: {self.instrument.describe()} "
            f"({'given' if self.instrument_override is not None else 'inferred from the names'})",
            f"  book levels {kinds[ME_BOOK]:,}, trades {kinds[ME_TRADE]:,}, best bid/ask updates "
            f"{kinds[ME_BBO_BID] + kinds[ME_BBO_ASK]:,}",
            f"  recorder clock offset {self.clock_offset_ns / MS:+,.1f} ms (local - exchange); residual feed latency "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms",
        ]
        for k, v in self.stats.items():
            lines.append(f"  {k.replace('_', ' ')}: {v:,}")
        for gap in self.gaps:
            lines.append(f"  gap: {gap}")
        return "\n".join(lines)


class _Grid:
    """Converts decimal strings to integer ticks or lots, checking each lies on the grid."""

    def __init__(self, step: float, what: str, where):
        from decimal import Decimal

        self.step, self.what, self.where = step, what, where  # where(message index) -> "file:line"
        exact = Decimal(repr(step)).normalize()
        # integer arithmetic: a value's decimal digits in units of 10^-decimals, against the step in those units
        # (float division let 61824.01 pass as a multiple of 0.03: its remainder is a millionth of the quotient)
        self.decimals = max(0, -exact.as_tuple().exponent)
        self.step_units = int(exact.scaleb(self.decimals))

    def _refuse(self, text, line, why):
        raise DataError(f"{self.where(line)}: {self.what} {str(text)[:40]} {why}")

    def __call__(self, text: str, line: int) -> int:
        if not isinstance(text, str):  # a JSON number where Binance sends a decimal string
            self._refuse(text, line, "is not a decimal string (Binance sends prices and quantities as strings)")
        whole, dot, frac = text.partition(".")
        frac = frac.rstrip("0")
        if not whole.isdigit() or (frac and not frac.isdigit()):
            self._refuse(text, line, "is not a non-negative decimal number")
        units = int(whole + frac.ljust(self.decimals, "0"))
        if len(frac) > self.decimals or units % self.step_units:
            self._refuse(text, line, f"is not a multiple of {self.step:g}; give the venue's {self.what} step "
                         "explicitly if the inferred one is wrong")
        return units // self.step_units
