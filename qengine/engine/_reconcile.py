"""Order reconciliation: the order table settled against the exchange's open-orders snapshot.

The snapshot is asked for at ``requested_ns`` (the engine's clock, the one every row's
``update_time_ns`` is written with). While it is on its way the reader keeps applying order
pushes and the answers of batches sent before, so the snapshot can be older than a row. A row
written since the request (``update_time_ns`` past it; at the same clock reading, as under a
virtual clock, a row that differs from the table copied at the request) keeps its state: it is
neither closed nor set back by the snapshot, and its order is no orphan (the next
reconciliation judges it). Rows older than the
request are judged by the snapshot: a listed order is applied to its row, a row the snapshot
does not list is closed (a pending insert only once it is older than a request timeout), and an
order with our label that no row tracks is returned as an orphan to cancel.

The table is settled in one synchronous step right after the snapshot arrives, so nothing the
reader applies can fall between the judgement of a row and its write.
"""

from __future__ import annotations

import numpy as np

from ..clock import now_ns
from ..io import messages as m
from ..kernels import codes
from ..kernels.orders import order_apply_update, order_release
from ._listener import Listener
from ._our_orders import our_live_orders
from ._state import id_key

_CLOSABLE = (codes.ORDER_OPEN, codes.ORDER_PENDING_AMEND, codes.ORDER_PENDING_CANCEL)


def written_since(orders: np.ndarray, requested_ns: int, at_request: np.ndarray) -> np.ndarray:
    """Which rows of ``orders`` were written since ``requested_ns`` (``at_request``: the table
    copied then)."""
    times = orders["update_time_ns"]
    return (times > requested_ns) | ((times == requested_ns) & (orders != at_request))


def settle_orders(listener: Listener, live: list[m.OrderUpdate], requested_ns: int,
                  at_request: np.ndarray, stale_ns: int) -> list[m.OrderUpdate]:
    """Make the order table match the snapshot ``live`` (asked for at ``requested_ns``, when
    the table was ``at_request``); return the orders of ours no row tracks (the orphans to
    cancel).

    A pending amend or cancel older than ``stale_ns`` never got its answer (a timeout): its
    order is as the snapshot reports it. A pending insert older than ``stale_ns`` that the
    snapshot does not list is rejected.
    """
    state, account = listener.state, listener.account
    spec, orders = state.spec, state.orders
    # In mass-quote mode our quotes rest untracked (not in the table) and carry no client
    # order id: they are not orphans.
    quotes_untracked = state.config.order_mode == "mass_quote"
    newer = written_since(orders, requested_ns, at_request)
    written_ns = now_ns()
    orphans: list[m.OrderUpdate] = []
    listed: set[int] = set()
    for order in our_live_orders(live, state.config.label, {spec.name}):
        slot = account.our_slot(id_key(order.order_id), order.client_order_id)
        if slot < 0:
            if not (quotes_untracked and order.client_order_id is None):
                orphans.append(order)
            continue
        row = orders[slot]
        cid, status = int(row["client_order_id"]), int(row["status"])
        if newer[slot]:
            # The table learned of this order after the snapshot was asked for: its state
            # stands; only fills it may not have booked yet are taken (once, by trade id).
            if status != codes.ORDER_CLOSED:
                listed.add(cid)
            account.book_order_fills(spec.index, order, slot)
            continue
        if status == codes.ORDER_CLOSED:
            orphans.append(order)  # closed here before the request, yet live: not tracked
            continue
        if status in (codes.ORDER_PENDING_AMEND, codes.ORDER_PENDING_CANCEL) and \
                int(row["update_time_ns"]) < stale_ns:
            order_apply_update(orders, cid, -1, codes.ORDER_UPDATE_REJECTED, 0, 0, 0,
                               written_ns)
        listener.apply_order(order)
        listed.add(cid)
    for row, row_newer in zip(orders, newer, strict=True):
        status, cid = int(row["status"]), int(row["client_order_id"])
        if cid in listed or row_newer:
            continue
        if status == codes.ORDER_PENDING_INSERT and int(row["insert_time_ns"]) < stale_ns:
            order_apply_update(orders, cid, -1, codes.ORDER_UPDATE_REJECTED, 0, 0, 0,
                               written_ns)
        elif status in _CLOSABLE:
            order_apply_update(orders, cid, -1, codes.ORDER_UPDATE_CLOSED,
                               int(row["price_ticks"]), int(row["amount_lots"]),
                               int(row["filled_lots"]), written_ns)
    order_release(orders)
    return orphans
