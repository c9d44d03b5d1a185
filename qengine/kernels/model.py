"""The engine stage of the quote models, in ticks and lots.

:func:`horizon_tau_s` gives the A-S horizon for the configured mode; :func:`model_touch` runs the
model selected in ``QUOTE_PARAMS.model_code`` (A-S, GLFT or legacy, with the formulas and units of
``avellaneda.py``) and writes the level-0 bid and ask (floats, in ticks, not yet aligned) plus
diagnostics into the ``QUOTE_DIAG`` record ``out_diag``. ``ladder.build_ladder`` aligns and
expands them.
"""

from __future__ import annotations

import math

import numpy as np
from numba import types

from . import codes
from ._jit import helper, kernel
from .avellaneda import (
    glft_ask_depth,
    glft_bid_depth,
    legacy_skew,
    legacy_spread,
    optimal_spread,
    reservation_price,
)
from .dtypes import QUOTE_DIAG_T, QUOTE_PARAMS_T

_F8 = types.float64


@kernel(_F8(QUOTE_PARAMS_T, types.int64))
def horizon_tau_s(params, now_ns):
    """Return the A-S horizon ``τ`` in seconds for ``params[0].horizon_mode_code``.

    Parameters
    ----------
    params : QUOTE_PARAMS array, shape (1,)
        Reads ``horizon_mode_code``, ``horizon_s``, ``session_end_ns`` and ``min_tau_s``.
    now_ns : int64
        Current time in nanoseconds.

    Returns
    -------
    float
        ``HORIZON_FIXED``: ``horizon_s``. ``HORIZON_SESSION_END``: seconds until
        ``session_end_ns``. ``HORIZON_ROLLING``: seconds left in the current window of
        ``horizon_s``, windows ending at ``session_end_ns + k * horizon_s``. The last two are
        floored at ``min_tau_s``. NaN for an unknown mode or a negative/NaN horizon.
    """
    p = params[0]
    mode = p.horizon_mode_code
    if mode == codes.HORIZON_FIXED:
        return p.horizon_s if p.horizon_s >= 0.0 else np.nan
    if mode == codes.HORIZON_SESSION_END:
        tau = (p.session_end_ns - now_ns) * 1e-9
    elif mode == codes.HORIZON_ROLLING:
        if not p.horizon_s >= 1e-9:
            return np.nan
        window_ns = np.int64(p.horizon_s * 1e9)
        phase_ns = (now_ns - p.session_end_ns) % window_ns
        if phase_ns < 0:
            phase_ns += window_ns
        tau = (window_ns - phase_ns) * 1e-9
    else:
        return np.nan
    return max(tau, p.min_tau_s)


@helper(types.UniTuple(_F8, 4)(QUOTE_PARAMS_T, _F8, _F8, types.int64), inline=True)
def _legacy_touch(params, mid_ticks, sigma, inventory_lots):
    # The old bot's generate_quotes/calculate_skewed_prices, in price floats, then back to ticks.
    p = params[0]
    tick = p.tick_size_quote
    q = inventory_lots * p.lot_size_coins
    limit = p.position_limit_lots * p.lot_size_coins
    # As the old bot: the prediction scales the floored sigma (sigma_e = max(sigma, 0.01) x
    # (1 + vol_adj)), and the spread's fee floor sees the raw mid, the quotes the shifted one.
    sigma_e = max(sigma, p.legacy_sigma_floor_ratio) * p.sigma_scale_ratio
    spread = legacy_spread(
        mid_ticks * tick, tick, sigma_e, q, limit, p.legacy_gamma_ratio, float(p.min_spread_ticks),
        p.maker_fee_bps / 1e4, p.profit_margin_bps / 1e4, p.fee_coverage_ratio,
        p.base_spread_factor_ratio, p.volatility_multiplier_ratio, p.position_fade_time_s,
        p.inventory_factor_ratio, p.market_state_factor_ratio, 0.0,
    )
    mid = (mid_ticks + p.reservation_offset_ticks) * tick
    skew = legacy_skew(spread, q, limit, p.inventory_weight_ratio)
    bid = np.rint((mid - 0.5 * spread - skew) / tick) * tick
    ask = np.rint((mid + 0.5 * spread - skew) / tick) * tick
    min_spread = p.min_spread_ticks * tick
    if ask - bid < min_spread:
        centre = 0.5 * (bid + ask)
        bid = centre - 0.5 * min_spread
        ask = centre + 0.5 * min_spread
    bid = np.rint(bid / tick) * tick
    ask = np.rint(ask / tick) * tick
    if ask - bid < min_spread:
        # The old bot's second re-centring uses the raw mid and drops the skew; kept as coded.
        bid = mid - 0.5 * min_spread
        ask = mid + 0.5 * min_spread
    return bid / tick, ask / tick, (mid - skew) / tick, spread / tick


