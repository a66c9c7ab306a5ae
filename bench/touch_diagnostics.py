"""What the recorded touch does around a move, against a queue-reactive model's own tape (the README's "Who closes
the gap" figures). Prints figures, asserts nothing.

For each shipped recording (``--symbols``) and each model config given (its tape printed with its own seed):

* *moves up*: how often the best ask moves up (its queue emptied), how far, and what the touch does next (the bid
  moving up into the gap: the price follows; the ask back down: it goes back; the ask up again);
* *the level that empties*: its queue just before, and whether it had been the best 2-100 ms before (a young level
  had not);
* *who closes a gap*: of the orders inside a spread wider than a tick, the share on the side whose best did not move
  away last (``kernels.queue_reactive.gap_walk``, as ``calibrate --gap-sides`` counts them);
* *the trade stream's clock* (recordings only): the share of market orders whose first print is at a price the book
  ticker received before it had already left, and the orders that took their whole queue when each is met with the
  touch before the first change its print explains (within 5 ms) instead of the last touch received;
* *runs and the perpetual* (recordings only): a move up of the ask is a run's continuation when the level it left
  had been uncovered by a move up less than 20 ms before, else a run's start; how often the perpetual's mid rose
  (fell) in the 5-100 ms before a run's start, against random times.

    .venv/bin/python bench/touch_diagnostics.py [--symbols eth,btc] [--config /tmp/eth_gap.toml ...]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from backtest.config import load_config  # noqa: E402
from backtest.markets.calibrate import fine_mids, grid_steps  # noqa: E402
from backtest.markets.queue_reactive import queue_reactive_recording  # noqa: E402
from backtest.markets.queue_reactive_fit import IMBALANCE_BINS, touch_messages  # noqa: E402
from backtest.markets.replay import load_venue  # noqa: E402
from kernels.queue_reactive import gap_walk  # noqa: E402
from kernels.records import ME_TRADE  # noqa: E402

DATA = os.path.join(os.path.dirname(ROOT), "shared", "data", "binance-{}usdt-2024-08-08")
ALIGN_NS = 5_000_000  # how far before an order's receipt a change of the touch may be its print's
LAGS_MS = (2, 5, 10, 20, 50, 100)


def _touch(d1, d2):
    tick, lot, pk1, qk1, pk2, qk2 = grid_steps(d1, d2)
    start, end = max(d1.start_ns, d2.start_ns), min(d1.end_ns, d2.end_ns)
    return qk1, start, end, touch_messages(d1, qk1, start, end)


def moves_up(name, t, bid, ask, qa, span_s):
    up = np.flatnonzero(ask[1:] > ask[:-1]) + 1
    nxt = {"bid up (follows)": 0, "ask down (goes back)": 0, "ask up again": 0, "other": 0}
    for m in up:
        j = m + 1
        while j < len(t) and ask[j] == ask[m] and bid[j] == bid[m]:
            j += 1
        if j >= len(t):
            continue
        if bid[j] > bid[m] and ask[j] == ask[m]:
            nxt["bid up (follows)"] += 1
        elif ask[j] < ask[m] and bid[j] == bid[m]:
            nxt["ask down (goes back)"] += 1
        elif ask[j] > ask[m] and bid[j] == bid[m]:
            nxt["ask up again"] += 1
        else:
            nxt["other"] += 1
    n = max(1, sum(nxt.values()))
    print(f"{name}: the ask moved up {len(up)} times ({len(up) / span_s:.2f}/s), median {np.median(ask[up] - ask[up - 1]):.0f} "
          "ticks; next change of the touch: " + ", ".join(f"{k} {v / n:.0%}" for k, v in nxt.items()))
    before = qa[up - 1]
    young = []
    for lag in LAGS_MS:
        j = np.searchsorted(t, t[up] - lag * 1_000_000, side="right") - 1
        young.append(np.mean((j < 0) | (ask[np.maximum(j, 0)] != ask[up - 1])))
    print(f"   the level that emptied: its queue just before, median {np.median(before):.0f} lots; not the best "
          + ", ".join(f"{lag} ms" for lag in LAGS_MS) + " before: " + ", ".join(f"{y:.0%}" for y in young))


def gap_sides(name, t, bid, qb, ask, qa):
    time_open = np.zeros((2, 1, IMBALANCE_BINS))
    in_gap = np.zeros(2)
    gap_walk(t, bid, qb, ask, qa, np.array([1], dtype=np.int64), IMBALANCE_BINS, time_open, in_gap)
    n = in_gap.sum()
    print(f"   orders inside a gap: {int(n)} ({time_open.sum():.2f} s wide), on the side that did not open it "
          f"{in_gap[1] / max(n, 1):.0%}")


def trade_clock(d1, qk1, start, end, t, bid, qb, ask, qa):
    ev = d1.events
    tr = ev[(ev["kind"] == ME_TRADE) & (ev["recv_ts"] >= start) & (ev["recv_ts"] < end)]
    new = np.ones(len(tr), dtype=bool)
    new[1:] = (tr["exch_ts"][1:] != tr["exch_ts"][:-1]) | (tr["side"][1:] != tr["side"][:-1])
    first = np.flatnonzero(new)
    size = np.bincount(np.cumsum(new) - 1, weights=tr["qty"]).astype(np.int64) * qk1
    buy = tr["side"][first] == 0
    p0, r = tr["price"][first], tr["recv_ts"][first]
    last = np.searchsorted(t, r, side="left") - 1
    ok = last >= 1
    touch = np.where(buy, ask[last], bid[last])
    past = np.where(buy, p0 < touch, p0 > touch)
    met_last = np.where(buy, qa[last], qb[last])
    met_aligned = met_last.copy()
    for n in np.flatnonzero(ok):
        px, q = (ask, qa) if buy[n] else (bid, qb)
        j, k = last[n], last[n]
        while j >= 1 and t[j] > r[n] - ALIGN_NS:
            away = px[j] > px[j - 1] if buy[n] else px[j] < px[j - 1]
            shrank = px[j] == px[j - 1] and q[j] < q[j - 1]
            if (away or shrank) and px[j - 1] == p0[n]:
                k = j - 1
            j -= 1
        met_aligned[n] = q[k]
    print(f"   market orders: {ok.sum()}; the touch received before the print already past its price: {past[ok].mean():.0%}")
    for label, met in (("the last touch received", met_last), ("the touch before the print's change", met_aligned)):
        took = size >= met
        print(f"   met with {label}: took their whole queue {int(took[ok].sum())}, met a queue under 10 000 lots "
              f"{int(np.sum(ok & (met < 10_000)))}")


RUN_MS = 20  # a move up within this long after the one that uncovered its level continues a run


def runs_and_the_perpetual(d1, d2, start, t, ask):
    up = np.flatnonzero(ask[1:] > ask[:-1]) + 1
    changed = np.flatnonzero(ask[1:] != ask[:-1]) + 1
    starts = []
    for m in up:
        i = np.searchsorted(changed, m) - 1
        k = changed[i] if i >= 0 else -1
        if not (k > 0 and ask[k] > ask[k - 1] and t[m] - t[k] < RUN_MS * 1_000_000):
            starts.append(m)
    _, mid2 = fine_mids(d1, d2)  # one a ms from the later start, as received
    at = (t[np.array(starts, dtype=np.int64)] - start) // 1_000_000
    at = at[(at > 100) & (at < len(mid2))]
    rnd = np.random.default_rng(1).integers(101, len(mid2), 20_000)
    print(f"   runs: {len(starts)} starts, {len(up) - len(starts)} continuations; the perpetual's mid in the "
          "5/20/50/100 ms before a start: " + ", ".join(
              f"rose {np.mean(mid2[at] > mid2[at - w]):.0%} fell {np.mean(mid2[at] < mid2[at - w]):.0%} (random "
              f"{np.mean(mid2[rnd] > mid2[rnd - w]):.0%}/{np.mean(mid2[rnd] < mid2[rnd - w]):.0%})" for w in (5, 20, 50, 100)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--symbols", default="eth,btc")
    ap.add_argument("--config", action="append", default=[], help="a queue-reactive config whose tape to measure")
    args = ap.parse_args()
    for sym in [s for s in args.symbols.split(",") if s]:
        base = DATA.format(sym)
        d1 = load_venue(os.path.join(base, "spot.jsonl.gz"), "exchange1", [])
        d2 = load_venue(os.path.join(base, "usdm.jsonl.gz"), "exchange2", [])
        qk1, start, end, (t, bid, qb, ask, qa) = _touch(d1, d2)
        moves_up(f"{sym.upper()} recording", t, bid, ask, qa, (end - start) / 1e9)
        gap_sides(sym, t, bid, qb, ask, qa)
        trade_clock(d1, qk1, start, end, t, bid, qb, ask, qa)
        runs_and_the_perpetual(d1, d2, start, t, ask)
    for path in args.config:
        d1, d2 = queue_reactive_recording(load_config(path))
        qk1, start, end, (t, bid, qb, ask, qa) = _touch(d1, d2)
        moves_up(f"model {path}", t, bid, ask, qa, (end - start) / 1e9)
        gap_sides(path, t, bid, qb, ask, qa)


if __name__ == "__main__":
    main()
