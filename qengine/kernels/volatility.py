"""O(1) incremental volatility estimators on a time clock.

sigma is the volatility of log returns as a fraction of price per sqrt(second), so the variance
of the log price over ``dt`` seconds is ``sigma**2 * dt``. Two estimators share one ``VOL_STATE``
row and are fed by the same call, :func:`vol_update`, once per new mid:

* ``codes.VOL_EWMA``: a continuous-time exponentially weighted mean of the variance rate
  ``r**2 / dt`` with a half-life in seconds (exact weighting in :func:`vol_update`);
* ``codes.VOL_REALISED``: ``sum(r**2) / sum(dt)`` over the returns that ended in the last
  ``window_ns``, kept as running sums over a ``VOL_RETURN`` ring (expired entries are evicted from
  the oldest end, so each return is added and removed once: O(1) amortised per tick).

:func:`vol_sigma` turns either variance rate into a clamped sigma for the quote model.
"""

from __future__ import annotations

import math

from numba import types

from . import codes
from ._jit import helper, kernel
from .dtypes import VOL_RETURN_T, VOL_STATE_T

_LN2 = math.log(2.0)


@helper(types.UniTuple(types.float64, 2)(types.float64), inline=True)
def _decay_and_gain(x):
    # (exp(-x), 1 - exp(-x)) for x >= 0 with one transcendental call, both to about an ulp:
    # below ln 2 the decay is >= 0.5, so 1 + expm1(-x) does not cancel; above it the gain is.
    if x < _LN2:
        gain = -math.expm1(-x)
        return 1.0 - gain, gain
    decay = math.exp(-x)
    return decay, 1.0 - decay
_NS_PER_S = 1e9


@helper(types.void(VOL_STATE_T, VOL_RETURN_T), inline=True)
def _window_clear_if_corrupt(state, returns):
    # A cursor that does not fit the ring (e.g. a different ring passed in) restarts the window
    # rather than index out of bounds.
    capacity = returns.shape[0]
    head = state[0]["window_head"]
    count = state[0]["window_count"]
    if head < 0 or count < 0 or count > capacity or (capacity > 0 and head >= capacity):
        state[0]["window_head"] = 0
        state[0]["window_count"] = 0
        state[0]["window_sum_log_return_sq"] = 0.0
        state[0]["window_sum_dt_s"] = 0.0


@helper(types.void(VOL_STATE_T, VOL_RETURN_T), inline=True)
def _window_drop_oldest(state, returns):
    capacity = returns.shape[0]
    count = state[0]["window_count"]
    oldest = state[0]["window_head"] - count
    if oldest < 0:
        oldest += capacity
    state[0]["window_sum_log_return_sq"] -= returns[oldest]["log_return_sq"]
    state[0]["window_sum_dt_s"] -= returns[oldest]["dt_s"]
    state[0]["window_count"] = count - 1


@helper(types.void(VOL_STATE_T, VOL_RETURN_T), inline=True)
def _window_resync_small(state, returns):
    # Subtracting from running sums accumulates rounding; whenever the window is down to zero or
    # one return the exact sums are known, so reset them there.
    count = state[0]["window_count"]
    if count == 0:
        state[0]["window_sum_log_return_sq"] = 0.0
        state[0]["window_sum_dt_s"] = 0.0
    elif count == 1:
        newest = state[0]["window_head"] - 1
        if newest < 0:
            newest += returns.shape[0]
        state[0]["window_sum_log_return_sq"] = returns[newest]["log_return_sq"]
        state[0]["window_sum_dt_s"] = returns[newest]["dt_s"]


@helper(types.void(VOL_STATE_T, VOL_RETURN_T, types.int64, types.int64), inline=True)
def _window_evict_expired(state, returns, now_ns, window_ns):
    capacity = returns.shape[0]
    while state[0]["window_count"] > 0:
        oldest = state[0]["window_head"] - state[0]["window_count"]
        if oldest < 0:
            oldest += capacity
        # Difference form: no overflow for a huge window_ns.
        if now_ns - returns[oldest]["time_ns"] < window_ns:
            break
        _window_drop_oldest(state, returns)
    _window_resync_small(state, returns)


