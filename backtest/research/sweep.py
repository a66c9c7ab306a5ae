"""Parameter sweeps: a grid of config values, several seeds each, run in parallel on all cores.

The result table does not depend on the number of workers or the order in which runs finish: every
run is identified by its grid point and seed, and the table is sorted by them. The same grid, base
config and seeds give the same table, bit for bit.
"""
from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from backtest.config import ConfigError, SimConfig, make_config

METRICS = {
    "net_pnl": "total PnL at the end, currency",
    "sharpe_like": "mean / std of 1-second PnL changes, scaled to one hour of simulated time",
    "max_drawdown": "largest fall of total PnL from its running peak, currency",
    "spread_capture": "edge earned on Exchange 1 fills against the Exchange 1 price, currency",
    "hedge_cost": "slippage + price move during latency + basis on Exchange 2, currency (negative = cost)",
    "fees": "fees paid on both venues, currency",
    "inventory_mtm": "unhedged inventory marked to market, currency",
    "fills": "our Exchange 1 fills",
    "volume_exchange1_lots": "lots traded on Exchange 1",
    "hedge_latency_p50_ms": "median fill-to-hedge latency, ms",
    "max_abs_net_delta_lots": "largest |net delta|, lots",
    "time_paused_s": "simulated seconds paused by the loss throttle or by hand",
    "time_killed_s": "simulated seconds stopped by the kill switch",
}


# A joint grid axis: keys that vary together, one value each per grid point (e.g. the two recordings of one
# day, or a symbol's recordings and its volatility), written ``k1+k2=a1+a2,b1+b2``.
ZIP = "+"


def zip_parts(value) -> list[Any]:
    """The per-key values of a joint axis's value: a list as given, or ``"a1+a2"`` split, each part read as JSON
    where it parses (numbers), else kept as text (paths)."""
    import json

    if isinstance(value, (list, tuple)):
        return list(value)
    parts = []
    for text in str(value).split(ZIP):
        text = text.strip()
        try:
            parts.append(json.loads(text))
        except json.JSONDecodeError:
            parts.append(text)
    return parts


@dataclass(frozen=True)
class SweepSpec:
    """A grid (dotted config key -> values), the seeds run at every grid point, and the base config."""
    grid: dict[str, list[Any]]
    seeds: tuple[int, ...]
    base: SimConfig = field(default_factory=SimConfig)  # or a backtest.portfolio.PortfolioConfig
    name: str = "sweep"

    def __post_init__(self):
        problems = []
        for key, values in self.grid.items():
            if "sim.seed" in key.split(ZIP):
                problems.append("--grid sim.seed: seeds are given with --seeds (e.g. --seeds 1,2,3), not as a grid key")
            seen = [json_key(v) for v in values]
            if len(set(seen)) != len(seen):
                problems.append(f"--grid {key}: repeated values {values}; each value once")
            if ZIP in key:
                keys = key.split(ZIP)
                if len(set(keys)) != len(keys) or not all(keys):
                    problems.append(f"--grid {key}: a joint axis names each key once, e.g. "
                                    "replay.exchange1+replay.exchange2=a1.gz+a2.gz,b1.gz+b2.gz")
                for v in values:
                    got = len(zip_parts(v))
                    if got != len(keys):
                        problems.append(f"--grid {key}: value {v!r} has {got} part(s), the axis {len(keys)} keys; "
                                        f"join one value per key with '+': {ZIP.join(k.split('.')[-1] for k in keys)}")
        if problems:
            raise ConfigError(problems)

    def points(self) -> list[dict[str, Any]]:
        keys = list(self.grid)
        return [dict(zip(keys, combo)) for combo in itertools.product(*(self.grid[k] for k in keys))]

    @staticmethod
    def overrides(point: dict[str, Any]) -> dict[str, Any]:
        """A grid point as config overrides: a joint axis (``k1+k2``, values ``v1+v2``) sets each of its keys."""
        out = {}
        for key, value in point.items():
            if ZIP in key:
                out.update(zip(key.split(ZIP), zip_parts(value)))
            else:
                out[key] = value
        return out

    def configs(self) -> list[tuple[int, dict[str, Any], int, SimConfig]]:
        """(point index, grid values, seed, validated config) for every run; raises ConfigError naming
        the grid point of the first invalid combination."""
        if not self.grid:
            raise ConfigError(["the grid is empty; give at least one key=v1,v2 (e.g. latency.hedge_median_ms=10,100)"])
        if not self.seeds:
            raise ConfigError(["no seeds given; e.g. --seeds 1,2,3"])
        out = []
        portfolio = is_portfolio_config(self.base)
        base = None if portfolio else self.base.model_dump()
        for i, point in enumerate(self.points()):
            for seed in self.seeds:
                try:
                    if portfolio:  # keys as the portfolio takes them: assets.NAME.SECTION.KEY reaches one asset
                        cfg = self.base.with_dotted({**self.overrides(point), "sim.seed": seed})
                    else:
                        cfg = make_config(base, **self.overrides(point), **{"sim.seed": seed})
                except ConfigError as err:
                    raise ConfigError([f"grid point {point}: {p}" for p in err.problems]) from None
                out.append((i, point, seed, cfg))
        return out


