"""The stylized-facts report: one chart per fact with a sentence under it, a table of the figures with a "within
goal" column, and the strategy comparison, as HTML + PNG (the figures: ``backtest.research.stylized``).
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import numpy as np

from backtest.research.stylized import (ABSOLUTE_GOAL, CROSS_IMPACT_MS, IMPACT_HORIZONS_S, LAGS, LEAD_LAG_GRID_MS,
                                        RELATIVE_GOAL, STRATEGY_GOALS, TABLE_ROWS, first_seed, goal_column, seed_ranges,
                                        table)

COLORS = {"recording": "black", "queue-reactive": "tab:green", "zero-intelligence": "tab:blue",
          "calibrated": "tab:blue", "default synthetic": "tab:orange"}


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
    ranges = seed_ranges(facts)
    seeds = {name: len(f) for name, f in facts.items() if isinstance(f, list)}
    fmt = lambda v: "n/a" if v != v else f"{v:,.3g}"  # noqa: E731
    # a market measured on several seeds: the mean of its seeds' figures, and their range
    cell = lambda v, r: fmt(v) if r is None else f"{fmt(v)} [{fmt(r[0])}, {fmt(r[1])}]"  # noqa: E731
    sentences = _sentences(facts, rows)
    charts = []

    def chart(name, title, draw):
        fig, ax = plt.subplots(figsize=(6.4, 3.6))
        for market, f in facts.items():
            draw(ax, market, first_seed(f), COLORS.get(market, None))
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

    def cross_impact(ax, m, f, c):
        ax.plot(CROSS_IMPACT_MS, f["cross_impact_ticks"], color=c, marker="o", label=m)
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_xscale("log")
        ax.set_xlabel("ms after the Exchange 1 market order")
        ax.set_ylabel("Exchange 2's mid move in its direction (Exchange 1 ticks)")

    chart("cross_impact", "Exchange 2 after an Exchange 1 market order (what a hedge's latency costs)", cross_impact)

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
    heading = lambda n: f"{n}: {seeds[n]} seeds, mean [range]" if n in seeds else n  # noqa: E731
    table_html = ("<table><tr><th>figure</th>" + "".join(f"<th>{html.escape(heading(n))}</th>" for n in names)
                  + (f"<th>{judged} within goal</th>" if judged else "") + "</tr>" + "".join(
                      f"<tr><td>{html.escape(label)}</td>" + "".join(f"<td>{cell(v, r)}</td>" for v, r in zip(vals, rng))
                      + (f"<td>{mark(g)}</td>" if judged else "") + "</tr>"
                      for (label, vals), rng, g in zip(rows, ranges, goals)) + "</table>")
    import csv

    with open(out / "stylized_facts.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        spans = [n for n in names if n in seeds]
        w.writerow(["figure", *names, *(f"{n} {end} of {seeds[n]} seeds" for n in spans for end in ("min", "max"))]
                   + ([f"{judged} within goal"] if judged else []))
        for (label, vals), rng, g in zip(rows, ranges, goals):
            w.writerow([label, *vals, *(v for r in rng if r is not None for v in r)] + ([mark(g)] if judged else []))
    parts = ["<html><head><meta charset='utf-8'><title>Stylized facts</title><style>body{font-family:sans-serif;"
             "max-width:1100px;margin:auto} td,th{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}"
             "td:first-child{text-align:left}</style></head><body><h1>How real is the synthetic market?</h1>",
             f"<p>Goal for each fact: within {RELATIVE_GOAL:.0%} of the recording (autocorrelations, correlations and "
             f"shares of time within {ABSOLUTE_GOAL:g}), the median spread equal.</p>" if judged else "",
             "<p>A synthetic market measured on several seeds (markets as long as the recording): the mean of the "
             "seeds' figures, their range in brackets; the goal is judged on the mean; the charts draw its first "
             "seed, the sentences under them quote the table's means.</p>" if seeds else "", table_html]
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
    interval = c.get("replay_interval", {})

    def recorded(k):
        lo_hi = interval.get(k)
        return f"{c['replay'][k]:,.4g}" + (f" [{lo_hi[0]:,.4g}, {lo_hi[1]:,.4g}]" if lo_hi else "")

    def inside(m, k):
        if k not in m.get("inside_interval", {}):
            return ""
        return ", inside the recording's interval" if m["inside_interval"][k] else ", outside the recording's interval"

    rows = "".join(
        f"<tr><td>{k}</td><td>{recorded(k)}</td>" + "".join(
            f"<td>{m['mean'][k]:,.4g} &plusmn; {m['std'][k]:,.3g}"
            + (f" (goal met{inside(m, k)})" if m["goals"].get(k) else f" (goal missed{inside(m, k)})"
               if k in m["goals"] else "") + "</td>"
            f"<td>{m['long_mean'][k]:,.4g} &plusmn; {m['long_std'][k]:,.3g}</td>" for m in models.values()) + "</tr>"
        for k in c["replay"])
    precision = (f" The recording's figures carry their own sampling error: in brackets, a {c['interval_level']:.0%} "
                 f"interval by a block bootstrap (blocks of {c['interval_block_s']:g} s of the run drawn with "
                 "replacement).") if interval else ""
    return (f"<h2>The same strategy on each</h2><p>Money in currency; <code>_per_unit</code> per unit of the asset "
            f"traded on Exchange 1. Goal (on {', '.join(STRATEGY_GOALS)}): the mean over the seeds within "
            f"{RELATIVE_GOAL:.0%} of the recording, with its sign.{precision}</p><table><tr><th></th>"
            f"<th>recording (replay)</th>{head}</tr>{rows}</table>")


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
        "spread": f"Median spread in ticks: {fig('median spread, ticks')}. Share of the time at one price step: "
                  f"{fig('share of the time the spread is one price step')} (a large-tick book's wide spread closes "
                  "within milliseconds).",
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
        "cross_impact": f"Exchange 2's move 50 ms after an Exchange 1 market order, Exchange 1 ticks: "
                        f"{fig(dict(TABLE_ROWS)['cross_impact_50ms'])}. A fill by a market order is hedged tens of "
                        "ms later: the hedge pays this move when the other venue follows the order's direction.",
        "basis": f"Basis std (currency): {fig('basis std, currency')}.",
        "lead_lag": f"Lag of the best correlation between the venues' 1 ms mid changes (ms, negative: Exchange 2 "
                    f"leads): {fig(TABLE_ROWS[-3][1])}; its correlation {fig(TABLE_ROWS[-2][1])}; lead-lag ratio "
                    f"{fig(TABLE_ROWS[-1][1])}. The zero-intelligence markets move both venues' mids in the same "
                    "tick; the queue-reactive one makes each of Exchange 1's moves on Exchange 2 first, by a lead "
                    "drawn from the recording's cross-correlation.",
    }
