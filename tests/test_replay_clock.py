"""replay.clock on a hand-built recording whose events reach the recorder late: 'receive' matches and shows
them when received, 'exchange' when they happened, 'split' matches when they happened and shows the strategy
what it had received (hftbacktest's model); and the import's exchange time is the matching engine's T."""
import gzip
import json

import numpy as np
import pytest

import backtest
from backtest.markets.data import import_capture, save
from kernels.records import ME_BBO_ASK, ME_BBO_BID, ME_BOOK, market_event_dt
from backtest.markets.data import MarketData
from kernels.records import ME_TRADE
from tests.test_replay import ASK, BID, SELLER, T0, book_rows, replay_config


def late_market(venue, rows):
    """``rows``: (exchange ms, received ms, kind, side, price, lots)."""
    ev = np.zeros(len(rows), dtype=market_event_dt)
    for i, (ex, rc, kind, side, price, qty) in enumerate(rows):
        ev[i] = (T0 + int(ex * 1e6), T0 + int(rc * 1e6), price, qty, kind, side, 0)
    ev = ev[np.argsort(ev["recv_ts"], kind="stable")]
    return MarketData(venue=venue, symbol="TEST", source="test", tick_size=0.01, lot_size=1.0,
                      tick_size_inferred=False, lot_size_inferred=False, clock_offset_ns=0, events=ev)


def jump_run(tmp_path, clock):
    # the book jumps up 10 ticks at 5 ms on the venue; the recorder gets it at 30 ms
    rows = [(ms, ms, kind, side, px, q) for ms, kind, side, px, q in book_rows(0, 10000, 10002, 10)]
    rows += [(5, 30, ME_BOOK, BID, 10000, 0), (5, 30, ME_BOOK, ASK, 10002, 0),
             (5, 30, ME_BOOK, BID, 10010, 10), (5, 30, ME_BOOK, ASK, 10012, 10),
             (5, 30, ME_BBO_BID, BID, 10010, 10), (5, 30, ME_BBO_ASK, ASK, 10012, 10)]
    cfg = replay_config(tmp_path, [], **{"sim.ticks": 60, "replay.clock": clock})
    p1 = save(late_market("exchange1", rows + [(1500, 1500, 3, 0, 20000, 1)]), tmp_path / f"late-{clock}")
    return backtest.run(cfg.with_dotted({"replay.exchange1": str(p1)}))


def test_receive_clock_matches_and_shows_the_jump_when_received(tmp_path):
    r = jump_run(tmp_path, "receive")
    assert r.fills.query("side == 'sell'").tick.tolist()[:1] == [30]  # the jump crosses our ask at 30 ms
    assert r.ticks.reference_price.iloc[29] == pytest.approx(100.01)
    assert r.ticks.reference_price.iloc[30] == pytest.approx(100.11)


def test_exchange_clock_matches_and_shows_the_jump_when_it_happened(tmp_path):
    r = jump_run(tmp_path, "exchange")
    assert r.fills.query("side == 'sell'").tick.tolist()[:1] == [5]
    assert r.ticks.reference_price.iloc[5] == pytest.approx(100.11)
    assert r.ticks.quote_ask_price.iloc[10] == pytest.approx(100.12)  # re-quoted on the new book at once


def test_split_clock_matches_when_it_happened_and_decides_on_what_was_received(tmp_path):
    r = jump_run(tmp_path, "split")
    t = r.ticks
    assert r.fills.query("side == 'sell'").tick.tolist()[:1] == [5]  # the venue filled us at 5 ms
    # the strategy still sees the old book until 30 ms: it re-sends its ask at 100.02, which the venue's book
    # (bid 100.10) rejects as crossing when it lands: nothing rests on the ask until the news arrives
    assert t.reference_price.iloc[29] == pytest.approx(100.01)
    assert t.quote_ask_price.iloc[6:30].isna().all()
    assert t.ask_in_flight_price.iloc[6:29].dropna().eq(100.02).all()
    assert t.reference_price.iloc[30] == pytest.approx(100.11)
    assert t.quote_ask_price.iloc[35] == pytest.approx(100.12)
    assert len(r.fills.query("side == 'sell'")) == 1


