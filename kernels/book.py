"""One limit order book held in one flat integer array, with price-time priority.

A book ``b`` is a single int64 array in three regions:

* header ``b[0:N_HEADER]`` -- best bid/ask level, free-list head, next order id, live order count,
  orders dropped because the pool was full, level count, price base, live counts per side, and where
  the other regions start;
* levels, from ``N_HEADER``: ``N_LV`` fields per (side, price level) -- head and tail of the level's
  FIFO queue, total lots, our own lots. ``level = price_ticks - base``; ``side`` is 0 for bids, 1 for
  asks; the row of ``(side, level)`` starts at ``level_row(b, side, level)``;
* orders, from ``b[B_ORDERS]``: ``N_OD`` fields per slot of a fixed pool -- level, lots left, side,
  owner, next/prev in the level's queue, order id, position in its side's live list. Free slots are
  chained through ``O_NEXT``;
* live lists, from ``b[B_LIVE_LISTS]``: per side, the slots of the other participants' resting orders
  as a dense list (swap-remove), so a uniformly random one is found in O(1).

Why one flat array rather than one array per region: every book operation then receives one array
argument instead of three multi-dimensional ones, and every index is a constant offset plus a multiple
of a constant row width. Replaying a 10^6-tick default flow through the two books took 0.35 s instead of
0.52 s in the same process, with identical books after every tick (README, "Speed and memory"). An
order's fields sit together, so a book operation touches a handful of cache lines.

Every order, ours or another participant's, sits in the same FIFO queue, so queue position is exact.
Matching walks the opposite side from the best level outward and, within a level, from the head.
Fills against the market maker's orders are written to a small caller-provided buffer, because a
jitted function cannot call back. All functions work unchanged with ``NUMBA_DISABLE_JIT=1``.
"""
import numpy as np

from kernels._jit import jit, jit_borrow, jit_inline
from kernels.records import OWNER_MM

# header fields
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
B_ORDERS = 12  # index where the order pool starts
B_LIVE_LISTS = 13  # index where the bid live list starts (the ask list follows, B_CAPACITY later)
B_CAPACITY = 14  # order slots
N_HEADER = 16

# level fields
LV_HEAD = 0
LV_TAIL = 1
LV_QTY = 2
LV_MM_QTY = 3  # our own lots at the level, so other participants' volume needs no queue walk
N_LV = 4

# order fields
O_LEVEL = 0
O_QTY = 1
O_SIDE = 2
O_OWNER = 3
O_NEXT = 4
O_PREV = 5
O_ID = 6
O_POS = 7  # index of an other participant's order in its side's live list
N_OD = 8

NIL = -1

# The same offsets unsigned, for reads at an unsigned row index (uint64 + int64 is a float64 in numba).
U_HEAD, U_TAIL, U_LVQTY = np.uint64(LV_HEAD), np.uint64(LV_TAIL), np.uint64(LV_QTY)
U_QTY, U_SIDE, U_LEVEL, U_NEXT, U_PREV, U_ID = (np.uint64(x) for x in (O_QTY, O_SIDE, O_LEVEL, O_NEXT, O_PREV, O_ID))

MM_FILL_BUFFER = 16


@jit
def book_new(n_levels, capacity, base):
    """An empty book covering prices ``base .. base + n_levels - 1`` ticks, ``capacity`` orders."""
    orders = N_HEADER + 2 * n_levels * N_LV
    live_lists = orders + capacity * N_OD
    b = np.zeros(live_lists + 2 * capacity, dtype=np.int64)
    for row in range(2 * n_levels):
        b[N_HEADER + row * N_LV + LV_HEAD] = NIL
        b[N_HEADER + row * N_LV + LV_TAIL] = NIL
    for s in range(capacity):
        b[orders + s * N_OD + O_NEXT] = s + 1 if s + 1 < capacity else NIL
    b[B_BEST_BID] = -1
    b[B_BEST_ASK] = n_levels
    b[B_FREE] = 0 if capacity > 0 else NIL
    b[B_NEXT_ID] = 1
    b[B_NLEVELS] = n_levels
    b[B_BASE] = base
    b[B_ORDERS] = orders
    b[B_LIVE_LISTS] = live_lists
    b[B_CAPACITY] = capacity
    return b


@jit_inline
def level_row(b, side, lvl):
    """Index in ``b`` of the fields of price level ``lvl`` on ``side``."""
    return N_HEADER + (side * b[B_NLEVELS] + lvl) * N_LV


@jit_inline
def order_row(b, slot):
    """Index in ``b`` of the fields of the order in ``slot``."""
    return b[B_ORDERS] + slot * N_OD


