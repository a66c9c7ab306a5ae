"""Replaying recorded markets: queue position and fills on a hand-built recording (each queue model), hedges
on the recorded hedge book, the accounting identity on the shipped recording, and the rest of the tool
(interventions, API session, sweeps, bad configs) on a replay."""
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import backtest
from backtest.config import ConfigError, make_config, preset
from backtest.markets.data import MarketData, save
from backtest.interventions import Intervention
from backtest.research.sweep import SweepSpec, run_sweep
from kernels.records import ME_BBO_ASK, ME_BBO_BID, ME_BOOK, ME_TRADE, market_event_dt

T0 = 1_723_161_300_000_000_000
BID, ASK = 0, 1
BUYER, SELLER = 0, 1  # a trade's aggressor


def market(venue, rows, tick=0.01, lot=1.0):
    ev = np.zeros(len(rows), dtype=market_event_dt)
    for i, (ms, kind, side, price, qty) in enumerate(rows):
        ev[i] = (T0 + ms * 1_000_000, T0 + ms * 1_000_000, price, qty, kind, side, 0)
    return MarketData(venue=venue, symbol="TEST", source="test", tick_size=tick, lot_size=lot,
                      tick_size_inferred=False, lot_size_inferred=False, clock_offset_ns=0, events=ev)


def book_rows(ms, bid, ask, qty):
    return [(ms, ME_BOOK, BID, bid, qty), (ms, ME_BOOK, ASK, ask, qty), (ms, ME_BBO_BID, BID, bid, qty),
            (ms, ME_BBO_ASK, ASK, ask, qty)]


def replay_config(tmp_path, e1_rows, e2_rows=None, **overrides):
    e2_rows = e2_rows if e2_rows is not None else book_rows(0, 10000, 10002, 1000) + [(1500, ME_TRADE, BUYER, 10002, 1)]
    p1 = save(market("exchange1", e1_rows + [(1500, ME_TRADE, BUYER, 20000, 1)]), tmp_path / "e1")
    p2 = save(market("exchange2", e2_rows), tmp_path / "e2")
    base = {
        "sim": {"ticks": 1000, "dt_s": 0.001},
        "market": {"source": "replay", "tick_size": 0.01, "lot_size": 1.0, "volatility_per_sqrt_s": 0.01},
        "replay": {"exchange1": str(p1), "exchange2": str(p2)},
        "quoting": {"reference": "exchange1", "half_spread_ticks": 1.0, "vol_spread_multiplier": 0.0,
                    "drift_spread_multiplier": 0.0, "skew_ticks_per_lot": 0.0, "size_lots": 5,
                    "requote_tolerance_ticks": 100},
        "latency": {"order_median_ms": 0.01, "order_sigma": 0.0, "hedge_median_ms": 1.0, "hedge_sigma": 0.0,
                    "spike_probability": 0.0},
        "risk": {"soft_position_lots": 1000, "hard_position_lots": 1000, "stale_feed_s": 100.0},
        "fees": {"maker_bps_exchange1": 0.0, "taker_bps_exchange2": 0.0},
    }
    cfg = make_config(base)
    return cfg.with_dotted(overrides) if overrides else cfg


QUEUE_SCENARIO = book_rows(0, 10000, 10002, 10) + [
    (50, ME_BOOK, BID, 10000, 20),  # 10 lots join behind us
    (100, ME_BOOK, BID, 10000, 14),  # 6 lots leave without a trade: cancels, ahead of us or not
    (200, ME_TRADE, SELLER, 10000, 8),  # sellers hit the bid level
    (300, ME_TRADE, SELLER, 10000, 5),
]


@pytest.mark.parametrize("model,expected", [
    # risk averse: no cancel was ahead of us; 10 ahead -> 2 after 8 traded -> 3 of our 5 fill on the next 5
    ("risk_averse", [(300, 3)]),
    # probabilistic, n = 2: front 10 and back 10 at the cancel, so half of the 6 was ahead: front 7;
    # 8 traded -> 1 of ours fills; the next 5 fill the other 4
    ("probabilistic", [(200, 1), (300, 4)]),
])
def test_queue_models_on_a_hand_built_recording(tmp_path, model, expected):
    cfg = replay_config(tmp_path, QUEUE_SCENARIO, **{"replay.queue_model": model, "hedging.enabled": False})
    r = backtest.run(cfg)
    buys = r.fills[r.fills.side == "buy"]
    assert [(int(t), int(q)) for t, q in zip(buys.tick, buys.qty_lots)] == expected
    assert (buys.price == 100.00).all()
    assert len(r.fills[r.fills.side == "sell"]) == 0  # nothing traded at or through our ask
    t = r.ticks
    assert t.bid_queue_ahead_lots.iloc[10] == 10  # behind the visible 10 lots at placement


