"""Thalex error codes: the one table the client (``errors.py``) and the simulator share.

Codes follow the community table in thalex-protocol.md section 6.1; clients key on the code,
never on the message text. ``REDUCE_ONLY_REJECTED`` (37) is the simulator's choice: Thalex's code
is unknown.
"""

from __future__ import annotations

ORDER_NOT_FOUND = 1
DUPLICATE_CLIENT_ORDER_ID = 2
TOO_MANY_PENDING_REQUESTS = 3
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
INSUFFICIENT_MARGIN = 24
BAD_TIME_IN_FORCE = 25
UNKNOWN_METHOD = 31
REDUCE_ONLY_REJECTED = 37
COLLAR_BREACH = 43
QUOTE_TOO_LARGE = 44
TOO_MANY_OPEN_ORDERS = 49
MASS_QUOTING_NOT_ENABLED = 51
PERSISTENT_SESSION = 52

#: Codes that retrying (or reconnecting) cannot cure: unknown instrument or product, malformed
#: request, authentication failed, bad protection group, unknown method, mass quoting not enabled,
#: persistent session.
PERMANENT = frozenset({UNKNOWN_INSTRUMENT, INVALID_REQUEST, UNKNOWN_PRODUCT, AUTH_FAILED,
                       INVALID_PROTECTION_GROUP, UNKNOWN_METHOD, MASS_QUOTING_NOT_ENABLED,
                       PERSISTENT_SESSION})
