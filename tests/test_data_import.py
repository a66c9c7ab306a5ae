"""Captures in, normalised events out: Binance book sync, clock offset, instrument rules, Parquet round trip,
tardis.dev CSV, and one clear error for every kind of bad input."""
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

import backtest
import backtest.config
from backtest.cli import main
from backtest.markets.data import DataError, import_capture, load, save
from kernels.records import ME_BBO_ASK, ME_BBO_BID, ME_BOOK, ME_BOOK_CLEAR, ME_TRADE, MF_NO_EXCH_TS, MF_SNAPSHOT

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "binance-btcusdt-2024-08-08"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "tardis"


@pytest.fixture(scope="module")
def spot():
    return import_capture(SAMPLE / "spot.jsonl.gz", "spot")


@pytest.fixture(scope="module")
def usdm():
    return import_capture(SAMPLE / "usdm.jsonl.gz", "usdm")


def replay_book(events, check_every_batch=True):
    """Apply BOOK events in order; after each batch (events sharing a receive time) check the book is not
    crossed. Returns (bids, asks) dicts and the number of batches checked."""
    bids, asks = {}, {}
    checked = 0
    book = events[(events["kind"] == ME_BOOK) | (events["kind"] == ME_BOOK_CLEAR)]
    ends = np.flatnonzero(np.diff(book["recv_ts"])) + 1
    start = 0
    for end in list(ends) + [len(book)]:
        for ev in book[start:end]:
            if ev["kind"] == ME_BOOK_CLEAR:
                bids.clear()
                asks.clear()
                continue
            side = bids if ev["side"] == 0 else asks
            if ev["qty"] == 0:
                side.pop(int(ev["price"]), None)
            else:
                side[int(ev["price"])] = int(ev["qty"])
        if check_every_batch and bids and asks:
            assert max(bids) < min(asks), f"crossed book after the batch at {book['recv_ts'][start]}"
            checked += 1
        start = end
    return bids, asks, checked


def test_sample_sync_counts_and_rules(spot, usdm):
    assert spot.stats["depth_diffs_applied"] == 3449 and usdm.stats["depth_diffs_applied"] == 6547
    assert spot.gaps == [] and usdm.gaps == []
    assert (spot.tick_size, spot.lot_size) == (0.01, 1e-6) and spot.tick_size_inferred
    assert (usdm.tick_size, usdm.lot_size) == (0.1, 0.001)
    assert spot.source == "binance-spot" and usdm.source == "binance-usdm" and spot.symbol == "BTCUSDT"
    for d in (spot, usdm):
        assert -1.30e9 < d.clock_offset_ns < -1.25e9  # the recorder runs about 1.27 s behind
        latency = d.events["recv_ts"] - d.events["exch_ts"]
        assert latency.min() >= 0 and np.median(latency) < 20e6
        assert (np.diff(d.events["recv_ts"]) >= 0).all()


def test_sample_books_are_never_crossed_once_synced(spot, usdm):
    for d in (spot, usdm):
        bids, asks, checked = replay_book(d.events)
        assert checked > 3000
        # the rebuilt book's touch ends where the last book ticker says (within a few ticks: depth batches lag)
        last_bid = d.events[d.events["kind"] == ME_BBO_BID][-1]["price"]
        last_ask = d.events[d.events["kind"] == ME_BBO_ASK][-1]["price"]
        assert abs(max(bids) - last_bid) <= 5 and abs(min(asks) - last_ask) <= 5


def test_first_kept_diff_recorded_before_the_snapshot_is_applied_after_it(spot):
    ev = spot.events
    snap_time = ev["recv_ts"][ev["flags"] & MF_SNAPSHOT > 0][0]
    assert ev["kind"][0] == ME_BOOK_CLEAR and ev["recv_ts"][0] == snap_time
    # nothing before the snapshot, and the straddling diff's levels come right after the snapshot's
    assert (ev["recv_ts"] >= snap_time).all()
    after = ev[(ev["flags"] & MF_SNAPSHOT) == 0]
    assert after["recv_ts"][0] == snap_time and after["kind"][0] == ME_BOOK


