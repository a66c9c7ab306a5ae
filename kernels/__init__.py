"""Numba kernels: pure functions of numpy arrays and scalars (order books, quoting, the tick loop)."""
