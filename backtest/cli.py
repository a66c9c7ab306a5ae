"""Command line: ``python -m backtest run|sweep``.

``run [--ticks N] [--seed S] [--config FILE] [--set key=value ...] [--report DIR] [--verbose]``
``sweep (--study NAME | --grid key=v1,v2 ...) [--seeds 1,2,3] [--ticks N] [--workers N] [--out DIR]``

Thin by design: parse, build a validated config, call the engine, print. Bad input exits with code 2
and a message naming the key and what is allowed; never a traceback.
"""
from __future__ import annotations

import argparse
import errno
import json
import math
import os
import sys

from backtest.config import PRESETS, ConfigError, config_warnings, load_config, make_config, preset
from backtest.research.studies import STUDIES
from backtest.summary_groups import format_summary


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 86_400:  # refuses nan and inf too
        raise argparse.ArgumentTypeError(f"{text[:40]!r}: allowed: seconds, more than 0 and at most 86400")
    return value


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def build_config(args: argparse.Namespace, base=None):
    """The run's config: ``base`` (default: the preset), then the config file, then --set, --ticks, --seed."""
    cfg = base if base is not None else preset(args.preset)
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
    if getattr(args, "seed", None) is not None:
        dotted["sim.seed"] = args.seed
    return make_config(cfg.model_dump(), **dotted) if dotted else cfg


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
    run_p.add_argument("--report", metavar="DIR", help="write an HTML report, PNG charts, CSV frames and the "
                       "decision log (decisions.jsonl) into DIR")
    run_p.add_argument("--verbose", action="store_true",
                       help="print the decision log (one JSON line per quote change, fill, hedge, risk event) to stderr")
    run_p.add_argument("--memory-budget-gb", type=float, metavar="GB",
                       help="refuse a run whose estimated memory exceeds this (default: MMHEDGE_MEMORY_BUDGET_GB, else three "
                       "quarters of physical memory)")

    pf = sub.add_parser("portfolio", help="run several assets at once under one risk manager and print each "
                        "asset's summary and the portfolio's")
    pf.add_argument("--config", help="portfolio config file: shared sections, [portfolio] limits and [[assets]] "
                    "(see backtest.portfolio)")
    pf.add_argument("--preset", default=None, help="starting portfolio (portfolio_btc_eth_synthetic when no "
                    "--config)")
    pf.add_argument("--ticks", type=int, help="number of ticks")
    pf.add_argument("--seed", type=int, help="random seed (asset i draws from seed + i)")
    pf.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="override: quoting.size_lots=3 (every asset), assets.ETH.quoting.size_lots=3 (one), "
                    "portfolio.max_exposure=50 (repeatable)")
    pf.add_argument("--json", action="store_true", help="print the summaries and the config as JSON")
    pf.add_argument("--report", metavar="DIR", help="write the portfolio's HTML report and charts into DIR, and each "
                    "asset's own report under DIR/assets/NAME")
    fp = sub.add_parser("faults", help="run every fault scenario preset and tabulate what the controls did")
    fp.add_argument("--seed", type=int, help="seed for every scenario (default: the presets' 7)")

    dp = sub.add_parser("data", help="recorded market data: import a capture into normalised event files")
    dsub = dp.add_subparsers(dest="data_command", required=True)
    ip = dsub.add_parser("import", help="a capture -> DIR/VENUE.parquet (normalised events), with a summary")
    ip.add_argument("capture", nargs="+", help="a Binance stream capture (.jsonl or .jsonl.gz), or several "
                    "consecutive ones of one venue in time order (read as one recording: the book carried across "
                    "each file boundary), or a tardis.dev incremental_book_L2 CSV (--format tardis)")
    ip.add_argument("--venue", required=True, help="name of the venue in the dataset, e.g. spot or usdm")
    ip.add_argument("--out", required=True, metavar="DIR", help="directory for VENUE.parquet")
    ip.add_argument("--format", default="binance", choices=("binance", "tardis"))
    ip.add_argument("--trades", help="tardis: the trades CSV of the same instrument")
    ip.add_argument("--symbol", help="the symbol the capture must hold (default: whatever it holds, one only)")
    ip.add_argument("--tick-size", type=float, help="price step (default: inferred from the capture's decimals)")
    ip.add_argument("--lot-size", type=float, help="size step (default: inferred from the capture's decimals)")
    ip.add_argument("--instrument-kind", choices=("spot", "linear_perpetual", "inverse_perpetual"),
                    help="what the venue trades (default: inferred from the stream and symbol names)")
    ip.add_argument("--contract-multiplier", type=float, metavar="QUOTE_PER_CONTRACT",
                    help="an inverse contract's size in quote currency (default: Binance's, BTC 100 USD, others 10)")
    ip.add_argument("--on-gap", default="stop", choices=("stop", "resync"),
                    help="a sequence gap in the depth stream: stop with an error (default) or resync at the next "
                    "snapshot in the capture")

    cp = dsub.add_parser("cache", help="the import cache: raw captures a run parsed, kept as normalised events "
                         "(MMHEDGE_CACHE_DIR, else ~/.cache/mmhedge/imports): list its entries, or --clear them")
    cp.add_argument("--clear", action="store_true", help="remove every entry")

    rs = sub.add_parser("replay-study", help="the replay preset on the shipped recording, one thing varied at a "
                        "time (half-spread with and without fees, queue model, hedge latency, basis): table + charts")
    rs.add_argument("--out", required=True, metavar="DIR", help="directory for replay_study.csv and the charts")
    rs.add_argument("--ticks", type=int, help="replay only the first TICKS ms (default: the whole recording)")

    ins = sub.add_parser("instruments-study", help="one strategy on the shipped recordings of the same minutes, "
                         "hedged on a linear (USD-M) and an inverse (COIN-M) perpetual, and on ETH: table + charts")
    ins.add_argument("--out", required=True, metavar="DIR", help="directory for instruments_study.csv and the charts")
    ins.add_argument("--ticks", type=int, help="replay only the first TICKS ms (default: 343 000, the span every "
                     "recording covers)")

    cp = sub.add_parser("calibrate", help="estimate the synthetic market's parameters from a recording of two "
                        "venues, write them as a config, and (--report) compare the markets and the strategy on both")
    cp.add_argument("--dataset", metavar="DIR", help="a directory with exchange1.parquet and exchange2.parquet "
                    "(python -m backtest data import ... --venue exchange1 --out DIR)")
    cp.add_argument("--exchange1", help="Exchange 1's recording (a capture or a normalised .parquet)")
    cp.add_argument("--exchange2", help="Exchange 2's recording")
    cp.add_argument("--out", required=True, metavar="FILE", help="the calibrated config, TOML (run --config FILE)")
    cp.add_argument("--base", default="replay_binance_btcusdt_20240808", metavar="PRESET|FILE",
                    help="a preset name or a config file (TOML, YAML or JSON) the strategy's sections (quoting, "
                    "hedging, risk, fees) come from; settings in ticks and lots are carried to the calibrated grid")
    cp.add_argument("--model", choices=("zero_intelligence", "queue_reactive"), default="zero_intelligence",
                    help="the market model written to --out: 'zero_intelligence' (market.source synthetic, the fast "
                    "tick-kernel market; the default) or 'queue_reactive' (a large-tick book's queues, Hawkes order "
                    "flow and a leading hedge venue, printed as a recording and replayed)")
    cp.add_argument("--report", metavar="DIR", help="stylized facts of the recording, both calibrated models and the "
                    "default synthetic market side by side, and the strategy on the recording and on both models")
    cp.add_argument("--seeds", type=int, default=8, help="synthetic runs in the strategy comparison (default 8)")
    cp.add_argument("--fact-seeds", type=int, default=1, metavar="N",
                    help="seeds each synthetic market's stylized facts are measured on, each as long as the "
                    "recording: the report's table gives their mean and range and judges the goal on the mean "
                    "(default 1; 1 to 64)")
    cp.add_argument("--trend-window-ms", type=float, default=0.0, metavar="MS",
                    help="the queue-reactive model's state also holds the mid's trend over this window (falling, "
                    "level, rising), which scales its flows and the market orders' rate and side (0, the default: "
                    "no trend; 100 is what the README measures)")
    cp.add_argument("--diffuse-leads", action="store_true",
                    help="the queue-reactive model's Exchange 2 makes a share of Exchange 1's moves at a lead spread "
                    "over +/-100 ms (the share of the venues' co-movement not on the lags that stand out) instead "
                    "of at those lags only; the README measures what it changes")
    cp.add_argument("--split-leads", action="store_true",
                    help="the queue-reactive model's Exchange 2 takes its lead over the moves of Exchange 1 that come "
                    "with a trade from their own distribution (on the recordings the perpetual follows those rather "
                    "than leads them); the README measures what it changes")
    cp.add_argument("--sweep-within-jump", action="store_true",
                    help="the queue-reactive model's market order larger than its queue ends at the new best, whose "
                    "drawn queue stays (the recorded jump already spans the levels a sweep took); the README "
                    "measures what it changes")
    cp.add_argument("--chase", action="store_true",
                    help="the queue-reactive model's market order that empties a queue is followed, with an "
                    "estimated probability and delay, by another of its sign at the queue it uncovered, which takes "
                    "that queue whole with its own estimated probability; the README measures what it changes")
    cp.add_argument("--gap-sides", action="store_true",
                    help="the queue-reactive model's orders inside a spread wider than a tick come at estimated "
                    "multipliers by side: the side whose best moved away last (the price going back) and the other "
                    "(the price following, nearly nine times in ten on the recordings); the README measures what it "
                    "changes")
    cp.add_argument("--perp-leads", action="store_true",
                    help="the queue-reactive model's Exchange 2 moves on its own (estimated rate, sizes, persistence "
                    "and pull towards Exchange 1) and Exchange 1's flows react to its trend over --trend-window-ms "
                    "(needed with it) instead of their own mid's: on the recordings spot's market orders come nine "
                    "times as often just after the perpetual moved; the README measures what it changes")
    cp.add_argument("--lead-follow", action="store_true",
                    help="with --perp-leads: Exchange 2's mid also moves after a spot market order in its direction, "
                    "with the chance at which it moves after one as much as on the recording")
    cp.add_argument("--trend-takes", action="store_true",
                    help="with --trend-window-ms: the queue-reactive model's chance that a market order takes its "
                    "whole queue also depends on the trend of the state (on the recordings the orders that take their "
                    "queue come after the perpetual's larger moves); the README measures what it changes")
    cp.add_argument("--queue-sizes", action="store_true",
                    help="the queue-reactive model's limit orders, cancels and market orders each come at an "
                    "intensity that also depends on the size of their own queue (a thin queue draws the market "
                    "orders that empty it), estimated per bin of that size; the README measures what it changes")

    cpp = sub.add_parser("calibrate-portfolio", help="a synthetic portfolio calibrated to recordings of several "
                         "assets on the same minutes: each asset's market and the correlation of their returns")
    cpp.add_argument("--asset", action="append", metavar="NAME=EXCHANGE1,EXCHANGE2", required=True,
                     help="an asset and its two recordings, e.g. ETH=data/eth/spot.jsonl.gz,data/eth/usdm.jsonl.gz "
                     "(repeat for each asset; the first gives the shared settings)")
    cpp.add_argument("--out", required=True, metavar="FILE", help="the calibrated portfolio, TOML "
                     "(portfolio --config FILE)")
    cpp.add_argument("--base", default="replay_binance_btcusdt_20240808", metavar="PRESET|FILE",
                     help="as calibrate's --base: where the strategy's sections come from")

    op = sub.add_parser("optimize", help="search parameters with Optuna (TPE), scored on training seeds or window, "
                        "the best checked out of sample; the study is resumable and shareable")
    op.add_argument("--space", action="append", required=True, metavar="KEY=LO:HI[:int] | KEY=V1,V2",
                    help="a dimension, e.g. --space quoting.half_spread_ticks=1:8 --space quoting.size_lots=1:5:int")
    op.add_argument("--objective", default="net_pnl", help="net_pnl (default), sharpe_like, spread_capture, "
                    "hedge_cost (maximised) or max_drawdown (minimised)")
    op.add_argument("--trials", type=int, default=20, help="trials in the study in all (resumed studies count theirs)")
    op.add_argument("--train-seeds", help="synthetic market: seeds a trial is scored on (default 1,2,3)")
    op.add_argument("--test-seeds", help="synthetic market: held-out seeds the best trials are checked on "
                    "(default 101,102,103)")
    op.add_argument("--holdout-share", type=float,
                    help="replay: the share at the end of the recording kept back for the out-of-sample check "
                    "(default 0.3); in- and out-of-sample sums are also compared per hour of their windows")
    op.add_argument("--train-recordings", metavar="KEY1+KEY2=A1+A2,B1+B2",
                    help="replay: score each trial on the whole of several recordings (days, symbols): a joint axis "
                    "as in sweep --grid, e.g. replay.exchange1+replay.exchange2=day1/spot.gz+day1/usdm.gz,"
                    "day2/spot.gz+day2/usdm.gz; needs --test-recordings, replaces --holdout-share")
    op.add_argument("--test-recordings", metavar="KEY1+KEY2=A1+A2,...",
                    help="replay: the recordings the best trials are checked on out of sample (other days)")
    op.add_argument("--constraint", action="append", metavar="METRIC<=VALUE",
                    help="a limit that makes a trial infeasible, e.g. max_drawdown<=5 or time_killed_s<=0 (repeatable)")
    op.add_argument("--storage", help="Optuna storage URL (default: sqlite:///OUT/study.db); a shared database lets "
                    "several machines work on one study")
    op.add_argument("--study-name", default="mmhedge", help="the study's name in the storage")
    op.add_argument("--cluster", metavar="ADDRESS", help="score each trial's runs on a Dask distributed cluster")
    op.add_argument("--out", required=True, metavar="DIR", help="trials, out-of-sample table, charts, meta.json")
    op.add_argument("--ticks", type=int, help="ticks per run")
    op.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    op.add_argument("--config", help="TOML or YAML file of base overrides")
    op.add_argument("--portfolio", metavar="FILE_OR_PRESET",
                    help="optimise a portfolio (a portfolio config file or preset; out of sample: held-out seeds, or "
                    "the held-out end of its recordings): --space keys may name one asset "
                    "(assets.ETH.quoting.half_spread_bps=0.5:3); the portfolio's metrics are scored")
    op.add_argument("--preset", default="default", choices=PRESETS, help="base scenario")
    op.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one base parameter (repeatable)")

    shp = sub.add_parser("show", help="what a saved run (run --report DIR) or sweep (sweep --out DIR) holds")
    shp.add_argument("directory")

    sub.add_parser("warmup", help="compile the kernels into numba's on-disk cache (make install does this), so the "
                   "first real run starts in about a second instead of compiling for 10-20 s")

    pp = sub.add_parser("paper", help="rebuild Avellaneda & Stoikov (2008)'s table: inventory vs symmetric strategy")
    pp.add_argument("--seeds", type=int, default=1000, help="simulations per gamma and strategy (default 1000)")
    pp.add_argument("--json", action="store_true", help="print the rows as JSON")
    pp.add_argument("--timing", default="before_move", choices=("before_move", "after_move", "both"),
                    help="the mid a step's fill is drawn against: the one the quotes were set from (before_move, "
                    "the paper as we read it; default), the one after the step's move, or both tables")

    sw = sub.add_parser("sweep", help="run a parameter grid over several seeds in parallel and tabulate it")
    sw.add_argument("--study", choices=STUDIES, help="a shipped study (its grid; --grid adds or replaces keys)")
    sw.add_argument("--grid", action="append", metavar="KEY=V1,V2,...",
                    help="a grid axis, e.g. --grid latency.hedge_median_ms=10,50,100 (repeatable)")
    sw.add_argument("--seeds", help="comma-separated seeds run at every grid point (default: 1..8 for studies, "
                    "1,2,3 otherwise)")
    sw.add_argument("--ticks", type=int, help="ticks per run (default: 20000 for studies, else the config's)")
    sw.add_argument("--config", help="TOML or YAML file of base overrides")
    sw.add_argument("--preset", default="default", choices=PRESETS, help="base scenario")
    sw.add_argument("--set", action="append", metavar="KEY=VALUE", help="override one base parameter (repeatable)")
    sw.add_argument("--portfolio", metavar="FILE_OR_PRESET",
                    help="sweep a portfolio (a portfolio config file or preset) instead of one asset: grid keys may "
                    "name one asset, assets.ETH.quoting.size_lots=1,2; metrics are the portfolio's, each asset's "
                    "are in runs as NAME.metric")
    sw.add_argument("--workers", type=int, help="parallel processes (default: all cores)")
    sw.add_argument("--out", metavar="DIR", help="write runs.csv, table.csv and charts into DIR")
    sw.add_argument("--quiet", action="store_true", help="no progress lines")
    sw.add_argument("--cluster", metavar="ADDRESS",
                    help="run on a Dask distributed cluster, e.g. tcp://10.0.0.5:8786 (see README: two commands start one)")
    sw.add_argument("--cluster-timeout", type=_positive_seconds, default=60.0, metavar="S",
                    help="stop (keeping the finished runs) once the cluster has had no worker, or its scheduler has "
                    "not answered, for S seconds (default 60)")
    sw.add_argument("--resume", metavar="RUNS",
                    help="the runs.parquet (or runs.csv) an interrupted sweep left: its finished runs are kept and "
                    "only the missing ones run")
    return parser