def run_metrics(config: SimConfig) -> dict[str, float]:
    """Run one simulation and reduce it to numbers: the sweep metrics (``METRICS``) first, then every other
    numeric summary figure (``Results.summary_dict``), as floats (NaN where a figure has no value)."""
    from backtest.engine import run

    results = run(config)
    s = results.summary_dict
    out = {k: s[k] for k in METRICS if k in s}
    out["sharpe_like"] = sharpe_like(results.column("total_pnl"), config.sim.dt_s)
    ordered = {k: float(out[k]) for k in METRICS}
    for k, v in s.items():
        if k not in ordered and isinstance(v, (int, float, bool)):
            ordered[k] = float(v)
    return ordered


def is_portfolio_config(config) -> bool:
    """A portfolio (``backtest.portfolio.PortfolioConfig``) rather than one asset's SimConfig."""
    return hasattr(config, "assets") and hasattr(config, "base")


def config_data(config) -> dict[str, Any]:
    """A config as plain data that travels to a worker and back: a SimConfig's dump, a portfolio's ``to_dict``."""
    return config.to_dict() if is_portfolio_config(config) else config.model_dump(mode="json")


def portfolio_metrics(pcfg) -> dict[str, float]:
    """A portfolio run reduced to the sweep metrics, for the portfolio as a whole (money summed over assets; the
    Sharpe-like ratio and the drawdown of the total on the risk checks; fills, volume and time paused or killed
    summed; latency and net delta the largest asset's), then each asset's own as ``NAME.metric``."""
    from backtest.portfolio import run_portfolio

    r = run_portfolio(pcfg)
    s = r.summary_dict
    per = s["assets"]
    total = s["portfolio"]
    pnl = r.rows_raw["total_pnl"]
    out = {k: float(total[k]) for k in ("net_pnl", "spread_capture", "hedge_cost", "fees", "inventory_mtm", "fills")}
    out["sharpe_like"] = sharpe_like(pnl, pcfg.check_ticks * pcfg.sim.dt_s) if len(pnl) else float("nan")
    out["max_drawdown"] = float(total["max_drawdown_at_checks"])
    for key in ("volume_exchange1_lots", "time_paused_s", "time_killed_s"):
        out[key] = float(sum(a[key] for a in per.values()))
    for key in ("hedge_latency_p50_ms", "max_abs_net_delta_lots"):
        out[key] = float(np.nanmax([a[key] for a in per.values()]))
    ordered = {k: out[k] for k in METRICS}
    # what optimisation constraints may name besides the metrics: the worst asset's, failures summed
    ordered["largest_naked_lots"] = float(max(a["largest_naked_lots"] for a in per.values()))
    ordered["time_above_exposure_threshold_s"] = float(max(a["time_above_exposure_threshold_s"] for a in per.values()))
    ordered["hedge_failures"] = float(sum(a["hedge_failures"] for a in per.values()))
    for k, v in total.items():
        if k not in ordered and isinstance(v, (int, float, bool)):
            ordered[f"portfolio.{k}"] = float(v)
    for name, a in per.items():
        for k in METRICS:
            if k in a:
                ordered[f"{name}.{k}"] = float(a[k])
    return ordered


def json_key(value) -> str:
    import json

    return json.dumps(value, sort_keys=True)


