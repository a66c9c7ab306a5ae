"""Sweep throughput (runs per second) with 1 and 2 local worker processes, all cores, and on a local Dask
cluster (a scheduler and one single-threaded worker per core, started here as separate processes). The same
24 runs of 100 000 ticks each time; prints the figures, asserts nothing.

    .venv/bin/python bench/bench_sweep.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import backtest  # noqa: E402
from backtest.research.sweep import SweepSpec, run_sweep  # noqa: E402

DASK = str(Path(sys.executable).with_name("dask"))


def timed(**kw) -> float:
    spec = SweepSpec(grid={"quoting.half_spread_ticks": [1, 2, 3, 4, 5, 6]}, seeds=(1, 2, 3, 4),
                     base=backtest.make_config(**{"sim.ticks": 100_000}))
    t0 = time.perf_counter()
    result = run_sweep(spec, **kw)
    return len(result.runs) / (time.perf_counter() - t0)


def main() -> None:
    backtest.run(backtest.make_config(**{"sim.ticks": 100}))  # compiled and cached
    cores = os.cpu_count() or 1
    rates = {"1 worker": timed(workers=1), "2 workers": timed(workers=2), f"all {cores} cores": timed(workers=cores)}
    with tempfile.TemporaryDirectory() as tmp:
        info = Path(tmp) / "scheduler.json"
        procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                   "--scheduler-file", str(info)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        while not info.exists():
            time.sleep(0.2)
        procs.append(subprocess.Popen([DASK, "worker", "--scheduler-file", str(info), "--nworkers", str(cores),
                                       "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        address = json.loads(info.read_text())["address"]
        from distributed import Client

        with Client(address) as c:
            c.wait_for_workers(cores, timeout=120)
        timed(cluster=address)  # the workers import and load the kernels once
        rates[f"local Dask cluster, {cores} workers"] = timed(cluster=address)
        for p in procs[::-1]:
            p.terminate()
            p.wait(timeout=30)
    base = rates["1 worker"]
    for name, rate in rates.items():
        print(f"{name:>32}: {rate:6.2f} runs/s ({rate / base:.2f}x one worker)")


if __name__ == "__main__":
    main()
