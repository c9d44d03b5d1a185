"""Account records and their decoders: portfolio, trades, summary, mm protection, mass quotes
(orders and fills: ``messages_orders``).

Values stay in exchange units (prices in quote currency, amounts in base currency, times in Unix
seconds as floats). Money-relevant enums (``direction``, ``status``, ``maker_taker``) are checked
against the protocol's closed sets; descriptive ones (reasons, order types) are passed through so
that a new value from the exchange does not drop an order update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .messages_base import (
    MessageError,
    SkippedRow,
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
    req,
    skipped_row,
    string,
    to_int,
)
from .messages_orders import DIRECTIONS, MAKER_TAKER

__all__ = [
    "FILL_TRADE_TYPES",
    "AccountSummary",
    "CashBalance",
    "MassQuoteError",
    "MassQuoteResult",
    "MmProtectionUpdate",
    "PortfolioEntry",
    "SystemEvent",
    "Trade",
    "decode_account_summary",
    "decode_mass_quote_result",
    "decode_mm_protection",
    "decode_portfolio_entry",
    "decode_portfolio_row",
    "decode_system_event",
    "decode_trade",
    "decode_trade_history_page",
    "decode_trade_row",
]

#: ``trade_type`` values of executions of an order; the schema's others (amend, delete,
#: internal_transfer, expiration, daily_mark) are bookkeeping rows, not fills.
FILL_TRADE_TYPES = frozenset({"normal", "block", "combo", "rfq", "liquidation"})


@dataclass(frozen=True, slots=True)
class PortfolioEntry:
    """A portfolio line (3.5): position in base currency (short < 0), money in quote currency."""

    instrument_name: str
    position: float
    mark_price: float | None
    index: float | None
    start_price: float | None
    average_price: float | None
    unrealised_pnl: float | None
    realised_pnl: float | None
    entry_value: float | None
    perpetual_funding_entry_value: float
    unrealised_perpetual_funding: float | None


@dataclass(frozen=True, slots=True)
class Trade:
    """An own fill from ``account.trade_history`` (3.5); units as in :class:`OrderUpdate`.

    The fields a fill cannot be booked without (id, instrument, direction, price, amount) are
    present; the schema makes every field optional, the others may be None.
    """

    trade_id: str
    order_id: str | None
    client_order_id: int | None
    instrument_name: str
    direction: str
    price: float
    amount: float
    fee: float | None
    fee_rate: float | None
    maker_taker: str | None
    position_after: float | None
    time: float | None
    label: str | None
    trade_type: str | None
    perpetual_funding_pnl: float | None
    funding_mark: float | None
    index: float | None


@dataclass(frozen=True, slots=True)
class CashBalance:
    """A cash line of the account summary; ``balance`` in ``currency`` units."""

    currency: str
    balance: float
    collateral_factor: float | None
    collateral_index_price: float | None
    transactable: bool | None


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """Account margin state (3.5), all in quote currency (USD)."""

    unrealised_pnl: float
    cash_collateral: float
    margin: float
    required_margin: float
    remaining_margin: float
    session_realised_pnl: float
    cash: tuple[CashBalance, ...]


@dataclass(frozen=True, slots=True)
class MmProtectionUpdate:
    """A ``session.mm_protection`` item: ``remaining_amount`` (contracts) may go below zero."""

    product: str
    remaining_amount: float
    reason: str


@dataclass(frozen=True, slots=True)
class SystemEvent:
    """A ``system`` push, e.g. ``event == "reconnect"`` at least 10 s before the server closes."""

    event: str


@dataclass(frozen=True, slots=True)
class MassQuoteError:
    """One failed mass-quote side: Thalex ``code``, ``side`` and ``price`` when given."""

    code: int
    message: str
    side: str | None
    price: float | None


@dataclass(frozen=True, slots=True)
class MassQuoteResult:
    """The result of ``private/mass_quote``: sides replaced or deleted, sides failed, errors."""

    n_success: int
    n_fail: int
    errors: tuple[MassQuoteError, ...]


def decode_portfolio_entry(obj: Any) -> PortfolioEntry:
    """Decode a PortfolioEntry; a missing funding entry value means 0 (the spec omits zeros)."""
    obj = as_dict(obj, "portfolio entry")
    funding_entry = opt_num(obj, "perpetual_funding_entry_value")
    return PortfolioEntry(
        instrument_name=string(obj, "instrument_name"),
        position=num(obj, "position"),
        mark_price=opt_num(obj, "mark_price"),
        index=opt_num(obj, "index"),
        start_price=opt_num(obj, "start_price"),
        average_price=opt_num(obj, "average_price"),
        unrealised_pnl=opt_num(obj, "unrealised_pnl"),
        realised_pnl=opt_num(obj, "realised_pnl"),
        entry_value=opt_num(obj, "entry_value"),
        perpetual_funding_entry_value=0.0 if funding_entry is None else funding_entry,
        unrealised_perpetual_funding=opt_num(obj, "unrealised_perpetual_funding"),
    )


def decode_portfolio_row(obj: Any) -> PortfolioEntry | SkippedRow:
    """A portfolio line, or a :class:`SkippedRow` naming what is missing (the schema requires
    no field; only a line of our own instrument needs ``position``)."""
    try:
        return decode_portfolio_entry(obj)
    except MessageError as exc:
        return skipped_row("portfolio entry", obj, str(exc))


def decode_trade(obj: Any) -> Trade:
    """Decode a Trade object (``account.trade_history`` item or ``trade_history`` result row)."""
    obj = as_dict(obj, "trade")
    maker_taker = opt_string(obj, "maker_taker")
    if maker_taker is not None and maker_taker not in MAKER_TAKER:
        raise MessageError("field 'maker_taker' has an unknown value")
    return Trade(
        trade_id=string(obj, "trade_id"),
        order_id=opt_string(obj, "order_id"),
        client_order_id=opt_int(obj, "client_order_id"),
        instrument_name=string(obj, "instrument_name"),
        direction=choice(obj, "direction", DIRECTIONS),
        price=num(obj, "price"),
        amount=non_negative(obj, "amount"),
        fee=opt_num(obj, "fee"),
        fee_rate=opt_num(obj, "fee_rate"),
        maker_taker=maker_taker,
        position_after=opt_num(obj, "position_after"),
        time=opt_num(obj, "time"),
        label=label(obj, "label"),
        trade_type=opt_string(obj, "trade_type"),
        perpetual_funding_pnl=opt_num(obj, "perpetual_funding_pnl"),
        funding_mark=opt_num(obj, "funding_mark"),
        index=opt_num(obj, "index"),
    )


def decode_trade_row(obj: Any) -> Trade | SkippedRow:
    """An ``account.trade_history`` row as a :class:`Trade` when it is a complete fill, else a
    :class:`SkippedRow` (non-fill ``trade_type``, or a missing or invalid field, named)."""
    trade_type = obj.get("trade_type") if type(obj) is dict else None
    if trade_type is not None and (type(trade_type) is not str
                                   or trade_type not in FILL_TRADE_TYPES):
        return skipped_row("trade", obj, f"trade_type {trade_type!r} is not a fill")
    try:
        return decode_trade(obj)
    except MessageError as exc:
        return skipped_row("trade", obj, str(exc))


def decode_trade_history_page(obj: Any) -> tuple[tuple[Trade | SkippedRow, ...], str | None]:
    """Decode a ``private/trade_history`` result ``{"trades": [...], "bookmark": ...}``; rows
    that are not complete fills come back as :class:`SkippedRow` (see :func:`decode_trade_row`)."""
    obj = as_dict(obj, "trade history")
    rows = obj.get("trades")
    trades = () if rows is None else tuple(map(decode_trade_row, as_list(rows, "trades")))
    return trades, opt_string(obj, "bookmark")


def _cash(obj: Any) -> CashBalance:
    obj = as_dict(obj, "cash")
    return CashBalance(
        currency=string(obj, "currency"),
        balance=num(obj, "balance"),
        collateral_factor=opt_num(obj, "collateral_factor"),
        collateral_index_price=opt_num(obj, "collateral_index_price"),
        transactable=opt_bool(obj, "transactable", None),
    )


def decode_account_summary(obj: Any) -> AccountSummary:
    """Decode an AccountSummary (``account.summary`` push or ``account_summary`` result)."""
    obj = as_dict(obj, "account summary")
    cash = obj.get("cash")
    return AccountSummary(
        unrealised_pnl=num(obj, "unrealised_pnl"),
        cash_collateral=num(obj, "cash_collateral"),
        margin=num(obj, "margin"),
        required_margin=num(obj, "required_margin"),
        remaining_margin=num(obj, "remaining_margin"),
        session_realised_pnl=num(obj, "session_realised_pnl"),
        cash=() if cash is None else tuple(map(_cash, as_list(cash, "cash"))),
    )


def decode_mm_protection(obj: Any) -> MmProtectionUpdate:
    """Decode a ``session.mm_protection`` item ``{product, remaining_amount, reason}``."""
    obj = as_dict(obj, "mm protection")
    return MmProtectionUpdate(
        product=string(obj, "product"),
        remaining_amount=num(obj, "remaining_amount"),
        reason=string(obj, "reason"),
    )


def decode_system_event(obj: Any) -> SystemEvent:
    """Decode a ``system`` payload ``{"event": "reconnect"}``."""
    return SystemEvent(string(as_dict(obj, "system"), "event"))


def _mass_quote_error(obj: Any) -> MassQuoteError:
    obj = as_dict(obj, "mass quote error")
    code = req(obj, "code")
    if type(code) is float and code.is_integer():
        code = int(code)
    if type(code) is not int:
        raise MessageError("field 'code' must be an integer")
    message = obj.get("message")
    return MassQuoteError(
        code=code,
        message=message if type(message) is str else "",
        side=opt_string(obj, "side"),
        price=opt_num(obj, "price"),
    )


def decode_mass_quote_result(obj: Any) -> MassQuoteResult:
    """Decode a ``private/mass_quote`` result ``{"n_success", "n_fail", "errors"}``."""
    obj = as_dict(obj, "mass quote result")
    errors = obj.get("errors")
    return MassQuoteResult(
        n_success=to_int(req(obj, "n_success"), "n_success"),
        n_fail=to_int(req(obj, "n_fail"), "n_fail"),
        errors=() if errors is None else tuple(map(_mass_quote_error, as_list(errors, "errors"))),
    )
