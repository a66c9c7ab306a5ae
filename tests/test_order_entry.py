"""Order entry that holds: the hard position limit re-checked when a slow order lands, a pause that holds like a
kill, replay order latency in the recording's own milliseconds on any tick size, the stale-feed pause on a
replay quoting off Exchange 1's feed, and the kill records of the flatten-at-market escalation."""
import numpy as np
import pytest

import backtest
from backtest.config import preset
from backtest.interventions import Intervention
from tests.test_replay import ASK, BID, BUYER, SELLER, book_rows, replay_config
from kernels.records import ME_TRADE

REPLAY = "replay_binance_btcusdt_20240808"


@pytest.mark.parametrize("extra", [{}, {"latency.order_median_ms": 300.0, "clients.rate_per_s": 4.0}])
def test_the_tick_rows_quote_sizes_are_what_rests_in_the_book(extra):
    """Each tick row's quote size equals the resting order's lots rebuilt from the logs: the last order placed on
    that side, less its fills up to that tick. The kernel takes the figure from its quoting step (it has just looked
    at the order) rather than looking the order up again; with slow order entry quotes travel and cancels are sent."""
    cfg = backtest.make_config(**{"sim.ticks": 3000, "clients.rate_per_s": 2.0, **extra})
    r = backtest.run(cfg)
    t, orders, fills = r.ticks, r.orders, r.fills
    checked = 0
    for side, price_col, lots_col in (("buy", "quote_bid_price", "quote_bid_lots"),
                                      ("sell", "quote_ask_price", "quote_ask_lots")):
        new = orders[(orders.action == "new") & (orders.side == side)]
        mine = fills[fills.side == side]
        resting = t[t[price_col].notna()]
        assert len(resting) > 1000 and len(new) > 50
        at = np.searchsorted(new.tick.to_numpy(), resting.index.to_numpy(), side="right") - 1
        for tick, k, lots in zip(resting.index, at, resting[lots_col]):
            oid, placed = new.order_id.iloc[k], new.qty_lots.iloc[k]
            done = mine.qty_lots[(mine.order_id == oid) & (mine.tick <= tick)].sum()
            assert lots == placed - done, (tick, oid, lots, placed, done)
            checked += 1
    assert checked > 2000


@pytest.mark.parametrize("seed", [1, 5, 7])
def test_hard_limit_holds_under_slow_order_entry(seed):
    # 800 ms order latency: an order sized when sent used to land after fills had used the room (7-8 lots)
    cfg = backtest.make_config(**{"sim.ticks": 3000, "sim.seed": seed, "latency.order_median_ms": 800.0,
                                  "risk.hard_position_lots": 6, "risk.soft_position_lots": 4,
                                  "clients.rate_per_s": 4.0})
    r = backtest.run(cfg)
    assert int(np.abs(r.ticks.inv1_lots).max()) <= 6
    # the limit bit: some landing order was trimmed or dropped (placed smaller than the quote size)
    new = r.orders[r.orders.action == "new"]
    assert (new.qty_lots < cfg.quoting.size_lots).any()


def test_hard_limit_holds_on_a_replay_with_slow_order_entry():
    cfg = preset(REPLAY).with_dotted({"latency.order_median_ms": 150.0, "risk.hard_position_lots": 2000,
                                      "risk.soft_position_lots": 1500})
    r = backtest.run(cfg)
    assert len(r.fills) > 10
    assert int(np.abs(r.ticks.inv1_lots).max()) <= 2000


def maker_fills_while_paused(r, start, end):
    f = r.fills[(r.fills.liquidity == "maker") & (r.fills.tick >= start) & (r.fills.tick < end)]
    return len(f)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_manual_pause_holds_like_a_kill(seed):
    # slow order entry: orders sent before the pause land during it; they are cancelled on arrival, and the
    # pause pulls what rests before that tick's flow
    cfg = backtest.make_config(**{"sim.ticks": 2000, "sim.seed": seed, "latency.order_median_ms": 600.0,
                                  "clients.rate_per_s": 6.0})
    pauses = [(400, 700), (1000, 1300), (1500, 1800)]
    iv = [Intervention(a, "pause") for a, _ in pauses] + [Intervention(b, "resume") for _, b in pauses]
    r = backtest.run(cfg, sorted(iv, key=lambda i: i.tick))
    for a, b in pauses:
        assert maker_fills_while_paused(r, a, b) == 0
        landed = r.orders[(r.orders.tick >= a) & (r.orders.tick < b) & (r.orders.action == "new")]
        for oid in landed.order_id:  # placed and cancelled in the same tick
            rows = r.orders[r.orders.order_id == oid]
            assert list(rows.action) == ["new", "cancel"] and rows.tick.nunique() == 1
            assert rows.reason.iloc[-1] == "risk"


