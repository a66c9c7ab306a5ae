"""The one place that decides how kernels are compiled.

``cache=True`` keeps compiled code in ``__pycache__`` so only the first run after a change pays the
compile time. With ``NUMBA_DISABLE_JIT=1`` numba returns the plain Python function, so every kernel
can be stepped through in a debugger.
"""
import numba


def jit(func):
    return numba.njit(cache=True, nogil=True)(func)
