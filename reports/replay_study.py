"""What the real market says: the replay preset on the shipped recording, varied one thing at a time.

``replay_study(ticks)`` runs the preset ``replay_binance_btcusdt_20240808`` (quote on Binance spot, hedge on
the USD-M perpetual, Binance's VIP 0 fees) over a grid of half-spreads with those fees and without fees,
both queue models at the touch and further out, a range of hedge latencies, and with and without the basis
correction, and returns one table: every run's PnL parts in currency and per BTC traded on spot.
``write_replay_study(table, results, dir)`` writes it as CSV with three charts (PnL parts per BTC against
the half-spread, hedge cost against hedge latency, the spot-perpetual basis with the estimate the quotes
use). ``python -m backtest replay-study --out DIR`` does both; the README's observations come from it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from backtest.config import REPLAY_PRESET, preset

HALF_SPREADS_TICKS = (1, 100, 200, 500, 1000, 1500, 2000, 3000, 4000)  # 0.01 USD ticks
HEDGE_LATENCIES_MS = (1, 20, 50, 100, 250)
NO_FEES = {"fees.maker_bps_exchange1": 0.0, "fees.taker_bps_exchange2": 0.0}


def _runs(ticks: int | None):
    base = {"sim.ticks": ticks} if ticks else {}
    for hs in HALF_SPREADS_TICKS:
        yield "half_spread", {"fee_schedule": "binance VIP0"}, {**base, "quoting.half_spread_ticks": float(hs)}
        yield "half_spread", {"fee_schedule": "none"}, {**base, "quoting.half_spread_ticks": float(hs), **NO_FEES}
    for hs in (1, 500):
        for model in ("risk_averse", "probabilistic"):
            yield "queue_model", {}, {**base, "quoting.half_spread_ticks": float(hs), "replay.queue_model": model,
                                      **NO_FEES}
    for lat in HEDGE_LATENCIES_MS:
        # the latency kill switch is moved out of the way: this is about what latency costs, not about it
        yield "hedge_latency", {}, {**base, "latency.hedge_median_ms": float(lat), "risk.kill_latency_ms": 1e9}
    for halflife in (0.0, 30.0):
        yield "basis_correction", {}, {**base, "quoting.basis_halflife_s": halflife}
    yield "basis_correction", {"reference": "exchange1"}, {**base, "quoting.reference": "exchange1"}


def replay_study(ticks: int | None = None):
    """(table, the preset's own Results). ``ticks``: replay only the first ``ticks`` ms (default: all)."""
    import pandas as pd

    from backtest.engine import run

    base_cfg = preset(REPLAY_PRESET)
    rows = []
    for study, labels, overrides in _runs(ticks):
        cfg = base_cfg.with_dotted(overrides)
        s = run(cfg).summary_dict
        btc = s["volume_exchange1_lots"] * cfg.market.lot_size
        row = {"study": study, **labels, **{k.split(".")[-1]: v for k, v in overrides.items()
                                           if k != "sim.ticks" and not k.startswith("fees.")}}
        for key in ("net_pnl", "spread_capture", "hedge_cost", "hedge_slippage", "hedge_latency_cost", "hedge_basis",
                    "fees"):
            row[key] = s[key]
            row[f"{key}_per_btc"] = s[key] / btc if btc else float("nan")
        row.update(fills=s["fills"], btc_traded=btc, cancel_race_fills=s["cancel_race_fills"],
                   hedge_latency_p50_ms=s["hedge_latency_p50_ms"], time_killed_s=s["time_killed_s"])
        rows.append(row)
    preset_cfg = base_cfg.with_dotted({"sim.ticks": ticks}) if ticks else base_cfg
    return pd.DataFrame(rows), run(preset_cfg)


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
