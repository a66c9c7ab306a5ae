"""The tick loop on a recorded market: both venues' L2 books rebuilt from the recording, our Exchange 1
quotes held beside the recorded book with a queue position, hedges walking the recorded Exchange 2 book.

A tick is ``dt_s`` of recorded time (1 ms in the replay preset); the events a venue's recorder received in
that interval (``recv_ts``) are applied in order at that tick. The strategy's steps (interventions, hedge
queue, risk, quote targets, records) are ``kernels.strategy``'s, the same as on the synthetic market; what is
here is only how the recorded market evolves and how our orders meet it.

Assumptions (stated in the README):
* Our quotes have no market impact: the recorded book and trades are what they were without us.
* Queue position: an order that lands at price p is behind the visible quantity at p. Recorded trades at p
  eat the queue ahead of us, then us (partial fills); a trade through p, or the opposite touch moving to p
  or through it, fills all we have left at p. Decreases of the level that trades do not explain are
  cancels; ``P_QUEUE_MODEL`` says how much of them was ahead of us: risk_averse (none) or probabilistic
  (Rigtorp 2013, "Estimating order queue position": the share ahead is f(front) / (f(front) + f(back)),
  f(x) = x^n, as hftbacktest's ProbQueueModel with a power function).
* Hedges take liquidity from the recorded Exchange 2 book at the moment they arrive, walking its levels up
  to the limit; what a hedge took at a level is not available to the next hedge until the recording updates
  that level.
* Exchange-side matching happens in receive-time order: the recorded feed latency is not added to the
  configured order latency, which models the whole way to the venue and back.
"""

import numpy as np

from kernels._jit import jit_borrow, jit_inline
from kernels.params import *  # noqa: F401,F403  (P_* indices)
from kernels.records import (
    H_NO_LIQUIDITY, H_REJECTED, LIQ_MAKER, ME_BBO_ASK, ME_BBO_BID, ME_BOOK, ME_BOOK_CLEAR,
    ME_TRADE, OA_CANCEL,
    OA_CANCEL_SENT, OA_FILLED, OA_NEW, OR_KILL, OR_QUOTE, OR_REQUOTE, OR_RISK, STATE_ACTIVE, STATE_KILLED,
    STATE_PAUSED,
)
from kernels.strategy import *  # noqa: F401,F403  (the shared steps and the state indices)
from kernels.strategy import (
    book_fill_exchange1, depth_capped_sizes, hedge_arrivals, hedge_limit, hedge_order, hedge_settle, hedge_status,
    initial_sf, hedge_leg_lots, hold_reason, interventions_due, pending_hedge, quote_prices_sizes, quote_targets,
    keep_position, record_account, record_order, record_pnl, step_interventions, step_risk, total_pnl,
)

# An L2 book: a header, then the bid quantities and the ask quantities of every price level of the window
# (lots, index = price - base), then per side the number of levels with lots in each block of LB_BLOCK levels;
# the Exchange 2 book also keeps what our hedges took per level (``taken2``, beside it).
LB_BEST_BID = 0  # level index, -1 = empty
LB_BEST_ASK = 1  # level index, n = empty
LB_BASE = 2  # price of level 0, ticks
LB_N = 3  # levels per side
LB_HEADER = 4
# When the best level empties, the next one is searched a block at a time past empty blocks: a recording's book
# can be sparse away from the touch (the printed day's spot book: some 200 empty levels between two with lots),
# and a level-by-level search was 14% of the replay loop's samples on it.
LB_BLOCK_BITS = 6
LB_BLOCK = 1 << LB_BLOCK_BITS


def book_blocks(n):
    """Blocks of LB_BLOCK levels covering ``n`` levels (the last one may be partial)."""
    return (n + LB_BLOCK - 1) >> LB_BLOCK_BITS

# our orders on Exchange 1: two sides (0 bid, 1 ask), and orders whose cancel is in flight ("zombies")
# q_i[side]: [state (-1 none, -2 in flight, 0 resting), id, price, placed lots, lots left, landing tick]
Q_STATE = 0
Q_ID = 1
Q_PRICE = 2
Q_SIZE = 3
Q_LEFT = 4
Q_DUE = 5  # in flight: when it reaches Exchange 1, ns after the run's start
Q_KNOWN = 6  # when the strategy hears of the side's latest change (landing, reject, fill), ns after the start
N_QI = 7
# q_f[side]: [lots ahead of us, lots traded at our price since the level last changed]
QF_FRONT = 0
QF_TRADED = 1
ZOMBIES = 64
# z_i[k]: [id, side +1/-1, price, lots left, cancel landing tick, reason]; z_f[k]: front, traded
ZI_ID = 0
ZI_SIDE = 1
ZI_PRICE = 2
ZI_LEFT = 3
ZI_DUE = 4  # when the cancel reaches Exchange 1, ns after the run's start
ZI_REASON = 5
N_ZI = 6

STATE_FIELDS = ("l1", "l2", "taken2", "acc", "pos", "q_i", "q_f", "z_i", "z_f", "zn", "in_due", "in_qty", "in_m1",
                "in_m2", "in_first", "w", "hq_i", "hq_f", "dq_tick", "dq_val", "si", "sf", "bbo", "qview", "rk",
                "counters")
# fills reported to the strategy after the response latency: [when it hears of it (ns after the start), signed
# lots]; more unreported fills than this at once (never on the shipped recordings) are reported early, counted
RESPONSE_RING = 4096


def new_book(base, n):
    """An empty L2 book of ``n`` levels a side from ``base`` ticks (the layout above)."""
    b = np.zeros(LB_HEADER + 2 * n + 2 * book_blocks(n), dtype=np.int64)
    b[LB_BEST_BID] = -1
    b[LB_BEST_ASK] = n
    b[LB_BASE] = base
    b[LB_N] = n
    return b


def new_state(p, feed1, feed2, base1, n1, base2, n2, intent_capacity):
    """The loop state before the first tick, as a tuple in ``STATE_FIELDS`` order (see kernels.tick.new_state)."""
    q_i = np.zeros((2, N_QI), dtype=np.int64)
    q_i[:, Q_STATE] = -1
    si = np.zeros(N_SI, dtype=np.int64)
    si[S_STATE] = STATE_ACTIVE
    si[S_LOSS_PAUSED_UNTIL] = -1
    si[S_ROOM_STALE] = 1
    si[S_NEXT_LANDING] = NEVER_NS
    dq_cap = int(p[P_LOSS_WINDOW_TICKS]) // int(p[P_LOSS_BUCKET_TICKS]) + 3
    return (
        new_book(base1, n1), new_book(base2, n2), np.zeros(2 * n2, dtype=np.int64),
        np.zeros(N_ACC, dtype=np.float64), np.zeros(2, dtype=np.int64), q_i, np.zeros((2, 2), dtype=np.float64),
        np.zeros((ZOMBIES, N_ZI), dtype=np.int64), np.zeros((ZOMBIES, 2), dtype=np.float64),
        np.zeros(2, dtype=np.int64),  # zombies in use, next order id
        np.zeros(intent_capacity, dtype=np.int64), np.zeros(intent_capacity, dtype=np.int64),
        np.zeros(intent_capacity, dtype=np.float64), np.zeros(intent_capacity, dtype=np.float64),
        np.zeros(intent_capacity, dtype=np.int64),
        np.zeros(N_W, dtype=np.int64),
        np.zeros((intent_capacity, 2), dtype=np.int64), np.zeros((intent_capacity, 2), dtype=np.float64),
        np.zeros(dq_cap, dtype=np.int64), np.zeros(dq_cap, dtype=np.float64),
        si, initial_sf(p, feed1[0], feed2[0]),
        np.full(4, -1, dtype=np.int64),  # each venue's last book-ticker bid and ask, ticks (-1 = none yet)
        np.zeros(8, dtype=np.int64),  # scratch: our quotes laid out as the shared intervention step reads them
        np.zeros((RESPONSE_RING, 2), dtype=np.int64),
        np.zeros(N_COUNTERS, dtype=np.int64),  # last: the engine reads the counts from state[-1]
    )


