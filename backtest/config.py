"""One validated configuration object describes a run.

Units are part of every field name or description: seconds (``_s``), milliseconds (``_ms``),
ticks (integer multiples of ``market.tick_size``), lots (integer multiples of ``market.lot_size``),
basis points (``_bps``), rates per second (``_per_s``). Unknown keys are rejected.
"""
from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class _Section(BaseModel):
    # inf and NaN are refused everywhere: no quantity of a run is infinite
    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_numbers(cls, data: Any) -> Any:
        """A bool is not a number: ``size_lots = true`` (or YAML ``yes``) is refused, not read as 1 lot."""
        if isinstance(data, dict):
            for name, value in data.items():
                field = cls.model_fields.get(name)
                if isinstance(value, bool) and field is not None and _numeric_only(field.annotation):
                    raise ValueError(f"{name}: {value!r} is a bool, not a number; allowed: a number")
        return data


def _numeric_only(annotation: Any) -> bool:
    """A field typed int or float (possibly optional), not also a bool."""
    import typing

    args = typing.get_args(annotation) or (annotation,)
    return bool not in args and any(a in (int, float) for a in args)


MAX_PRICE_TICKS = 1_000_000_000  # prices are int32 ticks inside the kernel: keep 2x headroom below 2^31


Windows = list[tuple[float, float]]


MAX_WINDOWS = 1000  # per key: each window is a pass over the run's ticks when the market is generated


def _check_windows(name: str, windows: Windows) -> None:
    if len(windows) > MAX_WINDOWS:
        raise ValueError(f"{name} windows: {len(windows):,} given; allowed: at most {MAX_WINDOWS} (merge "
                         "overlapping or adjacent ones)")
    for start, end in windows:
        if not (0 <= start < end):
            raise ValueError(f"{name} window ({start}, {end}) must satisfy 0 <= start < end (seconds)")


class SimSection(_Section):
    ticks: int = Field(
        1000, ge=10, le=1_000_000_000,
        description="number of time steps (the memory estimate refuses a run that would not fit: see "
        "record_every_ms and replay.chunk_s for long ones)",
    )
    dt_s: float = Field(
        0.1, ge=1e-6, le=60.0,
        description="simulated seconds per tick (at least a microsecond: every duration is converted to ticks)",
    )
    seed: int = Field(7, ge=0, le=2**63 - 1, description="seed of the one numpy Generator")
    record_every_ms: float = Field(
        0.0, ge=0.0, le=3_600_000.0,
        description="milliseconds between rows of the ticks frame (quotes, books, PnL marks); 0 (the default) = "
        "every tick. A whole multiple of dt_s: each row is the last tick of its interval, and the run's last tick "
        "always has one. Fills, orders, hedges, risk events and the account stay exact and complete; the summary's "
        "max_drawdown is then measured on the rows",
    )


class MarketSection(_Section):
    source: Literal["synthetic", "replay", "queue_reactive"] = Field(
        "synthetic",
        description="'synthetic': the generated (zero-intelligence) market below; 'replay': the recording named in "
        "the [replay] section (then tick_size and lot_size are the grid both venues' prices and sizes are counted "
        "in); 'queue_reactive': the [queue_reactive] section's model of a large-tick book, printed as a recording "
        "and replayed with the [replay] section's queue rules (README, 'A market that behaves like the recording')",
    )
    initial_price: float = Field(100.0, gt=0.0, description="fair value at t=0, currency per asset unit")
    tick_size: float = Field(0.01, gt=0.0, description="price increment, currency")
    lot_size: float = Field(1.0, gt=0.0, description="size increment, asset units")
    volatility_per_sqrt_s: float = Field(
        0.02, ge=0.0, le=100.0, description="fair-value volatility, currency per sqrt(second)"
    )
    drift_per_s: float = Field(0.0, ge=-100.0, le=100.0, description="fair-value drift, currency per second")
    high_vol_multiplier: float = Field(
        3.0, ge=1.0, le=50.0, description="volatility multiplier in the high-volatility regime"
    )
    regime_switch_per_s: float = Field(
        0.01, ge=0.0, le=10.0, description="rate of switching between calm and high-vol regimes, per second"
    )
    basis_mean_ticks: float = Field(0.0, ge=-1e7, le=1e7, description="long-run Exchange 2 minus Exchange 1 price, ticks")
    basis_reversion_per_s: float = Field(0.5, ge=0.0, le=100.0, description="mean reversion speed of the basis, per second")
    basis_vol_ticks_per_sqrt_s: float = Field(
        0.5, ge=0.0, le=1000.0, description="basis volatility, ticks per sqrt(second)"
    )
    exchange2_instrument: Literal["linear", "inverse"] = Field(
        "linear",
        description="synthetic market: what Exchange 2 trades. 'linear' (a perpetual or spot counted in base units, "
        "the default) or 'inverse' (a coin-margined contract: its sizes, the exchange2 section's *_lots and "
        "initial depth, count contracts of exchange2_contract_value each, its PnL and fees are in the base asset). "
        "A replay takes the recording's instrument (README, Instruments)",
    )
    exchange2_contract_value: float = Field(
        100.0, gt=0.0, le=1e9,
        description="inverse Exchange 2 on the synthetic market: quote currency per contract (Binance BTCUSD_PERP: "
        "100 USD)",
    )
    feed2_stale_windows_s: Windows = Field(
        default_factory=list,
        description="[start, end) seconds during which the Exchange 2 price feed the quoter sees stops updating "
        "(the market and the marks keep moving): a stale-feed fault",
    )

    @model_validator(mode="after")
    def _windows_ordered(self) -> "MarketSection":
        _check_windows("feed2_stale", self.feed2_stale_windows_s)
        return self


MAX_CAPTURES_PER_VENUE = 1000


class ReplaySection(_Section):
    """A recorded market (market.source = 'replay'): one capture or normalised file per venue, or a list of
    consecutive captures."""

    @model_validator(mode="after")
    def _capture_lists(self) -> "ReplaySection":
        for name in ("exchange1", "exchange2"):
            value = getattr(self, name)
            if isinstance(value, list):
                if not 1 <= len(value) <= MAX_CAPTURES_PER_VENUE or not all(value):
                    raise ValueError(f"replay.{name}: a list of {len(value)} paths; allowed: 1 to "
                                     f"{MAX_CAPTURES_PER_VENUE} non-empty paths of consecutive captures")
                if any(str(v).endswith(".parquet") for v in value):
                    raise ValueError(f"replay.{name}: a list joins raw captures (.jsonl[.gz]) into one recording; "
                                     "allowed: captures, or one .parquet file (import the captures together with "
                                     "`data import DAY1 DAY2 ...` to make one)")
        return self

    exchange1: str | list[str] = Field(
        "", description="Exchange 1 (quoting venue) recording: a Binance capture (.jsonl[.gz]), a file written by "
        "`python -m backtest data import` (.parquet), or a list of consecutive Binance captures of the venue (a "
        "file per day: read as one recording, as `data import DAY1 DAY2` does); relative paths are taken from the "
        "current directory, then from the project root")
    exchange2: str | list[str] = Field("", description="Exchange 2 (hedge venue) recording, as exchange1")
    queue_model: Literal["risk_averse", "probabilistic"] = Field(
        "probabilistic",
        description="how much of a level's decrease that trades do not explain was ahead of our order: none "
        "(risk_averse), or f(front) / (f(front) + f(back)) with f(x) = x^queue_power (Rigtorp 2013)",
    )
    queue_power: float = Field(2.0, gt=0.0, le=10.0, description="n of the probabilistic queue model's x^n")
    start_s: float = Field(
        0.0, ge=0.0, le=1e7,
        description="seconds into the span both recordings cover at which the replay starts (a held-out window)",
    )
    window_pct: float = Field(
        0.5, gt=0.0, le=50.0,
        description="book levels kept beyond the recording's traded and quoted price range, percent of price",
    )
    # Options a user lines up with another backtester's assumptions (README, "Replaying recorded markets").
    clock: Literal["receive", "exchange", "split"] = Field(
        "receive",
        description="the clock events are ordered and matched on: 'receive' (when the recorder got them, the "
        "default: what a strategy could have reacted to), 'exchange' (the venue's own timestamps for matching "
        "and for what the strategy sees: the feed latency then delays nothing) or 'split' (matching on the "
        "venue's timestamps, the strategy seeing each event when the recorder received it: hftbacktest's model)",
    )
    book_ticker: bool = Field(
        True,
        description="use the book-ticker stream where a recording has one (the freshest touch; the default). "
        "False: the depth stream alone (every 100 ms on Binance spot), as a backtester fed depth only sees it",
    )
    chunk_s: float = Field(
        0.0, ge=0.0, le=1e7,
        description="seconds of recording laid on the tick grid and replayed at a time, the state carried from "
        "chunk to chunk (same results as one pass); 0 (the default) = the whole span at once. With a normalised "
        "(Parquet) recording only a chunk of its events is in memory: what makes a day-long replay fit",
    )
    partial_fills: bool = Field(
        True,
        description="True (default): a trade at our price fills only what reaches past the queue ahead of us. "
        "False: the whole order fills once the queue ahead is gone (hftbacktest's no-partial-fill exchange)",
    )
    decision_interval_ms: float = Field(
        0.0, ge=0.0, le=3_600_000.0,
        description="the strategy re-quotes every this many milliseconds (0 = every tick); matching, hedging and "
        "the risk checks stay on every event and tick. A multiple of sim.dt_s",
    )
    response_latency_ms: float = Field(
        0.0, ge=0.0, le=60_000.0,
        description="milliseconds an acknowledgement, reject or fill of ours takes from Exchange 1 back to the "
        "strategy (0, the default: it knows at once; the recorded feed latency already delays what it sees of "
        "the market). Until then a side with news in flight waits, the quotes' inventory skew leaves the fill "
        "out, and the fill's hedge is not sent; the risk limits see the position as it is",
    )


