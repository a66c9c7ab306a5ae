"""Frames are built on first access, only the columns asked for, and without copies."""
import pandas as pd
import numpy as np
import pytest

import backtest


def test_summary_builds_only_the_columns_it_needs():
    r = backtest.run(backtest.make_config(**{"sim.ticks": 500}))
    r.summary_dict
    assert "tick_columns" not in r.__dict__ and "ticks" not in r.__dict__
    assert len(r.__dict__["_columns"]) < 15


def test_frame_and_lookups_share_their_arrays():
    r = backtest.run(backtest.make_config(**{"sim.ticks": 500}))
    frame = r.ticks
    cols = r.tick_columns
    for name in ("total_pnl", "spread_capture", "inv1_lots", "quote_bid_price", "time_s"):
        assert np.shares_memory(frame[name].to_numpy(), cols[name]), name
    assert np.shares_memory(frame["fair_price"].to_numpy(), frame["feed1_price"].to_numpy())
    # the lookups agree with the frame, state as strings
    assert (frame["state"].astype(str).to_numpy() == cols["state"]).all()


def test_columns_equal_whichever_is_built_first():
    cfg = backtest.make_config(**{"sim.ticks": 500})
    a, b = backtest.run(cfg), backtest.run(cfg)
    a.tick_columns
    b.ticks
    for name, values in a.tick_columns.items():
        if name != "state":
            assert np.array_equal(values, b.ticks[name].to_numpy(), equal_nan=True), name


def test_checkpoint_estimate_covers_the_whole_loop_state():
    """Every checkpoint copies the whole loop state (books, hedge intents, the hedge FIFO): the estimate per
    checkpoint is at least what one really holds."""
    import backtest
    from backtest.engine import Simulation
    from backtest.markets.generate import generate
    from backtest.resources import estimate_memory

    cfg = backtest.make_config(**{"sim.ticks": 300})
    sim = Simulation(cfg, generate(cfg), checkpoint_every=100)
    sim.advance(cfg.sim.ticks)
    held = sum(a.nbytes for a in sim.checkpoints[-1].state)
    per_checkpoint = estimate_memory(cfg, checkpoints=1).parts["checkpoints"]
    assert per_checkpoint >= held


@pytest.mark.parametrize("ticks", [300_000, 1_000_000])
@pytest.mark.parametrize("mode", ["run", "api"])
def test_the_memory_estimate_is_within_1_2x_of_the_measured_peak(ticks, mode):
    """The estimate a run or an API session is refused by, against the process's real high-water mark (an
    API session: start, an action half-way whose re-run overlaps the run readers hold, frames built)."""
    from bench.bench_memory import measure_in_fresh_process

    got = measure_in_fresh_process(ticks, mode)
    assert 1 / 1.2 <= got["estimate_over_peak"] <= 1.2, got


def test_cli_run_frees_the_order_flow_before_the_summary(monkeypatch, capsys):
    """The memory estimate assumes the order flow is gone once the kernel is done; the CLI held it while the
    summary was built (2.6 GiB over the estimate at 2e7 ticks)."""
    import gc
    import weakref

    import backtest.cli as cli
    import backtest.markets.generate as gen

    tables = []
    real_generate = gen.generate

    def generate(*args, **kwargs):
        market = real_generate(*args, **kwargs)
        tables.append(weakref.ref(market.events1.table))
        return market

    freed = []
    real_format = cli.format_summary

    def format_summary(summary):
        gc.collect()
        freed.append(tables[0]() is None)
        return real_format(summary)

    monkeypatch.setattr(gen, "generate", generate)
    monkeypatch.setattr(cli, "format_summary", format_summary)
    assert cli.main(["run", "--ticks", "800"]) == 0
    assert freed == [True]


def test_account_rows_in_force_by_merge_equal_the_binary_search():
    from kernels.series import rows_in_force

    rng = np.random.default_rng(3)
    for row_ticks in (np.array([0, 0, 3, 3, 3, 9, 20], dtype=np.int64), np.sort(rng.integers(0, 500, 60)),
                      np.array([5], dtype=np.int64), np.zeros(0, dtype=np.int64)):
        for ticks in (np.arange(30, dtype=np.int64), np.minimum((np.arange(60) + 1) * 7 - 1, 400),
                      np.array([0, 0, 2, 3, 3, 600], dtype=np.int64)):
            got = np.empty(len(ticks), dtype=np.int64)
            rows_in_force(ticks, row_ticks, got)
            assert np.array_equal(got, np.searchsorted(row_ticks, ticks, side="right") - 1)