@helper(
    types.UniTuple(_F8, 4)(QUOTE_PARAMS_T, _F8, _F8, types.int64, _F8, _F8, _F8, _F8, _F8),
    inline=True,
)
def _textbook_touch(params, mid_ticks, sigma, inventory_lots, tau_s, a_bid, k_bid, a_ask, k_ask):
    # A-S or GLFT level-0 prices (ticks): bid, ask, centre, total spread.
    p = params[0]
    sigma_ticks = sigma * p.sigma_scale_ratio * mid_ticks
    # The predicted offset moves the centre only; sigma in ticks stays on the raw mid.
    shifted_mid = mid_ticks + p.reservation_offset_ticks
    if p.model_code == codes.MODEL_AS:
        q_coins = inventory_lots * p.lot_size_coins
        centre = reservation_price(shifted_mid, q_coins, p.gamma_per_tick_unit, sigma_ticks, tau_s)
        # Per-side kappa: each half is γσ²τ/2 + (1/γ)ln(1+γ/κ_side); equal kappas give the textbook.
        bid = centre - 0.5 * optimal_spread(p.gamma_per_tick_unit, sigma_ticks, tau_s, k_bid)
        ask = centre + 0.5 * optimal_spread(p.gamma_per_tick_unit, sigma_ticks, tau_s, k_ask)
        return bid, ask, centre, ask - bid
    q_units = inventory_lots / p.base_size_lots if p.base_size_lots > 0 else np.nan
    bid = shifted_mid - glft_bid_depth(q_units, p.gamma_per_tick_unit, sigma_ticks, a_bid, k_bid)
    ask = shifted_mid + glft_ask_depth(q_units, p.gamma_per_tick_unit, sigma_ticks, a_ask, k_ask)
    return bid, ask, 0.5 * (bid + ask), ask - bid


@helper(
    types.int64(
        QUOTE_PARAMS_T, _F8, _F8, types.int64, types.int64, _F8, _F8, _F8, _F8, QUOTE_DIAG_T
    ),
    inline=True,
)
def _model_touch(
    params, mid_ticks, sigma, inventory_lots, now_ns, a_bid, kappa_bid, a_ask, kappa_ask, out_diag
):
    # The body of ``model_touch``, inlined into ``quote_pipeline`` (no call boundary).
    if out_diag.shape[0] < 1:
        return codes.STATUS_BAD_INPUT
    p = params[0]
    d = out_diag[0]
    d.bid0_ticks = np.nan
    d.ask0_ticks = np.nan
    d.tau_s = np.nan
    if not (mid_ticks > 0.0 and sigma >= 0.0 and p.tick_size_quote > 0.0):
        return codes.STATUS_BAD_INPUT
    if not (math.isfinite(p.sigma_scale_ratio) and p.sigma_scale_ratio >= 0.0):
        return codes.STATUS_BAD_INPUT
    if not math.isfinite(p.reservation_offset_ticks):
        return codes.STATUS_BAD_INPUT
    if p.model_code == codes.MODEL_LEGACY:
        bid, ask, centre, spread = _legacy_touch(params, mid_ticks, sigma, inventory_lots)
    elif p.model_code == codes.MODEL_AS or p.model_code == codes.MODEL_GLFT:
        tau_s = horizon_tau_s(params, now_ns)
        if p.model_code == codes.MODEL_AS:
            d.tau_s = tau_s
        bid, ask, centre, spread = _textbook_touch(
            params, mid_ticks, sigma, inventory_lots, tau_s, a_bid, kappa_bid, a_ask, kappa_ask
        )
    else:
        return codes.STATUS_BAD_INPUT
    d.reservation_ticks = centre
    d.spread_ticks = spread
    fee_rate = (2.0 * p.maker_fee_bps + p.profit_margin_bps) / 1e4
    min_spread = max(float(p.min_spread_ticks), mid_ticks * fee_rate * p.fee_coverage_ratio)
    d.min_spread_ticks = min_spread
    if not (math.isfinite(bid) and math.isfinite(ask) and math.isfinite(min_spread)):
        return codes.STATUS_BAD_INPUT
    # The floor wins over the cap when they conflict: never quote inside the fee floor.
    cap = max(float(p.max_spread_ticks), min_spread)
    width = ask - bid
    flags = 0
    if width < min_spread:
        width = min_spread
        flags = codes.QUOTE_FLAG_SPREAD_FLOORED
    elif width > cap:
        width = cap
        flags = codes.QUOTE_FLAG_SPREAD_CAPPED
    if flags != 0:
        # Resize around the model's own centre so the inventory skew survives.
        middle = 0.5 * (bid + ask)
        bid = middle - 0.5 * width
        ask = middle + 0.5 * width
        d.flags |= flags
    d.bid0_ticks = bid
    d.ask0_ticks = ask
    return codes.STATUS_OK