QR_QUANTILES = 19  # points of each distribution (kernels.queue_reactive.QUANTILE_PROBS)
QR_FLOWS = ("limit_bid", "limit_ask", "cancel_bid", "cancel_ask", "inspread_bid", "inspread_ask")


def _qr_table(value: float) -> list[list[float]]:
    return [[value] * 5 for _ in range(4)]


def _qr_quantiles(median: float, spread: float = 3.0) -> list[float]:
    """A log-normal-looking default distribution through ``median`` (19 points)."""
    z = (-3.0, -2.33, -2.05, -1.64, -1.28, -0.84, -0.52, -0.25, 0.0, 0.25, 0.52, 0.84, 1.28, 1.64, 2.05, 2.33,
         2.58, 3.09, 3.5)
    return [round(median * spread ** (x / 1.64), 6) for x in z]


class QueueReactiveSection(_Section):
    """The queue-reactive market (market.source = 'queue_reactive', ``kernels.queue_reactive``): Exchange 1's best
    queues under state-dependent flows, market orders from a Hawkes process with persistent signs, and Exchange
    2's mid following Exchange 1's with a lead and a basis. ``calibrate --model queue_reactive`` estimates every
    key from a recording; the defaults are a generic large-tick book. Prices in ticks of the venue's own price
    step, sizes in lots of market.lot_size, rates per second."""

    spread_bins_ticks: list[int] = Field(
        [1, 2, 3, 6], description="lower bounds of the spread bins of the state, Exchange 1 ticks (first 1, "
        "increasing)")
    imbalance_bins: int = Field(5, ge=1, le=20, description="equal bins of the queue imbalance (qb - qa) / (qb + qa)")
    limit_bid_per_s: list[list[float]] = Field(
        default_factory=lambda: _qr_table(6.0), description="limit orders joining the best bid, per second, per "
        "state (a row per spread bin, a column per imbalance bin from ask-heavy to bid-heavy)")
    limit_ask_per_s: list[list[float]] = Field(default_factory=lambda: _qr_table(6.0), description="as limit_bid_per_s, the ask")
    cancel_bid_per_s: list[list[float]] = Field(default_factory=lambda: _qr_table(4.0), description="cancels at the best bid, per second, per state")
    cancel_ask_per_s: list[list[float]] = Field(default_factory=lambda: _qr_table(4.0), description="cancels at the best ask, per second, per state")
    inspread_bid_per_s: list[list[float]] = Field(
        default_factory=lambda: [[0.0] * 5] + [[20.0] * 5 for _ in range(3)], description="bids inside the spread "
        "(a new best bid), per second, per state (the one-tick row is not used)")
    inspread_ask_per_s: list[list[float]] = Field(
        default_factory=lambda: [[0.0] * 5] + [[20.0] * 5 for _ in range(3)], description="as inspread_bid_per_s, asks")
    limit_size_lots: list[float] = Field(default_factory=lambda: _qr_quantiles(5.0), description="quantiles of a limit order's size, lots")
    cancel_fraction: list[float] = Field(
        default_factory=lambda: [0.05, 0.06, 0.07, 0.08, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.0, 1.0,
                                 1.0, 1.0, 1.0], description="quantiles of the fraction of its queue a cancel takes, "
        "in (0, 1] (1: the queue empties)")
    inspread_size_lots: list[float] = Field(default_factory=lambda: _qr_quantiles(5.0), description="quantiles of the size of an order inside the spread, lots")
    market_take_queue_lots: list[float] = Field(
        [10.0, 20.0, 40.0, 80.0], description="upper bounds of the bins of the queue a market order hits, lots (the "
        "last bin has none)")
    market_take_probability: list[float] = Field(
        [0.5, 0.3, 0.15, 0.05, 0.02], description="probability a market order takes the whole queue it hits, per bin "
        "of that queue's size")
    market_sweep_lots: list[float] = Field(
        default_factory=lambda: _qr_quantiles(5.0), description="quantiles of how far an order that takes the whole "
        "queue goes beyond it, lots + 1 (into the queues behind)")
    market_size_over_queue: list[float] = Field(
        default_factory=lambda: [min(0.99, v) for v in _qr_quantiles(0.1)], description="quantiles of the size of an "
        "order that takes part of the queue, over the queue, in (0, 1)")
    market_rate_multiplier: list[float] = Field(
        [1.0] * 5, description="market orders' intensity multiplier per imbalance bin (ask-heavy to bid-heavy)")
    sweep_within_jump: bool = Field(
        False, description="a market order larger than the queue it hits ends at the new best (the rest prints there, "
        "its drawn queue kept): the recorded jump already spans the levels a sweep took. false: it goes on into the new "
        "queue, which may empty again (the jumps then compound)")
    chase_probability: float = Field(
        0.0, ge=0.0, le=0.99, description="probability that a market order which empties a queue is followed by "
        "another of its sign at the queue it uncovered (a chase); 0: off")
    chase_min_delay_ms: float = Field(0.0, ge=0.0, le=10_000.0, description="a chase's delay, least, ms")
    chase_mean_delay_ms: float = Field(
        5.0, gt=0.0, le=10_000.0, description="a chase's delay beyond the least, mean of an exponential, ms")
    chase_take_probability: float | None = Field(
        None, ge=0.0, le=1.0, description="probability that a chased order takes the whole queue it meets (and "
        "a recorded number of lots beyond); unset: by that queue's size, as any other order (market_take_probability)")
    gap_revert_multiplier: float = Field(
        1.0, ge=0.0, le=1000.0, description="while the spread is wider than a tick, the intensity multiplier of the "
        "orders inside it on the side whose best moved away last (the price going back); 1: as the state's rate")
    gap_follow_multiplier: float = Field(
        1.0, ge=0.0, le=1000.0, description="as gap_revert_multiplier, the other side's (the price following)")
    queue_bins_lots: list[float] = Field(
        default_factory=list, description="upper bounds of the bins of a best queue's size, lots (the last bin has "
        "none), for the *_queue_multiplier keys. Empty: off (the flows depend on the spread and imbalance alone)")
    market_queue_multiplier: list[float] = Field(
        default_factory=list, description="market orders' intensity multiplier per bin of the size of the queue they "
        "would hit (queue_bins_lots; one more than the bounds): a thin queue draws the orders that empty it. It "
        "stands for the imbalance's (market_rate_multiplier) and scales the Hawkes baseline only")
    limit_queue_multiplier: list[float] = Field(
        default_factory=list, description="limit orders' intensity multiplier per bin of the size of the queue they "
        "join (queue_bins_lots), on the spread-and-imbalance rate")
    cancel_queue_multiplier: list[float] = Field(
        default_factory=list, description="cancels' intensity multiplier per bin of the size of their queue "
        "(queue_bins_lots), on the spread-and-imbalance rate")
    market_buy_probability: list[float] = Field(
        default_factory=lambda: [0.3, 0.4, 0.5, 0.6, 0.7], description="probability a market order that does not "
        "follow its meta-order buys, per imbalance bin (ask-heavy to bid-heavy)")
    depletion_jump_ticks: list[float] = Field(
        default_factory=lambda: [1.0] * QR_QUANTILES, description="quantiles of how far the best moves away when its "
        "queue empties, ticks")
    refill_queue_lots: list[float] = Field(default_factory=lambda: _qr_quantiles(20.0), description="quantiles of the queue standing at the new best after a queue emptied, lots")
    refill_with_trend_lots: list[float] | None = Field(
        None, description="quantiles of the queue standing at the new best after a queue emptied in the trend's "
        "direction (the ask in a rising mid, the bid in a falling one; trend_window_ms), lots; unset: "
        "refill_queue_lots")
    improvement_fraction: list[float] = Field(
        default_factory=lambda: [1.0] * QR_QUANTILES, description="quantiles of how far into the spread an order "
        "inside it goes, as a fraction of (spread - 1 tick), in (0, 1]")
    hawkes_baseline_per_s: float = Field(1.0, ge=0.0, le=1e5, description="market orders' baseline intensity, per second")
    hawkes_branching: float = Field(0.5, ge=0.0, le=0.98, description="market orders' branching ratio (orders each one triggers on average; below 1)")
    hawkes_decay_per_s: float = Field(10.0, gt=0.0, le=1e5, description="decay of a market order's excitation, per second")
    sign_follow: float = Field(0.5, ge=0.0, le=1.0, description="probability a market order takes its meta-order's sign (else a coin's)")
    metaorder_tail: float = Field(1.5, gt=1.0, le=10.0, description="tail exponent alpha of meta-order lengths, P(L >= l) = l^-alpha")
    exchange1_price_step_ticks: int = Field(1, ge=1, le=1_000_000, description="Exchange 1's price step, ticks of market.tick_size")
    exchange1_feed_latency_ms: float = Field(0.0, ge=0.0, le=60_000.0, description="Exchange 1's events reach us this much after they happen, ms")
    trend_window_ms: float = Field(
        0.0, ge=0.0, le=60_000.0, description="the trend of Exchange 1's mid over this many ms (down, flat, up) is "
        "the third coordinate of the state, scaling every intensity (trend_flow_multiplier, "
        "trend_market_multiplier) and the market orders' side (trend_buy_probability); 0: no trend (the model of "
        "Huang, Lehalle and Rosenbaum alone)")
    trend_flow_multiplier: list[list[float]] = Field(
        default_factory=lambda: [[1.0] * 3 for _ in range(6)], description="each of the six flows' intensity "
        "multiplier in a falling, level and rising mid (a row per flow in the order limit bid, limit ask, cancel "
        "bid, cancel ask, inside the spread bid, ask; columns down, flat, up)")
    trend_market_multiplier: list[float] = Field(
        [1.0] * 3, description="market orders' intensity multiplier in a falling, level and rising mid")
    trend_buy_probability: list[list[float]] | None = Field(
        None, description="probability a market order not following its meta-order buys, per trend (rows down, "
        "flat, up) and imbalance bin (columns); a meta-order starting takes its sign from it too. Unset: "
        "market_buy_probability in every trend, meta-orders' signs a coin's")
    trend_take_probability: list[list[float]] | None = Field(
        None, description="probability a market order takes the whole queue it hits, per trend (rows down, flat, up) "
        "and bin of that queue's size (columns as market_take_probability); unset: market_take_probability in every "
        "trend")
    lead_ms: list[float] = Field(
        default_factory=lambda: [0.0] * QR_QUANTILES, description="quantiles of how much earlier Exchange 2's mid "
        "makes each move of Exchange 1's mid, ms (one draw per move; negative: later)")
    lead_at_trade_ms: list[float] | None = Field(
        None, description="quantiles of the lead, as lead_ms, for the moves of Exchange 1's mid made at a market "
        "order (its trade printed within a ms of the move): on the recordings the perpetual follows these rather "
        "than leads them (calibrate --split-leads estimates both from the two kinds of moves apart); None: every "
        "move's lead from lead_ms")
    lead_diffuse_share: float = Field(
        0.0, ge=0.0, le=1.0, description="the share of Exchange 1's moves that Exchange 2 makes at a lead drawn "
        "within +/- lead_diffuse_ms (by lead_diffuse_weights, else uniformly) instead of from lead_ms: the part of the "
        "venues' co-movement spread over many lags rather than concentrated on a few")
    lead_diffuse_ms: float = Field(100.0, ge=0.0, le=10_000.0, description="the half-width of the diffuse leads, ms")
    lead_diffuse_weights: list[float] | None = Field(
        None, description="the diffuse leads' weights, one per ms from -lead_diffuse_ms to +lead_diffuse_ms (2 x "
        "lead_diffuse_ms + 1 values, not negative, not all 0); None: uniform")
    lead_moves_per_s: float = Field(
        0.0, ge=0.0, le=1e5, description="Exchange 2 leading: its mid moves on its own this often, per second, and "
        "the trend of the state (trend_window_ms, which must then be set) is Exchange 2's mid's instead of Exchange "
        "1's: Exchange 1's flows react to the perpetual's moves. Its mid is then that path plus market.basis_mean_ticks "
        "(lead_ms, lead_at_trade_ms, lead_diffuse_*, basis_update_ms and the basis' reversion and volatility are not "
        "used). 0 (the default): off, Exchange 2 follows Exchange 1")
    lead_move_ticks: list[float] = Field(
        default_factory=lambda: [1.0] * QR_QUANTILES, description="quantiles of the size of one of Exchange 2's "
        "moves when it leads, Exchange 1 ticks")
    lead_repeat_probability: float = Field(
        0.0, ge=0.0, le=0.999, description="probability one of Exchange 2's moves (when it leads) repeats the "
        "direction of its last")
    lead_gap_ticks: float = Field(
        1.0, ge=0.0, le=1e9, description="Exchange 2's mid less the basis' mean against Exchange 1's mid: the gap "
        "within which lead_up_probability's middle value applies, Exchange 1 ticks")
    lead_pull_per_s: float = Field(
        0.0, ge=0.0, le=1e6, description="when Exchange 2 leads: Exchange 1 reprices towards it (the queue on the side "
        "Exchange 2's mid less the basis' mean stands on leaves, and the book moves towards a one-tick book around it "
        "by a recorded jump at most) at this rate per second per Exchange 1 tick of that gap beyond one tick (spot's "
        "makers reprice to the perpetual: the venues' basis stays bounded); 0: off")
    lead_follow_probability: float = Field(
        0.0, ge=0.0, le=1.0, description="when Exchange 2 leads: probability its mid moves in the direction of an "
        "Exchange 1 market order (after lead_follow_delay_ms on average, one such move pending at a time), as far as "
        "the order moved Exchange 1's best (a lead_move_ticks draw if it moved nothing), on top of its own "
        "lead_moves_per_s; 0: off")
    lead_follow_part_probability: float | None = Field(
        None, ge=0.0, le=1.0, description="as lead_follow_probability, for an Exchange 1 market order that does not "
        "take the whole queue it meets (lead_follow_probability is then for those that do: on the recordings the "
        "perpetual moves four times as far after those); unset: lead_follow_probability for every order")
    lead_reprice_other_queue: Literal["refill", "inside"] = Field(
        "refill", description="when Exchange 1 reprices towards a leading Exchange 2, the queue that stands at the new "
        "best on the side it moves away from: a refill's (refill_queue_lots: its makers reprice too; the default) or "
        "an order's inside the spread (inspread_size_lots)")
    lead_follow_delay_ms: float = Field(
        10.0, gt=0.0, le=10_000.0, description="the mean of that move's exponential delay after the order, ms")
    lead_up_probability: list[float] = Field(
        [0.5, 0.5, 0.5], description="probability a move of Exchange 2's (when it leads) that does not repeat the "
        "last is up, when its mid less the basis' mean is more than lead_gap_ticks below Exchange 1's, within, above")
    basis_update_ms: float = Field(
        100.0, ge=0.001, le=60_000.0, description="the basis (market.basis_*: an Ornstein-Uhlenbeck process of "
        "Exchange 2's mid minus Exchange 1's moves made lead_ms earlier) is drawn every this many ms")
    exchange2_price_step_ticks: int = Field(1, ge=1, le=1_000_000, description="Exchange 2's price step, ticks of market.tick_size (its spread is one step)")
    exchange2_lot_step_lots: int = Field(1, ge=1, le=10**9, description="Exchange 2's quantity step, lots of market.lot_size")
    exchange2_levels: int = Field(5, ge=1, le=200, description="Exchange 2's book levels printed each side")
    exchange2_level_lots: list[float] = Field(default_factory=lambda: _qr_quantiles(50.0), description="quantiles of an Exchange 2 level's size, lots")
    exchange2_feed_latency_ms: float = Field(0.0, ge=0.0, le=60_000.0, description="Exchange 2's events reach us this much after they happen, ms")

    @model_validator(mode="after")
    def _shapes(self) -> "QueueReactiveSection":
        edges = self.spread_bins_ticks
        if not edges or edges[0] != 1 or any(b <= a for a, b in zip(edges, edges[1:])) or len(edges) > 50:
            raise ValueError(f"spread_bins_ticks {edges}: allowed: increasing lower bounds starting at 1, at most 50")
        shape = (len(edges), self.imbalance_bins)
        for name in QR_FLOWS:
            table = getattr(self, f"{name}_per_s")
            if len(table) != shape[0] or any(len(row) != shape[1] for row in table):
                raise ValueError(f"{name}_per_s: {len(table)} rows of {[len(r) for r in table]}; allowed: {shape[0]} "
                                 f"rows (spread bins) of {shape[1]} (imbalance bins)")
            if any(not (0.0 <= v <= 1e6) or not math.isfinite(v) for row in table for v in row):
                raise ValueError(f"{name}_per_s: allowed: rates from 0 to 1e6 per second")
        for name in ("limit_size_lots", "cancel_fraction", "inspread_size_lots", "market_size_over_queue", "market_sweep_lots",
                     "depletion_jump_ticks", "refill_queue_lots", "refill_with_trend_lots", "improvement_fraction",
                     "exchange2_level_lots", "lead_move_ticks"):
            q = getattr(self, name)
            if q is None:
                continue
            if len(q) != QR_QUANTILES or any(b < a for a, b in zip(q, q[1:])) or q[0] <= 0 or q[-1] > 1e12:
                raise ValueError(f"{name}: {len(q)} values; allowed: {QR_QUANTILES} non-decreasing positive quantiles "
                                 "(at most 1e12)")
        up, take = self.market_take_queue_lots, self.market_take_probability
        if len(take) != len(up) + 1 or any(b < a for a, b in zip(up, up[1:])) or not all(0 <= p <= 1 for p in take):
            raise ValueError(f"market_take_queue_lots {up} / market_take_probability {take}: allowed: increasing bounds "
                             "and one probability in [0, 1] per bin (one more than the bounds)")
        up = self.queue_bins_lots
        tables = {name: getattr(self, name) for name in QUEUE_MULTIPLIERS}
        want = len(up) + 1 if up else 0
        if (any(len(m) != want for m in tables.values()) or any(b <= a for a, b in zip(up, up[1:]))
                or not all(0.0 <= v <= 1000.0 and math.isfinite(v) for m in tables.values() for v in m)
                or (up and not max(self.market_queue_multiplier) > 0) or (up and not up[0] > 0)):
            raise ValueError(f"queue_bins_lots {up} / " + " / ".join(f"{n} {m}" for n, m in tables.items())
                             + ": allowed: all empty (off), or positive increasing bounds and, in each of the "
                             "three, one multiplier from 0 to 1000 per bin (one more than the bounds; the market "
                             "orders' not all 0)")
        w = self.lead_diffuse_weights
        if w is not None and (len(w) != 2 * round(self.lead_diffuse_ms) + 1 or min(w) < 0 or not sum(w) > 0
                              or max(w) > 1e12):
            raise ValueError(f"lead_diffuse_weights: {len(w)} values; allowed: 2 x lead_diffuse_ms + 1 = "
                             f"{2 * round(self.lead_diffuse_ms) + 1} weights, not negative and not all 0, or none")
        if len(self.market_rate_multiplier) != self.imbalance_bins or not all(
                0.0 <= m <= 1000.0 for m in self.market_rate_multiplier):
            raise ValueError(f"market_rate_multiplier: {len(self.market_rate_multiplier)} values; allowed: one "
                             f"multiplier from 0 to 1000 per imbalance bin ({self.imbalance_bins})")
        if len(self.market_buy_probability) != self.imbalance_bins or not all(
                0.0 <= p <= 1.0 for p in self.market_buy_probability):
            raise ValueError(f"market_buy_probability: {len(self.market_buy_probability)} values; allowed: one "
                             f"probability in [0, 1] per imbalance bin ({self.imbalance_bins})")
        mult = self.trend_flow_multiplier
        if len(mult) != 6 or any(len(row) != 3 for row in mult) or not all(
                0.0 <= m <= 1000.0 and math.isfinite(m) for row in mult for m in row):
            raise ValueError(f"trend_flow_multiplier: {len(mult)} rows of {[len(r) for r in mult]}; allowed: 6 rows "
                             "(flows) of 3 multipliers (down, flat, up) from 0 to 1000")
        if len(self.trend_market_multiplier) != 3 or not all(
                0.0 <= m <= 1000.0 and math.isfinite(m) for m in self.trend_market_multiplier):
            raise ValueError(f"trend_market_multiplier: {len(self.trend_market_multiplier)} values; allowed: 3 "
                             "multipliers (down, flat, up) from 0 to 1000")
        buy = self.trend_buy_probability
        if buy is not None and (len(buy) != 3 or any(len(row) != self.imbalance_bins for row in buy)
                                or not all(0.0 <= p <= 1.0 for row in buy for p in row)):
            raise ValueError(f"trend_buy_probability: {len(buy)} rows of {[len(r) for r in buy]}; allowed: 3 rows "
                             f"(down, flat, up) of one probability in [0, 1] per imbalance bin ({self.imbalance_bins})")
        take = self.trend_take_probability
        if take is not None and (len(take) != 3 or any(len(row) != len(self.market_take_probability) for row in take)
                                 or not all(0.0 <= p <= 1.0 for row in take for p in row)):
            raise ValueError(f"trend_take_probability: {len(take)} rows of {[len(r) for r in take]}; allowed: 3 rows "
                             f"(down, flat, up) of one probability in [0, 1] per bin of market_take_probability "
                             f"({len(self.market_take_probability)})")
        for name in ("lead_ms", "lead_at_trade_ms"):
            q = getattr(self, name)
            if q is not None and (len(q) != QR_QUANTILES or any(b < a for a, b in zip(q, q[1:])) or q[0] < -10_000
                                  or q[-1] > 10_000):
                raise ValueError(f"{name}: {len(q)} values; allowed: {QR_QUANTILES} non-decreasing quantiles from "
                                 "-10000 to 10000 ms")
        up = self.lead_up_probability
        if len(up) != 3 or not all(0.0 <= p <= 1.0 for p in up):
            raise ValueError(f"lead_up_probability: {up}; allowed: 3 probabilities in [0, 1] (Exchange 2 below "
                             "Exchange 1 by more than lead_gap_ticks, within, above)")
        if self.lead_moves_per_s > 0 and not self.trend_window_ms > 0:
            raise ValueError(f"lead_moves_per_s {self.lead_moves_per_s:g} with trend_window_ms 0: Exchange 1 reacts "
                             "to Exchange 2's moves through the trend of the state; allowed: a trend window above 0 "
                             "ms, or lead_moves_per_s 0")
        for name in ("improvement_fraction", "cancel_fraction"):
            if getattr(self, name)[-1] > 1.0:
                raise ValueError(f"{name}: allowed: fractions in (0, 1]")
        if self.hawkes_baseline_per_s <= 0 and not any(v > 0 for n in QR_FLOWS for row in getattr(self, f"{n}_per_s")
                                                       for v in row):
            raise ValueError("queue_reactive: every rate is 0: nothing would ever happen; allowed: a positive rate")
        return self