def test_spot_book_tickers_have_no_exchange_time(spot):
    bbo = spot.events[(spot.events["kind"] == ME_BBO_BID) | (spot.events["kind"] == ME_BBO_ASK)]
    assert (bbo["flags"] & MF_NO_EXCH_TS > 0).all() and (bbo["exch_ts"] == bbo["recv_ts"]).all()
    trades = spot.events[spot.events["kind"] == ME_TRADE]
    assert (trades["flags"] & MF_NO_EXCH_TS == 0).all()


def test_parquet_round_trip(spot, tmp_path):
    path = save(spot, tmp_path / "ds")
    back = load(path)
    assert back.events.tobytes() == spot.events.tobytes()
    assert (back.tick_size, back.lot_size, back.clock_offset_ns, back.stats) == (
        spot.tick_size, spot.lot_size, spot.clock_offset_ns, spot.stats)


@pytest.mark.parametrize("columns", [None, ("recv_ts", "price", "qty", "kind", "side"), ("recv_ts", "kind")])
def test_batches_read_back_are_the_saved_events(spot, tmp_path, columns):
    """A file read in batches (a chunked replay) gives the saved events, the fields left out as 0, batch
    boundaries anywhere: the compiled assembly of a batch's columns equals numpy's field by field."""
    from backtest.markets.data.store import iter_events

    path = save(spot, tmp_path / "ds")
    got = np.concatenate(list(iter_events(path, 7_777, columns=columns)))
    expected = np.zeros(len(spot.events), dtype=spot.events.dtype)
    for name in columns or spot.events.dtype.names:
        expected[name] = spot.events[name]
    assert (spot.events["flags"] != 0).any() and (spot.events["exch_ts"] != 0).any()
    assert got.tobytes() == expected.tobytes()


# -- hand-built Binance captures ---------------------------------------------------------------------
T0 = 1_723_161_254_000_000_000  # local ns


def depth(U, u, bids=(), asks=(), E=1_723_161_255_300, pu=None, symbol="BTCUSDT"):
    data = {"e": "depthUpdate", "E": E, "s": symbol, "U": U, "u": u, "b": [list(b) for b in bids],
            "a": [list(a) for a in asks]}
    if pu is not None:
        data["pu"] = pu
    return {"stream": "btcusdt@depth@100ms", "data": data}


def snapshot(lid, bids=(("100.00", "1.0"),), asks=(("100.01", "1.0"),)):
    return {"lastUpdateId": lid, "bids": [list(b) for b in bids], "asks": [list(a) for a in asks]}


def trade(p="100.01", q="0.5", m=False, T=1_723_161_255_400, symbol="BTCUSDT"):
    return {"stream": "btcusdt@trade", "data": {"e": "trade", "E": T, "T": T, "s": symbol, "p": p, "q": q, "m": m}}


def write_capture(path: Path, messages, gz=True, raw_lines=()):
    lines = [f"{T0 + i * 10_000_000} {json.dumps(m)}" for i, m in enumerate(messages)] + list(raw_lines)
    text = "\n".join(lines) + "\n"
    if gz:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def good_messages():
    return [
        depth(5, 9, bids=[("99.99", "2.0")]),  # stale: u <= lastUpdateId 10
        depth(10, 12, bids=[("100.00", "1.5")]),  # straddles 11: applied after the snapshot
        snapshot(10),
        trade(),
        depth(13, 15, asks=[("100.01", "0.0"), ("100.02", "3.0")]),
    ]


def test_hand_built_capture_syncs(tmp_path):
    d = import_capture(write_capture(tmp_path / "c.jsonl.gz", good_messages()), "x")
    assert d.stats["stale_diffs_dropped"] == 1 and d.stats["depth_diffs_applied"] == 2
    bids, asks, _ = replay_book(d.events)
    assert (d.tick_size, d.lot_size) == (0.01, 0.1)  # qty in lots of the inferred step
    assert bids == {10000: 15} and asks == {10002: 30}
    t = d.events[d.events["kind"] == ME_TRADE][0]
    assert (t["price"], t["qty"], t["side"]) == (10001, 5, 0)  # m=false: the buyer was the aggressor