def test_split_clock_memory_estimate_counts_the_view(tmp_path):
    from backtest.resources import estimate_memory
    cfg = replay_config(tmp_path, book_rows(0, 10000, 10002, 10), **{"sim.ticks": 1000})
    a = estimate_memory(cfg).total
    b = estimate_memory(cfg.with_dotted({"replay.clock": "split"})).total
    assert b - a == 16 * 1000


def test_import_takes_the_matching_engines_time_where_the_message_has_one(tmp_path):
    # a USD-M depth update pushed (E) 11 ms after the change it describes (T): the event's exchange time is T;
    # the recorder's clock offset is still measured against the push time
    local0 = 1_700_000_000_000_000_000
    snap = {"lastUpdateId": 100, "E": 1_700_000_000_000, "T": 1_700_000_000_000,
            "bids": [["100.0", "1.000"]], "asks": [["100.2", "1.000"]]}
    diff = {"e": "depthUpdate", "E": 1_700_000_000_020, "T": 1_700_000_000_009, "s": "BTCUSDT", "U": 99,
            "u": 101, "pu": 98, "b": [["100.1", "2.000"]], "a": []}
    lines = [f"{local0} " + json.dumps(snap),
             f"{local0 + 21_000_000} " + json.dumps({"stream": "btcusdt@depth@0ms", "data": diff})]
    path = tmp_path / "usdm.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write("\n".join(lines) + "\n")
    d = import_capture(str(path), venue="exchange2")
    ev = d.events[d.events["price"] == 1001]
    assert len(ev) == 1
    assert ev["exch_ts"][0] == 1_700_000_000_009 * 1_000_000
    # offset from the push times: snapshot local - E = 0 and diff 21 - 20 = 1 ms: the smallest, 0
    assert d.clock_offset_ns == local0 - 1_700_000_000_000 * 1_000_000
    assert ev["recv_ts"][0] - ev["exch_ts"][0] == 12_000_000


def response_run(tmp_path, response_ms, **extra):
    # 1 ms ticks, 10 ms order latency: our bid (sent at 1 ms) lands at 11 ms; a seller trades through it at 20 ms
    rows = book_rows(0, 10000, 10002, 10) + [(20, ME_TRADE, SELLER, 9999, 3)]
    cfg = replay_config(tmp_path, rows, **{"sim.ticks": 80, "latency.order_median_ms": 10.0,
                                           "replay.response_latency_ms": response_ms, **extra})
    return backtest.run(cfg)


def test_response_latency_delays_what_the_strategy_does_after_its_news(tmp_path):
    r0 = response_run(tmp_path, 0.0)
    r5 = response_run(tmp_path, 5.0)
    for r in (r0, r5):
        assert r.fills.query("side == 'buy'").tick.tolist() == [20]
    # the replacement bid leaves when the strategy next decides after hearing of the fill (filled at 20 ms):
    # at the end of tick 20 (21 ms), or, heard of at 25 ms, at the end of tick 24 (25 ms); each travels 10 ms
    # and is in place at the end of tick 30 or 34
    def replaced(r):
        new = r.orders[(r.orders.action == "new") & (r.orders.side == "buy")]
        return new.tick.tolist()[1]
    assert replaced(r0) == 30
    assert replaced(r5) == 34
    # the hedge leaves when the strategy hears of the fill (1 ms hedge latency)
    assert r5.hedges.tick.iloc[0] - r0.hedges.tick.iloc[0] == 5
    assert r5.hedges.fill_to_hedge_latency_ms.iloc[0] - r0.hedges.fill_to_hedge_latency_ms.iloc[0] == pytest.approx(5.0)
    assert r5.summary_dict["response_reports_early"] == 0


