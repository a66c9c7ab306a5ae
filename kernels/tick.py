"""The tick loop: matching, quoting, hedging, risk and accounting for one whole run.

Order of work inside tick ``t`` (the order is an assumption of the model, stated in the README):

1. user interventions scheduled at ``t`` (manual fill, pause, resume, kill, kill reset);
2. Exchange 2's background flow (limit orders, cancels, market orders around its price feed);
3. Exchange 1's background and client flow, which can trade against our resting quotes
   (or, with the intensity fill model, Avellaneda-Stoikov fill draws against our quotes);
4. hedges whose latency has elapsed are sent to Exchange 2 as immediate-or-cancel limit orders;
5. marks, PnL and its attribution;
6. risk checks (latency spike, loss over the rolling window, position limits) and state changes;
7. re-quoting on Exchange 1, keeping resting orders whose price and size are still good enough;
8. one row of ``out_ticks``, and one of ``out_account`` when cash, fees, positions, the pending
   hedge or the risk state changed.

Quotes placed in step 7 face the flow of tick ``t + 1``: order entry takes (at least) one tick.
An Exchange 1 order latency of more than one tick delays both legs of a cancel/replace by the extra
ticks ``d``: the new order lands, and the old one's cancel takes effect, at the start of tick's
``t + d`` Exchange 1 step, so the old quote meets ``d`` more ticks of flow (fills on it still count
and are hedged: the cancel race). While an order is in flight on a side, that side waits for it.

Money inside the kernel is in tick-lots (one tick of price on one lot). Accounting identity, exact
up to float rounding at every tick::

    total = spread_capture + hedge_slippage + hedge_latency + hedge_basis + inventory_mtm - fees

where, with feeds f1, f2 as marks and B-terms the signed notionals of trades at their reference
marks, inventory_mtm = (inv1 + inv2) * f1 - B1 - B2m1 and hedge_basis = inv2 * (f2 - f1) - (B2m2 - B2m1).
"""
import math

import numpy as np

from kernels._jit import jit, jit_borrow
from kernels.book import (
    MM_FILL_BUFFER, B_BASE, B_BEST_ASK, B_BEST_BID, B_DROPPED, B_NLEVELS, LV_QTY,
    best_ask, best_bid, book_new, cancel, cancel_random_other, crosses, depth_within, level_row, match,
    order_alive, queue_ahead, rest, withdraw_level,
)
from kernels.params import *  # noqa: F401,F403  (P_* indices)
from kernels.quoting import avellaneda_stoikov_quote, intensity_fill_probability, linear_quote
from kernels.records import (
    EV_CANCEL, EV_LIMIT, H_FILLED, OA_CANCEL_SENT, R_DRAWDOWN_KILL, R_ORDER_LATENCY_SPIKE, R_FEED_RESUMED, R_STALE_FEED, H_NO_LIQUIDITY, H_PARTIAL, H_REJECTED, IV_KILL, IV_KILL_RESET,
    IV_MANUAL_FILL, IV_PAUSE, IV_RESUME, LIQ_INTENSITY, LIQ_MAKER, LIQ_MANUAL, OA_CANCEL, OA_FILLED,
    OA_NEW, OR_KILL, OR_QUOTE, OR_REQUOTE, OR_RISK, OWNER_MM, OWNER_OTHER, R_BACK_INSIDE_LIMITS,
    R_COOLDOWN_OVER, R_HEDGE_FAILURE, R_KILL_RESET, R_LATENCY_SPIKE, R_LOSS_WINDOW, R_MANUAL_KILL,
    R_MANUAL_PAUSE, R_MANUAL_RESUME, R_SOFT_LIMIT, STATE_ACTIVE, STATE_KILLED, STATE_PAUSED,
    STATE_REDUCED,
)

# counters[] written by the kernel
C_FILLS = 0
C_HEDGES = 1
C_ORDERS = 2
C_RISK = 3
C_OVERFLOW = 4  # 1 if any record array was too small (the caller re-runs with the counts)
C_DROPPED1 = 5  # background orders dropped (pool full / off grid), Exchange 1
C_DROPPED2 = 6
C_HEDGE_FAILURES = 7  # hedges that exhausted their retries
C_INTENT_MERGES = 8  # hedge intents merged because the in-flight buffer was full
C_DEPTH_SHRINKS = 9  # quote sides shrunk or pulled by the hedge-venue depth check (side-ticks)
C_RACE_FILLS = 10  # fills on orders whose cancel was in flight
C_ESCALATIONS = 11  # hedges escalated to market orders after exhausting their retries
C_ACCOUNT = 12  # rows of out_account
N_COUNTERS = 13

# our Exchange 1 orders whose cancel is in flight ("zombies"), rows of zs[]
ZOMBIE_CAPACITY = 64
Z_SLOT = 0
Z_ID = 1
Z_SIDE = 2  # +1 bid, -1 ask
Z_PRICE = 3
Z_DUE = 4  # tick at whose Exchange 1 step the cancel lands
Z_REASON = 5
N_Z = 6

# acc[] float accumulators (tick-lots)
A_CASH1 = 0
A_CASH2 = 1
A_FEES1 = 2
A_FEES2 = 3
A_SPREAD = 4
A_SLIP = 5
A_LAT = 6
A_B1 = 7
A_B2M1 = 8
A_B2M2 = 9
A_AVG1 = 10
A_AVG2 = 11
A_REAL1 = 12
A_REAL2 = 13
N_ACC = 14

# hedge working order (the merged intents that have reached Exchange 2), in w[] / wf[]
W_QTY = 0  # signed lots still to trade on Exchange 2
W_FIRST = 1  # earliest covered fill tick
W_ATTEMPTS = 2
W_NEXT_TRY = 3
W_ID = 4
WF_M1 = 0  # sum of signed lots * Exchange 1 mark at the covered fills
WF_M2 = 1  # same with Exchange 2 mark


@jit_borrow
def _trade_avg_cost(acc, i_avg, i_real, inv_before, side, qty, price):
    """Average-cost bookkeeping for one trade; updates average price and realized PnL (tick-lots)."""
    avg = acc[i_avg]
    if inv_before == 0 or (inv_before > 0) == (side > 0):
        held = abs(inv_before)
        acc[i_avg] = (avg * held + price * qty) / (held + qty)
    else:
        closing = min(qty, abs(inv_before))
        direction = 1.0 if inv_before > 0 else -1.0
        acc[i_real] += closing * (price - avg) * direction
        if qty > closing:
            acc[i_avg] = float(price)
        elif qty == abs(inv_before):
            acc[i_avg] = 0.0


@jit_borrow
def _record_order(out_orders, counters, oid, t, action, side, price, qty, reason):
    k = counters[C_ORDERS]
    if k < out_orders.shape[0]:
        r = out_orders[k]
        r["order_id"] = oid
        r["tick"] = t
        r["action"] = action
        r["side"] = side
        r["price"] = price
        r["qty"] = qty
        r["reason"] = reason
    else:
        counters[C_OVERFLOW] = 1
    counters[C_ORDERS] = k + 1


