"""``write_report(results, out_dir)``: a self-contained HTML report of one run, its charts as PNG,
its frames as Parquet under ``frames/`` (when pyarrow is installed; where a saved experiment keeps them too)
and as CSV (frames of at most ``MAX_CSV_ROWS`` rows) and the decision log as JSON lines.

The HTML embeds the charts (base64 PNG) so the one file can be mailed or archived on its own; the
CSV, Parquet and JSONL files next to it are for further analysis.
"""
from __future__ import annotations

import base64
import html
import importlib.util
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib.pyplot as plt

from backtest.results import TICK_COLUMNS
from backtest.summary_groups import SUMMARY_GROUPS
from reports.charts import RUN_CHARTS
from reports.decision_log import write_jsonl

FRAMES = ("ticks", "fills", "hedges", "orders", "risk_events", "summary")

CHART_GUIDE = {
    "pnl": "Top: total PnL with its realized (after fees) and unrealized parts. Bottom: where it came from. "
           "Green is the edge earned on Exchange 1 fills against the Exchange 1 price, red the cost of hedging on "
           "Exchange 2 (execution slippage, price move during the latency, basis), purple the fees, blue the "
           "unhedged inventory marked to market. Bands above zero add up to the gains, bands below to the losses; "
           "the black line is their sum.",
    "inventory": "Exchange 1 position (what the quotes accumulate), Exchange 2 position (the hedges, opposite "
                 "sign) and the net delta, which the hedger keeps near zero. Dashed red: soft limit (the adding "
                 "side shrinks); solid red: hard limit (the adding side stops).",
    "quotes": "Our bid and ask on Exchange 1 around both venues' prices. Gaps mean a side was not quoted (risk "
              "limits, pause or kill). The zoom shows Exchange 1's best prices and, below, the lots queued ahead "
              "of our orders: a quote kept in place moves up its queue.",
    "spread_vs_hedge": "Each green point is one Exchange 1 fill's spread capture per lot; each red point one "
                       "hedge attempt's cost per lot (slippage + price move during the latency). The strategy "
                       "makes money when green sits further above zero than red sits below it.",
    "latency": "Left: the time from a fill to its hedge on Exchange 2 (the drawn latency, quantised to ticks, "
               "plus batching and retries). Right: execution slippage and the price move during that time, per "
               "lot; the black line is the mean total cost per latency bin.",
    "risk": "Top: the risk state over time (green active, amber reduced, orange paused, red killed) with each "
            "event as a black line. Bottom: the loss over the rolling window against the loss limit that pauses "
            "quoting, and the Exchange 1 position against the soft limit that reduces it.",
}


# A frame longer than this is written as Parquet only: a 1 ms replay's 344 000 ticks make a 120 MB ticks.csv
MAX_CSV_ROWS = 200_000


@dataclass
class ReportFiles:
    """Paths of everything ``write_report`` wrote."""
    html: Path
    charts: dict[str, Path] = field(default_factory=dict)
    csv: dict[str, Path] = field(default_factory=dict)
    parquet: dict[str, Path] = field(default_factory=dict)
    decision_log: Path | None = None

    def all_paths(self) -> list[Path]:
        return [self.html, *self.charts.values(), *self.csv.values(), *self.parquet.values(),
                *([self.decision_log] if self.decision_log else [])]


