"""Market-data records and their decoders: instruments, ticker, lwt, index, book, public trades.

Values stay in exchange units (prices in quote currency, amounts in base currency, times in Unix
seconds as floats); ``qengine.units`` turns them into ticks, lots and nanoseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from operator import itemgetter
from typing import Any, NamedTuple

from .messages_base import (
    MessageError,
    SkippedRow,
    as_dict,
    as_list,
    level,
    num,
    opt_int,
    opt_num,
    opt_string,
    plain_numbers,
    positive,
    skipped_row,
    string,
    to_float,
)

__all__ = [
    "BookLevel",
    "BookTrade",
    "BookUpdate",
    "IndexPrice",
    "Instrument",
    "InstrumentChange",
    "Lwt",
    "PublicTrade",
    "Ticker",
    "decode_book",
    "decode_index",
    "decode_instrument",
    "decode_instrument_change",
    "decode_instrument_row",
    "decode_lwt",
    "decode_public_trade",
    "decode_ticker",
]

TAKER_SIDES = frozenset({"buy", "sell"})


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable instrument (thalex-protocol.md 5).

    ``tick_size`` is in quote currency; ``volume_tick_size`` and ``min_order_amount`` in base
    currency; ``expiration_timestamp`` in Unix seconds (None for perpetuals).
    """

    instrument_name: str
    product: str | None
    type: str
    underlying: str | None
    tick_size: float
    volume_tick_size: float
    min_order_amount: float
    base_currency: str | None
    expiration_timestamp: int | None
    option_type: str | None = None
    strike_price: float | None = None


@dataclass(frozen=True, slots=True)
class InstrumentChange:
    """An ``instruments`` channel item: ``action`` is ``"added"`` or ``"removed"``."""

    action: str
    instrument: Instrument


@dataclass(frozen=True, slots=True)
class Ticker:
    """A ticker (4.1). Prices in quote currency, amounts in base currency, times in Unix seconds.

    A side whose price or amount is missing, null or zero is None on both fields: the decoder never
    invents a touch.
    """

    instrument_name: str
    best_bid_price: float | None
    best_bid_amount: float | None
    best_ask_price: float | None
    best_ask_amount: float | None
    last_price: float | None
    mark_price: float
    mark_timestamp: float
    index: float
    funding_rate: float | None
    funding_mark: float | None
    collar_low: float | None
    collar_high: float | None


@dataclass(frozen=True, slots=True)
class Lwt:
    """A lightweight ticker (4.2); sides as in :class:`Ticker`, ``mark_volatility`` for options."""

    instrument_name: str
    best_bid_price: float | None
    best_bid_amount: float | None
    best_ask_price: float | None
    best_ask_amount: float | None
    mark_price: float
    last_price: float | None
    mark_volatility: float | None


@dataclass(frozen=True, slots=True)
class IndexPrice:
    """A ``price_index`` push (4.3): ``price`` in quote currency, ``timestamp`` in Unix seconds."""

    index_name: str
    price: float
    timestamp: float
    previous_settlement_price: float | None = None
    expected_expiration_price: float | None = None


class BookLevel(NamedTuple):
    """One book level change: price (quote ccy), amount (base ccy; 0 empties the level)."""

    price: float
    amount: float
    outright_amount: float


class BookTrade(NamedTuple):
    """A trade tick in the book feed: ``direction`` is the taker side, ``time`` Unix seconds."""

    price: float
    amount: float
    direction: str
    time: float
    implied_taker: bool


@dataclass(frozen=True, slots=True)
class BookUpdate:
    """A ``book`` push (4.4); a snapshot holds the full state, otherwise level changes."""

    instrument_name: str
    bid_changes: tuple[BookLevel, ...]
    ask_changes: tuple[BookLevel, ...]
    trades: tuple[BookTrade, ...]
    total_bid_amount: float | None
    total_ask_amount: float | None
    time: float | None
    snapshot: bool


@dataclass(frozen=True, slots=True)
class PublicTrade:
    """A ``recent_trades`` row (4.9): price (quote ccy), amount (base ccy), time (Unix s)."""

    price: float
    amount: float
    taker_side: str
    time: float
    instrument_name: str
    implied_taker: bool = False


