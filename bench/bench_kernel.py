"""Speed and memory of the simulation: prints figures, asserts nothing. Run: make bench.

Array generation and the kernel are timed separately, and the end-to-end ``backtest.run(config)`` (which
overlaps them), each as the best of a few runs after compilation, on the default scenario. Also: compile
time cold (empty cache) and warm (from the on-disk cache), a warm CLI start, memory per tick (array
sizes, and the measured peak RSS of whole processes at 10^5 and 10^6 ticks), and the slowdown with
NUMBA_DISABLE_JIT=1.
"""
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def timed(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def child(code, env=None):
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})})
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    return time.perf_counter() - t0, proc.stdout.strip()


def main():
    import backtest
    from backtest.markets.generate import generate

    # generate_s: the complete market; kernel_s: backtest.run on it; run_s: backtest.run(config) end to end,
    # which streams the order flow from a helper thread while the kernel runs (what a user waits for)
    import numba
    import numpy
    import pandas

    print(f"python {sys.version.split()[0]}, numpy {numpy.__version__}, numba {numba.__version__}, "
          f"pandas {pandas.__version__}, {os.cpu_count()} cores")
    print("ticks        generate_s   kernel_s   gen+kernel_s   run_s (end to end)   ticks_per_s(run)   events")
    for n in (10**3, 10**5, 10**6):
        cfg = backtest.make_config(**{"sim.ticks": n})
        backtest.run(backtest.make_config(**{"sim.ticks": 1000}))  # compiled / loaded
        repeat = 3 if n >= 10**6 else 5
        tg, market = timed(lambda: generate(cfg), repeat)
        tk, _ = timed(lambda m=market: backtest.run(cfg, market=m), repeat)
        events = market.events1.kind.size + market.events2.kind.size
        del market
        tr, _ = timed(lambda: backtest.run(cfg), repeat)
        print(f"{n:>9,}   {tg:>10.3f}   {tk:>8.3f}   {tg + tk:>12.3f}   {tr:>18.3f}   {n / tr:>16,.0f}   {events:,}")

    with tempfile.TemporaryDirectory() as cache:
        code = "import time,backtest; t=time.perf_counter(); backtest.run(backtest.make_config(**{'sim.ticks':100})); print(time.perf_counter()-t)"
        _, cold = child(code, {"NUMBA_CACHE_DIR": cache})
        _, warm = child(code, {"NUMBA_CACHE_DIR": cache})
    print(f"first run incl. compile: cold cache {float(cold):.2f} s, warm cache {float(warm):.2f} s")
    cli, _ = child("import sys; from backtest.cli import main; sys.exit(main(['run','--ticks','1000']))")
    print(f"warm CLI start, 1000 ticks, whole process: {cli:.2f} s")

    from backtest.markets.generate import generate as gen
    from kernels.records import account_dt, tick_dt

    m6 = gen(backtest.make_config(**{"sim.ticks": 10**6}))
    r6 = backtest.run(backtest.make_config(**{"sim.ticks": 10**6}), market=m6)
    account_per_tick = len(r6.account_raw) * account_dt.itemsize / 10**6
    print(f"memory per tick: generated arrays {m6.nbytes / 10**6:.0f} B, tick records {tick_dt.itemsize} B, "
          f"account rows {account_per_tick:.1f} B ({len(r6.account_raw):,} rows of {account_dt.itemsize} B: "
          f"ticks where cash, positions or state changed; fills/hedges/orders records also grow with activity)")
    del m6, r6

    peak = {}
    for n in (10**5, 10**6):
        # VmHWM, not ru_maxrss: the latter can carry over the forking parent's peak into the child
        code = ("import backtest; r=backtest.run(backtest.make_config(**{'sim.ticks':%d})); "
                "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')][0])" % n)
        _, kib = child(code)
        peak[n] = int(kib) * 1024
    slope = (peak[10**6] - peak[10**5]) / (10**6 - 10**5)
    print(f"peak RSS of a whole process (generate + run + results): 10^5 ticks {peak[10**5] / 2**20:.0f} MiB, "
          f"10^6 ticks {peak[10**6] / 2**20:.0f} MiB -> {slope:.0f} B per extra tick")

    small = "import time,backtest; c=backtest.make_config(**{'sim.ticks':2000}); backtest.run(c); t=time.perf_counter(); backtest.run(c); print(time.perf_counter()-t)"
    _, jit = child(small)
    _, nojit = child(small, {"NUMBA_DISABLE_JIT": "1"})
    print(f"2000 ticks: jit {float(jit):.4f} s, NUMBA_DISABLE_JIT=1 {float(nojit):.3f} s -> {float(nojit) / float(jit):.0f}x slower")


if __name__ == "__main__":
    main()
