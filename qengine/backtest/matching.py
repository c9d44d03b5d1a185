"""The exchange side: resting orders, their queue positions, and fills against the recorded rows.

Rules (hftbacktest's no-partial-fill and partial-fill exchanges; README "Backtest" lists them):

- a limit order arriving at the exchange that would cross the exchange book is a GTX reject
  (``EXPIRED``) or, for GTC/IOC/FOK, takes liquidity; otherwise GTC/GTX rest with the level's
  quantity ahead and IOC/FOK expire;
- a taker trade row beyond our price fills us in full; at our price it advances the queue and
  fills what the queue model says has executed;
- a depth row that moves the best bid up (best ask down) to or through our sell (buy) fills it;
- a depth row at our price updates the queue estimate;
- fills are maker fills at the order's own price; every change is answered through the response
  pipe (fills, acks, expiries, cancel results) stamped with the exchange time.

``xo[:ist[I_N_EXCH]]`` are the live exchange orders; ``own[0|1, tick - base]`` counts them per
bid/ask tick so that depth rows find our orders without a search.
"""

from __future__ import annotations

from qengine.kernels._jit import helper, kernel

from .book import book_update, rust_round
from .layout import (
    BOOK,
    BS_BASE,
    BS_BEST_ASK,
    BS_BEST_BID,
    BUY,
    EXCHANGE_PARTIAL,
    F8,
    F8A,
    F_LOT,
    F_QUEUE_N,
    FOK,
    GTC,
    GTX,
    I8,
    I8A,
    I_DROPPED,
    I_EXCHANGE,
    I_N_EXCH,
    I_QUEUE,
    INVALID_MAX,
    INVALID_MIN,
    IOC,
    MARKET,
    ORDERS,
    OWN,
    ST_CANCELED,
    ST_EXPIRED,
    ST_FILLED,
    ST_NEW,
    ST_NONE,
    ST_PARTIAL,
    ST_REJECTED,
)
from .pipes import LAT, pipe_push, response_latency
from .queue import queue_depth, queue_filled_lots, queue_new, queue_trade


@helper(I8(ORDERS, I8A, ORDERS, I8, LAT))
def respond(tolo, ist, src, slot, lat):
    """Send ``src[slot]`` back to the strategy, arriving after the response latency."""
    ts = src[slot].exch_ts
    return pipe_push(tolo, ist, 1, src, slot, ts + response_latency(ist, lat, ts))


@helper(I8(ORDERS, I8, I8), inline=True)
def find_order(orders, n, order_id):
    """Slot of ``order_id`` among ``orders[:n]``, or -1."""
    for i in range(n):
        if orders[i].order_id == order_id:
            return i
    return -1


@helper(I8(ORDERS, I8A, OWN, I8A, I8), inline=True)
def _remove(xo, ist, own, bs, slot):
    """Drop a resting order (the last one takes its slot)."""
    side = 0 if xo[slot].side == BUY else 1
    own[side, xo[slot].price_tick - bs[BS_BASE]] -= 1
    last = ist[I_N_EXCH] - 1
    if slot != last:
        xo[slot] = xo[last]
    ist[I_N_EXCH] = last
    return 0


@helper(I8(ORDERS, I8, I8, I8, I8, I8, ORDERS, I8A, LAT))
def _fill(orders, slot, ts, maker, exec_tick, exec_lots, tolo, ist, lat):
    """Execute ``exec_lots`` of the order and respond. Returns 1 if nothing is left."""
    o = orders[slot]
    o.maker = maker
    o.exec_price_tick = o.price_tick if maker else exec_tick
    o.exec_lots = exec_lots
    o.leaves_lots -= exec_lots
    o.status = ST_PARTIAL if o.leaves_lots > 0 else ST_FILLED
    o.exch_ts = ts
    if respond(tolo, ist, orders, slot, lat) < 0:
        ist[I_DROPPED] += 1
    return 1 if o.leaves_lots <= 0 else 0


