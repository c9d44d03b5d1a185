"""A quote cycle's actions made ready to send, in one call: the order manager's one crossing.

Before a cycle's requests leave, the order table is marked (inserts reserve their row, amends
and cancels mark theirs pending) and the token bucket meters them. :func:`order_batch_prepare`
does all of it for the whole batch: it frees closed rows, takes tokens, checks each insert's
level against the levels allowed now, gives inserts their client order ids, marks the table,
and writes the actions to send (in the cycle's priority order) with their client order ids.
"""

from __future__ import annotations

import numba

from . import codes
from ._jit import kernel
from .decision import bucket_take
from .dtypes import ACTION_T, BUCKET_STATE_T, ORDER_T
from .orders import order_release, order_request_amend, order_request_cancel, order_reserve

_i8 = numba.types.int64


@kernel(_i8(ORDER_T, ACTION_T, _i8, BUCKET_STATE_T, _i8, _i8, _i8, _i8, ACTION_T, _i8[::1]))
def order_batch_prepare(table, actions, n_actions, bucket, now_ns, levels_allowed,
                        next_client_order_id, instrument, out, counts):
    """Mark the table for the first ``n_actions`` actions and write those to send to ``out``.

    Parameters
    ----------
    table : ORDER array
        The order table: ``CLOSED`` rows are freed first, then rows are reserved / marked.
    actions : ACTION array
        The cycle's actions in priority order (``quote_cycle``'s output).
    n_actions : int
        How many of them to send at most.
    bucket : BUCKET_STATE
        The request meter: only the first ``bucket_take(bucket, now_ns, n_actions)`` actions
        are considered (the rest count as throttled).
    now_ns : int
        Now (the rows' request times, the bucket's clock).
    levels_allowed : int
        Inserts at this level or above are dropped (0: no insert at all; a halt that landed
        after the cycle ran). Amends and cancels always go.
    next_client_order_id : int
        The client order id of the first insert; each insert takes the next one, whether the
        table accepts it or not.
    instrument : int
        Instrument index of the inserts.
    out : ACTION array
        Receives the actions to send, in order, with ``client_order_id`` set (an insert's new
        id) and ``slot`` its table row.
    counts : int64 array of ``codes.BATCH_COUNTS``
        Overwritten with the ``codes.BATCH_*`` counts.

    Returns
    -------
    int
        The number of rows written to ``out``.
    """
    counts[:] = 0
    order_release(table)
    granted = bucket_take(bucket, now_ns, n_actions)
    counts[codes.BATCH_THROTTLED] = max(n_actions - granted, 0)
    next_id = next_client_order_id
    n = 0
    for i in range(min(granted, actions.shape[0])):
        if n >= out.shape[0]:
            break  # (never with ``out`` as long as ``actions``) nothing more is marked
        a = actions[i]
        kind, slot, cid = a["kind"], a["slot"], a["client_order_id"]
        if kind == codes.ACTION_INSERT:
            if a["level"] >= levels_allowed:
                continue
            cid = next_id
            next_id += 1
            slot = order_reserve(table, cid, instrument, a["side"], a["level"],
                                 a["price_ticks"], a["size_lots"], now_ns)
            if slot < 0:
                counts[codes.BATCH_REFUSED] += 1
                counts[codes.BATCH_REFUSED_STATUS] = -slot
                continue
            counts[codes.BATCH_INSERTS] += 1
        elif kind == codes.ACTION_AMEND:
            if order_request_amend(table, slot, a["price_ticks"], a["size_lots"],
                                   now_ns) != codes.STATUS_OK:
                continue
            counts[codes.BATCH_AMENDS] += 1
        else:
            if order_request_cancel(table, slot, now_ns) != codes.STATUS_OK:
                continue
            counts[codes.BATCH_CANCELS] += 1
        row = out[n]
        row["kind"] = kind
        row["slot"] = slot
        row["client_order_id"] = cid
        row["side"] = a["side"]
        row["level"] = a["level"]
        row["price_ticks"] = a["price_ticks"]
        row["size_lots"] = a["size_lots"]
        n += 1
    counts[codes.BATCH_CLIENT_IDS] = next_id - next_client_order_id
    return n
