"""The strategy's side: its order table, what it may send, and how responses update it.

A strategy gets a handle ``h = (ist, fst, orders, outbox, book, bs, params, scratch)`` and uses
only the functions here to read and act. Requests go to ``outbox`` and enter the entry-latency
pipe when the wake-up ends, all stamped with the wake-up time. Position, balance and fees
change only when a fill response arrives (after the response latency), as on a real venue.

Return codes of the actions: 0 sent, ``E_DUPLICATE`` (id in the table), ``E_FULL`` (order
table or outbox full: a counted rejection, raise ``max_orders``), ``E_NOT_FOUND``,
``E_IN_FLIGHT`` (a request for that order is still travelling), ``E_BAD`` (qty <= 0).
"""

from __future__ import annotations

from qengine.kernels._jit import helper

from .layout import (
    BS_BEST_ASK,
    BS_BEST_BID,
    F8,
    F8A,
    F_BALANCE,
    F_CONTRACT,
    F_FEE,
    F_LOT,
    F_MAKER_FEE,
    F_TAKER_FEE,
    F_TICK,
    F_TRADED_VALUE,
    FILLS,
    HANDLE,
    I8,
    I8A,
    I_CANCELS,
    I_CASH,
    I_DROPPED,
    I_FILLS,
    I_INVERSE,
    I_MODIFIES,
    I_N_FILL_LOG,
    I_N_LOCAL,
    I_N_OUTBOX,
    I_NOW,
    I_ORDERS,
    I_POS_LOTS,
    I_REJECTS,
    I_START_TS,
    I_VERSION,
    INVALID_MAX,
    INVALID_MIN,
    LIMIT,
    ORDERS,
    ST_CANCELED,
    ST_EXPIRED,
    ST_FILLED,
    ST_NEW,
    ST_NONE,
    ST_PARTIAL,
    ST_REJECTED,
    ST_REPLACED,
)
from .matching import find_order

E_DUPLICATE, E_FULL, E_NOT_FOUND, E_IN_FLIGHT, E_BAD = -1, -2, -3, -4, -5


@helper(I8(HANDLE), inline=True)
def now_ns(h):
    """The wake-up time (local clock)."""
    return h[0][I_NOW]


@helper(I8(HANDLE), inline=True)
def start_ns(h):
    """Time of the first event of the run."""
    return h[0][I_START_TS]


@helper(I8(HANDLE), inline=True)
def position_lots(h):
    """Position in lots (+ long), from the fills received so far."""
    return h[0][I_POS_LOTS]


@helper(I8(HANDLE), inline=True)
def version(h):
    """Changes whenever a local row or an order response has been processed."""
    return h[0][I_VERSION]


@helper(I8(HANDLE), inline=True)
def best_bid_tick(h):
    """Best bid of the local book in ticks (``INVALID_MIN`` when empty)."""
    return h[5][BS_BEST_BID]


@helper(I8(HANDLE), inline=True)
def best_ask_tick(h):
    """Best ask of the local book in ticks (``INVALID_MAX`` when empty)."""
    return h[5][BS_BEST_ASK]


@helper(I8(HANDLE), inline=True)
def order_count(h):
    """Rows in the local order table (``h[2][:order_count(h)]``)."""
    return h[0][I_N_LOCAL]


@helper(I8(HANDLE, I8), inline=True)
def has_order(h, order_id):
    """Whether ``order_id`` is in the local table (any state)."""
    return 1 if find_order(h[2], h[0][I_N_LOCAL], order_id) >= 0 else 0


@helper(I8(HANDLE, ORDERS, I8), inline=True)
def _outbox(h, src, slot):
    ist = h[0]
    box = h[3]
    n = ist[I_N_OUTBOX]
    if n >= box.shape[0]:
        return E_FULL
    box[n] = src[slot]
    ist[I_N_OUTBOX] = n + 1
    return 0


@helper(I8(HANDLE, I8, I8, I8, I8, I8, I8), inline=True)
def submit(h, order_id, side, price_tick, qty_lots, tif, ord_type):
    """Send a new order (``side`` +1/-1, ``tif`` GTC/GTX/IOC/FOK, ``ord_type`` LIMIT/MARKET)."""
    ist, orders = h[0], h[2]
    n = ist[I_N_LOCAL]
    if qty_lots <= 0:
        return E_BAD
    if find_order(orders, n, order_id) >= 0:
        return E_DUPLICATE
    if n >= orders.shape[0] or ist[I_N_OUTBOX] >= h[3].shape[0]:
        ist[I_DROPPED] += 1
        return E_FULL
    o = orders[n]
    o.order_id = order_id
    o.side = side
    o.price_tick = price_tick
    o.qty_lots = qty_lots
    o.leaves_lots = qty_lots
    o.exec_lots = 0
    o.exec_price_tick = 0
    o.tif = tif
    o.ord_type = ord_type
    o.status = ST_NONE
    o.req = ST_NEW
    o.local_ts = ist[I_NOW]
    o.exch_ts = 0
    o.maker = 0
    o.front_q = 0.0
    o.cum_trade = 0.0
    ist[I_N_LOCAL] = n + 1
    ist[I_ORDERS] += 1
    return _outbox(h, orders, n)


@helper(I8(HANDLE, I8, I8, I8, I8), inline=True)
def submit_gtx(h, order_id, side, price_tick, qty_lots):
    """A post-only limit order (rejected by the exchange if it would take)."""
    return submit(h, order_id, side, price_tick, qty_lots, 1, LIMIT)


