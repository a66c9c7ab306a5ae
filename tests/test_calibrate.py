"""Calibration is a pure function of the recording and recovers the simulator's own parameters, within the
tolerances stated here, from a synthetic market printed as a recording (``synthetic_recording``).

Tolerances (relative unless marked), and why they are not tighter: volatility 15% (a book's mid lags its
price); basis mean 1 tick (abs), reversion 40% and volatility 25% (both mids add their own flicker); market
and client order rates and sizes 15% (orders that find an empty side print nothing); limit-order rates 25%
and sizes 20% (several orders joining one level in one tick are one increase); informed share 0.15 (abs: the
book mid's flicker dilutes the move after a trade); with regimes: calm volatility 15%, multiplier 25%, switch
rate within a factor 2 (10 s windows miss short regimes). Offsets, cancel rates, max depth and max orders are
not recovered on the simulator's books (see backtest.markets.calibrate) and are not tested here.
"""


import numpy as np
import pytest

from backtest.markets.calibrate import calibrate, synthetic_recording, to_toml
from backtest.cli import main
from backtest.config import load_config, make_config
from backtest.markets.data import save


def estimates(truth, dt_s=0.1):
    e1, e2 = synthetic_recording(truth)
    cfg, est = calibrate(e1, e2, base=truth, dt_s=dt_s)
    return cfg, {e.key: e for e in est}


@pytest.fixture(scope="module")
def one_regime():
    truth = make_config(**{
        "sim.ticks": 12000, "sim.dt_s": 0.1, "market.volatility_per_sqrt_s": 0.05, "market.regime_switch_per_s": 0.0,
        "market.high_vol_multiplier": 1.0, "market.basis_mean_ticks": -30.0, "market.basis_reversion_per_s": 0.5,
        "market.basis_vol_ticks_per_sqrt_s": 4.0, "clients.rate_per_s": 3.0, "clients.informed_fraction": 0.4,
        "exchange1.market_rate_per_s": 0.0})
    return truth, *estimates(truth)


def close(est, truth_value, rel):
    return abs(est.value - truth_value) <= rel * abs(truth_value)


@pytest.mark.parametrize("key,rel", [
    ("market.volatility_per_sqrt_s", 0.15), ("market.basis_reversion_per_s", 0.40),
    ("market.basis_vol_ticks_per_sqrt_s", 0.25), ("clients.rate_per_s", 0.15), ("clients.mean_size_lots", 0.15),
    ("exchange2.market_rate_per_s", 0.15), ("exchange2.mean_market_size_lots", 0.15),
    ("exchange1.limit_rate_per_s", 0.25), ("exchange2.limit_rate_per_s", 0.25),
    ("exchange1.mean_limit_size_lots", 0.20), ("exchange2.mean_limit_size_lots", 0.20),
])
def test_estimates_come_back_within_tolerance(one_regime, key, rel):
    truth, cfg, est = one_regime
    section, name = key.split(".")
    assert est[key].value is not None, est[key].source
    assert close(est[key], getattr(getattr(truth, section), name), rel), (key, est[key])
    assert getattr(getattr(cfg, section), name) == est[key].value  # and the config carries it


def test_basis_mean_informed_share_and_a_single_regime(one_regime):
    _, cfg, est = one_regime
    assert abs(est["market.basis_mean_ticks"].value - (-30.0)) <= 1.0
    assert abs(est["clients.informed_fraction"].value - 0.4) <= 0.15
    assert est["market.high_vol_multiplier"].value == 1.0 and "one regime" in est["market.high_vol_multiplier"].source


def test_runs_z_tells_persistent_labels_from_independent_ones():
    import numpy as np

    from backtest.markets.calibrate import runs_z

    blocks = np.repeat([True, False, True, False], 15)
    assert runs_z(blocks) < -5.0
    assert runs_z(np.tile([True, False], 30)) > 5.0
    assert abs(runs_z(np.random.default_rng(3).random(400) < 0.5)) < 2.33
    assert runs_z(np.ones(10, dtype=bool)) == 0.0


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_market_without_regimes_is_not_split_into_two(seed):
    """Sampling noise alone splits 10 s windows' variances into a high and a calm half, with a ratio above 1.3;
    the labels then switch as often as a coin's, which the runs test refuses."""
    truth = make_config(**{"sim.ticks": 9000, "sim.dt_s": 0.1, "sim.seed": seed, "market.volatility_per_sqrt_s": 0.05,
                           "market.regime_switch_per_s": 0.0,
                           "market.high_vol_multiplier": 1.0, "market.initial_price": 200.0})
    _, est = estimates(truth)
    assert est["market.high_vol_multiplier"].value == 1.0, est["market.high_vol_multiplier"].source
    assert abs(est["market.volatility_per_sqrt_s"].value - truth.market.volatility_per_sqrt_s) <= 0.15 * truth.market.volatility_per_sqrt_s