QUEUE_MULTIPLIERS = ("market_queue_multiplier", "limit_queue_multiplier", "cancel_queue_multiplier")


class VenueFlowSection(_Section):
    """Zero-intelligence background participants (Smith-Farmer style) on one venue."""

    limit_rate_per_s: float = Field(8.0, ge=0.0, le=10_000.0, description="limit-order arrivals per side, per second")
    cancel_rate_per_order_per_s: float = Field(
        0.1, ge=0.0, le=1000.0, description="rate at which each resting order is cancelled, per second (Smith-Farmer)"
    )
    max_orders_per_side: int = Field(
        150, ge=1, le=100_000, description="cap on other participants' resting orders per side; arrivals beyond it are dropped"
    )
    market_rate_per_s: float = Field(1.0, ge=0.0, le=10_000.0, description="market-order arrivals per side, per second")
    mean_offset_ticks: float = Field(
        4.0, ge=1.0, le=20_000.0, description="mean distance of new limit orders from the venue price, ticks (geometric)"
    )
    max_depth_ticks: int = Field(
        40, ge=2, le=20_000, description="orders further than this from the venue price are withdrawn, ticks"
    )
    mean_limit_size_lots: float = Field(10.0, ge=1.0, le=1e6, description="mean limit-order size, lots (geometric)")
    mean_market_size_lots: float = Field(5.0, ge=1.0, le=1e6, description="mean market-order size, lots (geometric)")
    initial_depth_lots: int = Field(20, ge=0, le=1_000_000, description="lots seeded at every level within max depth at t=0")


