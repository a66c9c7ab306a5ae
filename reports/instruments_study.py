"""The instruments study written out (its figures: ``backtest.research.studies.instruments_study``): the table as
CSV with two charts (PnL parts per unit traded by run; net delta over time, USD-M against COIN-M).
``python -m backtest instruments-study --out DIR`` runs and writes it; the README's observations come from it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def write_instruments_study(table, results: dict, out_dir: str | Path) -> dict[str, Path]:
    import matplotlib.pyplot as plt

    from reports.charts import save_png, thin_step  # sets the file-only backend, as before

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"table": out / "instruments_study.csv"}
    table.to_csv(files["table"], index=False)

    fig, ax = plt.subplots(figsize=(10, 4))
    parts = (("spread_capture_bps", "spread capture"), ("hedge_cost_bps", "hedge cost"),
             ("inventory_mtm_bps", "inventory MTM"), ("fees_bps", "- fees"), ("net_pnl_bps", "net PnL"))
    x = np.arange(len(table))
    width = 0.16
    for i, (col, label) in enumerate(parts):
        sign = -1 if col == "fees_bps" else 1
        ax.bar(x + (i - 2) * width, sign * table[col], width, label=label)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xticks(x, [r.replace(", ", ",\n") for r in table.run], fontsize=7)
    ax.set_ylabel("bps of the notional traded on spot")
    ax.set_title("One strategy, three instruments (whole recordings, 2024-08-08)")
    ax.legend(fontsize=7, ncol=5)
    files["pnl_parts"] = save_png(fig, out / "instruments_pnl_parts.png")

    fig, ax = plt.subplots(figsize=(9, 3.4))
    for label, r in results.items():
        t = r.tick_columns
        step = thin_step(len(t["time_s"]))
        ax.plot(t["time_s"][::step], t["net_delta_lots"][::step] * r.config.market.lot_size, lw=0.8, label=label)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel("recorded time (s)")
    ax.set_ylabel("net delta (BTC)")
    ax.set_title("Naked exposure: linear vs inverse hedge venue")
    ax.legend(fontsize=8)
    files["net_delta"] = save_png(fig, out / "instruments_net_delta.png")
    return files
