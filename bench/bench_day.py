"""A day of two venues replayed in bounded memory (issue 24: >= 10 million recorded events per second, peak
memory < 2 GB).

The day is printed with the synthetic market calibrated to the shipped BTC recording
(``reports/figures/calibration/calibrated.toml``: its flow rates, sizes, depth and basis) as a recording
(``kernels/tape.py``): ten-minute pieces, each continuing at the price the last one ended and opening with a
book clear and a snapshot (a reconnect), written as the normalised Parquet files ``data import`` writes. Only
levels within ``--window-ticks`` of the price are printed (the calibrated books reach 14 000 ticks deep; a
capture's depth stream is what changes near the touch). Then the replay preset's strategy runs on the whole
day at a 1 ms tick (its kill drawdown lifted, so it quotes all day) with ``replay.chunk_s`` and
``sim.record_every_ms`` in a fresh process, whose peak
resident memory is read from the OS. The replay's figures: wall time end to end (recording read, chunks laid
on the grid, kernel, frames and summary) and the kernel's own share.

    .venv/bin/python bench/bench_day.py                     # 24 h (about 10^8 events; ~10 GB of disk free)
    .venv/bin/python bench/bench_day.py --hours 1 --keep DIR  # a shorter day, files kept in DIR
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

PIECE_S = 600.0


def print_day(out_dir: str, hours: float, window_ticks: int) -> dict:
    """Write ``exchange1.parquet`` and ``exchange2.parquet`` into ``out_dir``; returns counts and times."""
    from backtest.config import load_config
    from backtest.markets.data import MarketData
    from backtest.markets.data.store import EventWriter
    from backtest.markets.generate import generate
    from backtest.instruments import infer_instrument
    from backtest.resources import book_capacity
    from kernels.records import ME_BOOK_CLEAR, market_event_dt
    from kernels.tape import new_tape_book, print_tape

    base = load_config(os.path.join(ROOT, "reports", "figures", "calibration", "calibrated.toml"))
    dt_ns = int(round(base.sim.dt_s * 1e9))
    piece_ticks = int(round(PIECE_S / base.sim.dt_s))
    pieces = max(1, int(round(hours * 3600 / PIECE_S)))
    day0 = 1_723_075_200_000_000_000  # 2024-08-08 00:00 UTC
    writers, counts = {}, {"exchange1": 0, "exchange2": 0}
    price = base.market.initial_price
    t0 = time.perf_counter()
    for k in range(pieces):
        cfg = base.with_dotted({"sim.ticks": piece_ticks, "sim.seed": 1000 + k, "market.initial_price": price})
        m = generate(cfg)
        capacity = book_capacity(cfg)
        for name, venue, center, events, lo, levels in (
                ("exchange1", cfg.exchange1, m.center1, m.events1, m.base1, m.levels1),
                ("exchange2", cfg.exchange2, m.center2, m.events2, m.base2, m.levels2)):
            book = new_tape_book(levels, capacity, lo, center[0], venue.max_depth_ticks, venue.initial_depth_lots)
            size = len(events.table) + 64 * len(center)
            while True:
                tape = np.empty(size + 1, dtype=market_event_dt)
                tape[0] = (0, 0, 0, 0, ME_BOOK_CLEAR, 0, 0)  # the piece opens like a reconnect: clear, snapshot
                n = print_tape(book.copy(), center, events.start, events.table, len(center), dt_ns,
                               venue.max_depth_ticks, window_ticks, np.zeros((2, levels), dtype=np.int64),
                               np.zeros((3, 16), dtype=np.int64), tape[1:])
                if n <= size:
                    break
                size = n
            tape = tape[: n + 1]
            shift = day0 + k * piece_ticks * dt_ns
            tape["exch_ts"] += shift
            tape["recv_ts"] += shift
            if name not in writers:
                inst = infer_instrument("binance-spot" if name == "exchange1" else "binance-usdm", "BTCUSDT",
                                        cfg.market.tick_size, cfg.market.lot_size)
                data = MarketData(venue=name, symbol="BTCUSDT-SYNTHETIC", source="synthetic",
                                  tick_size=cfg.market.tick_size, lot_size=cfg.market.lot_size,
                                  tick_size_inferred=False, lot_size_inferred=False, clock_offset_ns=0,
                                  events=tape[:0], instrument_override=inst)
                writers[name] = EventWriter(data, out_dir)  # a row group per piece, summarised as `data import` does
            writers[name].write(tape)
            counts[name] += len(tape)
        price = float(m.fair[-1]) * cfg.market.tick_size
    for w in writers.values():
        w.close()
    size = sum(os.path.getsize(os.path.join(out_dir, f"{v}.parquet")) for v in counts)
    return {"pieces": pieces, "events": counts, "print_s": time.perf_counter() - t0, "parquet_bytes": size,
            "span_s": pieces * PIECE_S}


def replay_day(out_dir: str, chunk_s: float, record_every_ms: float) -> dict:
    """Run the replay preset's strategy over the whole printed day (in this process); returns the figures."""
    import backtest
    from backtest.engine import Simulation
    from backtest.markets.generate import generate
    from backtest.markets.replay import available_ticks

    cfg = backtest.preset("replay_binance_btcusdt_20240808").with_dotted({
        "replay.exchange1": os.path.join(out_dir, "exchange1.parquet"),
        "replay.exchange2": os.path.join(out_dir, "exchange2.parquet"),
        "replay.chunk_s": chunk_s, "sim.record_every_ms": record_every_ms,
        # quoting all day: the preset's 100 USD kill drawdown stops it within the first hour of this market
        "risk.kill_drawdown": 1e9})
    cfg = cfg.with_dotted({"sim.ticks": available_ticks(cfg)})
    t0 = time.perf_counter()
    sim = Simulation(cfg, generate(cfg))
    kernel_s = [0.0]
    run_kernel = sim._kernel

    def timed(*args):
        t = time.perf_counter()
        out = run_kernel(*args)
        kernel_s[0] += time.perf_counter() - t
        return out

    sim._kernel = timed
    sim.advance(cfg.sim.ticks)
    res = sim.results()
    summary = res.summary_dict
    frame_rows = len(res.ticks)
    wall = time.perf_counter() - t0
    events = sum(int(__import__("pyarrow.parquet", fromlist=["x"]).read_metadata(
        os.path.join(out_dir, f"{v}.parquet")).num_rows) for v in ("exchange1", "exchange2"))
    return {"ticks": cfg.sim.ticks, "events": events, "wall_s": wall, "kernel_s": kernel_s[0],
            "tick_rows": frame_rows, "fills": summary["fills"], "hedges": summary["hedges"],
            "net_pnl": summary["net_pnl"], "orders": len(res.orders_raw),
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--window-ticks", type=int, default=400)
    ap.add_argument("--chunk-s", type=float, default=60.0)
    ap.add_argument("--record-every-ms", type=float, default=1000.0)
    ap.add_argument("--keep", help="directory for the printed day (kept); default a temporary one")
    ap.add_argument("--replay-only", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.replay_only:  # the child process: its peak memory is the replay's alone
        print(json.dumps(replay_day(args.replay_only, args.chunk_s, args.record_every_ms)))
        return
    tmp = None
    out = args.keep
    if out is None:
        tmp = tempfile.TemporaryDirectory()
        out = tmp.name
    os.makedirs(out, exist_ok=True)
    printed = print_day(out, args.hours, args.window_ticks)
    total = sum(printed["events"].values())
    print(f"printed {printed['span_s'] / 3600:g} h: {total:,} events ({printed['events']['exchange1']:,} + "
          f"{printed['events']['exchange2']:,}) in {printed['print_s']:.1f} s, "
          f"{printed['parquet_bytes'] / 2**20:,.0f} MiB of Parquet", flush=True)
    child = subprocess.run([sys.executable, __file__, "--replay-only", out, "--chunk-s", str(args.chunk_s),
                            "--record-every-ms", str(args.record_every_ms)], capture_output=True, text=True)
    if child.returncode != 0:
        print(child.stderr[-4000:])
        raise SystemExit(child.returncode)
    r = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"replay of {r['ticks']:,} ticks (1 ms), chunks of {args.chunk_s:g} s, a tick row every "
          f"{args.record_every_ms:g} ms ({r['tick_rows']:,} rows):")
    print(f"  end to end {r['wall_s']:.1f} s = {r['events'] / r['wall_s'] / 1e6:.2f} M events/s; "
          f"kernel {r['kernel_s']:.1f} s = {r['events'] / r['kernel_s'] / 1e6:.2f} M events/s")
    print(f"  peak resident memory {r['peak_rss_bytes'] / 2**30:.2f} GiB; {r['fills']:,} fills, {r['hedges']:,} hedges, "
          f"{r['orders']:,} order records, net PnL {r['net_pnl']:,.2f}")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