def _parse_seeds(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        seeds = tuple(int(x) for x in text.split(","))
    except ValueError:
        raise ConfigError([f"--seeds {text!r}: expected comma-separated non-negative integers, e.g. 1,2,3"]) from None
    if any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ConfigError([f"--seeds {text!r}: seeds must be distinct non-negative integers"])
    return seeds


def _portfolio_base(name, sets: list[str] | None, ticks: int | None):
    """A portfolio config from a file or a preset name (or a PortfolioConfig), with --set and --ticks applied."""
    from pathlib import Path

    from backtest.portfolio import PORTFOLIO_PRESETS, load_portfolio_config, portfolio_preset

    if not isinstance(name, str):
        pcfg = name
    elif name in PORTFOLIO_PRESETS:
        pcfg = portfolio_preset(name)
    elif Path(name).suffix.lower() in (".toml", ".yaml", ".yml", ".json"):
        pcfg = load_portfolio_config(name)
    else:
        raise ConfigError([f"--portfolio {name!r}: neither a portfolio preset ({', '.join(PORTFOLIO_PRESETS)}) nor a "
                           ".toml, .yaml or .json file"])
    dotted = {}
    for item in sets or []:
        if "=" not in item:
            raise ConfigError([f"--set {item!r}: expected key=value, e.g. --set assets.ETH.quoting.size_lots=3"])
        key, value = item.split("=", 1)
        dotted[key.strip()] = _parse_value(value.strip())
    if ticks is not None:
        dotted["sim.ticks"] = ticks
    return pcfg.with_dotted(dotted) if dotted else pcfg


def build_sweep(args: argparse.Namespace):
    """The sweep: a study's grid and base (or the preset), then --config / --set / --ticks, then --grid axes."""
    from backtest.research.studies import study
    from backtest.research.sweep import SweepSpec, parse_grid_item

    seeds = _parse_seeds(args.seeds)
    if args.workers is not None and args.workers < 1:
        raise ConfigError([f"--workers {args.workers}: must be >= 1"])
    if getattr(args, "portfolio", None):
        if args.study or args.config or args.preset != "default":
            raise ConfigError(["--portfolio names the whole base; --study, --config and --preset are for one asset"])
        base = _portfolio_base(args.portfolio, args.set, args.ticks)
        grid, name, seeds = {}, "portfolio sweep", seeds or (1, 2, 3)
    elif args.study:
        spec = study(args.study, ticks=args.ticks, seeds=seeds)
        base = build_config(args, base=spec.base) if (args.config or args.set) else spec.base
        grid, name, seeds = dict(spec.grid), spec.name, spec.seeds
    else:
        base = build_config(args)
        grid, name, seeds = {}, "sweep", seeds or (1, 2, 3)
    given = set()
    for item in args.grid or []:
        key, values = parse_grid_item(item)
        if key in given:
            raise ConfigError([f"--grid {key} is given twice; give all its values once: --grid {key}=v1,v2,..."])
        given.add(key)
        grid[key] = values
    spec = SweepSpec(grid=grid, seeds=seeds, base=base, name=name)
    spec.configs()  # validate every grid point before any process starts
    return spec


class _StdoutThatCannotFail:
    """sys.stdout for the CLI: a reader that goes away (``| head``, a pager quit early) or a full disk
    must not stop a command before it has written its outputs to disk. The first failed write is kept;
    later writes are dropped and the command carries on."""

    def __init__(self, stream):
        self._stream = stream
        self.failure: OSError | None = None

    def _fail(self, err: OSError) -> None:
        self.failure = err
        try:  # later writes, and the interpreter's flush at exit, go nowhere instead of raising again
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass

    def write(self, text: str) -> int:
        if self.failure is None:
            try:
                self._stream.write(text)
            except OSError as err:
                self._fail(err)
        return len(text)

    def flush(self) -> None:
        if self.failure is None:
            try:
                self._stream.flush()
            except OSError as err:
                self._fail(err)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    stdout = _StdoutThatCannotFail(sys.stdout)
    sys.stdout = stdout
    try:
        code = _dispatch(args)
        stdout.flush()
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: a line, not a traceback (a sweep keeps its runs and says so itself)
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        sys.stdout = stdout._stream
    if stdout.failure is not None and stdout.failure.errno != errno.EPIPE:
        # a reader that went away is normal (Unix tools stop quietly); a full or broken stdout is not
        print(f"error: could not write to stdout ({stdout.failure.strerror}); "
              "everything the command writes to files was written", file=sys.stderr)
        return 1
    return code


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "sweep":
        return _sweep(build_sweep(args), args)
    if args.command == "portfolio":
        return _portfolio(args)
    if args.command == "faults":
        return _faults(args)
    if args.command == "paper":
        return _paper(args)
    if args.command == "warmup":
        return _warmup()
    if args.command == "data":
        return _data(args)
    if args.command == "replay-study":
        return _replay_study(args)
    if args.command == "instruments-study":
        return _instruments_study(args)
    if args.command == "calibrate":
        return _calibrate(args)
    if args.command == "calibrate-portfolio":
        return _calibrate_portfolio(args)
    if args.command == "optimize":
        return _optimize(args)
    if args.command == "show":
        from backtest.research.experiment import describe

        print(describe(args.directory))
        return 0
    cfg = build_config(args)
    for line in config_warnings(cfg):
        print(f"warning: {line}", file=sys.stderr)
    if args.report:
        check_output_dir(args.report, "--report")  # before the run, not after it
    budget = None
    if args.memory_budget_gb is not None:
        if not 0 < args.memory_budget_gb < 1 << 30:  # NaN and inf fail too
            raise ConfigError([f"--memory-budget-gb {args.memory_budget_gb}: allowed: a finite number of GiB > 0"])
        budget = int(args.memory_budget_gb * (1 << 30))
    from backtest.engine import run  # imported late so `--help` and config errors answer fast
    from backtest.markets.generate import generate

    # Ctrl-C is taken as a request, checked between spans of the run: raised at any moment it could land inside
    # numba's code loading while the flow helper thread runs compiled code too (a segfault, seen)
    import signal
    import threading

    asked = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda signum, frame: asked.set())
    try:
        # the market is not kept here: its order flow is freed once the kernel is done, before the summary is
        # built (as the memory estimate assumes; holding it raised a 2e7-tick run's peak by 2.6 GiB)
        results = run(cfg, market=generate(cfg, stream=True, memory_budget=budget), should_stop=asked.is_set)
    finally:
        signal.signal(signal.SIGINT, previous)
    if args.verbose:
        from reports.decision_log import iter_records

        for rec in iter_records(results):
            print(json.dumps(rec, separators=(",", ":")), file=sys.stderr)
    if args.json:
        print(json.dumps(summary_document(results), indent=2, allow_nan=False))
    else:
        print(format_summary(results.summary_dict))
    for line in results.notes:
        print(f"note: {line}", file=sys.stderr)
    for line in results.run_warnings():
        print(f"warning: {line}", file=sys.stderr)
    if args.report:
        from backtest.research.experiment import save_run
        from reports.run_report import write_report

        files = write_report(results, args.report)
        save_run(results, args.report, frames=not files.parquet)  # config.toml, meta.json, summary.json, frames and raw records: reloadable
        print(f"\nreport: {files.html} (backtest.load({args.report!r}) reloads the run)",
              file=sys.stderr if args.json else sys.stdout)
    return 0