def _venue2_default() -> VenueFlowSection:
    # The hedge venue is deeper and more liquid than the quoting venue.
    return VenueFlowSection(
        limit_rate_per_s=15.0,
        cancel_rate_per_order_per_s=0.1,
        max_orders_per_side=250,
        market_rate_per_s=2.0,
        mean_offset_ticks=3.0,
        mean_limit_size_lots=30.0,
        mean_market_size_lots=10.0,
        initial_depth_lots=60,
    )


class ClientFlowSection(_Section):
    """Client market orders on Exchange 1 (on top of the background participants' market orders)."""

    rate_per_s: float = Field(1.0, ge=0.0, le=10_000.0, description="client market orders per second (Poisson)")
    mean_size_lots: float = Field(2.0, ge=1.0, le=1e6, description="mean client order size, lots (geometric)")
    informed_fraction: float = Field(
        0.2, ge=0.0, le=1.0, description="share of client orders that trade in the direction of the next price move"
    )
    informed_horizon_s: float = Field(2.0, gt=0.0, le=3600.0, description="how far ahead informed clients see, seconds")
    toxic_windows_s: Windows = Field(
        default_factory=list, description="[start, end) seconds with an extra burst of informed (toxic) client orders"
    )
    toxic_rate_per_s: float = Field(5.0, ge=0.0, le=10_000.0, description="extra informed client orders per second in a toxic window")
    toxic_mean_size_lots: float = Field(4.0, ge=1.0, le=1e6, description="mean size of toxic client orders, lots (geometric)")

    @model_validator(mode="after")
    def _windows_ordered(self) -> "ClientFlowSection":
        _check_windows("toxic", self.toxic_windows_s)
        return self


