"""Command line: ``python -m backtest run [--ticks N] [--seed S] [--config FILE] [--set key=value ...]``.

Thin by design: parse, build a validated config, call the engine, print. Bad input exits with code 2
and a message naming the key and what is allowed; never a traceback.
"""
from __future__ import annotations

import argparse
import json
import math
import sys

from backtest.config import PRESETS, ConfigError, load_config, make_config, preset


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def build_config(args: argparse.Namespace):
    cfg = preset(args.preset)
    if args.config:
        cfg = load_config(args.config, base=cfg)
    dotted = {}
    for item in args.set or []:
        if "=" not in item:
            raise ConfigError([f"--set {item!r}: expected key=value, e.g. --set quoting.size_lots=3"])
        key, value = item.split("=", 1)
        dotted[key.strip()] = _parse_value(value.strip())
    if args.ticks is not None:
        dotted["sim.ticks"] = args.ticks
    if args.seed is not None:
        dotted["sim.seed"] = args.seed
    return make_config(cfg.model_dump(), **dotted) if dotted else cfg


def format_summary(summary: dict) -> str:
    groups = [
        ("PnL (currency)", ["net_pnl", "realized_pnl", "unrealized_pnl", "max_drawdown"]),
        ("Attribution (currency)", ["spread_capture", "hedge_cost", "hedge_slippage", "hedge_latency_cost",
                                    "hedge_basis", "fees", "inventory_mtm"]),
        ("Per lot traded on Exchange 1 (currency)", ["spread_capture_per_lot", "hedge_cost_per_lot"]),
        ("Activity", ["fills", "fills_maker", "fills_manual", "volume_exchange1_lots", "volume_exchange2_lots",
                      "hedges", "hedge_attempts", "hedge_rejections", "hedge_failures"]),
        ("Fill-to-hedge latency (ms)", ["hedge_latency_p50_ms", "hedge_latency_p90_ms", "hedge_latency_p99_ms",
                                        "hedge_latency_max_ms"]),
        ("Inventory (lots)", ["final_inv1_lots", "final_inv2_lots", "final_net_delta_lots",
                              "max_abs_net_delta_lots", "max_abs_inv1_lots"]),
        ("Risk (simulated seconds)", ["time_active_s", "time_reduced_s", "time_paused_s", "time_killed_s",
                                      "risk_events"]),
    ]
    lines = [f"{summary['ticks']} ticks, {summary['simulated_s']:.1f} simulated seconds"]
    for title, keys in groups:
        lines.append(f"\n{title}")
        for k in keys:
            v = summary[k]
            if isinstance(v, float):
                text = "n/a" if math.isnan(v) else f"{v:,.4f}"
            else:
                text = f"{v:,}"
            lines.append(f"  {k:<28} {text:>16}")
    return "\n".join(lines)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m backtest", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="run one simulation and print its summary")
    run_p.add_argument("--ticks", type=int, help="number of ticks (default 1000)")
    run_p.add_argument("--seed", type=int, help="random seed (default 7)")
    run_p.add_argument("--config", help="TOML or YAML file of overrides, e.g. [quoting] size_lots = 3")
    run_p.add_argument("--preset", default="default", choices=PRESETS, help="starting scenario")
    run_p.add_argument("--set", action="append", metavar="KEY=VALUE",
                       help="override one parameter, e.g. --set hedging.min_hedge_lots=2 (repeatable)")
    run_p.add_argument("--json", action="store_true", help="print the summary as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        cfg = build_config(args)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from backtest.engine import run  # imported late so `--help` and config errors answer fast

    results = run(cfg)
    if args.json:
        print(json.dumps(results.summary_dict, indent=2))
    else:
        print(format_summary(results.summary_dict))
    return 0
