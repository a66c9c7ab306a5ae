"""Settings in carrying units (``backtest.units``) resolved into the kernel's ticks and lots at a run's first
price. Apart from ``backtest.units`` so that the config, which reads the unit tables, and this, which builds a
config, do not import each other."""
from __future__ import annotations

from typing import Any

from backtest.config import ConfigError, SimConfig, describe_validation_error


def _bps_to_ticks(bps: float, price: float, tick: float) -> float:
    return round(bps * 1e-4 * price / tick)


def resolve_units(config: SimConfig, price: float, hedge_step_lots: float) -> SimConfig:
    """``config`` with every carrying key turned into its kernel key: bps of ``price`` (the run's first price,
    quote currency per base unit) into whole ticks, base units into lots, quote-currency notional into whole
    multiples of the hedge venue's lot step (``hedge_step_lots``, so a filled quote hedges without a remainder;
    an inverse contract's step is what one contract is worth at ``price``, not a whole number of lots).
    The carrying keys stay set, so the resolved config resolves to itself. ConfigError when a value rounds to
    nothing or the limits end up inverted."""
    q, h, r, mk = config.quoting, config.hedging, config.risk, config.market
    lot = mk.lot_size
    errors: list[str] = []
    out: dict[str, Any] = {}

    def lots(base_key: str, quote_key: str, base: float | None, notional: float | None) -> int | None:
        if base is not None:
            n = base / lot
            if abs(n - round(n)) > 1e-6 * max(1.0, n) or round(n) < 1:
                errors.append(f"{base_key} {base:g}: not a whole number of lots of market.lot_size {lot:g}; allowed: "
                              f"a multiple of {lot:g}")
                return None
            return int(round(n))
        if notional is not None:
            step = hedge_step_lots * lot
            steps = round(notional / price / step)
            if steps < 1:
                errors.append(f"{quote_key} {notional:g}: under half the hedge venue's lot step ({step:g} base units, "
                              f"{step * price:.4g} in quote currency at {price:.6g}); allowed: at least "
                              f"{step * price:.4g}")
                return None
            return int(round(steps * hedge_step_lots))
        return None

    size = lots("quoting.size_base", "quoting.size_quote", q.size_base, q.size_quote)
    if size is not None:
        out["quoting.size_lots"] = size
    soft = lots("risk.soft_position_base", "risk.soft_position_quote", r.soft_position_base, r.soft_position_quote)
    if soft is not None:
        out["risk.soft_position_lots"] = soft
    hard = lots("risk.hard_position_base", "risk.hard_position_quote", r.hard_position_base, r.hard_position_quote)
    if hard is not None:
        out["risk.hard_position_lots"] = hard
    tick = mk.tick_size
    if q.half_spread_bps is not None:
        out["quoting.half_spread_ticks"] = float(_bps_to_ticks(q.half_spread_bps, price, tick))
    if q.requote_tolerance_bps is not None:
        out["quoting.requote_tolerance_ticks"] = int(_bps_to_ticks(q.requote_tolerance_bps, price, tick))
    if h.slippage_buffer_bps is not None:
        out["hedging.slippage_buffer_ticks"] = int(_bps_to_ticks(h.slippage_buffer_bps, price, tick))
    if q.skew_bps_at_soft_limit is not None:
        soft_lots = out.get("risk.soft_position_lots", r.soft_position_lots)
        out["quoting.skew_ticks_per_lot"] = _bps_to_ticks(q.skew_bps_at_soft_limit, price, tick) / soft_lots
    if errors:
        raise ConfigError(errors)
    if not out:
        return config
    soft_lots = out.get("risk.soft_position_lots", r.soft_position_lots)
    hard_lots = out.get("risk.hard_position_lots", r.hard_position_lots)
    if soft_lots > hard_lots:
        raise ConfigError([f"risk: the soft position limit ({soft_lots} lots) is above the hard one ({hard_lots} lots) "
                           f"at the run's first price {price:.6g}; allowed: soft <= hard"])
    dump = config.model_dump()
    for dotted, value in out.items():
        section, key = dotted.split(".")
        dump[section][key] = value
    from pydantic import ValidationError

    try:
        return SimConfig.model_validate(dump)
    except ValidationError as err:
        raise ConfigError([f"{line} (resolved from the carrying units at price {price:.6g})"
                           for line in describe_validation_error(err)]) from None
