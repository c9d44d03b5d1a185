"""Requests and the inbound path over one transport: awaited calls, and one batch per read.

:class:`RpcSession` joins the sans-IO :class:`~qengine.io.jsonrpc.RpcProtocol` to a
:class:`~qengine.io.transport.Transport`:

- :meth:`RpcSession.call` sends one request and waits on a per-request ``trio.Event`` for the
  answer, under a timeout; errors become typed :class:`~qengine.io.errors.ThalexError`\\ s; a lost
  connection fails every pending call with :class:`~qengine.io.errors.ConnectionLost`.
- Every socket read is handled in the reader task: responses wake their callers; notifications
  are decoded once (``messages.decode_notification``) and handed to the one consumer as one
  :class:`Inbound` batch: the arrival time, the newest push per channel of the conflated
  prefixes (market data: older ones in the same read are never decoded, and those that start
  the Thalex way, ``{"channel_name":"...``, never even JSON-parsed), and every other push
  in arrival order (orders, portfolio, trades: never dropped). The reader awaits the consumer,
  so a slow consumer slows reading (back-pressure) and nothing piles up.
- Raw market channels (``raw_market``, the engine's own ticker): the newest push of such a
  channel in a read is handed over as its frame's bytes, unparsed, in ``Inbound.market``; the
  consumer decodes it, and what it cannot decode it hands back to :meth:`RpcSession.decode_raw`,
  which decodes (or rejects) it exactly as the read would have, counted the same way. When the
  frames before that push are only answers and ``session.orders`` pushes that list no fill, the
  push is handed over alone and first, before the rest of the read is parsed (the consumer
  quotes it at once), and the rest follows in a second :class:`Inbound`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import trio

from .errors import BadResponse, ConnectionLost, RequestTimeout, error_for_code
from .jsonrpc import (
    ErrorResponse,
    Notification,
    RpcProtocol,
    RpcStatistics,
    encode_request,
    parse_frame,
)
from .messages import DecodeStats, decode_notification
from .messages import Notification as Decoded
from .pending_batch import PendingBatch
from .read_plan import first_push, is_raw, parse_newest, push_heads
from .transport import Transport, TransportStatistics

__all__ = ["Inbound", "InboundHandler", "PendingBatch", "RpcSession", "SessionStatistics"]


@dataclass(slots=True)
class Inbound:
    """The pushes of one socket read, decoded: what io hands its consumer."""

    #: When the read happened (trio clock, ns): the arrival time of all its frames.
    arrival_ns: int
    #: The newest push per channel of the conflated prefixes (market data), in arrival order:
    #: decoded, or for a raw market channel the frame's bytes (see ``RpcSession``).
    market: list[Decoded | bytes] = field(default_factory=list)
    #: Every other push (orders, portfolio, trades, ...), in arrival order, none dropped.
    events: list[Decoded] = field(default_factory=list)


InboundHandler = Callable[[Inbound], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SessionStatistics:
    """Counters of a session (a snapshot)."""

    rpc: RpcStatistics
    transport: TransportStatistics | None
    undecodable_notifications: int
    #: Pushes skipped because a newer one of the same channel came in the same read.
    conflated_in_batch: int
    #: Hand-overs to the consumer: one per read that carried pushes, two when a read's raw
    #: market push went first (see ``RpcSession.handle_read``).
    inbound_batches: int
    #: Pushes of raw market channels handed over unparsed.
    raw_market_pushes: int = 0


class RpcSession:
    """Requests and the inbound path over one (reconnecting) transport.

    Parameters
    ----------
    request_timeout_s : float
        Default timeout of every request, in seconds.
    raw_market : tuple of str
        Exact names of market channels whose newest push per read is handed to the consumer
        as its frame's bytes (its consumer decodes it, see :meth:`decode_raw`). They are
        conflated like the ``conflate`` prefixes; a frame that does not start the Thalex way
        (``{"channel_name":"<name>"``) or carries a snapshot flag is decoded as before. Unlike
        a decoded channel, older pushes of the read are skipped even when the newest turns out
        malformed (its consumer's :meth:`decode_raw` then rejects and counts it).

    Pushes are dropped (and counted as unrouted) until :meth:`deliver_to` names their consumer.
    """

    def __init__(self, *, request_timeout_s: float = 10.0,
                 raw_market: tuple[str, ...] = ()) -> None:
        if not request_timeout_s > 0:
            raise ValueError("request_timeout_s must be > 0")
        if any(type(name) is not str or not name or '"' in name or "\\" in name
               for name in raw_market):
            raise ValueError("raw_market must name channels (non-empty, without quotes)")
        self._raw_names = frozenset(name.encode() for name in raw_market)
        self._raw_heads = push_heads(self._raw_names)
        self._raw_pushes = 0
        self.request_timeout_s = request_timeout_s
        self._rpc = RpcProtocol()
        self._transport: Transport | None = None
        #: Counters of notification decoding (``messages.DecodeStats``), never raised.
        self.decode_stats = DecodeStats()
        self._undecodable = 0
        self._conflated_in_batch = 0
        self._batches = 0
        self._conflate: tuple[str, ...] = ()
        self._conflate_bytes: tuple[bytes, ...] = ()
        self._on_inbound: InboundHandler | None = None
        self._inbound: Inbound | None = None

    # -- wiring (used by open_thalex_client) -----------------------------------------------------

    def deliver_to(self, on_inbound: InboundHandler, conflate: tuple[str, ...] = ()) -> None:
        """Name the one consumer of the pushes, before the first read.

        ``on_inbound(inbound)`` is awaited in the reader task for every read that carried
        pushes (twice for a read whose raw market push goes first, see ``handle_read``): it
        must never wait for an answer from this session. ``conflate`` lists the
        channel prefixes of market data: only the newest push per channel in one read is
        decoded and delivered, in ``Inbound.market``.
        """
        if self._on_inbound is not None:
            raise RuntimeError("the pushes already have a consumer")
        self._on_inbound = on_inbound
        self._conflate = tuple(conflate)
        self._conflate_bytes = tuple(prefix.encode() for prefix in self._conflate)
        self._rpc.route("", self._collect, prefix=True)

    def attach(self, transport: Transport) -> None:
        """Use ``transport`` for sending (called once the transport object exists)."""
        self._transport = transport

    def connection_lost(self, exc: BaseException) -> None:
        """Fail every pending request (the transport's ``on_disconnect`` hook)."""
        for pending in self._rpc.fail_all():
            pending.waiter.set()  # outcome stays None: the caller raises ConnectionLost

    async def handle_read(self, raw: list[bytes]) -> None:
        """Process one socket read (the transport's ``on_batch`` hook): wake the callers whose
        answers came, then hand the read's pushes to the consumer as one :class:`Inbound`; or
        as two, the newest raw market push first, when nothing before it must be handled first
        (see :func:`~qengine.io.read_plan.first_push`)."""
        arrival_ns = int(trio.current_time() * 1e9)
        heads = self._raw_heads
        if heads and len(raw) > 1 and self._on_inbound is not None:
            first = first_push(raw, heads)
            if first is not None:  # the quoted book goes first, the rest is parsed after
                index, older = first
                self._raw_pushes += 1
                self._batches += 1
                self._conflated_in_batch += len(older)
                skip = {index, *older}
                rest = [data for i, data in enumerate(raw) if i not in skip]
                try:
                    await self._on_inbound(Inbound(arrival_ns, [raw[index]]))
                except BaseException:
                    # Cancelled (a dropped connection): the rest's answers still wake their
                    # callers; its pushes (order pushes of live orders without a fill, see
                    # read_plan) go nowhere: a new connection starts from the exchange's list.
                    self._receive_all(rest, Inbound(0))
                    raise
                if not rest:
                    return
                raw = rest
        if len(raw) > 1 and (self._conflate or heads):
            frames, dropped = parse_newest(raw, self._raw_names, self._conflate_bytes,
                                           self._conflate)
            self._conflated_in_batch += dropped
        elif heads:
            frames = [data if is_raw(data, heads) else parse_frame(data) for data in raw]
        else:
            frames = [parse_frame(data) for data in raw]
        inbound = self._inbound = Inbound(arrival_ns)
        receive = self._rpc.receive
        try:
            for frame in frames:
                if frame is None:
                    continue
                if type(frame) is bytes:  # a raw market push: the consumer decodes it
                    self._raw_pushes += 1
                    inbound.market.append(frame)
                    continue
                done = receive(frame)
                if done is not None:
                    done.waiter.set()
        finally:
            self._inbound = None
        if self._on_inbound is not None and (inbound.market or inbound.events):
            self._batches += 1
            await self._on_inbound(inbound)

    def decode_raw(self, data: bytes, arrival_ns: int) -> Inbound:
        """Decode a raw market push its consumer could not: parsed, classified, routed and
        decoded as :meth:`handle_read` does every other frame (same counters, same rejections);
        its pushes come back in a new :class:`Inbound` (none when it was rejected)."""
        return self._receive_all((data,), Inbound(arrival_ns))

    def _receive_all(self, raw: Sequence[bytes], inbound: Inbound) -> Inbound:
        # Parse and route each frame: answers wake their callers, pushes go into ``inbound``.
        self._inbound = inbound
        try:
            for data in raw:
                done = self._rpc.receive(parse_frame(data))
                if done is not None:
                    done.waiter.set()
        finally:
            self._inbound = None
        return inbound

    def _collect(self, notification: Notification) -> None:
        record = decode_notification(notification.channel_name, notification.payload,
                                     notification.snapshot, self.decode_stats)
        if record is None:
            self._undecodable += 1
            return
        inbound = self._inbound
        if inbound is None:
            return
        if notification.channel_name.startswith(self._conflate):
            inbound.market.append(record)
        else:
            inbound.events.append(record)

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
        requests: Sequence[tuple[str, Mapping[str, Any] | bytes | None]],
        *,
        timeout_s: float | None = None,
        batch_type: type[PendingBatch] = PendingBatch,
    ) -> PendingBatch:
        """Send several requests in one socket write; return without waiting for the answers.

        A request's params may be ``bytes``: the params object already encoded as JSON
        (``order_frames.OrderFrames`` builds them for the engine's orders).

        ``await batch.wait()`` then yields, per request in order, the ``result`` or the
        exception :meth:`call` would have raised for it (``ThalexError`` subclass,
        ``RequestTimeout``, ``ConnectionLost``), returned rather than raised. The batch is a
        ``batch_type`` (a :class:`PendingBatch` subclass may decode the results in ``wait``).
        """
        methods = [method for method, _ in requests]
        batch, transport = self._start_batch(methods, timeout_s, batch_type)
        if transport is None:
            return batch
        first = batch.requests.first_id
        try:
            frames = [encode_request(method, params, first + i)
                      for i, (method, params) in enumerate(requests)]
        except BaseException:
            self._rpc.withdraw_batch(batch.requests)
            raise
        await self._send(batch, transport.send_many(frames))
        return batch

    async def send_prebuilt(
        self,
        methods: Sequence[str],
        build: Callable[[int, bytes], bytes | bytearray | memoryview | None],
        *,
        timeout_s: float | None = None,
        batch_type: type[PendingBatch] = PendingBatch,
    ) -> PendingBatch | None:
        """Like :meth:`send_batch` for requests whose frames the caller writes itself.

        ``build(first_id, mask_keys)`` returns the complete masked client text frames of the
        ``len(methods)`` requests, request ``i`` with id ``first_id + i`` and masking key
        ``mask_keys[4 * i:4 * i + 4]`` (fresh keys from the socket's pool), or ``None`` when
        it cannot write them: then nothing is sent, the ids leave the pending table (and the
        ``requests_sent`` count) and this returns ``None`` (the caller sends the requests
        through :meth:`send_batch`).
        """
        batch, transport = self._start_batch(methods, timeout_s, batch_type)
        if transport is None:
            return batch
        requests = batch.requests
        try:
            data = build(requests.first_id, transport.take_mask_keys(len(methods)))
        except BaseException:
            self._rpc.withdraw_batch(requests)
            raise
        if data is None:
            self._rpc.withdraw_batch(requests)
            return None
        try:  # _send inlined: one coroutine level less on the order path
            await transport.send_frames(data)
        except ConnectionLost as exc:
            batch.not_sent = exc
            self._rpc.abandon_batch(requests)
        except BaseException:  # cancelled mid-write: nobody will wait for these answers
            self._rpc.abandon_batch(requests)
            raise
        return batch

    def _start_batch(self, methods: Sequence[str], timeout_s: float | None,
                     batch_type: type[PendingBatch]) -> tuple[PendingBatch, Transport | None]:
        # The batch, registered as pending, and the transport to send it with (None: the batch
        # is already settled, not sent or empty).
        timeout = self.request_timeout_s if timeout_s is None else timeout_s
        now_s = trio.current_time()
        batch = batch_type(self._rpc, timeout, methods, now_s)
        transport = self._transport
        if transport is None or not transport.connected:
            batch.not_sent = ConnectionLost("not connected; batch not sent")
            return batch, None
        if not methods:
            return batch, None
        batch.requests = self._rpc.start_batch(len(methods), now_s=now_s, timeout_s=timeout,
                                               waiter=trio.Event())
        return batch, transport

    async def _send(self, batch: PendingBatch, sending: Awaitable[None]) -> None:
        try:
            await sending
        except ConnectionLost as exc:
            batch.not_sent = exc
            self._rpc.abandon_batch(batch.requests)
        except BaseException:  # cancelled mid-write: nobody will wait for these answers
            self._rpc.abandon_batch(batch.requests)
            raise

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

    def statistics(self) -> SessionStatistics:
        """Return a snapshot of the counters."""
        return SessionStatistics(
            rpc=self._rpc.statistics(),
            transport=None if self._transport is None else self._transport.statistics(),
            undecodable_notifications=self._undecodable,
            conflated_in_batch=self._conflated_in_batch,
            inbound_batches=self._batches,
            raw_market_pushes=self._raw_pushes,
        )
