"""A portfolio: several assets quoted and hedged at once, on one clock, in one account currency, under one risk
manager (``kernels.portfolio``).

A portfolio config is a single-asset config (its sections are every asset's defaults) plus a ``[portfolio]``
section (the portfolio's limits) and an ``[[assets]]`` list, each asset a name and the sections it overrides::

    [sim]
    ticks = 20000
    [portfolio]
    correlation = [[1.0, 0.8], [0.8, 1.0]]
    max_exposure = 500.0
    [[assets]]
    name = "BTC"
    market = { initial_price = 60000.0, tick_size = 0.1, volatility_per_sqrt_s = 40.0 }
    [[assets]]
    name = "ETH"
    market = { initial_price = 2500.0, tick_size = 0.01, volatility_per_sqrt_s = 2.2 }

The clock (``sim``: ticks, dt_s, record_every_ms) is the portfolio's; asset ``i`` draws its market from seed
``sim.seed + i``. On the synthetic market the assets' fair values move together: asset ``i``'s shock at a tick is
``sum_j L[i, j] e_j`` with ``L`` the Cholesky factor of ``portfolio.correlation`` and ``e_j`` asset ``j``'s own
draw, so the first asset's path is the one it has alone (a one-asset portfolio without portfolio limits is the
single-asset run, bit for bit: tested). Every asset's money is in the same account currency (its quote
currency): the portfolio adds them as they are.

A portfolio of recordings (every asset ``market.source = 'replay'``) lays every asset's recordings on one grid
from the moment the last of them is under way (``replay_on_one_clock``). Sweeps take a portfolio as their base
(``backtest.research.sweep``), as do optimisations (``backtest.research.optimize``: held-out seeds on a synthetic
portfolio, the held-out end of the recordings on a portfolio of recordings); the REST API serves one under
``/portfolio`` with a dashboard (``api.portfolio``). Recordings may be read in chunks (``replay.chunk_s``), with the
same result.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError

from backtest.config import (
    ConfigError, SimConfig, _Section, _deep_merge, describe_validation_error, dotted_to_nested,
    make_config,
)
from backtest.engine import Simulation, enlarged, rows_at_pace
from backtest.markets.generate import generate
from backtest.markets.inputs import random_stream
from backtest.interventions import Intervention
from backtest.resources import budget_bytes, estimate_memory
from backtest.results import Results
from kernels import portfolio as K
from kernels.records import (
    PORTFOLIO_ACTION_NAMES, PORTFOLIO_LIMIT_NAMES, STATE_NAMES, portfolio_risk_dt, portfolio_row_dt,
)
from kernels.strategy import C_OVERFLOW, N_ACC

ASSET_SECTIONS = ("market", "exchange1", "exchange2", "clients", "latency", "quoting", "hedging", "risk", "fees",
                  "replay")
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,31}$"
MAX_ASSETS = 64


class PortfolioSection(_Section):
    """The portfolio's risk manager. Money in the account currency; a limit of 0 is off."""

    check_interval_s: float = Field(
        1.0, gt=0.0, le=3600.0,
        description="seconds between the portfolio's risk checks (a whole number of sim.dt_s; each asset's own "
        "limits are checked every tick)")
    covariance_sample_s: float = Field(
        1.0, gt=0.0, le=3600.0,
        description="seconds between the returns the covariance is estimated from (a whole number of check "
        "intervals; sampling much faster than a second sees the assets' moves out of step, the Epps effect)")
    covariance_halflife_s: float = Field(
        300.0, gt=0.0, le=86400.0, description="half-life of the EWMA covariance of the assets' returns, seconds")
    correlation: list[list[float]] | None = Field(
        None, description="correlation of the assets' fair-value shocks (synthetic market), one row per asset in "
        "the order of [[assets]]; also the covariance's starting point. Default: uncorrelated")
    regimes: Literal["own", "shared"] = Field(
        "own", description="synthetic market: 'own' = each asset's volatility regimes switch on their own draws; "
        "'shared' = every asset's switches are drawn from the first asset's (a market-wide regime: with the same "
        "market.regime_switch_per_s they switch together)")
    max_gross_notional: float = Field(
        0.0, ge=0.0, description="limit on the sum of every leg's |position| x mark, currency (0 = off): above "
        "it every asset quotes only the side that lowers its Exchange 1 position")
    max_net_notional: float = Field(
        0.0, ge=0.0, description="limit on |sum of the assets' net deltas x mark|, currency (0 = off): above it "
        "every asset holds the side that adds to it")
    max_exposure: float = Field(
        0.0, ge=0.0, description="limit on the one-minute standard deviation of the net deltas' value through the "
        "covariance, currency (0 = off): above it the assets adding to it hold the side that grows their delta")
    max_loss_window: float = Field(
        0.0, ge=0.0, description="limit on the portfolio's loss over the rolling window (drawdown from the "
        "window's peak), currency (0 = off): above it every asset pauses")
    loss_window_s: float = Field(60.0, gt=0.0, le=86400.0, description="the rolling loss window, seconds")
    cooldown_s: float = Field(10.0, ge=0.0, le=86400.0,
                              description="seconds a loss pause lasts before the loss is checked again")
    kill_drawdown: float = Field(
        0.0, ge=0.0, description="drawdown from the portfolio's running peak that kills every asset, currency "
        "(0 = off)")


