"""A portfolio of assets on one clock under one risk manager (backtest.portfolio, kernels.portfolio)."""
import json

import numpy as np
import pytest

import backtest
from backtest.config import ConfigError
from backtest.interventions import Intervention
from backtest.portfolio import (
    PORTFOLIO_PRESETS, PortfolioSimulation, correlated_shocks, load_portfolio_config, make_portfolio_config,
    portfolio_preset, run_portfolio,
)
from kernels.records import R_PORTFOLIO_KILL, R_PORTFOLIO_LIMIT, R_PORTFOLIO_LOSS, STATE_KILLED, STATE_PAUSED

RECORDS = ("ticks_raw", "fills_raw", "hedges_raw", "orders_raw", "risk_raw", "account_raw")

BTC = {"name": "BTC", "market": {"initial_price": 60000.0, "tick_size": 1.0, "lot_size": 0.001,
                                 "volatility_per_sqrt_s": 30.0}}
ETH = {"name": "ETH", "market": {"initial_price": 2500.0, "tick_size": 0.05, "lot_size": 0.01,
                                 "volatility_per_sqrt_s": 1.5}}


def two_assets(ticks=3000, **portfolio):
    return make_portfolio_config({"sim": {"ticks": ticks}, "portfolio": portfolio, "assets": [BTC, ETH]})


def same_records(a, b):
    return all(np.array_equal(getattr(a, n), getattr(b, n)) for n in RECORDS)


def test_one_asset_portfolio_is_the_single_asset_run_bit_for_bit():
    solo = backtest.run(backtest.make_config(**{"sim.ticks": 3000}))
    port = run_portfolio(make_portfolio_config({"sim": {"ticks": 3000}, "assets": [{"name": "A"}]}))
    assert len(solo.fills_raw) > 20
    assert same_records(solo, port.assets["A"])
    assert json.dumps(port.assets["A"].summary_dict, sort_keys=True) == json.dumps(solo.summary_dict, sort_keys=True)


def test_first_asset_moves_as_alone_and_the_others_draw_from_the_next_seeds():
    pc = two_assets(correlation=[[1, 0.8], [0.8, 1]])
    port = run_portfolio(pc)
    assert pc.configs[1].sim.seed == pc.base.sim.seed + 1
    assert same_records(backtest.run(pc.configs[0]), port.assets["BTC"])
    second = backtest.run(pc.configs[1])  # alone it has its own shocks, not the correlated ones
    assert not np.array_equal(second.feed1, port.assets["ETH"].feed1)
    # uncorrelated and without portfolio limits, every asset is its own single-asset run
    free = run_portfolio(two_assets())
    assert same_records(second, free.assets["ETH"])


def test_shocks_have_the_configured_correlation():
    pc = make_portfolio_config({"sim": {"ticks": 20000}, "portfolio": {"correlation": [[1, 0.8, -0.3],
                                                                                        [0.8, 1, 0.0],
                                                                                        [-0.3, 0.0, 1]]},
                                "assets": [{"name": "A"}, {"name": "B"}, {"name": "C"}]})
    z = np.array(correlated_shocks(pc))
    c = np.corrcoef(z)
    assert abs(c[0, 1] - 0.8) < 0.02 and abs(c[0, 2] + 0.3) < 0.03 and abs(c[1, 2]) < 0.03
    assert np.allclose(z.std(axis=1), 1.0, atol=0.02)
    # perfectly correlated assets are allowed (a zero pivot)
    pc2 = make_portfolio_config({"sim": {"ticks": 100}, "portfolio": {"correlation": [[1, 1], [1, 1]]},
                                 "assets": [{"name": "A"}, {"name": "B"}]})
    a, b = correlated_shocks(pc2)
    assert np.allclose(a, b)