# -- the L2 book -----------------------------------------------------------------------------------------
@jit_borrow
def level_qty(b, side, price):
    """Lots resting at ``price`` on ``side`` (0 bid, 1 ask); 0 outside the window."""
    i = price - b[LB_BASE]
    n = b[LB_N]
    if i < 0 or i >= n:
        return 0
    return b[LB_HEADER + side * n + i]


@jit_borrow
def best_price(b, side):
    """Best bid (side 0) or ask (side 1) price in ticks, -1 when that side is empty."""
    if side == 0:
        return b[LB_BEST_BID] + b[LB_BASE] if b[LB_BEST_BID] >= 0 else -1
    return b[LB_BEST_ASK] + b[LB_BASE] if b[LB_BEST_ASK] < b[LB_N] else -1


@jit_inline
def _occupied(b, side, n, i, was, now):
    """Keep the count of levels with lots in level ``i``'s block as its quantity goes from ``was`` to ``now``."""
    b[np.uint64(LB_HEADER + 2 * n + side * ((n + LB_BLOCK - 1) >> LB_BLOCK_BITS) + (i >> LB_BLOCK_BITS))] += \
        int(now != 0) - int(was != 0)


@jit_inline
def _next_with_lots(b, side, n, j):
    """The first level with lots from ``j`` on, away from the spread (down for bids, up for asks): -1 or ``n``
    when there is none. Level by level to the end of ``j``'s block, then a block at a time past empty ones."""
    row = LB_HEADER + side * n
    counts = LB_HEADER + 2 * n + side * ((n + LB_BLOCK - 1) >> LB_BLOCK_BITS)
    mask = LB_BLOCK - 1
    if side == 0:
        while j >= 0 and b[row + j] == 0:
            if j & mask == 0:  # the first level of its block: look below it a block at a time
                j -= 1
                while j >= 0 and b[counts + (j >> LB_BLOCK_BITS)] == 0:
                    j = ((j >> LB_BLOCK_BITS) << LB_BLOCK_BITS) - 1
            else:
                j -= 1
        return j
    while j < n and b[row + j] == 0:
        if j & mask == mask:  # the last level of its block: look above it a block at a time
            j += 1
            while j < n and b[counts + (j >> LB_BLOCK_BITS)] == 0:
                j += LB_BLOCK
        else:
            j += 1
    return min(j, n)


@jit_inline
def set_level(b, side, price, qty):
    """Set a level's quantity (lots) and keep the best prices; returns the previous quantity. Levels outside
    the window are ignored (returns -1)."""
    n = b[LB_N]
    i = price - b[LB_BASE]
    if i < 0 or i >= n:
        return -1
    at = np.uint64(LB_HEADER + side * n + i)  # in the window: unsigned, no negative-index wraparound (kernels._jit)
    old = b[at]
    b[at] = qty
    _occupied(b, side, n, i, old, qty)
    if side == 0:
        if qty > 0 and i > b[LB_BEST_BID]:
            b[LB_BEST_BID] = i
        elif qty == 0 and i == b[LB_BEST_BID]:
            b[LB_BEST_BID] = _next_with_lots(b, 0, n, i - 1)
    else:
        if qty > 0 and i < b[LB_BEST_ASK]:
            b[LB_BEST_ASK] = i
        elif qty == 0 and i == b[LB_BEST_ASK]:
            b[LB_BEST_ASK] = _next_with_lots(b, 1, n, i + 1)
    return old


@jit_borrow
def stale_level(bbo, off, side, price, qty):
    """Whether a depth update puts quantity at a price better than the venue's latest book ticker: a depth
    batch that lags the ticker (spot depth comes every 100 ms, and even the perpetual's depth stream falls
    tens of ms behind its ticker in fast moves) describes levels the market has already traded or pulled."""
    if qty <= 0:
        return False
    if side == 0:
        return bbo[off] > 0 and price > bbo[off]
    return bbo[off + 1] > 0 and price < bbo[off + 1]


@jit_borrow
def better_than_touch(b, side, price):
    """The best level on ``side`` that is better than ``price`` (ticks), or -1: what a book-ticker update at
    ``price`` says is gone."""
    best = best_price(b, side)
    if best < 0:
        return -1
    if (side == 0 and best > price) or (side == 1 and best < price):
        return best
    return -1


@jit_borrow
def clear_book(b):
    n = b[LB_N]
    for k in range(LB_HEADER, b.shape[0]):  # the levels and the blocks' counts
        b[k] = 0
    b[LB_BEST_BID] = -1
    b[LB_BEST_ASK] = n


@jit_borrow
def available_within(b, taken, side, levels, enough):
    """Lots a hedge could take on ``side`` within ``levels`` ticks of its best price (what earlier hedges took
    at a level not counted until the recording updates it), the walk stopping once they reach ``enough``: a
    result of ``enough`` or more may be short of the whole (the depth check only asks whether a quote's lots
    fit, and the touch level alone usually holds them: the walk over every level was 12% of the replay)."""
    n = b[LB_N]
    row = LB_HEADER + side * n
    total = 0
    if side == 0:
        i = b[LB_BEST_BID]
        stop = i - levels
        while i >= 0 and i >= stop and total < enough:
            total += max(0, b[row + i] - taken[side * n + i])
            i -= 1
    else:
        i = b[LB_BEST_ASK]
        stop = i + levels
        while i < n and i <= stop and total < enough:
            total += max(0, b[row + i] - taken[side * n + i])
            i += 1
    return total


@jit_borrow
def take_liquidity(b, taken, side, limit, want):
    """A hedge taking up to ``want`` lots from ``side`` (1 = buy from the asks) at prices up to ``limit``
    (ticks): returns (lots filled, notional in tick-lots, the sum of lots / price: an inverse contract's base
    amount in contracts per tick)."""
    n = b[LB_N]
    book_side = 1 if side > 0 else 0
    row = LB_HEADER + book_side * n
    filled = 0
    notional = 0
    per_price = 0.0
    if side > 0:
        i = b[LB_BEST_ASK]
        while i < n and filled < want and i + b[LB_BASE] <= limit:
            avail = b[row + i] - taken[book_side * n + i]
            if avail > 0:
                q = min(avail, want - filled)
                taken[book_side * n + i] += q
                filled += q
                notional += q * (i + b[LB_BASE])
                per_price += q / (i + b[LB_BASE])
            i += 1
    else:
        i = b[LB_BEST_BID]
        while i >= 0 and filled < want and i + b[LB_BASE] >= limit:
            avail = b[row + i] - taken[book_side * n + i]
            if avail > 0:
                q = min(avail, want - filled)
                taken[book_side * n + i] += q
                filled += q
                notional += q * (i + b[LB_BASE])
                per_price += q / (i + b[LB_BASE])
            i -= 1
    return filled, notional, per_price