class LatencySection(_Section):
    """Latency of sending a hedge to Exchange 2 (lognormal with occasional spikes) and of order entry
    and cancels on Exchange 1 (lognormal)."""

    hedge_median_ms: float = Field(50.0, ge=0.0, le=60_000.0, description="median hedge latency, milliseconds")
    hedge_sigma: float = Field(0.4, ge=0.0, le=5.0, description="lognormal shape of hedge latency (log-space std)")
    spike_probability: float = Field(
        0.001, ge=0.0, le=1.0, description="probability per tick that a latency spike starts"
    )
    spike_multiplier: float = Field(10.0, ge=1.0, le=10_000.0, description="latency multiplier during a spike")
    spike_duration_s: float = Field(1.0, ge=0.0, le=3600.0, description="length of a latency spike, seconds")
    hedge_reject_probability: float = Field(
        0.0, ge=0.0, le=1.0, description="probability that Exchange 2 rejects a hedge attempt"
    )
    outage_windows_s: Windows = Field(
        default_factory=list, description="[start, end) windows in seconds during which Exchange 2 rejects all hedges"
    )
    spike_windows_s: Windows = Field(
        default_factory=list, description="[start, end) seconds of forced hedge-latency spikes (x spike_multiplier)"
    )
    order_median_ms: float = Field(
        20.0, ge=0.0, le=60_000.0,
        description="median latency of an Exchange 1 order or cancel, milliseconds; up to one tick is the "
        "implicit one-tick order entry, each further tick leaves a cancelled quote exposed to one more tick of flow",
    )
    order_sigma: float = Field(0.3, ge=0.0, le=5.0, description="lognormal shape of Exchange 1 order latency")
    order_spike_windows_s: Windows = Field(
        default_factory=list, description="[start, end) seconds of Exchange 1 order-latency spikes (x spike_multiplier)"
    )

    @model_validator(mode="after")
    def _windows_ordered(self) -> "LatencySection":
        _check_windows("outage", self.outage_windows_s)
        _check_windows("spike", self.spike_windows_s)
        _check_windows("order_spike", self.order_spike_windows_s)
        return self


class QuotingSection(_Section):
    model: Literal["linear", "avellaneda_stoikov", "avellaneda_stoikov_symmetric"] = Field(
        "linear",
        description="quote model; avellaneda_stoikov_symmetric is the paper's benchmark: the same spread, "
        "centred on the reference, no inventory skew",
    )
    fill_model: Literal["book", "intensity"] = Field(
        "book",
        description="'book': client and background orders match our quotes in Exchange 1's order book; "
        "'intensity': Avellaneda-Stoikov fills with probability A*exp(-k*delta)*dt per quote",
    )
    reference: Literal["exchange2", "exchange1", "blend"] = Field(
        "exchange2", description="price feed the quotes are centred on (blend = average of both)"
    )
    size_lots: int = Field(2, ge=1, le=1_000_000, description="quote size per side, lots (market.lot_size base units)")
    size_base: float | None = Field(
        None, gt=0.0, le=1e9, description="quote size per side in base units (e.g. BTC); replaces size_lots when set")
    size_quote: float | None = Field(
        None, gt=0.0, le=1e12, description="quote size per side as notional in the quote currency at the run's first "
        "price (e.g. 100 USD), rounded to whole lot steps of the hedge venue; replaces size_lots when set")
    half_spread_ticks: float = Field(1.0, ge=0.0, le=10_000.0, description="base half-spread (linear model), ticks")
    half_spread_bps: float | None = Field(
        None, ge=0.0, le=10_000.0, description="base half-spread in basis points of the run's first price, rounded to "
        "whole ticks; replaces half_spread_ticks when set")
    vol_spread_multiplier: float = Field(
        0.5, ge=0.0, le=1000.0, description="extra half-spread per unit of estimated volatility over vol_horizon_s (linear)"
    )
    drift_spread_multiplier: float = Field(
        0.5, ge=0.0, le=1000.0, description="extra half-spread per tick of estimated drift over vol_horizon_s (linear)"
    )
    volatility: Literal["ewma", "known"] = Field(
        "ewma",
        description="volatility the quotes use: 'ewma' estimates it from the reference feed (vol_halflife_s); "
        "'known' takes market.volatility_per_sqrt_s as given (the Avellaneda-Stoikov set-up)",
    )
    vol_horizon_s: float = Field(1.0, gt=0.0, le=3600.0, description="horizon over which volatility widens the spread, seconds")
    vol_halflife_s: float = Field(5.0, gt=0.0, le=86_400.0, description="EWMA half-life of the volatility estimate, seconds")
    skew_ticks_per_lot: float = Field(
        0.2, ge=0.0, le=1000.0, description="quote shift per lot of inventory (linear), ticks"
    )
    skew_bps_at_soft_limit: float | None = Field(
        None, ge=0.0, le=10_000.0, description="quote shift when the inventory reaches risk's soft position limit, "
        "basis points of the run's first price (linear in between); replaces skew_ticks_per_lot when set")
    skew_inventory: Literal["exchange1", "net"] = Field(
        "exchange1", description="inventory that skews quotes: Exchange 1 position or net delta"
    )
    basis_halflife_s: float = Field(
        0.0, ge=0.0, le=86_400.0,
        description="with reference exchange2 or blend: the Exchange 2 price is moved by an EWMA of the basis "
        "(feed2 - feed1) with this half-life, seconds, so quotes sit around Exchange 1's level; 0 = no correction",
    )
    requote_tolerance_ticks: int = Field(
        1, ge=0, le=1000, description="keep a resting quote (and its queue place) while within this many ticks of target"
    )
    requote_tolerance_bps: float | None = Field(
        None, ge=0.0, le=10_000.0, description="requote tolerance in basis points of the run's first price, rounded "
        "to whole ticks; replaces requote_tolerance_ticks when set")
    # Defaults sized for the default market (price 100, tick 0.01, sigma 0.02 per sqrt(s)): fills decay
    # over about a tick (k = 100 per currency), so the spread term (2/gamma) ln(1 + gamma/k) is about two
    # ticks, and the inventory term gamma sigma^2 tau over a one-minute horizon skews about 1.2 ticks per
    # lot. The paper's market (sigma 2, k 1.5) is the preset avellaneda_stoikov_2008.
    as_gamma: float = Field(0.5, gt=0.0, le=1000.0, description="Avellaneda-Stoikov risk aversion, 1/currency")
    as_k: float = Field(100.0, gt=0.0, le=1e6, description="order-arrival decay k, 1/currency")
    as_horizon_s: float = Field(
        60.0, ge=0.0, le=1e9, description="T-t used by Avellaneda-Stoikov, seconds; 0 = time left in the run"
    )
    intensity_a_per_s: float = Field(140.0, ge=0.0, le=1e6, description="intensity model A, fills per second at distance 0")
    intensity_k: float = Field(1.5, gt=0.0, le=1e6, description="intensity model k, 1/currency")
    intensity_timing: Literal["before_move", "after_move"] = Field(
        "before_move",
        description="intensity model: the mid a step's fill distance is measured from. 'before_move' (the "
        "Avellaneda-Stoikov paper as we read it): the mid the quotes were set from, then the price moves; "
        "'after_move': the mid after the step's move (the quotes meet the new price)",
    )


class HedgingSection(_Section):
    enabled: bool = Field(True, description="hedge Exchange 1 fills on Exchange 2")
    min_hedge_lots: int = Field(1, ge=1, le=1_000_000, description="pending hedges are batched until at least this size, lots")
    remainder: Literal["wait", "round"] = Field(
        "wait",
        description="what a hedge does with lots below the hedge venue's lot step: 'wait' (the default) sends whole "
        "steps and keeps the rest for later fills; 'round' sends the nearest whole number of steps (up when more "
        "than half a step is left) and carries the difference as naked exposure, netted by later fills",
    )
    slippage_buffer_ticks: int = Field(
        20, ge=0, le=100_000, description="hedge limit price = touch +/- this buffer; the rest is retried, ticks"
    )
    slippage_buffer_bps: float | None = Field(
        None, ge=0.0, le=10_000.0, description="the hedge's slippage buffer in basis points of the run's first price, "
        "rounded to whole ticks; replaces slippage_buffer_ticks when set")
    retry_backoff_s: float = Field(0.2, ge=0.0, le=3600.0, description="wait before retrying an unfilled hedge, seconds")
    max_retries: int = Field(5, ge=0, le=10_000, description="failed attempts of one hedge before it escalates")
    escalation: Literal["kill", "flatten_at_market", "keep_retrying"] = Field(
        "kill",
        description="after max_retries failed attempts: 'kill' fires the kill switch; 'flatten_at_market' sends "
        "the rest as market orders (and kills if those fail max_retries times too); 'keep_retrying' only counts it",
    )
    exposure_threshold_lots: int = Field(
        0, ge=0, le=10_000_000,
        description="|net delta| above this counts as unhedged exposure in the metrics, lots (0: any naked lot)",
    )