@jit_borrow
def best_bid(b):
    """Best bid price in ticks, -1 when the bid side is empty."""
    x = b[B_BEST_BID]
    return x + b[B_BASE] if x >= 0 else -1


@jit_borrow
def best_ask(b):
    """Best ask price in ticks, -1 when the ask side is empty."""
    x = b[B_BEST_ASK]
    return x + b[B_BASE] if x < b[B_NLEVELS] else -1


@jit_borrow
def level_qty(b, side, price):
    """Total lots resting at ``price`` ticks on ``side`` (0 bid, 1 ask); 0 outside the grid."""
    lvl = price - b[B_BASE]
    if lvl < 0 or lvl >= b[B_NLEVELS]:
        return 0
    return b[level_row(b, side, lvl) + LV_QTY]


@jit_borrow
def _refresh_best(b, side):
    n = b[B_NLEVELS]
    if b[B_COUNT_BID + side] == 0:
        b[B_BEST_BID + side] = -1 if side == 0 else n
        return
    if side == 0:
        x = b[B_BEST_BID]
        while x >= 0 and b[N_HEADER + x * N_LV + LV_QTY] == 0:
            x -= 1
        b[B_BEST_BID] = x
    else:
        x = b[B_BEST_ASK]
        while x < n and b[N_HEADER + (n + x) * N_LV + LV_QTY] == 0:
            x += 1
        b[B_BEST_ASK] = x


@jit_inline
def _leave_live_list(b, side, o):
    """Take the other participant's order whose fields start at ``o`` out of its side's live list
    (swap-remove: the list's last order takes its place)."""
    live = b[B_LIVE_LISTS] + side * b[B_CAPACITY]
    k = b[o + O_POS]
    last = b[B_OTHERS_BID + side] - 1
    moved = b[live + last]
    b[live + k] = moved
    b[b[B_ORDERS] + moved * N_OD + O_POS] = k
    b[B_OTHERS_BID + side] = last


@jit_inline
def _free_slot(b, o, slot):
    """Return ``slot`` (fields at ``o``) to the free list, marked empty."""
    b[o + O_QTY] = 0
    b[o + O_ID] = 0
    b[o + O_NEXT] = b[B_FREE]
    b[B_FREE] = slot


@jit_inline
def _remove(b, slot):
    """Unlink ``slot`` from its level, return it to the free list, fix the best price. Returns the
    lots it had. Inlined where it is used: it runs for most book events, and a call would pass the
    book's array again."""
    orders = b[B_ORDERS]
    o = orders + slot * N_OD
    side = b[o + O_SIDE]
    lvl = b[o + O_LEVEL]
    row = level_row(b, side, lvl)
    prev = b[o + O_PREV]
    nxt = b[o + O_NEXT]
    q = b[o + O_QTY]
    if prev == NIL:
        b[row + LV_HEAD] = nxt
    else:
        b[orders + prev * N_OD + O_NEXT] = nxt
    if nxt == NIL:
        b[row + LV_TAIL] = prev
    else:
        b[orders + nxt * N_OD + O_PREV] = prev
    b[row + LV_QTY] -= q
    if b[o + O_OWNER] == OWNER_MM:
        b[row + LV_MM_QTY] -= q
    else:
        _leave_live_list(b, side, o)
    _free_slot(b, o, slot)
    b[B_LIVE] -= 1
    b[B_COUNT_BID + side] -= 1
    if b[row + LV_QTY] == 0 and lvl == b[B_BEST_BID + side]:
        _refresh_best(b, side)
    return q


@jit_borrow
def match(b, aggressor_buy, limit_price, qty, mm_ids, mm_prices, mm_qtys):
    """Execute up to ``qty`` lots against the opposite side at prices no worse than ``limit_price``.

    Walks levels from the best outward and each level's queue from its head (price-time priority),
    partially filling the last order touched. Fills against the market maker's orders are written
    to ``mm_ids/mm_prices/mm_qtys``. Returns ``(filled_lots, notional_tick_lots, n_mm_fills, lots_per_tick)``,
    the last the sum of lots / price over the fills (an inverse contract's base amount, in contracts per tick).
    """
    base = b[B_BASE]
    n = b[B_NLEVELS]
    orders = b[B_ORDERS]
    limit_lvl = limit_price - base
    remaining = qty
    notional = 0
    per_price = 0.0
    n_mm = 0
    opp = 1 if aggressor_buy else 0
    while remaining > 0:
        if aggressor_buy:
            lvl = b[B_BEST_ASK]
            if lvl >= n or lvl > limit_lvl:
                break
        else:
            lvl = b[B_BEST_BID]
            if lvl < 0 or lvl < limit_lvl:
                break
        row = N_HEADER + (opp * n + lvl) * N_LV
        slot = b[row + LV_HEAD]
        o = orders + slot * N_OD
        have = b[o + O_QTY]
        take = have if have < remaining else remaining
        price = lvl + base
        remaining -= take
        notional += take * price
        per_price += take / price
        mine = b[o + O_OWNER] == OWNER_MM
        if mine and n_mm < mm_ids.shape[0]:
            mm_ids[n_mm] = b[o + O_ID]
            mm_prices[n_mm] = price
            mm_qtys[n_mm] = take
            n_mm += 1
        if take == have:
            _remove(b, slot)
        else:
            b[o + O_QTY] = have - take
            b[row + LV_QTY] -= take
            if mine:
                b[row + LV_MM_QTY] -= take
    return qty - remaining, notional, n_mm, per_price