# -- the queue model -------------------------------------------------------------------------------------
@jit_borrow
def queue_on_level_change(p, front, traded, old_qty, new_qty):
    """Lots ahead of us after the level holding our order went from ``old_qty`` to ``new_qty`` lots, with
    ``traded`` lots traded there since its last change (already taken off ``front``). Returns the new front."""
    change = old_qty - new_qty - traded  # the decrease that trades do not explain: cancels
    if change <= 0:
        return min(front, new_qty)
    if p[P_QUEUE_MODEL] == 0:  # risk averse: no cancel was ahead of us
        return min(front, new_qty)
    back = max(0.0, old_qty - front)
    n = p[P_QUEUE_POWER]
    fb = back ** n
    ff = max(front, 0.0) ** n
    prob_behind = fb / (fb + ff) if fb + ff > 0 else 1.0
    est = front - (1.0 - prob_behind) * change + min(0.0, back - prob_behind * change)
    return min(est, new_qty)


# -- our orders ------------------------------------------------------------------------------------------
@jit_borrow
def fresh_touch(l1, bbo, side):
    """Exchange 1's best bid (side 0) or ask (1) as freshly as the recording knows it: its book-ticker stream
    when it has one (spot depth comes in 100 ms batches, the book ticker with every change), else the L2
    book. -1 = unknown."""
    if bbo[side] > 0:
        return bbo[side]
    return best_price(l1, side)


@jit_borrow
def _fill_ours(p, acc, pos, counters, out_fills, out_orders, t, oid, side, price, qty, f1, f2, lat, in_due,
               in_qty, in_m1, in_m2, in_first, si, race, now_ns, rk):
    """A fill of ours at ``now_ns`` (ns after the run's start). With a response latency the strategy hears of
    it that much later: its hedge leaves then, and the quotes' inventory leaves it out until then."""
    if race:
        counters[C_RACE_FILLS] += 1
    response_ns = int(p[P_RESPONSE_NS])
    if response_ns > 0:
        lat = lat + response_ns * 1e-6
        cap = rk.shape[0]
        if si[S_RK_LEN] == cap:  # full: the oldest report arrives early (counted)
            si[S_UNKNOWN_LOTS] -= rk[si[S_RK_HEAD], 1]
            si[S_RK_HEAD] = (si[S_RK_HEAD] + 1) % cap
            si[S_RK_LEN] -= 1
            counters[C_RESPONSE_EARLY] += 1
        slot = (si[S_RK_HEAD] + si[S_RK_LEN]) % cap
        rk[slot, 0] = now_ns + response_ns
        rk[slot, 1] = side * qty
        si[S_RK_LEN] += 1
        si[S_UNKNOWN_LOTS] += side * qty
    si[S_N_IN] = book_fill_exchange1(p, acc, pos, counters, out_fills, t, oid, side, price, qty, LIQ_MAKER, f1, f2,
                                     lat, in_due, in_qty, in_m1, in_m2, in_first, si[S_N_IN])


@jit_borrow
def _reports_until(si, rk, now_ns):
    """Fill reports that have reached the strategy by ``now_ns`` (ns after the start) leave the ring."""
    cap = rk.shape[0]
    while si[S_RK_LEN] > 0 and rk[si[S_RK_HEAD], 0] <= now_ns:
        si[S_UNKNOWN_LOTS] -= rk[si[S_RK_HEAD], 1]
        si[S_RK_HEAD] = (si[S_RK_HEAD] + 1) % cap
        si[S_RK_LEN] -= 1


@jit_inline
def _meet_event(p, kind, ev_side, price, qty, old_qty, l1, bbo, q_i, q_f, z_i, z_f, zn, acc, pos, counters, out_fills,
                out_orders, t, f1, f2, lat, in_due, in_qty, in_m1, in_m2, in_first, si, now_ns, rk):
    """One recorded Exchange 1 event, received at ``now_ns`` (ns after the start), against our resting orders
    (quotes and orders whose cancel travels)."""
    n_orders = 2 + zn[0]
    for k in range(n_orders):
        if k < 2:
            if q_i[k, Q_STATE] != 0:
                continue
            oside = 1 if k == 0 else -1
            oprice = q_i[k, Q_PRICE]
            left = q_i[k, Q_LEFT]
            front = q_f[k, QF_FRONT]
            traded = q_f[k, QF_TRADED]
        else:
            z = k - 2
            oside = z_i[z, ZI_SIDE]
            oprice = z_i[z, ZI_PRICE]
            left = z_i[z, ZI_LEFT]
            front = z_f[z, QF_FRONT]
            traded = z_f[z, QF_TRADED]
        if left <= 0:
            continue
        book_side = 0 if oside > 0 else 1
        fill = 0
        if kind == ME_TRADE:
            # a buyer-initiated trade (ev_side 0) takes asks; a seller-initiated one takes bids
            if (ev_side == 0 and oside < 0) or (ev_side == 1 and oside > 0):
                through = price > oprice if oside < 0 else price < oprice
                if through:
                    fill = left
                elif price == oprice:
                    front -= qty
                    traded += qty
                    if front < 0:
                        fill = min(left, int(-front)) if p[P_PARTIAL_FILLS] > 0 else left
                        front = 0.0
        else:
            if kind == ME_BOOK and ev_side == book_side and price == oprice:
                front = queue_on_level_change(p, front, traded, old_qty, qty)
                traded = 0.0
            # the opposite touch at or through our price: a resting order there would have traded with us
            opp = fresh_touch(l1, bbo, 1 - book_side)
            if opp >= 0 and ((oside > 0 and opp <= oprice) or (oside < 0 and opp >= oprice)):
                fill = left
        if fill > 0:
            left -= fill
            oid = q_i[k, Q_ID] if k < 2 else z_i[k - 2, ZI_ID]
            _fill_ours(p, acc, pos, counters, out_fills, out_orders, t, oid, oside, oprice, fill, f1, f2, lat,
                       in_due, in_qty, in_m1, in_m2, in_first, si, k >= 2, now_ns, rk)
            if k < 2:
                q_i[k, Q_KNOWN] = now_ns + int(p[P_RESPONSE_NS])
            if left == 0:
                record_order(out_orders, counters, oid, t, OA_FILLED, oside, oprice, 0,
                             OR_QUOTE if k < 2 else z_i[k - 2, ZI_REASON])
        if k < 2:
            q_i[k, Q_LEFT] = left
            q_f[k, QF_FRONT] = front
            q_f[k, QF_TRADED] = traded
            if left == 0:
                q_i[k, Q_STATE] = -1
        else:
            z = k - 2
            z_i[z, ZI_LEFT] = left
            z_f[z, QF_FRONT] = front
            z_f[z, QF_TRADED] = traded


@jit_borrow
def _drop_done_zombies(z_i, z_f, zn):
    k = 0
    while k < zn[0]:
        if z_i[k, ZI_LEFT] <= 0:
            last = zn[0] - 1
            for f in range(N_ZI):
                z_i[k, f] = z_i[last, f]
            z_f[k, 0] = z_f[last, 0]
            z_f[k, 1] = z_f[last, 1]
            zn[0] = last
        else:
            k += 1


