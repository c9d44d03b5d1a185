"""Predicted model-parameter adjustments from candle signals, applied to base values, bounded.

The intent of the old bot's ``_update_predictive_parameters`` (original-quoter.md §2.7; constants
of e53a73d/eeaeb90), inert there. Fix versus the old bot: adjustments apply to the configured
*base* values each time and are clamped (the old ``gamma <- gamma * (1 + gamma_adj)`` compounded
without limit).
"""

from __future__ import annotations

import math

from numba import types as nt

from . import codes
from ._jit import helper, kernel
from .dtypes import ADJUSTED_PARAMS_T, CANDLE_ADJUST_T, CANDLE_SIGNALS_T

GAMMA_ADJ_VOLATILITY = 0.4
GAMMA_ADJ_REVERSAL = 0.3
KAPPA_ADJ_VOLATILITY = -0.3
VOL_ADJ_VOLATILITY = 0.4
OFFSET_MOMENTUM_THRESHOLD = 0.2
OFFSET_EXHAUSTION_THRESHOLD = 0.5
#: 0.0003 of the mid per unit of momentum.
OFFSET_MOMENTUM_BPS = 3.0
OFFSET_REVERSAL_THRESHOLD = 0.6
#: 0.0005 of the mid per unit of reversal, against the newest close step.
OFFSET_REVERSAL_BPS = 5.0
TREND_MOMENTUM_THRESHOLD = 0.3

_I8 = nt.int64
_F8 = nt.float64


@helper(_F8(_F8))
def _sign(x):
    if x > 0.0:
        return 1.0
    if x < 0.0:
        return -1.0
    return 0.0


@kernel(_I8(CANDLE_SIGNALS_T, CANDLE_ADJUST_T))
def predict_adjustments(signals, out_adjust):
    """Turn candle signals into predicted parameter adjustments (old bot §2.7).

    - gamma_adj = 0.4 volatility + 0.3 reversal (relative, in [0, 0.7] for bounded signals);
    - kappa_adj = -0.3 volatility (relative, in [-0.3, 0]);
    - reservation_offset_bps = 3 momentum if |momentum| > 0.2 and exhaustion < 0.5; 0 if
      |momentum| > 0.2 otherwise; else -5 close_step_sign reversal if reversal > 0.6; else 0
      (the old 0.0003 / 0.0005 fractions of the mid, in bps);
    - trend = sign(momentum) if |momentum| > 0.3 else 0;
    - vol_adj = 0.4 volatility (relative).

    Parameters
    ----------
    signals : CANDLE_SIGNALS array, shape (1,)
        Output of ``candle_signals`` (read only).
    out_adjust : CANDLE_ADJUST array, shape (1,)
        Written with the adjustments and the signals' ``time_ns``.

    Returns
    -------
    int
        ``codes.STATUS_OK``; ``codes.STATUS_BAD_INPUT`` with all-zero adjustments when a signal is
        not finite.
    """
    if signals.shape[0] < 1 or out_adjust.shape[0] < 1:
        return codes.STATUS_BAD_INPUT
    s = signals[0]
    o = out_adjust[0]
    o["gamma_adj"] = 0.0
    o["kappa_adj"] = 0.0
    o["reservation_offset_bps"] = 0.0
    o["trend"] = 0
    o["vol_adj"] = 0.0
    o["time_ns"] = s["time_ns"]
    momentum = s["momentum"]
    reversal = s["reversal"]
    volatility = s["volatility"]
    exhaustion = s["exhaustion"]
    if not (
        math.isfinite(momentum)
        and math.isfinite(reversal)
        and math.isfinite(volatility)
        and math.isfinite(exhaustion)
    ):
        return codes.STATUS_BAD_INPUT
    o["gamma_adj"] = volatility * GAMMA_ADJ_VOLATILITY + reversal * GAMMA_ADJ_REVERSAL
    o["kappa_adj"] = volatility * KAPPA_ADJ_VOLATILITY
    if abs(momentum) > OFFSET_MOMENTUM_THRESHOLD:
        if exhaustion < OFFSET_EXHAUSTION_THRESHOLD:
            o["reservation_offset_bps"] = momentum * OFFSET_MOMENTUM_BPS
    elif reversal > OFFSET_REVERSAL_THRESHOLD:
        o["reservation_offset_bps"] = -s["close_step_sign"] * reversal * OFFSET_REVERSAL_BPS
    if abs(momentum) > TREND_MOMENTUM_THRESHOLD:
        o["trend"] = int(_sign(momentum))
    o["vol_adj"] = volatility * VOL_ADJ_VOLATILITY
    return codes.STATUS_OK


