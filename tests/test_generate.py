"""The generated market has the laws the README states: event mix, sizes, offsets, cancels, informed clients.

Each check compares a sample statistic with its expectation within about five standard errors, on a
fixed seed, so it is deterministic and fails only if the law itself is wrong.
"""
import math

import numpy as np
import pytest

import backtest
import backtest.markets.generate as gen
from kernels.records import EV_CANCEL, EV_CLIENT, EV_LIMIT, EV_MARKET

TICKS = 60_000


@pytest.fixture(scope="module")
def market():
    cfg = backtest.make_config(**{"sim.ticks": TICKS, "sim.seed": 11})
    return cfg, gen.generate(cfg)


def _within(sample, expected, sd, n, sigmas=5.0):
    assert abs(sample - expected) <= sigmas * sd / math.sqrt(n), (sample, expected)


def _geometric_mean_capped(mean, cap):
    """E[min(X, cap)] for X geometric on {1, 2, ...} with mean ``mean``: sum of P(X >= k), k = 1..cap."""
    q = 1.0 - 1.0 / mean
    return sum(q ** (k - 1) for k in range(1, cap + 1))


def test_event_mix_follows_the_rates(market):
    cfg, m = market
    for flow, events, client_rate in ((cfg.exchange1, m.events1, cfg.clients.rate_per_s),
                                      (cfg.exchange2, m.events2, 0.0)):
        rates = {
            EV_LIMIT: 2 * flow.limit_rate_per_s,
            EV_CANCEL: 2 * flow.cancel_rate_per_order_per_s * flow.max_orders_per_side,
            EV_MARKET: 2 * flow.market_rate_per_s,
            EV_CLIENT: client_rate,
        }
        total = sum(rates.values())
        n = events.kind.size
        _within(n / TICKS, total * cfg.sim.dt_s, math.sqrt(total * cfg.sim.dt_s), TICKS)  # Poisson counts
        for kind, rate in rates.items():
            share = rate / total
            _within(np.mean(events.kind == kind), share, math.sqrt(share * (1 - share)) + 1e-12, n)
        for kind in (EV_LIMIT, EV_CANCEL, EV_MARKET):  # both sides equally likely
            sides = events.side[events.kind == kind]
            _within(sides.mean(), 0.5, 0.5, sides.size)


def test_sizes_offsets_and_cancel_picks(market):
    cfg, m = market
    flow, ev = cfg.exchange2, m.events2
    limit = ev.kind == EV_LIMIT
    off = ev.offset[limit]
    assert off.min() >= 1 and off.max() <= flow.max_depth_ticks
    mean_off = _geometric_mean_capped(flow.mean_offset_ticks, flow.max_depth_ticks)
    _within(off.mean(), mean_off, flow.mean_offset_ticks, off.size)
    q = ev.qty[limit]
    assert q.min() >= 1
    _within(q.mean(), flow.mean_limit_size_lots, flow.mean_limit_size_lots, q.size)
    qm = ev.qty[ev.kind == EV_MARKET]
    _within(qm.mean(), flow.mean_market_size_lots, flow.mean_market_size_lots, qm.size)
    # sizes do not depend on the side (the size comes from the same uniform that picked the type)
    _within(ev.qty[limit & (ev.side == 0)].mean(), ev.qty[limit & (ev.side == 1)].mean(),
            flow.mean_limit_size_lots * math.sqrt(2), q.size / 2)
    picks = ev.offset[ev.kind == EV_CANCEL]
    n_max = flow.max_orders_per_side
    assert picks.min() >= 0 and picks.max() < n_max
    _within(picks.mean(), (n_max - 1) / 2, n_max / math.sqrt(12), picks.size)
    counts = np.bincount(picks, minlength=n_max)
    assert counts.min() > 0  # every resting position can be hit


def test_informed_clients_trade_with_the_coming_move(market):
    cfg, m = market
    ev = m.events1
    is_client = ev.kind == EV_CLIENT
    ticks = np.repeat(np.arange(TICKS), np.diff(ev.start))[is_client]
    horizon = max(1, round(cfg.clients.informed_horizon_s / cfg.sim.dt_s))
    ahead = m.center1[np.minimum(ticks + horizon, TICKS - 1)] - m.center1[ticks]
    side = ev.side[is_client]
    moved = ahead != 0
    with_move = np.where(ahead[moved] > 0, side[moved] == 0, side[moved] == 1)
    f = cfg.clients.informed_fraction
    expected = f + (1 - f) / 2  # informed always, uninformed half the time
    _within(with_move.mean(), expected, 0.5, with_move.size)
    _within(ev.qty[is_client].mean(), cfg.clients.mean_size_lots, cfg.clients.mean_size_lots, side.size)


