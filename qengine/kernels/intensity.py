"""Online estimation of the order-arrival intensity ``lambda(delta) = A * exp(-kappa * delta)``.

``delta`` is a quote's distance from the mid in ticks, ``A`` the arrival rate per second at
``delta = 0`` and ``kappa`` the decay per tick. The estimate is per side of *our* book, indexed by
``codes.SIDE_*``: row ``SIDE_BUY`` is our bid side, hit by taker sells at distance
``d = mid - price``; row ``SIDE_SELL`` our ask side, lifted by taker buys at ``d = price - mid``.

Model. A public trade that reached depth ``d`` would have filled every quote at distance
``<= d``, so ``lambda(delta)`` is the rate of trades with ``d >= delta``. Above a reference depth
``d0`` (the touch distance, e.g. half the usual spread; 0 by default) the excess ``d - d0`` is
exponential with rate ``kappa`` and trades at depth ``>= d0`` arrive at ``rate``, which gives
``A = rate * exp(kappa * d0)``. Each trade counts once, whatever its volume; trades inside ``d0``
count with zero excess and negative distances (a trade through a stale mid) are clamped to 0.

Sufficient statistics per side, all decayed with one half-life in seconds
(weight ``exp(-ln(2) * age_s / half_life_s)``): ``n`` trade count, ``S`` excess distance in ticks,
``T`` observed time in seconds (``dT/dt = 1 - lam * T``, so ``T`` saturates at
``half_life_s / ln 2``). :func:`intensity_fit` combines them with conjugate Gamma priors worth
``prior_weight`` pseudo-trades, so it never stalls on thin data (see its docstring).
"""

from __future__ import annotations

import math

from numba import types

from . import codes
from ._jit import helper, kernel
from .dtypes import INTENSITY_STATE_T
from .volatility import _LN2, _decay_and_gain

_NS_PER_S = 1e9


@kernel(types.int64(INTENSITY_STATE_T, types.int64, types.float64))
def intensity_reset(state, now_ns, reference_depth_ticks):
    """Clear both sides' statistics and start their observation clocks at ``now_ns``.

    Call once when the trade feed starts (or restarts after a gap that should not count as
    silence). Without a reset the clocks start at the first trade of either side, which biases the
    early rate slightly upward.

    Parameters
    ----------
    state : INTENSITY_STATE array, shape (2,)
        Both rows are overwritten.
    now_ns : int64
        Start of observation in nanoseconds (monotonic clock).
    reference_depth_ticks : float64
        ``d0``, the depth in ticks from the mid above which excess distance is measured
        (finite, ``>= 0``), e.g. 0.5 for a one-tick-spread market.

    Returns
    -------
    int64
        ``STATUS_OK``, or ``STATUS_BAD_INPUT`` (nothing changed) for a bad depth or fewer than 2
        rows.
    """
    if state.shape[0] < 2:
        return codes.STATUS_BAD_INPUT
    if not (reference_depth_ticks >= 0.0) or math.isinf(reference_depth_ticks):
        return codes.STATUS_BAD_INPUT
    for side in range(2):
        state[side]["last_time_ns"] = now_ns
        state[side]["observing"] = 1
        state[side]["trade_count"] = 0
        state[side]["reference_depth_ticks"] = reference_depth_ticks
        state[side]["decayed_count"] = 0.0
        state[side]["decayed_excess_ticks"] = 0.0
        state[side]["decayed_elapsed_s"] = 0.0
    return codes.STATUS_OK


