"""Instruments and settings that carry: what each venue trades (inferred, given, stored), pairs that cannot
hedge each other refused with both named, strategy settings in bps / base units / notional resolved at the
run's first price, and the ETH preset trading with the BTC preset's settings."""
import numpy as np
import pytest

import backtest
from backtest.config import ConfigError, make_config, preset
from backtest.markets.data import import_capture, load, save
from backtest.instruments import Instrument, check_pair, infer_instrument, pair_notes, split_symbol
from backtest.resolve import resolve_units

BTC = "replay_binance_btcusdt_20240808"
ETH = "replay_binance_ethusdt_20240808"
COINM = "data/binance-btcusd-perp-2024-08-08/coinm.jsonl.gz"
ETH_SPOT = "data/binance-ethusdt-2024-08-08/spot.jsonl.gz"
BTC_USDM = "data/binance-btcusdt-2024-08-08/usdm.jsonl.gz"


@pytest.mark.parametrize("symbol,base,quote", [("BTCUSDT", "BTC", "USDT"), ("ETHFDUSD", "ETH", "FDUSD"),
                                               ("BTCUSD_PERP", "BTC", "USD"), ("ETHUSD_240927", "ETH", "USD"),
                                               ("ETHBTC", "ETH", "BTC"), ("TEST", "TEST", "?")])
def test_symbols_split_into_base_and_quote(symbol, base, quote):
    assert split_symbol(symbol) == (base, quote)


def test_instruments_are_inferred_from_the_stream_and_symbol():
    spot = infer_instrument("binance-spot", "BTCUSDT", 0.01, 1e-6)
    assert (spot.kind, spot.settle, spot.contract_multiplier) == ("spot", "USDT", 1.0)
    linear = infer_instrument("binance-usdm", "ETHUSDT", 0.01, 0.001)
    assert (linear.kind, linear.base, linear.settle) == ("linear_perpetual", "ETH", "USDT")
    inverse = infer_instrument("binance-coinm", "BTCUSD_PERP", 0.1, 1.0)
    assert (inverse.kind, inverse.settle, inverse.contract_multiplier) == ("inverse_perpetual", "BTC", 100.0)
    assert infer_instrument("binance-coinm", "ETHUSD_PERP", 0.01, 1.0).contract_multiplier == 10.0


def test_the_coin_margined_capture_imports_as_an_inverse_perpetual_and_keeps_it(tmp_path):
    d = import_capture(COINM, "exchange2")
    assert d.source == "binance-coinm"
    assert d.instrument.inverse and d.instrument.contract_multiplier == 100.0
    assert "inverse perpetual BTCUSD_PERP" in d.describe()
    back = load(save(d, tmp_path))
    assert back.instrument == d.instrument


def test_import_options_replace_what_the_names_imply(tmp_path):
    d = import_capture(COINM, "exchange2", contract_multiplier=10.0)
    assert d.instrument.contract_multiplier == 10.0
    back = load(save(d, tmp_path))
    assert back.instrument.contract_multiplier == 10.0 and back.instrument_override is not None
    from backtest.markets.data import DataError
    with pytest.raises(DataError, match="multiplier only with inverse_perpetual"):
        import_capture(BTC_USDM, "exchange2", contract_multiplier=100.0)
    with pytest.raises(DataError, match="allowed: spot, linear_perpetual, inverse_perpetual"):
        import_capture(BTC_USDM, "exchange2", instrument_kind="future")


def test_pairs_that_cannot_hedge_each_other_are_refused_naming_both():
    with pytest.raises(ConfigError, match=r"spot ETHUSDT.*linear perpetual BTCUSDT.*does not hedge ETH"):
        backtest.run(preset(BTC).with_dotted({"replay.exchange1": ETH_SPOT, "sim.ticks": 1000}))
    # quoting an inverse contract is not modelled (hedging on one is)
    with pytest.raises(ConfigError, match=r"exchange1 trades inverse perpetual BTCUSD_PERP.*quoting an inverse "
                                          r"contract is not modelled"):
        backtest.run(preset(BTC).with_dotted({"replay.exchange1": COINM, "sim.ticks": 1000}))
    spot = Instrument("spot", "BTCUSDT", "BTC", "USDT", "USDT", 0.01, 1e-6)
    eur = Instrument("linear_perpetual", "BTCEUR", "BTC", "EUR", "EUR", 0.1, 0.001)
    assert any("one currency" in line for line in check_pair(spot, eur))
    assert check_pair(spot, Instrument("linear_perpetual", "BTCUSDT", "BTC", "USDT", "USDT", 0.1, 0.001)) == []
    # the dollar and its stablecoins count as one account currency, and the run says so
    usdc = Instrument("linear_perpetual", "BTCUSDC", "BTC", "USDC", "USDC", 0.1, 0.001)
    assert check_pair(spot, usdc) == []
    assert pair_notes(spot, usdc) == ["exchange1 is quoted in USDT and exchange2 in USDC: both are counted as one "
                                      "account currency (1 USDT = 1 USDC; the peg's deviation is not modelled)"]


