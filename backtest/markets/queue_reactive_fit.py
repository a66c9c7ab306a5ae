"""The queue-reactive market (``backtest.markets.queue_reactive``) estimated from a recording of two venues.

What ``estimate`` measures on a recording (Exchange 1's book ticker for the touch, its trades for the market
orders, Exchange 2's for its levels):

* the six state-dependent flows: each change of the recorded touch classified (``kernels.queue_reactive.touch_walk``)
  and counted in the state it happened in, divided by the time the touch spent in that state; a state seen for
  less than ``MIN_STATE_S`` takes a pooled rate (its spread row's, else the wider rows' together), and the
  estimate says how many did;
* the distributions (19 quantiles each): limit and in-spread order sizes, the fraction of its queue a cancel
  takes, the jump of an emptied queue's price and the queue standing there after it, how far an order inside the
  spread goes;
* market orders (the prints sharing an exchange time and side are one order), each against the touch it met: the
  share that took the whole queue per quintile of that queue's size, the lots they took beyond it, the fraction the
  others took; the rate and the share of buys per imbalance bin;
* market orders' Hawkes parameters: maximum likelihood over a grid (branching ratio, decay), the baseline
  making the mean rate the recorded one;
* trade signs: the meta-order model's sign_follow and tail fitted to the recorded autocorrelation of signs at
  lags 1-30 by least squares (for each tail, the best follow in closed form);
* the leads: the distribution of lags of the cross-correlation of the two mids' 1 ms changes above its noise
  (``lead_distribution``) and the share of the moves whose lead is spread over the window instead
  (``diffuse_share``), and the basis' Ornstein-Uhlenbeck fit on Exchange 2's mid minus Exchange 1's mid the
  median lead later, on a 100 ms grid, drawn in the model at the interval that moves Exchange 2's mid as often as
  recorded (``_basis_interval``);
* feed latencies: each venue's median receive minus exchange time;
* with ``perp_leads``, Exchange 2 as the leader (``leader_of``, ``_lead_estimates``): its moves' rate and sizes, the
  chance one repeats the last's direction that gives its recorded 1 s variance, the chance of a move up by where it
  stands against Exchange 1; the trend keys against its trend; Exchange 1's repricing rate matched by simulation to
  the recorded gap's spread (``_pull_rate``); and with ``lead_follow`` the chances it follows each kind of
  Exchange 1 market order, matched by simulation to the recorded moves after them (``_follow_probability``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from backtest.markets.calibrate import LEAD_LAG_MS, Estimate, config_of, fine_mids, grid_steps, lead_lag
from backtest.config import ConfigError, SimConfig
from backtest.markets.data import MarketData
from backtest.markets.queue_reactive import DISTRIBUTION_KEYS, FLOW_KEYS
from kernels.queue_reactive import (N_DISTRIBUTIONS, N_FLOWS, N_TRENDS, Q_CANCEL_ASK, Q_CANCEL_BID, Q_INSPREAD_ASK,
                                    Q_INSPREAD_BID, Q_LIMIT_ASK, Q_LIMIT_BID, QT_CANCEL,
                                    QT_IMPROVE, QT_LEAD_MOVE, QT_MARKET, QT_REFILL_TREND, QT_SWEEP, QUANTILE_PROBS, TREND_DOWN,
                                    TREND_FLAT, TREND_UP, gap_walk, hawkes_em, hawkes_loglik, touch_walk)
from kernels.records import ME_BBO_ASK, ME_BBO_BID, ME_TRADE, MF_NO_EXCH_TS

MIN_STATE_S = 2.0  # a state seen for less than this takes its spread row's pooled rates
# the wide rows together are pooled on this many events however briefly they were seen: a wide spread closes within
# milliseconds, so on a liquid recording they may hold under MIN_STATE_S with thousands of events (ETH: 1.8 s, 2 421)
MIN_WIDE_EVENTS = 100
TRADE_WINDOW_MS = 5.0  # a queue decrease this close to a market order on its side is the order's, not a cancel
SPREAD_BINS = (1, 2, 3, 6, 21, 101)  # lower bounds, Exchange 1 ticks
IMBALANCE_BINS = 5
SIGN_LAGS = 30
TAKE_BINS = 5
LEAD_NOISE_SDS = 1.0
MIN_TREND_ORDERS = 20  # market orders a (trend, imbalance) cell needs for its own share of buys
HAWKES_BRANCHING_GRID = np.round(np.arange(0.0, 0.951, 0.05), 2)
HAWKES_EM_ITERATIONS = 60
HAWKES_DECAY_GRID = np.geomspace(0.1, 1000.0, 41)


@dataclass
class MarketOrders:
    """One venue's market orders (prints sharing an exchange time and aggressor side): receive time (ns), sign
    (+1 buy), size (lots of the grid), first and last price (venue ticks)."""
    recv_ns: np.ndarray
    sign: np.ndarray
    qty: np.ndarray


def market_orders(d: MarketData, qk: int, start: int, end: int) -> MarketOrders:
    ev = d.events
    tr = ev[(ev["kind"] == ME_TRADE) & (ev["recv_ts"] >= start) & (ev["recv_ts"] < end)]
    if not len(tr):
        return MarketOrders(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    new = np.ones(len(tr), dtype=bool)
    new[1:] = (tr["exch_ts"][1:] != tr["exch_ts"][:-1]) | (tr["side"][1:] != tr["side"][:-1])
    group = np.cumsum(new) - 1
    qty = np.bincount(group, weights=tr["qty"]).astype(np.int64) * qk
    first = np.flatnonzero(new)
    return MarketOrders(tr["recv_ts"][first], np.where(tr["side"][first] == 0, 1, -1), qty)


def touch_messages(d: MarketData, qk: int, start: int, end: int):
    """The recorded book ticker as one row per message: (receive ns, bid, bid qty, ask, ask qty), the prices in
    the venue's ticks, the sizes in lots of the grid; each side carried forward from its last update."""
    ev = d.events
    sel = ((ev["kind"] == ME_BBO_BID) | (ev["kind"] == ME_BBO_ASK)) & (ev["recv_ts"] >= start) & (ev["recv_ts"] < end)
    rows = ev[sel]
    if len(rows) < 2:
        raise ConfigError([f"{d.venue}: no book ticker in the span: the queue-reactive model is estimated from the "
                           "best bid and ask stream (Binance @bookTicker)"])
    t = rows["recv_ts"]
    last_of_message = np.ones(len(rows), dtype=bool)
    last_of_message[:-1] = t[1:] != t[:-1]
    msg = np.cumsum(np.r_[True, last_of_message[:-1]]) - 1
    n = int(msg[-1]) + 1
    out = []
    for kind in (ME_BBO_BID, ME_BBO_ASK):
        px = np.full(n, -1, dtype=np.int64)
        q = np.zeros(n, dtype=np.int64)
        is_kind = rows["kind"] == kind
        px[msg[is_kind]] = rows["price"][is_kind]  # the message's last update of that side
        q[msg[is_kind]] = rows["qty"][is_kind] * qk
        have = np.maximum.accumulate(np.where(px >= 0, np.arange(n), -1))
        px = np.where(have >= 0, px[np.maximum(have, 0)], 0)
        q = np.where(have >= 0, q[np.maximum(have, 0)], 0)
        out += [px, q]
    times = t[last_of_message]
    return times, out[0], out[1], out[2], out[3]


def touch_met(mo: MarketOrders, times: np.ndarray, qb: np.ndarray, qa: np.ndarray):
    """Each market order against the touch it met, the last message received before it (``touch_messages``'
    ``times``, ``qb``, ``qa``): (seen: the orders that met one, at: that message's index for each, queue: the lots
    of the queue it hit, took: whether it took them all)."""
    before = np.searchsorted(times, mo.recv_ns, side="left") - 1
    seen = before >= 0
    at = before[seen]
    queue = np.where(mo.sign[seen] > 0, qa[at], qb[at])
    return seen, at, queue, mo.qty[seen] >= queue


def imbalance_bins_of(qb: np.ndarray, qa: np.ndarray, n: int) -> np.ndarray:
    """``kernels.queue_reactive.imbalance_bin`` of arrays."""
    total = qb + qa
    x = np.where(total > 0, (qb - qa) / np.maximum(total, 1), 0.0)
    return np.clip(((x + 1.0) * 0.5 * n).astype(np.int64), 0, n - 1)


def _quantiles_of(x, floor: float = 1.0) -> list[float]:
    x = np.asarray(x, dtype=float)
    return [float(v) for v in np.maximum(floor, np.quantile(x, QUANTILE_PROBS))]


