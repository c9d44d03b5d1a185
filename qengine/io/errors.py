"""Typed errors of the Thalex client.

Every error answer from the exchange becomes a :class:`ThalexError` subclass chosen by its numeric
``code`` (clients key on the code, never on the message text; thalex-protocol.md 6.1). Codes without
a dedicated class give a plain :class:`ThalexError` that still carries the code. Transport-level
failures are :class:`ConnectionLost` (socket gone, request not known to be executed) and
:class:`RequestTimeout` (no answer in time; the request *may* have been executed).
"""

from __future__ import annotations

from . import error_codes as codes

__all__ = [
    "AuthenticationFailed",
    "BadResponse",
    "CollarBreach",
    "ConnectionLost",
    "DuplicateClientOrderId",
    "InsufficientMargin",
    "InvalidAmount",
    "InvalidPrice",
    "InvalidRequest",
    "InvalidTimeInForce",
    "MmProtectionNotSet",
    "NotLoggedIn",
    "OrderNotFound",
    "PersistentSession",
    "PriceNotAligned",
    "ProtocolViolation",
    "QuoteTooLarge",
    "RequestTimeout",
    "ThalexClientError",
    "ThalexError",
    "Throttled",
    "TooManyOpenOrders",
    "TooManyPendingRequests",
    "UnknownInstrument",
    "UnknownMethod",
    "UnknownProduct",
    "error_for_code",
]


class ThalexClientError(Exception):
    """Base of every error raised by the Thalex client (exchange answers and transport failures)."""


class ThalexError(ThalexClientError):
    """The exchange answered a request with an error object.

    Parameters
    ----------
    code : int
        Thalex error code (thalex-protocol.md 6.1).
    message : str
        Exchange message text; informative only, never parsed.
    method : str
        JSON-RPC method of the failed request ("" when unknown).
    """

    #: The code this class stands for (0 on the generic base).
    CODE = 0

    def __init__(self, code: int, message: str, method: str = "") -> None:
        super().__init__(code, message, method)
        self.code = int(code)
        self.message = str(message)
        self.method = method

    def __str__(self) -> str:
        where = f" ({self.method})" if self.method else ""
        return f"Thalex error {self.code}{where}: {self.message}"


class OrderNotFound(ThalexError):
    """Code 1: amend or cancel of an unknown, filled or cancelled order."""

    CODE = codes.ORDER_NOT_FOUND


class DuplicateClientOrderId(ThalexError):
    """Code 2: the ``client_order_id`` is already used by an open order of this session."""

    CODE = codes.DUPLICATE_CLIENT_ORDER_ID


class TooManyPendingRequests(ThalexError):
    """Code 3: too many requests in flight."""

    CODE = codes.TOO_MANY_PENDING_REQUESTS


class Throttled(ThalexError):
    """Code 4: rate limit hit; the request was not executed."""

    CODE = codes.THROTTLED


class UnknownInstrument(ThalexError):
    """Code 5: unknown ``instrument_name``."""

    CODE = codes.UNKNOWN_INSTRUMENT


class InvalidRequest(ThalexError):
    """Code 6: malformed request or parameters."""

    CODE = codes.INVALID_REQUEST


class NotLoggedIn(ThalexError):
    """Code 7: private call before login."""

    CODE = codes.NOT_LOGGED_IN


class InvalidPrice(ThalexError):
    """Code 13: invalid or non-positive price."""

    CODE = codes.NON_POSITIVE_PRICE


class InvalidAmount(ThalexError):
    """Code 14: invalid amount, or amount not aligned with the volume tick."""

    CODE = codes.BAD_AMOUNT


class PriceNotAligned(ThalexError):
    """Code 15: price not aligned with the instrument's tick size."""

    CODE = codes.PRICE_NOT_ALIGNED


class UnknownProduct(ThalexError):
    """Code 17: unknown product group (e.g. in ``set_mm_protection``)."""

    CODE = codes.UNKNOWN_PRODUCT


class AuthenticationFailed(ThalexError):
    """Code 19: bad login token, unknown key id, bad signature or stale ``iat``."""

    CODE = codes.AUTH_FAILED