def test_a_trade_through_our_price_fills_all_we_have_left(tmp_path):
    rows = book_rows(0, 10000, 10002, 10) + [(100, ME_TRADE, BUYER, 10003, 7)]  # a buyer lifts above our ask
    r = backtest.run(replay_config(tmp_path, rows, **{"hedging.enabled": False}))
    sells = r.fills[r.fills.side == "sell"]
    assert list(sells.tick) == [100] and list(sells.qty_lots) == [5] and (sells.price == 100.02).all()


def test_the_touch_moving_through_our_price_fills_us(tmp_path):
    rows = book_rows(0, 10000, 10002, 10) + [(100, ME_BBO_ASK, ASK, 10000, 3)]  # asks come down to our bid
    r = backtest.run(replay_config(tmp_path, rows, **{"hedging.enabled": False}))
    assert list(r.fills[r.fills.side == "buy"].tick) == [100]


def test_hedges_walk_the_recorded_book_and_liquidity_stays_taken(tmp_path):
    """A 5-lot fill is hedged by selling into the hedge venue's bids: 3 at the best, 2 at the next; the next
    hedge finds the best level still taken until the recording updates it."""
    e2 = book_rows(0, 10000, 10002, 3) + [(0, ME_BOOK, BID, 9999, 10)] + [(1500, ME_TRADE, BUYER, 10002, 1)]
    rows = book_rows(0, 10000, 10002, 0) + [(100, ME_TRADE, SELLER, 9999, 5), (400, ME_TRADE, SELLER, 9999, 5)]
    r = backtest.run(replay_config(tmp_path, rows, e2, **{"hedging.slippage_buffer_ticks": 5}))
    h = r.hedges[r.hedges.qty_filled_lots > 0]
    assert list(h.qty_filled_lots[:2]) == [5, 5]
    assert h.vwap_price.iloc[0] == pytest.approx((3 * 100.00 + 2 * 99.99) / 5)
    assert h.vwap_price.iloc[1] == pytest.approx(99.99)  # the best level's 3 lots are still taken


@pytest.fixture(scope="module")
def shipped():
    cfg = preset("replay_binance_btcusdt_20240808").with_dotted({"sim.ticks": 30_000})
    return cfg, backtest.run(cfg, [Intervention(5000, "manual_fill", "buy", 2000), Intervention(20000, "kill")])


def test_accounting_identity_on_every_replay_tick(shipped):
    _, r = shipped
    t = r.ticks
    parts = t.spread_capture + t.hedge_cost + t.inventory_mtm - t.fees
    assert np.abs(parts - t.total_pnl).max() < 1e-9
    assert np.abs(t.realized_pnl + t.unrealized_pnl - t.fees - t.total_pnl).max() < 1e-9
    # marks are the venues' mids; the quotes sit around the perpetual's price corrected by the basis (-22.7)
    assert abs(t.feed1_price.iloc[0] - t.feed2_price.iloc[0] - 23.8) < 5
    assert abs(t.reference_price.iloc[-1] - t.feed1_price.iloc[-1]) < 5


def test_interventions_and_the_kill_switch_on_a_replay(shipped):
    _, r = shipped
    manual = r.fills[r.fills.liquidity == "manual"]
    assert list(manual.tick) == [5000] and list(manual.qty_lots) == [2000]
    hedged = r.hedges[(r.hedges.first_fill_tick == 5000) & (r.hedges.qty_filled_lots > 0)]
    assert hedged.qty_filled_lots.sum() == 2000  # two perpetual lots of 0.001 BTC
    assert (r.ticks.state.iloc[20000:] == "killed").all() and not (r.fills.tick >= 20000).any()


def test_replay_is_deterministic_and_seeded_latencies_change_it(shipped):
    cfg, r = shipped
    again = backtest.run(cfg, [Intervention(5000, "manual_fill", "buy", 2000), Intervention(20000, "kill")])
    assert again.ticks_raw.tobytes() == r.ticks_raw.tobytes()


def test_api_session_on_a_replay():
    from api.app import create_app

    cfg = preset("replay_binance_btcusdt_20240808").with_dotted({"sim.ticks": 20_000})
    with TestClient(create_app(cfg, ticks_per_second=0.0)) as c:
        c.post("/clock/step", json={"ticks": 3000})
        r = c.post("/fills/manual", json={"side": "sell", "qty_lots": 1000})
        assert r.status_code == 200, r.text
        assert r.json()["position_after"]["inv1_lots"] <= -1000 + 10_000
        assert c.post("/control/pause").status_code == 200
        q = c.get("/quotes").json()
        assert q["feed1_price"] > 60000 and q["quote_bid_price"] is None
        state = c.get("/dashboard/state", params={"since": -1, "max_points": 50}).json()
        assert state["positions"]["exchange1_lots"] == r.json()["position_after"]["inv1_lots"]
        assert len(state["series"]["tick"]) == 50
        reset = c.post("/reset", json={"preset": "replay_binance_btcusdt_20240808",
                                       "config": {"sim": {"ticks": 5000}}})
        assert reset.status_code == 200, reset.text


