"""Optimisation: Optuna studies that resume from their database, constraints that make trials infeasible,
and the best trials scored out of sample (held-out seeds; the held-out end of a recording)."""
import json

import optuna
import pandas as pd
import pytest

from backtest.cli import main
from backtest.config import ConfigError, make_config, preset
from backtest.research.optimize import (
    OptimizeSpec, _configs, optimize, out_of_sample, parse_constraint, parse_space, window_hours, write_optimize_report,
)

BASE = ["--ticks", "800", "--train-seeds", "1,2", "--test-seeds", "11,12"]


def test_optimize_writes_its_report_and_resumes_the_study(tmp_path, capsys):
    out = tmp_path / "opt"
    args = ["optimize", "--space", "quoting.half_spread_ticks=0.5:5", "--space", "quoting.size_lots=1:4:int",
            "--trials", "5", "--out", str(out), *BASE]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "out_of_sample" in printed and "study.db" in printed
    for name in ("trials.csv", "out_of_sample.csv", "history.png", "in_vs_out_of_sample.png", "importances.png"):
        assert (out / name).exists(), name
    meta = json.loads((out / "meta.json").read_text())
    assert meta["kind"] == "optimize" and meta["test_seeds"] == [11, 12]
    # the same command with more trials resumes: the study holds 8, the first 5 unchanged
    first = pd.read_csv(out / "trials.csv")
    assert main(args[:5] + ["--trials", "8"] + args[7:]) == 0
    study = optuna.load_study(study_name="mmhedge", storage=f"sqlite:///{(out / 'study.db').resolve()}")
    assert len([t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]) == 8
    again = pd.read_csv(out / "trials.csv")
    pd.testing.assert_frame_equal(again.iloc[:5].reset_index(drop=True), first)
    capsys.readouterr()
    assert main(args[:5] + ["--trials", "8"] + args[7:]) == 0  # nothing left to run: the bar says so
    err = capsys.readouterr().err
    assert "8/8" in err and "0/8" not in err, err


def test_constraints_make_trials_infeasible(tmp_path):
    spec = OptimizeSpec(space={"quoting.half_spread_ticks": ("float", 0.5, 5.0)},
                        base=make_config(**{"sim.ticks": 600}), trials=4, train_seeds=(1,), test_seeds=(2,),
                        constraints=[parse_constraint("net_pnl>=1000000")])
    study = optimize(spec)
    assert all(t.user_attrs["constraints"][0] > 0 for t in study.trials)
    assert out_of_sample(spec, study) == []  # no feasible trial is offered as the answer


def test_out_of_sample_is_other_seeds_or_the_held_out_window():
    spec = OptimizeSpec(space={"quoting.half_spread_ticks": ("float", 1.0, 2.0)}, base=make_config(),
                        train_seeds=(1, 2), test_seeds=(3,))
    assert [c.sim.seed for c in _configs(spec, {}, "train")] == [1, 2]
    assert [c.sim.seed for c in _configs(spec, {}, "test")] == [3]
    replay = OptimizeSpec(space=spec.space, base=preset("replay_binance_btcusdt_20240808").with_dotted(
        {"sim.ticks": 100_000}), holdout_share=0.3)
    (train,), (test,) = _configs(replay, {}, "train"), _configs(replay, {}, "test")
    assert train.sim.ticks == 70_000 and train.replay.start_s == 0
    assert test.sim.ticks == 30_000 and test.replay.start_s == pytest.approx(70.0)
    with pytest.raises(ConfigError, match="must differ"):
        optimize(OptimizeSpec(space=spec.space, base=make_config(), train_seeds=(1,), test_seeds=(1,)))


