"""qengine's own quoting as a backtest strategy: the engine's kernels behind ``STRATEGY_SIG``.

At each wake-up :func:`quote_strategy` does what the live engine's services do on the same news:

1. books the fills that arrived (``position_apply_fill``, as the listener does),
2. feeds the public trades received since the last wake-up to ``intensity_update`` with the mid
   of the local book when each arrived (as the listener does with the trade feed),
3. mirrors the backtester's local order table into the kernels' ``ORDER`` table (requests in
   flight become the pending states the diff leaves alone),
4. runs ``quote_cycle`` (estimators, model, ladder, diff) on the local top of book and sends its
   actions: inserts as post-only (GTX) limit orders, amends, cancels,
5. writes a ``QUOTING_RECORD`` row when one is due, and yields to its wrapper when the
   recorder buffer is full.

All of its state lives in the run's float64 ``scratch``: regions viewed as the kernels' record
arrays, at offsets the wrapper (``quoting_state.py``) writes into ``params``. Client order ids
carry the ladder level in their low byte, so the mirror knows each order's level.
"""

from __future__ import annotations

import math

import numpy as np

from qengine.kernels import codes
from qengine.kernels._jit import helper, kernel
from qengine.kernels.dtypes import (
    ACTION,
    ACTION_T,
    FILL,
    INTENSITY_STATE,
    LOT,
    MARKET_SAMPLE,
    ORDER,
    ORDER_T,
    POSITION,
    QUOTE,
    QUOTE_DIAG,
    QUOTE_PARAMS,
    QUOTE_T,
    RING_CURSOR,
    VOL_RETURN,
    VOL_STATE,
)
from qengine.kernels.intensity import intensity_update
from qengine.kernels.position import position_apply_fill
from qengine.kernels.quote_cycle import quote_cycle

from . import local as lx
from .layout import (
    BS_BASE,
    BS_BEST_ASK,
    BS_BEST_BID,
    F8A,
    F_BALANCE,
    F_CONTRACT,
    F_FEE,
    F_LOT,
    F_MAKER_FEE,
    F_TAKER_FEE,
    F_TICK,
    F_TRADED_VALUE,
    HANDLE,
    I8,
    I8A,
    I_N_FILL_LOG,
    I_N_LOCAL,
    I_N_TRADES,
    I_NOW,
    I_POS_LOTS,
    INVALID_MAX,
    INVALID_MIN,
    ORDERS,
    QUOTING_RECORD_DTYPE,
    ST_CANCELED,
    ST_NEW,
    ST_NONE,
    ST_PARTIAL,
    ST_REPLACED,
    STRATEGY_SIG,
    STRATEGY_YIELD,
)

# Regions of scratch, in order (name, record dtype); params[2r] is the offset of region r in
# float64 words and params[2r + 1] its row count.
REGIONS = (
    ("quote_params", QUOTE_PARAMS), ("bid_mult", np.dtype(np.float64)),
    ("ask_mult", np.dtype(np.float64)), ("samples", MARKET_SAMPLE), ("cursor", RING_CURSOR),
    ("vol_state", VOL_STATE), ("vol_returns", VOL_RETURN), ("intensity", INTENSITY_STATE),
    ("quotes", QUOTE), ("diag", QUOTE_DIAG), ("orders", ORDER), ("actions", ACTION),
    ("positions", POSITION), ("lots", LOT), ("seen_ids", np.dtype(np.int64)),
    ("seen_cursor", RING_CURSOR), ("fill_row", FILL), ("records", QUOTING_RECORD_DTYPE),
    ("vars", np.dtype(np.int64)),
)
(R_QPARAMS, R_BID_MULT, R_ASK_MULT, R_SAMPLES, R_CURSOR, R_VOL_STATE, R_VOL_RETURNS,
 R_INTENSITY, R_QUOTES, R_DIAG, R_ORDERS, R_ACTIONS, R_POSITIONS, R_LOTS, R_SEEN_IDS,
 R_SEEN_CURSOR, R_FILL_ROW, R_RECORDS, R_VARS) = range(len(REGIONS))
# Scalars after the region table.
_S = 2 * len(REGIONS)
(P_AMEND_THRESHOLD_TICKS, P_INTENSITY_HALF_LIFE_S, P_LEVELS, P_RECORD_EVERY_NS,
 P_LOT_TICK_VALUE) = range(_S, _S + 5)
