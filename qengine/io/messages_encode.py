"""Request params whose JSON shape matters: ``private/insert`` and ``private/mass_quote``.

The client encodes with :func:`insert_params` and :func:`mass_quote_params`; the simulator parses
the same JSON back with :func:`decode_mass_quote_params`, so both share one notion of the shape.
Prices are in quote currency and amounts in base currency (convert from ticks and lots with
``qengine.units.StepGrid.value`` so that they print without float noise).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from .messages_base import MessageError, as_dict, as_list, string, to_float

__all__ = [
    "MAX_MASS_QUOTE_INSTRUMENTS",
    "MAX_QUOTE_LEVELS",
    "QuoteLevel",
    "QuoteRequest",
    "decode_mass_quote_params",
    "insert_params",
    "mass_quote_params",
]

MAX_MASS_QUOTE_INSTRUMENTS = 100
MAX_QUOTE_LEVELS = 10
MAX_CLIENT_ORDER_ID = 2**64 - 1
_TIME_IN_FORCE = frozenset({"good_till_cancelled", "immediate_or_cancel"})
_COLLARS = frozenset({"ignore", "reject", "clamp"})
_STP_LEVELS = frozenset({"customer", "account", "disabled"})
_STP_ACTIONS = frozenset({"cancel_aggressive_partial_fill", "cancel_aggressive_no_fill"})


class QuoteLevel(NamedTuple):
    """One quote level: price (quote ccy) and amount (base ccy; 0 deletes a single-level side)."""

    price: float
    amount: float


@dataclass(frozen=True, slots=True)
class QuoteRequest:
    """One instrument of a mass quote.

    A side is None (left untouched), one :class:`QuoteLevel` (single-level form
    ``{"p": price, "a": amount}``), or a tuple of levels (multi-level form ``[[p, a], ...]``, at
    most 10 distinct prices; an empty tuple removes every quote on that side).
    """

    instrument_name: str
    bid: QuoteLevel | tuple[QuoteLevel, ...] | None = None
    ask: QuoteLevel | tuple[QuoteLevel, ...] | None = None


def _finite(value: Any, name: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def _one_of(value: str | None, allowed: frozenset[str], name: str) -> None:
    if value is not None and value not in allowed:
        raise ValueError(f"{name} must be one of {sorted(allowed)}, got {value!r}")


def insert_params(
    *,
    direction: str,
    instrument_name: str,
    amount: float,
    price: float | None = None,
    order_type: str = "limit",
    time_in_force: str | None = None,
    post_only: bool = False,
    reject_post_only: bool = False,
    reduce_only: bool = False,
    label: str | None = None,
    client_order_id: int | None = None,
    collar: str | None = None,
    stp_level: str | None = None,
    stp_action: str | None = None,
) -> dict[str, Any]:
    """Params of ``private/insert``, checked against the protocol's rules (3.3).

    Parameters
    ----------
    direction : {"buy", "sell"}
    instrument_name : str
    amount : float
        Size in base currency, > 0.
    price : float, optional
        Limit price in quote currency; required for limit orders, forbidden for market orders.
    order_type : {"limit", "market"}
    time_in_force : {"good_till_cancelled", "immediate_or_cancel"}, optional
        Exchange default when omitted (GTC for limit, IOC for market).
    post_only, reject_post_only, reduce_only : bool
        Sent only when true; ``reject_post_only`` needs ``post_only`` (book-or-cancel).
    label : str, optional
    client_order_id : int, optional
        Session-local id, 0 .. 2**64 - 1.
    collar, stp_level, stp_action : str, optional
        Sent as strings (never Enums).

    Returns
    -------
    dict
        JSON-ready params with unset options left out.

    Raises
    ------
    ValueError
        For any combination the exchange would reject as malformed.
    """
    _check_order_shape(
        direction, order_type, price, time_in_force, collar, post_only, reject_post_only
    )
    _one_of(stp_level, _STP_LEVELS, "stp_level")
    _one_of(stp_action, _STP_ACTIONS, "stp_action")
    if not instrument_name:
        raise ValueError("instrument_name must be a non-empty string")
    if _finite(amount, "amount") <= 0:
        raise ValueError(f"amount must be positive, got {amount!r}")
    if client_order_id is not None and (
        isinstance(client_order_id, bool)
        or not isinstance(client_order_id, int)
        or not 0 <= client_order_id <= MAX_CLIENT_ORDER_ID
    ):
        raise ValueError(f"client_order_id must be an int in 0..2**64-1, got {client_order_id!r}")
    params: dict[str, Any] = {
        "direction": direction,
        "instrument_name": instrument_name,
        "amount": amount,
        "price": price,
        "order_type": order_type,
        "time_in_force": time_in_force,
        "post_only": post_only or None,
        "reject_post_only": reject_post_only or None,
        "reduce_only": reduce_only or None,
        "label": label,
        "client_order_id": client_order_id,
        "collar": collar,
        "stp_level": stp_level,
        "stp_action": stp_action,
    }
    # Unset options are left out, as the official client does; flags are sent only when true.
    return {name: value for name, value in params.items() if value is not None}


def _check_order_shape(
    direction: str,
    order_type: str,
    price: float | None,
    time_in_force: str | None,
    collar: str | None,
    post_only: bool,
    reject_post_only: bool,
) -> None:
    """Reject the insert combinations the protocol forbids (3.3)."""
    if direction not in ("buy", "sell"):
        raise ValueError(f"direction must be 'buy' or 'sell', got {direction!r}")
    if order_type not in ("limit", "market"):
        raise ValueError(f"order_type must be 'limit' or 'market', got {order_type!r}")
    _one_of(time_in_force, _TIME_IN_FORCE, "time_in_force")
    _one_of(collar, _COLLARS, "collar")
    if order_type == "limit":
        if price is None:
            raise ValueError("a limit order needs a price")
        _finite(price, "price")
    elif price is not None:
        raise ValueError("a market order takes no price")
    elif time_in_force == "good_till_cancelled" or collar == "ignore":
        raise ValueError("a market order cannot be good_till_cancelled or use collar 'ignore'")
    if reject_post_only and not post_only:
        raise ValueError("reject_post_only needs post_only")
    if post_only and time_in_force == "immediate_or_cancel":
        raise ValueError("post_only cannot be immediate_or_cancel")


def _encode_level(level: QuoteLevel) -> tuple[float, float]:
    price, amount = level
    _finite(price, "quote price")
    if _finite(amount, "quote amount") < 0:
        raise ValueError(f"quote amount must not be negative, got {amount!r}")
    return price, amount


def _encode_side(side: QuoteLevel | tuple[QuoteLevel, ...]) -> Any:
    if isinstance(side, QuoteLevel):
        price, amount = _encode_level(side)
        return {"p": price, "a": amount}
    levels = [_encode_level(level) for level in side]
    if len(levels) > MAX_QUOTE_LEVELS:
        raise ValueError(f"at most {MAX_QUOTE_LEVELS} levels per side, got {len(levels)}")
    if len({price for price, _ in levels}) != len(levels):
        raise ValueError("quote level prices must be distinct")
    for _, amount in levels:
        if amount <= 0:
            raise ValueError("multi-level quote amounts must be positive (leave a level out)")
    return [[price, amount] for price, amount in levels]


def mass_quote_params(
    quotes: Sequence[QuoteRequest],
    *,
    label: str | None = None,
    post_only: bool = False,
    reject_post_only: bool = False,
    stp_level: str | None = None,
    stp_action: str | None = None,
) -> dict[str, Any]:
    """Params of ``private/mass_quote`` (3.4) in single- or multi-level form per side.

    Parameters
    ----------
    quotes : sequence of QuoteRequest
        At most 100, one per instrument.
    label, post_only, reject_post_only, stp_level, stp_action
        As for :func:`insert_params`; flags are sent only when true.

    Returns
    -------
    dict
        ``{"quotes": [{"i": name, "b": ..., "a": ...}, ...], ...}``.
    """
    if not 0 < len(quotes) <= MAX_MASS_QUOTE_INSTRUMENTS:
        raise ValueError(f"a mass quote takes 1..{MAX_MASS_QUOTE_INSTRUMENTS} instruments")
    names = [quote.instrument_name for quote in quotes]
    if len(set(names)) != len(names):
        raise ValueError("each instrument may appear once in a mass quote")
    if reject_post_only and not post_only:
        raise ValueError("reject_post_only needs post_only")
    _one_of(stp_level, _STP_LEVELS, "stp_level")
    _one_of(stp_action, _STP_ACTIONS, "stp_action")
    encoded = []
    for quote in quotes:
        item: dict[str, Any] = {"i": quote.instrument_name}
        if quote.bid is not None:
            item["b"] = _encode_side(quote.bid)
        if quote.ask is not None:
            item["a"] = _encode_side(quote.ask)
        encoded.append(item)
    params: dict[str, Any] = {"quotes": encoded}
    if label is not None:
        params["label"] = label
    if post_only:
        params["post_only"] = True
    if reject_post_only:
        params["reject_post_only"] = True
    if stp_level is not None:
        params["stp_level"] = stp_level
    if stp_action is not None:
        params["stp_action"] = stp_action
    return params


def _decode_level(value: Any, key: str) -> QuoteLevel:
    row = as_list(value, key)
    if len(row) != 2:
        raise MessageError(f"{key} level must be [price, amount]")
    amount = to_float(row[1], f"{key}.amount")
    if amount <= 0.0:
        raise MessageError(f"{key} level amount must be positive")
    return QuoteLevel(to_float(row[0], f"{key}.price"), amount)


def _decode_side(value: Any, key: str) -> QuoteLevel | tuple[QuoteLevel, ...]:
    if type(value) is dict:
        amount = to_float(value.get("a"), f"{key}.a")
        if amount < 0.0:
            raise MessageError(f"{key}.a must not be negative")
        return QuoteLevel(to_float(value.get("p"), f"{key}.p"), amount)
    levels = tuple(_decode_level(row, key) for row in as_list(value, key))
    if len(levels) > MAX_QUOTE_LEVELS:
        raise MessageError(f"{key} has more than {MAX_QUOTE_LEVELS} levels")
    if len({level.price for level in levels}) != len(levels):
        raise MessageError(f"{key} level prices must be distinct")
    return levels


def decode_mass_quote_params(params: Any) -> tuple[QuoteRequest, ...]:
    """Parse ``private/mass_quote`` params back into requests (the simulator's side).

    Raises
    ------
    MessageError
        On any shape the protocol does not allow.
    """
    quotes = as_list(as_dict(params, "params").get("quotes"), "quotes")
    if not 0 < len(quotes) <= MAX_MASS_QUOTE_INSTRUMENTS:
        raise MessageError(f"quotes must hold 1..{MAX_MASS_QUOTE_INSTRUMENTS} items")
    requests = []
    for item in quotes:
        item = as_dict(item, "quote")
        bid, ask = item.get("b"), item.get("a")
        requests.append(
            QuoteRequest(
                string(item, "i"),
                None if bid is None else _decode_side(bid, "b"),
                None if ask is None else _decode_side(ask, "a"),
            )
        )
    if len({quote.instrument_name for quote in requests}) != len(requests):
        raise MessageError("an instrument appears twice in quotes")
    return tuple(requests)
