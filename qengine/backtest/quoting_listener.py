"""The quoting strategy's listener side: fills, public trades and book updates from the
backtester, written into the engine's arrays as the live listener writes them.

- Fills go through ``position_apply_fill`` (the engine's FIFO lots and PnL, which the risk
  check reads), with the fee the venue charged.
- Public trades go to ``intensity_update`` with the mid of the local book when each trade
  arrived, as the listener feeds the trade channel; trades without a two-sided book are skipped.
- A change of the local touch (prices or sizes) is a book update, stamped with the wake-up time:
  the ticker the engine quotes on.
"""

from __future__ import annotations

import numpy as np

from qengine.kernels import codes
from qengine.kernels._jit import helper
from qengine.kernels.dtypes import FILL, INTENSITY_STATE, LOT, POSITION, RING_CURSOR
from qengine.kernels.intensity import intensity_update
from qengine.kernels.position import position_apply_fill

from .layout import (
    BS_BASE,
    BS_BEST_ASK,
    BS_BEST_BID,
    F_CONTRACT,
    F_LOT,
    F_MAKER_FEE,
    F_TAKER_FEE,
    F_TICK,
    HANDLE,
    I8,
    I8A,
    I_N_FILL_LOG,
    I_N_TRADES,
    I_NOW,
    INVALID_MAX,
    INVALID_MIN,
)
from .quoting_layout import (
    P_INTENSITY_HALF_LIFE_S,
    P_LOT_TICK_VALUE,
    R_FILL_ROW,
    R_INTENSITY,
    R_LOTS,
    R_POSITIONS,
    R_SEEN_CURSOR,
    R_SEEN_IDS,
    V_BOOK_ASK,
    V_BOOK_ASK_LOTS,
    V_BOOK_BID,
    V_BOOK_BID_LOTS,
    V_BOOK_TIME_NS,
    V_BOOK_UPDATES,
    V_FILL_CURSOR,
    V_FILL_ERRORS,
    V_TRADED_LOTS,
    WORDS,
    region,
)

_I64 = np.dtype(np.int64)
SIDE_BUY, SIDE_SELL = codes.SIDE_BUY, codes.SIDE_SELL


@helper(I8(HANDLE, I8A), inline=True)
def book_fills(h, v):
    """Book the fills that arrived since the last wake-up into the kernels' position."""
    ist, fst, params, scratch, fills = h[0], h[1], h[6], h[7], h[9]
    done = v[V_FILL_CURSOR]
    n = ist[I_N_FILL_LOG]
    if done >= n:
        return 0
    positions = region(scratch, params, R_POSITIONS, WORDS[R_POSITIONS], POSITION)
    lots = region(scratch, params, R_LOTS, WORDS[R_LOTS], LOT)
    seen = region(scratch, params, R_SEEN_IDS, 1, _I64)
    seen_cursor = region(scratch, params, R_SEEN_CURSOR, WORDS[R_SEEN_CURSOR], RING_CURSOR)
    row = region(scratch, params, R_FILL_ROW, WORDS[R_FILL_ROW], FILL)
    tick, lot, contract = fst[F_TICK], fst[F_LOT], fst[F_CONTRACT]
    for i in range(done, n):
        f = fills[i]
        value = contract * f.price_tick * tick * f.qty_lots * lot
        r = row[0]
        r.trade_id = i
        r.instrument = 0
        r.side = SIDE_BUY if f.side > 0 else SIDE_SELL
        r.price_ticks = f.price_tick
        r.amount_lots = f.qty_lots
        r.fee_quote = (fst[F_MAKER_FEE] if f.maker else fst[F_TAKER_FEE]) * value
        r.is_maker = f.maker
        r.time_ns = f.local_ts
        if position_apply_fill(positions, lots, seen, seen_cursor, row, 0,
                               params[P_LOT_TICK_VALUE]) != codes.STATUS_OK:
            v[V_FILL_ERRORS] += 1
        v[V_TRADED_LOTS] += f.qty_lots
    v[V_FILL_CURSOR] = n
    return n - done


@helper(I8(HANDLE), inline=True)
def feed_trades(h):
    """Public trades since the last wake-up -> the intensity estimator (mid at arrival)."""
    ist, params, scratch, trades = h[0], h[6], h[7], h[8]
    n = ist[I_N_TRADES]
    if n == 0:
        return 0
    state = region(scratch, params, R_INTENSITY, WORDS[R_INTENSITY], INTENSITY_STATE)
    half_life_s = params[P_INTENSITY_HALF_LIFE_S]
    for i in range(n):
        t = trades[i]
        bb, ba = t.best_bid_tick, t.best_ask_tick
        if bb == INVALID_MIN or ba == INVALID_MAX or not (0 < bb < ba):
            continue  # no mid to measure distances from (the listener skips these too)
        side = SIDE_BUY if t.side > 0 else SIDE_SELL
        intensity_update(state, t.local_ts, t.price_tick, 0.5 * (bb + ba), side, half_life_s)
    ist[I_N_TRADES] = 0
    return n


@helper(I8(HANDLE, I8), inline=True)
def touch_lots(h, side):
    """Quantity in lots at the local book's touch of ``side`` (0 when that side is empty)."""
    fst, book, bs = h[1], h[4], h[5]
    tick = bs[BS_BEST_BID] if side == SIDE_BUY else bs[BS_BEST_ASK]
    if tick in (INVALID_MIN, INVALID_MAX):
        return 0
    lots = np.int64(round(book[side, tick - bs[BS_BASE]] / fst[F_LOT]))
    return min(lots, codes.LOTS_MAX)


@helper(I8(HANDLE, I8A), inline=True)
def observe_book(h, v):
    """Note a change of the local touch (prices or sizes) as a book update; 1 if one."""
    bs = h[5]
    bb, ba = bs[BS_BEST_BID], bs[BS_BEST_ASK]
    bid = bb if bb != INVALID_MIN else 0
    ask = ba if ba != INVALID_MAX else 0
    bid_lots = touch_lots(h, SIDE_BUY)
    ask_lots = touch_lots(h, SIDE_SELL)
    if (bid == v[V_BOOK_BID] and ask == v[V_BOOK_ASK] and bid_lots == v[V_BOOK_BID_LOTS]
            and ask_lots == v[V_BOOK_ASK_LOTS]):
        return 0
    v[V_BOOK_TIME_NS] = h[0][I_NOW]
    v[V_BOOK_BID], v[V_BOOK_ASK] = bid, ask
    v[V_BOOK_BID_LOTS], v[V_BOOK_ASK_LOTS] = bid_lots, ask_lots
    v[V_BOOK_UPDATES] += 1
    return 1
