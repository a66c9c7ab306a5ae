"""The command line against careless input: one-line errors with exit 2 (never a traceback), outputs checked
before the run, strict JSON that reproduces the run, grids without silent duplicates, Ctrl-C that keeps
finished sweep runs, output piped to `head`."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from backtest.cli import main
from backtest.config import make_config
from backtest.research.sweep import Journal, SweepInterrupted, SweepSpec, run_sweep

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "backtest", *args], capture_output=True, text=True, timeout=300,
                          cwd=kw.get("cwd", ROOT))


def assert_clean_error(proc, *needles):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "error:" in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def test_bad_config_files(tmp_path, capsys):
    binary = tmp_path / "bad.toml"
    binary.write_bytes(b"\xff\xfe[sim]\x00")
    for path, needle in ((tmp_path, "not a file"), (binary, "UTF-8")):
        assert main(["run", "--config", str(path)]) == 2
        err = capsys.readouterr().err
        assert needle in err and "Traceback" not in err


@pytest.mark.parametrize("args,needle", [
    (["run", "--set", "market.initial_price=0.1"], "initial_price"),
    (["run", "--set", "market.initial_price=1e300"], "32-bit"),
    (["run", "--set", "market.initial_price=Infinity"], "finite"),
    (["run", "--set", "market.tick_size=1e-9"], "32-bit"),
    (["run", "--set", "sim.dt_s=1e-300"], "dt_s"),
    (["sweep", "--grid", "sim.seed=1,2"], "--seeds"),
    (["sweep", "--grid", "quoting.size_lots=1,1"], "repeated"),
    (["sweep", "--grid", "quoting.size_lots=1,2", "--grid", "quoting.size_lots=3"], "twice"),
    (["run", "--set", "sim.ticks=2000", "--set", "market.tick_size=0.00001", "--memory-budget-gb", "0.01"],
     "memory budget"),
    (["run", "--memory-budget-gb", "inf"], "finite number of GiB"),
    (["run", "--memory-budget-gb", "nan"], "finite number of GiB"),
])
def test_one_line_errors(args, needle, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and needle in err, err


def test_memory_budget_refuses_before_allocating():
    """market.tick_size 1e-7 would need books of several GiB: refused at once, with the estimate."""
    started = time.perf_counter()
    proc = run_cli("run", "--set", "market.tick_size=1e-7", "--ticks", "20000")
    assert_clean_error(proc, "GiB", "memory budget")
    assert time.perf_counter() - started < 60


def test_a_path_that_reaches_zero_is_a_clean_error():
    proc = run_cli("run", "--set", "market.initial_price=1.5", "--set", "market.volatility_per_sqrt_s=1.0",
                   "--ticks", "2000")
    assert_clean_error(proc, "zero", "seed 7")
    assert "warning:" in proc.stderr  # said before the run, too


@pytest.mark.parametrize("flag", ["--report", "--out"])
def test_outputs_are_checked_before_the_run(tmp_path, flag, capsys):
    existing = tmp_path / "a_file"
    existing.write_text("x")
    cmd = ["run", "--ticks", "200", "--report", str(existing)] if flag == "--report" else \
        ["sweep", "--grid", "quoting.size_lots=1,2", "--ticks", "200", "--out", str(existing)]
    assert main(cmd) == 2
    err = capsys.readouterr()
    assert "not a directory" in err.err and err.out == ""  # nothing ran, nothing printed


def test_unwritable_output(tmp_path, capsys):
    if os.geteuid() == 0:  # root writes anywhere: use a path under a file instead
        target = tmp_path / "f"
        target.write_text("x")
        target = target / "sub"
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        target = locked / "sub"
    assert main(["run", "--ticks", "200", "--report", str(target)]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_json_is_strict_and_reproduces_the_run(tmp_path):
    proc = run_cli("run", "--ticks", "300", "--seed", "5", "--set", "hedging.enabled=false", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout, parse_constant=lambda c: pytest.fail(f"bare {c} in JSON"))
    assert doc["seed"] == 5 and doc["hedge_latency_p50_ms"] is None
    # the config in the output, given back as --config (YAML, of which JSON is a subset), is the same run
    cfg_file = tmp_path / "run.yaml"
    cfg_file.write_text(json.dumps(doc["config"]))
    again = run_cli("run", "--config", str(cfg_file), "--json")
    assert json.loads(again.stdout)["net_pnl"] == doc["net_pnl"]


def test_output_piped_to_head_ends_quietly():
    proc = subprocess.run(f"{sys.executable} -m backtest run --ticks 300 --json | head -n 2", shell=True,
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.stdout.count("\n") == 2
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


def test_an_interrupted_sweep_keeps_its_runs_and_resume_completes_it(monkeypatch):
    base = make_config(**{"sim.ticks": 300})
    spec = SweepSpec(grid={"quoting.size_lots": [1, 2, 3]}, seeds=(1, 2), base=base)
    full = run_sweep(spec, workers=1)

    import backtest.research.sweep as sweep

    real = sweep._worker
    calls = []

    def interrupt_on_the_fourth(item):
        calls.append(item[0])
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(item)

    monkeypatch.setattr(sweep, "_worker", interrupt_on_the_fourth)
    with pytest.raises(SweepInterrupted) as stop:
        run_sweep(spec, workers=1)
    assert len(stop.value.runs) == 3 and stop.value.total == 6
    monkeypatch.setattr(sweep, "_worker", real)
    ran = []
    resumed = run_sweep(spec, workers=1, done=stop.value.runs,
                        progress=lambda done, n, point, seed, m, s: ran.append((point["quoting.size_lots"], seed)))
    assert len(ran) == 3  # only the missing runs
    pd.testing.assert_frame_equal(resumed.runs, full.runs)
    pd.testing.assert_frame_equal(resumed.table, full.table)


def test_ctrl_c_during_a_cli_sweep_writes_the_finished_runs_and_says_how_to_resume(tmp_path):
    import re

    for attempt in range(3):
        out = tmp_path / f"sweep{attempt}"
        cmd = [sys.executable, "-m", "backtest", "sweep", "--grid", "quoting.size_lots=1,2,3,4,5,6,7,8",
               "--seeds", "1,2,3", "--ticks", "30000", "--workers", "1", "--out", str(out)]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        seen = b""
        while not re.search(rb"\b([2-9]|1\d)/24\b", seen):  # the progress bar shows two finished runs: Ctrl-C
            chunk = os.read(proc.stderr.fileno(), 4096)
            assert chunk, seen.decode(errors="replace")
            seen += chunk
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=120)
        err = (seen + err).decode(errors="replace")
        # On a loaded machine this process can be descheduled while the sweep runs to its end, and then find the
        # whole progress bar waiting in the pipe: the signal came too late to test anything, so start again.
        finished_first = proc.returncode == 0 and len(Journal.read(str(out / "runs.jsonl"))[0]) == 24
        if not finished_first:
            break
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "--resume" in err and "it/s" not in err.split("interrupted")[-1]
    kept, cut = Journal.read(str(out / "runs.jsonl"))
    assert 2 <= len(kept) < 24 and cut == 0
    resumed = subprocess.run(cmd[:-2] + ["--ticks", "30000", "--resume", str(out / "runs.jsonl"), "--quiet",
                                         "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert len(pd.read_parquet(out / "runs.parquet")) == 24
    assert len(Journal.read(str(out / "runs.jsonl"))[0]) == 24


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(c) for c in f.read().split()]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and PR_SET_PDEATHSIG are Linux's")
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_a_killed_sweep_keeps_every_finished_run_and_its_workers_die_with_it(tmp_path, how):
    import time

    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "backtest", "sweep", "--grid", "quoting.size_lots=1,2,3,4,5,6,7,8",
           "--seeds", "1,2,3", "--ticks", "30000", "--workers", "2", "--quiet", "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    journal = out / "runs.jsonl"
    deadline = time.time() + 300
    while not (journal.is_file() and journal.read_text().count("\n") >= 4):  # the sweep's line and 3 runs
        assert proc.poll() is None and time.time() < deadline, proc.stderr.read().decode(errors="replace")
        time.sleep(0.05)
    workers = _children(proc.pid)
    assert len(workers) == 2
    proc.send_signal(getattr(signal, how))
    proc.communicate(timeout=120)
    assert proc.returncode == (130 if how == "SIGTERM" else -signal.SIGKILL)
    for _ in range(200):  # the workers get SIGTERM from the kernel when their parent dies
        if not any(_alive(w) for w in workers):
            break
        time.sleep(0.05)
    assert not any(_alive(w) for w in workers)
    kept, cut = Journal.read(str(journal))
    assert 3 <= len(kept) < 24 and cut <= 1
    resumed = subprocess.run(cmd + ["--resume", str(journal)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 24 and sorted(zip(runs.point, runs.seed)) == [(p, s) for p in range(8) for s in (1, 2, 3)]


def test_resume_refuses_a_table_cut_mid_row_and_takes_a_journal_cut_mid_line(tmp_path, capsys):
    out = tmp_path / "s"
    args = ["sweep", "--grid", "quoting.size_lots=1,2", "--seeds", "1,2", "--ticks", "500", "--workers", "1",
            "--quiet", "--out", str(out)]
    assert main(args) == 0
    pd.read_parquet(out / "runs.parquet").to_csv(tmp_path / "runs.csv", index=False)
    text = (tmp_path / "runs.csv").read_text()
    (tmp_path / "cut.csv").write_text(text[: text.rindex("\n", 0, len(text) - 1) + 1] + "1,2,")  # a row cut short
    assert main(args[:-2] + ["--resume", str(tmp_path / "cut.csv"), "--out", str(tmp_path / "o2")]) == 2
    assert "cut mid-row" in capsys.readouterr().err
    lines = (out / "runs.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "cut.jsonl").write_text("".join(lines[:3]) + lines[3][:25])
    assert main(args[:-2] + ["--resume", str(tmp_path / "cut.jsonl"), "--out", str(tmp_path / "o3")]) == 0
    assert "the last line of" in capsys.readouterr().err
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "o3" / "runs.parquet"), pd.read_parquet(out / "runs.parquet"))


def test_run_help_states_the_memory_budget_default(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "three quarters of physical memory" in out and "or 8)" not in out


def test_errors_are_headed_by_what_failed(tmp_path, capsys):
    assert main(["show", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: cannot read the saved experiment:")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not a capture\n")
    assert main(["data", "import", str(bad), "--venue", "spot", "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.startswith("error: cannot import the capture:")
    assert main(["run", "--ticks", "5"]) == 2
    assert capsys.readouterr().err.startswith("error: invalid config:")


def test_ctrl_c_in_run_is_a_line_not_a_traceback(tmp_path):
    # 2 * 10^7 ticks take about 10 s here: interrupted while the flow helper and the kernel both run
    proc = subprocess.Popen([sys.executable, "-m", "backtest", "run", "--ticks", "20000000", "--memory-budget-gb", "64",
                             "--set", "market.initial_price=10000"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err.decode()
    assert "Traceback" not in err.decode() and "interrupted" in err.decode()


def test_resume_refuses_a_journal_of_another_sweep_naming_what_differs(tmp_path, capsys):
    out = tmp_path / "s"
    args = ["sweep", "--grid", "quoting.size_lots=1,2", "--seeds", "1", "--ticks", "400", "--workers", "1", "--quiet"]
    assert main(args + ["--out", str(out)]) == 0
    capsys.readouterr()
    journal = str(out / "runs.jsonl")
    longer = ["sweep", "--grid", "quoting.size_lots=1,2", "--seeds", "1", "--ticks", "500", "--workers", "1", "--quiet"]
    assert main(longer + ["--resume", journal, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "the journal is of another sweep" in err and "sim.ticks: 400 there, 500 here" in err
    assert main(args + ["--set", "quoting.half_spread_ticks=3", "--resume", journal, "--out", str(tmp_path / "o")]) == 2
    assert "quoting.half_spread_ticks" in capsys.readouterr().err
    assert main(args + ["--resume", journal, "--out", str(tmp_path / "o")]) == 0  # the same sweep: nothing to run


def test_run_json_output_reproduces_the_run_through_config(tmp_path, capsys):
    for preset_args in ([], ["--preset", "replay_binance_btcusdt_20240808", "--ticks", "20000"]):
        assert main(["run", "--ticks", "600", *preset_args, "--json"]) == 0
        first = capsys.readouterr().out
        (tmp_path / "run.json").write_text(first)
        assert main(["run", "--config", str(tmp_path / "run.json"), "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == json.loads(first)


def test_a_plain_rerun_never_throws_away_an_interrupted_sweeps_runs(tmp_path, capsys):
    out = tmp_path / "s"
    args = ["sweep", "--grid", "quoting.size_lots=1,2", "--seeds", "1", "--ticks", "300", "--workers", "1", "--quiet",
            "--out", str(out)]
    assert main(args) == 0
    assert main(args) == 0  # a completed sweep's folder is run again
    capsys.readouterr()
    journal = out / "runs.jsonl"
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join(lines[:2]))  # as an interrupted sweep leaves it: its line and one run
    assert main(args) == 2
    assert "holds 1 finished run(s) of an interrupted sweep" in capsys.readouterr().err
    assert journal.read_text() == "".join(lines[:2])
    assert main(args + ["--resume", str(journal)]) == 0


@pytest.mark.parametrize("command", [
    ["run", "--ticks", "2000", "--report", "{out}"],
    ["sweep", "--ticks", "500", "--grid", "quoting.half_spread_bps=1,2", "--seeds", "1", "--workers", "1",
     "--out", "{out}"],
])
@pytest.mark.parametrize("stdout", ["closed pipe", "full disk"])
def test_outputs_on_disk_do_not_depend_on_stdout(tmp_path, command, stdout):
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "backtest", *(a.format(out=out) for a in command)]
    if stdout == "closed pipe":  # the reader went away before the first line (`| true`)
        read_end, write_end = os.pipe()
        os.close(read_end)
        proc = subprocess.run(argv, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=300, cwd=ROOT)
        os.close(write_end)
        assert proc.returncode == 0, proc.stderr
    else:
        with open("/dev/full", "w") as full:
            proc = subprocess.run(argv, stdout=full, stderr=subprocess.PIPE, text=True, timeout=300, cwd=ROOT)
        assert proc.returncode == 1 and "could not write to stdout" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    expected = ("summary.json", "frames/ticks.parquet", "report.html") if command[0] == "run" else ("runs.csv", "table.csv")
    for name in expected:
        assert (out / name).is_file(), (name, sorted(p.name for p in out.iterdir()) if out.exists() else None)