def summary_document(results) -> dict:
    """The run's summary as strict JSON (NaN -> null) with the seed and the full config, so that the output
    alone reproduces the run (``--config`` takes the config section as it is)."""
    summary = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in results.summary_dict.items()}
    return {"seed": results.config.sim.seed, **summary, "config": results.config.model_dump(mode="json")}


def _portfolio(args: argparse.Namespace) -> int:
    from backtest.portfolio import PORTFOLIO_PRESETS, load_portfolio_config, run_portfolio, summary_table

    if args.config and args.preset:
        raise ConfigError(["--config and --preset: give one (a portfolio file holds its assets)"])
    if args.preset and args.preset not in PORTFOLIO_PRESETS:
        raise ConfigError([f"--preset {args.preset!r} is unknown; allowed: {', '.join(PORTFOLIO_PRESETS)}"])
    source = load_portfolio_config(args.config) if args.config else args.preset or "portfolio_btc_eth_synthetic"
    pcfg = _portfolio_base(source, args.set, args.ticks)
    if args.seed is not None:
        pcfg = pcfg.with_dotted({"sim.seed": args.seed})
    if args.report:
        check_output_dir(args.report, "--report")  # before the run, not after it
    results = run_portfolio(pcfg)
    if args.json:
        def strict(d):
            return {k: strict(v) if isinstance(v, dict) else (None if isinstance(v, float) and math.isnan(v) else v)
                    for k, v in d.items()}

        print(json.dumps({**strict(results.summary_dict), "config": pcfg.to_dict()}, indent=2, allow_nan=False))
    else:
        print(summary_table(results))
    if args.report:
        from reports.portfolio_report import write_portfolio_report

        from backtest.research.experiment import save_portfolio

        path = write_portfolio_report(results, args.report)
        save_portfolio(results, args.report, frames=False)  # reloadable: backtest.load(DIR)
        print(f"\nreport: {path} (backtest.load({args.report!r}) reloads the portfolio)",
              file=sys.stderr if args.json else sys.stdout)
    return 0


