"""Order calls of the Thalex client: insert / buy / sell / amend / cancel, bulk cancels, open
orders, and order batches sent in one socket write (``send_order_batch``).

Prices and amounts are exchange units (floats); ``qengine.units`` converts ticks and lots.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import messages as m
from .errors import BadResponse
from .rpc_session import PendingBatch
from .thalex_session import ThalexSessionCalls, _records

__all__ = ["OrderBatch", "ThalexOrderCalls"]


def _one_order_id(order_id: str | None, client_order_id: int | None) -> dict[str, Any]:
    if (order_id is None) == (client_order_id is None):
        raise ValueError("give exactly one of order_id or client_order_id")
    return {"order_id": order_id, "client_order_id": client_order_id}


class OrderBatch:
    """Order requests sent together; :meth:`wait` decodes their answers."""

    def __init__(self, batch: PendingBatch) -> None:
        self._batch = batch

    async def wait(self) -> list[m.OrderUpdate | BaseException]:
        """Per request: the decoded order, or the error as an exception object."""
        decoded: list[m.OrderUpdate | BaseException] = []
        for method, result in zip(self._batch.methods, await self._batch.wait(), strict=True):
            if isinstance(result, BaseException):
                decoded.append(result)
                continue
            try:
                decoded.append(m.decode_order(result))
            except (ValueError, TypeError, KeyError) as exc:
                decoded.append(BadResponse(f"{method}: {exc}"))
        return decoded


class ThalexOrderCalls(ThalexSessionCalls):
    """Order entry and cancellation; every method takes ``timeout_s`` like ``call``."""

    # -- orders -----------------------------------------------------------------------------------

    async def insert(
        self,
        direction: str,
        instrument_name: str,
        amount: float,
        price: float | None = None,
        *,
        timeout_s: float | None = None,
        **options: Any,
    ) -> m.OrderUpdate:
        """Insert an order; return its status after the insert.

        Parameters
        ----------
        direction : {"buy", "sell"}
        instrument_name : str
        amount : float
            Size in base currency (e.g. BTC).
        price : float, optional
            Limit price in quote currency (USD); omit for market orders.
        **options
            ``order_type`` ("limit" | "market"), ``time_in_force`` ("good_till_cancelled" |
            "immediate_or_cancel"), ``post_only``, ``reject_post_only``, ``reduce_only``,
            ``collar`` ("ignore" | "reject" | "clamp"), ``label``, ``client_order_id`` (int),
            ``stp_level``, ``stp_action``; see ``messages.insert_params``.

        Notes
        -----
        Post-only re-pricing, book-or-cancel and IOC remainders are *not* errors: the result's
        ``status`` is then ``cancelled`` with ``delete_reason == "immediate_cancel"``.
        """
        params = m.insert_params(
            direction=direction,
            instrument_name=instrument_name,
            amount=amount,
            price=price,
            **options,
        )
        return await self.call_decoded(
            "private/insert", params, m.decode_order, timeout_s=timeout_s
        )

    async def buy(
        self,
        instrument_name: str,
        amount: float,
        price: float | None = None,
        *,
        timeout_s: float | None = None,
        **options: Any,
    ) -> m.OrderUpdate:
        """``private/buy``: :meth:`insert` without ``direction``."""
        return await self._directed("buy", instrument_name, amount, price, timeout_s, options)

    async def sell(
        self,
        instrument_name: str,
        amount: float,
        price: float | None = None,
        *,
        timeout_s: float | None = None,
        **options: Any,
    ) -> m.OrderUpdate:
        """``private/sell``: :meth:`insert` without ``direction``."""
        return await self._directed("sell", instrument_name, amount, price, timeout_s, options)

    async def _directed(self, direction: str, instrument_name: str, amount: float,
                        price: float | None, timeout_s: float | None,
                        options: dict[str, Any]) -> m.OrderUpdate:
        # private/buy and private/sell take the insert params without ``direction``.
        params = m.insert_params(direction=direction, instrument_name=instrument_name,
                                 amount=amount, price=price, **options)
        del params["direction"]
        return await self.call_decoded(f"private/{direction}", params, m.decode_order,
                                       timeout_s=timeout_s)

    async def amend(
        self,
        *,
        amount: float,
        price: float,
        order_id: str | None = None,
        client_order_id: int | None = None,
        collar: str | None = None,
        timeout_s: float | None = None,
    ) -> m.OrderUpdate:
        """Change price and/or original ``amount`` (base currency) of an open order, named by
        exactly one of ``order_id`` or ``client_order_id``. An amount at or below the filled
        amount deletes the order."""
        params = _one_order_id(order_id, client_order_id)
        params.update(amount=amount, price=price, collar=collar)
        return await self.call_decoded("private/amend", params, m.decode_order, timeout_s=timeout_s)

    async def cancel(
        self,
        *,
        order_id: str | None = None,
        client_order_id: int | None = None,
        timeout_s: float | None = None,
    ) -> m.OrderUpdate:
        """Cancel one order by ``order_id`` or ``client_order_id`` (``OrderNotFound`` if it is
        already closed)."""
        params = _one_order_id(order_id, client_order_id)
        return await self.call_decoded(
            "private/cancel", params, m.decode_order, timeout_s=timeout_s
        )

    async def send_order_batch(
        self,
        requests: Sequence[tuple[str, dict[str, Any]]],
        *,
        timeout_s: float | None = None,
    ) -> OrderBatch:
        """Send insert / amend / cancel requests in one socket write, without waiting.

        ``requests`` are ``(kind, arguments)`` pairs with ``kind`` one of ``"insert"``
        (``insert`` keywords, ``direction`` included), ``"amend"`` or ``"cancel"`` (their
        keywords). ``await batch.wait()`` returns per request the decoded order, or the error
        as an exception object (returned, not raised).
        """
        calls: list[tuple[str, dict[str, Any]]] = []
        for kind, arguments in requests:
            if kind == "insert":
                calls.append(("private/insert", m.insert_params(**arguments)))
            elif kind in ("amend", "cancel"):
                args = dict(arguments)
                params = _one_order_id(args.pop("order_id", None),
                                       args.pop("client_order_id", None))
                params.update(args)
                calls.append((f"private/{kind}", params))
            else:
                raise ValueError(f"unknown order request kind {kind!r}")
        return OrderBatch(await self.send_batch(calls, timeout_s=timeout_s))

    async def order_batch(
        self,
        requests: Sequence[tuple[str, dict[str, Any]]],
        *,
        timeout_s: float | None = None,
    ) -> list[m.OrderUpdate | BaseException]:
        """:meth:`send_order_batch` and wait for every answer."""
        batch = await self.send_order_batch(requests, timeout_s=timeout_s)
        return await batch.wait()

    async def cancel_all(self, *, timeout_s: float | None = None) -> int:
        """Cancel every order of the account; return how many were deleted."""
        result = await self.call("private/cancel_all", None, timeout_s=timeout_s)
        if type(result) is not int:
            raise BadResponse("private/cancel_all: result is not an integer")
        return result

    async def open_orders(self, *, timeout_s: float | None = None) -> list[m.OrderUpdate]:
        """All open orders of the account."""
        return await self.call_decoded(
            "private/open_orders", None, _records(m.decode_order), timeout_s=timeout_s
        )
