"""Pre-built request params for a quoting engine's orders on one instrument (sans-IO).

A quote cycle sends a handful of inserts, amends and cancels that differ only in numbers. Going
through ``insert_params`` (a dict, a dozen checks) and ``orjson.dumps`` per order costs several
microseconds each; :class:`OrderFrames` keeps the JSON of each request's params as a template
with the constant parts (instrument, label, flags) encoded once, and fills in the numbers:
about a microsecond per order. The bytes are those ``encode_request(method, insert_params(...))``
sends for the same order, and ``RpcSession.send_batch`` takes them in place of a params mapping.

The numbers are checked: a client order id must be an int in 0 .. 2**64 - 1, an amount finite
and > 0, a price finite (``ValueError`` otherwise, like ``insert_params``). Floats are written
with ``repr``, Python's shortest round-trip form, which is valid JSON for finite values.
"""

from __future__ import annotations

import math

import orjson

from .jsonrpc import request_parts
from .messages_encode import MAX_CLIENT_ORDER_ID

__all__ = ["AMOUNT", "CLIENT_ORDER_ID", "PRICE", "REQUEST_ID", "OrderFrames"]

INSERT, AMEND, CANCEL = "private/insert", "private/amend", "private/cancel"


def _check(cid: int, amount: float | None, price: float | None) -> None:
    if type(cid) is not int or not 0 <= cid <= MAX_CLIENT_ORDER_ID:
        raise ValueError(f"client_order_id must be an int in 0..2**64-1, got {cid!r}")
    if amount is not None and not (amount > 0 and math.isfinite(amount)):
        raise ValueError(f"amount must be finite and positive, got {amount!r}")
    if price is not None and not math.isfinite(price):
        raise ValueError(f"price must be finite, got {price!r}")


#: The numbers a request template leaves open, in :meth:`OrderFrames.wire_templates`.
AMOUNT, PRICE, CLIENT_ORDER_ID, REQUEST_ID = "amount", "price", "client_order_id", "request_id"
_SPEC = {AMOUNT: b"%r", PRICE: b"%r", CLIENT_ORDER_ID: b"%d"}

Template = tuple[bytes | str, ...]


def _percent(parts: Template) -> bytes:
    # A %-template of the params: constant parts escaped (a "%" in a label stays a "%").
    return b"".join(part.replace(b"%", b"%%") if type(part) is bytes else _SPEC[part]
                    for part in parts)


class OrderFrames:
    """JSON params of post-only limit inserts, amends and cancels by client order id.

    Parameters
    ----------
    instrument_name : str
        The instrument every insert is for.
    label : str or None
        Label of every insert (``None``: no label).
    """

    __slots__ = ("_amend", "_cancel", "_insert", "_params")

    def __init__(self, instrument_name: str, label: str | None) -> None:
        if not instrument_name:
            raise ValueError("instrument_name must be a non-empty string")
        name = orjson.dumps(instrument_name)
        tail = b',"order_type":"limit","post_only":true'
        if label is not None:
            tail += b',"label":' + orjson.dumps(label)
        #: The params of each request as constant bytes and the names of the numbers between.
        self._params: dict[str, tuple[str, Template]] = {
            f"insert_{direction}": (INSERT, (
                b'{"direction":"' + direction.encode() + b'","instrument_name":' + name
                + b',"amount":', AMOUNT, b',"price":', PRICE, tail + b',"client_order_id":',
                CLIENT_ORDER_ID, b"}"))
            for direction in ("buy", "sell")
        }
        self._params["amend"] = (AMEND, (b'{"client_order_id":', CLIENT_ORDER_ID, b',"amount":',
                                         AMOUNT, b',"price":', PRICE, b"}"))
        self._params["cancel"] = (CANCEL, (b'{"client_order_id":', CLIENT_ORDER_ID, b"}"))
        self._insert = {direction: _percent(self._params[f"insert_{direction}"][1])
                        for direction in ("buy", "sell")}
        self._amend = _percent(self._params["amend"][1])
        self._cancel = _percent(self._params["cancel"][1])

    def insert(self, direction: str, amount: float, price: float, cid: int) -> tuple[str, bytes]:
        """``private/insert`` of a post-only GTC limit order (``direction`` "buy" or "sell")."""
        template = self._insert.get(direction)
        if template is None:
            raise ValueError(f"direction must be 'buy' or 'sell', got {direction!r}")
        amount, price = float(amount), float(price)  # repr of a numpy float is not JSON
        _check(cid, amount, price)
        return INSERT, template % (amount, price, cid)

    def amend(self, cid: int, amount: float, price: float) -> tuple[str, bytes]:
        """``private/amend`` of our order ``cid`` to ``amount`` at ``price``."""
        amount, price = float(amount), float(price)
        _check(cid, amount, price)
        return AMEND, self._amend % (cid, amount, price)

    def cancel(self, cid: int) -> tuple[str, bytes]:
        """``private/cancel`` of our order ``cid``."""
        _check(cid, None, None)
        return CANCEL, self._cancel % cid

    def wire_templates(self) -> dict[str, tuple[str, Template]]:
        """Each whole request (JSON-RPC envelope included) as constant bytes and the names of
        the numbers between them, for writers that fill in the numbers themselves.

        Keys are ``insert_buy``, ``insert_sell``, ``amend`` and ``cancel``; values are
        ``(method, parts)``, ``parts`` alternating bytes and one of ``AMOUNT``, ``PRICE``
        (written as ``repr`` of the float), ``CLIENT_ORDER_ID`` and ``REQUEST_ID`` (decimal
        integers), starting and ending with bytes. Joined with the numbers they are the
        bytes of ``encode_request(method, params, request_id)`` with this object's params.
        """
        templates = {}
        for key, (method, params) in self._params.items():
            head, id_key, close = request_parts(method)
            templates[key] = (method, (head + params[0], *params[1:-1], params[-1] + id_key,
                                       REQUEST_ID, close))
        return templates