def test_response_latency_keeps_a_fill_out_of_the_skew_until_it_is_heard_of(tmp_path):
    r = response_run(tmp_path, 5.0, **{"quoting.skew_ticks_per_lot": 0.2, "hedging.enabled": False})
    res = r.ticks.reservation_price
    # bought 5 lots at 20 ms, heard of at 25 ms: the end of tick 24, when the strategy decides
    assert res.iloc[20] == res.iloc[19] == res.iloc[23]
    assert res.iloc[24] == pytest.approx(res.iloc[23] - 5 * 0.2 * 0.01)
    # the position and the risk checks see the fill at once
    assert r.ticks.inv1_lots.iloc[20] == 5


def test_response_latency_waits_for_a_reject(tmp_path):
    # the book moves up under our ask (sent at 1 ms, landing at 11 ms): the venue rejects it as crossing; the
    # strategy hears of that at 11 + 7 ms and sends the next ask then (at the end of tick 17)
    rows = book_rows(0, 10000, 10002, 10) + [(5, ME_BOOK, BID, 10000, 0), (5, ME_BOOK, BID, 10003, 10),
                                             (5, ME_BBO_BID, BID, 10003, 10), (5, ME_BOOK, ASK, 10002, 0),
                                             (5, ME_BOOK, ASK, 10005, 10), (5, ME_BBO_ASK, ASK, 10005, 10)]
    def first_ask_landing(response_ms):
        cfg = replay_config(tmp_path, rows, **{"sim.ticks": 60, "latency.order_median_ms": 10.0,
                                               "replay.response_latency_ms": response_ms,
                                               "quoting.requote_tolerance_ticks": 0})
        o = backtest.run(cfg).orders
        return o[(o.action == "new") & (o.side == "sell")].tick.min()
    # no news delay: the first ask was rejected at 11 ms, the next one sent at 11 ms lands at 21 ms (tick 20)
    assert first_ask_landing(0.0) == 20
    assert first_ask_landing(7.0) == 27


@pytest.mark.parametrize("key", ["replay.response_latency_ms", "replay.decision_interval_ms"])
def test_replay_only_delays_are_refused_on_the_synthetic_market(key):
    from backtest.config import ConfigError, make_config
    with pytest.raises(ConfigError, match=key.replace(".", r"\.") + ".*allowed: 0 unless market.source = 'replay'"):
        make_config(**{key: 100.0})


@pytest.mark.parametrize("clock", ["receive", "exchange", "split"])
@pytest.mark.parametrize("book_ticker", [True, False])
def test_a_venues_readers_share_its_events_and_each_scales_its_own(clock, book_ticker):
    """A venue's scan, matching stream and (split) the strategy's stream read one loaded, filtered array; a
    stream rescaling prices and sizes onto a finer grid (the perpetual's 0.1 USD ticks and 0.001 BTC lots on the
    preset's 0.01 and 1e-6) must do it on its own copy: the loaded recording and the other readers' events keep
    the recorded values, and building the market again gives the same market."""
    from backtest.markets.generate import generate

    cfg = backtest.preset("replay_binance_btcusdt_20240808").with_dotted(
        {"sim.ticks": 20_000, "replay.clock": clock, "replay.book_ticker": book_ticker})
    first, again = generate(cfg), generate(cfg)
    for a, b in ((first.events1, again.events1), (first.events2, again.events2)):
        assert a.table.tobytes() == b.table.tobytes() and a.start.tobytes() == b.start.tobytes()
    assert first.feed2.tobytes() == again.feed2.tobytes() and first.view_touch1.tobytes() == again.view_touch1.tobytes()
    trades = first.events2.table[first.events2.table["kind"] == ME_TRADE]
    usd = trades["price"] * cfg.market.tick_size  # scaled once: BTC near 61 000 USD that morning
    assert 50_000 < usd.min() and usd.max() < 70_000
    assert 50_000 < np.nanmin(first.feed2) * cfg.market.tick_size < 70_000
    perp = first.venues[1]
    recorded = perp.events[perp.events["kind"] == ME_TRADE]["price"] * perp.tick_size  # the loaded recording as it was
    assert 50_000 < recorded.min() and recorded.max() < 70_000
