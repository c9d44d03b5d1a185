"""The exception that carries a Thalex error code out of a simulator request.

The codes are the client's table, ``qengine.io.error_codes``; messages are ours (clients must key
on the code).
"""

from __future__ import annotations


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
