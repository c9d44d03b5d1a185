"""Order records and their decoder: ``OrderUpdate`` (order channels, order RPC results) and
``Fill``.

Values stay in exchange units (prices in quote currency, amounts in base currency, times in Unix
seconds as floats). Money-relevant enums (``direction``, ``status``, ``maker_taker``) are checked
against the protocol's closed sets; descriptive ones (reasons, order types) are passed through so
that a new value from the exchange does not drop an order update. Order reports arrive several
per quote cycle, so the common one (no fills, plain values) is checked in one pass; anything else
takes the field-by-field path, which gives the same record or the specific error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from .messages_base import (
    MessageError,
    as_dict,
    as_list,
    choice,
    label,
    non_negative,
    num,
    opt_bool,
    opt_int,
    opt_num,
    opt_string,
    positive,
    req,
    string,
    to_int,
)

__all__ = [
    "DIRECTIONS",
    "LIVE_STATUSES",
    "MAKER_TAKER",
    "ORDER_STATUSES",
    "Fill",
    "OrderUpdate",
    "decode_fill",
    "decode_order",
]

DIRECTIONS = frozenset({"buy", "sell"})
MAKER_TAKER = frozenset({"maker", "taker"})
ORDER_STATUSES = frozenset(
    {"open", "partially_filled", "cancelled", "cancelled_partially_filled", "filled"}
)
LIVE_STATUSES = frozenset({"open", "partially_filled"})  # the only statuses of a resting order


@dataclass(frozen=True, slots=True)
class Fill:
    """An OrderFill: price (quote ccy), amount (base ccy, > 0), time (Unix s, may be None)."""

    trade_id: str
    price: float
    amount: float
    time: float | None
    maker_taker: str
    leg_index: int


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """An OrderStatus (4.5), from the order channels or an insert/amend/cancel result.

    ``fills`` holds only this update's new fills, except for ``change_reason == "existing"``.
    Amounts are in base currency, prices in quote currency (None for market orders), times in
    Unix seconds; ``instrument_name`` is None for combination orders.
    """

    order_id: str
    client_order_id: int | None
    instrument_name: str | None
    direction: str
    order_type: str
    time_in_force: str
    price: float | None
    amount: float
    filled_amount: float
    remaining_amount: float
    status: str
    change_reason: str
    delete_reason: str | None
    insert_reason: str | None
    label: str | None
    create_time: float | None
    close_time: float | None
    persistent: bool | None
    reduce_only: bool
    fills: tuple[Fill, ...]

    @property
    def is_live(self) -> bool:
        """True while the order rests on the book (``open`` or ``partially_filled``)."""
        return self.status in LIVE_STATUSES


def decode_fill(obj: Any) -> Fill:
    """Decode an OrderFill object."""
    obj = as_dict(obj, "fill")
    return Fill(
        trade_id=string(obj, "trade_id"),
        price=num(obj, "price"),
        amount=positive(obj, "amount"),
        time=opt_num(obj, "time"),
        maker_taker=choice(obj, "maker_taker", MAKER_TAKER),
        leg_index=to_int(req(obj, "leg_index"), "leg_index"),
    )


def decode_order(obj: Any) -> OrderUpdate:
    """Decode an OrderStatus object (order channels, insert/amend/cancel/open_orders results)."""
    plain = _plain_order(obj) if type(obj) is dict else None
    return plain if plain is not None else _decode_order_checked(obj)


_STR = {str}
_ORDER_STRINGS = itemgetter("order_id", "order_type", "time_in_force", "change_reason",
                            "instrument_name")


def _plain_order(obj: dict) -> OrderUpdate | None:
    # An order report without fills whose every value is plain (the engine's answers and
    # pushes, several per quote cycle), checked in one pass; None sends anything else the
    # checking way, which gives the same record or the specific error.
    get = obj.get
    fills, amount, filled, remaining = (get("fills"), get("amount"), get("filled_amount"),
                                        get("remaining_amount"))
    if type(fills) is not list or fills or not (
            type(amount) is float and type(filled) is float and type(remaining) is float
            and 0.0 <= filled <= amount < math.inf and 0.0 <= remaining <= amount):
        return None
    try:
        names = _ORDER_STRINGS(obj)
    except KeyError:
        return None
    direction, status, cid = get("direction"), get("status"), get("client_order_id")
    if set(map(type, names)) != _STR or not all(names) or type(direction) is not str or \
            direction not in DIRECTIONS or type(status) is not str or \
            status not in ORDER_STATUSES or (cid is not None and (type(cid) is not int or cid < 0)):
        return None
    price, create, close = get("price"), get("create_time"), get("close_time")
    delete, insert, label_ = get("delete_reason"), get("insert_reason"), get("label")
    persistent, reduce_only = get("persistent"), get("reduce_only")
    if not ((price is None or (type(price) is float and price - price == 0.0))
            and (create is None or (type(create) is float and create - create == 0.0))
            and (close is None or (type(close) is float and close - close == 0.0))
            and (delete is None or type(delete) is str)
            and (insert is None or type(insert) is str)
            and (label_ is None or type(label_) is str)
            and (persistent is None or type(persistent) is bool)
            and (reduce_only is None or type(reduce_only) is bool)):
        return None
    order_id, order_type, time_in_force, change_reason, instrument_name = names
    return OrderUpdate(order_id, cid, instrument_name, direction, order_type, time_in_force,
                       price, amount, filled, remaining, status, change_reason, delete, insert,
                       label_, create, close, persistent, bool(reduce_only), ())


def _decode_order_checked(obj: Any) -> OrderUpdate:
    obj = as_dict(obj, "order")
    amount = non_negative(obj, "amount")
    filled = non_negative(obj, "filled_amount")
    remaining = non_negative(obj, "remaining_amount")
    if filled > amount or remaining > amount:
        raise MessageError("order filled_amount or remaining_amount exceeds amount")
    instrument_name = opt_string(obj, "instrument_name")
    if instrument_name is None and "legs" not in obj:
        raise MessageError("missing required field 'instrument_name'")
    return OrderUpdate(
        order_id=string(obj, "order_id"),
        client_order_id=opt_int(obj, "client_order_id"),
        instrument_name=instrument_name,
        direction=choice(obj, "direction", DIRECTIONS),
        order_type=string(obj, "order_type"),
        time_in_force=string(obj, "time_in_force"),
        price=opt_num(obj, "price"),
        amount=amount,
        filled_amount=filled,
        remaining_amount=remaining,
        status=choice(obj, "status", ORDER_STATUSES),
        change_reason=string(obj, "change_reason"),
        delete_reason=opt_string(obj, "delete_reason"),
        insert_reason=opt_string(obj, "insert_reason"),
        label=label(obj, "label"),
        create_time=opt_num(obj, "create_time"),
        close_time=opt_num(obj, "close_time"),
        persistent=opt_bool(obj, "persistent", None),
        reduce_only=bool(opt_bool(obj, "reduce_only", False)),
        fills=tuple(decode_fill(item) for item in as_list(req(obj, "fills"), "fills")),
    )
