"""Run reports, decision log, sweeps and studies: artifacts exist and are non-empty, the summary equals
what the written frames recompute, sweeps are reproducible whatever the number of workers."""
import json

import numpy as np
import pandas as pd
import pytest

import backtest
from backtest.cli import main
from backtest.interventions import Intervention
from backtest.research.studies import STUDIES, study
from backtest.research.sweep import SweepSpec, run_sweep, sharpe_like
from reports import decision_frame, write_report
from reports.charts import RUN_CHARTS
from reports.sweep_report import write_sweep_report


@pytest.fixture(scope="module")
def eventful_run():
    """A run with fills, hedges, a manual fill, a pause/resume and soft-limit events."""
    cfg = backtest.make_config(**{"sim.ticks": 2500, "risk.soft_position_lots": 3, "risk.hard_position_lots": 6})
    ivs = [Intervention(400, "manual_fill", "buy", 3), Intervention(900, "pause"), Intervention(1200, "resume")]
    return backtest.run(cfg, ivs)


@pytest.fixture(scope="module")
def report(eventful_run, tmp_path_factory):
    return write_report(eventful_run, tmp_path_factory.mktemp("report"))


def test_every_artifact_is_written_and_non_empty(report):
    assert set(report.charts) == set(RUN_CHARTS)
    for path in report.all_paths():
        assert path.exists() and path.stat().st_size > 0, path
    for png in report.charts.values():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = report.html.read_text()
    assert html.count("data:image/png;base64,") == len(RUN_CHARTS), "charts are embedded: the HTML stands alone"
    assert "Risk events" in html and "manual pause" in html


def test_summary_equals_numbers_recomputed_from_written_frames(report, eventful_run):
    ticks = pd.read_csv(report.csv["ticks"])
    fills = pd.read_csv(report.csv["fills"])
    hedges = pd.read_csv(report.csv["hedges"])
    summary = pd.read_csv(report.csv["summary"]).set_index("metric")["value"]
    s = eventful_run.summary_dict
    last = ticks.iloc[-1]
    recomputed = {
        "net_pnl": last.total_pnl,
        "spread_capture": fills.spread_capture.sum(),
        "hedge_slippage": hedges.slippage.sum(),
        "hedge_latency_cost": hedges.latency_cost.sum(),
        "fees": fills.fee.sum() + hedges.fee.sum(),
        "fills": len(fills),
        "volume_exchange1_lots": fills.qty_lots.sum(),
        "volume_exchange2_lots": hedges.qty_filled_lots.sum(),
        "max_drawdown": (ticks.total_pnl.cummax() - ticks.total_pnl).max(),
        "max_abs_net_delta_lots": ticks.net_delta_lots.abs().max(),
        "final_inv1_lots": fills.qty_lots.where(fills.side == "buy", -fills.qty_lots).sum(),
        "time_paused_s": (ticks.state == "paused").sum() * eventful_run.config.sim.dt_s,
        "hedge_latency_p50_ms": np.percentile(hedges.loc[hedges.qty_filled_lots > 0, "fill_to_hedge_latency_ms"], 50),
    }
    for key, value in recomputed.items():
        assert s[key] == pytest.approx(value, rel=1e-9, abs=1e-9), key
        assert float(summary[key]) == pytest.approx(value, rel=1e-9, abs=1e-9), key


def test_decision_log_covers_every_fill_hedge_risk_event_and_action(report, eventful_run):
    lines = report.decision_log.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    kinds = pd.Series([r["event"] for r in records]).value_counts()
    r = eventful_run
    assert kinds["fill"] == len(r.fills)
    assert kinds["hedge"] == len(r.hedges)
    assert kinds["risk"] == len(r.risk_events) and len(r.risk_events) >= 2
    assert kinds["intervention"] == 3
    assert kinds["quote"] == int((r.orders.action != "filled").sum())
    ticks = [rec["tick"] for rec in records]
    assert ticks == sorted(ticks)
    for rec in records:
        assert {"tick", "time_s", "event", "reason"} <= rec.keys()
        assert all(v is not None and v == v for v in rec.values()), "no null / NaN fields in the log"
    quote = next(rec for rec in records if rec["event"] == "quote")
    assert {"reference_price", "half_spread_price", "inv1_lots", "action", "price", "qty_lots"} <= quote.keys()
    manual = next(rec for rec in records if rec["event"] == "fill" and rec["reason"] == "manual test fill")
    assert manual["tick"] == 400 and manual["qty_lots"] == 3 and isinstance(manual["qty_lots"], int)


def test_decision_frame_orders_within_a_tick(eventful_run):
    frame = decision_frame(eventful_run)
    at = frame[frame.tick == 400].event.tolist()
    assert at[0] == "intervention" and at.index("fill") < (at.index("quote") if "quote" in at else len(at))


