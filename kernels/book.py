"""One limit order book held in three integer arrays, with price-time priority.

A book is ``(lv, od, bs)``:

* ``lv[side, level, field]`` -- per price level: head and tail of its FIFO queue and total lots.
  ``level = price_ticks - base``; ``side`` is 0 for bids, 1 for asks.
* ``od[slot, field]`` -- a pool of orders: level, lots left, side, owner, next/prev in the level's
  queue, order id. Free slots are chained through ``O_NEXT``.
* ``bs[field]`` -- scalars: best bid/ask level, free-list head, next order id, live order count,
  orders dropped because the pool was full, level count, price base.

Field is the last (fastest) axis, so an order's or a level's fields share a cache line or two: a book
operation touches a handful of lines instead of one per field.

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
    lv = np.full((2, n_levels, N_LV), NIL, dtype=np.int64)
    lv[:, :, LV_QTY] = 0
    lv[:, :, LV_MM_QTY] = 0
    od = np.zeros((capacity, N_OD), dtype=np.int64)
    for s in range(capacity):
        od[s, O_NEXT] = s + 1 if s + 1 < capacity else NIL
        od[s, O_QTY] = 0
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
    return lv[side, lvl, LV_QTY]


@jit_borrow
def _link_tail(lv, od, side, lvl, slot):
    tail = lv[side, lvl, LV_TAIL]
    od[slot, O_PREV] = tail
    od[slot, O_NEXT] = NIL
    if tail == NIL:
        lv[side, lvl, LV_HEAD] = slot
    else:
        od[tail, O_NEXT] = slot
    lv[side, lvl, LV_TAIL] = slot
    lv[side, lvl, LV_QTY] += od[slot, O_QTY]
    if od[slot, O_OWNER] == OWNER_MM:
        lv[side, lvl, LV_MM_QTY] += od[slot, O_QTY]


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
        while b >= 0 and lv[0, b, LV_QTY] == 0:
            b -= 1
        bs[B_BEST_BID] = b
    else:
        a = bs[B_BEST_ASK]
        while a < n and lv[1, a, LV_QTY] == 0:
            a += 1
        bs[B_BEST_ASK] = a


@jit_borrow
def _remove(lv, od, bs, slot):
    """Unlink ``slot`` from its level, return it to the free list, fix the best price."""
    side = od[slot, O_SIDE]
    lvl = od[slot, O_LEVEL]
    prev = od[slot, O_PREV]
    nxt = od[slot, O_NEXT]
    if prev == NIL:
        lv[side, lvl, LV_HEAD] = nxt
    else:
        od[prev, O_NEXT] = nxt
    if nxt == NIL:
        lv[side, lvl, LV_TAIL] = prev
    else:
        od[nxt, O_PREV] = prev
    lv[side, lvl, LV_QTY] -= od[slot, O_QTY]
    if od[slot, O_OWNER] == OWNER_MM:
        lv[side, lvl, LV_MM_QTY] -= od[slot, O_QTY]
    else:
        k = od[slot, O_POS]
        last = bs[B_OTHERS_BID + side] - 1
        moved = od[last, O_LIVE_BID + side]
        od[k, O_LIVE_BID + side] = moved
        od[moved, O_POS] = k
        bs[B_OTHERS_BID + side] = last
    od[slot, O_QTY] = 0
    od[slot, O_ID] = 0
    od[slot, O_NEXT] = bs[B_FREE]
    bs[B_FREE] = slot
    bs[B_LIVE] -= 1
    bs[B_COUNT_BID + side] -= 1
    if lv[side, lvl, LV_QTY] == 0:
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
        slot = lv[opp, lvl, LV_HEAD]
        take = od[slot, O_QTY]
        if take > remaining:
            take = remaining
        price = lvl + base
        remaining -= take
        notional += take * price
        if od[slot, O_OWNER] == OWNER_MM and n_mm < mm_ids.shape[0]:
            mm_ids[n_mm] = od[slot, O_ID]
            mm_prices[n_mm] = price
            mm_qtys[n_mm] = take
            n_mm += 1
        if take == od[slot, O_QTY]:
            _remove(lv, od, bs, slot)
        else:
            od[slot, O_QTY] -= take
            lv[opp, lvl, LV_QTY] -= take
            if od[slot, O_OWNER] == OWNER_MM:
                lv[opp, lvl, LV_MM_QTY] -= take
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
    bs[B_FREE] = od[slot, O_NEXT]
    oid = bs[B_NEXT_ID]
    bs[B_NEXT_ID] += 1
    bs[B_LIVE] += 1
    bs[B_COUNT_BID + side] += 1
    od[slot, O_LEVEL] = lvl
    od[slot, O_QTY] = qty
    od[slot, O_SIDE] = side
    od[slot, O_OWNER] = owner
    od[slot, O_ID] = oid
    if owner != OWNER_MM:
        k = bs[B_OTHERS_BID + side]
        od[k, O_LIVE_BID + side] = slot
        od[slot, O_POS] = k
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
    if slot < 0 or od[slot, O_ID] != order_id or od[slot, O_QTY] == 0:
        return 0
    q = od[slot, O_QTY]
    _remove(lv, od, bs, slot)
    return q


@jit_borrow
def order_alive(od, slot, order_id):
    """Lots left on our order ``order_id`` in ``slot`` (0 when filled or cancelled)."""
    if slot < 0 or od[slot, O_ID] != order_id:
        return 0
    return od[slot, O_QTY]


@jit_borrow
def depth_within(lv, bs, side, ticks):
    """Lots resting on ``side`` (0 bid, 1 ask) from the best price to ``ticks`` ticks behind it:
    what an aggressive order with that slippage buffer could take at most. 0 for an empty side."""
    total = 0
    if side == 0:
        b = bs[B_BEST_BID]
        lo = max(b - ticks, 0)
        while b >= lo:
            total += lv[0, b, LV_QTY]
            b -= 1
    else:
        a = bs[B_BEST_ASK]
        hi = min(a + ticks, bs[B_NLEVELS] - 1)
        while a <= hi:
            total += lv[1, a, LV_QTY]
            a += 1
    return total


@jit_borrow
def queue_ahead(lv, od, slot):
    """Lots resting ahead of the order in ``slot`` in its level's FIFO queue."""
    side = od[slot, O_SIDE]
    lvl = od[slot, O_LEVEL]
    s = lv[side, lvl, LV_HEAD]
    ahead = 0
    while s != slot and s != NIL:
        ahead += od[s, O_QTY]
        s = od[s, O_NEXT]
    return ahead


