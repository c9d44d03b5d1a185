"""Build the one-row ``QUOTE_PARAMS`` record and the per-level size multiplier arrays.

Plain numpy, not a kernel: the engine's config layer (or a researcher) calls
:func:`make_quote_params` once and passes the result to ``model_touch``, ``build_ladder`` and
``quote_pipeline``. Every field, its unit and its default is listed in :data:`QUOTE_PARAM_DEFAULTS`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import codes
from .dtypes import QUOTE_PARAMS

#: Default of every ``QUOTE_PARAMS`` field, in the unit its name ends in (listed in ``dtypes.py``:
#: ``*_ticks`` ticks, ``*_lots`` lots (volume ticks), ``*_ns`` nanoseconds, ``*_s`` seconds,
#: ``*_per_sqrt_s`` sigmas as a fraction of price per sqrt(second), ``*_ratio`` dimensionless,
#: ``*_code`` a ``codes`` constant). Old-bot values (original-quoter.md 7.2-7.4) are noted "old".
QUOTE_PARAM_DEFAULTS: dict[str, Any] = {
    # model and instrument
    "model_code": codes.MODEL_AS,  # codes.MODEL_AS / MODEL_GLFT / MODEL_LEGACY
    "tick_size_quote": 1.0,  # price (quote currency) per tick (the instrument's tick_size)
    "lot_size_coins": 0.001,  # coins per lot (the instrument's volume_tick_size)
    "gamma_per_tick_unit": 0.01,  # A-S: 1/(tick * coin); GLFT: 1/(tick * base size)
    "horizon_mode_code": codes.HORIZON_FIXED,  # codes.HORIZON_*
    "horizon_s": 60.0,  # A-S horizon (FIXED) or window length (ROLLING)
    "session_end_ns": 0,  # SESSION_END: end time; ROLLING: phase of the window ends
    "min_tau_s": 1.0,  # floor of tau for SESSION_END / ROLLING
    # spread floors and cap (all models)
    "min_spread_ticks": 14,  # tick floor (old orderbook.min_spread)
    "max_spread_ticks": 500,  # cap; the old 75 was unused and sits below its own fee floor
    "maker_fee_bps": 2.0,  # old maker_fee_rate 0.0002
    "profit_margin_bps": 5.0,  # old profit_margin_rate 0.0005
    "fee_coverage_ratio": 1.2,  # fee floor = mid * (2 maker + margin) * coverage
    # ladder
    "level_count": 3,  # levels per side (old 3)
    "base_step_ticks": 15.0,  # old orderbook.bid_step
    "step_vol_reference_per_sqrt_s": 0.025,  # sigma giving step factor 1 (old volatility.default)
    "step_factor_min_ratio": 0.5,
    "step_factor_max_ratio": 3.0,
    # sizes
    "position_limit_lots": 20_000,  # old 20 coins at 0.001 per lot
    "base_size_lots": 20,  # old 0.02
    "min_order_lots": 1,  # the instrument's minimum amount in lots (never a hard-coded 0.1)
    "min_level_lots": 1,  # per-level floor (old orderbook.min_size 0.05 = 50 lots)
    "size_vol_sensitivity_sqrt_s": 5.0,  # size factor max(size_factor_min_ratio, 1 - 5 sigma)
    "size_factor_min_ratio": 0.5,
    "size_shrink_slope_ratio": 0.8,  # side adding to |q|: max(floor, 1 - 0.8 |q|/Q)
    "size_shrink_floor_ratio": 0.2,
    "size_grow_slope_ratio": 0.5,  # side reducing |q|: min(cap, 1 + 0.5 |q|/Q)
    "size_grow_cap_ratio": 1.5,
    # volatility estimator
    "vol_estimator_code": codes.VOL_EWMA,  # codes.VOL_EWMA / VOL_REALISED
    "vol_half_life_s": 60.0,
    "vol_window_ns": 300_000_000_000,
    "vol_min_sample_count": 5,
    "sigma_fallback_per_sqrt_s": 1e-4,  # used while warming up (about 56 % a year)
    "sigma_floor_per_sqrt_s": 1e-6,
    "sigma_ceiling_per_sqrt_s": 1e-2,
    "fixed_sigma_per_sqrt_s": 0.0,  # > 0 replaces the estimator (legacy: 0.01, the old bot's σ)
    # intensity estimator (our bids = codes.SIDE_BUY row, our asks = SIDE_SELL row)
    "intensity_mode_code": codes.INTENSITY_FIT,  # codes.INTENSITY_FIT / INTENSITY_FIXED
    "intensity_half_life_s": 300.0,
    "prior_a_per_s": 1.0,  # also the fixed A with INTENSITY_FIXED
    "prior_kappa_per_tick": 0.05,  # also the fixed kappa with INTENSITY_FIXED
    "prior_weight_trades": 1.0,  # pseudo-trades the priors count for
    "kappa_min_per_tick": 1e-4,
    "kappa_max_per_tick": 10.0,
    # MODEL_LEGACY (old avellaneda section)
    "legacy_gamma_ratio": 0.4,
    "legacy_sigma_floor_ratio": 0.01,
    "volatility_multiplier_ratio": 0.4,
    "position_fade_time_s": 300.0,
    "base_spread_factor_ratio": 1.5,
    "inventory_factor_ratio": 0.7,
    "inventory_weight_ratio": 0.8,
    "market_state_factor_ratio": 1.0,
    # market data safety
    "max_mid_age_ns": 0,  # book one-sided/crossed: quote off a mid at most this old (0: never)
    # centre and sigma adjustments for research (neutral by default; the engine leaves them)
    "sigma_scale_ratio": 1.0,  # multiplies the sigma the model uses (legacy: after its sigma floor)
    "reservation_offset_ticks": 0.0,  # added to the centre (A-S: r; GLFT, legacy: the mid)
}

#: Overrides that make MODEL_LEGACY reproduce the old bot's quotes (sigma fixed at 0.01,
#: per-level floor 0.05 coins, its forced 0.1-coin minimum).
LEGACY_OVERRIDES: dict[str, Any] = {
    "model_code": codes.MODEL_LEGACY,
    "fixed_sigma_per_sqrt_s": 0.01,
    "min_level_lots": 50,
    "min_order_lots": 100,
}


def make_quote_params(**fields: Any) -> np.ndarray:
    """Return a one-row ``QUOTE_PARAMS`` array from the defaults and ``fields``.

    Parameters
    ----------
    **fields
        Any ``QUOTE_PARAMS`` field (see :data:`QUOTE_PARAM_DEFAULTS` for units and defaults).

    Returns
    -------
    numpy.ndarray
        Shape (1,), dtype ``QUOTE_PARAMS``, C-contiguous.

    Raises
    ------
    TypeError
        For a field name that ``QUOTE_PARAMS`` does not have.
    ValueError
        For an integer field given a non-integral value.
    """
    unknown = sorted(set(fields) - set(QUOTE_PARAMS.names))
    if unknown:
        raise TypeError(f"unknown QUOTE_PARAMS fields: {', '.join(unknown)}")
    params = np.zeros(1, dtype=QUOTE_PARAMS)
    for name in QUOTE_PARAMS.names:
        value = fields.get(name, QUOTE_PARAM_DEFAULTS[name])
        if QUOTE_PARAMS[name].kind == "i" and float(value) != int(value):
            raise ValueError(f"`{name}` must be an integer, got {value!r}")
        params[0][name] = value
    return params


def make_level_multipliers(values: Any) -> np.ndarray:
    """Return per-level size multipliers as the 1-D C-contiguous float64 array kernels take.

    Parameters
    ----------
    values : sequence of float
        Multiplier of level 0, 1, ... (old ``orderbook.bid_sizes`` [1.0, 1.5, 2.0]). Levels beyond
        the array reuse its last value; an empty array means 1.0.

    Returns
    -------
    numpy.ndarray
        float64, shape (len(values),).
    """
    return np.ascontiguousarray(np.asarray(values, dtype=np.float64).reshape(-1))
