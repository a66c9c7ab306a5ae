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
from backtest.research.optimize import OptimizeSpec, optimize
from backtest.research.sweep import SweepSpec, run_sweep

pytest.importorskip("distributed")
DASK = str(Path(sys.executable).with_name("dask"))


def start_cluster(tmp, workers: int) -> tuple[str, list[subprocess.Popen]]:
    """A scheduler and ``workers`` one-thread workers as separate processes on loopback; (address, processes)."""
    tmp.mkdir(parents=True, exist_ok=True)
    info = tmp / "scheduler.json"
    env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", str(info)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env=env)]
    deadline = time.time() + 60
    while not info.exists() and time.time() < deadline:
        time.sleep(0.2)
    assert info.exists(), "the scheduler did not start"
    for _ in range(workers):
        procs.append(subprocess.Popen([DASK, "worker", "--scheduler-file", str(info), "--nworkers", "1", "--nthreads",
                                       "1", "--no-dashboard", "--host", "127.0.0.1"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, env=env))
    address = json.loads(info.read_text())["address"]
    from distributed import Client

    with Client(address, timeout=60) as client:
        client.wait_for_workers(workers, timeout=120)
    return address, procs


def stop_cluster(procs) -> None:
    for p in procs[::-1]:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    address, procs = start_cluster(tmp_path_factory.mktemp("dask"), workers=2)
    yield address
    stop_cluster(procs)


def test_a_sweep_on_the_cluster_equals_the_local_one(cluster):
    spec = SweepSpec(grid={"quoting.half_spread_ticks": [1, 2, 3]}, seeds=(1, 2),
                     base=backtest.make_config(**{"sim.ticks": 1500}))
    local = run_sweep(spec, workers=1)
    remote = run_sweep(spec, cluster=cluster)
    pd.testing.assert_frame_equal(remote.runs, local.runs)
    pd.testing.assert_frame_equal(remote.table, local.table)


def test_a_sweep_over_recordings_on_the_cluster_equals_the_local_one(cluster):
    """A joint axis of recordings: the workers load them through the import cache (MMHEDGE_CACHE_DIR, which a
    cluster on several machines points at a shared file system) and compute what a local sweep does."""
    btc, eth = "data/binance-btcusdt-2024-08-08", "data/binance-ethusdt-2024-08-08"
    spec = SweepSpec(grid={"replay.exchange1+replay.exchange2+market.volatility_per_sqrt_s": [
        f"{btc}/spot.jsonl.gz+{btc}/usdm.jsonl.gz+8.0", f"{eth}/spot.jsonl.gz+{eth}/usdm.jsonl.gz+0.3"]},
        seeds=(1,), base=backtest.preset("replay_binance_btcusdt_20240808").with_dotted({"sim.ticks": 10_000}))
    local = run_sweep(spec, workers=1)
    remote = run_sweep(spec, cluster=cluster)
    pd.testing.assert_frame_equal(remote.runs, local.runs)


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
    import backtest.research.sweep as sweep
    from backtest.research.sweep import SweepInterrupted

    spec = SweepSpec(grid={"quoting.size_lots": [1, 2, 3]}, seeds=(1,), base=backtest.make_config(**{"sim.ticks": 300}))
    monkeypatch.setattr(sweep, "_worker", _fails_on_size_three)
    with pytest.raises(SweepInterrupted) as stop:
        run_sweep(spec, cluster=cluster)
    assert 0 <= len(stop.value.runs) <= 2 and stop.value.total == 3


def _fails_on_size_three(item):
    from backtest.research.sweep import run_metrics
    from backtest.config import SimConfig

    index, _seed, cfg = item
    if cfg["quoting"]["size_lots"] == 3:
        raise RuntimeError("worker lost")
    return index, run_metrics(SimConfig.model_validate(cfg)), 0.0


@pytest.mark.parametrize("lose", ["worker", "scheduler"])
def test_a_sweep_stops_with_a_clear_error_when_the_cluster_is_lost_and_keeps_its_runs(tmp_path, lose):
    """All workers lost: the sweep used to wait for ever; a dead scheduler gave exit 130 and tracebacks. Now
    either is one line, exit 1, within --cluster-timeout, with the finished runs in the journal."""
    address, procs = start_cluster(tmp_path / "dask", workers=1)
    out = tmp_path / "out"
    try:
        sweep = subprocess.Popen(
            [sys.executable, "-m", "backtest", "sweep", "--grid", "quoting.half_spread_bps=1,2,3,4,5,6,7,8,9,10",
             "--seeds", "1,2,3,4", "--ticks", "300000", "--cluster", address, "--cluster-timeout", "3", "--quiet",
             "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=Path(__file__).resolve().parent.parent)
        journal = out / "runs.jsonl"
        deadline = time.time() + 120
        while time.time() < deadline and (not journal.exists() or journal.read_text().count("\n") < 2):
            time.sleep(0.1)  # the identity line and a first finished run
        (procs[1] if lose == "worker" else procs[0]).kill()
        lost_at = time.time()
        _, err = sweep.communicate(timeout=120)
    finally:
        stop_cluster(procs)
    assert sweep.returncode == 1, err
    assert time.time() - lost_at < 30
    assert "Traceback" not in err and "error: " in err and "--resume" in err, err
    assert ("has no worker" if lose == "worker" else "lost the scheduler") in err, err
    finished = [line for line in journal.read_text().splitlines()[1:] if line.strip()]
    assert 1 <= len(finished) < 40


def test_a_port_that_is_not_a_dask_scheduler_is_a_clear_error_not_a_hang(monkeypatch):
    import socket
    import threading

    import backtest.research.sweep as sweep
    from backtest.config import ConfigError

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)  # accepts connections, never says a word
    accepted = []
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    monkeypatch.setattr(sweep, "CLUSTER_CONNECT_TIMEOUT_S", 1.0)
    spec = SweepSpec(grid={"quoting.size_lots": [1, 2]}, seeds=(1,), base=backtest.make_config(**{"sim.ticks": 300}))
    started = time.time()
    with pytest.raises(ConfigError) as refused:
        run_sweep(spec, cluster=f"tcp://127.0.0.1:{silent.getsockname()[1]}")
    assert time.time() - started < 15
    assert "cannot reach a Dask scheduler" in str(refused.value) and refused.value.heading == "cannot use the cluster"
    silent.close()
