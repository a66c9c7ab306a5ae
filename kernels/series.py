"""Small sequential recursions that numpy cannot vectorise."""
import numpy as np

from kernels._jit import jit


@jit
def ar1_filter(shocks, decay, initial):
    """``y[0] = initial + shocks[0]``, ``y[t] = decay * y[t-1] + shocks[t]`` (an AR(1) / exact OU path)."""
    out = np.empty_like(shocks)
    prev = initial
    for t in range(shocks.shape[0]):
        prev = decay * prev + shocks[t]
        out[t] = prev
    return out


@jit
def classify_events(u, cum, kind_of, side_of):
    """Event type of each uniform ``u``: the first ``k`` with ``u < cum[k]`` for sorted ``cum`` (numpy's
    ``searchsorted(cum, u, side="right")``, bit for bit), returned as its kind and side codes (int8).
    One pass instead of a binary search and two gathers over millions of events."""
    n = u.shape[0]
    kind = np.empty(n, dtype=np.int8)
    side = np.empty(n, dtype=np.int8)
    last = cum.shape[0] - 1
    for i in range(n):
        k = 0
        for j in range(last):  # cum is sorted: counting beats a search for a handful of entries
            k += u[i] >= cum[j]
        kind[i] = kind_of[k]
        side[i] = side_of[k]
    return kind, side


@jit
def ticks_of_kind(start, kind, wanted):
    """Tick index of every event of kind ``wanted``, in stream order (events of tick t are
    ``start[t]:start[t+1]``)."""
    count = 0
    for e in range(kind.shape[0]):
        if kind[e] == wanted:
            count += 1
    out = np.empty(count, dtype=np.int64)
    j = 0
    for t in range(start.shape[0] - 1):
        for e in range(start[t], start[t + 1]):
            if kind[e] == wanted:
                out[j] = t
                j += 1
    return out