PARAMS_SIZE = _S + 5
# The vars region (int64): counters and what the strategy remembers between wake-ups.
(V_NEXT_ID, V_FILL_CURSOR, V_CYCLES, V_N_REC, V_NEXT_REC_NS, V_BOOK_TIME_NS, V_BOOK_BID,
 V_BOOK_ASK, V_BOOK_BID_LOTS, V_BOOK_ASK_LOTS, V_TRADED_LOTS, V_LEVELS_ALLOWED, V_RISK_MASK,
 V_RATE_LIMITED, V_RISK_BREACHES, V_FLATTEN_ORDERS, V_N_QUOTES, V_TABLE_FULL, V_SEND_ERRORS,
 V_FILL_ERRORS, V_REJECTED_ACTIONS) = range(21)
VARS_SIZE = 24

#: Client order id = sequence << LEVEL_BITS | level (the level of a quote, or LEVEL_MAX).
LEVEL_BITS = 8
LEVEL_MASK = (1 << LEVEL_BITS) - 1
_WORDS = tuple(dtype.itemsize // 8 for _, dtype in REGIONS)
_I64 = np.dtype(np.int64)
_F64 = np.dtype(np.float64)
SIDE_BUY, SIDE_SELL = codes.SIDE_BUY, codes.SIDE_SELL


@helper(F8A(F8A, F8A, I8, I8, I8), inline=True)
def region(scratch, params, index, words, dtype):
    """Region ``index`` of ``scratch`` viewed as ``dtype`` rows of ``words`` float64 words."""
    start = np.int64(params[2 * index])
    return scratch[start:start + np.int64(params[2 * index + 1]) * words].view(dtype)


@helper(I8(ORDERS, I8, ORDER_T, I8, I8A), inline=True)
def mirror_orders(local, n_local, table, instrument, v):
    """Write the live local orders into ``table`` (kernel ORDER rows); the rest is emptied.

    A request in flight is the pending state the engine's order manager would have set: a new
    order is PENDING_INSERT, an amend PENDING_AMEND (its target in ``pending_*``), a cancel
    PENDING_CANCEL; a working order with nothing in flight is OPEN. Rows that do not fit are
    counted (``V_TABLE_FULL``)."""
    cap = table.shape[0]
    k = 0
    for i in range(n_local):
        o = local[i]
        if o.req == ST_NONE and o.status != ST_NEW and o.status != ST_PARTIAL:
            continue  # closed (filled, cancelled, expired) or never acknowledged: not live
        if k >= cap:
            v[V_TABLE_FULL] += 1
            continue
        row = table[k]
        row.client_order_id = o.order_id
        row.order_key = o.order_id
        row.instrument = instrument
        row.side = SIDE_BUY if o.side > 0 else SIDE_SELL
        row.level = o.order_id & LEVEL_MASK
        row.price_ticks = o.price_tick
        row.amount_lots = o.qty_lots
        row.filled_lots = max(o.qty_lots - o.leaves_lots, 0)
        row.pending_price_ticks = o.price_tick
        row.pending_amount_lots = o.qty_lots
        row.insert_time_ns = o.local_ts
        row.update_time_ns = o.local_ts
        if o.req == ST_NEW:
            row.status = codes.ORDER_PENDING_INSERT
            row.filled_lots = 0
        elif o.req == ST_REPLACED:
            row.status = codes.ORDER_PENDING_AMEND
        elif o.req == ST_CANCELED:
            row.status = codes.ORDER_PENDING_CANCEL
        else:
            row.status = codes.ORDER_OPEN
        k += 1
    for j in range(k, cap):
        table[j].status = codes.ORDER_EMPTY
    return k


@helper(I8(HANDLE, I8A), inline=True)
def book_fills(h, v):
    """Book the fills that arrived since the last wake-up into the kernels' position."""
    ist, fst, params, scratch, fills = h[0], h[1], h[6], h[7], h[9]
    done = v[V_FILL_CURSOR]
    n = ist[I_N_FILL_LOG]
    if done >= n:
        return 0
    positions = region(scratch, params, R_POSITIONS, _WORDS[R_POSITIONS], POSITION)
    lots = region(scratch, params, R_LOTS, _WORDS[R_LOTS], LOT)
    seen = region(scratch, params, R_SEEN_IDS, 1, _I64)
    seen_cursor = region(scratch, params, R_SEEN_CURSOR, _WORDS[R_SEEN_CURSOR], RING_CURSOR)
    row = region(scratch, params, R_FILL_ROW, _WORDS[R_FILL_ROW], FILL)
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
    state = region(scratch, params, R_INTENSITY, _WORDS[R_INTENSITY], INTENSITY_STATE)
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
    if tick == INVALID_MIN or tick == INVALID_MAX:
        return 0
    lots = np.int64(round(book[side, tick - bs[BS_BASE]] / fst[F_LOT]))
    return min(lots, codes.LOTS_MAX)


@helper(I8(QUOTE_T, I8, I8), inline=True)
def best_quote(quotes, n, side):
    """Price of our best quote on ``side`` in the first ``n`` ladder rows (-1: none)."""
    best = np.int64(-1)
    for j in range(n):
        q = quotes[j]
        if q.side == side and q.size_lots > 0:
            p = np.int64(q.price_ticks)
            if best < 0 or (side == SIDE_BUY and p > best) or (side == SIDE_SELL and p < best):
                best = p
    return best


@helper(I8(HANDLE, I8A), inline=True)
def record(h, v):
    """Write one QUOTING_RECORD row (the wrapper drains the buffer between kernel calls)."""
    ist, fst, lo, bs, params, scratch = h[0], h[1], h[2], h[5], h[6], h[7]
    records = region(scratch, params, R_RECORDS, _WORDS[R_RECORDS], QUOTING_RECORD_DTYPE)
    quotes = region(scratch, params, R_QUOTES, _WORDS[R_QUOTES], QUOTE)
    diag = region(scratch, params, R_DIAG, _WORDS[R_DIAG], QUOTE_DIAG)
    k = v[V_N_REC]
    r = records[k]
    bb, ba = bs[BS_BEST_BID], bs[BS_BEST_ASK]
    mid = (bb + ba) / 2.0 if bb != INVALID_MIN and ba != INVALID_MAX else math.nan
    pos = ist[I_POS_LOTS]
    open_orders = 0
    for i in range(ist[I_N_LOCAL]):
        if lo[i].status == ST_NEW or lo[i].status == ST_PARTIAL:
            open_orders += 1
    balance = fst[F_BALANCE] - fst[F_FEE]  # cash after fees
    r.ts = ist[I_NOW]
    r.best_bid_tick = bb if bb != INVALID_MIN else 0
    r.best_ask_tick = ba if ba != INVALID_MAX else 0
    r.mid_tick = mid
    r.position_lots = pos
    r.balance = balance
    r.fee = fst[F_FEE]
    r.equity = balance + fst[F_CONTRACT] * pos * fst[F_LOT] * mid * fst[F_TICK]
    r.traded_lots = v[V_TRADED_LOTS]
    r.traded_value = fst[F_TRADED_VALUE]
    r.open_orders = open_orders
    n = v[V_N_QUOTES]
    bid0 = best_quote(quotes, n, SIDE_BUY)
    ask0 = best_quote(quotes, n, SIDE_SELL)
    r.bid0_tick = bid0 if bid0 >= 0 else math.nan
    r.ask0_tick = ask0 if ask0 >= 0 else math.nan
    r.sigma_per_sqrt_s = diag[0].sigma_per_sqrt_s
    r.quoted_spread_ticks = ask0 - bid0 if bid0 >= 0 and ask0 >= 0 else math.nan
    r.levels_allowed = v[V_LEVELS_ALLOWED]
    r.risk_mask = v[V_RISK_MASK]
    v[V_N_REC] = k + 1
    return k + 1


@helper(I8(HANDLE, ACTION_T, I8, ORDER_T, I8A), inline=True)
def send_actions(h, actions, n_actions, table, v):
    """Send the diff's actions through the backtester: inserts as post-only limit orders (only
    on levels the gate allows, checked right before each leaves, as the order manager does),
    amends with the remaining size the venue keeps, cancels."""
    levels = v[V_LEVELS_ALLOWED]
    sent = 0
    for i in range(n_actions):
        a = actions[i]
        side = 1 if a.side == SIDE_BUY else -1
        if a.kind == codes.ACTION_INSERT:
            if a.level >= levels:
                continue
            oid = (v[V_NEXT_ID] << LEVEL_BITS) | a.level
            v[V_NEXT_ID] += 1
            code = lx.submit_gtx(h, oid, side, a.price_ticks, a.size_lots)
        elif a.kind == codes.ACTION_AMEND:
            row = table[a.slot]
            code = lx.modify(h, row.client_order_id, a.price_ticks,
                             a.size_lots - np.int64(row.filled_lots))
        else:
            code = lx.cancel(h, table[a.slot].client_order_id)
        if code == 0:
            sent += 1
        else:
            v[V_SEND_ERRORS] += 1
    return sent


@kernel(STRATEGY_SIG)
def quote_strategy(h):
    """One wake-up of qengine's quoting (see the module doc); returns ``STRATEGY_YIELD`` when
    the recorder buffer is full, else 0."""
    ist, bs, params, scratch = h[0], h[5], h[6], h[7]
    v = region(scratch, params, R_VARS, 1, _I64)
    now = ist[I_NOW]
    book_fills(h, v)
    feed_trades(h)
    lx.clear_inactive(h)
    bb, ba = bs[BS_BEST_BID], bs[BS_BEST_ASK]
    bid = bb if bb != INVALID_MIN else 0
    ask = ba if ba != INVALID_MAX else 0
    bid_lots = touch_lots(h, SIDE_BUY)
    ask_lots = touch_lots(h, SIDE_SELL)
    if (bid != v[V_BOOK_BID] or ask != v[V_BOOK_ASK] or bid_lots != v[V_BOOK_BID_LOTS]
            or ask_lots != v[V_BOOK_ASK_LOTS]):
        v[V_BOOK_TIME_NS] = now
        v[V_BOOK_BID], v[V_BOOK_ASK] = bid, ask
        v[V_BOOK_BID_LOTS], v[V_BOOK_ASK_LOTS] = bid_lots, ask_lots
    v[V_LEVELS_ALLOWED] = np.int64(params[P_LEVELS])
    if v[V_BOOK_TIME_NS] > 0:
        table = region(scratch, params, R_ORDERS, _WORDS[R_ORDERS], ORDER)
        actions = region(scratch, params, R_ACTIONS, _WORDS[R_ACTIONS], ACTION)
        quotes = region(scratch, params, R_QUOTES, _WORDS[R_QUOTES], QUOTE)
        diag = region(scratch, params, R_DIAG, _WORDS[R_DIAG], QUOTE_DIAG)
        setup = (region(scratch, params, R_QPARAMS, _WORDS[R_QPARAMS], QUOTE_PARAMS),
                 region(scratch, params, R_BID_MULT, 1, _F64),
                 region(scratch, params, R_ASK_MULT, 1, _F64))
        state = (region(scratch, params, R_SAMPLES, _WORDS[R_SAMPLES], MARKET_SAMPLE),
                 region(scratch, params, R_CURSOR, _WORDS[R_CURSOR], RING_CURSOR),
                 region(scratch, params, R_VOL_STATE, _WORDS[R_VOL_STATE], VOL_STATE),
                 region(scratch, params, R_VOL_RETURNS, _WORDS[R_VOL_RETURNS], VOL_RETURN),
                 region(scratch, params, R_INTENSITY, _WORDS[R_INTENSITY], INTENSITY_STATE))
        mirror_orders(h[2], ist[I_N_LOCAL], table, 0, v)
        inputs = (v[V_BOOK_TIME_NS], v[V_BOOK_BID], v[V_BOOK_ASK], v[V_BOOK_BID_LOTS],
                  v[V_BOOK_ASK_LOTS], ist[I_POS_LOTS], v[V_LEVELS_ALLOWED])
        n = quote_cycle(setup, state, inputs, (quotes, diag), table, 0,
                        np.int64(params[P_AMEND_THRESHOLD_TICKS]), actions)
        v[V_CYCLES] += 1
        v[V_N_QUOTES] = diag[0].quote_count
        if n > 0:
            send_actions(h, actions, n, table, v)
    every = np.int64(params[P_RECORD_EVERY_NS])
    if now >= v[V_NEXT_REC_NS]:
        record(h, v)
        v[V_NEXT_REC_NS] = (now // every + 1) * every
        if v[V_N_REC] >= np.int64(params[2 * R_RECORDS + 1]):
            return STRATEGY_YIELD
    return 0
