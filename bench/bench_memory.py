"""Peak memory of a run and of an API session against the estimate the run is checked with before it
allocates (backtest.resources.estimate_memory, api.session.session_memory_estimate).

Each measurement runs in a fresh process: import and compile with a tiny run, note the resident size, then
run at the size asked and read the process's high-water mark (VmHWM, reset first). An API session is started,
completed, given an action half-way (a fork and re-run while the previous run is still held) and completed
again, with the frames reads are answered from built. Prints one JSON line per measurement.

    python bench/bench_memory.py [ticks ...]          # default 200000 1000000 3000000
    python bench/bench_memory.py --one TICKS run|api  # one measurement (what the others call)
"""
from __future__ import annotations

import gc
import json
import subprocess
import sys


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{key} not in /proc/self/status")


def measure(ticks: int, mode: str) -> dict:
    from api.session import Session, session_memory_estimate
    from backtest import run
    from backtest.config import make_config
    from backtest.interventions import Intervention
    from backtest.resources import estimate_memory

    small = make_config(**{"sim.ticks": 2000})
    if mode == "api":
        warm = Session(small, background=False)
        warm.full_snapshot().results.fills
    else:
        warm = run(small)
        warm.summary_dict
    del warm
    gc.collect()
    base = _status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current resident size
    cfg = make_config(**{"sim.ticks": ticks})
    if mode == "api":
        session = Session(cfg, background=False)
        session.full_snapshot()
        session.running, session._tick_offset = False, ticks // 2
        session.apply(lambda snap, t: Intervention(t, "pause"))
        results = session.full_snapshot().results
        results.fills, results.tick_columns
        estimate = session_memory_estimate(cfg)
    else:
        run(cfg).summary_dict
        estimate = estimate_memory(cfg)
    peak = _status("VmHWM") - base
    return {"ticks": ticks, "mode": mode, "peak_bytes": peak, "estimate_bytes": estimate.total,
            "estimate_over_peak": round(estimate.total / peak, 3),
            "parts_mib": {k: round(v / 2**20, 1) for k, v in estimate.parts.items()}}


def measure_in_fresh_process(ticks: int, mode: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--one", str(ticks), mode], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one"]:
        print(json.dumps(measure(int(argv[1]), argv[2])))
        return 0
    for ticks in [int(a) for a in argv] or [200_000, 1_000_000, 3_000_000]:
        for mode in ("run", "api"):
            print(json.dumps(measure_in_fresh_process(ticks, mode)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
