"""Pure-Python twin of ``qengine.kernels.pipeline``, composed only of the reference twins."""

from __future__ import annotations

import math

from qengine.kernels import codes

from . import intensity, ladder, model, ring, volatility

_FLOAT_DIAG_FIELDS = (
    "mid_ticks", "sigma_per_sqrt_s", "a_bid_per_s", "kappa_bid_per_tick", "a_ask_per_s",
    "kappa_ask_per_tick", "reservation_ticks", "spread_ticks", "tau_s", "min_spread_ticks",
    "bid0_ticks", "ask0_ticks",
)


def _int32(lots):
    """Saturate a size to the int32 range of ``MARKET_SAMPLE``'s ``*_lots`` fields."""
    return min(max(lots, -codes.LOTS_MAX - 1), codes.LOTS_MAX)


def _sigma(p, vol_state):
    """The sigma to quote with and ``QUOTE_FLAG_SIGMA_FALLBACK`` when the estimator fell back."""
    if p["fixed_sigma_per_sqrt_s"] > 0:
        return p["fixed_sigma_per_sqrt_s"], 0
    sigma = volatility.vol_sigma(
        vol_state, p["vol_estimator_code"], p["vol_min_sample_count"],
        p["sigma_fallback_per_sqrt_s"], p["sigma_floor_per_sqrt_s"], p["sigma_ceiling_per_sqrt_s"],
    )
    counter = "window_count" if p["vol_estimator_code"] == codes.VOL_REALISED else "return_count"
    if vol_state[0][counter] < max(p["vol_min_sample_count"], 1) or not sigma >= 0:
        return sigma, codes.QUOTE_FLAG_SIGMA_FALLBACK
    return sigma, 0


def quote_pipeline(setup, state, inputs, out, bid_inflight_lots=0, ask_inflight_lots=0):
    """Book row in, ladder out: ring, volatility, intensity, model, ladder (all twins)."""
    params, bid_mult, ask_mult = setup
    samples, cursor, vol_state, vol_returns, intensity_state = state
    (time_ns, best_bid_ticks, best_ask_ticks, best_bid_lots, best_ask_lots,
     inventory_lots, levels_allowed) = inputs
    out_quotes, out_diag = out
    if len(out_diag) < 1:
        return 0
    p = {name: params[0][name].item() for name in params.dtype.names}
    d = out_diag[0]  # a view: field writes land in the record
    for name in _FLOAT_DIAG_FIELDS:
        d[name] = math.nan
    d["status"], d["flags"], d["vol_status"], d["quote_count"] = codes.STATUS_OK, 0, -1, 0
    d["bid_inflight_lots"], d["ask_inflight_lots"] = bid_inflight_lots, ask_inflight_lots
    flags = 0

    latest = ring.ring_latest(samples, cursor)
    mid = math.nan
    if latest >= 0 and time_ns < samples[latest]["time_ns"]:
        d["status"] = codes.STATUS_OUT_OF_ORDER
    elif best_bid_ticks > 0 and best_ask_ticks > best_bid_ticks:
        mid = (best_bid_ticks + best_ask_ticks) / 2
        # MARKET_SAMPLE sizes are int32: larger books are stored saturated.
        ring.ring_push(samples, cursor, time_ns, best_bid_ticks, best_ask_ticks,
                       _int32(best_bid_lots), _int32(best_ask_lots))
        d["vol_status"] = volatility.vol_update(
            vol_state, vol_returns, time_ns, mid, p["vol_half_life_s"], p["vol_window_ns"]
        )
    else:
        flags |= codes.QUOTE_FLAG_BOOK_INVALID
        if latest >= 0 and time_ns - samples[latest]["time_ns"] <= p["max_mid_age_ns"]:
            mid = ring.sample_mid_ticks(samples, latest)
    if not mid > 0:
        if d["status"] == codes.STATUS_OK:
            d["status"] = codes.STATUS_BAD_INPUT
        d["flags"] = flags | codes.QUOTE_FLAG_NO_MID
        return 0
    d["mid_ticks"] = mid

    sigma, sigma_flags = _sigma(p, vol_state)
    flags |= sigma_flags
    d["sigma_per_sqrt_s"] = sigma

    fits = {}
    for side in (codes.SIDE_BUY, codes.SIDE_SELL):
        a_kappa = [p["prior_a_per_s"], p["prior_kappa_per_tick"]]
        fitting = p["intensity_mode_code"] != codes.INTENSITY_FIXED
        if fitting and p["model_code"] != codes.MODEL_LEGACY:
            status = intensity.intensity_fit(
                intensity_state, side, time_ns, p["intensity_half_life_s"], p["prior_a_per_s"],
                p["prior_kappa_per_tick"], p["prior_weight_trades"], p["kappa_min_per_tick"],
                p["kappa_max_per_tick"], a_kappa,
            )
            if status != codes.STATUS_OK:
                flags |= codes.QUOTE_FLAG_INTENSITY_PRIOR
        fits[side] = a_kappa
    (a_bid, k_bid), (a_ask, k_ask) = fits[codes.SIDE_BUY], fits[codes.SIDE_SELL]
    d["a_bid_per_s"], d["kappa_bid_per_tick"] = a_bid, k_bid
    d["a_ask_per_s"], d["kappa_ask_per_tick"] = a_ask, k_ask

    d["flags"] = flags
    status = model.model_touch(params, mid, sigma, inventory_lots, time_ns,
                               a_bid, k_bid, a_ask, k_ask, out_diag)
    d["status"] = status
    if status != codes.STATUS_OK:
        return 0
    count = ladder.build_ladder(
        params, bid_mult, ask_mult, d["bid0_ticks"], d["ask0_ticks"],
        math.ceil(d["min_spread_ticks"] - 1e-9),
        sigma, inventory_lots, levels_allowed, out_quotes, bid_inflight_lots, ask_inflight_lots,
    )
    flags = int(d["flags"])
    if inventory_lots >= p["position_limit_lots"]:
        flags |= codes.QUOTE_FLAG_BIDS_GATED
    if inventory_lots <= -p["position_limit_lots"]:
        flags |= codes.QUOTE_FLAG_ASKS_GATED
    d["flags"] = flags
    d["quote_count"] = count
    return count
