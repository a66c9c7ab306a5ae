"""The compiled Binance scanner (backtest.markets.data.binance_scan) and its vectorised assembly give the reference
reader's result byte for byte, on every shipped capture and on captures mutated at random; whatever it cannot
read exactly goes to the reference reader, which names the file and line."""
import gzip
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from backtest.markets.data import DataError, import_capture
from backtest.markets.data.binance_fast import read_fast
from backtest.markets.data.capture import _read_binance_reference

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = sorted((ROOT / "data").glob("*/*.jsonl.gz"))


def same(a, b) -> bool:
    return (a.events.tobytes() == b.events.tobytes() and a.stats == b.stats and a.gaps == b.gaps
            and (a.symbol, a.source, a.tick_size, a.lot_size, a.tick_size_inferred, a.lot_size_inferred,
                 a.clock_offset_ns) == (b.symbol, b.source, b.tick_size, b.lot_size, b.tick_size_inferred,
                                        b.lot_size_inferred, b.clock_offset_ns))


def reference(paths, **kw):
    return _read_binance_reference([Path(p) for p in paths], "x", kw.get("symbol"), kw.get("tick_size"),
                                   kw.get("lot_size"), kw.get("on_gap", "stop"))


def fast(paths, **kw):
    return read_fast([Path(p) for p in paths], "x", kw.get("symbol"), kw.get("tick_size"),
                              kw.get("lot_size"))


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_capture_is_read_fast_and_exactly(path):
    got = fast([path])
    assert got is not None, "a clean capture must take the fast path"
    assert same(got, reference([path]))


def test_given_rules_and_consecutive_files_read_fast_and_exactly(tmp_path):
    src = ROOT / "data" / "binance-btcusdt-2024-08-08" / "spot.jsonl.gz"
    lines = gzip.open(src, "rt").read().splitlines(keepends=True)
    parts = []
    for k, (a, b) in enumerate([(0, 3000), (3000, 9000), (9000, len(lines))]):
        p = tmp_path / f"part{k}.jsonl.gz"
        with gzip.open(p, "wt") as f:
            f.writelines(lines[a:b])
        parts.append(p)
    got = fast(parts, tick_size=0.01, lot_size=0.000001, symbol="btcusdt")
    assert got is not None and same(got, reference(parts, tick_size=0.01, lot_size=0.000001, symbol="btcusdt"))
    assert fast(parts, tick_size=0.03) is None  # off the given grid: the reference names the line
    with pytest.raises(DataError, match="not a multiple of 0.03"):
        import_capture(parts, "x", tick_size=0.03)


MUTATIONS = ["delete", "duplicate", "swap", "byte", "digit", "space", "escape", "cr", "truncate", "key", "float"]


def mutate(lines: list[str], rng: random.Random) -> list[str]:
    lines = list(lines)
    for _ in range(rng.randint(1, 3)):
        how = rng.choice(MUTATIONS)
        i = rng.randrange(len(lines))
        text = lines[i]
        if how == "delete":
            del lines[i]
        elif how == "duplicate":
            lines.insert(i, text)
        elif how == "swap" and i + 1 < len(lines):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
        elif how == "byte":
            k = rng.randrange(len(text) - 1)
            lines[i] = text[:k] + rng.choice('{}[]",:0a -\t\\x') + text[k + 1:]
        elif how == "digit":
            digits = [k for k, c in enumerate(text) if c.isdigit()]
            k = rng.choice(digits)
            lines[i] = text[:k] + str((int(text[k]) + rng.randint(1, 9)) % 10) + text[k + 1:]
        elif how == "space":
            k = rng.choice([k for k, c in enumerate(text) if c in ",:[]{}"])
            lines[i] = text[:k] + " " + text[k:]
        elif how == "escape":
            lines[i] = text.replace('"s":', '"\\u0073":', 1)
        elif how == "cr":
            lines[i] = text.rstrip("\n") + "\r\n"
        elif how == "truncate":
            lines[i] = text[: rng.randrange(len(text))] + "\n"
        elif how == "key":
            lines[i] = text.replace('"E":', '"E":1,"E":', 1)
        elif how == "float":
            lines[i] = text.replace('"T":', '"T":1.5e3,"X":', 1)
    return lines


@pytest.mark.parametrize("capture", ["binance-btcusdt-2024-08-08/spot.jsonl.gz",
                                     "binance-btcusdt-2024-08-08/usdm.jsonl.gz"])
def test_mutated_captures_read_as_the_reference_reads_them(tmp_path, capture):
    """Whatever a mutation does, the fast path either declines or gives exactly the reference's result, and
    the public reader gives the reference's result or its error."""
    base = gzip.open(ROOT / "data" / capture, "rt").read().splitlines(keepends=True)[:400]
    rng = random.Random(20261130)
    taken = 0
    for case in range(120):
        path = tmp_path / f"m{case}.jsonl"
        path.write_text("".join(mutate(base, rng)))
        try:
            want = reference([path])
        except DataError as err:
            want = err
        got = fast([path])
        if got is not None:
            taken += 1
            assert not isinstance(want, DataError), f"case {case}: the fast path read what the reference refuses"
            assert same(got, want), f"case {case}"
        try:
            public = import_capture(path, "x")
        except DataError as err:
            assert isinstance(want, DataError) and str(err) == str(want)
        else:
            assert not isinstance(want, DataError) and same(public, want)
    assert 5 < taken < 120  # both paths were exercised