def _pooled_rates(counts: np.ndarray, time_in: np.ndarray):
    """Rates per state. A state seen for less than MIN_STATE_S takes its spread row's pooled rate; a row seen that
    little, the pooled rate of all rows wider than one tick (a wide spread closes within milliseconds: those rows
    together may hold a few seconds, or under MIN_STATE_S with MIN_WIDE_EVENTS events or more), or of every row if
    even they do not. Returns (rates, states pooled).

    Why not every row's rate for a wide row whenever the wide rows were brief: the orders inside the spread happen only
    in the wide rows, so their rate over all the time (mostly one-tick time) understates theirs in a wide spread by
    as much as the one-tick spread dominates: on the ETH recording 1.9 against 363 a second, and the model's spread
    stayed open a fifth of the time (the recording's, 1%)."""
    rates = np.zeros_like(counts)

    def pooled(rows, min_events=None):
        t = time_in[rows].sum()
        enough = t >= MIN_STATE_S or (min_events is not None and t > 0 and counts[:, rows, :].sum() >= min_events)
        return counts[:, rows, :].sum(axis=(1, 2)) / t if enough else None

    everything = pooled(slice(0, None))
    wide = pooled(slice(1, None), MIN_WIDE_EVENTS)
    n_pooled = 0
    for s in range(time_in.shape[0]):
        row = pooled(slice(s, s + 1))
        if row is None:
            row = wide if (s > 0 and wide is not None) else everything
        for i in range(time_in.shape[1]):
            if time_in[s, i] >= MIN_STATE_S:
                rates[:, s, i] = counts[:, s, i] / time_in[s, i]
            else:
                rates[:, s, i] = row
                n_pooled += 1
    return rates, n_pooled


def _trend_multipliers(events: np.ndarray, expected: np.ndarray, trend_time: np.ndarray) -> np.ndarray:
    """Per row (a flow) and trend: the events over those the trend-free intensities give there (the maximum
    likelihood of a Poisson multiplier); 1 where the trend was seen under MIN_STATE_S or nothing was expected."""
    ok = (trend_time[None, :] >= MIN_STATE_S) & (expected > 0)
    return np.where(ok, events / np.where(ok, expected, 1.0), 1.0)


def _logit(p: float) -> float:
    p = min(max(p, 1e-3), 1.0 - 1e-3)
    return math.log(p / (1.0 - p))


def _share_by_trend(tb: np.ndarray, cells: np.ndarray, hit: np.ndarray, n_cells: int,
                    trend_first: bool = True) -> list[list[float]]:
    """The share of orders with ``hit`` per (trend ``tb``, cell ``cells``: an imbalance or queue bin). A cell with
    under MIN_TREND_ORDERS orders takes its trend's share (``trend_first``), or else its cell's share over every
    trend moved by the trend's (their log-odds added: the trend's over all), or the cell's alone when its trend is
    that thin too; a trend and cell both that thin take the share over all."""
    table = []
    everyone = float(hit.mean())
    for t in range(N_TRENDS):
        in_t = tb == t
        row = []
        for i in range(n_cells):
            cell = in_t & (cells == i)
            in_i = cells == i
            if cell.sum() >= MIN_TREND_ORDERS:
                row.append(float(hit[cell].mean()))
            elif trend_first and in_t.sum() >= MIN_TREND_ORDERS:
                row.append(float(hit[in_t].mean()))
            elif in_i.sum() >= MIN_TREND_ORDERS:
                share = float(hit[in_i].mean())
                if in_t.sum() >= MIN_TREND_ORDERS:
                    x = _logit(share) + _logit(float(hit[in_t].mean())) - _logit(everyone)
                    share = 1.0 / (1.0 + math.exp(-x))
                row.append(share)
            else:
                row.append(everyone)
        table.append(row)
    return table


def fit_hawkes(times_s: np.ndarray, span: float) -> tuple[float, float, float, float]:
    """(baseline, branching, decay, log-likelihood gain over Poisson) by a grid over branching and decay, the
    baseline giving the recorded mean rate."""
    rate = len(times_s) / span
    best = (rate, 0.0, 1.0, hawkes_loglik(times_s, span, rate, 0.0, 1.0))
    poisson = best[3]
    for n in HAWKES_BRANCHING_GRID[1:]:
        for beta in HAWKES_DECAY_GRID:
            ll = hawkes_loglik(times_s, span, rate * (1 - n), float(n), float(beta))
            if ll > best[3]:
                best = (rate * (1 - n), float(n), float(beta), ll)
    return best[0], best[1], best[2], best[3] - poisson


def fit_hawkes_by_trend(times_s: np.ndarray, trend: np.ndarray, trend_time: np.ndarray, span: float):
    """(baseline per trend, branching, decay, log-likelihood gain over Poisson arrivals at each trend's own rate):
    ``kernels.queue_reactive.hawkes_em`` for each decay of a grid, the best kept. ``times_s`` sorted, ``trend``
    each arrival's, ``trend_time`` seconds spent in each."""
    count = np.bincount(trend, minlength=N_TRENDS)
    rate_per_trend = count / np.maximum(trend_time, 1e-9)
    poisson = float(np.sum(count * np.log(np.maximum(rate_per_trend, 1e-300))) - np.dot(rate_per_trend, trend_time))
    best = (rate_per_trend, 0.0, 1.0, poisson)
    for beta in HAWKES_DECAY_GRID:
        nu, n, ll = hawkes_em(times_s, trend, trend_time, span, 0.5, float(beta), HAWKES_EM_ITERATIONS)
        if ll > best[3]:
            best = (np.asarray(nu), float(n), float(beta), float(ll))
    return best[0], best[1], best[2], best[3] - poisson


def metaorder_acf(tail: float, lags: np.ndarray, terms: int = 200_000) -> np.ndarray:
    """P(two market orders ``lags`` apart belong to one meta-order) when lengths have P(L >= l) = l^-tail:
    sum_{l > k} l^-tail / sum_{l >= 1} l^-tail (the series' tail beyond ``terms`` by its integral)."""
    l = np.arange(1, terms + 1, dtype=float)
    p = l ** -tail
    rest = terms ** (1 - tail) / (tail - 1)
    total = p.sum() + rest
    cum = np.cumsum(p)
    return np.array([(total - cum[k - 1]) / total for k in lags])


def fit_signs(signs: np.ndarray) -> tuple[float, float, np.ndarray]:
    """(follow, tail, the recorded autocorrelation at lags 1-SIGN_LAGS): least squares of follow^2 x
    metaorder_acf(tail) on the recorded autocorrelation."""
    x = signs - signs.mean()
    d = float(np.dot(x, x))
    lags = np.arange(1, SIGN_LAGS + 1)
    acf = np.array([np.dot(x[k:], x[:-k]) / d for k in lags]) if d > 0 and len(x) > 2 * SIGN_LAGS else np.zeros(SIGN_LAGS)
    best = (0.0, 1.5, float(np.dot(acf, acf)))
    for tail in np.round(np.arange(1.05, 4.001, 0.05), 2):
        s = metaorder_acf(float(tail), lags)
        rho2 = float(np.clip(np.dot(acf, s) / np.dot(s, s), 0.0, 1.0))
        err = float(np.sum((acf - rho2 * s) ** 2))
        if err < best[2]:
            best = (math.sqrt(rho2), float(tail), err)
    return best[0], best[1], acf


def _feed_skew_ms(est) -> float:
    """Exchange 1's estimated feed latency minus Exchange 2's, ms (0 when either is unknown)."""
    lat = {e.key: e.value for e in est if e.key.endswith("feed_latency_ms")}
    a, b = lat.get("queue_reactive.exchange1_feed_latency_ms"), lat.get("queue_reactive.exchange2_feed_latency_ms")
    return float(a - b) if a is not None and b is not None else 0.0


def lead_distribution(ll: dict, moves: int, skew_ms: float = 0.0) -> tuple[list[float], str]:
    """Quantiles of the lead (ms, + = Exchange 2 first, on the venues' clocks) from the cross-correlation of the
    received mids' 1 ms changes: the lags' correlations above LEAD_NOISE_SDS times their noise level
    (1 / sqrt(Exchange 1's moves)) as weights, each lag less ``skew_ms`` (Exchange 1's feed latency minus
    Exchange 2's, which makes Exchange 2 look that much earlier as received). All leads 0 (the venues move
    together) when no lag stands out."""
    xcorr = np.nan_to_num(ll["xcorr"])
    noise = LEAD_NOISE_SDS / math.sqrt(max(1, moves))
    w = np.maximum(xcorr - noise, 0.0)
    if w.sum() <= 0:
        return [0.0] * len(QUANTILE_PROBS), (f"no lag's cross-correlation of the mids' 1 ms changes stands above "
                                              f"{noise:.3f}: the venues move together (lead 0)")
    lead = -ll["lags"][::-1].astype(float) - round(skew_ms)  # ascending leads
    # normalised by its own last value, not by w.sum(): the two sums add in different orders (the pairwise one
    # by the machine's vector width), and a last value a rounding below 1 sent the top quantile to the last lag,
    # whose weight is 0 (BTC's lead_at_trade_ms[18] came out 101 on one machine and 94 on another)
    cdf = np.cumsum(w[::-1])
    cdf /= cdf[-1]
    q = [float(lead[min(len(lead) - 1, int(np.searchsorted(cdf, max(p, 1e-9))))]) for p in QUANTILE_PROBS]
    share = float(w[ll["lags"] < 0].sum() / w.sum())
    return q, (f"the lags whose cross-correlation of the received mids' 1 ms changes exceeds {noise:.3f} (noise x "
               f"{LEAD_NOISE_SDS:g}), weighted by it, less the feed latencies' difference ({skew_ms:+.1f} ms): "
               f"{share:.0%} of the weight has Exchange 2 first; the peak {ll['peak']:.3f} at {-ll['lag']:+.0f} ms "
               "lead as received")


