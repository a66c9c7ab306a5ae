"""Long runs in bounded memory: a recording replayed chunk by chunk (``replay.chunk_s``) gives the one-pass
run's records exactly, on every shipped recording and clock, from the loaded capture and from a normalised
file read in batches; ``sim.record_every_ms`` keeps one tick row per interval and every other record whole."""
import numpy as np
import pytest

import backtest
from backtest.markets import replay
from backtest.config import ConfigError, make_config, preset
from backtest.markets.data import save
from backtest.engine import Simulation, run
from backtest.results import record_rows, record_ticks
from backtest.markets.generate import generate
from backtest.markets.inputs import LatencyDraws
from backtest.interventions import Intervention
from backtest.markets.replay import ReplayChunks, load_venue

BTC, ETH, COINM = "replay_binance_btcusdt_20240808", "replay_binance_ethusdt_20240808", \
    "replay_binance_btcusd_coinm_20240808"
RECORDS = ("fills_raw", "hedges_raw", "orders_raw", "risk_raw", "account_raw")
# a manual fill, a pause and a resume either side of chunk boundaries; latency spikes that run over them
ACTIONS = [Intervention(4321, "manual_fill", "buy", 3), Intervention(9000, "pause"), Intervention(9400, "resume")]


def _config(name, ticks=12_000, **dotted):
    return preset(name).with_dotted({"sim.ticks": ticks, "latency.spike_probability": 0.002, **dotted})


def _differing(a: dict, b: dict) -> set:
    """Keys whose values differ (NaN equals NaN)."""
    return {k for k in a if not (a[k] == b[k] or (a[k] != a[k] and b[k] != b[k]))}


def _same_run(got, want):
    for name in RECORDS:
        assert getattr(got, name).tobytes() == getattr(want, name).tobytes(), name
    rows = got.tick_index
    assert got.ticks_raw.tobytes() == want.ticks_raw[rows].tobytes()
    for name in ("feed1", "feed2", "fair"):
        assert getattr(got, name).tobytes() == getattr(want, name)[rows].tobytes(), name
    assert np.array_equal(got.counters, want.counters)


@pytest.mark.parametrize("name, clock", [(BTC, "receive"), (BTC, "split"), (BTC, "exchange"), (COINM, "receive"),
                                         (COINM, "split"), (ETH, "exchange")])
def test_a_recording_cut_into_many_small_chunks_replays_as_one_pass(name, clock):
    one = run(_config(name, **{"replay.clock": clock}), ACTIONS)
    # 37 ms chunks: boundaries fall inside bursts of events, hedges in flight and the pause
    chunked = run(_config(name, **{"replay.clock": clock, "replay.chunk_s": 0.037}), ACTIONS)
    _same_run(chunked, one)
    assert not _differing(chunked.summary_dict, one.summary_dict)
    # the chunks had something to carry over: orders resting and in flight, fills
    assert len(one.fills_raw) >= 1 and len(one.orders_raw) > 20


def test_a_normalised_file_is_read_in_batches_and_gives_the_same_run(tmp_path, monkeypatch):
    cfg = _config(BTC)
    files = {}
    for venue in ("exchange1", "exchange2"):
        files[venue] = str(save(load_venue(getattr(cfg.replay, venue), venue), tmp_path / venue))
    from_files = cfg.with_dotted({"replay.exchange1": files["exchange1"], "replay.exchange2": files["exchange2"]})
    one = run(from_files, ACTIONS)
    monkeypatch.setattr(replay, "STREAM_BATCH_ROWS", 997)  # batches that end anywhere in a tick's events
    streamed_cfg = from_files.with_dotted({"replay.chunk_s": 0.25, "replay.clock": "receive"})
    chunks = ReplayChunks(streamed_cfg)
    assert all(d.path is not None and d.events.size == 0 for d in chunks.venues)  # nothing loaded up front
    _same_run(run(streamed_cfg, ACTIONS), one)
    split = from_files.with_dotted({"replay.clock": "split"})
    _same_run(run(split.with_dotted({"replay.chunk_s": 0.25}), ACTIONS), run(split, ACTIONS))