class InvalidProtectionGroup(ThalexError):
    """Code 22: invalid mm protection settings (e.g. ``trade_amount`` above ``quote_amount``)."""

    CODE = codes.INVALID_PROTECTION_GROUP


class MmProtectionNotSet(ThalexError):
    """Code 23: mass quote without ``set_mm_protection`` for the product group."""

    CODE = codes.PROTECTION_NOT_SET


class InsufficientMargin(ThalexError):
    """Code 24: not enough margin for the order."""

    CODE = codes.INSUFFICIENT_MARGIN


class InvalidTimeInForce(ThalexError):
    """Code 25: illegal time in force (e.g. GTC market, IOC post-only)."""

    CODE = codes.BAD_TIME_IN_FORCE


class UnknownMethod(ThalexError):
    """Code 31: unknown JSON-RPC method."""

    CODE = codes.UNKNOWN_METHOD


class CollarBreach(ThalexError):
    """Code 43: price beyond the collar with ``collar="reject"``."""

    CODE = codes.COLLAR_BREACH


class QuoteTooLarge(ThalexError):
    """Code 44: quote larger than the protection group's ``quote_amount``."""

    CODE = codes.QUOTE_TOO_LARGE


class TooManyOpenOrders(ThalexError):
    """Code 49: open-order cap reached."""

    CODE = codes.TOO_MANY_OPEN_ORDERS


class PersistentSession(ThalexError):
    """Code 52: session-only call (e.g. ``cancel_session``) on a persistent session."""

    CODE = codes.PERSISTENT_SESSION


_BY_CODE: dict[int, type[ThalexError]] = {
    cls.CODE: cls
    for cls in (
        OrderNotFound,
        DuplicateClientOrderId,
        TooManyPendingRequests,
        Throttled,
        UnknownInstrument,
        InvalidRequest,
        NotLoggedIn,
        InvalidPrice,
        InvalidAmount,
        PriceNotAligned,
        UnknownProduct,
        AuthenticationFailed,
        InvalidProtectionGroup,
        MmProtectionNotSet,
        InsufficientMargin,
        InvalidTimeInForce,
        UnknownMethod,
        CollarBreach,
        QuoteTooLarge,
        TooManyOpenOrders,
        PersistentSession,
    )
}


def error_for_code(code: int, message: str, method: str = "") -> ThalexError:
    """Build the typed error for a Thalex error code.

    Parameters
    ----------
    code : int
        Thalex error code from the ``error`` object.
    message : str
        Exchange message text.
    method : str
        Method of the failed request, for the error text.

    Returns
    -------
    ThalexError
        An instance of the subclass registered for ``code``, or of ``ThalexError`` itself.
    """
    cls = _BY_CODE.get(int(code), ThalexError)
    return cls(code, message, method)


class RequestTimeout(ThalexClientError):
    """No answer within the request's timeout; the exchange may still have executed it.

    Parameters
    ----------
    method : str
        JSON-RPC method of the request.
    timeout_s : float
        The timeout that expired, in seconds.
    """

    def __init__(self, method: str, timeout_s: float) -> None:
        super().__init__(method, timeout_s)
        self.method = method
        self.timeout_s = timeout_s

    def __str__(self) -> str:
        return f"no answer to {self.method} within {self.timeout_s:g} s"


class ConnectionLost(ThalexClientError):
    """The websocket is closed or broken; requests in flight have an unknown outcome."""


class BadResponse(ThalexClientError):
    """A result arrived but its shape is not what the protocol reference describes."""


class ProtocolViolation(ConnectionLost):
    """The peer broke RFC 6455 or the HTTP upgrade; the connection was closed."""


#: Thalex codes that retrying (or reconnecting) cannot cure (see ``error_codes.PERMANENT``).
PERMANENT_CODES = codes.PERMANENT


def is_permanent(exc: BaseException) -> bool:
    """True for an exchange error that a retry or a reconnect cannot fix."""
    return isinstance(exc, ThalexError) and exc.code in PERMANENT_CODES
