"""Recorded markets: captures of real venues in, normalised event arrays out (``capture``, ``tardis``),
stored as Parquet and loaded back (``store``)."""
from backtest.markets.data.capture import DataError, MarketData, read_binance
from backtest.markets.data.store import load, save

__all__ = ["DataError", "MarketData", "read_binance", "load", "save", "import_capture", "resolve_path",
           "PROJECT_ROOT"]

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]  # backtest/markets/data/__init__.py


def resolve_path(path_text: str) -> Path:
    """A recording's path: as given (or from the current directory), else from the project root."""
    p = Path(path_text).expanduser()
    if p.exists() or p.is_absolute():
        return p
    return PROJECT_ROOT / p


def import_capture(path, venue: str, fmt: str = "binance", instrument_kind: str | None = None,
                   contract_multiplier: float | None = None, **options) -> MarketData:
    """A capture -> MarketData. ``fmt``: binance (stream capture) or tardis (``incremental_book_L2`` CSV,
    with ``trades=`` the trades CSV). Options: symbol, tick_size, lot_size, on_gap (binance).
    ``instrument_kind`` (spot, linear_perpetual, inverse_perpetual) and ``contract_multiplier`` (quote
    currency per contract, inverse) replace what the names imply (backtest.instruments)."""
    if fmt == "binance":
        data = read_binance(path, venue, **options)
    elif fmt == "tardis":
        from backtest.markets.data.tardis import read_tardis

        data = read_tardis(path, venue, **options)
    else:
        raise DataError(f"format {fmt!r} is unknown; allowed: binance, tardis")
    if instrument_kind is not None or contract_multiplier is not None:
        import dataclasses

        from backtest.instruments import KINDS

        ins = data.instrument
        kind = instrument_kind or ins.kind
        if kind not in KINDS:
            raise DataError(f"instrument kind {kind!r} is unknown; allowed: {', '.join(KINDS)}")
        mult = contract_multiplier if contract_multiplier is not None else ins.contract_multiplier
        if kind != "inverse_perpetual" and mult != 1.0:
            raise DataError(f"contract multiplier {mult:g} on a {kind}: its quantities are base units (multiplier "
                            f"1); allowed: a multiplier only with inverse_perpetual")
        if not (mult > 0 and mult < float("inf")):
            raise DataError(f"contract multiplier {mult}: allowed: a positive number of quote currency per contract")
        settle = ins.base if kind == "inverse_perpetual" else ins.quote
        data.instrument_override = dataclasses.replace(ins, kind=kind, contract_multiplier=mult, settle=settle)
    return data