def test_regimes_come_back_within_tolerance():
    truth = make_config(**{"sim.ticks": 36000, "sim.dt_s": 0.1, "market.volatility_per_sqrt_s": 0.05,
                           "market.regime_switch_per_s": 0.02, "market.high_vol_multiplier": 3.0,
                           "market.initial_price": 200.0})
    _, est = estimates(truth)
    assert abs(est["market.volatility_per_sqrt_s"].value - 0.05) <= 0.15 * 0.05
    assert abs(est["market.high_vol_multiplier"].value - 3.0) <= 0.25 * 3.0
    assert 0.01 <= est["market.regime_switch_per_s"].value <= 0.04


def test_calibration_is_deterministic(one_regime):
    truth, _, est = one_regime
    _, again = estimates(truth)
    assert {k: (e.value, e.source) for k, e in again.items()} == {k: (e.value, e.source) for k, e in est.items()}


def test_a_short_recording_keeps_defaults_and_says_why(tmp_path):
    base = make_config()
    truth = make_config(**{"sim.ticks": 300, "market.volatility_per_sqrt_s": 0.08})
    cfg, est = estimates(truth)
    for key in ("market.volatility_per_sqrt_s", "exchange1.limit_rate_per_s", "exchange2.cancel_rate_per_order_per_s"):
        assert est[key].value is None and "not estimated" in est[key].source
    text = to_toml(cfg, list(est.values()))
    assert "nan" not in text.lower() and "inf" not in text.replace("informed", "").lower()
    path = tmp_path / "cal.toml"
    path.write_text(text)
    loaded = load_config(path)
    assert loaded == cfg and loaded.market.volatility_per_sqrt_s == truth.market.volatility_per_sqrt_s
    assert base.exchange1.limit_rate_per_s == loaded.exchange1.limit_rate_per_s


def test_cli_calibrate_writes_a_config_run_takes_and_a_report(tmp_path, capsys):
    truth = make_config(**{"sim.ticks": 1200, "sim.dt_s": 0.1, "clients.rate_per_s": 2.0})
    e1, e2 = synthetic_recording(truth)
    e1.venue, e2.venue = "exchange1", "exchange2"
    save(e1, tmp_path / "ds")
    save(e2, tmp_path / "ds")
    out = tmp_path / "calibrated.toml"
    assert main(["calibrate", "--dataset", str(tmp_path / "ds"), "--out", str(out), "--base", "default",
                 "--report", str(tmp_path / "report"), "--seeds", "2"]) == 0
    printed = capsys.readouterr().out
    assert "clients.rate_per_s" in printed and out.exists()
    assert "# calibrated:" in out.read_text()
    assert main(["run", "--config", str(out), "--ticks", "500", "--json"]) == 0
    html = (tmp_path / "report" / "stylized_facts.html").read_text()
    for fact in ("kurtosis", "inter-trade", "trade signs", "The same strategy on each", "queue-reactive within goal",
                 "zero-intelligence: 2 seeds", "share of the time the spread is one price step", "new_orders_per_hour",
                 "90% interval by a block bootstrap", "the recording's interval)"):
        assert fact in html
    assert (tmp_path / "report" / "impact.png").exists()
    # the queue-reactive model written instead: a config run takes, whose market is printed and replayed
    qr = tmp_path / "qr.toml"
    assert main(["calibrate", "--dataset", str(tmp_path / "ds"), "--out", str(qr), "--base", "default",
                 "--model", "queue_reactive"]) == 0
    loaded = load_config(qr)
    assert loaded.market.source == "queue_reactive" and "--model queue_reactive" in qr.read_text()
    assert main(["run", "--config", str(qr), "--ticks", "5000", "--json"]) == 0


def test_the_recordings_strategy_figures_come_with_a_block_bootstrap_interval():
    """recording_intervals: the interval holds the run's own figure; a run whose blocks are all alike measures it
    exactly; one whose money sits in a single block is far less certain; the same seed gives the same interval."""
    from backtest.research.stylized import recording_intervals

    rng = np.random.default_rng(3)
    fill_s = np.sort(rng.uniform(0, 300, 200))
    units = np.full(200, 0.001)
    capture = rng.normal(-0.002, 0.004, 200)
    hedge_s = fill_s + 0.02
    latency = rng.normal(-0.003, 0.005, 200)
    got = recording_intervals(fill_s, units, capture, hedge_s, latency, 300.0)
    point = {"fills_per_hour": 200 / 300 * 3600, "spread_capture_per_unit": capture.sum() / units.sum(),
             "hedge_latency_cost_per_unit": latency.sum() / units.sum()}
    for k, (lo, hi) in got.items():
        assert lo < point[k] < hi, k
    assert got == recording_intervals(fill_s, units, capture, hedge_s, latency, 300.0)
    # every 10 s block alike: each resample is the run itself
    even_s = np.arange(30) * 10.0 + 5.0
    same = recording_intervals(even_s, np.ones(30), np.full(30, -2.0), even_s, np.full(30, -1.0), 300.0)
    assert same["spread_capture_per_unit"] == pytest.approx((-2.0, -2.0))
    assert same["hedge_latency_cost_per_unit"] == pytest.approx((-1.0, -1.0))
    assert same["fills_per_hour"] == pytest.approx((360.0, 360.0))
    # all the latency cost in one block of 30: most resamples miss it or double it
    lumpy = np.zeros(30)
    lumpy[7] = -30.0
    lo, hi = recording_intervals(even_s, np.ones(30), np.zeros(30), even_s, lumpy, 300.0)["hedge_latency_cost_per_unit"]
    assert lo <= -2.0 and hi >= 0.0