@kernel(
    types.int64(VOL_STATE_T, VOL_RETURN_T, types.int64, types.float64, types.float64, types.int64)
)
def vol_update(state, returns, time_ns, mid_ticks, half_life_s, window_ns):
    """Ingest a new mid and update both variance estimators in O(1) (amortised).

    With the previous mid ``m0`` at ``t0`` and the new mid ``m1`` at ``t1 > t0``, the log return is
    ``r = ln(m1 / m0)`` over ``dt = (t1 - t0) / 1e9`` seconds and its variance rate is
    ``x = r**2 / dt`` (per second).

    EWMA weighting, exact: with ``lam = ln(2) / half_life_s`` and ``a = 1 - exp(-lam * dt)``,
    ``N <- exp(-lam * dt) * N + a * x`` and ``W <- exp(-lam * dt) * W + a`` (both start at 0), and
    the estimate is ``N / W``. This is the continuous-time exponential average of the piecewise
    constant rate ``x`` over each interval, so each return weighs ``(1 - exp(-lam * dt))``, about
    ``lam * dt`` for short intervals (the efficient weighting for irregular ticks), discounted by
    ``exp(-lam * age)``; dividing by ``W`` removes the start-up bias, so the first return alone
    gives ``x``.

    Realised window: the return is pushed into ``returns`` (tagged with ``t1``), the oldest entry
    being dropped first when the ring is full, then every entry with
    ``time_ns <= t1 - window_ns`` is evicted; the state keeps ``sum(r**2)`` and ``sum(dt)`` of
    what remains. A ring smaller than the window's return count shortens the window to its newest
    ``len(returns)`` returns; a zero-length ring disables the realised estimator.

    Parameters
    ----------
    state : VOL_STATE array, shape (1,)
        Estimator state, updated in place (also holds the ``returns`` ring cursor).
    returns : VOL_RETURN array, shape (capacity,)
        Ring of recent returns for the realised window, updated in place.
    time_ns : int64
        Time of the mid in nanoseconds (monotonic clock).
    mid_ticks : float64
        Mid price in ticks; must be finite and positive.
    half_life_s : float64
        EWMA half-life in seconds; must be finite and positive.
    window_ns : int64
        Realised window length in nanoseconds; must be positive.

    Returns
    -------
    int64
        ``STATUS_OK`` when ingested (the first mid and a repeat at the same ``time_ns`` only set the
        last mid, without a return); ``STATUS_BAD_INPUT`` for a NaN, infinite or non-positive mid,
        a bad half-life or window; ``STATUS_OUT_OF_ORDER`` for ``time_ns`` before the last one.
        State is unchanged on any status other than ``STATUS_OK``.
    """
    if not (mid_ticks > 0.0) or math.isinf(mid_ticks):
        return codes.STATUS_BAD_INPUT
    if not (half_life_s > 0.0) or math.isinf(half_life_s) or window_ns <= 0:
        return codes.STATUS_BAD_INPUT
    if state[0]["has_mid"] == 0:
        state[0]["last_time_ns"] = time_ns
        state[0]["last_mid_ticks"] = mid_ticks
        state[0]["has_mid"] = 1
        return codes.STATUS_OK
    last_time_ns = state[0]["last_time_ns"]
    if time_ns < last_time_ns:
        return codes.STATUS_OUT_OF_ORDER
    if time_ns == last_time_ns:
        state[0]["last_mid_ticks"] = mid_ticks
        return codes.STATUS_OK

    dt_s = (time_ns - last_time_ns) / _NS_PER_S
    log_return = math.log(mid_ticks / state[0]["last_mid_ticks"])
    log_return_sq = log_return * log_return
    var_rate_per_s = log_return_sq / dt_s

    # EWMA of the variance rate with time-based weights (see docstring).
    x = _LN2 * dt_s / half_life_s
    decay, gain = _decay_and_gain(x)  # 1 - exp(-x) without cancellation for tiny dt
    state[0]["ewma_weighted_var_per_s"] = (
        decay * state[0]["ewma_weighted_var_per_s"] + gain * var_rate_per_s
    )
    state[0]["ewma_weight"] = decay * state[0]["ewma_weight"] + gain
    state[0]["return_count"] += 1

    # Realised window.
    capacity = returns.shape[0]
    if capacity > 0:
        _window_clear_if_corrupt(state, returns)
        if state[0]["window_count"] == capacity:
            _window_drop_oldest(state, returns)
        head = state[0]["window_head"]
        returns[head]["time_ns"] = time_ns
        returns[head]["log_return_sq"] = log_return_sq
        returns[head]["dt_s"] = dt_s
        state[0]["window_head"] = head + 1 if head + 1 < capacity else 0
        state[0]["window_count"] += 1
        state[0]["window_sum_log_return_sq"] += log_return_sq
        state[0]["window_sum_dt_s"] += dt_s
        _window_evict_expired(state, returns, time_ns, window_ns)

    state[0]["last_time_ns"] = time_ns
    state[0]["last_mid_ticks"] = mid_ticks
    return codes.STATUS_OK