@jit_borrow
def _room(z_i, zn, side, inv1, hard):
    """Lots a new order on ``side`` (+1 bid, -1 ask) may hold so that the hard position limit ``hard`` holds
    even if it and our other live orders on that side (those whose cancel is in flight) all fill."""
    live = 0
    for z in range(zn[0]):
        if z_i[z, ZI_SIDE] == side:
            live += z_i[z, ZI_LEFT]
    return hard - side * inv1 - live


@jit_borrow
def _rest(l1, bbo, q_i, q_f, k, t, out_orders, counters, hold, room, known_ns):
    """Our order on side ``k`` lands: behind the visible quantity at its price; rejected if it would cross the
    recorded book (post-only); trimmed to ``room`` lots (the hard position limit as the position is when it
    lands: see ``_room``), dropped when none is left; cancelled on arrival while quoting is held (``hold`` >= 0,
    the order reason: the kill switch or a pause). The strategy hears how it went at ``known_ns``."""
    q_i[k, Q_KNOWN] = known_ns
    oside = 1 if k == 0 else -1
    price = q_i[k, Q_PRICE]
    opp = fresh_touch(l1, bbo, 1 - k)
    if opp >= 0 and ((oside > 0 and price >= opp) or (oside < 0 and price <= opp)):
        q_i[k, Q_STATE] = -1
        return
    if q_i[k, Q_SIZE] > room:
        q_i[k, Q_SIZE] = room
    if q_i[k, Q_SIZE] <= 0:
        q_i[k, Q_STATE] = -1
        return
    oid = q_i[k, Q_ID]
    record_order(out_orders, counters, oid, t, OA_NEW, oside, price, q_i[k, Q_SIZE], OR_QUOTE)
    if hold >= 0:
        record_order(out_orders, counters, oid, t, OA_CANCEL, oside, price, q_i[k, Q_SIZE], hold)
        q_i[k, Q_STATE] = -1
        return
    q_i[k, Q_STATE] = 0
    q_i[k, Q_LEFT] = q_i[k, Q_SIZE]
    q_f[k, QF_FRONT] = float(level_qty(l1, k, price))
    q_f[k, QF_TRADED] = 0.0


@jit_borrow
def _cancel(q_i, q_f, z_i, z_f, zn, k, t, reason, land_ns, out_orders, counters):
    """Cancel our order on side ``k``: at once (``land_ns`` < 0), or it keeps its place and can trade until the
    cancel reaches the venue at ``land_ns`` (ns after the run's start). An order still travelling cannot be
    cancelled before it lands."""
    if q_i[k, Q_STATE] != 0:
        return
    oside = 1 if k == 0 else -1
    if land_ns < 0 or zn[0] >= z_i.shape[0]:
        record_order(out_orders, counters, q_i[k, Q_ID], t, OA_CANCEL, oside, q_i[k, Q_PRICE], q_i[k, Q_LEFT],
                     reason)
    else:
        z = zn[0]
        z_i[z, ZI_ID] = q_i[k, Q_ID]
        z_i[z, ZI_SIDE] = oside
        z_i[z, ZI_PRICE] = q_i[k, Q_PRICE]
        z_i[z, ZI_LEFT] = q_i[k, Q_LEFT]
        z_i[z, ZI_DUE] = land_ns
        z_i[z, ZI_REASON] = reason
        z_f[z, QF_FRONT] = q_f[k, QF_FRONT]
        z_f[z, QF_TRADED] = q_f[k, QF_TRADED]
        zn[0] = z + 1
        record_order(out_orders, counters, q_i[k, Q_ID], t, OA_CANCEL_SENT, oside, q_i[k, Q_PRICE], q_i[k, Q_LEFT],
                     reason)
    q_i[k, Q_STATE] = -1


@jit_borrow
def _pull_all_now(q_i, q_f, z_i, z_f, zn, t, out_orders, counters, reason):
    """The kill switch's (or a manual pause's) cancel-all, taking effect at once (see kernels.tick._pull_all_now)."""
    _cancel(q_i, q_f, z_i, z_f, zn, 0, t, reason, -1, out_orders, counters)
    _cancel(q_i, q_f, z_i, z_f, zn, 1, t, reason, -1, out_orders, counters)
    for z in range(zn[0]):
        if z_i[z, ZI_LEFT] > 0:
            record_order(out_orders, counters, z_i[z, ZI_ID], t, OA_CANCEL, z_i[z, ZI_SIDE], z_i[z, ZI_PRICE],
                         z_i[z, ZI_LEFT], reason)
    zn[0] = 0


@jit_inline
def _set_quote(q_i, q_f, z_i, z_f, zn, k, price, size, tol, t, land_ns, l1, bbo, out_orders, counters, inv1, hard,
               now_ns, response_ns):
    """Keep, replace or place our quote on side ``k`` (see kernels.tick._set_quote): a resting order is kept,
    with its queue place, while within ``tol`` ticks of the target and holding half to all of its size. The
    strategy decides at ``now_ns`` (ns after the start); a side whose latest news (landing, reject, fill) has
    not reached it yet waits."""
    if q_i[k, Q_KNOWN] > now_ns:
        return
    if size <= 0:
        _cancel(q_i, q_f, z_i, z_f, zn, k, t, OR_RISK, land_ns, out_orders, counters)
        return
    if q_i[k, Q_STATE] == -2:
        return  # an order is travelling on this side: wait until it lands
    if q_i[k, Q_STATE] == 0:
        left = q_i[k, Q_LEFT]
        if abs(q_i[k, Q_PRICE] - price) <= tol and 2 * left >= size and left <= size:
            return
        _cancel(q_i, q_f, z_i, z_f, zn, k, t, OR_REQUOTE, land_ns, out_orders, counters)
    oid = zn[1] + 1  # zn = [zombies in use, last order id]
    zn[1] = oid
    q_i[k, Q_ID] = oid
    q_i[k, Q_PRICE] = price
    q_i[k, Q_SIZE] = size
    q_i[k, Q_LEFT] = 0
    if land_ns >= 0:
        q_i[k, Q_STATE] = -2
        q_i[k, Q_DUE] = land_ns
        return
    _rest(l1, bbo, q_i, q_f, k, t, out_orders, counters, -1, _room(z_i, zn, 1 if k == 0 else -1, inv1, hard),
          now_ns + response_ns)


NEVER_NS = 2**62


@jit_borrow
def _next_landing(q_i, z_i, zn):
    """The earliest time an order or cancel of ours in flight reaches Exchange 1 (ns after the run's start)."""
    nxt = NEVER_NS
    for k in range(2):
        if q_i[k, Q_STATE] == -2 and q_i[k, Q_DUE] < nxt:
            nxt = q_i[k, Q_DUE]
    for z in range(zn[0]):
        if z_i[z, ZI_LEFT] > 0 and z_i[z, ZI_DUE] < nxt:
            nxt = z_i[z, ZI_DUE]
    return nxt


