"""Order matching: price-time priority, partial fills, walking the book, cancels, queue position.

These tests also run with NUMBA_DISABLE_JIT=1 (see test_book_runs_without_jit)."""
import os
import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels import book as B
from kernels.records import OWNER_MM, OWNER_OTHER
from tests.reference_book import ReferenceBook

BASE = 1000
LEVELS = 200


def new_book(capacity=256):
    return B.book_new(LEVELS, capacity, BASE)


def buffers():
    return np.zeros(16, np.int64), np.zeros(16, np.int64), np.zeros(16, np.int64)


def test_price_time_priority_and_partial_fill():
    b = new_book()
    ids, px, qs = buffers()
    s1, o1 = B.rest(b, 1, 1010, 5, OWNER_OTHER)
    s2, o2 = B.rest(b, 1, 1010, 3, OWNER_MM)  # same price, later: behind o1
    s3, o3 = B.rest(b, 1, 1009, 2, OWNER_OTHER)  # better price: first
    assert B.best_ask(b) == 1009
    assert B.queue_ahead(b, s2) == 5
    filled, notional, n_mm, _ = B.match(b, True, 1010, 8, ids, px, qs)
    # 2 @1009, then 5 @1010 from o1, then 1 @1010 from our order (partial)
    assert filled == 8
    assert notional == 2 * 1009 + 6 * 1010
    assert n_mm == 1 and ids[0] == o2 and px[0] == 1010 and qs[0] == 1
    assert B.order_alive(b, s2, o2) == 2
    assert B.queue_ahead(b, s2) == 0
    assert B.best_ask(b) == 1010


def test_market_order_walks_levels_and_stops_when_empty():
    b = new_book()
    ids, px, qs = buffers()
    for i, q in enumerate([1, 2, 3]):
        B.rest(b, 0, 1050 - i, q, OWNER_OTHER)
    filled, notional, _, _ = B.match(b, False, BASE, 10, ids, px, qs)
    assert filled == 6
    assert notional == 1050 * 1 + 1049 * 2 + 1048 * 3
    assert B.best_bid(b) == -1


def test_limit_order_respects_limit_and_rests_remainder_without_crossing():
    b = new_book()
    ids, px, qs = buffers()
    B.rest(b, 1, 1020, 4, OWNER_OTHER)
    B.rest(b, 1, 1022, 4, OWNER_OTHER)
    slot, oid, filled, notional, _ = B.limit_order(b, 0, 1021, 10, OWNER_OTHER, ids, px, qs)
    assert filled == 4 and notional == 4 * 1020
    assert slot >= 0 and B.best_bid(b) == 1021 and B.best_ask(b) == 1022
    assert B.level_qty(b, 0, 1021) == 6


def test_cancel_and_queue_position_improve():
    b = new_book()
    s1, o1 = B.rest(b, 0, 1005, 7, OWNER_OTHER)
    s2, o2 = B.rest(b, 0, 1005, 3, OWNER_MM)
    assert B.queue_ahead(b, s2) == 7
    assert B.cancel(b, s1, o1) == 7
    assert B.queue_ahead(b, s2) == 0
    assert B.cancel(b, s1, o1) == 0  # already gone: a stale cancel is a no-op
    assert B.cancel(b, s2, o2) == 3
    assert B.best_bid(b) == -1


def test_queue_ahead_from_either_end_of_a_long_queue():
    """The walk goes from both ends of the queue at once: an order at the front, in the middle (either side of
    it, odd and even lengths) and at the back sees the lots of the orders before it, after partial fills and
    cancels of others."""
    for n in (1, 2, 5, 6):
        b = new_book()
        slots = [B.rest(b, 0, 1005, 10 + i, OWNER_MM if i % 2 else OWNER_OTHER)[0] for i in range(n)]
        for k, slot in enumerate(slots):
            assert B.queue_ahead(b, slot) == sum(10 + i for i in range(k))
        if n >= 5:
            ids, px, qs = buffers()
            B.match(b, False, 1005, 4, ids, px, qs)  # takes 4 of the first order's 10
            sizes = [6] + [10 + i for i in range(1, n)]
            oid = b[B.order_row(b, slots[2]) + B.O_ID]
            assert B.cancel(b, slots[2], oid) == 12
            live = [(s, q) for k, (s, q) in enumerate(zip(slots, sizes)) if k != 2]
            for k, (slot, _) in enumerate(live):
                assert B.queue_ahead(b, slot) == sum(q for _, q in live[:k])


def test_random_cancel_never_touches_our_orders():
    b = new_book()
    s_mm, o_mm = B.rest(b, 0, 1005, 3, OWNER_MM)
    for i in range(5):
        B.rest(b, 0, 1004 - i, 1, OWNER_OTHER)
    cancelled = sum(B.cancel_random_other(b, 0, pick) for pick in [0, 4, 3, 2, 1, 0, 0, 1, 2, 0])
    assert cancelled == 5
    assert B.order_alive(b, s_mm, o_mm) == 3


