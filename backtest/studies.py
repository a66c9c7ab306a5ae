"""Named sweep studies shipped with the project (``python -m backtest sweep --study NAME``).

- ``hedge_latency``: hedge cost and net PnL against the median hedge latency. Latency spikes are off
  and the latency kill switch is out of reach so that the latency drawn is the latency studied.
- ``spread_vs_volatility``: fixed spread (``vol_spread_multiplier`` = 0) against volatility-adaptive
  spreads, across fair-value volatilities. The drift term is off so that only volatility widens quotes.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from backtest.config import ConfigError, make_config

if TYPE_CHECKING:
    from backtest.sweep import SweepSpec

STUDY_TICKS = 20_000
STUDY_SEEDS = tuple(range(1, 9))


def study(name: str, ticks: int | None = None, seeds: tuple[int, ...] | None = None) -> SweepSpec:
    """The named study at ``ticks`` per run (default 20 000 = 2 000 simulated seconds) and ``seeds``."""
    from backtest.sweep import SweepSpec  # here, so that listing STUDIES (the CLI's --help) stays cheap
    ticks = ticks or STUDY_TICKS
    seeds = tuple(seeds) if seeds else STUDY_SEEDS
    if name == "hedge_latency":
        base = make_config(**{
            "sim.ticks": ticks,
            "latency.spike_probability": 0.0,
            "latency.hedge_sigma": 0.2,
            "risk.kill_latency_ms": 1e9,
        })
        grid = {"latency.hedge_median_ms": [0, 50, 100, 250, 500, 1000, 2000, 4000]}
        return SweepSpec(grid=grid, seeds=seeds, base=base, name=name)
    if name == "spread_vs_volatility":
        base = make_config(**{"sim.ticks": ticks, "quoting.drift_spread_multiplier": 0.0})
        grid = {
            "market.volatility_per_sqrt_s": [0.01, 0.02, 0.04, 0.08],
            "quoting.vol_spread_multiplier": [0.0, 0.5, 1.0, 2.0],
        }
        return SweepSpec(grid=grid, seeds=seeds, base=base, name=name)
    raise ConfigError([f"study {name!r} is unknown; allowed: {', '.join(STUDIES)}"])


STUDIES = ("hedge_latency", "spread_vs_volatility")
