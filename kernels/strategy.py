"""The strategy's steps, shared by every market source.

The synthetic tick loop (``kernels.tick``) and the recorded-market loop (``kernels.replay``) differ only in
how each venue's book evolves and how our orders meet it. Everything the strategy decides or books is here,
written once: user interventions, the hedge queue (arrivals, when to attempt, what an attempt books), the
risk checks and the state they lead to, the quote targets, the accounting of a fill, and the per-tick PnL
and account records. Each step reads and writes the loop state arrays (``si`` integers, ``sf`` floats, and
the named arrays), so a step's signature says what it touches.

Units: prices in ticks, sizes in lots, money in tick-lots, time as the tick index.
"""
import math

import numpy as np

from kernels._jit import jit_borrow, jit_inline
from kernels.params import *  # noqa: F401,F403  (P_* indices)
from kernels.quoting import avellaneda_stoikov_quote, linear_quote
from kernels.records import (
    H_FILLED, H_NO_LIQUIDITY, H_PARTIAL, OR_KILL, OR_RISK, IV_KILL, IV_KILL_RESET, IV_MANUAL_FILL, IV_PAUSE, IV_RESUME, LIQ_MANUAL, R_BACK_INSIDE_LIMITS,
    R_COOLDOWN_OVER, R_DRAWDOWN_KILL, R_FEED_RESUMED, R_HEDGE_FAILURE, R_KILL_RESET, R_LATENCY_SPIKE,
    R_LOSS_WINDOW, R_MANUAL_KILL, R_MANUAL_PAUSE, R_MANUAL_RESUME, R_ORDER_LATENCY_SPIKE, R_SOFT_LIMIT,
    R_PORTFOLIO_LIMIT, R_PORTFOLIO_LOSS, R_STALE_FEED, STATE_ACTIVE, STATE_KILLED, STATE_PAUSED, STATE_REDUCED,
)

# counters[] written by the kernels
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
C_RESPONSE_EARLY = 13  # replay: fills the strategy learnt of early because its response ring was full
N_COUNTERS = 14

# acc[] float accumulators (tick-lots)
A_CASH1 = 0
A_CASH2 = 1
A_FEES1 = 2
A_FEES2 = 3
A_SPREAD = 4
A_SLIP = 5
A_LAT = 6
# 1.0 once a fill or a hedge attempt has been booked since ``record_account`` last compared the account (not money;
# next to the fields that comparison reads, so testing it reads no memory the tick has not read already)
A_MOVED = 7
A_B1 = 8
A_B2M1 = 9
A_B2M2 = 10
A_AVG1 = 11
A_AVG2 = 12
A_REAL1 = 13
A_REAL2 = 14
# The hedge leg in lots of the base asset. Linear: its position. Inverse: each trade of c contracts at price P
# counts as c x face / P of base bought or sold at P for c x face of cash (face: a contract's value in the quote
# currency), which is exact for the account's value in the quote currency: the base a contract position
# stands for at its entry prices plus the base its PnL has put in the account (README, Instruments).
A_E2 = 15
A_FEE_BASE2 = 16  # inverse: fees paid in the base asset, lots (a short position of the base, marked at Exchange 2)
A_FRAC = 17  # inverse: base lots hedges traded beyond the whole lots of fills they covered (|.| <= 1/2)
N_ACC = 18

# hedge working order (the fills that have reached Exchange 2 and are not yet hedged), in w[]
W_QTY = 0  # signed lots still to trade on Exchange 2 (the sum of the hedge FIFO)
W_ATTEMPTS = 1  # attempts of the current hedge order (0 = the next attempt starts a new order)
W_NEXT_TRY = 2
W_ID = 3  # id of the current hedge order
W_CARRY = 4  # hedging.remainder 'round': signed lots a rounded hedge left over (0 once a fill nets them)
N_W = 5
# The hedge FIFO: the Exchange 1 fills that reached Exchange 2 and are not hedged yet, oldest first, as a
# ring of segments (si[S_HQ_HEAD], si[S_HQ_LEN]). hq_i[k] = [signed lots to trade on Exchange 2, fill tick],
# hq_f[k] = [Exchange 1 mark, Exchange 2 mark] at that fill (ticks, per lot). A fill of the other sign first
# offsets the oldest lots (they never need a hedge); a hedge covers the oldest lots: its attribution and its
# fill-to-hedge latency are those of a lot-by-lot first-in-first-out matching of fills to hedges.
HQ_QTY = 0
HQ_TICK = 1
HQ_F1 = 0
HQ_F2 = 1

