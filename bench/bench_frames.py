"""Memory and time of building the ticks frame, against the run alone (issue: frames used to double a run).

Each measurement is a fresh process (peak RSS is per process): a run of N ticks at the default config,
then, in the 'frame' variant, ``results.ticks`` and the summary. Prints wall times and peak RSS in MiB and
bytes per tick. ``--big`` adds 10^7 ticks (about 5 GB of memory and a minute).

    .venv/bin/python bench/bench_frames.py [--big]
"""
from __future__ import annotations

import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
import backtest
n, frame = int(sys.argv[1]), sys.argv[2] == "1"
cfg = backtest.make_config(**{"sim.ticks": n})
t0 = time.perf_counter()
r = backtest.run(cfg)
t1 = time.perf_counter()
if frame:
    r.ticks
    r.summary_dict
t2 = time.perf_counter()
print(json.dumps({"run_s": t1 - t0, "frame_s": t2 - t1, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def measure(n: int, frame: bool) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(n), "1" if frame else "0"], capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    sizes = [10**5, 10**6] + ([10**7] if "--big" in sys.argv else [])
    measure(1000, False)  # the kernels compiled and cached before timing
    print(f"{'ticks':>10} {'variant':>13} {'run s':>7} {'frame s':>8} {'peak MiB':>9} {'B/tick':>7}")
    for n in sizes:
        for frame in (False, True):
            m = measure(n, frame)
            print(f"{n:>10,} {('run + frame' if frame else 'run'):>13} {m['run_s']:>7.2f} {m['frame_s']:>8.2f} "
                  f"{m['peak'] / 2**20:>9,.0f} {m['peak'] / n:>7,.0f}")


if __name__ == "__main__":
    main()
