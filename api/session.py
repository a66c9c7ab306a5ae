"""The session: a config, the interventions applied so far, the latest Results and a clock.

Every action becomes an intervention at the current tick and re-runs the simulation from the
start; nothing before the current tick changes. Readers always see one consistent run: the
session swaps a whole immutable snapshot under a lock, readers take the snapshot reference once.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from backtest.config import SimConfig
from backtest.engine import run
from backtest.generate import MarketArrays, generate
from backtest.interventions import Intervention
from backtest.results import Results


@dataclass(frozen=True)
class Snapshot:
    config: SimConfig
    market: MarketArrays
    interventions: tuple[Intervention, ...]
    results: Results


class Session:
    def __init__(self, config: SimConfig, ticks_per_second: float = 10.0):
        self._lock = threading.Lock()
        self.ticks_per_second = ticks_per_second
        self.next_config = config
        self.generation = 0
        self._start(config)

    def _start(self, config: SimConfig) -> None:
        market = generate(config)
        self.snapshot = Snapshot(config, market, (), _ready(run(config, (), market=market)))
        self._clock_origin = time.monotonic()
        self._tick_offset = 0
        self.running = True

    # -- clock ---------------------------------------------------------------------------------
    def current_tick(self) -> int:
        """The clock: advances ``ticks_per_second`` in real time while running, capped at the last tick."""
        last = self.snapshot.config.sim.ticks - 1
        elapsed = (time.monotonic() - self._clock_origin) * self.ticks_per_second if self.running else 0.0
        return min(last, self._tick_offset + int(elapsed))

    def step(self, ticks: int) -> int:
        with self._lock:
            now = self.current_tick()
            self._tick_offset = min(self.snapshot.config.sim.ticks - 1, now + ticks)
            self._clock_origin = time.monotonic()
            return self._tick_offset

    def set_running(self, running: bool) -> None:
        with self._lock:
            self._tick_offset = self.current_tick()
            self._clock_origin = time.monotonic()
            self.running = running

    # -- actions -------------------------------------------------------------------------------
    def apply(self, make_intervention) -> tuple[int, Snapshot]:
        """Add an intervention at the current tick (``make_intervention(tick)``) and re-run."""
        with self._lock:
            tick = self.current_tick()
            iv = make_intervention(tick)
            snap = self.snapshot
            interventions = snap.interventions + (iv,)
            results = _ready(run(snap.config, interventions, market=snap.market))
            self.snapshot = Snapshot(snap.config, snap.market, interventions, results)
            return tick, self.snapshot

    def reset(self, config: SimConfig | None = None) -> None:
        with self._lock:
            if config is not None:
                self.next_config = config
            self._start(self.next_config)
            self.generation += 1  # tells pollers (the dashboard) that history was replaced


def _ready(results: Results) -> Results:
    """Build the lookups readers use before the snapshot is published, so that no read pays for them."""
    results.tick_columns
    results.fills, results.hedges, results.risk_events
    return results
