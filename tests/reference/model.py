"""Pure-Python twin of ``qengine.kernels.model`` (the engine stage of the quote models)."""

from __future__ import annotations

import math

from qengine.kernels import codes

from .avellaneda import (
    NAN,
    _p,
    glft_ask_depth,
    glft_bid_depth,
    legacy_skew,
    legacy_spread,
    optimal_spread,
    reservation_price,
)


def horizon_tau_s(params, now_ns):
    """tau in seconds for the configured horizon mode."""
    p = _p(params)
    mode = p["horizon_mode_code"]
    if mode == codes.HORIZON_FIXED:
        return p["horizon_s"] if p["horizon_s"] >= 0 else NAN
    if mode == codes.HORIZON_SESSION_END:
        tau = (p["session_end_ns"] - now_ns) / 1e9
    elif mode == codes.HORIZON_ROLLING:
        if not p["horizon_s"] >= 1e-9:
            return NAN
        window_ns = int(p["horizon_s"] * 1e9)
        elapsed_in_window_ns = (now_ns - p["session_end_ns"]) % window_ns  # Python: >= 0
        tau = (window_ns - elapsed_in_window_ns) / 1e9
    else:
        return NAN
    return max(tau, p["min_tau_s"])


def _legacy_prices(p, mid_ticks, sigma, inventory_lots):
    t = p["tick_size_quote"]
    q = inventory_lots * p["lot_size_coins"]
    limit = p["position_limit_lots"] * p["lot_size_coins"]
    # Old bot: sigma_e = max(sigma, floor) * (1 + vol_adj); spread on the raw mid, quotes around
    # the shifted mid.
    scaled_sigma = max(sigma, p["legacy_sigma_floor_ratio"]) * p["sigma_scale_ratio"]
    s = legacy_spread(
        mid_ticks * t, t, scaled_sigma, q, limit, p["legacy_gamma_ratio"],
        float(p["min_spread_ticks"]),
        p["maker_fee_bps"] / 1e4, p["profit_margin_bps"] / 1e4, p["fee_coverage_ratio"],
        p["base_spread_factor_ratio"], p["volatility_multiplier_ratio"], p["position_fade_time_s"],
        p["inventory_factor_ratio"], p["market_state_factor_ratio"], 0.0,
    )
    mid = (mid_ticks + p["reservation_offset_ticks"]) * t
    skew = legacy_skew(s, q, limit, p["inventory_weight_ratio"])
    min_s = p["min_spread_ticks"] * t
    bid = round((mid - s / 2 - skew) / t) * t
    ask = round((mid + s / 2 - skew) / t) * t
    if ask - bid < min_s:
        c = (bid + ask) / 2
        bid, ask = c - min_s / 2, c + min_s / 2
    bid = round(bid / t) * t
    ask = round(ask / t) * t
    if ask - bid < min_s:
        bid, ask = mid - min_s / 2, mid + min_s / 2
    return bid / t, ask / t, (mid - skew) / t, s / t


def _textbook_prices(p, mid_ticks, sigma, inventory_lots, tau, a_bid, k_bid, a_ask, k_ask):
    sigma_ticks = sigma * p["sigma_scale_ratio"] * mid_ticks
    centre_mid = mid_ticks + p["reservation_offset_ticks"]
    gamma = p["gamma_per_tick_unit"]
    if p["model_code"] == codes.MODEL_AS:
        r = reservation_price(centre_mid, inventory_lots * p["lot_size_coins"], gamma,
                              sigma_ticks, tau)
        bid = r - optimal_spread(gamma, sigma_ticks, tau, k_bid) / 2
        ask = r + optimal_spread(gamma, sigma_ticks, tau, k_ask) / 2
        return bid, ask, r, ask - bid
    base = p["base_size_lots"]
    q = inventory_lots / base if base > 0 else NAN
    bid = centre_mid - glft_bid_depth(q, gamma, sigma_ticks, a_bid, k_bid)
    ask = centre_mid + glft_ask_depth(q, gamma, sigma_ticks, a_ask, k_ask)
    return bid, ask, (bid + ask) / 2, ask - bid


def model_touch(
    params, mid_ticks, sigma, inventory_lots, now_ns, a_bid, kappa_bid, a_ask, kappa_ask, out_diag
):
    """Level-0 prices of the selected model, then fee/tick floor and cap around the centre."""
    if len(out_diag) < 1:
        return codes.STATUS_BAD_INPUT
    p = _p(params)
    d = out_diag[0]  # a view: field writes land in the record
    for name in ("bid0_ticks", "ask0_ticks", "tau_s"):
        d[name] = NAN
    if not (mid_ticks > 0 and sigma >= 0 and p["tick_size_quote"] > 0):
        return codes.STATUS_BAD_INPUT
    if not (math.isfinite(p["sigma_scale_ratio"]) and p["sigma_scale_ratio"] >= 0):
        return codes.STATUS_BAD_INPUT
    if not math.isfinite(p["reservation_offset_ticks"]):
        return codes.STATUS_BAD_INPUT
    model = p["model_code"]
    if model == codes.MODEL_LEGACY:
        bid, ask, centre, spread = _legacy_prices(p, mid_ticks, sigma, inventory_lots)
    elif model in (codes.MODEL_AS, codes.MODEL_GLFT):
        tau = horizon_tau_s(params, now_ns)
        if model == codes.MODEL_AS:
            d["tau_s"] = tau
        bid, ask, centre, spread = _textbook_prices(
            p, mid_ticks, sigma, inventory_lots, tau, a_bid, kappa_bid, a_ask, kappa_ask
        )
    else:
        return codes.STATUS_BAD_INPUT
    d["reservation_ticks"] = centre
    d["spread_ticks"] = spread
    fee_rate = (2 * p["maker_fee_bps"] + p["profit_margin_bps"]) / 1e4
    fee_floor = mid_ticks * fee_rate * p["fee_coverage_ratio"]
    floor = max(float(p["min_spread_ticks"]), fee_floor)
    d["min_spread_ticks"] = floor
    if not all(math.isfinite(x) for x in (bid, ask, floor)):
        return codes.STATUS_BAD_INPUT
    cap = max(float(p["max_spread_ticks"]), floor)
    width = ask - bid
    new_width = min(max(width, floor), cap)
    if new_width != width:
        flag = codes.QUOTE_FLAG_SPREAD_FLOORED if width < floor else codes.QUOTE_FLAG_SPREAD_CAPPED
        middle = (bid + ask) / 2
        bid, ask = middle - new_width / 2, middle + new_width / 2
        d["flags"] = int(d["flags"]) | flag
    d["bid0_ticks"] = bid
    d["ask0_ticks"] = ask
    return codes.STATUS_OK
