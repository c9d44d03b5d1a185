"""The fused quote pipeline: one call per market tick, from the new book row to the ladder.

``quote_pipeline`` chains the stages so the quoter crosses the Python-Numba boundary once per tick:
``ring_push`` -> ``vol_update`` -> ``vol_sigma`` -> ``intensity_fit`` (per side) ->
``model_touch`` -> ``build_ladder``. It allocates nothing: every output goes into the caller's
``out`` bundle. Its arguments travel as the four tuples of ``dtypes`` (``QUOTE_SETUP_T``,
``QUOTE_STATE_T``, ``QUOTE_INPUTS_T``, ``QUOTE_OUT_T``); researchers call the validated wrapper
``qengine.kernels.research.quote_pipeline``.
"""

from __future__ import annotations

import math

from numba import types

from . import codes
from ._jit import helper, kernel
from .dtypes import (
    INTENSITY_STATE_T,
    MARKET_SAMPLE_T,
    QUOTE_DIAG_T,
    QUOTE_INPUTS_T,
    QUOTE_OUT_T,
    QUOTE_PARAMS_T,
    QUOTE_SETUP_T,
    QUOTE_STATE_T,
    RING_CURSOR_T,
    VOL_RETURN_T,
    VOL_STATE_T,
)
from .intensity import fit_side
from .ladder import _build_ladder
from .model import _model_touch
from .ring import ring_latest, ring_push, sample_mid_ticks
from .volatility import vol_sigma, vol_update

_F8 = types.float64
_I8 = types.int64


@helper(types.void(QUOTE_DIAG_T), inline=True)
def _reset_diag(out_diag):
    d = out_diag[0]
    d.status = codes.STATUS_OK
    d.flags = 0
    d.vol_status = -1
    d.quote_count = 0
    d.mid_ticks = math.nan
    d.sigma_per_sqrt_s = math.nan
    d.a_bid_per_s = math.nan
    d.kappa_bid_per_tick = math.nan
    d.a_ask_per_s = math.nan
    d.kappa_ask_per_tick = math.nan
    d.reservation_ticks = math.nan
    d.spread_ticks = math.nan
    d.tau_s = math.nan
    d.min_spread_ticks = math.nan
    d.bid0_ticks = math.nan
    d.ask0_ticks = math.nan
    d.bid_inflight_lots = 0
    d.ask_inflight_lots = 0


@helper(_I8(_I8), inline=True)
def _int32(lots):
    return min(max(lots, -codes.LOTS_MAX - 1), codes.LOTS_MAX)


@helper(
    _F8(
        QUOTE_PARAMS_T, MARKET_SAMPLE_T, RING_CURSOR_T, VOL_STATE_T, VOL_RETURN_T,
        QUOTE_INPUTS_T, QUOTE_DIAG_T,
    ),
    inline=True,
)
def _ingest_book(params, samples, cursor, vol_state, vol_returns, inputs, out_diag):
    # Push a valid book row and update the volatility; return the mid to quote around (NaN: none).
    p = params[0]
    d = out_diag[0]
    time_ns, best_bid_ticks, best_ask_ticks, best_bid_lots, best_ask_lots, _, _ = inputs
    latest = ring_latest(samples, cursor)
    if latest >= 0 and time_ns < samples[latest].time_ns:
        d.status = codes.STATUS_OUT_OF_ORDER
        return math.nan
    if best_bid_ticks > 0 and best_ask_ticks > best_bid_ticks:
        mid_ticks = 0.5 * (best_bid_ticks + best_ask_ticks)
        # MARKET_SAMPLE sizes are int32: saturate a larger book instead of letting it wrap.
        ring_push(
            samples, cursor, time_ns, best_bid_ticks, best_ask_ticks,
            _int32(best_bid_lots), _int32(best_ask_lots),
        )
        d.vol_status = vol_update(
            vol_state, vol_returns, time_ns, mid_ticks, p.vol_half_life_s, p.vol_window_ns
        )
        return mid_ticks
    # A missing side or a crossed book: never invent a touch (the old bot used mark * 0.999).
    d.flags |= codes.QUOTE_FLAG_BOOK_INVALID
    if latest >= 0 and time_ns - samples[latest].time_ns <= p.max_mid_age_ns:
        return sample_mid_ticks(samples, latest)  # the row is valid: only those are pushed
    return math.nan


