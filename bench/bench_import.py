"""Importing a Binance stream capture, side by side in one run (issue 24: at least 3x faster than hftbacktest's
own converter on the same capture): this project's reader (the compiled scanner, ``backtest.markets.data.binance_scan``
with the vectorised assembly), its reference reader (``json.loads`` per line, what ran before), and
hftbacktest's ``binancefutures.convert`` on the futures captures (it has no spot converter). Each is run once
to compile or warm up, then timed as the best of ``--repeat``; the import cache is not involved. hftbacktest
is an optional bench dependency (``pip install .[bench]``); without it its column is left out.

    .venv/bin/python bench/bench_import.py
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backtest.markets.data.capture import _read_binance_reference, read_binance  # noqa: E402

CAPTURES = ["binance-btcusdt-2024-08-08/spot.jsonl.gz", "binance-btcusdt-2024-08-08/usdm.jsonl.gz",
            "binance-ethusdt-2024-08-08/spot.jsonl.gz", "binance-ethusdt-2024-08-08/usdm.jsonl.gz",
            "binance-btcusd-perp-2024-08-08/coinm.jsonl.gz"]


def best(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    try:
        from hftbacktest.data.utils import binancefutures
    except ImportError:
        binancefutures = None
        print("hftbacktest is not installed: its column is left out (pip install .[bench])")
    print(f"{'capture':<48} {'events':>9} {'ours s':>7} {'M ev/s':>7} {'ref s':>7} {'ref/ours':>8} "
          f"{'hftbt s':>8} {'hftbt/ours':>10}")
    for name in CAPTURES:
        path = ROOT / "data" / name
        events = len(read_binance(path, "x").events)
        ours = best(lambda: read_binance(path, "x"), args.repeat)
        ref = best(lambda: _read_binance_reference([path], "x", None, None, None, "stop"), args.repeat)
        theirs = None
        if binancefutures is not None and "spot" not in name:
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "x.npz")
                devnull = open(os.devnull, "w")
                stdout, sys.stdout = sys.stdout, devnull  # it prints its progress
                try:
                    theirs = best(lambda: binancefutures.convert(str(path), output_filename=out, combined_stream=True),
                                  args.repeat)
                finally:
                    sys.stdout = stdout
                    devnull.close()
        print(f"{name:<48} {events:>9,} {ours:>7.3f} {events / ours / 1e6:>7.2f} {ref:>7.3f} {ref / ours:>8.1f} "
              + (f"{theirs:>8.3f} {theirs / ours:>10.1f}" if theirs is not None else f"{'-':>8} {'-':>10}"))


if __name__ == "__main__":
    main()