def test_chunked_drawing_changes_nothing(monkeypatch):
    cfg = backtest.make_config(**{"sim.ticks": 3000})
    whole = gen.generate(cfg)
    monkeypatch.setattr(gen, "EVENT_CHUNK", 7)
    chunked = gen.generate(cfg)
    for a, b in ((whole.events1, chunked.events1), (whole.events2, chunked.events2)):
        assert a.table.tobytes() == b.table.tobytes() and a.start.tobytes() == b.start.tobytes()


def test_geometric_inverse_edges():
    from kernels.series import geometric_inverse

    inv = 1.0 / math.log1p(-1.0 / 4.0)
    assert geometric_inverse(0.0, inv, 100) == 1
    assert geometric_inverse(0.9999999999999999, inv, 100) == 100  # capped
    assert geometric_inverse(0.5, 0.0, 100) == 1  # mean 1
    # P(X = 1) = p = 1/4: u below 1/4 gives 1, just above gives 2
    assert geometric_inverse(0.2499, inv, 100) == 1 and geometric_inverse(0.2501, inv, 100) == 2


@pytest.mark.parametrize("windows", [{}, {"latency.spike_windows_s": [[1.0, 2.5]], "latency.outage_windows_s": [[0.7, 0.9]],
                                      "latency.order_spike_windows_s": [[3.0, 4.2]], "latency.spike_probability": 0.002}])
def test_streamed_flow_is_the_same_flow_and_the_same_run(monkeypatch, windows):
    """run() starts the kernel while a helper thread still draws the order flow and the latencies, span by
    span; nothing may differ (forced and random latency spikes run on across spans)."""
    monkeypatch.setattr(gen, "STREAM_TICKS", 700)  # many hand-overs between the helper and the kernel
    monkeypatch.setattr(gen, "FIRST_STREAM_TICKS", 90)  # spans of 90, 180, 360, 700, 700...
    cfg = backtest.make_config(**{"sim.ticks": 5000, **windows})
    whole = gen.generate(cfg)
    streamed = gen.generate(cfg, stream=True)
    streamed.wait_for_events(cfg.sim.ticks)
    for a, b in ((whole.events1, streamed.events1), (whole.events2, streamed.events2)):
        # the streamed table was allocated before the total was drawn: the events fill its first start[-1] rows
        assert len(b.table) > len(a.table) == a.start[-1]
        assert a.table.tobytes() == b.table[: len(a.table)].tobytes() and a.start.tobytes() == b.start.tobytes()
    for name in ("hedge_latency_ms", "hedge_reject", "order_latency_ms"):
        a, b = getattr(whole, name), getattr(streamed, name)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
    if windows:
        assert whole.hedge_reject.any() and (whole.hedge_latency_ms > 3 * np.median(whole.hedge_latency_ms)).any()
    r_whole = backtest.run(cfg, market=whole)
    r_streamed = backtest.run(cfg)  # generates with stream=True
    for name in ("ticks_raw", "fills_raw", "hedges_raw", "orders_raw", "risk_raw", "account_raw"):
        assert getattr(r_whole, name).tobytes() == getattr(r_streamed, name).tobytes(), name


def test_a_streamed_flow_beyond_its_table_is_drawn_again_whole(monkeypatch):
    """The streamed table is sized before the total is drawn (12 standard deviations above the mean); should
    the total pass it, the run is drawn again whole: the same results, no error, no helper left running."""
    import threading

    monkeypatch.setattr(gen, "STREAM_TICKS", 700)
    monkeypatch.setattr(gen, "FIRST_STREAM_TICKS", 90)
    cfg = backtest.make_config(**{"sim.ticks": 5000})
    expected = backtest.run(cfg, market=gen.generate(cfg))
    for sigmas in (-3.0, -400.0):  # full in a later span; full at once (the first span's count)
        monkeypatch.setattr(gen, "TABLE_SIGMAS", sigmas)
        with pytest.raises(gen.FlowTableFull):
            m = gen.generate(cfg, stream=True)
            try:
                m.wait_for_events(cfg.sim.ticks)
            finally:
                m.events_progress.stop()
        got = backtest.run(cfg)
        for name in ("ticks_raw", "fills_raw", "hedges_raw", "orders_raw", "risk_raw", "account_raw"):
            assert getattr(expected, name).tobytes() == getattr(got, name).tobytes(), name
    assert not [t for t in threading.enumerate() if t.name == "mmhedge-flow"]


def test_streaming_helper_errors_reach_the_consumer():
    class Broken:
        def count(self, until_tick=None):
            pass

        def fill(self, until_tick):
            raise ValueError("boom")

    stream = gen.EventStream((Broken(),), 100)
    stream.wait(0)  # counting works
    stream.prices_ready()
    with pytest.raises(RuntimeError, match="drawing the order flow failed") as info:
        stream.wait(50)
    assert isinstance(info.value.__cause__, ValueError)


