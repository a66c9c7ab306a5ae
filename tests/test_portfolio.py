"""A portfolio of assets on one clock under one risk manager (backtest.portfolio, kernels.portfolio)."""
import json

import numpy as np
import pytest

import backtest
from backtest.config import ConfigError
from backtest.interventions import Intervention
from backtest.portfolio import (
    PORTFOLIO_PRESETS, correlated_shocks, load_portfolio_config, make_portfolio_config, portfolio_preset, run_portfolio,
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


@pytest.mark.parametrize("data, message", [
    ({"assets": []}, "at least one asset"),
    ({"assets": [{"name": "A"}, {"name": "A"}]}, "used twice"),
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
