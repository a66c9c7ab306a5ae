"""A session's tick clock: simulated ticks that advance with wall time, shared by the single-asset session and the
portfolio session."""
from __future__ import annotations

import time


class TickClock:
    """Ticks ``ticks_per_second`` a second of wall time while running, from ``start`` and capped at ``last``.

    ``now`` is the wall clock (seconds, monotonic), replaceable by tests. The caller serialises ``step`` and
    ``set_running`` with the state they guard (each reads the clock and moves it in one go)."""

    def __init__(self, last: int, ticks_per_second: float, now=time.monotonic):
        self.last = last
        self.ticks_per_second = ticks_per_second
        self.now = now
        self.running = True
        self._origin = now()
        self._offset = 0

    def tick(self) -> int:
        """The clock's tick now."""
        elapsed = (self.now() - self._origin) * self.ticks_per_second if self.running else 0.0
        return min(self.last, self._offset + int(elapsed))

    def finished(self) -> bool:
        """At the last tick: the session is over until a reset."""
        return self.tick() >= self.last

    def advancing(self) -> bool:
        """Running, and not at the last tick."""
        return self.running and not self.finished()

    def state(self) -> dict:
        """{running, finished, tick}, from one reading of the clock."""
        tick = self.tick()
        return {"running": self.running and tick < self.last, "finished": tick >= self.last, "tick": tick}

    def step(self, ticks: int) -> int:
        """Move ``ticks`` forward (capped at the last tick); returns the new tick."""
        self._offset = min(self.last, self.tick() + ticks)
        self._origin = self.now()
        return self._offset

    def set_running(self, running: bool) -> None:
        self._offset = self.tick()
        self._origin = self.now()
        self.running = running