def test_portfolio_rows_add_up_the_assets_at_every_check():
    pc = two_assets(ticks=2000, correlation=[[1, 0.8], [0.8, 1]])
    r = run_portfolio(pc)
    rows = r.rows_raw
    assert len(rows) == 2000 // pc.check_ticks and rows["tick"][0] == pc.check_ticks - 1
    total = np.zeros(len(rows))
    for name, a in r.assets.items():
        t = a.ticks
        pnl = t["total_pnl"].to_numpy()[rows["tick"]]
        total += pnl
        # each asset's own identity holds on every tick
        parts = t.spread_capture + t.hedge_cost + t.inventory_mtm - t.fees
        assert np.allclose(parts, t.total_pnl, atol=1e-9 * max(1.0, t.total_pnl.abs().max()))
    assert np.allclose(rows["total_pnl"], total, rtol=0, atol=1e-6)
    # the exposure through the correlation never exceeds the sum of the assets' own
    assert np.all(rows["exposure"] <= rows["exposure_undiversified"] * (1 + 1e-12) + 1e-12)
    assert (rows["exposure"] < 0.99 * rows["exposure_undiversified"]).any()
    s = r.summary_dict
    assert s["portfolio"]["net_pnl"] == pytest.approx(sum(a["net_pnl"] for a in s["assets"].values()))
    assert s["portfolio"]["net_pnl"] == pytest.approx(rows["total_pnl"][-1])


def test_gross_limit_holds_the_side_that_grows_each_position():
    pc = two_assets(ticks=3000, max_gross_notional=300.0, check_interval_s=0.1)
    r = run_portfolio(pc)
    ev = r.risk_events
    held = ev[ev["action"] != "release"]
    assert len(held) > 0 and set(held["limit_kind"]) == {"gross notional"}
    for name, a in r.assets.items():
        assert np.any(a.risk_raw["reason"] == R_PORTFOLIO_LIMIT)
        # while bids are held (from the tick after the check), the asset shows no bid
        mine = ev[ev["asset"] == name].to_dict("records")
        for e, nxt in zip(mine, mine[1:] + [None]):
            if e["action"] in ("hold bids", "hold both sides"):
                stop = nxt["tick"] if nxt else a.ticks_run
                quotes = a.ticks_raw["quote_bid"][e["tick"] + 2: stop + 1]
                assert np.all(quotes == -1), (name, e)
    unlimited = run_portfolio(two_assets(ticks=3000))
    assert r.summary_dict["portfolio"]["max_gross_notional"] < unlimited.summary_dict["portfolio"]["max_gross_notional"]


def test_exposure_limit_acts_on_the_assets_adding_to_it_and_is_recorded():
    pc = two_assets(ticks=3000, max_exposure=0.05, check_interval_s=0.1, correlation=[[1, 0.9], [0.9, 1]])
    r = run_portfolio(pc)
    ev = r.risk_events
    assert set(ev["limit_kind"]) == {"exposure"} and len(ev) > 0
    assert np.all(ev.loc[ev["action"] != "release", "value"] > 0.05)
    assert (r.portfolio["exposure"] > 0).any()


def test_loss_window_pauses_and_drawdown_kills_every_asset():
    pc = two_assets(ticks=3000, max_loss_window=1e-9, cooldown_s=1.0)
    r = run_portfolio(pc)
    ev = r.risk_events
    assert "pause all" in set(ev["action"]) and set(ev["asset"]) == {"portfolio"}
    for a in r.assets.values():
        paused = a.risk_raw[a.risk_raw["reason"] == R_PORTFOLIO_LOSS]
        assert len(paused) > 0 and np.all(paused["new_state"] == STATE_PAUSED)
    killed = run_portfolio(two_assets(ticks=3000, kill_drawdown=1e-9))
    ev = killed.risk_events
    assert list(ev["action"]) == ["kill all"]
    for a in killed.assets.values():
        k = a.risk_raw[a.risk_raw["reason"] == R_PORTFOLIO_KILL]
        assert len(k) == 1 and k["new_state"][0] == STATE_KILLED
        after = a.ticks_raw[k["tick"][0] + 1:]
        assert np.all(after["quote_bid"] == -1) and np.all(after["quote_ask"] == -1)
    assert killed.portfolio["state"].iloc[-1] == "killed"


def test_same_config_same_result_and_interventions_name_their_asset():
    pc = two_assets(ticks=1500, max_gross_notional=300.0)
    a, b = run_portfolio(pc), run_portfolio(pc)
    assert all(same_records(a.assets[n], b.assets[n]) for n in pc.names)
    assert np.array_equal(a.rows_raw, b.rows_raw) and np.array_equal(a.risk_raw, b.risk_raw)
    c = run_portfolio(pc, {"ETH": [Intervention(500, "pause")]})
    assert same_records(a.assets["BTC"], c.assets["BTC"]) or len(c.risk_raw) != len(a.risk_raw)
    assert not same_records(a.assets["ETH"], c.assets["ETH"])
    with pytest.raises(ConfigError, match="no such asset"):
        run_portfolio(pc, {"SOL": [Intervention(5, "pause")]})


