"""The L2 book of one side of the simulation, on dense arrays indexed by price tick.

Rules follow hftbacktest's ``HashMapMarketDepth`` (see README, "Backtest"): the best prices are
maintained incrementally; a new best that crosses the other side moves the other best to its
next non-empty level while the crossed levels stay stored; deleting the best scans outward to the
next non-empty level; a clear deletes from the clear price to the best.

``book[0]`` holds bid quantities and ``book[1]`` ask quantities at column ``tick - base``;
``bs`` holds the scalars (``layout.BS_*``). The caller makes sure an updated tick is inside the
array (the runner grows it first); scans are clipped to the array, where nothing lies outside.
"""

from __future__ import annotations

import math

import numba

from qengine.kernels._jit import helper, kernel

from .layout import (
    B1,
    BOOK,
    BS_BASE,
    BS_BEST_ASK,
    BS_BEST_BID,
    BS_HIGH_ASK,
    BS_LOW_BID,
    EVENTS,
    F8,
    I8,
    I8A,
    INVALID_MAX,
    INVALID_MIN,
)

_UPDATE = numba.types.Tuple((I8, I8, F8))


@helper(I8(F8), inline=True)
def rust_round(x):
    """Round half away from zero (Rust's ``f64::round``), as an integer."""
    t = math.trunc(x)
    if abs(x - t) >= 0.5:
        t += 1.0 if x > 0 else -1.0
    return numba.int64(t)


@helper(I8(BOOK, I8A, I8, I8), inline=True)
def depth_below(book, bs, start, end):
    """The highest bid tick in ``[end, start)`` with quantity, else ``INVALID_MIN``."""
    base = bs[BS_BASE]
    hi = min(start - 1, base + book.shape[1] - 1)
    lo = max(end, base)
    if hi < lo:  # (also keeps numba's range length from overflowing on the sentinels)
        return INVALID_MIN
    for t in range(hi, lo - 1, -1):
        if book[0, t - base] > 0.0:
            return t
    return INVALID_MIN


@helper(I8(BOOK, I8A, I8, I8), inline=True)
def depth_above(book, bs, start, end):
    """The lowest ask tick in ``(start, end]`` with quantity, else ``INVALID_MAX``."""
    base = bs[BS_BASE]
    lo = max(start + 1, base)
    hi = min(end, base + book.shape[1] - 1)
    if hi < lo:
        return INVALID_MAX
    for t in range(lo, hi + 1):
        if book[1, t - base] > 0.0:
            return t
    return INVALID_MAX


@kernel(_UPDATE(BOOK, I8A, B1, I8, F8, F8), inline=True)
def book_update(book, bs, is_ask, price_tick, qty, lot_size):
    """Set the quantity at ``price_tick`` on one side; a qty of 0 lots deletes the level.

    Returns ``(prev_best, new_best, prev_qty)`` for that side.
    """
    base = bs[BS_BASE]
    side = 1 if is_ask else 0
    col = price_tick - base
    qty_lot = rust_round(qty / lot_size)
    prev_qty = book[side, col]
    book[side, col] = qty if qty_lot > 0 else 0.0
    if not is_ask:
        prev_best = bs[BS_BEST_BID]
        if qty_lot == 0:
            if price_tick == prev_best:
                bs[BS_BEST_BID] = depth_below(book, bs, prev_best, bs[BS_LOW_BID])
                if bs[BS_BEST_BID] == INVALID_MIN:
                    bs[BS_LOW_BID] = INVALID_MAX
        else:
            if price_tick > prev_best:
                bs[BS_BEST_BID] = price_tick
                if price_tick >= bs[BS_BEST_ASK]:
                    bs[BS_BEST_ASK] = depth_above(book, bs, price_tick, bs[BS_HIGH_ASK])
            bs[BS_LOW_BID] = min(bs[BS_LOW_BID], price_tick)
        return prev_best, bs[BS_BEST_BID], prev_qty
    prev_best = bs[BS_BEST_ASK]
    if qty_lot == 0:
        if price_tick == prev_best:
            bs[BS_BEST_ASK] = depth_above(book, bs, prev_best, bs[BS_HIGH_ASK])
            if bs[BS_BEST_ASK] == INVALID_MAX:
                bs[BS_HIGH_ASK] = INVALID_MIN
    else:
        if price_tick < prev_best:
            bs[BS_BEST_ASK] = price_tick
            if bs[BS_BEST_BID] >= price_tick:
                bs[BS_BEST_BID] = depth_below(book, bs, price_tick, bs[BS_LOW_BID])
        bs[BS_HIGH_ASK] = max(bs[BS_HIGH_ASK], price_tick)
    return prev_best, bs[BS_BEST_ASK], prev_qty


@kernel(I8(BOOK, I8A, I8, F8, F8), inline=True)
def book_clear(book, bs, side, clear_price, tick_size):
    """Clear one side up to ``clear_price`` (all of it if not finite), or both (side 0).

    ``side`` is +1 (bids), -1 (asks) or 0 (everything). Returns 0.
    """
    base = bs[BS_BASE]
    width = book.shape[1]
    if side == 0:
        book[:, :] = 0.0
        bs[BS_BEST_BID] = INVALID_MIN
        bs[BS_BEST_ASK] = INVALID_MAX
        bs[BS_LOW_BID] = INVALID_MAX
        bs[BS_HIGH_ASK] = INVALID_MIN
        return 0
    finite = math.isfinite(clear_price)
    if side > 0:
        if finite:
            upto = rust_round(clear_price / tick_size)
            best = bs[BS_BEST_BID]
            if best != INVALID_MIN:
                # No bid level lies below the lowest bid set since the side was empty.
                for t in range(max(upto, bs[BS_LOW_BID], base), min(best + 1, base + width)):
                    book[0, t - base] = 0.0
            # hftbacktest scans from upto - 2 here (its loop starts below ``upto - 1``).
            bs[BS_BEST_BID] = depth_below(book, bs, upto - 1, bs[BS_LOW_BID])
        else:
            book[0, :] = 0.0
            bs[BS_BEST_BID] = INVALID_MIN
        if bs[BS_BEST_BID] == INVALID_MIN:
            bs[BS_LOW_BID] = INVALID_MAX
        return 0
    if finite:
        upto = rust_round(clear_price / tick_size)
        best = bs[BS_BEST_ASK]
        if best != INVALID_MAX:
            for t in range(max(best, base), min(upto + 1, bs[BS_HIGH_ASK] + 1, base + width)):
                book[1, t - base] = 0.0
        bs[BS_BEST_ASK] = depth_above(book, bs, upto + 1, bs[BS_HIGH_ASK])
    else:
        book[1, :] = 0.0
        bs[BS_BEST_ASK] = INVALID_MAX
    if bs[BS_BEST_ASK] == INVALID_MAX:
        bs[BS_HIGH_ASK] = INVALID_MIN
    return 0


@helper(numba.types.UniTuple(F8, 2)(EVENTS))
def price_range(events):
    """Lowest and highest finite ``px`` of ``events`` (``(inf, -inf)`` if none): one pass over
    the rows, which sizes the books without copying a column out of the 64-byte rows."""
    lo = math.inf
    hi = -math.inf
    for i in range(events.shape[0]):
        px = events[i].px
        if math.isfinite(px):
            lo = min(lo, px)
            hi = max(hi, px)
    return lo, hi
