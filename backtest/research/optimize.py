"""Parameter search with Optuna, scored out of sample by construction.

``optimize(spec)`` searches the ``space`` (dotted config keys: a float or integer range, or a list of values)
with Optuna's TPE sampler, each trial scored by the mean of ``objective`` over the *training* part: training
seeds on a synthetic market, the first part of the recording on a replay (``holdout_share`` of it is kept
back), or, given lists of recordings (days, symbols), the whole of each training recording. Constraints a risk manager sets (``max_drawdown<=20``, ``time_killed_s<=0``, ``largest_naked_lots<=5``)
make a trial infeasible, not merely worse: Optuna's constrained TPE never proposes around it and the best
trial is the best feasible one. The study lives in a database (SQLite by default, any URL Optuna accepts with
``storage``): running the same command again resumes it up to ``trials`` in all, and several machines
pointed at one database work on one study. The best feasible trials are then scored on the held-out seeds,
window or recordings, and ``write_optimize_report`` charts in-sample against out-of-sample, the history and the
parameter importances.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from backtest.config import ConfigError, SimConfig, make_config

OBJECTIVES = ("net_pnl", "sharpe_like", "spread_capture", "hedge_cost", "max_drawdown")
MINIMIZE = {"max_drawdown"}
# metrics that add up over time: on a replay the training and held-out windows differ in length, so these are
# compared per hour of the window as well
ADDITIVE = {"net_pnl", "spread_capture", "hedge_cost", "fees", "inventory_mtm", "fills", "volume_exchange1_lots",
            "time_paused_s", "time_killed_s"}


@dataclass(frozen=True)
class Constraint:
    metric: str
    op: str  # "<=" or ">="
    bound: float

    def violation(self, value: float) -> float:
        """<= 0 when satisfied (Optuna's convention)."""
        return value - self.bound if self.op == "<=" else self.bound - value


@dataclass
class OptimizeSpec:
    space: dict[str, tuple]  # key -> ("float", lo, hi) | ("int", lo, hi) | ("categorical", [values])
    base: SimConfig  # or a backtest.portfolio.PortfolioConfig: the portfolio's metrics are scored
    objective: str = "net_pnl"
    trials: int = 20
    train_seeds: tuple[int, ...] = (1, 2, 3)
    test_seeds: tuple[int, ...] = (101, 102, 103)
    holdout_share: float = 0.3  # replay: the last share of the recording is kept back
    # replay over several recordings (days, symbols): each a dict of config overrides (its replay.exchange1 /
    # exchange2 and whatever else differs); a trial is scored on the whole of each training recording, the best
    # checked on the test ones (out of sample = other days), instead of on a held-out share of one recording
    train_recordings: tuple[dict, ...] = ()
    test_recordings: tuple[dict, ...] = ()
    constraints: list[Constraint] = field(default_factory=list)
    storage: str | None = None
    study_name: str = "mmhedge"
    seed: int = 0  # the sampler's
    cluster: str | None = None  # a Dask scheduler's address: a trial's runs go to its workers


def parse_space(item: str) -> tuple[str, tuple]:
    """``quoting.half_spread_ticks=1:8`` (float range), ``quoting.size_lots=1:5:int``, ``x=a,b,c`` (choices)."""
    import json

    if "=" not in item:
        raise ConfigError([f"--space {item!r}: expected key=lo:hi, key=lo:hi:int or key=v1,v2,..."])
    key, text = (part.strip() for part in item.split("=", 1))
    if ":" in text:
        parts = text.split(":")
        kind = parts[2] if len(parts) == 3 else "float"
        try:
            lo, hi = float(parts[0]), float(parts[1])
        except ValueError:
            raise ConfigError([f"--space {item!r}: bounds must be numbers"]) from None
        if len(parts) > 3 or kind not in ("float", "int") or not lo < hi or not (math.isfinite(lo) and math.isfinite(hi)):
            raise ConfigError([f"--space {item!r}: expected lo:hi or lo:hi:int with finite lo < hi"])
        return key, (kind, int(lo) if kind == "int" else lo, int(hi) if kind == "int" else hi)
    values = []
    for v in text.split(","):
        try:
            values.append(json.loads(v))
        except json.JSONDecodeError:
            values.append(v)
    if len(values) < 2 or len({json.dumps(v) for v in values}) != len(values):
        raise ConfigError([f"--space {item!r}: give at least two distinct values"])
    return key, ("categorical", values)


def parse_constraint(item: str) -> Constraint:
    for op in ("<=", ">="):
        if op in item:
            metric, bound = (p.strip() for p in item.split(op, 1))
            try:
                return Constraint(metric, op, float(bound))
            except ValueError:
                break
    raise ConfigError([f"--constraint {item!r}: expected metric<=value or metric>=value, e.g. max_drawdown<=20"])


def _is_portfolio(base) -> bool:
    from backtest.research.sweep import is_portfolio_config

    return is_portfolio_config(base)


def _source(base) -> str:
    """The market source of a base config (a portfolio's shared one)."""
    return (base.base if _is_portfolio(base) else base).market.source


def _with(base, params: dict):
    """``base`` with dotted ``params`` (a portfolio's keys may name one asset: assets.NAME.SECTION.KEY)."""
    return base.with_dotted(params) if _is_portfolio(base) else make_config(base.model_dump(), **params)


def window_hours(spec: OptimizeSpec, part: str) -> float | None:
    """Hours of simulated time one run of ``part`` ('train' or 'test') covers on a replay; None on a synthetic
    market (every seed's run has the config's length)."""
    if _source(spec.base) != "replay":
        return None
    configs = _configs(spec, {}, part)
    return float(np.mean([c.sim.ticks * c.sim.dt_s for c in configs])) / 3600.0  # scores are means over them


def _configs(spec: OptimizeSpec, params: dict, part: str) -> list[SimConfig]:
    """The runs a parameter set is scored on: ``part`` 'train' or 'test'."""
    if _is_portfolio(spec.base):
        cfg = spec.base.with_dotted(params)
        if cfg.base.market.source == "replay":  # the first part of the recordings on their one clock, then the rest
            from backtest.portfolio import portfolio_available_ticks

            total = min(cfg.base.sim.ticks, portfolio_available_ticks(cfg))
            cut = int(total * (1.0 - spec.holdout_share))
            if part == "train":
                return [cfg.with_dotted({"sim.ticks": cut})]
            return [cfg.with_dotted({"sim.ticks": total - cut,
                                     "replay.start_s": cfg.base.replay.start_s + cut * cfg.base.sim.dt_s})]
        return [cfg.with_dotted({"sim.seed": s}) for s in (spec.train_seeds if part == "train" else spec.test_seeds)]
    cfg = make_config(spec.base.model_dump(), **params)
    recordings = spec.train_recordings if part == "train" else spec.test_recordings
    if cfg.market.source == "replay" and recordings:
        from backtest.markets.replay import available_ticks

        out = []
        for overrides in recordings:  # the whole of each (at most the base's ticks)
            one = make_config(cfg.model_dump(), **overrides)
            out.append(make_config(one.model_dump(), **{"sim.ticks": min(one.sim.ticks, available_ticks(one))}))
        return out
    if cfg.market.source == "replay":
        from backtest.markets.replay import available_ticks

        total = min(cfg.sim.ticks, available_ticks(cfg))
        cut = int(total * (1.0 - spec.holdout_share))
        if part == "train":
            return [make_config(cfg.model_dump(), **{"sim.ticks": cut})]
        return [make_config(cfg.model_dump(), **{"sim.ticks": total - cut, "replay.start_s": cut * cfg.sim.dt_s})]
    seeds = spec.train_seeds if part == "train" else spec.test_seeds
    return [make_config(cfg.model_dump(), **{"sim.seed": s}) for s in seeds]


def score(spec: OptimizeSpec, params: dict, part: str) -> dict[str, float]:
    """Mean of every sweep metric over the part's runs."""
    from backtest.research.sweep import config_data

    import warnings

    configs = _configs(spec, params, part)
    if spec.cluster:
        from backtest.research.sweep import run_on_cluster

        by_index = dict(run_on_cluster(spec.cluster, indexed_metrics, list(enumerate(config_data(c) for c in configs))))
        runs = [by_index[i] for i in range(len(configs))]
    else:
        runs = [indexed_metrics((i, config_data(c)))[1] for i, c in enumerate(configs)]
    with warnings.catch_warnings():  # a figure with no value in every run (no kill: first_kill_s) stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return {k: float(np.nanmean([r[k] for r in runs])) for k in runs[0]}


def indexed_metrics(item):
    """(index, metrics) of one run given as (index, config dict): what a cluster worker computes."""
    from backtest.research.sweep import portfolio_metrics, run_metrics

    index, cfg = item
    if "assets" in cfg:
        from backtest.portfolio import make_portfolio_config

        return index, portfolio_metrics(make_portfolio_config(cfg))
    return index, run_metrics(SimConfig.model_validate(cfg))


def _validate(spec: OptimizeSpec) -> None:
    from backtest.research.sweep import METRICS

    if spec.objective not in OBJECTIVES:
        raise ConfigError([f"--objective {spec.objective!r}; allowed: {', '.join(OBJECTIVES)}"])
    if not spec.space:
        raise ConfigError(["give at least one --space key=lo:hi"])
    if spec.trials < 1:
        raise ConfigError([f"--trials {spec.trials}: at least 1"])
    for c in spec.constraints:
        if c.metric not in METRICS and c.metric not in ("largest_naked_lots", "time_above_exposure_threshold_s",
                                                         "hedge_failures"):
            raise ConfigError([f"--constraint {c.metric}: unknown metric; allowed: {', '.join(METRICS)}, "
                               "largest_naked_lots, time_above_exposure_threshold_s, hedge_failures"])
    if set(spec.train_seeds) & set(spec.test_seeds):
        raise ConfigError(["training and test seeds must differ: out-of-sample means other seeds"])
    if bool(spec.train_recordings) != bool(spec.test_recordings):
        raise ConfigError(["give both --train-recordings and --test-recordings (out of sample = other recordings), "
                           "or neither (out of sample = the end of the recording, --holdout-share)"])
    if _is_portfolio(spec.base) and spec.train_recordings:
        raise ConfigError(["--train-recordings/--test-recordings name one asset's recordings; a portfolio of "
                           "recordings is checked out of sample on the held-out end of its recordings "
                           "(--holdout-share); allowed: neither"])
    if spec.train_recordings and _source(spec.base) != "replay":
        raise ConfigError(["--train-recordings/--test-recordings apply to a replay (market.source replay, e.g. "
                           "--preset replay_binance_btcusdt_20240808)"])
    shared = [r for r in spec.train_recordings if r in spec.test_recordings]
    if shared:
        raise ConfigError([f"recording {shared[0]} is both a training and a test recording: out of sample means "
                           "other recordings"])
    for part in ("train", "test"):
        for overrides in (spec.train_recordings if part == "train" else spec.test_recordings):
            try:  # read now (and kept in memory for the trials): a missing or bad one stops before the study
                from backtest.markets.replay import available_ticks

                available_ticks(make_config(spec.base.model_dump(), **overrides))
            except ConfigError as err:
                raise ConfigError([f"--{part}-recordings {overrides}: {p}" for p in err.problems]) from None
    # every corner of the space must make a valid config
    for key, (kind, *rest) in spec.space.items():
        for value in (rest[0] if kind == "categorical" else rest):
            try:
                _with(spec.base, {key: value})
            except ConfigError as err:
                raise ConfigError([f"--space {key}={value}: {p}" for p in err.problems]) from None


def optimize(spec: OptimizeSpec, progress=None) -> Any:
    """Run the study up to ``spec.trials`` trials in all (resuming one in ``spec.storage``); returns it."""
    import optuna

    _validate(spec)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a trial stopped by Ctrl-C is not a warning with a traceback

    def constraints(trial):
        return trial.user_attrs.get("constraints", [0.0])

    # optuna 5 takes constraints from the trial (Trial.set_constraint) and deprecates constraints_func, with a
    # FutureWarning on every run; earlier versions know only constraints_func
    per_trial_constraints = hasattr(optuna.trial.Trial, "set_constraint")
    sampler = optuna.samplers.TPESampler(
        seed=spec.seed, constraints_func=constraints if spec.constraints and not per_trial_constraints else None)
    direction = "minimize" if spec.objective in MINIMIZE else "maximize"
    study = optuna.create_study(study_name=spec.study_name, storage=spec.storage, sampler=sampler,
                                direction=direction, load_if_exists=True)

    counted = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.RUNNING)

    def objective(trial):
        params = {}
        for key, (kind, *rest) in spec.space.items():
            if kind == "float":
                params[key] = trial.suggest_float(key, rest[0], rest[1])
            elif kind == "int":
                params[key] = trial.suggest_int(key, rest[0], rest[1])
            else:
                params[key] = trial.suggest_categorical(key, rest[0])
        # Several processes may work on one study (its storage shared): the study runs ``spec.trials`` trials in
        # all, those with the lowest numbers, and never one set of parameters twice (the runs are deterministic:
        # a repeat would cost the time of a trial and teach the sampler nothing). Such a trial is pruned.
        earlier = [t for t in study.get_trials(deepcopy=False, states=counted) if t.number < trial.number]
        if len(earlier) >= spec.trials:
            study.stop()
            raise optuna.TrialPruned("the study has its trials (other processes ran them)")
        if any(t.params == trial.params for t in earlier):
            raise optuna.TrialPruned("these parameters were tried already")
        metrics = score(spec, params, "train")
        # checked again now: a process that numbered its trial earlier may have set the same parameters while
        # this one ran (its score is the same: it keeps the point, this repeat is pruned)
        # a trial numbered earlier may set its parameters only after this one's first check (its process was
        # slower to ask the sampler): a finished trial with the same parameters, whatever its number, also wins
        others = study.get_trials(deepcopy=False, states=counted)
        if any(t.params == trial.params and (t.number < trial.number or t.state == optuna.trial.TrialState.COMPLETE)
               for t in others if t.number != trial.number):
            raise optuna.TrialPruned("these parameters were tried already")
        trial.set_user_attr("train", metrics)
        trial.set_user_attr("constraints", [c.violation(metrics[c.metric]) for c in spec.constraints] or [0.0])
        if per_trial_constraints:
            for c in spec.constraints:
                trial.set_constraint(f"{c.metric}{c.op}{c.bound:g}", c.violation(metrics[c.metric]))
        value = metrics[spec.objective]
        return value if math.isfinite(value) else (-1e18 if direction == "maximize" else 1e18)

    def completed() -> int:
        return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))

    callbacks = [lambda s, t: progress(completed(), spec.trials)] if progress else []
    if progress:
        progress(completed(), spec.trials)
    attempts = 0
    # pruned repeats do not count: ask again until the study holds its trials (bounded: a space of a few
    # values can hold fewer distinct points than trials asked)
    while completed() < spec.trials and attempts < 10 * spec.trials:
        remaining = spec.trials - completed()
        study.optimize(objective, n_trials=remaining, callbacks=callbacks)
        attempts += remaining
        if len(study.get_trials(deepcopy=False, states=counted)) >= spec.trials:
            break  # the rest are running in other processes
    return study