def write_report(results, out_dir: str | Path, title: str | None = None) -> ReportFiles:
    """Write the report of ``results`` into ``out_dir`` (created if needed); returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(html=out / "report.html")
    images: dict[str, str] = {}
    for name, (draw, _caption) in RUN_CHARTS.items():
        fig = draw(results)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=100)
        plt.close(fig)
        png = buf.getvalue()
        path = out / f"{name}.png"
        path.write_bytes(png)
        files.charts[name] = path
        images[name] = base64.b64encode(png).decode("ascii")
    parquet = importlib.util.find_spec("pyarrow") is not None
    if parquet:
        (out / "frames").mkdir(exist_ok=True)
    for name in FRAMES:
        frame = getattr(results, name)
        if parquet:  # frames/ is also where a saved experiment keeps them: written once, read by both
            pq = out / "frames" / f"{name}.parquet"
            frame.to_parquet(pq, index=False)
            files.parquet[name] = pq
        if len(frame) <= MAX_CSV_ROWS or not parquet:
            path = out / f"{name}.csv"
            frame.to_csv(path, index=False)
            files.csv[name] = path
    files.decision_log = write_jsonl(results, out / "decisions.jsonl")
    files.html.write_text(_html(results, images, files, title))
    return files


PAGE_STYLE = """<style>
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; }
.guide { color: #444; max-width: 60em; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 0 2em; }
pre { background: #f6f6f6; padding: 1em; font-size: 0.8em; max-height: 30em; overflow: auto; }
</style>"""


def _fmt(v) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{v:,.4f}"
    return html.escape(str(v))


def _table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _html(results, images: dict[str, str], files: ReportFiles, title: str | None) -> str:
    s = results.summary_dict
    cfg = results.config
    title = title or f"Market-making run: {s['ticks']:,} ticks, seed {cfg.sim.seed}"
    verdict = (
        f"Net PnL <b>{s['net_pnl']:,.2f}</b>: spread capture {s['spread_capture']:,.2f}, hedge cost "
        f"{s['hedge_cost']:,.2f}, fees paid {s['fees']:,.2f} (subtracted), inventory mark-to-market "
        f"{s['inventory_mtm']:,.2f} (currency). {s['fills']:,} fills on Exchange 1 hedged by {s['hedges']:,} hedges "
        f"({s['hedge_attempts']:,} attempts) on Exchange 2; fill-to-hedge latency p50 "
        f"{_fmt(s['hedge_latency_p50_ms'])} ms, p99 {_fmt(s['hedge_latency_p99_ms'])} ms; largest |net delta| "
        f"{s['max_abs_net_delta_lots']} lots; {s['risk_events']} risk events."
    )
    summary_tables = "".join(
        f"<h3>{html.escape(group)}</h3>" + _table(["metric", "value"], [[k, s[k]] for k in keys])
        for group, keys in SUMMARY_GROUPS
    )
    charts = "".join(
        f'<section><h2>{html.escape(caption)}</h2><p class="guide">{html.escape(CHART_GUIDE[name])}</p>'
        f'<img alt="{html.escape(caption)}" src="data:image/png;base64,{images[name]}"></section>'
        for name, (_draw, caption) in RUN_CHARTS.items()
    )
    ev = results.risk_events
    shown = ev.head(200)
    risk_rows = [[r.tick, r.time_s, r.from_state, r.to_state, r.reason, r.value, r.limit] for r in shown.itertuples()]
    risk_table = (_table(["tick", "time (s)", "from", "to", "reason", "value", "limit"], risk_rows)
                  if risk_rows else "<p>No risk events: quoting stayed active the whole run.</p>")
    if len(ev) > len(shown):
        risk_table += f"<p>First {len(shown)} of {len(ev)} events; all are in risk_events.csv.</p>"
    links = "".join(f'<li><a href="{p.name}">{p.name}</a></li>'
                    for p in [*files.csv.values(), *files.parquet.values(), files.decision_log] if p)
    columns = _table(["column", "meaning"], [[k, v] for k, v in TICK_COLUMNS.items()])
    config_json = html.escape(json.dumps(cfg.model_dump(), indent=2))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
{PAGE_STYLE}</head><body>
<h1>{html.escape(title)}</h1>
<p>{verdict}</p>
<h2>Summary</h2><div class="grid">{summary_tables}</div>
{charts}
<section><h2>Risk events</h2>{risk_table}</section>
<section><h2>Data files</h2><ul>{links}</ul>
<p>decisions.jsonl has one JSON object per quote change, fill, hedge attempt, throttle change and user action.</p>
<details><summary>Columns of the ticks frame (ticks.csv, frames/ticks.parquet)</summary>{columns}</details></section>
<section><h2>Configuration</h2><pre>{config_json}</pre></section>
</body></html>
"""
