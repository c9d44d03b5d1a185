"""The request/notification plumbing under ``ThalexClient``: awaited calls and dispatch.

:class:`RpcSession` joins the sans-IO :class:`~qengine.io.jsonrpc.RpcProtocol` to a
:class:`~qengine.io.transport.Transport`:

- :meth:`RpcSession.call` sends one request and waits on a per-request ``trio.Event`` for the
  answer, under a timeout; errors become typed :class:`~qengine.io.errors.ThalexError`\\ s; a lost
  connection fails every pending call with :class:`~qengine.io.errors.ConnectionLost`.
- Inbound frames are handled in the reader task, never blocking on a slow consumer: responses
  wake their caller; notifications are decoded once (``messages.decode_notification``, giving a
  ``messages.Notification`` with kind, key, records and snapshot flag) and handed to sync
  callbacks (:meth:`on_notification`) and to bounded event channels (:meth:`open_event_channel`, for
  orders, fills, portfolio: never dropped; when full the reader waits, which is back-pressure,
  and the wait is counted).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import trio

from .errors import BadResponse, ConnectionLost, RequestTimeout, error_for_code
from .jsonrpc import ErrorResponse, Notification, RpcProtocol, RpcStatistics, parse_frame
from .messages import DecodeStats, decode_notification
from .transport import Transport, TransportStatistics

__all__ = ["RpcSession", "SessionStatistics", "Subscription"]

Callback = Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class Subscription:
    """Handle returned by the registration methods; pass it to :meth:`RpcSession.remove`."""

    channel: str
    prefix: bool
    handler: Callable[[Notification], None]


@dataclass(frozen=True, slots=True)
class SessionStatistics:
    """Counters of a session (a snapshot)."""

    rpc: RpcStatistics
    transport: TransportStatistics | None
    undecodable_notifications: int
    events_queued: int
    event_backpressure_waits: int


class PendingBatch:
    """Requests sent together by :meth:`RpcSession.send_batch`, answers still to come."""

    def __init__(self, session: RpcSession, timeout_s: float) -> None:
        self._session = session
        self.timeout_s = timeout_s
        self.sent_s = trio.current_time()
        self.methods: list[str] = []
        self._pending: list[Any] = []
        self._events: list[trio.Event] = []
        self.not_sent: ConnectionLost | None = None

    def add(self, method: str, pending: Any, event: trio.Event) -> None:
        self.methods.append(method)
        self._pending.append(pending)
        self._events.append(event)

    async def wait(self) -> list[Any]:
        """Every answer in request order: a result, or the error as an exception object."""
        if self.not_sent is None:
            try:
                with trio.move_on_at(self.sent_s + self.timeout_s):
                    for event in self._events:
                        await event.wait()
            finally:
                for pending in self._pending:
                    if pending.outcome is None:
                        self._session._rpc.abandon(pending.request_id)
        results: list[Any] = []
        for index, method in enumerate(self.methods):
            if self.not_sent is not None:
                results.append(self.not_sent)
                continue
            outcome = self._pending[index].outcome
            if outcome is None:
                results.append(RequestTimeout(method, self.timeout_s)
                               if not self._events[index].is_set()
                               else ConnectionLost(f"connection lost while waiting for {method}"))
            elif type(outcome) is ErrorResponse:
                results.append(error_for_code(outcome.code, outcome.message, method))
            else:
                results.append(outcome.result)
        return results


class RpcSession:
    """Requests and notification dispatch over one (reconnecting) transport.

    Parameters
    ----------
    request_timeout_s : float
        Default timeout of every request, in seconds.
    """

    def __init__(self, *, request_timeout_s: float = 10.0) -> None:
        if not request_timeout_s > 0:
            raise ValueError("request_timeout_s must be > 0")
        self.request_timeout_s = request_timeout_s
        self._rpc = RpcProtocol()
        self._transport: Transport | None = None
        self._memo: tuple[Notification | None, Any] = (None, None)
        #: Counters of notification decoding (``messages.DecodeStats``), never raised.
        self.decode_stats = DecodeStats()
        self._undecodable = 0
        self._overflow: list[tuple[trio.MemorySendChannel[Any], Any]] = []
        self._events_queued = 0
        self._backpressure_waits = 0
        self._now_s = 0.0
        self._conflated: tuple[str, ...] = ()
        #: Pushes skipped because a newer one of the same channel came in the same read.
        self.conflated_in_batch = 0
        self.batch_arrival_ns = 0
        self.last_read_had_events = False
        #: Awaited after every socket read was dispatched (in the reader: must never wait for
        #: an answer from this session).
        self.after_batch: Callable[[], Awaitable[None]] | None = None

    # -- wiring (used by open_thalex_client) -----------------------------------------------------

    def attach(self, transport: Transport) -> None:
        """Use ``transport`` for sending (called once the transport object exists)."""
        self._transport = transport

    def connection_lost(self, exc: BaseException) -> None:
        """Fail every pending request (the transport's ``on_disconnect`` hook)."""
        for pending in self._rpc.fail_all():
            pending.waiter.set()  # outcome stays None: the caller raises ConnectionLost

    async def handle_batch(self, batch: list[bytes]) -> None:
        """Process one batch of inbound messages (the transport's ``on_batch`` hook)."""
        self._now_s = trio.current_time()
        #: When the current batch was read (trio clock, ns): the arrival time of its frames.
        self.batch_arrival_ns = int(self._now_s * 1e9)
        receive = self._rpc.receive
        queued_before = self._events_queued
        frames = [parse_frame(raw) for raw in batch]
        skip = self._superseded(frames) if len(frames) > 1 and self._conflated else ()
        for index, frame in enumerate(frames):
            if index in skip:
                continue
            done = receive(frame)
            if done is not None:
                done.waiter.set()
        #: Whether this read queued ordered pushes (orders, portfolio, ...) for a consumer.
        self.last_read_had_events = self._events_queued != queued_before
        if self.after_batch is not None:
            await self.after_batch()
        if self._overflow:
            await self._drain_overflow()

    def conflate_in_batch(self, channel_prefix: str) -> None:
        """Deliver only the newest push per channel of ``channel_prefix`` within one socket
        read (market data, where the newest value wins): older ones are never decoded."""
        self._conflated = (*self._conflated, channel_prefix)

    def _superseded(self, frames: list[Any]) -> set[int]:
        newest: dict[str, int] = {}
        superseded: set[int] = set()
        prefixes = self._conflated
        for index, frame in enumerate(frames):
            if type(frame) is Notification and not frame.snapshot and \
                    frame.channel_name.startswith(prefixes):
                previous = newest.get(frame.channel_name)
                if previous is not None:
                    superseded.add(previous)
                newest[frame.channel_name] = index
        self.conflated_in_batch += len(superseded)
        return superseded

    async def _drain_overflow(self) -> None:
        # Back-pressure: the reader stops reading until the consumers made room.
        while self._overflow:
            channel, record = self._overflow.pop(0)
            self._backpressure_waits += 1
            # A consumer that went away leaves its events nowhere to go.
            with contextlib.suppress(trio.ClosedResourceError, trio.BrokenResourceError):
                await channel.send(record)

    # -- requests -------------------------------------------------------------------------------

    def drop_connection(self, reason: str) -> None:
        """Close the current connection; the transport reconnects (and re-runs its hooks)."""
        if self._transport is not None:
            self._transport.drop_connection(reason)

    @property
    def connected(self) -> bool:
        """True while the websocket is open."""
        return self._transport is not None and self._transport.connected

    async def call(
        self,
        method: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
    ) -> Any:
        """Send one request and return its ``result`` (any JSON value, ``None`` included).

        Parameters
        ----------
        method : str
            JSON-RPC method, e.g. ``"public/ticker"``.
        params : Mapping or None
            Parameters; ``None`` values are dropped.
        timeout_s : float or None
            Seconds to wait for the answer; ``request_timeout_s`` when ``None``.

        Raises
        ------
        ThalexError
            The exchange answered with an error (subclass chosen by code).
        RequestTimeout
            No answer in time (the request may still have been executed).
        ConnectionLost
            Not connected, or the connection dropped before the answer.
        """
        transport = self._transport
        if transport is None or not transport.connected:
            raise ConnectionLost(f"not connected; {method} not sent")
        timeout = self.request_timeout_s if timeout_s is None else timeout_s
        event = trio.Event()
        pending, frame = self._rpc.start_request(
            method, params, now_s=trio.current_time(), timeout_s=timeout, waiter=event
        )
        try:
            with trio.move_on_after(timeout) as scope:
                await transport.send(frame)
                await event.wait()
        finally:
            if pending.outcome is None:
                self._rpc.abandon(pending.request_id)
        outcome = pending.outcome
        if outcome is None:
            if scope.cancelled_caught:
                raise RequestTimeout(method, timeout)
            raise ConnectionLost(f"connection lost while waiting for {method}")
        if type(outcome) is ErrorResponse:
            raise error_for_code(outcome.code, outcome.message, method)
        return outcome.result

    async def send_batch(
        self,
        requests: Sequence[tuple[str, Mapping[str, Any] | None]],
        *,
        timeout_s: float | None = None,
    ) -> PendingBatch:
        """Send several requests in one socket write; return without waiting for the answers.

        ``await batch.wait()`` then yields, per request in order, the ``result`` or the
        exception :meth:`call` would have raised for it (``ThalexError`` subclass,
        ``RequestTimeout``, ``ConnectionLost``), returned rather than raised.
        """
        timeout = self.request_timeout_s if timeout_s is None else timeout_s
        batch = PendingBatch(self, timeout)
        transport = self._transport
        if transport is None or not transport.connected:
            batch.not_sent = ConnectionLost("not connected; batch not sent")
            batch.methods = [method for method, _ in requests]
            return batch
        now = trio.current_time()
        frames = []
        for method, params in requests:
            event = trio.Event()
            pending, frame = self._rpc.start_request(
                method, params, now_s=now, timeout_s=timeout, waiter=event
            )
            batch.add(method, pending, event)
            frames.append(frame)
        try:
            await transport.send_many(frames)
        except ConnectionLost as exc:
            batch.not_sent = exc
        return batch

    async def call_batch(
        self,
        requests: Sequence[tuple[str, Mapping[str, Any] | None]],
        *,
        timeout_s: float | None = None,
    ) -> list[Any]:
        """:meth:`send_batch` and wait for every answer (see there)."""
        batch = await self.send_batch(requests, timeout_s=timeout_s)
        return await batch.wait()

    async def call_decoded(
        self,
        method: str,
        params: Mapping[str, Any] | None,
        decode: Callable[[Any], Any],
        *,
        timeout_s: float | None = None,
    ) -> Any:
        """Like :meth:`call`, then ``decode(result)``; a shape error raises :class:`BadResponse`."""
        result = await self.call(method, params, timeout_s=timeout_s)
        try:
            return decode(result)
        except (ValueError, TypeError, KeyError) as exc:
            raise BadResponse(f"{method}: {exc}") from exc

    # -- notifications --------------------------------------------------------------------------

    def _decoded(self, notification: Notification) -> Any:
        # Several consumers of one frame share one decode.
        seen, record = self._memo
        if seen is notification:
            return record
        record = decode_notification(
            notification.channel_name,
            notification.payload,
            notification.snapshot,
            self.decode_stats,
        )
        if record is None:
            self._undecodable += 1
        self._memo = (notification, record)
        return record

    def _register(self, channel: str, prefix: bool, sink: Callback) -> Subscription:
        def handler(notification: Notification) -> None:
            record = self._decoded(notification)
            if record is not None:
                sink(record)

        self._rpc.route(channel, handler, prefix=prefix)
        return Subscription(channel, prefix, handler)

    def on_notification(self, channel_prefix: str, callback: Callback) -> Subscription:
        """Call ``callback(record)`` in the reader task for every decoded notification whose
        channel starts with ``channel_prefix``. The callback must be cheap and must not block."""
        return self._register(channel_prefix, True, callback)

    def open_event_channel(
        self, channel_prefixes: Iterable[str], *, max_buffer: int = 1024
    ) -> tuple[trio.MemoryReceiveChannel[Any], list[Subscription]]:
        """A bounded channel receiving every decoded notification of the given prefixes, in
        order, never dropped (when full, the reader waits: back-pressure, counted).

        Returns
        -------
        tuple
            The receive channel and the subscriptions (to :meth:`remove` when done).
        """
        send, receive = trio.open_memory_channel[Any](max_buffer)

        def enqueue(record: Any) -> None:
            self._events_queued += 1
            if self._overflow:  # keep order behind records already waiting
                self._overflow.append((send, record))
                return
            try:
                send.send_nowait(record)
            except trio.WouldBlock:
                self._overflow.append((send, record))
            except (trio.ClosedResourceError, trio.BrokenResourceError):
                pass

        subs = [self._register(prefix, True, enqueue) for prefix in channel_prefixes]
        return receive, subs

    def remove(self, subscription: Subscription) -> None:
        """Stop a registration made by :meth:`on_notification` or :meth:`open_event_channel`."""
        self._rpc.unroute(subscription.channel, subscription.handler, prefix=subscription.prefix)

    def statistics(self) -> SessionStatistics:
        """Return a snapshot of the counters."""
        return SessionStatistics(
            rpc=self._rpc.statistics(),
            transport=None if self._transport is None else self._transport.statistics(),
            undecodable_notifications=self._undecodable,
            events_queued=self._events_queued,
            event_backpressure_waits=self._backpressure_waits,
        )
