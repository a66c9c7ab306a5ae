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
8. one row of ``out_account`` when cash, fees, positions, the pending hedge or the risk state changed, and
   one of ``out_ticks`` (on every tick, or on the last of every ``P_RECORD_EVERY`` ticks and the run's last).

Quotes placed in step 7 face the flow of tick ``t + 1``: order entry takes (at least) one tick.
An Exchange 1 order latency of more than one tick delays both legs of a cancel/replace by the extra
ticks ``d``: the new order lands, and the old one's cancel takes effect, at the start of tick's
``t + d`` Exchange 1 step, so the old quote meets ``d`` more ticks of flow (fills on it still count
and are hedged: the cancel race). While an order is in flight on a side, that side waits for it.

Money inside the kernel is in tick-lots (one tick of price on one lot). Accounting identity, exact
up to float rounding at every tick::

    total = spread_capture + hedge_slippage + hedge_latency + hedge_basis + inventory_mtm - fees

where, with feeds f1, f2 as marks and B-terms the signed notionals of trades at their reference
marks, inventory_mtm = (inv1 + inv2) * f1 - B1 - B2m1 and hedge_basis = inv2 * (f2 - f1) - (B2m2 - B2m1),
inv2 being the hedge leg in base lots (``strategy.A_E2``: the position on a linear venue). On an inverse venue
inventory_mtm also holds what the fees paid in the base asset gained in value since (``settlement_conversion``).
"""
import math

import numpy as np

from kernels._jit import jit, jit_borrow, jit_inline
from kernels.book import (
    MM_FILL_BUFFER, B_BASE, B_BEST_ASK, B_BEST_BID, B_DROPPED, B_NLEVELS, LV_QTY,
    best_ask, best_bid, book_new, cancel, cancel_random_other, crosses, depth_within, level_row, match,
    order_alive, queue_ahead, rest, withdraw_level,
)
from kernels.params import *  # noqa: F401,F403  (P_* indices)
from kernels.quoting import intensity_fill_probability
from kernels.strategy import *  # noqa: F401,F403  (the shared steps and the state indices)
from kernels.strategy import (
    book_fill_exchange1, depth_capped_sizes, hedge_arrivals, hedge_leg_lots, hedge_limit, hedge_order, hedge_settle,
    hedge_status, interventions_due, keep_position, pending_hedge, quote_prices_sizes, quote_targets, record_account,
    record_order, record_pnl, step_interventions, step_risk, hold_reason, total_pnl,
)
from kernels.records import (
    EV_CANCEL, EV_LIMIT, H_NO_LIQUIDITY, H_REJECTED, LIQ_INTENSITY, LIQ_MAKER, OA_CANCEL, OA_CANCEL_SENT, OA_FILLED,
    OA_NEW, OR_KILL, OR_QUOTE, OR_REQUOTE, OR_RISK, OWNER_MM, OWNER_OTHER, STATE_KILLED, STATE_PAUSED,
)

U1 = np.uint64(1)  # an unsigned 1: uint64 + int64 is a float64 in numba

# our Exchange 1 orders whose cancel is in flight ("zombies"), rows of zs[]
ZOMBIE_CAPACITY = 64
Z_SLOT = 0
Z_ID = 1
Z_SIDE = 2  # +1 bid, -1 ask
Z_PRICE = 3
Z_DUE = 4  # tick at whose Exchange 1 step the cancel lands
Z_REASON = 5
N_Z = 6

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
        n_in = book_fill_exchange1(p, acc, pos, counters, out_fills, t, oid, side, mm_prices[j],
                                    mm_qtys[j], LIQ_MAKER, f1, f2, lat_ms, in_due, in_qty, in_m1, in_m2,
                                    in_first, n_in)
        if qi >= 0:
            if order_alive(b1, quotes[qi], oid) == 0:
                record_order(out_orders, counters, oid, t, OA_FILLED, side, quotes[qi + 2], quotes[qi + 3], OR_QUOTE)
                quotes[qi] = -1
                quotes[qi + 1] = 0
        elif order_alive(b1, zs[zk, Z_SLOT], oid) == 0:
            record_order(out_orders, counters, oid, t, OA_FILLED, side, zs[zk, Z_PRICE], 0, zs[zk, Z_REASON])
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
                filled, _, n_mm, _ = match(b, side == 0, price, qty, mm_ids, mm_prices, mm_qtys)
                qty -= filled
            if qty > 0:
                rest(b, side, price, qty, OWNER_OTHER)
        else:  # market order (background or client)
            limit = top if side == 0 else low
            _, _, n_mm, _ = match(b, side == 0, limit, ev["qty"], mm_ids, mm_prices, mm_qtys)
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
def _others_through(b, side, limit_price, our_price, our_slot, our_id):
    """The best price on ``side`` at or through ``limit_price`` held by other participants (ignoring
    our own order ``our_id`` in ``our_slot`` at ``our_price``), or -1. Scans only the crossing range, which is
    empty in the usual case where our target does not reach the other side (our order's lots are looked up only
    if the scan reaches its price)."""
    base = b[B_BASE]
    if side == 1:
        lvl = b[B_BEST_ASK]
        stop = min(limit_price - base, b[B_NLEVELS] - 1)
        while lvl <= stop:
            q = b[level_row(b, 1, lvl) + LV_QTY] - (order_alive(b, our_slot, our_id) if lvl + base == our_price else 0)
            if q > 0:
                return lvl + base
            lvl += 1
        return -1
    lvl = b[B_BEST_BID]
    stop = max(limit_price - base, 0)
    while lvl >= stop:
        q = b[level_row(b, 0, lvl) + LV_QTY] - (order_alive(b, our_slot, our_id) if lvl + base == our_price else 0)
        if q > 0:
            return lvl + base
        lvl -= 1
    return -1


@jit_borrow
def _send_cancel(b, quotes, qi, side, t, reason, out_orders, counters, zs, zn, delay):
    """The cancel of our quote on one side sent with ``delay`` > 0 extra ticks of order latency: the order stays in
    the book (and can trade) until tick ``t + delay``, as a row of ``zs``. The caller forgets the quote."""
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
        record_order(out_orders, counters, quotes[qi + 1], t, OA_CANCEL_SENT, side, quotes[qi + 2], left, reason)


@jit_inline
def _cancel_quote(b, quotes, qi, side, t, reason, out_orders, counters, zs, zn, delay):
    """Cancel our quote on one side. With ``delay`` > 0 extra ticks of order latency the cancel is only
    sent (``_send_cancel``). An order still in flight (slot -2) cannot be cancelled before it lands; the quoter
    deals with it then. Inlined: a re-quote cancels on every other tick or so, and a call passed 45 words."""
    if quotes[qi] == -2:
        return
    if quotes[qi] >= 0:
        if delay <= 0 or zn[0] >= zs.shape[0]:
            left = cancel(b, quotes[qi], quotes[qi + 1])
            if left > 0:
                record_order(out_orders, counters, quotes[qi + 1], t, OA_CANCEL, side, quotes[qi + 2], left, reason)
        else:
            _send_cancel(b, quotes, qi, side, t, reason, out_orders, counters, zs, zn, delay)
    quotes[qi] = -1
    quotes[qi + 1] = 0


@jit_inline
def _set_quote(b, quotes, qi, side, price, size, tol, t, out_orders, counters, book_mode, zs, zn, delay,
               pend_due, room):
    """Keep, replace or place our quote on one side. ``quotes[qi..qi+3]`` = slot (-1 none, -2 in
    flight), id, price, size.

    A resting order is kept (with its queue place) while its price is within ``tol`` ticks of the
    target and its remaining size is between half and all of the target size. With ``delay`` > 0
    extra ticks of order latency, the new order lands at tick ``t + delay`` (see ``_land_orders``). An order
    placed at once holds at most ``room`` lots (``_room``: the hard limit counting our other live orders).

    Returns the lots our quote on this side holds in the book after the call (0 when it has none resting; in the
    intensity model, the quote's size): the tick row's figure, known here without looking the order up again.
    """
    if size <= 0:
        _cancel_quote(b, quotes, qi, side, t, OR_RISK, out_orders, counters, zs, zn, delay)
        return 0
    if not book_mode:
        quotes[qi] = 0
        quotes[qi + 2] = price
        quotes[qi + 3] = size
        return size
    if quotes[qi] == -2:
        return 0  # an order is in flight on this side: wait until it lands
    if quotes[qi] >= 0:
        left = order_alive(b, quotes[qi], quotes[qi + 1])
        if left > 0 and abs(quotes[qi + 2] - price) <= tol and 2 * left >= size and left <= size:
            return left
        _cancel_quote(b, quotes, qi, side, t, OR_REQUOTE, out_orders, counters, zs, zn, delay)
    if delay > 0:
        quotes[qi] = -2
        quotes[qi + 1] = 0
        quotes[qi + 2] = price
        quotes[qi + 3] = size
        pend_due[qi // 4] = t + delay
        return 0
    size = min(size, room)
    if size <= 0:
        return 0
    slot, oid = rest(b, 0 if side > 0 else 1, price, size, OWNER_MM)
    if slot >= 0:
        quotes[qi] = slot
        quotes[qi + 1] = oid
        quotes[qi + 2] = price
        quotes[qi + 3] = size
        record_order(out_orders, counters, oid, t, OA_NEW, side, price, size, OR_QUOTE)
        return size
    return 0


@jit_inline
def _room(b, zs, zn, side, inv1, hard):
    """Lots a new order on ``side`` (+1 bid, -1 ask) may hold so that the hard position limit ``hard`` holds
    even if it and our other live orders on that side (those whose cancel is in flight) all fill."""
    live = 0
    for k in range(zn[0]):
        if zs[k, Z_SIDE] == side:
            live += order_alive(b, zs[k, Z_SLOT], zs[k, Z_ID])
    return hard - side * inv1 - live


@jit_borrow
def _land_orders(b, quotes, zs, zn, pend_due, t, out_orders, counters, hold, inv1, hard):
    """At the start of tick ``t``'s Exchange 1 step: cancels in flight whose latency has elapsed take
    effect, and new orders in flight land. A landing order that would cross the book (the market
    moved while it travelled) is rejected, as a post-only order is. It is sized again against the hard
    position limit as the position is when it lands (fills while it travelled count), and trimmed to what
    the limit leaves. While quoting is held (``hold`` >= 0, the order reason: the kill switch, or a pause) a landing
    order is cancelled on arrival (recorded as placed and cancelled in the same tick): it never rests and
    cannot trade."""
    k = 0
    while k < zn[0]:
        if zs[k, Z_DUE] <= t:
            left = cancel(b, zs[k, Z_SLOT], zs[k, Z_ID])
            if left > 0:
                record_order(out_orders, counters, zs[k, Z_ID], t, OA_CANCEL, zs[k, Z_SIDE], zs[k, Z_PRICE], left,
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
            size = min(quotes[qi + 3], _room(b, zs, zn, side, inv1, hard))
            if size <= 0:
                continue  # the position filled up while it travelled: nothing may rest
            quotes[qi + 3] = size
            if not crosses(b, 0 if side > 0 else 1, price):
                slot, oid = rest(b, 0 if side > 0 else 1, price, size, OWNER_MM)
                if slot >= 0:
                    record_order(out_orders, counters, oid, t, OA_NEW, side, price, size, OR_QUOTE)
                    if hold >= 0:
                        cancel(b, slot, oid)
                        record_order(out_orders, counters, oid, t, OA_CANCEL, side, price, size, hold)
                    else:
                        quotes[qi] = slot
                        quotes[qi + 1] = oid


@jit_borrow
def _pull_all_now(b, quotes, zs, zn, t, out_orders, counters, reason):
    """The kill switch's mass cancel: our resting quotes and the orders whose cancel is still in flight
    leave the book at once (modelled as a venue-side cancel-all that takes effect immediately). Orders
    still travelling to the venue are cancelled when they land (``_land_orders``)."""
    _cancel_quote(b, quotes, 0, 1, t, reason, out_orders, counters, zs, zn, 0)
    _cancel_quote(b, quotes, 4, -1, t, reason, out_orders, counters, zs, zn, 0)
    for k in range(zn[0]):
        left = cancel(b, zs[k, Z_SLOT], zs[k, Z_ID])
        if left > 0:
            record_order(out_orders, counters, zs[k, Z_ID], t, OA_CANCEL, zs[k, Z_SIDE], zs[k, Z_PRICE], left, reason)
    zn[0] = 0


STATE_FIELDS = (
    "b1", "b2", "acc", "pos", "quotes", "in_due", "in_qty", "in_m1", "in_m2",
    "in_first", "w", "hq_i", "hq_f", "zs", "zn", "pend_due", "dq_tick", "dq_val", "si", "sf", "fill_buf", "hedge_buf",
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
    sf = initial_sf(p, feed1[0], feed2[0])
    return (
        b1, b2,
        np.zeros(N_ACC, dtype=np.float64), np.zeros(2, dtype=np.int64), quotes,
        np.zeros(intent_capacity, dtype=np.int64), np.zeros(intent_capacity, dtype=np.int64),
        np.zeros(intent_capacity, dtype=np.float64), np.zeros(intent_capacity, dtype=np.float64),
        np.zeros(intent_capacity, dtype=np.int64),
        np.zeros(N_W, dtype=np.int64),
        np.zeros((intent_capacity, 2), dtype=np.int64), np.zeros((intent_capacity, 2), dtype=np.float64),
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
              order_latency_ms, feed2_seen, feed2_update, t_begin, t_end, keep_at, kept_acc, kept_pos,
              out_ticks, out_fills, out_hedges, out_orders, out_risk, out_account,
              b1, b2, acc, pos, quotes, in_due, in_qty, in_m1, in_m2, in_first, w, hq_i, hq_f,
              zs, zn, pend_due, dq_tick, dq_val, si, sf, fill_buf, hedge_buf, counters):
    """Advance the synthetic market's simulation over ticks ``t_begin .. t_end - 1``. Inputs are the
    pre-generated arrays (see ``backtest.markets.generate``) and the parameter vector ``p`` (see ``kernels.params``);
    the loop state (``STATE_FIELDS``, from ``new_state`` or a previous call) is updated in place; outputs are
    written to the preallocated record arrays, and ``counters`` says how many rows each has received in the
    run so far (``C_OVERFLOW`` = some did not fit). Interventions before ``t_begin`` are taken as applied.
    At the end of tick ``keep_at[j]`` (ticks in order, within the range; none for a single run) the account and
    positions are copied to row ``j`` of ``kept_acc`` / ``kept_pos`` (``kernels.strategy.keep_position``).

    What is particular to this market source is here: the synthetic participants' flow on each venue's L3
    book, our quotes resting in Exchange 1's book, hedges matched in Exchange 2's book. The strategy's steps
    are ``kernels.strategy``'s, the same for every source. Compiled without reference counting
    (``jit_borrow``): it allocates nothing."""
    mm_ids, mm_prices, mm_qtys = fill_buf[0], fill_buf[1], fill_buf[2]
    h_ids, h_prices, h_qtys = hedge_buf[0], hedge_buf[1], hedge_buf[2]
    n_ticks = feed1.shape[0]
    every = int(p[P_RECORD_EVERY])
    dt_s = p[P_DT_S]
    book_mode = p[P_FILL_MODEL] == 0
    depth1 = int(p[P_DEPTH1])
    depth2 = int(p[P_DEPTH2])
    dt_ms = dt_s * 1000.0
    ref_choice = int(p[P_REFERENCE])
    tol = int(p[P_REQUOTE_TOL])
    n_iv = interventions.shape[0]
    iv = 0
    while iv < n_iv and interventions[iv]["tick"] < t_begin:
        iv += 1
    n_keep = keep_at.shape[0]
    j_keep = 0

    for t in range(t_begin, t_end):
        # ``tu``: the tick as an unsigned index, so the per-tick array reads skip numba's negative-index wraparound
        tu = np.uint64(t)
        f1 = feed1[tu]
        f2 = feed2[tu]
        lat = hedge_latency_ms[tu]

        # 1. interventions
        if interventions_due(interventions, iv, t):
            iv = step_interventions(p, t, interventions, iv, si, sf, acc, pos, quotes, best_bid(b1), best_ask(b1),
                                    center1[tu], book_mode, f1, f2, lat, in_due, in_qty, in_m1, in_m2, in_first,
                                    counters, out_fills, out_risk)
            # a kill or a manual pause pulls our orders at once, before this tick's flow can meet them
            if book_mode and si[S_KILLED] != 0:
                _pull_all_now(b1, quotes, zs, zn, t, out_orders, counters, OR_KILL)
            elif book_mode and si[S_MANUAL_PAUSE] != 0:
                _pull_all_now(b1, quotes, zs, zn, t, out_orders, counters, OR_RISK)

        # 2. Exchange 2 background flow
        if center2[tu] != si[S_PREV_C2]:  # most ticks the venue price does not move: skip the call
            _withdraw_out_of_band(b2, si[S_PREV_C2], center2[tu], depth2)
        si[S_PREV_C2] = center2[tu]
        e = ev2_start[tu]
        while e < ev2_start[tu + U1]:  # we rest no orders on Exchange 2: nothing of ours trades there
            e, _ = _apply_flow(b2, center2[tu], events2, e, ev2_start[tu + U1], hedge_buf)

        # 3. Exchange 1: orders and cancels in flight land, then the flow meets our quotes
        delay = 0
        if book_mode:
            order_ms = order_latency_ms[tu]
            if order_ms > dt_ms:  # within one tick (most ticks) the delay is 0 without the division
                delay = max(0, int(math.ceil(order_ms / dt_ms - 1e-9)) - 1)
            if zn[0] > 0 or quotes[0] == -2 or quotes[4] == -2:
                _land_orders(b1, quotes, zs, zn, pend_due, t, out_orders, counters, hold_reason(si), pos[0],
                             int(p[P_HARD]))
        if center1[tu] != si[S_PREV_C1]:
            _withdraw_out_of_band(b1, si[S_PREV_C1], center1[tu], depth1)
        si[S_PREV_C1] = center1[tu]
        e = ev1_start[tu]
        while e < ev1_start[tu + U1]:
            e, n_mm = _apply_flow(b1, center1[tu], events1, e, ev1_start[tu + U1], fill_buf)
            if n_mm > 0:
                si[S_N_IN] = _mm_fills_from_buffer(p, acc, pos, counters, out_fills, out_orders, t, n_mm, mm_ids,
                                                   mm_prices, mm_qtys, quotes, b1, f1, f2, lat, in_due, in_qty,
                                                   in_m1, in_m2, in_first, si[S_N_IN], zs, zn)
        if not book_mode and t > 0:
            # Avellaneda-Stoikov's timing: the quotes set at t - 1 from the mid at t - 1 are filled (or not)
            # over the step (t - 1, t] with a distance measured from that same mid, and the price moves to
            # the mid at t only after: a run of n ticks has n - 1 fill steps and n - 1 price steps. The fill
            # is booked at t, marked at the mids of t - 1 it was priced against (the accounting identity
            # holds for any mark used consistently).
            # with P_INT_AFTER_MOVE the step's move comes first: the distance is from the mid at t
            after = p[P_INT_AFTER_MOVE] > 0
            m1 = feed1[tu] if after else feed1[t - 1]
            m2 = feed2[tu] if after else feed2[t - 1]
            for qi in (0, 4):
                if quotes[qi] < 0:
                    continue
                side = 1 if qi == 0 else -1
                dist = (m1 - quotes[qi + 2]) if side > 0 else (quotes[qi + 2] - m1)
                prob = intensity_fill_probability(dist, p[P_TICK_SIZE], p[P_INT_A], p[P_INT_K], dt_s)
                u = u_bid[tu] if side > 0 else u_ask[tu]
                if u < prob:
                    si[S_N_IN] = book_fill_exchange1(p, acc, pos, counters, out_fills, t, -1, side, quotes[qi + 2],
                                                     quotes[qi + 3], LIQ_INTENSITY, m1, m2, lat, in_due, in_qty,
                                                     in_m1, in_m2, in_first, si[S_N_IN])

        # 4. hedges that have reached Exchange 2
        hedge_arrivals(t, si, w, hq_i, hq_f, in_due, in_qty, in_m1, in_m2, in_first, counters)
        hside, want, at_market = hedge_order(p, t, w, f2)
        if want > 0:
            filled = 0
            notional = 0
            per_price = 0.0
            limit = -1
            status = H_REJECTED
            if hedge_reject[tu] == 0:
                touch = best_ask(b2) if hside > 0 else best_bid(b2)
                if touch < 0:
                    status = H_NO_LIQUIDITY
                else:
                    limit = hedge_limit(p, hside, touch, b2[B_BASE], b2[B_BASE] + b2[B_NLEVELS] - 1, at_market)
                    filled, notional, _, per_price = match(b2, hside > 0, limit, want, h_ids, h_prices, h_qtys)
                    status = hedge_status(filled, want)
                    if at_market:
                        limit = -1
            hedge_settle(p, t, f1, f2, hside, want, filled, notional, per_price, limit, status, at_market, acc, pos, w, hq_i, hq_f, si, sf,
                         counters, out_hedges)
        pending = pending_hedge(si, w, in_qty)  # fixed for the rest of the tick

        # 5. marks and PnL
        inv1 = pos[0]
        total = total_pnl(p, acc, pos, f1, f2)

        # 6. risk
        step_risk(p, t, total, lat, order_latency_ms[tu], book_mode,
                  t if ref_choice == 0 or feed2_update[tu] > 0 else -1, inv1,
                  si, sf, dq_tick, dq_val, counters, out_risk)
        state = si[S_STATE]

        # 7. quoting (``bid_lots`` / ``ask_lots``: what our quotes hold in the book after it)
        bid_lots = 0
        ask_lots = 0
        ref, reservation, half, sigma = quote_targets(p, t, n_ticks, f1, f2, feed2_seen[tu], inv1, hedge_leg_lots(acc), sf)
        if state == STATE_KILLED or state == STATE_PAUSED:
            if book_mode and state == STATE_KILLED:
                _pull_all_now(b1, quotes, zs, zn, t, out_orders, counters, OR_KILL)
            elif book_mode:
                _cancel_quote(b1, quotes, 0, 1, t, OR_RISK, out_orders, counters, zs, zn, delay)
                _cancel_quote(b1, quotes, 4, -1, t, OR_RISK, out_orders, counters, zs, zn, delay)
            else:
                quotes[0] = -1
                quotes[4] = -1
        else:
            bid_px, ask_px, bid_size, ask_size = quote_prices_sizes(p, reservation, half, inv1, si[S_PORT_BLOCK])
            if book_mode:
                # post-only: never cross the other participants' touch
                other_ask = _others_through(b1, 1, bid_px, quotes[6] if quotes[4] >= 0 else -1, quotes[4], quotes[5])
                other_bid = _others_through(b1, 0, ask_px, quotes[2] if quotes[0] >= 0 else -1, quotes[0], quotes[1])
                if other_ask >= 0 and bid_px >= other_ask:
                    bid_px = other_ask - 1
                if other_bid >= 0 and ask_px <= other_bid:
                    ask_px = other_bid + 1
                lo = b1[B_BASE]
                hi = b1[B_BASE] + b1[B_NLEVELS] - 1
                bid_px = min(max(bid_px, lo), hi)
                ask_px = min(max(ask_px, lo), hi)
            if p[P_DEPTH_CHECK] > 0 and book_mode:
                buf = int(p[P_HEDGE_BUFFER])
                # the lots each side must hold for no shrink (an inverse venue's contracts: summed in full)
                exact = p[P_HEDGE_INVERSE] > 0
                room_bid = depth_within(b2, 0, buf, BIG_LOTS if exact else bid_size + max(0, -pending))
                room_ask = depth_within(b2, 1, buf, BIG_LOTS if exact else ask_size + max(0, pending))
                bid_size, ask_size = depth_capped_sizes(p, bid_size, ask_size, room_bid, room_ask, pending, f2,
                                                        counters)
            hard = int(p[P_HARD])
            bid_lots = _set_quote(b1, quotes, 0, 1, bid_px, bid_size, tol, t, out_orders, counters, book_mode, zs, zn,
                                  delay, pend_due, _room(b1, zs, zn, 1, inv1, hard) if book_mode else bid_size)
            ask_lots = _set_quote(b1, quotes, 4, -1, ask_px, ask_size, tol, t, out_orders, counters, book_mode, zs,
                                  zn, delay, pend_due, _room(b1, zs, zn, -1, inv1, hard) if book_mode else ask_size)

        # 8. record (the tick row on the recording grid; the account row whenever it changed)
        if every == 1 or (t + 1) % every == 0 or t == n_ticks - 1:
            rec = out_ticks[tu if every == 1 else np.uint64(t // every)]  # no division on the default grid
            rec["best_bid1"] = best_bid(b1)
            rec["best_ask1"] = best_ask(b1)
            rec["best_bid2"] = best_bid(b2)
            rec["best_ask2"] = best_ask(b2)
            has_bid = quotes[0] >= 0
            has_ask = quotes[4] >= 0
            rec["quote_bid"] = quotes[2] if has_bid else -1
            rec["quote_ask"] = quotes[6] if has_ask else -1
            if book_mode:
                rec["quote_bid_size"] = bid_lots if has_bid else 0
                rec["quote_ask_size"] = ask_lots if has_ask else 0
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
            record_pnl(p, rec, ref, reservation, half, sigma, f1, f2, acc, pos, total)
        record_account(t, acc, pos, pending, si, sf, counters, out_account)
        if j_keep < n_keep and keep_at[j_keep] == t:
            keep_position(acc, pos, kept_acc, kept_pos, j_keep)
            j_keep += 1

    counters[C_DROPPED1] = b1[B_DROPPED]
    counters[C_DROPPED2] = b2[B_DROPPED]
    return counters[C_FILLS]