def test_a_file_out_of_receive_order_is_refused_for_a_chunked_replay(tmp_path):
    cfg = _config(BTC)
    data = load_venue(cfg.replay.exchange1, "exchange1")
    shuffled = data.events.copy()
    late = len(shuffled) - 10
    assert shuffled["recv_ts"][late] > shuffled["recv_ts"][1000]
    shuffled[[1000, late]] = shuffled[[late, 1000]]
    data = type(data)(**{**data.__dict__, "events": shuffled})
    path = save(data, tmp_path / "e1")
    with pytest.raises(ConfigError, match="not in receive-time order"):
        run(cfg.with_dotted({"replay.exchange1": str(path), "replay.chunk_s": 1.0}))


def test_a_file_damaged_part_way_is_refused_when_the_chunked_replay_reaches_it(tmp_path):
    cfg = _config(BTC, ticks=20_000)
    path = save(load_venue(cfg.replay.exchange2, "exchange2"), tmp_path / "e2")
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2: len(raw) // 2 + 4096] = b"\xff" * 4096  # a page in the middle, the footer intact
    path.write_bytes(bytes(raw))
    with pytest.raises(ConfigError, match="not a readable Parquet file"):
        run(cfg.with_dotted({"replay.exchange2": str(path), "replay.chunk_s": 1.0}))


def test_latency_draws_in_spans_equal_one_draw():
    cfg = preset("default").with_dotted({"latency.spike_probability": 0.01, "latency.spike_duration_s": 0.7,
                                          "latency.outage_windows_s": [[3.0, 4.5]],
                                          "latency.spike_windows_s": [[7.0, 9.0]],
                                          "latency.order_spike_windows_s": [[1.0, 2.0]]})
    whole = LatencyDraws(cfg).draw(0, 400)
    draws = LatencyDraws(cfg)
    pieces = [draws.draw(a, b) for a, b in ((0, 1), (1, 33), (33, 34), (34, 250), (250, 400))]
    for k in range(3):
        assert np.concatenate([p[k] for p in pieces]).tobytes() == whole[k].tobytes()
    with pytest.raises(ValueError, match="continue at tick 400"):
        draws.draw(10, 20)


