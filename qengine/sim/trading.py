"""Order methods: insert / buy / sell, amend, cancel, cancel_all, cancel_session, open_orders.

Validation order follows thalex-protocol.md: instrument (5), time in force (25), price (13, 15)
before amount (14), then collar (43), duplicate client order id (2), open-order cap (49) and
reduce-only (37). A rejected request changes nothing.
"""

from __future__ import annotations

from typing import Any

from ..io.error_codes import (
    BAD_AMOUNT,
    BAD_TIME_IN_FORCE,
    COLLAR_BREACH,
    DUPLICATE_CLIENT_ORDER_ID,
    INVALID_REQUEST,
    NOT_LOGGED_IN,
    ORDER_NOT_FOUND,
    PERSISTENT_SESSION,
    REDUCE_ONLY_REJECTED,
    TOO_MANY_OPEN_ORDERS,
    UNKNOWN_INSTRUMENT,
)
from . import params as p
from .errors import RpcError
from .exchange import Exchange
from .instruments import Instrument
from .orders import BUY, GTC, IOC, SELL, Order
from .sessions import Session

_STP_LEVELS = ("customer", "account", "disabled")
_STP_ACTIONS = ("cancel_aggressive_partial_fill", "cancel_aggressive_no_fill")
_COLLARS = ("ignore", "reject", "clamp")


def require_login(session: Session) -> Any:
    """The session's account, or RpcError 7."""
    if session.account is None:
        raise RpcError(NOT_LOGGED_IN, "not logged in")
    return session.account


def instrument(ex: Exchange, params: dict[str, Any]) -> Instrument:
    """The instrument named by ``instrument_name``; RpcError 6 or 5."""
    name = p.string(params, "instrument_name")
    inst = ex.instruments.get(name)
    if inst is None:
        raise RpcError(UNKNOWN_INSTRUMENT, f"unknown instrument {name}")
    return inst


def apply_collar(ex: Exchange, inst: Instrument, buys: bool, limit_ticks: int | None,
                 collar: str) -> int | None:
    """Check a new price against the collar (bids vs collar_high, asks vs collar_low).

    Returns the execution limit in ticks (None: unbounded, only with ``ignore``).
    """
    low, high = ex.markets[inst.name].collar_ticks(ex.config.collar_fraction)
    bound = high if buys else low
    breach = limit_ticks is None or (limit_ticks > bound if buys else limit_ticks < bound)
    if not breach or collar == "ignore":
        return limit_ticks
    if collar == "reject":
        raise RpcError(COLLAR_BREACH, "price outside the collar")
    return bound


def insert(ex: Exchange, session: Session, params: dict[str, Any],
           direction: str | None = None) -> dict[str, Any]:
    """``private/insert`` (and buy/sell with ``direction`` fixed)."""
    account = require_login(session)
    if direction is None:
        direction = p.enum(params, "direction", (BUY, SELL))
        if direction is None:
            raise RpcError(INVALID_REQUEST, "invalid params: direction is required")
    inst = instrument(ex, params)
    order_type = p.enum(params, "order_type", ("limit", "market"), "limit")
    market_order = order_type == "market"
    tif = p.enum(params, "time_in_force", (GTC, IOC), IOC if market_order else GTC)
    post_only = p.boolean(params, "post_only")
    reject_post_only = p.boolean(params, "reject_post_only")
    reduce_only = p.boolean(params, "reduce_only")
    collar = p.enum(params, "collar", _COLLARS, "clamp" if market_order else "reject")
    stp_level = p.enum(params, "stp_level", _STP_LEVELS, "customer")
    stp_action = p.enum(params, "stp_action", _STP_ACTIONS, _STP_ACTIONS[0])
    label = p.label(params)
    coid = p.u64(params, "client_order_id")
    price = p.number(params, "price", required=not market_order)
    amount = p.number(params, "amount")
    if market_order and collar == "ignore":
        raise RpcError(INVALID_REQUEST, "invalid params: collar ignore is not allowed for market")
    if (market_order and tif == GTC) or (post_only and (tif == IOC or market_order)):
        raise RpcError(BAD_TIME_IN_FORCE, "invalid time in force for this order")
    limit_ticks = None if market_order else inst.price_to_ticks(price)
    lots = inst.amount_to_lots(amount)
    buys = direction == BUY
    limit_ticks = apply_collar(ex, inst, buys, limit_ticks, collar)
    if coid is not None and coid in session.orders_by_coid:
        raise RpcError(DUPLICATE_CLIENT_ORDER_ID, "client order id already in use")
    if len(account.open_orders) >= ex.config.max_open_orders:
        raise RpcError(TOO_MANY_OPEN_ORDERS, "too many open orders")
    if reduce_only:
        position = account.position_lots(inst.name)
        reducible = -position if buys else position
        if reducible <= 0:
            raise RpcError(REDUCE_ONLY_REJECTED, "reduce-only order would not reduce position")
        lots = min(lots, reducible)
    now = ex.now_s()
    order = Order(order_id=ex.next_order_id(), inst=inst, account=account, session=session,
                  direction=direction, order_type=order_type, time_in_force=tif,
                  price_ticks=None if market_order else limit_ticks, amount_lots=lots,
                  create_time_s=now, persistent=session.persistent)
    order.label, order.client_order_id = label, coid
    order.post_only, order.reject_post_only = post_only, reject_post_only and post_only
    order.reduce_only, order.collar = reduce_only, collar
    order.stp_level, order.stp_action = stp_level, stp_action
    ex.register(order)
    fills = ex.place(order, limit_ticks, now)
    return ex.order_update(order, "insert", fills)


