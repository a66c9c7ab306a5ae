"""Recorded markets: captures of real venues in, normalised event arrays out (``capture``, ``tardis``),
stored as Parquet and loaded back (``store``)."""
from backtest.data.capture import DataError, MarketData, read_binance
from backtest.data.store import load, save

__all__ = ["DataError", "MarketData", "read_binance", "load", "save", "import_capture"]


def import_capture(path, venue: str, fmt: str = "binance", **options) -> MarketData:
    """A capture -> MarketData. ``fmt``: binance (stream capture) or tardis (``incremental_book_L2`` CSV,
    with ``trades=`` the trades CSV). Options: symbol, tick_size, lot_size, on_gap (binance)."""
    if fmt == "binance":
        return read_binance(path, venue, **options)
    if fmt == "tardis":
        from backtest.data.tardis import read_tardis

        return read_tardis(path, venue, **options)
    raise DataError(f"format {fmt!r} is unknown; allowed: binance, tardis")
