"""The quoting strategy's order side: the engine's order table mirrored from the backtester's,
and the engine's requests (diff actions, cancel-all, flatten) sent through the backtester.

What the live order manager does with its table, the mirror derives from the backtester's local
order table at each cycle: an order whose request is still travelling is in the pending state the
manager sets before a request leaves (so the diff never sends a second request for it, "one
request in flight per order"), a working order with nothing in flight is OPEN.
"""

from __future__ import annotations

import numpy as np

from qengine.kernels import codes
from qengine.kernels._jit import helper
from qengine.kernels.dtypes import ACTION_T, ORDER_T

from . import local as lx
from .layout import (
    HANDLE,
    I8,
    I8A,
    I_N_LOCAL,
    I_NOW,
    I_POS_LOTS,
    IOC,
    LIMIT,
    ORDERS,
    ST_CANCELED,
    ST_NEW,
    ST_NONE,
    ST_PARTIAL,
    ST_REPLACED,
)
from .quoting_layout import (
    LEVEL_BITS,
    LEVEL_MASK,
    V_CANCEL_ALL_NS,
    V_FLATTEN_ORDERS,
    V_GATED_INSERTS,
    V_NEXT_ID,
    V_SEND_ERRORS,
    V_TABLE_FULL,
)


@helper(I8(ORDERS, I8, ORDER_T, I8, I8A), inline=True)
def mirror_orders(local, n_local, table, instrument, v):
    """Write the live local orders into ``table`` (the kernels' ORDER rows); empty the rest.

    A new order in flight is PENDING_INSERT, an amend PENDING_AMEND (its target in
    ``pending_*``, the remaining it replaces in ``amount_lots``), a cancel PENDING_CANCEL; a
    working order with nothing in flight is OPEN. ``booked_lots`` equals ``filled_lots``.
    Closed orders (filled, cancelled, expired) are left out. Rows beyond the table's capacity
    are counted in ``v[V_TABLE_FULL]``. Returns the rows written."""
    cap = table.shape[0]
    k = 0
    for i in range(n_local):
        o = local[i]
        if o.req == ST_NONE and o.status != ST_NEW and o.status != ST_PARTIAL:
            continue
        if k >= cap:
            v[V_TABLE_FULL] += 1
            continue
        row = table[k]
        row.client_order_id = o.order_id
        row.order_key = o.order_id
        row.instrument = instrument
        row.side = codes.SIDE_BUY if o.side > 0 else codes.SIDE_SELL
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
            # The venue keeps the old remaining until the amend lands (the local row already
            # holds the new size): old and new remaining, so the worst case sees both.
            row.status = codes.ORDER_PENDING_AMEND
            row.amount_lots = o.leaves_lots
            row.filled_lots = 0
        elif o.req == ST_CANCELED:
            row.status = codes.ORDER_PENDING_CANCEL
        else:
            row.status = codes.ORDER_OPEN
        # A local order's report and its fill land together, and ``book_fills`` books every
        # fill before the mirror is written: all it reports filled is booked.
        row.booked_lots = row.filled_lots
        k += 1
    for j in range(k, cap):
        table[j].status = codes.ORDER_EMPTY
    return k


@helper(I8(HANDLE), inline=True)
def requests_in_flight(h):
    """Local orders with a request still travelling (the order manager's awaited replies)."""
    lo = h[2]
    n = 0
    for i in range(h[0][I_N_LOCAL]):
        if lo[i].req != ST_NONE:
            n += 1
    return n


@helper(I8(HANDLE, I8A, I8), inline=True)
def _next_id(h, v, level):
    oid = (v[V_NEXT_ID] << LEVEL_BITS) | level
    v[V_NEXT_ID] += 1
    return oid