def _find_order(ex: Exchange, session: Session, params: dict[str, Any]) -> Order:
    account = require_login(session)
    order_id = p.string(params, "order_id", required=False)
    coid = p.u64(params, "client_order_id")
    if (order_id is None) == (coid is None):
        raise RpcError(INVALID_REQUEST, "invalid params: give exactly one of order_id, "
                       "client_order_id")
    order = account.open_orders.get(order_id) if order_id is not None else \
        session.orders_by_coid.get(coid)
    if order is None or not order.is_open:
        raise RpcError(ORDER_NOT_FOUND, "order not found")
    return order


def amend(ex: Exchange, session: Session, params: dict[str, Any]) -> dict[str, Any]:
    """``private/amend``: new price and new original amount (volume-safe)."""
    order = _find_order(ex, session, params)
    inst = order.inst
    price = p.number(params, "price")
    amount = p.number(params, "amount")
    collar = p.enum(params, "collar", _COLLARS, "reject")
    ticks = inst.price_to_ticks(price)
    lots = inst.amount_to_lots(amount, allow_zero=True) if amount == 0 else \
        _amend_lots(inst, amount, order.filled_lots)
    limit = apply_collar(ex, inst, order.direction == BUY, ticks, collar)
    now = ex.now_s()
    if lots <= order.filled_lots:
        return ex.cancel_order(order, "client_cancel", now, change_reason="amend")
    book = ex.markets[inst.name].book
    if limit == order.price_ticks and lots <= order.amount_lots:
        order.amount_lots = lots  # same price, smaller size: keeps queue priority
        return ex.order_update(order, "amend")
    book.remove(order)
    order.price_ticks = limit
    order.amount_lots = lots
    fills = ex.place(order, limit, now)
    return ex.order_update(order, "amend", fills)


def _amend_lots(inst: Instrument, amount: float, filled_lots: int) -> int:
    try:
        return inst.amount_to_lots(amount)
    except RpcError as exc:
        # Below the minimum is fine when it only deletes an order already filled that far.
        lots = round(amount / inst.spec.volume_tick_size)
        aligned = abs(lots * inst.spec.volume_tick_size - amount) <= 1e-9 * max(1.0, amount)
        if aligned and 0 < lots <= filled_lots:
            return lots
        raise RpcError(BAD_AMOUNT, exc.message) from None


def cancel(ex: Exchange, session: Session, params: dict[str, Any]) -> dict[str, Any]:
    """``private/cancel`` by order_id or client_order_id."""
    order = _find_order(ex, session, params)
    return ex.cancel_order(order, "client_cancel", ex.now_s())


def cancel_all(ex: Exchange, session: Session, params: dict[str, Any]) -> int:
    """``private/cancel_all``: every open order of the account, across sessions."""
    account = require_login(session)
    now = ex.now_s()
    orders = list(account.open_orders.values())
    for order in orders:
        ex.cancel_order(order, "client_bulk_cancel", now)
    return len(orders)


def cancel_session(ex: Exchange, session: Session, params: dict[str, Any]) -> None:
    """``private/cancel_session``: like a disconnect, for cancel-on-disconnect sessions only."""
    require_login(session)
    if session.persistent:
        raise RpcError(PERSISTENT_SESSION, "session is persistent (set cancel_on_disconnect)")
    ex.cancel_session_orders(session, ex.now_s())
    for product in list(session.mm_groups):
        ex.emit(session, "session.mm_protection",
                {"product": product, "remaining_amount": 0.0, "reason": "session_end"})
    session.mm_groups.clear()


def open_orders(ex: Exchange, session: Session, params: dict[str, Any]) -> list[dict[str, Any]]:
    """``private/open_orders``: all open orders of the account."""
    account = require_login(session)
    return [o.to_status("existing") for o in account.open_orders.values()]
