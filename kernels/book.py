"""One limit order book held in three integer arrays, with price-time priority.

A book is ``(lv, od, bs)``:

* ``lv[field, side, level]`` -- per price level: head and tail of its FIFO queue and total lots.
  ``level = price_ticks - base``; ``side`` is 0 for bids, 1 for asks.
* ``od[field, slot]`` -- a pool of orders: level, lots left, side, owner, next/prev in the level's
  queue, order id. Free slots are chained through ``O_NEXT``.
* ``bs[field]`` -- scalars: best bid/ask level, free-list head, next order id, live order count,
  orders dropped because the pool was full, level count, price base.

Every order, ours or another participant's, sits in the same FIFO queue, so queue position is exact.
Matching walks the opposite side from the best level outward and, within a level, from the head.
Fills against the market maker's orders are written to a small caller-provided buffer, because a
jitted function cannot call back. All functions work unchanged with ``NUMBA_DISABLE_JIT=1``.
"""
import numpy as np

from kernels._jit import jit, jit_borrow
from kernels.records import OWNER_MM

# lv fields
LV_HEAD = 0
LV_TAIL = 1
LV_QTY = 2
LV_MM_QTY = 3  # our own lots at the level, so other participants' volume needs no queue walk
N_LV = 4

# od fields
O_LEVEL = 0
O_QTY = 1
O_SIDE = 2
O_OWNER = 3
O_NEXT = 4
O_PREV = 5
O_ID = 6
O_POS = 7  # index of an other participant's order in its side's live list
O_LIVE_BID = 8  # row k: slot of the k-th live other-participant bid (a dense list, swap-remove)
O_LIVE_ASK = 9
N_OD = 10

# bs fields
B_BEST_BID = 0  # level index, -1 when no bids
B_BEST_ASK = 1  # level index, n_levels when no asks
B_FREE = 2
B_NEXT_ID = 3
B_LIVE = 4
B_DROPPED = 5
B_NLEVELS = 6
B_BASE = 7
B_COUNT_BID = 8  # live orders per side: an empty side is known without scanning the grid
B_COUNT_ASK = 9
B_OTHERS_BID = 10  # live other-participant orders per side (length of the live lists)
B_OTHERS_ASK = 11
N_BS = 12

NIL = -1
MM_FILL_BUFFER = 16


@jit
def book_new(n_levels, capacity, base):
    """An empty book covering prices ``base .. base + n_levels - 1`` ticks, ``capacity`` orders."""
    lv = np.full((N_LV, 2, n_levels), NIL, dtype=np.int64)
    lv[LV_QTY, :, :] = 0
    lv[LV_MM_QTY, :, :] = 0
    od = np.zeros((N_OD, capacity), dtype=np.int64)
    for s in range(capacity):
        od[O_NEXT, s] = s + 1 if s + 1 < capacity else NIL
        od[O_QTY, s] = 0
    bs = np.zeros(N_BS, dtype=np.int64)
    bs[B_BEST_BID] = -1
    bs[B_BEST_ASK] = n_levels
    bs[B_FREE] = 0 if capacity > 0 else NIL
    bs[B_NEXT_ID] = 1
    bs[B_NLEVELS] = n_levels
    bs[B_BASE] = base
    return lv, od, bs


@jit_borrow
def best_bid(bs):
    """Best bid price in ticks, -1 when the bid side is empty."""
    b = bs[B_BEST_BID]
    return b + bs[B_BASE] if b >= 0 else -1


@jit_borrow
def best_ask(bs):
    """Best ask price in ticks, -1 when the ask side is empty."""
    a = bs[B_BEST_ASK]
    return a + bs[B_BASE] if a < bs[B_NLEVELS] else -1


@jit_borrow
def level_qty(lv, bs, side, price):
    """Total lots resting at ``price`` ticks on ``side`` (0 bid, 1 ask); 0 outside the grid."""
    lvl = price - bs[B_BASE]
    if lvl < 0 or lvl >= bs[B_NLEVELS]:
        return 0
    return lv[LV_QTY, side, lvl]


@jit_borrow
def _link_tail(lv, od, side, lvl, slot):
    tail = lv[LV_TAIL, side, lvl]
    od[O_PREV, slot] = tail
    od[O_NEXT, slot] = NIL
    if tail == NIL:
        lv[LV_HEAD, side, lvl] = slot
    else:
        od[O_NEXT, tail] = slot
    lv[LV_TAIL, side, lvl] = slot
    lv[LV_QTY, side, lvl] += od[O_QTY, slot]
    if od[O_OWNER, slot] == OWNER_MM:
        lv[LV_MM_QTY, side, lvl] += od[O_QTY, slot]


