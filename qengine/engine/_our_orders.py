"""Which orders are ours: the label filter, the per-order cancel sweep, and client order ids
that are unique across processes (a random per-process base), so a restarted engine never takes
a dead process's order for its own.
"""

from __future__ import annotations

import logging
import secrets

from ..io import errors as io_errors
from ..io import messages as m
from ..io.thalex import ThalexClient

log = logging.getLogger("qengine.orders")


#: Client order ids are ``base + n``: a random per-process base, a multiple of 2**32 below
#: 2**53, and a counter below 2**32. They fit ``client_order_id`` (an integer in 0..2**64-1) and
#: stay exact where a JSON decoder turns numbers into doubles (beyond 2**53 they would not).
CLIENT_ID_COUNTER_BITS = 32
CLIENT_ID_MAX = 2**53 - 1


def client_order_id_base() -> int:
    """A fresh random base for one process's client order ids (one in about 2 million
    restarts shares a base; then the exchange order id still tells the orders apart)."""
    return (secrets.randbelow(2**(53 - CLIENT_ID_COUNTER_BITS) - 1) + 1) << CLIENT_ID_COUNTER_BITS


def our_live_orders(orders: list[m.OrderUpdate], label: str, names: set[str]
                    ) -> list[m.OrderUpdate]:
    """The live orders among ``orders`` that carry our ``label`` on one of our instruments."""
    return [o for o in orders if o.is_live and o.label == label and o.instrument_name in names]


async def cancel_our_orders(client: ThalexClient, label: str, names: set[str], *,
                            keep_going: bool = False) -> int:
    """Cancel every live order of ours on the account one by one, by exchange order id.

    An order already gone is skipped; with ``keep_going`` any other refusal is logged and the
    sweep goes on (at shutdown), otherwise it is raised. Returns how many were cancelled.
    """
    cancelled = 0
    for order in our_live_orders(await client.open_orders(), label, names):
        try:
            await client.cancel(order_id=order.order_id)
        except io_errors.OrderNotFound:
            continue
        except io_errors.ThalexClientError as exc:
            if not keep_going:
                raise
            log.error("cancel of order %s failed: %s", order.order_id, exc)
            continue
        cancelled += 1
    return cancelled