@pytest.mark.parametrize("preset_name,overrides", [("default", {}), ("replay_binance_btcusd_coinm_20240808", {}),
                                                   ("default", {"sim.record_every_ms": 700.0})])
def test_the_frame_built_in_one_pass_equals_each_column_built_alone(preset_name, overrides):
    """The full ticks frame builds its float columns from the records in one compiled pass and the account
    columns through a merge of the two tick lists; a lookup builds one column from the records with numpy:
    the same values, bit for bit."""
    import dataclasses

    cfg = backtest.preset(preset_name).with_dotted({"sim.ticks": 3000, **overrides})
    r = backtest.run(cfg)
    raw = r.ticks_raw.copy()
    for field in ("best_bid1", "quote_ask", "ask_in_flight"):  # empty sides and no order: NaN in the frame
        raw[field][::5] = -1
    r = dataclasses.replace(r, ticks_raw=raw)
    frame = dataclasses.replace(r).ticks
    assert frame["best_bid1_price"].isna().sum() == len(raw[::5]) and frame["quote_ask_price"].notna().any()
    for name in frame.columns:
        alone = dataclasses.replace(r).column(name)
        got = frame[name].to_numpy() if name != "state" else frame[name].cat.codes.to_numpy()
        assert got.dtype == np.asarray(alone).dtype or name == "state", name
        assert np.array_equal(got, np.asarray(alone), equal_nan=got.dtype.kind == "f"), name


def test_writing_into_the_ticks_frame_leaves_the_run_as_it_was():
    """Some frame columns are views of the tick records: an edit in a notebook must copy, not rewrite the run
    that lookups, the summary and the API read."""
    r = backtest.run(backtest.make_config(**{"sim.ticks": 3000}))
    raw, pnl, inv = r.ticks_raw.copy(), r.column("total_pnl").copy(), r.column("inv1_lots").copy()
    state = r.column("state").copy()
    summary = dict(r.summary_dict)
    t = r.ticks
    t.loc[0, "quote_bid_lots"] = 999
    t["total_pnl"] *= 2
    t.loc[5, "inv1_lots"] = -7
    t.loc[6, "state"] = "killed"
    t.loc[7, "tick"] = -1
    assert np.array_equal(r.column("state"), state) and r.column("tick")[7] == 7
    assert r.ticks_raw.tobytes() == raw.tobytes()
    assert np.array_equal(r.column("total_pnl"), pnl) and np.array_equal(r.column("inv1_lots"), inv)
    assert r.summary_dict == summary
    assert t.loc[0, "quote_bid_lots"] == 999  # the frame is the user's to edit


def test_writing_into_the_orders_frame_leaves_the_records_as_they_were():
    """The orders frame takes its column arrays without copying them into blocks: none of them may be a view
    of the order records (labels are categoricals of codes, which can be strided views of the records)."""
    r = backtest.run(backtest.make_config(**{"sim.ticks": 3000}))
    raw = r.orders_raw.copy()
    o = r.orders
    assert len(o) > 10
    o.loc[0, "order_id"] = -5
    o.loc[1, "tick"] = 10**9
    o.loc[2, "qty_lots"] = 77
    o["price"] *= 2
    o.loc[3, "reason"] = "risk" if o.loc[3, "reason"] != "risk" else "quote"
    o.loc[5, "action"] = "cancel" if o.loc[5, "action"] != "cancel" else "new"
    o.loc[6, "side"] = "sell" if o.loc[6, "side"] == "buy" else "buy"
    assert r.orders_raw.tobytes() == raw.tobytes()


def test_max_drawdown_in_one_pass_equals_numpys():
    from kernels.series import max_drawdown

    rng = np.random.default_rng(5)
    for values in (np.cumsum(rng.normal(size=5000)), np.arange(10.0), -np.arange(10.0), np.array([3.0]),
                   np.array([1.0, 5.0, -2.0, 7.0, 6.5, -4.0])):
        assert max_drawdown(values) == (np.maximum.accumulate(values) - values).max()
    assert np.isnan(max_drawdown(np.array([1.0, np.nan, 0.0])))
    assert max_drawdown(np.zeros(0)) == 0.0


def test_the_ticks_frame_after_the_lookups_equals_the_frame_alone():
    """The API builds the point lookups (``tick_columns``, state as names) before anyone asks for the frame."""
    import dataclasses

    r = backtest.run(backtest.make_config(**{"sim.ticks": 2000}))
    alone = dataclasses.replace(r).ticks
    r.tick_columns
    pd.testing.assert_frame_equal(r.ticks, alone)