def test_records_that_outgrow_their_arrays_are_rerun_to_the_same_result(monkeypatch):
    import backtest.engine as engine

    pc = two_assets(ticks=2000, max_gross_notional=300.0, check_interval_s=0.1)
    base = run_portfolio(pc)
    monkeypatch.setattr(engine, "_record_caps", lambda *a, **k: (2, 2, 2, 2, 2))
    small = run_portfolio(pc)
    assert all(same_records(base.assets[n], small.assets[n]) for n in pc.names)
    assert np.array_equal(base.risk_raw, small.risk_raw)


def same_portfolio(a, b):
    return (np.array_equal(a.rows_raw, b.rows_raw) and np.array_equal(a.risk_raw, b.risk_raw)
            and all(same_records(a.assets[n], b.assets[n]) for n in a.assets))


@pytest.fixture
def short_blocks(monkeypatch):
    """Blocks of tens of ticks instead of thousands, so that a short run holds many, held and put back."""
    import backtest.portfolio as bp

    for name, ticks in (("MIN_BLOCK_TICKS", 40), ("STATE_BYTES_PER_BLOCK_TICK", 1 << 40), ("COOL_TICKS", 40),
                        ("MAX_COOL_TICKS", 160)):
        monkeypatch.setattr(bp, name, ticks)


def speculative_and_in_turns(pc, interventions=None):
    fast = PortfolioSimulation(pc, interventions)
    fast.advance()
    slow = PortfolioSimulation(pc, interventions, speculate=False)
    slow.advance()
    assert slow.block_stats["blocks"] == 0
    return fast, slow


@pytest.mark.parametrize("limits", [
    {"max_gross_notional": 300.0, "check_interval_s": 0.1},
    {"max_exposure": 0.05, "max_net_notional": 400.0, "correlation": [[1, 0.9], [0.9, 1]]},
    {"max_loss_window": 0.5, "cooldown_s": 2.0},
    {"kill_drawdown": 0.3},
])
def test_speculative_blocks_give_the_assets_taking_turns_bit_for_bit(limits, short_blocks):
    """The assets run blocks of check intervals alone and the block's checks after, on copies of what each held at
    their ticks (``PortfolioSimulation._drive``); a check that changes a throttle puts the block back and runs it in
    turns. With throttles that fire, blocks that hold and blocks put back, and a run that ends between two checks:
    the same records, checks and risk events as the assets taking turns a check interval at a time."""
    pc = two_assets(ticks=20_003, **limits)
    fast, slow = speculative_and_in_turns(pc)
    stats = fast.block_stats
    assert len(fast.risk) and fast.pc[1] > 0, "the limit must fire for the test to mean anything"
    assert stats["rolled_back"] > 0 and stats["blocks"] > stats["rolled_back"], stats
    assert same_portfolio(fast.results(), slow.results())
    assert fast.results().rows_raw["tick"][-1] == 20_002


def test_a_quiet_portfolio_runs_in_blocks_that_grow_and_a_flapping_one_in_turns():
    quiet = PortfolioSimulation(two_assets(ticks=200_000))
    quiet.advance()
    stats = quiet.block_stats
    assert stats["rolled_back"] == 0 and stats["ticks_in_turns"] == 0
    sizes, block = [], quiet.min_block_checks  # the shortest block first, then twice as long each time
    while sum(sizes) < 20_000:
        sizes.append(block)
        block = min(2 * block, quiet.max_block_checks)
    # (twice as many if the records' first arrays were too small and the span ran again)
    assert len(sizes) <= stats["blocks"] <= 2 * len(sizes)
    flapping, slow = speculative_and_in_turns(two_assets(ticks=60_000, max_gross_notional=100.0))
    assert flapping.pc[1] > 1000  # a throttle changes at most checks
    assert flapping.block_stats["ticks_in_turns"] > 0.9 * 60_000
    assert same_portfolio(flapping.results(), slow.results())