# si[] integer scalars of the loop state
S_N_IN = 0  # hedge intents in flight
S_NEXT_HEDGE_ID = 1
S_STATE = 2
S_MANUAL_PAUSE = 3
S_KILLED = 4
S_KILL_REASON = 5
S_LOSS_PAUSED_UNTIL = 6  # tick the loss pause is re-checked, -1 = not paused
S_PREV_C1 = 7  # venue price (ticks) at the previous tick, for withdrawals (synthetic)
S_PREV_C2 = 8
S_DQ_HEAD = 9  # rolling-window peak deque
S_DQ_LEN = 10
S_RESET_PEAK = 11
S_LAST_FEED_UPDATE = 12
S_STALE = 13
S_ACCT_ROWS = 14  # account rows written so far (mirror of counters[C_ACCOUNT] for the comparison below)
S_A_INV1 = 15  # the account as last written: positions, pending hedge, state, manual pause
S_A_INV2 = 16
S_A_PENDING = 17
S_A_STATE = 18
S_A_MANUAL = 19
S_ROOM_BID = 20  # replay: lots Exchange 2's bids / asks could absorb within the hedge buffer, cached
S_ROOM_ASK = 21
S_ROOM_STALE = 22  # replay: 1 = the cache above must be recomputed (the book or our takings changed)
S_HQ_HEAD = 23  # hedge FIFO ring: index of the oldest segment, and segments held
S_HQ_LEN = 24
S_NEXT_LANDING = 25  # replay: earliest arrival of an order or cancel of ours in flight, ns after the run's start
S_RK_HEAD = 26  # replay: ring of our fills whose report has not reached the strategy yet (response latency)
S_RK_LEN = 27
S_UNKNOWN_LOTS = 28  # replay: signed lots of those fills (the strategy's inventory = position - this)
# written by the portfolio risk manager (kernels.portfolio) between ticks; 0 on a single-asset run
S_PORT_PAUSE = 29  # 1 = paused by the portfolio's loss throttle
S_PORT_BLOCK = 30  # quote sides the portfolio's limits hold: 1 = bids, 2 = asks, 3 = both
S_ROOM_CAP_BID = 31  # replay: the lots S_ROOM_BID / S_ROOM_ASK were summed up to (a sum that reached it may be short)
S_ROOM_CAP_ASK = 32
S_LOSS_BUCKET = 33  # the loss window's bucket of the tick and of the window's start (floor_div_memo)
S_LOSS_OLDEST = S_LOSS_BUCKET + 3
N_SI = S_LOSS_OLDEST + 3
# sf[] float scalars
F_KILL_VALUE = 0
F_KILL_LIMIT = 1
F_LAST_LOSS = 2
F_VAR_EST = 3  # EWMA variance of the reference, ticks^2 per second
F_DRIFT_EST = 4
F_PREV_REF = 5
F_RUN_PEAK = 6  # running PnL peak for the drawdown kill, tick-lots
F_BASIS_EST = 7  # EWMA of feed2 - feed1, ticks (the basis the Exchange 2 reference is corrected by)
F_A_CASH1 = 8  # the account as last written: cash, fees, realized, attribution sums
F_A_CASH2 = 9
F_A_FEES1 = 10
F_A_FEES2 = 11
F_A_REAL = 12
F_A_SPREAD = 13
F_A_SLIP = 14
F_A_LAT = 15
F_PORT_VALUE = 16  # the portfolio figure (account currency) behind S_PORT_PAUSE / S_PORT_BLOCK, and its limit
F_PORT_LIMIT = 17
N_SF = 18


def initial_sf(p, f1, f2):
    """The float scalars before tick 0: the volatility estimate at its prior, the basis estimate at the first
    basis seen, the reference as the first tick will see it."""
    sf = np.zeros(N_SF, dtype=np.float64)
    sf[F_VAR_EST] = p[P_SIGMA0] * p[P_SIGMA0]
    ref2 = f2
    if p[P_BASIS_ALPHA] > 0:
        sf[F_BASIS_EST] = f2 - f1
        ref2 = f2 - sf[F_BASIS_EST]
    ref_choice = int(p[P_REFERENCE])
    sf[F_PREV_REF] = f1 if ref_choice == 0 else (ref2 if ref_choice == 1 else 0.5 * (f1 + ref2))
    return sf


@jit_borrow
def hedge_leg_lots(acc):
    """The hedge leg's exposure in lots of the base asset (float): the position on a linear venue; on an
    inverse one, the base its contracts and PnL stand for, less the base paid as fees."""
    return acc[A_E2] - acc[A_FEE_BASE2]


@jit_borrow
def settlement_conversion(p, acc, f2):
    """Inverse: what the fees paid in the base asset have gained in value since they were paid (tick-lots; the
    fees are booked at their value when paid, the base they took is marked at ``f2`` since). 0 on a linear
    venue."""
    if p[P_HEDGE_INVERSE] > 0:
        return acc[A_FEES2] - acc[A_FEE_BASE2] * f2
    return 0.0


@jit_borrow
def total_pnl(p, acc, pos, f1, f2):
    """Cash plus positions at the marks less fees as paid, plus what fees paid in the base asset have gained in
    value since (tick-lots)."""
    return (acc[A_CASH1] + acc[A_CASH2] + pos[0] * f1 + acc[A_E2] * f2 - acc[A_FEES1] - acc[A_FEES2]
            + settlement_conversion(p, acc, f2))


@jit_borrow
def trade_avg_cost(acc, i_avg, i_real, inv_before, side, qty, price):
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
def record_order(out_orders, counters, oid, t, action, side, price, qty, reason):
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
def record_risk(out_risk, counters, t, old, new, reason, value, limit):
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
def book_fill_exchange1(p, acc, pos, counters, out_fills, t, order_id, side, price, qty, liquidity,
                        f1, f2, hedge_latency_ms, in_due, in_qty, in_m1, in_m2, in_first, n_in):
    """Book one of our Exchange 1 fills and schedule its hedge. Returns the new in-flight count."""
    acc[A_MOVED] = 1.0
    inv_before = pos[0]
    trade_avg_cost(acc, A_AVG1, A_REAL1, inv_before, side, qty, price)
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
def derive_state(p, t, si, sf, inv1):
    """The risk state the throttles put us in, most severe first, with the reason, the measured value and
    the limit it was held against: killed > paused (by hand, loss window, the portfolio's loss window, stale
    feed) > reduced (soft position limit, a portfolio limit) > active."""
    soft = p[P_SOFT]
    if si[S_KILLED] != 0:
        return STATE_KILLED, si[S_KILL_REASON], sf[F_KILL_VALUE], sf[F_KILL_LIMIT]
    if si[S_MANUAL_PAUSE] != 0 or si[S_LOSS_PAUSED_UNTIL] >= 0:
        return STATE_PAUSED, (R_MANUAL_PAUSE if si[S_MANUAL_PAUSE] != 0 else R_LOSS_WINDOW), sf[F_LAST_LOSS], \
            p[P_MAX_LOSS]
    if si[S_PORT_PAUSE] != 0:
        return STATE_PAUSED, R_PORTFOLIO_LOSS, sf[F_PORT_VALUE], sf[F_PORT_LIMIT]
    if si[S_STALE] != 0:
        dt_s = p[P_DT_S]
        return STATE_PAUSED, R_STALE_FEED, (t - si[S_LAST_FEED_UPDATE]) * dt_s, p[P_STALE_TICKS] * dt_s
    if abs(inv1) >= soft:
        return STATE_REDUCED, R_SOFT_LIMIT, float(inv1), soft
    if si[S_PORT_BLOCK] != 0:
        return STATE_REDUCED, R_PORTFOLIO_LIMIT, sf[F_PORT_VALUE], sf[F_PORT_LIMIT]
    return STATE_ACTIVE, R_BACK_INSIDE_LIMITS, float(inv1), soft