@kernel(
    types.int64(
        INTENSITY_STATE_T, types.int64, types.int64, types.float64, types.int64, types.float64
    )
)
def intensity_update(state, time_ns, trade_price_ticks, mid_ticks, taker_side, half_life_s):
    """Add one public taker trade to the statistics of the side it hit.

    The hit side's statistics are first decayed from their ``last_time_ns`` to ``time_ns``
    (``n, S *= e``, ``T = T * e + (1 - e) / lam`` with ``e = exp(-lam * dt_s)``,
    ``lam = ln(2) / half_life_s``), then the trade adds 1 to ``n`` and
    ``max(d - d0, 0)`` to ``S``. A trade older than ``last_time_ns`` (late delivery) is added with
    its decayed weight ``exp(-lam * lateness_s)`` instead, without moving the clock. The first
    trade of a never-reset state starts both sides' clocks at ``time_ns``.

    Parameters
    ----------
    state : INTENSITY_STATE array, shape (2,)
        Per-side statistics, updated in place.
    time_ns : int64
        Trade time in nanoseconds (same clock as every other call).
    trade_price_ticks : int64
        Trade price in ticks.
    mid_ticks : float64
        Our mid in ticks at the time of the trade (finite, positive).
    taker_side : int64
        The aggressor: ``codes.SIDE_BUY`` (lifts our asks) or ``codes.SIDE_SELL`` (hits our bids).
    half_life_s : float64
        Decay half-life in seconds (finite, positive); use the same value in :func:`intensity_fit`.

    Returns
    -------
    int64
        ``STATUS_OK``, or ``STATUS_BAD_INPUT`` (nothing changed) for a NaN, infinite or
        non-positive mid, an unknown ``taker_side``, a bad half-life or fewer than 2 rows.
    """
    if state.shape[0] < 2:
        return codes.STATUS_BAD_INPUT
    if not (mid_ticks > 0.0) or math.isinf(mid_ticks):
        return codes.STATUS_BAD_INPUT
    if not (half_life_s > 0.0) or math.isinf(half_life_s):
        return codes.STATUS_BAD_INPUT
    if taker_side == codes.SIDE_BUY:
        side = codes.SIDE_SELL
        distance_ticks = trade_price_ticks - mid_ticks
    elif taker_side == codes.SIDE_SELL:
        side = codes.SIDE_BUY
        distance_ticks = mid_ticks - trade_price_ticks
    else:
        return codes.STATUS_BAD_INPUT
    if distance_ticks < 0.0:
        distance_ticks = 0.0  # a trade through a stale mid still hit the touch

    for s in range(2):
        if state[s]["observing"] == 0:
            state[s]["observing"] = 1
            state[s]["last_time_ns"] = time_ns

    lam = _LN2 / half_life_s
    elapsed_ns = time_ns - state[side]["last_time_ns"]
    weight = 1.0
    if elapsed_ns > 0:
        x = lam * (elapsed_ns / _NS_PER_S)
        decay, gain = _decay_and_gain(x)
        state[side]["decayed_count"] *= decay
        state[side]["decayed_excess_ticks"] *= decay
        state[side]["decayed_elapsed_s"] = state[side]["decayed_elapsed_s"] * decay + gain / lam
        state[side]["last_time_ns"] = time_ns
    elif elapsed_ns < 0:
        weight = math.exp(-lam * (-elapsed_ns / _NS_PER_S))

    excess_ticks = distance_ticks - state[side]["reference_depth_ticks"]
    if excess_ticks < 0.0:
        excess_ticks = 0.0
    state[side]["decayed_count"] += weight
    state[side]["decayed_excess_ticks"] += weight * excess_ticks
    state[side]["trade_count"] += 1
    return codes.STATUS_OK


@helper(types.boolean(*([types.float64] * 6)), inline=True)
def _fit_args_ok(half_life_s, prior_a, prior_kappa, prior_weight, kappa_min, kappa_max):
    # Every parameter finite; rates, half-life and kappa bounds positive; the clamp not crossed.
    positive = half_life_s > 0.0 and prior_a > 0.0 and prior_kappa > 0.0 and kappa_min > 0.0
    ordered = kappa_max >= kappa_min and prior_weight >= 0.0
    finite = not (
        math.isinf(half_life_s)
        or math.isinf(prior_a)
        or math.isinf(prior_kappa)
        or math.isinf(prior_weight)
        or math.isinf(kappa_max)
    )
    return positive and ordered and finite


@helper(types.float64(types.float64, types.float64), inline=True)
def _exp_of_depth(rate_per_tick, depth_ticks):
    # exp(rate * d0), skipping the call for the usual d0 = 0 (exp(+-0) is exactly 1; two
    # transcendental calls per side per tick saved, same result).
    if depth_ticks == 0.0:
        return 1.0
    return math.exp(rate_per_tick * depth_ticks)