def check_output_dir(path: str, flag: str) -> None:
    """ConfigError unless ``path`` is (or can be made) a writable directory: checked before a long run."""
    from pathlib import Path

    p = Path(path)
    if p.exists() and not p.is_dir():
        raise ConfigError([f"{flag} {path}: exists and is not a directory; give a directory to write into"])
    try:
        p.mkdir(parents=True, exist_ok=True)
        probe = p / ".mmhedge-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ConfigError([f"{flag} {path}: cannot write there ({err.strerror})"]) from None


def _sweep(spec, args: argparse.Namespace) -> int:
    from backtest.research.sweep import SweepInterrupted, run_sweep

    if args.out:
        check_output_dir(args.out, "--out")
    from backtest.research.sweep import Journal

    done = None
    if args.resume:
        import pandas as pd

        try:
            if str(args.resume).endswith(".jsonl"):
                stored = Journal.header(args.resume)
                if stored is not None:
                    from backtest.research.sweep import identity_differences

                    differ = identity_differences(stored, spec)
                    if differ:
                        raise ConfigError([f"--resume {args.resume}: the journal is of another sweep; differing: "
                                           + "; ".join(differ[:10]) + "; give the same --ticks/--set/--config/--grid "
                                           "as the interrupted sweep"])
                done, cut = Journal.read(args.resume)
                if cut:
                    print(f"--resume: the last line of {args.resume} was cut (the sweep was killed while writing "
                          "it): that run is run again", file=sys.stderr)
            elif str(args.resume).endswith(".parquet"):
                done = pd.read_parquet(args.resume)
            else:
                done = pd.read_csv(args.resume)
        except (OSError, ValueError) as err:
            raise ConfigError([f"--resume {args.resume}: cannot read a runs table ({err})"]) from None
    import os as _os
    import signal

    journal_path = _os.path.join(args.out, "runs.jsonl") if args.out else f"{spec.name}-runs.jsonl"
    if args.resume and _os.path.abspath(args.resume) == _os.path.abspath(journal_path):
        _os.replace(journal_path, journal_path + ".resumed")  # its runs are in ``done``: written anew below
    elif _os.path.exists(journal_path):
        # a completed sweep's journal is older than the runs.parquet written at its end; any other holds the
        # finished runs of an interrupted sweep, which a plain re-run must not throw away
        table = _os.path.join(args.out, "runs.parquet") if args.out else None
        completed = table and _os.path.exists(table) and _os.path.getmtime(table) >= _os.path.getmtime(journal_path)
        kept = 0 if completed else len(Journal.read(journal_path)[0])
        if kept:
            raise ConfigError([f"{journal_path} holds {kept} finished run(s) of an interrupted sweep: `--resume "
                               f"{journal_path}` continues it; remove the file to start afresh"])
        _os.remove(journal_path)  # a completed sweep's, or one that ended before any run finished
    journal = Journal(journal_path, spec)

    def terminate(signum, frame):  # SIGTERM (a scheduler, `kill`) stops the sweep as Ctrl-C does
        raise KeyboardInterrupt

    previous_term = signal.signal(signal.SIGTERM, terminate)
    total = len(spec.points()) * len(spec.seeds)
    if not args.quiet:
        print(f"{spec.name}: {len(spec.points())} grid points x {len(spec.seeds)} seeds = {total} runs of "
              f"{spec.base.sim.ticks:,} ticks", file=sys.stderr)

    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=total, unit="run", file=sys.stderr, dynamic_ncols=True, desc=spec.name)

    def progress(done, n, point, seed, metrics, seconds):
        if bar is not None:
            bar.n = done
            values = " ".join(f"{k}={v}" for k, v in point.items())
            bar.set_postfix_str(f"{values} seed={seed} net_pnl {metrics['net_pnl']:+.2f}", refresh=False)
            bar.refresh()

    try:
        result = run_sweep(spec, workers=args.workers, progress=progress, done=done, cluster=args.cluster,
                           cluster_timeout_s=args.cluster_timeout,
                           journal=journal)
    except SweepInterrupted as stop:
        head = f"error: {stop.reason}" if stop.reason else "interrupted"
        print(f"\n{head}: {len(stop.runs)} of {stop.total} runs finished and kept in {journal_path} (each "
              f"written as it finished); run the same command with --resume {journal_path} to run only the missing "
              "ones", file=sys.stderr)
        return 1 if stop.reason else 130
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        journal.close()
        if journal.runs == 0 and _os.path.exists(journal_path):
            _os.remove(journal_path)  # the sweep failed before any run (a bad --cluster, say): nothing to resume
        if _os.path.exists(journal_path + ".resumed"):
            _os.remove(journal_path + ".resumed")
        if bar is not None:
            bar.close()
    table = result.table
    keys = list(spec.grid)
    shown = keys + ["seeds", "net_pnl_mean", "net_pnl_std", "sharpe_like_mean", "max_drawdown_mean",
                    "spread_capture_mean", "hedge_cost_mean", "fees_mean", "fills_mean", "time_paused_s_mean"]
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_columns", None, "display.float_format", "{:,.3f}".format):
        print(table[shown].to_string(index=False))
    if args.out:
        from reports.sweep_report import write_sweep_report

        files = write_sweep_report(result, args.out)
        print(f"\nwritten: {', '.join(str(p) for p in files.values())}")
    else:
        _os.remove(journal_path)  # the table is printed; nothing of this sweep is left to resume
    return 0


