"""Settings that carry from one symbol to the next.

The kernel works in integer ticks (``market.tick_size`` of the quote currency) and lots (``market.lot_size``
base units). A strategy written in those units is tied to one symbol: 500 ticks is 0.8 bps on BTC at 61 800
and 19 bps on ETH at 2 680; 1000 lots of 1e-6 is 62 USD of BTC and 2.7 USD of ETH. So each strategy setting
also has keys in units that mean the same on any symbol, and ``resolve_units`` turns them into ticks and lots
at the start of a run, from the run's first price:

=================================  ===================================================================
kernel key (unit)                  carrying keys (unit)
=================================  ===================================================================
quoting.half_spread_ticks          quoting.half_spread_bps (bp of the first price, whole ticks)
quoting.requote_tolerance_ticks    quoting.requote_tolerance_bps (bp, whole ticks)
quoting.skew_ticks_per_lot         quoting.skew_bps_at_soft_limit (bp of shift at the soft limit)
hedging.slippage_buffer_ticks      hedging.slippage_buffer_bps (bp, whole ticks)
quoting.size_lots                  quoting.size_base (base units), quoting.size_quote (quote notional)
risk.soft_position_lots            risk.soft_position_base, risk.soft_position_quote
risk.hard_position_lots            risk.hard_position_base, risk.hard_position_quote
=================================  ===================================================================

Loss limits (``risk.max_loss_window``, ``risk.kill_drawdown``) are already in the account currency. A
setting has one value in one unit: a carrying key, when set, decides; overriding a setting in one unit drops
the value it had in another, and giving two units of one setting in one set of overrides (``--set`` flags, a
config file, an API body) is an error.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backtest.config import SimConfig

# kernel key -> the keys that say the same in units that carry
UNIT_GROUPS: dict[str, tuple[str, ...]] = {
    "quoting.half_spread_ticks": ("quoting.half_spread_bps",),
    "quoting.requote_tolerance_ticks": ("quoting.requote_tolerance_bps",),
    "quoting.skew_ticks_per_lot": ("quoting.skew_bps_at_soft_limit",),
    "hedging.slippage_buffer_ticks": ("hedging.slippage_buffer_bps",),
    "quoting.size_lots": ("quoting.size_base", "quoting.size_quote"),
    "risk.soft_position_lots": ("risk.soft_position_base", "risk.soft_position_quote"),
    "risk.hard_position_lots": ("risk.hard_position_base", "risk.hard_position_quote"),
}


def _get(tree: dict, dotted: str):
    section, key = dotted.split(".")
    sub = tree.get(section)
    return sub.get(key) if isinstance(sub, dict) else None


def _has(tree: dict, dotted: str) -> bool:
    section, key = dotted.split(".")
    sub = tree.get(section)
    return isinstance(sub, dict) and key in sub


def unit_conflicts(overrides: dict[str, Any]) -> list[str]:
    """Settings given in more than one unit in one set of (nested) overrides, as error lines."""
    out = []
    for kernel_key, carrying in UNIT_GROUPS.items():
        given = [k for k in (kernel_key, *carrying) if _has(overrides, k) and _get(overrides, k) is not None]
        if len(given) > 1:
            out.append(f"{' and '.join(given)}: one setting given in {len(given)} units; allowed: one of them")
    return out


def drop_replaced_units(merged: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``merged`` (a config dump with ``overrides`` applied) with the other units of every overridden setting
    cleared: the carrying keys to None, or, when a carrying key was set, the others of its group to None."""
    for kernel_key, carrying in UNIT_GROUPS.items():
        group = (kernel_key, *carrying)
        set_now = [k for k in group if _has(overrides, k) and _get(overrides, k) is not None]
        if not set_now:
            continue
        for k in carrying:
            if k not in set_now:
                section, key = k.split(".")
                merged[section][key] = None
    return merged


def _bps_to_ticks(bps: float, price: float, tick: float) -> float:
    return round(bps * 1e-4 * price / tick)


def resolve_units(config: "SimConfig", price: float, hedge_step_lots: float) -> "SimConfig":
    """``config`` with every carrying key turned into its kernel key: bps of ``price`` (the run's first price,
    quote currency per base unit) into whole ticks, base units into lots, quote-currency notional into whole
    multiples of the hedge venue's lot step (``hedge_step_lots``, so a filled quote hedges without a remainder;
    an inverse contract's step is what one contract is worth at ``price``, not a whole number of lots).
    The carrying keys stay set, so the resolved config resolves to itself. ConfigError when a value rounds to
    nothing or the limits end up inverted."""
    from backtest.config import ConfigError

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
    from backtest.config import SimConfig
    from pydantic import ValidationError

    try:
        return SimConfig.model_validate(dump)
    except ValidationError as err:
        from backtest.config import describe_validation_error
        raise ConfigError([f"{line} (resolved from the carrying units at price {price:.6g})"
                           for line in describe_validation_error(err)]) from None


def drop_resolved_kernel_keys(dump: dict[str, Any]) -> dict[str, Any]:
    """A full config dump (``run --json``'s ``config``) as overrides: a setting whose carrying key is set keeps
    that key, and its kernel key (the value it resolved to at the run's first price) is left out."""
    for kernel_key, carrying in UNIT_GROUPS.items():
        if any(_get(dump, k) is not None for k in carrying) and _has(dump, kernel_key):
            section, key = kernel_key.split(".")
            dump[section] = {k: v for k, v in dump[section].items() if k != key}
    return dump