def test_records_outgrown_in_a_block_are_grown_for_the_run_at_its_pace_and_only_the_block_runs_again(monkeypatch):
    import backtest.portfolio as bp

    grown = []
    grow = bp.PortfolioSimulation._grow

    def counted(self, through=None):
        grown.append((through, int(self.pc[1]), len(self.risk)))
        grow(self, through)

    monkeypatch.setattr(bp.PortfolioSimulation, "_grow", counted)
    pc = two_assets(ticks=200_000, max_gross_notional=100.0)
    fast = PortfolioSimulation(pc)
    fast.advance()
    assert fast.pc[1] > 10_000 and len(fast.risk) >= fast.pc[1]  # from 256 rows
    # once, at the first stretch that outgrew them (grown by half the events, a later stretch outgrew them again)
    assert len(grown) == 1 and grown[0][0] < 200_000, grown
    monkeypatch.setattr(bp.PortfolioSimulation, "_grow", grow)
    slow = PortfolioSimulation(pc, speculate=False)
    slow.advance()
    assert same_portfolio(fast.results(), slow.results())


def test_speculative_blocks_meet_interventions_and_recordings_as_the_turns_do(short_blocks):
    pc = two_assets(ticks=6000, max_gross_notional=300.0)
    actions = {"ETH": [Intervention(1500, "pause"), Intervention(2500, "resume"),
                       Intervention(3000, "manual_fill", side="buy", qty_lots=5)],
               "BTC": [Intervention(4000, "kill"), Intervention(4100, "kill_reset")]}
    fast, slow = speculative_and_in_turns(pc, actions)
    assert fast.block_stats["rolled_back"] > 0
    assert same_portfolio(fast.results(), slow.results())
    fast, slow = speculative_and_in_turns(replay_pair(ticks=40000, max_gross_notional=150.0))
    assert fast.block_stats["rolled_back"] > 0 and fast.pc[1] > 0
    assert same_portfolio(fast.results(), slow.results())


@pytest.mark.parametrize("data, message", [
    ({"assets": []}, "at least one asset"),
    ({"assets": [{"name": "A"}, {"name": "A"}]}, "used twice"),
    ({"assets": [{"name": "Portfolio"}]}, "names the whole book"),
    ({"assets": [{"name": "A", "market": 5}]}, "assets\\[0\\].market"),
    ({"assets": "BTC"}, "a list of at least one asset"),
    ({"assets": [{"name": "A"}], "portfolio": {"correlation": [[float("nan")]]}}, "portfolio.correlation"),
    ({"assets": [{"name": "1x"}]}, "assets\\[0\\].name"),
    ({"assets": [{"name": "A", "sim": {"ticks": 5}}]}, "the clock is the portfolio's"),
    ({"assets": [{"name": "A", "quoting": {"size_lots": -1}}]}, "assets.A: quoting.size_lots"),
    ({"assets": [{"name": "A", "market": {"source": "replay"}}]}, "assets.A"),
    ({"assets": [{"name": "A"}, {"name": "B"}], "portfolio": {"correlation": [[1, 0.5]]}}, "2x2"),
    ({"assets": [{"name": "A"}, {"name": "B"}], "portfolio": {"correlation": [[1, 2], [2, 1]]}}, "entries in"),
    ({"assets": [{"name": "A"}, {"name": "B"}, {"name": "C"}],
      "portfolio": {"correlation": [[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]]}}, "positive semi-definite"),
    ({"assets": [{"name": "A"}], "portfolio": {"check_interval_s": 0.15}}, "whole number of ticks"),
    ({"assets": [{"name": "A"}], "portfolio": {"max_exposure": -1}}, "portfolio.max_exposure"),
    ({"assets": [{"name": "A"}], "portfolio": {"colour": 1}}, "portfolio.colour"),
])
def test_bad_portfolio_configs_say_what_is_wrong(data, message):
    with pytest.raises(ConfigError, match=message):
        make_portfolio_config(data)


def test_dotted_overrides_reach_one_asset_or_all(tmp_path):
    pc = portfolio_preset("portfolio_btc_eth_synthetic")
    one = pc.with_dotted({"assets.ETH.quoting.size_lots": 3, "portfolio.max_exposure": 9.0, "sim.ticks": 500})
    assert one.configs[1].quoting.size_lots == 3 and one.configs[0].quoting.size_lots == pc.configs[0].quoting.size_lots
    assert one.portfolio.max_exposure == 9.0 and all(c.sim.ticks == 500 for c in one.configs)
    assert make_portfolio_config(one.to_dict()) == one
    with pytest.raises(ConfigError, match="allowed: BTC, ETH"):
        pc.with_dotted({"assets.SOL.quoting.size_lots": 3})
    path = tmp_path / "p.toml"
    path.write_text('[sim]\nticks = 300\n[[assets]]\nname = "A"\n[[assets]]\nname = "B"\nquoting = { size_lots = 2 }\n')
    loaded = load_portfolio_config(path)
    assert loaded.names == ("A", "B") and loaded.configs[1].quoting.size_lots == 2
    with pytest.raises(ConfigError, match="portfolio config"):
        backtest.load_config(path)