def _data(args: argparse.Namespace) -> int:
    if args.data_command == "cache":
        return _data_cache(args)
    import time

    from backtest.markets.data import DataError, import_capture, import_capture_to, save

    for flag, value in (("--tick-size", args.tick_size), ("--lot-size", args.lot_size),
                        ("--contract-multiplier", args.contract_multiplier)):
        if value is not None and not (value > 0 and math.isfinite(value)):
            raise ConfigError([f"{flag} {value}: must be a positive number"])
    check_output_dir(args.out, "--out")
    if args.format != "binance" and len(args.capture) > 1:
        raise ConfigError([f"--format {args.format}: one file (the book CSV, with --trades); consecutive captures "
                           "are read with --format binance"])
    options = {"symbol": args.symbol, "tick_size": args.tick_size, "lot_size": args.lot_size,
               "instrument_kind": args.instrument_kind, "contract_multiplier": args.contract_multiplier}
    if args.format == "binance":
        options["on_gap"] = args.on_gap
    elif args.trades:
        options["trades"] = args.trades
    started = time.perf_counter()
    try:
        capture = args.capture if len(args.capture) > 1 else args.capture[0]
        # a clean Binance capture is written as it is read (bounded memory, any length); anything else whole
        data = import_capture_to(capture, args.venue, args.out, fmt=args.format, **options)
        if data is not None:
            path = data.path
        else:
            data = import_capture(capture, args.venue, fmt=args.format, **options)
            path = save(data, args.out)
    except DataError as err:
        raise ConfigError([str(err)], heading="cannot import the capture") from None
    print(data.describe())
    print(f"written: {path} ({time.perf_counter() - started:.1f} s)")
    return 0


