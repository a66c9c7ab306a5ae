"""Sweeps and optimisation on a real Dask distributed cluster: a scheduler and two workers started by the test
as separate processes (on this machine's loopback), with the same results as a local run, bit for bit."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import backtest
from backtest.cli import main
from backtest.optimize import OptimizeSpec, optimize
from backtest.sweep import SweepSpec, run_sweep

pytest.importorskip("distributed")
DASK = str(Path(sys.executable).with_name("dask"))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dask")
    info = tmp / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(info)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=env)]
    deadline = time.time() + 60
    while not info.exists() and time.time() < deadline:
        time.sleep(0.2)
    assert info.exists(), "the scheduler did not start"
    for _ in range(2):
        procs.append(subprocess.Popen([DASK, "worker", "--scheduler-file", str(info), "--nworkers", "1", "--nthreads",
                                       "1", "--no-dashboard", "--host", "127.0.0.1"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, env=env))
    address = json.loads(info.read_text())["address"]
    from distributed import Client

    with Client(address, timeout=60) as client:
        client.wait_for_workers(2, timeout=120)
    yield address
    for p in procs[::-1]:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


def test_a_sweep_on_the_cluster_equals_the_local_one(cluster):
    spec = SweepSpec(grid={"quoting.half_spread_ticks": [1, 2, 3]}, seeds=(1, 2),
                     base=backtest.make_config(**{"sim.ticks": 1500}))
    local = run_sweep(spec, workers=1)
    remote = run_sweep(spec, cluster=cluster)
    pd.testing.assert_frame_equal(remote.runs, local.runs)
    pd.testing.assert_frame_equal(remote.table, local.table)


def test_cli_sweep_on_the_cluster(cluster, tmp_path, capsys):
    assert main(["sweep", "--grid", "quoting.size_lots=1,2", "--seeds", "1,2", "--ticks", "500", "--cluster", cluster,
                 "--out", str(tmp_path)]) == 0
    assert "4/4" in capsys.readouterr().err
    assert len(pd.read_parquet(tmp_path / "runs.parquet")) == 4


def test_an_optimisation_on_the_cluster_equals_the_local_one(cluster, tmp_path):
    def spec(storage, c=None):
        return OptimizeSpec(space={"quoting.half_spread_ticks": ("float", 0.5, 4.0)},
                            base=backtest.make_config(**{"sim.ticks": 800}), trials=3, train_seeds=(1, 2),
                            test_seeds=(3,), storage=storage, cluster=c)
    local = optimize(spec(f"sqlite:///{tmp_path / 'a.db'}"))
    remote = optimize(spec(f"sqlite:///{tmp_path / 'b.db'}", cluster))
    assert [t.value for t in remote.trials] == [t.value for t in local.trials]


def test_an_unreachable_cluster_is_a_clear_error(capsys):
    assert main(["sweep", "--grid", "quoting.size_lots=1,2", "--ticks", "300", "--cluster", "tcp://127.0.0.1:9",
                 "--quiet"]) == 2
    assert "cannot reach a Dask scheduler" in capsys.readouterr().err


def test_a_run_lost_on_the_cluster_keeps_the_finished_ones(cluster, monkeypatch):
    """A run whose worker fails (here: it raises) stops the sweep like Ctrl-C: the finished runs are kept."""
    import backtest.sweep as sweep
    from backtest.sweep import SweepInterrupted

    spec = SweepSpec(grid={"quoting.size_lots": [1, 2, 3]}, seeds=(1,), base=backtest.make_config(**{"sim.ticks": 300}))
    monkeypatch.setattr(sweep, "_worker", _fails_on_size_three)
    with pytest.raises(SweepInterrupted) as stop:
        run_sweep(spec, cluster=cluster)
    assert 0 <= len(stop.value.runs) <= 2 and stop.value.total == 3


def _fails_on_size_three(item):
    from backtest.sweep import run_metrics
    from backtest.config import SimConfig

    index, _seed, cfg = item
    if cfg["quoting"]["size_lots"] == 3:
        raise RuntimeError("worker lost")
    return index, run_metrics(SimConfig.model_validate(cfg)), 0.0