CLUSTER_CONNECT_TIMEOUT_S = 15.0  # a scheduler answers its handshake in milliseconds
CLUSTER_TIMEOUT_S = 60.0  # default patience with a cluster that has no worker or a scheduler that does not answer
_POLL_S = 2.0


class SweepInterrupted(Exception):
    """Ctrl-C (or a lost worker) stopped the sweep; ``runs`` holds the finished runs (same columns as a
    complete sweep's ``runs``), which ``run_sweep(..., done=runs)`` does not run again."""

    def __init__(self, runs: pd.DataFrame, total: int, reason: str | None = None):
        self.runs, self.total = runs, total
        self.reason = reason  # None: Ctrl-C or SIGTERM; else what failed (the cluster lost its workers, ...)
        super().__init__(f"sweep {'stopped' if reason else 'interrupted'} after {len(runs)} of {total} runs"
                         + (f": {reason}" if reason else ""))


def sharpe_like(total_pnl: np.ndarray, dt_s: float) -> float:
    """Mean over standard deviation of PnL changes over 1-second buckets, times sqrt(buckets per hour):
    an hourly, rate-free Sharpe-like ratio of simulated time. NaN when PnL never changes."""
    bucket = max(1, round(1.0 / dt_s))
    marks = np.concatenate([[0.0], total_pnl[bucket - 1::bucket]])
    changes = np.diff(marks)
    sd = changes.std(ddof=1) if changes.size > 1 else 0.0
    if not sd > 0:
        return float("nan")
    return float(changes.mean() / sd * np.sqrt(3600.0 / (bucket * dt_s)))


def die_with_parent() -> None:
    """Make this (worker) process receive SIGTERM when its parent dies, however it dies (``kill -9`` too): a
    sweep's workers must not outlive it (Linux ``prctl(PR_SET_PDEATHSIG)``; elsewhere nothing)."""
    import signal
    import sys

    # a forked worker inherits the sweep's SIGTERM handler (stop like Ctrl-C), which would only interrupt its
    # run and leave it waiting for the next: a worker told to terminate terminates
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return
    parent = os.getppid()
    libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG = 1
    if os.getppid() != parent:  # the parent died before the call: nobody would tell us
        os._exit(1)


def spec_identity(spec: "SweepSpec") -> dict:
    """What makes two sweeps the same sweep: the base config (ticks and --set included) and the grid keys."""
    return {"base": config_data(spec.base), "grid_keys": list(spec.grid)}


def identity_differences(stored: dict, spec: "SweepSpec") -> list[str]:
    """Dotted keys whose values differ between a journal's sweep and ``spec`` (empty: the same sweep)."""
    now = spec_identity(spec)
    out = []
    if stored.get("grid_keys") != now["grid_keys"]:
        out.append(f"grid keys {stored.get('grid_keys')} there, {now['grid_keys']} here")
    old, new = stored.get("base", {}), now["base"]
    for section in sorted(set(old) | set(new)):
        a, b = old.get(section, {}), new.get(section, {})
        if not (isinstance(a, dict) and isinstance(b, dict)):  # a portfolio's list of assets
            if a != b:
                out.append(f"{section}: {a!r} there, {b!r} here"[:300])
            continue
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                out.append(f"{section}.{key}: {a.get(key)!r} there, {b.get(key)!r} here")
    return out


