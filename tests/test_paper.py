"""Avellaneda & Stoikov (2008): the preset follows the paper's timing exactly (checked against an independent
implementation fed the same draws), and the paper's comparison table is rebuilt."""
import json
import math

import numpy as np
import pytest

import backtest
from backtest.cli import main
from backtest.config import preset
from backtest.markets.generate import generate
from backtest.research.paper import compare, format_table


def independent_profit(cfg, market) -> tuple[float, int, int]:
    """The paper's simulation written from the paper, step by step: at step i quote around the reservation
    price from the mid s_i, fill each side with probability min(1, A exp(-k delta) dt) against that same
    mid, then the mid moves to s_{i+1}. Quotes on the tick grid (bid down, ask up), as the simulator does.
    Returns (final profit, final inventory, fills)."""
    q_cfg, tick, dt = cfg.quoting, cfg.market.tick_size, cfg.sim.dt_s
    g, k, a, sigma = q_cfg.as_gamma, q_cfg.as_k, q_cfg.intensity_a_per_s, cfg.market.volatility_per_sqrt_s
    s = market.feed1 * tick
    n = len(s)
    q, cash, fills = 0, 0.0, 0
    for i in range(n - 1):  # n prices: n - 1 steps, each a fill draw then a move
        tau = (n - 1 - i) * dt
        r = s[i] - q * g * sigma**2 * tau
        spread = g * sigma**2 * tau + (2 / g) * math.log(1 + g / k)
        bid = math.floor((r - spread / 2) / tick + 1e-9)
        ask = math.ceil((r + spread / 2) / tick - 1e-9)
        ask = max(ask, bid + 1)
        p_bid = min(1.0, a * math.exp(-k * (s[i] - bid * tick)) * dt)
        p_ask = min(1.0, a * math.exp(-k * (ask * tick - s[i])) * dt)
        if market.u_bid[i + 1] < p_bid:
            q, cash, fills = q + 1, cash - bid * tick, fills + 1
        if market.u_ask[i + 1] < p_ask:
            q, cash, fills = q - 1, cash + ask * tick, fills + 1
    return cash + q * s[-1], q, fills


def test_preset_has_the_paper_s_200_steps():
    cfg = preset("avellaneda_stoikov_2008")
    assert (cfg.sim.ticks - 1) * cfg.sim.dt_s == pytest.approx(1.0)  # T = 1 in 200 steps of 0.005


@pytest.mark.parametrize("gamma", [0.01, 0.1, 0.5])
def test_preset_equals_an_independent_implementation_on_the_same_draws(gamma):
    cfg0 = preset("avellaneda_stoikov_2008").with_dotted({"quoting.as_gamma": gamma})
    same = 0
    for seed in range(1, 31):
        cfg = cfg0.with_dotted({"sim.seed": seed})
        market = generate(cfg)
        r = backtest.run(cfg, market=market)
        profit, q, fills = independent_profit(cfg, market)
        s = r.summary_dict
        # the simulator's sigma is an EWMA held at its prior (half-life a day): equal up to float noise
        if abs(s["net_pnl"] - profit) < 1e-6 and s["final_inv1_lots"] == q and s["fills"] == fills:
            same += 1
    assert same == 30


def test_a_quote_through_the_mid_fills_more_often_than_one_at_the_mid():
    """min(1, A exp(-k delta) dt) with delta < 0 is above A dt (it used to be clipped to A dt)."""
    from kernels.quoting import intensity_fill_probability

    at_mid = intensity_fill_probability(0.0, 0.01, 140.0, 1.5, 0.005)
    through = intensity_fill_probability(-20.0, 0.01, 140.0, 1.5, 0.005)
    assert at_mid == pytest.approx(0.7)
    assert through == pytest.approx(min(1.0, 140 * math.exp(1.5 * 0.2) * 0.005))
    assert through > at_mid