def _data_cache(args: argparse.Namespace) -> int:
    from backtest.markets.data import cache

    if args.clear:
        removed, freed = cache.clear()
        print(f"import cache {cache.cache_dir()}: {removed} entries removed, {freed / 2**20:.1f} MiB freed")
        return 0
    found = cache.entries()
    print(f"import cache {cache.cache_dir()}: {len(found)} entries, "
          f"{sum(size for _, size in found) / 2**20:.1f} MiB (clear: {cache.CLEAR_COMMAND})")
    for entry, size in found:
        print(f"  {entry.name}  {size / 2**20:6.1f} MiB  {cache.source_of(entry)}")
    return 0


def _replay_study(args: argparse.Namespace) -> int:
    from backtest.research.studies import replay_study
    from reports.replay_study import write_replay_study

    if args.ticks is not None and args.ticks < 10:
        raise ConfigError([f"--ticks {args.ticks}: at least 10"])
    check_output_dir(args.out, "--out")
    table, results = replay_study(args.ticks)
    files = write_replay_study(table, results, args.out)
    import pandas as pd

    with pd.option_context("display.width", 220, "display.max_columns", None, "display.float_format", "{:,.3f}".format):
        print(table.to_string(index=False))
    print(f"\nwritten: {', '.join(str(p) for p in files.values())}")
    return 0


def _instruments_study(args: argparse.Namespace) -> int:
    from backtest.research.studies import COINM_TICKS, instruments_study
    from reports.instruments_study import write_instruments_study

    if args.ticks is not None and not 10 <= args.ticks <= COINM_TICKS:
        raise ConfigError([f"--ticks {args.ticks}: allowed 10 to {COINM_TICKS:,} (the span every recording covers)"])
    check_output_dir(args.out, "--out")
    table, results = instruments_study(args.ticks)
    files = write_instruments_study(table, results, args.out)
    import pandas as pd

    from backtest.summary_groups import format_number

    with pd.option_context("display.width", 250, "display.max_columns", None, "display.float_format", format_number):
        print(table.T.to_string(header=False))
    print(f"\nwritten: {', '.join(str(p) for p in files.values())}")
    return 0


def _base_config(name: str):
    """``--base``: a preset's config or a config file's."""
    from pathlib import Path

    if name in PRESETS:
        return preset(name)
    if Path(name).is_file():
        return load_config(name)
    raise ConfigError([f"--base {name[:200]!r}: neither a preset nor a file; allowed: a config file or one "
                       f"of {', '.join(PRESETS)}"])


def _calibrate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from backtest.markets.calibrate import calibrate, synthetic_recording, to_toml
    from backtest.markets.queue_reactive_fit import estimate as estimate_queue_reactive
    from backtest.markets.replay import load_venue

    if args.dataset:
        if args.exchange1 or args.exchange2:
            raise ConfigError(["give --dataset or --exchange1/--exchange2, not both"])
        paths = [str(Path(args.dataset) / f"{v}.parquet") for v in ("exchange1", "exchange2")]
    elif args.exchange1 and args.exchange2:
        paths = [args.exchange1, args.exchange2]
    else:
        raise ConfigError(["give the recording: --dataset DIR, or --exchange1 FILE and --exchange2 FILE"])
    if args.seeds < 2:
        raise ConfigError([f"--seeds {args.seeds}: at least 2 for a spread across seeds"])
    if not 1 <= args.fact_seeds <= 64:
        raise ConfigError([f"--fact-seeds {args.fact_seeds}: allowed: 1 to 64"])
    if not 0.0 <= args.trend_window_ms <= 60_000.0:  # also refuses nan
        raise ConfigError([f"--trend-window-ms {args.trend_window_ms}: allowed: 0 (no trend) to 60000 ms"])
    out = Path(args.out)
    if out.is_dir():
        raise ConfigError([f"--out {out}: a directory; give a file name, e.g. calibrated.toml"])
    if args.report:
        check_output_dir(args.report, "--report")
    base = _base_config(args.base)
    sources: list[str] = []
    d1, d2 = load_venue(paths[0], "exchange1", sources), load_venue(paths[1], "exchange2", sources)
    for line in sources:
        print(f"note: {line}", file=sys.stderr)
    zi_cfg, zi_estimates = calibrate(d1, d2, base=base)
    # both models meet the strategy with the same latencies (a round trip of the recorded feed latency)
    latency = {e.key: e.value for e in zi_estimates if e.key.startswith("latency.") and e.value is not None}
    qr_cfg = qr_estimates = None
    if args.model == "queue_reactive" or args.report:
        try:
            qr_cfg, qr_estimates = estimate_queue_reactive(d1, d2, base=make_config(base.model_dump(), **latency),
                                                           trend_window_ms=args.trend_window_ms,
                                                           diffuse_leads=args.diffuse_leads,
                                                           split_leads=args.split_leads,
                                                           queue_sizes=args.queue_sizes,
                                                           sweep_within_jump=args.sweep_within_jump,
                                                           chase=args.chase, gap_sides=args.gap_sides,
                                                           perp_leads=args.perp_leads,
                                                           lead_follow=args.lead_follow,
                                                           trend_takes=args.trend_takes)
            qr_estimates = [e for e in zi_estimates if e.key.startswith("latency.")] + qr_estimates
        except ConfigError as err:
            if args.model == "queue_reactive":
                raise
            # the report goes on without it, and says why
            print(f"note: the report leaves the queue-reactive model out: {'; '.join(err.problems)}", file=sys.stderr)
    cfg, estimates = (qr_cfg, qr_estimates) if args.model == "queue_reactive" else (zi_cfg, zi_estimates)
    model = "Queue-reactive" if args.model == "queue_reactive" else "Zero-intelligence synthetic"
    options = "".join(f" {flag}" for flag, on in (
        (f"--trend-window-ms {args.trend_window_ms:g}", args.trend_window_ms > 0),
        ("--diffuse-leads", args.diffuse_leads), ("--split-leads", args.split_leads),
        ("--queue-sizes", args.queue_sizes), ("--sweep-within-jump", args.sweep_within_jump), ("--chase", args.chase),
        ("--gap-sides", args.gap_sides), ("--perp-leads", args.perp_leads),
        ("--lead-follow", args.lead_follow), ("--trend-takes", args.trend_takes))
        if on and args.model == "queue_reactive")  # the queue-reactive model's options, which make its config
    header = (f"{model} market calibrated to {paths[0]} (Exchange 1) and {paths[1]} (Exchange 2) by "
              f"`python -m backtest calibrate --model {args.model}{options}`; strategy sections from "
              f"{'the preset' if args.base in PRESETS else 'the config file'} {args.base}.")
    try:
        out.write_text(to_toml(cfg, estimates, header))
    except OSError as err:
        raise ConfigError([f"--out {out}: cannot write ({err.strerror})"]) from None
    for e in estimates:
        shown = "kept from the base config" if e.value is None else e.value
        print(f"{e.key:40} {shown!s:>24}  {e.source}")
    print(f"\nwritten: {out}")
    if args.report:
        from backtest.markets.queue_reactive import queue_reactive_recording
        from backtest.research.stylized import strategy_comparison, stylized_facts
        from reports.stylized import write_stylized_report

        default = make_config(**{"sim.ticks": max(10, int(zi_cfg.sim.ticks * zi_cfg.sim.dt_s / 0.1))})

        def printed(make, cfg):
            """The market ``make`` prints from ``cfg``; on --fact-seeds seeds from cfg's own, one at a time."""
            if args.fact_seeds == 1:
                return make(cfg)
            return (make(cfg.with_dotted({"sim.seed": cfg.sim.seed + k})) for k in range(args.fact_seeds))

        markets = {"recording": (d1, d2),
                   "queue-reactive": printed(queue_reactive_recording, qr_cfg) if qr_cfg else None,
                   "zero-intelligence": printed(synthetic_recording, zi_cfg),
                   "default synthetic": printed(synthetic_recording, default)}
        facts = stylized_facts({name: pair for name, pair in markets.items() if pair is not None})
        models = {"queue-reactive": qr_cfg, "zero-intelligence": zi_cfg}
        replay_cfg = make_config(base.model_dump(), **{"market.source": "replay", "replay.exchange1": paths[0],
                                                       "replay.exchange2": paths[1], **latency})
        from backtest.markets.replay import available_ticks

        replay_cfg = make_config(replay_cfg.model_dump(), **{"sim.ticks": available_ticks(replay_cfg)})
        comparison = strategy_comparison(replay_cfg, {n: c for n, c in models.items() if c is not None},
                                         range(1, args.seeds + 1))
        files = write_stylized_report(facts, args.report, comparison)
        print(f"report: {files['html']}")
    return 0


