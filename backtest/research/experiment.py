"""Saved experiments: a run (or a sweep) written as a directory that describes itself and reloads.

A run's directory holds ``config.toml`` (the full config: ``--config`` takes it as it is and gives the same
run), ``meta.json`` (kind, seed, package version, git commit when the package sits in a git checkout,
format version), ``summary.json`` (strict JSON: null for NaN), every frame as Parquet under ``frames/``, and
the kernel's raw records under ``raw/`` (numpy ``.npy``), from which ``load(DIR)`` rebuilds the same
``Results`` (frames equal, tested). ``python -m backtest show DIR`` prints what is in it.
"""
from __future__ import annotations

import json
import math
import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np

from backtest.config import ConfigError, config_to_toml, load_config
from kernels.records import account_dt, hedge_dt

FORMAT_VERSION = 1
FRAMES = ("ticks", "fills", "hedges", "orders", "risk_events")
RAW = ("ticks_raw", "fills_raw", "hedges_raw", "orders_raw", "risk_raw", "account_raw", "counters", "interventions",
       "regime", "fair", "feed1", "feed2")
ROOT = Path(__file__).resolve().parents[2]  # the project (backtest/research/experiment.py)


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _saved_error(problems: list[str]) -> ConfigError:
    return ConfigError(problems, heading="cannot read the saved experiment")


def package_version() -> str:
    try:
        return metadata.version("mmhedge")
    except metadata.PackageNotFoundError:
        return "unknown"


def git_commit() -> str | None:
    """The commit of the checkout the package runs from, with '+dirty' when it has uncommitted changes; None
    outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return head.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def strict(value):
    """JSON-safe: NaN and inf become null, numpy scalars Python ones."""
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def meta(kind: str, **extra) -> dict:
    return {"kind": kind, "format_version": FORMAT_VERSION, "package_version": package_version(),
            "git_commit": git_commit(), **extra}


def save_run(results, directory: str | Path, frames: bool = True) -> Path:
    """Write ``results`` as an experiment into ``directory`` (created; files of an earlier save replaced).
    ``frames=False``: the frames under ``frames/`` are already there (``run --report`` wrote them)."""
    out = Path(directory)
    (out / "frames").mkdir(parents=True, exist_ok=True)
    (out / "raw").mkdir(parents=True, exist_ok=True)
    cfg = results.config
    toml_text = config_to_toml(cfg, header=f"mmhedge run, seed {cfg.sim.seed}; "
                               "`python -m backtest run --config config.toml` runs it again")
    (out / "config.toml").write_text(toml_text)
    (out / "meta.json").write_text(json.dumps(meta("run", seed=cfg.sim.seed, first_price=results.first_price,
                                                   config_sha256=_sha256(toml_text.encode()),
                                                   hedge_step_lots=results.hedge_step_lots,
                                                   hedge_contract_value=results.hedge_contract_value,
                                                   notes=list(results.notes), n_ticks=results.ticks_run),
                                              indent=2))
    (out / "summary.json").write_text(json.dumps(strict(results.summary_dict), indent=2, allow_nan=False))
    for name in FRAMES if frames else ():
        getattr(results, name).to_parquet(out / "frames" / f"{name}.parquet", index=False)
    for name in RAW:
        np.save(out / "raw" / f"{name}.npy", getattr(results, name), allow_pickle=False)
    return out


PORTFOLIO_RAW = ("rows_raw", "risk_raw", "covariance", "realized_correlation")


def save_portfolio(results, directory: str | Path, frames: bool = True) -> Path:
    """Write a portfolio run (``backtest.portfolio.PortfolioResults``) into ``directory``: ``config.toml`` (the
    portfolio: ``portfolio --config`` runs it again), ``meta.json``, ``summary.json``, the portfolio's raw records
    under ``raw/``, and each asset's run under ``assets/NAME/`` as ``save_run`` writes it (``frames=False``: the
    assets' frames are there already, ``portfolio --report`` wrote them)."""
    from backtest.portfolio import portfolio_to_toml

    out = Path(directory)
    (out / "raw").mkdir(parents=True, exist_ok=True)
    pcfg = results.config
    toml_text = portfolio_to_toml(pcfg, header=f"mmhedge portfolio, seed {pcfg.base.sim.seed}; "
                                  "`python -m backtest portfolio --config config.toml` runs it again")
    (out / "config.toml").write_text(toml_text)
    (out / "meta.json").write_text(json.dumps(meta("portfolio", seed=pcfg.base.sim.seed, assets=list(pcfg.names),
                                                   config_sha256=_sha256(toml_text.encode()),
                                                   covariance_sample_s=results.covariance_sample_s), indent=2))
    (out / "summary.json").write_text(json.dumps(strict(results.summary_dict), indent=2, allow_nan=False))
    for name in PORTFOLIO_RAW:
        np.save(out / "raw" / f"{name}.npy", getattr(results, name), allow_pickle=False)
    for name, r in results.assets.items():
        save_run(r, out / "assets" / name, frames=frames)
    return out