@helper(_F8(_F8, _F8, _F8, _F8, _F8))
def _adjusted(base, adj, min_abs_adj, low, high):
    value = base * (1.0 + adj) if abs(adj) > min_abs_adj else base
    return min(high, max(low, value))


@helper(nt.boolean(_F8, _F8, _F8))
def _range_ok(base, low, high):
    finite = math.isfinite(base) and math.isfinite(low) and math.isfinite(high)
    return finite and base > 0.0 and low > 0.0 and low <= high


@kernel(_I8(CANDLE_ADJUST_T, _F8, _F8, _F8, _F8, _F8, _F8, _F8, _F8, _F8, _F8, ADJUSTED_PARAMS_T))
def apply_adjustments(
    adjust,
    base_gamma,
    base_kappa,
    base_sigma,
    min_abs_adj,
    gamma_min,
    gamma_max,
    kappa_min,
    kappa_max,
    sigma_min,
    sigma_max,
    out_params,
):
    """Apply predicted adjustments to the *base* parameters and clamp each to its range.

    ``x = clamp(x_base * (1 + x_adj), x_min, x_max)`` when ``|x_adj| > min_abs_adj``, else
    ``clamp(x_base, x_min, x_max)``, for gamma, kappa and sigma (vol_adj). Always starting from the
    base fixes the old bot's ``gamma <- gamma * (1 + gamma_adj)``, which compounded on every
    prediction without limit; the clamp bounds the result even for out-of-range adjustments.
    Freshness of ``adjust`` (its ``time_ns``) is the caller's decision: pass zero adjustments for a
    stale prediction.

    Parameters
    ----------
    adjust : CANDLE_ADJUST array, shape (1,)
        Output of ``predict_adjustments`` (read only).
    base_gamma : float
        Configured risk aversion γ (> 0), in the quoting model's units.
    base_kappa : float
        Configured order-arrival decay κ (> 0), in the quoting model's units.
    base_sigma : float
        Current volatility estimate σ (> 0), in the volatility estimator's units.
    min_abs_adj : float
        Adjustments with magnitude at or below this are ignored (old bot: 0.05), dimensionless.
    gamma_min, gamma_max, kappa_min, kappa_max, sigma_min, sigma_max : float
        Inclusive clamp ranges, same units as the base values (0 < min <= max).
    out_params : ADJUSTED_PARAMS array, shape (1,)
        Written with the adjusted gamma, kappa and sigma.

    Returns
    -------
    int
        ``codes.STATUS_OK``; ``codes.STATUS_BAD_INPUT`` (``out_params`` untouched) for a
        non-finite or non-positive base, an invalid range or a non-finite adjustment.
    """
    if adjust.shape[0] < 1 or out_params.shape[0] < 1:
        return codes.STATUS_BAD_INPUT
    if not (
        _range_ok(base_gamma, gamma_min, gamma_max)
        and _range_ok(base_kappa, kappa_min, kappa_max)
        and _range_ok(base_sigma, sigma_min, sigma_max)
    ):
        return codes.STATUS_BAD_INPUT
    a = adjust[0]
    gamma_adj = a["gamma_adj"]
    kappa_adj = a["kappa_adj"]
    vol_adj = a["vol_adj"]
    finite = math.isfinite(gamma_adj) and math.isfinite(kappa_adj) and math.isfinite(vol_adj)
    if not finite or not (math.isfinite(min_abs_adj) and min_abs_adj >= 0.0):
        return codes.STATUS_BAD_INPUT
    o = out_params[0]
    o["gamma"] = _adjusted(base_gamma, gamma_adj, min_abs_adj, gamma_min, gamma_max)
    o["kappa"] = _adjusted(base_kappa, kappa_adj, min_abs_adj, kappa_min, kappa_max)
    o["sigma"] = _adjusted(base_sigma, vol_adj, min_abs_adj, sigma_min, sigma_max)
    return codes.STATUS_OK