@jit_borrow
def _land_due(p, now_ns, l1, bbo, q_i, q_f, z_i, z_f, zn, t, out_orders, counters, si, pos):
    """Our cancels and orders in flight that have reached Exchange 1 by ``now_ns`` (ns after the run's start)
    take effect: cancels first, then orders land (see ``_rest``)."""
    for z in range(zn[0]):
        if z_i[z, ZI_DUE] <= now_ns and z_i[z, ZI_LEFT] > 0:
            record_order(out_orders, counters, z_i[z, ZI_ID], t, OA_CANCEL, z_i[z, ZI_SIDE], z_i[z, ZI_PRICE],
                         z_i[z, ZI_LEFT], z_i[z, ZI_REASON])
            z_i[z, ZI_LEFT] = 0
    _drop_done_zombies(z_i, z_f, zn)
    for k in range(2):
        if q_i[k, Q_STATE] == -2 and q_i[k, Q_DUE] <= now_ns:
            _rest(l1, bbo, q_i, q_f, k, t, out_orders, counters, hold_reason(si),
                  _room(z_i, zn, 1 if k == 0 else -1, pos[0], int(p[P_HARD])), q_i[k, Q_DUE] + int(p[P_RESPONSE_NS]))
    si[S_NEXT_LANDING] = _next_landing(q_i, z_i, zn)