@jit_borrow
def hold_reason(si):
    """Why an order landing now must not rest (the order reason it is cancelled with): the kill switch
    (``OR_KILL``) or a pause of any kind (``OR_RISK``); -1 = it may rest. Orders sent before a kill or a
    pause must not start trading once it holds."""
    if si[S_KILLED] != 0:
        return OR_KILL
    if si[S_MANUAL_PAUSE] != 0 or si[S_STATE] == STATE_PAUSED:
        return OR_RISK
    return -1


@jit_borrow
def interventions_due(interventions, iv, t):
    return iv < interventions.shape[0] and interventions[iv]["tick"] <= t


@jit_borrow
def step_interventions(p, t, interventions, iv, si, sf, acc, pos, quotes, touch_bid, touch_ask, fallback_price,
                       book_mode, f1, f2, lat, in_due, in_qty, in_m1, in_m2, in_first, counters, out_fills,
                       out_risk):
    """Apply the user actions scheduled at tick ``t`` (from row ``iv`` of ``interventions``), in order. A manual
    fill without a price fills at our quote on that side, else at the venue's touch (``touch_bid`` /
    ``touch_ask``, -1 = empty), else at ``fallback_price``. Every action that changes the risk state is a row
    of the audit trail with the action as its reason. Returns the next intervention row."""
    n_iv = interventions.shape[0]
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
                    price = touch_bid if side > 0 else touch_ask
                    if price < 0:
                        price = fallback_price
            si[S_N_IN] = book_fill_exchange1(p, acc, pos, counters, out_fills, t, -1, side, price, qty, LIQ_MANUAL,
                                             f1, f2, lat, in_due, in_qty, in_m1, in_m2, in_first, si[S_N_IN])
        else:
            action_reason = R_MANUAL_PAUSE
            manual_before = si[S_MANUAL_PAUSE]
            if kind == IV_PAUSE:
                si[S_MANUAL_PAUSE] = 1
            elif kind == IV_RESUME:
                si[S_MANUAL_PAUSE] = 0
                action_reason = R_MANUAL_RESUME
            elif kind == IV_KILL_RESET:
                si[S_KILLED] = 0
                si[S_RESET_PEAK] = 1  # drawdown for the kill switch counts from here
                action_reason = R_KILL_RESET
            elif kind == IV_KILL:
                action_reason = R_MANUAL_KILL
                if si[S_KILLED] == 0:
                    si[S_KILLED] = 1
                    si[S_KILL_REASON] = R_MANUAL_KILL
                    sf[F_KILL_VALUE] = 0.0
                    sf[F_KILL_LIMIT] = 0.0
            new_state, _, value, limit_v = derive_state(p, t, si, sf, pos[0])
            # a row for every action that changed something, the state or only the manual pause under a kill
            # (a pause while killed holds after the kill reset: the audit trail says when it was asked for)
            if new_state != si[S_STATE] or si[S_MANUAL_PAUSE] != manual_before:
                record_risk(out_risk, counters, t, si[S_STATE], new_state, action_reason, value, limit_v)
                si[S_STATE] = new_state
        iv += 1
    return iv


@jit_borrow
def ring_next(i, cap):
    """The slot after ``i`` in a ring of ``cap`` slots (a subtraction, not a modulo)."""
    i += 1
    return 0 if i == cap else i


@jit_borrow
def fifo_push(t, si, w, hq_i, hq_f, q, fill_tick, f1, f2, counters):
    """Lots ``q`` (signed, to trade on Exchange 2) of a fill at ``fill_tick`` with marks ``f1`` / ``f2`` (ticks)
    reach Exchange 2: they first offset the oldest lots of the other sign, what is left joins the FIFO's tail.
    A hedge order that is emptied or turned to the other side ends: the next attempt starts a new order."""
    if q == 0:
        return
    cap = hq_i.shape[0]
    head = si[S_HQ_HEAD]
    n = si[S_HQ_LEN]
    w[W_QTY] += q
    w[W_CARRY] = 0
    while q != 0 and n > 0 and (hq_i[head, HQ_QTY] > 0) != (q > 0):
        held = hq_i[head, HQ_QTY]
        if abs(held) <= abs(q):
            q += held
            hq_i[head, HQ_QTY] = 0
            head = ring_next(head, cap)
            n -= 1
        else:
            hq_i[head, HQ_QTY] = held + q
            q = 0
    if q != 0:
        if n == 0:  # a new hedge order (the FIFO was empty, or the fill turned it to the other side)
            w[W_ATTEMPTS] = 0
            w[W_NEXT_TRY] = t
        if n < cap:
            k = head + n
            if k >= cap:
                k -= cap
            hq_i[k, HQ_QTY] = q
            hq_i[k, HQ_TICK] = fill_tick
            hq_f[k, HQ_F1] = f1
            hq_f[k, HQ_F2] = f2
            n += 1
        else:
            # Ring full (only with thousands of unhedged fills): fold into the newest segment, marks
            # lot-weighted. Its lots then count from that segment's fill tick.
            k = head + n - 1
            if k >= cap:
                k -= cap
            old = hq_i[k, HQ_QTY]
            total = old + q
            hq_f[k, HQ_F1] = (hq_f[k, HQ_F1] * old + f1 * q) / total
            hq_f[k, HQ_F2] = (hq_f[k, HQ_F2] * old + f2 * q) / total
            hq_i[k, HQ_QTY] = total
            counters[C_INTENT_MERGES] += 1
    elif n == 0:
        w[W_ATTEMPTS] = 0
    si[S_HQ_HEAD] = head
    si[S_HQ_LEN] = n