@helper(I8(HANDLE, I8), inline=True)
def cancel(h, order_id):
    """Ask the exchange to cancel a working order."""
    ist, orders = h[0], h[2]
    slot = find_order(orders, ist[I_N_LOCAL], order_id)
    if slot < 0:
        return E_NOT_FOUND
    if orders[slot].req != ST_NONE:
        return E_IN_FLIGHT
    if ist[I_N_OUTBOX] >= h[3].shape[0]:
        return E_FULL
    orders[slot].req = ST_CANCELED
    orders[slot].local_ts = ist[I_NOW]
    ist[I_CANCELS] += 1
    return _outbox(h, orders, slot)


@helper(I8(HANDLE, I8, I8, I8), inline=True)
def modify(h, order_id, price_tick, qty_lots):
    """Amend price and size (see ``matching.exch_modify`` for what keeps the queue)."""
    ist, orders = h[0], h[2]
    slot = find_order(orders, ist[I_N_LOCAL], order_id)
    if slot < 0:
        return E_NOT_FOUND
    if qty_lots <= 0:
        return E_BAD
    if orders[slot].req != ST_NONE:
        return E_IN_FLIGHT
    if ist[I_N_OUTBOX] >= h[3].shape[0]:
        return E_FULL
    orders[slot].price_tick = price_tick
    orders[slot].qty_lots = qty_lots
    orders[slot].req = ST_REPLACED
    orders[slot].local_ts = ist[I_NOW]
    ist[I_MODIFIES] += 1
    return _outbox(h, orders, slot)


@helper(I8(HANDLE), inline=True)
def clear_inactive(h):
    """Drop filled, canceled and expired orders from the local table. Returns how many."""
    ist, orders = h[0], h[2]
    n = ist[I_N_LOCAL]
    dropped = 0
    for i in range(n - 1, -1, -1):
        s = orders[i].status
        if s in (ST_FILLED, ST_CANCELED, ST_EXPIRED):
            n -= 1
            if i != n:
                orders[i] = orders[n]
            dropped += 1
    ist[I_N_LOCAL] = n
    return dropped


@helper(F8(I8A, F8A, F8))
def equity_at(ist, fst, mid):
    """Balance + position value at ``mid`` (USDT-style quote units for linear) - fees."""
    pos = ist[I_POS_LOTS] * fst[F_LOT]
    if ist[I_INVERSE]:
        return -fst[F_BALANCE] - fst[F_CONTRACT] * pos / mid - fst[F_FEE]
    return fst[F_BALANCE] + fst[F_CONTRACT] * pos * mid - fst[F_FEE]


@helper(I8(ORDERS, I8, I8, I8A, F8A, ORDERS, FILLS))
def local_response(ring, pos, ts, ist, fst, orders, fills):
    """Apply one response ``ring[pos]`` arriving at ``ts`` to the local state."""
    r = ring[pos]
    ist[I_VERSION] += 1
    if r.status == ST_FILLED or r.status == ST_PARTIAL:
        lots = r.exec_lots
        side = r.side
        price = r.exec_price_tick * fst[F_TICK]
        qty = lots * fst[F_LOT]
        amount = fst[F_CONTRACT] * qty / price if ist[I_INVERSE] else fst[F_CONTRACT] * price * qty
        ist[I_POS_LOTS] += side * lots
        ist[I_CASH] -= side * r.exec_price_tick * lots
        fst[F_BALANCE] -= side * amount
        fst[F_FEE] += (fst[F_MAKER_FEE] if r.maker else fst[F_TAKER_FEE]) * amount
        fst[F_TRADED_VALUE] += amount
        ist[I_FILLS] += 1
        k = ist[I_N_FILL_LOG]
        f = fills[k]
        f.exch_ts = r.exch_ts
        f.local_ts = ts
        f.order_id = r.order_id
        f.side = side
        f.price_tick = r.exec_price_tick
        f.qty_lots = lots
        f.maker = r.maker
        ist[I_N_FILL_LOG] = k + 1
    elif r.status == ST_EXPIRED and r.req != ST_REJECTED:
        ist[I_REJECTS] += 1
    n = ist[I_N_LOCAL]
    slot = find_order(orders, n, r.order_id)
    if slot < 0:
        if r.req != ST_REJECTED and n < orders.shape[0]:
            orders[n] = r
            ist[I_N_LOCAL] = n + 1
        return 0
    o = orders[slot]
    if r.req == ST_REJECTED:
        if r.local_ts == o.local_ts:
            if o.req == ST_NEW:
                o.status = ST_EXPIRED
                ist[I_REJECTS] += 1
            o.req = ST_NONE
        return 0
    local_ts = o.local_ts
    orders[slot] = r
    o = orders[slot]
    o.local_ts = local_ts
    if r.exch_ts <= 0:
        o.exch_ts = 0
    return 0


__all__ = [
    "E_BAD",
    "E_DUPLICATE",
    "E_FULL",
    "E_IN_FLIGHT",
    "E_NOT_FOUND",
    "INVALID_MAX",
    "INVALID_MIN",
    "ST_NEW",
    "best_ask_tick",
    "best_bid_tick",
    "cancel",
    "clear_inactive",
    "has_order",
    "modify",
    "now_ns",
    "order_count",
    "position_lots",
    "start_ns",
    "submit",
    "submit_gtx",
    "version",
]
