"""The queue-reactive market's trend state (``queue_reactive.trend_window_ms``): the mid against where it stood a
window ago scales the flows and decides the market orders' side; estimated back from a printed market, and on the
BTC recording the move after a market order it was added for."""
import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from backtest.config import ConfigError
from backtest.markets.queue_reactive import queue_reactive_recording
from backtest.markets.queue_reactive_fit import estimate
from kernels.queue_reactive import (N_STATE, N_TRENDS, RING, S_RING_N, TREND_DOWN, TREND_FLAT, TREND_UP, hawkes_em,
                                    touch_walk, trend_state, _remember_mid)
from tests.test_queue_reactive import truth

TREND = {"queue_reactive.trend_window_ms": 100.0,
         "queue_reactive.trend_market_multiplier": [6.0, 0.5, 6.0],
         "queue_reactive.trend_buy_probability": [[0.1] * 5, [0.5] * 5, [0.9] * 5],
         "queue_reactive.trend_flow_multiplier": [[1.0, 1.0, 3.0], [3.0, 1.0, 1.0], [1.0] * 3, [1.0] * 3, [1.0] * 3,
                                                  [1.0] * 3],
         "queue_reactive.sign_follow": 0.0}


def _digest(cfg) -> str:
    d1, d2 = queue_reactive_recording(cfg)
    return hashlib.sha256(d1.events.tobytes() + d2.events.tobytes()).hexdigest()


def test_without_a_window_the_trend_keys_change_nothing():
    keys = {k: v for k, v in TREND.items() if k.startswith("queue_reactive.trend_") and not k.endswith("window_ms")}
    keys["queue_reactive.refill_with_trend_lots"] = [1.0] * 19
    assert _digest(truth(ticks=20_000, **keys)) == _digest(truth(ticks=20_000))
    assert _digest(truth(ticks=20_000, **TREND)) != _digest(truth(ticks=20_000))


def test_the_trend_reads_the_mid_a_window_ago_and_says_until_when():
    state = np.zeros(N_STATE)
    _remember_mid(state, -1e300, 200.0)  # the opening
    _remember_mid(state, 1.0, 202.0)
    _remember_mid(state, 1.05, 201.0)
    assert trend_state(state, 1.02, 0.1, 202.0) == (TREND_UP, pytest.approx(1.1))  # 200 a window ago, till 1.0 leaves
    assert trend_state(state, 1.12, 0.1, 201.0) == (TREND_DOWN, pytest.approx(1.15))  # 202 at 1.02
    assert trend_state(state, 1.2, 0.1, 201.0) == (TREND_FLAT, np.inf)  # 201 since 1.05: no move in the window
    assert trend_state(state, 1.02, 0.0, 202.0) == (TREND_FLAT, np.inf)  # no window: no trend
    for i in range(RING + 10):  # more moves inside one window than the ring holds: the oldest kept stands in
        _remember_mid(state, 2.0 + i * 1e-6, 300.0 + i)
    assert state[S_RING_N] == RING
    tr, until = trend_state(state, 2.0 + (RING + 10) * 1e-6, 0.1, 300.0 + RING + 9)
    assert tr == TREND_UP and until == pytest.approx(2.0 + 10e-6 + 0.1)


def test_the_walk_splits_time_where_the_window_passes_a_move():
    ms = 1_000_000
    t = np.array([0, 500, 600, 1000], dtype=np.int64) * ms  # the bid steps up at 500 ms, back down at 600 ms
    bid = np.array([100, 101, 100, 100], dtype=np.int64)
    ask = bid + 1
    q = np.full(4, 50, dtype=np.int64)
    edges = np.array([1, 2], dtype=np.int64)
    counts = np.zeros((6, 2, 5, N_TRENDS))
    time_in = np.zeros((2, 5, N_TRENDS))
    samples = np.zeros((9, 8))
    n = np.zeros(9, dtype=np.int64)
    none = np.zeros(0, dtype=np.int64)
    touch_walk(t, bid, q, ask, q, none, none, 5 * ms, edges, counts, time_in, samples, n, 200 * ms,
               np.empty(0, dtype=np.int64))
    by_trend = time_in.sum(axis=(0, 1))
    # up from 500 to 600 ms; down (the mid at 600 below the 500-700 ms window's far end) from 600 to 700 ms
    assert by_trend[TREND_UP] == pytest.approx(0.1)
    assert by_trend[TREND_DOWN] == pytest.approx(0.1)
    assert by_trend[TREND_FLAT] == pytest.approx(0.8)
    assert time_in.sum() == pytest.approx(1.0)


def test_the_em_finds_each_trend_s_rate_and_no_excitation_in_poisson_arrivals():
    rng = np.random.default_rng(3)
    span, rates = 2000.0, (20.0, 2.0, 20.0)  # trends in alternating 1 s blocks: down, flat, flat, up, ...
    blocks = np.array([TREND_DOWN, TREND_FLAT, TREND_FLAT, TREND_UP] * int(span / 4))
    times, trend = [], []
    for b, tr in enumerate(blocks):
        k = rng.poisson(rates[tr])
        times.append(b + np.sort(rng.random(k)))
        trend.append(np.full(k, tr))
    times, trend = np.concatenate(times), np.concatenate(trend).astype(np.int64)
    trend_time = np.bincount(blocks, minlength=N_TRENDS).astype(float)
    nu, n, _ = hawkes_em(times, trend, trend_time, span, 0.5, 10.0, 200)
    assert n < 0.05
    assert np.allclose(nu, rates, rtol=0.1)


