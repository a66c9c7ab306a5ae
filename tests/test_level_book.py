"""The replay's L2 book (``kernels.replay``): best prices kept through any sequence of level updates, the next best
level found a block of levels at a time past empty blocks, on windows whose size is or is not a multiple of the
block; and the lazily kept book of the venues' mids resolving the same best prices."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.replay import (LB_BEST_ASK, LB_BEST_BID, LB_BLOCK, LB_HEADER, _resolved_best, _set_level_lazily,
                            best_price, book_blocks, clear_book, new_book, set_level)

BASE = 5000

ops = st.lists(st.one_of(
    st.tuples(st.just("set"), st.integers(0, 1), st.integers(-3, 205), st.sampled_from([0, 0, 0, 1, 2, 7])),
    st.tuples(st.just("clear"), st.just(0), st.just(0), st.just(0)),
), max_size=120)


def expected(levels, side):
    """Best price (ticks) of ``levels`` (side x n lots), -1 when the side is empty."""
    held = np.flatnonzero(levels[side])
    if not held.size:
        return -1
    return BASE + int(held.max() if side == 0 else held.min())


def check_counts(b, levels):
    n = levels.shape[1]
    counts = b[LB_HEADER + 2 * n:].reshape(2, book_blocks(n))
    for side in (0, 1):
        want = [np.count_nonzero(levels[side, k * LB_BLOCK:(k + 1) * LB_BLOCK]) for k in range(book_blocks(n))]
        assert list(counts[side]) == want


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([1, 63, 64, 65, 130, 200]), ops)
def test_best_prices_follow_any_level_updates(n, operations):
    b = new_book(BASE, n)
    lazy = new_book(BASE, n)
    levels = np.zeros((2, n), dtype=np.int64)
    for kind, side, i, qty in operations:
        if kind == "clear":
            clear_book(b)
            clear_book(lazy)
            levels[:] = 0
        else:
            old = set_level(b, side, BASE + i, qty)
            _set_level_lazily(lazy, side, BASE + i, qty)
            if 0 <= i < n:
                assert old == levels[side, i]
                levels[side, i] = qty
            else:
                assert old == -1  # outside the window: ignored
        for s in (0, 1):
            assert best_price(b, s) == expected(levels, s)
        check_counts(b, levels)
        check_counts(lazy, levels)
        if operations and kind == "set" and qty == 0:  # the lazy book's bound resolves to the same best
            for s in (0, 1):
                assert _resolved_best(lazy, s) == expected(levels, s)


def test_the_next_best_is_found_across_many_empty_blocks():
    n = 64 * 40 + 17
    b = new_book(BASE, n)
    for i in (3, 5, n - 2):
        set_level(b, 1, BASE + i, 4)
        set_level(b, 0, BASE + i, 4)
    set_level(b, 1, BASE + 3, 0)
    set_level(b, 1, BASE + 5, 0)
    assert b[LB_BEST_ASK] == n - 2  # past 39 empty blocks
    set_level(b, 1, BASE + n - 2, 0)
    assert b[LB_BEST_ASK] == n and best_price(b, 1) == -1
    set_level(b, 0, BASE + n - 2, 0)
    set_level(b, 0, BASE + 5, 0)
    assert b[LB_BEST_BID] == 3
    set_level(b, 0, BASE + 3, 0)
    assert b[LB_BEST_BID] == -1 and best_price(b, 0) == -1


def test_level_book_runs_without_jit():
    """The same tests pass as plain Python (``NUMBA_DISABLE_JIT=1``), so the replay's book can be stepped through."""
    import os
    import subprocess
    import sys

    if os.environ.get("NUMBA_DISABLE_JIT") == "1":
        return  # already running without the JIT
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-k",
                           "not without_jit"], env=dict(os.environ, NUMBA_DISABLE_JIT="1"), capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
