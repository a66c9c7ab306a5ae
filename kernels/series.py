"""Small sequential recursions that numpy cannot vectorise."""
import math

import numpy as np

from kernels._jit import jit
from kernels.records import EV_CANCEL, EV_LIMIT, EV_MARKET


@jit
def geometric_inverse(u, inv_log_q, cap):
    """A geometric draw on {1, 2, ...} from one uniform ``u`` in [0, 1) by inversion:
    ``1 + floor(log(1 - u) / log(1 - p))``, capped at ``cap``. ``inv_log_q = 1 / log(1 - p)`` (mean 1/p);
    pass 0.0 for a mean of 1 (always 1)."""
    if inv_log_q == 0.0:
        return 1
    x = 1.0 + math.floor(math.log(1.0 - u) * inv_log_q)
    return cap if x >= cap else int(x)


@jit
def draw_events(uniforms, e_first, t_cursor, start, cum, kind_of, side_of, table,
                offset_inv_log, max_offset, limit_inv_log, market_inv_log, client_inv_log, max_orders,
                informed_fraction, center, horizon):
    """Fill events ``e_first .. e_first + len(uniforms) // 2 - 1`` of a venue from two uniforms each.

    The first uniform picks the event type (the first ``k`` with ``u < cum[k]``); where it falls inside
    its type's interval, rescaled to [0, 1), is a fresh uniform independent of the type, and sizes the
    order (limit, market, client: geometric lots) or picks which resting order a cancel hits (an index
    in [0, ``max_orders``), stored in ``offset``). The second uniform gives a limit order's distance from
    the venue price (geometric ticks, capped at ``max_offset``) or a client's type: informed with
    probability ``informed_fraction`` (it trades the way ``center`` moves over the next ``horizon``
    ticks), else a coin flip for the side, from the rescaled remainder again.
    Rows of ``table`` are ``kernels.records.event_dt``. ``t_cursor`` is the tick of event ``e_first`` (events of tick t are ``start[t]:start[t+1]``); the
    tick of the last event filled is returned so the next chunk can carry on."""
    n_types = cum.shape[0]
    n_ticks = center.shape[0]
    t = t_cursor
    for j in range(uniforms.shape[0] // 2):
        e = e_first + j
        a = uniforms[2 * j]
        b = uniforms[2 * j + 1]
        k = 0
        for i in range(n_types - 1):  # cum is sorted and short: counting beats a search
            k += a >= cum[i]
        lo = cum[k - 1] if k > 0 else 0.0
        r = (a - lo) / (cum[k] - lo)
        if r >= 1.0:  # rounding at the top of the interval
            r = 0.9999999999999999
        ek = kind_of[k]
        row = table[e]
        row["kind"] = ek
        row["side"] = side_of[k]
        if ek == EV_LIMIT:
            row["offset"] = geometric_inverse(b, offset_inv_log, max_offset)
            row["qty"] = geometric_inverse(r, limit_inv_log, 1_000_000)
        elif ek == EV_CANCEL:
            row["offset"] = int(r * max_orders)
            row["qty"] = 0
        elif ek == EV_MARKET:
            row["offset"] = 0
            row["qty"] = geometric_inverse(r, market_inv_log, 1_000_000)
        else:  # client market order
            while start[t + 1] <= e:
                t += 1
            informed = b < informed_fraction
            if informed:
                coin = b / informed_fraction
            else:
                coin = (b - informed_fraction) / (1.0 - informed_fraction)
            s = 0 if coin < 0.5 else 1
            if informed:
                ahead = center[min(t + horizon, n_ticks - 1)] - center[t]
                if ahead > 0:
                    s = 0
                elif ahead < 0:
                    s = 1
            row["side"] = s
            row["offset"] = 0
            row["qty"] = geometric_inverse(r, client_inv_log, 1_000_000)
    return t


@jit
def poisson_starts(uniforms, exp_minus_lam, start, t_first, total):
    """Poisson counts by numpy's own method for a mean below 10 (``random_poisson_mult``: multiply
    uniforms until the product falls to ``exp(-lam)`` or below; the count is how many stayed above),
    fed from a block of ``uniforms`` drawn with ``Generator.random``, which yields the same doubles that
    ``Generator.poisson`` takes internally. Writes running totals: ``start[t + 1] = start[t] + count_t``
    for ``t = t_first, ...``, starting from ``total``, until the ticks or the uniforms run out (a count
    whose uniforms ran out is not written). Returns ``(next_tick, uniforms_used, total)``."""
    n = start.shape[0] - 1
    m = uniforms.shape[0]
    j = 0
    t = t_first
    while t < n:
        x = 0
        prod = 1.0
        k = j
        while k < m:
            prod *= uniforms[k]
            k += 1
            if prod > exp_minus_lam:
                x += 1
            else:
                break
        else:
            break  # out of uniforms in the middle of this count
        j = k
        total += x
        start[t + 1] = total
        t += 1
    return t, j, total


@jit
def fair_value_path(regime_uniforms, switch_p, normals, vol_calm, vol_high, sqrt_dt, drift_step, tick, start):
    """The regime chain and the fair value in one pass (ticks), operation for operation what
    ``regime = cumsum(u < switch_p) % 2`` (0 at tick 0), ``steps = (drift_step + vol * sqrt_dt * z) / tick``
    (0 at tick 0) and ``fair = start + cumsum(steps)`` give in numpy, without their temporaries."""
    n = regime_uniforms.shape[0]
    regime = np.empty(n, dtype=np.int8)
    fair = np.empty(n)
    switches = 0
    total = 0.0
    for t in range(n):
        switches += regime_uniforms[t] < switch_p
        high = t > 0 and switches % 2 == 1
        regime[t] = 1 if high else 0
        step = 0.0
        if t > 0:
            step = (drift_step + (vol_high if high else vol_calm) * sqrt_dt * normals[t]) / tick
        total += step
        fair[t] = start + total
    return regime, fair


@jit
def basis_feed(fair, normals, shock_sd, decay, mean):
    """Exchange 2's price feed (ticks): ``fair`` plus ``mean`` plus an AR(1) (exact OU) basis with shocks
    ``shock_sd * normals``; and both venues' rounded prices, where background orders are placed.
    The same operations, in the same order, as numpy's elementwise versions, in one pass."""
    n = fair.shape[0]
    feed2 = np.empty(n)
    center1 = np.empty(n, dtype=np.int64)
    center2 = np.empty(n, dtype=np.int64)
    basis = 0.0
    for t in range(n):
        basis = decay * basis + shock_sd * normals[t]
        feed2[t] = fair[t] + (mean + basis)
        center1[t] = np.int64(np.rint(fair[t]))
        center2[t] = np.int64(np.rint(feed2[t]))
    return feed2, center1, center2


@jit
def scale_in_spikes(latency, spike_uniforms, spike_probability, spike_len, multiplier, last_start):
    """Multiply ``latency`` in place by ``multiplier`` on every tick within ``spike_len`` ticks of a spike
    start (a tick whose uniform is below ``spike_probability``), itself included. ``last_start``: the latest
    spike start before these ticks (negative, relative to the first of them); returns the latest start
    relative to the tick after them, for the next span."""
    for t in range(latency.shape[0]):
        if spike_uniforms[t] < spike_probability:
            last_start = t
        if t - last_start < spike_len:
            latency[t] = latency[t] * multiplier
    return max(last_start - latency.shape[0], -spike_len - 1)


@jit
def tick_records_to_floats(ints, price_fields, tick_size, floats, float_fields, float_scales, out):
    """The ticks frame's float columns from the tick records in one pass, each record read once while in
    cache. ``ints`` / ``floats``: the records viewed as ``n x k`` arrays of int32 / float64 (strided);
    ``out[k, i]`` is ``ints[i, price_fields[k]] * tick_size`` (NaN where the price is negative: none), then
    ``out[len(price_fields) + k, i]`` is ``floats[i, float_fields[k]] * float_scales[k]``. The same
    products, bit for bit, as numpy's on one field at a time."""
    n_prices = price_fields.shape[0]
    for i in range(ints.shape[0]):
        for k in range(n_prices):
            value = ints[i, price_fields[k]]
            out[k, i] = np.nan if value < 0 else np.float64(value) * tick_size
        for k in range(float_fields.shape[0]):
            out[n_prices + k, i] = floats[i, float_fields[k]] * float_scales[k]


@jit
def rows_in_force(ticks, row_ticks, out):
    """For each of ``ticks`` (non-decreasing), the last row of ``row_ticks`` (non-decreasing) at or before it,
    -1 before the first: ``np.searchsorted(row_ticks, ticks, "right") - 1`` in one merge pass."""
    row = -1
    for i in range(ticks.shape[0]):
        while row + 1 < row_ticks.shape[0] and row_ticks[row + 1] <= ticks[i]:
            row += 1
        out[i] = row


@jit
def max_drawdown(values):
    """The largest fall of ``values`` from their running maximum: ``(np.maximum.accumulate(v) - v).max()`` in
    one pass without its temporaries, NaN from the first NaN on as there; 0.0 for no values."""
    worst = 0.0
    peak = -np.inf
    for i in range(values.shape[0]):
        v = values[i]
        if np.isnan(v):
            return np.nan
        if v > peak:
            peak = v
        if peak - v > worst:
            worst = peak - v
    return worst