class RiskSection(_Section):
    soft_position_lots: int = Field(20, ge=1, le=10_000_000, description="Exchange 1 position at which the adding side shrinks, lots")
    hard_position_lots: int = Field(40, ge=1, le=10_000_000, description="Exchange 1 position at which the adding side stops, lots")
    soft_position_base: float | None = Field(
        None, gt=0.0, le=1e9, description="the soft position limit in base units; replaces soft_position_lots when set")
    soft_position_quote: float | None = Field(
        None, gt=0.0, le=1e12, description="the soft position limit as notional in the quote currency at the run's "
        "first price, rounded to whole lot steps of the hedge venue; replaces soft_position_lots when set")
    hard_position_base: float | None = Field(
        None, gt=0.0, le=1e9, description="the hard position limit in base units; replaces hard_position_lots when set")
    hard_position_quote: float | None = Field(
        None, gt=0.0, le=1e12, description="the hard position limit as notional in the quote currency at the run's "
        "first price, rounded to whole lot steps of the hedge venue; replaces hard_position_lots when set")
    soft_size_factor: float = Field(0.5, ge=0.0, le=1.0, description="quote size multiplier on the adding side beyond the soft limit")
    max_loss_window: float = Field(
        50.0, gt=0.0, le=1e12,
        description="drawdown from the PnL peak within the rolling window (at least the loss over the window) that "
        "pauses quoting, currency",
    )
    loss_window_s: float = Field(60.0, gt=0.0, le=1e7, description="rolling window for the loss limit, seconds")
    cooldown_s: float = Field(30.0, ge=0.0, le=1e7, description="pause length after the loss limit fires, seconds")
    kill_latency_ms: float = Field(
        3000.0, gt=0.0, le=1e9, description="measured hedge-venue latency above which the kill switch fires, milliseconds"
    )
    kill_drawdown: float = Field(
        200.0, gt=0.0, le=1e12,
        description="drawdown of total PnL from its running peak (since the start or the last kill reset) that "
        "fires the kill switch, currency",
    )
    stale_feed_s: float = Field(
        3.0, gt=0.0, le=1e7,
        description="pause quoting while the reference price feed has not changed for this long, seconds",
    )
    depth_check: bool = Field(
        True,
        description="shrink or pull a quote side whose fill Exchange 2's book could not absorb within the hedge "
        "slippage buffer (after hedges already pending)",
    )

    @model_validator(mode="after")
    def _limits_ordered(self) -> "RiskSection":
        carried = (self.soft_position_base, self.soft_position_quote, self.hard_position_base, self.hard_position_quote)
        # a limit given in base units or notional replaces its lots at the run's first price, where the order is
        # checked again (backtest.resolve.resolve_units): the lots it replaces mean nothing here
        if all(v is None for v in carried) and self.soft_position_lots > self.hard_position_lots:
            raise ValueError(
                f"soft_position_lots ({self.soft_position_lots}) must be <= hard_position_lots ({self.hard_position_lots})"
            )
        return self


class FeesSection(_Section):
    maker_bps_exchange1: float = Field(-0.5, ge=-100.0, le=100.0, description="maker fee on Exchange 1, bps (negative = rebate)")
    taker_bps_exchange2: float = Field(2.0, ge=-100.0, le=100.0, description="taker fee on Exchange 2, bps")


class SimConfig(_Section):
    """Everything that defines a run. Same config (including seed) -> same result, bit for bit."""

    sim: SimSection = Field(default_factory=SimSection)
    market: MarketSection = Field(default_factory=MarketSection)
    exchange1: VenueFlowSection = Field(default_factory=VenueFlowSection)
    exchange2: VenueFlowSection = Field(default_factory=_venue2_default)
    clients: ClientFlowSection = Field(default_factory=ClientFlowSection)
    latency: LatencySection = Field(default_factory=LatencySection)
    quoting: QuotingSection = Field(default_factory=QuotingSection)
    hedging: HedgingSection = Field(default_factory=HedgingSection)
    risk: RiskSection = Field(default_factory=RiskSection)
    fees: FeesSection = Field(default_factory=FeesSection)
    replay: ReplaySection = Field(default_factory=ReplaySection)
    queue_reactive: QueueReactiveSection = Field(default_factory=QueueReactiveSection)

    @model_validator(mode="after")
    def _runnable(self) -> "SimConfig":
        """Cross-field checks: the price grid fits the kernel's integer ticks, and the books' margin fits
        below the initial price. (Whether a seed's random walk later reaches zero is only known once it is
        drawn: ``generate`` says so then; ``config_warnings`` warns when it is likely.)"""
        mk = self.market
        if mk.source in ("replay", "queue_reactive"):
            if mk.exchange2_instrument != "linear":
                raise ValueError(f"market.exchange2_instrument {mk.exchange2_instrument!r}: "
                                 + ("a replay takes each venue's instrument from its recording (`data import "
                                    "--instrument-kind` sets it)" if mk.source == "replay" else
                                    "the queue-reactive market's Exchange 2 is a linear contract (an inverse one is "
                                    "not modelled)")
                                 + f"; allowed: 'linear' (the default) when market.source = '{mk.source}'")
            missing = [k for k in ("exchange1", "exchange2") if not getattr(self.replay, k)]
            if mk.source == "replay" and missing:
                raise ValueError(f"market.source = 'replay' needs replay.{' and replay.'.join(missing)}: a recording "
                                 "per venue (see the preset replay_binance_btcusdt_20240808)")
            if self.quoting.fill_model != "book":
                raise ValueError("quoting.fill_model 'intensity' draws fills from a model; a replay fills our orders "
                                 f"from the {'recording' if mk.source == 'replay' else 'printed book'}: use "
                                 "fill_model 'book'")
            if mk.source == "queue_reactive" and mk.initial_price / mk.tick_size > MAX_PRICE_TICKS:
                raise ValueError(f"market.initial_price / market.tick_size = {mk.initial_price / mk.tick_size:.4g} "
                                 f"ticks; allowed: at most {MAX_PRICE_TICKS:,} (prices are 32-bit tick counts)")
            every = self.replay.decision_interval_ms / (self.sim.dt_s * 1000.0)
            if self.replay.decision_interval_ms > 0 and abs(every - round(every)) > 1e-6 * max(1.0, every):
                raise ValueError(f"replay.decision_interval_ms {self.replay.decision_interval_ms:g} is not a whole "
                                 f"number of ticks of sim.dt_s {self.sim.dt_s:g} s; allowed: 0 or a multiple of "
                                 f"{self.sim.dt_s * 1000.0:g}")
            return self
        replay_only = [f"replay.{k} {getattr(self.replay, k):g}" for k in ("response_latency_ms", "decision_interval_ms")
                       if getattr(self.replay, k) > 0]
        if replay_only:
            raise ValueError(f"{' and '.join(replay_only)}: the synthetic market's kernel has no such delay; allowed: "
                             "0 unless market.source = 'replay'")
        price_ticks = mk.initial_price / mk.tick_size
        if price_ticks > MAX_PRICE_TICKS:
            raise ValueError(
                f"market.initial_price / market.tick_size = {price_ticks:.4g} ticks; allowed: at most "
                f"{MAX_PRICE_TICKS:,} (prices are 32-bit tick counts): raise tick_size or lower initial_price")
        margin = book_margin_price(self)
        if mk.initial_price <= margin:
            raise ValueError(
                f"market.initial_price {mk.initial_price:g} leaves no room for the order books below it: they "
                f"span max_depth_ticks + 64 ticks (+ any negative basis) = {margin:g} under the price; allowed: "
                f"initial_price above {margin:g}, or a smaller market.tick_size")
        return self

    @model_validator(mode="after")
    def _record_grid(self) -> "SimConfig":
        every = self.sim.record_every_ms / (self.sim.dt_s * 1000.0)
        if self.sim.record_every_ms > 0 and (every < 1 - 1e-9 or abs(every - round(every)) > 1e-6 * every):
            raise ValueError(f"sim.record_every_ms {self.sim.record_every_ms:g} is not a whole number of ticks of "
                             f"sim.dt_s {self.sim.dt_s:g} s; allowed: 0 (every tick) or a multiple of "
                             f"{self.sim.dt_s * 1000.0:g}")
        if self.replay.chunk_s > 0 and self.market.source != "replay":
            raise ValueError(f"replay.chunk_s {self.replay.chunk_s:g}: chunks cut a recording; allowed: 0 unless "
                             "market.source = 'replay'")
        return self

    @property
    def record_every_ticks(self) -> int:
        """Ticks per row of the ticks frame (``sim.record_every_ms``; 1 = every tick)."""
        if self.sim.record_every_ms <= 0:
            return 1
        return max(1, round(self.sim.record_every_ms / (self.sim.dt_s * 1000.0)))

    # -- convenience -------------------------------------------------------------------------
    def with_overrides(self, overrides: dict[str, Any]) -> "SimConfig":
        """A new config with nested ``overrides`` applied (``{"sim": {"ticks": 500}}``), validated. A setting
        has one value in one unit: overriding it in one unit (``half_spread_ticks``) drops the value it had in
        another (``half_spread_bps``); giving both at once is an error."""
        from backtest.units import unit_conflicts, drop_replaced_units

        bad = unit_conflicts(overrides)
        if bad:
            raise ConfigError(bad)
        merged = drop_replaced_units(_deep_merge(self.model_dump(), overrides), overrides)
        return SimConfig.model_validate(merged)

    def with_dotted(self, assignments: dict[str, Any]) -> "SimConfig":
        """A new config with ``{"quoting.size_lots": 3}`` style assignments applied, validated."""
        return self.with_overrides(dotted_to_nested(assignments))


def book_margin_price(config: SimConfig) -> float:
    """Price room the books need below the venue price, currency (see ``backtest.markets.generate``)."""
    mk = config.market
    return (max(config.exchange1.max_depth_ticks, config.exchange2.max_depth_ticks) + 64
            + max(0.0, -mk.basis_mean_ticks)) * mk.tick_size


