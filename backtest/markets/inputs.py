"""The inputs both market sources draw or lay out alike: each random input's own generator
(``RANDOM_STREAMS``, ``random_stream``), the per-tick latency and rejection draws, and a venue's events per
tick (``VenueEvents``). ``backtest.markets.generate`` (the synthetic market) and ``backtest.markets.replay`` (a recording)
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
    "queue_reactive", "queue_reactive_basis", "queue_reactive_levels", "queue_reactive_leads",
    "queue_reactive_diffuse_leads",
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


class LatencyDraws:
    """The per-tick latency and rejection draws of a run, drawn for consecutive spans of ticks: span after span
    they are the numbers one draw over the whole run gives (each generator is read in tick order, and a random
    latency spike that starts near a span's end runs on into the next), so a recording replayed chunk by chunk
    sees the same latencies as in one pass."""

    def __init__(self, config: SimConfig):
        self.config = config
        seed = config.sim.seed
        self._hedge = random_stream(seed, "hedge_latency")
        self._spikes = random_stream(seed, "spike_starts")
        self._rejects = random_stream(seed, "hedge_rejects")
        self._order = random_stream(seed, "order_latency")
        self._spike_len = max(1, int(round(config.latency.spike_duration_s / config.sim.dt_s)))
        self._last_spike = -self._spike_len - 1  # tick of the latest spike start, relative to the next span
        self.next_tick = 0

    def draw(self, a: int, b: int):
        """Ticks ``a`` to ``b - 1`` (``a`` is where the previous span ended): (hedge latency, ms: lognormal, x
        spike_multiplier in random spikes and forced spike windows; whether Exchange 2 rejects hedges: at
        random and in outage windows, bool; Exchange 1's order/cancel latency, ms: lognormal, x
        spike_multiplier in order-spike windows)."""
        if a != self.next_tick:
            raise ValueError(f"latency draws continue at tick {self.next_tick}, not {a}")
        lat = self.config.latency
        n = b - a
        windows = (lat.outage_windows_s, lat.spike_windows_s, lat.order_spike_windows_s)
        times = np.arange(a, b) * self.config.sim.dt_s if any(windows) else None
        latency = _lognormal(self._hedge, n, lat.hedge_median_ms, lat.hedge_sigma)
        # a probability of 0 draws nothing: a uniform is never below it, and no other input reads these streams
        # (a day of 1 ms ticks drew 173 million uniforms for nothing with the replay presets' settings)
        if lat.spike_probability > 0:
            self._last_spike = scale_in_spikes(latency, self._spikes.random(n), lat.spike_probability,
                                               self._spike_len, lat.spike_multiplier, self._last_spike)
        if lat.hedge_reject_probability > 0:
            reject = self._rejects.random(n) < lat.hedge_reject_probability
        else:
            reject = np.zeros(n, dtype=bool)
        for start_s, end_s in lat.outage_windows_s:
            reject |= (times >= start_s) & (times < end_s)
        if lat.spike_windows_s:  # a tick inside several overlapping windows is spiked once
            latency = np.where(in_windows(times, lat.spike_windows_s), latency * lat.spike_multiplier, latency)
        order_latency = _lognormal(self._order, n, lat.order_median_ms, lat.order_sigma)
        if lat.order_spike_windows_s:
            order_latency = np.where(in_windows(times, lat.order_spike_windows_s),
                                     order_latency * lat.spike_multiplier, order_latency)
        self.next_tick = b
        return latency, reject, order_latency


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