def test_given_instrument_rules_are_used_and_checked(tmp_path):
    path = write_capture(tmp_path / "c.jsonl.gz", good_messages())
    d = import_capture(path, "x", tick_size=0.01, lot_size=0.001)
    assert not d.tick_size_inferred and d.lot_size == 0.001
    with pytest.raises(DataError, match="not a multiple of 0.05"):
        import_capture(path, "x", tick_size=0.05)


@pytest.mark.parametrize("case,needle", [
    ("truncated", "truncated or corrupt"),
    ("corrupt_line", ":4: not '<receive time ns> <JSON>'"),
    ("mixed", ":4: a message for ETHUSDT in a capture of BTCUSDT"),
    ("other_symbol", "holds BTCUSDT, not the asked ETHUSDT"),
    ("empty", "empty"),
    ("no_snapshot", "no depth snapshot"),
    ("gap", ":5: sequence gap: U=14, expected U=13"),
    ("gap_at_start", "the first diff after the snapshot"),
])
def test_bad_captures_get_one_clear_error(tmp_path, case, needle):
    path = tmp_path / f"{case}.jsonl.gz"
    msgs = good_messages()
    kwargs = {}
    if case == "truncated":
        write_capture(path, msgs * 200)
        path.write_bytes(path.read_bytes()[:-40])
    elif case == "corrupt_line":
        write_capture(path, msgs[:3], raw_lines=[f"{T0} {{not json"])
    elif case == "mixed":
        write_capture(path, msgs[:3] + [trade(symbol="ETHUSDT")])
    elif case == "other_symbol":
        write_capture(path, msgs)
        kwargs["symbol"] = "ETHUSDT"
    elif case == "empty":
        path.write_bytes(gzip.compress(b""))
    elif case == "no_snapshot":
        write_capture(path, [m for m in msgs if "lastUpdateId" not in m])
    elif case == "gap":
        msgs[4] = depth(14, 15, asks=[("100.02", "3.0")])
        write_capture(path, msgs)
    elif case == "gap_at_start":
        write_capture(path, [snapshot(10), depth(20, 25, bids=[("100.00", "1.0")])])
    with pytest.raises(DataError) as err:
        import_capture(path, "x", **kwargs)
    assert needle in str(err.value) and str(path) in str(err.value)


def test_gap_with_resync_starts_again_at_the_next_snapshot(tmp_path):
    msgs = good_messages() + [
        depth(20, 22, bids=[("100.00", "9.0")]),  # gap: U should be 16
        depth(23, 24, bids=[("99.00", "1.0")]),  # before the next snapshot: dropped
        snapshot(30, bids=[("99.50", "2.0")], asks=[("99.60", "2.0")]),
        depth(31, 33, asks=[("99.70", "1.0")]),
    ]
    path = write_capture(tmp_path / "g.jsonl.gz", msgs)
    with pytest.raises(DataError, match=":6: sequence gap"):
        import_capture(path, "x")
    d = import_capture(path, "x", on_gap="resync")
    assert len(d.gaps) == 1 and d.gaps[0].startswith("line 6 (0.030 s after the first snapshot): sequence gap")
    assert "the book is empty from there until the snapshot on line 8, 0.020 s later" in d.gaps[0]
    bids, asks, _ = replay_book(d.events)
    assert bids == {9950: 20} and asks == {9960: 20, 9970: 10}
    # emptied at the gap (line 6), as documented, not only when the next snapshot arrives (line 8)
    clears = d.events[d.events["kind"] == ME_BOOK_CLEAR]
    assert len(clears) == 3
    gap_recv = T0 + 5 * 10_000_000 - d.clock_offset_ns
    assert gap_recv in clears["recv_ts"].tolist()
    before_snapshot = d.events[d.events["recv_ts"] < T0 + 7 * 10_000_000 - d.clock_offset_ns]
    assert replay_book(before_snapshot)[:2] == ({}, {})


