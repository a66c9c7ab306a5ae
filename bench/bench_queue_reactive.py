"""The queue-reactive market's speed (issue 23: at least 5 million book events per second in the generator, and a
10^6-tick calibrated run end to end within 3x the zero-intelligence model's).

1. The generator alone (``kernels.queue_reactive.generate_venue``): Exchange 1 of the market calibrated to the BTC
   recording (``reports/figures/calibration/queue_reactive.toml``) over ``--span`` seconds, its uniforms drawn
   beforehand and its output allocated beforehand, best of ``--rounds`` (``--config``: another queue-reactive
   config, e.g. one where Exchange 2 leads). A book event is a best bid or ask row printed (a limit order, a cancel,
   an order inside the spread or a market order prints one; Exchange 1 repricing to a leading Exchange 2 prints
   two), or a move of a leading Exchange 2.
2. End to end (``backtest.engine.run``, the frames included): ``--ticks`` ticks of the queue-reactive market calibrated
   to the recording (1 ms ticks: its market printed, then replayed) against ``--ticks`` ticks of the
   zero-intelligence market calibrated to it (``reports/figures/calibration/calibrated.toml``, 10 ms ticks),
   alternately, best of ``--rounds`` each after a warm-up run.

    .venv/bin/python bench/bench_queue_reactive.py [--span 20000] [--ticks 1000000] [--rounds 3] [--config FILE]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def generator_rate(config, span_s: float, rounds: int) -> tuple[float, int]:
    """(best events per second, events) of Exchange 1's generator over ``span_s`` seconds."""
    import backtest.markets.queue_reactive as qrm
    from kernels.queue_reactive import N_STATE, S_A, S_B, S_LEAD_N, S_LEAD_SIGN, S_META_SIGN, S_QA, S_QB, generate_venue
    from kernels.records import ME_BBO_ASK, ME_BBO_BID, market_event_dt

    best = float("inf")
    events = 0
    for _ in range(rounds + 1):  # the first compiles
        rng = np.random.default_rng(1)
        rows = int(qrm.expected_events_per_s(config) * span_s * 6) + 10_000
        out = np.empty(rows, dtype=market_event_dt)
        uniforms = rng.random(int(qrm.expected_events_per_s(config) * span_s * 24) + 100_000)
        state = np.zeros(N_STATE)
        # the opening touch at the config's price (a BTC market moves hundreds of ticks a second)
        step = config.market.tick_size * config.queue_reactive.exchange1_price_step_ticks
        bid = int(config.market.initial_price / step)
        state[S_B], state[S_A], state[S_QB], state[S_QA], state[S_META_SIGN] = bid, bid + 1, 50_000, 50_000, 1
        state[S_LEAD_SIGN] = 1
        leading = config.queue_reactive.lead_moves_per_s > 0
        lead_out = np.empty((int(qrm.expected_events_per_s(config) * span_s) + 1000 if leading else 0, 2))
        args = qrm.generator_inputs(config)
        t0 = time.perf_counter()
        u, k, done = generate_venue(*args, state, uniforms, 0, span_s, out, 0, lead_out)
        elapsed = time.perf_counter() - t0
        if not done:
            raise SystemExit("the preallocated draws or rows ran out: raise the factors")
        events = (int(np.count_nonzero((out["kind"][:k] == ME_BBO_BID) | (out["kind"][:k] == ME_BBO_ASK))) - 2
                  + int(state[S_LEAD_N]))
        best = min(best, elapsed)
    return events / best, events


def end_to_end(configs: dict, rounds: int) -> dict[str, float]:
    from backtest.engine import run

    best = {name: float("inf") for name in configs}
    for name, cfg in configs.items():
        run(cfg.with_dotted({"sim.ticks": 20_000}))  # compile
    for _ in range(rounds):
        for name, cfg in configs.items():
            t0 = time.perf_counter()
            run(cfg)
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def main() -> None:
    from backtest.config import load_config

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--span", type=float, default=20_000.0, help="seconds of market the generator prints")
    ap.add_argument("--ticks", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--config", default=str(ROOT / "reports/figures/calibration/queue_reactive.toml"),
                    help="the queue-reactive config (default: the BTC calibration)")
    args = ap.parse_args()
    qr = load_config(args.config)
    zi = load_config(ROOT / "reports/figures/calibration/calibrated.toml")
    rate, events = generator_rate(qr, args.span, args.rounds)
    print(f"generator: {events:,} book events in {args.span:g} s of market, {rate / 1e6:.2f} M events/s (best of "
          f"{args.rounds})")
    t = end_to_end({"queue-reactive": qr.with_dotted({"sim.ticks": args.ticks}),
                    "zero-intelligence": zi.with_dotted({"sim.ticks": args.ticks})}, args.rounds)
    print(f"end to end, {args.ticks:,} ticks: queue-reactive {t['queue-reactive']:.2f} s, zero-intelligence "
          f"{t['zero-intelligence']:.2f} s, ratio {t['queue-reactive'] / t['zero-intelligence']:.2f}")


if __name__ == "__main__":
    main()
