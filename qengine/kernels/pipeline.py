"""The fused quote pipeline: one call per market tick, from the new book row to the ladder.

``quote_pipeline`` chains the stages so the quoter crosses the Python-Numba boundary once per tick:
``ring_push`` -> ``vol_update`` -> ``vol_sigma`` -> ``intensity_fit`` (per side) ->
``model_touch`` -> ``build_ladder``. It allocates nothing: every output goes into the caller's
``out_quotes`` and ``out_diag`` arrays.
"""

from __future__ import annotations

import math

from numba import types

from . import codes
from ._jit import helper, kernel
from .dtypes import (
    INTENSITY_STATE_T,
    MARKET_SAMPLE_T,
    QUOTE_PARAMS_T,
    QUOTE_T,
    RING_CURSOR_T,
    VOL_RETURN_T,
    VOL_STATE_T,
)
from .intensity import fit_side
from .ladder import build_ladder
from .model import model_touch
from .ring import ring_latest, ring_push, sample_mid_ticks
from .volatility import vol_sigma, vol_update

_F8 = types.float64
_I8 = types.int64
_DIAG_T = types.float64[::1]
_MULT_T = types.float64[::1]


@helper(types.void(_DIAG_T, _I8))
def _add_flag(out_diag, flag):
    out_diag[codes.DIAG_FLAGS] = float(int(out_diag[codes.DIAG_FLAGS]) | flag)


@helper(_I8(_I8))
def _int32(lots):
    return min(max(lots, -codes.LOTS_MAX - 1), codes.LOTS_MAX)


@helper(
    _F8(
        QUOTE_PARAMS_T, MARKET_SAMPLE_T, RING_CURSOR_T, VOL_STATE_T, VOL_RETURN_T,
        _I8, _I8, _I8, _I8, _I8, _DIAG_T,
    )
)
def _ingest_book(
    params, samples, cursor, vol_state, vol_returns,
    time_ns, best_bid_ticks, best_ask_ticks, best_bid_lots, best_ask_lots, out_diag,
):
    # Push a valid book row and update the volatility; return the mid to quote around (NaN: none).
    p = params[0]
    latest = ring_latest(samples, cursor)
    if latest >= 0 and time_ns < samples[latest].time_ns:
        out_diag[codes.DIAG_STATUS] = codes.STATUS_OUT_OF_ORDER
        return math.nan
    if best_bid_ticks > 0 and best_ask_ticks > best_bid_ticks:
        mid_ticks = 0.5 * (best_bid_ticks + best_ask_ticks)
        # MARKET_SAMPLE sizes are int32: saturate a larger book instead of letting it wrap.
        ring_push(
            samples, cursor, time_ns, best_bid_ticks, best_ask_ticks,
            _int32(best_bid_lots), _int32(best_ask_lots),
        )
        out_diag[codes.DIAG_VOL_STATUS] = vol_update(
            vol_state, vol_returns, time_ns, mid_ticks, p.vol_half_life_s, p.vol_window_ns
        )
        return mid_ticks
    # A missing side or a crossed book: never invent a touch (the old bot used mark * 0.999).
    _add_flag(out_diag, codes.QUOTE_FLAG_BOOK_INVALID)
    if latest >= 0 and time_ns - samples[latest].time_ns <= p.max_mid_age_ns:
        return sample_mid_ticks(samples, latest)  # the row is valid: only those are pushed
    return math.nan


@helper(_F8(QUOTE_PARAMS_T, VOL_STATE_T, _DIAG_T))
def _select_sigma(params, vol_state, out_diag):
    p = params[0]
    if p.fixed_sigma > 0.0:
        return p.fixed_sigma
    sigma = vol_sigma(
        vol_state, p.vol_estimator, p.vol_min_samples,
        p.sigma_fallback, p.sigma_floor, p.sigma_ceiling,
    )
    # vol_sigma falls back below min_samples returns (counted per estimator); report it.
    samples = vol_state[0].return_count
    if p.vol_estimator == codes.VOL_REALISED:
        samples = vol_state[0].window_count
    if samples < max(p.vol_min_samples, 1) or not sigma >= 0.0:
        _add_flag(out_diag, codes.QUOTE_FLAG_SIGMA_FALLBACK)
    return sigma


@helper(types.void(QUOTE_PARAMS_T, INTENSITY_STATE_T, _I8, _DIAG_T))
def _select_intensity(params, intensity_state, time_ns, out_diag):
    # Writes A and kappa per side into out_diag; the priors stand in when a fit is not usable.
    p = params[0]
    for first in (codes.DIAG_A_BID, codes.DIAG_A_ASK):
        out_diag[first] = p.prior_a_per_s
        out_diag[first + 1] = p.prior_kappa_per_tick
    if p.intensity_mode == codes.INTENSITY_FIXED or p.model == codes.MODEL_LEGACY:
        return
    for side in range(codes.SIDE_BUY, codes.SIDE_SELL + 1):
        first = codes.DIAG_A_BID if side == codes.SIDE_BUY else codes.DIAG_A_ASK
        # intensity_fit's body without its output array (a view per side per tick costs more
        # than the fit); BAD_INPUT leaves the priors in place, as intensity_fit does.
        status, a_per_s, kappa = fit_side(
            intensity_state, side, time_ns, p.intensity_half_life_s,
            p.prior_a_per_s, p.prior_kappa_per_tick, p.prior_weight,
            p.kappa_min_per_tick, p.kappa_max_per_tick,
        )
        if status != codes.STATUS_BAD_INPUT:
            out_diag[first] = a_per_s
            out_diag[first + 1] = kappa
        if status != codes.STATUS_OK:
            _add_flag(out_diag, codes.QUOTE_FLAG_INTENSITY_PRIOR)


