"""The pending entries of ``jsonrpc.RpcProtocol``'s request table (sans-IO): one request, or
requests sent together with consecutive ids and awaited by one waiter.

A quote cycle sends up to a dozen orders in one socket write. Registering each as its own
``PendingRequest`` with its own ``trio.Event`` costs a few microseconds per order before the
first byte leaves; :class:`PendingRequests` is one entry for the whole batch: ids
``first_id .. first_id + count - 1``, an outcome slot per request, one waiter that the I/O layer
wakes when the last answer came (or the connection is gone).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["PendingRequest", "PendingRequests"]


@dataclass(slots=True)
class PendingRequest:
    """One request awaiting its answer.

    Attributes
    ----------
    request_id : int
        The id sent on the wire.
    method : str
        JSON-RPC method.
    sent_at_s : float
        Caller-supplied time the request was encoded, in seconds.
    deadline_s : float
        Time after which ``RpcProtocol.expire`` gives it up, in seconds (``inf`` = never).
    waiter : Any
        Opaque slot for the I/O layer (e.g. an object holding a ``trio.Event``).
    outcome : Response or ErrorResponse or None
        Filled in when the answer arrives (``jsonrpc.Response`` / ``ErrorResponse``).
    """

    request_id: int
    method: str
    sent_at_s: float
    deadline_s: float
    waiter: Any = None
    outcome: Any = None


@dataclass(slots=True, eq=False)
class PendingRequests:
    """A batch of requests awaiting their answers.

    Attributes
    ----------
    first_id : int
        Request id of the first request; request ``i`` has id ``first_id + i``.
    count : int
        Number of requests.
    sent_at_s, deadline_s : float
        Caller-supplied send time and the time after which ``expire`` gives the batch up.
    waiter : Any
        Opaque slot for the I/O layer, woken once: all answered, or the connection lost.
    outcomes : list
        Per request, the ``Response`` / ``ErrorResponse`` once it came, else ``None``.
    remaining : int
        Requests still without an answer.
    """

    first_id: int
    count: int
    sent_at_s: float
    deadline_s: float
    waiter: Any
    outcomes: list[Any]
    remaining: int

    def ids(self) -> range:
        """The request ids of the batch."""
        return range(self.first_id, self.first_id + self.count)

    def unanswered(self) -> list[int]:
        """Ids of the requests without an answer yet."""
        first = self.first_id
        return [first + i for i, outcome in enumerate(self.outcomes) if outcome is None]

    def answer(self, request_id: int, frame: Any) -> bool:
        """Store the answer of one of the batch's requests; True when it was the last one."""
        self.outcomes[request_id - self.first_id] = frame
        self.remaining -= 1
        return self.remaining == 0
