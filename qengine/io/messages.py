"""The one module that knows Thalex JSON shapes (sans-IO).

Channel names are parsed (:func:`channel_kind`) and notification payloads decoded into frozen
records (:func:`decode_notification`); frames are classified by ``jsonrpc.classify``. Decoders for
single objects (``decode_order``, ``decode_ticker``, ...) raise :class:`MessageError` with a
specific text; :func:`decode_notification` never raises: it counts every rejection in a
:class:`DecodeStats` and keeps a bounded sample of the latest reasons for the caller to report.

Records keep exchange units (quote-currency prices, base-currency amounts, Unix seconds as float);
``qengine.units`` converts them to ticks, lots and nanoseconds. The record classes and decoders live
in ``messages_market``, ``messages_orders``, ``messages_account`` and ``messages_encode`` and are
re-exported here.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .messages_account import (
    FILL_TRADE_TYPES,
    AccountSummary,
    CashBalance,
    MassQuoteError,
    MassQuoteResult,
    MmProtectionUpdate,
    PortfolioEntry,
    SystemEvent,
    Trade,
    decode_account_summary,
    decode_mass_quote_result,
    decode_mm_protection,
    decode_portfolio_entry,
    decode_portfolio_row,
    decode_system_event,
    decode_trade,
    decode_trade_history_page,
    decode_trade_row,
)
from .messages_base import MessageError, SkippedRow, as_list
from .messages_encode import (
    MAX_MASS_QUOTE_INSTRUMENTS,
    MAX_QUOTE_LEVELS,
    QuoteLevel,
    QuoteRequest,
    decode_mass_quote_params,
    insert_params,
    mass_quote_params,
)
from .messages_market import (
    BookLevel,
    BookTrade,
    BookUpdate,
    IndexPrice,
    Instrument,
    InstrumentChange,
    Lwt,
    PublicTrade,
    Ticker,
    decode_book,
    decode_index,
    decode_instrument,
    decode_instrument_change,
    decode_instrument_row,
    decode_lwt,
    decode_public_trade,
    decode_ticker,
)
from .messages_orders import (
    DIRECTIONS,
    LIVE_STATUSES,
    ORDER_STATUSES,
    Fill,
    OrderUpdate,
    decode_fill,
    decode_order,
)

__all__ = [
    "DELAYS",
    "DIRECTIONS",
    "FILL_TRADE_TYPES",
    "LIVE_STATUSES",
    "MAX_MASS_QUOTE_INSTRUMENTS",
    "MAX_QUOTE_LEVELS",
    "ORDER_STATUSES",
    "UNKNOWN",
    "AccountSummary",
    "BookLevel",
    "BookTrade",
    "BookUpdate",
    "CashBalance",
    "DecodeStats",
    "Fill",
    "IndexPrice",
    "Instrument",
    "InstrumentChange",
    "Lwt",
    "MassQuoteError",
    "MassQuoteResult",
    "MessageError",
    "MmProtectionUpdate",
    "Notification",
    "OrderUpdate",
    "PortfolioEntry",
    "PublicTrade",
    "QuoteLevel",
    "QuoteRequest",
    "SkippedRow",
    "SystemEvent",
    "Ticker",
    "Trade",
    "channel_kind",
    "decode_account_summary",
    "decode_book",
    "decode_fill",
    "decode_index",
    "decode_instrument",
    "decode_instrument_change",
    "decode_instrument_row",
    "decode_lwt",
    "decode_mass_quote_params",
    "decode_mass_quote_result",
    "decode_mm_protection",
    "decode_notification",
    "decode_order",
    "decode_portfolio_entry",
    "decode_portfolio_row",
    "decode_public_trade",
    "decode_system_event",
    "decode_ticker",
    "decode_trade",
    "decode_trade_history_page",
    "decode_trade_row",
    "insert_params",
    "mass_quote_params",
]

UNKNOWN = "unknown"
DELAYS = frozenset({"100ms", "200ms", "500ms", "1000ms", "5000ms", "60000ms", "raw"})
_RECENT_TRADE_CATEGORIES = frozenset({"single", "all", "options", "future_rolls"})
_FIXED_CHANNELS = frozenset(
    {
        "session.orders",
        "account.orders",
        "account.persistent_orders",
        "account.portfolio",
        "account.trade_history",
        "account.summary",
        "session.mm_protection",
        "system",
        "instruments",
    }
)
_MAX_REASON = 200  # characters kept per sampled rejection reason
#: channel_kind per channel name seen (names come from the server: bounded).
_KINDS: dict[str, tuple[str, str | None]] = {}
_MAX_KINDS = 4096
# A decoder bug must not kill the listener either; these are counted like malformed payloads.
_DECODE_ERRORS = (
    MessageError,
    TypeError,
    ValueError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    RecursionError,
)


def channel_kind(channel_name: Any) -> tuple[str, str | None]:
    """Split a channel name into its kind and the instrument or underlying it names.

    Parameters
    ----------
    channel_name : str
        E.g. ``ticker.BTC-PERPETUAL.raw``, ``lwt.X.100ms``, ``price_index.BTCUSD``,
        ``book.X.none.all.100ms``, ``recent_trades.X.single``, ``session.orders``, ``system``.

    Returns
    -------
    tuple of (str, str or None)
        The kind (``"ticker"``, ``"lwt"``, ``"price_index"``, ``"book"``, ``"recent_trades"``,
        ``"instruments"``, or the full name of a fixed channel such as ``"session.orders"``) and
        the instrument or underlying (None for fixed channels); ``("unknown", None)`` otherwise.
    """
    if type(channel_name) is not str:
        return UNKNOWN, None
    if channel_name in _FIXED_CHANNELS:
        return channel_name, None
    head, _, rest = channel_name.partition(".")
    parts = rest.split(".")
    target = parts[0]
    if not target:
        return UNKNOWN, None
    if head in ("ticker", "lwt") and len(parts) == 2 and parts[1] in DELAYS:
        return head, target
    if head == "price_index" and len(parts) == 1:
        return head, target
    # book.<instrument>.<grouping>.<nlevels>.<delay>; a decimal grouping may hold a dot itself.
    if head == "book" and len(parts) >= 4 and parts[-1] in DELAYS:
        return head, target
    if head == "recent_trades" and len(parts) == 2 and parts[1] in _RECENT_TRADE_CATEGORIES:
        return head, target
    if head == "instruments":
        return head, rest  # filtered form instruments.<type>.<underlying>.<expiration>
    return UNKNOWN, None


@dataclass(frozen=True, slots=True)
class Notification:
    """A decoded subscription push.

    ``kind`` and ``key`` come from :func:`channel_kind`; ``records`` holds one record for object
    payloads (ticker, lwt, book, index, summary, system) and one per valid item for array payloads;
    ``snapshot`` is the frame's top-level flag (initial full state).
    """

    kind: str
    key: str | None
    records: tuple[Any, ...]
    snapshot: bool


@dataclass(slots=True)
class DecodeStats:
    """Counters of :func:`decode_notification`, for the caller to report (never raised).

    Attributes
    ----------
    decoded : dict[str, int]
        Notifications accepted, per kind.
    unknown_channels : int
        Notifications on channels :func:`channel_kind` does not know.
    malformed : int
        Notifications rejected as a whole (bad payload, or a snapshot with a bad item).
    malformed_items : int
        Items of array payloads dropped because they were malformed.
    recent_rejections : deque[str]
        The last ``sample_size`` rejection reasons, newest last.
    """

    sample_size: int = 8
    decoded: dict[str, int] = field(default_factory=dict)
    unknown_channels: int = 0
    malformed: int = 0
    malformed_items: int = 0
    recent_rejections: deque[str] = field(init=False)

    def __post_init__(self) -> None:
        self.recent_rejections = deque(maxlen=self.sample_size)

    @property
    def rejected(self) -> int:
        """Every notification or item turned away, whatever the cause."""
        return self.unknown_channels + self.malformed + self.malformed_items

    def note_rejection(self, channel_name: Any, reason: str) -> None:
        """Keep a bounded, truncated sample of why something was rejected."""
        text = f"{str(channel_name)[:80]}: {reason}"
        self.recent_rejections.append(text[:_MAX_REASON])

    def as_dict(self) -> dict[str, Any]:
        """A plain snapshot for telemetry."""
        return {
            "decoded": dict(self.decoded),
            "unknown_channels": self.unknown_channels,
            "malformed": self.malformed,
            "malformed_items": self.malformed_items,
            "recent_rejections": list(self.recent_rejections),
        }


def _object(decode: Callable[[Any], Any]) -> Callable[[Any, str | None, bool], Any]:
    return lambda payload, _key, _snapshot: decode(payload)


_OBJECT_DECODERS: dict[str, Callable[[Any, Any, bool], Any]] = {
    "ticker": lambda payload, key, _snapshot: decode_ticker(payload, key),
    "lwt": lambda payload, key, _snapshot: decode_lwt(payload, key),
    "book": decode_book,
    "price_index": _object(decode_index),
    "account.summary": _object(decode_account_summary),
    "system": _object(decode_system_event),
}
_ARRAY_DECODERS: dict[str, Callable[[Any], Any]] = {
    "session.orders": decode_order,
    "account.orders": decode_order,
    "account.persistent_orders": decode_order,
    "account.portfolio": decode_portfolio_row,
    "account.trade_history": decode_trade_row,
    "session.mm_protection": decode_mm_protection,
    "recent_trades": decode_public_trade,
    "instruments": decode_instrument_change,
}


def _reason(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, MessageError) else f"{type(exc).__name__}: {exc}"


def _decode_items(
    kind: str, payload: Any, snapshot: bool, channel_name: str, stats: DecodeStats
) -> tuple[Any, ...] | None:
    decode = _ARRAY_DECODERS[kind]
    items = as_list(payload, f"{kind} payload")
    records = []
    bad = 0
    for index, item in enumerate(items):
        try:
            records.append(decode(item))
        except _DECODE_ERRORS as exc:
            bad += 1
            stats.note_rejection(channel_name, f"item {index}: {_reason(exc)}")
    if not bad:
        return tuple(records)
    if snapshot or not records:
        # A partial snapshot would silently hide orders or positions: drop it whole.
        stats.malformed += 1
        return None
    stats.malformed_items += bad
    return tuple(records)


def decode_notification(
    channel_name: Any,
    payload: Any,
    snapshot: bool = False,
    stats: DecodeStats | None = None,
) -> Notification | None:
    """Decode one subscription push into records; never raises.

    Parameters
    ----------
    channel_name : str
        The frame's ``channel_name``.
    payload : Any
        The frame's ``notification`` value (already JSON-decoded).
    snapshot : bool
        The frame's top-level ``snapshot`` flag.
    stats : DecodeStats, optional
        Counters to update; a throwaway one is used when None.

    Returns
    -------
    Notification or None
        None when the channel is unknown or the payload malformed (counted in ``stats``).
        In array payloads, malformed items are dropped and counted while the rest is kept,
        except in a snapshot, which is rejected whole.
    """
    if stats is None:
        stats = DecodeStats(sample_size=1)
    kind_key = _KINDS.get(channel_name) if type(channel_name) is str else None
    if kind_key is None:
        kind_key = channel_kind(channel_name)
        if type(channel_name) is str and len(_KINDS) < _MAX_KINDS:
            _KINDS[channel_name] = kind_key
    kind, key = kind_key
    if kind == UNKNOWN:
        stats.unknown_channels += 1
        stats.note_rejection(channel_name, "unknown channel")
        return None
    snapshot = snapshot is True
    try:
        if kind in _ARRAY_DECODERS:
            records = _decode_items(kind, payload, snapshot, channel_name, stats)
            if records is None:
                return None
        else:
            records = (_OBJECT_DECODERS[kind](payload, key, snapshot),)
    except _DECODE_ERRORS as exc:
        stats.malformed += 1
        stats.note_rejection(channel_name, _reason(exc))
        return None
    stats.decoded[kind] = stats.decoded.get(kind, 0) + 1
    return Notification(kind, key, records, snapshot)
