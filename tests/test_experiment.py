"""Saved experiments: a run written by `run --report DIR` reloads as the same Results; a sweep writes
runs.parquet with every varied key and metric; `show` prints either."""
import json

import numpy as np
import pytest
import pandas as pd

import backtest
from backtest.cli import main
from backtest.config import load_config
from backtest.research.experiment import FRAMES, save_run
from backtest.interventions import Intervention
from backtest.research.sweep import SweepSpec, run_sweep
from reports.sweep_report import write_sweep_report


def test_a_saved_run_reloads_with_equal_frames(tmp_path):
    cfg = backtest.make_config(**{"sim.ticks": 2000, "sim.seed": 4})
    r = backtest.run(cfg, [Intervention(300, "manual_fill", "buy", 3), Intervention(900, "kill")])
    save_run(r, tmp_path / "exp")
    back = backtest.load(tmp_path / "exp")
    assert back.config == cfg
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(back, name), getattr(r, name))
    assert json.loads((tmp_path / "exp" / "summary.json").read_text())["net_pnl"] == r.summary_dict["net_pnl"]
    # the frames on disk are the frames
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "exp" / "frames" / "fills.parquet"), r.fills)
    # the config on disk runs the same run (without the interventions, which are not config)
    plain = backtest.run(load_config(tmp_path / "exp" / "config.toml"))
    assert plain.ticks_raw[:300].tobytes() == r.ticks_raw[:300].tobytes()
    meta = json.loads((tmp_path / "exp" / "meta.json").read_text())
    assert meta["kind"] == "run" and meta["seed"] == 4 and meta["package_version"]


def test_cli_report_is_a_saved_experiment_and_show_prints_it(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "--ticks", "500", "--seed", "3", "--report", str(out)]) == 0
    capsys.readouterr()
    r = backtest.load(out)
    assert r.config.sim.seed == 3 and len(r.ticks) == 500
    assert main(["show", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "seed 3" in shown and "net_pnl" in shown
    assert main(["show", str(tmp_path)]) == 2  # not an experiment: a clear error
    assert "meta.json" in capsys.readouterr().err


def test_sweep_writes_runs_parquet_with_every_varied_key_and_metric(tmp_path, capsys):
    spec = SweepSpec(grid={"quoting.size_lots": [1, 3], "hedging.min_hedge_lots": [1, 2]}, seeds=(1, 2),
                     base=backtest.make_config(**{"sim.ticks": 400}))
    result = run_sweep(spec, workers=1)
    write_sweep_report(result, tmp_path / "sw")
    runs = pd.read_parquet(tmp_path / "sw" / "runs.parquet")
    assert len(runs) == 8
    for col in ("quoting.size_lots", "hedging.min_hedge_lots", "seed", "net_pnl", "sharpe_like", "hedge_failures",
                "time_killed_s", "largest_naked_lots"):
        assert col in runs.columns
    assert np.isfinite(runs.net_pnl).all()
    assert load_config(tmp_path / "sw" / "config.toml") == spec.base
    assert main(["show", str(tmp_path / "sw")]) == 0
    assert "8 runs" in capsys.readouterr().out


def test_show_reads_an_optimisation_and_refuses_damaged_sweep_files(tmp_path, capsys):
    opt = tmp_path / "opt"
    assert main(["optimize", "--space", "quoting.half_spread_ticks=0.5:5", "--trials", "3", "--ticks", "400",
                 "--train-seeds", "1", "--test-seeds", "2", "--out", str(opt)]) == 0
    capsys.readouterr()
    assert main(["show", str(opt)]) == 0
    shown = capsys.readouterr().out
    assert "objective net_pnl" in shown and "trials (3)" in shown
    sw = tmp_path / "sw"
    assert main(["sweep", "--grid", "quoting.size_lots=1,2,3", "--seeds", "1", "--ticks", "300", "--workers", "1",
                 "--quiet", "--out", str(sw)]) == 0
    capsys.readouterr()
    text = (sw / "table.csv").read_text()
    (sw / "table.csv").write_text(text[: len(text) // 2])  # cut mid-row
    assert main(["show", str(sw)]) == 2
    assert "the file is damaged" in capsys.readouterr().err
    (sw / "table.csv").write_text(text)
    (sw / "runs.parquet").unlink()
    assert main(["show", str(sw)]) == 2
    assert "runs.parquet is missing" in capsys.readouterr().err


def test_a_saved_run_whose_config_was_edited_is_refused_on_load(tmp_path):
    from backtest.config import ConfigError

    out = tmp_path / "run"
    assert main(["run", "--ticks", "300", "--report", str(out)]) == 0
    backtest.load(out)
    text = (out / "config.toml").read_text()
    (out / "config.toml").write_text(text.replace("ticks = 300", "ticks = 400"))
    with pytest.raises(ConfigError, match="was changed after the run was saved"):
        backtest.load(out)
    (out / "config.toml").write_text(text)
    assert len(backtest.load(out).ticks) == 300


def test_a_damaged_raw_file_is_named_on_load(tmp_path, capsys):
    from backtest.config import ConfigError

    out = tmp_path / "run"
    assert main(["run", "--ticks", "300", "--report", str(out)]) == 0
    raw = out / "raw" / "fills_raw.npy"
    raw.write_bytes(raw.read_bytes()[:100])  # cut short
    with pytest.raises(ConfigError) as err:
        backtest.load(out)
    assert str(raw) in str(err.value) and "damaged" in str(err.value)
