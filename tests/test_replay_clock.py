"""replay.clock on a hand-built recording whose events reach the recorder late: 'receive' matches and shows
them when received, 'exchange' when they happened, 'split' matches when they happened and shows the strategy
what it had received (hftbacktest's model); and the import's exchange time is the matching engine's T."""
import gzip
import json

import numpy as np
import pytest

import backtest
from backtest.data import import_capture, save
from kernels.records import ME_BBO_ASK, ME_BBO_BID, ME_BOOK, market_event_dt
from backtest.data import MarketData
from tests.test_replay import ASK, BID, T0, book_rows, replay_config


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
