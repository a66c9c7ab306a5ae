"""What a user waits for, against the kernel: ``backtest.run(config)`` and then every frame and the summary,
against ``backtest.run(config, market=...)`` on a market drawn beforehand (the kernel and its records alone).

Issue 24's goal: end to end with all frames within 1.5x of the kernel at 10^6 ticks. One process, after
compilation; the two are timed in alternation, ``--rounds`` times each (default 9), so a slow spell of this
machine slows both; prints the best and the median of each, their ratios, and where the rest goes (drawing
the inputs the kernel needs before it starts, each frame, the summary).

    .venv/bin/python bench/bench_end_to_end.py [--ticks 1000000] [--rounds 9]
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FRAMES = ("ticks", "fills", "hedges", "orders", "risk_events")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=10**6)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    if args.ticks < 1000 or args.rounds < 1:
        parser.error(f"--ticks {args.ticks} --rounds {args.rounds}: allowed: --ticks 1000 or more, --rounds 1 or more")

    import backtest
    from backtest.markets.generate import generate

    cfg = backtest.make_config(**{"sim.ticks": args.ticks})
    backtest.run(backtest.make_config(**{"sim.ticks": 1000})).ticks  # compiled / loaded
    market = generate(cfg)
    times: dict[str, list[float]] = {k: [] for k in ("kernel", "end_to_end", "run", *FRAMES, "summary")}
    for _ in range(args.rounds):
        gc.collect()
        t0 = time.perf_counter()
        backtest.run(cfg, market=market)
        times["kernel"].append(time.perf_counter() - t0)
        gc.collect()
        t0 = time.perf_counter()
        r = backtest.run(cfg)
        times["run"].append(time.perf_counter() - t0)
        for name in FRAMES:
            t1 = time.perf_counter()
            getattr(r, name)
            times[name].append(time.perf_counter() - t1)
        t1 = time.perf_counter()
        r.summary_dict
        times["summary"].append(time.perf_counter() - t1)
        times["end_to_end"].append(time.perf_counter() - t0)
        del r

    best = {k: min(v) for k, v in times.items()}
    median = {k: statistics.median(v) for k, v in times.items()}
    print(f"{args.ticks:,} ticks, {args.rounds} alternated rounds (seconds)")
    print(f"{'':>22} {'best':>8} {'median':>8}")
    for k in times:
        print(f"{k:>22} {best[k]:>8.3f} {median[k]:>8.3f}")
    print(f"{'end to end / kernel':>22} {best['end_to_end'] / best['kernel']:>8.2f} "
          f"{median['end_to_end'] / median['kernel']:>8.2f}")
    ratios = sorted(e / k for e, k in zip(times["end_to_end"], times["kernel"]))
    print(f"{'per-round ratio':>22} min {ratios[0]:.2f} median {statistics.median(ratios):.2f} max {ratios[-1]:.2f}")


if __name__ == "__main__":
    main()