@jit_borrow
def fifo_cover(si, hq_i, hq_f, lots, consume):
    """The oldest ``lots`` lots of the hedge FIFO (all of one side): (sum of signed lots x Exchange 1 mark,
    the same with the Exchange 2 mark, the earliest fill tick among them). With ``consume`` they leave it."""
    cap = hq_i.shape[0]
    head = si[S_HQ_HEAD]
    n = si[S_HQ_LEN]
    m1 = 0.0
    m2 = 0.0
    first = hq_i[head, HQ_TICK] if n > 0 else -1
    k = head
    left = n
    while lots > 0 and left > 0:
        held = hq_i[k, HQ_QTY]
        take = min(lots, abs(held))
        signed = take if held > 0 else -take
        m1 += signed * hq_f[k, HQ_F1]
        m2 += signed * hq_f[k, HQ_F2]
        lots -= take
        if consume:
            if take == abs(held):
                hq_i[k, HQ_QTY] = 0
                head = ring_next(head, cap)
                n -= 1
            else:
                hq_i[k, HQ_QTY] = held - signed
        k = ring_next(k, cap)
        left -= 1
    if consume:
        si[S_HQ_HEAD] = head
        si[S_HQ_LEN] = n
    return m1, m2, first


@jit_borrow
def hedge_arrivals(t, si, w, hq_i, hq_f, in_due, in_qty, in_m1, in_m2, in_first, counters):
    """Hedge intents whose latency has elapsed reach Exchange 2 and join the hedge FIFO, in the order of the
    fills that sent them (the in-flight list is kept in that order)."""
    n_in = si[S_N_IN]
    kept = 0
    for j in range(n_in):
        if in_due[j] <= t:
            q = in_qty[j]
            if q != 0:
                fifo_push(t, si, w, hq_i, hq_f, q, in_first[j], in_m1[j] / q, in_m2[j] / q, counters)
        else:
            if kept != j:
                in_due[kept] = in_due[j]
                in_qty[kept] = in_qty[j]
                in_m1[kept] = in_m1[j]
                in_m2[kept] = in_m2[j]
                in_first[kept] = in_first[j]
            kept += 1
    si[S_N_IN] = kept


# hedging.remainder 'wait' on an inverse venue: whole contracts, rounded down unless within this fraction of a
# contract of the next. A contract's base value moves with the price, so a quote sized as one contract at the
# first price is 0.999 of one after a 0.1% rise: rounded strictly down, its hedge would wait for another fill.
INVERSE_WAIT_SLACK = 0.1