@jit_borrow
def _refresh_best(lv, bs, side):
    n = bs[B_NLEVELS]
    if bs[B_COUNT_BID + side] == 0:
        if side == 0:
            bs[B_BEST_BID] = -1
        else:
            bs[B_BEST_ASK] = n
        return
    if side == 0:
        b = bs[B_BEST_BID]
        while b >= 0 and lv[LV_QTY, 0, b] == 0:
            b -= 1
        bs[B_BEST_BID] = b
    else:
        a = bs[B_BEST_ASK]
        while a < n and lv[LV_QTY, 1, a] == 0:
            a += 1
        bs[B_BEST_ASK] = a


@jit_borrow
def _remove(lv, od, bs, slot):
    """Unlink ``slot`` from its level, return it to the free list, fix the best price."""
    side = od[O_SIDE, slot]
    lvl = od[O_LEVEL, slot]
    prev = od[O_PREV, slot]
    nxt = od[O_NEXT, slot]
    if prev == NIL:
        lv[LV_HEAD, side, lvl] = nxt
    else:
        od[O_NEXT, prev] = nxt
    if nxt == NIL:
        lv[LV_TAIL, side, lvl] = prev
    else:
        od[O_PREV, nxt] = prev
    lv[LV_QTY, side, lvl] -= od[O_QTY, slot]
    if od[O_OWNER, slot] == OWNER_MM:
        lv[LV_MM_QTY, side, lvl] -= od[O_QTY, slot]
    else:
        k = od[O_POS, slot]
        last = bs[B_OTHERS_BID + side] - 1
        moved = od[O_LIVE_BID + side, last]
        od[O_LIVE_BID + side, k] = moved
        od[O_POS, moved] = k
        bs[B_OTHERS_BID + side] = last
    od[O_QTY, slot] = 0
    od[O_ID, slot] = 0
    od[O_NEXT, slot] = bs[B_FREE]
    bs[B_FREE] = slot
    bs[B_LIVE] -= 1
    bs[B_COUNT_BID + side] -= 1
    if lv[LV_QTY, side, lvl] == 0:
        if side == 0 and lvl == bs[B_BEST_BID]:
            _refresh_best(lv, bs, 0)
        elif side == 1 and lvl == bs[B_BEST_ASK]:
            _refresh_best(lv, bs, 1)


@jit_borrow
def match(lv, od, bs, aggressor_buy, limit_price, qty, mm_ids, mm_prices, mm_qtys):
    """Execute up to ``qty`` lots against the opposite side at prices no worse than ``limit_price``.

    Walks levels from the best outward and each level's queue from its head (price-time priority),
    partially filling the last order touched. Fills against the market maker's orders are written
    to ``mm_ids/mm_prices/mm_qtys``. Returns ``(filled_lots, notional_tick_lots, n_mm_fills)``.
    """
    base = bs[B_BASE]
    n = bs[B_NLEVELS]
    limit_lvl = limit_price - base
    remaining = qty
    notional = 0
    n_mm = 0
    opp = 1 if aggressor_buy else 0
    while remaining > 0:
        if aggressor_buy:
            lvl = bs[B_BEST_ASK]
            if lvl >= n or lvl > limit_lvl:
                break
        else:
            lvl = bs[B_BEST_BID]
            if lvl < 0 or lvl < limit_lvl:
                break
        slot = lv[LV_HEAD, opp, lvl]
        take = od[O_QTY, slot]
        if take > remaining:
            take = remaining
        price = lvl + base
        remaining -= take
        notional += take * price
        if od[O_OWNER, slot] == OWNER_MM and n_mm < mm_ids.shape[0]:
            mm_ids[n_mm] = od[O_ID, slot]
            mm_prices[n_mm] = price
            mm_qtys[n_mm] = take
            n_mm += 1
        if take == od[O_QTY, slot]:
            _remove(lv, od, bs, slot)
        else:
            od[O_QTY, slot] -= take
            lv[LV_QTY, opp, lvl] -= take
            if od[O_OWNER, slot] == OWNER_MM:
                lv[LV_MM_QTY, opp, lvl] -= take
    return qty - remaining, notional, n_mm