def _calibrate_portfolio(args: argparse.Namespace) -> int:
    from pathlib import Path

    from backtest.markets.calibrate import calibrate_portfolio
    from backtest.portfolio import NAME_PATTERN, make_portfolio_config, portfolio_to_toml
    from backtest.markets.replay import load_venue

    import re

    pairs = {}
    for item in args.asset:
        name, sep, files = item.partition("=")
        paths = files.split(",")
        if not sep or len(paths) != 2 or not all(paths) or not re.match(NAME_PATTERN, name):
            raise ConfigError([f"--asset {item[:200]!r}: expected NAME=EXCHANGE1,EXCHANGE2 (a name of letters, digits "
                               "and _, and two recordings), e.g. ETH=spot.jsonl.gz,usdm.jsonl.gz"])
        if name in pairs:
            raise ConfigError([f"--asset {name}: given twice"])
        pairs[name] = paths
    if len(pairs) < 2:
        raise ConfigError(["--asset: at least two assets (a portfolio); one asset is `calibrate`'s"])
    out = Path(args.out)
    if out.is_dir():
        raise ConfigError([f"--out {out}: a directory; give a file name, e.g. portfolio.toml"])
    base = _base_config(args.base)
    sources: list[str] = []
    data = {name: (load_venue(p[0], "exchange1", sources), load_venue(p[1], "exchange2", sources))
            for name, p in pairs.items()}
    for line in sources:
        print(f"note: {line}", file=sys.stderr)
    portfolio, estimates = calibrate_portfolio(data, base=base)
    pcfg = make_portfolio_config(portfolio)
    header = ("Synthetic portfolio calibrated by `python -m backtest calibrate-portfolio` to "
              + "; ".join(f"{n}: {p[0]} and {p[1]}" for n, p in pairs.items())
              + f"; strategy sections from {args.base}. The correlation is of the quoted venues' 1 s mid returns.")
    try:
        out.write_text(portfolio_to_toml(pcfg, header=header))
    except OSError as err:
        raise ConfigError([f"--out {out}: cannot write ({err.strerror})"]) from None
    corr = pcfg.correlation()
    for i, name in enumerate(pcfg.names):
        kept = sum(e.value is None for e in estimates[name])
        print(f"{name:<10} {len(estimates[name]) - kept} estimates, {kept} kept from the base; correlation "
              + " ".join(f"{c:.3f}" for c in corr[i]))
    print(f"\nwritten: {out}")
    return 0


def _recordings_arg(text: str | None, flag: str) -> tuple[dict, ...]:
    """``KEY1+KEY2=A1+A2,B1+B2`` -> one dict of overrides per recording (the sweep's joint-axis syntax)."""
    from backtest.research.sweep import ZIP, SweepSpec, parse_grid_item

    if not text:
        return ()
    key, values = parse_grid_item(text)
    try:
        SweepSpec(grid={key: values}, seeds=(1,))  # the same checks as a sweep's joint axis
    except ConfigError as err:
        raise ConfigError([p.replace("--grid", flag) for p in err.problems]) from None
    if ZIP not in key and not key.startswith("replay."):
        raise ConfigError([f"{flag} {key}: name the recording's keys, e.g. replay.exchange1+replay.exchange2=..."])
    return tuple(SweepSpec.overrides({key: v}) for v in values)


