"""Speed of recorded markets (issue targets in brackets): importing the shipped capture (< 5 s for both
venues), loading the normalised Parquet files (< 0.5 s), replaying the whole recording through the kernel
with the strategy quoting and hedging (>= 6.5 million recorded events per second; the whole run < 1 s after
compile), and an API action's re-run on a replay session (< 100 ms). Prints figures, asserts nothing.

    .venv/bin/python bench/bench_replay.py
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import backtest  # noqa: E402
from backtest.config import preset  # noqa: E402
from backtest.markets.data import import_capture, load, save  # noqa: E402
from backtest.engine import Simulation  # noqa: E402
from backtest.markets.generate import generate  # noqa: E402
from backtest.interventions import Intervention  # noqa: E402

DATA = os.path.join(ROOT, "data", "binance-btcusdt-2024-08-08")


def best(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    t_import, venues = best(lambda: (import_capture(os.path.join(DATA, "spot.jsonl.gz"), "spot"),
                                     import_capture(os.path.join(DATA, "usdm.jsonl.gz"), "usdm")), repeat=2)
    with tempfile.TemporaryDirectory() as tmp:
        paths = [save(v, tmp) for v in venues]
        t_load, _ = best(lambda: [load(p) for p in paths], repeat=5)
        cfg = preset("replay_binance_btcusdt_20240808").with_dotted(
            {"replay.exchange1": str(paths[0]), "replay.exchange2": str(paths[1])})
        backtest.run(cfg.with_dotted({"sim.ticks": 1000}))  # compile
        t_market, market = best(lambda: generate(cfg))
        n_events = int(market.events1.start[-1] + market.events2.start[-1])

        def kernel_only():
            sim = Simulation(cfg, market)
            sim.advance(cfg.sim.ticks)
            return sim

        t_kernel, sim = best(kernel_only)
        t_run, res = best(lambda: backtest.run(cfg))
        # an API action on a replay session: fork from the last checkpoint, re-run to the 2000-tick horizon
        session = Simulation(cfg, market, checkpoint_every=max(1000, cfg.sim.ticks // 100))
        session.advance(cfg.sim.ticks)
        actions = []
        for tick in range(50_000, 300_000, 25_000):
            t0 = time.perf_counter()
            fork = session.fork(session.interventions + (Intervention(tick, "pause"),), tick)
            fork.advance(tick + 1 + 2000)
            fork.results().tick_columns
            actions.append(time.perf_counter() - t0)
    actions.sort()
    print(f"import of the shipped capture, both venues: {t_import:.2f} s (best of 2)")
    print(f"load of both normalised files: {t_load * 1000:.0f} ms (best of 5)")
    print(f"replay market on the tick grid (events bucketed, mids, latencies): {t_market:.3f} s")
    print(f"kernel over the whole recording ({cfg.sim.ticks:,} ticks of 1 ms, {n_events:,} recorded events, "
          f"{res.summary_dict['fills']} fills, {res.summary_dict['hedge_attempts']} hedge attempts): {t_kernel:.3f} s "
          f"= {n_events / t_kernel / 1e6:.2f} million events/s ({cfg.sim.ticks / t_kernel / 1e6:.2f} million ticks/s)")
    print(f"backtest.run end to end from the normalised files: {t_run:.3f} s")
    print(f"API action re-run on a replay session (fork + 2000 ticks + read columns): p50 "
          f"{actions[len(actions) // 2] * 1000:.1f} ms, max {actions[-1] * 1000:.1f} ms over {len(actions)}")


if __name__ == "__main__":
    main()
