"""Inverse (coin-margined) hedge venues: contracts of a fixed quote value, PnL and fees in the base asset.

The hand-worked case of the README: 1 BTC bought on spot at 60 000 is hedged by selling 600 contracts of 100
USD; the price goes to 61 000. The short's 600 x 100 x (1/60 000 - 1/61 000) = 0.016393 BTC lost is worth
1 000.00 USD at 61 000, the spot's gain; the taker fee, 5 bps of 60 000 USD, is paid as 0.0005 BTC (30.00 USD
then, 30.50 USD at 61 000)."""
import numpy as np
import pytest

import backtest
from backtest.config import ConfigError, make_config
from backtest.markets.data import MarketData, save
from backtest.interventions import Intervention
from kernels.records import ME_BBO_ASK, ME_BBO_BID, ME_BOOK, market_event_dt

T0 = 1_723_161_300_000_000_000
BID, ASK = 0, 1


def venue(name, symbol, rows, tick, lot):
    ev = np.zeros(len(rows), dtype=market_event_dt)
    for i, (ms, kind, side, price, qty) in enumerate(rows):
        ev[i] = (T0 + ms * 1_000_000, T0 + ms * 1_000_000, price, qty, kind, side, 0)
    return MarketData(venue=name, symbol=symbol, source="test", tick_size=tick, lot_size=lot,
                      tick_size_inferred=False, lot_size_inferred=False, clock_offset_ns=0, events=ev)


def touch(ms, bid, ask, qty, old=None):
    rows = []
    if old is not None:  # the previous touch empties
        rows += [(ms, ME_BOOK, BID, old[0], 0), (ms, ME_BOOK, ASK, old[1], 0)]
    return rows + [(ms, ME_BOOK, BID, bid, qty), (ms, ME_BOOK, ASK, ask, qty), (ms, ME_BBO_BID, BID, bid, qty),
                   (ms, ME_BBO_ASK, ASK, ask, qty)]


def hand_worked(tmp_path, **overrides):
    """Spot (BTCUSDT, 0.1 USD, 1e-5 BTC) mid 60 000.0, the inverse perpetual (BTCUSD_PERP, 0.1 USD, 1 contract
    of 100 USD) bid 60 000.0 / ask 60 000.2; both move to mid 61 000.0 at 500 ms."""
    spot = (touch(0, 599999, 600001, 10_000_000) + touch(500, 609999, 610001, 10_000_000, old=(599999, 600001))
            + touch(1500, 609999, 610001, 10_000_000))
    perp = (touch(0, 600000, 600002, 10_000) + touch(500, 609999, 610001, 10_000, old=(600000, 600002))
            + touch(1500, 609999, 610001, 10_000))
    p1 = save(venue("exchange1", "BTCUSDT", spot, 0.1, 1e-5), tmp_path / "spot")
    p2 = save(venue("exchange2", "BTCUSD_PERP", perp, 0.1, 1.0), tmp_path / "perp")
    cfg = make_config({
        "sim": {"ticks": 1000, "dt_s": 0.001},
        "market": {"source": "replay", "tick_size": 0.1, "lot_size": 1e-5, "volatility_per_sqrt_s": 1.0},
        "replay": {"exchange1": str(p1), "exchange2": str(p2)},
        "latency": {"order_median_ms": 0.01, "order_sigma": 0.0, "hedge_median_ms": 1.0, "hedge_sigma": 0.0,
                    "spike_probability": 0.0},
        "risk": {"soft_position_lots": 200_000, "hard_position_lots": 200_000, "stale_feed_s": 100.0,
                 "max_loss_window": 1e6, "kill_drawdown": 1e6},
        "fees": {"maker_bps_exchange1": 0.0, "taker_bps_exchange2": 5.0},
    })
    cfg = cfg.with_dotted(overrides) if overrides else cfg
    # paused from the start: no quotes, only the manual fill of 1 BTC (100 000 lots) at 60 000.0 (600 000 ticks)
    return backtest.run(cfg, [Intervention(0, "pause"), Intervention(100, "manual_fill", "buy", 100_000, 600_000)])