def diffuse_share(ll: dict, moves: int) -> tuple[float, str]:
    """The share of Exchange 1's moves Exchange 2 makes at a lead spread over the window rather than at the lags of
    ``lead_distribution``: 1 - the cross-correlation summed over the lags above the noise / summed over every lag
    (the venues' whole co-movement within the window, the noise summing to about nothing). On BTC the lags above
    the noise hold 54% of it, on ETH 13%: drawing every move's lead from them alone makes the model's peak
    correlation twice (BTC) and six times (ETH) the recorded one. Opt-in (``calibrate --diffuse-leads``): it also
    takes part of the hedge's latency cost away on ETH (README)."""
    xcorr = np.nan_to_num(ll["xcorr"])
    noise = LEAD_NOISE_SDS / math.sqrt(max(1, moves))
    total = float(xcorr.sum())
    above = float(xcorr[xcorr > noise].sum())
    if total <= 0 or above <= 0:
        return 0.0, f"no co-movement to spread (cross-correlation summed over the lags {total:.3f})"
    share = min(1.0, max(0.0, 1.0 - above / total))
    return share, (f"1 - the cross-correlation of the mids' 1 ms changes summed over the lags above {noise:.3f} "
                   f"({above:.3f}) / summed over every lag within {LEAD_LAG_MS} ms ({total:.3f})")


DIFFUSE_SMOOTH_MS = 5  # the diffuse leads' weights: the cross-correlation averaged over this many ms each way


def diffuse_weights(ll: dict, skew_ms: float = 0.0) -> list[float]:
    """``lead_diffuse_weights``: for each lead from -LEAD_LAG_MS to +LEAD_LAG_MS ms, the venues' cross-correlation at
    the lag it is as received (less ``skew_ms``, as ``lead_distribution``), averaged over +/-DIFFUSE_SMOOTH_MS ms,
    where positive (0 past the measured lags). Uniform leads took most of the hedge's latency cost away on ETH
    (45% of the recorded -> 14%); shaped like the co-movement, 26% (README)."""
    xcorr = np.nan_to_num(ll["xcorr"])
    box = np.ones(2 * DIFFUSE_SMOOTH_MS + 1) / (2 * DIFFUSE_SMOOTH_MS + 1)
    smooth = np.maximum(np.convolve(xcorr, box, mode="same"), 0.0)
    lags = ll["lags"].astype(np.int64)
    by_lag = dict(zip(lags.tolist(), smooth.tolist()))
    weights = [by_lag.get(-lead - round(skew_ms), 0.0) for lead in range(-LEAD_LAG_MS, LEAD_LAG_MS + 1)]
    return weights if sum(weights) > 0 else [1.0] * len(weights)


def _trend_estimates(put, prefix, window_ms, rates, by_trend, time_by_trend, times, bid, ask, mo, seen, at, imb,
                     sign, t_s, span, leader: Leader | None = None, takes: tuple | None = None) -> None:
    """The trend's keys: each flow's multiplier per trend (the maximum likelihood of a Poisson multiplier on the
    trend-free tables), the market orders' Hawkes process with a baseline per trend (EM), and their share of buys
    per trend and imbalance bin. ``at``: the touch message each market order met; ``seen``: the orders that met one."""
    trend_time = time_by_trend.sum(axis=(0, 1))
    whose = "Exchange 2's mid" if leader is not None else "the mid"
    put(prefix + "trend_window_ms", window_ms, f"the state's trend: {whose} against {window_ms:g} ms before; the "
        f"recorded touch fell {trend_time[TREND_DOWN]:.0f} s, stood {trend_time[TREND_FLAT]:.0f} s, rose "
        f"{trend_time[TREND_UP]:.0f} s")
    trend_mult = _trend_multipliers(by_trend.sum(axis=(1, 2)), np.einsum("fsi,sit->ft", rates, time_by_trend),
                                    trend_time)
    # an order inside the spread comes when a move has just opened it: its spread state already says so, and the
    # trend adds nothing the few milliseconds of a wide spread could estimate
    trend_mult[[Q_INSPREAD_BID, Q_INSPREAD_ASK]] = 1.0
    put(prefix + "trend_flow_multiplier", [[float(v) for v in row] for row in trend_mult],
        "each flow's events in each trend over the flow's intensity there by the tables above (maximum likelihood "
        f"of a multiplier; 1 in a trend seen under {MIN_STATE_S:g} s, and for the orders inside the spread, which "
        "its own state covers)")
    # each market order's trend: the mid of the touch it met against the touch's window_ms before
    back = np.searchsorted(times, mo.recv_ns[seen] - int(round(window_ms * 1e6)), side="right") - 1
    now_mid = bid[at] + ask[at]
    then_mid = np.where(back >= 0, bid[np.maximum(back, 0)] + ask[np.maximum(back, 0)], now_mid)
    tb = np.where(now_mid > then_mid, TREND_UP, np.where(now_mid < then_mid, TREND_DOWN, TREND_FLAT))
    if leader is not None:  # the trend of Exchange 2's mid where each order was received
        tb = leader.trend_at(mo.recv_ns[seen])
    put(prefix + "trend_buy_probability", _share_by_trend(tb, imb, sign > 0, IMBALANCE_BINS),
        f"the share of buys by trend and imbalance bin; a cell with under {MIN_TREND_ORDERS} orders takes its "
        "trend's share, a trend with under that the imbalance bin's")
    if takes is not None:  # (each order's queue bin, whether it took the whole queue)
        qbin, took = takes
        put(prefix + "trend_take_probability", _share_by_trend(tb, qbin, took, TAKE_BINS, trend_first=False),
            f"the share of orders that took their whole queue by trend and bin of that queue's size ({int(took.sum())}"
            f" of {len(took)}); a cell with under {MIN_TREND_ORDERS} orders takes its bin's share over every trend, "
            "its log-odds moved by its trend's over all")
    order_trend = np.full(len(t_s), TREND_FLAT, dtype=np.int64)
    order_trend[seen] = tb
    order = np.argsort(t_s, kind="stable")
    nu, n, beta, gain = fit_hawkes_by_trend(t_s[order], order_trend[order], trend_time, span)
    mu = float(np.dot(nu, trend_time) / trend_time.sum())
    put(prefix + "hawkes_baseline_per_s", mu, f"Hawkes maximum likelihood (EM for each decay of a grid) with a "
        f"baseline per trend: their mean over the time in each; log-likelihood {gain:.0f} above Poisson arrivals at "
        f"each trend's rate (mean rate {len(t_s) / span:.2f}/s)")
    put(prefix + "hawkes_branching", n, "Hawkes maximum likelihood (as above)")
    put(prefix + "hawkes_decay_per_s", beta, "Hawkes maximum likelihood (as above)")
    put(prefix + "trend_market_multiplier", [float(v / mu) if mu > 0 else 1.0 for v in nu],
        "the Hawkes baseline in each trend over their mean (market orders in each trend: " + ", ".join(
            f"{c}" for c in np.bincount(tb, minlength=N_TRENDS)) + ")")


def feed_latency_ms(d: MarketData) -> float | None:
    """A venue's median receive minus exchange time, ms (None when it has no exchange times)."""
    ok = (d.events["flags"] & MF_NO_EXCH_TS) == 0
    lat = (d.events["recv_ts"] - d.events["exch_ts"])[ok] / 1e6
    return float(np.median(lat)) if lat.size else None