@jit_borrow
def run_replay(p, feed1, feed2, ev1_start, events1, ev2_start, events2, hedge_latency_ms, hedge_reject,
               interventions, order_latency_ms, ref_last_update, view_touch1, start_ns, t_off, t_begin, t_end,
               keep_at, kept_acc, kept_pos,
               out_ticks, out_fills, out_hedges, out_orders, out_risk, out_account,
               l1, l2, taken2, acc, pos, q_i, q_f, z_i, z_f, zn, in_due, in_qty, in_m1, in_m2, in_first, w, hq_i, hq_f,
               dq_tick, dq_val, si, sf, bbo, qview, rk, counters):
    """Advance a recorded market's replay over ticks ``t_begin .. t_end - 1`` (the contract of
    ``kernels.tick.run_ticks``: state in place, records out, ``counters`` = rows so far). ``events1`` /
    ``events2`` are ``market_event_dt`` rows in the run's common ticks and lots; those of tick t are
    ``events[start[t]:start[t + 1]]``. ``feed1`` / ``feed2`` are each venue's mid at the end of every tick;
    ``ref_last_update[t]`` the latest tick at or before ``t`` at which every feed the quotes' reference is made
    of had received an event (for the stale-feed pause). ``view_touch1`` (n_ticks x 2: best bid, ask, ticks)
    is Exchange 1's touch as the strategy sees it at the end of each tick when that differs from the book the
    orders meet (``replay.clock`` 'split': matching on the venue's clock, the feed seen when received); with
    0 rows the strategy sees the matching book's touch.

    Order entry: an order or cancel sent at the end of tick ``t`` travels ``order_latency_ms[t]`` and acts on
    the venue's events received from that moment on, whatever the tick size: the recording's own receive times
    (``recv_ts``, with ``start_ns`` the run's tick 0) decide, not the tick grid. A latency of 0 acts at once.
    The kill switch's and a manual pause's cancel-all act at once (a venue-side cancel-all).

    Chunks: the per-tick inputs (feeds, event starts, latencies, rejections, ``ref_last_update``,
    ``view_touch1``) may hold only the ticks from ``t_off`` on (row ``t - t_off`` is tick ``t``), so a long
    recording is replayed chunk after chunk with the state carried over; ``t`` itself, and everything the
    records and the state hold, stays the run's tick. ``out_ticks`` gets one row per ``P_RECORD_EVERY`` ticks
    (row ``t // every`` for the last tick of each interval, and for the run's last tick). ``keep_at``, ``kept_acc``,
    ``kept_pos``: as in ``run_ticks``."""
    n_ticks = int(p[P_N_TICKS])
    every = int(p[P_RECORD_EVERY])
    last_tick = n_ticks - 1
    dt_ns = int(p[P_DT_S] * 1e9 + 0.5)
    decision_ticks = int(p[P_DECISION_TICKS])
    response_ns = int(p[P_RESPONSE_NS])
    tol = int(p[P_REQUOTE_TOL])
    n_iv = interventions.shape[0]
    iv = 0
    while iv < n_iv and interventions[iv]["tick"] < t_begin:
        iv += 1
    n_keep = keep_at.shape[0]
    j_keep = 0
    n1 = l1[LB_N]
    for t in range(t_begin, t_end):
        r = t - t_off  # the tick's row in this chunk's inputs
        f1 = feed1[r]
        f2 = feed2[r]
        lat = hedge_latency_ms[r]
        fills_before = counters[C_FILLS]

        # 1. interventions
        if interventions_due(interventions, iv, t):
            for k in range(2):  # our quotes as the shared step reads them (slot >= 0 = resting, price)
                qview[4 * k] = 0 if q_i[k, Q_STATE] == 0 else -1
                qview[4 * k + 2] = q_i[k, Q_PRICE]
            iv = step_interventions(p, t, interventions, iv, si, sf, acc, pos, qview, fresh_touch(l1, bbo, 0),
                                    fresh_touch(l1, bbo, 1), int(round(f1)), True, f1, f2, lat, in_due, in_qty, in_m1,
                                    in_m2, in_first, counters, out_fills, out_risk)
            # a kill or a manual pause pulls our orders at once, before this tick's recording can meet them
            if si[S_KILLED] != 0:
                _pull_all_now(q_i, q_f, z_i, z_f, zn, t, out_orders, counters, OR_KILL)
            elif si[S_MANUAL_PAUSE] != 0:
                _pull_all_now(q_i, q_f, z_i, z_f, zn, t, out_orders, counters, OR_RISK)

        # 2. Exchange 2: the recording's book updates (our hedges' takings are forgotten where it updates)
        n2 = l2[LB_N]
        if ev2_start[r + 1] > ev2_start[r]:
            si[S_ROOM_STALE] = 1
        for e in range(ev2_start[r], ev2_start[r + 1]):
            ev = events2[np.uint64(e)]
            kind = ev["kind"]
            side = ev["side"]
            if kind == ME_BOOK:
                qty = 0 if stale_level(bbo, 2, side, ev["price"], ev["qty"]) else ev["qty"]
                if set_level(l2, side, ev["price"], qty) >= 0:
                    taken2[np.uint64(side * n2 + ev["price"] - l2[LB_BASE])] = 0
            elif kind == ME_BBO_BID or kind == ME_BBO_ASK:
                bbo[2 + side] = ev["price"]
                gone = better_than_touch(l2, side, ev["price"])
                while gone >= 0:
                    set_level(l2, side, gone, 0)
                    taken2[side * n2 + gone - l2[LB_BASE]] = 0
                    gone = better_than_touch(l2, side, ev["price"])
                if set_level(l2, side, ev["price"], ev["qty"]) >= 0:
                    taken2[side * n2 + ev["price"] - l2[LB_BASE]] = 0
            elif kind == ME_BOOK_CLEAR:
                clear_book(l2)
                for k in range(taken2.shape[0]):
                    taken2[k] = 0

        # 3. Exchange 1: the recording meets our orders; our orders and cancels in flight act when they arrive,
        # between the events. What we send at the end of this tick (after its events) reaches the venue
        # order_latency_ms later and meets the events received from that moment on (0 = at once).
        lat_ns = int(order_latency_ms[r] * 1e6 + 0.5)
        land_ns = (t + 1) * dt_ns + lat_ns if lat_ns > 0 else -1
        for e in range(ev1_start[r], ev1_start[r + 1]):
            ev = events1[np.uint64(e)]
            if si[S_NEXT_LANDING] <= ev["recv_ts"] - start_ns:  # orders and cancels that arrived before it
                _land_due(p, ev["recv_ts"] - start_ns, l1, bbo, q_i, q_f, z_i, z_f, zn, t, out_orders, counters,
                          si, pos)
            kind = ev["kind"]
            side = ev["side"]
            price = ev["price"]
            qty = ev["qty"]
            if kind == ME_BOOK_CLEAR:
                clear_book(l1)
                continue
            if kind == ME_BBO_BID or kind == ME_BBO_ASK:
                # the ticker is the freshest touch: levels better than it are gone, its level holds its size
                bbo[side] = price
                gone = better_than_touch(l1, side, price)
                while gone >= 0:
                    old = set_level(l1, side, gone, 0)
                    _meet_event(p, ME_BOOK, side, gone, 0, old, l1, bbo, q_i, q_f, z_i, z_f, zn, acc, pos, counters,
                                out_fills, out_orders, t, f1, f2, lat, in_due, in_qty, in_m1, in_m2, in_first, si,
                                ev["recv_ts"] - start_ns, rk)
                    gone = better_than_touch(l1, side, price)
                kind = ME_BOOK
            elif kind == ME_BOOK and stale_level(bbo, 0, side, price, qty):
                qty = 0
            old = 0
            if kind == ME_BOOK:
                old = set_level(l1, side, price, qty)
                if old < 0:
                    continue
            elif kind != ME_TRADE:
                continue
            _meet_event(p, kind, side, price, qty, old, l1, bbo, q_i, q_f, z_i, z_f, zn, acc, pos,
                        counters, out_fills, out_orders, t, f1, f2, lat, in_due, in_qty, in_m1, in_m2, in_first, si,
                        ev["recv_ts"] - start_ns, rk)
        _drop_done_zombies(z_i, z_f, zn)
        # arrived after the tick's last event, or at its very end (when the strategy decides): in place by then
        if si[S_NEXT_LANDING] <= (t + 1) * dt_ns:
            _land_due(p, (t + 1) * dt_ns, l1, bbo, q_i, q_f, z_i, z_f, zn, t, out_orders, counters, si, pos)

        # 4. hedges that have reached Exchange 2 walk its recorded book
        hedge_arrivals(t, si, w, hq_i, hq_f, in_due, in_qty, in_m1, in_m2, in_first, counters)
        hside, want, at_market = hedge_order(p, t, w, f2)
        if want > 0:
            filled = 0
            notional = 0
            per_price = 0.0
            limit = -1
            status = H_REJECTED
            if hedge_reject[r] == 0:
                touch = best_price(l2, 1 if hside > 0 else 0)
                if touch < 0:
                    status = H_NO_LIQUIDITY
                else:
                    limit = hedge_limit(p, hside, touch, l2[LB_BASE], l2[LB_BASE] + n2 - 1, at_market)
                    filled, notional, per_price = take_liquidity(l2, taken2, hside, limit, want)
                    si[S_ROOM_STALE] = 1
                    status = hedge_status(filled, want)
                    if at_market:
                        limit = -1
            hedge_settle(p, t, f1, f2, hside, want, filled, notional, per_price, limit, status, at_market, acc, pos, w, hq_i, hq_f, si, sf,
                         counters, out_hedges)
        pending = pending_hedge(si, w, in_qty)

        # 5. marks and PnL
        inv1 = pos[0]
        total = total_pnl(p, acc, pos, f1, f2)

        # 6. risk
        # latencies are measured when they are used: on a tick where a fill sent its hedge. (Sampling a draw
        # every 1 ms tick would give the kill switch a thousand lognormal tails a second to trip on.)
        used = counters[C_FILLS] > fills_before
        step_risk(p, t, total, lat if used else 0.0, order_latency_ms[r], used, ref_last_update[r], inv1, si, sf,
                  dq_tick, dq_val, counters, out_risk)
        state = si[S_STATE]

        # 7. quoting, on the inventory the strategy has heard of
        decide_ns = (t + 1) * dt_ns
        inv_known = inv1
        if response_ns > 0:
            _reports_until(si, rk, decide_ns)
            inv_known = inv1 - si[S_UNKNOWN_LOTS]
        ref, reservation, half, sigma = quote_targets(p, t, n_ticks, f1, f2, f2, inv_known, hedge_leg_lots(acc), sf)
        if state == STATE_KILLED:
            _pull_all_now(q_i, q_f, z_i, z_f, zn, t, out_orders, counters, OR_KILL)
        elif state == STATE_PAUSED:
            _cancel(q_i, q_f, z_i, z_f, zn, 0, t, OR_RISK, land_ns, out_orders, counters)
            _cancel(q_i, q_f, z_i, z_f, zn, 1, t, OR_RISK, land_ns, out_orders, counters)
        elif (t + 1) % decision_ticks == 0:  # the strategy decides every decision interval
            bid_px, ask_px, bid_size, ask_size = quote_prices_sizes(p, reservation, half, inv_known, si[S_PORT_BLOCK])
            # post-only against the touch the strategy sees (the venue rejects what crosses when it lands),
            # and inside the book's window
            if view_touch1.shape[0] > 0:
                best_bid1 = view_touch1[r, 0]
                best_ask1 = view_touch1[r, 1]
            else:
                best_ask1 = fresh_touch(l1, bbo, 1)
                best_bid1 = fresh_touch(l1, bbo, 0)
            if best_ask1 >= 0 and bid_px >= best_ask1:
                bid_px = best_ask1 - 1
            if best_bid1 >= 0 and ask_px <= best_bid1:
                ask_px = best_bid1 + 1
            lo = l1[LB_BASE]
            hi = l1[LB_BASE] + n1 - 1
            bid_px = min(max(bid_px, lo), hi)
            ask_px = min(max(ask_px, lo), hi)
            if p[P_DEPTH_CHECK] > 0:
                buf = int(p[P_HEDGE_BUFFER])
                # what each side must absorb for no shrink (an inverse venue's contracts: walked in full); a sum
                # cut short at an earlier tick's need is walked again when this tick needs more
                exact = p[P_HEDGE_INVERSE] > 0
                need_bid = BIG_LOTS if exact else bid_size + max(0, -pending)
                need_ask = BIG_LOTS if exact else ask_size + max(0, pending)
                stale = si[S_ROOM_STALE] != 0  # most ticks the hedge venue's book did not change: reuse the sums
                if stale or (si[S_ROOM_BID] >= si[S_ROOM_CAP_BID] and si[S_ROOM_BID] < need_bid):
                    si[S_ROOM_BID] = available_within(l2, taken2, 0, buf, need_bid)
                    si[S_ROOM_CAP_BID] = need_bid
                if stale or (si[S_ROOM_ASK] >= si[S_ROOM_CAP_ASK] and si[S_ROOM_ASK] < need_ask):
                    si[S_ROOM_ASK] = available_within(l2, taken2, 1, buf, need_ask)
                    si[S_ROOM_CAP_ASK] = need_ask
                si[S_ROOM_STALE] = 0
                bid_size, ask_size = depth_capped_sizes(p, bid_size, ask_size, si[S_ROOM_BID], si[S_ROOM_ASK], pending,
                                                        f2, counters)
            hard = int(p[P_HARD])
            _set_quote(q_i, q_f, z_i, z_f, zn, 0, bid_px, bid_size, tol, t, land_ns, l1, bbo, out_orders, counters,
                       inv1, hard, decide_ns, response_ns)
            _set_quote(q_i, q_f, z_i, z_f, zn, 1, ask_px, ask_size, tol, t, land_ns, l1, bbo, out_orders, counters,
                       inv1, hard, decide_ns, response_ns)

        si[S_NEXT_LANDING] = _next_landing(q_i, z_i, zn)

        # 8. record (the tick row on the recording grid; the account row whenever it changed)
        if every == 1 or (t + 1) % every == 0 or t == last_tick:
            rec = out_ticks[t if every == 1 else t // every]  # no division on the default grid
            rec["best_bid1"] = best_price(l1, 0)
            rec["best_ask1"] = best_price(l1, 1)
            rec["best_bid2"] = best_price(l2, 0)
            rec["best_ask2"] = best_price(l2, 1)
            bid_rests = q_i[0, Q_STATE] == 0
            ask_rests = q_i[1, Q_STATE] == 0
            rec["quote_bid"] = q_i[0, Q_PRICE] if bid_rests else -1
            rec["quote_ask"] = q_i[1, Q_PRICE] if ask_rests else -1
            rec["quote_bid_size"] = q_i[0, Q_LEFT] if bid_rests else 0
            rec["quote_ask_size"] = q_i[1, Q_LEFT] if ask_rests else 0
            rec["bid_queue_ahead"] = int(max(0.0, q_f[0, QF_FRONT])) if bid_rests else 0
            rec["ask_queue_ahead"] = int(max(0.0, q_f[1, QF_FRONT])) if ask_rests else 0
            rec["bid_in_flight"] = q_i[0, Q_PRICE] if q_i[0, Q_STATE] == -2 else -1
            rec["ask_in_flight"] = q_i[1, Q_PRICE] if q_i[1, Q_STATE] == -2 else -1
            zbid = 0
            zask = 0
            for z in range(zn[0]):
                if z_i[z, ZI_SIDE] > 0:
                    zbid += z_i[z, ZI_LEFT]
                else:
                    zask += z_i[z, ZI_LEFT]
            rec["bid_cancel_pending_lots"] = zbid
            rec["ask_cancel_pending_lots"] = zask
            record_pnl(p, rec, ref, reservation, half, sigma, f1, f2, acc, pos, total)
        record_account(t, acc, pos, pending, si, sf, counters, out_account)
        if j_keep < n_keep and keep_at[j_keep] == t:
            keep_position(acc, pos, kept_acc, kept_pos, j_keep)
            j_keep += 1
    return counters[C_FILLS]


@jit_inline
def _set_level_lazily(b, side, price, qty):
    """``set_level`` whose best prices are bounds, resolved only when read (``_resolved_best``): no level is
    better than them. ``venue_mids`` reads its book's best only when the venue's book ticker does not give it, and
    scanning for the next best level whenever the best one empties was a third of building a day's chunks (a
    sparse book: 200 empty levels a scan)."""
    n = b[LB_N]
    i = price - b[LB_BASE]
    if i < 0 or i >= n:
        return
    k = LB_HEADER + side * n + i
    _occupied(b, side, n, i, b[k], qty)
    b[k] = qty
    if qty > 0:
        if side == 0:
            if i > b[LB_BEST_BID]:
                b[LB_BEST_BID] = i
        elif i < b[LB_BEST_ASK]:
            b[LB_BEST_ASK] = i


@jit_inline
def _resolved_best(b, side):
    """``best_price`` of a book kept by ``_set_level_lazily``: the bound moved to the best level with lots."""
    n = b[LB_N]
    if side == 0:
        j = b[LB_BEST_BID]
        if j >= 0:
            j = _next_with_lots(b, 0, n, j)
        b[LB_BEST_BID] = j
        return j + b[LB_BASE] if j >= 0 else -1
    j = b[LB_BEST_ASK]
    if j < n:
        j = _next_with_lots(b, 1, n, j)
    b[LB_BEST_ASK] = j
    return j + b[LB_BASE] if j < n else -1


@jit_borrow
def venue_mids(events, starts, n_ticks, book, carry, out_mid, out_updated, out_touch):
    """Each tick's mid price of one venue (ticks, float) after the events received in it: the latest best
    bid/ask of its book-ticker stream when it has one (the freshest touch), else of its L2 book; and whether
    any event arrived in the tick. ``book`` is a scratch L2 book of the venue's window (its best prices kept as
    bounds: ``_set_level_lazily``). ``out_touch`` (n_ticks x 2, or 0 rows when not wanted) gets each tick's best
    bid and ask as the same sources give them (ticks, -1 = unknown), what ``fresh_touch`` would read. ``carry``
    (float64: ticker bid, ticker ask, last mid; -1, -1, 0 at the start) is read and written back, with ``book``,
    so that spans of ticks computed one after the other give the one-pass values."""
    want_touch = out_touch.shape[0] > 0
    bbo_bid = int(carry[0])
    bbo_ask = int(carry[1])
    mid = carry[2]
    for t in range(n_ticks):
        updated = 0
        for e in range(starts[t], starts[t + 1]):
            ev = events[e]
            kind = ev["kind"]
            updated = 1
            if kind == ME_BOOK:
                _set_level_lazily(book, ev["side"], ev["price"], ev["qty"])
            elif kind == ME_BOOK_CLEAR:
                clear_book(book)
            elif kind == ME_BBO_BID:
                bbo_bid = ev["price"]
            elif kind == ME_BBO_ASK:
                bbo_ask = ev["price"]
        if bbo_bid > 0 and bbo_ask > bbo_bid:
            mid = 0.5 * (bbo_bid + bbo_ask)
        else:
            bb = _resolved_best(book, 0)
            ba = _resolved_best(book, 1)
            if bb >= 0 and ba > bb:
                mid = 0.5 * (bb + ba)
        out_mid[t] = mid
        out_updated[t] = updated
        if want_touch:
            out_touch[t, 0] = bbo_bid if bbo_bid > 0 else _resolved_best(book, 0)
            out_touch[t, 1] = bbo_ask if bbo_ask > 0 else _resolved_best(book, 1)
    carry[0] = bbo_bid
    carry[1] = bbo_ask
    carry[2] = mid


@jit_borrow
def scan_prices(recv_ts, exch_ts, price, qty, kind, end_ns, on_exchange_clock, out):
    """One pass over a batch of a venue's events (columns of ``market_event_dt``), folded into ``out`` (int64:
    largest recv_ts - exch_ts; lowest and highest trade or book-ticker price with a price; lowest and highest
    depth-level price with size; start it at ``new_scan()``) over the events a run ending at ``end_ns`` uses:
    received before it, or on the exchange clock stamped before it. Returns the last recv_ts of the batch."""
    last = -1
    for i in range(recv_ts.shape[0]):
        lag = recv_ts[i] - exch_ts[i]
        if lag > out[0]:
            out[0] = lag
        last = recv_ts[i]
        if (exch_ts[i] if on_exchange_clock else recv_ts[i]) >= end_ns:
            continue
        k = kind[i]
        p = price[i]
        if (k == ME_TRADE or k == ME_BBO_BID or k == ME_BBO_ASK) and p > 0:
            if p < out[1]:
                out[1] = p
            if p > out[2]:
                out[2] = p
        elif k == ME_BOOK and qty[i] > 0:
            if p < out[3]:
                out[3] = p
            if p > out[4]:
                out[4] = p
    return last


# the fields of ``summarise_events``' summary of a run of events (a row group of a normalised file), int64
SUM_ROWS, SUM_LAG, SUM_TICKER_LAG, SUM_TRADE_LO, SUM_TRADE_HI, SUM_TICKER_LO, SUM_TICKER_HI, SUM_LEVEL_LO, \
    SUM_LEVEL_HI, SUM_RECV_LO, SUM_RECV_HI, SUM_EXCH_LO, SUM_EXCH_HI = range(13)
SUMMARY_FIELDS = 13


@jit_borrow
def summarise_events(recv_ts, exch_ts, price, qty, kind, out):
    """``out`` (int64, ``SUMMARY_FIELDS``): what ``scan_prices`` folds from these events when a run uses them all
    (rows; largest recv_ts - exch_ts of the events other than the book ticker's, and of the book ticker's, ns;
    lowest and highest trade price; book-ticker price; depth-level price with size; venue ticks, -1 and int64
    max where there are none), and their lowest and highest receive and venue times (ns): a file's row group
    summarised when it is written, so a run's scan reads it instead of the events."""
    big = np.iinfo(np.int64).max
    out[:] = -1
    out[SUM_ROWS] = recv_ts.shape[0]
    out[SUM_LAG] = np.iinfo(np.int64).min
    out[SUM_TICKER_LAG] = np.iinfo(np.int64).min
    for f in (SUM_TRADE_LO, SUM_TICKER_LO, SUM_LEVEL_LO, SUM_RECV_LO, SUM_EXCH_LO):
        out[f] = big
    out[SUM_RECV_HI] = np.iinfo(np.int64).min
    out[SUM_EXCH_HI] = np.iinfo(np.int64).min
    for i in range(recv_ts.shape[0]):
        r = recv_ts[i]
        x = exch_ts[i]
        out[SUM_RECV_LO] = min(out[SUM_RECV_LO], r)
        out[SUM_RECV_HI] = max(out[SUM_RECV_HI], r)
        out[SUM_EXCH_LO] = min(out[SUM_EXCH_LO], x)
        out[SUM_EXCH_HI] = max(out[SUM_EXCH_HI], x)
        k = kind[i]
        p = price[i]
        if k == ME_BBO_BID or k == ME_BBO_ASK:
            out[SUM_TICKER_LAG] = max(out[SUM_TICKER_LAG], r - x)
        else:
            out[SUM_LAG] = max(out[SUM_LAG], r - x)
        if k == ME_TRADE and p > 0:
            out[SUM_TRADE_LO] = min(out[SUM_TRADE_LO], p)
            out[SUM_TRADE_HI] = max(out[SUM_TRADE_HI], p)
        elif (k == ME_BBO_BID or k == ME_BBO_ASK) and p > 0:
            out[SUM_TICKER_LO] = min(out[SUM_TICKER_LO], p)
            out[SUM_TICKER_HI] = max(out[SUM_TICKER_HI], p)
        elif k == ME_BOOK and qty[i] > 0:
            out[SUM_LEVEL_LO] = min(out[SUM_LEVEL_LO], p)
            out[SUM_LEVEL_HI] = max(out[SUM_LEVEL_HI], p)


def fold_summary(summary, with_ticker, out):
    """A row group's summary (``summarise_events``) folded into ``scan_prices``' ``out``, as if the scan had
    read all its events (the book-ticker prices only ``with_ticker``: a run that drops that stream)."""
    fold_lag(summary, with_ticker, out)
    quoted = ((SUM_TRADE_LO, SUM_TRADE_HI), (SUM_TICKER_LO, SUM_TICKER_HI)) if with_ticker else \
        ((SUM_TRADE_LO, SUM_TRADE_HI),)
    for lo, hi in quoted:
        if summary[hi] >= 0:
            out[1] = min(out[1], summary[lo])
            out[2] = max(out[2], summary[hi])
    if summary[SUM_LEVEL_HI] >= 0:
        out[3] = min(out[3], summary[SUM_LEVEL_LO])
        out[4] = max(out[4], summary[SUM_LEVEL_HI])


def fold_lag(summary, with_ticker, out):
    """A row group's largest recv_ts - exch_ts (``summarise_events``) folded into ``scan_prices``' ``out``."""
    out[0] = max(out[0], summary[SUM_LAG])
    if with_ticker:
        out[0] = max(out[0], summary[SUM_TICKER_LAG])


def new_scan():
    """The starting fold of ``scan_prices``: no lag seen, no prices (lowest at int64 max, highest -1)."""
    big = np.iinfo(np.int64).max
    return np.array([np.iinfo(np.int64).min, big, -1, big, -1], dtype=np.int64)


@jit_borrow
def tick_starts(recv_ts, first_end_ns, dt_ns, out):
    """``out[k]`` = how many of the time-ordered ``recv_ts`` fall before ``first_end_ns + (k - 1) * dt_ns``
    (``out[0]`` = 0): where each tick's events start when tick k of the span ends at that time. One merge pass."""
    n = out.shape[0] - 1
    out[0] = 0
    i = 0
    m = recv_ts.shape[0]
    for k in range(n):
        end = first_end_ns + k * dt_ns
        while i < m and recv_ts[i] < end:
            i += 1
        out[k + 1] = i


@jit_borrow
def latest_updates(updated, first_tick, last, out):
    """``out[k]``: the latest tick at or before ``first_tick + k`` whose ``updated`` flag is 1, or ``last`` (the
    latest before the span; 0 for none) if none in the span is. Returns the last of them, for the next span."""
    for k in range(updated.shape[0]):
        if updated[k] == 1:
            last = first_tick + k
        out[k] = last
    return last


@jit_borrow
def assemble_events(exch_ts, recv_ts, price, qty, kind, side, flags, out):
    """``out`` (market_event_dt) from its fields' columns in one pass over the records, each written once: the
    columns of a batch of a normalised file (numpy assigning the 7 fields one at a time wrote every 40-byte
    record 7 times, 2-5x the cost of decoding the batch). A column of length 0 was not read: its field is 0."""
    has = (exch_ts.shape[0] > 0, recv_ts.shape[0] > 0, price.shape[0] > 0, qty.shape[0] > 0, kind.shape[0] > 0,
           side.shape[0] > 0, flags.shape[0] > 0)
    for i in range(out.shape[0]):
        e = out[i]
        e.exch_ts = exch_ts[i] if has[0] else 0
        e.recv_ts = recv_ts[i] if has[1] else 0
        e.price = price[i] if has[2] else 0
        e.qty = qty[i] if has[3] else 0
        e.kind = kind[i] if has[4] else 0
        e.side = side[i] if has[5] else 0
        e.flags = flags[i] if has[6] else 0
