"""How real is the synthetic market? Stylized facts of three markets side by side, and the strategy on both.

``stylized_facts(markets)`` measures each market (a name -> (Exchange 1, Exchange 2) ``MarketData`` pair: a
recording, or a synthetic market printed as one by ``backtest.calibrate.synthetic_recording``) with the same
code (``backtest.calibrate.tapes``): mid returns at 100 ms and 1 s (excess kurtosis), the autocorrelation of
absolute returns, the spread, the depth at the touch, trade sizes, inter-trade times, the autocorrelation of
trade signs, the mid's move after a trade, and the basis. Sizes are in units of each market's mean market
order and prices in its own ticks or currency, so that markets on different grids compare.
``write_stylized_report`` draws one chart per fact with a sentence under it, a table of the figures, and
the strategy comparison (``strategy_comparison``), as HTML + PNG.
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from backtest.calibrate import LEAD_LAG_GRID_MS, fine_mids, lead_lag

LAGS = 30
IMPACT_HORIZONS_S = (0.1, 0.5, 1.0, 2.0, 5.0)
COLORS = {"recording": "black", "queue-reactive": "tab:green", "zero-intelligence": "tab:blue",
          "calibrated": "tab:blue", "default synthetic": "tab:orange"}


def _acf(x: np.ndarray, lags: int) -> np.ndarray:
    x = np.asarray(x, dtype=float) - np.mean(x)
    d = np.dot(x, x)
    if x.size <= lags + 1 or d == 0:
        return np.full(lags, np.nan)
    return np.array([np.dot(x[k:], x[:-k]) / d for k in range(1, lags + 1)])


def _kurtosis(r: np.ndarray) -> float:
    r = r - r.mean()
    v = (r * r).mean()
    return float((r ** 4).mean() / v ** 2 - 3.0) if v > 0 else float("nan")


def measure(e1, e2) -> dict:
    """The facts of one market (Exchange 1 for the venue facts, both for the basis)."""
    from backtest.calibrate import GRID_S, tapes

    t1, t2, tick, lot = tapes(e1, e2)
    r100 = np.diff(t1.mid) * tick
    per_s = int(round(1.0 / GRID_S))
    r1s = np.diff(t1.mid[::per_s]) * tick
    valid = (t1.ask > t1.bid) & (t1.bid > 0)
    spread_ticks = (t1.ask - t1.bid)[valid]
    mean_size = float(t1.trade_qty.mean()) if len(t1.trade_qty) else float("nan")
    touch = t1.touch_qty[valid] / mean_size if mean_size > 0 else np.zeros(0)
    gaps = np.diff(t1.trade_ts)
    idx = np.minimum((t1.trade_ts / GRID_S).astype(int), len(t1.mid) - 1)
    impact = []
    for h in IMPACT_HORIZONS_S:
        after = np.minimum(idx + int(round(h / GRID_S)), len(t1.mid) - 1)
        impact.append(float(np.mean((t1.mid[after] - t1.mid[idx]) * t1.trade_side)) if idx.size else float("nan"))
    med_spread = float(np.median(spread_ticks)) if spread_ticks.size else float("nan")
    return {
        "tick": tick, "span_s": t1.span_s, "r100": r100, "r1s": r1s,
        "kurtosis_100ms": _kurtosis(r100) if r100.size > 3 else float("nan"),
        "kurtosis_1s": _kurtosis(r1s) if r1s.size > 3 else float("nan"),
        "vol_per_sqrt_s": float(np.std(r100) / np.sqrt(GRID_S)) if r100.size > 1 else float("nan"),
        "acf_abs": _acf(np.abs(r100), LAGS), "spread_ticks": spread_ticks,
        "spread_median_ticks": med_spread, "touch_over_trade": touch,
        "touch_median_over_trade": float(np.median(touch)) if touch.size else float("nan"),
        "trade_size_over_mean": t1.trade_qty / mean_size if mean_size > 0 else np.zeros(0),
        "inter_trade_s": gaps, "trades_per_s": len(t1.trade_ts) / t1.span_s,
        "inter_trade_cv": float(np.std(gaps) / np.mean(gaps)) if gaps.size > 1 and np.mean(gaps) > 0 else float("nan"),
        "acf_sign": _acf(t1.trade_side, LAGS), "impact_ticks": np.array(impact),
        "impact_over_spread_1s": impact[2] / med_spread if med_spread and med_spread > 0 else float("nan"),
        "basis": (t2.mid - t1.mid) * tick, "grid_s": GRID_S,
        "lead_lag": lead_lag(*fine_mids(e1, e2)),
    }


def stylized_facts(markets: dict) -> dict:
    return {name: measure(*pair) for name, pair in markets.items()}


TABLE_ROWS = [
    ("vol_per_sqrt_s", "volatility of the mid, currency per sqrt(s)"),
    ("kurtosis_100ms", "excess kurtosis of 100 ms mid returns"),
    ("kurtosis_1s", "excess kurtosis of 1 s mid returns"),
    ("acf_abs_1", "autocorrelation of |100 ms returns|, lag 1"),
    ("acf_abs_10", "autocorrelation of |100 ms returns|, lag 10"),
    ("spread_median_ticks", "median spread, ticks"),
    ("touch_median_over_trade", "median depth at the touch (bid + ask), in mean market orders"),
    ("trades_per_s", "market orders per second"),
    ("inter_trade_cv", "coefficient of variation of inter-trade times (1 = Poisson)"),
    ("acf_sign_1", "autocorrelation of trade signs, lag 1"),
    ("acf_sign_10", "autocorrelation of trade signs, lag 10"),
    ("impact_1s", "mid move 1 s after a market order, its direction, ticks"),
    ("impact_over_spread_1s", "the same, in median spreads"),
    ("basis_mean", "basis (Exchange 2 - Exchange 1 mid) mean, currency"),
    ("basis_std", "basis std, currency"),
    ("lead_lag_ms", "lead-lag: lag (ms) of the best correlation of 1 ms mid changes, + = Exchange 1 leads"),
    ("lead_lag_peak", "that correlation"),
    ("lead_lag_ratio", "lead-lag ratio (squared correlations after / before; > 1 = Exchange 1 leads)"),
]


# issue 23's goal per fact: within 30% of the recording, autocorrelations (and correlations) within 0.1, the median
# spread equal
CORRELATIONS = ("acf_abs_1", "acf_abs_10", "acf_sign_1", "acf_sign_10", "lead_lag_peak")
RELATIVE_GOAL = 0.30
ABSOLUTE_GOAL = 0.10


def within_goal(key: str, recorded: float, value: float) -> bool:
    """Whether a market's figure for fact ``key`` meets the goal against the recording's."""
    if not (np.isfinite(recorded) and np.isfinite(value)):
        return False
    if key == "spread_median_ticks":
        return value == recorded
    if key in CORRELATIONS:
        return abs(value - recorded) <= ABSOLUTE_GOAL
    return abs(value - recorded) <= RELATIVE_GOAL * abs(recorded)


def goal_column(facts: dict, market: str, rows: list | None = None) -> list[bool]:
    """Per TABLE_ROWS fact, whether ``market`` meets the goal against the market named 'recording' (``rows``: the
    facts' ``table``, if already made)."""
    names = list(facts)
    rows = table(facts) if rows is None else rows
    r, m = names.index("recording"), names.index(market)
    return [within_goal(key, vals[r], vals[m]) for (key, _), (_, vals) in zip(TABLE_ROWS, rows)]


def table(facts: dict) -> list[tuple[str, list[float]]]:
    rows = []
    for key, label in TABLE_ROWS:
        vals = []
        for f in facts.values():
            if key.startswith("acf_abs_"):
                v = f["acf_abs"][int(key.rsplit("_", 1)[1]) - 1]
            elif key.startswith("acf_sign_"):
                v = f["acf_sign"][int(key.rsplit("_", 1)[1]) - 1]
            elif key == "impact_1s":
                v = f["impact_ticks"][2]
            elif key == "basis_mean":
                v = float(np.mean(f["basis"]))
            elif key == "basis_std":
                v = float(np.std(f["basis"]))
            elif key.startswith("lead_lag_"):
                v = f["lead_lag"][{"lead_lag_ms": "lag", "lead_lag_peak": "peak", "lead_lag_ratio": "ratio"}[key]]
            else:
                v = f[key]
            vals.append(float(v))
        rows.append((label, vals))
    return rows


STRATEGY_GOALS = ("fills_per_hour", "spread_capture_per_unit", "hedge_latency_cost_per_unit")


def strategy_comparison(replay_config, models: dict, seeds, long_factor: int = 10, long_seeds: int = 3) -> dict:
    """The same strategy on the recording (one run) and on each synthetic market of ``models`` (name -> config): one
    run per seed of the same length, and ``long_seeds`` runs ``long_factor`` times as long. Money also per unit of
    the asset traded on Exchange 1 (per BTC on the shipped recording), so that runs of different lengths and
    volumes compare; fills also per hour. ``goals``: per model, whether the mean over the seeds is within 30% of
    the recording with the same sign on each of STRATEGY_GOALS."""
    from backtest.engine import run

    keys = ("net_pnl", "spread_capture", "hedge_cost", "hedge_slippage", "hedge_latency_cost", "hedge_basis", "fees")
    counts = ("fills", "volume_exchange1_lots")

    def row(config, summary):
        out = {k: float(summary[k]) for k in keys + counts}
        units = summary["volume_exchange1_lots"] * config.market.lot_size
        out["fills_per_hour"] = float(summary["fills"]) / (config.sim.ticks * config.sim.dt_s / 3600.0)
        out.update({f"{k}_per_unit": (float(summary[k]) / units if units else float("nan")) for k in keys})
        return out

    def spread(rows):
        names = rows[0].keys()
        arr = {k: np.array([r[k] for r in rows]) for k in names}
        return ({k: float(np.nanmean(v)) for k, v in arr.items()},
                {k: float(np.nanstd(v, ddof=1)) if len(v) > 1 else 0.0 for k, v in arr.items()})

    rep = row(replay_config, run(replay_config).summary_dict)
    out = {"replay": rep, "models": {}, "seeds": len(list(seeds)), "long_factor": long_factor, "long_seeds": long_seeds}
    for name, config in models.items():
        syn = [row(c, run(c).summary_dict) for c in (config.with_dotted({"sim.seed": int(s)}) for s in seeds)]
        longer = config.with_dotted({"sim.ticks": config.sim.ticks * long_factor})
        syn_long = [row(c, run(c).summary_dict)
                    for c in (longer.with_dotted({"sim.seed": 1000 + i}) for i in range(long_seeds))]
        mean, std = spread(syn)
        lmean, lstd = spread(syn_long)
        goals = {k: bool(np.sign(mean[k]) == np.sign(rep[k]) and abs(mean[k] - rep[k]) <= RELATIVE_GOAL * abs(rep[k]))
                 for k in STRATEGY_GOALS}
        out["models"][name] = {"mean": mean, "std": std, "long_mean": lmean, "long_std": lstd, "goals": goals}
    return out


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return buf.getvalue()


def write_stylized_report(facts: dict, out_dir, comparison: dict | None = None) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = list(facts)
    rows = table(facts)
    fmt = lambda v: "n/a" if v != v else f"{v:,.3g}"  # noqa: E731
    sentences = _sentences(facts, rows)
    charts = []

    def chart(name, title, draw):
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        for market, f in facts.items():
            draw(ax, market, f, COLORS.get(market, None))
        ax.set_title(title)
        ax.legend(fontsize=8)
        fig.tight_layout()
        data = _png(fig)
        plt.close(fig)
        (out / f"{name}.png").write_bytes(data)
        charts.append((name, title, data))

    def returns(ax, m, f, c, key):
        r = f[key]
        if r.size > 3 and r.std() > 0:
            z = (r - r.mean()) / r.std()
            ax.hist(z, bins=np.linspace(-8, 8, 81), histtype="step", density=True, color=c, label=m)
        ax.set_yscale("log")
        ax.set_xlabel("standardized return")

    chart("returns_100ms", "Mid returns at 100 ms", lambda ax, m, f, c: returns(ax, m, f, c, "r100"))
    chart("returns_1s", "Mid returns at 1 s", lambda ax, m, f, c: returns(ax, m, f, c, "r1s"))

    def acf_abs(ax, m, f, c):
        ax.plot(np.arange(1, LAGS + 1) * f["grid_s"], f["acf_abs"], color=c, label=m)
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_xlabel("lag (s)")

    chart("acf_abs_returns", "Autocorrelation of |100 ms returns| (volatility clustering)", acf_abs)

    def ccdf(ax, m, f, c, key, xlabel):
        x = np.sort(f[key])
        if x.size:
            ax.loglog(x, 1.0 - np.arange(x.size) / x.size, color=c, label=m)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("P(X >= x)")

    def spread(ax, m, f, c):
        s = f["spread_ticks"]
        if s.size:
            q = np.percentile(s, np.arange(1, 100))
            ax.semilogy(np.arange(1, 100), np.maximum(q, 1e-9), color=c, label=m)
        ax.set_xlabel("percentile")
        ax.set_ylabel("spread (ticks)")

    chart("spread", "Spread of Exchange 1, sampled every 100 ms", spread)
    chart("depth_touch", "Depth at the touch, in mean market orders",
          lambda ax, m, f, c: ccdf(ax, m, f, c, "touch_over_trade", "lots at best bid + best ask / mean order"))
    chart("trade_sizes", "Market order sizes (over their mean)",
          lambda ax, m, f, c: ccdf(ax, m, f, c, "trade_size_over_mean", "size / mean size"))
    chart("inter_trade", "Times between market orders",
          lambda ax, m, f, c: ccdf(ax, m, f, c, "inter_trade_s", "seconds"))

    def acf_sign(ax, m, f, c):
        ax.plot(np.arange(1, LAGS + 1), f["acf_sign"], color=c, marker=".", label=m)
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_xlabel("lag (market orders)")

    chart("acf_signs", "Autocorrelation of trade signs", acf_sign)

    def impact(ax, m, f, c):
        ax.plot(IMPACT_HORIZONS_S, f["impact_ticks"], color=c, marker="o", label=m)
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_xlabel("seconds after the market order")
        ax.set_ylabel("mid move in its direction (ticks)")

    chart("impact", "The mid's move after a market order", impact)

    def basis(ax, m, f, c):
        b = f["basis"]
        t = np.arange(b.size) * f["grid_s"]
        ax.plot(t, b - np.mean(b), color=c, lw=0.7, label=f"{m} (mean {np.mean(b):.2f})")
        ax.set_xlabel("seconds")
        ax.set_ylabel("basis minus its mean (currency)")

    chart("basis", "Basis between the venues over time", basis)

    def cross(ax, m, f, c):
        ll = f["lead_lag"]
        ax.plot(ll["lags"] * LEAD_LAG_GRID_MS, ll["xcorr"], color=c, lw=0.9, label=f"{m} (peak at {ll['lag']:+.0f} ms)")
        ax.axvline(0, color="grey", lw=0.6)
        ax.set_xlabel("lag (ms): Exchange 2's change this long after Exchange 1's")
        ax.set_ylabel("correlation of 1 ms mid changes")

    chart("lead_lag", "Lead-lag between the venues", cross)

    judged = "queue-reactive" if "queue-reactive" in names and "recording" in names else None
    goals = goal_column(facts, judged, rows) if judged else [None] * len(rows)
    mark = lambda g: "" if g is None else ("yes" if g else "no")  # noqa: E731
    table_html = ("<table><tr><th>figure</th>" + "".join(f"<th>{html.escape(n)}</th>" for n in names)
                  + (f"<th>{judged} within goal</th>" if judged else "") + "</tr>" + "".join(
                      f"<tr><td>{html.escape(label)}</td>" + "".join(f"<td>{fmt(v)}</td>" for v in vals)
                      + (f"<td>{mark(g)}</td>" if judged else "") + "</tr>"
                      for (label, vals), g in zip(rows, goals)) + "</table>")
    import csv

    with open(out / "stylized_facts.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["figure", *names] + ([f"{judged} within goal"] if judged else []))
        for (label, vals), g in zip(rows, goals):
            w.writerow([label, *vals] + ([mark(g)] if judged else []))
    parts = ["<html><head><meta charset='utf-8'><title>Stylized facts</title><style>body{font-family:sans-serif;"
             "max-width:1100px;margin:auto} td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}"
             "td:first-child{text-align:left}</style></head><body><h1>How real is the synthetic market?</h1>",
             f"<p>Goal for each fact: within {RELATIVE_GOAL:.0%} of the recording (autocorrelations and correlations "
             f"within {ABSOLUTE_GOAL:g}), the median spread equal.</p>" if judged else "", table_html]
    for name, title, data in charts:
        parts.append(f"<h2>{html.escape(title)}</h2><img src='data:image/png;base64,{base64.b64encode(data).decode()}'>"
                     f"<p>{html.escape(sentences.get(name, ''))}</p>")
    if comparison:
        parts.append(comparison_html(comparison))
    parts.append("</body></html>")
    (out / "stylized_facts.html").write_text("\n".join(parts))
    return {"html": out / "stylized_facts.html", "table": out / "stylized_facts.csv",
            **{name: out / f"{name}.png" for name, _, _ in charts}}


def comparison_html(c: dict) -> str:
    models = c["models"]
    head = "".join(f"<th>{html.escape(n)}: {c['seeds']} seeds, mean &plusmn; std</th><th>{html.escape(n)}: "
                   f"{c['long_factor']}x as long, {c['long_seeds']} seeds</th>" for n in models)
    rows = "".join(
        f"<tr><td>{k}</td><td>{c['replay'][k]:,.4g}</td>" + "".join(
            f"<td>{m['mean'][k]:,.4g} &plusmn; {m['std'][k]:,.3g}"
            + (" (goal met)" if m["goals"].get(k) else " (goal missed)" if k in m["goals"] else "") + "</td>"
            f"<td>{m['long_mean'][k]:,.4g} &plusmn; {m['long_std'][k]:,.3g}</td>" for m in models.values()) + "</tr>"
        for k in c["replay"])
    return (f"<h2>The same strategy on each</h2><p>Money in currency; <code>_per_unit</code> per unit of the asset "
            f"traded on Exchange 1. Goal (on {', '.join(STRATEGY_GOALS)}): the mean over the seeds within "
            f"{RELATIVE_GOAL:.0%} of the recording, with its sign.</p><table><tr><th></th><th>recording (replay)</th>"
            f"{head}</tr>{rows}</table>")


def _sentences(facts: dict, rows) -> dict[str, str]:
    """One sentence per chart: the measured figures of every market."""
    names = list(facts)
    vals = {label: dict(zip(names, v)) for label, v in rows}

    def fig(label):
        return "; ".join(f"{n} {v:,.3g}" for n, v in vals[label].items())

    return {
        "returns_100ms": f"Excess kurtosis at 100 ms: {fig('excess kurtosis of 100 ms mid returns')}. A large-tick "
                         "book's mid moves in jumps when a queue empties: the queue-reactive model's tails come from "
                         "there; the zero-intelligence model's increments are Gaussian within a regime.",
        "returns_1s": f"At 1 s: {fig('excess kurtosis of 1 s mid returns')}.",
        "acf_abs_returns": f"Lag-1 autocorrelation of |returns|: {fig('autocorrelation of |100 ms returns|, lag 1')}; "
                           f"lag 10: {fig('autocorrelation of |100 ms returns|, lag 10')}.",
        "spread": f"Median spread in ticks: {fig('median spread, ticks')}.",
        "depth_touch": f"Median touch depth in mean market orders: "
                       f"{fig('median depth at the touch (bid + ask), in mean market orders')}.",
        "trade_sizes": "Market order sizes over their mean: the queue-reactive model draws each order against the "
                       "queue it hits from the recording's ratios (heavy-tailed); the zero-intelligence model's are "
                       "geometric.",
        "inter_trade": f"Coefficient of variation of inter-trade times (1 for Poisson): "
                       f"{fig('coefficient of variation of inter-trade times (1 = Poisson)')}. Hawkes arrivals give "
                       "the queue-reactive model the recording's bursts.",
        "acf_signs": f"Sign autocorrelation, lag 1: {fig('autocorrelation of trade signs, lag 1')}; lag 10: "
                     f"{fig('autocorrelation of trade signs, lag 10')}. Meta-orders with Pareto-tailed lengths give "
                     "the queue-reactive model persistent, long-memory order flow.",
        "impact": f"Move 1 s after a market order, ticks: {fig('mid move 1 s after a market order, its direction, ticks')}.",
        "basis": f"Basis std (currency): {fig('basis std, currency')}.",
        "lead_lag": f"Lag of the best correlation between the venues' 1 ms mid changes (ms, negative: Exchange 2 "
                    f"leads): {fig(TABLE_ROWS[-3][1])}; its correlation {fig(TABLE_ROWS[-2][1])}; lead-lag ratio "
                    f"{fig(TABLE_ROWS[-1][1])}. The zero-intelligence markets move both venues' mids in the same "
                    "tick; the queue-reactive one makes each of Exchange 1's moves on Exchange 2 first, by a lead "
                    "drawn from the recording's cross-correlation.",
    }