@dataclass
class Leader:
    """Exchange 2's mid as the leader the model's Exchange 1 reacts to, on the 1 ms grid of ``fine_mids`` from
    ``start_ns`` (receive times of Exchange 1): ``mid`` in Exchange 1 ticks less the basis' mean (mean of Exchange 2's
    mid minus Exchange 1's), ``spot`` Exchange 1's mid in the same ticks, ``trend`` per ms (TREND_*: the leader now
    against ``window_ms`` before), ``skew_ms`` (Exchange 2's feed latency less Exchange 1's: the leader's grid is
    shifted by it onto Exchange 1's receive clock)."""
    start_ns: int
    mid: np.ndarray
    spot: np.ndarray
    trend: np.ndarray
    basis_mean: float
    skew_ms: int

    def trend_at(self, recv_ns: np.ndarray) -> np.ndarray:
        """The leader's trend at Exchange 1 receive times."""
        i = (np.asarray(recv_ns) - self.start_ns) // 1_000_000
        return self.trend[np.clip(i, 0, len(self.trend) - 1)]


def leader_of(exchange1: MarketData, exchange2: MarketData, window_ms: float) -> Leader:
    """Exchange 2's mid as a leader (``Leader``) from the two recordings."""
    tick, _, pk1, _, _, _ = grid_steps(exchange1, exchange2)
    m1, m2 = fine_mids(exchange1, exchange2)
    lat1, lat2 = feed_latency_ms(exchange1), feed_latency_ms(exchange2)
    skew = int(round(lat2 - lat1)) if lat1 is not None and lat2 is not None else 0
    t1 = tick * pk1
    basis = float(np.mean(m2 - m1))
    # Exchange 2 as Exchange 1 would have received it at the same exchange time: its grid moved by the skew
    lead = np.roll((m2 - basis) / t1, -skew)
    if skew > 0:
        lead[-skew:] = lead[-skew - 1]
    elif skew < 0:
        lead[:-skew] = lead[-skew]
    w = max(1, int(round(window_ms)))
    trend = np.full(len(lead), TREND_FLAT, dtype=np.int64)
    step = lead[w:] - lead[:-w]
    trend[w:] = np.where(step > 1e-9, TREND_UP, np.where(step < -1e-9, TREND_DOWN, TREND_FLAT))
    start = max(exchange1.start_ns, exchange2.start_ns)
    return Leader(start, lead, m1 / t1, trend, basis, skew)


def with_leader_changes(leader: Leader, times, bid, qb, ask, qa):
    """The touch messages with a copy of the touch inserted wherever the leader's trend changes between two of them,
    and each message's trend (``touch_walk``'s ``msg_trend``)."""
    change = np.flatnonzero(np.diff(leader.trend)) + 1
    at = leader.start_ns + change.astype(np.int64) * 1_000_000
    last = np.searchsorted(times, at, side="right") - 1
    ok = last >= 0
    at, last = at[ok], last[ok]
    t_all = np.concatenate([times, at])
    order = np.argsort(t_all, kind="stable")
    src = np.concatenate([np.arange(len(times)), last])[order]
    merged = (t_all[order], bid[src], qb[src], ask[src], qa[src])
    return merged, leader.trend_at(merged[0]).astype(np.int64)


def _lead_estimates(put, prefix: str, leader: Leader, span: float, window_ms: float) -> None:
    """Exchange 2's own moves when it leads: their rate and sizes, the chance one repeats the last's direction (the
    one that gives the recorded 1 s variance of its mid), and the chance of a move up by where its mid stands
    against Exchange 1's (more than ``lead_gap_ticks`` below, within, above)."""
    mid = leader.mid
    step = np.diff(mid)
    moved = np.flatnonzero(np.abs(step) > 1e-9)
    put(prefix + "lead_moves_per_s", len(moved) / span, f"Exchange 2's mid moved {len(moved)} times in {span:.0f} s "
        f"(1 ms grid); Exchange 1 reacts to its trend over the trend window ({window_ms:g} ms)")
    size = np.abs(step[moved])
    put(prefix + "lead_move_ticks", _quantiles_of(size, 1e-6), "the recorded moves' sizes, Exchange 1 ticks")
    n = len(moved) / span  # moves a second
    var_1s = float(np.var(mid[1000:] - mid[:-1000])) if len(mid) > 2000 else 0.0
    e2, e1 = float(np.mean(size ** 2)), float(np.mean(size))
    x = (var_1s / max(n, 1e-12) - e2) / (2.0 * e1 * e1) if e1 > 0 else 0.0
    repeat = min(0.99, x / (1.0 + x)) if x > 0 else 0.0
    put(prefix + "lead_repeat_probability", repeat, f"the 1 s variance of Exchange 2's mid, {var_1s:.1f} ticks^2, "
        f"from {n:.2f} moves a second of mean square {e2:.2f} ticks^2 with each repeating the last's direction "
        f"with this probability (independent directions would give {n * e2:.1f})")
    sign = np.sign(step[moved])
    gap = mid[moved] - leader.spot[moved]  # where it stood before the move
    d = float(np.quantile(np.abs(gap), 1.0 / 3.0))
    put(prefix + "lead_gap_ticks", d, "a third of the recorded moves came with Exchange 2's mid less the basis' mean "
        "within this many ticks of Exchange 1's")
    b = np.where(gap < -d, 0, np.where(gap > d, 2, 1))
    last_up = np.concatenate([[0.5], (sign[:-1] > 0).astype(float)])
    ups, counts = [], []
    for k in range(3):
        sel = b == k
        counts.append(int(sel.sum()))
        if sel.sum() < 20:
            ups.append(0.5)
            continue
        obs, obs_last = float((sign[sel] > 0).mean()), float(last_up[sel].mean())
        ups.append(min(1.0, max(0.0, (obs - repeat * obs_last) / (1.0 - repeat))))
    put(prefix + "lead_up_probability", ups, "the moves' share up in each gap bin (" + ", ".join(map(str, counts))
        + " moves; 0.5 under 20) less the repeats' part: (up - repeat x last up) / (1 - repeat)")


def _split_leads(put, prefix: str, m1: np.ndarray, m2: np.ndarray, trade_s: np.ndarray, skew: float) -> list[float]:
    """``lead_at_trade_ms`` and ``lead_ms`` from the recorded mids every ms (``m1``, ``m2``) and Exchange 1's trades
    (``trade_s``, s from the mids' start): Exchange 1's 1 ms changes split into those that come with a trade
    (``backtest.markets.queue_reactive.moves_at_trades``) and the others, each kind's cross-correlation with
    Exchange 2's changes made into a lead distribution (``lead_distribution``). On BTC the moves without a trade
    have the perpetual first (peak at 41 ms, lead-lag ratio 0.08), those with one have it after as often as not
    (ratio 1.03); all together the perpetual leads. Returns ``lead_ms``."""
    from backtest.markets.queue_reactive import moves_at_trades

    changes = np.diff(m1)
    at = moves_at_trades(changes, np.unique(np.floor(np.asarray(trade_s) * 1000.0).astype(np.int64)))
    moved = changes != 0
    out = {}
    for key, kind in (("lead_at_trade_ms", at), ("lead_ms", ~at)):
        ll = lead_lag(np.concatenate([[0.0], np.cumsum(np.where(kind, changes, 0.0))]), m2)
        q, note = lead_distribution(ll, int(np.count_nonzero(moved & kind)), skew)
        what = "with" if key == "lead_at_trade_ms" else "without"
        put(prefix + key, q, f"Exchange 1's {int(np.count_nonzero(moved & kind))} moves {what} a trade within a "
            f"ms: {note}")
        out[key] = q
    return out["lead_ms"]


QUEUE_SHARES = (0.05, 0.1, 0.2, 0.4, 0.6, 0.8)  # the queue bins' bounds: these shares of the time a best queue spends