def test_carrying_units_resolve_to_ticks_and_lots_at_the_first_price():
    cfg = make_config(**{"quoting.half_spread_bps": 2.0, "quoting.size_quote": 50.0, "quoting.requote_tolerance_bps": 1.0,
                         "quoting.skew_bps_at_soft_limit": 3.0, "hedging.slippage_buffer_bps": 5.0,
                         "risk.soft_position_base": 0.2, "risk.hard_position_quote": 40.0})
    # tick 0.01, lots of 0.01 base units; at price 100 a bp is 0.01 = 1 tick
    cfg = cfg.with_dotted({"market.lot_size": 0.01})
    r = resolve_units(cfg, 100.0, 1)
    assert r.quoting.half_spread_ticks == 2.0 and r.quoting.requote_tolerance_ticks == 1
    assert r.hedging.slippage_buffer_ticks == 5
    assert r.quoting.size_lots == 50  # 50 USD / 100 = 0.5 units = 50 lots of 0.01
    assert r.risk.soft_position_lots == 20 and r.risk.hard_position_lots == 40
    assert r.quoting.skew_ticks_per_lot == pytest.approx(3.0 / 20)
    assert resolve_units(r, 100.0, 1) == r  # resolves to itself


def test_notional_rounds_to_whole_hedge_lot_steps_and_refuses_too_little():
    cfg = make_config(**{"market.lot_size": 0.000001, "quoting.size_quote": 62.0})
    assert resolve_units(cfg, 61_837.63, 1000).quoting.size_lots == 1000  # 0.001 BTC: one perpetual lot
    with pytest.raises(ConfigError, match=r"quoting.size_quote 20: under half the hedge venue's lot step"):
        resolve_units(cfg.with_dotted({"quoting.size_quote": 20.0}), 61_837.63, 1000)
    with pytest.raises(ConfigError, match="not a whole number of lots"):
        resolve_units(make_config(**{"quoting.size_base": 1.5}), 100.0, 1)
    with pytest.raises(ConfigError, match="soft position limit .* above the hard one"):
        resolve_units(make_config(**{"risk.soft_position_quote": 10_000.0}), 100.0, 1)


def test_a_setting_has_one_value_in_one_unit():
    cfg = preset(BTC)
    assert cfg.quoting.half_spread_bps is not None
    ticks = cfg.with_dotted({"quoting.half_spread_ticks": 300.0})
    assert ticks.quoting.half_spread_bps is None  # overriding in ticks drops the bps value
    bps = ticks.with_dotted({"quoting.half_spread_bps": 1.0})
    assert bps.quoting.half_spread_bps == 1.0
    with pytest.raises(ConfigError, match="one setting given in 2 units"):
        cfg.with_dotted({"quoting.half_spread_ticks": 300.0, "quoting.half_spread_bps": 1.0})
    base = cfg.with_dotted({"quoting.size_base": 0.002})
    assert base.quoting.size_quote is None and base.quoting.size_base == 0.002


def test_the_btc_preset_resolves_to_the_ticks_and_lots_it_was_written_in():
    r = backtest.run(preset(BTC).with_dotted({"sim.ticks": 2000}))
    q, h, k = r.config.quoting, r.config.hedging, r.config.risk
    assert (q.half_spread_ticks, q.requote_tolerance_ticks, h.slippage_buffer_ticks) == (500.0, 50, 100)
    assert (q.size_lots, k.soft_position_lots, k.hard_position_lots) == (1000, 5000, 10000)
    assert q.skew_ticks_per_lot == 0.1


def test_the_eth_preset_trades_with_the_btc_settings_and_reports_per_unit():
    r = backtest.run(preset(ETH).with_dotted({"sim.ticks": 120_000}))
    s = r.summary_dict
    assert r.config.quoting.half_spread_ticks == 22.0  # 0.808 bps of about 2 683
    assert r.config.quoting.size_lots == 23_000  # 62 USD: 0.023 ETH, whole perpetual lots of 0.001
    assert s["fills"] > 5 and s["hedges"] > 0
    assert s["volume_exchange1_base"] == pytest.approx(s["volume_exchange1_lots"] * 1e-6)
    fills = r.fills
    notional = float((fills.price * fills.qty_lots).sum() * 1e-6)
    assert s["volume_exchange1_notional"] == pytest.approx(notional)
    assert s["fees_per_10k_notional"] == pytest.approx(s["fees"] * 1e4 / notional)
    assert s["net_pnl_per_base"] == pytest.approx(s["net_pnl"] / s["volume_exchange1_base"])
    assert r.run_warnings() == []


