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
from backtest.summary_groups import SUMMARY_GROUPS


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
    groups = SUMMARY_GROUPS
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