def feasible(trial) -> bool:
    return all(v <= 0 for v in trial.user_attrs.get("constraints", [0.0]))


def out_of_sample(spec: OptimizeSpec, study, top: int = 5) -> list[dict]:
    """The best ``top`` feasible trials scored on the held-out seeds or window, beside their training scores."""
    import optuna

    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE and feasible(t)]
    reverse = spec.objective not in MINIMIZE
    done.sort(key=lambda t: t.value, reverse=reverse)
    hours = {part: window_hours(spec, part) for part in ("train", "test")}
    per_hour = hours["train"] is not None and spec.objective in ADDITIVE
    rows = []
    for t in done[:top]:
        test = score(spec, t.params, "test")
        row = {"trial": t.number, **{f"param {k}": v for k, v in t.params.items()},
               "in_sample": t.user_attrs["train"][spec.objective], "out_of_sample": test[spec.objective]}
        if per_hour:  # the windows differ in length: compare rates
            row["in_sample_per_hour"] = row["in_sample"] / hours["train"]
            row["out_of_sample_per_hour"] = row["out_of_sample"] / hours["test"]
        rows.append({**row, **{f"test {c.metric}": test[c.metric] for c in spec.constraints},
                     "feasible_out_of_sample": all(c.violation(test[c.metric]) <= 0 for c in spec.constraints)})
    return rows


