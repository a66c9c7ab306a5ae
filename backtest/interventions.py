"""User actions (manual fill, pause, resume, kill, kill reset) -> the sorted array the kernel reads."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal

import numpy as np

from kernels.records import (
    IV_KILL, IV_KILL_RESET, IV_MANUAL_FILL, IV_PAUSE, IV_RESUME, intervention_dt,
)

ActionKind = Literal["manual_fill", "pause", "resume", "kill_reset", "kill"]
_KIND_CODES = {
    "manual_fill": IV_MANUAL_FILL,
    "pause": IV_PAUSE,
    "resume": IV_RESUME,
    "kill_reset": IV_KILL_RESET,
    "kill": IV_KILL,
}


MAX_MANUAL_FILL_LOTS = 1_000_000_000  # one manual fill; positions are int64, so sums cannot wrap
MAX_PRICE_DEVIATION = 0.2  # a manual fill more than 20% from the Exchange 1 feed is refused


def manual_fill_problems(hard_position_lots: int, tick_size: float, feed1_price: float, qty_lots: int,
                         price: float | None) -> list[str]:
    """Why a manual fill of ``qty_lots`` at ``price`` (currency; None = at our quote) cannot be applied when
    Exchange 1's feed is at ``feed1_price``: the one check the REST API and ``backtest.run`` share."""
    problems = []
    if qty_lots > hard_position_lots:
        problems.append(f"qty_lots {qty_lots}: larger than the hard position limit; allowed: 1..{hard_position_lots} "
                        "lots (risk.hard_position_lots)")
    if price is not None:
        if abs(price - feed1_price) > MAX_PRICE_DEVIATION * feed1_price:  # before any division: no overflow
            problems.append(f"price {price:.6g}: too far from the market; allowed: within {MAX_PRICE_DEVIATION:.0%} of "
                            f"the Exchange 1 price {feed1_price:.4f}")
        else:
            ratio = price / tick_size
            if abs(ratio - round(ratio)) > 1e-6:
                problems.append(f"price {price:.6g}: off the tick grid; allowed: a multiple of {tick_size}")
    return problems


@dataclass(frozen=True)
class Intervention:
    """An action applied at the start of ``tick``.

    For a manual fill: ``side`` "buy" means we buy on Exchange 1 (a client sold into our bid),
    ``qty_lots`` > 0, ``price_ticks`` None = at our current quote on that side (else the touch).
    """

    tick: int
    kind: ActionKind
    side: Literal["buy", "sell"] | None = None
    qty_lots: int = 0
    price_ticks: int | None = None

    def __post_init__(self):
        if self.kind not in _KIND_CODES:
            raise ValueError(f"intervention kind {self.kind!r} is unknown; allowed: {', '.join(_KIND_CODES)}")
        if self.tick < 0:
            raise ValueError(f"intervention tick must be >= 0, got {self.tick}")
        if self.kind == "manual_fill":
            if self.side not in ("buy", "sell"):
                raise ValueError(f"manual fill side must be 'buy' or 'sell', got {self.side!r}")
            if not 0 < self.qty_lots <= MAX_MANUAL_FILL_LOTS:
                raise ValueError(f"manual fill qty_lots must be in 1..{MAX_MANUAL_FILL_LOTS:,}, got {self.qty_lots}")
            if self.price_ticks is not None and self.price_ticks <= 0:
                raise ValueError(f"manual fill price_ticks must be > 0, got {self.price_ticks}")


def to_array(interventions: Iterable[Intervention], n_ticks: int | None = None) -> np.ndarray:
    """Stable sort by tick, so actions at the same tick apply in the order they were given. With ``n_ticks``,
    an intervention at or beyond the run's end is refused (it would silently never happen)."""
    items = sorted(interventions, key=lambda iv: iv.tick)
    if n_ticks is not None and items and items[-1].tick >= n_ticks:
        raise ValueError(f"intervention {items[-1].kind} at tick {items[-1].tick} is beyond the run's last tick "
                         f"{n_ticks - 1}; allowed: ticks 0..{n_ticks - 1}")
    out = np.zeros(len(items), dtype=intervention_dt)
    for i, iv in enumerate(items):
        out[i]["tick"] = iv.tick
        out[i]["kind"] = _KIND_CODES[iv.kind]
        out[i]["side"] = {"buy": 1, "sell": -1}.get(iv.side or "", 0)
        out[i]["qty"] = iv.qty_lots
        out[i]["price"] = -1 if iv.price_ticks is None else iv.price_ticks
    return out