def _load_portfolio(d: Path, info: dict):
    from backtest.portfolio import PortfolioResults, load_portfolio_config

    stored = info.get("config_sha256")
    if stored is not None and (d / "config.toml").is_file() and _sha256((d / "config.toml").read_bytes()) != stored:
        raise _saved_error([f"{d / 'config.toml'} was changed after the portfolio was saved; restore it, or run the "
                            "edited config with `python -m backtest portfolio --config` (a new run)"])
    pcfg = load_portfolio_config(d / "config.toml")
    arrays = {}
    for name in PORTFOLIO_RAW:
        path = d / "raw" / f"{name}.npy"
        try:
            arrays[name] = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            raise _saved_error([f"{path}: missing or damaged ({str(err)[:120]}); not a complete saved portfolio"]) from None
    assets = {name: load(d / "assets" / name) for name in pcfg.names}
    return PortfolioResults(config=pcfg, assets=assets, covariance_sample_s=float(info["covariance_sample_s"]),
                            **arrays)


def load(directory: str | Path):
    """The Results of a run saved with ``save_run`` (``run --report DIR``), or the PortfolioResults of a portfolio
    saved with ``save_portfolio`` (``portfolio --report DIR``)."""
    from backtest.results import Results

    d = Path(directory)
    info = read_meta(d)
    if info.get("kind") == "portfolio":
        return _load_portfolio(d, info)
    if info.get("kind") != "run":
        raise _saved_error([f"{d}: a saved {info.get('kind')!r}, not a run; `python -m backtest show {d}` shows it"])
    stored = info.get("config_sha256")
    if stored is not None and (d / "config.toml").is_file() and _sha256((d / "config.toml").read_bytes()) != stored:
        raise _saved_error([f"{d / 'config.toml'} was changed after the run was saved: the saved records are of the "
                            "config it was saved with, not of this one; restore it, or run the edited config with "
                            "`python -m backtest run --config` (a new run)"])
    config = load_config(d / "config.toml")
    if "first_price" in info:  # settings in bps or notional: resolved again as the run resolved them
        from backtest.resolve import resolve_units

        config = resolve_units(config, float(info["first_price"]), float(info["hedge_step_lots"]))
    arrays = {}
    for name in RAW:
        path = d / "raw" / f"{name}.npy"
        if not path.is_file():
            raise _saved_error([f"{d}: {path.relative_to(d)} is missing: not a complete saved run"])
        try:
            arrays[name] = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:  # cut or corrupt: name the file, not numpy's internals
            raise _saved_error([f"{path}: damaged ({str(err)[:120]}); not a readable saved run: run it again "
                                "(`python -m backtest run --config` with its config.toml)"]) from None
    arrays["account_raw"] = _upgraded(arrays["account_raw"], account_dt, {"hedge_base2": "inv2"})
    arrays["hedges_raw"] = _upgraded(arrays["hedges_raw"], hedge_dt, {"base_filled": "qty_filled"})
    return Results(config=config, first_price=float(info.get("first_price", float("nan"))),
                   hedge_step_lots=float(info.get("hedge_step_lots", 1)),
                   hedge_contract_value=float(info.get("hedge_contract_value", 0.0)),
                   notes=tuple(info.get("notes", ())), n_ticks=int(info.get("n_ticks", -1)), **arrays)


def _upgraded(raw: np.ndarray, dtype: np.dtype, same_as: dict[str, str]) -> np.ndarray:
    """Records saved before ``dtype`` gained fields (runs saved before inverse contracts, all linear): the new
    fields filled as a linear run fills them (``same_as``: a new field that equals an old one; others 0)."""
    if raw.dtype == dtype:
        return raw
    out = np.zeros(raw.shape[0], dtype=dtype)
    for name in dtype.names:
        source = name if name in raw.dtype.names else same_as.get(name)
        if source is not None and source in raw.dtype.names:
            out[name] = raw[source]
    return out