def test_a_manual_pause_holds_on_a_replay():
    cfg = preset(REPLAY).with_dotted({"sim.ticks": 200_000, "latency.order_median_ms": 100.0})
    pauses = [(20_000, 60_000), (90_000, 150_000)]
    iv = [Intervention(a, "pause") for a, _ in pauses] + [Intervention(b, "resume") for _, b in pauses]
    r = backtest.run(cfg, sorted(iv, key=lambda i: i.tick))
    assert len(r.fills) > 0
    for a, b in pauses:
        assert maker_fills_while_paused(r, a, b) == 0


def landing_rows(dt_s, latency_ms, trades):
    """A quiet hand-built recording: one book at 0 ms, then ``trades`` (ms, aggressor, price, lots)."""
    rows = book_rows(0, 10000, 10002, 10) + [(ms, ME_TRADE, side, px, q) for ms, side, px, q in trades]
    return rows


@pytest.mark.parametrize("dt_s,latency_ms,landing_tick", [
    # sent at the end of tick 0 (1 ms), lands at 11 ms: the end of tick 10, in place when the strategy decides
    # then and for every event from 11 ms on (it used to act at 8 ms)
    (0.001, 10.0, 10),
    (0.001, 3.5, 4),  # lands at 4.5 ms, inside tick 4
    (0.1, 10.0, 1),  # 100 ms ticks: lands at 110 ms, inside tick 1 (it used to act at once)
    (0.1, 250.0, 3),  # lands at 350 ms
])
def test_replay_order_latency_is_the_configured_milliseconds(tmp_path, dt_s, latency_ms, landing_tick):
    ticks = int(round(1.4 / dt_s))
    cfg = replay_config(tmp_path, landing_rows(dt_s, latency_ms, []),
                        **{"sim.dt_s": dt_s, "sim.ticks": ticks, "latency.order_median_ms": latency_ms,
                           "hedging.enabled": False})
    r = backtest.run(cfg)
    first = r.orders[r.orders.action == "new"].tick.min()
    assert first == landing_tick
    t = r.ticks
    # shown in flight from the tick it was sent until it landed
    assert (t.bid_in_flight_price.iloc[:landing_tick].notna()).all()


def test_replay_orders_meet_only_the_events_after_they_arrive(tmp_path):
    # 100 ms ticks, 10 ms latency: our bid (sent at 100 ms) arrives at 110 ms. A seller trading through it at
    # 105 ms is before it arrives; one at 115 ms (same tick) fills it.
    trades = [(105, SELLER, 9999, 3), (115, SELLER, 9999, 3)]
    cfg = replay_config(tmp_path, landing_rows(0.1, 10.0, trades),
                        **{"sim.dt_s": 0.1, "sim.ticks": 14, "latency.order_median_ms": 10.0,
                           "hedging.enabled": False})
    r = backtest.run(cfg)
    buys = r.fills[r.fills.side == "buy"]
    assert list(buys.tick) == [1] and list(buys.qty_lots) == [5]
    trades_late = [(105, SELLER, 9999, 3)]
    r = backtest.run(replay_config(tmp_path, landing_rows(0.1, 10.0, trades_late),
                                   **{"sim.dt_s": 0.1, "sim.ticks": 14, "latency.order_median_ms": 10.0,
                                      "hedging.enabled": False}))
    assert len(r.fills) == 0


def test_replay_order_landing_on_a_tick_boundary_meets_the_events_from_then_on(tmp_path):
    # 1 ms ticks, 10 ms latency: our bid sent at 1 ms lands at exactly 11 ms. A seller trading through it at
    # 10.9 ms is before it; one at 11.0 ms meets it.
    def bought(trade_ms):
        cfg = replay_config(tmp_path, landing_rows(0.001, 10.0, [(trade_ms, SELLER, 9999, 3)]),
                            **{"sim.dt_s": 0.001, "sim.ticks": 30, "latency.order_median_ms": 10.0,
                               "hedging.enabled": False})
        return backtest.run(cfg).fills.query("side == 'buy'").tick.tolist()
    assert bought(10.9) == []
    assert bought(11.0) == [11]


def test_replay_cancel_latency_is_the_configured_milliseconds():
    cfg = preset(REPLAY).with_dotted({"sim.ticks": 30_000, "latency.order_median_ms": 10.0,
                                      "latency.order_sigma": 0.0})
    o = backtest.run(cfg).orders
    sent = o[o.action == "cancel_sent"].set_index("order_id").tick
    done = o[o.action == "cancel"].drop_duplicates("order_id", keep="last").set_index("order_id").tick
    both = sent.index.intersection(done.index)
    assert len(both) > 10
    # sent at the end of tick s (s + 1 ms), it acts at s + 11 ms: the end of tick s + 10 (or the order filled
    # first)
    assert ((done[both] - sent[both]) == 10).all()