def test_a_hedge_venue_outage_on_a_replay_fires_the_kill_switch():
    cfg = preset("replay_binance_btcusdt_20240808").with_dotted(
        {"sim.ticks": 150_000, "latency.outage_windows_s": [(50.0, 120.0)]})
    r = backtest.run(cfg)
    first = r.risk_events.iloc[0]
    assert (first.to_state, first.reason) == ("killed", "hedge failure") and 50 <= first.time_s < 120
    rejected = r.hedges[r.hedges.status == "rejected"]
    assert len(rejected) >= 6 and ((rejected.time_s >= 50) & (rejected.time_s < 120)).all()


def test_sweep_over_the_queue_model_on_a_replay():
    base = preset("replay_binance_btcusdt_20240808").with_dotted({"sim.ticks": 20_000})
    result = run_sweep(SweepSpec(grid={"replay.queue_model": ["risk_averse", "probabilistic"]}, seeds=(1,), base=base),
                       workers=1)
    assert len(result.runs) == 2


def test_a_sweep_over_several_recordings_as_one_joint_axis(tmp_path, capsys):
    """Recordings (days, or symbols) are one grid axis of keys that vary together: each point is the run of
    its recordings alone; the CLI takes it as --grid k1+k2=a1+a2,b1+b2; a value without a part per key is
    refused with the axis named."""
    from backtest.cli import main
    from backtest.research.sweep import run_metrics

    btc, eth = "data/binance-btcusdt-2024-08-08", "data/binance-ethusdt-2024-08-08"
    axis = "replay.exchange1+replay.exchange2+market.volatility_per_sqrt_s"
    values = [f"{btc}/spot.jsonl.gz+{btc}/usdm.jsonl.gz+8.0", f"{eth}/spot.jsonl.gz+{eth}/usdm.jsonl.gz+0.3"]
    base = preset("replay_binance_btcusdt_20240808").with_dotted({"sim.ticks": 20_000})
    spec = SweepSpec(grid={axis: values}, seeds=(1, 2), base=base)
    result = run_sweep(spec, workers=1)
    assert len(result.runs) == 4 and len(result.table) == 2
    for _, row in result.runs.iterrows():
        alone = make_config(base.model_dump(), **SweepSpec.overrides({axis: row[axis]}), **{"sim.seed": row["seed"]})
        assert row["net_pnl"] == run_metrics(alone)["net_pnl"]
    eth_rows = result.runs[result.runs[axis] == values[1]]
    assert (eth_rows["net_pnl"] != result.runs[result.runs[axis] == values[0]]["net_pnl"].to_numpy()).all()
    import warnings

    with warnings.catch_warnings():  # the chart labels the long joint values so that they fit (no layout warning)
        warnings.simplefilter("error", UserWarning)
        assert main(["sweep", "--preset", "replay_binance_btcusdt_20240808", "--ticks", "5000", "--seeds", "1",
                     "--workers", "1", "--quiet", "--grid", f"{axis}={','.join(values)}",
                     "--out", str(tmp_path / "out")]) == 0
    assert len(pd.read_csv(tmp_path / "out" / "table.csv")) == 2
    capsys.readouterr()
    assert main(["sweep", "--preset", "replay_binance_btcusdt_20240808", "--seeds", "1", "--grid",
                 f"replay.exchange1+replay.exchange2={btc}/spot.jsonl.gz"]) == 2
    assert "has 1 part(s), the axis 2 keys" in capsys.readouterr().err


@pytest.mark.parametrize("overrides,needle", [
    ({"replay.exchange2": ""}, "replay.exchange2"),
    ({"quoting.fill_model": "intensity"}, "fill_model"),
    ({"sim.ticks": 400_000}, "cover 344,513 ticks"),
    ({"market.tick_size": 0.02}, "not a whole multiple"),
    ({"replay.exchange1": "no/such/file.jsonl.gz"}, "no such file"),
])
def test_bad_replay_configs(overrides, needle):
    with pytest.raises(ConfigError) as err:
        backtest.run(make_config(preset("replay_binance_btcusdt_20240808").model_dump(), **overrides))
    assert needle in str(err.value)


def test_run_report_on_a_replay(tmp_path, shipped):
    from reports.run_report import write_report

    _, r = shipped
    files = write_report(r, tmp_path / "report")
    html = files.html.read_text()
    assert "replay" in html and "<img" in html
    assert (tmp_path / "report" / "quotes.png").stat().st_size > 10_000