@kernel(types.int64(VOL_STATE_T, VOL_RETURN_T, types.int64, types.int64))
def vol_expire(state, returns, now_ns, window_ns):
    """Evict returns that left the realised window by ``now_ns`` (for a market without new mids).

    :func:`vol_update` already evicts relative to each new mid's time; call this before
    :func:`vol_sigma` when the realised window must be judged at a later ``now_ns``.

    Parameters
    ----------
    state : VOL_STATE array, shape (1,)
        Estimator state; the window cursor and sums are updated in place.
    returns : VOL_RETURN array, shape (capacity,)
        Ring of recent returns.
    now_ns : int64
        Current time in nanoseconds; entries with ``time_ns <= now_ns - window_ns`` are evicted.
    window_ns : int64
        Realised window length in nanoseconds; must be positive.

    Returns
    -------
    int64
        ``STATUS_OK``, or ``STATUS_BAD_INPUT`` (nothing changed) for a non-positive window.
    """
    if window_ns <= 0:
        return codes.STATUS_BAD_INPUT
    _window_clear_if_corrupt(state, returns)
    _window_evict_expired(state, returns, now_ns, window_ns)
    return codes.STATUS_OK


@kernel(
    types.float64(
        VOL_STATE_T, types.int64, types.int64, types.float64, types.float64, types.float64
    )
)
def vol_sigma(state, estimator, min_samples, fallback_sigma, floor_sigma, ceiling_sigma):
    """Return sigma (fraction of price per sqrt(second)) from the chosen estimator.

    Parameters
    ----------
    state : VOL_STATE array, shape (1,)
        Estimator state (read only).
    estimator : int64
        ``codes.VOL_EWMA`` (counts every return ever ingested) or ``codes.VOL_REALISED`` (counts
        the returns currently in the window).
    min_samples : int64
        Returns required before the estimate is used (at least one is always required).
    fallback_sigma : float64
        Per sqrt(second); returned unclamped while warming up or for an unknown ``estimator``.
    floor_sigma, ceiling_sigma : float64
        Clamp bounds per sqrt(second); applied as ``min(max(sigma, floor), ceiling)``, so the
        ceiling wins if they cross.

    Returns
    -------
    float64
        ``sqrt(variance per second)`` clamped to ``[floor_sigma, ceiling_sigma]``, or
        ``fallback_sigma``.
    """
    if estimator == codes.VOL_EWMA:
        samples = state[0]["return_count"]
        weight = state[0]["ewma_weight"]
        if samples < min_samples or samples < 1 or not (weight > 0.0):
            return fallback_sigma
        var_per_s = state[0]["ewma_weighted_var_per_s"] / weight
    elif estimator == codes.VOL_REALISED:
        samples = state[0]["window_count"]
        sum_dt_s = state[0]["window_sum_dt_s"]
        if samples < min_samples or samples < 1 or not (sum_dt_s > 0.0):
            return fallback_sigma
        var_per_s = state[0]["window_sum_log_return_sq"] / sum_dt_s
    else:
        return fallback_sigma
    # Running-sum rounding can leave a hair below zero for a flat market.
    if var_per_s < 0.0:
        var_per_s = 0.0
    sigma = math.sqrt(var_per_s)
    if sigma < floor_sigma:
        sigma = floor_sigma
    if sigma > ceiling_sigma:
        sigma = ceiling_sigma
    return sigma