def test_a_gap_is_stored_with_the_data_and_said_by_a_run_on_it(tmp_path):
    import dataclasses

    import backtest
    from backtest.markets.data import load, save
    from tests.test_replay import book_rows, market, replay_config

    msgs = good_messages() + [depth(20, 22, bids=[("100.00", "9.0")]), trade(T=1_723_161_255_500)]
    d = import_capture(write_capture(tmp_path / "g.jsonl.gz", msgs), "x", on_gap="resync")
    assert len(d.gaps) == 1 and "no later snapshot: the data ends there" in d.gaps[0]
    assert load(save(d, tmp_path / "ds")).gaps == d.gaps
    # a run on a recording with a gap says so among its notes (printed by `run`)
    cfg = replay_config(tmp_path, book_rows(0, 10000, 10002, 10))
    rows = book_rows(0, 10000, 10002, 10) + [(1500, ME_TRADE, 0, 20000, 1)]
    gappy = dataclasses.replace(market("exchange1", rows), gaps=list(d.gaps))
    cfg = cfg.with_dotted({"replay.exchange1": str(save(gappy, tmp_path / "gappy"))})
    notes = backtest.run(cfg).notes
    assert any(n.startswith("Exchange 1's recording (exchange1) has a sequence gap at line 6") for n in notes), notes


@pytest.mark.parametrize("futures", [False, True])
def test_a_diff_sent_twice_is_dropped_and_counted(tmp_path, futures):
    pu = (lambda v: v) if futures else (lambda v: None)
    msgs = [snapshot(10), depth(10, 12, pu=pu(9), bids=[("100.00", "1.5")]),
            depth(13, 15, pu=pu(12), asks=[("100.02", "3.0")]), depth(13, 15, pu=pu(12), asks=[("100.02", "3.0")]),
            depth(16, 17, pu=pu(15), asks=[("100.03", "1.0")])]
    d = import_capture(write_capture(tmp_path / "d.jsonl.gz", msgs), "x")
    assert d.stats["duplicate_diffs_dropped"] == 1 and d.stats["depth_diffs_applied"] == 3 and not d.gaps


def test_swapped_diffs_are_named_as_out_of_order_not_as_a_gap(tmp_path):
    msgs = [snapshot(10), depth(10, 12, bids=[("100.00", "1.5")]), depth(16, 17, asks=[("100.03", "1.0")]),
            depth(13, 15, asks=[("100.02", "3.0")])]
    path = write_capture(tmp_path / "s.jsonl.gz", msgs)
    with pytest.raises(DataError) as err:
        import_capture(path, "x")
    assert ":3: sequence gap: U=16, expected U=13; the diff that continues the sequence comes later, on line 4: " \
           "the diffs are out of order" in str(err.value)
    # an older diff with other levels after a newer one: out of order, never applied over it
    msgs = [snapshot(10), depth(10, 12, bids=[("100.00", "1.5")]), depth(13, 15, asks=[("100.02", "3.0")]),
            depth(13, 15, asks=[("100.02", "7.0")])]
    with pytest.raises(DataError, match=":4: a diff out of order: U=13, u=15 arrives after u=15 was applied"):
        import_capture(write_capture(tmp_path / "o.jsonl.gz", msgs), "x")


def test_a_trade_sent_twice_is_dropped_and_two_trades_with_one_id_refused(tmp_path):
    def with_id(tid, **kw):
        m = trade(**kw)
        m["data"]["t"] = tid
        return m

    block = [with_id(1), with_id(2, p="100.02"), with_id(3, m=True, p="100.00")]
    msgs = good_messages()[:3] + block + block  # a block of trades the recorder sent twice
    d = import_capture(write_capture(tmp_path / "t.jsonl.gz", msgs), "x")
    assert d.stats["duplicate_trades_dropped"] == 3 and (d.events["kind"] == ME_TRADE).sum() == 3
    path = write_capture(tmp_path / "t2.jsonl.gz", good_messages()[:3] + [with_id(7), with_id(7, q="0.9")])
    with pytest.raises(DataError, match=":5: trade id 7 again, with other fields than on line 4"):
        import_capture(path, "x")


