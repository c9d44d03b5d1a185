"""Build the quote ladder (QUOTE rows, bids then asks) from the model's level-0 prices.

Rules of the old bot (original-quoter.md 2.4 and 2.5) and where they went:

* levels per side: ``min(params.levels, levels_allowed, len(out_quotes) // 2, 128)`` (the int8
  ``QUOTE.level`` holds levels up to ``codes.LEVEL_MAX``);
* side gating: bids only while ``inventory < Q``, asks only while ``inventory > -Q`` (at exactly the
  limit only the reducing side quotes);
* base step ``base_step_ticks * clamp(sigma / step_vol_reference, min, max)`` (old 15 ticks, 0.025,
  0.5, 3.0); level ``k >= 1`` sits ``d_k`` ticks beyond level 0 with ``d = step * F[k-1]``,
  ``F = 1, 2, 3, 5, 8, 13, 21, 34, 55, 89`` and ``89 * 2**(k-9)`` beyond (the old formula, so the
  multiplier jumps from 89 to 356), ``d >= 2``, times ``1 + 0.05 k`` (``k <= 10``, else
  ``1.5 + 0.15 (k - 10)``), snapped to a multiple of ``max(2, k // 2)`` ticks (half to even),
  ``d >= 2``; bids of levels ``k >= 1`` are floored at 2 ticks;
* duplicate filter: a level within ``1 + k // 2`` ticks of an accepted level of its side is
  skipped (and so is one that would not be strictly farther from the touch than the last accepted);
* sizes: base size times the inventory-asymmetric factor (side adding to ``|q|``:
  ``max(0.2, 1 - 0.8 r)``, reducing side: ``min(1.5, 1 + 0.5 r)``, ``r = min(1, |q| / Q)``), times
  ``max(0.5, 1 - 5 sigma)``, times the level's multiplier (separate arrays for bids and asks; the
  old bot used the bid list for both), rounded to whole lots, floored at ``min_level_lots`` and the
  instrument's ``min_order_lots``, capped at ``codes.LOTS_MAX`` (int32 ``QUOTE.size_lots``);
* capacity: the sum of a side's sizes never exceeds the room to the limit left by the orders
  the diff cannot change this cycle: ``Q - q - B`` for bids, ``Q + q - A`` for asks (``q`` the
  filled position); a level that would breach it is cut, and dropped when under the minimum (the
  old bot capped the side size before the level multipliers, so its ladder could exceed Q);
  bids quote only while ``q + B < Q``, asks while ``q - A > -Q``. See "Position limit" below.
* tick alignment in integer ticks: bids floor, asks ceil (a 1e-9 tolerance keeps float noise from
  moving a price a whole tick);
* un-crossing: the aligned touch is at least ``max(1, min_spread_ticks)`` wide (re-centred on the
  model's centre when it is not) and at most ``max_spread_ticks`` (the floor wins a conflict), so
  every bid is below every ask;
* bids with a price below 1 tick are dropped (old: price <= 0).

Position limit (a hard one: every resting and in-flight order of a side filling must not take
the position beyond ``Q``). ``q`` is the booked position; ``B`` / ``A`` are the worst-case lots
the instrument's buy / sell rows the diff leaves alone this cycle can still add to it
(``order_exposure.inflight_lots``), read from the order table inside ``quote_cycle``. A row's
worst case runs from ``booked`` (the lots of its fills the position has absorbed), not from the
exchange's ``filled``: a report can state a fill (an amend's reply, a cancel's) before that
fill is booked, and until then its lots are still to come.

* a pending cancel: ``amount - booked`` (it can fill until the exchange confirms, and the diff
  inserts a new order for its level at once: a cancelling row never represents one);
* a pending amend: the larger of its old and its new ``amount - booked`` (either may be in force);
* a pending insert: its ``amount - booked`` (the diff sends nothing for its level);
* an open row the diff ignores (negative level or unknown side): its ``amount - booked``;
* a closed row: its reported fills not booked yet, ``filled - booked`` (``order_release`` keeps
  the row until they are booked).

Open rows the diff may keep, amend or cancel count through the new ladder's sizes, and the
diff makes that true for the request it sends this cycle: its budget ``Q - q`` (``Q + q``) less
every row's worst case admits a request that adds exposure only where it fits (see
``order_diff``), since an order being cut or cancelled can still fill before that request lands.
``quote_pipeline`` and ``build_ladder`` (no order table) quote with ``B = A = 0``.

Dropped, with reasons: the side-size floor 0.01 before level multipliers (the per-level floors
after the multipliers are where a size floor matters); the Fibonacci continuation of level size
multipliers beyond the configured list (levels beyond the list reuse its last value instead);
trend tilts, volume-signal factors and the ``1 + vol_adj`` step factor (their inputs were always 0);
the 8-decimal rounding and the hard-coded 0.1 minimum / 0.001 step (sizes are integer lots and the
minimum comes from the instrument); the second alignment pass (idempotent on integer ticks).
"""

