"""Typed errors of the Thalex client.

Every error answer from the exchange becomes a :class:`ThalexError` subclass chosen by its numeric
``code`` (clients key on the code, never on the message text; thalex-protocol.md 6.1). Codes without
a dedicated class give a plain :class:`ThalexError` that still carries the code. Transport-level
failures are :class:`ConnectionLost` (socket gone, request not known to be executed) and
:class:`RequestTimeout` (no answer in time; the request *may* have been executed).
"""

from __future__ import annotations

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

    CODE = 1


class DuplicateClientOrderId(ThalexError):
    """Code 2: the ``client_order_id`` is already used by an open order of this session."""

    CODE = 2


class TooManyPendingRequests(ThalexError):
    """Code 3: too many requests in flight."""

    CODE = 3


class Throttled(ThalexError):
    """Code 4: rate limit hit; the request was not executed."""

    CODE = 4


class UnknownInstrument(ThalexError):
    """Code 5: unknown ``instrument_name``."""

    CODE = 5


class InvalidRequest(ThalexError):
    """Code 6: malformed request or parameters."""

    CODE = 6


class NotLoggedIn(ThalexError):
    """Code 7: private call before login."""

    CODE = 7


class InvalidPrice(ThalexError):
    """Code 13: invalid or non-positive price."""

    CODE = 13


class InvalidAmount(ThalexError):
    """Code 14: invalid amount, or amount not aligned with the volume tick."""

    CODE = 14


class PriceNotAligned(ThalexError):
    """Code 15: price not aligned with the instrument's tick size."""

    CODE = 15


class UnknownProduct(ThalexError):
    """Code 17: unknown product group (e.g. in ``set_mm_protection``)."""

    CODE = 17


class AuthenticationFailed(ThalexError):
    """Code 19: bad login token, unknown key id, bad signature or stale ``iat``."""

    CODE = 19


class InvalidProtectionGroup(ThalexError):
    """Code 22: invalid mm protection settings (e.g. ``trade_amount`` above ``quote_amount``)."""

    CODE = 22


class MmProtectionNotSet(ThalexError):
    """Code 23: mass quote without ``set_mm_protection`` for the product group."""

    CODE = 23


class InsufficientMargin(ThalexError):
    """Code 24: not enough margin for the order."""

    CODE = 24


class InvalidTimeInForce(ThalexError):
    """Code 25: illegal time in force (e.g. GTC market, IOC post-only)."""

    CODE = 25


class UnknownMethod(ThalexError):
    """Code 31: unknown JSON-RPC method."""

    CODE = 31


class CollarBreach(ThalexError):
    """Code 43: price beyond the collar with ``collar="reject"``."""

    CODE = 43


class QuoteTooLarge(ThalexError):
    """Code 44: quote larger than the protection group's ``quote_amount``."""

    CODE = 44


class TooManyOpenOrders(ThalexError):
    """Code 49: open-order cap reached."""

    CODE = 49


class PersistentSession(ThalexError):
    """Code 52: session-only call (e.g. ``cancel_session``) on a persistent session."""

    CODE = 52


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


#: Thalex codes that retrying (or reconnecting) cannot cure: unknown instrument or product,
#: malformed request, authentication failed, unknown method, mass quoting not enabled,
#: persistent session.
PERMANENT_CODES = frozenset({5, 6, 17, 19, 22, 31, 51, 52})


def is_permanent(exc: BaseException) -> bool:
    """True for an exchange error that a retry or a reconnect cannot fix."""
    return isinstance(exc, ThalexError) and exc.code in PERMANENT_CODES