def price_wander(config: SimConfig, sds: float) -> float:
    """``sds`` standard deviations of the fair value's random walk over the run (with the high-volatility
    regime's share) plus any downward drift, currency."""
    mk = config.market
    horizon = config.sim.ticks * config.sim.dt_s
    sigma = mk.volatility_per_sqrt_s
    if mk.regime_switch_per_s > 0:  # half the time in each regime on average
        sigma *= ((1.0 + mk.high_vol_multiplier**2) / 2.0) ** 0.5
    return sds * sigma * horizon**0.5 + max(0.0, -mk.drift_per_s) * horizon


def config_warnings(config: SimConfig) -> list[str]:
    """Settings that run but probably do not do what the user wants (printed, not refused)."""
    out = []
    named = [k for k in ("exchange1", "exchange2") if getattr(config.replay, k)]
    if config.market.source == "synthetic" and named:
        out.append(f"replay.{' and replay.'.join(named)} name a recording, but market.source is 'synthetic': the run "
                   "is on the generated market and the recording is not used (set market.source = 'replay' to "
                   "replay it)")
    room = config.market.initial_price - book_margin_price(config)
    if config.market.source == "synthetic" and price_wander(config, 2.0) > room:
        out.append(
            f"over this run the arithmetic random walk's standard deviation is {price_wander(config, 1.0):,.4g}, "
            f"against {room:,.4g} of room above zero: many seeds' price paths will reach zero, which stops the "
            "run with an error; raise market.initial_price or run fewer ticks")
    q = config.quoting
    if q.model != "linear" and q.fill_model == "book":
        sigma = config.market.volatility_per_sqrt_s
        tau = q.as_horizon_s if q.as_horizon_s > 0 else config.sim.ticks * config.sim.dt_s
        half = 0.5 * (q.as_gamma * sigma**2 * tau + (2.0 / q.as_gamma) * math.log1p(q.as_gamma / q.as_k))
        half_ticks = half / config.market.tick_size
        depth = config.exchange1.max_depth_ticks
        if half_ticks > depth:
            out.append(
                f"the Avellaneda-Stoikov half-spread at the start is {half_ticks:,.0f} ticks, beyond Exchange 1's "
                f"book (max_depth_ticks {depth}): expect few or no fills. quoting.as_k is in 1/currency (fills "
                f"decay over 1/k currency: {1 / q.as_k:g} here, {1 / q.as_k / config.market.tick_size:,.0f} ticks) "
                "and quoting.as_gamma in 1/currency; the defaults fit the default market")
    return out


class ConfigError(ValueError):
    """A config that does not validate; ``str()`` names each key, its value and what is allowed."""

    def __init__(self, problems: list[str], heading: str = "invalid config"):
        self.problems = problems
        self.heading = heading
        super().__init__(f"{heading}:\n  " + "\n  ".join(problems))


def describe_validation_error(err: ValidationError) -> list[str]:
    """Turn pydantic's errors into lines naming the dotted key, the value and the allowed range."""
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(root)"
        kind = e["type"]
        value = e.get("input")
        ctx = e.get("ctx") or {}
        if kind == "value_error" and isinstance(value, dict):
            # a check across fields: its message names the keys; the input is a whole section or config
            lines.append(f"{key}: {str(ctx.get('error', e['msg']))}")
            continue
        if kind == "extra_forbidden":
            parent = _model_at(tuple(e["loc"][:-1]))
            allowed = ", ".join(parent.model_fields) if parent else "see the documented keys"
            lines.append(f"{key}: unknown key; allowed keys here: {allowed}")
            continue
        bounds = []
        for name, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if name in ctx:
                bounds.append(f"{sym} {ctx[name]}")
        allowed = ""
        if bounds:
            allowed = f"; allowed: {' and '.join(bounds)}"
        elif "expected" in ctx:
            allowed = f"; allowed: {ctx['expected']}"
        shown = repr(value)
        if len(shown) > MAX_SHOWN_VALUE:  # an error never echoes a huge input back
            shown = shown[:MAX_SHOWN_VALUE] + f"... ({len(shown):,} characters)"
        lines.append(f"{key}: {e['msg']} (got {shown}){allowed}")
    return lines


MAX_SHOWN_VALUE = 200


def _model_at(loc: tuple) -> type[BaseModel] | None:
    model: type[BaseModel] = SimConfig
    for part in loc:
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        ann = field.annotation
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return None
        model = ann
    return model


def make_config(data: dict[str, Any] | None = None, **dotted: Any) -> SimConfig:
    """Validated config from nested ``data`` plus dotted keyword overrides; raises ConfigError."""
    try:
        cfg = SimConfig.model_validate(data or {})
        if dotted:
            cfg = cfg.with_dotted(dotted)
        return cfg
    except ValidationError as err:
        raise ConfigError(describe_validation_error(err)) from None


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without aliases: a config has no use for them, and nested aliases expand exponentially (a 367-byte
    file took 76 s and 11 GB). Refused before anything is expanded."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, f"an alias (*{event.anchor}): aliases are not allowed in a "
                                              "config; write the value out", event.start_mark)
        return super().compose_node(parent, index)


def load_config(path: str | Path, base: SimConfig | None = None) -> SimConfig:
    """Read a TOML or YAML file of overrides on top of ``base`` (defaults if None)."""
    path = Path(path)
    data = _read_config_data(path)
    if isinstance(data, dict) and "assets" in data:
        raise ConfigError([f"{path}: a portfolio config (it has an [[assets]] list): run it with "
                           "`python -m backtest portfolio --config FILE`"])
    base = base or SimConfig()
    try:
        return base.with_overrides(data)
    except ValidationError as err:
        raise ConfigError(describe_validation_error(err)) from None


