"""Calibrate the synthetic market to a recording of two venues, and print a synthetic market as a recording.

``calibrate(exchange1, exchange2, base)`` is a pure function of the two recordings (``MarketData``): it
estimates the synthetic market's parameters and returns the config with them (every other section, the
strategy's, from ``base``) and one ``Estimate`` per key saying where the value came from. Prices and sizes
are counted on the grid both venues' steps are whole multiples of (the replay's: 0.01 and 1e-6 BTC on the
shipped recording). What is estimated, on a 100 ms grid of each venue's mid (the book ticker's, else the
book's):

* volatility and its regimes: the realized variance of 100 ms mid returns in 10 s windows, split in two by
  1-D 2-means on log variance: the calm windows' volatility, the high/calm ratio, and the regime switches per
  second (one regime when the split is not clear: high/calm < 1.3, or either side outside 25-75% of the
  windows, since the model's symmetric switching spends half its time in each, or the labels switching as
  often as independent windows' would: a Wald-Wolfowitz runs test, kept only below z = -2.33, one-sided 1%,
  since sampling noise alone splits a one-regime market's windows into a high and a calm half);
* the basis (Exchange 2 minus Exchange 1 mid): its mean, and an Ornstein-Uhlenbeck fit by the 1 s
  autocorrelation phi of the 100 ms series: reversion -ln(phi) per s, volatility std * sqrt(2 reversion);
* each venue's flow, in the zero-intelligence model's terms: market orders (trades with one exchange time and
  aggressor side are one order): rate per side and mean size; limit orders: increases of a level's quantity
  within reach of the mid (rate per side, mean size, mean distance from the mid in ticks, the 95th
  percentile distance as max depth); cancels: decreases that trades do not explain, per second per lot
  resting; the resting volume within max depth (orders per side, seeded depth per level);
* clients: Exchange 1's market orders are the model's client flow, and the share followed by a mid move in
  their direction over ``clients.informed_horizon_s`` is p = informed + (1 - informed) / 2 (informed clients
  always trade with the move, others at random): informed = 2p - 1;
* latency: the recordings show one-way feed latency; order and hedge latencies are taken as a round trip of
  the hedge venue's (2 x its median; lognormal shape from its 84th/50th percentiles).

What cannot be estimated (a recording too short, no trades, no mean reversion in the basis) keeps the base
config's value, and its ``Estimate`` says so; nothing is ever NaN. ``synthetic_recording(config)`` prints a
synthetic market as the recording a capture would give (``kernels.tape``): calibration is tested on it with
known parameters, and the stylized-facts report measures synthetic and recorded markets with the same code.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from backtest.config import ConfigError, SimConfig, config_to_toml, make_config
from backtest.markets.data import MarketData
from kernels.records import ME_BOOK, ME_BOOK_CLEAR, ME_TRADE, MF_NO_EXCH_TS, market_event_dt

GRID_S = 0.1  # the mid series' step
WINDOW_S = 10.0  # realized-variance windows for the regimes
MIN_SPAN_S = 60.0  # shorter recordings: flows and regimes are not estimated


@dataclass(frozen=True)
class Estimate:
    key: str  # dotted config key
    value: float | int | str | None  # None = not estimated: the base config's value is kept
    source: str  # where it came from, or why it could not be estimated


@dataclass
class Tape:
    """One venue's recording reduced to what calibration and the stylized facts use, on the common grid."""
    mid: np.ndarray  # ticks, every GRID_S
    bid: np.ndarray  # best bid / ask, ticks, every GRID_S
    ask: np.ndarray
    touch_qty: np.ndarray  # lots at the best bid + best ask, every GRID_S
    trade_ts: np.ndarray  # s from the start, one per market order (prints sharing a time and side merged)
    trade_side: np.ndarray  # +1 buyer-initiated, -1 seller-initiated
    trade_qty: np.ndarray  # lots
    trade_price: np.ndarray  # ticks
    inc_offset: np.ndarray  # ticks from the mid of each level increase
    inc_qty: np.ndarray  # lots of each level increase
    dec_qty_side: np.ndarray  # lots of level decreases per side [bid, ask], within reach of the mid
    resting: np.ndarray  # lots resting within reach of the mid per side, sampled every second (n, 2)
    span_s: float
    feed_latency_ms: np.ndarray  # residual feed latencies, ms
    price_step: int  # the venue's own tick in ticks of the common grid


