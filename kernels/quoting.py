"""Quote models: where to put our bid and ask on Exchange 1.

Both models return ``(reservation_ticks, half_spread_ticks)``; the caller rounds the bid down and
the ask up to the tick grid, so quotes are never tighter than the model asks for.
"""
import math

from kernels._jit import jit


@jit
def linear_quote(reference, inventory_lots, sigma, drift, base_half_spread, vol_mult, drift_mult,
                 horizon_s, sqrt_horizon_s, skew_per_lot):
    """Fixed half-spread widened by volatility and drift, with a linear inventory skew.

    ``sigma`` is ticks per sqrt(second), ``drift`` ticks per second, ``horizon_s`` seconds (and
    ``sqrt_horizon_s`` its square root, computed once by the caller: a square root every tick costs). The half
    spread grows by ``vol_mult`` standard deviations and ``drift_mult`` times the expected drift over
    the horizon; the reservation price moves ``skew_per_lot`` ticks against each lot held, so a long
    position lowers both quotes (sells more readily, buys less).
    """
    half = base_half_spread + vol_mult * sigma * sqrt_horizon_s + drift_mult * abs(drift) * horizon_s
    return reference - skew_per_lot * inventory_lots, half


@jit
def avellaneda_stoikov_quote(reference, inventory_units, sigma_ticks, gamma, k, tau_s, tick_size):
    """Avellaneda & Stoikov (2008): reservation price and optimal total spread.

    r = s - q * gamma * sigma^2 * tau;  spread = gamma * sigma^2 * tau + (2 / gamma) * ln(1 + gamma / k),
    with s, sigma in currency (converted from ticks here), q in asset units, tau = T - t in seconds,
    gamma in 1/currency and k in 1/currency. Returned in ticks.
    """
    sigma_c = sigma_ticks * tick_size
    var_tau = sigma_c * sigma_c * tau_s
    reservation = reference - inventory_units * gamma * var_tau / tick_size
    spread = gamma * var_tau + (2.0 / gamma) * math.log(1.0 + gamma / k)
    return reservation, 0.5 * spread / tick_size


@jit
def intensity_fill_probability(distance_ticks, tick_size, a_per_s, k, dt_s):
    """Probability that a quote ``distance_ticks`` from the mid fills within one tick: min(1, A*exp(-k*delta)*dt),
    delta in currency. A quote through the mid (delta < 0) is more likely to fill than one at the mid,
    as in the paper's intensity, not clipped to the mid's A*dt."""
    delta = distance_ticks * tick_size
    p = a_per_s * math.exp(-k * delta) * dt_s
    return 1.0 if p > 1.0 else p