def test_the_latency_kill_switch_checks_the_latency_of_hedges_sent(tmp_path):
    """On 1 ms ticks the kill switch looks at the hedge latency when a fill sends a hedge, not at every
    tick's draw: without fills a 5 s latency kills nothing; the first fill's hedge does."""
    slow = {"latency.hedge_median_ms": 5000.0}
    quiet = backtest.run(replay_config(tmp_path, book_rows(0, 10000, 10002, 10), **slow))
    assert len(quiet.fills) == 0 and (quiet.ticks.state != "killed").all()
    rows = book_rows(0, 10000, 10002, 10) + [(400, ME_TRADE, BUYER, 10003, 7)]
    r = backtest.run(replay_config(tmp_path, rows, **slow))
    kill = r.risk_events[r.risk_events.to_state == "killed"]
    assert list(kill.tick) == [400] and kill.reason.iloc[0] == "hedge latency spike"


def test_the_replay_study_on_a_span_without_fills_writes_its_charts(tmp_path, capsys):
    from backtest.cli import main

    assert main(["replay-study", "--ticks", "1000", "--out", str(tmp_path / "rs")]) == 0  # was a log-scale ValueError
    assert (tmp_path / "rs" / "replay_half_spread.png").is_file()


def test_the_memory_estimate_reads_the_recordings_size_and_refuses_a_huge_one_unread(tmp_path):
    """A normalised file counts its rows (from the Parquet footer), a capture its size's bound; a capture too
    big for the memory budget is refused before a byte of it is read."""
    from backtest.config import ConfigError, preset
    from backtest.markets.data import import_capture, save
    from backtest.markets.generate import generate
    from backtest.resources import estimate_memory, recording_events

    from backtest.markets.data import PROJECT_ROOT

    spot = PROJECT_ROOT / "data" / "binance-btcusdt-2024-08-08" / "spot.jsonl.gz"
    saved = save(import_capture(spot, "spot"), tmp_path)
    assert recording_events(str(saved)) == [191_904]
    bound = recording_events(str(spot))[0]
    assert 191_904 < bound < 2 * 191_904
    huge = tmp_path / "huge.jsonl.gz"
    with open(huge, "wb") as fh:
        fh.write(b"\x1f\x8b")
        fh.truncate(200 << 30)  # 200 GiB, sparse: a year of captures
    cfg = preset("replay_binance_btcusdt_20240808").with_dotted({"replay.exchange1": str(huge)})
    est = estimate_memory(cfg)
    assert est.parts["recording"] > 100 << 30
    with pytest.raises(ConfigError, match="memory budget") as err:
        generate(cfg)
    assert "a shorter recording" in str(err.value)


@pytest.mark.parametrize("clock", ["receive", "split"])
def test_building_a_replay_market_leaves_the_loaded_recording_as_it_was(clock):
    """The grid rescales prices (the perpetual's 0.1 to the run's 0.01: x10) in its own copy, never in the
    recording every later run in the process shares."""
    from backtest.markets.generate import generate
    from backtest.markets.replay import load_venue

    cfg = preset("replay_binance_btcusdt_20240808").with_dotted({"sim.ticks": 5000, "replay.clock": clock})
    before = [load_venue(p, v).events.tobytes() for p, v in ((cfg.replay.exchange1, "exchange1"),
                                                               (cfg.replay.exchange2, "exchange2"))]
    first = generate(cfg)
    second = generate(cfg)
    assert [load_venue(p, v).events.tobytes() for p, v in ((cfg.replay.exchange1, "exchange1"),
                                                            (cfg.replay.exchange2, "exchange2"))] == before
    assert first.events2.table.tobytes() == second.events2.table.tobytes()
    assert not np.shares_memory(first.events2.table, load_venue(cfg.replay.exchange2, "exchange2").events)


def test_the_depth_checks_sum_stops_once_it_has_enough():
    """``available_within`` walks the levels within the buffer only until the lots needed are there: a result at
    or above ``enough`` may be short of the whole, one below it is the whole (what the depth check relies on)."""
    from kernels.replay import BIG_LOTS, available_within, new_book, set_level

    b = new_book(1000, 100)
    taken = np.zeros(200, dtype=np.int64)
    for price, qty in ((1050, 5), (1049, 7), (1047, 11), (1030, 100)):  # bids
        set_level(b, 0, price, qty)
    taken[1049 - 1000] = 2  # a hedge took 2 of 1049's 7 lots
    whole = available_within(b, taken, 0, 5, BIG_LOTS)
    assert whole == 5 + 5 + 11  # 1030 lies past the 5-tick buffer
    assert available_within(b, taken, 0, 5, 5) == 5  # the touch is enough
    assert available_within(b, taken, 0, 5, 6) == 10  # two levels
    assert available_within(b, taken, 0, 5, whole + 1) == whole  # not enough anywhere: the whole
    assert available_within(b, taken, 0, 30, BIG_LOTS) == whole + 100
