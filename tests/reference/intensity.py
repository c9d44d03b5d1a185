"""Pure-Python twins of ``qengine.kernels.intensity``, written for clarity rather than speed.

The decayed observed time is written as the closed-form integral of ``exp(-lam * age)`` over the
elapsed interval, and the fit as two explicit Gamma posteriors (for kappa and for the rate).
"""

from __future__ import annotations

import math

from qengine.kernels import codes


def _finite(x):
    return not (math.isnan(x) or math.isinf(x))


def _decay_factor(seconds, half_life_s):
    return 0.5 ** (seconds / half_life_s)


def _stats_at(row, now_ns, half_life_s):
    """(n, S, T) of one row carried forward to ``now_ns``."""
    n = float(row["decayed_count"])
    s = float(row["decayed_excess_ticks"])
    t = float(row["decayed_elapsed_s"])
    gap_s = (now_ns - int(row["last_time_ns"])) / 1e9
    if row["observing"] and gap_s > 0:
        lam = math.log(2.0) / half_life_s
        e = _decay_factor(gap_s, half_life_s)
        # Integral of exp(-lam * age) over the new interval, added to the decayed old T.
        n, s, t = n * e, s * e, t * e + (1.0 - e) / lam
    return n, s, t


def intensity_reset(state, now_ns, reference_depth_ticks):
    if len(state) < 2 or not _finite(reference_depth_ticks) or reference_depth_ticks < 0:
        return codes.STATUS_BAD_INPUT
    for side in (codes.SIDE_BUY, codes.SIDE_SELL):
        state[side] = (now_ns, 1, 0, reference_depth_ticks, 0.0, 0.0, 0.0)
    return codes.STATUS_OK


def intensity_update(state, time_ns, trade_price_ticks, mid_ticks, taker_side, half_life_s):
    if len(state) < 2 or not _finite(mid_ticks) or mid_ticks <= 0:
        return codes.STATUS_BAD_INPUT
    if not _finite(half_life_s) or half_life_s <= 0:
        return codes.STATUS_BAD_INPUT
    if taker_side == codes.SIDE_BUY:  # lifts our asks
        side, distance = codes.SIDE_SELL, trade_price_ticks - mid_ticks
    elif taker_side == codes.SIDE_SELL:  # hits our bids
        side, distance = codes.SIDE_BUY, mid_ticks - trade_price_ticks
    else:
        return codes.STATUS_BAD_INPUT
    distance = max(distance, 0.0)

    for row in state[:2]:
        if not row["observing"]:
            row["observing"] = 1
            row["last_time_ns"] = time_ns

    row = state[side]
    last_ns = int(row["last_time_ns"])
    if time_ns >= last_ns:
        n, s, t = _stats_at(row, time_ns, half_life_s)
        row["decayed_count"], row["decayed_excess_ticks"], row["decayed_elapsed_s"] = n, s, t
        row["last_time_ns"] = time_ns
        weight = 1.0
    else:
        weight = _decay_factor((last_ns - time_ns) / 1e9, half_life_s)
    excess = max(distance - float(row["reference_depth_ticks"]), 0.0)
    row["decayed_count"] += weight
    row["decayed_excess_ticks"] += weight * excess
    row["trade_count"] += 1
    return codes.STATUS_OK


def intensity_fit(
    state,
    side,
    now_ns,
    half_life_s,
    prior_a_per_s,
    prior_kappa_per_tick,
    prior_weight,
    kappa_min_per_tick,
    kappa_max_per_tick,
    out_a_kappa,
):
    valid = (
        len(state) >= 2
        and len(out_a_kappa) >= 2
        and side in (codes.SIDE_BUY, codes.SIDE_SELL)
        and _finite(half_life_s)
        and half_life_s > 0
        and _finite(prior_a_per_s)
        and prior_a_per_s > 0
        and _finite(prior_kappa_per_tick)
        and prior_kappa_per_tick > 0
        and _finite(prior_weight)
        and prior_weight >= 0
        and _finite(kappa_min_per_tick)
        and _finite(kappa_max_per_tick)
        and 0 < kappa_min_per_tick <= kappa_max_per_tick
    )
    if not valid:
        return codes.STATUS_BAD_INPUT
    row = state[side]
    n, s, t = _stats_at(row, now_ns, half_life_s)
    d0 = float(row["reference_depth_ticks"])
    w = prior_weight

    # kappa: Gamma posterior mean for an exponential excess distance.
    if w + n == 0:
        kappa = prior_kappa_per_tick
    elif w / prior_kappa_per_tick + s == 0:
        kappa = kappa_max_per_tick  # everything exactly at the reference depth
    else:
        kappa = (w + n) / (w / prior_kappa_per_tick + s)
    kappa = min(max(kappa, kappa_min_per_tick), kappa_max_per_tick)

    # Rate of trades at depth >= d0: Gamma-Poisson posterior mean.
    prior_rate = prior_a_per_s * math.exp(-prior_kappa_per_tick * d0)
    exposure = w / prior_rate + t
    rate = (w + n) / exposure if exposure > 0 else prior_rate

    out_a_kappa[0] = rate * math.exp(kappa * d0)
    out_a_kappa[1] = kappa
    return codes.STATUS_WARMING_UP if row["trade_count"] == 0 else codes.STATUS_OK
