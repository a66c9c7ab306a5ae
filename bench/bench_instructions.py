"""Instructions and first-level cache misses of the synthetic kernel (and of its floor), counted, not timed.

This machine's speed drifts by 5-10% from one minute to the next (``bench_floor.py`` gave 1.48x-1.64x for one
commit in one hour), so a change worth 2-3% cannot be seen in seconds. Valgrind's cachegrind counts the
instructions the compiled kernel executes, and the misses of a simulated 32 KB first-level data cache, the same on
every run. Numba's code has no symbols valgrind can name, so the figures are those of the unnamed code
(``???``), which is the compiled kernels only; each run of the kernel is counted as the difference between a
process running it three times and one running it once (market generation, compiled code too, cancels out), so a
figure is one run's.

Valgrind reports a CPU of its own, for which numba would compile again (six minutes under valgrind), so every
process here compiles for ``NUMBA_CPU_NAME=generic``: a native run fills that cache first. Counts are of that
generic code, close to but not the host's (355.4 M against 354.2 M for one commit).

    apt-get install valgrind
    .venv/bin/python bench/bench_instructions.py [ROOT ...] [--ticks 100000] [--floor]

``ROOT``: project checkouts to count (default this one; e.g. a ``git worktree`` of the commit before a change).
``--floor`` also counts ``bench_floor.py``'s flow-only loop in the first root. ``--preset`` counts another run, e.g. a
replay preset's whole recording (``replay_binance_btcusdt_20240808``). Prints per run and per tick; asserts nothing.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = r"""
import sys
root, reps, ticks, what, name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
sys.path.insert(0, root)
from backtest.config import preset
from backtest.engine import Simulation
from backtest.markets.generate import generate
cfg = preset(name)
cfg = cfg.with_dotted({"sim.ticks": ticks}) if ticks else cfg
m = generate(cfg)
if what == "floor":
    sys.path.insert(0, root + "/bench")
    from bench_floor import flow_only
    from kernels.params import P_DEPTH1, P_DEPTH2
    from kernels.tick import STATE_FIELDS
for _ in range(reps):
    sim = Simulation(cfg, m)
    sim.ticks_raw.fill(0)
    for rec in sim.records:
        rec.fill(0)
    if what == "floor":
        b1, b2, buf = (sim.state[STATE_FIELDS.index(n)] for n in ("b1", "b2", "fill_buf"))
        flow_only(m.center1, m.center2, m.events1.start, m.events1.table, m.events2.start, m.events2.table, b1, b2,
                  int(sim.p[P_DEPTH1]), int(sim.p[P_DEPTH2]), buf, ticks)
    else:
        sim.advance(cfg.sim.ticks)
"""

# cachegrind's events, in cg_annotate's column order
EVENTS = ("Ir", "I1mr", "ILmr", "Dr", "D1mr", "DLmr", "Dw", "D1mw", "DLmw")


def unnamed_code_counts(root: str, reps: int, ticks: int, what: str, env: dict, name: str) -> dict[str, int]:
    """cachegrind's counts for the code valgrind cannot name (numba's) in one process running ``what`` ``reps``
    times."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        script = os.path.join(tmp, "child.py")  # a file: cg_annotate cannot read a command line holding newlines
        with open(script, "w") as f:
            f.write(CHILD)
        subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=yes", f"--cachegrind-out-file={out}",
                        sys.executable, script, root, str(reps), str(ticks), what, name],
                       env=env, cwd=root, check=True, capture_output=True)
        text = subprocess.run(["cg_annotate", out], capture_output=True, text=True, check=True).stdout
    for line in text.splitlines():
        if line.rstrip().endswith("???:???"):
            numbers = re.sub(r"\(\s*[0-9.]+%\)", "", line).replace(",", "").split()[:len(EVENTS)]
            return dict(zip(EVENTS, (int(n) for n in numbers)))
    raise SystemExit(f"no unnamed code in cachegrind's report for {root} ({what})")


def per_run(root: str, ticks: int, what: str, name: str = "default") -> dict[str, int]:
    env = dict(os.environ, NUMBA_CPU_NAME="generic", PYTHONHASHSEED="0")
    # fill the generic CPU's compiled cache natively (fast), so the processes under valgrind only load it
    subprocess.run([sys.executable, "-c", CHILD, root, "1", "2000", what, name], env=env, cwd=root, check=True,
                   capture_output=True)
    once = unnamed_code_counts(root, 1, ticks, what, env, name)
    thrice = unnamed_code_counts(root, 3, ticks, what, env, name)
    return {k: (thrice[k] - once[k]) // 2 for k in EVENTS}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("roots", nargs="*", default=[ROOT], help="project checkouts (default: this one)")
    ap.add_argument("--ticks", type=int, default=100_000)
    ap.add_argument("--floor", action="store_true", help="also count bench_floor.py's loop in the first root")
    ap.add_argument("--preset", default="default",
                    help="the run counted (default: the synthetic default market at --ticks); a replay preset runs "
                         "its whole recording, e.g. replay_binance_btcusdt_20240808")
    args = ap.parse_args()
    if shutil.which("valgrind") is None or shutil.which("cg_annotate") is None:
        raise SystemExit("needs valgrind and cg_annotate (Debian: apt-get install valgrind)")
    if args.ticks < 10_000:
        raise SystemExit("--ticks: at least 10000 (fewer and the process's own noise shows)")
    sys.path.insert(0, ROOT)
    from backtest.config import PRESETS, preset

    if args.preset not in PRESETS:
        ap.error(f"--preset {args.preset!r} is unknown; allowed: {', '.join(PRESETS)}")
    runs = [(os.path.abspath(r), "kernel") for r in args.roots]
    replay = args.preset.startswith("replay")
    if args.floor and args.preset != "default":
        ap.error("--floor: only with the default market")
    if args.floor:
        runs.append((os.path.abspath(args.roots[0]), "floor"))
    first = None
    if replay:
        ticks = preset(args.preset).sim.ticks
        print(f"{args.preset}, the whole recording ({ticks:,} ticks), per run (per tick); D1: simulated 32 KB "
              "first-level data cache")
    else:
        ticks = args.ticks
        print(f"{args.preset} market, {ticks:,} ticks, per run (per tick); D1: simulated 32 KB first-level data cache")
    for root, what in runs:
        c = per_run(root, 0 if replay else ticks, what, args.preset)
        first = first or c
        print(f"{what:6s} {root}: instructions {c['Ir'] / 1e6:.1f} M ({c['Ir'] / ticks:.0f}, "
              f"{c['Ir'] / first['Ir']:.3f}x the first), D1 read misses {c['D1mr'] / ticks:.2f}, "
              f"D1 write misses {c['D1mw'] / ticks:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