def _queue_multipliers(put, prefix: str, times: np.ndarray, bid: np.ndarray, qb: np.ndarray, ask: np.ndarray,
                       qa: np.ndarray, end: int, buys: np.ndarray, sells: np.ndarray, window_ns: int,
                       spread_edges: np.ndarray, rates: np.ndarray, hit: np.ndarray, mean_rate: float) -> None:
    """``queue_bins_lots`` and the three ``*_queue_multiplier`` (Huang, Lehalle and Rosenbaum's intensities of the
    queue's own size). The bins: bounds at QUEUE_SHARES of the time either best queue spends under them. Limit orders
    and cancels at a queue of each bin (classified as ``touch_walk`` does: a queue that grew at the same price, or
    shrank with no market order on its side within ``window_ns``) over the count the spread-and-imbalance ``rates``
    predict for the time spent there: the multiplier on those rates. Market orders per second that hit a queue of each
    bin, per second a queue spends in it, over the mean (``mean_rate``: orders per second of touch, both sides): the
    multiplier that stands for the imbalance's (``market_rate_multiplier`` is then 1). A bin either queue spends under
    MIN_STATE_S in keeps 1."""
    held = np.diff(np.r_[times, end]).astype(float) / 1e9  # each touch message's state holds until the next
    valid = (ask > bid) & (bid > 0)
    sizes = np.r_[qb[valid], qa[valid]]
    weights = np.r_[held[valid], held[valid]]
    order = np.argsort(sizes, kind="stable")
    share = np.cumsum(weights[order]) / weights.sum()
    upper = np.unique(sizes[order][np.minimum(np.searchsorted(share, QUEUE_SHARES), len(order) - 1)]).astype(float)
    upper = upper[upper > 0]
    n_bins = len(upper) + 1

    def bins(q):
        return np.searchsorted(upper, q, side="left")

    occupancy = np.bincount(bins(sizes), weights=weights, minlength=n_bins)
    sb = np.clip(np.searchsorted(spread_edges, ask - bid, side="right") - 1, 0, len(spread_edges) - 1)
    ib = imbalance_bins_of(qb, qa, IMBALANCE_BINS)
    put(prefix + "queue_bins_lots", [float(v) for v in upper],
        "bounds of the best queues' sizes at " + ", ".join(f"{v:.0%}" for v in QUEUE_SHARES) + " of their time")
    # a change between message m - 1 and m, in the state of m - 1 (touch_walk's)
    prev, cur = np.arange(len(times) - 1), np.arange(1, len(times))
    ok = valid[prev] & valid[cur]
    for key, grew in (("limit_queue_multiplier", True), ("cancel_queue_multiplier", False)):
        observed = np.zeros(n_bins)
        expected = np.zeros(n_bins)
        for px, q, flow, takers in ((bid, qb, Q_LIMIT_BID if grew else Q_CANCEL_BID, sells),
                                    (ask, qa, Q_LIMIT_ASK if grew else Q_CANCEL_ASK, buys)):
            same = ok & (px[cur] == px[prev])
            if grew:
                event = same & (q[cur] > q[prev])
            else:
                lo = np.searchsorted(takers, times[cur] - window_ns, side="left")
                near = (lo < len(takers)) & (takers[np.minimum(lo, len(takers) - 1)] <= times[cur] + window_ns)
                event = same & (q[cur] < q[prev]) & ~near
            observed += np.bincount(bins(q[prev][event]), minlength=n_bins)
            expected += np.bincount(bins(q[valid]), weights=held[valid] * rates[flow][sb[valid], ib[valid]],
                                    minlength=n_bins)
        mult = np.where((occupancy >= MIN_STATE_S) & (expected > 0), observed / np.maximum(expected, 1e-12), 1.0)
        put(prefix + key, [float(v) for v in mult], f"{'limit orders' if grew else 'cancels'} at a queue of each "
            "size bin over what the spread-and-imbalance rates give for the time there (" + ", ".join(
                f"{int(o)} / {e:.0f}" for o, e in zip(observed, expected)) + ")")
    hits = np.bincount(bins(hit), minlength=n_bins)
    per_side = mean_rate / 2.0  # each side's time counts once per side
    mult = np.where(occupancy >= MIN_STATE_S, hits / np.maximum(occupancy, 1e-9) / per_side, 1.0)
    put(prefix + "market_queue_multiplier", [float(v) for v in mult],
        "market orders per second a queue of each size bin drew over the mean (" + ", ".join(
            f"{int(h)} in {o:.0f} s" for h, o in zip(hits, occupancy)) + " of either queue's time)")
    put(prefix + "market_rate_multiplier", [1.0] * IMBALANCE_BINS, "1: the queue's size stands for the imbalance "
        "(market_queue_multiplier)")


MIN_GAP_ORDERS = 30  # orders inside a gap the gap's side multipliers need


def _gap_sides(put, prefix: str, times: np.ndarray, bid: np.ndarray, qb: np.ndarray, ask: np.ndarray,
               qa: np.ndarray, edges: np.ndarray, rates: np.ndarray) -> None:
    """``gap_revert_multiplier`` and ``gap_follow_multiplier``: the orders inside a spread wider than a tick on the
    side whose best moved away last (the opener: the price goes back) and on the other (it follows), each counted
    (``kernels.queue_reactive.gap_walk``) over what the state's rates ``rates`` give for the time spent with that
    opener. The two multipliers keep the total; on the recordings the other side closes the gap nearly nine times
    in ten, and the spread-and-imbalance rates, pooled over the few seconds a large-tick book is wide, split it
    evenly."""
    time_open = np.zeros((2, len(edges), IMBALANCE_BINS))
    in_gap = np.zeros(2)
    gap_walk(times, bid, qb, ask, qa, edges, IMBALANCE_BINS, time_open, in_gap)
    bid_rate, ask_rate = rates[Q_INSPREAD_BID], rates[Q_INSPREAD_ASK]
    expected_revert = float((time_open[0] * bid_rate).sum() + (time_open[1] * ask_rate).sum())
    expected_follow = float((time_open[0] * ask_rate).sum() + (time_open[1] * bid_rate).sum())
    n_revert, n_follow = int(in_gap[0]), int(in_gap[1])
    if n_revert + n_follow < MIN_GAP_ORDERS or expected_revert <= 0 or expected_follow <= 0:
        for key in ("gap_revert_multiplier", "gap_follow_multiplier"):
            put(prefix + key, None, f"not estimated: {n_revert + n_follow} orders inside a gap, at least "
                f"{MIN_GAP_ORDERS} needed")
        return
    note = (f"of {n_revert + n_follow} orders inside a gap ({time_open.sum():.2f} s wide), {n_follow} on the side that "
            f"did not open it ({n_follow / (n_revert + n_follow):.0%}), {n_revert} on the opener's; ")
    put(prefix + "gap_revert_multiplier", n_revert / expected_revert,
        note + f"the opener's side: {n_revert} over the {expected_revert:.0f} the state's rates give")
    put(prefix + "gap_follow_multiplier", n_follow / expected_follow,
        note + f"the other side: {n_follow} over the {expected_follow:.0f} the state's rates give")


CHASE_WINDOW_MS = 20.0  # a chase is an order of the same sign within this long after one that emptied its queue


def _chase(put, prefix: str, mo: MarketOrders, hit: np.ndarray, seen: np.ndarray) -> None:
    """``chase_probability`` and the chase's delay (``chase_min_delay_ms``, ``chase_mean_delay_ms``): after a market
    order that took the whole queue it met (``hit``: the queue of each order in ``seen``), the next order of its sign
    comes within CHASE_WINDOW_MS more often than after one that did not; the excess, as a share of the orders that
    did not come that soon anyway, is the chase's probability, and the excess's distribution of delays its delay (the
    least: where 5% of the excess has come; the mean beyond it: of the excess within the window).
    ``chase_take_probability``: the share of the orders that came within the window after one that took its queue
    that took theirs (chased or not: the estimate leans toward the other orders' share, as a round trip shows)."""
    delay = np.full(len(mo.sign), np.inf)  # ms to the next order of the same sign
    follower = np.full(len(mo.sign), -1)  # that order
    for s in (1, -1):
        idx = np.flatnonzero(mo.sign == s)
        delay[idx[:-1]] = (mo.recv_ns[idx[1:]] - mo.recv_ns[idx[:-1]]) / 1e6
        follower[idx[:-1]] = idx[1:]
    took = np.zeros(len(mo.sign), dtype=bool)
    took[seen] = mo.qty[seen] >= hit
    other = seen.copy()
    other[seen] = ~took[seen]
    grid = np.arange(0.0, CHASE_WINDOW_MS + 1e-9, 0.25)
    if took.sum() < 30 or other.sum() < 30:
        for key in ("chase_probability", "chase_min_delay_ms", "chase_mean_delay_ms", "chase_take_probability"):
            put(prefix + key, None, f"not estimated: {int(took.sum())} orders took their queue, at least 30 needed")
        return
    f_took = np.array([np.mean(delay[took] <= x) for x in grid])
    f_other = np.array([np.mean(delay[other] <= x) for x in grid])
    excess = np.maximum.accumulate(np.maximum(f_took - f_other, 0.0))
    prob = float(np.clip(excess[-1] / max(1e-9, 1.0 - f_other[-1]), 0.0, 0.95))
    if excess[-1] <= 0:
        least, mean = 0.0, 5.0
    else:
        share = excess / excess[-1]
        least = float(grid[np.searchsorted(share, 0.05)])
        mean = max(0.25, float(np.sum(1.0 - share[grid >= least]) * 0.25))
    put(prefix + "chase_probability", prob, f"after the {int(took.sum())} orders that took their queue the next of "
        f"the same sign came within {CHASE_WINDOW_MS:g} ms {f_took[-1]:.0%} of the time, after the {int(other.sum())} "
        f"others {f_other[-1]:.0%}: the excess over the share that did not come that soon anyway")
    put(prefix + "chase_min_delay_ms", least, "where 5% of the excess had come")
    put(prefix + "chase_mean_delay_ms", mean, "the excess's mean delay beyond that, within the window")
    chased = follower[took & (delay <= CHASE_WINDOW_MS)]
    chased = chased[seen[chased]]
    others = follower[other & (delay <= CHASE_WINDOW_MS)]
    others = others[seen[others]]
    if len(chased) < 30:
        put(prefix + "chase_take_probability", None, f"not estimated: {len(chased)} orders followed one that took its "
            "queue, at least 30 needed")
    else:
        put(prefix + "chase_take_probability", float(took[chased].mean()), f"of the {len(chased)} orders that came "
            f"within {CHASE_WINDOW_MS:g} ms of one of their sign that took its queue, the share that took theirs (after "
            f"the others: {took[others].mean():.0%} of {len(others)})")


