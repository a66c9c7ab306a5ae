"""The linear quote model's volatility-adaptive half-spread, as the tick rows record it: the base half-spread plus
``vol_spread_multiplier`` standard deviations of the reference over ``vol_horizon_s`` (sigma * sqrt(horizon); the
kernel takes the square root once per run, ``P_SQRT_VOL_HORIZON``)."""
import math

import numpy as np
import pytest

import backtest


@pytest.mark.parametrize("horizon_s", [0.25, 4.0])
def test_the_half_spread_widens_by_sigma_times_the_root_of_the_horizon(horizon_s):
    cfg = backtest.make_config(**{"sim.ticks": 2000, "quoting.vol_spread_multiplier": 2.0,
                                  "quoting.drift_spread_multiplier": 0.0, "quoting.vol_horizon_s": horizon_s})
    t = backtest.run(cfg).ticks
    base = cfg.quoting.half_spread_ticks * cfg.market.tick_size
    expected = base + 2.0 * t.sigma_per_sqrt_s * math.sqrt(horizon_s)
    assert t.sigma_per_sqrt_s.iloc[-1] > 0
    np.testing.assert_allclose(t.half_spread_price, expected, rtol=1e-12, atol=1e-12)
