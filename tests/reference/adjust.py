"""Pure-Python twins of ``qengine.kernels.adjust``, written for clarity, not speed."""

from __future__ import annotations

import math

from qengine.kernels import codes


def _sign(x):
    return (x > 0) - (x < 0)


def predict_adjustments(signals, out_adjust):
    """Twin of ``candles.predict_adjustments`` (offset computed as the old fraction, then bps)."""
    if len(signals) < 1 or len(out_adjust) < 1:
        return codes.STATUS_BAD_INPUT
    sig = {name: signals[0][name].item() for name in signals.dtype.names}
    result = {
        "gamma_adj": 0.0,
        "kappa_adj": 0.0,
        "reservation_offset_bps": 0.0,
        "trend": 0,
        "vol_adj": 0.0,
        "time_ns": sig["time_ns"],
    }
    names = ("momentum", "reversal", "volatility", "exhaustion")
    status = codes.STATUS_BAD_INPUT
    if all(math.isfinite(sig[n]) for n in names):
        status = codes.STATUS_OK
        momentum, reversal = sig["momentum"], sig["reversal"]
        volatility, exhaustion = sig["volatility"], sig["exhaustion"]
        offset_fraction = 0.0
        if abs(momentum) > 0.2:
            if exhaustion < 0.5:
                offset_fraction = momentum * 0.0003
        elif reversal > 0.6:
            offset_fraction = -sig["close_step_sign"] * reversal * 0.0005
        result.update(
            gamma_adj=volatility * 0.4 + reversal * 0.3,
            kappa_adj=-volatility * 0.3,
            reservation_offset_bps=offset_fraction * 10_000.0,
            trend=_sign(momentum) if abs(momentum) > 0.3 else 0,
            vol_adj=volatility * 0.4,
        )
    for name, value in result.items():
        out_adjust[0][name] = value
    return status


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
    """Twin of ``candles.apply_adjustments``."""
    if len(adjust) < 1 or len(out_params) < 1:
        return codes.STATUS_BAD_INPUT
    triples = {
        "gamma": (base_gamma, gamma_min, gamma_max, float(adjust[0]["gamma_adj"])),
        "kappa": (base_kappa, kappa_min, kappa_max, float(adjust[0]["kappa_adj"])),
        "sigma": (base_sigma, sigma_min, sigma_max, float(adjust[0]["vol_adj"])),
    }
    for base, low, high, adj in triples.values():
        if not all(math.isfinite(x) for x in (base, low, high, adj)):
            return codes.STATUS_BAD_INPUT
        if not (base > 0 and 0 < low <= high):
            return codes.STATUS_BAD_INPUT
    if not (math.isfinite(min_abs_adj) and min_abs_adj >= 0):
        return codes.STATUS_BAD_INPUT
    for name, (base, low, high, adj) in triples.items():
        value = base * (1.0 + adj) if abs(adj) > min_abs_adj else base
        out_params[0][name] = min(high, max(low, value))
    return codes.STATUS_OK