def test_futures_sequence_uses_pu(tmp_path):
    msgs = [snapshot(10), depth(8, 12, pu=7, bids=[("100.00", "2.0")]), depth(13, 15, pu=12, asks=[("100.02", "1.0")]),
            depth(16, 18, pu=14, asks=[("100.03", "1.0")])]
    path = write_capture(tmp_path / "f.jsonl.gz", msgs)
    with pytest.raises(DataError, match="pu=14, expected pu=15"):
        import_capture(path, "x")
    d = import_capture(write_capture(tmp_path / "f2.jsonl.gz", msgs[:3]), "x")
    assert d.source == "binance-usdm" and d.stats["depth_diffs_applied"] == 2


# -- tardis.dev CSV ----------------------------------------------------------------------------------
def test_tardis_fixture():
    d = import_capture(FIXTURES / "book.csv", "usdm", fmt="tardis", trades=FIXTURES / "trades.csv")
    assert (d.tick_size, d.lot_size, d.symbol, d.source) == (0.1, 0.001, "BTCUSDT", "tardis")
    assert d.clock_offset_ns == -1_270_000_000
    assert d.stats["rows_before_first_snapshot_dropped"] == 1  # the trade before the first snapshot
    ev = d.events
    assert [int(k) for k in ev["kind"]] == [ME_BOOK_CLEAR] + [ME_BOOK] * 6 + [ME_TRADE, ME_BOOK, ME_TRADE,
                                                                          ME_BOOK_CLEAR, ME_BOOK, ME_BOOK]
    trades = ev[ev["kind"] == ME_TRADE]
    assert list(trades["side"]) == [0, 1] and list(trades["price"]) == [618003, 618002]
    bids, asks, _ = replay_book(ev)
    assert bids == {617999: 1000} and asks == {618000: 2000}  # the second snapshot replaced the book
    assert (ev["recv_ts"] - ev["exch_ts"]).min() == 0


def test_tardis_bad_input(tmp_path):
    bad = tmp_path / "book.csv"
    bad.write_text("exchange,symbol,timestamp\nx,y,1\n")
    with pytest.raises(DataError, match="header"):
        import_capture(bad, "v", fmt="tardis")
    rows = (FIXTURES / "book.csv").read_text().splitlines()
    no_snap = tmp_path / "nosnap.csv"
    no_snap.write_text("\n".join([rows[0]] + rows[5:8]) + "\n")
    with pytest.raises(DataError, match="no snapshot rows"):
        import_capture(no_snap, "v", fmt="tardis")
    side = tmp_path / "side.csv"
    side.write_text("\n".join(rows[:2] + [rows[2].replace(",ask,", ",up,")]) + "\n")
    with pytest.raises(DataError, match=":3: side 'up'"):
        import_capture(side, "v", fmt="tardis")