def test_random_cancel_probability_scales_with_live_orders():
    b = new_book()
    for i in range(4):
        B.rest(b, 1, 1010 + i, 1, OWNER_OTHER)
    # 4 live orders, pick drawn from [0, max_orders): pick < 4 cancels, pick >= 4 does nothing
    assert B.cancel_random_other(b, 1, 4) == 0
    assert B.cancel_random_other(b, 1, 3) == 1
    assert B.cancel_random_other(b, 1, 3) == 0  # 3 left now


def test_full_pool_drops_and_counts():
    b = new_book(capacity=2)
    assert B.rest(b, 0, 1001, 1, OWNER_OTHER)[0] >= 0
    assert B.rest(b, 0, 1002, 1, OWNER_OTHER)[0] >= 0
    assert B.rest(b, 0, 1003, 1, OWNER_OTHER)[0] == -1
    assert b[B.B_DROPPED] == 1


ops = st.lists(
    st.tuples(
        st.sampled_from(["limit", "market", "cancel", "withdraw"]),
        st.integers(0, 1),  # side
        st.integers(BASE + 90, BASE + 110),  # price
        st.integers(1, 9),  # qty
        st.integers(0, 1),  # owner
        st.integers(0, 40),  # which earlier order to cancel
    ),
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(ops)
def test_matches_reference_book(operations):
    b = new_book()
    ids, px, qs = buffers()
    ref = ReferenceBook()
    placed = []  # (slot, kernel id, reference id)
    for kind, side, price, qty, owner, pick in operations:
        if kind == "limit":
            slot, oid, filled, notional, n_mm = B.limit_order(b, side, price, qty, owner, ids, px, qs)
            r_oid, r_filled, r_notional, r_mm = ref.limit(side, price, qty, owner)
            assert (filled, notional) == (r_filled, r_notional)
            assert n_mm == len(r_mm)
            assert [(px[i], qs[i]) for i in range(n_mm)] == [(p, q) for _, p, q in r_mm]
            if slot >= 0:
                placed.append((slot, oid, r_oid))
        elif kind == "market":
            limit = BASE + LEVELS - 1 if side == 0 else BASE
            filled, notional, n_mm, _ = B.match(b, side == 0, limit, qty, ids, px, qs)
            assert (filled, notional) == ref.match(side == 0, limit, qty)[:2]
        elif kind == "withdraw":
            assert B.withdraw_level(b, side, price) == ref.withdraw(side, price)
        elif placed:
            slot, oid, r_oid = placed[pick % len(placed)]
            assert B.cancel(b, slot, oid) == ref.cancel(r_oid)
        # invariants after every operation
        bb, ba = B.best_bid(b), B.best_ask(b)
        assert bb == ref.best(0) and ba == ref.best(1)
        assert bb == -1 or ba == -1 or bb < ba, "crossed book left after matching"
        for p in range(BASE + 85, BASE + 116):
            for s in (0, 1):
                assert B.level_qty(b, s, p) == ref.level_qty(s, p)
        for s in (0, 1):
            resting = [o for q in ref.sides[s].values() for o in q]
            assert b[B.B_COUNT_BID + s] == len(resting)
            assert b[B.B_OTHERS_BID + s] == sum(o[2] != OWNER_MM for o in resting)
        for slot, oid, r_oid in placed:
            if B.order_alive(b, slot, oid):
                assert B.queue_ahead(b, slot) == ref.queue_ahead(r_oid)


def test_book_runs_without_jit():
    """The same matching tests pass as plain Python, so kernels can be stepped through in a debugger."""
    if os.environ.get("NUMBA_DISABLE_JIT") == "1":
        return  # already running without the JIT
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-k", "not without_jit"],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_depth_within_stops_once_it_has_enough():
    """The hedge-venue depth check's sum: the whole within the buffer when it is below ``enough``; once it reaches
    ``enough`` the walk stops (the result may then be short of the whole, which the check never needs)."""
    from kernels.strategy import BIG_LOTS

    b = B.book_new(100, 64, 0)
    for price, qty in ((50, 5), (49, 7), (47, 11), (30, 100)):
        B.rest(b, 0, price, qty, OWNER_OTHER)
    whole = B.depth_within(b, 0, 5, BIG_LOTS)
    assert whole == 5 + 7 + 11  # 30 lies past the 5-tick buffer
    assert B.depth_within(b, 0, 5, 5) == 5  # the touch is enough
    assert B.depth_within(b, 0, 5, 6) == 12
    assert B.depth_within(b, 0, 5, whole + 1) == whole
    assert B.depth_within(b, 1, 5, BIG_LOTS) == 0  # an empty side
