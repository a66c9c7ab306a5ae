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
