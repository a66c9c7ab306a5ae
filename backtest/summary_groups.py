"""How the run summary is grouped for people: titles and the summary keys under each."""

import math

SUMMARY_GROUPS = [
    ("PnL (currency)", ["net_pnl", "realized_pnl", "unrealized_pnl", "max_drawdown"]),
    ("Attribution (currency)", ["spread_capture", "hedge_cost", "hedge_slippage", "hedge_latency_cost",
                                "hedge_basis", "fees", "inventory_mtm"]),
    ("Hedge leg (account currency; settlement currency: the base asset on an inverse contract)",
     ["hedge_leg_pnl", "hedge_leg_pnl_settle"]),
    ("Per unit of base asset traded on Exchange 1 (currency)", ["net_pnl_per_base", "spread_capture_per_base",
                                                                 "hedge_cost_per_base", "fees_per_base"]),
    ("Per 10 000 of notional traded on Exchange 1 (= bps of it)", ["net_pnl_per_10k_notional",
                                                                   "spread_capture_per_10k_notional",
                                                                   "hedge_cost_per_10k_notional",
                                                                   "fees_per_10k_notional"]),
    ("Activity", ["fills", "fills_maker", "fills_manual", "volume_exchange1_lots", "volume_exchange1_base",
                  "volume_exchange1_notional", "volume_exchange2_lots", "volume_exchange2_base",
                  "hedges", "hedge_attempts", "hedge_rejections", "hedge_failures"]),
    ("Fill-to-hedge latency (ms)", ["hedge_latency_p50_ms", "hedge_latency_p90_ms", "hedge_latency_p99_ms",
                                    "hedge_latency_max_ms"]),
    ("Inventory (lots)", ["final_inv1_lots", "final_inv2_lots", "final_net_delta_lots",
                          "max_abs_net_delta_lots", "max_abs_inv1_lots"]),
    ("Risk (simulated seconds)", ["time_active_s", "time_reduced_s", "time_paused_s", "time_killed_s",
                                  "risk_events", "kill_switch_fired", "first_kill_s"]),
    ("Unhedged exposure", ["exposure_threshold_lots", "time_above_exposure_threshold_s", "largest_naked_lots",
                           "largest_naked_duration_s", "hedge_fill_ratio", "hedged_share", "hedge_attempts_per_fill",
                           "hedge_escalations", "cancel_race_fills", "depth_check_shrinks",
                           "response_reports_early"]),
]


def format_number(v: float) -> str:
    """Four decimals, or four significant digits for what four decimals would show as 0 (a PnL in BTC)."""
    if v != 0 and abs(v) < 0.001:
        return f"{v:.4g}"
    return f"{v:,.4f}"


def format_summary(summary: dict) -> str:
    lines = [f"{summary['ticks']} ticks, {summary['simulated_s']:.1f} simulated seconds"]
    for title, keys in SUMMARY_GROUPS:
        lines.append(f"\n{title}")
        for k in keys:
            v = summary[k]
            if isinstance(v, bool):
                text = "yes" if v else "no"
            elif isinstance(v, float):
                text = "n/a" if math.isnan(v) else format_number(v)
            else:
                text = f"{v:,}"
            lines.append(f"  {k:<28} {text:>16}")
    return "\n".join(lines)