def decode_instrument(obj: Any) -> Instrument:
    """Decode an Instrument object; tick sizes must be positive numbers."""
    obj = as_dict(obj, "instrument")
    volume_tick_size = positive(obj, "volume_tick_size")
    minimum = opt_num(obj, "min_order_amount")
    if minimum is not None and minimum <= 0.0:
        raise MessageError(f"field 'min_order_amount' must be positive, got {minimum!r}")
    return Instrument(
        instrument_name=string(obj, "instrument_name"),
        product=opt_string(obj, "product"),
        type=string(obj, "type"),
        underlying=opt_string(obj, "underlying"),
        tick_size=positive(obj, "tick_size"),
        volume_tick_size=volume_tick_size,
        min_order_amount=volume_tick_size if minimum is None else minimum,
        base_currency=opt_string(obj, "base_currency"),
        expiration_timestamp=opt_int(obj, "expiration_timestamp"),
        option_type=opt_string(obj, "option_type"),
        strike_price=opt_num(obj, "strike_price"),
    )


def decode_instrument_row(obj: Any) -> Instrument | SkippedRow:
    """A ``public/instruments`` row as an :class:`Instrument`, or a :class:`SkippedRow` naming the
    missing or invalid field (the schema requires none; only our own instruments need them)."""
    try:
        return decode_instrument(obj)
    except MessageError as exc:
        return skipped_row("instrument", obj, str(exc))


def decode_instrument_change(obj: Any) -> InstrumentChange:
    """Decode an ``instruments`` channel item ``{"added": {...}}`` or ``{"removed": {...}}``."""
    obj = as_dict(obj, "instruments item")
    for action in ("added", "removed"):
        if action in obj:
            return InstrumentChange(action, decode_instrument(obj[action]))
    raise MessageError("instruments item has neither 'added' nor 'removed'")


def _side(price: float | None, amount: float | None, key: str) -> tuple[float | None, float | None]:
    if amount is not None and amount < 0.0:
        raise MessageError(f"field {key!r} must not be negative, got {amount!r}")
    if price is None or not amount:
        return None, None  # an empty side stays empty
    return price, amount


_TICKER_KEYS = ("best_bid_price", "best_bid_amount", "best_ask_price", "best_ask_amount",
                "last_price", "mark_price", "mark_timestamp", "index", "funding_rate",
                "funding_mark", "collar_low", "collar_high")


_TICKER_GETTER = itemgetter(*_TICKER_KEYS)


def decode_ticker(obj: Any, instrument_name: str) -> Ticker:
    """Decode a Ticker object for ``instrument_name`` (taken from the channel name)."""
    # The hot path (tens of thousands a second): one pass over the fields; anything unusual
    # (a missing required field, a non-number, a negative amount) goes the checking way below,
    # which raises the specific error.
    values = plain_numbers(obj, _TICKER_KEYS, _TICKER_GETTER) if type(obj) is dict else None
    if values is not None:
        (bid_price, bid_amount, ask_price, ask_amount, last, mark, stamp, index, funding_rate,
         funding_mark, collar_low, collar_high) = values
        if mark is not None and stamp is not None and index is not None and not (
                (bid_amount is not None and bid_amount < 0.0)
                or (ask_amount is not None and ask_amount < 0.0)):
            if bid_price is None or not bid_amount:
                bid_price = bid_amount = None
            if ask_price is None or not ask_amount:
                ask_price = ask_amount = None
            return Ticker(instrument_name, bid_price, bid_amount, ask_price, ask_amount, last,
                          mark, stamp, index, funding_rate, funding_mark, collar_low,
                          collar_high)
    return _decode_ticker_checked(obj, instrument_name)


def _decode_ticker_checked(obj: Any, instrument_name: str) -> Ticker:
    obj = as_dict(obj, "ticker")
    bid_price, bid_amount = _side(
        opt_num(obj, "best_bid_price"), opt_num(obj, "best_bid_amount"), "best_bid_amount"
    )
    ask_price, ask_amount = _side(
        opt_num(obj, "best_ask_price"), opt_num(obj, "best_ask_amount"), "best_ask_amount"
    )
    return Ticker(
        instrument_name=instrument_name,
        best_bid_price=bid_price,
        best_bid_amount=bid_amount,
        best_ask_price=ask_price,
        best_ask_amount=ask_amount,
        last_price=opt_num(obj, "last_price"),
        mark_price=num(obj, "mark_price"),
        mark_timestamp=num(obj, "mark_timestamp"),
        index=num(obj, "index"),
        funding_rate=opt_num(obj, "funding_rate"),
        funding_mark=opt_num(obj, "funding_mark"),
        collar_low=opt_num(obj, "collar_low"),
        collar_high=opt_num(obj, "collar_high"),
    )


