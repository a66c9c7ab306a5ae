"""``write_portfolio_report(results, out_dir)``: the report of a portfolio run (``backtest.portfolio``).

``out_dir/report.html`` holds the summary (a column per asset and the total), the portfolio's charts (PnL by
asset stacked, notionals and exposure against their limits, the correlation used) and its risk events; the
portfolio's frames are written beside it as CSV, and each asset's own single-asset report (``write_report``:
its charts, frames and decision log) under ``assets/NAME/``.
"""
from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from reports.charts import _thin, _time_axis
from reports.run_report import PAGE_STYLE, _fmt, _table, write_report

STATE_COLOURS = {"active": "#2ca02c", "reduced": "#f0b400", "paused": "#ff7f0e", "killed": "#d62728"}


def pnl_by_asset_chart(results) -> plt.Figure:
    frame = _thin(results.portfolio)
    t = frame["time_s"].to_numpy()
    pnl = results.asset_pnl_at(frame["tick"].to_numpy())
    fig, ax = plt.subplots(figsize=(11, 4.2))
    pos = np.zeros(len(t))
    neg = np.zeros(len(t))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (name, v) in enumerate(pnl.items()):
        # gains stack up from zero, losses down: each band is one asset's share at that moment
        up, down = np.maximum(v, 0.0), np.minimum(v, 0.0)
        ax.fill_between(t, pos, pos + up, color=colours[i % len(colours)], alpha=0.6, lw=0, label=name)
        ax.fill_between(t, neg, neg + down, color=colours[i % len(colours)], alpha=0.6, lw=0)
        pos, neg = pos + up, neg + down
    ax.plot(t, frame["total_pnl"], color="black", lw=1.2, label="portfolio")
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_ylabel("PnL (currency)")
    ax.set_title("PnL by asset (stacked) and the portfolio's total")
    ax.legend(loc="upper left", fontsize=8, ncol=min(6, len(pnl) + 1))
    _time_axis(ax)
    fig.tight_layout()
    return fig


def exposure_chart(results) -> plt.Figure:
    frame = _thin(results.portfolio)
    pf = results.config.portfolio
    t = frame["time_s"].to_numpy()
    fig, axes = plt.subplots(3, 1, figsize=(11, 7.5), sharex=True)
    panels = (
        (axes[0], [("exposure", "through the covariance", "tab:blue"),
                   ("exposure_undiversified", "every correlation 1", "tab:grey")], pf.max_exposure,
         "exposure (currency / minute)"),
        (axes[1], [("gross_notional", "gross notional", "tab:purple")], pf.max_gross_notional, "gross (currency)"),
        (axes[2], [("net_notional", "net notional", "tab:green")], pf.max_net_notional, "net (currency)"),
    )
    for ax, series, limit, label in panels:
        for column, name, colour in series:
            ax.plot(t, frame[column], color=colour, lw=0.9, label=name)
        if limit > 0:
            ax.axhline(limit, color="red", lw=1.0, label="limit")
            if "net" in label:
                ax.axhline(-limit, color="red", lw=1.0)
        ax.set_ylabel(label)
        ax.legend(loc="upper left", fontsize=8)
    held = frame["blocked_assets"].to_numpy() > 0
    for ax in axes:
        ax.fill_between(t, 0, 1, where=held, transform=ax.get_xaxis_transform(), color="#f0b400", alpha=0.15, lw=0)
    axes[0].set_title("The portfolio's exposure and notionals at each check (amber: some quote side held)")
    _time_axis(axes[-1])
    fig.tight_layout()
    return fig


def correlation_chart(results) -> plt.Figure:
    names = list(results.assets)
    mats = ((results.correlation, "used by the limit at the end (EWMA)"),
            (results.realized_correlation, "of the returns over the whole run"))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, (m, title) in zip(axes, mats):
        im = ax.imshow(m, vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_xticks(range(len(names)), names, rotation=45 if len(names) > 4 else 0)
        ax.set_yticks(range(len(names)), names)
        if len(names) <= 12:
            for i in range(len(names)):
                for j in range(len(names)):
                    ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=8)
        ax.set_title(f"correlation {title}", fontsize=9)
    fig.colorbar(im, ax=axes, shrink=0.8)
    return fig


