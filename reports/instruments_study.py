"""What the instrument changes: one strategy on the shipped recordings of the same minutes, hedged on a linear
and on an inverse perpetual, and on another symbol.

``instruments_study(ticks)`` runs the BTC spot preset hedged on the USD-M perpetual, the same hedged on the
COIN-M perpetual BTCUSD_PERP (an inverse contract of 100 USD settled in BTC) as the preset resolves it (the 62
USD quote becomes one contract, 0.0016 BTC) and with the USD-M run's quote size (0.001 BTC: 0.62 of a contract,
so hedges wait for whole contracts) under both remainder policies, and the ETH spot preset hedged on ETH USD-M.
It returns one table: each run's PnL parts in USD and per BTC (or ETH) traded on spot, the mean basis, hedge
volume, fill-to-hedge latency and naked exposure. ``write_instruments_study(table, results, dir)`` writes it
as CSV with two charts (PnL parts per unit traded by run; net delta over time, USD-M against COIN-M).
``python -m backtest instruments-study --out DIR`` does both; the README's observations come from it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from backtest.config import REPLAY_COINM_PRESET, REPLAY_ETH_PRESET, REPLAY_PRESET, preset

COINM_TICKS = 343_000  # the span the COIN-M capture covers (it ends 0.6 s before the USD-M one)

RUNS = (
    # label, preset, overrides
    ("BTC spot / USD-M", REPLAY_PRESET, {}),
    ("BTC spot / COIN-M", REPLAY_COINM_PRESET, {}),
    ("BTC spot / COIN-M, 0.001 BTC quotes", REPLAY_COINM_PRESET, {"quoting.size_base": 0.001}),
    ("BTC spot / COIN-M, 0.001 BTC quotes, round", REPLAY_COINM_PRESET,
     {"quoting.size_base": 0.001, "hedging.remainder": "round"}),
    ("ETH spot / USD-M", REPLAY_ETH_PRESET, {}),
)


def instruments_study(ticks: int | None = None):
    """(table, {label: Results} of the first two runs). ``ticks``: replay only the first ``ticks`` ms (default:
    the span every recording covers, so the BTC runs compare over the same minutes)."""
    import pandas as pd

    from backtest.engine import run

    n = ticks or COINM_TICKS
    rows, kept = [], {}
    for label, name, overrides in RUNS:
        cfg = preset(name).with_dotted({"sim.ticks": n, **overrides})
        r = run(cfg)
        s = r.summary_dict
        base = s["volume_exchange1_base"]
        t = r.tick_columns
        lot = cfg.market.lot_size
        row = {"run": label, "exchange2": Path(str(cfg.replay.exchange2)).name, "first_price": r.first_price,
               "quote_size_base": r.config.quoting.size_lots * lot,  # as resolved at the first price
               "mean_basis": float(np.mean(t["feed2_price"] - t["feed1_price"])), "fills": s["fills"],
               "base_traded": base, "notional_traded": s["volume_exchange1_notional"]}
        for key in ("net_pnl", "spread_capture", "hedge_cost", "hedge_slippage", "hedge_latency_cost", "hedge_basis",
                    "fees", "inventory_mtm"):
            row[key] = s[key]
            row[f"{key}_per_base"] = s[key] / base if base else float("nan")
            row[f"{key}_bps"] = s[key] * 1e4 / s["volume_exchange1_notional"] if base else float("nan")
        row.update(
            hedge_units=s["volume_exchange2_lots"], hedge_base=s["volume_exchange2_base"],
            hedged_share=s["hedged_share"], hedge_latency_p50_ms=s["hedge_latency_p50_ms"],
            hedge_latency_p90_ms=s["hedge_latency_p90_ms"], hedge_latency_p99_ms=s["hedge_latency_p99_ms"],
            mean_abs_net_delta_base=float(np.mean(np.abs(t["net_delta_lots"]))) * lot,
            max_abs_net_delta_base=s["max_abs_net_delta_lots"] * lot,
            final_net_delta_base=float(t["net_delta_lots"][-1]) * lot,
            hedge_leg_pnl=s["hedge_leg_pnl"], hedge_leg_pnl_settle=s["hedge_leg_pnl_settle"],
        )
        rows.append(row)
        if len(kept) < 2:
            kept[label] = r
    return pd.DataFrame(rows), kept


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
