"""The decision log: one structured record per trade decision, quote change, fill, hedge attempt,
throttle change and user intervention, with the tick, the simulated time, the reason and the
numbers behind it. Built from the result frames after the run (the kernel does no I/O).

Record types (field ``event``):
- ``intervention``: a user action applied at the tick (manual fill, pause, resume, kill, kill reset).
- ``fill``: one of our Exchange 1 orders traded; ``spread_capture`` and ``fee`` in currency,
  ``hedge_latency_ms`` drawn for its hedge, the inventory after it.
- ``hedge``: one hedge attempt on Exchange 2 with its limit, VWAP, status, the latency since the first
  fill it covers, and its cost split into ``slippage`` and ``latency_cost`` (currency).
- ``risk``: a throttle state change with ``reason``, the measured ``value`` and the ``limit``.
- ``quote``: an order placed or cancelled on Exchange 1 and why (``reason``: quote / requote / risk /
  kill switch), with the model's inputs at that tick: reference and reservation prices, target
  half-spread, estimated volatility, Exchange 1 inventory and risk state.

Within a tick, records are ordered intervention, fill, hedge, risk, quote: the order in which the
kernel processes them (flow matches resting quotes before hedges run and the quoter reacts).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from kernels.records import INTERVENTION_NAMES, IV_MANUAL_FILL, STATE_NAMES

_ORDER = {"intervention": 0, "fill": 1, "hedge": 2, "risk": 3, "quote": 4}


def _interventions(results) -> pd.DataFrame:
    iv = results.interventions
    if len(iv) == 0:
        return pd.DataFrame()
    names = np.array(INTERVENTION_NAMES)
    dt = results.config.sim.dt_s
    manual = iv["kind"] == IV_MANUAL_FILL
    return pd.DataFrame({
        "tick": iv["tick"].astype(np.int64),
        "time_s": iv["tick"] * dt,
        "reason": names[iv["kind"]],
        "side": np.where(iv["side"] > 0, "buy", np.where(iv["side"] < 0, "sell", None)),
        "qty_lots": pd.Series(iv["qty"], dtype="Int64").where(manual),
        "limit_price": np.where(manual & (iv["price"] >= 0), iv["price"] * results.tick_size, np.nan),
    })


_QUOTING = ["reference_price", "reservation_price", "half_spread_price", "sigma_per_sqrt_s"]


def _quote_context(results, ticks: np.ndarray) -> pd.DataFrame:
    """What the strategy quoted from at each of ``ticks``: the quoting inputs from the tick records (NaN at a
    tick a coarser grid, ``sim.record_every_ms``, has no row for), the Exchange 1 position and the risk state
    from the account rows (exact at every tick)."""
    t = results.ticks
    rows, own = results.record_row_at(ticks)
    ctx = pd.DataFrame({name: np.where(own, t[name].to_numpy()[rows], np.nan) for name in _QUOTING})
    in_force = results.account_row_at(ticks)
    ctx["inv1_lots"] = results.account_raw["inv1"][in_force]
    ctx["state"] = np.asarray(STATE_NAMES, dtype=object)[results.account_raw["state"][in_force]]
    return ctx


def decision_frame(results) -> pd.DataFrame:
    """All decision records of a run as one frame, sorted by tick and the in-tick order above.
    Columns that do not apply to a record type are NaN / None."""
    parts = []
    iv = _interventions(results)
    if len(iv):
        parts.append(iv.assign(event="intervention"))
    f = results.fills
    if len(f):
        parts.append(f.assign(event="fill", reason=np.where(f["liquidity"] == "manual", "manual test fill",
                                                            "our quote was hit (" + f["liquidity"].astype(str) + ")")))
    h = results.hedges
    if len(h):
        parts.append(h.assign(event="hedge", reason="hedge " + h["status"].astype(str)))
    r = results.risk_events
    if len(r):
        parts.append(r.assign(event="risk"))
    o = results.orders
    if len(o):
        o = o[o["action"] != "filled"]  # full fills are already in the fill records
        ctx = _quote_context(results, o["tick"].to_numpy())
        o = o.reset_index(drop=True)
        actions = {"new": "place", "cancel": "cancel", "cancel_sent": "cancel sent"}
        parts.append(pd.concat([o, ctx], axis=1).assign(event="quote", action=o["action"].astype(str).map(actions)))
    if not parts:
        return pd.DataFrame(columns=["tick", "time_s", "event", "reason"])
    # nullable integers, so ids and lots stay integers where other record types leave them empty
    parts = [p.astype({c: "Int64" for c in p.columns if pd.api.types.is_integer_dtype(p[c])}) for p in parts]
    frame = pd.concat(parts, ignore_index=True, sort=False)
    frame["_rank"] = frame["event"].map(_ORDER)
    frame = frame.sort_values(["tick", "_rank"], kind="stable").drop(columns="_rank").reset_index(drop=True)
    lead = ["tick", "time_s", "event", "reason"]
    return frame[lead + [c for c in frame.columns if c not in lead]]


def iter_records(results) -> Iterator[dict]:
    """Decision records as dicts without the fields that do not apply (no NaN / None noise)."""
    frame = decision_frame(results)
    for row in frame.to_dict("records"):
        yield {k: _plain(v) for k, v in row.items() if not _missing(v)}


def write_jsonl(results, path: str | Path) -> Path:
    """Write the decision log as JSON lines; returns the path."""
    path = Path(path)
    with path.open("w") as fh:
        for rec in iter_records(results):
            fh.write(json.dumps(rec, separators=(",", ":")) + "\n")
    return path


def _missing(v) -> bool:
    if v is None:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _plain(v):
    if isinstance(v, np.generic):
        return v.item()
    return v