class Journal:
    """Finished runs appended one JSON line each as they come (flushed and fsynced), so no finished run is lost
    however the sweep ends (``kill -9`` included). ``read`` drops a last line cut mid-write."""

    def __init__(self, path: str, spec: "SweepSpec | None" = None):
        """``spec``: written as the journal's first line, so a resume can check it continues the same sweep."""
        self.path = path
        self.runs = 0  # runs appended by this process
        self._file = open(path, "a", encoding="utf-8")
        if spec is not None and self._file.tell() == 0:
            self._write({"_sweep": spec_identity(spec)})

    def append(self, row: dict) -> None:
        self._write(row)
        self.runs += 1

    def _write(self, row: dict) -> None:
        import json

        self._file.write(json.dumps({k: _plain(v) for k, v in row.items()}, allow_nan=True) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    @staticmethod
    def header(path: str) -> dict | None:
        """The sweep a journal belongs to (``spec_identity``), or None for a journal without one."""
        import json

        with open(path, encoding="utf-8", errors="replace") as f:
            first = f.readline()
        try:
            rec = json.loads(first)
        except ValueError:
            return None
        return rec.get("_sweep") if isinstance(rec, dict) else None

    @staticmethod
    def read(path: str) -> tuple[pd.DataFrame, int]:
        """(the runs in the journal, lines dropped because they were cut or corrupt: at most the last)."""
        import json

        rows, bad = [], []
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for n, line in enumerate(lines, 1):
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict):
                    raise ValueError
                if "_sweep" not in rec:
                    rows.append(rec)
            except ValueError:
                bad.append(n)
        if bad and bad != [len(lines)]:
            raise ConfigError([f"{path}: line(s) {', '.join(map(str, bad[:5]))} are not runs of a sweep; only the last "
                               "line can be cut (by a sweep that was killed while writing it)"])
        return pd.DataFrame(rows), len(bad)


def _worker(args: tuple[int, int, dict]) -> tuple[int, dict[str, float], float]:
    index, _seed, cfg_dict = args
    started = time.perf_counter()
    if "assets" in cfg_dict:
        from backtest.portfolio import make_portfolio_config

        metrics = portfolio_metrics(make_portfolio_config(cfg_dict))
    else:
        metrics = run_metrics(SimConfig.model_validate(cfg_dict))
    return index, metrics, time.perf_counter() - started


@dataclass
class SweepResult:
    spec: SweepSpec
    runs: pd.DataFrame
    """One row per (grid point, seed): the grid values, seed and every metric."""

    @property
    def table(self) -> pd.DataFrame:
        """One row per grid point: ``<metric>_mean`` and ``<metric>_std`` (sample std across seeds)."""
        keys = list(self.spec.grid)
        grouped = self.runs.groupby("point", sort=True)
        mean = grouped[list(METRICS)].mean().add_suffix("_mean")
        std = grouped[list(METRICS)].std(ddof=1).add_suffix("_std")
        first = grouped[keys].first()
        n = grouped.size().rename("seeds")
        cols = [c for m in METRICS for c in (f"{m}_mean", f"{m}_std")]
        return pd.concat([first, n, mean, std], axis=1)[keys + ["seeds"] + cols].reset_index(drop=True)


def run_sweep(spec: SweepSpec, workers: int | None = None,
              progress: Callable[[int, int, dict, int, dict, float], None] | None = None,
              done: pd.DataFrame | None = None, cluster: str | None = None,
              journal: Journal | None = None, cluster_timeout_s: float = CLUSTER_TIMEOUT_S) -> SweepResult:
    """Run every (grid point, seed). ``workers`` processes (default: all cores; 1 = in this process).
    ``progress(done, total, point, seed, metrics, seconds)`` is called as each run finishes. ``done``: runs
    already finished by an interrupted sweep of the same spec (its ``SweepInterrupted.runs``, or the
    ``runs.csv`` it left), which are kept as they are and not run again: the result equals an uninterrupted
    sweep's. On Ctrl-C or a lost worker, raises ``SweepInterrupted`` with the runs finished so far.

    ``cluster``: the address of a Dask distributed scheduler (``tcp://host:8786``): the runs go to its workers
    instead of local processes. A run is a pure function of its config, and what travels is the config as a
    dict and the name of ``_worker`` (which the workers import from this package), so the table is the local
    one, bit for bit.

    ``journal``: every run is appended to it as it finishes (the runs of ``done`` too, so the journal alone
    resumes the sweep)."""
    jobs = spec.configs()
    total = len(jobs)
    rows: dict[int, dict] = {}
    if done is not None and len(done):
        rows.update(_match_done(spec, jobs, done))
        if journal is not None:
            for j in sorted(rows):
                journal.append(rows[j])

    def record(job_index: int, metrics: dict, seconds: float) -> None:
        point_index, point, seed, _cfg = jobs[job_index]
        rows[job_index] = {"point": point_index, **point, "seed": seed, **metrics}
        if journal is not None:
            journal.append(rows[job_index])
        if progress:
            progress(len(rows), total, point, seed, metrics, seconds)

    payload = [(j, seed, config_data(cfg)) for j, (_i, _p, seed, cfg) in enumerate(jobs) if j not in rows]
    workers = max(1, min(workers or os.cpu_count() or 1, max(1, len(payload))))
    try:
        if cluster:
            for item in run_on_cluster(cluster, _worker, payload, cluster_timeout_s):
                record(*item)
        elif workers == 1:
            for item in payload:
                record(*_worker(item))
        else:
            from concurrent.futures.process import BrokenProcessPool

            # fork: workers inherit the imported, JIT-loaded modules instead of importing them again
            ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=die_with_parent)
            stopped = False
            try:
                futures = [pool.submit(_worker, item) for item in payload]
                for fut in as_completed(futures):
                    record(*fut.result())
            except BrokenProcessPool:
                stopped = True
                raise KeyboardInterrupt from None  # a worker died (Ctrl-C reaches them too, or the OOM killer)
            except BaseException:
                stopped = True
                raise
            finally:
                if stopped:  # interrupted (Ctrl-C, SIGTERM): the runs in progress are abandoned, not awaited
                    for proc in list(getattr(pool, "_processes", {}).values()):
                        proc.terminate()
                pool.shutdown(wait=True, cancel_futures=True)
    except (KeyboardInterrupt, ClusterLost) as stop:
        finished = pd.DataFrame([rows[j] for j in sorted(rows)])
        raise SweepInterrupted(finished, total, str(stop) if isinstance(stop, ClusterLost) else None) from None
    runs = pd.DataFrame([rows[j] for j in range(total)])
    return SweepResult(spec=spec, runs=runs)