@jit_borrow
def _record_risk(out_risk, counters, t, old, new, reason, value, limit):
    k = counters[C_RISK]
    if k < out_risk.shape[0]:
        r = out_risk[k]
        r["tick"] = t
        r["old_state"] = old
        r["new_state"] = new
        r["reason"] = reason
        r["value"] = value
        r["limit"] = limit
    else:
        counters[C_OVERFLOW] = 1
    counters[C_RISK] = k + 1


@jit_borrow
def _book_fill_exchange1(p, acc, pos, counters, out_fills, t, order_id, side, price, qty, liquidity,
                         f1, f2, hedge_latency_ms, in_due, in_qty, in_m1, in_m2, in_first, n_in):
    """Book one of our Exchange 1 fills and schedule its hedge. Returns the new in-flight count."""
    inv_before = pos[0]
    _trade_avg_cost(acc, A_AVG1, A_REAL1, inv_before, side, qty, price)
    pos[0] = inv_before + side * qty
    acc[A_CASH1] -= side * price * qty
    fee = abs(price * qty) * p[P_MAKER_BPS] * 1e-4
    acc[A_FEES1] += fee
    acc[A_SPREAD] += side * (f1 - price) * qty
    acc[A_B1] += side * qty * f1
    due = -1
    if p[P_HEDGE_ON] > 0:
        dt_ms = p[P_DT_S] * 1000.0
        due = t + int(math.ceil(hedge_latency_ms / dt_ms - 1e-9))
        hq = -side * qty
        if n_in < in_due.shape[0]:
            i = n_in
            n_in += 1
            in_due[i] = due
            in_qty[i] = hq
            in_m1[i] = hq * f1
            in_m2[i] = hq * f2
            in_first[i] = t
        else:
            # Buffer full: fold into the latest-arriving intent, which only delays this hedge.
            i = n_in - 1
            counters[C_INTENT_MERGES] += 1
            if due > in_due[i]:
                in_due[i] = due
            in_qty[i] += hq
            in_m1[i] += hq * f1
            in_m2[i] += hq * f2
    k = counters[C_FILLS]
    if k < out_fills.shape[0]:
        r = out_fills[k]
        r["fill_id"] = k
        r["tick"] = t
        r["order_id"] = order_id
        r["side"] = side
        r["price"] = price
        r["qty"] = qty
        r["liquidity"] = liquidity
        r["feed1"] = f1
        r["feed2"] = f2
        r["spread_capture"] = side * (f1 - price) * qty
        r["fee"] = fee
        r["inv1_after"] = pos[0]
        r["hedge_due_tick"] = due
        r["hedge_latency_ms"] = hedge_latency_ms if due >= 0 else 0.0
    else:
        counters[C_OVERFLOW] = 1
    counters[C_FILLS] = k + 1
    return n_in


@jit_borrow
def _mm_fills_from_buffer(p, acc, pos, counters, out_fills, out_orders, t, n_mm, mm_ids, mm_prices,
                          mm_qtys, quotes, b1, f1, f2, lat_ms, in_due, in_qty, in_m1, in_m2, in_first,
                          n_in, zs, zn):
    """Turn matches against our resting orders (current quotes, and orders whose cancel is still in
    flight) into fills; forget orders that are used up."""
    for j in range(n_mm):
        oid = mm_ids[j]
        zk = -1
        if oid == quotes[1]:
            side = 1
            qi = 0
        elif oid == quotes[5]:
            side = -1
            qi = 4
        else:
            qi = -1
            for k in range(zn[0]):
                if zs[k, Z_ID] == oid:
                    zk = k
            if zk < 0:
                continue
            side = zs[zk, Z_SIDE]
            counters[C_RACE_FILLS] += 1
        n_in = _book_fill_exchange1(p, acc, pos, counters, out_fills, t, oid, side, mm_prices[j],
                                    mm_qtys[j], LIQ_MAKER, f1, f2, lat_ms, in_due, in_qty, in_m1, in_m2,
                                    in_first, n_in)
        if qi >= 0:
            if order_alive(b1, quotes[qi], oid) == 0:
                _record_order(out_orders, counters, oid, t, OA_FILLED, side, quotes[qi + 2], quotes[qi + 3], OR_QUOTE)
                quotes[qi] = -1
                quotes[qi + 1] = 0
        elif order_alive(b1, zs[zk, Z_SLOT], oid) == 0:
            _record_order(out_orders, counters, oid, t, OA_FILLED, side, zs[zk, Z_PRICE], 0, zs[zk, Z_REASON])
            last = zn[0] - 1
            for f in range(N_Z):
                zs[zk, f] = zs[last, f]
            zn[0] = last
    return n_in


@jit_borrow
def _apply_flow(b, center, events, e, e_end, fill_buf):
    """Apply background (and, on Exchange 1, client) events ``e .. e_end - 1`` (rows of
    ``kernels.records.event_dt``) to a book around the venue price ``center`` (ticks), stopping right
    after an event that traded against our orders, whose fills are then in ``fill_buf`` (ids, prices,
    lots). Returns ``(next_event, n_our_fills)``; the caller books the fills and calls again. Only the
    book is passed in, so the per-tick call stays cheap."""
    low = b[B_BASE]
    top = low + b[B_NLEVELS] - 1  # highest price on the grid
    mm_ids, mm_prices, mm_qtys = fill_buf[0], fill_buf[1], fill_buf[2]
    while e < e_end:
        ev = events[e]
        e += 1
        kind = ev["kind"]
        side = ev["side"]  # 0 bid / buy, 1 ask / sell
        n_mm = 0
        if kind == EV_CANCEL:  # the most frequent kind first
            cancel_random_other(b, side, ev["offset"])
        elif kind == EV_LIMIT:
            price = center - ev["offset"] if side == 0 else center + ev["offset"]
            qty = ev["qty"]
            if crosses(b, side, price):  # rare: the venue price moved through the book
                filled, _, n_mm = match(b, side == 0, price, qty, mm_ids, mm_prices, mm_qtys)
                qty -= filled
            if qty > 0:
                rest(b, side, price, qty, OWNER_OTHER)
        else:  # market order (background or client)
            limit = top if side == 0 else low
            _, _, n_mm = match(b, side == 0, limit, ev["qty"], mm_ids, mm_prices, mm_qtys)
        if n_mm > 0:
            return e, n_mm
    return e, 0


@jit_borrow
def _withdraw_out_of_band(b, prev_center, center, depth):
    """Other participants keep bids within [center - depth, center] and asks within
    [center, center + depth] ticks: when the venue price moves, orders left more than ``depth``
    behind it, or stranded through it, are withdrawn. Without the second rule a fast move leaves a
    wall of stale bids above the price that swallows every new ask and empties the ask side."""
    if center > prev_center:
        lo = max(prev_center - depth, center - 5 * depth)
        for price in range(lo, center - depth):
            withdraw_level(b, 0, price)
        for price in range(max(prev_center, center - 5 * depth), center):
            withdraw_level(b, 1, price)
    elif center < prev_center:
        hi = min(prev_center + depth, center + 5 * depth)
        for price in range(center + depth + 1, hi + 1):
            withdraw_level(b, 1, price)
        for price in range(center + 1, min(prev_center, center + 5 * depth) + 1):
            withdraw_level(b, 0, price)