def test_abandoned_stream_stops_drawing():
    filled = []

    class Venue:
        def count(self, until_tick=None):
            pass

        def fill(self, until_tick):
            filled.append(until_tick)

    stream = gen.EventStream((Venue(),), 10 * gen.STREAM_TICKS)
    stream.abandon()  # e.g. the prices failed a check: the market is never used
    stream._thread.join(timeout=10)
    assert not stream._thread.is_alive() and filled == []


@pytest.mark.parametrize("lam", [0.0, 0.3, 8.4, 9.99, 12.0])
@pytest.mark.parametrize("buffer_size", [3, 1000, None])
def test_poisson_counts_are_numpys_and_leave_the_generator_where_numpy_would(lam, buffer_size):
    n = 20_000
    ours, numpys = np.random.default_rng(11), np.random.default_rng(11)
    buffer = None if buffer_size is None else np.empty(buffer_size)
    start = gen.poisson_start_index(ours, lam, n, buffer)
    expected = np.zeros(n + 1, dtype=np.int64)
    if lam > 0:
        np.cumsum(numpys.poisson(lam, n), out=expected[1:])
    assert np.array_equal(start, expected)
    assert np.array_equal(ours.random(100), numpys.random(100))  # the next draws agree too


def test_one_pass_price_paths_equal_the_numpy_expressions_bit_for_bit():
    """The jitted passes replaced these numpy expressions; the random stream depends on their equality."""
    from kernels.series import basis_feed, fair_value_path, scale_in_spikes

    rng = np.random.default_rng(5)
    n = 5000
    u, z, z2, u2 = rng.random(n), rng.standard_normal(n), rng.standard_normal(n), rng.random(n)
    switch_p, calm, high, dt, drift, tick, start = 0.02, 0.3, 0.9, 0.1, 0.004, 0.01, 1_000_000.0
    regime = (np.cumsum(u < switch_p) % 2).astype(np.int8)
    regime[0] = 0
    vol = np.where(regime == 1, high, calm)
    steps = (drift * dt + vol * np.sqrt(dt) * z) / tick
    steps[0] = 0.0
    fair = start + np.cumsum(steps)
    got_regime, got_fair = fair_value_path(u, switch_p, z, calm, high, np.sqrt(dt), drift * dt, tick, start)
    assert got_regime.tobytes() == regime.tobytes() and got_fair.tobytes() == fair.tobytes()

    decay, sd, mean = 0.97, 0.8, 1.5
    shocks = sd * z2
    ar1 = np.empty(n)
    prev = 0.0
    for t in range(n):
        prev = decay * prev + shocks[t]
        ar1[t] = prev
    feed2 = fair + (mean + ar1)
    got_feed2, c1, c2 = basis_feed(fair, z2, sd, decay, mean)
    assert got_feed2.tobytes() == feed2.tobytes()
    assert np.array_equal(c1, np.rint(fair).astype(np.int64)) and np.array_equal(c2, np.rint(feed2).astype(np.int64))

    latency, spike_len, p, mult = 50.0 * np.exp(0.4 * z), 7, 0.02, 5.0
    starts = np.cumsum(u2 < p)
    in_spike = (starts - np.concatenate([np.zeros(spike_len, dtype=starts.dtype), starts[:-spike_len]])[:n]) > 0
    expected = np.where(in_spike, latency * mult, latency)
    whole = latency.copy()
    scale_in_spikes(whole, u2, p, spike_len, mult, -spike_len - 1)
    assert whole.tobytes() == expected.tobytes() and in_spike.any() and not in_spike.all()
    # in spans, carrying the latest spike start over: the same (a spike running over a span's end continues)
    pieces, last = [], -spike_len - 1
    for a, b in ((0, 1), (1, 9), (9, 2500), (2500, 2503), (2503, n)):
        piece = latency[a:b].copy()
        last = scale_in_spikes(piece, u2[a:b], p, spike_len, mult, last)
        pieces.append(piece)
    assert np.concatenate(pieces).tobytes() == expected.tobytes()


def test_a_price_path_into_the_books_margin_is_refused_with_its_tick_and_price():
    from backtest.config import ConfigError

    cfg = backtest.make_config(**{"sim.ticks": 5000, "market.initial_price": 1.5, "market.volatility_per_sqrt_s": 1.0})
    with pytest.raises(ConfigError) as err:
        gen.generate(cfg)
    text = str(err.value)
    assert "seed 7: the simulated price path falls to" in text and "(tick " in text and "another seed" in text