def test_presets_validate():
    for name in PORTFOLIO_PRESETS:
        assert len(portfolio_preset(name).configs) >= 2


# -- recordings --------------------------------------------------------------------------------------------------
def replay_pair(ticks=20000, **portfolio):
    data = dict(PORTFOLIO_PRESETS["portfolio_binance_btc_eth_20240808"])
    data["sim"] = {**data["sim"], "ticks": ticks}
    data["portfolio"] = portfolio
    return make_portfolio_config(data)


def test_one_recording_as_a_portfolio_is_the_single_replay_bit_for_bit():
    cfg = backtest.preset("replay_binance_btcusdt_20240808").with_dotted({"sim.ticks": 20000})
    data = {**cfg.model_dump(), "assets": [{"name": "BTC"}]}
    port = run_portfolio(make_portfolio_config(data))
    solo = backtest.run(cfg)
    assert same_records(solo, port.assets["BTC"])


def test_recordings_share_one_clock_and_each_asset_is_its_replay_from_there():
    from backtest.portfolio import replay_on_one_clock
    from backtest.markets.replay import ReplayChunks

    pc = replay_pair()
    aligned = replay_on_one_clock(pc)
    starts = {ReplayChunks(c).start_ns for c in aligned.configs}
    assert len(starts) == 1
    assert {c.replay.start_s > 0 for c in aligned.configs} == {True, False}  # the later recording starts at its own 0
    port = run_portfolio(pc)
    for name, cfg in zip(pc.names, aligned.configs):
        assert same_records(backtest.run(cfg), port.assets[name])
    corr = port.realized_correlation
    assert corr.shape == (2, 2) and 0.3 < corr[0, 1] < 0.95


def test_recordings_in_chunks_give_the_one_pass_portfolio_bit_for_bit():
    """Each asset's recordings read chunk by chunk (chunks of different lengths per asset, so that a span ends where
    either asset's chunk does) under a gross limit that throttles: every asset's records, the portfolio's checks, its
    risk events and the correlation of the results equal the one-pass run."""
    pc = replay_pair(ticks=30000, max_gross_notional=150.0)
    one = run_portfolio(pc)
    data = pc.to_dict()
    data["assets"][0]["replay"] = {**data["assets"][0].get("replay", {}), "chunk_s": 0.7}
    data["assets"][1]["replay"] = {**data["assets"][1].get("replay", {}), "chunk_s": 1.3}
    chunked = make_portfolio_config(data)
    assert [c.replay.chunk_s for c in chunked.configs] == [0.7, 1.3]
    two = run_portfolio(chunked)
    assert (one.risk_events["limit_kind"] == "gross notional").any()
    assert np.array_equal(one.rows_raw, two.rows_raw)
    assert np.array_equal(one.risk_raw, two.risk_raw)
    assert np.array_equal(one.realized_correlation, two.realized_correlation)
    for name in pc.names:
        assert same_records(one.assets[name], two.assets[name])
        assert np.array_equal(one.assets[name].feed1, two.assets[name].feed1)


def test_recordings_under_portfolio_limits_are_throttled_and_refusals_are_clear():
    r = run_portfolio(replay_pair(ticks=60000, max_gross_notional=200.0))
    assert (r.risk_events["limit_kind"] == "gross notional").any()
    data = dict(PORTFOLIO_PRESETS["portfolio_binance_btc_eth_20240808"])
    with pytest.raises(ConfigError, match="they all cover 344,454 ticks"):
        run_portfolio(make_portfolio_config({**data, "sim": {**data["sim"], "ticks": 400_000}}))
    with pytest.raises(ConfigError, match="every asset on the same"):
        make_portfolio_config({**data, "assets": [{"name": "BTC"}, {"name": "S", "market": {"source": "synthetic"}}]})
    # money in two currencies is refused, not added: COIN-M's BTCUSD_PERP quotes in USD, the spot pairs in USDT
    mixed = {**data, "sim": {**data["sim"], "ticks": 1000},
             "assets": [data["assets"][1], {"name": "C", "replay": {
                 "exchange1": "data/binance-btcusd-perp-2024-08-08/coinm.jsonl.gz"}}]}
    with pytest.raises(ConfigError, match="ETH: USDT, C: USD"):
        run_portfolio(make_portfolio_config(mixed))


