"""How ``ThalexClient`` shapes its requests' parameters and decodes their results (helpers of
``qengine.io.thalex``, kept apart so that module holds the one client class)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from . import messages as m
from .errors import BadResponse
from .rpc_session import PendingBatch

__all__ = ["OrderBatch", "one_order_id", "order_history_page", "records", "time_window"]


def records(decode: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    """A decoder of a JSON list whose items ``decode`` decodes."""
    def decode_all(result: Any) -> list[Any]:
        if type(result) is not list:
            raise BadResponse(f"expected a list, got {type(result).__name__}")
        return [decode(item) for item in result]

    return decode_all


def order_history_page(result: Any) -> tuple[tuple[m.OrderUpdate, ...], str | None]:
    """One page of ``private/order_history``: the closed orders and the next bookmark."""
    # OrderHistory rows are closed orders without ``remaining_amount``, ``change_reason`` and
    # ``time_in_force`` (Thalex's schema): nothing remains on a closed order, "existing" is the
    # reason the exchange gives for a state it reports rather than changes, and the time in
    # force of a closed order is not reported ("unknown").
    defaults = {"remaining_amount": 0, "change_reason": "existing", "time_in_force": "unknown"}
    decoded = tuple(m.decode_order({**defaults, **o}) for o in result["orders"])
    bookmark = result.get("bookmark")
    return decoded, bookmark if type(bookmark) is str else None


def time_window(low_s: float | None, high_s: float | None) -> dict[str, int | None]:
    """The history calls take whole Unix seconds (the schema's integers): widen the window
    outwards so that no trade inside the one asked for is left out."""
    return {
        "time_low": None if low_s is None else math.floor(low_s),
        "time_high": None if high_s is None else math.ceil(high_s),
    }


def one_order_id(order_id: str | None, client_order_id: int | None) -> dict[str, Any]:
    """The parameters naming one order by exactly one of its two ids."""
    if (order_id is None) == (client_order_id is None):
        raise ValueError("give exactly one of order_id or client_order_id")
    return {"order_id": order_id, "client_order_id": client_order_id}


class OrderBatch(PendingBatch):
    """Order requests sent together; :meth:`wait` decodes their answers."""

    async def wait(self) -> list[m.OrderUpdate | BaseException]:
        """Per request: the decoded order, or the error as an exception object."""
        decoded: list[m.OrderUpdate | BaseException] = []
        for method, result in zip(self.methods, await super().wait(), strict=True):
            if isinstance(result, BaseException):
                decoded.append(result)
                continue
            try:
                decoded.append(m.decode_order(result))
            except (ValueError, TypeError, KeyError) as exc:
                decoded.append(BadResponse(f"{method}: {exc}"))
        return decoded