@jit_inline
def rest(b, side, price, qty, owner):
    """Put ``qty`` lots at ``price`` on ``side`` (0 bid, 1 ask) at the back of its queue.

    The caller guarantees the price does not cross. Returns ``(slot, order_id)``, or ``(-1, 0)``
    when the price is off the grid or the order pool is full (counted in ``b[B_DROPPED]``).
    """
    lvl = price - b[B_BASE]
    slot = b[B_FREE]
    if lvl < 0 or lvl >= b[B_NLEVELS] or slot == NIL or qty <= 0:
        b[B_DROPPED] += 1
        return -1, 0
    orders = b[B_ORDERS]
    o = orders + slot * N_OD
    b[B_FREE] = b[o + O_NEXT]
    oid = b[B_NEXT_ID]
    b[B_NEXT_ID] = oid + 1
    b[B_LIVE] += 1
    b[B_COUNT_BID + side] += 1
    b[o + O_LEVEL] = lvl
    b[o + O_QTY] = qty
    b[o + O_SIDE] = side
    b[o + O_OWNER] = owner
    b[o + O_ID] = oid
    row = level_row(b, side, lvl)
    if owner != OWNER_MM:
        k = b[B_OTHERS_BID + side]
        b[b[B_LIVE_LISTS] + side * b[B_CAPACITY] + k] = slot
        b[o + O_POS] = k
        b[B_OTHERS_BID + side] = k + 1
    else:
        b[row + LV_MM_QTY] += qty
    tail = b[row + LV_TAIL]
    b[o + O_PREV] = tail
    b[o + O_NEXT] = NIL
    if tail == NIL:
        b[row + LV_HEAD] = slot
    else:
        b[orders + tail * N_OD + O_NEXT] = slot
    b[row + LV_TAIL] = slot
    b[row + LV_QTY] += qty
    if side == 0:
        if lvl > b[B_BEST_BID]:
            b[B_BEST_BID] = lvl
    else:
        if lvl < b[B_BEST_ASK]:
            b[B_BEST_ASK] = lvl
    return slot, oid


@jit_inline
def crosses(b, side, price):
    """Whether a limit order on ``side`` at ``price`` ticks would trade on arrival."""
    lvl = price - b[B_BASE]
    if side == 0:
        return b[B_BEST_ASK] < b[B_NLEVELS] and lvl >= b[B_BEST_ASK]
    return b[B_BEST_BID] >= 0 and lvl <= b[B_BEST_BID]


@jit_borrow
def limit_order(b, side, price, qty, owner, mm_ids, mm_prices, mm_qtys):
    """A limit order: match whatever crosses, rest the remainder at ``price``.

    Returns ``(slot, order_id, filled_lots, notional_tick_lots, n_mm_fills)``; slot -1 if nothing rests.
    """
    filled = 0
    notional = 0
    n_mm = 0
    if crosses(b, side, price):
        filled, notional, n_mm, _ = match(b, side == 0, price, qty, mm_ids, mm_prices, mm_qtys)
    slot = -1
    oid = 0
    if qty - filled > 0:
        slot, oid = rest(b, side, price, qty - filled, owner)
    return slot, oid, filled, notional, n_mm


@jit_borrow
def cancel(b, slot, order_id):
    """Cancel the order in ``slot`` if it is still ``order_id``. Returns the lots cancelled."""
    if slot < 0 or b[order_row(b, slot) + O_ID] != order_id or b[order_row(b, slot) + O_QTY] == 0:
        return 0
    return _remove(b, slot)


@jit_borrow
def order_alive(b, slot, order_id):
    """Lots left on our order ``order_id`` in ``slot`` (0 when filled or cancelled)."""
    if slot < 0:
        return 0
    o = np.uint64(order_row(b, slot))  # unsigned: no negative-index wraparound (see ``queue_ahead``)
    if b[o + U_ID] != order_id:
        return 0
    return b[o + U_QTY]


