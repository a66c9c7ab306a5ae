"""What a portfolio of k assets costs against k single-asset runs (issue 22: at most k x one asset's kernel time
plus 10%).

For k in (1, 2, 10) assets of the default synthetic market (correlation 0.5 between every pair, the portfolio's
limits on, checked every second), the markets are drawn once; then, alternately and ``--rounds`` times, the
portfolio's kernel over all ticks (``PortfolioSimulation.advance``: every asset's tick loop a check interval at a
time, and the checks) and each asset's single-asset kernel alone on the same market (``Simulation``), summed.
Prints the best time of each and their ratio. Generation is outside both timings, and so is the first touch of
the record arrays (both runs write them before the clock starts): holding ten assets' records at once made their
first writes cost more than one asset's at a time on this machine (page faults without huge pages: ten solo runs
with all their arrays allocated first took 1.55-1.65x the time of one at a time; 1.03-1.06x once written
before), which is the machine's memory, not the portfolio's work.

``--throttled GROSS``: the portfolio's limits firing instead (``portfolio.max_gross_notional`` = GROSS, a
currency figure the k assets' gross notional crosses again and again): the portfolio with its speculative blocks
(``PortfolioSimulation._drive``, blocks put back whenever a check changes a throttle) against the same portfolio
with the assets taking turns every check interval (``speculate=False``), their ratio, and how many blocks held.

``--replay``: the two-asset replay instead (the preset ``portfolio_binance_btc_eth_20240808``: BTC and ETH spot
hedged on their USD-M perpetuals, 344 000 ticks of 1 ms, every limit on but out of reach so that both runs do the
same work), against the two single-asset replays of the same recordings from the same instant.

    .venv/bin/python bench/bench_portfolio.py [--ticks 1000000] [--rounds 3] [--k 1,2,10]
    .venv/bin/python bench/bench_portfolio.py --replay [--rounds 3]
    .venv/bin/python bench/bench_portfolio.py --throttled 2000 [--k 10] [--ticks 1000000]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from backtest.engine import Simulation
from backtest.portfolio import PortfolioSimulation, make_portfolio_config, portfolio_preset


def portfolio(k: int, ticks: int, check_s: float = 1.0):
    corr = np.full((k, k), 0.5)
    np.fill_diagonal(corr, 1.0)
    return make_portfolio_config({
        "sim": {"ticks": ticks},
        "portfolio": {"correlation": corr.tolist(), "check_interval_s": check_s, "covariance_sample_s": check_s, "max_gross_notional": 5e7, "max_exposure": 1e6,
                      "max_loss_window": 1e6, "kill_drawdown": 1e7},
        "assets": [{"name": f"A{i}"} for i in range(k)],
    })


def replay_pair():
    return portfolio_preset("portfolio_binance_btc_eth_20240808").with_dotted({
        "portfolio.max_gross_notional": 1e9, "portfolio.max_exposure": 1e9, "portfolio.max_loss_window": 1e9,
        "portfolio.kill_drawdown": 1e9})


def touch(sim: Simulation) -> None:
    """Write every record array once (the first write to fresh memory is a page fault)."""
    sim.ticks_raw.fill(0)
    for rec in sim.records:
        rec.fill(0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ticks", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--k", default="1,2,10")
    ap.add_argument("--check", type=float, default=1.0, help="portfolio.check_interval_s (seconds)")
    ap.add_argument("--replay", action="store_true", help="the two-asset replay (BTC and ETH recordings)")
    ap.add_argument("--throttled", type=float, default=0.0,
                    help="portfolio.max_gross_notional (currency): speculative blocks against turns, limits firing")
    args = ap.parse_args()
    if args.throttled > 0:
        throttled(args)
        return
    warm = PortfolioSimulation(replay_pair().with_dotted({"sim.ticks": 2000}) if args.replay else portfolio(2, 2000))
    warm.advance()  # compiled (or loaded from the cache) before timing
    print("the two-asset replay" if args.replay else f"check interval {args.check:g} s")
    print(f"{'k':>3} {'ticks':>10} {'portfolio s':>12} {'k solo s':>10} {'ratio':>7}")
    for k in ((2,) if args.replay else (int(x) for x in args.k.split(","))):
        pcfg = replay_pair() if args.replay else portfolio(k, args.ticks, args.check)
        best_port = best_solo = float("inf")
        for _ in range(args.rounds):
            sim = PortfolioSimulation(pcfg)  # the same markets every round (seeded); drawn before the clock starts
            for one in sim.sims:
                touch(one)
            t0 = time.perf_counter()
            sim.advance()
            best_port = min(best_port, time.perf_counter() - t0)
            markets = [one.market for one in sim.sims]
            configs = sim.pcfg.configs  # a replay's: each asset's recordings from the portfolio's tick 0
            ticks = sim.n_ticks
            del sim
            solo = 0.0
            for c, m in zip(configs, markets):
                one = Simulation(c, m)
                touch(one)
                t0 = time.perf_counter()
                one._span(0, ticks)
                solo += time.perf_counter() - t0
            best_solo = min(best_solo, solo)
            del markets
        print(f"{k:>3} {pcfg.base.sim.ticks:>10,} {best_port:>12.3f} {best_solo:>10.3f} {best_port / best_solo:>7.3f}",
              flush=True)


def throttled(args) -> None:
    PortfolioSimulation(portfolio(2, 2000)).advance()  # compiled before timing
    print(f"check interval {args.check:g} s, portfolio.max_gross_notional {args.throttled:g}")
    print(f"{'k':>3} {'ticks':>10} {'blocks s':>9} {'turns s':>8} {'ratio':>6} {'events':>7} {'blocks':>7} "
          f"{'put back':>9} {'ticks in turns':>15}")
    for k in (int(x) for x in args.k.split(",")):
        pcfg = portfolio(k, args.ticks, args.check).with_dotted({"portfolio.max_gross_notional": args.throttled})
        best = {True: float("inf"), False: float("inf")}
        for _ in range(args.rounds):
            for speculate in (True, False):
                sim = PortfolioSimulation(pcfg, speculate=speculate)
                for one in sim.sims:
                    touch(one)
                t0 = time.perf_counter()
                sim.advance()
                best[speculate] = min(best[speculate], time.perf_counter() - t0)
                if speculate:
                    stats, events = dict(sim.block_stats), int(sim.pc[1])
                del sim
        print(f"{k:>3} {args.ticks:>10,} {best[True]:>9.3f} {best[False]:>8.3f} {best[True] / best[False]:>6.3f} "
              f"{events:>7,} {stats['blocks']:>7,} {stats['rolled_back']:>9,} {stats['ticks_in_turns']:>15,}",
              flush=True)


if __name__ == "__main__":
    main()