def test_the_portfolio_kernel_runs_without_jit_to_the_same_records():
    """NUMBA_DISABLE_JIT=1: the portfolio's loop and checks are plain Python (steppable) and give the same result."""
    import os
    import subprocess
    import sys

    script = (
        "import hashlib, numpy as np\n"
        "from backtest.portfolio import make_portfolio_config, run_portfolio\n"
        "pc = make_portfolio_config({'sim': {'ticks': 60}, 'portfolio': {'check_interval_s': 0.2, "
        "'max_gross_notional': 30.0, 'correlation': [[1, 0.5], [0.5, 1]]}, 'assets': [{'name': 'A'}, {'name': 'B'}]})\n"
        "r = run_portfolio(pc)\n"
        "h = hashlib.sha256(r.rows_raw.tobytes() + r.risk_raw.tobytes())\n"
        "for a in r.assets.values():\n"
        "    h.update(a.ticks_raw.tobytes() + a.fills_raw.tobytes() + a.risk_raw.tobytes())\n"
        "print(h.hexdigest())\n"
    )
    outs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                           env=dict(os.environ, NUMBA_DISABLE_JIT=flag)) for flag in ("0", "1")]
    assert all(o.returncode == 0 for o in outs), [o.stderr[-2000:] for o in outs]
    assert outs[0].stdout == outs[1].stdout and len(outs[0].stdout.strip()) == 64