def run_on_cluster(address: str, fn, payload, timeout_s: float = CLUSTER_TIMEOUT_S):
    """Yield ``fn(item)`` for every item, computed on the Dask cluster at ``address``, as they finish.

    Never waits silently: ConfigError if no Dask scheduler answers at ``address`` within
    ``CLUSTER_CONNECT_TIMEOUT_S`` (a port that is something else accepts the connection and says nothing:
    distributed's own connect then waits for ever); ClusterLost, with the runs so far yielded, once the
    scheduler has had no worker, or has not answered, for ``timeout_s`` seconds (workers that come back in time
    pick the runs up)."""
    import logging
    import threading

    try:
        import distributed
        from distributed import Client
    except ImportError:
        raise ConfigError(["--cluster needs Dask distributed: pip install 'distributed>=2024.1'"],
                          heading="cannot use the cluster") from None
    box: dict = {}

    def connect():
        try:
            box["client"] = Client(address, timeout=CLUSTER_CONNECT_TIMEOUT_S)
        except BaseException as err:  # noqa: BLE001  reported below
            box["error"] = err

    connecting = threading.Thread(target=connect, daemon=True, name="dask-connect")
    connecting.start()
    connecting.join(CLUSTER_CONNECT_TIMEOUT_S + 5)
    if "client" not in box:
        why = f"{type(box['error']).__name__}: {box['error']}" if "error" in box else \
            f"no Dask handshake within {CLUSTER_CONNECT_TIMEOUT_S + 5:.0f} s (is it a Dask scheduler's port?)"
        raise ConfigError([f"--cluster {address}: cannot reach a Dask scheduler there ({str(why)[:300]})"],
                          heading="cannot use the cluster")
    client = box["client"]
    # a lost worker or scheduler is reported here, once, as a clear error: not as distributed's tracebacks
    # (after a loss they go on while the client shuts down, so the level is restored only on success)
    logs = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
            if name == "distributed" or name.startswith("distributed.")]  # dask sets levels on some children
    levels = [log.level for log in logs]
    for log in logs:
        log.setLevel(logging.CRITICAL)
    lost = True
    try:
        pending = {client.submit(fn, item, pure=False) for item in payload}
        unhealthy_since, why = None, ""
        while pending:
            try:
                done, pending = distributed.wait(pending, timeout=_POLL_S, return_when="FIRST_COMPLETED")
            except (TimeoutError, distributed.TimeoutError):
                done = set()
            except Exception as err:  # noqa: BLE001  the scheduler went away: its futures are cancelled
                raise ClusterLost(f"lost the scheduler at {address} ({type(err).__name__})") from None
            for fut in done:
                try:
                    result = fut.result()
                except Exception as err:  # noqa: BLE001  a worker died on this run too often (KilledWorker, ...)
                    raise ClusterLost(f"{type(err).__name__}: {str(err)[:300]}") from None
                yield result
            if done:
                unhealthy_since = None
                continue
            workers = _cluster_workers(client)
            if workers:
                unhealthy_since = None
                continue
            why = (f"the scheduler at {address} does not answer" if workers is None else
                   f"the scheduler at {address} has no worker")
            now = time.monotonic()
            unhealthy_since = unhealthy_since or now
            if now - unhealthy_since >= timeout_s:
                raise ClusterLost(f"{why} (for {timeout_s:g} s; --cluster-timeout sets the patience)")
        lost = False
    finally:
        closing = threading.Thread(target=client.close, daemon=True, name="dask-close")
        closing.start()
        closing.join(5)  # a dead scheduler must not hold the exit
        if not lost:
            for log, level in zip(logs, levels):
                log.setLevel(level)