def test_quotes_out_of_reach_are_warned_about():
    r = backtest.run(preset(ETH).with_dotted({"sim.ticks": 20_000, "quoting.half_spread_ticks": 500.0}))
    assert r.summary_dict["fills"] == 0
    (w,) = r.run_warnings()
    assert "no fill on Exchange 1" in w and "bps) to the touch" in w


def test_a_saved_run_in_carrying_units_reloads_with_the_same_config(tmp_path):
    from backtest.research.experiment import load as load_run, save_run
    from backtest.config import load_config

    r = backtest.run(preset(BTC).with_dotted({"sim.ticks": 3000}))
    save_run(r, tmp_path / "run")
    text = (tmp_path / "run" / "config.toml").read_text()
    assert "half_spread_bps = 0.808" in text and "# half_spread_ticks = 500.0" in text
    back = load_run(tmp_path / "run")
    assert back.config == r.config and back.first_price == r.first_price
    # the file alone runs the same strategy again
    again = backtest.run(load_config(tmp_path / "run" / "config.toml"))
    assert again.config == r.config
    assert again.summary_dict["net_pnl"] == r.summary_dict["net_pnl"]


def remainder_run(tmp_path, policy):
    from kernels.records import ME_TRADE
    from tests.test_replay import SELLER, book_rows, market
    # the hedge venue trades in steps of 10 lots; our 5-lot bid is filled twice, at 100 ms and at 300 ms
    e1 = book_rows(0, 10000, 10002, 10) + [(100, ME_TRADE, SELLER, 9999, 50), (300, ME_TRADE, SELLER, 9999, 50)]
    e2 = save(market("exchange2", book_rows(0, 10000, 10002, 1000) + [(1500, ME_TRADE, 0, 10002, 10)], lot=10.0),
              tmp_path / f"e2-{policy}")
    from tests.test_replay import replay_config
    cfg = replay_config(tmp_path, e1, **{"sim.ticks": 600, "quoting.requote_tolerance_ticks": 100,
                                         "hedging.remainder": policy})
    return backtest.run(cfg.with_dotted({"replay.exchange2": str(e2)}))


def test_hedge_remainder_wait_sends_whole_steps_once_fills_add_up(tmp_path):
    r = remainder_run(tmp_path, "wait")
    assert r.fills.tick.tolist()[:2] == [100, 300] and r.fills.qty_lots.tolist()[:2] == [5, 5]
    h = r.hedges
    assert h.qty_filled_lots.tolist() == [10] and h.tick.iloc[0] >= 300
    assert h.fill_to_hedge_latency_ms.iloc[0] >= 200.0  # the first half-step waited for the second


def test_hedge_remainder_round_hedges_at_once_and_carries_the_difference(tmp_path):
    r = remainder_run(tmp_path, "round")
    h = r.hedges
    assert h.qty_filled_lots.tolist() == [10] and 100 <= h.tick.iloc[0] < 110  # the half step rounds up
    t = r.ticks
    assert t.net_delta_lots.iloc[h.tick.iloc[0]] == -5  # over-hedged by half a step: carried
    assert t.net_delta_lots.iloc[-1] == 0  # the second fill netted it without a hedge back
    parts = t.spread_capture + t.hedge_cost + t.inventory_mtm - t.fees
    assert np.allclose(parts, t.total_pnl, rtol=0, atol=1e-9)


def test_hedge_remainder_round_keeps_the_identity_on_the_replay():
    r = backtest.run(preset(BTC).with_dotted({"hedging.remainder": "round"}))
    t = r.ticks
    parts = t.spread_capture + t.hedge_cost + t.inventory_mtm - t.fees
    assert np.abs(parts - t.total_pnl).max() <= 1e-9 * max(1.0, t.total_pnl.abs().max())
    s = r.summary_dict
    assert abs(s["final_net_delta_lots"]) <= 500  # at most half a perpetual lot carried
    assert s["hedge_latency_p90_ms"] < 1000.0


def test_the_api_refuses_a_config_whose_units_cannot_resolve():
    from fastapi.testclient import TestClient
    from api.app import create_app

    with TestClient(create_app()) as c:
        r = c.put("/config", json={"quoting": {"size_quote": 0.001}})
        assert r.status_code == 422 and "under half the hedge venue's lot step" in r.text
        r = c.put("/config", json={"quoting": {"half_spread_ticks": 2.0, "half_spread_bps": 1.0}})
        assert r.status_code == 422 and "one setting given in 2 units" in r.text
        r = c.put("/config", json={"quoting": {"half_spread_bps": 3.0, "size_quote": 300.0}})
        assert r.status_code == 200
