"""The replay study written out (its figures: ``backtest.research.studies.replay_study``): the table as CSV with
three charts (PnL parts per BTC against the half-spread, hedge cost against hedge latency, the spot-perpetual
basis with the estimate the quotes use). ``python -m backtest replay-study --out DIR`` runs and writes it; the
README's observations come from it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def write_replay_study(table, results, out_dir: str | Path) -> dict[str, Path]:
    import matplotlib.pyplot as plt

    from reports.charts import save_png, thin_step  # sets the file-only backend, as before

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"table": out / "replay_study.csv"}
    table.to_csv(files["table"], index=False)

    hs = table[table.study == "half_spread"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=False)
    for ax, schedule in zip(axes, ("binance VIP0", "none")):
        d = hs[hs.fee_schedule == schedule]
        x = d.half_spread_ticks * 0.01
        for col, label in (("spread_capture_per_btc", "spread capture"), ("hedge_cost_per_btc", "hedge cost"),
                           ("fees_per_btc", "fees paid"), ("net_pnl_per_btc", "net PnL")):
            sign = -1 if col == "fees_per_btc" else 1
            ax.plot(x, sign * d[col], marker="o", label=label if col != "fees_per_btc" else "- fees")
        ax.axhline(0, color="grey", lw=0.8)
        if np.isfinite(d["net_pnl_per_btc"].to_numpy(dtype=float)).any():
            ax.set_xscale("log")
        else:  # no fills (a short span): per-BTC figures do not exist
            ax.text(0.5, 0.5, "no fills in this span", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel("half-spread around the basis-corrected perpetual mid (USD)")
        ax.set_ylabel("USD per BTC traded on spot")
        ax.set_title(f"fees: {schedule}")
        ax.legend(fontsize=8)
    files["half_spread"] = save_png(fig, out / "replay_half_spread.png")

    lat = table[table.study == "hedge_latency"]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for col, label in (("hedge_latency_cost_per_btc", "price move during latency"),
                       ("hedge_slippage_per_btc", "execution slippage"), ("hedge_cost_per_btc", "hedge cost")):
        ax.plot(lat.hedge_median_ms, lat[col], marker="o", label=label)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("median hedge latency (ms)")
    ax.set_ylabel("USD per BTC traded on spot")
    ax.set_title("Hedge cost against latency (replay)")
    ax.legend(fontsize=8)
    files["hedge_latency"] = save_png(fig, out / "replay_hedge_latency.png")

    t = results.tick_columns
    step = thin_step(len(t["time_s"]))
    basis = (t["feed2_price"] - t["feed1_price"])[::step]
    used = (t["reference_price"] - t["feed1_price"])[::step]
    fig, ax = plt.subplots(figsize=(8, 3.4))
    ax.plot(t["time_s"][::step], basis, lw=0.8, label="perpetual mid - spot mid")
    ax.plot(t["time_s"][::step], basis - used, lw=1.2, label="basis estimate (EWMA) the quotes correct by")
    ax.set_xlabel("recorded time (s)")
    ax.set_ylabel("USD")
    ax.set_title(f"Spot-perpetual basis: mean {np.mean(basis):.1f}, std {np.std(basis):.1f}")
    ax.legend(fontsize=8)
    files["basis"] = save_png(fig, out / "replay_basis.png")
    return files
