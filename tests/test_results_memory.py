"""Frames are built on first access, only the columns asked for, and without copies."""
import numpy as np

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
