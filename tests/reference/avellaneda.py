"""Pure-Python twins of ``qengine.kernels.avellaneda``, written for clarity rather than speed.

Plain floats and the formulas as printed in the papers / original-quoter.md 2.2-2.3; the params
record is read once into a dict of Python numbers.
"""

from __future__ import annotations

import math

NAN = float("nan")


def _p(params):
    row = params[0]
    return {name: row[name].item() for name in params.dtype.names}


def reservation_price(mid, inventory, gamma, sigma, time_left):
    """r = s - q * gamma * sigma^2 * tau."""
    if not (gamma >= 0 and sigma >= 0 and time_left >= 0):
        return NAN
    return mid - inventory * gamma * sigma**2 * time_left


def optimal_spread(gamma, sigma, time_left, kappa):
    """delta = gamma sigma^2 tau + (2 / gamma) ln(1 + gamma / kappa); 2 / kappa at gamma = 0."""
    if not (gamma >= 0 and sigma >= 0 and time_left >= 0 and kappa > 0):
        return NAN
    if gamma == 0:
        return 2 / kappa
    return gamma * sigma**2 * time_left + 2 / gamma * math.log1p(gamma / kappa)


def _glft(inventory, gamma, sigma, a, kappa, sign):
    if not (gamma > 0 and a > 0 and kappa > 0 and sigma >= 0):
        return NAN
    base = math.log1p(gamma / kappa) / gamma
    power = math.exp((1 + kappa / gamma) * math.log1p(gamma / kappa))
    c2 = math.sqrt(gamma / (2 * a * kappa) * power)
    if sign > 0:  # bid: (2q + 1) / 2
        return base + (2 * inventory + 1) / 2 * sigma * c2
    return base - (2 * inventory - 1) / 2 * sigma * c2


def glft_bid_depth(inventory, gamma, sigma, a, kappa):
    """GLFT bid depth (distance below mid)."""
    return _glft(inventory, gamma, sigma, a, kappa, +1)


def glft_ask_depth(inventory, gamma, sigma, a, kappa):
    """GLFT ask depth (distance above mid)."""
    return _glft(inventory, gamma, sigma, a, kappa, -1)


def legacy_spread(
    mid, tick_size, sigma, inventory, position_limit, gamma, min_spread_ticks, maker_fee_rate,
    profit_margin_rate, fee_coverage, base_spread_factor, volatility_multiplier,
    position_fade_time_s, inventory_factor, market_state_factor, sigma_floor,
):
    """The old calculate_optimal_spread, steps 1-10 of original-quoter.md 2.2."""
    s_ticks = min_spread_ticks * tick_size
    s_fee = mid * (2 * maker_fee_rate + profit_margin_rate) * fee_coverage
    s_floor = max(s_ticks, s_fee)
    sigma_e = max(sigma, sigma_floor)
    gamma_e = gamma if gamma > 0 else 0.1
    g = 1 + gamma_e
    v = sigma_e * volatility_multiplier * math.sqrt(position_fade_time_s)
    i_q = inventory_factor * (abs(inventory) / max(position_limit, 0.001)) * sigma_e
    i_q = i_q * volatility_multiplier
    s_star = (base_spread_factor * s_floor * g + v + i_q) * market_state_factor
    return max(s_star, s_floor)


def legacy_skew(spread, inventory, position_limit, inventory_weight):
    """skew = (q / Q) * S * inventory_weight * 0.5."""
    return inventory / max(position_limit, 0.001) * spread * inventory_weight * 0.5