def test_cli_data_import(tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(["data", "import", str(write_capture(tmp_path / "c.jsonl.gz", good_messages())), "--venue", "spot",
                 "--out", str(out)]) == 0
    assert "tick size 0.01 (inferred from the capture)" in capsys.readouterr().out
    assert load(out / "spot.parquet").stats["depth_diffs_applied"] == 2
    trunc = tmp_path / "t.jsonl.gz"
    write_capture(trunc, good_messages() * 100)
    trunc.write_bytes(trunc.read_bytes()[:-30])
    assert main(["data", "import", str(trunc), "--venue", "spot", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "truncated" in err and str(trunc) in err
    assert main(["data", "import", str(trunc), "--venue", "spot", "--out", str(out), "--tick-size", "-1"]) == 2


def split_capture(src: Path, out: Path, cuts):
    """``src`` cut at line numbers ``cuts`` into consecutive gzip files (the recorder rolling its file)."""
    lines = gzip.open(src, "rt").read().splitlines(keepends=True)
    bounds = [0, *cuts, len(lines)]
    parts = []
    for k in range(len(bounds) - 1):
        p = out / f"part{k + 1}.jsonl.gz"
        with gzip.open(p, "wt") as f:
            f.writelines(lines[bounds[k]:bounds[k + 1]])
        parts.append(p)
    return parts


def test_consecutive_captures_import_as_one_recording(spot, tmp_path):
    # the snapshot is on line 8: the later files start without one and continue the sequence
    parts = split_capture(SAMPLE / "spot.jsonl.gz", tmp_path, [12_000, 25_000])
    joined = import_capture([str(p) for p in parts], "spot")
    assert np.array_equal(joined.events, spot.events)
    assert joined.stats == spot.stats and joined.gaps == []
    # a file without a snapshot alone says how to continue it
    with pytest.raises(DataError, match=r"part2.jsonl.gz: no depth snapshot.*imported together with it"):
        import_capture(parts[1], "spot")
    # one that does not continue the file before it is refused with that reason
    with pytest.raises(DataError, match=r"part3.jsonl.gz:\d+: sequence gap.*part3.jsonl.gz does not continue "
                                        r".*part1.jsonl.gz"):
        import_capture([parts[0], parts[2]], "spot")
    with pytest.raises(DataError, match="give the captures in time order"):
        import_capture([parts[1], parts[0]], "spot")


def test_cli_imports_consecutive_captures(spot, tmp_path, capsys):
    parts = split_capture(SAMPLE / "spot.jsonl.gz", tmp_path, [20_000])
    assert main(["data", "import", str(parts[0]), str(parts[1]), "--venue", "spot", "--out", str(tmp_path / "o")]) == 0
    assert np.array_equal(load(tmp_path / "o" / "spot.parquet").events, spot.events)
    assert main(["data", "import", str(parts[0]), str(parts[1]), "--format", "tardis", "--venue", "x",
                 "--out", str(tmp_path / "t")]) == 2
    assert "one file" in capsys.readouterr().err


def test_a_replay_takes_consecutive_captures_as_a_list(tmp_path):
    parts = split_capture(SAMPLE / "spot.jsonl.gz", tmp_path, [20_000])
    cfg = backtest.config.preset("replay_binance_btcusdt_20240808").with_dotted({"sim.ticks": 20_000})
    whole = backtest.run(cfg).summary_dict
    listed = backtest.run(cfg.with_dotted({"replay.exchange1": [str(p) for p in parts]})).summary_dict
    assert {k: v for k, v in listed.items() if v == v} == {k: v for k, v in whole.items() if v == v}  # NaN != NaN
    assert listed["fills"] > 0
    for bad, needle in (([], "a list of 0 paths"), ([str(parts[0]), "x.parquet"], "a list joins raw captures")):
        with pytest.raises(ValueError, match=needle):
            cfg.with_dotted({"replay.exchange1": bad})


def test_a_venue_name_cannot_write_outside_the_output_directory(tmp_path, capsys):
    parts = split_capture(SAMPLE / "spot.jsonl.gz", tmp_path, [])
    for venue in ("../evil", "a/b", "..", ""):
        assert main(["data", "import", str(parts[0]), "--venue", venue, "--out", str(tmp_path / "o")]) == 2
        assert "venue name" in capsys.readouterr().err
    assert not (tmp_path / "evil.parquet").exists()


@pytest.mark.parametrize("bad,needle", [
    (trade(p=100.01), "price 100.01 is not a decimal string"),  # a JSON number
    (trade(q="abc"), "quantity abc is not a non-negative decimal number"),
    (trade(p="NaN"), "price NaN is not a non-negative decimal number"),
    (trade(q="-0.5"), "quantity -0.5 is not a non-negative decimal number"),
])
def test_malformed_fields_are_one_clear_error_with_file_and_line(tmp_path, bad, needle):
    path = write_capture(tmp_path / "c.jsonl.gz", good_messages() + [bad])
    with pytest.raises(DataError, match=rf"c.jsonl.gz:6: {needle}"):
        import_capture(path, "x")


def test_a_given_tick_size_is_checked_exactly_at_any_price(tmp_path):
    # 61 837.63 / 0.03 = 2 061 254.33: float division with a relative tolerance let it through, rounded
    with pytest.raises(DataError, match=r"price 61837.63000000 is not a multiple of 0.03"):
        import_capture(SAMPLE / "spot.jsonl.gz", "spot", tick_size=0.03)
    assert import_capture(SAMPLE / "spot.jsonl.gz", "spot", tick_size=0.01).tick_size == 0.01