def test_one_btc_hedged_with_600_contracts_to_the_cent_in_both_currencies(tmp_path):
    r = hand_worked(tmp_path)
    (h,) = r.hedges.itertuples()
    assert h.side == "sell" and h.qty_filled_lots == 600 and h.vwap_price == pytest.approx(60000.0)
    assert h.qty_filled_base == pytest.approx(1.0, abs=1e-12)  # 600 x 100 / 60 000
    assert r.hedges.fee.iloc[0] == pytest.approx(30.00, abs=1e-9)  # 5 bps of 60 000 USD, paid as 0.0005 BTC
    s = r.summary_dict
    btc_lost = 600 * 100 * (1 / 60_000 - 1 / 61_000)
    assert btc_lost == pytest.approx(0.016393, abs=1e-6)
    # settlement currency: the short's loss and the fee, in BTC
    assert s["hedge_leg_pnl_settle"] == pytest.approx(-(btc_lost + 0.0005), abs=1e-12)
    # account currency: 1 000.00 lost on the short at 61 000 (the spot's gain) and the fee's 0.0005 BTC at 61 000
    assert round(s["hedge_leg_pnl"], 2) == -1030.50
    assert round(s["net_pnl"], 2) == -30.50
    t = r.ticks.iloc[-1]
    assert t.inv1_lots == 100_000 and t.inv2_lots == -600
    assert t.hedge_leg_base_lots == pytest.approx(-100_050, abs=1e-6)  # -1 BTC, and the 0.0005 BTC fee
    # the attribution: the hedge sold 0.1 under the mark (slippage), a basis of 0.1 closed since, the fee's BTC
    # gained 0.50 USD of value against it (in the inventory marked to market); fees as paid
    assert round(t.hedge_slippage, 2) == -0.10 and round(t.hedge_latency_cost, 2) == 0.0
    assert round(t.hedge_basis, 2) == 0.10 and round(t.inventory_mtm, 2) == -0.50 and round(t.fees, 2) == 30.00


def test_the_identity_holds_every_tick_on_an_inverse_hedge(tmp_path):
    r = hand_worked(tmp_path)
    t = r.ticks
    assert np.abs(t.spread_capture + t.hedge_cost + t.inventory_mtm - t.fees - t.total_pnl).max() < 1e-9
    assert np.abs(t.realized_pnl + t.unrealized_pnl - t.fees - t.total_pnl).max() < 1e-9
    # before the move the position is flat in value: the hedge's loss is only its slippage and the fee
    assert round(t.total_pnl.iloc[400], 2) == -30.10


def test_what_a_contract_cannot_take_waits_and_the_fee_is_a_residual(tmp_path):
    """0.70001 BTC at the mark 60 000.1 is 420.0102 contracts: the wait policy sends 420, which sold at 60 000.0
    are 0.7 BTC; the 1 lot (1e-5 BTC) left waits for more fills (it is never hedged alone). The 0.00035 BTC of
    fee (35 lots) is not hedged: the net delta ends at 1 - 35 lots."""
    r = backtest.run(hand_worked(tmp_path).config,
                     [Intervention(0, "pause"), Intervention(100, "manual_fill", "buy", 70_001, 600_000)])
    assert list(r.hedges.qty_filled_lots) == [420]
    assert r.hedges.qty_filled_base.iloc[0] == pytest.approx(0.7, abs=1e-12)
    assert r.ticks.pending_hedge_lots.iloc[-1] == -1
    assert r.ticks.net_delta_lots.iloc[-1] == pytest.approx(1 - 35, abs=1e-6)
    assert r.summary_dict["final_net_delta_lots"] == -34


def test_round_policy_sends_the_nearest_whole_contract(tmp_path):
    r = hand_worked(tmp_path, **{"hedging.remainder": "round"})
    assert list(r.hedges.qty_filled_lots) == [600]
    cfg = r.config
    # 0.0009 BTC is 0.54 contract: rounds to 1 (0.0016667 BTC), the 0.0007667 BTC over is naked, waiting
    r2 = backtest.run(cfg, [Intervention(0, "pause"), Intervention(100, "manual_fill", "buy", 90, 600_000)])
    assert list(r2.hedges.qty_filled_lots) == [1]
    t = r2.ticks
    assert np.abs(t.spread_capture + t.hedge_cost + t.inventory_mtm - t.fees - t.total_pnl).max() < 1e-9


def test_a_contract_coarser_than_the_lot_grid_is_refused():
    # the default synthetic market: price 100, lots of 1 unit; a 100-currency contract is 1 lot
    cfg = backtest.make_config(**{"market.exchange2_instrument": "inverse", "market.exchange2_contract_value": 100.0})
    with pytest.raises(ConfigError, match="a contract of 100 on Exchange 2 is worth 1 base units at 100, 1 lots; "
                                          "allowed: a lot_size of at most 0.1"):
        backtest.run(cfg)


def synthetic_inverse(**extra):
    """The default synthetic market in lots of 0.01 with Exchange 2 an inverse contract of 10 (0.1 unit = 10
    lots at 100): its flow and depth count contracts."""
    return backtest.make_config(**{"market.lot_size": 0.01, "market.exchange2_instrument": "inverse",
                                   "market.exchange2_contract_value": 10.0, "quoting.size_lots": 20,
                                   "risk.soft_position_lots": 100, "risk.hard_position_lots": 200, **extra})