@helper(I8(ORDERS, I8, I8, BOOK, I8A, F8A, ORDERS, I8A, LAT))
def _take(orders, slot, ts, book, bs, fst, tolo, ist, lat):
    """An arriving order that crosses the book takes liquidity. Returns 1 if it is done."""
    o = orders[slot]
    side = o.side
    best = bs[BS_BEST_ASK] if side == BUY else bs[BS_BEST_BID]
    if ist[I_EXCHANGE] != EXCHANGE_PARTIAL:
        return _fill(orders, slot, ts, 0, best, o.leaves_lots, tolo, ist, lat)
    lot = fst[F_LOT]
    base = bs[BS_BASE]
    row = 1 if side == BUY else 0
    if o.ord_type == MARKET:
        limit = best + 99 * side  # hftbacktest walks 100 ticks
    elif o.tif == GTC:
        limit = o.price_tick - side  # the rest fills at the limit price below
    else:
        limit = o.price_tick
    if o.tif == FOK and o.ord_type != MARKET:
        cum = 0.0
        enough = False
        t = best
        while (t - limit) * side <= 0:
            col = t - base
            if 0 <= col < book.shape[1]:
                cum += book[row, col]
            if rust_round(cum / lot) >= o.qty_lots:
                enough = True
                break
            t += side
        if not enough:
            o.status = ST_EXPIRED
            o.exch_ts = ts
            return 1
    t = best
    while (t - limit) * side <= 0 and o.leaves_lots > 0:
        col = t - base
        if 0 <= col < book.shape[1] and book[row, col] > 0.0:
            lots = min(rust_round(book[row, col] / lot), o.leaves_lots)
            if lots > 0 and _fill(orders, slot, ts, 0, t, lots, tolo, ist, lat) == 1:
                return 1
        t += side
    if o.tif == GTC and o.ord_type != MARKET:
        return _fill(orders, slot, ts, 0, o.price_tick, o.leaves_lots, tolo, ist, lat)
    o.status = ST_EXPIRED
    o.exch_ts = ts
    return 1


@kernel(I8(ORDERS, I8, I8, ORDERS, I8A, F8A, BOOK, I8A, OWN, ORDERS, LAT))
def exch_new(req, r, ts, xo, ist, fst, book, bs, own, tolo, lat):
    """A new order ``req[r]`` arrives at ``ts``: reject, take or rest it; then respond."""
    o = req[r]
    o.req = ST_NONE
    o.exch_ts = ts
    if find_order(xo, ist[I_N_EXCH], o.order_id) >= 0:
        o.req = ST_REJECTED
        return respond(tolo, ist, req, r, lat)
    side = o.side
    best = bs[BS_BEST_ASK] if side == BUY else bs[BS_BEST_BID]
    empty = best in (INVALID_MAX, INVALID_MIN)
    if o.ord_type == MARKET and empty:
        o.status = ST_EXPIRED
        return respond(tolo, ist, req, r, lat)
    if o.ord_type == MARKET or (not empty and (o.price_tick - best) * side >= 0):
        if o.tif == GTX and o.ord_type != MARKET:
            o.status = ST_EXPIRED
        else:
            _take(req, r, ts, book, bs, fst, tolo, ist, lat)
            return 0 if o.status != ST_EXPIRED else respond(tolo, ist, req, r, lat)
        return respond(tolo, ist, req, r, lat)
    if o.tif == IOC or o.tif == FOK:
        o.status = ST_EXPIRED
        return respond(tolo, ist, req, r, lat)
    n = ist[I_N_EXCH]
    if n >= xo.shape[0]:
        o.req = ST_REJECTED
        ist[I_DROPPED] += 1
        return respond(tolo, ist, req, r, lat)
    col = o.price_tick - bs[BS_BASE]
    row = 0 if side == BUY else 1
    o.status = ST_NEW
    xo[n] = o
    queue_new(xo, n, book[row, col])
    own[row, col] += 1
    ist[I_N_EXCH] = n + 1
    return respond(tolo, ist, xo, n, lat)  # the ack carries the initial queue estimate


@kernel(I8(ORDERS, I8, I8, ORDERS, I8A, BOOK, I8A, OWN, ORDERS, LAT))
def exch_cancel(req, r, ts, xo, ist, book, bs, own, tolo, lat):
    """A cancel arrives: remove the order if it still rests, else reject; then respond."""
    o = req[r]
    o.req = ST_NONE
    slot = find_order(xo, ist[I_N_EXCH], o.order_id)
    if slot < 0:
        o.req = ST_REJECTED
        o.exch_ts = ts
        return respond(tolo, ist, req, r, lat)
    req[r] = xo[slot]
    _remove(xo, ist, own, bs, slot)
    o = req[r]
    o.req = ST_NONE
    o.status = ST_CANCELED
    o.exch_ts = ts
    return respond(tolo, ist, req, r, lat)