@jit_borrow
def cancel_random_other(lv, od, bs, side, pick):
    """Smith-Farmer cancellation in O(1): ``pick`` is drawn uniformly from [0, max_orders); when it is
    below the number ``n_live`` of other participants' orders on ``side`` it cancels that one (from an
    unordered dense list), otherwise nothing happens. So with probability ``n_live / max_orders`` one
    order, chosen uniformly, is cancelled, and cancel events arriving at rate ``lambda`` cancel each
    resting order at the per-order rate ``lambda / max_orders``. Returns lots cancelled."""
    if pick >= bs[B_OTHERS_BID + side]:
        return 0
    slot = od[pick, O_LIVE_BID + side]
    q = od[slot, O_QTY]
    _remove(lv, od, bs, slot)
    return q


@jit_borrow
def withdraw_level(lv, od, bs, side, price):
    """Withdraw every other participant's order at ``price`` (ours stay). Returns lots withdrawn."""
    lvl = price - bs[B_BASE]
    if lvl < 0 or lvl >= bs[B_NLEVELS]:
        return 0
    out = 0
    s = lv[side, lvl, LV_HEAD]
    while s != NIL:
        nxt = od[s, O_NEXT]
        if od[s, O_OWNER] != OWNER_MM:
            out += od[s, O_QTY]
            _remove(lv, od, bs, s)
        s = nxt
    return out