def estimate(exchange1: MarketData, exchange2: MarketData, base: SimConfig | None = None, dt_s: float = 0.001,
             trend_window_ms: float = 0.0, diffuse_leads: bool = False, split_leads: bool = False,
             queue_sizes: bool = False, sweep_within_jump: bool = False, chase: bool = False, gap_sides: bool = False,
             perp_leads: bool = False, lead_follow: bool = False, trend_takes: bool = False):
    """The queue-reactive market estimated from a recording of two venues (module docstring): the config (every
    strategy section from ``base``, the replay's queue rules kept) and one ``backtest.markets.calibrate.Estimate`` per
    key. ``trend_window_ms`` > 0 adds the mid's trend over that window to the state (``_trend_estimates``);
    ``diffuse_leads`` estimates ``lead_diffuse_share`` (``diffuse_share``; else 0, every lead from ``lead_ms``);
    ``split_leads`` estimates ``lead_at_trade_ms`` for the moves of Exchange 1's mid that come with a trade and
    ``lead_ms`` for the others, each from the cross-correlation of its own moves (``_split_leads``).
    ``queue_sizes`` estimates each flow's intensity multiplier by the size of its own queue
    (``_queue_multipliers``); the market orders' stands for the imbalance's. ``sweep_within_jump`` sets
    ``queue_reactive.sweep_within_jump`` (the jumps and queues after them are measured between book-ticker messages).
    ``chase`` estimates the chase of a market order that emptied its queue (``_chase``); ``gap_sides`` the
    multipliers of the orders inside a gap by the side that opened it (``_gap_sides``). ``perp_leads``: Exchange 2's
    mid moves on its own and the trend of the state is its trend over ``trend_window_ms`` (``leader_of``,
    ``_lead_estimates``; every trend key estimated against it)."""
    if not 0.0 <= trend_window_ms <= 60_000.0:
        raise ConfigError([f"trend window {trend_window_ms:g} ms; allowed: 0 (no trend) to 60000 ms"])
    if trend_takes and not trend_window_ms > 0:
        raise ConfigError(["--trend-takes needs a trend window: the take probability is estimated per trend; allowed: "
                           "--trend-window-ms above 0 with it"])
    if perp_leads and not trend_window_ms > 0:
        raise ConfigError(["Exchange 2 leading (--perp-leads) needs a trend window: Exchange 1 reacts to Exchange 2's "
                           "trend over it; allowed: --trend-window-ms above 0 with it"])

    base = base or SimConfig()
    refused = [f"{name} trades {d.instrument.describe()}: the queue-reactive model's venues are spot or linear "
               "contracts (an inverse one is not modelled); allowed: a linear Exchange 2, or the zero-intelligence "
               "model (--model zero_intelligence) or a replay for this pair"
               for name, d in (("exchange1", exchange1), ("exchange2", exchange2)) if d.instrument.inverse]
    if refused:
        raise ConfigError(refused)
    tick, lot, pk1, qk1, pk2, qk2 = grid_steps(exchange1, exchange2)
    start = max(exchange1.start_ns, exchange2.start_ns)
    end = min(exchange1.end_ns, exchange2.end_ns)
    span = (end - start) / 1e9
    if span < 60.0:
        raise ConfigError([f"the recordings share {span:.1f} s; the queue-reactive model needs at least 60 s"])
    est: list[Estimate] = []

    def put(key, value, source):
        est.append(Estimate(key, value, source))

    prefix = "queue_reactive."
    put("market.source", "queue_reactive", "the calibrated market is the queue-reactive one")
    put("replay.exchange1", "", "the queue-reactive market prints its own recording")
    put("replay.exchange2", "", "the queue-reactive market prints its own recording")
    put("market.tick_size", tick, f"the finer venue tick size ({exchange1.tick_size:g} / {exchange2.tick_size:g})")
    put("market.lot_size", lot, f"the finer venue lot step ({exchange1.lot_size:g} / {exchange2.lot_size:g})")
    put("sim.dt_s", dt_s, "the replay's tick on the printed recording")
    put("sim.ticks", max(10, int(span / dt_s) - 2000), f"the span both venues cover, {span:.1f} s")
    put(prefix + "exchange1_price_step_ticks", pk1, "Exchange 1's tick size on the grid")
    put(prefix + "exchange2_price_step_ticks", pk2, "Exchange 2's tick size on the grid")
    put(prefix + "exchange2_lot_step_lots", qk2, "Exchange 2's lot step on the grid")

    times, bid, qb, ask, qa = touch_messages(exchange1, qk1, start, end)
    put("market.initial_price", float((bid[0] + ask[0]) * 0.5 * pk1 * tick), "Exchange 1's first mid")
    mo = market_orders(exchange1, qk1, start, end)
    if len(mo.qty) < 100:
        raise ConfigError([f"exchange1: {len(mo.qty)} market orders in {span:.0f} s; the queue-reactive model needs at "
                           "least 100"])
    edges = np.array(SPREAD_BINS, dtype=np.int64)
    by_trend = np.zeros((N_FLOWS, len(edges), IMBALANCE_BINS, N_TRENDS))
    time_by_trend = np.zeros((len(edges), IMBALANCE_BINS, N_TRENDS))
    samples = np.zeros((N_DISTRIBUTIONS, len(times)))
    n_samples = np.zeros(N_DISTRIBUTIONS, dtype=np.int64)
    window = int(TRADE_WINDOW_MS * 1e6)
    trend_ns = int(round(trend_window_ms * 1e6))
    leader = leader_of(exchange1, exchange2, trend_window_ms) if perp_leads else None
    walked, msg_trend = (times, bid, qb, ask, qa), np.empty(0, dtype=np.int64)
    if leader is not None:
        walked, msg_trend = with_leader_changes(leader, times, bid, qb, ask, qa)
        samples = np.zeros((N_DISTRIBUTIONS, len(walked[0])))
    touch_walk(*walked, np.sort(mo.recv_ns[mo.sign > 0]), np.sort(mo.recv_ns[mo.sign < 0]), window,
               edges, by_trend, time_by_trend, samples, n_samples, trend_ns, msg_trend)
    counts, time_in = by_trend.sum(axis=3), time_by_trend.sum(axis=2)
    rates, pooled = _pooled_rates(counts, time_in)
    if sweep_within_jump:
        put(prefix + "sweep_within_jump", True, "the recorded jumps are measured between book-ticker messages: each "
            "spans every level a sweep took, and the queue after it is what the sweep left")
    put(prefix + "spread_bins_ticks", [int(e) for e in edges], "spread bins of the state (lower bounds)")
    put(prefix + "imbalance_bins", IMBALANCE_BINS, "equal bins of the queue imbalance")
    spent = ", ".join(f"{e}: {time_in[i].sum():.0f} s" for i, e in enumerate(edges))
    for f, key in enumerate(FLOW_KEYS):
        put(prefix + key, [[float(v) for v in row] for row in rates[f]],
            f"{int(counts[f].sum())} events over {time_in.sum():.0f} s of touch (time per spread bin: {spent}); "
            f"{pooled} of {time_in.size} states seen under {MIN_STATE_S:g} s take a pooled rate (their spread row's, else the wide rows')")
    if gap_sides:
        _gap_sides(put, prefix, times, bid, qb, ask, qa, edges, rates)
    mins = {QT_IMPROVE: 1e-6, QT_CANCEL: 1e-6}
    for row, key in DISTRIBUTION_KEYS.items():
        if row in (QT_MARKET, QT_SWEEP, QT_LEAD_MOVE) or (row == QT_REFILL_TREND and not trend_ns):
            continue
        got = samples[row, :n_samples[row]]
        if len(got) >= 20:
            put(prefix + key, _quantiles_of(got, mins.get(row, 1.0)), f"{len(got)} recorded")
        else:
            put(prefix + key, None, f"not estimated: {len(got)} recorded, at least 20 needed")
    seen, at, queue, took = touch_met(mo, times, qb, qa)
    sign = mo.sign[seen]
    size = mo.qty[seen]
    upper = np.quantile(queue, np.arange(1, TAKE_BINS) / TAKE_BINS)
    qbin = np.searchsorted(upper, queue, side="left")
    share = np.bincount(qbin, weights=took.astype(float), minlength=TAKE_BINS) / np.maximum(
        np.bincount(qbin, minlength=TAKE_BINS), 1)
    put(prefix + "market_take_queue_lots", [float(v) for v in upper], "quintiles of the queue a market order hit")
    put(prefix + "market_take_probability", [float(v) for v in share],
        f"{int(took.sum())} of {len(at)} Exchange 1 market orders took the whole queue they hit; the share per "
        "quintile of that queue's size")
    put(prefix + "market_size_over_queue", _quantiles_of(size[~took] / np.maximum(queue[~took], 1), 1e-6),
        "the other orders' size over the queue they hit")
    put(prefix + "market_sweep_lots", _quantiles_of(size[took] - queue[took] + 1),
        "lots beyond the queue of the orders that took it all (+1)")
    imb = imbalance_bins_of(qb[at], qa[at], IMBALANCE_BINS)
    buys = np.bincount(imb, weights=(sign > 0).astype(float), minlength=IMBALANCE_BINS)
    seen_in = np.bincount(imb, minlength=IMBALANCE_BINS)
    prob = np.where(seen_in >= 20, buys / np.maximum(seen_in, 1), float((sign > 0).mean()))
    occupancy = time_in.sum(axis=0)
    mult = np.where(occupancy >= MIN_STATE_S, seen_in / np.maximum(occupancy, 1e-9), np.nan) / (len(at) / time_in.sum())
    mult = np.where(np.isfinite(mult), mult, 1.0)
    mult = mult / (np.dot(mult, occupancy) / occupancy.sum())  # the recorded occupancy keeps the mean rate
    if queue_sizes:
        _queue_multipliers(put, prefix, times, bid, qb, ask, qa, end, np.sort(mo.recv_ns[mo.sign > 0]),
                           np.sort(mo.recv_ns[mo.sign < 0]), window, edges, rates, queue, len(at) / time_in.sum())
    else:
        put(prefix + "market_rate_multiplier", [float(v) for v in mult],
            "market orders per second in each imbalance bin over the mean rate (" + ", ".join(
                f"{t:.0f} s" for t in occupancy) + " spent in the bins)")
    put(prefix + "market_buy_probability", [float(v) for v in prob],
        "the share of buys among market orders by imbalance bin (" + ", ".join(f"{int(c)}" for c in seen_in)
        + " orders; a bin with under 20 takes the overall share)")
    t_s = (mo.recv_ns - start) / 1e9
    if trend_ns:
        _trend_estimates(put, prefix, trend_window_ms, rates, by_trend, time_by_trend, times, bid, ask, mo, seen, at,
                         imb, sign, t_s, span, leader, (qbin, took) if trend_takes else None)
    else:
        mu, n, beta, gain = fit_hawkes(np.sort(t_s), span)
        put(prefix + "hawkes_baseline_per_s", mu, f"Hawkes maximum likelihood (grid): the mean rate {len(t_s) / span:.2f}/s "
            f"x (1 - branching); log-likelihood {gain:.0f} above a Poisson process's")
        put(prefix + "hawkes_branching", n, "Hawkes maximum likelihood (grid)")
        put(prefix + "hawkes_decay_per_s", beta, "Hawkes maximum likelihood (grid)")
    if chase:
        _chase(put, prefix, mo, queue, seen)
    follow, tail, acf = fit_signs(mo.sign.astype(float))
    put(prefix + "sign_follow", follow, f"meta-order fit to the signs' autocorrelation (lag 1 {acf[0]:.2f}, lag 10 "
        f"{acf[9]:.2f})")
    put(prefix + "metaorder_tail", tail, "meta-order fit to the signs' autocorrelation")
    for name, d, key in (("Exchange 1", exchange1, "exchange1_feed_latency_ms"),
                         ("Exchange 2", exchange2, "exchange2_feed_latency_ms")):
        lat = feed_latency_ms(d)
        put(prefix + key, lat, f"{name}'s median feed latency" if lat is not None
            else "not estimated: no exchange times")

    # Exchange 2: its levels, and its mid against Exchange 1's
    ev2 = exchange2.events
    bbo2 = ev2[((ev2["kind"] == ME_BBO_BID) | (ev2["kind"] == ME_BBO_ASK)) & (ev2["recv_ts"] >= start)]
    put(prefix + "exchange2_level_lots", _quantiles_of(bbo2["qty"] * qk2), f"Exchange 2's touch sizes, {len(bbo2)} updates")
    if leader is not None:
        _lead_estimates(put, prefix, leader, span, trend_window_ms)
        put("market.basis_mean_ticks", leader.basis_mean / tick, "mean of Exchange 2's mid minus Exchange 1's")
        put("queue_reactive.basis_update_ms", 100.0, "not used: Exchange 2 leads (its mid is its own path plus the "
            "basis' mean; the lead and basis keys of a following Exchange 2 are not estimated)")
        gap_std = float(np.std(leader.mid - leader.spot))
        est.append(_pull_rate(config_of(base, est), gap_std))
        if lead_follow:  # then the pull again: Exchange 2's moves after spot's orders change the gap
            est.extend(_follow_probability(config_of(base, est), exchange1, exchange2))
            est.append(_pull_rate(config_of(base, est), gap_std))
        return config_of(base, est), est
    m1, m2 = fine_mids(exchange1, exchange2)
    ll = lead_lag(m1, m2)
    # the mids as received; the model's lead is on the venues' clocks (each venue's feed latency then added)
    skew = _feed_skew_ms(est)
    if split_leads:
        leads = _split_leads(put, prefix, m1, m2, t_s, skew)
    else:
        leads, note = lead_distribution(ll, int(np.count_nonzero(np.diff(m1))), skew)
        put(prefix + "lead_ms", leads, note)
    if diffuse_leads:
        share, note = diffuse_share(ll, int(np.count_nonzero(np.diff(m1))))
        put(prefix + "lead_diffuse_share", share, note)
        put(prefix + "lead_diffuse_ms", float(LEAD_LAG_MS), "the lags the cross-correlation is measured over, each way")
        put(prefix + "lead_diffuse_weights", diffuse_weights(ll, skew),
            f"the cross-correlation at each lag, averaged over +/-{DIFFUSE_SMOOTH_MS} ms, where positive, less the "
            "feed latencies' difference")
    lead = int(round(float(np.interp(0.5, QUANTILE_PROBS, leads))))
    # the basis against Exchange 1's mid lead_ms later, in ticks of the grid, on a 100 ms grid
    n = len(m1)
    shift = np.clip(np.arange(n) + lead, 0, n - 1)
    resid = ((m2 - m1[shift]) / tick)[:n - max(lead, 0)][::100]
    put("market.basis_mean_ticks", float(resid.mean()), f"mean of Exchange 2's mid minus Exchange 1's {lead} ms (the "
        "median lead) later")
    dev = resid - resid.mean()
    phi = float(np.dot(dev[10:], dev[:-10]) / np.dot(dev, dev)) if np.dot(dev, dev) > 0 else float("nan")
    if 0.0 < phi < 1.0:
        theta = -math.log(phi)
        put("market.basis_reversion_per_s", min(100.0, theta), f"OU fit: 1 s autocorrelation {phi:.3f}")
        put("market.basis_vol_ticks_per_sqrt_s", min(1000.0, float(dev.std()) * math.sqrt(2 * theta)),
            f"OU fit: std {dev.std():.1f} ticks x sqrt(2 x reversion)")
    else:
        put("market.basis_reversion_per_s", None, f"not estimated: 1 s autocorrelation {phi:.3f} is not in (0, 1)")
        put("market.basis_vol_ticks_per_sqrt_s", None, "not estimated (see basis_reversion_per_s)")
    recorded = float(np.count_nonzero(np.diff(m2))) / (len(m2) * 1e-3)  # fine mids: one a ms
    est.append(_basis_interval(config_of(base, est), recorded))
    return config_of(base, est), est


