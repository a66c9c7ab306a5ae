"""The session: a config, the interventions applied so far, the latest run and a clock.

Every action becomes an intervention at the current tick and re-runs the simulation with all interventions
applied; nothing before the current tick changes. Because of that, the re-run does not start from tick 0:
it resumes from the run's last checkpoint at or before the clock (``Simulation.fork``, bit-for-bit the run
from scratch, tested) and is computed up to ``horizon_ticks`` past the clock before the action answers; a
background thread then computes the rest of the run and publishes the whole of it.

Readers always see one consistent run: the session swaps a whole immutable snapshot under a lock, readers
take the snapshot reference once. A snapshot holds the first ``computed`` ticks of its run (all of it once
complete), which is exactly what the full run has there; a read that needs a tick beyond that, or the whole
run's summary, waits for the background completion.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from api.clock import TickClock
from backtest.config import ConfigError, SimConfig
from backtest.engine import Simulation
from backtest.markets.generate import MarketArrays, generate
from backtest.interventions import Intervention
from backtest.resources import MemoryEstimate, check_memory, estimate_memory
from backtest.results import Results

log = logging.getLogger(__name__)

HORIZON_TICKS = 2000  # computed past the clock before an action answers (200 s at 10 ticks/s)
MIN_CHECKPOINT_TICKS = 1000  # and about a hundred checkpoints per run at most, for memory


class SessionEnded(Exception):
    """An action at the run's last tick: nothing after it could happen (a fill there is never hedged)."""


@dataclass(frozen=True)
class Snapshot:
    config: SimConfig
    market: MarketArrays
    interventions: tuple[Intervention, ...]
    results: Results
    sim: Simulation = field(repr=False)
    complete: threading.Event = field(repr=False)  # set when the run's last snapshot is published

    @property
    def computed(self) -> int:
        """Ticks of the run this snapshot holds: ``0 .. computed - 1``."""
        return len(self.results.ticks_raw)

    @property
    def is_full_run(self) -> bool:
        return self.computed == self.config.sim.ticks


