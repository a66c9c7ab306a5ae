"""A raw capture of any length imported in bounded memory (issue 24: "a raw capture of a day still has to be
imported whole before it can be replayed in chunks").

A long Binance capture is made by laying the shipped BTCUSDT USD-M capture end to end ``k`` times (each copy's
receive times, E and T shifted past the one before, its update ids continuing the depth sequence and its
trade ids the trade ids, the snapshot and the diffs it makes stale kept only in the first copy). The book does
not join up across copies (the price jumps where one ends and the next begins), which an import does not look
at. For each length, in a fresh process: the streamed import (``import_capture_to``: the capture scanned twice,
its events written to Parquet as they are handed out) and the whole import (``import_capture`` then ``save``,
what a run on a raw capture did before), each timed and its peak resident memory read from the OS.

    .venv/bin/python bench/bench_import_stream.py [--copies 1,4,16] [--keep DIR] [--hftbacktest]

With ``--hftbacktest`` (an optional bench dependency), hftbacktest's ``binancefutures.convert`` also imports each
capture in a fresh process, writing its ``.npz`` as the two imports write Parquet: issue 24 asks for imports 3x
faster than it, on a day's capture too.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "data" / "binance-btcusdt-2024-08-08" / "usdm.jsonl.gz"

_FIELD = re.compile(rb'"(E|T|U|u|pu|t)":(\d+)')


def long_capture(copies: int, out: Path) -> int:
    """Write ``copies`` copies of the USD-M capture end to end to ``out`` (gzip, level 1); returns its lines."""
    lines = gzip.open(SOURCE, "rb").read().splitlines(keepends=True)
    lid = None
    depth = []  # (line index, U, u, pu)
    trade_ids = []
    for n, line in enumerate(lines):
        text = line.split(b" ", 1)[1]
        if lid is None and text.startswith(b'{"lastUpdateId"'):
            lid = json.loads(text)["lastUpdateId"]
        elif b"@depth" in text[:60]:
            d = json.loads(text)["data"]
            depth.append((n, d["U"], d["u"], d["pu"]))
        elif b"@trade" in text[:60]:
            trade_ids.append(json.loads(text)["data"]["t"])
    first = next(row for row in depth if row[2] >= lid)  # the first diff the snapshot does not make stale
    start = first[0]
    id_step = depth[-1][2] - first[3]  # the next copy's first diff continues the last one's u
    trade_step = max(trade_ids) - min(trade_ids) + 1
    local0 = int(lines[start].split(b" ", 1)[0])
    span_ms = (int(lines[-1].split(b" ", 1)[0]) - local0) // 1_000_000 + 1

    written = 0
    with gzip.open(out, "wb", compresslevel=1) as f:
        f.writelines(lines)
        written += len(lines)
        for k in range(1, copies):
            shift_ms = k * span_ms
            steps = {b"E": shift_ms, b"T": shift_ms, b"U": k * id_step, b"u": k * id_step, b"pu": k * id_step,
                     b"t": k * trade_step}

            def shifted(m, steps=steps):
                return b'"%s":%d' % (m.group(1), int(m.group(2)) + steps[m.group(1)])
            block = []
            for line in lines[start:]:
                stamp, text = line.split(b" ", 1)
                block.append(b"%d %s" % (int(stamp) + shift_ms * 1_000_000, _FIELD.sub(shifted, text)))
            f.writelines(block)
            written += len(block)
    return written


_CHILD = r"""
import json, sys, time, resource
from pathlib import Path
from backtest.markets.data import import_capture, import_capture_to, save
mode, capture, out = sys.argv[1], sys.argv[2], sys.argv[3]
t0 = time.perf_counter()
if mode == "hftbacktest":  # the peer's converter on the same capture, writing its own file as ours do
    import contextlib, io
    from hftbacktest.data.utils import binancefutures
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its progress
        rows = binancefutures.convert(capture, output_filename=out + ".npz", combined_stream=True,
                                      buffer_size=int(sys.argv[4]))
    events = len(rows)
elif mode == "streamed":
    data = import_capture_to(capture, "usdm", out)
    assert data is not None, "the streamed import declined"
    import pyarrow.parquet as pq
    events = pq.read_metadata(data.path).num_rows
else:
    data = import_capture(capture, "usdm")
    save(data, out)
    events = len(data.events)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "events": events,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(mode: str, capture: Path, out: Path, rows: int = 0) -> dict:
    """One import of ``capture`` in a fresh process: seconds, events and peak resident memory. ``rows``: the
    buffer hftbacktest's converter allocates (its rows: a depth level or a trade each)."""
    extra = [str(rows)] if mode == "hftbacktest" else []
    warm = subprocess.run([sys.executable, "-c", _CHILD, mode, str(SOURCE), str(out / "warm"), *extra], cwd=ROOT,
                          capture_output=True, text=True)  # compiled scanner in the on-disk cache first
    if warm.returncode:
        raise SystemExit(warm.stderr)
    got = subprocess.run([sys.executable, "-c", _CHILD, mode, str(capture), str(out / mode), *extra], cwd=ROOT,
                         capture_output=True, text=True)
    if got.returncode:
        raise SystemExit(got.stderr)
    return json.loads(got.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", default="1,4,16")
    ap.add_argument("--keep", help="write the long captures here (default: a temporary directory)")
    ap.add_argument("--hftbacktest", action="store_true",
                    help="also hftbacktest's converter on each capture, side by side (pip install .[bench])")
    args = ap.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-import-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"{'copies':>6} {'lines':>11} {'MiB gz':>7} {'events':>12} | {'streamed s':>10} {'M ev/s':>7} "
          f"{'peak MiB':>9} | {'whole s':>8} {'M ev/s':>7} {'peak MiB':>9}")
    for copies in (int(x) for x in args.copies.split(",")):
        capture = work / f"usdm_x{copies}.jsonl.gz"
        t0 = time.perf_counter()
        lines = long_capture(copies, capture)
        made = time.perf_counter() - t0
        s = measure("streamed", capture, work)
        w = measure("whole", capture, work)
        print(f"{copies:>6} {lines:>11,} {capture.stat().st_size / 2**20:>7.1f} {s['events']:>12,} | "
              f"{s['seconds']:>10.2f} {s['events'] / s['seconds'] / 1e6:>7.2f} {s['peak_mib']:>9.0f} | "
              f"{w['seconds']:>8.2f} {w['events'] / w['seconds'] / 1e6:>7.2f} {w['peak_mib']:>9.0f}"
              f"   (capture written in {made:.0f} s)", flush=True)
        if args.hftbacktest:
            # its rows are depth levels and trades (ours also count the snapshot and book ticker): compare times
            h = measure("hftbacktest", capture, work, rows=2 * s["events"] + 1_000_000)
            print(f"{'':>6} hftbacktest's binancefutures.convert: {h['seconds']:.2f} s ({h['events']:,} rows), peak "
                  f"{h['peak_mib']:.0f} MiB: {h['seconds'] / s['seconds']:.1f}x the streamed import's time, "
                  f"{h['seconds'] / w['seconds']:.1f}x the whole import's", flush=True)
        if not args.keep:
            capture.unlink()
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("MMHEDGE_CACHE_DIR", tempfile.mkdtemp(prefix="bench-import-cache-"))
    main()
