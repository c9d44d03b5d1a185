"""Mass quoting and market-maker protection (thalex-protocol.md 3.4 and 4.8).

Our choices where Thalex is silent: mass-quote levels are ordinary limit orders that appear in
``session.orders`` / ``account.orders`` (non-persistent, ``insert_reason`` client_request); a
level that is re-sent with a new price or amount is cancelled with ``delete_reason`` replaced
and a new order inserted; a side deleted by amount 0 / ``[]`` uses ``client_cancel``. Whole-call
problems are RPC errors (6 bad shape, 5 unknown instrument, 23 protection not set or used up;
22 for a protection whose ``trade_amount`` exceeds its ``quote_amount``);
per-side problems (13, 14, 15, 44) go into ``errors`` with ``side`` ``bid`` / ``ask``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from . import params as p
from .errors import (
    INVALID_PROTECTION_GROUP,
    INVALID_REQUEST,
    PROTECTION_NOT_SET,
    QUOTE_TOO_LARGE,
    UNKNOWN_PRODUCT,
    RpcError,
)
from .exchange import Exchange
from .instruments import Instrument
from .orders import BUY, GTC, SELL, Order
from .sessions import MmGroup, Session
from .trading import require_login

_MAX_QUOTES = 100
_MAX_LEVELS = 10


def _levels(raw: Any, name: str) -> list[tuple[Any, Any]]:
    """Normalise a side to ``[(price, amount), ...]``; RpcError 6 for a bad shape."""
    if isinstance(raw, dict) and "p" in raw and "a" in raw:
        return [(raw["p"], raw["a"])]
    if isinstance(raw, list) and len(raw) <= _MAX_LEVELS and all(
            isinstance(level, list) and len(level) == 2 for level in raw):
        return [(level[0], level[1]) for level in raw]
    raise RpcError(INVALID_REQUEST, f"invalid params: quote side {name} malformed")


def _parse_side(inst: Instrument, group: MmGroup, levels: list[tuple[Any, Any]]
                ) -> dict[int, int]:
    """Validated ``{price_ticks: lots}`` of one side (amount 0 drops a level)."""
    wanted: dict[int, int] = {}
    for price, amount in levels:
        if isinstance(price, bool) or not isinstance(price, int | float) or \
                isinstance(amount, bool) or not isinstance(amount, int | float):
            raise RpcError(INVALID_REQUEST, "quote price and amount must be numbers")
        ticks = inst.price_to_ticks(float(price))
        if ticks in wanted:
            raise RpcError(INVALID_REQUEST, "duplicate price in quote side")
        lots = inst.amount_to_lots(float(amount), allow_zero=True)
        if lots * inst.lot > group.quote_amount:
            raise RpcError(QUOTE_TOO_LARGE, "quote larger than protection quote_amount")
        if lots:
            wanted[ticks] = lots
    return wanted


def mass_quote(ex: Exchange, session: Session, params: dict[str, Any]) -> dict[str, Any]:
    """``private/mass_quote`` in single-level and multi-level form."""
    require_login(session)
    quotes = params.get("quotes")
    if not isinstance(quotes, list) or len(quotes) > _MAX_QUOTES or \
            not all(isinstance(q, dict) for q in quotes):
        raise RpcError(INVALID_REQUEST, "invalid params: quotes must be an array of objects")
    options = {
        "label": p.label(params), "post_only": p.boolean(params, "post_only"),
        "reject_post_only": p.boolean(params, "reject_post_only"),
        "stp_level": p.enum(params, "stp_level", ("customer", "account", "disabled"), "customer"),
    }
    plan = []
    for quote in quotes:
        inst = ex.instruments.get(p.string(quote, "i"))
        if inst is None:
            raise RpcError(5, f"unknown instrument {quote.get('i')}")
        group = session.mm_groups.get(inst.spec.product)
        if group is None or group.remaining <= 0:
            raise RpcError(PROTECTION_NOT_SET, f"mm protection not set for {inst.spec.product}")
        sides = [(is_bid, _levels(quote[key], key)) for key, is_bid in (("b", True), ("a", False))
                 if key in quote and quote[key] is not None]
        plan.append((inst, group, sides))
    n_success, errors = 0, []
    now = ex.now_s()
    for inst, group, sides in plan:
        for is_bid, levels in sides:
            try:
                wanted = _parse_side(inst, group, levels)
            except RpcError as exc:
                error = {"code": exc.code, "message": exc.message, "side": "bid" if is_bid else
                         "ask"}
                if len(levels) == 1 and isinstance(levels[0][0], int | float):
                    error["price"] = levels[0][0]
                errors.append(error)
                continue
            _replace_side(ex, session, inst, is_bid, wanted, options, now)
            n_success += 1
    return {"n_success": n_success, "n_fail": len(errors), "errors": errors}


def _replace_side(ex: Exchange, session: Session, inst: Instrument, is_bid: bool,
                  wanted: dict[int, int], options: dict[str, Any], now: float) -> None:
    key = (inst.name, is_bid)
    kept = []
    for order in session.mass_quotes.get(key, []):
        if not order.is_open:
            continue
        if wanted.get(order.price_ticks) == order.amount_lots:
            kept.append(order)  # identical resend: keeps its queue priority
            del wanted[order.price_ticks]
        else:
            reason = "replaced" if order.price_ticks in wanted else "client_cancel"
            ex.cancel_order(order, reason, now)
    for ticks, lots in sorted(wanted.items(), reverse=is_bid):
        order = Order(order_id=ex.next_order_id(), inst=inst, account=session.account,
                      session=session, direction=BUY if is_bid else SELL, order_type="limit",
                      time_in_force=GTC, price_ticks=ticks, amount_lots=lots, create_time_s=now,
                      persistent=False)
        order.mass_quote = True
        order.label = options["label"]
        order.post_only = options["post_only"]
        order.reject_post_only = options["reject_post_only"] and options["post_only"]
        order.stp_level = options["stp_level"]
        ex.register(order)
        kept.append(order)
        fills = ex.place(order, ticks, now)
        ex.order_update(order, "insert", fills)
    session.mass_quotes[key] = [o for o in kept if o.is_open]


def _product(ex: Exchange, params: dict[str, Any], required: bool) -> str | None:
    product = p.string(params, "product", required=required)
    if product is not None and product not in ex.products:
        raise RpcError(UNKNOWN_PRODUCT, f"unknown product {product}")
    return product


def set_mm_protection(ex: Exchange, session: Session, params: dict[str, Any]) -> None:
    """``private/set_mm_protection``: (re)fill the session's group for a product."""
    require_login(session)
    product = _product(ex, params, required=True)
    amount = p.number(params, "amount", required=False)
    trade = p.number(params, "trade_amount", required=amount is None)
    quote = p.number(params, "quote_amount", required=amount is None)
    if amount is not None:
        trade = quote = amount  # deprecated form overwrites both
    if trade <= 0 or quote <= 0:
        raise RpcError(INVALID_REQUEST, "invalid params: protection amounts must be positive")
    group = MmGroup(Fraction(repr(trade)), Fraction(repr(quote)))
    if group.trade_amount > group.quote_amount:
        # Thalex's schema: "The value must be lower or equal to the quote_amount".
        raise RpcError(INVALID_PROTECTION_GROUP,
                       "trade_amount must be lower than or equal to quote_amount")
    session.mm_groups[product] = group
    ex.emit(session, "session.mm_protection",
            {"product": product, "remaining_amount": float(group.remaining), "reason": "refill"})


def cancel_mass_quote(ex: Exchange, session: Session, params: dict[str, Any]) -> None:
    """``private/cancel_mass_quote``: pull mass quotes of every session of the account."""
    account = require_login(session)
    product = _product(ex, params, required=False)
    now = ex.now_s()
    for other in list(account.sessions):
        for order in other.open_mass_quotes(product):
            ex.cancel_order(order, "client_cancel", now)
        for name in [g for g in other.mm_groups if product is None or g == product]:
            del other.mm_groups[name]
            ex.emit(other, "session.mm_protection",
                    {"product": name, "remaining_amount": 0.0, "reason": "client_cancel"})