def test_a_printed_trend_comes_back():
    cfg = truth(ticks=300_000, **TREND)
    d1, d2 = queue_reactive_recording(cfg)
    _, est = estimate(d1, d2, base=cfg, trend_window_ms=100.0)
    got = {e.key: e.value for e in est}
    buy = np.array(got["queue_reactive.trend_buy_probability"])
    assert buy[TREND_UP].mean() > 0.75 and buy[TREND_DOWN].mean() < 0.25 and abs(buy[TREND_FLAT].mean() - 0.5) < 0.15
    market = got["queue_reactive.trend_market_multiplier"]
    assert market[TREND_UP] > 4 * market[TREND_FLAT] and market[TREND_DOWN] > 4 * market[TREND_FLAT]
    flows = np.array(got["queue_reactive.trend_flow_multiplier"])
    assert flows[0, TREND_UP] > 1.5 * flows[0, TREND_FLAT]  # limit bids in a rising mid
    assert flows[1, TREND_DOWN] > 1.5 * flows[1, TREND_FLAT]  # limit asks in a falling one
    assert got["queue_reactive.refill_with_trend_lots"] is not None


def _move_after_market_orders(pair) -> float:
    """The stylized report's mid move 1 s after a market order, ticks (``backtest.research.stylized.measure``)."""
    from backtest.research.stylized import IMPACT_HORIZONS_S, measure

    return float(measure(*pair)["impact_ticks"][IMPACT_HORIZONS_S.index(1.0)])


def test_on_btc_the_trend_gives_market_orders_the_move_after_them():
    """What the trend is for: the recorded mid moves 125 ticks in a market order's direction within a second;
    the model without the trend 10-45 (seeds 1-3, four times the recording's span), with it 58-98."""
    from backtest.config import preset
    from backtest.markets.replay import load_venue

    d1 = load_venue("data/binance-btcusdt-2024-08-08/spot.jsonl.gz", "exchange1", [])
    d2 = load_venue("data/binance-btcusdt-2024-08-08/usdm.jsonl.gz", "exchange2", [])
    base = preset("replay_binance_btcusdt_20240808")
    plain, _ = estimate(d1, d2, base=base)
    trend, _ = estimate(d1, d2, base=base, trend_window_ms=100.0)
    assert plain.queue_reactive.trend_window_ms == 0 and trend.queue_reactive.trend_window_ms == 100.0
    longer = {"sim.ticks": plain.sim.ticks * 4, "sim.seed": 1}
    without = _move_after_market_orders(queue_reactive_recording(plain.with_dotted(longer)))
    with_trend = _move_after_market_orders(queue_reactive_recording(trend.with_dotted(longer)))
    assert with_trend > 2 * without and with_trend > 60, (without, with_trend)  # 98 against 44 when written


def test_the_generator_with_a_trend_runs_without_jit():
    if os.environ.get("NUMBA_DISABLE_JIT") == "1":
        return
    cfg = truth(ticks=5_000, **TREND)
    code = ("import sys, hashlib; from backtest.config import SimConfig;"
            "from backtest.markets.queue_reactive import queue_reactive_recording;"
            "d1, d2 = queue_reactive_recording(SimConfig.model_validate_json(sys.argv[1]));"
            "print(hashlib.sha256(d1.events.tobytes() + d2.events.tobytes()).hexdigest())")
    proc = subprocess.run([sys.executable, "-c", code, cfg.model_dump_json()],
                          env=dict(os.environ, NUMBA_DISABLE_JIT="1"), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == _digest(cfg)


@pytest.mark.parametrize("override,message", [
    ({"queue_reactive.trend_flow_multiplier": [[1.0] * 3] * 5}, "trend_flow_multiplier: 5 rows"),
    ({"queue_reactive.trend_flow_multiplier": [[1.0, 1.0, -1.0]] * 6}, "from 0 to 1000"),
    ({"queue_reactive.trend_market_multiplier": [1.0, 1.0]}, "trend_market_multiplier: 2 values"),
    ({"queue_reactive.trend_buy_probability": [[0.5] * 5] * 2}, "trend_buy_probability: 2 rows"),
    ({"queue_reactive.trend_buy_probability": [[0.5] * 4] * 3}, "one probability in [0, 1] per imbalance bin"),
    ({"queue_reactive.trend_window_ms": -1.0}, "trend_window_ms"),
    ({"queue_reactive.refill_with_trend_lots": [5.0] * 18}, "refill_with_trend_lots: 18 values"),
])
def test_bad_trend_settings_are_refused_with_what_is_allowed(override, message):
    with pytest.raises(ConfigError) as err:
        truth(ticks=1000, **override)
    assert message in str(err.value)


@pytest.mark.parametrize("value", ["-5", "nan", "70000"])
def test_the_cli_refuses_a_bad_trend_window(tmp_path, capsys, value):
    from backtest.cli import main

    code = main(["calibrate", "--exchange1", "data/binance-btcusdt-2024-08-08/spot.jsonl.gz", "--exchange2",
                 "data/binance-btcusdt-2024-08-08/usdm.jsonl.gz", "--model", "queue_reactive", "--out",
                 str(tmp_path / "x.toml"), "--trend-window-ms", value])
    assert code == 2
    assert "--trend-window-ms" in capsys.readouterr().err
