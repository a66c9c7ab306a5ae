"""Request bodies, validated; units are in the field descriptions."""
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ManualFill(BaseModel):
    model_config = ConfigDict(extra="forbid")
    side: Literal["buy", "sell"] = Field(description="buy = we buy on Exchange 1 (a client sold to us)")
    qty_lots: int = Field(gt=0, le=100_000, description="lots")
    price: float | None = Field(None, gt=0, description="currency; on the tick grid; default = our current quote")


class ResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    config: dict | None = Field(None, description="overrides of the current config, nested by section")
    preset: str | None = Field(None, description="start from a named scenario (GET /presets), e.g. fault_hedge_outage")


class StepRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ticks: int = Field(gt=0, le=10_000_000)


class ClockRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    running: bool
