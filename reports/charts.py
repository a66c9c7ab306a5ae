"""Matplotlib charts of one run. Each function takes a ``Results`` and returns a Figure.

Charts are drawn from the result frames only (no kernel access). Long runs are thinned to at most
``MAX_POINTS`` points per line so a 10^6-tick chart draws in about a second; every point drawn is a
real tick (striding, no interpolation), so step changes may be shown up to one stride late.
"""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib

if "MPLBACKEND" not in os.environ:  # Jupyter sets it (inline); elsewhere reports are files: never open a window
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

MAX_POINTS = 5000
STATE_COLOURS = {"active": "#2ca02c", "reduced": "#ffbf00", "paused": "#ff7f0e", "killed": "#d62728"}
PART_COLOURS = {
    "spread capture": "#2ca02c",
    "hedge cost": "#d62728",
    "fees": "#9467bd",
    "inventory mark-to-market": "#1f77b4",
}


def thin_step(n_points: int) -> int:
    """Every how many points a line of ``n_points`` is drawn so it has at most about ``MAX_POINTS``."""
    return max(1, n_points // MAX_POINTS)


def _thin(frame: pd.DataFrame) -> pd.DataFrame:
    step = thin_step(len(frame))
    return frame.iloc[::step] if step > 1 else frame


def save_png(fig: plt.Figure, path: Path, dpi: int = 110) -> Path:
    """Lay ``fig`` out, write it to ``path`` as PNG and free it; returns ``path``."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def _time_axis(ax, unit: str = "s") -> None:
    ax.set_xlabel(f"simulated time ({unit})")
    ax.grid(True, alpha=0.3)


def pnl_chart(results) -> plt.Figure:
    """Total, realized and unrealized PnL, and the attribution stacked (positive parts above zero,
    negative parts below), so that the black total line is the sum of the coloured bands."""
    t = _thin(results.ticks)
    x = t["time_s"].to_numpy()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(13, 7.5), sharex=True, height_ratios=[1, 1.2])
    ax1.plot(x, t["total_pnl"], color="black", lw=1.6, label="total")
    ax1.plot(x, t["realized_pnl"] - t["fees"], color="#1f77b4", lw=1.0, label="realized, after fees")
    ax1.plot(x, t["unrealized_pnl"], color="#ff7f0e", lw=1.0, label="unrealized (marked to venue feeds)")
    ax1.axhline(0, color="grey", lw=0.6)
    ax1.set_ylabel("PnL (currency)")
    ax1.set_title("PnL: total = realized after fees + unrealized")
    ax1.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)  # beside the data, never over it
    _time_axis(ax1)

    parts = {
        "spread capture": t["spread_capture"].to_numpy(),
        "hedge cost": t["hedge_cost"].to_numpy(),
        "fees": -t["fees"].to_numpy(),
        "inventory mark-to-market": t["inventory_mtm"].to_numpy(),
    }
    pos_base = np.zeros(len(t))
    neg_base = np.zeros(len(t))
    for name, values in parts.items():
        pos = np.maximum(values, 0.0)
        neg = np.minimum(values, 0.0)
        ax2.fill_between(x, pos_base, pos_base + pos, color=PART_COLOURS[name], alpha=0.55, lw=0)
        ax2.fill_between(x, neg_base, neg_base + neg, color=PART_COLOURS[name], alpha=0.55, lw=0)
        pos_base = pos_base + pos
        neg_base = neg_base + neg
    ax2.plot(x, t["total_pnl"], color="black", lw=1.4, label="total PnL")
    ax2.axhline(0, color="grey", lw=0.6)
    handles = [Patch(color=PART_COLOURS[n], alpha=0.55, label=n + (" (paid, shown negative)" if n == "fees" else ""))
               for n in parts]
    handles.append(plt.Line2D([], [], color="black", lw=1.4, label="total PnL"))
    ax2.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    ax2.set_ylabel("cumulative (currency)")
    ax2.set_title("Attribution: total = spread capture + hedge cost - fees paid + inventory mark-to-market")
    _time_axis(ax2)
    fig.tight_layout()
    return fig


def inventory_chart(results) -> plt.Figure:
    """Positions per venue and the net delta, against the soft and hard limits on Exchange 1's position."""
    t = _thin(results.ticks)
    risk = results.config.risk
    x = t["time_s"].to_numpy()
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.step(x, t["inv1_lots"], where="post", color="#1f77b4", lw=1.0, label="Exchange 1 position")
    # in lots of the base asset: an inverse venue's contracts as the base they stand for
    ax.step(x, t["hedge_leg_base_lots"], where="post", color="#ff7f0e", lw=1.0,
            label="Exchange 2 position (hedges, base lots)" if results.inverse_hedge else "Exchange 2 position (hedges)")
    ax.step(x, t["net_delta_lots"], where="post", color="black", lw=1.4, label="net delta")
    for level, style, name in ((risk.soft_position_lots, "--", "soft limit"), (risk.hard_position_lots, "-", "hard limit")):
        ax.axhline(level, color="#d62728", ls=style, lw=0.9, label=f"{name} on Exchange 1 position (±{level} lots)")
        ax.axhline(-level, color="#d62728", ls=style, lw=0.9)
    ax.set_ylabel("position (lots)")
    ax.set_title("Inventory per venue and net delta against the position limits")
    ax.legend(loc="upper left", fontsize=9, ncol=2)
    _time_axis(ax)
    fig.tight_layout()
    return fig


def zoom_window(results, seconds: float = 30.0, min_ticks: int = 300) -> tuple[int, int, str]:
    """Rows [start, end) of the ticks frame for the zoomed quotes chart: ``seconds`` of simulated time (at least
    ``min_ticks`` ticks) ending a little after the last Exchange 1 fill, where something happened (a 1 ms
    replay's last 300 ticks are 0.3 s of flat lines); the run's end when nothing filled. Returns the window and
    its title. (Rows are ticks unless the run records a coarser grid, ``sim.record_every_ms``.)"""
    start, end, title = _zoom_ticks(results, seconds, min_ticks)
    at = results.tick_index
    return int(np.searchsorted(at, start)), int(np.searchsorted(at, end)), title


def _zoom_ticks(results, seconds: float, min_ticks: int) -> tuple[int, int, str]:
    n = results.ticks_run
    span = min(n, max(min_ticks, int(round(seconds / results.config.sim.dt_s))))
    fills = results.fills
    if len(fills):
        end = min(n, int(fills["tick"].iloc[-1]) + max(1, span // 5))
        where = "around the last Exchange 1 fill"
    else:
        end, where = n, "at the end of the run (no fill)"
    start = max(0, end - span)
    end = min(n, start + span)
    return start, end, f"{(end - start) * results.config.sim.dt_s:,.3g} s {where}, with Exchange 1's best bid and ask"


def quotes_chart(results) -> plt.Figure:
    """Our quotes against both venues' price feeds: the whole run, and a zoom (``zoom_window``) with Exchange
    1's best prices and the queue ahead of our orders."""
    full = _thin(results.ticks)
    start, end, zoom_title = zoom_window(results)
    zoom = results.ticks.iloc[start:end]
    fig, axes = plt.subplots(3, 1, figsize=(11, 10), height_ratios=[1.2, 1.2, 0.6])
    for ax, t, title in (
        (axes[0], full, "Quotes on Exchange 1 against both venues' prices (whole run)"),
        (axes[1], zoom, zoom_title),
    ):
        x = t["time_s"].to_numpy()
        ax.plot(x, t["feed1_price"], color="#1f77b4", lw=0.9, label="Exchange 1 price feed")
        ax.plot(x, t["feed2_price"], color="#ff7f0e", lw=0.9, label="Exchange 2 price feed")
        ax.step(x, t["quote_bid_price"], where="post", color="#2ca02c", lw=1.1, label="our bid")
        ax.step(x, t["quote_ask_price"], where="post", color="#d62728", lw=1.1, label="our ask")
        if t is zoom:
            ax.step(x, t["best_bid1_price"], where="post", color="#2ca02c", lw=0.7, ls=":", label="Exchange 1 best bid")
            ax.step(x, t["best_ask1_price"], where="post", color="#d62728", lw=0.7, ls=":", label="Exchange 1 best ask")
        ax.set_ylabel("price (currency)")
        ax.set_title(title)
        ax.legend(loc="upper left", fontsize=8, ncol=3)
        _time_axis(ax)
    x = zoom["time_s"].to_numpy()
    axes[2].step(x, zoom["bid_queue_ahead_lots"], where="post", color="#2ca02c", lw=1.0, label="ahead of our bid")
    axes[2].step(x, zoom["ask_queue_ahead_lots"], where="post", color="#d62728", lw=1.0, label="ahead of our ask")
    axes[2].set_ylabel("queue ahead (lots)")
    axes[2].set_title("Queue position: lots resting ahead of our orders at their price")
    axes[2].legend(loc="upper left", fontsize=8)
    _time_axis(axes[2])
    fig.tight_layout()
    return fig


def spread_vs_hedge_chart(results) -> plt.Figure:
    """Spread captured per lot on each Exchange 1 fill against the cost per lot of each hedge attempt
    (execution slippage + price move during the latency), over time and as distributions."""
    f = results.fills
    h = results.hedges
    h = h[h["qty_filled_lots"] > 0]
    fill_per_lot = (f["spread_capture"] / f["qty_lots"]).to_numpy()
    hedge_per_lot = ((h["slippage"] + h["latency_cost"]) / h["qty_filled_lots"]).to_numpy()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5), width_ratios=[1.6, 1])
    ax1.scatter(f["time_s"], fill_per_lot, s=6, color="#2ca02c", alpha=0.5, label="spread capture per fill")
    ax1.scatter(h["time_s"], hedge_per_lot, s=6, color="#d62728", alpha=0.5, label="hedge cost per hedge")
    for series, times, colour in ((fill_per_lot, f["time_s"], "#2ca02c"), (hedge_per_lot, h["time_s"], "#d62728")):
        if len(series) >= 20:
            window = max(5, len(series) // 20)
            ax1.plot(times, pd.Series(series).rolling(window, min_periods=1).mean(), color=colour, lw=1.6)
    ax1.axhline(0, color="grey", lw=0.6)
    ax1.set_ylabel("currency per lot")
    ax1.set_title("Per lot: spread captured vs hedge cost (lines: rolling means)")
    ax1.legend(loc="upper left", fontsize=9)
    _time_axis(ax1)
    bins = 40
    data = [v for v in (fill_per_lot, hedge_per_lot) if len(v)]
    if data:
        lo = min(np.min(v) for v in data)
        hi = max(np.max(v) for v in data)
        edges = np.linspace(lo, hi if hi > lo else lo + 1e-9, bins + 1)
        if len(fill_per_lot):
            ax2.hist(fill_per_lot, bins=edges, color="#2ca02c", alpha=0.55,
                     label=f"fills (mean {np.mean(fill_per_lot):+.4f})")
        if len(hedge_per_lot):
            ax2.hist(hedge_per_lot, bins=edges, color="#d62728", alpha=0.55,
                     label=f"hedges (mean {np.mean(hedge_per_lot):+.4f})")
    ax2.set_xlabel("currency per lot (positive = earned)")
    ax2.set_ylabel("count")
    ax2.set_title("Distribution")
    ax2.legend(fontsize=9)
    ax2.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def latency_chart(results) -> plt.Figure:
    """Fill-to-hedge latency distribution, and slippage / price move per lot against that latency."""
    h = results.hedges
    h = h[h["qty_filled_lots"] > 0]
    lat = h["fill_to_hedge_latency_ms"].to_numpy()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    if lat.size:
        ax1.hist(lat, bins=min(50, max(5, int(np.unique(lat).size))), color="#1f77b4", alpha=0.8)
        for q, style in ((50, "--"), (99, ":")):
            v = np.percentile(lat, q)
            ax1.axvline(v, color="black", ls=style, lw=1.0, label=f"p{q} = {v:.0f} ms")
        ax1.legend(fontsize=9)
    ax1.set_xlabel("fill-to-hedge latency (ms, quantised to ticks)")
    ax1.set_ylabel("hedge attempts")
    ax1.set_title("Fill-to-hedge latency")
    ax1.grid(True, alpha=0.3)
    qty = h["qty_filled_lots"].to_numpy()
    slip = h["slippage"].to_numpy() / np.maximum(qty, 1)
    move = h["latency_cost"].to_numpy() / np.maximum(qty, 1)
    ax2.scatter(lat, slip, s=8, alpha=0.4, color="#9467bd", label="execution slippage per lot")
    ax2.scatter(lat, move, s=8, alpha=0.4, color="#ff7f0e", label="price move during latency per lot")
    if lat.size >= 10:
        edges = np.unique(np.percentile(lat, np.linspace(0, 100, 9)))
        if edges.size >= 2:
            which = np.clip(np.searchsorted(edges, lat, side="right") - 1, 0, edges.size - 2)
            centres, mean_total = [], []
            for b in range(edges.size - 1):
                mask = which == b
                if mask.any():
                    centres.append(lat[mask].mean())
                    mean_total.append((slip[mask] + move[mask]).mean())
            ax2.plot(centres, mean_total, color="black", marker="o", lw=1.4, label="mean total per latency bin")
    ax2.axhline(0, color="grey", lw=0.6)
    ax2.set_xlabel("fill-to-hedge latency (ms)")
    ax2.set_ylabel("currency per lot (negative = cost)")
    ax2.set_title("Hedge cost against latency")
    ax2.legend(fontsize=8)
    ax2.grid(True, alpha=0.3)
    fig.tight_layout()
    return fig


def risk_chart(results) -> plt.Figure:
    """Risk state over time as coloured bands with each event marked, above what the throttles watch:
    the loss over the rolling window against its limit, and |Exchange 1 position| against the soft limit."""
    t = results.ticks
    ev = results.risk_events
    dt = results.config.sim.dt_s
    labelled = 0 < len(ev) <= 12
    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(13 if labelled else 11, 6), sharex=True, height_ratios=[0.35, 1])
    codes = t["state"].cat.codes.to_numpy()
    names = list(t["state"].cat.categories)
    change = np.flatnonzero(np.diff(codes)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(codes)]])
    for s, e in zip(starts, ends):
        state = names[codes[s]]
        ax0.axvspan(s * dt, e * dt, color=STATE_COLOURS[state], alpha=0.8, lw=0)
    for _, row in ev.iterrows():
        ax0.axvline(row["time_s"], color="black", lw=0.8)
    listing = []
    if labelled:  # numbered at the lines (staggered when close), the reasons listed beside the chart
        span, last_x, level = max(len(codes) * dt, 1e-12), -np.inf, 0
        for i, row in enumerate(ev.itertuples(index=False), start=1):
            level = (level + 1) % 3 if row.time_s - last_x < 0.03 * span else 0
            last_x = row.time_s
            ax0.annotate(str(i), (row.time_s, 1.03 + 0.17 * level), xycoords=("data", "axes fraction"), fontsize=7,
                         ha="center", va="bottom")
            listing.append(f"{i:>2}  {row.time_s:8,.1f} s  {row.reason}")
    ax0.set_yticks([])
    ax0.set_xlim(0, len(codes) * dt)
    ax0.legend(handles=[Patch(color=c, label=s) for s, c in STATE_COLOURS.items()],
               loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    ax0.set_title(f"Risk state timeline ({len(ev)} events, black lines" + (", numbered)" if labelled else ")"),
                  pad=44 if labelled else 6)
    pnl = t["total_pnl"].to_numpy()
    window = max(1, round(results.config.risk.loss_window_s / dt))
    start_pnl = np.concatenate([np.zeros(min(window, len(pnl))), pnl[:-window]]) if len(pnl) > window else np.zeros(len(pnl))
    loss = _thin(pd.DataFrame({"time_s": t["time_s"], "loss": start_pnl - pnl, "inv1": t["inv1_lots"].abs()}))
    ax1.plot(loss["time_s"], loss["loss"], color="black", lw=1.0,
             label=f"loss over the last {results.config.risk.loss_window_s:g} s")
    ax1.axhline(results.config.risk.max_loss_window, color="#d62728", ls="--", lw=1.0,
                label=f"loss limit ({results.config.risk.max_loss_window:g}): pause")
    ax1.set_ylabel("currency (positive = loss)")
    ax1.set_title("What the throttles watch: rolling-window loss (left) and |Exchange 1 position| (right)")
    ax1b = ax1.twinx()
    ax1b.step(loss["time_s"], loss["inv1"], where="post", color="#1f77b4", lw=0.8, alpha=0.7,
              label="|Exchange 1 position| (lots)")
    ax1b.axhline(results.config.risk.soft_position_lots, color="#1f77b4", ls=":", lw=1.0,
                 label=f"soft limit ({results.config.risk.soft_position_lots} lots): reduce")
    ax1b.set_ylabel("|position| (lots)")
    h1, l1 = ax1.get_legend_handles_labels()
    h2, l2 = ax1b.get_legend_handles_labels()
    ax1.legend(h1 + h2, l1 + l2, loc="upper left", fontsize=8)
    _time_axis(ax1)
    if listing:
        fig.tight_layout(rect=(0, 0, 0.77, 1))
        fig.text(0.79, 0.64, "risk events\n" + "\n".join(listing), va="top", ha="left", fontsize=7.5,
                 family="monospace")
    else:
        fig.tight_layout()
    return fig


RUN_CHARTS = {
    "pnl": (pnl_chart, "PnL evolution and its attribution"),
    "inventory": (inventory_chart, "Inventory per venue and net delta against the limits"),
    "quotes": (quotes_chart, "Quotes against both venues' prices, and queue position"),
    "spread_vs_hedge": (spread_vs_hedge_chart, "Spread captured per fill against hedge cost per hedge"),
    "latency": (latency_chart, "Fill-to-hedge latency and hedge cost against latency"),
    "risk": (risk_chart, "Risk state timeline with its events"),
}
