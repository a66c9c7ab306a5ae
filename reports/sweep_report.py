"""Charts and files of a parameter sweep: line charts (one grid key) or heatmaps (two grid keys) of
the mean across seeds, with the spread across seeds shown as error bars or printed in the cells."""
from __future__ import annotations

from pathlib import Path

import reports.charts  # noqa: F401  (chooses the backend before pyplot is imported)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from backtest.research.sweep import METRICS, ZIP  # noqa: E402

LINE_METRICS = (
    ("net_pnl", "net PnL", "black"),
    ("spread_capture", "spread capture", "#2ca02c"),
    ("hedge_cost", "hedge cost", "#d62728"),
    ("fees", "fees (paid, shown negative)", "#9467bd"),
)


def value_label(value) -> str:
    """A grid value as an axis label: numbers in short form; a joint axis's value (``a+b``) by its parts, a
    recording's path by its directory (both venues' files share it), repeats said once."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:g}"
    parts = []
    for part in str(value).split(ZIP):
        short = Path(part).parent.name or part if "/" in part else part
        if short not in parts:
            parts.append(short)
    return "\n".join(parts)


def key_label(key: str) -> str:
    """A grid key as an axis title: a joint axis's keys by their last names."""
    return " + ".join(k.split(".")[-1] for k in key.split(ZIP)) if ZIP in key else key


def line_chart(result, key: str, label: str | None = None) -> plt.Figure:
    """Mean ± std across seeds of PnL and its parts (left) and the Sharpe-like ratio (right) against ``key``."""
    t = result.table
    x = np.arange(len(t))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8), width_ratios=[1.5, 1])
    for metric, name, colour in LINE_METRICS:
        sign = -1.0 if metric == "fees" else 1.0
        ax1.errorbar(x, sign * t[f"{metric}_mean"], yerr=t[f"{metric}_std"], color=colour, marker="o",
                     capsize=3, lw=1.4, label=name)
    ax1.axhline(0, color="grey", lw=0.6)
    ax1.set_ylabel("currency per run (mean ± std across seeds)")
    ax1.set_title(f"PnL and its parts against {label or key}")
    ax1.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.17))
    ax2.errorbar(x, t["sharpe_like_mean"], yerr=t["sharpe_like_std"], color="#1f77b4", marker="o", capsize=3)
    ax2.axhline(0, color="grey", lw=0.6)
    ax2.set_ylabel("Sharpe-like ratio (per simulated hour)")
    ax2.set_title("Risk-adjusted: mean / std of 1-s PnL changes")
    for ax in (ax1, ax2):
        ax.set_xticks(x, [value_label(v) for v in t[key]])
        ax.set_xlabel(label or key_label(key))
        ax.grid(True, alpha=0.3)
    seeds = int(t["seeds"].iloc[0])
    ticks = result.spec.base.sim.ticks
    fig.suptitle(f"{result.spec.name}: {seeds} seeds x {ticks:,} ticks per point", fontsize=10)
    fig.tight_layout()
    return fig


def heatmap(result, metric: str, row_key: str, col_key: str) -> plt.Figure:
    """Mean of ``metric`` across seeds on a (row_key x col_key) grid, each cell labelled mean ± std."""
    t = result.table
    rows = list(dict.fromkeys(t[row_key]))
    cols = list(dict.fromkeys(t[col_key]))
    mean = np.full((len(rows), len(cols)), np.nan)
    std = np.full_like(mean, np.nan)
    for _, r in t.iterrows():
        i, j = rows.index(r[row_key]), cols.index(r[col_key])
        mean[i, j] = r[f"{metric}_mean"]
        std[i, j] = r[f"{metric}_std"]
    fig, ax = plt.subplots(figsize=(1.8 * len(cols) + 3, 0.8 * len(rows) + 2.2))
    lim = np.nanmax(np.abs(mean)) if np.isfinite(mean).any() else 1.0
    im = ax.imshow(mean, cmap="RdYlGn", vmin=-lim, vmax=lim, aspect="auto")
    for i in range(len(rows)):
        for j in range(len(cols)):
            ax.text(j, i, f"{mean[i, j]:.2f}\n± {std[i, j]:.2f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(cols)), [value_label(c) for c in cols])
    ax.set_yticks(range(len(rows)), [value_label(r) for r in rows])
    ax.set_xlabel(key_label(col_key))
    ax.set_ylabel(key_label(row_key))
    unit = METRICS[metric].split(", ")[-1] if ", " in METRICS[metric] else ""
    fig.colorbar(im, ax=ax, label=f"{metric} (mean{', ' + unit if unit else ''})")
    ax.set_title(f"{result.spec.name}: {metric} ({METRICS[metric]})", fontsize=9)
    fig.tight_layout()
    return fig


def write_sweep_report(result, out_dir: str | Path) -> dict[str, Path]:
    """Write the sweep as a saved experiment: ``runs.parquet`` (one row per run: grid point, every varied key,
    seed, every summary metric; also ``runs.csv``), ``table.csv`` (mean / std per grid point), ``config.toml``
    (the base config), ``meta.json`` (grid, seeds, package version, git commit) and charts."""
    import json

    from backtest.config import config_to_toml
    from backtest.research.experiment import meta, strict

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"runs": out / "runs.parquet", "runs_csv": out / "runs.csv", "table": out / "table.csv",
             "config": out / "config.toml", "meta": out / "meta.json"}
    result.runs.to_parquet(files["runs"], index=False)
    result.runs.to_csv(files["runs_csv"], index=False)
    result.table.to_csv(files["table"], index=False)
    header = f"base config of the sweep {result.spec.name}"
    if hasattr(result.spec.base, "assets"):  # a portfolio sweep: its base is a portfolio file
        from backtest.portfolio import portfolio_to_toml

        files["config"].write_text(portfolio_to_toml(result.spec.base, header=header))
    else:
        files["config"].write_text(config_to_toml(result.spec.base, header=header))
    files["meta"].write_text(json.dumps(strict(meta("sweep", name=result.spec.name, grid=result.spec.grid,
                                                    seeds=list(result.spec.seeds))), indent=2))
    keys = list(result.spec.grid)
    figures = {}
    if len(keys) == 1:
        figures["lines"] = line_chart(result, keys[0])
    elif len(keys) == 2:
        for metric in ("net_pnl", "sharpe_like", "spread_capture", "hedge_cost"):
            figures[f"heatmap_{metric}"] = heatmap(result, metric, keys[0], keys[1])
    for name, fig in figures.items():
        path = out / f"{name}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        files[name] = path
    return files
