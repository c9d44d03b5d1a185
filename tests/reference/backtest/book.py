"""Twin of ``qengine.backtest.book``: hftbacktest's HashMap depth, literally, on Python dicts.

Each call reads the array book into ``{tick: qty}`` dicts, applies the rule, and writes the
arrays back, so kernel and twin can be compared on the same state.
"""

from __future__ import annotations

import math

from qengine.backtest.layout import (
    BS_BASE,
    BS_BEST_ASK,
    BS_BEST_BID,
    BS_HIGH_ASK,
    BS_LOW_BID,
    INVALID_MAX,
    INVALID_MIN,
)


def rust_round(x):
    """Half away from zero, like Rust's ``f64::round``."""
    whole = math.trunc(x)
    return int(whole + math.copysign(1, x)) if abs(x - whole) >= 0.5 else int(whole)


def _dicts(book, base):
    sides = []
    for row in (0, 1):
        cols = book[row].nonzero()[0]
        sides.append({int(c) + base: float(book[row, c]) for c in cols})
    return sides


def _store(book, base, bids, asks):
    book[:, :] = 0.0
    for row, side in ((0, bids), (1, asks)):
        for tick, qty in side.items():
            book[row, tick - base] = qty


def _below(depth, start, end):
    for t in range(start - 1, end - 1, -1):
        if depth.get(t, 0.0) > 0.0:
            return t
    return INVALID_MIN


def _above(depth, start, end):
    for t in range(start + 1, end + 1):
        if depth.get(t, 0.0) > 0.0:
            return t
    return INVALID_MAX


def book_update(book, bs, is_ask, price_tick, qty, lot_size):
    base = int(bs[BS_BASE])
    bids, asks = _dicts(book, base)
    s = {k: int(bs[k]) for k in (BS_BEST_BID, BS_BEST_ASK, BS_LOW_BID, BS_HIGH_ASK)}
    depth = asks if is_ask else bids
    qty_lot = rust_round(qty / lot_size)
    prev_qty = depth.pop(price_tick, 0.0)
    if qty_lot > 0:
        depth[price_tick] = qty
    if not is_ask:
        prev_best = s[BS_BEST_BID]
        if qty_lot == 0:
            if price_tick == s[BS_BEST_BID]:
                s[BS_BEST_BID] = _below(bids, s[BS_BEST_BID], s[BS_LOW_BID])
                if s[BS_BEST_BID] == INVALID_MIN:
                    s[BS_LOW_BID] = INVALID_MAX
        else:
            if price_tick > s[BS_BEST_BID]:
                s[BS_BEST_BID] = price_tick
                if s[BS_BEST_BID] >= s[BS_BEST_ASK]:
                    s[BS_BEST_ASK] = _above(asks, s[BS_BEST_BID], s[BS_HIGH_ASK])
            s[BS_LOW_BID] = min(s[BS_LOW_BID], price_tick)
        new_best = s[BS_BEST_BID]
    else:
        prev_best = s[BS_BEST_ASK]
        if qty_lot == 0:
            if price_tick == s[BS_BEST_ASK]:
                s[BS_BEST_ASK] = _above(asks, s[BS_BEST_ASK], s[BS_HIGH_ASK])
                if s[BS_BEST_ASK] == INVALID_MAX:
                    s[BS_HIGH_ASK] = INVALID_MIN
        else:
            if price_tick < s[BS_BEST_ASK]:
                s[BS_BEST_ASK] = price_tick
                if s[BS_BEST_BID] >= s[BS_BEST_ASK]:
                    s[BS_BEST_BID] = _below(bids, s[BS_BEST_ASK], s[BS_LOW_BID])
            s[BS_HIGH_ASK] = max(s[BS_HIGH_ASK], price_tick)
        new_best = s[BS_BEST_ASK]
    _store(book, base, bids, asks)
    for k, v in s.items():
        bs[k] = v
    return prev_best, new_best, prev_qty


def book_clear(book, bs, side, clear_price, tick_size):
    base = int(bs[BS_BASE])
    bids, asks = _dicts(book, base)
    s = {k: int(bs[k]) for k in (BS_BEST_BID, BS_BEST_ASK, BS_LOW_BID, BS_HIGH_ASK)}
    if side == 0:
        bids, asks = {}, {}
        s = {BS_BEST_BID: INVALID_MIN, BS_BEST_ASK: INVALID_MAX, BS_LOW_BID: INVALID_MAX,
             BS_HIGH_ASK: INVALID_MIN}
    elif side > 0:
        if math.isfinite(clear_price):
            upto = rust_round(clear_price / tick_size)
            if s[BS_BEST_BID] != INVALID_MIN:
                for t in range(upto, s[BS_BEST_BID] + 1):
                    bids.pop(t, None)
            s[BS_BEST_BID] = _below(bids, upto - 1, s[BS_LOW_BID])
        else:
            bids = {}
            s[BS_BEST_BID] = INVALID_MIN
        if s[BS_BEST_BID] == INVALID_MIN:
            s[BS_LOW_BID] = INVALID_MAX
    else:
        if math.isfinite(clear_price):
            upto = rust_round(clear_price / tick_size)
            if s[BS_BEST_ASK] != INVALID_MAX:
                for t in range(s[BS_BEST_ASK], upto + 1):
                    asks.pop(t, None)
            s[BS_BEST_ASK] = _above(asks, upto + 1, s[BS_HIGH_ASK])
        else:
            asks = {}
            s[BS_BEST_ASK] = INVALID_MAX
        if s[BS_BEST_ASK] == INVALID_MAX:
            s[BS_HIGH_ASK] = INVALID_MIN
    _store(book, base, bids, asks)
    for k, v in s.items():
        bs[k] = v
    return 0