def test_cli_report_and_verbose(tmp_path, capsys):
    rc = main(["run", "--ticks", "800", "--seed", "3", "--report", str(tmp_path / "r"), "--verbose"])
    out, err = capsys.readouterr()
    assert rc == 0
    assert (tmp_path / "r" / "report.html").stat().st_size > 10_000
    log_lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert log_lines and {rec["event"] for rec in log_lines} >= {"quote", "fill", "hedge"}
    assert "net_pnl" in out


def test_sharpe_like_is_scaled_per_hour():
    dt = 0.1
    pnl = np.cumsum(np.tile([0.0] * 9 + [1.0], 100) + np.tile([0.0] * 9 + [0.5], 100) * (np.arange(1000) // 10 % 2))
    # ten ticks per 1-second bucket: changes alternate 1.0 and 1.5
    expected = 1.25 / np.std([1.0, 1.5] * 50, ddof=1) * np.sqrt(3600)
    assert sharpe_like(pnl, dt) == pytest.approx(expected)
    assert np.isnan(sharpe_like(np.zeros(100), dt))


def test_sweep_is_reproducible_whatever_the_workers():
    spec = SweepSpec(grid={"latency.hedge_median_ms": [10, 400], "quoting.size_lots": [1, 3]}, seeds=(1, 2),
                     base=backtest.make_config(**{"sim.ticks": 400}))
    one = run_sweep(spec, workers=1)
    two = run_sweep(spec, workers=2)
    pd.testing.assert_frame_equal(one.table, two.table)
    pd.testing.assert_frame_equal(one.runs, two.runs)
    t = one.table
    assert len(t) == 4 and (t.seeds == 2).all()
    assert {"net_pnl_mean", "net_pnl_std", "sharpe_like_mean", "max_drawdown_mean", "spread_capture_mean",
            "hedge_cost_mean", "fills_mean", "time_paused_s_mean"} <= set(t.columns)
    # the table is the per-seed runs aggregated
    runs = one.runs
    sel = runs[(runs["latency.hedge_median_ms"] == 400) & (runs["quoting.size_lots"] == 3)]
    row = t[(t["latency.hedge_median_ms"] == 400) & (t["quoting.size_lots"] == 3)].iloc[0]
    assert row.net_pnl_mean == pytest.approx(sel.net_pnl.mean()) and row.net_pnl_std == pytest.approx(sel.net_pnl.std())
    # each run equals a direct run of the same config
    direct = backtest.run(backtest.make_config(**{"sim.ticks": 400, "sim.seed": 2, "latency.hedge_median_ms": 10,
                                                  "quoting.size_lots": 1}))
    got = runs[(runs.seed == 2) & (runs["latency.hedge_median_ms"] == 10) & (runs["quoting.size_lots"] == 1)]
    assert got.net_pnl.iloc[0] == direct.summary_dict["net_pnl"]


@pytest.mark.parametrize("name", STUDIES)
def test_studies_run_at_small_size_and_write_charts(name, tmp_path):
    spec = study(name, ticks=300, seeds=(1, 2))
    result = run_sweep(spec, workers=2)
    files = write_sweep_report(result, tmp_path)
    assert len(result.table) == len(spec.points())
    for path in files.values():
        assert path.stat().st_size > 0
    assert any(p.suffix == ".png" for p in files.values())
    if name == "hedge_latency":
        p50 = result.table["hedge_latency_p50_ms_mean"].to_numpy()
        assert np.all(np.diff(p50) >= 0), "the study's axis must move the measured latency"


def test_sweep_cli_rejects_bad_grid_and_seeds(capsys):
    assert main(["sweep", "--grid", "quoting.size_lots=1,0", "--quiet"]) == 2
    assert "grid point {'quoting.size_lots': 0}" in capsys.readouterr().err
    assert main(["sweep", "--grid", "no.such_key=1", "--quiet"]) == 2
    assert "unknown key" in capsys.readouterr().err
    assert main(["sweep", "--grid", "quoting.size_lots=1", "--seeds", "a,b"]) == 2
    assert "--seeds" in capsys.readouterr().err
    assert main(["sweep", "--quiet"]) == 2
    assert "grid is empty" in capsys.readouterr().err


def test_sweep_cli_writes_table(tmp_path, capsys):
    rc = main(["sweep", "--grid", "quoting.half_spread_ticks=1,3", "--seeds", "1,2", "--ticks", "300",
               "--workers", "1", "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert rc == 0
    assert "4/4" in err and "run/s" in err  # the progress bar: runs done, rate
    table = pd.read_csv(tmp_path / "table.csv")
    assert list(table["quoting.half_spread_ticks"]) == [1, 3]
    assert (tmp_path / "lines.png").stat().st_size > 0
