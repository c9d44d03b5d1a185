"""Pure-Python twin of ``qengine.kernels.ladder``, written for clarity rather than speed.

The ladder is built as Python lists of (side, level, price, size) tuples and copied into the QUOTE
array at the end.
"""

from __future__ import annotations

import math

from qengine.kernels import codes

FIBONACCI = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89]
EPS = 1e-9


def level_offset_ticks(k, step_ticks):
    """Ticks between level 0 and level k >= 1 (the old _calculate_level_price)."""
    fib = FIBONACCI[k - 1] if k - 1 < len(FIBONACCI) else 89 * 2 ** (k - 9)
    d = max(step_ticks * fib, 2.0)
    d = d * (1 + 0.05 * k if k <= 10 else 1.5 + 0.15 * (k - 10))
    unit = max(2, k // 2)
    return max(round(d / unit) * unit, 2)


def aligned_touch(bid0, ask0, min_spread_ticks, max_spread_ticks):
    """Bid floored, ask ceiled; at least max(1, min) and at most max(max, min) ticks apart."""
    bid = math.floor(bid0 + EPS)
    ask = math.ceil(ask0 - EPS)
    floor_ticks = max(1, min_spread_ticks)
    cap_ticks = max(max_spread_ticks, floor_ticks)
    if ask - bid < floor_ticks:
        centre = (bid0 + ask0) / 2
        bid = math.floor(centre - floor_ticks / 2 + EPS)
        ask = max(math.ceil(centre + floor_ticks / 2 - EPS), bid + floor_ticks)
    while ask - bid > cap_ticks:  # trim the ask first, then the bid, one tick at a time
        ask -= 1
        if ask - bid > cap_ticks:
            bid += 1
    return bid, ask


def side_sizes(p, sigma, inventory_lots):
    """Float lots of level 0 for bids and asks (inventory asymmetry and the sigma factor)."""
    r = min(1.0, abs(inventory_lots) / p["position_limit_lots"])
    adding = max(p["size_shrink_floor_ratio"], 1 - p["size_shrink_slope_ratio"] * r)
    reducing = min(p["size_grow_cap_ratio"], 1 + p["size_grow_slope_ratio"] * r)
    if inventory_lots > 0:
        bid_f, ask_f = adding, reducing
    elif inventory_lots < 0:
        bid_f, ask_f = reducing, adding
    else:
        bid_f = ask_f = 1.0
    vol = 1.0
    if sigma >= 0:
        vol = max(p["size_factor_min_ratio"], 1 - p["size_vol_sensitivity_sqrt_s"] * sigma)
    base = p["base_size_lots"] * vol
    return base * bid_f, base * ask_f


def one_side(p, mult, side, touch, step, levels, side_size, room):
    """List of (side, level, price, size) for one side."""
    mult = [float(m) for m in mult]
    down = side == codes.SIDE_BUY
    min_lots = max(1, p["min_order_lots"])
    rows = []
    for k in range(levels):
        if k == 0:
            price = touch
        elif down:
            price = max(touch - level_offset_ticks(k, step), 2)
        else:
            price = touch + level_offset_ticks(k, step)
        gap = 1 + k // 2
        too_close = any(abs(price - r[2]) < gap for r in rows)
        not_beyond = any((price >= r[2]) if down else (price <= r[2]) for r in rows)
        if price < 1 or too_close or not_beyond:
            continue
        m = mult[min(k, len(mult) - 1)] if mult else 1.0
        size = max(round(side_size * m), p["min_level_lots"], min_lots)
        size = min(size, codes.LOTS_MAX, room)  # QUOTE.size_lots is int32
        if size < min_lots:
            break
        room -= size
        rows.append((side, k, price, size))
    return rows


def build_ladder(
    params, bid_mult, ask_mult, bid0_ticks, ask0_ticks, min_spread_ticks, sigma, inventory_lots,
    levels_allowed, out_quotes, bid_inflight_lots=0, ask_inflight_lots=0,
):
    """Bids (touch first) then asks into out_quotes; returns the count. A side's sizes add up
    to at most the room to the limit less its orders in flight."""
    p = {name: params[0][name].item() for name in params.dtype.names}
    limit = p["position_limit_lots"]
    if limit <= 0 or p["base_size_lots"] <= 0:
        return 0
    if not (abs(bid0_ticks) < 1e15 and abs(ask0_ticks) < 1e15):
        return 0
    levels = min(p["level_count"], levels_allowed, len(out_quotes) // 2, codes.LEVEL_MAX + 1)
    if levels <= 0:
        return 0
    bid, ask = aligned_touch(bid0_ticks, ask0_ticks, min_spread_ticks, p["max_spread_ticks"])
    factor = 1.0
    if p["step_vol_reference_per_sqrt_s"] > 0 and sigma >= 0:
        factor = sigma / p["step_vol_reference_per_sqrt_s"]
    factor = min(max(factor, p["step_factor_min_ratio"]), p["step_factor_max_ratio"])
    step = p["base_step_ticks"] * factor
    bid_size, ask_size = side_sizes(p, sigma, inventory_lots)
    rows = []
    bid_room = limit - inventory_lots - max(bid_inflight_lots, 0)
    ask_room = limit + inventory_lots - max(ask_inflight_lots, 0)
    if bid_room > 0:
        rows += one_side(p, bid_mult, codes.SIDE_BUY, bid, step, levels, bid_size, bid_room)
    if ask_room > 0:
        rows += one_side(p, ask_mult, codes.SIDE_SELL, ask, step, levels, ask_size, ask_room)
    for i, (side, level, price, size) in enumerate(rows):
        out_quotes[i] = (side, level, price, size)
    return len(rows)