@helper(I8(HANDLE, ACTION_T, I8, ORDER_T, I8A, I8), inline=True)
def send_actions(h, actions, n_actions, table, v, levels_allowed):
    """Send the first ``n_actions`` diff actions: an insert as a post-only (GTX) limit order,
    only on a level the gate allows (asked right before it leaves, as the order manager does);
    an amend with the size the venue keeps resting (the action's total minus what filled);
    a cancel. Returns how many were sent; refusals are counted in ``v[V_SEND_ERRORS]``."""
    sent = 0
    for i in range(n_actions):
        a = actions[i]
        side = 1 if a.side == codes.SIDE_BUY else -1
        if a.kind == codes.ACTION_INSERT:
            if a.level >= levels_allowed:
                v[V_GATED_INSERTS] += 1
                continue
            code = lx.submit_gtx(h, _next_id(h, v, a.level), side, a.price_ticks, a.size_lots)
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


@helper(I8(HANDLE, I8A), inline=True)
def cancel_after_replies(h, v):
    """Finish a cancel-all (``v[V_CANCEL_ALL_NS]``, 0: none): cancel each order whose insert or
    amend left before it and whose reply has landed with the order working; the cancel-all is
    done when no such request is left in flight. Returns the cancels sent."""
    since = v[V_CANCEL_ALL_NS]
    if since == 0:
        return 0
    lo = h[2]
    n = 0
    waiting = 0
    for i in range(h[0][I_N_LOCAL]):
        o = lo[i]
        if o.local_ts >= since:
            continue
        if o.req == ST_NEW or o.req == ST_REPLACED:
            waiting += 1
        elif (o.req == ST_NONE and (o.status == ST_NEW or o.status == ST_PARTIAL)
              and lx.cancel(h, o.order_id) == 0):
            n += 1
    if waiting == 0:
        v[V_CANCEL_ALL_NS] = 0
    return n


@helper(I8(HANDLE, I8A), inline=True)
def cancel_all(h, v):
    """The risk monitor's cancel-all: cancel every working order with nothing in flight now,
    and remember the time so that :func:`cancel_after_replies` cancels the orders whose insert
    or amend is still travelling as soon as their reply lands. (Live, ``cancel_session``
    reaches those at the exchange at once; the local model cannot send a second request for
    an order before its reply, so they rest one round trip longer here.) Returns the cancels
    sent now."""
    lo = h[2]
    n = 0
    for i in range(h[0][I_N_LOCAL]):
        o = lo[i]
        working = o.status == ST_NEW or o.status == ST_PARTIAL
        if o.req == ST_NONE and working and lx.cancel(h, o.order_id) == 0:
            n += 1
    v[V_CANCEL_ALL_NS] = h[0][I_NOW]
    cancel_after_replies(h, v)
    return n


@helper(I8(HANDLE, I8A, I8, I8), inline=True)
def flatten(h, v, signed_lots, limit_ticks):
    """Send the risk monitor's flatten: ``signed_lots`` > 0 sells a long, < 0 buys back a
    short, as an IOC limit at ``limit_ticks``. Reduce-only as live: the size is capped at the
    position at send time, and nothing is sent when that leaves nothing to reduce or when
    ``limit_ticks <= 0``. (The venue caps a reduce-only order at the position when it executes;
    the backtester's matching has no reduce-only, so fills still in flight are not netted.)"""
    position = h[0][I_POS_LOTS]
    lots = min(abs(signed_lots), position if signed_lots > 0 else -position)
    if signed_lots == 0 or limit_ticks <= 0 or lots <= 0:
        return 0
    side = -1 if signed_lots > 0 else 1
    code = lx.submit(h, _next_id(h, v, codes.LEVEL_MAX), side, limit_ticks, lots, IOC, LIMIT)
    if code == 0:
        v[V_FLATTEN_ORDERS] += 1
        return 1
    v[V_SEND_ERRORS] += 1
    return 0


__all__ = ["cancel_after_replies", "cancel_all", "flatten", "mirror_orders", "requests_in_flight",
           "send_actions"]
