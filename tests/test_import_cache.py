"""The import cache: a raw capture is parsed once; later runs, in this process or another, load the stored
events, identical to a fresh import; content (not names), options and the importer's code key an entry."""
import os
import subprocess
import sys

import pytest

import backtest
from backtest.cli import main
from backtest.markets.data import import_capture
from backtest.markets.data import cache as import_cache
from backtest.markets.replay import _load_venue
from tests.test_data_import import SAMPLE, split_capture

ROOT = SAMPLE.parent.parent


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    d = tmp_path / "cache"
    monkeypatch.setenv("MMHEDGE_CACHE_DIR", str(d))
    _load_venue.cache_clear()  # the in-process layer would answer before the cache is asked
    yield d
    _load_venue.cache_clear()


@pytest.fixture(scope="module")
def small_parts(tmp_path_factory):
    out = tmp_path_factory.mktemp("parts")
    (out / "spot").mkdir()
    (out / "usdm").mkdir()
    spot = split_capture(SAMPLE / "spot.jsonl.gz", out / "spot", [30_000])[0]
    usdm = split_capture(SAMPLE / "usdm.jsonl.gz", out / "usdm", [60_000])[0]
    return spot, usdm


def counting(calls):
    def importer(path, venue, **options):
        calls.append(path)
        return import_capture(path, venue, **options)
    return importer


def same_data(a, b):
    return (a.events.tobytes() == b.events.tobytes() and a.instrument == b.instrument and a.gaps == b.gaps
            and a.stats == b.stats and (a.tick_size, a.lot_size, a.clock_offset_ns, a.symbol, a.source)
            == (b.tick_size, b.lot_size, b.clock_offset_ns, b.symbol, b.source))


def test_a_capture_is_imported_once_then_read_from_the_cache(cache_dir, small_parts):
    spot, _ = small_parts
    calls = []
    first = import_cache.import_cached([str(spot)], "exchange1", counting(calls))
    again = import_cache.import_cached([str(spot)], "exchange1", counting(calls))
    assert (first.how, again.how, len(calls)) == ("imported", "cache", 1)
    assert first.entry == again.entry and str(first.entry).startswith(str(cache_dir))
    assert same_data(again.data, first.data)
    assert "import cache" in again.describe("x") and import_cache.CLEAR_COMMAND in again.describe("x")


def test_the_key_is_the_content_the_options_and_the_code(cache_dir, small_parts, tmp_path, monkeypatch):
    spot, _ = small_parts
    calls = []
    import_cache.import_cached([str(spot)], "exchange1", counting(calls))
    copy = tmp_path / "renamed.jsonl.gz"
    copy.write_bytes(spot.read_bytes())
    assert import_cache.import_cached([str(copy)], "exchange1", counting(calls)).how == "cache"  # a copy hits
    assert len(calls) == 1
    import_cache.import_cached([str(spot)], "exchange1", counting(calls), tick_size=0.01)  # other options
    assert len(calls) == 2
    (tmp_path / "other").mkdir()
    other = split_capture(SAMPLE / "spot.jsonl.gz", tmp_path / "other", [20_000])[0]  # other content
    import_cache.import_cached([str(other)], "exchange1", counting(calls))
    assert len(calls) == 3
    monkeypatch.setattr(import_cache, "importer_digest", lambda: "a changed parser")
    import_cache.import_cached([str(spot)], "exchange1", counting(calls))
    assert len(calls) == 4


def test_a_damaged_entry_is_imported_again_and_replaced(cache_dir, small_parts):
    spot, _ = small_parts
    calls = []
    entry = import_cache.import_cached([str(spot)], "exchange1", counting(calls)).entry
    entry.write_bytes(entry.read_bytes()[:1000])
    redone = import_cache.import_cached([str(spot)], "exchange1", counting(calls))
    assert redone.how == "imported" and "could not be read and was replaced" in redone.describe("x")
    assert import_cache.import_cached([str(spot)], "exchange1", counting(calls)).how == "cache"
    assert len(calls) == 2
    # a readable Parquet file whose metadata is not ours (not a truncation): replaced too
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"x": [1]}).replace_schema_metadata({b"mmhedge.market": b"{not json"}), entry)
    assert import_cache.import_cached([str(spot)], "exchange1", counting(calls)).how == "imported"
    assert len(calls) == 3


def test_a_cache_that_cannot_be_written_leaves_the_run_uncached_and_says_so(tmp_path, monkeypatch, small_parts):
    spot, _ = small_parts
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("MMHEDGE_CACHE_DIR", str(blocker))
    got = import_cache.import_cached([str(spot)], "exchange1", import_capture)
    assert got.how == "imported" and got.entry is None and "cannot be written" in got.describe("x")
    assert len(got.data.events) > 0


def test_a_replay_from_the_cache_is_the_replay_from_the_capture(cache_dir, small_parts, monkeypatch):
    spot, usdm = small_parts
    cfg = backtest.config.preset("replay_binance_btcusdt_20240808").with_dotted(
        {"sim.ticks": 8000, "replay.exchange1": str(spot), "replay.exchange2": str(usdm)})
    fresh = backtest.run(cfg)
    assert sum("imported and cached" in n for n in fresh.notes) == 2
    _load_venue.cache_clear()

    def no_import(*args, **kwargs):
        raise AssertionError("imported again")

    monkeypatch.setattr("backtest.markets.replay.import_capture", no_import)
    cached = backtest.run(cfg)
    assert sum("from the import cache" in n for n in cached.notes) == 2
    for name in ("ticks_raw", "fills_raw", "hedges_raw", "orders_raw", "account_raw"):
        assert getattr(cached, name).tobytes() == getattr(fresh, name).tobytes(), name


def test_another_process_reads_what_one_process_imported(cache_dir, small_parts, tmp_path):
    spot, usdm = small_parts
    config = tmp_path / "replay.toml"
    config.write_text(backtest.config.config_to_toml(backtest.config.preset("replay_binance_btcusdt_20240808")
                                                     .with_dotted({"sim.ticks": 5000, "replay.exchange1": str(spot),
                                                                   "replay.exchange2": str(usdm)})))
    env = {**os.environ, "MMHEDGE_CACHE_DIR": str(cache_dir)}
    outputs = [subprocess.run([sys.executable, "-m", "backtest", "run", "--config", str(config)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300) for _ in range(2)]
    assert [o.returncode for o in outputs] == [0, 0], outputs[0].stderr
    assert outputs[0].stderr.count("imported and cached") == 2
    assert outputs[1].stderr.count("from the import cache") == 2
    assert outputs[0].stdout == outputs[1].stdout  # the same summary


def test_cli_lists_and_clears_the_cache(cache_dir, small_parts, capsys):
    spot, _ = small_parts
    import_cache.import_cached([str(spot)], "exchange1", import_capture)
    assert main(["data", "cache"]) == 0
    listed = capsys.readouterr().out
    assert "1 entries" in listed and str(spot) in listed
    assert main(["data", "cache", "--clear"]) == 0
    assert "1 entries removed" in capsys.readouterr().out
    assert import_cache.entries() == []
    assert main(["data", "cache"]) == 0 and "0 entries" in capsys.readouterr().out
