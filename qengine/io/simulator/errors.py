"""Thalex error codes the simulator answers with, and the exception that carries one.

Codes follow the community table in thalex-protocol.md section 6.1; messages are ours (clients
must key on the code). ``REDUCE_ONLY_REJECTED`` (37) is our choice: Thalex's code is unknown.
"""

from __future__ import annotations

ORDER_NOT_FOUND = 1
DUPLICATE_CLIENT_ORDER_ID = 2
THROTTLED = 4
UNKNOWN_INSTRUMENT = 5
INVALID_REQUEST = 6
NOT_LOGGED_IN = 7
NON_POSITIVE_PRICE = 13
BAD_AMOUNT = 14
PRICE_NOT_ALIGNED = 15
UNKNOWN_PRODUCT = 17
AUTH_FAILED = 19
TEMPORARY_FAILURE = 20
INVALID_PROTECTION_GROUP = 22
PROTECTION_NOT_SET = 23
BAD_TIME_IN_FORCE = 25
UNKNOWN_METHOD = 31
REDUCE_ONLY_REJECTED = 37
COLLAR_BREACH = 43
QUOTE_TOO_LARGE = 44
TOO_MANY_OPEN_ORDERS = 49
PERSISTENT_SESSION = 52


class RpcError(Exception):
    """A request failed with a Thalex error code; the request had no effect.

    Parameters
    ----------
    code : int
        Thalex error code.
    message : str
        Human-readable reason.
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
