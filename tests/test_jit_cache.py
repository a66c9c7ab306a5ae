"""The compiled-kernel cache: a new directory per version of the kernel sources, old ones pruned."""
import os

from kernels._jit import KEPT_CACHES, prune_caches


def test_old_caches_are_pruned_keeping_the_current_and_the_most_recent(tmp_path):
    for i in range(6):
        d = tmp_path / f"numba-{i:016x}"
        d.mkdir()
        (d / "f.nbc").write_bytes(b"x")
        os.utime(d, (1_000_000 + i, 1_000_000 + i))  # numba-...5 the most recent
    current = tmp_path / "numba-current"
    current.mkdir()
    os.utime(current, (1, 1))  # the oldest of all, and kept: it is the one in use
    (tmp_path / "other").mkdir()  # not a numba cache: never touched
    removed = prune_caches(tmp_path, current.name)
    assert sorted(d.name for d in removed) == [f"numba-{i:016x}" for i in range(6 - KEPT_CACHES)]
    left = sorted(d.name for d in tmp_path.iterdir())
    assert left == sorted(["numba-current", "other"] + [f"numba-{i:016x}" for i in range(6 - KEPT_CACHES, 6)])
    assert prune_caches(tmp_path, current.name) == []  # nothing more to do
