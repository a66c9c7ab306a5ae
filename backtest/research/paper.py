"""Avellaneda & Stoikov (2008), section 4, rebuilt: the inventory strategy against the symmetric benchmark.

The paper simulates S0 = 100, sigma = 2, T = 1, dt = 0.005 (200 steps), k = 1.5, A = 140, one-lot quotes,
and reports for gamma = 0.1, 0.01 and 0.5 the spread, the mean and standard deviation of the final profit
(cash + inventory at S_T) and of the final inventory, over 1000 simulations, for its inventory strategy
(quotes around the reservation price r = s - q gamma sigma^2 (T - t)) and for a symmetric strategy with
the same spread centred on the mid. ``compare`` runs both here on the preset ``avellaneda_stoikov_2008``
(quoting.model ``avellaneda_stoikov`` and ``avellaneda_stoikov_symmetric``) over many seeds and puts the
paper's printed figures beside ours, with standard errors.

The paper's own figures are estimates from 1000 simulations, so a difference is judged against the combined
standard error of both (``z_*`` fields: the difference over sqrt(ours^2 + the paper's^2)). ``timing``
chooses the mid a step's fill distance is measured from (``quoting.intensity_timing``): ``before_move``,
the paper's order as we read it (quote from s_t, draw the fill against s_t, then move), or ``after_move``
(the quotes set from s_t meet s_{t+dt}).

Units: profit in currency, inventory in lots (one lot = one share), spread in currency.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from backtest.config import preset

# As printed in the paper's tables (spread, mean profit, std profit, mean final q, std final q). Its
# "spread" column equals (2/gamma) ln(1 + gamma/k), the spread at t = T; the quoted spread is wider by
# gamma sigma^2 (T - t) before that, so our mean quoted spread is that plus gamma sigma^2 T / 2.
PAPER = {
    (0.1, "inventory"): (1.29, 62.94, 5.89, 0.10, 2.80),
    (0.1, "symmetric"): (1.29, 67.21, 13.43, -0.018, 8.66),
    (0.01, "inventory"): (1.33, 66.78, 8.76, -0.02, 4.70),
    (0.01, "symmetric"): (1.33, 67.36, 13.40, -0.31, 8.65),
    (0.5, "inventory"): (1.15, 33.92, 4.72, -0.02, 1.88),
    (0.5, "symmetric"): (1.15, 66.20, 14.53, 0.25, 9.06),
}
GAMMAS = (0.1, 0.01, 0.5)
PAPER_RUNS = 1000  # simulations behind each of the paper's figures
TIMINGS = ("before_move", "after_move")
MODELS = {"inventory": "avellaneda_stoikov", "symmetric": "avellaneda_stoikov_symmetric"}


@dataclass(frozen=True)
class Row:
    gamma: float
    strategy: str  # inventory | symmetric
    runs: int
    spread_at_T: float  # (2/gamma) ln(1 + gamma/k), currency: the paper's "spread" column
    mean_quoted_spread: float  # average ask - bid target over the fill steps, currency
    profit_mean: float
    profit_se: float  # standard error of the mean
    profit_std: float
    profit_std_se: float  # standard error of the std (normal approximation)
    q_mean: float
    q_se: float
    q_std: float
    paper: tuple  # (spread, profit mean, profit std, q mean, q std) as printed
    timing: str = "before_move"

    @property
    def z_profit_mean(self) -> float:
        """(ours - paper's) mean profit over the combined standard error of both estimates."""
        paper_se = self.paper[2] / math.sqrt(PAPER_RUNS)
        return (self.profit_mean - self.paper[1]) / math.hypot(self.profit_se, paper_se)

    @property
    def z_profit_std(self) -> float:
        paper_se = self.paper[2] / math.sqrt(2.0 * (PAPER_RUNS - 1))
        return (self.profit_std - self.paper[2]) / math.hypot(self.profit_std_se, paper_se)

    @property
    def z_q_std(self) -> float:
        ours_se = self.q_std / math.sqrt(2.0 * (self.runs - 1))
        paper_se = self.paper[4] / math.sqrt(2.0 * (PAPER_RUNS - 1))
        return (self.q_std - self.paper[4]) / math.hypot(ours_se, paper_se)

    def as_dict(self) -> dict:
        p = self.paper
        return {
            "gamma": self.gamma, "strategy": self.strategy, "timing": self.timing, "runs": self.runs,
            "spread_at_T": self.spread_at_T, "mean_quoted_spread": self.mean_quoted_spread,
            "profit_mean": self.profit_mean, "profit_se": self.profit_se,
            "profit_std": self.profit_std, "profit_std_se": self.profit_std_se,
            "q_mean": self.q_mean, "q_se": self.q_se, "q_std": self.q_std,
            "paper_spread": p[0], "paper_profit_mean": p[1], "paper_profit_std": p[2],
            "paper_q_mean": p[3], "paper_q_std": p[4],
            "z_profit_mean": self.z_profit_mean, "z_profit_std": self.z_profit_std, "z_q_std": self.z_q_std,
        }


def one_strategy(gamma: float, strategy: str, seeds, timing: str = "before_move") -> Row:
    """Run the paper's experiment for one gamma and one strategy over ``seeds``."""
    from backtest.engine import run

    base = preset("avellaneda_stoikov_2008").with_dotted(
        {"quoting.as_gamma": gamma, "quoting.model": MODELS[strategy], "quoting.intensity_timing": timing})
    profits, finals, spreads = [], [], []
    for seed in seeds:
        r = run(base.with_dotted({"sim.seed": int(seed)}))
        s = r.summary_dict
        profits.append(s["net_pnl"])
        finals.append(s["final_inv1_lots"])
        # the fill steps are ticks 0 .. n-2 (the last tick only marks)
        spreads.append(2.0 * float(np.mean(r.tick_columns["half_spread_price"][:-1])))
    profits, finals = np.asarray(profits), np.asarray(finals, dtype=np.float64)
    n = len(profits)
    k = base.quoting.as_k
    sd = float(profits.std(ddof=1)) if n > 1 else float("nan")
    q_sd = float(finals.std(ddof=1)) if n > 1 else float("nan")
    return Row(
        gamma=gamma, strategy=strategy, runs=n, spread_at_T=(2.0 / gamma) * math.log1p(gamma / k),
        mean_quoted_spread=float(np.mean(spreads)), profit_mean=float(profits.mean()),
        profit_se=sd / math.sqrt(n), profit_std=sd, profit_std_se=sd / math.sqrt(2.0 * (n - 1)) if n > 1 else float("nan"),
        q_mean=float(finals.mean()), q_se=q_sd / math.sqrt(n), q_std=q_sd, paper=PAPER[(gamma, strategy)],
        timing=timing,
    )


def compare(n_seeds: int = 1000, gammas=GAMMAS, first_seed: int = 1, timing: str = "before_move") -> list[Row]:
    """Both strategies for each gamma over seeds ``first_seed .. first_seed + n_seeds - 1`` (the same seeds,
    so the same price paths and fill uniforms, for both strategies)."""
    seeds = range(first_seed, first_seed + n_seeds)
    return [one_strategy(g, s, seeds, timing) for g in gammas for s in ("inventory", "symmetric")]


def format_table(rows: list[Row]) -> str:
    """A Markdown table: ours (with standard errors) next to the paper's printed figures, and each difference
    in combined standard errors (ours and the paper's own sampling error) in square brackets."""
    lines = [
        "| gamma | strategy | spread at T (paper) | mean quoted spread | profit mean +/- se (paper) [z] | "
        "profit std +/- se (paper) [z] | final q mean +/- se (paper) | final q std (paper) [z] |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        p = r.paper
        lines.append(
            f"| {r.gamma:g} | {r.strategy} | {r.spread_at_T:.2f} ({p[0]:.2f}) | {r.mean_quoted_spread:.2f} | "
            f"{r.profit_mean:.2f} +/- {r.profit_se:.2f} ({p[1]:.2f}) [{r.z_profit_mean:+.1f}] | "
            f"{r.profit_std:.2f} +/- {r.profit_std_se:.2f} ({p[2]:.2f}) [{r.z_profit_std:+.1f}] | "
            f"{r.q_mean:+.2f} +/- {r.q_se:.2f} ({p[3]:+.2f}) | {r.q_std:.2f} ({p[4]:.2f}) [{r.z_q_std:+.1f}] |"
        )
    return "\n".join(lines)
