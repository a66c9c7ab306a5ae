"""Studies shipped with the project.

Sweep studies (``python -m backtest sweep --study NAME``):

- ``hedge_latency``: hedge cost and net PnL against the median hedge latency. Latency spikes are off
  and the latency kill switch is out of reach so that the latency drawn is the latency studied.
- ``spread_vs_volatility``: fixed spread (``vol_spread_multiplier`` = 0) against volatility-adaptive
  spreads, across fair-value volatilities. The drift term is off so that only volatility widens quotes.

The replay study (``python -m backtest replay-study``): ``replay_study(ticks)`` runs the preset
``replay_binance_btcusdt_20240808`` (quote on Binance spot, hedge on the USD-M perpetual, Binance's VIP 0 fees)
over a grid of half-spreads with those fees and without fees, both queue models at the touch and further out, a
range of hedge latencies, and with and without the basis correction, and returns one table: every run's PnL
parts in currency and per BTC traded on spot.

The instruments study (``python -m backtest instruments-study``): ``instruments_study(ticks)`` runs the BTC spot
preset hedged on the USD-M perpetual, the same hedged on the COIN-M perpetual BTCUSD_PERP (an inverse contract of
100 USD settled in BTC) as the preset resolves it (the 62 USD quote becomes one contract, 0.0016 BTC) and with
the USD-M run's quote size (0.001 BTC: 0.62 of a contract, so hedges wait for whole contracts) under both
remainder policies, and the ETH spot preset hedged on ETH USD-M. It returns one table: each run's PnL parts in
USD and per BTC (or ETH) traded on spot, the mean basis, hedge volume, fill-to-hedge latency and naked exposure.

``reports.replay_study`` and ``reports.instruments_study`` write the last two as CSV and charts.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from backtest.config import (REPLAY_COINM_PRESET, REPLAY_ETH_PRESET, REPLAY_PRESET, ConfigError, make_config,
                             preset)

if TYPE_CHECKING:
    from backtest.research.sweep import SweepSpec

STUDY_TICKS = 20_000
STUDY_SEEDS = tuple(range(1, 9))


def study(name: str, ticks: int | None = None, seeds: tuple[int, ...] | None = None) -> SweepSpec:
    """The named study at ``ticks`` per run (default 20 000 = 2 000 simulated seconds) and ``seeds``."""
    from backtest.research.sweep import SweepSpec  # here, so that listing STUDIES (the CLI's --help) stays cheap
    ticks = ticks or STUDY_TICKS
    seeds = tuple(seeds) if seeds else STUDY_SEEDS
    if name == "hedge_latency":
        base = make_config(**{
            "sim.ticks": ticks,
            "latency.spike_probability": 0.0,
            "latency.hedge_sigma": 0.2,
            "risk.kill_latency_ms": 1e9,
        })
        grid = {"latency.hedge_median_ms": [0, 50, 100, 250, 500, 1000, 2000, 4000]}
        return SweepSpec(grid=grid, seeds=seeds, base=base, name=name)
    if name == "spread_vs_volatility":
        base = make_config(**{"sim.ticks": ticks, "quoting.drift_spread_multiplier": 0.0})
        grid = {
            "market.volatility_per_sqrt_s": [0.01, 0.02, 0.04, 0.08],
            "quoting.vol_spread_multiplier": [0.0, 0.5, 1.0, 2.0],
        }
        return SweepSpec(grid=grid, seeds=seeds, base=base, name=name)
    raise ConfigError([f"study {name!r} is unknown; allowed: {', '.join(STUDIES)}"])


STUDIES = ("hedge_latency", "spread_vs_volatility")


# -- the replay study ------------------------------------------------------------------------------------------

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


# -- the instruments study ------------------------------------------------------------------------------------

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
