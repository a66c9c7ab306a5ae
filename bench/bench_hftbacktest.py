"""Conformance with hftbacktest: the same quoting strategy on the shipped USD-M recording, in this project's
replay and in hftbacktest, with the assumptions set alike; fills, volume and PnL side by side.

The strategy (both sides): every 1 ms, quote one lot (0.001 BTC) each side at mid -/+ HALF ticks of 0.1 USD
(bid rounded down, ask up, post-only against the touch), keep a resting order while its price is within TOL
ticks of the target, else cancel and replace; a side with an order still travelling waits. No hedging, no
skew, no fees, no risk limits. Assumptions set alike: depth and trades only (hftbacktest's converter drops
the book-ticker stream by default: `replay.book_ticker = false`), risk-averse queue, no partial fills,
constant order latency, a constant response latency (`--response-ms`, 0 by default), matching on the venue's clock while the strategy sees the feed
when it was received (`replay.clock = "split"`), decisions at the same instants. `seconds` is each side's
end-to-end run time after compilation, best of 5 (this project: building the replay market from the cached
import, the kernel, the summary; hftbacktest: loading its converted data into the backtester and its strategy
loop), and `loop_seconds` the loop alone (this project: ``Simulation.advance`` on the built market).

hftbacktest is an optional bench dependency (`pip install hftbacktest`); the script says so and exits when it
is missing. Prints a table, asserts nothing.

    .venv/bin/python bench/bench_hftbacktest.py [--latency-ms 10] [--half 5] [--tol 2]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

USDM = os.path.join(ROOT, "data", "binance-btcusdt-2024-08-08", "usdm.jsonl.gz")
REPEAT = 5  # each side's times: the best of this many runs, each from a fresh market / backtester
TICK = 0.1
LOT = 0.001


def ours(latency_ms: float, half: float, tol: int, seconds: float, clock: str, response_ms: float) -> dict:
    import backtest
    from backtest.config import make_config, preset

    cfg = make_config(preset("replay_binance_btcusdt_20240808").model_dump(), **{
        "sim.ticks": int(seconds * 1000), "replay.exchange1": USDM, "replay.exchange2": USDM,
        "market.tick_size": TICK, "market.lot_size": LOT,
        "replay.book_ticker": False, "replay.queue_model": "risk_averse", "replay.partial_fills": False,
        "replay.clock": clock, "replay.response_latency_ms": response_ms,
        "quoting.reference": "exchange1", "quoting.basis_halflife_s": 0.0, "quoting.size_lots": 1,
        "quoting.half_spread_ticks": half, "quoting.skew_ticks_per_lot": 0.0, "quoting.requote_tolerance_ticks": tol,
        "hedging.enabled": False, "hedging.min_hedge_lots": 1, "hedging.slippage_buffer_ticks": 10,
        "latency.order_median_ms": latency_ms, "latency.order_sigma": 0.0,
        "risk.soft_position_lots": 1_000_000, "risk.hard_position_lots": 1_000_000, "risk.max_loss_window": 1e12,
        "risk.kill_drawdown": 1e12, "risk.stale_feed_s": 1e6, "risk.kill_latency_ms": 1e6, "risk.depth_check": False,
        "fees.maker_bps_exchange1": 0.0, "fees.taker_bps_exchange2": 0.0,
    })
    from backtest.markets.generate import generate

    from backtest.engine import Simulation

    backtest.run(cfg.with_dotted({"sim.ticks": 1000}))  # compile outside the timing
    elapsed, kernel = [], []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        market = generate(cfg)
        r = backtest.run(cfg, market=market)
        s = r.summary_dict
        elapsed.append(time.perf_counter() - t0)
        sim = Simulation(cfg, market)
        t0 = time.perf_counter()
        sim.advance(cfg.sim.ticks)
        kernel.append(time.perf_counter() - t0)
    return {"fills": s["fills"], "volume_btc": s["volume_exchange1_lots"] * LOT, "net_pnl": s["net_pnl"],
            "position_btc": s["final_inv1_lots"] * LOT, "seconds": min(elapsed), "loop_seconds": min(kernel),
            "start_ns": market.start_ns}


def theirs(latency_ms: float, half: float, tol: int, seconds: float, start_ns: int, response_ms: float) -> dict:
    from numba import njit
    from hftbacktest import GTX, LIMIT, NEW, BacktestAsset, HashMapMarketDepthBacktest
    from hftbacktest.data.utils import binancefutures

    @njit
    def strategy(hbt, half, tol, steps, start_ns, out):
        # decide at the same instants as this project's replay (the end of each 1 ms tick from its start)
        hbt.elapse(1_000_000)
        hbt.elapse(start_ns - hbt.current_timestamp)
        bid_id = 0
        ask_id = 0
        next_id = 1
        fills = 0.0
        step = 0
        while step < steps and hbt.elapse(1_000_000) == 0:
            step += 1
            hbt.clear_inactive_orders(0)
            depth = hbt.depth(0)
            bb = depth.best_bid_tick
            ba = depth.best_ask_tick
            if bb <= 0 or ba <= bb:
                continue
            mid = (bb + ba) / 2.0
            bid = int(np.floor(mid - half + 1e-9))
            ask = int(np.ceil(mid + half - 1e-9))
            if ask <= bid:
                ask = bid + 1
            if bid >= ba:
                bid = ba - 1
            if ask <= bb:
                ask = bb + 1
            orders = hbt.orders(0)
            for k in range(2):
                oid = bid_id if k == 0 else ask_id
                target = bid if k == 0 else ask
                if oid != 0:
                    o = orders.get(oid)
                    if o is None:
                        oid = 0
                    elif o.req == NEW:
                        continue  # still travelling: wait
                    elif o.status != NEW:
                        oid = 0  # filled, rejected (post-only) or gone
                    elif abs(o.price_tick - target) <= tol:
                        continue
                    else:
                        hbt.cancel(0, oid, False)
                        oid = 0
                if oid == 0:
                    oid = next_id
                    next_id += 1
                    if k == 0:
                        hbt.submit_buy_order(0, oid, target * 0.1, 0.001, GTX, LIMIT, False)
                        bid_id = oid
                    else:
                        hbt.submit_sell_order(0, oid, target * 0.1, 0.001, GTX, LIMIT, False)
                        ask_id = oid
        sv = hbt.state_values(0)
        depth = hbt.depth(0)
        mid = (depth.best_bid + depth.best_ask) / 2.0
        out[0] = sv.num_trades
        out[1] = sv.trading_volume
        out[2] = sv.balance + sv.position * mid - sv.fee
        out[3] = sv.position
        return True

    with tempfile.TemporaryDirectory() as tmp:
        npz = os.path.join(tmp, "usdm.npz")
        t0 = time.perf_counter()
        binancefutures.convert(USDM, output_filename=npz, combined_stream=True)
        convert_s = time.perf_counter() - t0
        lat_ns = int(latency_ms * 1e6)

        def build():
            asset = (BacktestAsset().data([npz]).linear_asset(1.0).constant_order_latency(lat_ns, int(response_ms * 1e6))
                     .risk_adverse_queue_model().no_partial_fill_exchange().trading_value_fee_model(0.0, 0.0)
                     .tick_size(TICK).lot_size(LOT))
            return HashMapMarketDepthBacktest([asset])

        out = np.zeros(4)
        warm = build()
        strategy(warm, half, tol, 1000, start_ns, out)  # compile outside the timing
        warm.close()
        elapsed, loop = [], []
        for _ in range(REPEAT):
            t0 = time.perf_counter()
            hbt = build()
            t1 = time.perf_counter()
            strategy(hbt, half, tol, int(seconds * 1000), start_ns, out)
            t2 = time.perf_counter()
            hbt.close()
            elapsed.append(t2 - t0)
            loop.append(t2 - t1)
    return {"fills": int(out[0]), "volume_btc": out[1], "net_pnl": out[2], "position_btc": out[3],
            "seconds": min(elapsed), "loop_seconds": min(loop), "convert_s": convert_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--latency-ms", type=float, default=10.0)
    ap.add_argument("--half", type=float, default=5.0, help="half-spread, ticks of 0.1 USD")
    ap.add_argument("--tol", type=int, default=2, help="requote tolerance, ticks")
    ap.add_argument("--seconds", type=float, default=340.0)
    ap.add_argument("--response-ms", type=float, default=0.0,
                    help="response latency, both sides (acks and fills reaching the strategy)")
    ap.add_argument("--clock", default="split", choices=("split", "exchange", "receive"),
                    help="this project's replay.clock (hftbacktest matches on the venue's clock and shows the "
                    "strategy the feed as received: 'split')")
    args = ap.parse_args()
    try:
        import hftbacktest  # noqa: F401
    except ImportError:
        print("hftbacktest is not installed: pip install hftbacktest (an optional bench dependency)")
        return
    a = ours(args.latency_ms, args.half, args.tol, args.seconds, args.clock, args.response_ms)
    b = theirs(args.latency_ms, args.half, args.tol, args.seconds, a["start_ns"], args.response_ms)
    print(f"USD-M BTCUSDT, {args.seconds:g} s, half-spread {args.half:g} ticks, tolerance {args.tol} ticks, "
          f"order latency {args.latency_ms:g} ms, response latency {args.response_ms:g} ms, this project's clock "
          f"{args.clock}")
    print(f"{'':22}{'this project':>14}{'hftbacktest':>14}{'ratio':>8}")
    for key, fmt in (("fills", "{:.0f}"), ("volume_btc", "{:.3f}"), ("net_pnl", "{:.4f}"),
                     ("position_btc", "{:.3f}"), ("seconds", "{:.3f}"), ("loop_seconds", "{:.3f}")):
        ratio = a[key] / b[key] if b[key] else float("nan")
        print(f"{key:22}{fmt.format(a[key]):>14}{fmt.format(b[key]):>14}{ratio:>8.3f}")
    print(f"hftbacktest's conversion of the capture: {b['convert_s']:.2f} s")


if __name__ == "__main__":
    main()