@kernel(
    _I8(
        QUOTE_PARAMS_T, _MULT_T, _MULT_T, MARKET_SAMPLE_T, RING_CURSOR_T, VOL_STATE_T,
        VOL_RETURN_T, INTENSITY_STATE_T, _I8, _I8, _I8, _I8, _I8, _I8, _I8, QUOTE_T, _DIAG_T,
    )
)
def quote_pipeline(
    params, bid_mult, ask_mult, samples, cursor, vol_state, vol_returns, intensity_state,
    time_ns, best_bid_ticks, best_ask_ticks, best_bid_lots, best_ask_lots,
    inventory_lots, levels_allowed, out_quotes, out_diag,
):
    """Ingest one book row and write the desired ladder (bids then asks) into ``out_quotes``.

    Parameters
    ----------
    params : QUOTE_PARAMS array, shape (1,)
        Model, estimator, ladder and limit parameters.
    bid_mult, ask_mult : float64 array, shape (m,)
        Per-level size multipliers of bids / asks.
    samples, cursor : MARKET_SAMPLE array (capacity,), RING_CURSOR array (1,)
        The market ring; a valid row is pushed.
    vol_state, vol_returns : VOL_STATE array (1,), VOL_RETURN array (capacity,)
        Volatility estimator state, updated with every valid mid (also when
        ``params.fixed_sigma > 0`` replaces its sigma, so the estimator stays warm).
    intensity_state : INTENSITY_STATE array, shape (2,)
        Trade-arrival statistics (read only here; trades are added by ``intensity_update``).
    time_ns : int64
        Time of the book row in nanoseconds (monotonic).
    best_bid_ticks, best_ask_ticks : int64
        Best prices in ticks; ``<= 0`` means the side is missing.
    best_bid_lots, best_ask_lots : int64
        Sizes at the best prices in lots (stored saturated to the int32 range of the sample).
    inventory_lots : int64
        Signed position in lots.
    levels_allowed : int64
        Levels per side the risk layer allows now.
    out_quotes : QUOTE array, shape (>= 2 * levels,)
        Receives the ladder in rows ``[0, count)``.
    out_diag : float64 array, shape (>= codes.DIAG_SIZE,)
        Receives diagnostics at the ``codes.DIAG_*`` indices (NaN where not computed).

    Returns
    -------
    int64
        ``count``, the number of quotes written. 0 with ``DIAG_STATUS`` = ``STATUS_BAD_INPUT``
        and ``QUOTE_FLAG_NO_MID`` when the book is one-sided or crossed and the last valid mid is
        older than ``max_mid_age_ns`` (or none exists); ``STATUS_OUT_OF_ORDER`` for a row older
        than the ring's newest (nothing pushed or quoted); 0 for a short ``out_diag``.
    """
    if out_diag.shape[0] < codes.DIAG_SIZE:
        return 0
    out_diag[:] = math.nan
    out_diag[codes.DIAG_STATUS] = codes.STATUS_OK
    out_diag[codes.DIAG_FLAGS] = 0.0
    out_diag[codes.DIAG_QUOTES] = 0.0
    mid_ticks = _ingest_book(
        params, samples, cursor, vol_state, vol_returns,
        time_ns, best_bid_ticks, best_ask_ticks, best_bid_lots, best_ask_lots, out_diag,
    )
    if not mid_ticks > 0.0:
        if out_diag[codes.DIAG_STATUS] == codes.STATUS_OK:
            out_diag[codes.DIAG_STATUS] = codes.STATUS_BAD_INPUT
        _add_flag(out_diag, codes.QUOTE_FLAG_NO_MID)
        return 0
    out_diag[codes.DIAG_MID_TICKS] = mid_ticks
    sigma = _select_sigma(params, vol_state, out_diag)
    out_diag[codes.DIAG_SIGMA] = sigma
    _select_intensity(params, intensity_state, time_ns, out_diag)
    status = model_touch(
        params, mid_ticks, sigma, inventory_lots, time_ns,
        out_diag[codes.DIAG_A_BID], out_diag[codes.DIAG_KAPPA_BID],
        out_diag[codes.DIAG_A_ASK], out_diag[codes.DIAG_KAPPA_ASK], out_diag,
    )
    out_diag[codes.DIAG_STATUS] = status
    if status != codes.STATUS_OK:
        return 0
    min_spread_ticks = math.ceil(out_diag[codes.DIAG_MIN_SPREAD_TICKS] - 1e-9)
    count = build_ladder(
        params, bid_mult, ask_mult,
        out_diag[codes.DIAG_BID0_TICKS], out_diag[codes.DIAG_ASK0_TICKS], min_spread_ticks,
        sigma, inventory_lots, levels_allowed, out_quotes,
    )
    limit = params[0].position_limit_lots
    if inventory_lots >= limit:
        _add_flag(out_diag, codes.QUOTE_FLAG_BIDS_GATED)
    if inventory_lots <= -limit:
        _add_flag(out_diag, codes.QUOTE_FLAG_ASKS_GATED)
    out_diag[codes.DIAG_QUOTES] = count
    return count
