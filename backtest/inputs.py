"""The inputs both market sources draw or lay out alike: each random input's own generator
(``RANDOM_STREAMS``, ``random_stream``), the per-tick latency and rejection draws, and a venue's events per
tick (``VenueEvents``). ``backtest.generate`` (the synthetic market) and ``backtest.replay`` (a recording)
both import this module and not each other."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backtest.config import SimConfig
from kernels.series import scale_in_spikes

# One generator per random input, child i of ``SeedSequence(seed)`` for the name at position i. A child's
# numbers depend only on the seed and its position: add new inputs at the end, never reorder.
RANDOM_STREAMS = (
    "exchange1_counts", "exchange1_events", "exchange2_counts", "exchange2_events",
    "regime_switches", "fair_shocks", "basis_shocks",
    "hedge_latency", "spike_starts", "hedge_rejects", "order_latency",
    "fill_bid", "fill_ask",
    "toxic_counts", "toxic_sides", "toxic_sizes",
)


def random_stream(seed: int, name: str) -> np.random.Generator:
    """The PCG64 generator of one random input of a run (a name in ``RANDOM_STREAMS``). Each input draws
    from its own generator in tick order, so its first n values are the same whatever the run's length
    and whatever the other inputs draw."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(RANDOM_STREAMS.index(name),)))


@dataclass(frozen=True)
class VenueEvents:
    """Flat event stream of one venue; events of tick t are ``table[start[t]:start[t+1]]``."""

    start: np.ndarray  # int64, n_ticks + 1
    table: np.ndarray  # kernels.records.event_dt: kind, side, offset (ticks / cancel pick), qty (lots)

    @property
    def kind(self) -> np.ndarray:
        return self.table["kind"]

    @property
    def side(self) -> np.ndarray:
        return self.table["side"]

    @property
    def offset(self) -> np.ndarray:
        return self.table["offset"]

    @property
    def qty(self) -> np.ndarray:
        return self.table["qty"]


def hedge_latency_and_rejects(config: SimConfig, n: int, times):
    """Per tick: the hedge latency (lognormal, x spike_multiplier in random spikes), ms, and whether Exchange 2
    rejects hedges (at random, and in outage windows). ``times``: seconds of each tick (None if no windows)."""
    lat = config.latency
    seed = config.sim.seed
    latency = _lognormal(random_stream(seed, "hedge_latency"), n, lat.hedge_median_ms, lat.hedge_sigma)
    spike_len = max(1, int(round(lat.spike_duration_s / config.sim.dt_s)))
    scale_in_spikes(latency, random_stream(seed, "spike_starts").random(n), lat.spike_probability, spike_len,
                    lat.spike_multiplier)
    reject = random_stream(seed, "hedge_rejects").random(n) < lat.hedge_reject_probability
    for start_s, end_s in lat.outage_windows_s:
        reject |= (times >= start_s) & (times < end_s)
    return latency, reject


def spiked_and_order_latency(config: SimConfig, n: int, times, latency):
    """The hedge latency with the forced spike windows applied, and Exchange 1's order/cancel latency per tick
    (lognormal, x spike_multiplier in order-spike windows), ms."""
    lat = config.latency
    if lat.spike_windows_s:  # a tick inside several overlapping windows is spiked once
        latency = np.where(in_windows(times, lat.spike_windows_s), latency * lat.spike_multiplier, latency)
    order_latency = _lognormal(random_stream(config.sim.seed, "order_latency"), n, lat.order_median_ms,
                               lat.order_sigma)
    if lat.order_spike_windows_s:
        order_latency = np.where(in_windows(times, lat.order_spike_windows_s), order_latency * lat.spike_multiplier,
                                 order_latency)
    return latency, order_latency


def in_windows(times: np.ndarray, windows) -> np.ndarray:
    """Whether each time (s) lies in any of the [start, end) ``windows``: their union, however they overlap."""
    inside = np.zeros(times.shape, dtype=bool)
    for start_s, end_s in windows:
        inside |= (times >= start_s) & (times < end_s)
    return inside


def _lognormal(rng: np.random.Generator, n: int, median: float, sigma: float) -> np.ndarray:
    """``median * exp(sigma * z)`` for ``n`` standard normals, computed in place (no temporaries)."""
    out = rng.standard_normal(n)
    out *= sigma
    np.exp(out, out=out)
    out *= median
    return out