def test_a_synthetic_spot_against_inverse_pair_hedges_and_reconciles():
    r = backtest.run(synthetic_inverse(**{"sim.ticks": 3000}))
    s = r.summary_dict
    assert s["fills"] > 20 and s["hedges"] > 10
    t = r.ticks
    scale = max(1.0, t.total_pnl.abs().max())
    assert np.abs(t.spread_capture + t.hedge_cost + t.inventory_mtm - t.fees - t.total_pnl).max() < 1e-9 * scale
    assert np.abs(t.realized_pnl + t.unrealized_pnl - t.fees - t.total_pnl).max() < 1e-9 * scale
    # hedged: contracts x 10 / price cover the fills' base to within half a contract per side, plus fees
    h = r.hedges
    assert (h.qty_filled_base - h.qty_filled_lots * 10.0 / h.vwap_price).abs().max() < 1e-12
    contract_lots = 10.0 / 100.0 / 0.01
    assert s["max_abs_net_delta_lots"] <= 200 + contract_lots
    # what is naked at the end: hedges still on their way, less than a contract waiting, the fees paid in base
    last = t.iloc[-1]
    fee_lots = h.fee.sum() / last.feed2_price / 0.01
    assert abs(last.net_delta_lots + last.pending_hedge_lots) <= contract_lots + fee_lots + 1e-9


def test_a_linear_exchange2_setting_is_the_synthetic_markets_only():
    with pytest.raises(ValueError, match="a replay takes each venue's instrument from its recording"):
        backtest.config.preset("replay_binance_btcusdt_20240808").with_dotted({"market.exchange2_instrument": "inverse"})


def test_wait_sends_a_contract_for_a_fill_a_price_move_left_just_short_of_one(tmp_path):
    """A quote sized as one contract at the first price is 0.95 of one after a 5% rise: 'wait' rounds down
    only when the next whole contract is more than a tenth of one away, so it is hedged at once with 1 contract
    and the 0.05 contract over (9 lots) is carried as naked exposure, not hedged back."""
    r = backtest.run(hand_worked(tmp_path).config,
                     [Intervention(0, "pause"), Intervention(100, "manual_fill", "buy", 158, 600_000)])
    assert list(r.hedges.qty_filled_lots) == [1] and r.hedges.tick.iloc[0] == 101
    assert r.ticks.pending_hedge_lots.iloc[-1] == 9  # 166.67 lots sold against 158 bought: 9 to buy, waiting
    t = r.ticks
    assert np.abs(t.spread_capture + t.hedge_cost + t.inventory_mtm - t.fees - t.total_pnl).max() < 1e-9


def test_the_api_checks_an_inverse_synthetic_config_and_serves_its_positions():
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app()) as c:
        r = c.put("/config", json={"market": {"exchange2_instrument": "inverse", "exchange2_contract_value": 100.0}})
        assert r.status_code == 422 and "a contract of 100 on Exchange 2 is worth" in r.text
        body = {"sim": {"ticks": 3000}, "market": {"lot_size": 0.01, "exchange2_instrument": "inverse",
                                                   "exchange2_contract_value": 10.0},
                "quoting": {"size_lots": 20}, "risk": {"soft_position_lots": 100, "hard_position_lots": 200}}
        assert c.put("/config", json=body).status_code == 200
        assert c.post("/reset").status_code == 200
        assert c.post("/clock/step", json={"ticks": 2990}).status_code == 200  # before the end: a fill is allowed
        p = c.get("/positions").json()
        assert isinstance(p["exchange2_lots"], int) and isinstance(p["exchange2_base_lots"], float)
        assert p["net_delta_lots"] == pytest.approx(p["exchange1_lots"] + p["exchange2_base_lots"], abs=1e-9)
        assert c.get("/exposure").status_code == 200
        # the answer's position holds the net delta in base lots, not a whole number here (was a 500)
        r = c.post("/fills/manual", json={"side": "buy", "qty_lots": 7})
        assert r.status_code == 200, r.text
        assert r.json()["position_after"]["net_delta_lots"] == pytest.approx(
            r.json()["position_after"]["inv1_lots"] + c.get("/positions").json()["exchange2_base_lots"], abs=1e-6)


def test_the_instruments_study_command(tmp_path, capsys):
    from backtest.cli import main

    assert main(["instruments-study", "--out", str(tmp_path / "s"), "--ticks", "3000"]) == 0
    out = capsys.readouterr().out
    assert "BTC spot / COIN-M" in out and "mean_basis" in out
    assert (tmp_path / "s" / "instruments_study.csv").is_file() and (tmp_path / "s" / "instruments_net_delta.png").is_file()
    assert main(["instruments-study", "--out", str(tmp_path / "s"), "--ticks", "999999"]) == 2
    assert "allowed 10 to 343,000" in capsys.readouterr().err