def _read_config_data(path: Path) -> dict[str, Any]:
    """A config file's tables as nested data (TOML, YAML, or JSON: a config or `run --json` output's config);
    ConfigError when it cannot be read or parsed."""
    if not path.exists():
        raise ConfigError([f"{path}: no such file"])
    if not path.is_file():
        raise ConfigError([f"{path}: not a file (a directory?); give a .toml or .yaml file"])
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError([f"{path}: not UTF-8 text ({err.reason} at byte {err.start}); config files are "
                           "TOML or YAML in UTF-8"]) from None
    except OSError as err:
        raise ConfigError([f"{path}: cannot read: {err.strerror}"]) from None
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.load(text, Loader=_NoAliasLoader) or {}
        elif path.suffix.lower() == ".json":
            import json

            data = json.loads(text)
            if isinstance(data, dict) and isinstance(data.get("config"), dict):  # `run --json` output: its config
                from backtest.units import drop_resolved_kernel_keys

                data = drop_resolved_kernel_keys(data["config"])
        else:
            raise ConfigError([f"{path}: unknown config format {path.suffix!r}; allowed: .toml, .yaml, .yml, .json "
                               "(a config, or the output of `run --json`)"])
    except (tomllib.TOMLDecodeError, yaml.YAMLError, ValueError) as err:
        raise ConfigError([f"{path}: cannot parse: {err}"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: top level must be a table of sections, got {type(data).__name__}"])
    return data


def config_to_toml(config: SimConfig, comments: dict[str, str] | None = None, header: str = "") -> str:
    """The whole config as TOML that ``load_config`` (``--config``) reads back to an equal config; ``comments``
    by dotted key are written after their values, ``header`` lines at the top."""
    from backtest.units import UNIT_GROUPS

    comments = comments or {}
    dump = config.model_dump(mode="json")
    # a setting given in a unit that carries is written in that unit only (the kernel key it resolved to as a
    # comment), so the file reads back as one value in one unit; unset alternatives (None) are left out
    carried = {kernel: next(k for k in alts if dump[k.split(".")[0]][k.split(".")[1]] is not None)
               for kernel, alts in UNIT_GROUPS.items()
               if any(dump[k.split(".")[0]][k.split(".")[1]] is not None for k in alts)}
    lines = [f"# {line}" for line in header.splitlines()] + [""] if header else []
    for section, values in dump.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            dotted = f"{section}.{key}"
            if value is None:
                continue
            note = comments.get(dotted)
            if dotted in carried:
                lines.append(f"# {key} = {_toml_value(value)}  (from {carried[dotted]} at the run's first price)")
                continue
            lines.append(f"{key} = {_toml_value(value)}" + (f"  # {note}" if note else ""))
        lines.append("")
    return "\n".join(lines)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def dotted_to_nested(assignments: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for dotted, value in assignments.items():
        parts = dotted.split(".")
        node = nested
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError([f"{dotted}: {p} is a value, not a section"])
        node[parts[-1]] = value
    return nested


def _deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


# -- presets ---------------------------------------------------------------------------------
def preset(name: str) -> SimConfig:
    """Named scenarios. ``avellaneda_stoikov_2008`` reproduces the paper's numerical experiment:
    S0=100, sigma=2 per unit time, T=1, dt=0.005, gamma=0.1, k=1.5, A=140, one-lot quotes, no hedge.
    It has 201 ticks: tick 0 is t=0 and tick 200 is T, so there are the paper's 200 steps, each one a
    fill draw against the mid the quotes were set from, then a price move (see the kernel's step 3)."""
    if name == "default":
        return SimConfig()
    if name == "avellaneda_stoikov_2008":
        return make_config(
            {
                "sim": {"ticks": 201, "dt_s": 0.005},
                "market": {
                    "initial_price": 100.0,
                    "tick_size": 0.0001,
                    "volatility_per_sqrt_s": 2.0,
                    "high_vol_multiplier": 1.0,
                    "regime_switch_per_s": 0.0,
                    "basis_vol_ticks_per_sqrt_s": 0.0,
                    "basis_reversion_per_s": 0.0,
                },
                "clients": {"rate_per_s": 0.0},
                "quoting": {
                    "model": "avellaneda_stoikov",
                    "fill_model": "intensity",
                    "reference": "exchange1",
                    "size_lots": 1,
                    "as_gamma": 0.1,
                    "as_k": 1.5,
                    "as_horizon_s": 0.0,
                    "intensity_a_per_s": 140.0,
                    "intensity_k": 1.5,
                    "skew_inventory": "exchange1",
                    # the paper's sigma is known to the dealer
                    "volatility": "known",
                },
                "hedging": {"enabled": False},
                "latency": {"spike_probability": 0.0},
                "risk": {"soft_position_lots": 1_000_000, "hard_position_lots": 1_000_000, "max_loss_window": 1e12},
                "fees": {"maker_bps_exchange1": 0.0, "taker_bps_exchange2": 0.0},
            }
        )
    if name == REPLAY_PRESET:
        return make_config(REPLAY_BINANCE)
    if name == REPLAY_ETH_PRESET:
        return make_config(REPLAY_BINANCE_ETH)
    if name == REPLAY_COINM_PRESET:
        return make_config(REPLAY_BINANCE_COINM)
    if name in FAULT_PRESETS:
        return make_config(FAULT_PRESETS[name][1])
    raise ConfigError([f"preset {name!r} is unknown; allowed: {', '.join(PRESETS)}"])


def preset_description(name: str) -> str:
    """One line on what a preset runs."""
    if name in FAULT_PRESETS:
        return FAULT_PRESETS[name][0]
    return {
        "default": "the default synthetic market",
        "avellaneda_stoikov_2008": "the Avellaneda-Stoikov (2008) numerical experiment: 200 steps, no hedge",
        REPLAY_PRESET: "replay: Binance BTCUSDT spot quoted, USD-M perpetual hedged (2024-08-08, 344 s)",
        REPLAY_ETH_PRESET: "replay: Binance ETHUSDT spot quoted, USD-M perpetual hedged (2024-08-08, 344 s)",
        REPLAY_COINM_PRESET: "replay: Binance BTCUSDT spot quoted, COIN-M inverse perpetual hedged (2024-08-08, 343 s)",
    }[name]


# Fault scenarios: the default market with one thing going wrong, 3000 ticks (300 s), fault at 100 s.
FAULT_PRESETS: dict[str, tuple[str, dict]] = {
    "fault_hedge_outage": (
        "Exchange 2 rejects every hedge from 100 s to 160 s",
        {"sim": {"ticks": 3000}, "latency": {"outage_windows_s": [(100.0, 160.0)]}},
    ),
    "fault_latency_spike_exchange2": (
        "hedge latency x100 (about 5 s) from 100 s to 130 s",
        # the multiplier also scales the random spikes: those are off, so the window is the only fault
        {"sim": {"ticks": 3000},
         "latency": {"spike_windows_s": [(100.0, 130.0)], "spike_multiplier": 100.0, "spike_probability": 0.0}},
    ),
    "fault_latency_spike_exchange1": (
        "Exchange 1 order and cancel latency x25 (about 0.5 s, under the kill threshold) from 100 s to 160 s: "
        "cancels arrive late and stale quotes keep trading",
        {"sim": {"ticks": 3000},
         "latency": {"order_spike_windows_s": [(100.0, 160.0)], "spike_multiplier": 25.0, "spike_probability": 0.0}},
    ),
    "fault_thin_hedge_book": (
        "Exchange 2's book as thin as Exchange 1's quotes: few, small orders",
        {"sim": {"ticks": 3000},
         "exchange2": {"limit_rate_per_s": 1.5, "mean_limit_size_lots": 2.0, "initial_depth_lots": 1,
                       "max_orders_per_side": 20, "market_rate_per_s": 0.5, "mean_market_size_lots": 2.0},
         "quoting": {"size_lots": 4}},
    ),
    "fault_stale_feed2": (
        "the Exchange 2 feed the quotes are centred on freezes from 100 s to 160 s while the market moves",
        {"sim": {"ticks": 3000}, "market": {"feed2_stale_windows_s": [(100.0, 160.0)]}},
    ),
    "fault_toxic_burst": (
        "a burst of informed client orders (15 per second, 8 lots on average) from 100 s to 130 s",
        {"sim": {"ticks": 3000},
         # strong enough that the throttle below fires inside the burst on 8 of seeds 1-10 (README)
         "clients": {"toxic_windows_s": [(100.0, 130.0)], "toxic_rate_per_s": 15.0, "toxic_mean_size_lots": 8.0},
         # a loss throttle sized for this book (2-lot quotes): 0.3 currency of drawdown within 60 s
         "risk": {"max_loss_window": 0.3, "cooldown_s": 10.0}},
    ),
}

# The shipped recording (data/binance-btcusdt-2024-08-08): quote on Binance spot BTCUSDT, hedge on the USD-M
# perpetual. Prices in 0.01 (spot's tick; the perpetual's 0.1 is 10 of them), sizes in 1e-6 BTC (the spot
# capture's step; the perpetual's 0.001 BTC is 1000 of them), 1 ms ticks over the 344 s both cover. Fees are
# Binance's regular-user (VIP 0) rates of 2024: spot maker 0.1%, USD-M taker 0.05%.
REPLAY_PRESET = "replay_binance_btcusdt_20240808"
REPLAY_BINANCE = {
    "sim": {"ticks": 344_000, "dt_s": 0.001},
    "market": {"source": "replay", "tick_size": 0.01, "lot_size": 0.000001, "volatility_per_sqrt_s": 8.0},
    "replay": {"exchange1": "data/binance-btcusdt-2024-08-08/spot.jsonl.gz",
               "exchange2": "data/binance-btcusdt-2024-08-08/usdm.jsonl.gz"},
    # in units that carry to another symbol (backtest/units.py), chosen to be, at BTC's first price (61 837.6),
    # what the preset was first written in: 500 ticks (5 USD) half-spread, 50 ticks requote tolerance, 100 ticks
    # slippage buffer, 0.1 tick per lot of skew (5 USD at the soft limit), 0.001 BTC quotes, limits 0.005 and
    # 0.01 BTC. Pointed at ETH (2 683) they give 0.22 USD, 0.02, 0.04, 0.023 ETH, 0.112 and 0.224 ETH.
    "quoting": {"reference": "exchange2", "basis_halflife_s": 30.0, "size_quote": 62.0, "half_spread_bps": 0.808,
                "vol_spread_multiplier": 0.0, "drift_spread_multiplier": 0.0, "skew_bps_at_soft_limit": 0.808,
                "requote_tolerance_bps": 0.0808},
    "hedging": {"min_hedge_lots": 1000, "slippage_buffer_bps": 0.1616},
    "latency": {"hedge_median_ms": 20.0, "order_median_ms": 20.0, "spike_probability": 0.0},
    "risk": {"soft_position_quote": 300.0, "hard_position_quote": 600.0, "max_loss_window": 20.0,
             "kill_drawdown": 100.0},
    "fees": {"maker_bps_exchange1": 10.0, "taker_bps_exchange2": 5.0},
}

# The same strategy on ETH (data/binance-ethusdt-2024-08-08): nothing but the recordings changes, because the
# BTC preset's settings are in units that carry (bps, quote notional); the grid (0.01 USD, 1e-6 ETH) divides
# both venues' steps.
REPLAY_ETH_PRESET = "replay_binance_ethusdt_20240808"
REPLAY_BINANCE_ETH = {**REPLAY_BINANCE,
                      "replay": {"exchange1": "data/binance-ethusdt-2024-08-08/spot.jsonl.gz",
                                 "exchange2": "data/binance-ethusdt-2024-08-08/usdm.jsonl.gz"},
                      "market": {**REPLAY_BINANCE["market"], "volatility_per_sqrt_s": 0.3}}

# BTC spot hedged on the coin-margined perpetual BTCUSD_PERP (data/binance-btcusd-perp-2024-08-08, the same
# minutes): an inverse contract of 100 USD settled in BTC. Only the hedge recording changes, and the span: the
# COIN-M capture ends 0.6 s before the USD-M one. The 62 USD quote resolves to whole contracts (1 contract,
# 0.0016 BTC at the first price). COIN-M's regular-user taker fee of 2024 is 0.05%, as USD-M's.
REPLAY_COINM_PRESET = "replay_binance_btcusd_coinm_20240808"
REPLAY_BINANCE_COINM = {**REPLAY_BINANCE,
                        "sim": {**REPLAY_BINANCE["sim"], "ticks": 343_000},
                        "replay": {"exchange1": "data/binance-btcusdt-2024-08-08/spot.jsonl.gz",
                                   "exchange2": "data/binance-btcusd-perp-2024-08-08/coinm.jsonl.gz"}}

PRESETS = ("default", "avellaneda_stoikov_2008", *FAULT_PRESETS, REPLAY_PRESET, REPLAY_ETH_PRESET,
           REPLAY_COINM_PRESET)