from __future__ import annotations

import math

import numpy as np
from numba import types

from . import codes
from ._jit import helper, kernel
from .dtypes import QUOTE_PARAMS_T, QUOTE_T

_F8 = types.float64
_I8 = types.int64
_MULT_T = types.float64[::1]

# Float noise tolerance when snapping a float tick price to an integer tick.
_SNAP_EPS = 1e-9


@helper(_I8(_I8, _F8), inline=True)
def level_offset_ticks(k, step_ticks):
    # Distance in ticks of level k >= 1 beyond level 0 (the old _calculate_level_price).
    if k <= 10:
        a = 1.0
        b = 2.0
        for _ in range(k - 1):
            a, b = b, a + b
        fib = a
    else:
        fib = 89.0 * 2.0 ** (k - 9)
    d = max(step_ticks * fib, 2.0)
    d *= (1.0 + 0.05 * k) if k <= 10 else (1.5 + 0.15 * (k - 10))
    unit = float(max(2, k // 2))
    return max(np.int64(np.rint(d / unit)) * np.int64(unit), np.int64(2))


@helper(types.UniTuple(_I8, 2)(_F8, _F8, _I8, _I8), inline=True)
def _aligned_touch(bid0_ticks, ask0_ticks, min_spread_ticks, max_spread_ticks):
    # Level-0 bid floored, ask ceiled; then at least min and at most max spread wide.
    bid = np.int64(math.floor(bid0_ticks + _SNAP_EPS))
    ask = np.int64(math.ceil(ask0_ticks - _SNAP_EPS))
    floor_ticks = max(np.int64(1), min_spread_ticks)
    cap_ticks = max(max_spread_ticks, floor_ticks)
    if ask - bid < floor_ticks:
        centre = 0.5 * (bid0_ticks + ask0_ticks)
        bid = np.int64(math.floor(centre - 0.5 * floor_ticks + _SNAP_EPS))
        ask = max(np.int64(math.ceil(centre + 0.5 * floor_ticks - _SNAP_EPS)), bid + floor_ticks)
    excess = ask - bid - cap_ticks
    if excess > 0:
        bid += excess // 2
        ask -= excess - excess // 2
    return bid, ask


@helper(_F8(_F8, _F8, _F8), inline=True)
def _clamp(x, lo, hi):
    return min(max(x, lo), hi)


@helper(types.UniTuple(_F8, 2)(QUOTE_PARAMS_T, _F8, _I8), inline=True)
def _side_sizes_lots(params, sigma, inventory_lots):
    # Float sizes (lots) of level 0 per side before multipliers: inventory asymmetry and sigma.
    p = params[0]
    ratio = min(1.0, abs(inventory_lots) / p.position_limit_lots)
    shrink = max(p.size_shrink_floor_ratio, 1.0 - p.size_shrink_slope_ratio * ratio)
    grow = min(p.size_grow_cap_ratio, 1.0 + p.size_grow_slope_ratio * ratio)
    bid_factor = 1.0
    ask_factor = 1.0
    if inventory_lots > 0:
        bid_factor, ask_factor = shrink, grow
    elif inventory_lots < 0:
        bid_factor, ask_factor = grow, shrink
    vol_factor = 1.0
    if sigma >= 0.0:
        vol_factor = max(p.size_factor_min_ratio, 1.0 - p.size_vol_sensitivity_sqrt_s * sigma)
    base = float(p.base_size_lots) * vol_factor
    return base * bid_factor, base * ask_factor


@helper(_F8(_MULT_T, _I8), inline=True)
def _multiplier(mult, k):
    n = mult.shape[0]
    if n == 0:
        return 1.0
    return mult[min(k, n - 1)]


@helper(types.boolean(QUOTE_T, _I8, _I8, _I8, _I8, _I8), inline=True)
def _is_duplicate(out_quotes, first, n, price_ticks, k, direction):
    # direction -1 for bids (prices must fall), +1 for asks (prices must rise). Accepted prices
    # move strictly away from the touch, so a price at least ``gap`` beyond the last accepted
    # one is beyond every earlier one too: only the last needs checking.
    if n <= first:
        return False
    accepted = out_quotes[n - 1].price_ticks
    return (price_ticks - accepted) * direction < 1 + k // 2


@helper(_I8(QUOTE_PARAMS_T, _MULT_T, QUOTE_T, _I8, _I8, _I8, _F8, _I8, _F8, _I8), inline=True)
def _write_side(
    params, mult, out_quotes, n, side, touch_ticks, step_ticks, levels, side_size, room_lots
):
    # Append one side's levels at out_quotes[n:]; returns the new count.
    p = params[0]
    direction = -1 if side == codes.SIDE_BUY else 1
    min_lots = max(np.int64(1), p.min_order_lots)
    first = n
    for k in range(levels):
        price = touch_ticks
        if k > 0:
            price = touch_ticks + direction * level_offset_ticks(k, step_ticks)
            if side == codes.SIDE_BUY and price < 2:
                price = np.int64(2)
        if price < 1 or _is_duplicate(out_quotes, first, n, price, k, direction):
            continue
        size = np.int64(np.rint(side_size * _multiplier(mult, k)))
        size = max(size, p.min_level_lots, min_lots)
        size = min(size, room_lots, np.int64(codes.LOTS_MAX))  # QUOTE.size_lots is int32
        if size < min_lots:
            break
        room_lots -= size
        row = out_quotes[n]
        row.side = side
        row.level = k
        row.price_ticks = price
        row.size_lots = size
        n += 1
    return n


@helper(
    _I8(QUOTE_PARAMS_T, _MULT_T, _MULT_T, _F8, _F8, _I8, _F8, _I8, _I8, QUOTE_T, _I8, _I8),
    inline=True,
)
def _build_ladder(params, bid_mult, ask_mult, bid0_ticks, ask0_ticks, min_spread_ticks, sigma,
                  inventory_lots, levels_allowed, out_quotes, bid_inflight_lots,
                  ask_inflight_lots):
    # The body of ``build_ladder``, inlined into ``quote_pipeline`` (no call boundary). The
    # in-flight lots (B and A of the module docstring) take their room from the limit.
    p = params[0]
    limit = p.position_limit_lots
    if limit <= 0 or p.base_size_lots <= 0:
        return 0
    if not (abs(bid0_ticks) < 1e15 and abs(ask0_ticks) < 1e15):
        return 0
    # QUOTE.level is int8: at most LEVEL_MAX + 1 levels a side.
    levels = min(p.level_count, levels_allowed, out_quotes.shape[0] // 2, codes.LEVEL_MAX + 1)
    if levels <= 0:
        return 0
    bid, ask = _aligned_touch(bid0_ticks, ask0_ticks, min_spread_ticks, p.max_spread_ticks)
    vol_factor = 1.0
    if p.step_vol_reference_per_sqrt_s > 0.0 and sigma >= 0.0:
        vol_factor = sigma / p.step_vol_reference_per_sqrt_s
    step = p.base_step_ticks * _clamp(vol_factor, p.step_factor_min_ratio, p.step_factor_max_ratio)
    bid_size, ask_size = _side_sizes_lots(params, sigma, inventory_lots)
    n = 0
    bid_room_lots = limit - inventory_lots - max(bid_inflight_lots, 0)
    ask_room_lots = limit + inventory_lots - max(ask_inflight_lots, 0)
    if bid_room_lots > 0:
        n = _write_side(
            params, bid_mult, out_quotes, n, codes.SIDE_BUY, bid, step, levels, bid_size,
            bid_room_lots,
        )
    if ask_room_lots > 0:
        n = _write_side(
            params, ask_mult, out_quotes, n, codes.SIDE_SELL, ask, step, levels, ask_size,
            ask_room_lots,
        )
    return n


@kernel(_I8(QUOTE_PARAMS_T, _MULT_T, _MULT_T, _F8, _F8, _I8, _F8, _I8, _I8, QUOTE_T))
def build_ladder(
    params,
    bid_mult,
    ask_mult,
    bid0_ticks,
    ask0_ticks,
    min_spread_ticks,
    sigma,
    inventory_lots,
    levels_allowed,
    out_quotes,
):
    """Write the ladder into ``out_quotes``: bids (touch first), then asks (touch first).

    Parameters
    ----------
    params : QUOTE_PARAMS array, shape (1,)
        Reads ``level_count``, ``max_spread_ticks``, step, size and limit fields.
    bid_mult, ask_mult : float64 array, shape (m,)
        Per-level size multipliers of bids / asks; levels beyond ``m`` reuse the last value, an
        empty array means 1.0.
    bid0_ticks, ask0_ticks : float64
        Level-0 prices from the model in ticks (not yet aligned); NaN quotes nothing.
    min_spread_ticks : int64
        Minimum level-0 spread in ticks (tick and fee floor); at least 1 is enforced.
    sigma : float64
        Volatility, fraction of price per sqrt(second), for the step and size factors.
    inventory_lots : int64
        Signed position in lots (no orders in flight: ``quote_cycle`` subtracts those too).
    levels_allowed : int64
        Levels per side the risk layer allows (recovery throttling); ``<= 0`` quotes nothing.
    out_quotes : QUOTE array, shape (capacity,)
        Receives rows ``[0, count)``; per side at most ``capacity // 2`` levels. Rows beyond
        ``count`` are left untouched. ``level`` is the ladder level ``k`` (gaps where the
        duplicate filter skipped a level).

    Returns
    -------
    int64
        ``count``, the number of rows written (0 for NaN prices or a non-positive limit or
        base size).
    """
    return _build_ladder(params, bid_mult, ask_mult, bid0_ticks, ask0_ticks, min_spread_ticks,
                         sigma, inventory_lots, levels_allowed, out_quotes, 0, 0)