# the repricing rates tried, per second per tick of gap: 0.001 to 100, each 10^(1/8) (33%) after the last
PULL_RATES = tuple(float(10.0 ** (k / 8.0 - 3.0)) for k in range(41))


def _pull_rate(config: SimConfig, recorded_std: float) -> Estimate:
    """``queue_reactive.lead_pull_per_s``: the rate at which the model's Exchange 1 reprices towards a leading
    Exchange 2 that keeps the standard deviation of their gap (Exchange 1 ticks, 1 ms grid) nearest the recorded
    ``recorded_std`` on a log scale, among PULL_RATES: the flows' reaction to Exchange 2's trend alone lets the gap
    wander (ETH: 3.2 currency against 0.16 recorded)."""
    from backtest.markets.queue_reactive import lead_gap_std

    stds = np.array(lead_gap_std(config, PULL_RATES))
    key = "queue_reactive.lead_pull_per_s"
    ok = np.isfinite(stds) & (stds > 0)
    if not recorded_std > 0 or not ok.any():
        return Estimate(key, None, f"not estimated: recorded gap std {recorded_std:.2f} ticks, none to match")
    best = int(np.argmin(np.where(ok, np.abs(np.log(np.where(ok, stds, 1.0) / recorded_std)), np.inf)))
    return Estimate(key, PULL_RATES[best], f"the gap's std is then {stds[best]:.1f} ticks in the model, "
                    f"{recorded_std:.1f} recorded (from {stds[0]:.1f} at {PULL_RATES[0]:g} to {stds[-1]:.1f} at "
                    f"{PULL_RATES[-1]:g})")