def _cluster_workers(client) -> int | None:
    """Workers the scheduler has now, or None if it does not answer within a poll."""
    try:
        info = client.sync(client.scheduler.identity, n_workers=-1, callback_timeout=_POLL_S)
        return len(info.get("workers", {}))
    except Exception:  # noqa: BLE001  closed comm, timeout: the scheduler is not answering
        return None


class ClusterLost(Exception):
    """A run could not be completed on the cluster (a worker or machine was lost)."""


def _match_done(spec: SweepSpec, jobs, done: pd.DataFrame) -> dict[int, dict]:
    """Rows of ``done`` keyed by job index, checked against the spec: same grid keys, same values at each
    grid point, seeds among the spec's."""
    keys = list(spec.grid)
    missing = [c for c in ["point", "seed", *keys, *METRICS] if c not in done.columns]
    if missing:
        raise ConfigError([f"--resume: the finished runs have no column(s) {', '.join(missing)}: not a runs table "
                           "of this sweep"])
    cut = done[["point", "seed", "net_pnl"]].isna().any(axis=1)
    if cut.any():
        raise ConfigError([f"--resume: {int(cut.sum())} row(s) without a grid point, seed or net_pnl (row "
                           f"{int(cut.to_numpy().argmax()) + 1}): a table cut mid-row; resume from the sweep's "
                           "runs.jsonl, whose cut last line is dropped"])
    index = {(i, seed): j for j, (i, _p, seed, _c) in enumerate(jobs)}
    out = {}
    for rec in done.to_dict(orient="records"):
        j = index.get((int(rec["point"]), int(rec["seed"])))
        if j is None:
            raise ConfigError([f"--resume: a finished run (grid point {int(rec['point'])}, seed {int(rec['seed'])}) "
                               "is not part of this sweep; give the same --grid/--seeds/--set as the interrupted one"])
        point = jobs[j][1]
        if any(json_key(_plain(rec[k])) != json_key(_plain(point[k])) for k in keys):
            raise ConfigError([f"--resume: finished run {j} has grid values {[rec[k] for k in keys]}, this sweep "
                               f"{list(point.values())} there; give the same grid as the interrupted sweep"])
        metrics = [c for c in done.columns if c not in ("point", "seed", *keys)]
        out[j] = {"point": jobs[j][0], **point, "seed": jobs[j][2], **{m: float(rec[m]) for m in metrics}}
    return out


def _plain(value):
    """A value read back from CSV as the grid's JSON would give it (numpy scalars to Python)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def parse_grid_item(item: str) -> tuple[str, list[Any]]:
    """``"latency.hedge_median_ms=10,50,100"`` -> (key, [10, 50, 100]); values parsed as JSON where possible."""
    import json

    if "=" not in item:
        raise ConfigError([f"--grid {item!r}: expected key=v1,v2,... e.g. --grid latency.hedge_median_ms=10,50,100"])
    key, values = item.split("=", 1)
    parsed = []
    for text in values.split(","):
        text = text.strip()
        if not text:
            raise ConfigError([f"--grid {item!r}: empty value; give comma-separated values"])
        try:
            parsed.append(json.loads(text))
        except json.JSONDecodeError:
            parsed.append(text)
    return key.strip(), parsed