def test_cli_prints_each_asset_and_the_total_and_writes_the_report(tmp_path, capsys):
    from backtest.cli import main

    assert main(["portfolio", "--ticks", "800", "--set", "assets.ETH.quoting.size_lots=2", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc["assets"]) == {"BTC", "ETH"} and doc["config"]["assets"][1]["quoting"] == {"size_lots": 2}
    assert doc["portfolio"]["net_pnl"] == pytest.approx(sum(a["net_pnl"] for a in doc["assets"].values()))
    out = tmp_path / "rep"
    assert main(["portfolio", "--ticks", "800", "--report", str(out)]) == 0
    text = capsys.readouterr().out
    assert "portfolio" in text.splitlines()[2] and "BTC" in text and "correlation" in text
    for name in ("report.html", "pnl_by_asset.png", "exposure.png", "correlation.png", "portfolio_risk.png",
                 "portfolio.csv", "portfolio_risk_events.csv", "assets/BTC/report.html", "assets/ETH/pnl.png"):
        assert (out / name).stat().st_size > 0, name
    assert 'href="assets/ETH/report.html"' in (out / "report.html").read_text()
    assert main(["portfolio", "--preset", "nope"]) == 2
    assert main(["portfolio", "--set", "assets.SOL.quoting.size_lots=2"]) == 2
    assert "no such asset" in capsys.readouterr().err


def test_saved_portfolio_reloads_to_the_same_results_and_its_config_runs_again(tmp_path):
    from backtest.cli import main
    from backtest.research.experiment import describe

    out = tmp_path / "saved"
    assert main(["portfolio", "--ticks", "1500", "--set", "assets.ETH.quoting.size_lots=2", "--set",
                 "portfolio.max_gross_notional=300", "--report", str(out)]) == 0
    loaded = backtest.load(out)
    again = run_portfolio(load_portfolio_config(out / "config.toml"))
    assert loaded.config == again.config
    assert np.array_equal(loaded.rows_raw, again.rows_raw) and np.array_equal(loaded.risk_raw, again.risk_raw)
    assert len(again.risk_raw) > 0
    for name in again.config.names:
        assert same_records(loaded.assets[name], again.assets[name])
        assert loaded.assets[name].ticks.equals(again.assets[name].ticks)
    assert json.dumps(loaded.summary_dict, sort_keys=True) == json.dumps(again.summary_dict, sort_keys=True)
    assert "portfolio" in describe(out) and "ETH" in describe(out)
    (out / "config.toml").write_text((out / "config.toml").read_text().replace("size_lots = 2", "size_lots = 3"))
    with pytest.raises(ConfigError, match="changed after"):
        backtest.load(out)


def test_sweep_over_one_assets_key_gives_each_runs_portfolio_figures():
    from backtest.research.sweep import SweepSpec, run_sweep

    base = two_assets(ticks=800)
    spec = SweepSpec(grid={"assets.ETH.quoting.size_lots": [1, 3]}, seeds=(1, 2), base=base, name="p")
    result = run_sweep(spec, workers=1)
    assert len(result.runs) == 4 and len(result.table) == 2
    row = result.runs[(result.runs["assets.ETH.quoting.size_lots"] == 3) & (result.runs["seed"] == 2)].iloc[0]
    direct = run_portfolio(base.with_dotted({"assets.ETH.quoting.size_lots": 3, "sim.seed": 2})).summary_dict
    assert row["net_pnl"] == pytest.approx(direct["portfolio"]["net_pnl"], abs=1e-9)
    assert row["ETH.fills"] == direct["assets"]["ETH"]["fills"] and row["BTC.net_pnl"] == pytest.approx(
        direct["assets"]["BTC"]["net_pnl"], abs=1e-9)
    # the key reached ETH only: BTC's runs are the same at both grid points
    btc = result.runs.groupby("seed")["BTC.net_pnl"].nunique()
    assert (btc == 1).all() and result.runs.groupby("seed")["ETH.fills"].nunique().max() == 2
    with pytest.raises(ConfigError, match="no such asset"):
        SweepSpec(grid={"assets.SOL.quoting.size_lots": [1]}, seeds=(1,), base=base).configs()


def test_calibrated_portfolio_correlation_is_the_replays_and_the_shipped_file_is_what_calibration_gives(tmp_path,
                                                                                                       capsys):
    from backtest.markets.calibrate import recorded_correlation
    from backtest.cli import main
    from backtest.markets.replay import load_venue
    from tests.config_compare import assert_same_config

    pairs = {n: (load_venue(f"data/binance-{s}-2024-08-08/spot.jsonl.gz", "exchange1"),
                 load_venue(f"data/binance-{s}-2024-08-08/usdm.jsonl.gz", "exchange2"))
             for n, s in (("BTC", "btcusdt"), ("ETH", "ethusdt"))}
    start = max(max(a.start_ns, b.start_ns) for a, b in pairs.values())
    # two code paths, one answer: the correlation calibration measures on the recordings is the one a portfolio
    # replay of them measures on its risk checks
    port = run_portfolio(replay_pair(ticks=60000))
    calibrated = recorded_correlation([a for a, _ in pairs.values()], start_ns=start, end_ns=start + 60 * 10**9)
    assert np.allclose(port.realized_correlation, calibrated, atol=1e-12)

    out = tmp_path / "p.toml"
    assets = [f"--asset={n}=data/binance-{s}-2024-08-08/spot.jsonl.gz,data/binance-{s}-2024-08-08/usdm.jsonl.gz"
              for n, s in (("BTC", "btcusdt"), ("ETH", "ethusdt"))]
    assert main(["calibrate-portfolio", *assets, "--out", str(out)]) == 0
    fresh = load_portfolio_config(out)
    shipped = load_portfolio_config("reports/figures/calibration/portfolio_btc_eth.toml")
    assert_same_config(fresh, shipped)
    assert 0.5 < fresh.correlation()[0, 1] < 0.8 and fresh.configs[1].market.initial_price != \
        fresh.configs[0].market.initial_price
    capsys.readouterr()
    assert main(["calibrate-portfolio", assets[0], "--out", str(out)]) == 2
    assert main(["calibrate-portfolio", "--asset", "BTC=only_one.gz", assets[1], "--out", str(out)]) == 2
    assert "NAME=EXCHANGE1,EXCHANGE2" in capsys.readouterr().err


def test_optimisation_of_a_portfolio_scores_its_total_on_held_out_seeds(tmp_path, capsys):
    from backtest.cli import main
    from backtest.research.optimize import OptimizeSpec, _configs, score

    base = two_assets(ticks=600)
    spec = OptimizeSpec(space={"assets.ETH.quoting.size_lots": ("int", 1, 3)}, base=base, trials=2,
                        train_seeds=(1, 2), test_seeds=(11,))
    runs = _configs(spec, {"assets.ETH.quoting.size_lots": 3}, "test")
    assert [c.sim.seed for c in runs] == [11] and runs[0].configs[1].quoting.size_lots == 3
    got = score(spec, {"assets.ETH.quoting.size_lots": 3}, "train")
    direct = [run_portfolio(base.with_dotted({"assets.ETH.quoting.size_lots": 3, "sim.seed": s})) for s in (1, 2)]
    assert got["net_pnl"] == pytest.approx(np.mean([d.summary_dict["portfolio"]["net_pnl"] for d in direct]))
    out = tmp_path / "opt"
    assert main(["optimize", "--portfolio", "portfolio_btc_eth_synthetic", "--ticks", "600", "--space",
                 "assets.ETH.quoting.size_lots=1:3:int", "--trials", "2", "--train-seeds", "1", "--test-seeds", "5",
                 "--constraint", "largest_naked_lots<=1000000", "--out", str(out)]) == 0
    assert (out / "trials.csv").exists() and (out / "out_of_sample.csv").exists()


def test_optimisation_of_a_portfolio_of_recordings_checks_the_held_out_end(tmp_path, capsys):
    """On recordings the training runs are the first part of the one clock, the check the rest: the same instants of
    every asset's recordings as the whole portfolio run's ticks there."""
    from backtest.cli import main
    from backtest.portfolio import replay_on_one_clock
    from backtest.research.optimize import OptimizeSpec, _configs, score, window_hours

    base = replay_pair(ticks=50000)
    spec = OptimizeSpec(space={"quoting.half_spread_bps": ("float", 0.3, 2.0)}, base=base, holdout_share=0.4)
    (train,), (test,) = _configs(spec, {}, "train"), _configs(spec, {}, "test")
    assert (train.sim.ticks, test.sim.ticks) == (30000, 20000)
    whole, later = replay_on_one_clock(base), replay_on_one_clock(test)
    for a, b in zip(whole.configs, later.configs):  # each asset's test window starts 30 s into its whole run
        assert b.replay.start_s == pytest.approx(a.replay.start_s + 30.0)
    assert window_hours(spec, "test") == pytest.approx(20.0 / 3600)
    got = score(spec, {"quoting.half_spread_bps": 0.5}, "test")
    direct = run_portfolio(test.with_dotted({"quoting.half_spread_bps": 0.5}))
    assert got["fills"] == direct.summary_dict["portfolio"]["fills"] > 0
    assert got["net_pnl"] == pytest.approx(direct.summary_dict["portfolio"]["net_pnl"])
    out = tmp_path / "o2"
    assert main(["optimize", "--portfolio", "portfolio_binance_btc_eth_20240808", "--ticks", "30000", "--space",
                 "assets.ETH.quoting.half_spread_bps=0.3:2", "--trials", "2", "--holdout-share", "0.5",
                 "--out", str(out)]) == 0
    assert (out / "out_of_sample.csv").exists()
    capsys.readouterr()
    assert main(["optimize", "--portfolio", "portfolio_binance_btc_eth_20240808", "--space",
                 "quoting.size_quote=50:70", "--train-recordings", "replay.exchange1=a.parquet",
                 "--test-recordings", "replay.exchange1=b.parquet",
                 "--out", str(tmp_path / "o3")]) == 2
    assert "held-out end of its recordings" in capsys.readouterr().err


def test_shared_regimes_switch_every_asset_together():
    pc = make_portfolio_config({"sim": {"ticks": 20000}, "portfolio": {"correlation": [[1, 0.8], [0.8, 1]]},
                                "market": {"regime_switch_per_s": 0.05, "high_vol_multiplier": 4.0},
                                "assets": [{"name": "A"}, {"name": "B"}]})
    own = run_portfolio(pc)
    shared = run_portfolio(pc.with_dotted({"portfolio.regimes": "shared"}))
    assert not np.array_equal(own.assets["A"].regime, own.assets["B"].regime)
    assert np.array_equal(shared.assets["A"].regime, shared.assets["B"].regime) and shared.assets["A"].regime.any()
    assert same_records(own.assets["A"], shared.assets["A"])  # the first asset keeps its own draws
    r = [np.corrcoef(np.diff(x.assets["A"].feed1), np.diff(x.assets["B"].feed1))[0, 1] for x in (own, shared)]
    assert abs(r[1] - 0.8) < abs(r[0] - 0.8) and abs(r[1] - 0.8) < 0.03
    with pytest.raises(ConfigError, match="portfolio.regimes"):
        make_portfolio_config({"assets": [{"name": "A"}], "portfolio": {"regimes": "global"}})