@pytest.mark.parametrize("name, every_ms", [("default", 700), ("default", 100), (BTC, 250)])
def test_a_coarser_tick_grid_keeps_every_other_record_exact(name, every_ms):
    ticks = 9_001
    cfg = preset(name).with_dotted({"sim.ticks": ticks})
    full = run(cfg, ACTIONS[:1])
    coarse = run(cfg.with_dotted({"sim.record_every_ms": every_ms}), ACTIONS[:1])
    every = coarse.config.record_every_ticks
    assert every == round(every_ms / (cfg.sim.dt_s * 1000))
    assert len(coarse.ticks_raw) == record_rows(ticks, every) == -(-ticks // every)
    assert coarse.tick_index[-1] == ticks - 1 and (every == 1 or coarse.tick_index[0] == every - 1)
    _same_run(coarse, full)
    frame = coarse.ticks
    assert np.array_equal(frame["tick"].to_numpy(), coarse.tick_index)
    want = full.ticks.iloc[coarse.tick_index].reset_index(drop=True)
    assert frame.reset_index(drop=True).equals(want)
    a, b = coarse.summary_dict, full.summary_dict
    # everything but the drawdown (marked on the rows) is exact: positions, states and exposure come from the
    # account rows, which hold every change
    assert _differing(a, b) <= {"max_drawdown"}
    assert a["max_drawdown"] <= b["max_drawdown"]
    assert coarse.state_at(int(coarse.tick_index[3]))["total_pnl"] == full.state_at(int(coarse.tick_index[3]))[
        "total_pnl"]
    if every > 1:
        with pytest.raises(KeyError, match="no tick record"):
            coarse.state_at(int(coarse.tick_index[3]) - 1)


def test_record_grid_and_chunks_are_checked():
    with pytest.raises(ConfigError, match="record_every_ms 150 is not a whole number of ticks"):
        make_config(**{"sim.record_every_ms": 150})
    with pytest.raises(ConfigError, match="record_every_ms 50 is not a whole number"):
        make_config(**{"sim.record_every_ms": 50})  # less than a tick
    with pytest.raises(ConfigError, match="chunks cut a recording"):
        make_config(**{"replay.chunk_s": 5})
    assert preset("default").record_every_ticks == 1
    assert np.array_equal(record_ticks(10, 3, record_rows(10, 3)), [2, 5, 8, 9])
    assert record_rows(10, 3, computed=7) == 2
    assert np.array_equal(record_ticks(10, 3, 4, first=2), [8, 9])


def test_a_chunked_replay_cannot_be_checkpointed():
    cfg = _config(BTC, ticks=2000, **{"replay.chunk_s": 0.5})
    with pytest.raises(ValueError, match="cannot be checkpointed"):
        Simulation(cfg, generate(cfg), checkpoint_every=500)


def test_saved_coarse_run_loads_with_its_grid(tmp_path):
    from backtest.research.experiment import load, save_run

    res = run(preset("default").with_dotted({"sim.ticks": 3001, "sim.record_every_ms": 1000}))
    back = load(save_run(res, tmp_path / "run"))
    assert np.array_equal(back.tick_index, res.tick_index) and not _differing(back.summary_dict, res.summary_dict)
    assert backtest.run is run


def test_the_api_refuses_a_coarse_grid_and_chunks_with_what_is_allowed():
    from fastapi.testclient import TestClient

    from api.app import create_app

    with TestClient(create_app(preset("default").with_dotted({"sim.ticks": 500}), ticks_per_second=0.0,
                               horizon_ticks=20)) as c:
        bad = c.put("/config", json={"sim": {"record_every_ms": 1000}})
        assert bad.status_code == 422 and "a session serves the state at every tick" in bad.text
        bad = c.put("/config", json={"market": {"source": "replay"}, "replay": {
            "exchange1": "data/binance-btcusdt-2024-08-08/spot.jsonl.gz",
            "exchange2": "data/binance-btcusdt-2024-08-08/usdm.jsonl.gz", "chunk_s": 10}})
        assert bad.status_code == 422 and "replay.chunk_s 10" in bad.text and "allowed: 0 here" in bad.text
        assert c.get("/config").json()["current"]["sim"]["record_every_ms"] == 0


def _in_groups(cfg, venue, directory, monkeypatch, rows=7_000):
    """``venue``'s recording saved with row groups of ``rows`` events (each summarised in the file)."""
    from backtest.markets.data import store

    monkeypatch.setattr(store, "GROUP_ROWS", rows)
    return save(load_venue(getattr(cfg.replay, venue), venue), directory)


class _ReadingEveryEvent(replay._Source):
    def group_summaries(self):
        return None


@pytest.mark.parametrize("name", [BTC, COINM])
def test_the_first_scan_reads_row_group_summaries_and_finds_what_reading_every_event_finds(name, tmp_path,
                                                                                          monkeypatch):
    from backtest.markets.data.store import group_summaries, read_info

    cfg = _config(name)
    for venue in ("exchange1", "exchange2"):
        path = _in_groups(cfg, venue, tmp_path / venue, monkeypatch)
        groups = group_summaries(path)
        assert groups is not None and len(groups) > 10
        data = read_info(path)
        first, last = data.span_ns
        for clock in ("receive", "exchange"):
            for ticker in (True, False):
                for end in (first + 1, first + 3_333_333_333, (first + last) // 2, last, last + 1):
                    with_summaries = replay._scan(replay._Source(data, ticker), clock, end)
                    every_event = replay._scan(_ReadingEveryEvent(data, ticker), clock, end)
                    if clock == "receive":  # the largest lag is read on the exchange clock only
                        with_summaries, every_event = with_summaries[1:], every_event[1:]
                    assert with_summaries == every_event, (venue, clock, ticker, end)
        # the recordings' receive times trail the venue's: the lag the exchange clock reads ahead by is there
        assert replay._scan(replay._Source(data, True), "exchange", last + 1)[0] > 0


def test_a_file_in_many_summarised_row_groups_replays_in_chunks_as_in_one_pass(tmp_path, monkeypatch):
    cfg = _config(BTC)
    files = {venue: str(_in_groups(cfg, venue, tmp_path / venue, monkeypatch)) for venue in ("exchange1", "exchange2")}
    from_files = cfg.with_dotted({"replay.exchange1": files["exchange1"], "replay.exchange2": files["exchange2"]})
    for clock in ("receive", "split"):
        one = run(from_files.with_dotted({"replay.clock": clock}), ACTIONS)
        _same_run(run(from_files.with_dotted({"replay.clock": clock, "replay.chunk_s": 0.5}), ACTIONS), one)
        _same_run(one, run(cfg.with_dotted({"replay.clock": clock}), ACTIONS))  # and as from the capture


def test_summaries_that_do_not_match_the_row_groups_are_not_used(tmp_path, monkeypatch):
    import json

    import pyarrow.parquet as pq

    from backtest.markets.data import store

    cfg = _config(BTC)
    path = _in_groups(cfg, "exchange1", tmp_path / "e1", monkeypatch)
    table = pq.read_table(path)
    meta = pq.ParquetFile(path).metadata.metadata
    groups = json.loads(meta[store._GROUPS_KEY])
    def rewritten(summaries):
        writer_meta = {**(table.schema.metadata or {}), store._GROUPS_KEY: json.dumps(summaries).encode()}
        pq.write_table(table.replace_schema_metadata(writer_meta), tmp_path / "x.parquet", row_group_size=7_000)
        return store.group_summaries(tmp_path / "x.parquet")

    assert rewritten(groups).tolist() == groups  # the same row groups: the summaries are used
    for damaged in (groups[:-1], [g[:-1] for g in groups], [[g[0] + 1] + g[1:] for g in groups], "not a list"):
        assert rewritten(damaged) is None
    # the events changed in place after the file was written (prices rescaled, times shifted), the summaries kept
    import pyarrow.compute as pc

    original = table
    for column, change in (("price", lambda c: pc.multiply(c, 2)), ("recv_ts", lambda c: pc.add(c, 1))):
        table = original.set_column(original.schema.get_field_index(column), column,
                                    change(original.column(column))).replace_schema_metadata(original.schema.metadata)
        assert rewritten(groups) is None, column
    pq.write_table(table, tmp_path / "plain.parquet")  # written without them (by hand, or before they existed)
    assert store.group_summaries(tmp_path / "plain.parquet") is None


def test_a_batch_buffer_is_not_handed_out_again_while_a_view_of_it_lives():
    from backtest.markets.data.store import _Buffers

    buffers = _Buffers()
    first = buffers.take(100)
    first["price"] = 7
    view = first[10:20]
    del first
    second = buffers.take(100)
    assert not np.shares_memory(second, view) and (view["price"] == 7).all()
    del view
    third = buffers.take(80)  # the first one, free again
    assert np.shares_memory(third, buffers._arrays[0])


def test_a_chunked_span_that_overflows_without_a_copy_of_the_state_starts_the_run_over(monkeypatch):
    cfg = _config(BTC, **{"replay.chunk_s": 0.5})
    want = run(cfg.with_dotted({"replay.chunk_s": 0.0}), ACTIONS)
    # no room kept: after the first span, every span runs without a copy of the state, and the first one to
    # overflow a record array starts the run over
    import backtest.engine as engine

    monkeypatch.setattr(Simulation, "SPAN_ROOM_FACTOR", 0)
    monkeypatch.setattr(Simulation, "SPAN_ROOM_MARGIN", 0)
    monkeypatch.setattr(engine, "_record_caps", lambda *args: (16, 16, 16, 16, 16))
    sim = Simulation(cfg, generate(cfg), ACTIONS)
    sim.advance(cfg.sim.ticks)
    assert sim.started_over >= 1
    _same_run(sim.results(), want)


def test_chunks_keep_room_for_the_next_span_and_copy_no_state_after_the_first():
    cfg = _config(BTC, **{"replay.chunk_s": 0.5})
    sim = Simulation(cfg, generate(cfg), ACTIONS)
    copies = []
    room_for_span = sim._room_for_span

    def counted():
        room = room_for_span()
        copies.append(not room)  # no room kept: the span copies the state
        return room

    sim._room_for_span = counted
    sim.advance(cfg.sim.ticks)
    assert copies[0] and not any(copies[1:]) and len(copies) >= 20
    assert sim.started_over == 0
    _same_run(sim.results(), run(cfg.with_dotted({"replay.chunk_s": 0.0}), ACTIONS))


def test_a_long_runs_records_grow_to_its_pace_not_by_half_at_a_time(monkeypatch):
    """Each growth copies what a record array holds: over a printed day they grew by half 28 times. Now the first
    growth in chunks goes to the run's rows at the pace so far (at least double), and the run is the same."""
    import backtest.engine as engine

    cfg = _config(BTC, ticks=200_000, **{"replay.chunk_s": 5.0})
    monkeypatch.setattr(engine, "_record_caps", lambda *args: (16, 16, 16, 16, 16))
    monkeypatch.setattr(Simulation, "SPAN_ROOM_MARGIN", 16)  # the margin alone would hold this short run's rows
    grown = []
    enlarged = engine.enlarged

    def counted(rec, rows):
        grown.append(rec.dtype)
        return enlarged(rec, rows)

    monkeypatch.setattr(engine, "enlarged", counted)
    sim = Simulation(cfg, generate(cfg), ACTIONS)
    sim.advance(cfg.sim.ticks)
    orders = int(sim.state[-1][engine.C_ORDERS])
    assert orders > 1000  # from 16 rows by half at a time: 11 growths of the orders alone
    assert grown.count(sim.records[2].dtype) <= 4, len(grown)
    monkeypatch.setattr(engine, "enlarged", enlarged)
    _same_run(sim.results(), run(cfg.with_dotted({"replay.chunk_s": 0.0}), ACTIONS))


def test_chunks_are_built_ahead_in_order_and_handed_out_once():
    from backtest.resources import CHUNKS_AHEAD

    cfg = _config(BTC, ticks=6_000, **{"replay.chunk_s": 0.5})  # 12 chunks of 500 ticks
    chunks = ReplayChunks(cfg)
    assert len(chunks._ahead) == CHUNKS_AHEAD
    offsets = [chunks.first.tick_offset]
    for _ in range(11):
        offsets.append(chunks.next().tick_offset)
        assert len(chunks._ahead) == min(CHUNKS_AHEAD, 11 - len(offsets) + 1)
    assert offsets == list(range(0, 6_000, 500))
    with pytest.raises(ValueError, match="all handed out"):
        chunks.next()


@pytest.mark.parametrize("reference", ["exchange1", "exchange2", "blend"])
def test_latest_updates_span_by_span_are_the_latest_updated_tick_of_the_reference_feeds(reference):
    from backtest.markets.replay import _LastUpdates

    rng = np.random.default_rng(1)
    u1 = (rng.random(1000) < 0.01).astype(np.uint8)
    u2 = (rng.random(1000) < 0.02).astype(np.uint8)
    ticks = np.arange(1000)

    def latest(updated):  # the definition: the latest tick at or before each with an update, 0 before the first
        return np.maximum.accumulate(np.where(updated == 1, ticks, 0))

    want = {"exchange1": latest(u1), "exchange2": latest(u2), "blend": np.minimum(latest(u1), latest(u2))}[reference]
    assert np.array_equal(_LastUpdates(reference).of(u1, u2, 0), want)
    spans = _LastUpdates(reference)
    got = np.concatenate([spans.of(u1[a:b], u2[a:b], a) for a, b in ((0, 7), (7, 7), (7, 400), (400, 1000))])
    assert np.array_equal(got, want)