def test_a_replay_study_scores_the_held_out_window(tmp_path):
    spec = OptimizeSpec(space={"quoting.half_spread_ticks": ("float", 200.0, 2000.0)},
                        base=preset("replay_binance_btcusdt_20240808").with_dotted({"sim.ticks": 40_000}), trials=2)
    study = optimize(spec)
    rows = out_of_sample(spec, study)
    assert len(rows) == 2 and all("out_of_sample" in r for r in rows)
    # 28 s of training against 12 s held out: sums are compared per hour of their windows too
    assert window_hours(spec, "train") == pytest.approx(28.0 / 3600) and window_hours(spec, "test") == pytest.approx(
        12.0 / 3600)
    for r in rows:
        assert r["in_sample_per_hour"] == pytest.approx(r["in_sample"] / (28.0 / 3600))
        assert r["out_of_sample_per_hour"] == pytest.approx(r["out_of_sample"] / (12.0 / 3600))


@pytest.mark.parametrize("args,needle", [
    (["--holdout-share", "0.2"], "--holdout-share applies to a replay"),
    (["--preset", "replay_binance_btcusdt_20240808", "--test-seeds", "5"], "--train-seeds/--test-seeds apply"),
])
def test_options_that_do_not_apply_to_the_market_are_refused_not_ignored(tmp_path, capsys, args, needle):
    out = str(tmp_path / "o")
    assert main(["optimize", "--space", "quoting.size_lots=1:3:int", "--out", out, "--ticks", "500", *args]) == 2
    assert needle in capsys.readouterr().err


def test_the_importance_chart_says_what_is_computed_and_optuna_warns_nothing(tmp_path, monkeypatch):
    import matplotlib.axes
    import warnings

    spec = OptimizeSpec(space={"quoting.half_spread_ticks": ("float", 0.5, 4.0), "quoting.size_lots": ("int", 1, 3)},
                        base=make_config(**{"sim.ticks": 300}), trials=6, train_seeds=(1,), test_seeds=(2,),
                        constraints=[parse_constraint("max_drawdown<=100")])
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # constraints_func is deprecated in optuna 5
        study = optimize(spec)
    if hasattr(optuna.trial.Trial, "set_constraint"):  # optuna 5: the sampler reads them from the trial
        assert all(list(t.constraints) == ["max_drawdown<=100"] for t in study.trials)
    labels = []
    original = matplotlib.axes.Axes.set_xlabel
    monkeypatch.setattr(matplotlib.axes.Axes, "set_xlabel",
                        lambda self, text, *a, **k: (labels.append(text), original(self, text, *a, **k))[1])
    write_optimize_report(spec, study, out_of_sample(spec, study), tmp_path)
    assert any("PED-ANOVA" in label for label in labels) and not any("fANOVA" in label for label in labels)


@pytest.mark.parametrize("item", ["x", "quoting.size_lots=3:1", "quoting.size_lots=1:inf", "a=1", "a=1,1"])
def test_bad_space(item):
    with pytest.raises(ConfigError):
        parse_space(item)


def test_cli_optimize_bad_input(tmp_path, capsys):
    out = str(tmp_path / "o")
    assert main(["optimize", "--space", "quoting.size_lots=0:3:int", "--out", out, *BASE]) == 2
    assert "quoting.size_lots" in capsys.readouterr().err
    assert main(["optimize", "--space", "quoting.size_lots=1:3:int", "--objective", "luck", "--out", out]) == 2
    assert main(["optimize", "--space", "quoting.size_lots=1:3:int", "--constraint", "drawdown<5", "--out", out]) == 2


def _optimize_in_process(spec):
    optimize(spec)


def test_two_processes_on_one_study_run_its_trials_once_each(tmp_path):
    """Both samplers seeded alike propose the same points: each point is run once, and the two together run
    the study's trials, not twice as many (they ran 40 of 20 with 6 repeats before)."""
    import multiprocessing as mp

    spec = OptimizeSpec(space={"quoting.size_lots": ("int", 1, 3), "quoting.half_spread_ticks": ("categorical", [1, 2, 3])},
                        base=make_config(**{"sim.ticks": 400}), trials=7, train_seeds=(1,), test_seeds=(2,),
                        storage=f"sqlite:///{tmp_path / 'study.db'}")
    optuna.create_study(study_name=spec.study_name, storage=spec.storage, direction="maximize")
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_optimize_in_process, args=(spec,)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    study = optuna.load_study(study_name=spec.study_name, storage=spec.storage)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == 7
    assert len({tuple(sorted(t.params.items())) for t in done}) == 7


