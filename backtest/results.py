"""Results: the kernel's records as pandas frames in user units, plus a summary.

Column units: ``*_price`` and prices in currency per asset unit; ``*_lots`` in lots; money columns
(``*_pnl``, ``spread_capture``, ``hedge_*``, ``fee*``, ``inventory_mtm``) in currency; ``time_s``
in simulated seconds; ``*_ms`` in milliseconds. Frames are built on first access (and pandas imported
then: the summary and the point lookups the CLI and API use need only numpy).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from backtest.config import SimConfig
from kernels.records import (
    HEDGE_STATUS_NAMES, LIQUIDITY_NAMES, ORDER_ACTION_NAMES,
    ORDER_REASON_NAMES, REASON_NAMES, STATE_KILLED, STATE_NAMES,
)
from kernels.tick import (
    C_DEPTH_SHRINKS, C_DROPPED1, C_DROPPED2, C_ESCALATIONS, C_HEDGE_FAILURES, C_INTENT_MERGES, C_RACE_FILLS,
    C_RESPONSE_EARLY,
)

if TYPE_CHECKING:
    import pandas as pd

TICK_COLUMNS = {
    "tick": "tick index",
    "time_s": "simulated time, seconds",
    "fair_price": "fair value",
    "feed1_price": "Exchange 1 price feed (mark)",
    "feed2_price": "Exchange 2 price feed (mark)",
    "best_bid1_price": "Exchange 1 best bid (NaN = empty side)",
    "best_ask1_price": "Exchange 1 best ask",
    "best_bid2_price": "Exchange 2 best bid",
    "best_ask2_price": "Exchange 2 best ask",
    "quote_bid_price": "our bid on Exchange 1 (NaN = not quoting)",
    "quote_ask_price": "our ask on Exchange 1",
    "quote_bid_lots": "lots left on our bid",
    "quote_ask_lots": "lots left on our ask",
    "bid_queue_ahead_lots": "lots ahead of our bid in its price level's queue",
    "ask_queue_ahead_lots": "lots ahead of our ask",
    "bid_in_flight_price": "our bid sent to Exchange 1 and not yet landed (NaN = none): order-entry latency",
    "ask_in_flight_price": "our ask sent and not yet landed",
    "bid_cancel_pending_lots": "lots of our bids still resting (and able to trade) while their cancel travels",
    "ask_cancel_pending_lots": "lots of our asks still resting while their cancel travels",
    "reference_price": "price the quotes are centred on",
    "reservation_price": "reference shifted by the inventory skew",
    "half_spread_price": "target half-spread, currency",
    "sigma_per_sqrt_s": "estimated volatility of the reference, currency per sqrt(second)",
    "inv1_lots": "Exchange 1 position",
    "inv2_lots": "Exchange 2 position, in its lots (contracts on an inverse contract)",
    "hedge_leg_base_lots": "the hedge leg in lots of the base asset: inv2 on a linear venue; on an inverse one the "
                           "base its contracts stood for at their trade prices plus the base their PnL added, less "
                           "the base paid as fees",
    "net_delta_lots": "inv1 + hedge_leg_base_lots (integers on a linear venue)",
    "pending_hedge_lots": "signed lots of hedges scheduled but not yet executed",
    "cash": "cash on both venues",
    "fees": "fees paid on both venues (negative = rebates received)",
    "realized_pnl": "average-cost realized PnL before fees",
    "unrealized_pnl": "positions marked to the venue feeds against average cost",
    "total_pnl": "cash + positions at marks - fees",
    "spread_capture": "cumulative edge of Exchange 1 fills against the Exchange 1 feed",
    "hedge_slippage": "cumulative execution cost of hedges against the Exchange 2 feed at execution",
    "hedge_latency_cost": "cumulative Exchange 2 move between the fill and its hedge",
    "hedge_basis": "basis (feed2 - feed1) change on the hedge leg since its fills",
    "hedge_cost": "hedge_slippage + hedge_latency_cost + hedge_basis",
    "inventory_mtm": "net unhedged inventory marked to the Exchange 1 feed",
    "state": "risk state: active / reduced / paused / killed",
    "manual_pause": "True while a manual pause is in force",
    "exposure_above_threshold": "True while |net delta| > hedging.exposure_threshold_lots (unhedged exposure)",
}


# columns read straight from the tick records (prices: -1 = none, shown as NaN), or the account rows
_RAW_PRICE = {"best_bid1_price": "best_bid1", "best_ask1_price": "best_ask1", "best_bid2_price": "best_bid2",
              "best_ask2_price": "best_ask2", "quote_bid_price": "quote_bid", "quote_ask_price": "quote_ask",
              "bid_in_flight_price": "bid_in_flight", "ask_in_flight_price": "ask_in_flight"}
_RAW_INT = {"quote_bid_lots": "quote_bid_size", "quote_ask_lots": "quote_ask_size",
            "bid_queue_ahead_lots": "bid_queue_ahead", "ask_queue_ahead_lots": "ask_queue_ahead",
            "bid_cancel_pending_lots": "bid_cancel_pending_lots", "ask_cancel_pending_lots": "ask_cancel_pending_lots"}
_RAW_MONEY = {"unrealized_pnl": "unrealized", "total_pnl": "total_pnl", "hedge_basis": "hedge_basis",
              "inventory_mtm": "inventory_mtm"}
_RAW_TICKS_SCALED = {"reference_price": "reference", "reservation_price": "reservation",
                     "half_spread_price": "half_spread", "sigma_per_sqrt_s": "sigma"}
_ACCOUNT_MONEY = {"realized_pnl": "realized", "spread_capture": "spread_capture", "hedge_slippage": "hedge_slippage",
                  "hedge_latency_cost": "hedge_latency"}
_ACCOUNT_INT = {"inv1_lots": "inv1", "inv2_lots": "inv2", "pending_hedge_lots": "pending_hedge"}


# money figures also given per base unit traded on Exchange 1 and per 10 000 of its notional (= bps of it)
_PER_UNIT_KEYS = ("net_pnl", "spread_capture", "hedge_cost", "fees")


@dataclass
class Results:
    config: SimConfig
    ticks_raw: np.ndarray
    fills_raw: np.ndarray
    hedges_raw: np.ndarray
    orders_raw: np.ndarray
    risk_raw: np.ndarray
    # account rows (kernels.records.account_dt): cash, fees, positions, state... from each row's tick on
    account_raw: np.ndarray
    counters: np.ndarray
    interventions: np.ndarray
    regime: np.ndarray = field(repr=False)
    # the market's price paths over the same ticks (inputs: the tick records do not repeat them), ticks
    fair: np.ndarray = field(repr=False)
    feed1: np.ndarray = field(repr=False)
    feed2: np.ndarray = field(repr=False)
    # what the settings in carrying units were resolved with (backtest.units): the run's first price (quote
    # currency per base unit) and the hedge venue's lot step (lots)
    first_price: float = float("nan")
    hedge_step_lots: float = 1
    # an inverse Exchange 2: quote currency per unit of its sizes (0 = linear); and what the run assumed about
    # the pair of instruments (printed as notes)
    hedge_contract_value: float = 0.0
    notes: tuple = ()
    # ticks the run computed (-1: one per row of ``ticks_raw``); with ``sim.record_every_ms`` the tick records
    # are one row per interval, and ``fair``, ``feed1``, ``feed2`` and ``regime`` hold the same rows' ticks
    n_ticks: int = -1

    @property
    def ticks_run(self) -> int:
        """Ticks the run computed (the tick records may hold fewer rows: ``tick_index``)."""
        return self.n_ticks if self.n_ticks >= 0 else len(self.ticks_raw)

    @cached_property
    def tick_index(self) -> np.ndarray:
        """The tick each row of the tick records (and of the ticks frame) describes, int64: every tick, or with
        ``sim.record_every_ms`` the last tick of each interval and the run's last tick."""
        return record_ticks(self.ticks_run, self.config.record_every_ticks, len(self.ticks_raw))

    @property
    def inverse_hedge(self) -> bool:
        return self.hedge_contract_value > 0

    # -- unit conversion ---------------------------------------------------------------------
    @property
    def tick_size(self) -> float:
        return self.config.market.tick_size

    @property
    def money_per_tick_lot(self) -> float:
        """Currency value of one tick of price on one lot."""
        return self.config.market.tick_size * self.config.market.lot_size

    def _px(self, ticks, missing_below_zero: bool = False):
        out = np.asarray(ticks, dtype=np.float64) * self.tick_size
        if missing_below_zero:
            out = np.where(np.asarray(ticks) < 0, np.nan, out)
        return out

    def _money(self, tick_lots):
        return np.asarray(tick_lots, dtype=np.float64) * self.money_per_tick_lot

    @cached_property
    def _account_row(self) -> np.ndarray:
        """For each row of the tick records, the account row in force at its tick, int64 (``account_row_at``
        in one merge pass: both tick lists are sorted)."""
        from kernels.series import rows_in_force

        out = np.empty(len(self.tick_index), dtype=np.int64)
        rows_in_force(self.tick_index, np.ascontiguousarray(self.account_raw["tick"]), out)
        return out

    def account_row_at(self, ticks: np.ndarray) -> np.ndarray:
        """For each of ``ticks``, the account row in force (the last written at or before it), int64."""
        return np.searchsorted(self.account_raw["tick"], ticks, side="right") - 1

    def record_row_at(self, ticks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each of ``ticks``, the row of the tick records nearest at or after it, and whether that row
        describes the tick itself (with ``sim.record_every_ms`` most ticks have no row of their own)."""
        at = self.tick_index
        ticks = np.asarray(ticks, dtype=np.int64)
        if not len(at):
            return np.zeros(ticks.shape, dtype=np.int64), np.zeros(ticks.shape, dtype=bool)
        rows = np.minimum(np.searchsorted(at, ticks), len(at) - 1)
        return rows, at[rows] == ticks

    def _account_rows_until(self, tick: int) -> tuple[np.ndarray, np.ndarray]:
        """The account rows in force from tick 0 to ``tick``, and how many ticks each held within that span
        (int64): exact durations, whatever the tick records' grid."""
        k = int(np.searchsorted(self.account_raw["tick"], tick, side="right"))
        rows = self.account_raw[:k]
        held = np.diff(np.append(rows["tick"], np.int64(tick) + 1))
        return rows, held

    def _net_delta_on(self, rows: np.ndarray) -> np.ndarray:
        """Net delta (lots of the base asset) of account rows: float on an inverse hedge venue, else int."""
        if self.inverse_hedge:
            return rows["inv1"] + (rows["hedge_base2"] - rows["fee_base2"])
        return rows["inv1"] + rows["inv2"]

    def account_field(self, name: str) -> np.ndarray:
        """One field of ``kernels.records.account_dt`` expanded to one value per tick (kernel units)."""
        return self.account_raw[name][self._account_row]

    def _per_tick(self, on_rows: np.ndarray) -> np.ndarray:
        """A value computed on the account rows (a few percent of the ticks) expanded to one per tick: sums and
        scalings done on the rows give the same numbers as on the expanded fields, for a fraction of the work."""
        return on_rows[self._account_row]

    @property
    def account_per_tick(self) -> dict[str, np.ndarray]:
        """Every account field expanded to one value per tick (kernel units: tick-lots, lots). Builds all of
        them: for one or two fields, ``account_field`` is cheaper."""
        return {name: self.account_field(name) for name in self.account_raw.dtype.names if name != "tick"}

    # -- columns -----------------------------------------------------------------------------
    def _build_column(self, name: str) -> np.ndarray:
        """One ``TICK_COLUMNS`` column in user units (``state`` as its integer code), built from the records
        alone: a frame or a lookup pays only for the columns it uses."""
        raw = self.ticks_raw
        acc, m, px = self.account_field, self._money, self._px
        rows, per_tick = self.account_raw, self._per_tick
        if name in _RAW_PRICE:
            return px(raw[_RAW_PRICE[name]], True)
        if name in _RAW_INT:  # a view of the records: no memory of its own
            return raw[_RAW_INT[name]]
        if name in _RAW_MONEY:
            return _scaled(raw[_RAW_MONEY[name]], self.money_per_tick_lot)
        if name in _ACCOUNT_MONEY:
            return per_tick(m(rows[_ACCOUNT_MONEY[name]]))
        if name in _ACCOUNT_INT:
            return acc(_ACCOUNT_INT[name])
        if name == "tick":  # the index itself, read-only (the frame copies it if written)
            view = self.tick_index.view()
            view.flags.writeable = False
            return view
        if name == "time_s":
            return self.tick_index * self.config.sim.dt_s
        if name in ("fair_price", "feed1_price", "feed2_price"):
            if name == "fair_price" and self.fair is self.feed1:  # Exchange 1's feed is the fair value: one array
                return self.column("feed1_price")
            return px({"fair_price": self.fair, "feed1_price": self.feed1, "feed2_price": self.feed2}[name])
        if name in _RAW_TICKS_SCALED:
            return _scaled(raw[_RAW_TICKS_SCALED[name]], self.tick_size)
        if name == "hedge_leg_base_lots":
            if self.inverse_hedge:
                return per_tick(rows["hedge_base2"] - rows["fee_base2"])
            return per_tick(rows["inv2"].astype(np.float64))
        if name == "net_delta_lots":
            return per_tick(self._net_delta_on(rows))
        if name == "cash":
            return per_tick(m(rows["cash1"] + rows["cash2"]))
        if name == "fees":
            return per_tick(m(rows["fees1"] + rows["fees2"]))
        if name == "hedge_cost":
            return self.column("hedge_slippage") + self.column("hedge_latency_cost") + self.column("hedge_basis")
        if name == "state":
            return acc("state")
        if name == "manual_pause":
            return per_tick(rows["manual_pause"].astype(bool))
        if name == "exposure_above_threshold":
            return np.abs(self.column("net_delta_lots")) > self.config.hedging.exposure_threshold_lots
        raise KeyError(f"{name!r} is not a tick column; see backtest.results.TICK_COLUMNS")

    def column(self, name: str) -> np.ndarray:
        """One tick column (see ``TICK_COLUMNS``), shared with ``tick_columns`` and ``ticks`` once built."""
        if "tick_columns" in self.__dict__:
            return self.tick_columns[name]
        built = self.__dict__.setdefault("_columns", {})
        if name not in built:
            built[name] = self._build_column(name)
        return built[name]

    def _tick_arrays(self) -> dict[str, np.ndarray]:
        """Every ``TICK_COLUMNS`` column (``state`` as its integer code)."""
        self._float_columns_in_one_pass()
        return {name: self.column(name) for name in TICK_COLUMNS}

    def _float_columns_in_one_pass(self) -> None:
        """Build the float columns read from the tick records (prices, the quoting figures, the money ones) in
        one compiled pass. A tick record is 120 bytes: reading one field across 10^6 of them touches every
        record's cache line, so 16 columns built one at a time were 16 passes over the records (and a
        temporary or two each); here each record is read once and each column written once. Equal, bit for
        bit, to the columns built alone (``_build_column``, tested)."""
        from kernels.series import tick_records_to_floats

        built = self.__dict__.setdefault("_columns", {})
        raw = np.ascontiguousarray(self.ticks_raw)
        fields = raw.dtype.fields
        prices = [(name, field) for name, field in _RAW_PRICE.items() if name not in built]
        floats = [(name, field, scale) for name, field, scale in _raw_float_columns(self.tick_size, self.money_per_tick_lot)
                  if name not in built]
        if not prices and not floats:
            return
        # tick_dt has no padding and every field sits on a multiple of its own size: a field is one column of
        # the records viewed as an n x (record size / field size) array of its type
        as_bytes = raw.view(np.uint8).reshape(len(raw), raw.dtype.itemsize)
        out = np.empty((len(prices) + len(floats), len(raw)), dtype=np.float64)
        tick_records_to_floats(
            as_bytes.view(np.int32), np.array([fields[f][1] // 4 for _, f in prices], dtype=np.int64), self.tick_size,
            as_bytes.view(np.float64), np.array([fields[f][1] // 8 for _, f, _ in floats], dtype=np.int64),
            np.array([scale for _, _, scale in floats], dtype=np.float64), out)
        for k, name in enumerate([name for name, _ in prices] + [name for name, _, _ in floats]):
            built[name] = out[k]

    # -- frames ------------------------------------------------------------------------------
    @cached_property
    def ticks(self) -> pd.DataFrame:
        """One row per tick; see ``TICK_COLUMNS`` for every column's meaning and unit. The frame holds the
        column arrays themselves (no copy): a 10^7-tick run's frame costs about 300 bytes a tick. Writing into
        it copies the column written (pandas' copy-on-write): the records, lookups and summary keep the run's
        values."""
        import pandas as pd
        cols = dict(self._tick_arrays())
        # the codes (``tick_columns``, if built first, holds the names under "state")
        cols["state"] = pd.Categorical.from_codes(self.account_field("state"), categories=list(STATE_NAMES))
        # a frame made on arrays with copy=False writes into them (some are views of the tick records); a
        # shallow copy of one that stays referenced here is protected by copy-on-write and still shares them
        self._ticks_base = pd.DataFrame(cols, copy=False)
        return self._ticks_base.copy(deep=False)

    @cached_property
    def fills(self) -> pd.DataFrame:
        """Our Exchange 1 fills: side (buy = we bought), price, qty_lots, liquidity (maker / manual /
        intensity), marks at the fill, spread_capture and fee in currency, inventory after,
        the hedge latency drawn for it (ms) and the tick its hedge reaches Exchange 2."""
        import pandas as pd
        r = self.fills_raw
        dt = self.config.sim.dt_s
        return pd.DataFrame(
            {
                "fill_id": r["fill_id"],
                "tick": r["tick"],
                "time_s": r["tick"] * dt,
                "order_id": r["order_id"],
                "side": _buy_sell(r["side"]),
                "price": self._px(r["price"]),
                "qty_lots": r["qty"],
                "liquidity": _labels(r["liquidity"], LIQUIDITY_NAMES),
                "feed1_price": self._px(r["feed1"]),
                "feed2_price": self._px(r["feed2"]),
                "spread_capture": self._money(r["spread_capture"]),
                "fee": self._money(r["fee"]),
                "inv1_after_lots": r["inv1_after"],
                "hedge_latency_ms": r["hedge_latency_ms"],
                "hedge_due_tick": r["hedge_due_tick"],
            }
        )

    @cached_property
    def hedges(self) -> pd.DataFrame:
        """One row per hedge attempt on Exchange 2. ``fill_to_hedge_latency_ms`` is the time from the
        earliest Exchange 1 fill the hedge covers to this attempt (quantised to ticks); ``order_type`` is
        ``limit`` (touch +/- the slippage buffer) or ``market`` (escalated after exhausted retries). Quantities
        ``*_lots`` are Exchange 2's lots (contracts on an inverse contract), ``qty_filled_base`` what the fill is
        in base units; an inverse fill's ``vwap_price`` is notional / base (the harmonic mean of its prices)."""
        import pandas as pd
        r = self.hedges_raw
        dt = self.config.sim.dt_s
        vwap = np.where(r["qty_filled"] > 0, r["vwap"], np.nan)
        return pd.DataFrame(
            {
                "hedge_id": r["hedge_id"],
                "attempt": r["attempt"],
                "tick": r["tick"],
                "time_s": r["tick"] * dt,
                "first_fill_tick": r["first_fill_tick"],
                "fill_to_hedge_latency_ms": (r["tick"] - r["first_fill_tick"]) * dt * 1000.0,
                "side": _buy_sell(r["side"]),
                "qty_requested_lots": r["qty_requested"],
                "qty_filled_lots": r["qty_filled"],
                "qty_filled_base": r["base_filled"] * self.config.market.lot_size,
                "limit_price": self._px(r["limit_price"], True),
                "vwap_price": self._px(vwap),
                "feed2_at_fill_price": self._px(r["feed2_at_fill"]),
                "feed2_at_hedge_price": self._px(r["feed2_at_hedge"]),
                "slippage": self._money(r["slippage"]),
                "latency_cost": self._money(r["latency_cost"]),
                "fee": self._money(r["fee"]),
                "status": _labels(r["status"], HEDGE_STATUS_NAMES),
                "order_type": _labels((r["market"] > 0).astype(np.int8), ("limit", "market")),
            }
        )

    @cached_property
    def orders(self) -> pd.DataFrame:
        """Our order actions on Exchange 1: new, cancel (qty = lots left) and filled (fully)."""
        import pandas as pd
        r = self.orders_raw
        dt = self.config.sim.dt_s
        # every column a fresh array the frame alone holds, so it takes them as they are (copy=False) instead of
        # copying them into one block per dtype (half the frame's cost at a million rows)
        return pd.DataFrame(
            {
                "order_id": np.ascontiguousarray(r["order_id"]),
                "tick": r["tick"].astype(np.int64),
                "time_s": r["tick"] * dt,
                "action": _labels(r["action"], ORDER_ACTION_NAMES),
                "side": _buy_sell(r["side"]),
                "price": self._px(r["price"]),
                "qty_lots": r["qty"].astype(np.int64),
                "reason": _labels(r["reason"], ORDER_REASON_NAMES),
            }, copy=False,
        )

    @cached_property
    def risk_events(self) -> pd.DataFrame:
        """Every risk-state change with its reason, the measured value and the limit it was held against
        (lots for position limits, currency for losses, ms for latency, attempts for hedge failures)."""
        import pandas as pd
        r = self.risk_raw
        dt = self.config.sim.dt_s
        reasons = r["reason"]
        value = r["value"].astype(np.float64).copy()
        limit = r["limit"].astype(np.float64).copy()
        money_reason = np.isin(np.array(REASON_NAMES)[reasons] if len(r) else np.array([]),
                               ["loss over rolling window", "manual pause", "manual resume", "cool-down over",
                                "drawdown from peak"])
        value[money_reason] *= self.money_per_tick_lot
        limit[money_reason] *= self.money_per_tick_lot
        return pd.DataFrame(
            {
                "tick": r["tick"],
                "time_s": r["tick"] * dt,
                "from_state": _labels(r["old_state"], STATE_NAMES),
                "to_state": _labels(r["new_state"], STATE_NAMES),
                "reason": _labels(reasons, REASON_NAMES),
                "value": value,
                "limit": limit,
            }
        )

    # -- point lookups (the API reads these many times a second) ------------------------------
    @cached_property
    def tick_columns(self) -> dict[str, np.ndarray]:
        """The ticks frame as plain numpy arrays (``state`` as strings): O(1) lookups by tick."""
        cols = self._tick_arrays()
        cols["state"] = np.array(STATE_NAMES, dtype=object)[cols["state"]]
        self.__dict__.pop("_columns", None)
        return cols

    def state_at(self, tick: int) -> dict:
        """The state of the run at ``tick`` (quotes, positions, PnL), in user units, as Python scalars; with
        ``sim.record_every_ms``, ``tick`` must be one the tick records hold (``tick_index``)."""
        row = int(tick)
        if self.config.record_every_ticks > 1:
            rows, own = self.record_row_at([row])
            row = int(rows[0])
            if not own[0]:
                raise KeyError(f"tick {tick} has no tick record: with sim.record_every_ms "
                               f"{self.config.sim.record_every_ms:g} the records hold ticks "
                               f"{self.config.record_every_ticks - 1}, {2 * self.config.record_every_ticks - 1}, ...")
        return {k: (v[row].item() if hasattr(v[row], "item") else v[row]) for k, v in self.tick_columns.items()}

    def rows_until(self, frame_name: str, tick: int) -> int:
        """How many rows of ``fills``, ``hedges``, ``orders`` or ``risk_events`` happened at or before ``tick``
        (records are written in tick order)."""
        raw = {"fills": self.fills_raw, "hedges": self.hedges_raw, "orders": self.orders_raw,
               "risk_events": self.risk_raw}[frame_name]
        return int(np.searchsorted(raw["tick"], tick, side="right"))

    # -- summary -----------------------------------------------------------------------------

    @cached_property
    def summary_dict(self) -> dict:
        """Headline numbers of the run, each in the unit its name or ``SUMMARY_UNITS`` gives."""
        # from the records and numpy columns, not the frames: the CLI prints this without importing pandas
        from kernels.series import max_drawdown

        col = self.column
        f = self.fills_raw
        h = self.hedges_raw
        dt = self.config.sim.dt_s
        n = self.ticks_run
        last = {k: col(k)[-1] for k in ("total_pnl", "realized_pnl", "unrealized_pnl", "spread_capture", "hedge_cost",
                                        "hedge_slippage", "hedge_latency_cost", "hedge_basis", "fees",
                                        "inventory_mtm", "inv1_lots", "inv2_lots", "net_delta_lots")}
        filled_h = h[h["qty_filled"] > 0]
        lat = (filled_h["tick"] - filled_h["first_fill_tick"]) * dt * 1000.0
        pct = (lambda q: float(np.percentile(lat, q))) if lat.size else (lambda q: float("nan"))
        pnl = col("total_pnl")  # marked on the tick records' rows (every tick unless sim.record_every_ms)
        rows, held = self._account_rows_until(n - 1)  # exact on every tick, from the account rows
        state_counts = np.bincount(rows["state"], weights=held, minlength=len(STATE_NAMES))
        e1_lots = int(f["qty"].sum())
        e1_notional = float((f["price"].astype(np.float64) * f["qty"]).sum() * self.money_per_tick_lot)
        kills = self.risk_raw["tick"][self.risk_raw["new_state"] == STATE_KILLED] * dt
        out = {
            "ticks": int(n),
            "simulated_s": float(n * dt),
            "net_pnl": float(last["total_pnl"]),
            "realized_pnl": float(last["realized_pnl"]),
            "unrealized_pnl": float(last["unrealized_pnl"]),
            "spread_capture": float(last["spread_capture"]),
            "hedge_cost": float(last["hedge_cost"]),
            "hedge_slippage": float(last["hedge_slippage"]),
            "hedge_latency_cost": float(last["hedge_latency_cost"]),
            "hedge_basis": float(last["hedge_basis"]),
            "fees": float(last["fees"]),
            "inventory_mtm": float(last["inventory_mtm"]),
            "max_drawdown": float(max_drawdown(pnl)),
            "fills": int(len(f)),
            "fills_maker": int(np.count_nonzero(f["liquidity"] == LIQUIDITY_NAMES.index("maker"))),
            "fills_manual": int(np.count_nonzero(f["liquidity"] == LIQUIDITY_NAMES.index("manual"))),
            "volume_exchange1_lots": e1_lots,
            "volume_exchange2_lots": int(h["qty_filled"].sum()),
            "volume_exchange2_base": float(h["base_filled"].sum()) * self.config.market.lot_size,
            "volume_exchange1_base": e1_lots * self.config.market.lot_size,
            "volume_exchange1_notional": e1_notional,
            "spread_capture_per_lot": float(last["spread_capture"] / e1_lots) if e1_lots else 0.0,
            "hedge_cost_per_lot": float(last["hedge_cost"] / e1_lots) if e1_lots else 0.0,
            **{f"{k}_per_base": (float(last[k if k != "net_pnl" else "total_pnl"]) / (e1_lots * self.config.market.lot_size)
                                 if e1_lots else float("nan")) for k in _PER_UNIT_KEYS},
            **{f"{k}_per_10k_notional": (float(last[k if k != "net_pnl" else "total_pnl"]) * 1e4 / e1_notional
                                         if e1_notional else float("nan")) for k in _PER_UNIT_KEYS},
            "hedges": int(np.unique(h["hedge_id"]).size),
            "hedge_attempts": int(len(h)),
            "hedge_rejections": int(np.count_nonzero(h["status"] == HEDGE_STATUS_NAMES.index("rejected"))),
            "hedge_failures": int(self.counters[C_HEDGE_FAILURES]),
            "hedge_latency_p50_ms": pct(50),
            "hedge_latency_p90_ms": pct(90),
            "hedge_latency_p99_ms": pct(99),
            "hedge_latency_max_ms": float(lat.max()) if lat.size else float("nan"),
            "final_inv1_lots": int(last["inv1_lots"]),
            "final_inv2_lots": int(last["inv2_lots"]),
            "final_net_delta_lots": int(round(last["net_delta_lots"])),
            "max_abs_net_delta_lots": int(round(np.abs(self._net_delta_on(rows)).max())),
            **self.hedge_leg_dict,
            "max_abs_inv1_lots": int(np.abs(rows["inv1"]).max()),
            "risk_events": int(len(self.risk_raw)),
            "background_orders_dropped": int(self.counters[C_DROPPED1] + self.counters[C_DROPPED2]),
            "hedge_intents_merged": int(self.counters[C_INTENT_MERGES]),
            "hedge_escalations": int(self.counters[C_ESCALATIONS]),
            "cancel_race_fills": int(self.counters[C_RACE_FILLS]),
            "response_reports_early": int(self.counters[C_RESPONSE_EARLY]),
            "depth_check_shrinks": int(self.counters[C_DEPTH_SHRINKS]),
            "kill_switch_fired": bool(len(kills)),
            "first_kill_s": float(kills.min()) if len(kills) else float("nan"),
            **self.exposure_dict,
        }
        for code, name in enumerate(STATE_NAMES):
            out[f"time_{name}_s"] = float(state_counts[code] * dt)
        return out

    @cached_property
    def hedge_leg_dict(self) -> dict:
        """The hedge leg's PnL at the end: in the account currency (cash, position at the Exchange 2 mark, fees)
        and in the hedge venue's settlement currency (the base asset on an inverse contract: its balance's
        change, valued in the account currency at the mark)."""
        if not len(self.ticks_raw):
            return {"hedge_leg_pnl": float("nan"), "hedge_leg_pnl_settle": float("nan")}
        last_row = self.account_raw[self._account_row[-1]]  # in force at the last tick
        a = {k: float(last_row[k]) for k in ("cash2", "inv2", "hedge_base2", "fee_base2", "fees2")}
        f2 = float(self.feed2[-1])
        if self.inverse_hedge:
            tick_lots = a["cash2"] + (a["hedge_base2"] - a["fee_base2"]) * f2
            settle = (tick_lots / f2) * self.config.market.lot_size  # base units
        else:
            tick_lots = a["cash2"] + a["inv2"] * f2 - a["fees2"]
            settle = tick_lots * self.money_per_tick_lot
        return {"hedge_leg_pnl": tick_lots * self.money_per_tick_lot, "hedge_leg_pnl_settle": settle}

    @cached_property
    def exposure_dict(self) -> dict:
        """Unhedged exposure over the whole run; see ``exposure_metrics``."""
        return self.exposure_until(self.ticks_run - 1)

    def exposure_until(self, tick: int) -> dict:
        """Unhedged exposure from the start to ``tick``; see ``exposure_metrics``."""
        n_fills = self.rows_until("fills", tick)
        rows, held = self._account_rows_until(tick)
        return exposure_metrics(
            self._net_delta_on(rows), self.hedges_raw[: self.rows_until("hedges", tick)],
            int(self.fills_raw["qty"][:n_fills].sum()), n_fills,
            self.config.hedging.exposure_threshold_lots, self.config.sim.dt_s, held,
        )

    def run_warnings(self) -> list[str]:
        """What the run did that a user probably did not mean (printed by the CLI, not refused): quotes that
        never came within reach of the touch."""
        out = []
        if len(self.fills_raw) == 0 and len(self.ticks_raw):
            col = self.column
            tick = self.tick_size
            px = float(np.nanmedian(col("best_bid1_price")))
            gaps = []
            for side, quote_key, touch_key, sign in (("bid", "quote_bid_price", "best_bid1_price", 1.0),
                                                     ("ask", "quote_ask_price", "best_ask1_price", -1.0)):
                q, t = col(quote_key), col(touch_key)
                ok = np.isfinite(q) & np.isfinite(t)
                if ok.any():
                    closest = float(np.min(sign * (t[ok] - q[ok])))
                    gaps.append(f"the {side} came no closer than {closest / tick:,.0f} ticks "
                                f"({closest / px * 1e4:,.1f} bps) to the touch")
                else:
                    gaps.append(f"no {side} ever rested")
            out.append("no fill on Exchange 1: " + "; ".join(gaps) + ". Settings in ticks and lots are tied to one "
                       "symbol: the *_bps, *_base and *_quote keys carry across symbols (README, Instruments)")
        return out

    @property
    def summary(self) -> pd.DataFrame:
        """The summary as a frame: metric, value."""
        import pandas as pd
        return pd.DataFrame({"metric": list(self.summary_dict), "value": list(self.summary_dict.values())})


def record_rows(n_ticks: int, every: int, computed: int | None = None) -> int:
    """Rows of tick records a run of ``n_ticks`` has with one row per ``every`` ticks (the last tick of each
    interval, and the run's last tick), counting only ticks before ``computed`` (default: all)."""
    computed = n_ticks if computed is None else computed
    rows = computed // every
    if computed >= n_ticks and n_ticks % every:
        rows += 1
    return rows


def record_ticks(n_ticks: int, every: int, rows: int, first: int = 0) -> np.ndarray:
    """The tick each tick-record row from ``first`` to ``rows - 1`` describes (int64)."""
    return np.minimum((np.arange(first, rows, dtype=np.int64) + 1) * every - 1, n_ticks - 1)


def exposure_metrics(net_delta: np.ndarray, hedges_raw: np.ndarray, e1_lots: int, n_fills: int,
                     threshold: int, dt: float, ticks_held: np.ndarray | None = None) -> dict:
    """Unhedged exposure from net delta (lots; per tick, or per account row with ``ticks_held``, the ticks
    each value held for) and hedge attempt records: seconds with |net delta| above ``threshold`` lots, the
    largest naked position and the longest unbroken time it was held (seconds), the share of lots requested by
    hedge attempts that filled, the share of Exchange 1 lots hedged on Exchange 2, and hedge attempts per
    Exchange 1 fill."""
    delta = np.abs(net_delta)
    held = np.ones(delta.shape[0], dtype=np.int64) if ticks_held is None else ticks_held
    largest = int(round(delta.max())) if delta.size else 0
    duration = 0.0
    if largest > 0:
        at_peak = np.concatenate([[0], (delta >= delta.max()).astype(np.int8), [0]])
        edges = np.flatnonzero(np.diff(at_peak))
        elapsed = np.concatenate([[0], np.cumsum(held)])  # ticks before each value
        duration = float((elapsed[edges[1::2]] - elapsed[edges[0::2]]).max() * dt)
    requested = int(hedges_raw["qty_requested"].sum())
    filled = int(hedges_raw["qty_filled"].sum())
    filled_base = float(hedges_raw["base_filled"].sum())  # lots of the base asset (an inverse venue's are not its lots)
    return {
        "exposure_threshold_lots": threshold,
        "time_above_exposure_threshold_s": float(held[delta > threshold].sum() * dt),
        "largest_naked_lots": largest,
        "largest_naked_duration_s": duration,
        "hedge_fill_ratio": filled / requested if requested else float("nan"),
        "hedged_share": filled_base / e1_lots if e1_lots else float("nan"),
        "hedge_attempts_per_fill": len(hedges_raw) / n_fills if n_fills else float("nan"),
    }


def _labels(codes: np.ndarray, names) -> "pd.Categorical":
    """Integer codes of a record as a categorical of their names: building a million strings (pyarrow strings
    since pyarrow is installed) cost 0.1 s per label column of a 10^6-tick run's orders frame, codes cost
    nothing. Compares, filters and prints as the strings do; its categories are every name, seen or not."""
    import pandas as pd

    # a copy: an int8 field of the records would otherwise be taken as it lies, and a write into the frame's
    # column would rewrite the records
    return pd.Categorical.from_codes(np.array(codes, dtype=np.int8), categories=list(names))


def _buy_sell(side: np.ndarray) -> "pd.Categorical":
    return _labels((side > 0).astype(np.int8), ("sell", "buy"))


def _scaled(values: np.ndarray, scale: float) -> np.ndarray:
    """``values`` (as float64) times ``scale``, a new array."""
    return np.asarray(values, dtype=np.float64) * scale


def _raw_float_columns(tick_size: float, money_per_tick_lot: float) -> list[tuple[str, str, float]]:
    """(column, tick-record field, scale) of every column that is a float field of the tick records scaled to
    user units."""
    return ([(name, field, tick_size) for name, field in _RAW_TICKS_SCALED.items()]
            + [(name, field, money_per_tick_lot) for name, field in _RAW_MONEY.items()])