@jit
def _seed_book(b, center, depth, lots):
    if lots <= 0:
        return
    for d in range(1, depth + 1):
        rest(b, 0, center - d, lots, OWNER_OTHER)
        rest(b, 1, center + d, lots, OWNER_OTHER)


@jit_borrow
def _others_through(b, side, limit_price, our_price, our_qty):
    """The best price on ``side`` at or through ``limit_price`` held by other participants (ignoring
    our own ``our_qty`` lots at ``our_price``), or -1. Scans only the crossing range, which is
    empty in the usual case where our target does not reach the other side."""
    base = b[B_BASE]
    if side == 1:
        lvl = b[B_BEST_ASK]
        stop = min(limit_price - base, b[B_NLEVELS] - 1)
        while lvl <= stop:
            q = b[level_row(b, 1, lvl) + LV_QTY] - (our_qty if lvl + base == our_price else 0)
            if q > 0:
                return lvl + base
            lvl += 1
        return -1
    lvl = b[B_BEST_BID]
    stop = max(limit_price - base, 0)
    while lvl >= stop:
        q = b[level_row(b, 0, lvl) + LV_QTY] - (our_qty if lvl + base == our_price else 0)
        if q > 0:
            return lvl + base
        lvl -= 1
    return -1


@jit_borrow
def _cancel_quote(b, quotes, qi, side, t, reason, out_orders, counters, zs, zn, delay):
    """Cancel our quote on one side. With ``delay`` > 0 extra ticks of order latency the cancel is only
    sent: the order stays in the book (and can trade) until tick ``t + delay``. An order still in
    flight (slot -2) cannot be cancelled before it lands; the quoter deals with it then."""
    if quotes[qi] == -2:
        return
    if quotes[qi] >= 0:
        if delay <= 0 or zn[0] >= zs.shape[0]:
            left = cancel(b, quotes[qi], quotes[qi + 1])
            if left > 0:
                _record_order(out_orders, counters, quotes[qi + 1], t, OA_CANCEL, side, quotes[qi + 2], left, reason)
        else:
            left = order_alive(b, quotes[qi], quotes[qi + 1])
            if left > 0:
                k = zn[0]
                zs[k, Z_SLOT] = quotes[qi]
                zs[k, Z_ID] = quotes[qi + 1]
                zs[k, Z_SIDE] = side
                zs[k, Z_PRICE] = quotes[qi + 2]
                zs[k, Z_DUE] = t + delay
                zs[k, Z_REASON] = reason
                zn[0] = k + 1
                _record_order(out_orders, counters, quotes[qi + 1], t, OA_CANCEL_SENT, side, quotes[qi + 2], left,
                              reason)
    quotes[qi] = -1
    quotes[qi + 1] = 0


