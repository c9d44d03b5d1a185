"""The event loop: four time-ordered queues, wake-ups, the strategy call and the recorder.

Queues (hftbacktest's scheduler): local data rows (at ``local_ts``), responses arriving at the
strategy, exchange data rows (at ``exch_ts``) and requests arriving at the exchange. The earliest
goes first; ties go in that order. Rows are consumed in file order by two cursors, one per side.

A wake-up waits for ``now + interval`` (interval mode) or for the next local row (feed mode,
with ``timeout`` or the strategy's own ``ist[I_WAKE_AT]`` if sooner; optionally also for an
order response), processing every event at or before that time; then the recorder and the
strategy run (a replay, ``ist[I_NO_STRATEGY]``, calls none), and the strategy's requests enter
the entry pipe. Reaching the end of the data is not a wake-up; everything in flight is
processed first.

``run`` returns to its Python wrapper only to get more rows (streaming), to grow an array, or
at the end; all its state is in the arrays, so the next call resumes exactly where it stopped.
"""

from __future__ import annotations

import math

import numba

from qengine.kernels._jit import helper, kernel

from .book import book_clear, book_update, rust_round
from .events import BUY_EVENT, EXCH_EVENT, KIND_MASK, LOCAL_EVENT, SELL_EVENT
from .layout import (
    BOOK,
    BS_BASE,
    BS_BEST_ASK,
    BS_BEST_BID,
    EVENTS,
    F8A,
    F_BALANCE,
    F_FEE,
    F_LOT,
    F_TICK,
    FILLS,
    I8,
    I8A,
    I_EXCH_ROW,
    I_FINAL,
    I_IN_GOTO,
    I_INTERVAL_NS,
    I_LOCAL_ROW,
    I_MODE,
    I_N_EXCH,
    I_N_FILL_LOG,
    I_N_LOCAL,
    I_N_OUTBOX,
    I_N_REC,
    I_N_TRADES,
    I_NEED_TICK,
    I_NEXT_REC_TS,
    I_NO_STRATEGY,
    I_NOW,
    I_POS_LOTS,
    I_RECORD_EVERY_NS,
    I_START_TS,
    I_TARGET,
    I_TIMEOUT_NS,
    I_TOEX_HEAD,
    I_TOLO_COUNT,
    I_VERSION,
    I_WAKE_AT,
    I_WAKE_ON_RESP,
    I_WAKE_UPS,
    INVALID_MAX,
    INVALID_MIN,
    MARKET,
    MODE_FEED,
    ORDERS,
    OWN,
    RECORDS,
    RUN_END,
    RUN_FLUSH_RECORDER,
    RUN_FULL,
    RUN_GROW_BOOK,
    RUN_GROW_FILLS,
    RUN_GROW_TRADES,
    RUN_NEED_DATA,
    RUN_STOPPED,
    RUN_YIELD,
    ST_CANCELED,
    ST_NEW,
    ST_PARTIAL,
    ST_REPLACED,
    STRATEGY,
    STRATEGY_YIELD,
    TRADES,
)
from .local import equity_at, local_response
from .matching import depth_orders, exch_cancel, exch_modify, exch_new, exch_trade
from .pipes import LAT, entry_latency, pipe_head_ts, pipe_pop, pipe_push

_NEED = -2  # a cursor is at the end of the buffer and more rows may follow
_WAKE = -1
_DEPTH, _TRADE, _CLEAR, _SNAPSHOT = 1, 2, 3, 4


@helper(I8(EVENTS, I8, I8), inline=True)
def _seek(events, start, flag):
    """First row at or after ``start`` carrying ``flag`` (``len(events)`` if none)."""
    n = events.shape[0]
    for i in range(start, n):
        if events[i].ev & flag:
            return i
    return n


@helper(numba.types.UniTuple(I8, 2)(numba.types.uint64), inline=True)
def _decode(ev):
    """``(kind, side)`` of a row's ``ev``: side +1 buy, -1 sell, 0 neither."""
    return ev & KIND_MASK, 1 if ev & BUY_EVENT else (-1 if ev & SELL_EVENT else 0)