def _optimize(args: argparse.Namespace) -> int:
    from pathlib import Path

    from backtest.research.optimize import (
        OptimizeSpec, optimize, out_of_sample, parse_constraint, parse_space, write_optimize_report,
    )

    check_output_dir(args.out, "--out")
    space = {}
    for item in args.space:
        key, dim = parse_space(item)
        if key in space:
            raise ConfigError([f"--space {key} is given twice"])
        space[key] = dim
    if args.portfolio:
        if args.config or args.preset != "default":
            raise ConfigError(["--portfolio names the whole base; --config and --preset are for one asset"])
        base = _portfolio_base(args.portfolio, args.set, args.ticks)
        replay = base.base.market.source == "replay"
    else:
        base = build_config(args)
        replay = base.market.source == "replay"
    if replay and (args.train_seeds or args.test_seeds):  # a recording has no seeds: never silently ignored
        raise ConfigError(["--train-seeds/--test-seeds apply to the synthetic market; on a replay the out-of-sample "
                           "check is the end of the recording: --holdout-share"])
    if not replay and args.holdout_share is not None:
        raise ConfigError(["--holdout-share applies to a replay (the end of the recording kept back); on the "
                           "synthetic market the out-of-sample check runs held-out seeds: --test-seeds"])
    holdout = 0.3 if args.holdout_share is None else args.holdout_share
    if not 0.0 < holdout < 1.0:
        raise ConfigError([f"--holdout-share {holdout}: between 0 and 1"])
    recordings = {part: _recordings_arg(getattr(args, f"{part}_recordings"), f"--{part}-recordings")
                  for part in ("train", "test")}
    if any(recordings.values()) and args.holdout_share is not None:
        raise ConfigError(["--holdout-share splits one recording; with --train-recordings/--test-recordings the "
                           "out-of-sample check is the test recordings: give one or the other"])
    spec = OptimizeSpec(space=space, base=base, objective=args.objective, trials=args.trials,
                        train_seeds=_parse_seeds(args.train_seeds or "1,2,3"),
                        test_seeds=_parse_seeds(args.test_seeds or "101,102,103"),
                        holdout_share=holdout, train_recordings=recordings["train"],
                        test_recordings=recordings["test"],
                        constraints=[parse_constraint(c) for c in args.constraint or []],
                        storage=args.storage or f"sqlite:///{(Path(args.out) / 'study.db').resolve()}",
                        study_name=args.study_name, cluster=args.cluster)
    from tqdm import tqdm

    from backtest.research.sweep import ClusterLost

    bars = []  # made at the first report, so that a resumed study's bar starts at the trials it already holds

    def progress(done, total):
        if not bars:
            bars.append(tqdm(total=total, initial=done, unit="trial", file=sys.stderr, dynamic_ncols=True,
                             desc="optimize"))
        bars[0].n = done
        bars[0].refresh()

    stopped = None  # (exit code, message), said once the bar is closed
    try:
        study = optimize(spec, progress=progress)
    except KeyboardInterrupt:
        stopped = 130, f"interrupted: the study is saved in {spec.storage}; run the same command to resume it"
    except ClusterLost as lost:
        stopped = 1, f"error: {lost}: the finished trials are saved in {spec.storage}; run the same command to resume"
    finally:
        for bar in bars:
            bar.close()
    if stopped:
        print("\n" + stopped[1], file=sys.stderr)
        return stopped[0]
    oos = out_of_sample(spec, study)
    files = write_optimize_report(spec, study, oos, args.out)
    import pandas as pd

    if oos:
        with pd.option_context("display.width", 200, "display.max_columns", None, "display.float_format",
                               "{:,.4f}".format):
            print(pd.DataFrame(oos).to_string(index=False))
    else:
        print("no feasible trial: every trial broke a constraint")
    print(f"\nwritten: {', '.join(str(p) for p in files.values())}\nstudy: {spec.storage} ({spec.study_name})")
    return 0


def _warmup() -> int:
    """A tiny run compiles every kernel a run, a sweep or the API uses (one specialisation each; numba caches
    them under kernels/__pycache__, keyed on the kernel sources)."""
    import time

    from backtest.engine import run

    import numpy as np

    from backtest.markets.data import binance_scan

    started = time.perf_counter()
    run(make_config(**{"sim.ticks": 50}))
    from backtest.portfolio import make_portfolio_config, run_portfolio

    # the portfolio's driver is compiled once per number of assets: two, the presets' (others on first use)
    run_portfolio(make_portfolio_config({"sim": {"ticks": 50}, "assets": [{"name": "A"}, {"name": "B"}]}))
    line = np.frombuffer(b'1 {"lastUpdateId":1,"bids":[["1.0","1"]],"asks":[]}\n', dtype=np.uint8)
    binance_scan.count_bytes(line)  # the capture scanner (backtest.markets.data.binance_scan), used by every import
    binance_scan.scan(line, 1, np.zeros((2, binance_scan.N_COLS), np.int64), np.zeros((2, binance_scan.N_VCOLS),
                      np.int64), np.array([-1, 0]), np.zeros(64, np.uint8))
    print(f"kernels compiled and cached in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


def _paper(args: argparse.Namespace) -> int:
    from backtest.research.paper import compare, format_table

    if args.seeds < 2:
        raise ConfigError([f"--seeds {args.seeds}: need at least 2 simulations for a standard deviation"])
    timings = ("before_move", "after_move") if args.timing == "both" else (args.timing,)
    tables = {timing: compare(args.seeds, timing=timing) for timing in timings}
    if args.json:
        print(json.dumps([r.as_dict() for rows in tables.values() for r in rows], indent=2))
    else:
        for timing, rows in tables.items():
            print(f"Avellaneda & Stoikov (2008), fills drawn {timing.replace('_', ' ')}, {args.seeds} simulations "
                  "per row (ours, the paper's figure in brackets, the difference in combined standard errors in "
                  "square brackets)")
            print(format_table(rows))
    return 0


def _faults(args: argparse.Namespace) -> int:
    """One row per fault preset: first control that fired and when, exposure, loss against the same
    seed without the fault."""
    from backtest.config import FAULT_PRESETS
    from backtest.engine import run

    configs = {name: preset(name) for name in FAULT_PRESETS}
    if args.seed is not None:  # validated before any output
        configs = {n: make_config(c.model_dump(), **{"sim.seed": args.seed}) for n, c in configs.items()}
    header = ("| scenario | first control (time) | kill switch | time paused / killed (s) | largest naked (lots, "
              "held s) | time naked (s) | race fills | depth shrinks | hedge failures | net PnL | no fault |")
    print(header)
    print("|---" * 11 + "|")
    no_fault_pnl: dict[tuple[int, int], float] = {}  # the same baseline serves every preset of its length
    for name, cfg in configs.items():
        r = run(cfg)
        s = r.summary_dict
        key = (cfg.sim.ticks, cfg.sim.seed)
        if key not in no_fault_pnl:
            no_fault_pnl[key] = run(make_config({"sim": {"ticks": key[0], "seed": key[1]}})).summary_dict["net_pnl"]
        ev = r.risk_events
        ev = ev[ev.to_state.isin(["paused", "killed", "reduced"])]
        first = f"{ev.iloc[0].reason} ({ev.iloc[0].time_s:.1f} s)" if len(ev) else "none"
        print(f"| `{name}` | {first} | {'yes' if s['kill_switch_fired'] else 'no'} | "
              f"{s['time_paused_s']:.1f} / {s['time_killed_s']:.1f} | {s['largest_naked_lots']} "
              f"({s['largest_naked_duration_s']:.1f}) | {s['time_above_exposure_threshold_s']:.1f} | "
              f"{s['cancel_race_fills']} | {s['depth_check_shrinks']} | {s['hedge_failures']} | "
              f"{s['net_pnl']:.2f} | {no_fault_pnl[key]:.2f} |")
    return 0