@helper(_F8(QUOTE_PARAMS_T, VOL_STATE_T, QUOTE_DIAG_T), inline=True)
def _select_sigma(params, vol_state, out_diag):
    p = params[0]
    if p.fixed_sigma_per_sqrt_s > 0.0:
        return p.fixed_sigma_per_sqrt_s
    sigma = vol_sigma(
        vol_state, p.vol_estimator_code, p.vol_min_sample_count,
        p.sigma_fallback_per_sqrt_s, p.sigma_floor_per_sqrt_s, p.sigma_ceiling_per_sqrt_s,
    )
    # vol_sigma falls back below min_samples returns (counted per estimator); report it.
    samples = vol_state[0].return_count
    if p.vol_estimator_code == codes.VOL_REALISED:
        samples = vol_state[0].window_count
    if samples < max(p.vol_min_sample_count, 1) or not sigma >= 0.0:
        out_diag[0].flags |= codes.QUOTE_FLAG_SIGMA_FALLBACK
    return sigma


@helper(types.void(QUOTE_PARAMS_T, INTENSITY_STATE_T, _I8, QUOTE_DIAG_T), inline=True)
def _select_intensity(params, intensity_state, time_ns, out_diag):
    # Writes A and kappa per side into the diagnostics; the priors stand in when a fit is not
    # usable.
    p = params[0]
    d = out_diag[0]
    d.a_bid_per_s = d.a_ask_per_s = p.prior_a_per_s
    d.kappa_bid_per_tick = d.kappa_ask_per_tick = p.prior_kappa_per_tick
    if p.intensity_mode_code == codes.INTENSITY_FIXED or p.model_code == codes.MODEL_LEGACY:
        return
    for side in range(codes.SIDE_BUY, codes.SIDE_SELL + 1):
        # intensity_fit's body without its output array (a view per side per tick costs more
        # than the fit); BAD_INPUT leaves the priors in place, as intensity_fit does.
        status, a_per_s, kappa = fit_side(
            intensity_state, side, time_ns, p.intensity_half_life_s,
            p.prior_a_per_s, p.prior_kappa_per_tick, p.prior_weight_trades,
            p.kappa_min_per_tick, p.kappa_max_per_tick,
        )
        if status != codes.STATUS_BAD_INPUT:
            if side == codes.SIDE_BUY:
                d.a_bid_per_s = a_per_s
                d.kappa_bid_per_tick = kappa
            else:
                d.a_ask_per_s = a_per_s
                d.kappa_ask_per_tick = kappa
        if status != codes.STATUS_OK:
            d.flags |= codes.QUOTE_FLAG_INTENSITY_PRIOR


