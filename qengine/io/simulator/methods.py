"""One handler per JSON-RPC method, and the dispatch table with each method's rate bucket.

A handler is ``handler(exchange, session, params) -> result`` and raises ``RpcError`` to fail
without side effects. Order methods live in ``trading``, mass quoting in ``massquote``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..auth import AuthError, verify_login_token
from . import massquote, trading
from . import params as p
from .errors import AUTH_FAILED, INVALID_REQUEST, RpcError
from .exchange import Exchange
from .sessions import Session
from .trading import instrument, require_login

UNKNOWN_UNDERLYING = 40
Handler = Callable[[Exchange, Session, dict[str, Any]], Any]


def login(ex: Exchange, session: Session, params: dict[str, Any]) -> dict[str, Any]:
    """``public/login``: verify the RS512 JWT against the registered keys (wall-clock iat)."""
    token = p.string(params, "token")
    wanted = p.string(params, "account", required=False)
    try:
        key_id = verify_login_token(token, ex.public_keys, time.time())
    except AuthError as exc:
        raise RpcError(AUTH_FAILED, f"authentication failed: {exc}") from None
    account = ex.account_for_key(key_id)
    if wanted is not None and wanted != account.number:
        raise RpcError(AUTH_FAILED, "authentication failed: unknown account")
    if session.account is not None and session in session.account.sessions:
        session.account.sessions.remove(session)
    session.account = account
    session.key_id = key_id
    account.sessions.append(session)
    return {"account_number": account.number}


def set_cancel_on_disconnect(ex: Exchange, session: Session, params: dict[str, Any]
                             ) -> dict[str, Any]:
    """``private/set_cancel_on_disconnect``: non-persistent session, higher message rate."""
    require_login(session)
    timeout = params.get("timeout_secs")
    if isinstance(timeout, float) and timeout.is_integer():
        timeout = int(timeout)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
        raise RpcError(INVALID_REQUEST, "invalid params: timeout_secs must be a positive integer")
    session.cod_timeout_s = float(timeout)
    session.message_bucket.set_rate(ex.config.message_rate)
    return {"message_rate": round(ex.config.message_rate)}


def instruments(ex: Exchange, session: Session, params: dict[str, Any]) -> list[dict[str, Any]]:
    """``public/instruments`` with the optional filters."""
    underlying = p.string(params, "underlying", required=False)
    kind = p.enum(params, "instrument_type", ("futures", "options", "future_rolls"))
    expiry = p.string(params, "expiry_date", required=False)
    return [inst.to_json() for inst in ex.instruments.values()
            if inst.matches_filter(underlying, kind, expiry)]


def instrument_(ex: Exchange, session: Session, params: dict[str, Any]) -> dict[str, Any]:
    """``public/instrument``."""
    return instrument(ex, params).to_json()


def ticker(ex: Exchange, session: Session, params: dict[str, Any]) -> dict[str, Any]:
    """``public/ticker``."""
    inst = instrument(ex, params)
    return ex.markets[inst.name].ticker(ex.now_s(), ex.config.collar_fraction,
                                        ex.open_interest_lots(inst.name))


def index(ex: Exchange, session: Session, params: dict[str, Any]) -> dict[str, Any]:
    """``public/index``; an unknown underlying is error 40 (community UnknownUnderlying)."""
    underlying = p.string(params, "underlying")
    process = ex.indices.get(underlying)
    if process is None:
        raise RpcError(UNKNOWN_UNDERLYING, f"unknown underlying {underlying}")
    return {"index_name": underlying, "price": round(process.price, 6), "timestamp": ex.now_s()}


def book(ex: Exchange, session: Session, params: dict[str, Any]) -> dict[str, Any]:
    """``public/book``: five levels per side as ``[price, amount, outright_amount]``."""
    inst = instrument(ex, params)
    market = ex.markets[inst.name]

    def rows(is_bid: bool) -> list[list[float]]:
        return [[inst.price(t), inst.amount(n), inst.amount(n)]
                for t, n in market.book.levels(is_bid)[:5]]
    result = {"bids": rows(True), "asks": rows(False), "time": ex.now_s()}
    if market.last_price_ticks is not None:  # a number in the schema: left out, not null
        result["last"] = inst.price(market.last_price_ticks)
    return result


def system_info(ex: Exchange, session: Session, params: dict[str, Any]) -> dict[str, Any]:
    """``public/system_info`` (a cheap round-trip probe)."""
    return {"environment": "testnet", "api_version": "2.52", "banners": []}


def public_subscribe(ex: Exchange, session: Session, params: dict[str, Any]) -> list[str]:
    """``public/subscribe``: public channels only; invalid names are dropped silently."""
    return ex.publisher.subscribe(session, p.string_list(params, "channels"), allow_private=False)


def private_subscribe(ex: Exchange, session: Session, params: dict[str, Any]) -> list[str]:
    """``private/subscribe``: private (and, leniently, public) channels; needs login."""
    require_login(session)
    return ex.publisher.subscribe(session, p.string_list(params, "channels"), allow_private=True)


def unsubscribe(ex: Exchange, session: Session, params: dict[str, Any]) -> list[str]:
    """``unsubscribe`` (aliases ``public/unsubscribe``, ``private/unsubscribe``)."""
    return ex.publisher.unsubscribe(session, p.string_list(params, "channels"))


def portfolio(ex: Exchange, session: Session, params: dict[str, Any]) -> list[dict[str, Any]]:
    """``private/portfolio``."""
    require_login(session)
    return ex.publisher.portfolio(session)


def account_summary(ex: Exchange, session: Session, params: dict[str, Any]) -> dict[str, Any]:
    """``private/account_summary``."""
    require_login(session)
    return ex.publisher.summary(session)


def _page(rows: list[dict[str, Any]], params: dict[str, Any], time_key: str
          ) -> tuple[list[dict[str, Any]], str | None]:
    """Time window, sort, bookmark (an offset) and limit shared by the history methods."""
    limit = p.number(params, "limit", required=False)
    if limit is not None and (not limit.is_integer() or not 1 <= limit <= 1000):
        raise RpcError(INVALID_REQUEST, "invalid params: limit must be an integer in [1, 1000]")
    low = p.number(params, "time_low", required=False)
    high = p.number(params, "time_high", required=False)
    sort = p.enum(params, "sort", ("ascending", "descending"), "descending")
    bookmark = p.string(params, "bookmark", required=False)
    if bookmark is not None and not bookmark.isdigit():
        raise RpcError(INVALID_REQUEST, "invalid params: bad bookmark")
    rows = [r for r in rows if (low is None or r[time_key] >= low) and
            (high is None or r[time_key] <= high)]
    rows.sort(key=lambda r: r[time_key], reverse=sort == "descending")
    start = int(bookmark) if bookmark else 0
    end = start + int(limit or 1000)
    return rows[start:end], (str(end) if end < len(rows) else None)


def trade_history(ex: Exchange, session: Session, params: dict[str, Any]) -> dict[str, Any]:
    """``private/trade_history`` with the filters market makers use."""
    account = require_login(session)
    names = p.comma_set(params, "instrument_names")
    order_ids = p.comma_set(params, "order_ids")
    direction = p.enum(params, "direction", ("buy", "sell"))
    label = p.string(params, "label", required=False)
    # Non-fill rows (transfers, daily marks) may lack any of these fields: filter with get.
    rows = [t for t in account.trades
            if (names is None or t.get("instrument_name") in names)
            and (order_ids is None or t.get("order_id") in order_ids)
            and (direction is None or t.get("direction") == direction)
            and (label is None or t.get("label") == label)]
    page, bookmark = _page(rows, params, "time")
    return _with_bookmark({"trades": page}, bookmark)


def order_history(ex: Exchange, session: Session, params: dict[str, Any]) -> dict[str, Any]:
    """``private/order_history``: closed orders (unfilled mass quotes excluded)."""
    account = require_login(session)
    rows = [o.to_history() for o in account.closed_orders]
    page, bookmark = _page(rows, params, "close_time")
    return _with_bookmark({"orders": page}, bookmark)


def _with_bookmark(result: dict[str, Any], bookmark: str | None) -> dict[str, Any]:
    # The schema types ``bookmark`` as a string: on the last page it is left out, not null.
    if bookmark is not None:
        result["bookmark"] = bookmark
    return result


MESSAGE, CANCEL = "message", "cancel"

METHODS: dict[str, tuple[Handler, str]] = {
    "public/login": (login, MESSAGE),
    "private/set_cancel_on_disconnect": (set_cancel_on_disconnect, MESSAGE),
    "public/instruments": (instruments, MESSAGE),
    "public/instrument": (instrument_, MESSAGE),
    "public/ticker": (ticker, MESSAGE),
    "public/index": (index, MESSAGE),
    "public/book": (book, MESSAGE),
    "public/system_info": (system_info, MESSAGE),
    "public/subscribe": (public_subscribe, MESSAGE),
    "private/subscribe": (private_subscribe, MESSAGE),
    "unsubscribe": (unsubscribe, MESSAGE),
    "public/unsubscribe": (unsubscribe, MESSAGE),
    "private/unsubscribe": (unsubscribe, MESSAGE),
    "private/insert": (trading.insert, MESSAGE),
    "private/buy": (lambda ex, s, prm: trading.insert(ex, s, prm, "buy"), MESSAGE),
    "private/sell": (lambda ex, s, prm: trading.insert(ex, s, prm, "sell"), MESSAGE),
    "private/amend": (trading.amend, MESSAGE),
    "private/cancel": (trading.cancel, CANCEL),
    "private/cancel_all": (trading.cancel_all, CANCEL),
    "private/cancel_session": (trading.cancel_session, CANCEL),
    "private/open_orders": (trading.open_orders, MESSAGE),
    "private/mass_quote": (massquote.mass_quote, MESSAGE),
    "private/cancel_mass_quote": (massquote.cancel_mass_quote, CANCEL),
    "private/set_mm_protection": (massquote.set_mm_protection, MESSAGE),
    "private/portfolio": (portfolio, MESSAGE),
    "private/account_summary": (account_summary, MESSAGE),
    "private/trade_history": (trade_history, MESSAGE),
    "private/order_history": (order_history, MESSAGE),
}
INSERT_METHODS = frozenset({"private/insert", "private/buy", "private/sell"})
