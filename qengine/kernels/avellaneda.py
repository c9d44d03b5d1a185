"""Quote models: Avellaneda-Stoikov, GLFT and the old bot's heuristic ("legacy").

This module is the *research API* (float in, float out, any consistent price unit):
:func:`reservation_price`, :func:`optimal_spread`, :func:`glft_bid_depth`, :func:`glft_ask_depth`,
:func:`legacy_spread`, :func:`legacy_skew`. They need no engine and no arrays. The engine stage
(ticks and lots: :func:`~qengine.kernels.model.horizon_tau_s` and
:func:`~qengine.kernels.model.model_touch`) lives in ``model.py`` and builds on these.

Units (tick version used by the engine; the research API takes the same formulas in price units):

* mid ``s`` in ticks; sigma ``σ`` from the estimators is a fraction of price per sqrt(second), so
  ``σ_ticks = mid_ticks * σ`` ticks per sqrt(second);
* A-S: inventory ``q`` in coins (``inventory_lots * lot_size_coins``), ``γ`` in 1/(tick * coin),
  ``κ`` in 1/tick, ``τ`` in seconds. The textbook treats one unit of inventory as one share; here
  one unit is one coin, so ``γσ²τ`` (ticks per coin) is read as ticks for a one-coin position;
* GLFT: ``q`` is inventory in units of the quote size (``inventory_lots / base_size_lots``), ``γ``
  in 1/(tick * quote unit), ``A`` in 1/second (arrival rate of takers at zero distance), ``κ`` in
  1/tick (the rate decays as ``A exp(-κ δ)`` with distance ``δ`` in ticks);
* legacy: works in price floats exactly as the old bot did (see :func:`legacy_spread`).

Every model then gets the same floors and cap (original-quoter.md 9b): the total spread is at least
``max(min_spread_ticks, mid_ticks * (2 maker_fee + profit_margin) * fee_coverage)`` and at most
``max_spread_ticks`` (the floor wins if the two conflict), applied around the model's centre so the
inventory skew survives.

Centre and sigma adjustments (``QUOTE_PARAMS.sigma_scale_ratio`` and ``reservation_offset_ticks``;
neutral 1.0 / 0.0, which the engine keeps) scale the model's sigma and shift its centre for every
model, for research signals.
"""

from __future__ import annotations

import math

import numpy as np
from numba import types

from ._jit import helper, kernel

_F8 = types.float64


# --- research API (price units) ------------------------------------------------------------------


@kernel(_F8(_F8, _F8, _F8, _F8, _F8))
def reservation_price(mid, inventory, gamma, sigma, time_left):
    """Return the Avellaneda-Stoikov reservation price ``r = s - q γ σ² τ``.

    Parameters
    ----------
    mid : float
        Mid price ``s`` (price units, e.g. USD; or ticks in the engine).
    inventory : float
        Inventory ``q`` in coins (positive long).
    gamma : float
        Risk aversion ``γ`` in 1/(price unit * coin).
    sigma : float
        Volatility ``σ`` in price units per sqrt(second) (``mid * fraction``).
    time_left : float
        Horizon ``τ = T - t`` in seconds.

    Returns
    -------
    float
        Reservation price in price units; NaN when ``gamma``, ``sigma`` or ``time_left`` is
        negative or any input is NaN.
    """
    if not (gamma >= 0.0 and sigma >= 0.0 and time_left >= 0.0):
        return np.nan
    return mid - inventory * gamma * sigma * sigma * time_left


@kernel(_F8(_F8, _F8, _F8, _F8))
def optimal_spread(gamma, sigma, time_left, kappa):
    """Return the Avellaneda-Stoikov total bid-ask spread ``γσ²τ + (2/γ) ln(1 + γ/κ)``.

    Parameters
    ----------
    gamma : float
        Risk aversion ``γ`` in 1/(price unit * coin); ``0`` gives the risk-neutral limit ``2/κ``.
    sigma : float
        Volatility ``σ`` in price units per sqrt(second).
    time_left : float
        Horizon ``τ`` in seconds.
    kappa : float
        Order-book liquidity ``κ`` in 1/price unit (fill rate ``A exp(-κ δ)``).

    Returns
    -------
    float
        Total spread (ask minus bid) in price units; NaN for negative ``gamma``, ``sigma`` or
        ``time_left``, non-positive ``kappa`` or NaN inputs.
    """
    if not (gamma >= 0.0 and sigma >= 0.0 and time_left >= 0.0 and kappa > 0.0):
        return np.nan
    if gamma == 0.0:
        return 2.0 / kappa
    return gamma * sigma * sigma * time_left + (2.0 / gamma) * math.log1p(gamma / kappa)