def read_meta(d: Path) -> dict:
    path = Path(d) / "meta.json"
    if not path.is_file():
        raise _saved_error([f"{d}: no meta.json: not a saved experiment (`run --report DIR` or `sweep --out DIR` "
                           "make one)"])
    try:
        info = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise _saved_error([f"{path}: not JSON ({err})"]) from None
    if info.get("format_version") != FORMAT_VERSION:
        raise _saved_error([f"{path}: format version {info.get('format_version')}; this package reads "
                           f"{FORMAT_VERSION}"])
    return info


def _read_table(path: Path):
    """A CSV table written by this package; ConfigError naming the file when it is damaged or cut."""
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise _saved_error([f"{path}: cannot be read ({str(err)[:200]})"]) from None
    if len(frame.columns) == 0 or (len(frame) and frame.iloc[-1].isna().all()):
        raise _saved_error([f"{path}: empty or cut mid-row: the file is damaged"])
    return frame


def describe(directory: str | Path) -> str:
    """What ``python -m backtest show`` prints for a saved run, sweep or optimisation."""
    d = Path(directory)
    info = read_meta(d)
    head = (f"{info['kind']} saved by mmhedge {info['package_version']}, commit {info.get('git_commit') or 'unknown'}")
    if info["kind"] == "portfolio":
        from backtest.portfolio import summary_table

        return f"{head}, seed {info['seed']}\n\n{summary_table(load(d))}"
    if info["kind"] == "run":
        from backtest.summary_groups import format_summary

        summary = json.loads((d / "summary.json").read_text())
        summary = {k: (float("nan") if v is None else v) for k, v in summary.items()}
        return f"{head}, seed {info['seed']}\n\n{format_summary(summary)}"
    import pandas as pd

    if info["kind"] == "optimize":
        lines = [f"{head}: objective {info.get('objective')}, space {info.get('space')}, constraints "
                 f"{info.get('constraints') or 'none'}, study {info.get('study_name')} in {info.get('storage')}"]
        for name, title in (("trials.csv", "trials"), ("out_of_sample.csv", "best feasible trials out of sample")):
            path = d / name
            if not path.is_file():
                raise _saved_error([f"{d}: {name} is missing: not a complete optimize folder"])
            frame = _read_table(path)
            lines.append(f"\n{title} ({len(frame)}):")
            if len(frame):
                with pd.option_context("display.width", 200, "display.max_columns", None,
                                       "display.float_format", "{:,.4f}".format):
                    shown = frame.sort_values("value", ascending=False).head(10) if name == "trials.csv" else frame
                    lines.append(shown.to_string(index=False))
        return "\n".join(lines)
    if info["kind"] != "sweep":
        raise _saved_error([f"{d}: a saved {info['kind']!r}; `show` reads runs, sweeps and optimisations"])
    runs_path = d / "runs.parquet"
    if not runs_path.is_file():
        raise _saved_error([f"{d}: runs.parquet is missing: the sweep did not finish (its runs.jsonl resumes it: "
                           "`sweep ... --resume DIR/runs.jsonl`)"])
    try:
        runs = pd.read_parquet(runs_path)
    except (OSError, ValueError) as err:
        raise _saved_error([f"{runs_path}: cannot be read ({str(err)[:200]})"]) from None
    table = _read_table(d / "table.csv") if (d / "table.csv").is_file() else None
    if table is not None and (len(table) != runs["point"].nunique() or "net_pnl_mean" not in table
                              or table["net_pnl_mean"].isna().any()):
        raise _saved_error([f"{d / 'table.csv'}: {len(table)} complete rows for {runs['point'].nunique()} grid points: "
                           "the file is damaged (cut?); the runs are intact in runs.parquet"])
    lines = [f"{head}: {len(runs)} runs, grid {info.get('grid')}, seeds {info.get('seeds')}"]
    if table is not None:
        with pd.option_context("display.width", 200, "display.max_columns", None,
                               "display.float_format", "{:,.3f}".format):
            lines.append(table.to_string(index=False))
    return "\n".join(lines)
