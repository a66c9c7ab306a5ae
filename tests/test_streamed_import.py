"""A raw capture imported in bounded memory (``binance_fast.import_to_parquet``): the file it writes holds the
reference reader's events exactly, whatever the block and row-group sizes, receive times that step back
included; its memory does not grow with the capture; a chunked replay on a raw capture imports it this way
into the import cache and reads it back in batches, with the one-pass run's results."""
import gzip
import tracemalloc
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import backtest
import backtest.markets.data.binance_fast as bf
import backtest.markets.data.store as store
from backtest.cli import main
from backtest.markets.data import DataError, import_capture, import_capture_to, load
from backtest.markets.data import cache as import_cache
from backtest.markets.data.capture import _read_binance_reference
from backtest.markets.replay import _load_venue
from tests.test_data_import import split_capture
from tests.test_fast_import import CAPTURES, ROOT, same

SPOT = ROOT / "data" / "binance-btcusdt-2024-08-08" / "spot.jsonl.gz"
USDM = ROOT / "data" / "binance-btcusdt-2024-08-08" / "usdm.jsonl.gz"


def reference(paths):
    return _read_binance_reference([Path(p) for p in paths], "x", None, None, None, "stop")


@pytest.fixture
def small_blocks(monkeypatch):
    """Text blocks of 100 kB and row groups of 20 000 events: every capture crosses many of both."""
    monkeypatch.setattr(bf, "_TEXT_CHUNK", 100_000)
    monkeypatch.setattr(store, "GROUP_ROWS", 20_000)


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_capture_streams_to_the_reference_events(path, tmp_path, small_blocks):
    meta = import_capture_to(path, "x", tmp_path)
    assert meta is not None and meta.path == str(tmp_path / "x.parquet") and len(meta.events) == 0
    want = reference([path])
    assert same(load(meta.path), want)
    assert pq.ParquetFile(meta.path).num_row_groups == -(-len(want.events) // 20_000)
    assert meta.span_ns == (int(want.events["recv_ts"][0]), int(want.events["recv_ts"][-1]))
    assert same(bf.read_fast([path], "x", None, None, None), want)  # the in-memory reader, in small blocks too


def _rewrite(src: Path, dst: Path, edit) -> None:
    lines = gzip.open(src, "rt").read().splitlines(keepends=True)
    with gzip.open(dst, "wt") as f:
        f.writelines(edit(lines))


def test_receive_times_that_step_back_are_ordered_as_the_reference_orders_them(tmp_path, small_blocks):
    """Every 50th trade or best bid/ask line stamped up to 35 ms early, so the file's receive times step back
    across block boundaries; and two lines with the same stamp either side of a boundary."""
    def edit(lines):
        out = []
        for n, line in enumerate(lines):
            stamp, text = line.split(" ", 1)
            if n > 100 and n % 50 == 0 and ("@trade" in text or "@bookTicker" in text):
                stamp = str(int(stamp) - (n % 7 + 1) * 5_000_000)
            if n % 997 == 1:  # the previous line's stamp
                stamp = out[-1].split(" ", 1)[0]
            out.append(f"{stamp} {text}")
        return out
    path = tmp_path / "stepping.jsonl.gz"
    _rewrite(SPOT, path, edit)
    facts = bf._Facts()
    for item in bf._blocks_of([path]):
        facts.add(*item[:1], *item[1])
    assert facts.disorder > 30_000_000
    want = reference([path])
    meta = import_capture_to(path, "x", tmp_path / "out")
    assert same(load(meta.path), want)
    assert same(bf.read_fast([path], "x", None, None, None), want)


def test_consecutive_files_and_given_rules_stream_exactly(tmp_path, small_blocks):
    parts = split_capture(SPOT, tmp_path, [3000, 9000])
    meta = import_capture_to(parts, "spot", tmp_path / "out", tick_size=0.01, lot_size=0.000001, symbol="btcusdt",
                             instrument_kind="spot")
    want = _read_binance_reference(parts, "spot", "btcusdt", 0.01, 0.000001, "stop")
    got = load(meta.path)
    assert same(got, want) and got.instrument_override is not None
    # off the given grid: nothing written, the whole import names the line
    assert import_capture_to(parts, "spot", tmp_path / "bad", tick_size=0.03) is None
    assert not (tmp_path / "bad" / "spot.parquet").exists()
    with pytest.raises(DataError, match="not a multiple of 0.03"):
        import_capture(parts, "spot", tick_size=0.03)


def test_a_capture_the_reference_must_read_is_left_to_it(tmp_path):
    """A repeated depth diff (the reference drops it and counts it): the streamed import declines, writes
    nothing, and the whole import reads it."""
    def edit(lines):
        at = next(n for n, line in enumerate(lines) if n > 200 and "@depth" in line)
        return lines[:at + 1] + [lines[at]] + lines[at + 1:]
    path = tmp_path / "repeat.jsonl.gz"
    _rewrite(SPOT, path, edit)
    assert import_capture_to(path, "x", tmp_path / "out") is None
    assert not (tmp_path / "out" / "x.parquet").exists()
    assert import_capture(path, "x").stats["duplicate_diffs_dropped"] == 1


def _traced_peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_streamed_import_does_not_grow_with_the_capture(tmp_path, monkeypatch):
    """numpy's allocations traced: the streamed import of the whole USD-M capture peaks at about what it takes
    for a third of it, where reading it into memory takes about three times as much."""
    monkeypatch.setattr(bf, "_TEXT_CHUNK", 1 << 20)
    monkeypatch.setattr(store, "GROUP_ROWS", 50_000)
    lines = gzip.open(USDM, "rt").read().splitlines(keepends=True)
    third = tmp_path / "third.jsonl.gz"
    with gzip.open(third, "wt") as f:
        f.writelines(lines[:len(lines) // 3])
    bf.read_fast([third], "x", None, None, None)  # compiled before anything is measured
    streamed = [_traced_peak(lambda p=p, k=k: import_capture_to(p, "x", tmp_path / f"s{k}"))
                for k, p in enumerate((third, USDM))]
    whole = [_traced_peak(lambda p=p: bf.read_fast([p], "x", None, None, None)) for p in (third, USDM)]
    assert whole[1] > 2.2 * whole[0]  # the measure sees the capture's length
    assert streamed[1] < 1.3 * streamed[0]
    assert streamed[1] < 0.5 * whole[1]


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("MMHEDGE_CACHE_DIR", str(d))
    _load_venue.cache_clear()
    yield d
    _load_venue.cache_clear()


def test_a_chunked_replay_on_a_raw_capture_imports_it_into_the_cache_and_reads_it_in_batches(cache_dir,
                                                                                            monkeypatch):
    cfg = backtest.config.preset("replay_binance_btcusdt_20240808").with_dotted({"sim.ticks": 9000})
    calls = []
    real = import_cache.import_cached

    def spy(paths, venue, importer, *args, **kw):
        got = real(paths, venue, importer, *args, **kw)
        calls.append((got.how, got.data.path is not None))
        return got
    monkeypatch.setattr("backtest.markets.replay.import_cached", spy)
    chunked = backtest.run(cfg.with_dotted({"replay.chunk_s": 0.5}))
    assert calls == [("imported", True), ("imported", True)]  # each venue written to the cache as it was read
    assert sum("imported and cached" in n for n in chunked.notes) == 2
    _load_venue.cache_clear()
    calls.clear()
    again = backtest.run(cfg.with_dotted({"replay.chunk_s": 0.5}))
    assert calls == [("cache", True), ("cache", True)]
    _load_venue.cache_clear()
    calls.clear()
    one = backtest.run(cfg)  # one pass: the entries loaded whole
    assert calls == [("cache", False), ("cache", False)]
    for name in ("fills_raw", "hedges_raw", "orders_raw", "account_raw", "ticks_raw"):
        assert getattr(chunked, name).tobytes() == getattr(one, name).tobytes(), name
    assert again.fills_raw.tobytes() == one.fills_raw.tobytes() and len(one.fills_raw) > 0


def test_a_capture_only_the_reference_reads_is_refused_past_the_budget(cache_dir, tmp_path):
    def edit(lines):
        at = next(n for n, line in enumerate(lines) if n > 200 and "@depth" in line)
        return lines[:at + 1] + [lines[at]] + lines[at + 1:]
    path = tmp_path / "repeat.jsonl.gz"
    _rewrite(SPOT, path, edit)
    with pytest.raises(DataError, match=r"repeat.jsonl.gz: holds what only the reference reader decides.*allowed"):
        import_cache.import_cached([str(path)], "exchange1", import_capture, import_capture_to, whole_bytes=10 << 30,
                                   budget=1 << 30)
    assert import_cache.entries() == []
    got = import_cache.import_cached([str(path)], "exchange1", import_capture, import_capture_to,
                                     whole_bytes=1 << 20, budget=1 << 30)
    assert got.how == "imported" and got.data.path is None and got.data.stats["duplicate_diffs_dropped"] == 1


def test_cli_data_import_streams_a_clean_capture(tmp_path, capsys):
    assert main(["data", "import", str(SPOT), "--venue", "spot", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    want = reference([SPOT])
    assert same(load(tmp_path / "spot.parquet"), want)
    assert f"{len(want.events):,} events" in out
    # the latency figures from the file's histogram agree with the exact ones to the printed 0.1 ms
    assert want.describe().splitlines()[4] in out
    assert main(["data", "import", str(SPOT), "--venue", "../up", "--out", str(tmp_path / "x")]) != 0
    assert "venue name '../up'" in capsys.readouterr().err and not (tmp_path / "up.parquet").exists()


def test_the_memory_estimate_of_a_chunked_replay_on_a_raw_capture_is_a_chunk_not_the_capture(tmp_path):
    """A 4 GB gzip capture (sparse: only its size is read) is about 10^9 events: whole, far past any budget; in
    chunks, its import's blocks and the share of the chunks held (the one in use, allowed ``CHUNK_BURST`` times its
    share, and those built ahead, within twice ``AHEAD_BYTES``)."""
    from backtest.resources import estimate_memory

    big = tmp_path / "day.jsonl.gz"
    with open(big, "wb") as f:
        f.write(b"\x1f\x8b")
        f.truncate(4 << 30)
    cfg = backtest.config.preset("replay_binance_btcusdt_20240808").with_dotted(
        {"replay.exchange1": str(big), "replay.exchange2": str(big), "sim.ticks": 86_400_000,
         "sim.record_every_ms": 1000})
    whole = estimate_memory(cfg).parts["recording"]
    chunked = estimate_memory(cfg.with_dotted({"replay.chunk_s": 60})).parts["recording"]
    assert whole > 100 << 30
    assert chunked < 2 << 30 and chunked < whole / 80