@helper(types.UniTuple(_F8, 2)(_F8, _F8, _F8, _F8), inline=True)
def _glft_terms(gamma, sigma, a, kappa):
    # (half-spread constant c1, skew per unit of inventory c2 * sigma) of the GLFT closed form.
    ratio = gamma / kappa
    c1 = math.log1p(ratio) / gamma
    # (1 + γ/κ)^(1 + κ/γ) through exp/log1p: stable when γ/κ is tiny.
    power = math.exp((1.0 + kappa / gamma) * math.log1p(ratio))
    c2 = math.sqrt(gamma / (2.0 * a * kappa) * power)
    return c1, c2 * sigma


@kernel(_F8(_F8, _F8, _F8, _F8, _F8))
def glft_bid_depth(inventory, gamma, sigma, a, kappa):
    """Return the GLFT bid depth below the mid: ``(1/γ)ln(1+γ/κ) + (2q+1)/2 * σ c2``.

    ``c2 = sqrt(γ / (2 A κ) * (1 + γ/κ)^(1 + κ/γ))`` (Gueant-Lehalle-Fernandez-Tapia infinite
    horizon closed-form approximation, trade size of one quote unit).

    Parameters
    ----------
    inventory : float
        Inventory ``q`` in units of the quote size (e.g. ``position / order_size``).
    gamma : float
        Risk aversion ``γ`` in 1/(price unit * quote unit); must be positive.
    sigma : float
        Volatility ``σ`` in price units per sqrt(second).
    a : float
        Arrival rate ``A`` of takers at zero distance, per second.
    kappa : float
        Decay ``κ`` of the arrival rate with distance, in 1/price unit.

    Returns
    -------
    float
        Distance from mid to our bid in price units (positive means below mid); NaN for
        non-positive ``gamma``, ``a`` or ``kappa``, negative ``sigma`` or NaN inputs.
    """
    if not (gamma > 0.0 and a > 0.0 and kappa > 0.0 and sigma >= 0.0):
        return np.nan
    c1, skew = _glft_terms(gamma, sigma, a, kappa)
    return c1 + (2.0 * inventory + 1.0) * 0.5 * skew


@kernel(_F8(_F8, _F8, _F8, _F8, _F8))
def glft_ask_depth(inventory, gamma, sigma, a, kappa):
    """Return the GLFT ask depth above the mid: ``(1/γ)ln(1+γ/κ) - (2q-1)/2 * σ c2``.

    Parameters are those of :func:`glft_bid_depth` (``a`` and ``kappa`` of the ask side).

    Returns
    -------
    float
        Distance from mid to our ask in price units (positive means above mid); NaN for invalid
        inputs as in :func:`glft_bid_depth`.
    """
    if not (gamma > 0.0 and a > 0.0 and kappa > 0.0 and sigma >= 0.0):
        return np.nan
    c1, skew = _glft_terms(gamma, sigma, a, kappa)
    return c1 - (2.0 * inventory - 1.0) * 0.5 * skew