@kernel(I8(ORDERS, I8, I8, ORDERS, I8A, F8A, BOOK, I8A, OWN, ORDERS, LAT))
def exch_modify(req, r, ts, xo, ist, fst, book, bs, own, tolo, lat):
    """An amend arrives. A new price or a larger size loses the queue (cancel, then new order
    checked like any arrival); a smaller size at the same price keeps it."""
    o = req[r]
    slot = find_order(xo, ist[I_N_EXCH], o.order_id)
    if slot < 0:
        o.req = ST_REJECTED
        o.exch_ts = ts
        return respond(tolo, ist, req, r, lat)
    x = xo[slot]
    if x.price_tick != o.price_tick or o.qty_lots > x.leaves_lots:
        _remove(xo, ist, own, bs, slot)
        o.leaves_lots = o.qty_lots
        return exch_new(req, r, ts, xo, ist, fst, book, bs, own, tolo, lat)
    x.qty_lots = o.qty_lots
    x.leaves_lots = o.qty_lots
    x.exch_ts = ts
    x.status = ST_NEW
    req[r] = x
    req[r].req = ST_NONE
    return respond(tolo, ist, req, r, lat)


@kernel(I8(I8, I8, F8, I8, ORDERS, I8A, F8A, I8A, OWN, ORDERS, LAT), inline=True)
def exch_trade(taker_side, price_tick, qty, ts, xo, ist, fst, bs, own, tolo, lat):
    """A market trade row (taker ``taker_side``) at ``price_tick`` for ``qty``."""
    lot = fst[F_LOT]
    partial = ist[I_EXCHANGE] == EXCHANGE_PARTIAL
    for i in range(ist[I_N_EXCH] - 1, -1, -1):
        o = xo[i]
        if o.side == taker_side:
            continue
        gap = (price_tick - o.price_tick) * taker_side  # > 0: traded through our price
        done = 0
        if gap > 0:
            done = _fill(xo, i, ts, 1, o.price_tick, o.leaves_lots, tolo, ist, lat)
        elif gap == 0:
            queue_trade(xo, i, qty)
            lots = queue_filled_lots(xo, i, lot)
            if lots > 0:
                exec_lots = min(lots, o.leaves_lots) if partial else o.leaves_lots
                done = _fill(xo, i, ts, 1, o.price_tick, exec_lots, tolo, ist, lat)
        if done:
            _remove(xo, ist, own, bs, i)
    return 0


@kernel(I8(I8, I8, F8, I8, BOOK, ORDERS, I8A, F8A, I8A, OWN, ORDERS, LAT), inline=True)
def exch_depth(side, price_tick, qty, ts, book, xo, ist, fst, bs, own, tolo, lat):
    """A depth row (``side`` +1 bid, -1 ask): update the book and queues, fill crossed orders."""
    prev_best, new_best, prev_qty = book_update(book, bs, side != BUY, price_tick, qty, fst[F_LOT])
    return depth_orders(side, price_tick, qty, ts, prev_best, new_best, prev_qty, xo, ist, fst,
                        bs, own, tolo, lat)


@helper(I8(I8, I8, F8, I8, I8, I8, F8, ORDERS, I8A, F8A, I8A, OWN, ORDERS, LAT), inline=True)
def depth_orders(side, price_tick, qty, ts, prev_best, new_best, prev_qty, xo, ist, fst, bs, own,
                 tolo, lat):
    """Our orders' side of a depth row the book has applied (``book_update``'s results): queue
    updates at ``price_tick``, fills of orders the new best crossed. The runner calls it only
    when one of the two can happen (an order at that tick, or a new best)."""
    row = 0 if side == BUY else 1
    if own[row, price_tick - bs[BS_BASE]] > 0:
        for i in range(ist[I_N_EXCH]):
            if xo[i].price_tick == price_tick and xo[i].side == side:
                queue_depth(xo, i, ist[I_QUEUE], fst[F_QUEUE_N], prev_qty, qty)
    improved = new_best > prev_best if side == BUY else new_best < prev_best
    if not improved:
        return 0
    for i in range(ist[I_N_EXCH] - 1, -1, -1):
        o = xo[i]
        if o.side != side and (new_best - o.price_tick) * side >= 0:
            _fill(xo, i, ts, 1, o.price_tick, o.leaves_lots, tolo, ist, lat)
            _remove(xo, ist, own, bs, i)
    return 0