BTC, ETH = "data/binance-btcusdt-2024-08-08", "data/binance-ethusdt-2024-08-08"
AXIS = "replay.exchange1+replay.exchange2+market.volatility_per_sqrt_s"


def test_a_study_over_recordings_trains_on_some_and_checks_on_others(tmp_path, capsys):
    """Out of sample = other recordings (days, symbols): each trial scored on the whole of every training
    recording, the best on the test ones; the CLI takes them in the sweep's joint-axis syntax."""
    base = preset("replay_binance_btcusdt_20240808").with_dotted({"sim.ticks": 20_000})
    btc = {"replay.exchange1": f"{BTC}/spot.jsonl.gz", "replay.exchange2": f"{BTC}/usdm.jsonl.gz",
           "market.volatility_per_sqrt_s": 8.0}
    eth = {"replay.exchange1": f"{ETH}/spot.jsonl.gz", "replay.exchange2": f"{ETH}/usdm.jsonl.gz",
           "market.volatility_per_sqrt_s": 0.3}
    spec = OptimizeSpec(space={"quoting.size_lots": ("int", 1, 3)}, base=base, trials=2,
                        train_recordings=(btc,), test_recordings=(eth,))
    (train,), (test,) = _configs(spec, {}, "train"), _configs(spec, {}, "test")
    assert (train.replay.exchange1, test.replay.exchange1) == (btc["replay.exchange1"], eth["replay.exchange1"])
    assert train.sim.ticks == test.sim.ticks == 20_000 and train.replay.start_s == test.replay.start_s == 0
    study = optimize(spec)
    rows = out_of_sample(spec, study)
    assert rows and all(r["out_of_sample"] != r["in_sample"] for r in rows)
    with pytest.raises(ConfigError, match="both a training and a test recording"):
        optimize(OptimizeSpec(space=spec.space, base=base, train_recordings=(btc,), test_recordings=(btc, eth)))
    out = str(tmp_path / "o")
    rec = {"train": f"{AXIS}={BTC}/spot.jsonl.gz+{BTC}/usdm.jsonl.gz+8.0",
           "test": f"{AXIS}={ETH}/spot.jsonl.gz+{ETH}/usdm.jsonl.gz+0.3"}
    cli = ["optimize", "--preset", "replay_binance_btcusdt_20240808", "--space", "quoting.size_lots=1:3:int",
           "--trials", "2", "--ticks", "5000", "--out", out]
    assert main(cli + ["--train-recordings", rec["train"], "--test-recordings", rec["test"]]) == 0
    meta = json.loads((tmp_path / "o" / "meta.json").read_text())
    assert meta["test_recordings"][0]["replay.exchange1"] == f"{ETH}/spot.jsonl.gz"
    capsys.readouterr()
    for extra, needle in ([["--train-recordings", rec["train"]], "give both --train-recordings"],
                          [["--train-recordings", rec["train"], "--test-recordings", rec["test"], "--holdout-share",
                            "0.2"], "give one or the other"],
                          [["--train-recordings", f"{AXIS}=a+b", "--test-recordings", rec["test"]],
                           "--train-recordings replay.exchange1+replay.exchange2+market.volatility_per_sqrt_s: "
                           "value 'a+b' has 2 part(s)"],
                          [["--train-recordings", f"{AXIS}=no.gz+{BTC}/usdm.jsonl.gz+8", "--test-recordings",
                            rec["test"]], "no.gz: no such file"]):
        assert main(cli[:-1] + [str(tmp_path / "o2"), *extra]) == 2
        assert needle in capsys.readouterr().err
        assert not (tmp_path / "o2" / "study.db").exists()  # refused before the study is made