@helper(
    types.Tuple((types.int64, types.float64, types.float64))(
        INTENSITY_STATE_T, types.int64, types.int64, types.float64, types.float64,
        types.float64, types.float64, types.float64, types.float64,
    ),
    inline=True,
)
def fit_side(state, side, now_ns, half_life_s, prior_a_per_s, prior_kappa_per_tick, prior_weight,
             kappa_min_per_tick, kappa_max_per_tick):
    # intensity_fit without the output array: (status, A per s, kappa per tick), NaNs for
    # STATUS_BAD_INPUT. The pipeline calls it directly (no array view per side per tick).
    if state.shape[0] < 2:
        return codes.STATUS_BAD_INPUT, math.nan, math.nan
    if side != codes.SIDE_BUY and side != codes.SIDE_SELL:
        return codes.STATUS_BAD_INPUT, math.nan, math.nan
    if not _fit_args_ok(
        half_life_s,
        prior_a_per_s,
        prior_kappa_per_tick,
        prior_weight,
        kappa_min_per_tick,
        kappa_max_per_tick,
    ):
        return codes.STATUS_BAD_INPUT, math.nan, math.nan

    count = state[side]["decayed_count"]
    excess_ticks = state[side]["decayed_excess_ticks"]
    elapsed_s = state[side]["decayed_elapsed_s"]
    depth_ticks = state[side]["reference_depth_ticks"]
    ahead_ns = now_ns - state[side]["last_time_ns"]
    if state[side]["observing"] != 0 and ahead_ns > 0:
        lam = _LN2 / half_life_s
        x = lam * (ahead_ns / _NS_PER_S)
        decay, gain = _decay_and_gain(x)
        count *= decay
        excess_ticks *= decay
        elapsed_s = elapsed_s * decay + gain / lam

    w = prior_weight
    kappa_num = w + count
    kappa_den = w / prior_kappa_per_tick + excess_ticks
    if kappa_num > 0.0 and kappa_den > 0.0:
        kappa = kappa_num / kappa_den
    elif kappa_num > 0.0:
        kappa = kappa_max_per_tick
    else:
        kappa = prior_kappa_per_tick
    if kappa < kappa_min_per_tick:
        kappa = kappa_min_per_tick
    if kappa > kappa_max_per_tick:
        kappa = kappa_max_per_tick

    prior_rate_per_s = prior_a_per_s * _exp_of_depth(-prior_kappa_per_tick, depth_ticks)
    rate_den = w / prior_rate_per_s + elapsed_s
    rate_per_s = (w + count) / rate_den if rate_den > 0.0 else prior_rate_per_s

    a_per_s = rate_per_s * _exp_of_depth(kappa, depth_ticks)
    if state[side]["trade_count"] == 0:
        return codes.STATUS_WARMING_UP, a_per_s, kappa
    return codes.STATUS_OK, a_per_s, kappa


@kernel(
    types.int64(
        INTENSITY_STATE_T,
        types.int64,
        types.int64,
        types.float64,
        types.float64,
        types.float64,
        types.float64,
        types.float64,
        types.float64,
        types.float64[::1],
    )
)
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
    """Fit ``A`` and ``kappa`` of one side as of ``now_ns`` (posterior means; state is not changed).

    With ``n, S, T`` decayed to ``now_ns``, ``w = prior_weight`` and ``d0`` the side's reference
    depth:

    * ``kappa = (w + n) / (w / prior_kappa + S)`` (Gamma prior: ``w`` pseudo-trades with mean
      excess ``1 / prior_kappa``), clamped to ``[kappa_min, kappa_max]``; with ``w = 0`` and
      ``S = 0`` (every trade at the touch) it is ``kappa_max``;
    * ``rate = (w + n) / (w / prior_rate + T)`` with ``prior_rate = prior_a * exp(-prior_kappa *
      d0)``, the prior's own rate at depth ``>= d0`` (Gamma-Poisson prior); with ``w = 0`` and
      ``T = 0`` it is ``prior_rate``;
    * ``A = rate * exp(kappa * d0)``.

    Parameters
    ----------
    state : INTENSITY_STATE array, shape (2,)
        Per-side statistics (read only).
    side : int64
        ``codes.SIDE_BUY`` (our bids) or ``codes.SIDE_SELL`` (our asks).
    now_ns : int64
        Time of the fit in nanoseconds; a time before the side's last trade is treated as that
        time.
    half_life_s : float64
        Decay half-life in seconds, the one given to :func:`intensity_update`.
    prior_a_per_s : float64
        Prior ``A``: arrivals per second at distance 0 (finite, positive).
    prior_kappa_per_tick : float64
        Prior ``kappa`` per tick (finite, positive).
    prior_weight : float64
        Prior strength in pseudo-trades (finite, ``>= 0``); small (1 to 10) lets data dominate
        quickly while keeping thin-data fits sane.
    kappa_min_per_tick, kappa_max_per_tick : float64
        Clamp for ``kappa`` per tick (finite, ``0 < min <= max``).
    out_a_kappa : float64 array, shape (>= 2,)
        Receives ``A`` (per second) in ``[0]`` and ``kappa`` (per tick) in ``[1]``.

    Returns
    -------
    int64
        ``STATUS_OK``; ``STATUS_WARMING_UP`` when the side has seen no trade since the last reset
        (outputs hold the prior, rate-adjusted for the silence observed); ``STATUS_BAD_INPUT``
        (outputs untouched) for any invalid argument.
    """
    if out_a_kappa.shape[0] < 2:
        return codes.STATUS_BAD_INPUT
    status, a_per_s, kappa = fit_side(
        state, side, now_ns, half_life_s, prior_a_per_s, prior_kappa_per_tick, prior_weight,
        kappa_min_per_tick, kappa_max_per_tick,
    )
    if status != codes.STATUS_BAD_INPUT:
        out_a_kappa[0] = a_per_s
        out_a_kappa[1] = kappa
    return status