def test_stale_feed_pause_fires_on_a_replay_quoting_off_exchange1():
    cfg = preset(REPLAY).with_dotted({"sim.ticks": 100_000, "quoting.reference": "exchange1",
                                      "quoting.basis_halflife_s": 0.0, "risk.stale_feed_s": 0.2})
    ev = backtest.run(cfg).risk_events
    stale = ev[ev.reason == "stale reference feed"]
    assert len(stale) > 0
    assert (ev.reason == "reference feed updating again").sum() >= len(stale) - 1


def test_flatten_at_market_kill_records_the_attempt_limit_it_crossed():
    cfg = preset("fault_hedge_outage").with_dotted({"hedging.escalation": "flatten_at_market",
                                                     "hedging.max_retries": 5})
    r = backtest.run(cfg)
    kill = r.risk_events[r.risk_events.reason == "hedge failure"]
    assert len(kill) == 1
    assert kill.value.iloc[0] == 12 and kill.limit.iloc[0] == 11  # fires past 2 x 5 + 1 attempts


# -- replay options a user lines up with another backtester ------------------------------------------------
def test_without_partial_fills_the_whole_order_fills_once_the_queue_is_gone(tmp_path):
    from tests.test_replay import QUEUE_SCENARIO

    for partial, expected in ((True, [(300, 3)]), (False, [(300, 5)])):
        cfg = replay_config(tmp_path, QUEUE_SCENARIO, **{"replay.queue_model": "risk_averse", "hedging.enabled": False,
                                                         "replay.partial_fills": partial})
        buys = backtest.run(cfg).fills
        buys = buys[buys.side == "buy"]
        assert [(int(t), int(q)) for t, q in zip(buys.tick, buys.qty_lots)] == expected


def test_without_the_book_ticker_the_touch_comes_from_depth_alone(tmp_path):
    from kernels.records import ME_BBO_ASK

    rows = book_rows(0, 10000, 10002, 10) + [(100, ME_BBO_ASK, ASK, 10000, 3)]  # asks come down to our bid
    with_ticker = backtest.run(replay_config(tmp_path, rows, **{"hedging.enabled": False}))
    assert list(with_ticker.fills.tick) == [100]
    depth_only = backtest.run(replay_config(tmp_path, rows, **{"hedging.enabled": False,
                                                                "replay.book_ticker": False}))
    assert len(depth_only.fills) == 0


def test_exchange_clock_matches_on_the_venue_s_timestamps(tmp_path):
    from backtest.markets.data import save
    from tests.test_replay import T0, market

    cfg = replay_config(tmp_path, book_rows(0, 10000, 10002, 10) + [(400, ME_TRADE, BUYER, 10003, 7)],
                        **{"hedging.enabled": False})
    # the trade was received at 400 ms but happened on the venue at 150 ms (250 ms of feed latency)
    d = market("exchange1", book_rows(0, 10000, 10002, 10) + [(400, ME_TRADE, BUYER, 10003, 7),
                                                                (1500, ME_TRADE, BUYER, 20000, 1)])
    ev = d.events
    ev["exch_ts"][ev["recv_ts"] == T0 + 400 * 1_000_000] = T0 + 150 * 1_000_000
    p1 = save(d, tmp_path / "e1_lagged")
    cfg = cfg.with_dotted({"replay.exchange1": str(p1)})
    assert list(backtest.run(cfg).fills.tick) == [400]
    assert list(backtest.run(cfg.with_dotted({"replay.clock": "exchange"})).fills.tick) == [150]


def test_decision_interval_requotes_only_on_its_ticks():
    cfg = preset(REPLAY).with_dotted({"sim.ticks": 30_000, "replay.decision_interval_ms": 100.0,
                                      "quoting.requote_tolerance_ticks": 1})
    o = backtest.run(cfg).orders
    decided = o[(o.action == "cancel_sent") & (o.reason == "requote")]
    assert len(decided) > 5
    assert ((decided.tick + 1) % 100 == 0).all()
    every_tick = backtest.run(cfg.with_dotted({"replay.decision_interval_ms": 0.0})).orders
    decided_every = every_tick[(every_tick.action == "cancel_sent") & (every_tick.reason == "requote")]
    assert len(decided_every) > len(decided)


def test_decision_interval_must_be_whole_ticks():
    from backtest.config import ConfigError, make_config

    with pytest.raises(ConfigError, match="decision_interval_ms 1.5 is not a whole number of ticks"):
        make_config(preset(REPLAY).model_dump(), **{"replay.decision_interval_ms": 1.5})


def test_a_kill_on_a_replay_cancels_resting_quotes_at_once_without_a_travelling_cancel():
    cfg = preset(REPLAY).with_dotted({"sim.ticks": 30_000})
    r = backtest.run(cfg, [Intervention(20_000, "kill")])
    at_kill = r.orders[r.orders.tick == 20_000]
    assert (at_kill.action == "cancel").any()
    assert not (at_kill.action == "cancel_sent").any()
    assert (at_kill[at_kill.action == "cancel"].reason == "kill switch").all()