@jit_borrow
def depth_within(b, side, ticks, enough):
    """Lots resting on ``side`` (0 bid, 1 ask) from the best price to ``ticks`` ticks behind it:
    what an aggressive order with that slippage buffer could take at most. 0 for an empty side. The walk
    stops once the lots reach ``enough``: a result of ``enough`` or more may be short of the whole (the
    depth check only asks whether a quote fits)."""
    total = 0
    if side == 0:
        x = b[B_BEST_BID]
        lo = max(x - ticks, 0)
        while x >= lo and total < enough:
            total += b[np.uint64(N_HEADER + x * N_LV + LV_QTY)]  # x >= 0 here: unsigned, no wraparound
            x -= 1
    else:
        n = b[B_NLEVELS]
        x = b[B_BEST_ASK]
        hi = min(x + ticks, n - 1)
        while x <= hi and total < enough:
            total += b[np.uint64(N_HEADER + (n + x) * N_LV + LV_QTY)]
            x += 1
    return total


@jit_borrow
def queue_ahead(b, slot):
    """Lots resting ahead of the order in ``slot`` in its level's FIFO queue. Walks from both ends of the queue at
    once and stops at the first to reach the order: from the back, what is ahead is the level's lots less the
    order's and those behind it (the level's total is the sum of its orders'). A quote placed lately sits near the
    back of its queue, and the walk runs for both quotes on every recorded tick."""
    # Every index here is a valid row (slots are >= 0 inside the walk): read unsigned, numba then skips the
    # negative-index wraparound it adds to each read with a signed index (3 instructions each, the walk runs
    # for both quotes every recorded tick).
    orders = b[B_ORDERS]
    o = np.uint64(orders + slot * N_OD)
    row = np.uint64(level_row(b, b[o + U_SIDE], b[o + U_LEVEL]))
    front = b[row + U_HEAD]
    back = b[row + U_TAIL]
    ahead = 0
    behind = 0
    while front != NIL:
        if front == slot:
            return ahead
        if back == slot:
            return b[row + U_LVQTY] - behind - b[o + U_QTY]
        f = np.uint64(orders + front * N_OD)
        ahead += b[f + U_QTY]
        front = b[f + U_NEXT]
        k = np.uint64(orders + back * N_OD)
        behind += b[k + U_QTY]
        back = b[k + U_PREV]
    return ahead


@jit_inline
def cancel_random_other(b, side, pick):
    """Smith-Farmer cancellation in O(1): ``pick`` is drawn uniformly from [0, max_orders); when it is
    below the number ``n_live`` of other participants' orders on ``side`` it cancels that one (from an
    unordered dense list), otherwise nothing happens. So with probability ``n_live / max_orders`` one
    order, chosen uniformly, is cancelled, and cancel events arriving at rate ``lambda`` cancel each
    resting order at the per-order rate ``lambda / max_orders``. Returns lots cancelled."""
    if pick >= b[B_OTHERS_BID + side]:
        return 0
    return _remove(b, b[b[B_LIVE_LISTS] + side * b[B_CAPACITY] + pick])


@jit_borrow
def withdraw_level(b, side, price):
    """Withdraw every other participant's order at ``price`` (ours stay, in their order). Returns lots
    withdrawn. The whole level goes at once: each withdrawn order leaves its side's live list and joins
    the free list (in queue order, as one-by-one removals would), and the level's queue is rebuilt from
    our orders alone, without unlinking others one by one."""
    lvl = price - b[B_BASE]
    if lvl < 0 or lvl >= b[B_NLEVELS]:
        return 0
    row = level_row(b, side, lvl)
    s = b[row + LV_HEAD]
    if s == NIL:
        return 0
    orders = b[B_ORDERS]
    out = 0
    removed = 0
    kept_head = NIL
    kept_tail = NIL
    while s != NIL:
        o = orders + s * N_OD
        nxt = b[o + O_NEXT]
        if b[o + O_OWNER] == OWNER_MM:
            b[o + O_PREV] = kept_tail
            if kept_tail == NIL:
                kept_head = s
            else:
                b[orders + kept_tail * N_OD + O_NEXT] = s
            kept_tail = s
        else:
            out += b[o + O_QTY]
            removed += 1
            _leave_live_list(b, side, o)
            _free_slot(b, o, s)
        s = nxt
    if kept_tail != NIL:
        b[orders + kept_tail * N_OD + O_NEXT] = NIL
    b[row + LV_HEAD] = kept_head
    b[row + LV_TAIL] = kept_tail
    b[row + LV_QTY] -= out
    b[B_LIVE] -= removed
    b[B_COUNT_BID + side] -= removed
    if b[row + LV_QTY] == 0 and lvl == b[B_BEST_BID + side]:
        _refresh_best(b, side)
    return out
