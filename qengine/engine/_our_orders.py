"""Which orders are ours: the label filter, the per-order cancel by exchange order id (with
the refusal policy each caller needs) and the sweep of ours, and client order ids that are
unique across processes (a random per-process base), so a restarted engine never takes a dead
process's order for its own.
"""

from __future__ import annotations

import enum
import logging
import secrets
from collections.abc import Iterable

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


class OnRefusal(enum.Enum):
    """What ``cancel_by_id`` does when the exchange refuses a cancel (other than the order
    being gone already, which counts as done)."""

    #: Raise the refusal (the reconnect and fallback sweeps: their callers handle it).
    RAISE = "raise"
    #: Log a warning and return the id among the failed: the caller tries it again (orphans).
    RETRY = "retry"
    #: Log an error and go on with the next order (the last sweep at shutdown).
    SKIP = "skip"


#: The log level and message of a refusal that does not raise.
_REFUSAL_LOG = {
    OnRefusal.RETRY: (logging.WARNING, "could not cancel unknown order %s: %s"),
    OnRefusal.SKIP: (logging.ERROR, "cancel of order %s failed: %s"),
}


async def cancel_by_id(client: ThalexClient, order_ids: Iterable[str], *,
                       on_refusal: OnRefusal) -> tuple[int, list[str]]:
    """Cancel each order by exchange order id, one by one.

    An order already gone (``OrderNotFound``) counts as done but not as cancelled; any other
    ``ThalexClientError`` is handled as ``on_refusal`` says. Returns how many were cancelled
    and the ids whose cancel was refused (empty under ``OnRefusal.RAISE``).
    """
    cancelled, failed = 0, []
    for order_id in order_ids:
        try:
            await client.cancel(order_id=order_id)
        except io_errors.OrderNotFound:
            continue
        except io_errors.ThalexClientError as exc:
            if on_refusal is OnRefusal.RAISE:
                raise
            level, message = _REFUSAL_LOG[on_refusal]
            log.log(level, message, order_id, exc)
            failed.append(order_id)
            continue
        cancelled += 1
    return cancelled, failed


async def cancel_our_orders(client: ThalexClient, label: str, names: set[str], *,
                            on_refusal: OnRefusal = OnRefusal.RAISE) -> int:
    """Cancel every live order of ours on the account one by one, by exchange order id (see
    ``cancel_by_id``); return how many were cancelled."""
    ours = our_live_orders(await client.open_orders(), label, names)
    cancelled, _failed = await cancel_by_id(client, [o.order_id for o in ours],
                                            on_refusal=on_refusal)
    return cancelled