@jit_borrow
def _set_quote(b, quotes, qi, side, price, size, tol, t, out_orders, counters, book_mode, zs, zn, delay,
               pend_due):
    """Keep, replace or place our quote on one side. ``quotes[qi..qi+3]`` = slot (-1 none, -2 in
    flight), id, price, size.

    A resting order is kept (with its queue place) while its price is within ``tol`` ticks of the
    target and its remaining size is between half and all of the target size. With ``delay`` > 0
    extra ticks of order latency, the new order lands at tick ``t + delay`` (see ``_land_orders``).
    """
    if size <= 0:
        _cancel_quote(b, quotes, qi, side, t, OR_RISK, out_orders, counters, zs, zn, delay)
        return
    if not book_mode:
        quotes[qi] = 0
        quotes[qi + 2] = price
        quotes[qi + 3] = size
        return
    if quotes[qi] == -2:
        return  # an order is in flight on this side: wait until it lands
    if quotes[qi] >= 0:
        left = order_alive(b, quotes[qi], quotes[qi + 1])
        if left > 0 and abs(quotes[qi + 2] - price) <= tol and 2 * left >= size and left <= size:
            return
        _cancel_quote(b, quotes, qi, side, t, OR_REQUOTE, out_orders, counters, zs, zn, delay)
    if delay > 0:
        quotes[qi] = -2
        quotes[qi + 1] = 0
        quotes[qi + 2] = price
        quotes[qi + 3] = size
        pend_due[qi // 4] = t + delay
        return
    slot, oid = rest(b, 0 if side > 0 else 1, price, size, OWNER_MM)
    if slot >= 0:
        quotes[qi] = slot
        quotes[qi + 1] = oid
        quotes[qi + 2] = price
        quotes[qi + 3] = size
        _record_order(out_orders, counters, oid, t, OA_NEW, side, price, size, OR_QUOTE)


@jit_borrow
def _land_orders(b, quotes, zs, zn, pend_due, t, out_orders, counters, killed):
    """At the start of tick ``t``'s Exchange 1 step: cancels in flight whose latency has elapsed take
    effect, and new orders in flight land. A landing order that would cross the book (the market
    moved while it travelled) is rejected, as a post-only order is. While the kill switch is engaged a
    landing order is cancelled on arrival (recorded as placed and cancelled in the same tick): it never
    rests and cannot trade."""
    k = 0
    while k < zn[0]:
        if zs[k, Z_DUE] <= t:
            left = cancel(b, zs[k, Z_SLOT], zs[k, Z_ID])
            if left > 0:
                _record_order(out_orders, counters, zs[k, Z_ID], t, OA_CANCEL, zs[k, Z_SIDE], zs[k, Z_PRICE], left,
                              zs[k, Z_REASON])
            last = zn[0] - 1
            for f in range(N_Z):
                zs[k, f] = zs[last, f]
            zn[0] = last
        else:
            k += 1
    for qi in (0, 4):
        if quotes[qi] == -2 and pend_due[qi // 4] <= t:
            side = 1 if qi == 0 else -1
            price = quotes[qi + 2]
            quotes[qi] = -1
            quotes[qi + 1] = 0
            if not crosses(b, 0 if side > 0 else 1, price):
                slot, oid = rest(b, 0 if side > 0 else 1, price, quotes[qi + 3], OWNER_MM)
                if slot >= 0:
                    _record_order(out_orders, counters, oid, t, OA_NEW, side, price, quotes[qi + 3], OR_QUOTE)
                    if killed:
                        cancel(b, slot, oid)
                        _record_order(out_orders, counters, oid, t, OA_CANCEL, side, price, quotes[qi + 3], OR_KILL)
                    else:
                        quotes[qi] = slot
                        quotes[qi + 1] = oid


@jit_borrow
def _pull_all_now(b, quotes, zs, zn, t, out_orders, counters):
    """The kill switch's mass cancel: our resting quotes and the orders whose cancel is still in flight
    leave the book at once (modelled as a venue-side cancel-all that takes effect immediately). Orders
    still travelling to the venue are cancelled when they land (``_land_orders``)."""
    _cancel_quote(b, quotes, 0, 1, t, OR_KILL, out_orders, counters, zs, zn, 0)
    _cancel_quote(b, quotes, 4, -1, t, OR_KILL, out_orders, counters, zs, zn, 0)
    for k in range(zn[0]):
        left = cancel(b, zs[k, Z_SLOT], zs[k, Z_ID])
        if left > 0:
            _record_order(out_orders, counters, zs[k, Z_ID], t, OA_CANCEL, zs[k, Z_SIDE], zs[k, Z_PRICE], left, OR_KILL)
    zn[0] = 0


@jit_borrow
def _derive_state(p, t, killed, kill_reason, kill_value, kill_limit, manual_pause, loss_paused_until, stale,
                  last_feed_update, last_loss, inv1, dt_s):
    """The risk state the throttles put us in, most severe first, with the reason, the measured value and
    the limit it was held against: killed > paused (by hand, loss window, stale feed) > reduced > active."""
    soft = p[P_SOFT]
    if killed:
        return STATE_KILLED, kill_reason, kill_value, kill_limit
    if manual_pause or loss_paused_until >= 0:
        return STATE_PAUSED, (R_MANUAL_PAUSE if manual_pause else R_LOSS_WINDOW), last_loss, p[P_MAX_LOSS]
    if stale:
        return STATE_PAUSED, R_STALE_FEED, (t - last_feed_update) * dt_s, p[P_STALE_TICKS] * dt_s
    if abs(inv1) >= soft:
        return STATE_REDUCED, R_SOFT_LIMIT, float(inv1), soft
    return STATE_ACTIVE, R_BACK_INSIDE_LIMITS, float(inv1), soft


# si[] integer scalars of the loop state (with the arrays below, everything that survives a tick)
S_N_IN = 0  # hedge intents in flight
S_NEXT_HEDGE_ID = 1
S_STATE = 2
S_MANUAL_PAUSE = 3
S_KILLED = 4
S_KILL_REASON = 5
S_LOSS_PAUSED_UNTIL = 6  # tick the loss pause is re-checked, -1 = not paused
S_PREV_C1 = 7  # venue price (ticks) at the previous tick, for withdrawals
S_PREV_C2 = 8
S_DQ_HEAD = 9  # rolling-window peak deque
S_DQ_LEN = 10
S_RESET_PEAK = 11
S_LAST_FEED_UPDATE = 12
S_STALE = 13
N_SI = 14
# sf[] float scalars
F_KILL_VALUE = 0
F_KILL_LIMIT = 1
F_LAST_LOSS = 2
F_VAR_EST = 3  # EWMA variance of the reference, ticks^2 per second
F_DRIFT_EST = 4
F_PREV_REF = 5
F_RUN_PEAK = 6  # running PnL peak for the drawdown kill, tick-lots
N_SF = 7

STATE_FIELDS = (
    "b1", "b2", "acc", "pos", "quotes", "in_due", "in_qty", "in_m1", "in_m2",
    "in_first", "w", "wf", "zs", "zn", "pend_due", "dq_tick", "dq_val", "si", "sf", "fill_buf", "hedge_buf",
    "counters",  # last: the engine reads the record counts as state[-1]
)


def new_state(p, feed1, feed2, center1, center2, base1, levels1, base2, levels2, capacity, intent_capacity):
    """The loop state before tick 0, as a tuple of arrays in ``STATE_FIELDS`` order: seeded books, flat
    positions, no quotes, nothing in flight. ``run_ticks`` advances it in place, so a copy taken
    between two calls is a checkpoint the run can be resumed from."""
    b1 = book_new(levels1, capacity, base1)
    b2 = book_new(levels2, capacity, base2)
    _seed_book(b1, center1[0], int(p[P_DEPTH1]), int(p[P_INIT_DEPTH1]))
    _seed_book(b2, center2[0], int(p[P_DEPTH2]), int(p[P_INIT_DEPTH2]))
    quotes = np.full(8, -1, dtype=np.int64)  # bid slot,id,price,size, ask slot,id,price,size
    quotes[1] = 0
    quotes[5] = 0
    # one entry per bucket of the window at most (see ``backtest.engine.loss_bucket_ticks``)
    dq_cap = int(p[P_LOSS_WINDOW_TICKS]) // int(p[P_LOSS_BUCKET_TICKS]) + 3
    si = np.zeros(N_SI, dtype=np.int64)
    si[S_STATE] = STATE_ACTIVE
    si[S_LOSS_PAUSED_UNTIL] = -1
    si[S_PREV_C1] = center1[0]
    si[S_PREV_C2] = center2[0]
    sf = np.zeros(N_SF, dtype=np.float64)
    sf[F_VAR_EST] = p[P_SIGMA0] * p[P_SIGMA0]
    ref_choice = int(p[P_REFERENCE])
    sf[F_PREV_REF] = feed1[0] if ref_choice == 0 else (feed2[0] if ref_choice == 1 else 0.5 * (feed1[0] + feed2[0]))
    return (
        b1, b2,
        np.zeros(N_ACC, dtype=np.float64), np.zeros(2, dtype=np.int64), quotes,
        np.zeros(intent_capacity, dtype=np.int64), np.zeros(intent_capacity, dtype=np.int64),
        np.zeros(intent_capacity, dtype=np.float64), np.zeros(intent_capacity, dtype=np.float64),
        np.zeros(intent_capacity, dtype=np.int64),
        np.zeros(5, dtype=np.int64), np.zeros(2, dtype=np.float64),
        np.zeros((ZOMBIE_CAPACITY, N_Z), dtype=np.int64), np.zeros(1, dtype=np.int64), np.zeros(2, dtype=np.int64),
        np.zeros(dq_cap, dtype=np.int64), np.zeros(dq_cap, dtype=np.float64),
        si, sf,
        np.zeros((3, MM_FILL_BUFFER), dtype=np.int64),  # scratch: matches against our orders in one event
        np.zeros((3, 1), dtype=np.int64),  # hedges never rest, so nothing of ours is matched on Exchange 2
        np.zeros(N_COUNTERS, dtype=np.int64),
    )


@jit_borrow
def run_ticks(p, feed1, feed2, center1, center2,
              ev1_start, events1, ev2_start, events2,
              hedge_latency_ms, hedge_reject, u_bid, u_ask, interventions,
              order_latency_ms, feed2_seen, feed2_update, t_begin, t_end,
              out_ticks, out_fills, out_hedges, out_orders, out_risk, out_account,
              b1, b2, acc, pos, quotes, in_due, in_qty, in_m1, in_m2, in_first, w, wf,
              zs, zn, pend_due, dq_tick, dq_val, si, sf, fill_buf, hedge_buf, counters):
    """Advance the simulation over ticks ``t_begin .. t_end - 1``. Inputs are the pre-generated arrays
    (see ``backtest.generate``) and the parameter vector ``p`` (see ``kernels.params``); the loop state
    (``STATE_FIELDS``, from ``new_state`` or a previous call) is updated in place; outputs are written to
    the preallocated record arrays, and ``counters`` says how many rows each has received in the run so
    far (``C_OVERFLOW`` = some did not fit). Interventions before ``t_begin`` are taken as applied.

    Compiled without reference counting (``jit_borrow``): it allocates nothing."""
    mm_ids, mm_prices, mm_qtys = fill_buf[0], fill_buf[1], fill_buf[2]
    h_ids, h_prices, h_qtys = hedge_buf[0], hedge_buf[1], hedge_buf[2]
    n_ticks = feed1.shape[0]
    dt_s = p[P_DT_S]
    book_mode = p[P_FILL_MODEL] == 0
    depth1 = int(p[P_DEPTH1])
    depth2 = int(p[P_DEPTH2])
    dt_ms = dt_s * 1000.0
    max_retries = int(p[P_MAX_RETRIES])
    escalation = int(p[P_ESCALATION])
    alpha = p[P_VOL_ALPHA]
    ref_choice = int(p[P_REFERENCE])
    loss_window = int(p[P_LOSS_WINDOW_TICKS])
    loss_bucket = int(p[P_LOSS_BUCKET_TICKS])
    dq_cap = dq_tick.shape[0]
    stale_ticks = int(p[P_STALE_TICKS])
    tol = int(p[P_REQUOTE_TOL])
    base_size = int(p[P_SIZE])
    soft = int(p[P_SOFT])
    hard = int(p[P_HARD])
    n_iv = interventions.shape[0]
    iv = 0
    while iv < n_iv and interventions[iv]["tick"] < t_begin:
        iv += 1

    # the scalar state, held in locals for speed and stored back at the end
    n_in = si[S_N_IN]
    next_hedge_id = si[S_NEXT_HEDGE_ID]
    state = si[S_STATE]
    manual_pause = si[S_MANUAL_PAUSE] != 0
    killed = si[S_KILLED] != 0
    kill_reason = si[S_KILL_REASON]
    loss_paused_until = si[S_LOSS_PAUSED_UNTIL]
    prev_c1 = si[S_PREV_C1]
    prev_c2 = si[S_PREV_C2]
    dq_head = si[S_DQ_HEAD]
    dq_len = si[S_DQ_LEN]
    reset_peak = si[S_RESET_PEAK] != 0
    last_feed_update = si[S_LAST_FEED_UPDATE]
    stale = si[S_STALE] != 0
    kill_value = sf[F_KILL_VALUE]
    kill_limit = sf[F_KILL_LIMIT]
    last_loss = sf[F_LAST_LOSS]
    var_est = sf[F_VAR_EST]
    drift_est = sf[F_DRIFT_EST]
    prev_ref = sf[F_PREV_REF]
    run_peak = sf[F_RUN_PEAK]
    # the account as last written (a row is added when any of it differs; none yet = write at once)
    n_acct = counters[C_ACCOUNT]
    last_row = out_account[max(0, min(n_acct, out_account.shape[0]) - 1)]
    a_cash1, a_cash2, a_fees1, a_fees2 = last_row["cash1"], last_row["cash2"], last_row["fees1"], last_row["fees2"]
    a_real, a_spread, a_slip, a_lat = (last_row["realized"], last_row["spread_capture"], last_row["hedge_slippage"],
                                       last_row["hedge_latency"])
    a_inv1, a_inv2, a_pending = last_row["inv1"], last_row["inv2"], last_row["pending_hedge"]
    a_state, a_manual = last_row["state"], last_row["manual_pause"]

    for t in range(t_begin, t_end):
        f1 = feed1[t]
        f2 = feed2[t]
        lat = hedge_latency_ms[t]

        # 1. interventions; each one that changes the risk state is a row of the audit trail, in order
        while iv < n_iv and interventions[iv]["tick"] <= t:
            kind = interventions[iv]["kind"]
            if kind == IV_MANUAL_FILL:
                side = interventions[iv]["side"]
                qty = interventions[iv]["qty"]
                price = interventions[iv]["price"]
                if price < 0:
                    qi = 0 if side > 0 else 4
                    if quotes[qi + 2] > 0 and (not book_mode or quotes[qi] >= 0):
                        price = quotes[qi + 2]
                    else:
                        price = best_bid(b1) if side > 0 else best_ask(b1)
                        if price < 0:
                            price = center1[t]
                n_in = _book_fill_exchange1(p, acc, pos, counters, out_fills, t, -1, side, price, qty, LIQ_MANUAL,
                                            f1, f2, lat, in_due, in_qty, in_m1, in_m2, in_first, n_in)
            else:
                action_reason = R_MANUAL_PAUSE
                if kind == IV_PAUSE:
                    manual_pause = True
                elif kind == IV_RESUME:
                    manual_pause = False
                    action_reason = R_MANUAL_RESUME
                elif kind == IV_KILL_RESET:
                    killed = False
                    reset_peak = True  # drawdown for the kill switch counts from here
                    action_reason = R_KILL_RESET
                elif kind == IV_KILL:
                    action_reason = R_MANUAL_KILL
                    if not killed:
                        killed = True
                        kill_reason = R_MANUAL_KILL
                        kill_value = 0.0
                        kill_limit = 0.0
                new_state, _, value, limit_v = _derive_state(
                    p, t, killed, kill_reason, kill_value, kill_limit, manual_pause, loss_paused_until, stale,
                    last_feed_update, last_loss, pos[0], dt_s)
                if new_state != state:
                    _record_risk(out_risk, counters, t, state, new_state, action_reason, value, limit_v)
                    state = new_state
            iv += 1
        if killed and book_mode:
            _pull_all_now(b1, quotes, zs, zn, t, out_orders, counters)

        # 2. Exchange 2 background flow
        if center2[t] != prev_c2:  # most ticks the venue price does not move: skip the call
            _withdraw_out_of_band(b2, prev_c2, center2[t], depth2)
        prev_c2 = center2[t]
        e = ev2_start[t]
        while e < ev2_start[t + 1]:  # we rest no orders on Exchange 2: nothing of ours trades there
            e, _ = _apply_flow(b2, center2[t], events2, e, ev2_start[t + 1], hedge_buf)

        # 3. Exchange 1: orders and cancels in flight land, then the flow meets our quotes
        delay = 0
        if book_mode:
            delay = int(math.ceil(order_latency_ms[t] / dt_ms - 1e-9)) - 1
            if delay < 0:
                delay = 0
            if zn[0] > 0 or quotes[0] == -2 or quotes[4] == -2:
                _land_orders(b1, quotes, zs, zn, pend_due, t, out_orders, counters, killed)
        if center1[t] != prev_c1:
            _withdraw_out_of_band(b1, prev_c1, center1[t], depth1)
        prev_c1 = center1[t]
        e = ev1_start[t]
        while e < ev1_start[t + 1]:
            e, n_mm = _apply_flow(b1, center1[t], events1, e, ev1_start[t + 1], fill_buf)
            if n_mm > 0:
                n_in = _mm_fills_from_buffer(p, acc, pos, counters, out_fills, out_orders, t, n_mm, mm_ids,
                                             mm_prices, mm_qtys, quotes, b1, f1, f2, lat, in_due, in_qty,
                                             in_m1, in_m2, in_first, n_in, zs, zn)
        if not book_mode and t > 0:
            # Avellaneda-Stoikov's timing: the quotes set at t - 1 from the mid at t - 1 are filled (or not)
            # over the step (t - 1, t] with a distance measured from that same mid, and the price moves to
            # the mid at t only after: a run of n ticks has n - 1 fill steps and n - 1 price steps. The fill
            # is booked at t, marked at the mids of t - 1 it was priced against (the accounting identity
            # holds for any mark used consistently).
            m1 = feed1[t - 1]
            m2 = feed2[t - 1]
            for qi in (0, 4):
                if quotes[qi] < 0:
                    continue
                side = 1 if qi == 0 else -1
                dist = (m1 - quotes[qi + 2]) if side > 0 else (quotes[qi + 2] - m1)
                prob = intensity_fill_probability(dist, p[P_TICK_SIZE], p[P_INT_A], p[P_INT_K], dt_s)
                u = u_bid[t] if side > 0 else u_ask[t]
                if u < prob:
                    n_in = _book_fill_exchange1(p, acc, pos, counters, out_fills, t, -1, side, quotes[qi + 2],
                                                quotes[qi + 3], LIQ_INTENSITY, m1, m2, lat, in_due, in_qty,
                                                in_m1, in_m2, in_first, n_in)

        # 4. hedges that have reached Exchange 2
        j = 0
        while j < n_in:
            if in_due[j] <= t:
                if w[W_QTY] == 0:
                    w[W_FIRST] = in_first[j]
                    w[W_ATTEMPTS] = 0
                    w[W_NEXT_TRY] = t
                    w[W_ID] = next_hedge_id
                    next_hedge_id += 1
                    wf[WF_M1] = 0.0
                    wf[WF_M2] = 0.0
                elif in_first[j] < w[W_FIRST]:
                    w[W_FIRST] = in_first[j]
                w[W_QTY] += in_qty[j]
                wf[WF_M1] += in_m1[j]
                wf[WF_M2] += in_m2[j]
                n_in -= 1
                in_due[j] = in_due[n_in]
                in_qty[j] = in_qty[n_in]
                in_m1[j] = in_m1[n_in]
                in_m2[j] = in_m2[n_in]
                in_first[j] = in_first[n_in]
                if w[W_QTY] == 0:  # opposite fills netted out: nothing to trade
                    wf[WF_M1] = 0.0
                    wf[WF_M2] = 0.0
            else:
                j += 1
        q_signed = w[W_QTY]
        if q_signed != 0 and t >= w[W_NEXT_TRY] and (abs(q_signed) >= p[P_MIN_HEDGE] or w[W_ATTEMPTS] > 0):
            hside = 1 if q_signed > 0 else -1
            want = abs(q_signed)
            filled = 0
            notional = 0
            limit = -1
            status = H_REJECTED
            at_market = escalation == 1 and w[W_ATTEMPTS] > max_retries
            if hedge_reject[t] == 0:
                touch = best_ask(b2) if hside > 0 else best_bid(b2)
                if touch < 0:
                    status = H_NO_LIQUIDITY
                else:
                    buf = int(p[P_HEDGE_BUFFER])
                    limit = touch + buf if hside > 0 else touch - buf
                    if at_market:  # escalated: walk the whole book
                        limit = b2[B_BASE] + b2[B_NLEVELS] - 1 if hside > 0 else b2[B_BASE]
                    filled, notional, _ = match(b2, hside > 0, limit, want, h_ids, h_prices, h_qtys)
                    status = H_FILLED if filled == want else (H_PARTIAL if filled > 0 else H_NO_LIQUIDITY)
                    if at_market:
                        limit = -1
            w[W_ATTEMPTS] += 1
            slip = 0.0
            lat_cost = 0.0
            fee = 0.0
            m2_ref = wf[WF_M2] / q_signed
            if filled > 0:
                frac = filled / want
                used_m1 = wf[WF_M1] * frac
                used_m2 = wf[WF_M2] * frac
                _trade_avg_cost(acc, A_AVG2, A_REAL2, pos[1], hside, filled, notional / filled)
                pos[1] += hside * filled
                acc[A_CASH2] -= hside * notional
                fee = abs(notional) * p[P_TAKER_BPS] * 1e-4
                acc[A_FEES2] += fee
                slip = hside * (f2 * filled - notional)
                lat_cost = used_m2 - hside * filled * f2
                acc[A_SLIP] += slip
                acc[A_LAT] += lat_cost
                acc[A_B2M1] += used_m1
                acc[A_B2M2] += used_m2
                wf[WF_M1] -= used_m1
                wf[WF_M2] -= used_m2
                w[W_QTY] -= hside * filled
            k = counters[C_HEDGES]
            if k < out_hedges.shape[0]:
                r = out_hedges[k]
                r["hedge_id"] = w[W_ID]
                r["first_fill_tick"] = w[W_FIRST]
                r["tick"] = t
                r["attempt"] = w[W_ATTEMPTS]
                r["side"] = hside
                r["qty_requested"] = want
                r["qty_filled"] = filled
                r["limit_price"] = limit
                r["vwap"] = notional / filled if filled > 0 else 0.0
                r["feed2_at_fill"] = m2_ref
                r["feed2_at_hedge"] = f2
                r["slippage"] = slip
                r["latency_cost"] = lat_cost
                r["fee"] = fee
                r["status"] = status
                r["market"] = 1 if at_market else 0
            else:
                counters[C_OVERFLOW] = 1
            counters[C_HEDGES] = k + 1
            if w[W_QTY] != 0:
                w[W_NEXT_TRY] = t + max(1, int(p[P_RETRY_TICKS]))
                if w[W_ATTEMPTS] > max_retries:
                    if w[W_ATTEMPTS] == max_retries + 1:
                        counters[C_HEDGE_FAILURES] += 1
                        if escalation == 1:
                            counters[C_ESCALATIONS] += 1
                    fire = escalation == 0 or (escalation == 1 and w[W_ATTEMPTS] > 2 * max_retries + 1)
                    if fire and not killed:
                        killed = True
                        kill_reason = R_HEDGE_FAILURE
                        kill_value = float(w[W_ATTEMPTS])
                        kill_limit = p[P_MAX_RETRIES]
            else:
                wf[WF_M1] = 0.0
                wf[WF_M2] = 0.0

        # signed lots still to trade on Exchange 2 (working + in flight); fixed for the rest of the tick
        pending = w[W_QTY]
        for j in range(n_in):
            pending += in_qty[j]

        # 5. marks and PnL
        inv1 = pos[0]
        inv2 = pos[1]
        total = acc[A_CASH1] + acc[A_CASH2] + inv1 * f1 + inv2 * f2 - acc[A_FEES1] - acc[A_FEES2]

        # 6. risk
        if lat > p[P_KILL_LATENCY_MS] and not killed:
            killed = True
            kill_reason = R_LATENCY_SPIKE
            kill_value = lat
            kill_limit = p[P_KILL_LATENCY_MS]
        if book_mode and order_latency_ms[t] > p[P_KILL_LATENCY_MS] and not killed:
            killed = True
            kill_reason = R_ORDER_LATENCY_SPIKE
            kill_value = order_latency_ms[t]
            kill_limit = p[P_KILL_LATENCY_MS]
        # loss throttle: drawdown from the PnL peak within the rolling window (which is at least the
        # loss over the window); the run starts from a peak of 0
        # (ring indices wrap by a subtraction: an integer modulo is a slow division, paid every tick)
        # (with buckets of several ticks, one entry per bucket: its peak; see engine.loss_bucket_ticks)
        bucket = t if loss_bucket == 1 else t // loss_bucket
        dq_last = -1
        while dq_len > 0:
            dq_last = dq_head + dq_len - 1
            if dq_last >= dq_cap:
                dq_last -= dq_cap
            if dq_val[dq_last] > total:
                break
            dq_len -= 1
        if dq_len == 0 or dq_tick[dq_last] != bucket:
            dq_next = dq_head + dq_len
            if dq_next >= dq_cap:
                dq_next -= dq_cap
            dq_tick[dq_next] = bucket
            dq_val[dq_next] = total
            dq_len += 1
        oldest = t - loss_window if loss_bucket == 1 else (t - loss_window) // loss_bucket
        while dq_tick[dq_head] < oldest:
            dq_head += 1
            if dq_head == dq_cap:
                dq_head = 0
            dq_len -= 1
        window_peak = dq_val[dq_head]
        if t < loss_window and window_peak < 0.0:
            window_peak = 0.0
        last_loss = window_peak - total
        # kill switch: drawdown from the running peak since the start or the last kill reset
        if reset_peak:
            run_peak = total
            reset_peak = False
        elif total > run_peak:
            run_peak = total
        if run_peak - total >= p[P_KILL_DRAWDOWN] and not killed:
            killed = True
            kill_reason = R_DRAWDOWN_KILL
            kill_value = run_peak - total
            kill_limit = p[P_KILL_DRAWDOWN]
        # stale reference feed: pause while the feed the quotes are centred on sends no updates
        if ref_choice == 0 or feed2_update[t] > 0:
            last_feed_update = t
        was_stale = stale
        stale = (t - last_feed_update) >= stale_ticks
        if loss_paused_until >= 0 and t >= loss_paused_until:
            if last_loss < p[P_MAX_LOSS]:
                loss_paused_until = -1
            else:
                loss_paused_until = t + int(p[P_COOLDOWN_TICKS])
        elif loss_paused_until < 0 and last_loss >= p[P_MAX_LOSS]:
            loss_paused_until = t + int(p[P_COOLDOWN_TICKS])
        new_state, reason, value, limit_v = _derive_state(
            p, t, killed, kill_reason, kill_value, kill_limit, manual_pause, loss_paused_until, stale,
            last_feed_update, last_loss, inv1, dt_s)
        if new_state != state:
            # Leaving a state is explained by what ended it, not by the state entered (user actions were
            # recorded in step 1 with their own reasons).
            if state == STATE_KILLED:
                reason = R_KILL_RESET
            elif state == STATE_PAUSED and new_state != STATE_KILLED:
                if was_stale and not stale:
                    reason = R_FEED_RESUMED
                else:
                    reason = R_COOLDOWN_OVER
            _record_risk(out_risk, counters, t, state, new_state, reason, value, limit_v)
            state = new_state

        # 7. quoting
        f2_seen = feed2_seen[t]
        ref = f1 if ref_choice == 0 else (f2_seen if ref_choice == 1 else 0.5 * (f1 + f2_seen))
        d_ref = ref - prev_ref
        prev_ref = ref
        var_est = (1.0 - alpha) * var_est + alpha * d_ref * d_ref / dt_s
        drift_est = (1.0 - alpha) * drift_est + alpha * d_ref / dt_s
        sigma = p[P_SIGMA0] if p[P_VOL_KNOWN] > 0 else math.sqrt(var_est)
        inv_skew = inv1 if p[P_SKEW_ON] == 0 else inv1 + inv2
        if p[P_QUOTE_MODEL] == 0:
            reservation, half = linear_quote(ref, inv_skew, sigma, drift_est, p[P_HALF_SPREAD], p[P_VOL_MULT],
                                             p[P_DRIFT_MULT], p[P_VOL_HORIZON_S], p[P_SKEW])
        else:
            # T - t: the run ends at its last tick, (n_ticks - 1) * dt_s
            tau = p[P_AS_HORIZON_S] if p[P_AS_HORIZON_S] > 0 else (n_ticks - 1 - t) * dt_s
            reservation, half = avellaneda_stoikov_quote(ref, inv_skew * p[P_LOT_SIZE], sigma, p[P_AS_GAMMA],
                                                         p[P_AS_K], tau, p[P_TICK_SIZE])
            if p[P_QUOTE_MODEL] == 2:  # the paper's benchmark: the same spread, centred on the mid, no skew
                reservation = ref
        if state == STATE_KILLED or state == STATE_PAUSED:
            if book_mode and state == STATE_KILLED:
                _pull_all_now(b1, quotes, zs, zn, t, out_orders, counters)
            elif book_mode:
                _cancel_quote(b1, quotes, 0, 1, t, OR_RISK, out_orders, counters, zs, zn, delay)
                _cancel_quote(b1, quotes, 4, -1, t, OR_RISK, out_orders, counters, zs, zn, delay)
            else:
                quotes[0] = -1
                quotes[4] = -1
        else:
            bid_px = int(math.floor(reservation - half + 1e-9))
            ask_px = int(math.ceil(reservation + half - 1e-9))
            if ask_px <= bid_px:
                ask_px = bid_px + 1
            bid_size = base_size
            ask_size = base_size
            if inv1 >= soft:
                bid_size = int(base_size * p[P_SOFT_FACTOR])
            if inv1 <= -soft:
                ask_size = int(base_size * p[P_SOFT_FACTOR])
            if inv1 + bid_size > hard:
                bid_size = max(0, hard - inv1)
            if inv1 - ask_size < -hard:
                ask_size = max(0, hard + inv1)
            if book_mode:
                # post-only: never cross the other participants' touch
                other_ask = _others_through(b1, 1, bid_px, quotes[6] if quotes[4] >= 0 else -1,
                                            order_alive(b1, quotes[4], quotes[5]))
                other_bid = _others_through(b1, 0, ask_px, quotes[2] if quotes[0] >= 0 else -1,
                                            order_alive(b1, quotes[0], quotes[1]))
                if other_ask >= 0 and bid_px >= other_ask:
                    bid_px = other_ask - 1
                if other_bid >= 0 and ask_px <= other_bid:
                    ask_px = other_bid + 1
                lo = b1[B_BASE]
                hi = b1[B_BASE] + b1[B_NLEVELS] - 1
                bid_px = min(max(bid_px, lo), hi)
                ask_px = min(max(ask_px, lo), hi)
            if p[P_DEPTH_CHECK] > 0 and book_mode:
                # a fill on our bid is hedged by selling into Exchange 2's bids (and the ask by buying
                # its asks), after the hedges already pending; quote no more than that can absorb
                buf = int(p[P_HEDGE_BUFFER])
                room_bid = depth_within(b2, 0, buf) - max(0, -pending)
                room_ask = depth_within(b2, 1, buf) - max(0, pending)
                if bid_size > max(0, room_bid):
                    bid_size = max(0, room_bid)
                    counters[C_DEPTH_SHRINKS] += 1
                if ask_size > max(0, room_ask):
                    ask_size = max(0, room_ask)
                    counters[C_DEPTH_SHRINKS] += 1
            _set_quote(b1, quotes, 0, 1, bid_px, bid_size, tol, t, out_orders, counters, book_mode,
                       zs, zn, delay, pend_due)
            _set_quote(b1, quotes, 4, -1, ask_px, ask_size, tol, t, out_orders, counters, book_mode,
                       zs, zn, delay, pend_due)

        # 8. record
        rec = out_ticks[t]
        rec["best_bid1"] = best_bid(b1)
        rec["best_ask1"] = best_ask(b1)
        rec["best_bid2"] = best_bid(b2)
        rec["best_ask2"] = best_ask(b2)
        has_bid = quotes[0] >= 0
        has_ask = quotes[4] >= 0
        rec["quote_bid"] = quotes[2] if has_bid else -1
        rec["quote_ask"] = quotes[6] if has_ask else -1
        if book_mode:
            rec["quote_bid_size"] = order_alive(b1, quotes[0], quotes[1]) if has_bid else 0
            rec["quote_ask_size"] = order_alive(b1, quotes[4], quotes[5]) if has_ask else 0
            rec["bid_queue_ahead"] = queue_ahead(b1, quotes[0]) if has_bid else 0
            rec["ask_queue_ahead"] = queue_ahead(b1, quotes[4]) if has_ask else 0
        else:
            rec["quote_bid_size"] = quotes[3] if has_bid else 0
            rec["quote_ask_size"] = quotes[7] if has_ask else 0
            rec["bid_queue_ahead"] = 0
            rec["ask_queue_ahead"] = 0
        rec["bid_in_flight"] = quotes[2] if quotes[0] == -2 else -1
        rec["ask_in_flight"] = quotes[6] if quotes[4] == -2 else -1
        zbid = 0
        zask = 0
        for k in range(zn[0]):
            left = order_alive(b1, zs[k, Z_SLOT], zs[k, Z_ID])
            if zs[k, Z_SIDE] > 0:
                zbid += left
            else:
                zask += left
        rec["bid_cancel_pending_lots"] = zbid
        rec["ask_cancel_pending_lots"] = zask
        rec["reference"] = ref
        rec["reservation"] = reservation
        rec["half_spread"] = half
        rec["sigma"] = sigma
        rec["unrealized"] = inv1 * (f1 - acc[A_AVG1]) + inv2 * (f2 - acc[A_AVG2])
        rec["hedge_basis"] = inv2 * (f2 - f1) - (acc[A_B2M2] - acc[A_B2M1])
        rec["inventory_mtm"] = (inv1 + inv2) * f1 - acc[A_B1] - acc[A_B2M1]
        rec["total_pnl"] = total
        realized = acc[A_REAL1] + acc[A_REAL2]
        manual = 1 if manual_pause else 0
        if (n_acct == 0 or inv1 != a_inv1 or inv2 != a_inv2 or pending != a_pending or state != a_state
                or manual != a_manual or acc[A_CASH1] != a_cash1 or acc[A_CASH2] != a_cash2
                or acc[A_FEES1] != a_fees1 or acc[A_FEES2] != a_fees2 or realized != a_real
                or acc[A_SPREAD] != a_spread or acc[A_SLIP] != a_slip or acc[A_LAT] != a_lat):
            a_cash1, a_cash2, a_fees1, a_fees2 = acc[A_CASH1], acc[A_CASH2], acc[A_FEES1], acc[A_FEES2]
            a_real, a_spread, a_slip, a_lat = realized, acc[A_SPREAD], acc[A_SLIP], acc[A_LAT]
            a_inv1, a_inv2, a_pending, a_state, a_manual = inv1, inv2, pending, state, manual
            if n_acct < out_account.shape[0]:
                row = out_account[n_acct]
                row["tick"] = t
                row["cash1"] = a_cash1
                row["cash2"] = a_cash2
                row["fees1"] = a_fees1
                row["fees2"] = a_fees2
                row["realized"] = a_real
                row["spread_capture"] = a_spread
                row["hedge_slippage"] = a_slip
                row["hedge_latency"] = a_lat
                row["inv1"] = a_inv1
                row["inv2"] = a_inv2
                row["pending_hedge"] = a_pending
                row["state"] = a_state
                row["manual_pause"] = a_manual
            else:
                counters[C_OVERFLOW] = 1
            n_acct += 1

    si[S_N_IN] = n_in
    si[S_NEXT_HEDGE_ID] = next_hedge_id
    si[S_STATE] = state
    si[S_MANUAL_PAUSE] = 1 if manual_pause else 0
    si[S_KILLED] = 1 if killed else 0
    si[S_KILL_REASON] = kill_reason
    si[S_LOSS_PAUSED_UNTIL] = loss_paused_until
    si[S_PREV_C1] = prev_c1
    si[S_PREV_C2] = prev_c2
    si[S_DQ_HEAD] = dq_head
    si[S_DQ_LEN] = dq_len
    si[S_RESET_PEAK] = 1 if reset_peak else 0
    si[S_LAST_FEED_UPDATE] = last_feed_update
    si[S_STALE] = 1 if stale else 0
    sf[F_KILL_VALUE] = kill_value
    sf[F_KILL_LIMIT] = kill_limit
    sf[F_LAST_LOSS] = last_loss
    sf[F_VAR_EST] = var_est
    sf[F_DRIFT_EST] = drift_est
    sf[F_PREV_REF] = prev_ref
    sf[F_RUN_PEAK] = run_peak
    counters[C_ACCOUNT] = n_acct
    counters[C_DROPPED1] = b1[B_DROPPED]
    counters[C_DROPPED2] = b2[B_DROPPED]
    return counters[C_FILLS]