def checkpoint_every(config: SimConfig) -> int:
    return max(MIN_CHECKPOINT_TICKS, config.sim.ticks // 100)


def session_checkpoints(config: SimConfig) -> int:
    return -(-config.sim.ticks // checkpoint_every(config))


def session_memory_estimate(config: SimConfig) -> MemoryEstimate:
    """Peak bytes of a session of ``config``: the run, its checkpoints (about a hundred copies of the books),
    the per-tick columns reads are answered from, and an action's re-run beside the run readers hold."""
    return estimate_memory(config, checkpoints=session_checkpoints(config), session=True)


def check_session_memory(config: SimConfig, budget: int | None = None) -> None:
    """ConfigError unless a session can run ``config`` (every tick's state served, re-runs from checkpoints)
    and it fits the memory budget (``session_memory_estimate``)."""
    problems = []
    if config.record_every_ticks > 1:
        problems.append(f"sim.record_every_ms {config.sim.record_every_ms:g}: a session serves the state at every "
                        "tick; allowed: 0 here (a coarser grid is for long runs of the CLI, sweeps and notebooks)")
    if config.replay.chunk_s > 0:
        problems.append(f"replay.chunk_s {config.replay.chunk_s:g}: a session re-runs actions from checkpoints of a "
                        "recording held whole; allowed: 0 here (chunks are for long runs of the CLI and sweeps)")
    if problems:
        raise ConfigError(problems)
    check_memory(config, budget, checkpoints=session_checkpoints(config), session=True)


class Session:
    def __init__(self, config: SimConfig, ticks_per_second: float = 10.0, horizon_ticks: int = HORIZON_TICKS,
                 background: bool = True, clock=time.monotonic):
        self._lock = threading.RLock()  # re-entered when a run is completed in the foreground
        self._ticks_per_second = ticks_per_second
        self.horizon_ticks = horizon_ticks
        self.background = background
        self._now = clock  # seconds, monotonic: the wall clock the session's tick clock runs on
        self.generation = 0
        self._start(config)
        self.next_config = config  # the config the next plain reset starts from: one that has started
        self.pending_config: SimConfig | None = None  # set by PUT /config: tried by the next plain reset

    def _start(self, config: SimConfig) -> None:
        """Start a session from ``config``; if anything fails, the running session is left as it was."""
        check_session_memory(config)
        market = generate(config)
        sim = Simulation(config, market, (), checkpoint_every=checkpoint_every(config))
        sim.advance(1 + self.horizon_ticks)  # the part that can fail, before any state is replaced
        self.clock = TickClock(config.sim.ticks - 1, self._ticks_per_second, self._now)
        self._run(sim, 0)

    def _run(self, sim: Simulation, tick: int) -> None:
        """Compute ``sim`` to the horizon past ``tick``, publish it, and finish it in the background."""
        sim.advance(tick + 1 + self.horizon_ticks)
        snap = Snapshot(sim.config, sim.market, sim.interventions, ready_for_readers(sim.results()), sim,
                        threading.Event())
        self.snapshot = snap
        if sim.done:
            snap.complete.set()
        elif self.background:
            threading.Thread(target=self._complete, args=(snap,), daemon=True, name="complete-run").start()
        else:
            self._complete(snap)

    def _complete(self, snap: Snapshot) -> None:
        sim = snap.sim
        try:
            sim.advance(sim.n_ticks, should_stop=lambda: self.snapshot.sim is not sim)
            if sim.done:
                full = Snapshot(snap.config, snap.market, snap.interventions, ready_for_readers(sim.results()), sim,
                                snap.complete)
                with self._lock:
                    if self.snapshot.sim is sim:
                        self.snapshot = full
        except Exception:  # noqa: BLE001  a bug: readers waiting must not hang on it
            log.exception("completing the run failed")
        finally:
            snap.complete.set()

    # -- reads ---------------------------------------------------------------------------------
    def snapshot_at(self, tick: int) -> Snapshot:
        """The latest snapshot that holds ``tick`` (waits for the background completion if needed)."""
        while True:
            snap = self.snapshot
            if tick < snap.computed:
                return snap
            snap.complete.wait()
            if snap is self.snapshot and tick >= snap.computed:  # completion failed (logged): a bug
                raise RuntimeError(f"the run could not be computed up to tick {tick}")

    def full_snapshot(self) -> Snapshot:
        """The latest snapshot once its whole run is computed."""
        return self.snapshot_at(self.snapshot.config.sim.ticks - 1)

    # -- clock ---------------------------------------------------------------------------------
    @property
    def now(self):
        """The wall clock the tick clock runs on (seconds, monotonic)."""
        return self._now

    @now.setter
    def now(self, fn) -> None:
        with self._lock:
            self.clock.set_running(self.clock.running)  # the ticks so far counted on the old wall clock
            self._now = self.clock.now = fn
            self.clock.set_running(self.clock.running)

    @property
    def ticks_per_second(self) -> float:
        return self._ticks_per_second

    @ticks_per_second.setter
    def ticks_per_second(self, rate: float) -> None:
        with self._lock:
            self.clock.set_running(self.clock.running)  # the ticks so far counted at the old rate
            self._ticks_per_second = self.clock.ticks_per_second = rate

    def current_tick(self) -> int:
        """The clock: advances ``ticks_per_second`` in real time while running, capped at the last tick."""
        return self.clock.tick()

    def finished(self) -> bool:
        """The clock has reached the run's last tick: the session is over until a reset."""
        return self.clock.finished()

    def clock_running(self) -> bool:
        """The clock advances: started, and not at the last tick."""
        return self.clock.advancing()

    def step(self, ticks: int) -> int:
        with self._lock:
            return self.clock.step(ticks)

    def set_running(self, running: bool) -> None:
        with self._lock:
            self.clock.set_running(running)

    # -- actions -------------------------------------------------------------------------------
    def apply(self, make_intervention, check=None) -> tuple[int, Snapshot]:
        """Add an intervention at the current tick (``make_intervention(snapshot, tick)``) and re-run from the
        last checkpoint at or before it. ``check(snapshot, tick)`` may refuse the action by raising: it runs
        under the same lock as the action, on the state the action will change, so of several simultaneous
        identical actions exactly the first is applied and the others see its effect. Returns the tick and a
        snapshot that holds at least that tick."""
        while True:
            self.snapshot_at(self.current_tick())  # wait for the computation outside the lock
            with self._lock:
                tick = self.current_tick()
                snap = self.snapshot
                if tick >= snap.computed:  # the clock outran the run meanwhile: wait again
                    continue
                if tick >= snap.config.sim.ticks - 1:
                    raise SessionEnded(f"the session ended at its last tick {tick}; POST /reset starts a new one")
                if check is not None:
                    check(snap, tick)
                iv = make_intervention(snap, tick)
                sim = snap.sim.fork(snap.interventions + (iv,), tick)
                self._run(sim, tick)
                return tick, self.snapshot

    def reset(self, config: SimConfig | None = None) -> None:
        """Start again from ``config`` (default: the last config a session started from). The config
        becomes the next plain reset's only once the session has started from it."""
        with self._lock:
            config = config if config is not None else self.next_config
            self._start(config)
            self.next_config = config
            self.generation += 1  # tells pollers (the dashboard) that history was replaced


def ready_for_readers(results: Results) -> Results:
    """Build the lookups readers use before the snapshot is published, so that no read pays for them."""
    results.tick_columns
    results.fills, results.hedges, results.risk_events
    return results