@helper(_I8(QUOTE_SETUP_T, QUOTE_STATE_T, QUOTE_INPUTS_T, QUOTE_OUT_T, _I8, _I8), inline=True)
def _quote_pipeline(setup, state, inputs, out, bid_inflight_lots, ask_inflight_lots):
    # The body of ``quote_pipeline``, inlined into ``quote_cycle``, which passes the worst-case
    # lots of the orders in flight per side (ladder.py, "Position limit").
    params, bid_mult, ask_mult = setup
    samples, cursor, vol_state, vol_returns, intensity_state = state
    time_ns, _, _, _, _, inventory_lots, levels_allowed = inputs
    out_quotes, out_diag = out
    if out_diag.shape[0] < 1:
        return 0
    _reset_diag(out_diag)
    d = out_diag[0]
    d.bid_inflight_lots = bid_inflight_lots
    d.ask_inflight_lots = ask_inflight_lots
    mid_ticks = _ingest_book(params, samples, cursor, vol_state, vol_returns, inputs, out_diag)
    if not mid_ticks > 0.0:
        if d.status == codes.STATUS_OK:
            d.status = codes.STATUS_BAD_INPUT
        d.flags |= codes.QUOTE_FLAG_NO_MID
        return 0
    d.mid_ticks = mid_ticks
    sigma = _select_sigma(params, vol_state, out_diag)
    d.sigma_per_sqrt_s = sigma
    _select_intensity(params, intensity_state, time_ns, out_diag)
    status = _model_touch(
        params, mid_ticks, sigma, inventory_lots, time_ns,
        d.a_bid_per_s, d.kappa_bid_per_tick, d.a_ask_per_s, d.kappa_ask_per_tick, out_diag,
    )
    d.status = status
    if status != codes.STATUS_OK:
        return 0
    min_spread_ticks = math.ceil(d.min_spread_ticks - 1e-9)
    count = _build_ladder(
        params, bid_mult, ask_mult, d.bid0_ticks, d.ask0_ticks, min_spread_ticks,
        sigma, inventory_lots, levels_allowed, out_quotes, bid_inflight_lots, ask_inflight_lots,
    )
    limit = params[0].position_limit_lots
    if inventory_lots >= limit:
        d.flags |= codes.QUOTE_FLAG_BIDS_GATED
    if inventory_lots <= -limit:
        d.flags |= codes.QUOTE_FLAG_ASKS_GATED
    d.quote_count = count
    return count


@kernel(_I8(QUOTE_SETUP_T, QUOTE_STATE_T, QUOTE_INPUTS_T, QUOTE_OUT_T, _I8, _I8))
def quote_pipeline(setup, state, inputs, out, bid_inflight_lots, ask_inflight_lots):
    """Ingest one book row and write the desired ladder (bids then asks) into ``out``.

    Parameters
    ----------
    setup : (params, bid_mult, ask_mult)
        ``QUOTE_PARAMS`` array, shape (1,): model, estimator, ladder and limit parameters;
        float64 arrays, shape (m,): per-level size multipliers of bids / asks.
    state : (samples, cursor, vol_state, vol_returns, intensity_state)
        The market ring (MARKET_SAMPLE (capacity,), RING_CURSOR (1,)): a valid row is pushed;
        the volatility estimator (VOL_STATE (1,), VOL_RETURN (capacity,)), updated with every
        valid mid (also when ``fixed_sigma_per_sqrt_s > 0`` replaces its sigma, so it stays
        warm); the trade-arrival statistics (INTENSITY_STATE (2,)), read only here (trades are
        added by ``intensity_update``).
    inputs : (time_ns, best_bid_ticks, best_ask_ticks, best_bid_lots, best_ask_lots,
              inventory_lots, levels_allowed), int64
        The book row (monotonic ns; prices in ticks, ``<= 0``: that side is missing; sizes in
        lots, stored saturated to the int32 range of the sample), the signed position in lots
        and the levels per side the risk layer allows now.
    out : (quotes, diag)
        QUOTE array, shape (>= 2 * level_count,): receives the ladder in rows ``[0, count)``;
        QUOTE_DIAG array, shape (1,): row 0 receives the diagnostics (NaN where not computed).
    bid_inflight_lots, ask_inflight_lots : int64
        Worst-case lots our buy / sell orders with a request in flight can still trade
        (``order_exposure.inflight_lots``, which ``quote_cycle`` reads from the order table): the
        ladder's room to the position limit leaves them out (``ladder.py``, "Position limit").
        Copied into ``diag``.

    Returns
    -------
    int64
        ``count``, the number of quotes written. 0 with ``diag.status`` = ``STATUS_BAD_INPUT``
        and ``QUOTE_FLAG_NO_MID`` when the book is one-sided or crossed and the last valid mid is
        older than ``max_mid_age_ns`` (or none exists); ``STATUS_OUT_OF_ORDER`` for a row older
        than the ring's newest (nothing pushed or quoted); 0 for an empty ``diag``.
    """
    return _quote_pipeline(setup, state, inputs, out, bid_inflight_lots, ask_inflight_lots)