def grid_steps(d1: MarketData, d2: MarketData) -> tuple[float, float, int, int, int, int]:
    """The common price tick and lot step (the finer of the two, the other a whole multiple of it) and each
    venue's multiples of them."""
    tick, lot = min(d1.tick_size, d2.tick_size), min(d1.lot_size, d2.lot_size)
    out = []
    for d in (d1, d2):
        for step, unit, what in ((d.tick_size, tick, "tick size"), (d.lot_size, lot, "lot step")):
            k = round(step / unit)
            if abs(step / unit - k) > 1e-6 * k:
                raise ConfigError([f"{d.venue}'s {what} {step:g} is not a whole multiple of {unit:g}: the two "
                                   "venues cannot share a price and size grid"])
            out.append(k)
    return tick, lot, out[0], out[1], out[2], out[3]


def reduce_venue(d: MarketData, start: int, span_ns: int, pk: int, qk: int, reach_ticks: int = 20_000) -> Tape:
    """One venue's recording from ``start`` (ns) over ``span_ns``, on the common grid."""
    from backtest.markets.replay import mid_series, on_grid

    grid_ns = int(GRID_S * 1e9)
    n = max(2, span_ns // grid_ns)
    events, base, levels = on_grid(d, d.venue, start, n, grid_ns, pk, qk, 0.5)
    mid = mid_series(events, base, levels, n)[0]
    ev = events.table
    # trades: prints with one exchange time and side are one market order
    tr = ev[ev["kind"] == ME_TRADE]
    tr_t = np.maximum(0, tr["recv_ts"] - start) / 1e9
    if len(tr):
        new = np.ones(len(tr), dtype=bool)
        new[1:] = (tr["exch_ts"][1:] != tr["exch_ts"][:-1]) | (tr["side"][1:] != tr["side"][:-1])
        group = np.cumsum(new) - 1
        qty = np.bincount(group, weights=tr["qty"]).astype(np.int64)
        first = np.flatnonzero(new)
        trade_ts, trade_side, trade_price = tr_t[first], np.where(tr["side"][first] == 0, 1, -1), tr["price"][first]
    else:
        qty = trade_ts = trade_side = trade_price = np.zeros(0)
    # level changes: replay the book levels in order
    bids, asks = {}, {}
    inc_off, inc_q = [], []
    dec = np.zeros(2)
    book = ev[(ev["kind"] == ME_BOOK) | (ev["kind"] == ME_BOOK_CLEAR)]
    b_t = np.maximum(0, book["recv_ts"] - start) // grid_ns
    resting = []
    next_sample = 0
    bid_px, ask_px, touch = (np.zeros(n) for _ in range(3))
    cur = 0
    for i in range(len(book)):
        g = min(int(b_t[i]), n - 1)
        while cur < g:  # close the grid steps before this event
            bid_px[cur], ask_px[cur], touch[cur] = _touch(bids, asks)
            if cur * GRID_S >= next_sample:
                m = mid[cur]
                resting.append([sum(q for p, q in bids.items() if m - p <= reach_ticks),
                                sum(q for p, q in asks.items() if p - m <= reach_ticks)])
                next_sample += 1.0
            cur += 1
        e = book[i]
        if e["kind"] == ME_BOOK_CLEAR:
            bids.clear()
            asks.clear()
            continue
        side = bids if e["side"] == 0 else asks
        price, q = int(e["price"]), int(e["qty"])
        old = side.get(price, 0)
        if q == 0:
            side.pop(price, None)
        else:
            side[price] = q
        off = abs(price - mid[g])
        if off <= reach_ticks and b_t[i] > 0:  # the first batch is the snapshot, not flow
            if q > old:
                inc_off.append(off)
                inc_q.append(q - old)
            elif q < old:
                dec[e["side"]] += old - q
    while cur < n:
        bid_px[cur], ask_px[cur], touch[cur] = _touch(bids, asks)
        cur += 1
    lat = (d.events["recv_ts"] - d.events["exch_ts"])[(d.events["flags"] & MF_NO_EXCH_TS) == 0] / 1e6
    return Tape(mid=mid, bid=bid_px, ask=ask_px, touch_qty=touch, trade_ts=np.asarray(trade_ts, dtype=float),
                trade_side=np.asarray(trade_side), trade_qty=np.asarray(qty), trade_price=np.asarray(trade_price),
                inc_offset=np.asarray(inc_off, dtype=float), inc_qty=np.asarray(inc_q, dtype=float), dec_qty_side=dec,
                resting=np.asarray(resting, dtype=float).reshape(-1, 2), span_s=n * GRID_S, feed_latency_ms=lat,
                price_step=pk)


def _touch(bids, asks):
    if not bids or not asks:
        return 0.0, 0.0, 0.0
    bb, ba = max(bids), min(asks)
    return bb, ba, bids[bb] + asks[ba]


def tapes(d1: MarketData, d2: MarketData):
    """Both venues reduced over the span they share: (tape1, tape2, tick, lot)."""
    tick, lot, pk1, qk1, pk2, qk2 = grid_steps(d1, d2)
    start = max(d1.start_ns, d2.start_ns)
    span = min(d1.end_ns, d2.end_ns) - start
    if span <= int(2 * GRID_S * 1e9):
        raise ConfigError(["the two recordings share less than 0.2 s: nothing to calibrate on"])
    return reduce_venue(d1, start, span, pk1, qk1), reduce_venue(d2, start, span, pk2, qk2), tick, lot


LEAD_LAG_MS = 100  # lags examined each way, milliseconds
LEAD_LAG_GRID_MS = 1


def fine_mids(d1, d2, step_ms: int = LEAD_LAG_GRID_MS) -> tuple[np.ndarray, np.ndarray]:
    """Both venues' mids (currency) every ``step_ms`` over the span they share, as the replay sees them: the
    book ticker's touch where the venue has one, else its book (``backtest.markets.replay.mid_series``)."""
    from backtest.markets.replay import mid_series, on_grid

    tick, _, pk1, qk1, pk2, qk2 = grid_steps(d1, d2)
    start = max(d1.start_ns, d2.start_ns)
    dt_ns = int(step_ms * 1_000_000)
    n = int((min(d1.end_ns, d2.end_ns) - start) // dt_ns)
    mids = []
    for d, name, pk, qk in ((d1, "Exchange 1", pk1, qk1), (d2, "Exchange 2", pk2, qk2)):
        events, base, levels = on_grid(d, name, start, n, dt_ns, pk, qk, 10.0)
        mids.append(mid_series(events, base, levels, n)[0] * tick)
    return mids[0], mids[1]


def lead_lag(mid1: np.ndarray, mid2: np.ndarray, max_lag: int = LEAD_LAG_MS) -> dict:
    """Cross-correlation of the two mids' changes, ``corr(dm1[t], dm2[t + lag])`` for lags -max_lag..max_lag
    steps: a peak at a positive lag means Exchange 1's moves come first (it leads), at a negative one that
    Exchange 2 leads. ``ratio`` (Huth and Abergel 2014's lead-lag ratio): the sum of squared correlations at
    positive lags over that at negative lags, > 1 when Exchange 1 leads."""
    x, y = np.diff(mid1), np.diff(mid2)
    n = min(x.size, y.size)
    x, y = x[:n] - x[:n].mean(), y[:n] - y[:n].mean()
    sx, sy = np.sqrt(np.dot(x, x)), np.sqrt(np.dot(y, y))
    lags = np.arange(-max_lag, max_lag + 1)
    if n <= 2 * max_lag or sx == 0 or sy == 0:
        return {"lags": lags, "xcorr": np.full(lags.size, np.nan), "lag": float("nan"), "peak": float("nan"),
                "ratio": float("nan")}
    xcorr = np.array([np.dot(x[:n - k], y[k:]) if k >= 0 else np.dot(x[-k:], y[:n + k]) for k in lags]) / (sx * sy)
    best = int(np.argmax(xcorr))
    after, before = np.sum(xcorr[lags > 0] ** 2), np.sum(xcorr[lags < 0] ** 2)
    return {"lags": lags, "xcorr": xcorr, "lag": float(lags[best]), "peak": float(xcorr[best]),
            "ratio": float(after / before) if before > 0 else float("inf")}


REGIME_RUNS_Z = 2.33  # one-sided 1%: a one-regime recording is split into regimes once in a hundred


def runs_z(labels: np.ndarray) -> float:
    """Wald-Wolfowitz runs test on a two-valued sequence: (runs - expected) / sd under independent labels with
    the same counts. Strongly negative: fewer switches than chance, the labels persist; 0 if one value only."""
    n1 = int(np.count_nonzero(labels))
    n2 = len(labels) - n1
    if n1 == 0 or n2 == 0:
        return 0.0
    n = n1 + n2
    runs = 1 + int(np.count_nonzero(labels[1:] != labels[:-1]))
    expected = 2.0 * n1 * n2 / n + 1.0
    variance = 2.0 * n1 * n2 * (2.0 * n1 * n2 - n) / (n * n * (n - 1.0))
    return (runs - expected) / math.sqrt(variance) if variance > 0 else 0.0


def _regimes(mid_ticks: np.ndarray, tick: float):
    """(calm volatility per sqrt(s), high/calm ratio, switches per s, note) from 10 s windows of 100 ms returns;
    one regime (the whole recording's volatility) unless the split is clear and each side holds 25-75%. The
    level of volatility is measured on 1 s returns: a book's mid lags its price by a few updates, which 100 ms
    returns undercount (by 25% on the simulator's own books)."""
    r = np.diff(mid_ticks) * tick
    per = int(WINDOW_S / GRID_S)
    n_w = len(r) // per
    step = int(round(1.0 / GRID_S))
    r1 = np.diff(mid_ticks[::step]) * tick
    total = float(np.std(r1)) if len(r1) > 1 else 0.0
    scale = total / (float(np.std(r)) / math.sqrt(GRID_S)) if len(r) > 1 and np.std(r) > 0 else 1.0
    if n_w < 6:
        return total, 1.0, 0.0, f"one regime: {n_w} windows of {WINDOW_S:g} s are too few to split"
    v = np.array([np.var(r[i * per:(i + 1) * per]) / GRID_S for i in range(n_w)])
    lv = np.sort(np.log(np.maximum(v, 1e-30)))
    best, cut = None, None
    for j in range(3, n_w - 2):  # 1-D 2-means on log variance, at least 3 windows each side
        cost = lv[:j].var() * j + lv[j:].var() * (n_w - j)
        if best is None or cost < best:
            best, cut = cost, (lv[j - 1] + lv[j]) / 2
    high = np.log(np.maximum(v, 1e-30)) > cut
    # each group's volatility from its windows' 1 s returns (less of the book's flicker than 100 ms ones)
    per1 = int(round(WINDOW_S))
    v1 = np.array([np.var(r1[i * per1:(i + 1) * per1]) if (i + 1) * per1 <= len(r1) else np.nan for i in range(n_w)])
    ok = np.isfinite(v1)
    calm = math.sqrt(np.nanmean(v1[~high & ok])) if (~high & ok).any() else math.sqrt(v[~high].mean()) * scale
    ratio = math.sqrt(np.nanmean(v1[high & ok])) / calm if calm > 0 and (high & ok).any() else 1.0
    share = float(high.mean())
    if ratio < 1.3 or not 0.25 <= share <= 0.75:
        # the model's two regimes switch at one rate, so it spends half its time in each: a split that puts
        # most windows on one side does not describe this recording better than a single regime
        return total, 1.0, 0.0, (f"one regime: the best split of the {n_w} windows' variances (high/calm "
                                 f"{ratio:.2f}, {share:.0%} high) is not two comparable regimes")
    switches = int(np.count_nonzero(high[1:] != high[:-1]))
    z = runs_z(high)
    if z > -REGIME_RUNS_Z:
        # regimes persist: high windows follow high windows. Labels that switch as often as independent windows
        # would (a one-regime market's sampling noise, split in two) are not regimes
        return total, 1.0, 0.0, (f"one regime: the {n_w} windows' high and calm labels switch {switches} times, "
                                 f"as independent windows would (runs test z = {z:.2f}, regimes need below "
                                 f"-{REGIME_RUNS_Z:g})")
    return calm, min(ratio, 50.0), switches / (n_w * WINDOW_S), (
        f"{n_w} windows of {WINDOW_S:g} s: {int(high.sum())} high, {int((~high).sum())} calm, {switches} switches")


class _ClippedFloat(float):
    """A value an estimate was clipped to (``raw``: the estimate): ``put`` says so in the key's source."""
    raw: float


class _ClippedInt(int):
    raw: float


def _clip(value, lo, hi, integer: bool = False):
    """``value`` within [lo, hi] (an int with ``integer``); when that changed it, marked with the estimate."""
    kind, marked = (int, _ClippedInt) if integer else (float, _ClippedFloat)
    clipped = kind(min(max(value, lo), hi))
    if not (math.isfinite(value) and clipped != value):
        return clipped
    out = marked(clipped)
    out.raw = float(value)
    return out


# strategy settings in the kernel's ticks and lots: copied from the base, they would mean other prices and sizes
# on a grid with another tick size or lot step (a setting given in bps, base units or notional carries itself)
TICK_KEYS = ("quoting.half_spread_ticks", "quoting.requote_tolerance_ticks", "hedging.slippage_buffer_ticks")
LOT_KEYS = ("quoting.size_lots", "hedging.min_hedge_lots", "hedging.exposure_threshold_lots",
            "risk.soft_position_lots", "risk.hard_position_lots")


def _carry_to_grid(base: SimConfig, tick: float, lot: float) -> list[Estimate]:
    """The base's strategy settings in ticks and lots re-expressed on the calibrated grid (the same prices and
    base amounts), for those not given in a unit that carries."""
    from backtest.units import UNIT_GROUPS

    dump = base.model_dump()
    old_tick, old_lot = base.market.tick_size, base.market.lot_size
    out = []
    for key in (*TICK_KEYS, *LOT_KEYS, "quoting.skew_ticks_per_lot"):
        section, name = key.split(".")
        if any(dump[c.split(".")[0]][c.split(".")[1]] is not None for c in UNIT_GROUPS.get(key, ())):
            continue  # given in bps, base units or notional: resolves on any grid
        value = dump[section][name]
        factor = (old_tick / tick if key in TICK_KEYS else old_lot / lot if key in LOT_KEYS
                  else (old_tick / tick) * (lot / old_lot))
        if math.isclose(factor, 1.0, rel_tol=1e-12):
            continue
        exact = value * factor
        field = type(getattr(base, section)).model_fields[name]
        if field.annotation is int:
            floor = next((m.ge for m in field.metadata if hasattr(m, "ge")), 0)
            new = max(int(floor), int(round(exact)))
            note = "" if new == exact else f" (exactly {exact:,.6g}, {'rounded' if new == round(exact) else 'raised to its minimum'})"
        else:
            new, note = exact, ""
        unit = "ticks" if key in TICK_KEYS else "lots" if key in LOT_KEYS else "ticks per lot"
        out.append(Estimate(key, new, f"the base's {value:,.6g} {unit} on the calibrated grid (tick {tick:g}, lot "
                                      f"{lot:g} against {old_tick:g} / {old_lot:g}): the same prices and base amounts{note}"))
    return out


def calibrate(exchange1: MarketData, exchange2: MarketData, base: SimConfig | None = None,
              dt_s: float = 0.01) -> tuple[SimConfig, list[Estimate]]:
    """The synthetic market's parameters estimated from a recording of two venues; see the module docstring.
    ``base`` gives every other key (the strategy's: quoting, hedging, risk, fees); ``dt_s`` is the synthetic
    market's tick (10 ms by default: order entry takes at least a tick there)."""
    base = base or SimConfig()
    t1, t2, tick, lot = tapes(exchange1, exchange2)
    span = t1.span_s
    est: list[Estimate] = []

    def put(key, value, source):
        if value is not None and (isinstance(value, float) and not math.isfinite(value)):
            value, source = None, f"not estimated ({source}: no finite value)"
        if isinstance(value, (_ClippedFloat, _ClippedInt)):
            source += f"; the estimate, {value.raw:,.6g}, is outside the model's range: clipped to its bound"
            value = int(value) if isinstance(value, int) else float(value)
        est.append(Estimate(key, value, source))

    put("market.source", "synthetic", "the calibrated market is the synthetic one")
    put("replay.exchange1", "", "the synthetic market replays no recording")
    put("replay.exchange2", "", "the synthetic market replays no recording")
    put("market.tick_size", tick, f"the finer venue tick size ({exchange1.tick_size:g} / {exchange2.tick_size:g})")
    put("market.lot_size", lot, f"the finer venue lot step ({exchange1.lot_size:g} / {exchange2.lot_size:g})")
    put("market.initial_price", float(t1.mid[0] * tick), "Exchange 1's first mid")
    put("sim.dt_s", dt_s, "the synthetic market's tick (not a property of the recording)")
    put("sim.ticks", max(10, int(span / dt_s)), f"the span both venues cover, {span:.1f} s")
    put("market.drift_per_s", 0.0, "set to 0: over minutes, drift cannot be told from noise")

    if span >= MIN_SPAN_S:
        calm, ratio, switch, note = _regimes(t1.mid, tick)
        put("market.volatility_per_sqrt_s", calm, f"Exchange 1 mid, 100 ms returns; {note}")
        put("market.high_vol_multiplier", ratio, note)
        put("market.regime_switch_per_s", switch, note)
    else:
        for key in ("market.volatility_per_sqrt_s", "market.high_vol_multiplier", "market.regime_switch_per_s"):
            put(key, None, f"not estimated: {span:.0f} s of recording, at least {MIN_SPAN_S:g} s needed")

    basis = t2.mid - t1.mid
    put("market.basis_mean_ticks", float(basis.mean()), "mean of Exchange 2 minus Exchange 1 mid, 100 ms grid")
    dev = basis - basis.mean()
    # the OU fit on the 1 s autocorrelation: each mid's own noise (a book's touch flickering around its price)
    # pulls the 100 ms autocorrelation down and the reversion speed up
    lag = int(round(1.0 / GRID_S))
    phi = (float(np.dot(dev[lag:], dev[:-lag]) / np.dot(dev, dev)) if np.dot(dev, dev) > 0 and len(dev) > 20 * lag
           else float("nan"))
    if 0.0 < phi < 1.0:
        theta = -math.log(phi) / (lag * GRID_S)
        put("market.basis_reversion_per_s", _clip(theta, 0.0, 100.0), f"OU fit: 1 s autocorrelation {phi:.3f}")
        put("market.basis_vol_ticks_per_sqrt_s", _clip(float(dev.std()) * math.sqrt(2 * theta), 0.0, 1000.0),
            f"OU fit: std {dev.std():.1f} ticks x sqrt(2 x reversion)")
    else:
        put("market.basis_reversion_per_s", None, f"not estimated: lag-1 autocorrelation {phi:.3f} is not in (0, 1)")
        put("market.basis_vol_ticks_per_sqrt_s", None, "not estimated (see basis_reversion_per_s)")

    for prefix, tape, venue in (("exchange1", t1, exchange1), ("exchange2", t2, exchange2)):
        _flow_estimates(put, prefix, tape, venue.venue, span)
    # Exchange 1's market orders are the model's clients (the flow our quotes meet); its background
    # participants send none, so that they are not counted twice
    n_mo = len(t1.trade_ts)
    if n_mo >= 20:
        put("clients.rate_per_s", n_mo / span, f"Exchange 1 market orders, {n_mo} in {span:.0f} s")
        put("clients.mean_size_lots", _clip(float(t1.trade_qty.mean()), 1.0, 1e6), "Exchange 1 market orders")
        put("exchange1.market_rate_per_s", 0.0, "Exchange 1's market orders are the clients'")
        horizon = base.clients.informed_horizon_s
        steps = max(1, int(round(horizon / GRID_S)))
        idx = np.minimum((t1.trade_ts / GRID_S).astype(int), len(t1.mid) - 1)
        after = np.minimum(idx + steps, len(t1.mid) - 1)
        move = np.sign(t1.mid[after] - t1.mid[idx]) * t1.trade_side
        moved = move[move != 0]
        if moved.size >= 20:
            p = float((moved > 0).mean())
            put("clients.informed_fraction", _clip(2 * p - 1, 0.0, 1.0),
                f"{p:.1%} of {moved.size} market orders were followed by a mid move their way within {horizon:g} s")
        else:
            put("clients.informed_fraction", None, f"not estimated: {moved.size} market orders followed by a move")
    else:
        for key in ("clients.rate_per_s", "clients.mean_size_lots", "clients.informed_fraction"):
            put(key, None, f"not estimated: {n_mo} Exchange 1 market orders, at least 20 needed")

    lat = t2.feed_latency_ms
    if lat.size >= 20 and np.median(lat) > 0:
        p50, p84 = float(np.median(lat)), float(np.percentile(lat, 84))
        put("latency.hedge_median_ms", _clip(2 * p50, 0.0, 60000.0),
            f"a round trip of Exchange 2's median one-way feed latency ({p50:.1f} ms after the clock offset)")
        put("latency.order_median_ms", _clip(2 * float(np.median(t1.feed_latency_ms)), 0.0, 60000.0)
            if t1.feed_latency_ms.size else None, "a round trip of Exchange 1's median feed latency")
        put("latency.hedge_sigma", _clip(math.log(max(p84, p50) / p50), 0.0, 5.0), "ln(p84 / p50) of the feed latency")
    else:
        for key in ("latency.hedge_median_ms", "latency.order_median_ms", "latency.hedge_sigma"):
            put(key, None, "not estimated: the recording carries no feed latency")

    est.extend(_carry_to_grid(base, tick, lot))
    return config_of(base, est), est


def config_of(base: SimConfig, estimates: list[Estimate]) -> SimConfig:
    """``base`` with every estimated value; ConfigError (saying so) if together they do not make a valid config."""
    overrides = {e.key: e.value for e in estimates if e.value is not None}
    try:
        return make_config(base.model_dump(), **overrides)
    except ConfigError as err:
        raise ConfigError([f"the calibrated values do not make a valid config: {p}" for p in err.problems]) from None


def _flow_estimates(put, prefix: str, tape: Tape, name: str, span: float) -> None:
    n_inc = len(tape.inc_qty)
    if n_inc < 50 or span < MIN_SPAN_S:
        for key in ("limit_rate_per_s", "mean_limit_size_lots", "mean_offset_ticks", "max_depth_ticks",
                    "cancel_rate_per_order_per_s", "max_orders_per_side", "initial_depth_lots"):
            put(f"{prefix}.{key}", None, f"not estimated: {n_inc} level increases in {span:.0f} s on {name}")
    else:
        depth = _clip(math.ceil(np.percentile(tape.inc_offset, 95)), 2, 20_000, integer=True)
        near = tape.inc_offset <= depth
        size = _clip(float(tape.inc_qty[near].mean()), 1.0, 1e6)
        put(f"{prefix}.limit_rate_per_s", _clip(near.sum() / span / 2, 0.0, 10000.0),
            f"{name}: level increases within {depth} ticks of the mid, per side")
        put(f"{prefix}.mean_limit_size_lots", size, f"{name}: mean level increase")
        # The model's offsets are geometric from the price: one parameter cannot match both the recording's
        # near-touch flow and its deep ladders (most increases sit far from the mid). The touch is what quotes
        # meet, so the mean is set for the share of increases at the venue's first tick from the mid:
        # P(offset = 1 venue tick) = step / mean.
        at_touch = float(np.mean(tape.inc_offset <= tape.price_step))
        if at_touch > 0:
            put(f"{prefix}.mean_offset_ticks", _clip(tape.price_step / at_touch, 1.0, 20_000.0),
                f"{name}: {at_touch:.1%} of level increases are at the touch (one venue tick from the mid); "
                f"the mean distance of all of them, {tape.inc_offset[near].mean():,.0f} ticks, is set by deep ladders")
        else:
            put(f"{prefix}.mean_offset_ticks", _clip(float(tape.inc_offset[near].mean()), 1.0, 20_000.0),
                f"{name}: mean distance of increases from the mid (none at the touch)")
        put(f"{prefix}.max_depth_ticks", depth, f"{name}: 95th percentile distance of increases from the mid")
        resting = tape.resting.mean(axis=0) if len(tape.resting) else np.zeros(2)
        traded = tape.trade_qty.sum() if len(tape.trade_qty) else 0
        cancels = max(0.0, tape.dec_qty_side.sum() - traded) / span / 2
        mean_rest = float(resting.mean())
        if mean_rest > 0:
            put(f"{prefix}.cancel_rate_per_order_per_s", _clip(cancels / mean_rest, 0.0, 1000.0),
                f"{name}: decreases not explained by trades, per second per lot resting")
            put(f"{prefix}.max_orders_per_side", _clip(math.ceil(3 * mean_rest / size), 1, 100000, integer=True),
                f"{name}: three times the lots resting within reach over the mean order size")
            put(f"{prefix}.initial_depth_lots", _clip(round(mean_rest / depth), 0, 1_000_000, integer=True),
                f"{name}: mean lots resting per level within max depth")
        else:
            for key in ("cancel_rate_per_order_per_s", "max_orders_per_side", "initial_depth_lots"):
                put(f"{prefix}.{key}", None, f"not estimated: nothing rested within reach on {name}")
    n_mo = len(tape.trade_ts)
    if prefix == "exchange2" and n_mo >= 20:
        put(f"{prefix}.market_rate_per_s", _clip(n_mo / span / 2, 0.0, 10000.0), f"{name}: market orders per side")
        put(f"{prefix}.mean_market_size_lots", _clip(float(tape.trade_qty.mean()), 1.0, 1e6), f"{name}: market orders")
    elif prefix == "exchange2":
        for key in ("market_rate_per_s", "mean_market_size_lots"):
            put(f"{prefix}.{key}", None, f"not estimated: {n_mo} market orders on {name}")


CORRELATION_STEP_S = 1.0  # returns over a second: faster, the assets' moves look out of step (the Epps effect)


def recorded_correlation(exchange1_recordings: list[MarketData], step_s: float = CORRELATION_STEP_S,
                         start_ns: int | None = None, end_ns: int | None = None) -> np.ndarray:
    """The correlation of the recordings' mid log returns over ``step_s`` (mids at the end of each step from
    ``start_ns``, default: when all of them are under way, to ``end_ns``, default: the first end): several
    assets' quoted venues on the same minutes. ConfigError if they share fewer than three steps."""
    from backtest.markets.replay import mid_series, on_grid

    start = max(d.start_ns for d in exchange1_recordings) if start_ns is None else start_ns
    end = min(d.end_ns for d in exchange1_recordings) if end_ns is None else end_ns
    step_ns = int(round(step_s * 1e9))
    n = (end - start) // step_ns
    if n < 3:
        raise ConfigError([f"the recordings share {(end - start) / 1e9:.1f} s; the correlation needs at least "
                           f"{3 * step_s:g} s of them at the same time"])
    returns = []
    for d in exchange1_recordings:
        events, base, levels = on_grid(d, d.venue, start, n, step_ns, 1, 1, 0.5)
        mid = mid_series(events, base, levels, n)[0]
        returns.append(np.diff(np.log(mid)))
    return np.atleast_2d(np.corrcoef(np.array(returns)))


def calibrate_portfolio(assets: dict[str, tuple[MarketData, MarketData]], base: SimConfig | None = None
                        ) -> tuple[dict, dict[str, list[Estimate]]]:
    """A synthetic portfolio calibrated to recordings of several assets on the same minutes: each asset's market
    as ``calibrate`` estimates it from its pair of venues, and ``portfolio.correlation`` from their quoted venues'
    returns (``recorded_correlation``). Returns the portfolio as data (``backtest.portfolio.make_portfolio_config``
    reads it: the first asset's config is the shared one, the others override what differs; the clock is the
    span every pair covers) and each asset's estimates."""
    configs, estimates = {}, {}
    for name, (d1, d2) in assets.items():
        configs[name], estimates[name] = calibrate(d1, d2, base=base)
    names = list(configs)
    shared = configs[names[0]].model_dump(mode="json")
    shared["sim"]["ticks"] = min(c.sim.ticks for c in configs.values())
    listed = []
    for name in names:
        dump = configs[name].model_dump(mode="json")
        own = {section: {k: v for k, v in values.items() if shared[section].get(k) != v}
               for section, values in dump.items() if section != "sim" and isinstance(values, dict)}
        listed.append({"name": name, **{s: v for s, v in own.items() if v}})
    # from when every venue of every asset is under way, as a portfolio replay of the same recordings starts
    start = max(max(d1.start_ns, d2.start_ns) for d1, d2 in assets.values())
    end = min(min(d1.end_ns, d2.end_ns) for d1, d2 in assets.values())
    corr = recorded_correlation([d1 for d1, _ in assets.values()], start_ns=start, end_ns=end)
    return {**shared, "portfolio": {"correlation": np.round(corr, 6).tolist(),
                                    "covariance_sample_s": CORRELATION_STEP_S},
            "assets": listed}, estimates


def to_toml(config: SimConfig, estimates: list[Estimate], header: str = "") -> str:
    """The whole config as TOML (what ``--config`` reads), each estimated key with a comment saying where its
    value came from, the others marked as taken from the base config."""
    comments = {e.key: (f"calibrated: {e.source}" if e.value is not None else f"base config ({e.source})")
                for e in estimates}
    return config_to_toml(config, comments, header)


# -- a synthetic market printed as a recording ------------------------------------------------------------
def synthetic_recording(config: SimConfig) -> tuple[MarketData, MarketData]:
    """Both venues of a synthetic market (no orders of ours) as the recordings a capture would give."""
    from backtest.markets.generate import generate
    from backtest.resources import book_capacity
    from kernels.tape import new_tape_book, print_tape

    m = generate(config)
    dt_ns = int(round(config.sim.dt_s * 1e9))
    out = []
    capacity = book_capacity(config)
    for name, venue, center, events, base, levels in (
            ("exchange1", config.exchange1, m.center1, m.events1, m.base1, m.levels1),
            ("exchange2", config.exchange2, m.center2, m.events2, m.base2, m.levels2)):
        book = new_tape_book(levels, capacity, base, center[0], venue.max_depth_ticks,
                             venue.initial_depth_lots)
        size = 4 * len(events.table) + 64 * len(center)
        while True:
            tape = np.empty(size, dtype=market_event_dt)
            b = book.copy()
            n = print_tape(b, center, events.start, events.table, len(center), dt_ns, venue.max_depth_ticks,
                           venue.max_depth_ticks, np.zeros((2, levels), dtype=np.int64),
                           np.zeros((3, 16), dtype=np.int64), tape)
            if n <= size:
                break
            size = n
        out.append(MarketData(venue=name, symbol="SYNTHETIC", source="synthetic", tick_size=config.market.tick_size,
                              lot_size=config.market.lot_size, tick_size_inferred=False, lot_size_inferred=False,
                              clock_offset_ns=0, events=tape[:n].copy()))
    return out[0], out[1]