def write_optimize_report(spec: OptimizeSpec, study, oos: list[dict], out_dir) -> dict[str, Path]:
    import json

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    import pandas as pd

    from backtest.research.experiment import meta, strict

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"trials": out / "trials.csv", "oos": out / "out_of_sample.csv", "meta": out / "meta.json"}
    trials = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    frame = pd.DataFrame([{"trial": t.number, "value": t.value, "feasible": feasible(t), **t.params} for t in trials])
    frame.to_csv(files["trials"], index=False)
    pd.DataFrame(oos).to_csv(files["oos"], index=False)
    files["meta"].write_text(json.dumps(strict(meta("optimize", objective=spec.objective, space={
        k: list(v) for k, v in spec.space.items()}, train_seeds=list(spec.train_seeds), test_seeds=list(spec.test_seeds),
        train_recordings=list(spec.train_recordings), test_recordings=list(spec.test_recordings),
        constraints=[f"{c.metric}{c.op}{c.bound:g}" for c in spec.constraints], storage=spec.storage,
        study_name=spec.study_name)), indent=2))

    fig, ax = plt.subplots(figsize=(7, 3.6))
    ok = frame[frame.feasible]
    ax.scatter(frame.trial, frame.value, s=12, c=np.where(frame.feasible, "tab:blue", "tab:red"),
               label="trial (red: infeasible)")
    if len(ok):
        best = ok.value.cummax() if spec.objective not in MINIMIZE else ok.value.cummin()
        ax.step(ok.trial, best, where="post", color="black", label="best feasible so far")
    ax.set_xlabel("trial")
    ax.set_ylabel(f"{spec.objective} (training, mean)")
    ax.set_title("Optimisation history")
    ax.legend(fontsize=8)
    fig.tight_layout()
    files["history"] = out / "history.png"
    fig.savefig(files["history"], dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 3.6))
    if oos:
        x = np.arange(len(oos))
        rate = "_per_hour" if "in_sample_per_hour" in oos[0] else ""
        ax.bar(x - 0.2, [r["in_sample" + rate] for r in oos], 0.4, label="in sample (training)")
        ax.bar(x + 0.2, [r["out_of_sample" + rate] for r in oos], 0.4, label="out of sample (held out)")
        ax.set_xticks(x, [f"#{r['trial']}" for r in oos])
    # (a per-hour label set before this was overwritten by the plain one)
    ax.set_ylabel(f"{spec.objective} per hour of the window" if oos and rate else spec.objective)
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_title("Best feasible trials: in sample against out of sample")
    ax.legend(fontsize=8)
    fig.tight_layout()
    files["in_vs_out"] = out / "in_vs_out_of_sample.png"
    fig.savefig(files["in_vs_out"], dpi=100)
    plt.close(fig)

    importances = {}
    if len(trials) >= 4 and len(spec.space) >= 1:
        try:
            # PED-ANOVA (optuna's default since 4.x; named here so the chart says what was computed): how much
            # each parameter's distribution differs between the top trials and all of them
            importances = optuna.importance.get_param_importances(
                study, evaluator=optuna.importance.PedAnovaImportanceEvaluator())
        except (RuntimeError, ValueError) as err:  # too few distinct trials for the evaluator
            importances = {"(not computed)": 0.0}
            files["importance_note"] = out / "importance_note.txt"
            files["importance_note"].write_text(str(err))
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.barh(list(importances), list(importances.values()))
    ax.set_xlabel("importance (PED-ANOVA: top 10% of trials against all)")
    ax.set_title("Parameter importances")
    fig.tight_layout()
    files["importances"] = out / "importances.png"
    fig.savefig(files["importances"], dpi=100)
    plt.close(fig)
    return files
