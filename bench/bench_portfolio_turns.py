"""Why k assets taking turns every few ticks cost more than the same assets one after the other (issue 22).

A copy of the portfolio's synthetic loop without its risk checks (``kernels.portfolio.run_portfolio_ticks`` minus
``portfolio_check``) runs k assets of the default market over the same ticks, in turns of ``--turn`` ticks or each
asset's whole run at once, with the assets' inputs laid out four ways:

* different: each asset its own market (the portfolio as it is);
* shared: every asset reads one market's input arrays (separate books, states and records);
* copied: one market copied k times (the same behaviour, separate input memory);
* and "+ prefetch": before each asset's turn, every cache line of the next asset's inputs for its turn is
  prefetched (an LLVM prefetch intrinsic).

Shared against copied isolates the inputs' memory; copied against different, the assets behaving differently.
Prints the best of ``--rounds`` for each. Asserts nothing.

    .venv/bin/python bench/bench_portfolio_turns.py [--k 10] [--ticks 1000000] [--turn 10] [--rounds 2]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "bench"))

import numba  # noqa: E402
import numpy as np  # noqa: E402
from llvmlite import ir  # noqa: E402
from numba.core import cgutils, types  # noqa: E402
from numba.extending import intrinsic  # noqa: E402

from bench_portfolio import portfolio, touch  # noqa: E402
from backtest.engine import NO_KEEP  # noqa: E402
from backtest.portfolio import PortfolioSimulation  # noqa: E402
from kernels.tick import run_ticks  # noqa: E402


@intrinsic
def prefetch(typingctx, arr, index):
    """A read prefetch of ``arr[index]`` into every cache level (llvm.prefetch)."""
    sig = types.void(arr, types.intp)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        idx = context.cast(builder, args[1], signature.args[1], types.intp)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [idx], wraparound=False, boundscheck=False)
        i8p = ir.IntType(8).as_pointer()
        fnty = ir.FunctionType(ir.VoidType(), [i8p, ir.IntType(32), ir.IntType(32), ir.IntType(32)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(ir.IntType(32), 0), ir.Constant(ir.IntType(32), 3),
                          ir.Constant(ir.IntType(32), 1)])
        return context.get_dummy_value()

    return sig, codegen


@numba.njit(_nrt=False, inline="always")
def _lines(a, lo, hi, per_line):
    j = lo
    while j < hi:
        prefetch(a, j)
        j += per_line
    if hi > lo:
        prefetch(a, hi - 1)


@numba.njit(_nrt=False, inline="always")
def _prefetch_turn(i, t, end):
    """Every line of an asset's per-tick inputs and events for ticks ``t .. end - 1`` (``run_ticks``' order)."""
    hi = min(end, i[1].shape[0])
    if t >= hi:
        return
    for a in (i[1], i[2], i[9], i[14], i[15]):  # float64 per tick
        _lines(a, t, hi, 8)
    for a in (i[3], i[4]):  # int64 per tick
        _lines(a, t, hi, 8)
    _lines(i[5], t, hi + 1, 8)
    _lines(i[7], t, hi + 1, 8)
    _lines(i[10], t, hi, 64)  # uint8 per tick
    _lines(i[16], t, hi, 64)
    _lines(i[6], i[5][t], i[5][hi], 6)  # the events, 10 bytes each
    _lines(i[8], i[7][t], i[7][hi], 6)


@numba.njit(nogil=True, _nrt=False)
def turns(assets, t_begin, t_end, turn, ahead, no_keep):
    k = len(assets)
    t = t_begin
    while t < t_end:
        nxt = min(t_end, t + turn)
        for a in range(k):
            if ahead:
                if a + 1 < k:
                    _prefetch_turn(assets[a + 1][0], t, nxt)
                else:
                    _prefetch_turn(assets[0][0], nxt, min(t_end, nxt + turn))
            i, o, s = assets[a][0], assets[a][1], assets[a][2]
            run_ticks(i[0], i[1], i[2], i[3], i[4], i[5], i[6], i[7], i[8], i[9], i[10], i[11], i[12], i[13], i[14],
                      i[15], i[16], t, nxt, no_keep[0], no_keep[1], no_keep[2], o[0], o[1], o[2], o[3], o[4], o[5],
                      s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12], s[13], s[14],
                      s[15], s[16], s[17], s[18], s[19], s[20], s[21], s[22])
        t = nxt
    return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--ticks", type=int, default=1_000_000)
    ap.add_argument("--turn", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    if not (2 <= args.k <= 32 and 1000 <= args.ticks <= 10**7 and 1 <= args.turn <= args.ticks and args.rounds >= 1):
        ap.error("allowed: --k 2-32, --ticks 1000-10^7, --turn 1 to --ticks, --rounds >= 1")
    sim = PortfolioSimulation(portfolio(args.k, args.ticks))
    for one in sim.sims:
        touch(one)
    first = [tuple(a.copy() for a in s.state) for s in sim.sims]
    n = args.ticks

    def assets(layout):
        out = []
        for j, s in enumerate(sim.sims):
            if layout == "different":
                inputs, state = s._inputs, first[j]
            else:  # asset 0's market and starting state for every asset
                src = sim.sims[0]._inputs
                inputs = src if layout == "shared" else tuple(
                    x.copy() if isinstance(x, np.ndarray) else x for x in src)
                state = first[0]
            out.append((inputs, (s.ticks_raw, *s.records), tuple(a.copy() for a in state)))
        return tuple(out)

    cases = [("different markets, one after the other", "different", n, False),
             (f"different markets, turns of {args.turn}", "different", args.turn, False),
             (f"different markets, turns of {args.turn} + prefetch", "different", args.turn, True),
             (f"one shared market, turns of {args.turn}", "shared", args.turn, False),
             (f"one market copied, turns of {args.turn}", "copied", args.turn, False),
             (f"one market copied, turns of {args.turn} + prefetch", "copied", args.turn, True)]
    turns(assets("shared"), 0, min(n, 100), 10, True, NO_KEEP)  # compiled before timing
    best = {}
    for _ in range(args.rounds):
        for name, layout, turn, ahead in cases:
            a = assets(layout)
            t0 = time.perf_counter()
            turns(a, 0, n, turn, ahead, NO_KEEP)
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - t0)
    base = best[cases[0][0]]
    print(f"{args.k} assets of the default market, {n:,} ticks each, best of {args.rounds}:")
    for name, _, _, _ in cases:
        print(f"  {name:52} {best[name]:7.3f} s  {best[name] / base:5.2f}x")


if __name__ == "__main__":
    main()