def test_cli_calibrate_bad_input(tmp_path, capsys):
    assert main(["calibrate", "--out", str(tmp_path / "c.toml")]) == 2
    assert "--dataset" in capsys.readouterr().err
    assert main(["calibrate", "--dataset", str(tmp_path / "nowhere"), "--out", str(tmp_path / "c.toml")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["calibrate", "--dataset", str(tmp_path), "--out", str(tmp_path)]) == 2





def test_base_settings_in_ticks_and_lots_keep_their_meaning_on_the_calibrated_grid(tmp_path, capsys):
    """--base takes a config file; its strategy settings in ticks and lots, copied onto a grid with another tick
    size and lot step, are re-expressed there (the same prices and base amounts); carrying units stay as given."""
    from backtest.resolve import resolve_units

    truth = make_config(**{"sim.ticks": 1200, "sim.dt_s": 0.1, "clients.rate_per_s": 2.0,
                           "market.tick_size": 0.01, "market.lot_size": 0.5})
    e1, e2 = synthetic_recording(truth)
    e1.venue, e2.venue = "exchange1", "exchange2"
    save(e1, tmp_path / "ds")
    save(e2, tmp_path / "ds")
    base_file = tmp_path / "base.toml"  # a strategy written for a 0.05 tick and 0.1 lot grid
    base_file.write_text("[market]\ntick_size = 0.05\nlot_size = 0.1\n[quoting]\nsize_lots = 3\nhalf_spread_ticks = 2.0\n"
                         "skew_ticks_per_lot = 0.5\n[risk]\nsoft_position_base = 2.0\nhard_position_lots = 40\n")
    out = tmp_path / "c.toml"
    assert main(["calibrate", "--dataset", str(tmp_path / "ds"), "--out", str(out), "--base", str(base_file)]) == 0
    printed = capsys.readouterr().out
    cfg = load_config(out)
    assert (cfg.market.tick_size, cfg.market.lot_size) == (0.01, 0.5)
    q = cfg.quoting
    assert q.size_lots == 1 and "exactly 0.6, rounded" in printed  # 3 x 0.1 = 0.3 base: 0.6 of a 0.5 lot
    assert q.half_spread_ticks == pytest.approx(10.0)  # 2 x 0.05 = 0.10 currency = 10 ticks of 0.01
    assert q.skew_ticks_per_lot == pytest.approx(0.5 * 5 * 5)  # per tick x5, per lot x5
    assert cfg.risk.hard_position_lots == 8  # 40 x 0.1 = 4 base = 8 lots of 0.5
    assert cfg.risk.soft_position_base == 2.0  # given in base units: carries itself
    assert resolve_units(cfg, 100.0, 1).risk.soft_position_lots == 4
    assert main(["calibrate", "--dataset", str(tmp_path / "ds"), "--out", str(out), "--base", "nowhere"]) == 2
    assert "neither a preset nor a file" in capsys.readouterr().err


def test_an_estimate_outside_the_models_range_is_said_to_be_clipped():
    from backtest.markets.calibrate import _clip

    assert _clip(5.0, 0.0, 10.0) == 5.0 and not hasattr(_clip(5.0, 0.0, 10.0), "raw")
    assert _clip(2.2e6, 0.0, 1e6).raw == 2.2e6 and _clip(2.2e6, 0, 1_000_000, integer=True) == 1_000_000
    truth = make_config(**{"sim.ticks": 1200, "sim.dt_s": 0.1, "exchange2.initial_depth_lots": 1_000_000,
                           "exchange2.mean_limit_size_lots": 1e6, "exchange2.limit_rate_per_s": 200.0})
    _, est = estimates(truth)
    clipped = [e for e in est.values() if "clipped to its bound" in e.source]
    assert all(isinstance(e.value, (int, float)) and type(e.value) in (int, float) for e in clipped)


def test_lead_lag_finds_which_venue_moves_first():
    """A shifted copy of a random walk: the lag comes out as the shift, its sign says which venue leads; on the
    shipped BTC recording the USD-M perpetual's mid moves before spot's (as the replay receives them)."""
    from backtest.markets.data import PROJECT_ROOT, import_capture
    from backtest.markets.calibrate import fine_mids, lead_lag

    rng = np.random.default_rng(5)
    walk = np.cumsum(rng.choice([-1.0, 0.0, 0.0, 0.0, 1.0], 20_000))
    later = np.concatenate([np.full(7, walk[0]), walk[:-7]])  # the same moves, 7 steps after
    ahead = lead_lag(walk, later)
    assert ahead["lag"] == 7 and ahead["peak"] > 0.9 and ahead["ratio"] > 10
    behind = lead_lag(later, walk)
    assert behind["lag"] == -7 and behind["ratio"] < 0.1
    assert np.isnan(lead_lag(walk[:50], later[:50])["lag"])  # too short for the lags examined
    btc = PROJECT_ROOT / "data" / "binance-btcusdt-2024-08-08"
    ll = lead_lag(*fine_mids(import_capture(btc / "spot.jsonl.gz", "spot"), import_capture(btc / "usdm.jsonl.gz", "usdm")))
    assert -60 <= ll["lag"] <= -20 and ll["ratio"] < 0.5


def test_cross_impact_is_exchange2s_move_after_exchange1s_orders_in_their_direction():
    """Exchange 2's mid steps 30 ms after each order, by a tick in the order's direction (and by 3 ticks against a
    third order): 0 at 10 and 20 ms, then the mean over the orders, in Exchange 1 ticks; orders too near the end
    for a horizon are left out of it."""
    from backtest.research.stylized import CROSS_IMPACT_MS, cross_impact

    tick = 0.5
    mid2 = np.full(2000, 100.0)
    times, sides = np.array([0.1, 0.6, 1.1, 1.94]), np.array([1, -1, 1, 1])
    level = 100.0
    for t, side, step in zip(times[:3], sides[:3], (1, 1, -3)):
        level += side * step * tick
        mid2[int(t * 1000) + 30:] = level
    got = dict(zip(CROSS_IMPACT_MS, cross_impact(mid2, times, sides, tick)))
    assert got[10] == 0 and got[20] == 0
    assert got[50] == pytest.approx((1 + 1 - 3) / 4)  # the last order, at 1.94 s, meets no move within 50 ms
    assert got[500] == pytest.approx((1 + 1 - 3) / 3)  # ... and has no 500 ms after it


def test_facts_measured_on_several_seeds_are_averaged_with_their_range(tmp_path, capsys):
    import csv

    from backtest.research.stylized import TABLE_ROWS, seed_ranges, stylized_facts, table

    cfg = make_config(**{"sim.ticks": 1200, "sim.dt_s": 0.1, "clients.rate_per_s": 2.0})
    pairs = [synthetic_recording(cfg.with_dotted({"sim.seed": s})) for s in (1, 2)]
    facts = stylized_facts({"recording": pairs[0], "model": iter(pairs)})
    assert isinstance(facts["model"], list) and len(facts["model"]) == 2
    one = [table({"x": stylized_facts({"x": p})["x"]}) for p in pairs]
    for row, (label, vals), rng, a, b in zip(TABLE_ROWS, table(facts), seed_ranges(facts), *one):
        lo, hi = sorted((a[1][0], b[1][0]))
        if np.isfinite(lo) and np.isfinite(hi):
            assert vals[1] == pytest.approx((a[1][0] + b[1][0]) / 2) and rng[1] == pytest.approx((lo, hi)), row
        assert vals[0] == a[1][0] and rng[0] is None  # measured once: its figure, no range
    # the CLI: --fact-seeds N prints each synthetic market N times and the report shows mean and range
    e1, e2 = pairs[0]
    e1.venue, e2.venue = "exchange1", "exchange2"
    save(e1, tmp_path / "ds")
    save(e2, tmp_path / "ds")
    assert main(["calibrate", "--dataset", str(tmp_path / "ds"), "--out", str(tmp_path / "c.toml"), "--base",
                 "default", "--report", str(tmp_path / "report"), "--seeds", "2", "--fact-seeds", "2"]) == 0
    capsys.readouterr()
    assert "zero-intelligence: 2 seeds, mean [range]" in (tmp_path / "report" / "stylized_facts.html").read_text()
    with open(tmp_path / "report" / "stylized_facts.csv") as fh:
        header = next(csv.reader(fh))
    assert "zero-intelligence min of 2 seeds" in header and "default synthetic max of 2 seeds" in header
    for bad in ("0", "65"):
        assert main(["calibrate", "--dataset", str(tmp_path / "ds"), "--out", str(tmp_path / "c.toml"),
                     "--fact-seeds", bad]) == 2
        assert "--fact-seeds" in capsys.readouterr().err
