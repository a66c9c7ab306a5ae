"""The synthetic kernel against its floor: the same market's order flow through the same two books, and nothing else.

Issue 24 asks for the synthetic market's kernel within 1.5x of "the Numba floor with the same book rules". The
floor here is a loop that does only what no market maker could skip: every tick, each venue's book follows its
price (`_withdraw_out_of_band`) and takes that tick's background and client orders (`_apply_flow`, the kernel's
own book operations, compiled the same way). No quotes, fills, hedges, risk or records. The kernel
(`kernels.tick.run_ticks`) runs the same pre-drawn market with the strategy on (the default preset). Both start
from the same seeded books; the market is drawn once, outside both timings, and the record arrays are written once
before the kernel's clock starts (first writes to fresh memory are page faults, the machine's cost). Prints the
best of ``--rounds`` alternated runs of each and their ratio. Asserts nothing.

    .venv/bin/python bench/bench_floor.py [--ticks 1000000] [--rounds 7]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numba  # noqa: E402

from backtest.config import preset  # noqa: E402
from backtest.engine import Simulation  # noqa: E402
from backtest.markets.generate import generate  # noqa: E402
from kernels.params import P_DEPTH1, P_DEPTH2  # noqa: E402
from kernels.tick import STATE_FIELDS, _apply_flow, _withdraw_out_of_band  # noqa: E402


@numba.njit(nogil=True, _nrt=False)
def _venue_tick(b, prev, center, start, events, depth, fill_buf, t):
    """One venue's tick: its book follows the price, then takes the tick's orders. Returns the price."""
    if center[t] != prev:
        _withdraw_out_of_band(b, prev, center[t], depth)
    e = start[t]
    while e < start[t + 1]:
        e, _ = _apply_flow(b, center[t], events, e, start[t + 1], fill_buf)
    return center[t]


@numba.njit(nogil=True, _nrt=False)
def flow_only(center1, center2, ev1_start, events1, ev2_start, events2, b1, b2, depth1, depth2, fill_buf, n_ticks):
    """Each venue's flow through its book, tick by tick, in the kernel's order (Exchange 2, then Exchange 1)."""
    prev1 = center1[0]
    prev2 = center2[0]
    for t in range(n_ticks):
        prev2 = _venue_tick(b2, prev2, center2, ev2_start, events2, depth2, fill_buf, t)
        prev1 = _venue_tick(b1, prev1, center1, ev1_start, events1, depth1, fill_buf, t)
    return b1[0] + b2[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    cfg = preset("default").with_dotted({"sim.ticks": args.ticks})
    m = generate(cfg)
    e1, e2 = m.events1, m.events2
    events = len(e1.table) + len(e2.table)

    def fresh():
        sim = Simulation(cfg, m)
        sim.ticks_raw.fill(0)
        for rec in sim.records:
            rec.fill(0)
        return sim

    def floor_once() -> float:
        sim = fresh()  # the kernel's own seeded books
        b1, b2, fill_buf = (sim.state[STATE_FIELDS.index(name)] for name in ("b1", "b2", "fill_buf"))
        t0 = time.perf_counter()
        flow_only(m.center1, m.center2, e1.start, e1.table, e2.start, e2.table, b1, b2, int(sim.p[P_DEPTH1]),
                  int(sim.p[P_DEPTH2]), fill_buf, args.ticks)
        return time.perf_counter() - t0

    def kernel_once() -> float:
        sim = fresh()
        t0 = time.perf_counter()
        sim._span(0, args.ticks)
        return time.perf_counter() - t0

    floor_once()  # compiled (or loaded from the cache) before timing
    kernel_once()
    best_floor = best_kernel = float("inf")
    for _ in range(args.rounds):
        best_floor = min(best_floor, floor_once())
        best_kernel = min(best_kernel, kernel_once())
    print(f"default market, {args.ticks:,} ticks, {events:,} order events on the two venues, best of {args.rounds}:")
    print(f"  floor (the flow through both books) {best_floor:.3f} s = {events / best_floor / 1e6:.1f} M events/s")
    print(f"  kernel (the same, and the strategy) {best_kernel:.3f} s = {events / best_kernel / 1e6:.1f} M events/s")
    print(f"  kernel / floor {best_kernel / best_floor:.2f}x")


if __name__ == "__main__":
    main()
