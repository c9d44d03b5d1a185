"""Pure-Python twins of ``qengine.kernels.volatility``, written for clarity rather than speed.

Independent of the kernels where it matters: the realised window is rebuilt as a list of live
returns and its sums are recomputed from scratch on every call (O(window)), instead of being kept
as running sums; the EWMA is written as "decay the old average, blend in the new rate".
"""

from __future__ import annotations

import math

from qengine.kernels import codes


def _live_returns(state, returns):
    """The window's returns as a list of (time_ns, log_return_sq, dt_s), oldest first."""
    capacity = len(returns)
    head = int(state[0]["window_head"])
    count = int(state[0]["window_count"])
    if capacity == 0 or not (0 <= head < capacity and 0 <= count <= capacity):
        return [], 0
    first = (head - count) % capacity
    rows = []
    for i in range(count):
        row = returns[(first + i) % capacity]
        rows.append((int(row["time_ns"]), float(row["log_return_sq"]), float(row["dt_s"])))
    return rows, head


def _store_window(state, live, head):
    state[0]["window_head"] = head
    state[0]["window_count"] = len(live)
    state[0]["window_sum_log_return_sq"] = sum(r2 for _, r2, _ in live)
    state[0]["window_sum_dt_s"] = sum(dt for _, _, dt in live)


def vol_update(state, returns, time_ns, mid_ticks, half_life_s, window_ns):
    bad_mid = math.isnan(mid_ticks) or math.isinf(mid_ticks) or mid_ticks <= 0.0
    bad_half_life = math.isnan(half_life_s) or math.isinf(half_life_s) or half_life_s <= 0.0
    if bad_mid or bad_half_life or window_ns <= 0:
        return codes.STATUS_BAD_INPUT
    if state[0]["has_mid"] == 0:
        state[0]["last_time_ns"] = time_ns
        state[0]["last_mid_ticks"] = mid_ticks
        state[0]["has_mid"] = 1
        return codes.STATUS_OK
    last_time_ns = int(state[0]["last_time_ns"])
    if time_ns < last_time_ns:
        return codes.STATUS_OUT_OF_ORDER
    if time_ns == last_time_ns:
        state[0]["last_mid_ticks"] = mid_ticks
        return codes.STATUS_OK

    dt_s = (time_ns - last_time_ns) / 1e9
    r = math.log(mid_ticks / float(state[0]["last_mid_ticks"]))
    rate = r * r / dt_s

    # Exponential average in continuous time: the old value keeps exp(-lam dt) of its weight.
    lam = math.log(2.0) / half_life_s
    keep = math.exp(-lam * dt_s)
    blend = -math.expm1(-lam * dt_s)
    state[0]["ewma_weighted_var_per_s"] = keep * state[0]["ewma_weighted_var_per_s"] + blend * rate
    state[0]["ewma_weight"] = keep * state[0]["ewma_weight"] + blend
    state[0]["return_count"] += 1

    capacity = len(returns)
    if capacity > 0:
        live, head = _live_returns(state, returns)
        if len(live) == capacity:
            live.pop(0)  # full ring: the oldest return makes room
        returns[head] = (time_ns, r * r, dt_s)
        live.append((time_ns, r * r, dt_s))
        live = [entry for entry in live if entry[0] > time_ns - window_ns]
        _store_window(state, live, (head + 1) % capacity)

    state[0]["last_time_ns"] = time_ns
    state[0]["last_mid_ticks"] = mid_ticks
    return codes.STATUS_OK


def vol_expire(state, returns, now_ns, window_ns):
    if window_ns <= 0:
        return codes.STATUS_BAD_INPUT
    live, head = _live_returns(state, returns)
    # Only a prefix can expire: the kernel stops at the first entry still inside the window.
    while live and live[0][0] <= now_ns - window_ns:
        live.pop(0)
    _store_window(state, live, head)
    return codes.STATUS_OK


def vol_sigma(state, estimator, min_samples, fallback_sigma, floor_sigma, ceiling_sigma):
    if estimator == codes.VOL_EWMA:
        n = int(state[0]["return_count"])
        weight = float(state[0]["ewma_weight"])
        if n < max(min_samples, 1) or not weight > 0.0:
            return fallback_sigma
        variance = float(state[0]["ewma_weighted_var_per_s"]) / weight
    elif estimator == codes.VOL_REALISED:
        n = int(state[0]["window_count"])
        total_dt = float(state[0]["window_sum_dt_s"])
        if n < max(min_samples, 1) or not total_dt > 0.0:
            return fallback_sigma
        variance = float(state[0]["window_sum_log_return_sq"]) / total_dt
    else:
        return fallback_sigma
    sigma = math.sqrt(max(variance, 0.0))
    return min(max(sigma, floor_sigma), ceiling_sigma)