@helper(I8(I8A, F8A, ORDERS, ORDERS, LAT))
def _flush_outbox(ist, fst, outbox, toex, lat):
    """Move the strategy's requests into the entry pipe."""
    for k in range(ist[I_N_OUTBOX]):
        ts = outbox[k].local_ts
        if pipe_push(toex, ist, 0, outbox, k, ts + entry_latency(ist, lat, ts)) < 0:
            return -1
    ist[I_N_OUTBOX] = 0
    return 0


@helper(I8(I8A, F8A, ORDERS, BOOK, I8A, RECORDS))
def _record(ist, fst, lo, book, bs, rec):
    k = ist[I_N_REC]
    bb = bs[BS_BEST_BID]
    ba = bs[BS_BEST_ASK]
    mid = math.nan
    if bb != INVALID_MIN and ba != INVALID_MAX:
        mid = (bb + ba) / 2.0 * fst[F_TICK]
    open_orders = 0
    for i in range(ist[I_N_LOCAL]):
        if lo[i].status == ST_NEW or lo[i].status == ST_PARTIAL:
            open_orders += 1
    r = rec[k]
    r.ts = ist[I_NOW]
    r.mid = mid
    r.position = ist[I_POS_LOTS] * fst[F_LOT]
    r.balance = fst[F_BALANCE]
    r.fee = fst[F_FEE]
    r.equity = equity_at(ist, fst, mid)
    r.open_orders = open_orders
    ist[I_N_REC] = k + 1
    return 0


@helper(I8(I8, I8A, F8A, ORDERS, ORDERS, FILLS), inline=True)
def _responses(ts, ist, fst, lo, tolo, fills):
    """Apply every response arriving at the strategy at ``ts``."""
    while pipe_head_ts(tolo, ist, 1) == ts:
        local_response(tolo, pipe_pop(tolo, ist, 1), ts, ist, fst, lo, fills)
    return 0


@helper(I8(I8, I8A, F8A, BOOK, I8A, OWN, ORDERS, ORDERS, ORDERS, LAT), inline=True)
def _arrivals(ts, ist, fst, xbook, xbs, own, xo, toex, tolo, lat):
    """Handle every request arriving at the exchange at ``ts``; -1 if the book must grow."""
    while pipe_head_ts(toex, ist, 0) == ts:
        o = toex[ist[I_TOEX_HEAD]]
        if o.req != ST_CANCELED and o.ord_type != MARKET:
            col = o.price_tick - xbs[BS_BASE]
            if col < 0 or col >= xbook.shape[1]:
                ist[I_NEED_TICK] = o.price_tick
                return -1
        pos = pipe_pop(toex, ist, 0)
        if o.req == ST_CANCELED:
            exch_cancel(toex, pos, ts, xo, ist, xbook, xbs, own, tolo, lat)
        elif o.req == ST_REPLACED:
            exch_modify(toex, pos, ts, xo, ist, fst, xbook, xbs, own, tolo, lat)
        else:
            exch_new(toex, pos, ts, xo, ist, fst, xbook, xbs, own, tolo, lat)
    return 0


@helper(numba.types.UniTuple(I8, 2)(I8, I8, I8, I8), inline=True)
def _pick(t0, t1, t2, t3):
    """``(queue, time)`` of the earliest of the four queues; ties go to the lower queue (local
    data, local responses, exchange data, exchange arrivals)."""
    kind, ts = 0, t0
    if t1 < ts:
        kind, ts = 1, t1
    if t2 < ts:
        kind, ts = 2, t2
    if t3 < ts:
        kind, ts = 3, t3
    return kind, ts


_ARGS = (STRATEGY, EVENTS, I8A, F8A, BOOK, I8A, BOOK, I8A, OWN, ORDERS, ORDERS, ORDERS, ORDERS,
         ORDERS, LAT, FILLS, RECORDS, F8A, F8A, TRADES)