@kernel(
    types.int64(
        QUOTE_PARAMS_T, _F8, _F8, types.int64, types.int64, _F8, _F8, _F8, _F8, QUOTE_DIAG_T
    )
)
def model_touch(
    params, mid_ticks, sigma, inventory_lots, now_ns, a_bid, kappa_bid, a_ask, kappa_ask, out_diag
):
    """Run the selected model and write the level-0 bid and ask (floats, ticks) into ``out_diag``.

    Parameters
    ----------
    params : QUOTE_PARAMS array, shape (1,)
        ``model_code`` selects ``codes.MODEL_AS``, ``MODEL_GLFT`` or ``MODEL_LEGACY``. Centre
        and sigma inputs for every model: ``sigma_scale_ratio`` (>= 0) multiplies the sigma the
        model uses (legacy: its floored sigma); ``reservation_offset_ticks`` (ticks) is added to
        the model's centre before the spread is applied (A-S: the reservation price; GLFT and
        legacy: the mid). The fee floor always uses the unshifted ``mid_ticks``. Neutral values
        1.0 and 0.0 reproduce the plain models exactly.
    mid_ticks : float64
        Mid price in ticks.
    sigma : float64
        Volatility, fraction of price per sqrt(second) (legacy: the old bot's dimensionless σ).
    inventory_lots : int64
        Signed position in lots.
    now_ns : int64
        Current time in nanoseconds (for the A-S horizon).
    a_bid, a_ask : float64
        Arrival rate at zero distance per second, for our bids / asks (GLFT only).
    kappa_bid, kappa_ask : float64
        Arrival-rate decay per tick, for our bids / asks (A-S and GLFT).
    out_diag : QUOTE_DIAG array, shape (>= 1,)
        Row 0 receives ``reservation_ticks``, ``spread_ticks`` (model spread before floors),
        ``tau_s`` (NaN unless A-S), ``min_spread_ticks``, ``bid0_ticks`` and ``ask0_ticks``
        (after floors and cap); ``QUOTE_FLAG_SPREAD_FLOORED`` / ``QUOTE_FLAG_SPREAD_CAPPED`` are
        OR-ed into ``flags``.

    Returns
    -------
    int64
        ``STATUS_OK``; ``STATUS_BAD_INPUT`` (bid0/ask0 NaN, nothing to quote) for a non-positive or
        NaN mid, NaN sigma, a negative or non-finite ``sigma_scale_ratio``, a non-finite
        ``reservation_offset_ticks``, an unknown model, invalid model parameters or an empty
        ``out_diag``.
    """
    return _model_touch(
        params, mid_ticks, sigma, inventory_lots, now_ns, a_bid, kappa_bid, a_ask, kappa_ask,
        out_diag,
    )