class AssetSection(_Section):
    """One asset: its name and the settings it overrides (any section but ``sim``, which is the portfolio's)."""

    name: str = Field(pattern=NAME_PATTERN, description="letters, digits and _, starting with a letter")
    market: dict[str, Any] = Field(default_factory=dict)
    exchange1: dict[str, Any] = Field(default_factory=dict)
    exchange2: dict[str, Any] = Field(default_factory=dict)
    clients: dict[str, Any] = Field(default_factory=dict)
    latency: dict[str, Any] = Field(default_factory=dict)
    quoting: dict[str, Any] = Field(default_factory=dict)
    hedging: dict[str, Any] = Field(default_factory=dict)
    risk: dict[str, Any] = Field(default_factory=dict)
    fees: dict[str, Any] = Field(default_factory=dict)
    replay: dict[str, Any] = Field(default_factory=dict)

    def overrides(self) -> dict[str, Any]:
        return {s: dict(getattr(self, s)) for s in ASSET_SECTIONS if getattr(self, s)}


@dataclass(frozen=True)
class PortfolioConfig:
    """A validated portfolio: the shared defaults, the portfolio's limits, and each asset's resolved config."""

    base: SimConfig
    portfolio: PortfolioSection
    assets: tuple[AssetSection, ...]
    configs: tuple[SimConfig, ...]  # asset i's whole config (seed sim.seed + i)

    @property
    def sim(self):
        """The portfolio's clock and seed (every asset's ``sim`` but the seed, which is ``sim.seed + i``)."""
        return self.base.sim

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.assets)

    @property
    def check_ticks(self) -> int:
        return max(1, round(self.portfolio.check_interval_s / self.base.sim.dt_s))

    @property
    def sample_checks(self) -> int:
        return max(1, round(self.portfolio.covariance_sample_s / (self.check_ticks * self.base.sim.dt_s)))

    def correlation(self) -> np.ndarray:
        k = len(self.assets)
        c = self.portfolio.correlation
        return np.eye(k) if c is None else np.array(c, dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """The whole portfolio as nested data that ``make_portfolio_config`` reads back to an equal config."""
        return {**self.base.model_dump(mode="json"), "portfolio": self.portfolio.model_dump(mode="json"),
                "assets": [{"name": a.name, **a.overrides()} for a in self.assets]}

    def with_dotted(self, assignments: dict[str, Any]) -> "PortfolioConfig":
        """Dotted assignments: ``quoting.size_lots`` (every asset's default), ``portfolio.max_exposure``, or
        ``assets.ETH.quoting.size_lots`` (one asset)."""
        data = self.to_dict()
        shared, by_asset = {}, {}
        for key, value in assignments.items():
            parts = key.split(".")
            if parts[0] == "assets":
                if len(parts) < 4:
                    raise ConfigError([f"{key}: an asset's key is assets.NAME.SECTION.KEY"])
                by_asset.setdefault(parts[1], {})[".".join(parts[2:])] = value
            else:
                shared[key] = value
        data = _deep_merge(data, dotted_to_nested(shared))
        for name, keys in by_asset.items():
            match = [a for a in data["assets"] if a["name"] == name]
            if not match:
                raise ConfigError([f"assets.{name}: no such asset; allowed: {', '.join(self.names)}"])
            match[0].update(_deep_merge(match[0], dotted_to_nested(keys)))
        return make_portfolio_config(data)


def portfolio_to_toml(pcfg: PortfolioConfig, header: str = "") -> str:
    """The portfolio as TOML that ``load_portfolio_config`` (``portfolio --config``) reads back to an equal
    config: the shared sections, ``[portfolio]``, then one ``[[assets]]`` table per asset with its overrides
    as inline tables."""
    from backtest.config import _toml_value, config_to_toml

    lines = [config_to_toml(pcfg.base, header=header).rstrip("\n"), "", "[portfolio]"]
    for key, value in pcfg.portfolio.model_dump(mode="json").items():
        if value is not None:
            lines.append(f"{key} = {_toml_value(value)}")
    for asset in pcfg.assets:
        lines += ["", "[[assets]]", f"name = {_toml_value(asset.name)}"]
        for section, values in asset.overrides().items():
            inner = ", ".join(f"{k} = {_toml_value(v)}" for k, v in values.items())
            lines.append(f"{section} = {{ {inner} }}")
    return "\n".join(lines) + "\n"


def is_portfolio(data: dict[str, Any]) -> bool:
    return isinstance(data, dict) and "assets" in data


def _cholesky(c: np.ndarray) -> np.ndarray:
    """Lower-triangular L with L L' = c for a positive semi-definite c (a zero pivot leaves its column zero, so
    perfectly correlated assets are allowed); ValueError if c is not positive semi-definite."""
    k = c.shape[0]
    low = np.zeros_like(c)
    for j in range(k):
        pivot = c[j, j] - low[j, :j] @ low[j, :j]
        if pivot < -1e-9:
            raise ValueError(f"portfolio.correlation is not positive semi-definite (pivot {pivot:.3g} at asset {j}); "
                             "allowed: a correlation matrix (symmetric, ones on the diagonal, no negative eigenvalue)")
        low[j, j] = math.sqrt(max(pivot, 0.0))
        for i in range(j + 1, k):
            low[i, j] = (c[i, j] - low[i, :j] @ low[j, :j]) / low[j, j] if low[j, j] > 1e-12 else 0.0
    return low


def make_portfolio_config(data: dict[str, Any]) -> PortfolioConfig:
    """A validated PortfolioConfig from nested data (a config file's tables); ConfigError says what is wrong."""
    if not isinstance(data, dict):
        raise ConfigError([f"a portfolio config is a table, got {type(data).__name__}"])
    data = dict(data)
    raw_assets = data.pop("assets", None)
    raw_portfolio = data.pop("portfolio", {}) or {}
    errors: list[str] = []
    try:
        base = make_config(data)
    except ConfigError as err:
        raise ConfigError([f"shared settings: {e}" for e in err.problems]) from None
    try:
        portfolio = PortfolioSection.model_validate(raw_portfolio)
    except ValidationError as err:
        raise ConfigError([f"portfolio.{e}" for e in describe_validation_error(err)]) from None
    if not isinstance(raw_assets, list) or not raw_assets:
        raise ConfigError([f"assets: a list of at least one asset ([[assets]] tables), got {raw_assets!r:.60}"])
    if len(raw_assets) > MAX_ASSETS:
        raise ConfigError([f"assets: {len(raw_assets)} assets; allowed: at most {MAX_ASSETS}"])
    assets = []
    for i, raw in enumerate(raw_assets):
        if isinstance(raw, dict) and "sim" in raw:
            errors.append(f"assets[{i}].sim: the clock is the portfolio's; set sim at the top level (asset {i} "
                          f"draws from seed sim.seed + {i})")
            continue
        try:
            assets.append(AssetSection.model_validate(raw))
        except ValidationError as err:
            errors.extend(f"assets[{i}].{e}" for e in describe_validation_error(err))
    if errors:
        raise ConfigError(errors)
    names = [a.name for a in assets]
    if any(n.lower() == "portfolio" for n in names):
        raise ConfigError(["assets: the name 'portfolio' names the whole book in the risk events; give the asset "
                           "another name"])
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError([f"assets: the name {', '.join(dupes)} is used twice; each asset needs its own name"])
    configs = []
    for i, a in enumerate(assets):
        try:
            cfg = base.with_overrides(a.overrides())
            cfg = cfg.with_overrides({"sim": {"seed": (base.sim.seed + i) % 2**63}})
        except ValidationError as err:
            errors.extend(f"assets.{a.name}: {e}" for e in describe_validation_error(err))
            continue
        except ConfigError as err:
            errors.extend(f"assets.{a.name}: {e}" for e in err.problems)
            continue
        configs.append(cfg)
    sources = {c.market.source for c in configs}
    if len(sources) > 1:
        errors.append("assets: some replay recordings and some are synthetic; allowed: every asset on the same "
                      "market.source (one clock)")
    k = len(assets)
    check = portfolio.check_interval_s / base.sim.dt_s
    if abs(check - round(check)) > 1e-6 * max(1.0, check) or round(check) < 1:
        errors.append(f"portfolio.check_interval_s {portfolio.check_interval_s:g} is not a whole number of ticks of "
                      f"sim.dt_s {base.sim.dt_s:g}; allowed: a multiple of {base.sim.dt_s:g}")
    else:
        sample = portfolio.covariance_sample_s / (round(check) * base.sim.dt_s)
        if abs(sample - round(sample)) > 1e-6 * max(1.0, sample) or round(sample) < 1:
            errors.append(f"portfolio.covariance_sample_s {portfolio.covariance_sample_s:g} is not a whole number of "
                          f"check intervals ({portfolio.check_interval_s:g} s)")
    if portfolio.correlation is not None:
        c = portfolio.correlation
        if len(c) != k or any(len(row) != k for row in c):
            errors.append(f"portfolio.correlation: a {k}x{k} matrix (one row and column per asset), got "
                          f"{len(c)} rows of {sorted({len(r) for r in c})} values")
        else:
            m = np.array(c, dtype=np.float64)
            if not np.allclose(m, m.T, atol=1e-12) or not np.all(np.diag(m) == 1.0) or np.any(np.abs(m) > 1.0):
                errors.append("portfolio.correlation: allowed: a symmetric matrix with ones on the diagonal and "
                              "entries in [-1, 1]")
            else:
                try:
                    _cholesky(m)
                except ValueError as err:
                    errors.append(str(err))
    if errors:
        raise ConfigError(errors)
    return PortfolioConfig(base=base, portfolio=portfolio, assets=tuple(assets), configs=tuple(configs))


def load_portfolio_config(path: str | Path) -> PortfolioConfig:
    """A portfolio config file (TOML, YAML or JSON with an ``assets`` list); ConfigError if it is not one."""
    from backtest.config import _read_config_data

    data = _read_config_data(Path(path))
    if not is_portfolio(data):
        raise ConfigError([f"{path}: not a portfolio config (it has no [[assets]] list)"])
    return make_portfolio_config(data)


PORTFOLIO_PRESETS = {
    "portfolio_btc_eth_synthetic": {
        "sim": {"ticks": 20000},
        "portfolio": {"correlation": [[1.0, 0.8], [0.8, 1.0]], "max_gross_notional": 2000.0,
                      "max_exposure": 1.5, "max_loss_window": 50.0, "kill_drawdown": 500.0},
        "assets": [
            {"name": "BTC", "market": {"initial_price": 60000.0, "tick_size": 1.0, "lot_size": 0.001,
                                       "volatility_per_sqrt_s": 30.0},
             "risk": {"soft_position_lots": 10, "hard_position_lots": 20}},
            {"name": "ETH", "market": {"initial_price": 2500.0, "tick_size": 0.05, "lot_size": 0.01,
                                       "volatility_per_sqrt_s": 1.5},
             "risk": {"soft_position_lots": 10, "hard_position_lots": 20}},
        ],
    },
}


def _replay_btc_eth() -> dict[str, Any]:
    """BTC and ETH spot quoted on Binance and each hedged on its USD-M perpetual, the shipped recordings of the same
    minutes, with the single-asset replay presets' strategy (its settings carry: bps and quote notional)."""
    from backtest.config import REPLAY_BINANCE, REPLAY_BINANCE_ETH

    return {
        **REPLAY_BINANCE,  # the shared settings must be a whole config: BTC's recordings are the default
        "sim": {**REPLAY_BINANCE["sim"], "ticks": 344_000},
        "portfolio": {"correlation": [[1.0, 0.8], [0.8, 1.0]], "max_gross_notional": 800.0,
                      "max_exposure": 0.05, "max_loss_window": 30.0, "kill_drawdown": 150.0},
        "assets": [
            {"name": "BTC"},
            {"name": "ETH", "replay": dict(REPLAY_BINANCE_ETH["replay"]), "market": dict(REPLAY_BINANCE_ETH["market"])},
        ],
    }


PORTFOLIO_PRESETS["portfolio_binance_btc_eth_20240808"] = _replay_btc_eth()


def portfolio_preset(name: str) -> PortfolioConfig:
    if name not in PORTFOLIO_PRESETS:
        raise ConfigError([f"portfolio preset {name!r} is unknown; allowed: {', '.join(PORTFOLIO_PRESETS)}"])
    return make_portfolio_config(PORTFOLIO_PRESETS[name])


def correlated_shocks(pcfg: PortfolioConfig) -> list[np.ndarray]:
    """Each asset's fair-value shocks: asset i's own standard normal draws mixed through the correlation's Cholesky
    factor, in a fixed order (asset 0's are its own draws, exactly)."""
    own = [random_stream(c.sim.seed, "fair_shocks").standard_normal(pcfg.base.sim.ticks) for c in pcfg.configs]
    low = _cholesky(pcfg.correlation())
    out = []
    for i in range(len(own)):
        z = own[i] * low[i, i] if i else own[0]
        for j in range(i):
            if low[i, j] != 0.0:
                z = z + low[i, j] * own[j]
        out.append(z)
    return out


def check_portfolio_memory(pcfg: PortfolioConfig, budget: int | None = None) -> int:
    """Bytes the run will hold at its peak (the assets' estimates summed); ConfigError above ``budget``."""
    budget = budget_bytes() if budget is None else budget
    # each asset's loop state is copied twice at a time: before a span (records that did not fit run it again) and
    # before a speculative block (``PortfolioSimulation._drive``), which also keeps its account at every check
    total = sum(estimate_memory(c, checkpoints=2).total for c in pcfg.configs)
    total += -(-pcfg.base.sim.ticks // pcfg.check_ticks) * portfolio_row_dt.itemsize
    total += len(pcfg.configs) * (MAX_BLOCK_CHECKS + 1) * (N_ACC + 2) * 8
    if total > budget:
        raise ConfigError([f"this portfolio would need about {total / 2**30:.2f} GiB, more than the memory budget of "
                           f"{budget / 2**30:.2f} GiB; fewer sim.ticks or fewer assets shrink it (the budget is set "
                           "by MMHEDGE_MEMORY_BUDGET_GB)"])
    return total


def portfolio_params(pcfg: PortfolioConfig) -> np.ndarray:
    """The portfolio's settings in the kernel's units (ticks, checks, currency) in a flat vector (``kernels.portfolio``)."""
    pf = pcfg.portfolio
    dt = pcfg.base.sim.dt_s
    check = pcfg.check_ticks
    sample_s = pcfg.sample_checks * check * dt
    pp = np.zeros(K.N_PP)
    pp[K.PP_N_TICKS] = pcfg.base.sim.ticks
    pp[K.PP_CHECK_TICKS] = check
    pp[K.PP_SAMPLE_CHECKS] = pcfg.sample_checks
    pp[K.PP_COV_ALPHA] = 1.0 - 0.5 ** (sample_s / pf.covariance_halflife_s)
    pp[K.PP_MINUTE_SCALE] = 60.0 / sample_s
    for index, value in ((K.PP_MAX_GROSS, pf.max_gross_notional), (K.PP_MAX_NET, pf.max_net_notional),
                         (K.PP_MAX_EXPOSURE, pf.max_exposure), (K.PP_MAX_LOSS, pf.max_loss_window),
                         (K.PP_KILL_DRAWDOWN, pf.kill_drawdown)):
        pp[index] = value if value > 0 else np.inf
    pp[K.PP_LOSS_WINDOW_CHECKS] = max(1, round(pf.loss_window_s / (check * dt)))
    pp[K.PP_COOLDOWN_CHECKS] = max(1, math.ceil(pf.cooldown_s / (check * dt) - 1e-9))
    return pp


def prior_covariance(pcfg: PortfolioConfig, first_prices: list[float]) -> np.ndarray:
    """The covariance before any sample, per sample: each asset's configured volatility
    (``market.volatility_per_sqrt_s``, currency per sqrt(s)) relative to its first price, through the configured
    correlation."""
    sample_s = pcfg.sample_checks * pcfg.check_ticks * pcfg.base.sim.dt_s
    vol = np.array([c.market.volatility_per_sqrt_s / price for c, price in zip(pcfg.configs, first_prices)])
    return pcfg.correlation() * np.outer(vol, vol) * sample_s


def replay_on_one_clock(pcfg: PortfolioConfig) -> PortfolioConfig:
    """A portfolio of recordings with every asset's tick 0 at the same instant: when the last of all the recordings
    is under way (plus the shared ``replay.start_s``). Each asset's ``replay.start_s`` becomes its offset from its
    own recordings' start; ConfigError if ``sim.ticks`` reaches past what every recording covers from there."""
    aligned, covered = _one_clock(pcfg)
    n = pcfg.base.sim.ticks
    if n > covered:
        raise ConfigError([f"sim.ticks {n:,}: from the moment every asset's recordings are under way (plus replay."
                           f"start_s {pcfg.base.replay.start_s:g}) they all cover {max(covered, 0):,} ticks of "
                           f"{pcfg.base.sim.dt_s:g} s; allowed: at most {max(covered, 0):,}"])
    return aligned


def portfolio_available_ticks(pcfg: PortfolioConfig) -> int:
    """Ticks every asset's recordings cover from the portfolio's tick 0 (``replay_on_one_clock``), whatever
    ``sim.ticks`` asks for."""
    return max(_one_clock(pcfg)[1], 0)


def _one_clock(pcfg: PortfolioConfig) -> tuple[PortfolioConfig, int]:
    from backtest.markets.replay import _covered, load_venue

    dt_ns = int(round(pcfg.base.sim.dt_s * 1e9))
    spans, quotes = [], {}
    for name, c in zip(pcfg.names, pcfg.configs):
        streamed = c.replay.chunk_s > 0  # in chunks a normalised recording's events are not all read here
        d1 = load_venue(c.replay.exchange1, "exchange1", streamed=streamed)
        d2 = load_venue(c.replay.exchange2, "exchange2", streamed=streamed)
        quotes[name] = d1.instrument.quote  # an asset's money is in the currency its Exchange 1 quotes in
        own = c.with_overrides({"replay": {"start_s": 0.0}})
        start, covered = _covered(own, d1, d2)
        spans.append((start, start + covered * dt_ns))
    if len(set(quotes.values())) > 1:
        listing = ", ".join(f"{n}: {q}" for n, q in quotes.items())
        raise ConfigError([f"the assets' money is in different currencies ({listing}); a portfolio adds it in one "
                           "account currency: allowed: assets whose Exchange 1 quotes in the same currency ('?': a "
                           "symbol whose currency is not known)"])
    common = max(a for a, _ in spans) + int(round(pcfg.base.replay.start_s * 1e9))
    covered = min((end - common) // dt_ns for _, end in spans)
    configs = tuple(c.with_overrides({"replay": {"start_s": (common - start) / 1e9}})
                    for c, (start, _) in zip(pcfg.configs, spans))
    return PortfolioConfig(base=pcfg.base, portfolio=pcfg.portfolio, assets=pcfg.assets, configs=configs), covered


# speculative blocks (``PortfolioSimulation._drive``), in ticks each asset runs alone. A block costs a kernel call and
# a copy of every asset's state (0.5 MB for the default synthetic market, 4.6 MB for the BTC replay, whose book
# window spans many more price levels; 0.15-0.2 ms a MB), so it runs at least 4096 ticks and at least a tick for
# every 32 bytes of the assets' mean state; longer blocks lose more when a check puts them back.
MIN_BLOCK_TICKS = 1 << 12  # also the first block's; doubling after each that holds, up to 16 times the shortest
STATE_BYTES_PER_BLOCK_TICK = 32
COOL_TICKS = 1 << 14  # turns after the shortest block is put back, doubling while it keeps happening, up to
MAX_COOL_TICKS = 1 << 20
MAX_BLOCK_CHECKS = 4096  # checks in a block at most (a block keeps a small copy per asset and check)


def block_checks(ticks: int, check_ticks: int) -> int:
    """The checks in a block of about ``ticks`` ticks: at least one, at most ``MAX_BLOCK_CHECKS``."""
    return max(1, min(MAX_BLOCK_CHECKS, ticks // check_ticks))


class PortfolioSimulation:
    """The assets' runs side by side, with the portfolio's risk manager between them (``kernels.portfolio``).

    Each asset is a ``backtest.engine.Simulation`` (its market, state and records); ``advance`` runs them all in
    spans of ticks, and a span whose records did not fit is run again from copies taken before it with larger
    arrays (as a single-asset span is)."""

    SPAN_TICKS = 1 << 20

    def __init__(self, pcfg: PortfolioConfig, interventions: dict[str, Iterable[Intervention]] | None = None,
                 speculate: bool = True):
        """``speculate=False``: the assets always take turns a check interval at a time (``_span``), never in the
        speculative blocks of ``_drive``; the result is the same bit for bit, only slower (for tests and benches)."""
        interventions = interventions or {}
        unknown = sorted(set(interventions) - set(pcfg.names))
        if unknown:
            raise ConfigError([f"interventions for {', '.join(unknown)}: no such asset; allowed: "
                               f"{', '.join(pcfg.names)}"])
        check_portfolio_memory(pcfg)
        self.replay = pcfg.base.market.source == "replay"
        if self.replay:
            pcfg = replay_on_one_clock(pcfg)
            shocks = [None] * len(pcfg.configs)
        else:
            shocks = correlated_shocks(pcfg)
        self.pcfg = pcfg
        self.sims = []
        shared = None
        if not self.replay and pcfg.portfolio.regimes == "shared":
            shared = random_stream(pcfg.configs[0].sim.seed, "regime_switches").random(pcfg.base.sim.ticks)
        for cfg, z, name in zip(pcfg.configs, shocks, pcfg.names):
            market = generate(cfg) if self.replay else generate(cfg, fair_shocks=z, regime_uniforms=shared)
            self.sims.append(Simulation(cfg, market, interventions.get(name, ())))
        del shocks
        self._driver = K.run_portfolio_replay if self.replay else K.run_portfolio_ticks
        self._block_driver = K.run_portfolio_block_replay if self.replay else K.run_portfolio_block_ticks
        self._view = K.REPLAY_VIEW if self.replay else K.SYNTHETIC_VIEW
        k = len(self.sims)
        n = pcfg.base.sim.ticks
        self.n_ticks = n
        self.pp = portfolio_params(pcfg)
        self.ps = np.zeros(K.N_PS, dtype=np.int64)
        self.ps[K.PS_PAUSED_UNTIL] = -1
        self.pf = np.zeros(K.N_PF)
        self.work = np.zeros((k, K.N_WORK))
        self.work[:, K.W_PRICE] = [s.feeds[0][0] for s in self.sims]
        self.work[:, K.W_KIND] = -1
        self.cov = prior_covariance(pcfg, [s.first_price for s in self.sims])
        cap = int(self.pp[K.PP_LOSS_WINDOW_CHECKS]) + 3
        self.dq_idx = np.zeros(cap, dtype=np.int64)
        self.dq_val = np.zeros(cap)
        self.rows = np.zeros(-(-n // pcfg.check_ticks), dtype=portfolio_row_dt)
        self.risk = np.zeros(256, dtype=portfolio_risk_dt)
        self.pc = np.zeros(3, dtype=np.int64)
        # every asset's Exchange 1 price at each covariance sample, kept as the run goes by (a replay in chunks holds
        # only the chunk in use), for the plain correlation of the results
        self.sampled_prices = np.zeros((k, -(-n // pcfg.check_ticks) // pcfg.sample_checks + 1))
        self.computed = 0
        check = pcfg.check_ticks
        state_bytes = sum(sum(a.nbytes for a in s.state) for s in self.sims) // k
        shortest = max(MIN_BLOCK_TICKS, state_bytes // STATE_BYTES_PER_BLOCK_TICK)
        self.min_block_checks = block_checks(shortest, check)
        self.max_block_checks = block_checks(16 * shortest, check)
        self.cool_start_checks = block_checks(max(COOL_TICKS, shortest), check)
        self._block_checks = self.min_block_checks
        self._cool_checks = self.cool_start_checks
        self.speculate = speculate
        self.check_at = np.zeros(self.max_block_checks, dtype=np.int64)
        self.no_keep = np.zeros(0, dtype=np.int64)
        self.kept = tuple(tuple(np.zeros((self.max_block_checks + 1, len(s.state[i])), dtype=s.state[i].dtype)
                                for i in self._view[:2]) for s in self.sims)
        self.block_stats = {"blocks": 0, "rolled_back": 0, "ticks_in_turns": 0}

    def _portfolio_state(self) -> tuple:
        return self.ps, self.pf, self.work, self.cov, self.dq_idx, self.dq_val, self.pc

    def advance(self, until: int | None = None) -> int:
        until = self.n_ticks if until is None else min(until, self.n_ticks)
        while self.computed < until:
            end = min(until, self.computed + self.SPAN_TICKS)
            for s in self.sims:
                if s.chunks is not None:  # a span stays inside every asset's chunk in use
                    s.computed = self.computed
                    end = min(end, s.reach_chunk())
            self._span(self.computed, end)
            self.computed = end
        for s in self.sims:
            s.computed = self.computed
        return self.computed

    def _span(self, t0: int, t1: int) -> None:
        rows_before = int(self.pc[0])
        if self.speculate:
            self._drive(t0, t1)
        else:  # one call for the span, run again from copies taken before it if records did not fit
            before = self._copies()
            while True:
                assets, views, feed_start = self._arguments()
                self._driver(assets, views, feed_start, *self._portfolio_args(), t0, t1, self.no_keep, self.kept)
                self.block_stats["ticks_in_turns"] += t1 - t0
                if not self._overflowed():
                    break
                self._grow(through=t1)
                self._put_back(before)
        every = self.pcfg.sample_checks
        first = -(-(rows_before + 1) // every) * every - 1  # the first sampled check of the span
        sampled = np.arange(first, int(self.pc[0]), every)
        for a, s in enumerate(self.sims):
            f1, _, offset = s.feeds
            self.sampled_prices[a, (sampled + 1) // every - 1] = f1[self.rows["tick"][sampled] - offset]

    def _arguments(self) -> tuple:
        """(assets, views, feed starts) for the kernels, of the record arrays and chunks in use."""
        assets = tuple((s._inputs, (s.ticks_raw, *s.records), s.state) for s in self.sims)
        feeds = [s.feeds for s in self.sims]
        views = tuple((s.p, f1, f2, *(s.state[i] for i in self._view)) for s, (f1, f2, _) in zip(self.sims, feeds))
        return assets, views, np.array([start for _, _, start in feeds], dtype=np.int64)

    def _portfolio_args(self) -> tuple:
        return self.pp, self.ps, self.pf, self.work, self.cov, self.dq_idx, self.dq_val, self.rows, self.risk, self.pc

    def _copies(self) -> tuple:
        return [tuple(a.copy() for a in s.state) for s in self.sims], tuple(a.copy() for a in self._portfolio_state())

    def _put_back(self, copies) -> None:
        """Every asset's state and the portfolio's as ``copies`` (``_copies``) holds them, written in place."""
        states, portfolio = copies
        for s, state in zip(self.sims, states):
            for dst, src in zip(s.state, state):
                dst[...] = src
        for dst, src in zip(self._portfolio_state(), portfolio):
            dst[...] = src

    def _overflowed(self) -> bool:
        return self.pc[2] != 0 or any(s.state[-1][C_OVERFLOW] != 0 for s in self.sims)

    def _grow(self, through: int | None = None) -> None:
        """Larger arrays for the records that did not fit (an asset's, or the portfolio's risk events); with
        ``through`` (the tick their counts were reached at), for the whole run at that pace."""
        for s in self.sims:
            if s.state[-1][C_OVERFLOW] != 0:
                s._grow_records(through)
        if self.pc[2]:
            rows = int(self.pc[1]) * 2 + 256
            if through:
                rows = max(rows, rows_at_pace(int(self.pc[1]), self.n_ticks, through) + 256)
            self.risk = enlarged(self.risk, rows)

    def _drive(self, t0: int, t1: int) -> None:
        """Ticks ``t0 .. t1 - 1`` of every asset with the portfolio's checks between them, as the turn-by-turn driver
        runs them (``kernels.portfolio.run_portfolio_ticks``: every asset a check interval at a time), with the same
        result bit for bit, but mostly in speculative blocks: each asset runs a block of check intervals alone, then
        the block's checks run on the copies kept at their ticks. A check that changes a throttle means the assets'
        later ticks in the block should have obeyed it: the block is put back (every asset's state and the
        portfolio's, copied before it) and run in turns up to that check, and the next blocks are shorter
        (``_block_checks``, a quarter; below the shortest, ``min_block_checks``, none: the assets take turns for
        ``_cool_checks``, ``COOL_TICKS`` at first and twice as long each time a shortest block is put back again).
        Blocks that hold grow again, doubling each time. Records that do not fit (an asset's, or the portfolio's
        risk events) are grown and the block, or the stretch in turns, is run again from its copies: not the span.

        Why: ten assets taking turns every second ran 1.34-1.46x the time of the ten one after the other, with the
        same work (``bench/bench_portfolio_turns.py``); an asset running a block's stretch of ticks alone does not
        pay that."""
        check = self.pcfg.check_ticks
        t = t0
        while t < t1:
            block = self._block_checks
            end = min(t1, (t // check + (block or self._cool_checks)) * check)
            copies = self._copies()
            while True:
                assets, views, feed_start = self._arguments()
                args = self._portfolio_args()
                changed = None
                stop = end
                if block:
                    changed = self._block_driver(assets, views, feed_start, *args, t, end, self.check_at, self.kept)
                    if changed >= 0 and not self._overflowed():
                        self._put_back(copies)
                        stop = int(self.check_at[changed]) + 1
                        self._driver(assets, views, feed_start, *args, t, stop, self.no_keep, self.kept)
                else:
                    self._driver(assets, views, feed_start, *args, t, end, self.no_keep, self.kept)
                if not self._overflowed():
                    break
                self._grow(through=stop)
                self._put_back(copies)
            if changed is None or changed >= 0:
                self.block_stats["ticks_in_turns"] += stop - t
            if changed is not None:
                self.block_stats["blocks"] += 1
            if changed is None:
                self._block_checks = self.min_block_checks
            elif changed < 0:
                self._block_checks = min(2 * block, self.max_block_checks)
                self._cool_checks = self.cool_start_checks
            else:
                self.block_stats["rolled_back"] += 1
                if block // 4 >= self.min_block_checks:
                    self._block_checks = block // 4
                else:  # throttles change every few checks: turns, for longer each time until a block holds again
                    self._block_checks = 0
                    if block == self.min_block_checks:
                        self._cool_checks = min(2 * self._cool_checks, max(1, MAX_COOL_TICKS // check))
            t = stop

    def results(self) -> "PortfolioResults":
        rows = self.rows[: self.pc[0]].copy()
        # the assets' Exchange 1 returns over each covariance sample, correlated plainly (every sample weighs the same)
        prices = self.sampled_prices[:, : len(rows) // self.pcfg.sample_checks]
        realized = np.corrcoef(np.diff(np.log(prices), axis=1)) if prices.shape[1] > 2 else np.eye(len(self.sims))
        return PortfolioResults(
            config=self.pcfg,
            assets={name: s.results() for name, s in zip(self.pcfg.names, self.sims)},
            rows_raw=rows,
            risk_raw=self.risk[: self.pc[1]].copy(),
            covariance=self.cov.copy(),
            realized_correlation=np.atleast_2d(realized),
            covariance_sample_s=self.pcfg.sample_checks * self.pcfg.check_ticks * self.pcfg.base.sim.dt_s,
        )


def run_portfolio(pcfg: PortfolioConfig, interventions: dict[str, Iterable[Intervention]] | None = None
                  ) -> "PortfolioResults":
    """Simulate a portfolio run: every asset, on one clock, under the portfolio's risk manager."""
    sim = PortfolioSimulation(pcfg, interventions)
    sim.advance()
    return sim.results()


CURRENCY_KEYS = ("net_pnl", "realized_pnl", "unrealized_pnl", "spread_capture", "hedge_cost", "hedge_slippage",
                 "hedge_latency_cost", "hedge_basis", "fees", "inventory_mtm")
COUNT_KEYS = ("fills", "hedges", "hedge_failures", "volume_exchange1_notional")


@dataclass
class PortfolioResults:
    """A portfolio run: each asset's ``Results`` (in its own units, money in the account currency), the
    portfolio's check rows and risk events, and the covariance at the end (per sample of
    ``covariance_sample_s``, relative returns; the EWMA the limit used, which starts from the configured correlation),
    and the plain correlation of the same returns over the whole run."""

    config: PortfolioConfig
    assets: dict[str, Results]
    rows_raw: np.ndarray
    risk_raw: np.ndarray
    covariance: np.ndarray
    realized_correlation: np.ndarray  # of the assets' Exchange 1 log returns over each covariance sample, whole run
    covariance_sample_s: float

    @property
    def portfolio(self) -> pd.DataFrame:
        """One row per risk check: the portfolio's PnL, notionals, exposure and losses (currency) and state."""
        r = self.rows_raw
        df = pd.DataFrame({name: r[name] for name in r.dtype.names})
        df["time_s"] = r["tick"] * self.config.base.sim.dt_s
        df["state"] = pd.Categorical.from_codes(r["state"], STATE_NAMES)
        return df

    @property
    def risk_events(self) -> pd.DataFrame:
        """Every portfolio throttle change: the asset acted on (or 'portfolio'), the limit, the action."""
        r = self.risk_raw
        names = np.array(list(self.config.names) + ["portfolio"])
        return pd.DataFrame({
            "tick": r["tick"], "time_s": r["tick"] * self.config.base.sim.dt_s,
            "asset": names[r["asset"]] if len(r) else np.array([], dtype=str),
            "limit_kind": np.array(PORTFOLIO_LIMIT_NAMES)[r["limit_kind"]] if len(r) else np.array([], dtype=str),
            "action": np.array(PORTFOLIO_ACTION_NAMES)[r["action"]] if len(r) else np.array([], dtype=str),
            "value": r["value"], "limit": r["limit"],
        })

    def asset_pnl_at(self, ticks: np.ndarray) -> dict[str, np.ndarray]:
        """Each asset's total PnL (currency) at ``ticks`` (the tick row at or after each, on a coarse grid)."""
        out = {}
        for name, r in self.assets.items():
            rows, _ = r.record_row_at(ticks)
            out[name] = r.ticks["total_pnl"].to_numpy()[rows]
        return out

    @property
    def correlation(self) -> np.ndarray:
        sd = np.sqrt(np.diag(self.covariance))
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.covariance / np.outer(sd, sd)

    def _diversification(self) -> float:
        rows = self.rows_raw
        both = rows["exposure"] < rows["exposure_undiversified"] * (1 - 1e-12)
        if not np.any(both):
            return float("nan")
        return float(np.median(rows["exposure"][both] / rows["exposure_undiversified"][both]))

    @property
    def summary_dict(self) -> dict[str, Any]:
        """Per asset: its headline numbers; 'portfolio': the money summed over assets (currency), the largest
        notionals and exposure seen at the checks, and the portfolio throttles' counts."""
        per = {name: r.summary_dict for name, r in self.assets.items()}
        total = {k: float(sum(s[k] for s in per.values())) for k in CURRENCY_KEYS + COUNT_KEYS}
        rows = self.rows_raw
        ev = self.risk_raw
        total.update({
            "assets": len(per),
            "max_gross_notional": float(rows["gross_notional"].max()) if len(rows) else 0.0,
            "max_abs_net_notional": float(np.abs(rows["net_notional"]).max()) if len(rows) else 0.0,
            "max_exposure": float(rows["exposure"].max()) if len(rows) else 0.0,
            "max_exposure_undiversified": float(rows["exposure_undiversified"].max()) if len(rows) else 0.0,
            "max_drawdown_at_checks": float(rows["drawdown"].max()) if len(rows) else 0.0,
            "checks": int(len(rows)),
            # how much the correlation lets through: the exposure against the same deltas counted as if every
            # correlation were 1 (summed per-asset figures), where every asset held a delta
            "diversification_ratio_median": self._diversification(),
            "checks_with_sides_held": int(np.count_nonzero(rows["blocked_assets"])),
            "throttle_events": int(len(ev)),
            "portfolio_paused": int(np.count_nonzero(ev["action"] == PORTFOLIO_ACTION_NAMES.index("pause all"))),
            "portfolio_killed": bool(np.any(ev["action"] == PORTFOLIO_ACTION_NAMES.index("kill all"))),
        })
        return {"assets": per, "portfolio": total}


TABLE_KEYS = ("net_pnl", "spread_capture", "hedge_cost", "hedge_slippage", "hedge_latency_cost", "fees",
              "inventory_mtm", "fills", "hedges", "volume_exchange1_notional")


def summary_table(results: PortfolioResults) -> str:
    """The summary as text: a column per asset and the portfolio's total, then the portfolio's risk figures."""
    s = results.summary_dict
    names = list(s["assets"])
    width = max(12, *(len(n) + 2 for n in names))
    cfg = results.config.base.sim
    lines = [f"{len(names)} assets, {cfg.ticks} ticks, {cfg.ticks * cfg.dt_s:.1f} simulated seconds "
             "(money in the account currency)", "",
             f"  {'':<28}" + "".join(f"{n:>{width}}" for n in names) + f"{'portfolio':>{width}}"]
    for k in TABLE_KEYS:
        values = [s["assets"][n][k] for n in names] + [s["portfolio"][k]]
        lines.append(f"  {k:<28}" + "".join(f"{v:>{width},.2f}" if isinstance(v, float) and k not in ("fills", "hedges")
                                             else f"{int(v):>{width},}" for v in values))
    for k in ("max_abs_net_delta_lots", "hedge_latency_p50_ms"):
        lines.append(f"  {k:<28}" + "".join(f"{s['assets'][n][k]:>{width},.1f}" for n in names))
    p = s["portfolio"]
    lines.append("\nportfolio risk")
    for k in ("max_gross_notional", "max_abs_net_notional", "max_exposure", "max_exposure_undiversified",
              "diversification_ratio_median", "max_drawdown_at_checks", "checks",
              "checks_with_sides_held", "throttle_events", "portfolio_paused", "portfolio_killed"):
        v = p[k]
        text = ("yes" if v else "no") if isinstance(v, bool) else (("n/a" if math.isnan(v) else f"{v:,.3f}")
                                                                   if isinstance(v, float) else f"{v:,}")
        lines.append(f"  {k:<28} {text:>14}")
    if len(names) > 1:
        for title, corr in ((f"correlation the limit used at the end (EWMA of {results.covariance_sample_s:g} s "
                             "returns, from the configured prior)", results.correlation),
                            (f"correlation of the {results.covariance_sample_s:g} s returns over the whole run",
                             results.realized_correlation)):
            lines.append(f"\n{title}")
            for i, n in enumerate(names):
                lines.append(f"  {n:<10}" + "".join(f"{c:>8.3f}" for c in corr[i]))
    return "\n".join(lines)