@kernel(I8(*_ARGS))
def run(strategy, events, ist, fst, lbook, lbs, xbook, xbs, own, lo, xo, outbox, toex, tolo, lat,  # noqa: C901
        fills, rec, params, scratch, trades):
    """Run the backtest over ``events`` until it needs the wrapper (see the module doc).

    The event loop is written out here rather than in helpers: every array a numba function
    passes to another one (even an inlined one) costs an atomic reference count, so the path a
    data row takes calls only ``book_update`` unless one of our orders can be touched.
    """
    n = events.shape[0]
    ist[I_LOCAL_ROW] = _seek(events, ist[I_LOCAL_ROW], LOCAL_EVENT)
    ist[I_EXCH_ROW] = _seek(events, ist[I_EXCH_ROW], EXCH_EVENT)
    end_ts = INVALID_MAX if ist[I_FINAL] else _NEED  # a cursor's time past the last row
    h = (ist, fst, lo, outbox, lbook, lbs, params, scratch, trades, fills)
    collect = trades.shape[0] > 0  # public trades for the strategy (an empty buffer: none)
    if ist[I_NOW] == INVALID_MAX:
        t0 = events[ist[I_LOCAL_ROW]].local_ts if ist[I_LOCAL_ROW] < n else end_ts
        t2 = events[ist[I_EXCH_ROW]].exch_ts if ist[I_EXCH_ROW] < n else end_ts
        if t0 == _NEED or t2 == _NEED:
            return RUN_NEED_DATA
        first = min(t0, t2)
        if first == INVALID_MAX:
            return RUN_END
        ist[I_NOW] = first
        ist[I_START_TS] = first
        ist[I_NEXT_REC_TS] = first
    every = ist[I_RECORD_EVERY_NS]
    feed = ist[I_MODE] == MODE_FEED
    on_resp = ist[I_WAKE_ON_RESP] != 0
    call = ist[I_NO_STRATEGY] == 0
    tick_size = fst[F_TICK]
    lot = fst[F_LOT]
    width = lbook.shape[1]  # both books have the same columns
    t1 = pipe_head_ts(tolo, ist, 1)  # the pipes' head times, kept up to date below
    t3 = pipe_head_ts(toex, ist, 0)
    while True:
        if ist[I_IN_GOTO] == 0:
            if ist[I_N_OUTBOX] > 0:
                if _flush_outbox(ist, fst, outbox, toex, lat) < 0:
                    return RUN_FULL
                t3 = pipe_head_ts(toex, ist, 0)
            step = ist[I_TIMEOUT_NS] if feed else ist[I_INTERVAL_NS]
            ist[I_TARGET] = ist[I_NOW] + step
            # A feed-mode strategy may ask for an earlier wake-up (its own timers).
            if feed and ist[I_NOW] < ist[I_WAKE_AT] < ist[I_TARGET]:
                ist[I_TARGET] = ist[I_WAKE_AT]
            ist[I_IN_GOTO] = 1
        if ist[I_IN_GOTO] == 1:
            # Process events up to the target (which a feed row or a response can pull in);
            # cursors and queue heads live in locals and go back to ``ist`` after.
            lrow = ist[I_LOCAL_ROW]
            xrow = ist[I_EXCH_ROW]
            target = ist[I_TARGET]
            lts = events[lrow].local_ts if lrow < n else end_ts
            xts = events[xrow].exch_ts if xrow < n else end_ts
            seen = 0
            r = _WAKE
            while True:
                if lts == _NEED or xts == _NEED:
                    r = RUN_NEED_DATA
                    break
                kind, ts = _pick(lts, t1, xts, t3)
                if ts == INVALID_MAX:
                    r = RUN_END
                    break
                if ts > target:
                    ist[I_NOW] = target
                    break
                if kind == 0:  # a LOCAL row: the strategy's book
                    code, side = _decode(events[lrow].ev)
                    if code == _CLEAR:
                        book_clear(lbook, lbs, side, events[lrow].px, tick_size)
                    elif code in (_DEPTH, _SNAPSHOT) and side != 0:
                        tick = rust_round(events[lrow].px / tick_size)
                        if tick < lbs[BS_BASE] or tick >= lbs[BS_BASE] + width:
                            ist[I_NEED_TICK] = tick
                            r = RUN_GROW_BOOK
                            break
                        book_update(lbook, lbs, side < 0, tick, events[lrow].qty, lot)
                    elif collect and code == _TRADE and side != 0:
                        k = ist[I_N_TRADES]
                        if k >= trades.shape[0]:
                            r = RUN_GROW_TRADES
                            break
                        t = trades[k]
                        t.local_ts = ts
                        t.exch_ts = events[lrow].exch_ts
                        t.side = side
                        t.price_tick = rust_round(events[lrow].px / tick_size)
                        t.qty = events[lrow].qty
                        t.best_bid_tick = lbs[BS_BEST_BID]
                        t.best_ask_tick = lbs[BS_BEST_ASK]
                        ist[I_N_TRADES] = k + 1
                    seen += 1
                    lrow += 1
                    while lrow < n and not events[lrow].ev & LOCAL_EVENT:
                        lrow += 1
                    lts = events[lrow].local_ts if lrow < n else end_ts
                    if feed:
                        target = ts
                elif kind == 2:  # an EXCH row: the exchange book and our resting orders
                    code, side = _decode(events[xrow].ev)
                    if code == _CLEAR:
                        book_clear(xbook, xbs, side, events[xrow].px, tick_size)
                    elif code in (_DEPTH, _SNAPSHOT) and side != 0:
                        tick = rust_round(events[xrow].px / tick_size)
                        if tick < xbs[BS_BASE] or tick >= xbs[BS_BASE] + width:
                            ist[I_NEED_TICK] = tick
                            r = RUN_GROW_BOOK
                            break
                        qty = events[xrow].qty
                        prev_best, new_best, prev_qty = book_update(xbook, xbs, side < 0, tick,
                                                                    qty, lot)
                        row = 1 if side < 0 else 0
                        if ist[I_N_EXCH] > 0 and (new_best != prev_best
                                                  or own[row, tick - xbs[BS_BASE]] > 0):
                            depth_orders(side, tick, qty, ts, prev_best, new_best, prev_qty, xo,
                                         ist, fst, xbs, own, tolo, lat)
                    elif code == _TRADE and side != 0 and ist[I_N_EXCH] > 0:
                        tick = rust_round(events[xrow].px / tick_size)
                        exch_trade(side, tick, events[xrow].qty, ts, xo, ist, fst, xbs, own, tolo,
                                   lat)
                    xrow += 1
                    while xrow < n and not events[xrow].ev & EXCH_EVENT:
                        xrow += 1
                    xts = events[xrow].exch_ts if xrow < n else end_ts
                    if t1 == INVALID_MAX and ist[I_TOLO_COUNT] > 0:  # (a push keeps the head)
                        t1 = pipe_head_ts(tolo, ist, 1)
                elif kind == 1:
                    if ist[I_N_FILL_LOG] + ist[I_TOLO_COUNT] > fills.shape[0]:
                        r = RUN_GROW_FILLS
                        break
                    _responses(ts, ist, fst, lo, tolo, fills)
                    t1 = pipe_head_ts(tolo, ist, 1)
                    if on_resp:
                        target = ts
                else:
                    if _arrivals(ts, ist, fst, xbook, xbs, own, xo, toex, tolo, lat) < 0:
                        r = RUN_GROW_BOOK
                        break
                    t3 = pipe_head_ts(toex, ist, 0)
                    t1 = pipe_head_ts(tolo, ist, 1)
            ist[I_LOCAL_ROW] = lrow
            ist[I_EXCH_ROW] = xrow
            ist[I_TARGET] = target
            ist[I_VERSION] += seen
            if r == RUN_END:
                ist[I_IN_GOTO] = 0
                return RUN_END
            if r != _WAKE:
                return r
            ist[I_IN_GOTO] = 2
        if rec.shape[0] > 0 and (every == 0 or ist[I_NOW] >= ist[I_NEXT_REC_TS]):
            if ist[I_N_REC] >= rec.shape[0]:
                return RUN_FLUSH_RECORDER
            _record(ist, fst, lo, lbook, lbs, rec)
            if every > 0:
                ist[I_NEXT_REC_TS] += ((ist[I_NOW] - ist[I_NEXT_REC_TS]) // every + 1) * every
        ist[I_IN_GOTO] = 0
        ist[I_WAKE_UPS] += 1
        if not call:
            continue
        answer = strategy(h)
        if answer != 0:
            if answer == STRATEGY_YIELD:
                return RUN_YIELD  # the outbox is flushed when the run resumes
            _flush_outbox(ist, fst, outbox, toex, lat)
            return RUN_STOPPED