@jit_borrow
def rest(lv, od, bs, side, price, qty, owner):
    """Put ``qty`` lots at ``price`` on ``side`` (0 bid, 1 ask) at the back of its queue.

    The caller guarantees the price does not cross. Returns ``(slot, order_id)``, or ``(-1, 0)``
    when the price is off the grid or the order pool is full (counted in ``bs[B_DROPPED]``).
    """
    lvl = price - bs[B_BASE]
    slot = bs[B_FREE]
    if lvl < 0 or lvl >= bs[B_NLEVELS] or slot == NIL or qty <= 0:
        bs[B_DROPPED] += 1
        return -1, 0
    bs[B_FREE] = od[O_NEXT, slot]
    oid = bs[B_NEXT_ID]
    bs[B_NEXT_ID] += 1
    bs[B_LIVE] += 1
    bs[B_COUNT_BID + side] += 1
    od[O_LEVEL, slot] = lvl
    od[O_QTY, slot] = qty
    od[O_SIDE, slot] = side
    od[O_OWNER, slot] = owner
    od[O_ID, slot] = oid
    if owner != OWNER_MM:
        k = bs[B_OTHERS_BID + side]
        od[O_LIVE_BID + side, k] = slot
        od[O_POS, slot] = k
        bs[B_OTHERS_BID + side] = k + 1
    _link_tail(lv, od, side, lvl, slot)
    if side == 0:
        if lvl > bs[B_BEST_BID]:
            bs[B_BEST_BID] = lvl
    else:
        if lvl < bs[B_BEST_ASK]:
            bs[B_BEST_ASK] = lvl
    return slot, oid


@jit_borrow
def limit_order(lv, od, bs, side, price, qty, owner, mm_ids, mm_prices, mm_qtys):
    """A limit order: match whatever crosses, rest the remainder at ``price``.

    Returns ``(slot, order_id, filled_lots, notional_tick_lots, n_mm_fills)``; slot -1 if nothing rests.
    """
    filled, notional, n_mm = match(lv, od, bs, side == 0, price, qty, mm_ids, mm_prices, mm_qtys)
    slot = -1
    oid = 0
    if qty - filled > 0:
        slot, oid = rest(lv, od, bs, side, price, qty - filled, owner)
    return slot, oid, filled, notional, n_mm


@jit_borrow
def cancel(lv, od, bs, slot, order_id):
    """Cancel the order in ``slot`` if it is still ``order_id``. Returns the lots cancelled."""
    if slot < 0 or od[O_ID, slot] != order_id or od[O_QTY, slot] == 0:
        return 0
    q = od[O_QTY, slot]
    _remove(lv, od, bs, slot)
    return q


@jit_borrow
def order_alive(od, slot, order_id):
    """Lots left on our order ``order_id`` in ``slot`` (0 when filled or cancelled)."""
    if slot < 0 or od[O_ID, slot] != order_id:
        return 0
    return od[O_QTY, slot]


@jit_borrow
def depth_within(lv, bs, side, ticks):
    """Lots resting on ``side`` (0 bid, 1 ask) from the best price to ``ticks`` ticks behind it:
    what an aggressive order with that slippage buffer could take at most. 0 for an empty side."""
    total = 0
    if side == 0:
        b = bs[B_BEST_BID]
        lo = max(b - ticks, 0)
        while b >= lo:
            total += lv[LV_QTY, 0, b]
            b -= 1
    else:
        a = bs[B_BEST_ASK]
        hi = min(a + ticks, bs[B_NLEVELS] - 1)
        while a <= hi:
            total += lv[LV_QTY, 1, a]
            a += 1
    return total


@jit_borrow
def queue_ahead(lv, od, slot):
    """Lots resting ahead of the order in ``slot`` in its level's FIFO queue."""
    side = od[O_SIDE, slot]
    lvl = od[O_LEVEL, slot]
    s = lv[LV_HEAD, side, lvl]
    ahead = 0
    while s != slot and s != NIL:
        ahead += od[O_QTY, s]
        s = od[O_NEXT, s]
    return ahead


@jit_borrow
def cancel_random_other(lv, od, bs, side, u, max_orders):
    """Smith-Farmer cancellation: with probability ``n_live / max_orders`` cancel one of the other
    participants' ``n_live`` orders on ``side``, chosen uniformly (one uniform ``u`` does both).
    Cancel events arriving at rate ``lambda`` thus cancel each resting order at the per-order rate
    ``lambda / max_orders``, in O(1). Returns lots cancelled."""
    n_live = bs[B_OTHERS_BID + side]
    k = int(u * max_orders)
    if k >= n_live:
        return 0
    slot = od[O_LIVE_BID + side, k]
    q = od[O_QTY, slot]
    _remove(lv, od, bs, slot)
    return q


@jit_borrow
def withdraw_level(lv, od, bs, side, price):
    """Withdraw every other participant's order at ``price`` (ours stay). Returns lots withdrawn."""
    lvl = price - bs[B_BASE]
    if lvl < 0 or lvl >= bs[B_NLEVELS]:
        return 0
    out = 0
    s = lv[LV_HEAD, side, lvl]
    while s != NIL:
        nxt = od[O_NEXT, s]
        if od[O_OWNER, s] != OWNER_MM:
            out += od[O_QTY, s]
            _remove(lv, od, bs, s)
        s = nxt
    return out
