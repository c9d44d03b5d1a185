"""Pure-Python twin of ``qengine.kernels.pipeline``, composed only of the reference twins."""

from __future__ import annotations

import math

from qengine.kernels import codes

from . import intensity, ladder, model, ring, volatility


def _int32(lots):
    """Saturate a size to the int32 range of ``MARKET_SAMPLE``'s ``*_lots`` fields."""
    return min(max(lots, -codes.LOTS_MAX - 1), codes.LOTS_MAX)


def quote_pipeline(
    params, bid_mult, ask_mult, samples, cursor, vol_state, vol_returns, intensity_state,
    time_ns, best_bid_ticks, best_ask_ticks, best_bid_lots, best_ask_lots,
    inventory_lots, levels_allowed, out_quotes, out_diag,
):
    """Book row in, ladder out: ring, volatility, intensity, model, ladder (all twins)."""
    if len(out_diag) < codes.DIAG_SIZE:
        return 0
    p = {name: params[0][name].item() for name in params.dtype.names}
    out_diag[:] = math.nan
    out_diag[codes.DIAG_STATUS] = codes.STATUS_OK
    out_diag[codes.DIAG_QUOTES] = 0
    flags = 0

    latest = ring.ring_latest(samples, cursor)
    mid = math.nan
    if latest >= 0 and time_ns < samples[latest]["time_ns"]:
        out_diag[codes.DIAG_STATUS] = codes.STATUS_OUT_OF_ORDER
    elif best_bid_ticks > 0 and best_ask_ticks > best_bid_ticks:
        mid = (best_bid_ticks + best_ask_ticks) / 2
        # MARKET_SAMPLE sizes are int32: larger books are stored saturated.
        ring.ring_push(samples, cursor, time_ns, best_bid_ticks, best_ask_ticks,
                       _int32(best_bid_lots), _int32(best_ask_lots))
        out_diag[codes.DIAG_VOL_STATUS] = volatility.vol_update(
            vol_state, vol_returns, time_ns, mid, p["vol_half_life_s"], p["vol_window_ns"]
        )
    else:
        flags |= codes.QUOTE_FLAG_BOOK_INVALID
        if latest >= 0 and time_ns - samples[latest]["time_ns"] <= p["max_mid_age_ns"]:
            mid = ring.sample_mid_ticks(samples, latest)
    if not mid > 0:
        if out_diag[codes.DIAG_STATUS] == codes.STATUS_OK:
            out_diag[codes.DIAG_STATUS] = codes.STATUS_BAD_INPUT
        out_diag[codes.DIAG_FLAGS] = flags | codes.QUOTE_FLAG_NO_MID
        return 0
    out_diag[codes.DIAG_MID_TICKS] = mid

    if p["fixed_sigma"] > 0:
        sigma = p["fixed_sigma"]
    else:
        sigma = volatility.vol_sigma(vol_state, p["vol_estimator"], p["vol_min_samples"],
                                     p["sigma_fallback"], p["sigma_floor"], p["sigma_ceiling"])
        counter = "window_count" if p["vol_estimator"] == codes.VOL_REALISED else "return_count"
        if vol_state[0][counter] < max(p["vol_min_samples"], 1) or not sigma >= 0:
            flags |= codes.QUOTE_FLAG_SIGMA_FALLBACK
    out_diag[codes.DIAG_SIGMA] = sigma

    fits = {}
    for side in (codes.SIDE_BUY, codes.SIDE_SELL):
        a_kappa = [p["prior_a_per_s"], p["prior_kappa_per_tick"]]
        fitting = p["intensity_mode"] != codes.INTENSITY_FIXED
        if fitting and p["model"] != codes.MODEL_LEGACY:
            status = intensity.intensity_fit(
                intensity_state, side, time_ns, p["intensity_half_life_s"], p["prior_a_per_s"],
                p["prior_kappa_per_tick"], p["prior_weight"], p["kappa_min_per_tick"],
                p["kappa_max_per_tick"], a_kappa,
            )
            if status != codes.STATUS_OK:
                flags |= codes.QUOTE_FLAG_INTENSITY_PRIOR
        fits[side] = a_kappa
    (a_bid, k_bid), (a_ask, k_ask) = fits[codes.SIDE_BUY], fits[codes.SIDE_SELL]
    out_diag[codes.DIAG_A_BID], out_diag[codes.DIAG_KAPPA_BID] = a_bid, k_bid
    out_diag[codes.DIAG_A_ASK], out_diag[codes.DIAG_KAPPA_ASK] = a_ask, k_ask

    out_diag[codes.DIAG_FLAGS] = flags
    status = model.model_touch(params, mid, sigma, inventory_lots, time_ns,
                                    a_bid, k_bid, a_ask, k_ask, out_diag)
    out_diag[codes.DIAG_STATUS] = status
    if status != codes.STATUS_OK:
        return 0
    count = ladder.build_ladder(
        params, bid_mult, ask_mult, out_diag[codes.DIAG_BID0_TICKS],
        out_diag[codes.DIAG_ASK0_TICKS], math.ceil(out_diag[codes.DIAG_MIN_SPREAD_TICKS] - 1e-9),
        sigma, inventory_lots, levels_allowed, out_quotes,
    )
    flags = int(out_diag[codes.DIAG_FLAGS])
    if inventory_lots >= p["position_limit_lots"]:
        flags |= codes.QUOTE_FLAG_BIDS_GATED
    if inventory_lots <= -p["position_limit_lots"]:
        flags |= codes.QUOTE_FLAG_ASKS_GATED
    out_diag[codes.DIAG_FLAGS] = flags
    out_diag[codes.DIAG_QUOTES] = count
    return count