@jit_inline
def hedge_order(p, t, w, f2):
    """Whether the working hedge is attempted at ``t``, and how: (side +1 buy / -1 sell, Exchange 2 lots to
    send, at market). Lots are rounded down to Exchange 2's lot step (``P_HEDGE_STEP`` lots), or with
    ``P_HEDGE_ROUND`` to the nearest step (half a step up; what that leaves over, at most half a step the other
    way, is carried until fills net it, never hedged back on its own); 0 = no attempt. On an inverse venue
    the base lots become contracts at the Exchange 2 mark ``f2`` (lots x price / face value), rounded the
    same way (down: unless within ``INVERSE_WAIT_SLACK`` of a contract)."""
    q_signed = w[W_QTY]
    if q_signed == 0 or t < w[W_NEXT_TRY]:
        return 0, 0, False
    if p[P_HEDGE_INVERSE] > 0:
        contracts = abs(q_signed) * f2 / p[P_CONTRACT_TL]
        if p[P_HEDGE_ROUND] > 0:
            if q_signed == w[W_CARRY]:
                return 0, 0, False
            want = int(math.floor(contracts + 0.5))
        else:
            want = int(math.floor(contracts + INVERSE_WAIT_SLACK))
        if want == 0 or (abs(q_signed) < p[P_MIN_HEDGE] and w[W_ATTEMPTS] == 0):
            return 0, 0, False
        at_market = int(p[P_ESCALATION]) == 1 and w[W_ATTEMPTS] > int(p[P_MAX_RETRIES])
        return (1 if q_signed > 0 else -1), want, at_market
    step = int(p[P_HEDGE_STEP])
    if step > 1 and p[P_HEDGE_ROUND] > 0:
        if q_signed == w[W_CARRY]:
            return 0, 0, False  # what a rounded hedge left over waits for fills to net it, never hedged back
        want = ((abs(q_signed) + step // 2) // step) * step
        if want == 0 or (want < p[P_MIN_HEDGE] and w[W_ATTEMPTS] == 0):
            return 0, 0, False
        at_market = int(p[P_ESCALATION]) == 1 and w[W_ATTEMPTS] > int(p[P_MAX_RETRIES])
        return (1 if q_signed > 0 else -1), want, at_market
    if abs(q_signed) < p[P_MIN_HEDGE] and w[W_ATTEMPTS] == 0:
        return 0, 0, False
    if step <= 1:
        want = abs(q_signed)
    else:
        want = (abs(q_signed) // step) * step
    if want == 0:
        return 0, 0, False
    at_market = int(p[P_ESCALATION]) == 1 and w[W_ATTEMPTS] > int(p[P_MAX_RETRIES])
    return (1 if q_signed > 0 else -1), want, at_market


@jit_borrow
def hedge_limit(p, hside, touch, lowest, highest, at_market):
    """The limit of a hedge attempt: the touch it takes plus the slippage buffer against it (ticks), or the far
    end of the book (``lowest`` / ``highest`` price) once escalated to a market order."""
    if at_market:
        return highest if hside > 0 else lowest
    buf = int(p[P_HEDGE_BUFFER])
    return touch + buf if hside > 0 else touch - buf


@jit_borrow
def hedge_status(filled, want):
    return H_FILLED if filled == want else (H_PARTIAL if filled > 0 else H_NO_LIQUIDITY)


@jit_borrow
def hedge_settle(p, t, f1, f2, hside, want, filled, notional, per_price, limit, status, at_market, acc, pos, w, hq_i,
                 hq_f, si, sf, counters, out_hedges):
    """Book one hedge attempt on Exchange 2 (``filled`` lots for ``notional`` tick-lots; ``per_price`` the sum
    of lots / price over its fills): positions, cash, fees and the hedge's attribution (slippage against the
    mark now, price move since the fills it covers, oldest first), its record, and the retry, escalation or
    kill when lots are left. On an inverse venue ``filled`` is contracts: they trade face x per_price lots of
    the base, which cover the nearest whole number of the fills' lots (the fraction carried to the next
    hedge, so what the hedges traded never strays half a lot from the lots they covered)."""
    acc[A_MOVED] = 1.0
    max_retries = int(p[P_MAX_RETRIES])
    escalation = int(p[P_ESCALATION])
    if w[W_ATTEMPTS] == 0:  # the first attempt of a new hedge order
        w[W_ID] = si[S_NEXT_HEDGE_ID]
        si[S_NEXT_HEDGE_ID] += 1
    w[W_ATTEMPTS] += 1
    slip = 0.0
    lat_cost = 0.0
    fee = 0.0
    # a hedge rounded up to the lot step (hedging.remainder 'round') trades more than the fills it covers: the
    # excess joins the FIFO as lots marked now (so they carry no latency cost), is covered with the rest, and
    # the opposite of it is left in the FIFO, marked now, as naked exposure for later fills to net
    held = abs(w[W_QTY])
    inverse = p[P_HEDGE_INVERSE] > 0
    base = float(filled)  # lots of the base asset traded
    moved = filled  # lots of the fills covered
    if inverse:
        if filled > 0:
            base = p[P_CONTRACT_TL] * per_price
            carried = acc[A_FRAC] + base
            moved = int(math.floor(carried + 0.5))
            acc[A_FRAC] = carried - moved
        else:
            moved = 0
    excess = moved - held if moved > held else 0
    if excess > 0:
        fifo_push(t, si, w, hq_i, hq_f, hside * excess, t, f1, f2, counters)
    # the lots this attempt covers: the oldest ``want`` (those it filled, when it filled any)
    if filled > 0:
        covered = moved
    elif inverse:
        covered = min(held, max(1, int(want * p[P_CONTRACT_TL] / f2 + 0.5)))
    else:
        covered = min(want, held)
    m1_cov, m2_cov, first = fifo_cover(si, hq_i, hq_f, covered, filled > 0)
    m2_ref = m2_cov / (hside * covered) if covered > 0 else f2
    # tick-lots paid or received: an inverse contract's face value per contract, whatever its price
    notional_tl = p[P_CONTRACT_TL] * filled if inverse else float(notional)
    if filled > 0:
        # the fraction of a lot traded beyond the lots covered (inverse only) is marked now, as a hedge rounded up is
        frac = hside * (base - moved)
        m1_cov += frac * f1
        m2_cov += frac * f2
        trade_avg_cost(acc, A_AVG2, A_REAL2, acc[A_E2], hside, base, notional_tl / base)
        pos[1] += hside * filled
        acc[A_E2] += hside * base
        acc[A_CASH2] -= hside * notional_tl
        fee = abs(notional_tl) * p[P_TAKER_BPS] * 1e-4
        if inverse:  # paid in the base asset
            acc[A_FEE_BASE2] += base * p[P_TAKER_BPS] * 1e-4
        slip = hside * (f2 * base - notional_tl)
        acc[A_FEES2] += fee
        lat_cost = m2_cov - hside * base * f2
        acc[A_SLIP] += slip
        acc[A_LAT] += lat_cost
        acc[A_B2M1] += m1_cov
        acc[A_B2M2] += m2_cov
        w[W_QTY] -= hside * moved
        if excess > 0:
            fifo_push(t, si, w, hq_i, hq_f, -hside * excess, t, f1, f2, counters)
            w[W_CARRY] = -hside * excess
    k = counters[C_HEDGES]
    if k < out_hedges.shape[0]:
        r = out_hedges[k]
        r["hedge_id"] = w[W_ID]
        r["first_fill_tick"] = first
        r["tick"] = t
        r["attempt"] = w[W_ATTEMPTS]
        r["side"] = hside
        r["qty_requested"] = want
        r["qty_filled"] = filled
        r["limit_price"] = limit
        r["vwap"] = notional_tl / base if filled > 0 else 0.0
        r["base_filled"] = base if filled > 0 else 0.0
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
    if w[W_QTY] == 0 or filled == want or excess > 0:
        # done; or all that was sent filled and what is left is below Exchange 2's lot step: it waits for
        # more fills (no retry, no failure; never the case on a venue whose lot step is ours), and the next
        # attempt is a new hedge order
        w[W_ATTEMPTS] = 0
    else:
        w[W_NEXT_TRY] = t + max(1, int(p[P_RETRY_TICKS]))
        if w[W_ATTEMPTS] > max_retries:
            if w[W_ATTEMPTS] == max_retries + 1:
                counters[C_HEDGE_FAILURES] += 1
                if escalation == 1:
                    counters[C_ESCALATIONS] += 1
            # without escalation the kill fires at the first attempt past the retries; with it, market
            # orders get as many attempts again and the kill fires past those
            kill_after = max_retries if escalation == 0 else 2 * max_retries + 1
            fire = escalation != 2 and w[W_ATTEMPTS] > kill_after
            if fire and si[S_KILLED] == 0:
                si[S_KILLED] = 1
                si[S_KILL_REASON] = R_HEDGE_FAILURE
                sf[F_KILL_VALUE] = float(w[W_ATTEMPTS])
                sf[F_KILL_LIMIT] = float(kill_after)


@jit_borrow
def pending_hedge(si, w, in_qty):
    """Signed lots still to trade on Exchange 2: the working order plus the intents in flight."""
    pending = w[W_QTY]
    for j in range(si[S_N_IN]):
        pending += in_qty[j]
    return pending


@jit_inline
def floor_div_memo(x, d, si, k):
    """``x // d`` (floor division, ``d`` > 0) remembered in ``si[k:k + 3]`` (the quotient, quotient * d, and d): ``x``
    moves by one tick at a time, so it is nearly always in the last quotient's range and the division (tens of
    cycles, twice a tick for the loss window's buckets) is skipped. Exact for any ``x`` and ``d``."""
    lo = si[k + 1]
    if si[k + 2] == d and x >= lo and x - lo < d:
        return si[k]
    q = x // d
    si[k] = q
    si[k + 1] = q * d
    si[k + 2] = d
    return q


@jit_inline
def step_risk(p, t, total, hedge_lat_ms, order_lat_ms, check_order_latency, feed_last_update, inv1, si, sf,
              dq_tick, dq_val, counters, out_risk):
    """The risk checks of tick ``t`` on total PnL ``total`` (tick-lots): latency kill switch (hedge venue, and
    order entry when ``check_order_latency``), the rolling-window loss throttle, the drawdown kill switch, the
    stale reference feed (``feed_last_update``: the latest tick at which every feed the reference is made of
    had updated, -1 = none this tick); then the state they lead to, recorded when it changes."""
    if hedge_lat_ms > p[P_KILL_LATENCY_MS] and si[S_KILLED] == 0:
        si[S_KILLED] = 1
        si[S_KILL_REASON] = R_LATENCY_SPIKE
        sf[F_KILL_VALUE] = hedge_lat_ms
        sf[F_KILL_LIMIT] = p[P_KILL_LATENCY_MS]
    if check_order_latency and order_lat_ms > p[P_KILL_LATENCY_MS] and si[S_KILLED] == 0:
        si[S_KILLED] = 1
        si[S_KILL_REASON] = R_ORDER_LATENCY_SPIKE
        sf[F_KILL_VALUE] = order_lat_ms
        sf[F_KILL_LIMIT] = p[P_KILL_LATENCY_MS]
    # loss throttle: drawdown from the PnL peak within the rolling window (which is at least the loss over
    # the window); the run starts from a peak of 0. A monotone deque of peaks, one entry per bucket of the
    # window at most (see engine.loss_bucket_ticks); ring indices wrap by a subtraction, not a modulo.
    loss_window = int(p[P_LOSS_WINDOW_TICKS])
    loss_bucket = int(p[P_LOSS_BUCKET_TICKS])
    dq_cap = dq_tick.shape[0]
    dq_head = si[S_DQ_HEAD]
    dq_len = si[S_DQ_LEN]
    bucket = t if loss_bucket == 1 else floor_div_memo(t, loss_bucket, si, S_LOSS_BUCKET)
    # ring positions are in [0, dq_cap): read and written unsigned (numba adds a negative-index wraparound to
    # every signed index it cannot prove >= 0)
    dq_last = -1
    while dq_len > 0:
        dq_last = dq_head + dq_len - 1
        if dq_last >= dq_cap:
            dq_last -= dq_cap
        if dq_val[np.uint64(dq_last)] > total:
            break
        dq_len -= 1
    if dq_len == 0 or dq_tick[np.uint64(dq_last)] != bucket:
        dq_next = dq_head + dq_len
        if dq_next >= dq_cap:
            dq_next -= dq_cap
        dq_tick[np.uint64(dq_next)] = bucket
        dq_val[np.uint64(dq_next)] = total
        dq_len += 1
    oldest = t - loss_window if loss_bucket == 1 else floor_div_memo(t - loss_window, loss_bucket, si, S_LOSS_OLDEST)
    while dq_tick[np.uint64(dq_head)] < oldest:
        dq_head += 1
        if dq_head == dq_cap:
            dq_head = 0
        dq_len -= 1
    si[S_DQ_HEAD] = dq_head
    si[S_DQ_LEN] = dq_len
    window_peak = dq_val[np.uint64(dq_head)]
    if t < loss_window and window_peak < 0.0:
        window_peak = 0.0
    last_loss = window_peak - total
    sf[F_LAST_LOSS] = last_loss
    # kill switch: drawdown from the running peak since the start or the last kill reset
    if si[S_RESET_PEAK] != 0:
        sf[F_RUN_PEAK] = total
        si[S_RESET_PEAK] = 0
    elif total > sf[F_RUN_PEAK]:
        sf[F_RUN_PEAK] = total
    if sf[F_RUN_PEAK] - total >= p[P_KILL_DRAWDOWN] and si[S_KILLED] == 0:
        si[S_KILLED] = 1
        si[S_KILL_REASON] = R_DRAWDOWN_KILL
        sf[F_KILL_VALUE] = sf[F_RUN_PEAK] - total
        sf[F_KILL_LIMIT] = p[P_KILL_DRAWDOWN]
    # stale reference feed: pause while the feed the quotes are centred on sends no updates
    if feed_last_update > si[S_LAST_FEED_UPDATE]:
        si[S_LAST_FEED_UPDATE] = feed_last_update
    was_stale = si[S_STALE] != 0
    stale = (t - si[S_LAST_FEED_UPDATE]) >= int(p[P_STALE_TICKS])
    si[S_STALE] = 1 if stale else 0
    loss_paused_until = si[S_LOSS_PAUSED_UNTIL]
    if loss_paused_until >= 0 and t >= loss_paused_until:
        if last_loss < p[P_MAX_LOSS]:
            loss_paused_until = -1
        else:
            loss_paused_until = t + int(p[P_COOLDOWN_TICKS])
    elif loss_paused_until < 0 and last_loss >= p[P_MAX_LOSS]:
        loss_paused_until = t + int(p[P_COOLDOWN_TICKS])
    si[S_LOSS_PAUSED_UNTIL] = loss_paused_until
    state = si[S_STATE]
    new_state, reason, value, limit_v = derive_state(p, t, si, sf, inv1)
    if new_state != state:
        # Leaving a state is explained by what ended it, not by the state entered (user actions were
        # recorded when they were applied, with their own reasons).
        if state == STATE_KILLED:
            reason = R_KILL_RESET
        elif state == STATE_PAUSED and new_state != STATE_KILLED:
            if was_stale and not stale:
                reason = R_FEED_RESUMED
            else:
                reason = R_COOLDOWN_OVER
        record_risk(out_risk, counters, t, state, new_state, reason, value, limit_v)
        si[S_STATE] = new_state


@jit_inline
def quote_targets(p, t, n_ticks, f1, f2, f2_seen, inv1, inv2, sf):
    """The reference price, updated volatility and drift estimates, and the quote model's reservation price
    and half-spread (all ticks): (reference, reservation, half, sigma). With basis correction on, the
    Exchange 2 price is moved by an EWMA of the basis (feed2 - feed1) before it is used as reference."""
    dt_s = p[P_DT_S]
    ref_choice = int(p[P_REFERENCE])
    alpha = p[P_VOL_ALPHA]
    ref2 = f2_seen
    if p[P_BASIS_ALPHA] > 0:
        b = p[P_BASIS_ALPHA]
        sf[F_BASIS_EST] = (1.0 - b) * sf[F_BASIS_EST] + b * (f2 - f1)
        ref2 = f2_seen - sf[F_BASIS_EST]
    ref = f1 if ref_choice == 0 else (ref2 if ref_choice == 1 else 0.5 * (f1 + ref2))
    d_ref = ref - sf[F_PREV_REF]
    sf[F_PREV_REF] = ref
    var_est = (1.0 - alpha) * sf[F_VAR_EST] + alpha * d_ref * d_ref / dt_s
    drift_est = (1.0 - alpha) * sf[F_DRIFT_EST] + alpha * d_ref / dt_s
    sf[F_VAR_EST] = var_est
    sf[F_DRIFT_EST] = drift_est
    sigma = p[P_SIGMA0] if p[P_VOL_KNOWN] > 0 else math.sqrt(var_est)
    inv_skew = inv1 if p[P_SKEW_ON] == 0 else inv1 + inv2
    if p[P_QUOTE_MODEL] == 0:
        reservation, half = linear_quote(ref, inv_skew, sigma, drift_est, p[P_HALF_SPREAD], p[P_VOL_MULT],
                                         p[P_DRIFT_MULT], p[P_VOL_HORIZON_S], p[P_SQRT_VOL_HORIZON], p[P_SKEW])
    else:
        # T - t: the run ends at its last tick, (n_ticks - 1) * dt_s
        tau = p[P_AS_HORIZON_S] if p[P_AS_HORIZON_S] > 0 else (n_ticks - 1 - t) * dt_s
        reservation, half = avellaneda_stoikov_quote(ref, inv_skew * p[P_LOT_SIZE], sigma, p[P_AS_GAMMA],
                                                     p[P_AS_K], tau, p[P_TICK_SIZE])
        if p[P_QUOTE_MODEL] == 2:  # the paper's benchmark: the same spread, centred on the mid, no skew
            reservation = ref
    return ref, reservation, half, sigma


@jit_inline
def quote_prices_sizes(p, reservation, half, inv1, portfolio_block):
    """Bid rounded down and ask up to the tick grid, and each side's size after the soft and hard position
    limits and the sides a portfolio limit holds (``portfolio_block``: ``S_PORT_BLOCK``'s bits, 1 = bids,
    2 = asks) (lots): (bid, ask, bid size, ask size)."""
    bid_px = int(math.floor(reservation - half + 1e-9))
    ask_px = int(math.ceil(reservation + half - 1e-9))
    if ask_px <= bid_px:
        ask_px = bid_px + 1
    base_size = int(p[P_SIZE])
    soft = int(p[P_SOFT])
    hard = int(p[P_HARD])
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
    if portfolio_block != 0:
        if portfolio_block & 1:
            bid_size = 0
        if portfolio_block & 2:
            ask_size = 0
    return bid_px, ask_px, bid_size, ask_size


BIG_LOTS = 1 << 62  # a need no book meets: the depth check's sums then walk every level of the buffer


@jit_borrow
def depth_capped_sizes(p, bid_size, ask_size, room_bid, room_ask, pending, f2, counters):
    """The hedge-venue depth check: a fill on our bid is hedged by selling into Exchange 2's bids (``room_bid``
    Exchange 2 lots within the slippage buffer) after the hedges already pending, and the ask by buying its
    asks. An inverse venue's contracts count as the base they are worth at the mark ``f2``."""
    if p[P_HEDGE_INVERSE] > 0:
        room_bid = int(room_bid * p[P_CONTRACT_TL] / f2)
        room_ask = int(room_ask * p[P_CONTRACT_TL] / f2)
    room_bid -= max(0, -pending)
    room_ask -= max(0, pending)
    if bid_size > max(0, room_bid):
        bid_size = max(0, room_bid)
        counters[C_DEPTH_SHRINKS] += 1
    if ask_size > max(0, room_ask):
        ask_size = max(0, room_ask)
        counters[C_DEPTH_SHRINKS] += 1
    return bid_size, ask_size


@jit_borrow
def record_pnl(p, rec, ref, reservation, half, sigma, f1, f2, acc, pos, total):
    """The quoting inputs and the marked-to-market PnL parts of one tick record. On an inverse hedge venue the
    leg is its base (``A_E2``), and the change in value of the fees it paid in the base is in the inventory
    marked to market (and in the unrealized PnL)."""
    inv1 = pos[0]
    rec["reference"] = ref
    rec["reservation"] = reservation
    rec["half_spread"] = half
    rec["sigma"] = sigma
    leg = acc[A_E2]  # the hedge leg in base lots (the position itself on a linear venue)
    conversion = settlement_conversion(p, acc, f2)
    rec["unrealized"] = inv1 * (f1 - acc[A_AVG1]) + leg * (f2 - acc[A_AVG2]) + conversion
    rec["hedge_basis"] = leg * (f2 - f1) - (acc[A_B2M2] - acc[A_B2M1])
    rec["inventory_mtm"] = (inv1 + leg) * f1 - acc[A_B1] - acc[A_B2M1] + conversion
    rec["total_pnl"] = total


@jit_borrow
def keep_position(acc, pos, kept_acc, kept_pos, j):
    """Copy the account and positions into row ``j`` of ``kept_acc`` / ``kept_pos``: what a portfolio's risk check
    reads of an asset at a tick the asset has run past (``kernels.portfolio.run_portfolio_block_ticks``)."""
    for q in range(acc.shape[0]):
        kept_acc[j, q] = acc[q]
    for q in range(pos.shape[0]):
        kept_pos[j, q] = pos[q]


@jit_inline
def record_account(t, acc, pos, pending, si, sf, counters, out_account):
    """One account row when cash, fees, realized PnL, attribution sums, positions, the pending hedge, the
    risk state or the manual pause changed since the last row (always one at the first tick).

    The money and the positions change only when a fill is booked (``book_fill_exchange1``: position, cash,
    fees, spread capture, realized PnL, a hedge intent) or a hedge attempt (``hedge_settle``: the hedge leg, its
    cash, fees and costs, the working hedge), and both set ``acc[A_MOVED]``; hedge intents reaching Exchange 2 move
    lots within the pending hedge. So while that flag is clear and the state and manual pause are as last written,
    nothing else is compared (most ticks: a dozen comparisons fewer)."""
    n_acct = si[S_ACCT_ROWS]
    if n_acct > 0 and acc[A_MOVED] == 0.0 and si[S_STATE] == si[S_A_STATE] and si[S_MANUAL_PAUSE] == si[S_A_MANUAL]:
        return
    acc[A_MOVED] = 0.0
    realized = acc[A_REAL1] + acc[A_REAL2]
    manual = si[S_MANUAL_PAUSE]
    if (n_acct == 0 or pos[0] != si[S_A_INV1] or pos[1] != si[S_A_INV2] or pending != si[S_A_PENDING]
            or si[S_STATE] != si[S_A_STATE] or manual != si[S_A_MANUAL] or acc[A_CASH1] != sf[F_A_CASH1]
            or acc[A_CASH2] != sf[F_A_CASH2] or acc[A_FEES1] != sf[F_A_FEES1] or acc[A_FEES2] != sf[F_A_FEES2]
            or realized != sf[F_A_REAL] or acc[A_SPREAD] != sf[F_A_SPREAD] or acc[A_SLIP] != sf[F_A_SLIP]
            or acc[A_LAT] != sf[F_A_LAT]):
        sf[F_A_CASH1], sf[F_A_CASH2], sf[F_A_FEES1], sf[F_A_FEES2] = acc[A_CASH1], acc[A_CASH2], acc[A_FEES1], \
            acc[A_FEES2]
        sf[F_A_REAL], sf[F_A_SPREAD], sf[F_A_SLIP], sf[F_A_LAT] = realized, acc[A_SPREAD], acc[A_SLIP], acc[A_LAT]
        si[S_A_INV1], si[S_A_INV2], si[S_A_PENDING], si[S_A_STATE], si[S_A_MANUAL] = pos[0], pos[1], pending, \
            si[S_STATE], manual
        if n_acct < out_account.shape[0]:
            row = out_account[n_acct]
            row["tick"] = t
            row["cash1"] = acc[A_CASH1]
            row["cash2"] = acc[A_CASH2]
            row["fees1"] = acc[A_FEES1]
            row["fees2"] = acc[A_FEES2]
            row["realized"] = realized
            row["spread_capture"] = acc[A_SPREAD]
            row["hedge_slippage"] = acc[A_SLIP]
            row["hedge_latency"] = acc[A_LAT]
            row["inv1"] = pos[0]
            row["inv2"] = pos[1]
            row["hedge_base2"] = acc[A_E2]
            row["fee_base2"] = acc[A_FEE_BASE2]
            row["pending_hedge"] = pending
            row["state"] = si[S_STATE]
            row["manual_pause"] = manual
        else:
            counters[C_OVERFLOW] = 1
        n_acct += 1
        si[S_ACCT_ROWS] = n_acct
        counters[C_ACCOUNT] = n_acct