def test_json_with_spaces_and_unknown_members_takes_the_fast_path(tmp_path):
    T0 = 1_723_161_254_000_000_000
    msgs = [
        {"lastUpdateId": 10, "bids": [["100.00", "1.0"]], "asks": [["100.01", "1.0"]], "extra": [1, {"x": None}]},
        {"stream": "btcusdt@depth@100ms", "data": {"e": "depthUpdate", "E": 1_723_161_255_300, "s": "BTCUSDT",
                                                   "U": 11, "u": 12, "b": [["100.00", "1.5"]], "a": []}},
        {"stream": "btcusdt@aggTrade", "data": {"e": "aggTrade", "E": 1_723_161_255_400, "s": "btcusdt",
                                                "a": 77, "p": "100.01", "q": "0.5", "T": 1_723_161_255_400,
                                                "m": True, "note": "é"}},
        {"stream": "btcusdt@kline_1m", "data": {"k": {"o": "1"}}},
        {"stream": "btcusdt@bookTicker", "data": {"u": 13, "s": "BTCUSDT", "b": "100.00", "B": "1.5",
                                                  "a": "100.01", "A": "0.5"}},
    ]
    path = tmp_path / "c.jsonl"

    def write(ascii_only):
        path.write_text("\n".join(f"{T0 + i * 10_000_000}  {json.dumps(m, ensure_ascii=ascii_only)} " for i, m in
                                  enumerate(msgs)) + "\n\n", encoding="utf-8")
    # raw non-ASCII text goes to the reference (Python's decoder decides); escaped, the scanner validates it
    write(ascii_only=False)
    assert fast([path]) is None
    write(ascii_only=True)
    assert "\\u00e9" in path.read_text()
    got = fast([path])
    assert got is not None and same(got, reference([path]))
    assert got.stats["streams_ignored"] == 1
    assert list(got.events["kind"]).count(3) == 1  # the aggTrade, id in 'a'


def test_a_depth_diff_without_its_ids_is_one_clear_error(tmp_path):
    T0 = 1_723_161_254_000_000_000
    msgs = [{"lastUpdateId": 10, "bids": [], "asks": []},
            {"stream": "btcusdt@depth@100ms", "data": {"E": 1_723_161_255_300, "s": "BTCUSDT", "u": 12, "b": []}}]
    path = tmp_path / "c.jsonl"
    path.write_text("\n".join(f"{T0} {json.dumps(m)}" for m in msgs) + "\n")
    with pytest.raises(DataError, match=r"c.jsonl:2: a depth message without the fields Binance sends"):
        import_capture(path, "x")


def test_the_scanner_runs_without_the_jit(tmp_path):
    """With NUMBA_DISABLE_JIT=1 the scanner is plain Python (steppable in a debugger) and reads the same."""
    src = ROOT / "data" / "binance-btcusdt-2024-08-08" / "spot.jsonl.gz"
    path = tmp_path / "small.jsonl"
    path.write_text("".join(gzip.open(src, "rt").read().splitlines(keepends=True)[:60]))
    code = ("import sys; from pathlib import Path; from backtest.markets.data.binance_fast import read_fast as f; "
            "d = f([Path(sys.argv[1])], 'x', None, None, None); sys.stdout.buffer.write(d.events.tobytes())")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, check=True, cwd=ROOT,
                         env=dict(os.environ, NUMBA_DISABLE_JIT="1")).stdout
    assert out == reference([path]).events.tobytes() and len(out) > 0
    assert np.frombuffer(out, dtype=np.uint8).size % 40 == 0


def test_a_capture_of_several_gzip_members_and_small_blocks(tmp_path, monkeypatch):
    """A gzip file of several members (``cat a.gz b.gz``) read in blocks far smaller than its lines' total:
    the same events as the reference; a truncated one goes to the reference, which names it."""
    import backtest.markets.data.binance_fast as capture

    src = ROOT / "data" / "binance-btcusdt-2024-08-08" / "spot.jsonl.gz"
    lines = gzip.open(src, "rt").read().splitlines(keepends=True)
    path = tmp_path / "members.jsonl.gz"
    path.write_bytes(b"".join(gzip.compress("".join(lines[a:b]).encode()) for a, b in
                              [(0, 5000), (5000, 5001), (5001, len(lines))]))
    monkeypatch.setattr(capture, "_TEXT_CHUNK", 100_000)  # many blocks, lines cut across them
    got = fast([path])
    assert got is not None and same(got, reference([path]))
    path.write_bytes(path.read_bytes()[:-100])
    assert fast([path]) is None
    with pytest.raises(DataError, match="truncated or corrupt"):
        import_capture(path, "x")


def test_a_bad_line_with_the_file_read_ahead_does_not_hang(tmp_path, monkeypatch):
    """The scan stops at a line it leaves to the reference while the inflating thread has queued the next
    blocks and its end: the thread must stop too (it once waited for ever to queue the end, and the reader
    joining it with it)."""
    import threading

    import backtest.markets.data.binance_fast as capture

    src = ROOT / "data" / "binance-btcusdt-2024-08-08" / "spot.jsonl.gz"
    lines = gzip.open(src, "rt").read().splitlines(keepends=True)[:3000]
    lines[20] = lines[20].replace('"s":', '"\\u0073":', 1)  # an escape: the scan leaves the file to the reference
    path = tmp_path / "c.jsonl.gz"
    path.write_bytes(gzip.compress("".join(lines).encode()))
    size = len("".join(lines).encode())
    monkeypatch.setattr(capture, "_TEXT_CHUNK", size // 3 + 1)  # three blocks: two queued, then the end
    for _ in range(5):
        out = []
        worker = threading.Thread(target=lambda: out.append(fast([path])), daemon=True)
        worker.start()
        worker.join(timeout=30)
        assert not worker.is_alive(), "the read-ahead hung"
        assert out == [None]
    assert same(import_capture(path, "x"), reference([path]))
