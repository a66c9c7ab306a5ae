"""Kernel time of two checkouts of this project, side by side in one sitting: has a change cost speed?

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/bench_checkouts.py /tmp/before .

For each checkout (each in its own process, so each imports its own code), the best of ``--repeat`` runs of
the kernel alone (the market built once) on the BTC replay preset (the whole recording) and on the default
synthetic market at 10^6 ticks; the checkouts are alternated ``--rounds`` times and the best per checkout kept.
Prints seconds and the ratio to the first checkout. Asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, sys, time
root = sys.argv[1]; repeat = int(sys.argv[2])
sys.path.insert(0, root)
import backtest
from backtest.config import preset
from backtest.engine import Simulation
from backtest.markets.generate import generate
assert backtest.__file__.startswith(root), backtest.__file__
out = {}
for name, cfg in (("replay_btc_whole", preset("replay_binance_btcusdt_20240808")),
                  ("synthetic_1e6", preset("default").with_dotted({"sim.ticks": 1_000_000}))):
    m = generate(cfg)
    best = float("inf")
    for _ in range(repeat):
        sim = Simulation(cfg, m)
        t0 = time.perf_counter()
        sim.advance(cfg.sim.ticks)
        best = min(best, time.perf_counter() - t0)
    out[name] = best
print(json.dumps(out))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkouts", nargs="+", help="project roots to compare (the first is the baseline)")
    ap.add_argument("--repeat", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    roots = [os.path.abspath(r) for r in args.checkouts]
    best: dict[str, dict[str, float]] = {r: {} for r in roots}
    for _ in range(args.rounds):
        for root in roots:
            res = subprocess.run([sys.executable, "-c", CHILD, root, str(args.repeat)], capture_output=True, text=True,
                                 check=True, cwd=root)
            for k, v in json.loads(res.stdout.strip().splitlines()[-1]).items():
                best[root][k] = min(best[root].get(k, float("inf")), v)
    base = best[roots[0]]
    for root in roots:
        print(root, "  ".join(f"{k} {v:.4f} s ({v / base[k]:.3f}x)" for k, v in best[root].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
