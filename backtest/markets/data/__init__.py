"""Recorded markets: captures of real venues in, normalised event arrays out (``capture``, ``tardis``),
stored as Parquet and loaded back (``store``)."""
from backtest.markets.data.capture import DataError, MarketData, read_binance
from backtest.markets.data.store import load, save

__all__ = ["DataError", "MarketData", "read_binance", "load", "save", "import_capture", "import_capture_to",
           "resolve_path", "PROJECT_ROOT"]

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
        _override_instrument(data, instrument_kind, contract_multiplier)
    return data


def import_capture_to(path, venue: str, directory, fmt: str = "binance", instrument_kind: str | None = None,
                      contract_multiplier: float | None = None, **options) -> MarketData | None:
    """``import_capture`` written to ``directory/<venue>.parquet`` in bounded memory, for captures longer than
    memory holds (``binance_fast.import_to_parquet``: a text block, its scan and the events within the capture's
    receive-time disorder at a time). Returns the file's metadata (its events stay on disk: ``store.iter_events``)
    or None, with nothing written, for a capture ``import_capture`` has to read whole: a tardis CSV, or a
    Binance capture with anything the reference reader decides (a gap, a repeat, a line the scanner does not
    read exactly)."""
    import numba

    from backtest.markets.data.binance_fast import import_to_parquet

    if fmt != "binance" or numba.config.DISABLE_JIT:
        return None
    if set(options) - {"symbol", "tick_size", "lot_size", "on_gap"} or options.get("on_gap", "stop") not in (
            "stop", "resync"):
        return None  # import_capture names what it does not know (a gap never takes this path)
    files = [Path(p) for p in path] if isinstance(path, (list, tuple)) else [Path(path)]
    if not files or not all(f.is_file() for f in files):
        return None

    def prepare(meta: MarketData) -> None:
        if instrument_kind is not None or contract_multiplier is not None:
            _override_instrument(meta, instrument_kind, contract_multiplier)
    return import_to_parquet(files, venue, Path(directory), options.get("symbol"), options.get("tick_size"),
                             options.get("lot_size"), prepare)


def _override_instrument(data: MarketData, instrument_kind: str | None, contract_multiplier: float | None) -> None:
    """Set what ``data``'s venue trades where the caller says better than the names (see ``import_capture``)."""
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