def test_symmetric_benchmark_quotes_the_same_spread_around_the_mid():
    cfg = preset("avellaneda_stoikov_2008")
    inv = backtest.run(cfg).ticks
    sym = backtest.run(cfg.with_dotted({"quoting.model": "avellaneda_stoikov_symmetric"})).ticks
    assert np.allclose(sym.reservation_price, sym.reference_price, atol=0)
    assert np.allclose(sym.half_spread_price, inv.half_spread_price)
    assert (inv.reservation_price != inv.reference_price).any()


def test_the_comparison_table_shows_the_inventory_strategy_s_lower_variance():
    rows = compare(n_seeds=40, gammas=(0.1, 0.5))
    by = {(r.gamma, r.strategy): r for r in rows}
    for g in (0.1, 0.5):
        assert by[(g, "inventory")].profit_std < by[(g, "symmetric")].profit_std
        assert by[(g, "inventory")].q_std < by[(g, "symmetric")].q_std
        assert by[(g, "inventory")].spread_at_T == pytest.approx(by[(g, "inventory")].paper[0], abs=0.005)
    assert "| 0.1 | inventory |" in format_table(rows)


def test_paper_command(capsys):
    assert main(["paper", "--seeds", "3", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 6 and {r["strategy"] for r in rows} == {"inventory", "symmetric"}
    assert main(["paper", "--seeds", "1"]) == 2


def test_avellaneda_stoikov_defaults_fit_the_default_market():
    from backtest.config import config_warnings, make_config

    cfg = make_config(**{"quoting.model": "avellaneda_stoikov"})
    assert config_warnings(cfg) == []
    assert backtest.run(cfg).summary_dict["fills"] > 0
    paper_k = cfg.with_dotted({"quoting.as_k": 1.5})
    assert any("beyond Exchange 1's book" in w for w in config_warnings(paper_k))


def test_after_move_timing_draws_the_fill_against_the_new_mid():
    """quoting.intensity_timing = after_move: the same as the independent implementation with the distance
    measured from s_{i+1} instead of s_i."""
    cfg = preset("avellaneda_stoikov_2008").with_dotted({"quoting.intensity_timing": "after_move", "sim.seed": 3})
    market = generate(cfg)
    r = backtest.run(cfg, market=market)
    q_cfg, tick, dt = cfg.quoting, cfg.market.tick_size, cfg.sim.dt_s
    g, k, a, sigma = q_cfg.as_gamma, q_cfg.as_k, q_cfg.intensity_a_per_s, cfg.market.volatility_per_sqrt_s
    s = market.feed1 * tick
    n = len(s)
    q, cash = 0, 0.0
    for i in range(n - 1):
        tau = (n - 1 - i) * dt
        res = s[i] - q * g * sigma**2 * tau
        spread = g * sigma**2 * tau + (2 / g) * math.log(1 + g / k)
        bid = math.floor((res - spread / 2) / tick + 1e-9)
        ask = max(math.ceil((res + spread / 2) / tick - 1e-9), bid + 1)
        if market.u_bid[i + 1] < min(1.0, a * math.exp(-k * (s[i + 1] - bid * tick)) * dt):
            q, cash = q + 1, cash - bid * tick
        if market.u_ask[i + 1] < min(1.0, a * math.exp(-k * (ask * tick - s[i + 1])) * dt):
            q, cash = q - 1, cash + ask * tick
    assert r.summary_dict["net_pnl"] == pytest.approx(cash + q * s[-1], abs=1e-6)
    assert r.summary_dict["final_inv1_lots"] == q


def test_paper_table_judges_differences_with_the_paper_s_own_sampling_error():
    rows = compare(n_seeds=20, gammas=(0.1,), timing="after_move")
    r = rows[0]
    assert r.timing == "after_move"
    paper_se = r.paper[2] / math.sqrt(1000)
    assert r.z_profit_mean == pytest.approx((r.profit_mean - r.paper[1]) / math.hypot(r.profit_se, paper_se))
    assert "[" in format_table(rows)