def _lwt_side(obj: dict, key: str) -> tuple[float | None, float | None]:
    value = obj.get(key)
    if value is None or value == []:
        return None, None
    price, amount, _ = level(value, key)
    return _side(price, amount, key)


def decode_lwt(obj: Any, instrument_name: str) -> Lwt:
    """Decode a lightweight ticker ``{"b": [p, a, o], "a": [...], "m": mark, "l": last}``."""
    obj = as_dict(obj, "lwt")
    bid_price, bid_amount = _lwt_side(obj, "b")
    ask_price, ask_amount = _lwt_side(obj, "a")
    return Lwt(
        instrument_name=instrument_name,
        best_bid_price=bid_price,
        best_bid_amount=bid_amount,
        best_ask_price=ask_price,
        best_ask_amount=ask_amount,
        mark_price=num(obj, "m"),
        last_price=opt_num(obj, "l"),
        mark_volatility=opt_num(obj, "v"),
    )


def decode_index(obj: Any) -> IndexPrice:
    """Decode an Index object (``price_index`` channel or ``public/index`` result)."""
    obj = as_dict(obj, "index")
    return IndexPrice(
        index_name=string(obj, "index_name"),
        price=num(obj, "price"),
        timestamp=num(obj, "timestamp"),
        previous_settlement_price=opt_num(obj, "previous_settlement_price"),
        expected_expiration_price=opt_num(obj, "expected_expiration_price"),
    )


def _levels(obj: dict, key: str) -> tuple[BookLevel, ...]:
    rows = obj.get(key)
    if rows is None:
        return ()
    return tuple(BookLevel(*level(row, key)) for row in as_list(rows, key))


def _book_trade(row: Any) -> BookTrade:
    row = as_list(row, "book trade")
    if len(row) < 4:
        raise MessageError(f"book trade must have 4 or 5 items, got {len(row)}")
    direction = row[2]
    if type(direction) is not str or direction not in TAKER_SIDES:
        raise MessageError("book trade direction must be 'buy' or 'sell'")
    implied = row[4] if len(row) > 4 else False
    if type(implied) is not bool:
        raise MessageError("book trade implied_taker must be a boolean")
    amount = to_float(row[1], "trades[1]")
    if amount <= 0.0:
        raise MessageError(f"book trade amount must be positive, got {amount!r}")
    return BookTrade(
        to_float(row[0], "trades[0]"), amount, direction, to_float(row[3], "trades[3]"), implied
    )


def decode_book(obj: Any, instrument_name: str, snapshot: bool = False) -> BookUpdate:
    """Decode a ``book`` push; ``snapshot`` comes from the frame's top-level flag."""
    obj = as_dict(obj, "book")
    trades = obj.get("trades")
    return BookUpdate(
        instrument_name=instrument_name,
        bid_changes=_levels(obj, "bid_changes"),
        ask_changes=_levels(obj, "ask_changes"),
        trades=() if trades is None else tuple(map(_book_trade, as_list(trades, "trades"))),
        total_bid_amount=opt_num(obj, "total_bid_amount"),
        total_ask_amount=opt_num(obj, "total_ask_amount"),
        time=opt_num(obj, "time"),
        snapshot=snapshot,
    )


def decode_public_trade(row: Any) -> PublicTrade:
    """Decode a ``recent_trades`` row ``[price, size, side, timestamp, instrument, implied]``."""
    row = as_list(row, "recent trade")
    if len(row) < 5:
        raise MessageError(f"recent trade must have 5 or 6 items, got {len(row)}")
    side = row[2]
    if type(side) is not str or side not in TAKER_SIDES:
        raise MessageError("recent trade side must be 'buy' or 'sell'")
    name = row[4]
    if type(name) is not str or not name:
        raise MessageError("recent trade instrument name must be a non-empty string")
    implied = row[5] if len(row) > 5 else False
    if type(implied) is not bool:
        raise MessageError("recent trade implied_taker must be a boolean")
    amount = to_float(row[1], "recent_trades[1]")
    if amount <= 0.0:
        raise MessageError(f"recent trade size must be positive, got {amount!r}")
    return PublicTrade(
        to_float(row[0], "recent_trades[0]"),
        amount,
        side,
        to_float(row[3], "recent_trades[3]"),
        name,
        implied,
    )