# the chances tried that a leading Exchange 2 follows an Exchange 1 market order
FOLLOW_PROBABILITIES = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
MIN_OWN_SHARE = 0.1  # of Exchange 2's recorded move rate kept as its own when it also follows Exchange 1's orders
FOLLOW_SPAN_S = 600.0  # the model's span each chance is measured on: the cross impact is a mean over its orders


CROSS_MS = 50  # the cross impact matched: Exchange 2's mid move this long after an Exchange 1 market order


def cross_impact_by_take(exchange1: MarketData, exchange2: MarketData) -> tuple[float, float, float, float]:
    """Exchange 2's mid move CROSS_MS after an Exchange 1 market order, in its direction, Exchange 1 ticks (mean over
    the orders), for the orders that took the whole queue they met (the touch received before them) and for the
    others; and each kind's orders per second. On the recordings the first are followed four times as far (ETH 12.9
    against 3.3 ticks, BTC 299 against 73)."""
    tick, _, pk1, qk1, _, _ = grid_steps(exchange1, exchange2)
    start, end = max(exchange1.start_ns, exchange2.start_ns), min(exchange1.end_ns, exchange2.end_ns)
    times, _, qb, _, qa = touch_messages(exchange1, qk1, start, end)
    mo = market_orders(exchange1, qk1, start, end)
    seen, _, _, took = touch_met(mo, times, qb, qa)
    sign = mo.sign[seen]
    _, m2 = fine_mids(exchange1, exchange2)
    ms = (mo.recv_ns[seen] - start) // 1_000_000
    ok = (ms >= 0) & (ms + CROSS_MS < len(m2))
    move = (m2[np.minimum(ms + CROSS_MS, len(m2) - 1)] - m2[np.clip(ms, 0, len(m2) - 1)]) * sign / (tick * pk1)
    span = (end - start) / 1e9

    def mean(sel):
        return float(move[sel].mean()) if sel.any() else float("nan")

    return mean(ok & took), mean(ok & ~took), float((ok & took).sum() / span), float((ok & ~took).sum() / span)


def _follow_probability(config: SimConfig, exchange1: MarketData, exchange2: MarketData) -> list[Estimate]:
    """``queue_reactive.lead_follow_probability`` and ``lead_follow_part_probability``: the chances (among
    FOLLOW_PROBABILITIES) that a leading Exchange 2 moves after an Exchange 1 market order in its direction, for an
    order that took its whole queue and for the others, at which Exchange 2's mid moves CROSS_MS after each kind as
    far as on the recording (``cross_impact_by_take``; each chance measured on FOLLOW_SPAN_S of the model; the two
    matched in turn, the first again after the second); and ``lead_moves_per_s`` less the moves that follow orders
    (at least MIN_OWN_SHARE of it kept)."""
    from backtest.markets.queue_reactive import queue_reactive_recording

    took, part, took_per_s, part_per_s = cross_impact_by_take(exchange1, exchange2)
    rate = config.queue_reactive.lead_moves_per_s
    ticks = int(min(config.sim.ticks, FOLLOW_SPAN_S / config.sim.dt_s))
    chosen = {"took": 0.0, "part": 0.0}

    def own(q: dict) -> float:
        return max(MIN_OWN_SHARE * rate, rate - q["took"] * took_per_s - q["part"] * part_per_s)

    def model(q: dict) -> tuple[float, float, float, float]:
        cfg = config.with_dotted({"queue_reactive.lead_follow_probability": q["took"], "sim.ticks": ticks,
                                  "queue_reactive.lead_follow_part_probability": q["part"],
                                  "queue_reactive.lead_moves_per_s": own(q)})
        return cross_impact_by_take(*queue_reactive_recording(cfg))

    notes = {}
    for kind, index, target in (("took", 0, took), ("part", 1, part), ("took", 0, took)):
        got = [model({**chosen, kind: p})[index] for p in FOLLOW_PROBABILITIES]
        if not np.isfinite(target) or not np.all(np.isfinite(got)):
            return [Estimate("queue_reactive.lead_follow_probability", None, f"not estimated: the recorded moves "
                             f"{took:.2f} and {part:.2f} ticks, the model's {got}")]
        best = int(np.argmin(np.abs(np.array(got) - target)))
        chosen[kind] = FOLLOW_PROBABILITIES[best]
        notes[kind] = (f"Exchange 2's mid then moves {got[best]:.2f} Exchange 1 ticks in the direction of an Exchange "
                       f"1 market order that {'took' if kind == 'took' else 'did not take'} its whole queue within "
                       f"{CROSS_MS} ms, {target:.2f} recorded (from {got[0]:.2f} at {FOLLOW_PROBABILITIES[0]:g} to "
                       f"{got[-1]:.2f} at {FOLLOW_PROBABILITIES[-1]:g})")
    delay = config.queue_reactive.lead_follow_delay_ms
    return [Estimate("queue_reactive.lead_follow_delay_ms", None, f"not estimated: {delay:g} ms kept (how soon "
                     "Exchange 2 moves after an order is not told apart from its own moves around it; on ETH the "
                     "default gives the recorded shape, the move 10 ms after an order that took its queue 0.44 of "
                     "the move 50 ms after against 0.37 recorded)"),
            Estimate("queue_reactive.lead_follow_probability", chosen["took"], notes["took"]),
            Estimate("queue_reactive.lead_follow_part_probability", chosen["part"], notes["part"]),
            Estimate("queue_reactive.lead_moves_per_s", own(chosen), f"its recorded {rate:.2f} moves a second less "
                     f"those that follow Exchange 1's market orders ({took_per_s:.2f} a second that took their queue, "
                     f"{chosen['took']:g} of them; {part_per_s:.2f} others, {chosen['part']:g}), at least "
                     f"{MIN_OWN_SHARE:g} of it")]


# the basis' draw intervals tried, ms: 10 ms to 10 s, each 10^(1/20) (12%) after the last
BASIS_INTERVALS_MS = tuple(float(round(10.0 * 10.0 ** (k / 20.0))) for k in range(61))


def _basis_interval(config: SimConfig, recorded_per_s: float) -> Estimate:
    """``queue_reactive.basis_update_ms``: the interval at which the model's Exchange 2 mid moves as often as the
    recorded one (``recorded_per_s``), nearest on a log scale among BASIS_INTERVALS_MS. Exchange 2's mid moves when
    Exchange 1's moves reach it or the basis moves it across a price step; drawn every 100 ms (the grid it is fitted
    on) the basis moved it 11 times a second on both shipped recordings, against 3.8 (BTC) and 4.6 (ETH) recorded,
    and the strategy, quoting around Exchange 2's mid, sent 2.5-3.3 times the recording's orders. An exact
    Ornstein-Uhlenbeck step keeps the basis' spread and its autocorrelation at the interval's multiples."""
    from backtest.markets.queue_reactive import exchange2_move_rates

    rates = np.array(exchange2_move_rates(config, BASIS_INTERVALS_MS))
    key = "queue_reactive.basis_update_ms"
    if not recorded_per_s > 0 or not np.all(rates > 0):
        return Estimate(key, 100.0, f"the grid the basis is fitted on (Exchange 2's moves: {recorded_per_s:.2f} a "
                        "second recorded, none to match)")
    best = int(np.argmin(np.abs(np.log(rates / recorded_per_s))))
    h = BASIS_INTERVALS_MS[best]
    return Estimate(key, h, f"Exchange 2's mid then moves {rates[best]:.2f} times a second in the model, "
                    f"{recorded_per_s:.2f} recorded (from {rates[-1]:.2f} at {BASIS_INTERVALS_MS[-1]:g} ms, "
                    f"Exchange 1's moves alone, to {rates[0]:.2f} at {BASIS_INTERVALS_MS[0]:g} ms)")
