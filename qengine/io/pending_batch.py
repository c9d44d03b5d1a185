"""Requests sent in one socket write, awaited together: what ``RpcSession.send_batch`` returns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import trio

from .errors import ConnectionLost, RequestTimeout, error_for_code
from .jsonrpc import ErrorResponse, RpcProtocol
from .request_batch import PendingRequests

__all__ = ["PendingBatch"]


class PendingBatch:
    """Requests sent together (``RpcSession.send_batch``), answers still to come: one
    pending entry and one ``trio.Event`` for the whole batch."""

    def __init__(self, rpc: RpcProtocol, timeout_s: float, methods: Sequence[str],
                 sent_s: float) -> None:
        self._rpc = rpc
        self.timeout_s = timeout_s
        #: When the batch was sent (trio clock, seconds): its answers are due by
        #: ``sent_s + timeout_s``.
        self.sent_s = sent_s
        #: The method of each request, in order.
        self.methods = methods
        #: The batch's pending entry (``None`` when nothing was registered).
        self.requests: PendingRequests | None = None
        self.not_sent: ConnectionLost | None = None

    async def wait(self) -> list[Any]:
        """Every answer in request order: a result, or the error as an exception object."""
        if self.not_sent is not None:
            return [self.not_sent] * len(self.methods)
        requests = self.requests
        if requests is None:
            return []
        try:
            with trio.move_on_at(self.sent_s + self.timeout_s):
                await requests.waiter.wait()
        finally:
            if requests.remaining:
                self._rpc.abandon_batch(requests)
        # The waiter is set with answers missing only when the connection was lost.
        lost = requests.waiter.is_set()
        results: list[Any] = []
        for method, outcome in zip(self.methods, requests.outcomes, strict=True):
            if outcome is None:
                results.append(ConnectionLost(f"connection lost while waiting for {method}")
                               if lost else RequestTimeout(method, self.timeout_s))
            elif type(outcome) is ErrorResponse:
                results.append(error_for_code(outcome.code, outcome.message, method))
            else:
                results.append(outcome.result)
        return results
