"""Settings that carry from one symbol to the next.

The kernel works in integer ticks (``market.tick_size`` of the quote currency) and lots (``market.lot_size``
base units). A strategy written in those units is tied to one symbol: 500 ticks is 0.8 bps on BTC at 61 800
and 19 bps on ETH at 2 680; 1000 lots of 1e-6 is 62 USD of BTC and 2.7 USD of ETH. So each strategy setting
also has keys in units that mean the same on any symbol, and ``backtest.resolve.resolve_units`` turns them
into ticks and lots at the start of a run, from the run's first price:

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

from typing import Any

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


def drop_resolved_kernel_keys(dump: dict[str, Any]) -> dict[str, Any]:
    """A full config dump (``run --json``'s ``config``) as overrides: a setting whose carrying key is set keeps
    that key, and its kernel key (the value it resolved to at the run's first price) is left out."""
    for kernel_key, carrying in UNIT_GROUPS.items():
        if any(_get(dump, k) is not None for k in carrying) and _has(dump, kernel_key):
            section, key = kernel_key.split(".")
            dump[section] = {k: v for k, v in dump[section].items() if k != key}
    return dump