@kernel(_F8(_F8, _F8, _F8, _F8, _F8, _F8, _F8, _F8, _F8, _F8, _F8, _F8, _F8, _F8, _F8, _F8))
def legacy_spread(
    mid,
    tick_size,
    sigma,
    inventory,
    position_limit,
    gamma,
    min_spread_ticks,
    maker_fee_rate,
    profit_margin_rate,
    fee_coverage,
    base_spread_factor,
    volatility_multiplier,
    position_fade_time_s,
    inventory_factor,
    market_state_factor,
    sigma_floor,
):
    """Return the old bot's total spread (``calculate_optimal_spread``, original-quoter.md 2.2).

    ``S* = (base_spread_factor * S_floor * (1 + γ) + V + I_q) * M`` and ``S = max(S*, S_floor)``
    with
    ``S_floor = max(min_spread_ticks * tick, P (2 maker + margin) coverage)``,
    ``V = σ_e volatility_multiplier sqrt(position_fade_time_s)``,
    ``I_q = inventory_factor |q| / max(Q, 0.001) σ_e volatility_multiplier`` and
    ``σ_e = max(σ, sigma_floor)``; ``γ <= 0`` is replaced by 0.1 as the old bot did.

    Departures from the textbook (kept on purpose, this is the comparison baseline): no ``σ²τ``
    term and no ``κ``; ``γ`` is a dimensionless widening factor; ``V`` and ``I_q`` add a
    dimensionless ``σ`` to a price (a unit bug, harmless because they are tiny); the spread is
    driven by the fee floor times ``base_spread_factor (1 + γ)``. Dropped from the old code: the
    market-impact term (input always 0 there) and the 100 ms cache; centre and sigma
    adjustments reach it through ``model_touch`` (``sigma_scale_ratio``,
    ``reservation_offset_ticks`` and ``market_state_factor_ratio`` of ``QUOTE_PARAMS``).

    Parameters
    ----------
    mid : float
        Mid price ``P`` in price units.
    tick_size : float
        Price units per tick.
    sigma : float
        Volatility in the old bot's unit (a fraction; it used a fixed 0.01).
    inventory, position_limit : float
        Position ``q`` and limit ``Q`` in coins.
    gamma : float
        The old ``γ`` (dimensionless, default 0.4).
    min_spread_ticks : float
        Tick floor in ticks (default 14).
    maker_fee_rate, profit_margin_rate : float
        Fractions of price (defaults 0.0002 and 0.0005).
    fee_coverage : float
        Fee-floor multiplier (default 1.2).
    base_spread_factor, volatility_multiplier : float
        Defaults 1.5 and 0.4.
    position_fade_time_s : float
        Seconds (default 300); enters as ``sqrt``.
    inventory_factor : float
        Default 0.7.
    market_state_factor : float
        ``M``: 1.0 normally (1.5 trending, 0.85 ranging in the old code).
    sigma_floor : float
        The old hard-coded floor on ``σ`` (0.01).

    Returns
    -------
    float
        Total spread in price units.
    """
    tick_floor = min_spread_ticks * tick_size
    fee_floor = mid * (2.0 * maker_fee_rate + profit_margin_rate) * fee_coverage
    floor = max(tick_floor, fee_floor)
    sigma_e = max(sigma, sigma_floor)
    gamma_e = gamma if gamma > 0.0 else 0.1
    vol_term = sigma_e * volatility_multiplier * math.sqrt(position_fade_time_s)
    inventory_term = (
        inventory_factor
        * (abs(inventory) / max(position_limit, 0.001))
        * sigma_e
        * volatility_multiplier
    )
    spread = (
        base_spread_factor * floor * (1.0 + gamma_e) + vol_term + inventory_term
    ) * market_state_factor
    return max(spread, floor)


@kernel(_F8(_F8, _F8, _F8, _F8))
def legacy_skew(spread, inventory, position_limit, inventory_weight):
    """Return the old bot's linear inventory skew ``(q / Q) * S * inventory_weight * 0.5``.

    Both quotes move down by the skew (``bid = mid - S/2 - skew``, ``ask = mid + S/2 - skew``), so
    the effective reservation price is ``mid - skew``: linear in inventory and proportional to the
    spread, unlike A-S's ``q γ σ² τ``.

    Parameters
    ----------
    spread : float
        Total spread ``S`` in price units.
    inventory, position_limit : float
        Position ``q`` and limit ``Q`` in coins (``Q`` is floored at 0.001 as in the spread).
    inventory_weight : float
        Default 0.8.

    Returns
    -------
    float
        Skew in price units (positive when long).
    """
    return inventory / max(position_limit, 0.001) * spread * inventory_weight * 0.5
