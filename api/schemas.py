"""Request bodies (validated strictly: an integer is an integer, a boolean a boolean) and response models;
units are in the field descriptions."""
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from backtest.config import PRESETS
from backtest.interventions import MAX_MANUAL_FILL_LOTS


def _whole_float_as_int(value):
    # JSON Schema counts 1.0 as an integer, so a client generated from the schema may send it; 1.5, "1" and
    # true stay refused (the field is strict)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole_float_as_int)]


class _Request(BaseModel):
    # strict: {"qty_lots": "2"}, {"running": "yes"}, {"seed": false} are refused, not coerced
    model_config = ConfigDict(extra="forbid", strict=True)


class ManualFill(_Request):
    side: Literal["buy", "sell"] = Field(description="buy = we buy on Exchange 1 (a client sold to us)")
    qty_lots: WholeNumber = Field(
        gt=0, le=MAX_MANUAL_FILL_LOTS,
        description="lots; at most the session's risk.hard_position_lots (checked against the running config)")
    price: float | None = Field(
        None, gt=0, allow_inf_nan=False,
        description="currency; on the tick grid, within 20% of the Exchange 1 price; default = our current quote")


class ResetRequest(_Request):
    seed: WholeNumber | None = Field(None, ge=0, le=2**63 - 1)
    config: dict[str, Any] | None = Field(None, description="overrides of the next-reset config, nested by section")
    preset: Literal[PRESETS] | None = Field(  # type: ignore[valid-type]  an enum in the schema: no unknown names
        None, description="start from a named scenario (GET /presets), e.g. fault_hedge_outage")


class StepRequest(_Request):
    ticks: WholeNumber = Field(gt=0, le=10_000_000, description="ticks to move the clock forward")


class ClockRequest(_Request):
    running: bool = Field(description="true: the clock advances in real time; false: it stands still")


# -- responses ---------------------------------------------------------------------------------------
class ErrorBody(BaseModel):
    """Every error answer: what is wrong, and details (which field, what is allowed)."""
    error: str
    details: list[Any]


class Health(BaseModel):
    status: str
    tick: int
    ticks: int
    running: bool = Field(description="the clock advances (started and not at the last tick)")
    finished: bool = Field(description="the clock is at the run's last tick: actions answer 409 until POST /reset")


class Summary(BaseModel):
    tick: int
    summary_full_run: dict[str, float | int | bool | None] = Field(description="see backtest.results.Results.summary_dict")


class Quotes(BaseModel):
    """Prices in currency (null = no quote / empty side), sizes in lots."""
    tick: int
    quote_bid_price: float | None
    quote_bid_lots: int
    bid_queue_ahead_lots: int
    quote_ask_price: float | None
    quote_ask_lots: int
    ask_queue_ahead_lots: int
    bid_in_flight_price: float | None
    ask_in_flight_price: float | None
    reference_price: float
    reservation_price: float
    half_spread_price: float
    best_bid1_price: float | None
    best_ask1_price: float | None
    best_bid2_price: float | None
    best_ask2_price: float | None
    feed1_price: float
    feed2_price: float
    skew_price: float


class Positions(BaseModel):
    tick: int
    asset: str
    exchange1_lots: int
    exchange2_lots: int = Field(description="Exchange 2's lots (contracts on an inverse contract)")
    exchange2_base_lots: float = Field(description="the hedge leg in lots of the base asset (README, Instruments)")
    net_delta_lots: int | float = Field(description="lots of the base asset; a whole number on a linear hedge venue")
    pending_hedge_lots: int
    soft_limit_lots: int
    hard_limit_lots: int
    exchange1_utilisation: float


class Pnl(BaseModel):
    """Currency."""
    tick: int
    currency: bool
    total_pnl: float
    realized_pnl: float
    unrealized_pnl: float
    fees: float
    spread_capture: float
    hedge_cost: float
    hedge_slippage: float
    hedge_latency_cost: float
    hedge_basis: float
    inventory_mtm: float


class PnlSeries(BaseModel):
    start: int
    end: int
    next_start: int | None = Field(description="start of the next page; null when this page reaches `end`")
    rows: list[dict[str, float | int | None]]


class Page(BaseModel):
    tick: int
    total: int
    offset: int
    limit: int
    rows: list[dict[str, Any]]


class RiskLimits(BaseModel):
    soft_position_lots: int
    hard_position_lots: int
    max_loss_window: float
    loss_window_s: float
    kill_latency_ms: float


class RiskStatus(BaseModel):
    tick: int
    state: str
    reason: str | None
    since_tick: int
    since_s: float


class Risk(RiskStatus):
    manual_pause: bool
    limits: RiskLimits


class ManualFillResult(BaseModel):
    tick: int
    fill: dict[str, Any]
    hedges: list[dict[str, Any]]
    position_after: dict[str, int | float] = Field(
        description="inv1_lots, inv2_lots (Exchange 2's lots: contracts on an inverse contract) and net_delta_lots "
        "(lots of the base asset: not a whole number on an inverse hedge venue)")
    pnl_after: float


class StepResult(BaseModel):
    tick: int


class ClockState(BaseModel):
    running: bool = Field(description="the clock advances (started and not at the last tick)")
    finished: bool = Field(description="the clock is at the run's last tick: actions answer 409 until POST /reset")
    tick: int


class ConfigState(BaseModel):
    current: dict[str, Any] = Field(description="the running session's config")
    next_reset: dict[str, Any] = Field(description="the config a plain POST /reset starts from")


class NextConfig(BaseModel):
    next_reset: dict[str, Any]
    memory_estimate_bytes: int


class Preset(BaseModel):
    name: str
    description: str


class Presets(BaseModel):
    presets: list[Preset]


class Exposure(BaseModel):
    tick: int
    net_delta_lots: int | float
    exposure_threshold_lots: int
    time_above_exposure_threshold_s: float
    largest_naked_lots: int
    largest_naked_duration_s: float
    hedge_fill_ratio: float | None
    hedged_share: float | None
    hedge_attempts_per_fill: float | None


class ResetResult(BaseModel):
    tick: int
    seed: int
    ticks: int
    warnings: list[str]
