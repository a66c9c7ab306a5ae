"""Kernel time of two checkouts of this project, side by side in one sitting: has a change cost speed?

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/bench_checkouts.py /tmp/before .

For each checkout (each in its own process, so each imports its own code), the best of ``--repeat`` runs of
the kernel alone (the market built once) on the BTC replay preset (the whole recording) and on the default
synthetic market at 10^6 ticks; the checkouts are alternated ``--rounds`` times and the best per checkout kept.
Prints seconds and the ratio to the first checkout. Asserts nothing. ``--interleave PAIRS`` keeps one process per
checkout and alternates single runs between them (on a machine whose speed drifts from minute to minute, the median of
the paired ratios is steadier than either side's best). ``--warm-records`` times the kernel on record
arrays already written once (as ``bench_floor.py`` does), ``--cases`` picks the runs.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

CHILD = r"""
import json, sys, time
root = sys.argv[1]; repeat = int(sys.argv[2]); cases = sys.argv[3].split(","); warm = sys.argv[4] == "1"
sys.path.insert(0, root)
import backtest
from backtest.config import preset
from backtest.engine import Simulation
from backtest.markets.generate import generate
assert backtest.__file__.startswith(root), backtest.__file__
out = {}
for name, cfg in (("replay_btc_whole", preset("replay_binance_btcusdt_20240808")),
                  ("synthetic_1e6", preset("default").with_dotted({"sim.ticks": 1_000_000}))):
    if name not in cases:
        continue
    m = generate(cfg)
    best = float("inf")
    for _ in range(repeat):
        sim = Simulation(cfg, m)
        if warm:  # the record arrays written once before the clock starts, as bench_floor does
            sim.ticks_raw.fill(0)
            for rec in sim.records:
                rec.fill(0)
        t0 = time.perf_counter()
        sim.advance(cfg.sim.ticks)
        best = min(best, time.perf_counter() - t0)
    out[name] = best
print(json.dumps(out))
"""

# --interleave: one process per checkout, markets built once; each line on stdin names a case to run once (a line
# "quit" ends it) and the seconds are written back. The checkouts take turns run by run, so a slow spell of the
# machine falls on both sides of a pair.
SERVER = r"""
import sys, time
root = sys.argv[1]; cases = sys.argv[2].split(","); warm = sys.argv[3] == "1"
sys.path.insert(0, root)
import backtest
from backtest.config import preset
from backtest.engine import Simulation
from backtest.markets.generate import generate
assert backtest.__file__.startswith(root), backtest.__file__
made = {}
for name, cfg in (("replay_btc_whole", preset("replay_binance_btcusdt_20240808")),
                  ("synthetic_1e6", preset("default").with_dotted({"sim.ticks": 1_000_000}))):
    if name in cases:
        made[name] = (cfg, generate(cfg))
def once(name):
    cfg, m = made[name]
    sim = Simulation(cfg, m)
    if warm:
        sim.ticks_raw.fill(0)
        for rec in sim.records:
            rec.fill(0)
    t0 = time.perf_counter()
    sim.advance(cfg.sim.ticks)
    return time.perf_counter() - t0
for name in made:
    once(name)  # compiled or loaded from the cache
print("ready", flush=True)
for line in sys.stdin:
    if line.strip() == "quit":
        break
    print(once(line.strip()), flush=True)
"""


def interleaved(roots: list[str], cases: list[str], pairs: int, warm: bool) -> None:
    """Each case run ``pairs`` times in each checkout, the checkouts alternating run by run (the order flipped
    every round). Prints the best and the median per checkout and the median of the ratios of the runs taken
    next to each other."""
    procs = [subprocess.Popen([sys.executable, "-c", SERVER, root, ",".join(cases), "1" if warm else "0"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=root) for root in roots]
    try:
        for proc in procs:
            if proc.stdout.readline().strip() != "ready":
                raise SystemExit("a checkout's server did not start")
        times = {(r, c): [] for r in roots for c in cases}
        for i in range(pairs):
            for case in cases:
                order = list(range(len(roots)))
                if i % 2:
                    order.reverse()
                for k in order:
                    procs[k].stdin.write(case + "\n")
                    procs[k].stdin.flush()
                    times[(roots[k], case)].append(float(procs[k].stdout.readline()))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.stdin.write("quit\n")
                proc.stdin.flush()
                proc.wait()
    for case in cases:
        base = times[(roots[0], case)]
        for root in roots:
            ts = times[(root, case)]
            ratios = sorted(t / b for t, b in zip(ts, base))
            print(f"{root} {case}: best {min(ts):.4f} s ({min(ts) / min(base):.3f}x), median "
                  f"{statistics.median(ts):.4f} s, median of paired ratios {statistics.median(ratios):.3f}x "
                  f"(middle half {ratios[len(ratios) // 4]:.3f}-{ratios[(3 * len(ratios)) // 4]:.3f})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkouts", nargs="+", help="project roots to compare (the first is the baseline)")
    ap.add_argument("--repeat", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--cases", default="replay_btc_whole,synthetic_1e6", help="comma-separated: replay_btc_whole, "
                    "synthetic_1e6")
    ap.add_argument("--warm-records", action="store_true", help="write the record arrays once before each timed "
                    "run (first writes to fresh memory are page faults: this machine's cost, and noisy)")
    ap.add_argument("--interleave", type=int, default=0, metavar="PAIRS",
                    help="instead of rounds: one long-lived process per checkout, PAIRS runs each, alternated run by "
                    "run; prints the median of the paired ratios as well")
    args = ap.parse_args()
    roots = [os.path.abspath(r) for r in args.checkouts]
    if args.interleave > 0:
        interleaved(roots, args.cases.split(","), args.interleave, args.warm_records)
        return 0
    best: dict[str, dict[str, float]] = {r: {} for r in roots}
    for _ in range(args.rounds):
        for root in roots:
            res = subprocess.run([sys.executable, "-c", CHILD, root, str(args.repeat), args.cases,
                                  "1" if args.warm_records else "0"], capture_output=True, text=True,
                                 check=True, cwd=root)
            for k, v in json.loads(res.stdout.strip().splitlines()[-1]).items():
                best[root][k] = min(best[root].get(k, float("inf")), v)
    base = best[roots[0]]
    for root in roots:
        print(root, "  ".join(f"{k} {v:.4f} s ({v / base[k]:.3f}x)" for k, v in best[root].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