def risk_chart(results) -> plt.Figure:
    frame = _thin(results.portfolio)
    pf = results.config.portfolio
    t = frame["time_s"].to_numpy()
    fig, axes = plt.subplots(2, 1, figsize=(11, 5), sharex=True, gridspec_kw={"height_ratios": [1, 2]})
    states = frame["state"].astype(str).to_numpy()
    for state, colour in STATE_COLOURS.items():
        axes[0].fill_between(t, 0, 1, where=states == state, color=colour, lw=0, step="post", label=state)
    for tick_time in results.risk_events["time_s"]:
        axes[0].axvline(tick_time, color="black", lw=0.4)
    axes[0].set_yticks([])
    axes[0].legend(loc="upper left", fontsize=8, ncol=4)
    axes[0].set_title("The portfolio's state (events as black lines)")
    axes[1].plot(t, frame["window_loss"], color="tab:orange", lw=0.9, label="loss over the rolling window")
    axes[1].plot(t, frame["drawdown"], color="tab:red", lw=0.9, label="drawdown from the peak")
    if pf.max_loss_window > 0:
        axes[1].axhline(pf.max_loss_window, color="tab:orange", ls="--", lw=1, label="loss limit (pause)")
    if pf.kill_drawdown > 0:
        axes[1].axhline(pf.kill_drawdown, color="tab:red", ls="--", lw=1, label="drawdown limit (kill)")
    axes[1].set_ylabel("currency")
    axes[1].legend(loc="upper left", fontsize=8)
    _time_axis(axes[1])
    fig.tight_layout()
    return fig


PORTFOLIO_CHARTS = {
    "pnl_by_asset": (pnl_by_asset_chart, "PnL by asset"),
    "exposure": (exposure_chart, "Exposure and notionals against their limits"),
    "correlation": (correlation_chart, "Correlation used"),
    "portfolio_risk": (risk_chart, "Portfolio risk state and losses"),
}


def write_portfolio_report(results, out_dir: str | Path) -> Path:
    """Write the portfolio's report into ``out_dir`` (created if needed); returns the HTML file's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = {}
    for name, (draw, _caption) in PORTFOLIO_CHARTS.items():
        fig = draw(results)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        plt.close(fig)
        (out / f"{name}.png").write_bytes(buf.getvalue())
        images[name] = base64.b64encode(buf.getvalue()).decode("ascii")
    results.portfolio.to_csv(out / "portfolio.csv", index=False)
    results.risk_events.to_csv(out / "portfolio_risk_events.csv", index=False)
    for name, r in results.assets.items():
        write_report(r, out / "assets" / name, title=f"{name} in the portfolio: {r.ticks_run:,} ticks")
    path = out / "report.html"
    path.write_text(_html(results, images))
    return path


def _html(results, images: dict[str, str]) -> str:
    s = results.summary_dict
    names = list(s["assets"])
    keys = ("net_pnl", "spread_capture", "hedge_cost", "hedge_slippage", "hedge_latency_cost", "fees", "inventory_mtm",
            "fills", "hedges", "volume_exchange1_notional")
    rows = [[k, *(s["assets"][n][k] for n in names), s["portfolio"][k]] for k in keys]
    summary = _table(["currency", *names, "portfolio"], rows)
    p = s["portfolio"]
    risk_rows = [[k, p[k]] for k in ("max_gross_notional", "max_abs_net_notional", "max_exposure",
                                     "max_exposure_undiversified", "diversification_ratio_median",
                                     "max_drawdown_at_checks", "checks", "checks_with_sides_held", "throttle_events",
                                     "portfolio_paused", "portfolio_killed")]
    ev = results.risk_events.head(200)
    events = (_table(["tick", "time (s)", "asset", "limit", "action", "value", "limit value"],
                     [[r.tick, r.time_s, r.asset, r.limit_kind, r.action, r.value, r.limit] for r in ev.itertuples()])
              if len(ev) else "<p>No portfolio throttle acted.</p>")
    charts = "".join(f'<section><h2>{html.escape(caption)}</h2><img alt="{html.escape(caption)}" '
                     f'src="data:image/png;base64,{images[name]}"></section>'
                     for name, (_draw, caption) in PORTFOLIO_CHARTS.items())
    links = "".join(f'<li><a href="assets/{html.escape(n)}/report.html">{html.escape(n)}</a></li>' for n in names)
    cfg = html.escape(json.dumps(results.config.to_dict(), indent=2))
    base = results.config.base.sim
    title = f"Portfolio of {len(names)} assets: {base.ticks:,} ticks, seed {base.seed}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
{PAGE_STYLE}</head><body>
<h1>{html.escape(title)}</h1>
<p>Money in the account currency. Net PnL {_fmt(p['net_pnl'])}: spread capture {_fmt(p['spread_capture'])},
hedge cost {_fmt(p['hedge_cost'])}, fees paid {_fmt(p['fees'])} (subtracted), inventory mark-to-market
{_fmt(p['inventory_mtm'])}.</p>
<h2>Summary</h2>{summary}
<h2>Portfolio risk</h2>{_table(["figure", "value"], risk_rows)}
{charts}
<section><h2>Portfolio risk events</h2>{events}</section>
<section><h2>Each asset's own report</h2><ul>{links}</ul>
<p>portfolio.csv has one row per risk check; portfolio_risk_events.csv every throttle change.</p></section>
<section><h2>Configuration</h2><pre>{cfg}</pre></section>
</body></html>
"""
