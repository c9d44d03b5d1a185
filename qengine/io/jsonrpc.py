"""Sans-IO JSON-RPC core of the Thalex client: encode, ids, pending requests, channel routing.

Nothing here touches a socket or a clock: callers pass bytes in, get bytes and event objects out,
and pass the current time (seconds, any monotonic origin) where deadlines matter. The trio layer
(``qengine.io.thalex``) stays a thin shell around :class:`RpcProtocol`.

Wire rules (thalex-protocol.md 1.2-1.4):

- a request is ``{"method", "params", "id"}``: no ``"jsonrpc"`` field, ``params`` always present
  (``{}`` when empty), ``None`` values dropped;
- request ids are unsigned integers from this module's own counter, a space never shared with
  client order ids;
- a frame with ``channel_name`` is a notification; otherwise ``result`` makes it a response and
  ``error`` an error response (the key order on the wire is not relied on).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from .request_batch import PendingRequest, PendingRequests

__all__ = [
    "ErrorResponse",
    "Notification",
    "PendingRequest",
    "Response",
    "RpcProtocol",
    "RpcStatistics",
    "UnknownFrame",
    "encode_request",
    "parse_frame",
    "request_parts",
]

#: ``{"method":<method>,"params":`` per method, for requests with pre-encoded params.
_HEADS: dict[str, bytes] = {}
# Ids wrap inside unsigned 53 bits so any JSON parser (even one using doubles) reads them exactly.
_MAX_REQUEST_ID = (1 << 53) - 1
_MAX_BATCH = 1 << 16
#: What follows a request's params: its id (``%d``), then the closing brace.
ID_KEY, CLOSE = b',"id":', b"}"


def request_parts(method: str) -> tuple[bytes, bytes, bytes]:
    """The constant bytes of a request with pre-encoded params: ``head + params + id_key + id +
    close`` is what :func:`encode_request` sends (for writers that fill in the numbers)."""
    head = _HEADS.get(method)
    if head is None:
        head = b'{"method":' + orjson.dumps(method) + b',"params":'
        if len(_HEADS) < 256:
            _HEADS[method] = head
    return head, ID_KEY, CLOSE


def encode_request(method: str, params: Mapping[str, Any] | bytes | None,
                   request_id: int | None) -> bytes:
    """Encode one request frame as UTF-8 JSON bytes.

    Parameters
    ----------
    method : str
        JSON-RPC method, e.g. ``"private/insert"``.
    params : Mapping or bytes or None
        Parameters; keys whose value is ``None`` are dropped; ``None`` sends ``{}``. ``bytes``
        are taken as the params object already encoded (``order_frames.OrderFrames``).
    request_id : int or None
        Request id; ``None`` omits the ``id`` key (the server then answers with ``id: null``).

    Returns
    -------
    bytes
        The frame payload.
    """
    if type(params) is bytes:
        head = _HEADS.get(method) or request_parts(method)[0]
        if request_id is None:
            return head + params + b"}"
        return b'%b%b,"id":%d}' % (head, params, request_id)
    clean = {} if params is None else {k: v for k, v in params.items() if v is not None}
    if request_id is None:
        return orjson.dumps({"method": method, "params": clean})
    return orjson.dumps({"method": method, "params": clean, "id": request_id})


@dataclass(frozen=True, slots=True)
class Response:
    """A successful answer: ``result`` may be any JSON value, ``None`` included."""

    request_id: Any
    result: Any


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """An error answer; ``code`` is the Thalex error code (thalex-protocol.md 6.1)."""

    request_id: Any
    code: int
    message: str


@dataclass(frozen=True, slots=True)
class Notification:
    """A subscription push; ``payload`` is the raw JSON value under ``notification``."""

    channel_name: str
    payload: Any
    snapshot: bool


@dataclass(frozen=True, slots=True)
class UnknownFrame:
    """A frame that is none of the three kinds (or not JSON at all); ``reason`` says why."""

    reason: str
    raw: bytes


Frame = Response | ErrorResponse | Notification | UnknownFrame


def parse_frame(data: bytes | str) -> Frame:
    """Parse one text frame into a frame event; never raises for bad input.

    Parameters
    ----------
    data : bytes or str
        The websocket message payload.

    Returns
    -------
    Response or ErrorResponse or Notification or UnknownFrame
        The classified frame.
    """
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return UnknownFrame("not JSON", _as_bytes(data))
    return classify(obj, data)


def classify(obj: Any, data: bytes | str = b"") -> Frame:
    """Classify an already-decoded JSON object (see :func:`parse_frame`)."""
    if type(obj) is not dict:
        return UnknownFrame("not a JSON object", _as_bytes(data))
    channel = obj.get("channel_name")
    if channel is not None:
        if type(channel) is not str:
            return UnknownFrame("channel_name is not a string", _as_bytes(data))
        return Notification(channel, obj.get("notification"), obj.get("snapshot") is True)
    if "result" in obj:
        return Response(obj.get("id"), obj["result"])
    error = obj.get("error")
    if type(error) is dict:
        code = error.get("code")
        if type(code) is not int:
            return UnknownFrame("error without an integer code", _as_bytes(data))
        return ErrorResponse(obj.get("id"), code, str(error.get("message", "")))
    return UnknownFrame("neither notification, result nor error", _as_bytes(data))


def _as_bytes(data: bytes | str) -> bytes:
    return data.encode() if isinstance(data, str) else bytes(data)


@dataclass(frozen=True, slots=True)
class RpcStatistics:
    """Counters of an :class:`RpcProtocol` (a snapshot)."""

    requests_sent: int
    responses_matched: int
    errors_matched: int
    unmatched_responses: int
    notifications: int
    unrouted_notifications: int
    unknown_frames: int
    expired: int
    pending: int


Handler = Callable[[Notification], None]


@dataclass(slots=True)
class _Counters:
    requests_sent: int = 0
    responses_matched: int = 0
    errors_matched: int = 0
    unmatched_responses: int = 0
    notifications: int = 0
    unrouted_notifications: int = 0
    unknown_frames: int = 0
    expired: int = 0


@dataclass(slots=True)
class RpcProtocol:
    """The request/response state machine of one client, across reconnects.

    Parameters
    ----------
    first_request_id : int
        First id to hand out (ids are unsigned, increasing, wrapping below 2**53).
    """

    first_request_id: int = 1
    _next_id: int = field(init=False)
    #: Request id -> its pending entry (a batch's entry under each of its ids).
    _pending: dict[int, PendingRequest | PendingRequests] = field(init=False, default_factory=dict)
    _exact: dict[str, list[Handler]] = field(init=False, default_factory=dict)
    _prefixes: list[tuple[str, Handler]] = field(init=False, default_factory=list)
    _route_cache: dict[str, tuple[Handler, ...]] = field(init=False, default_factory=dict)
    _counters: _Counters = field(init=False, default_factory=_Counters)
    #: Whether the ids wrapped at least once (only then can a new id still be pending).
    _wrapped: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        if not 0 <= self.first_request_id <= _MAX_REQUEST_ID:
            raise ValueError("first_request_id must be in [0, 2**53)")
        self._next_id = self.first_request_id

    # -- requests -------------------------------------------------------------------------------

    def _allocate_id(self) -> int:
        request_id = self._next_id
        while request_id in self._pending:  # only possible after a full wrap
            request_id = (request_id + 1) & _MAX_REQUEST_ID
        self._next_id = (request_id + 1) & _MAX_REQUEST_ID
        self._wrapped = self._wrapped or self._next_id == 0
        return request_id

    def start_request(
        self,
        method: str,
        params: Mapping[str, Any] | bytes | None = None,
        *,
        now_s: float = 0.0,
        timeout_s: float = float("inf"),
        waiter: Any = None,
    ) -> tuple[PendingRequest, bytes]:
        """Allocate an id, register the request as pending and encode its frame.

        Parameters
        ----------
        method : str
            JSON-RPC method.
        params : Mapping or bytes or None
            Parameters (``None`` values dropped), or the params object already encoded.
        now_s : float
            Current time in seconds (only used for ``sent_at_s`` and the deadline).
        timeout_s : float
            Seconds until :meth:`expire` gives the request up.
        waiter : Any
            Opaque object stored on the pending entry for the I/O layer.

        Returns
        -------
        tuple of (PendingRequest, bytes)
            The pending entry and the frame to send.
        """
        request_id = self._allocate_id()
        pending = PendingRequest(request_id, method, now_s, now_s + timeout_s, waiter)
        frame = encode_request(method, params, request_id)
        self._pending[request_id] = pending
        self._counters.requests_sent += 1
        return pending, frame

    def start_batch(self, count: int, *, now_s: float = 0.0, timeout_s: float = float("inf"),
                    waiter: Any = None) -> PendingRequests:
        """Reserve ``count`` consecutive ids and register them as one pending batch.

        The caller encodes request ``i`` with id ``batch.first_id + i``; answers are matched by
        id as for :meth:`start_request`, and :meth:`receive` returns the batch once, with its
        last answer. One entry for the batch, not one object per request.
        """
        if not 0 < count <= _MAX_BATCH:
            raise ValueError(f"a batch has 1..{_MAX_BATCH} requests, got {count}")
        first = self._reserve_ids(count)
        batch = PendingRequests(first, count, now_s, now_s + timeout_s, waiter, [None] * count,
                                count)
        pending = self._pending
        for request_id in range(first, first + count):  # (cheaper than update(fromkeys))
            pending[request_id] = batch
        self._counters.requests_sent += count
        return batch

    def _reserve_ids(self, count: int) -> int:
        first = self._next_id
        if first + count - 1 > _MAX_REQUEST_ID:
            first = 0  # ids of a batch are consecutive: wrap before, not inside, it
            self._wrapped = True
        # Until the ids wrapped once, every pending id is below the next one.
        while self._wrapped and not self._pending.keys().isdisjoint(range(first, first + count)):
            first = max(i for i in range(first, first + count) if i in self._pending) + 1
            if first + count - 1 > _MAX_REQUEST_ID:
                first = 0
        self._next_id = (first + count) & _MAX_REQUEST_ID
        self._wrapped = self._wrapped or self._next_id == 0
        return first

    def abandon(self, request_id: int) -> PendingRequest | PendingRequests | None:
        """Forget a pending request (its caller gave up); a late answer is then dropped."""
        return self._pending.pop(request_id, None)

    def abandon_batch(self, batch: PendingRequests) -> None:
        """Forget the unanswered requests of ``batch``; their late answers are then dropped."""
        for request_id in batch.unanswered():
            self._pending.pop(request_id, None)

    def withdraw_batch(self, batch: PendingRequests) -> None:
        """Forget ``batch`` before any of it was written (its frames could not be built): its
        requests leave the pending table and the ``requests_sent`` count."""
        self.abandon_batch(batch)
        self._counters.requests_sent -= batch.count

    def expire(self, now_s: float) -> list[PendingRequest | PendingRequests]:
        """Remove and return every pending entry whose deadline is at or before ``now_s``."""
        late = [i for i, p in self._pending.items() if p.deadline_s <= now_s]
        entries = {id(p): p for p in map(self._pending.pop, late)}
        self._counters.expired += len(late)
        return list(entries.values())

    def fail_all(self) -> list[PendingRequest | PendingRequests]:
        """Remove and return every pending entry, each once (the connection is gone)."""
        entries = {id(p): p for p in self._pending.values()}
        self._pending.clear()
        return list(entries.values())

    @property
    def pending_count(self) -> int:
        """Number of requests awaiting an answer."""
        return len(self._pending)

    # -- receiving ------------------------------------------------------------------------------

    def receive(self, frame: Frame) -> PendingRequest | PendingRequests | None:
        """Feed one parsed frame.

        A response or error whose id is pending completes that request: its ``outcome`` is set and
        the entry is returned (the I/O layer wakes ``entry.waiter``); a batch's entry is returned
        with its last answer. A notification is passed to
        every handler routed for its channel (sync calls, in order of registration). Anything
        else is counted and dropped.

        Returns
        -------
        PendingRequest or PendingRequests or None
            The completed request, if the frame answered one.
        """
        if type(frame) is Notification:
            self._counters.notifications += 1
            handlers = self._route_cache.get(frame.channel_name)
            if handlers is None:
                handlers = self._resolve(frame.channel_name)
            if not handlers:
                self._counters.unrouted_notifications += 1
            for handler in handlers:
                handler(frame)
            return None
        if type(frame) is UnknownFrame:
            self._counters.unknown_frames += 1
            return None
        request_id = frame.request_id
        pending = self._pending.pop(request_id, None) if type(request_id) is int else None
        if pending is None:
            self._counters.unmatched_responses += 1
            return None
        if type(frame) is Response:
            self._counters.responses_matched += 1
        else:
            self._counters.errors_matched += 1
        if type(pending) is PendingRequests:
            return pending if pending.answer(request_id, frame) else None
        pending.outcome = frame
        return pending

    # -- routing --------------------------------------------------------------------------------

    def route(self, channel: str, handler: Handler, *, prefix: bool = False) -> None:
        """Route notifications of ``channel`` (or, with ``prefix``, of every channel starting
        with it) to ``handler``, a cheap non-blocking sync callable taking a Notification."""
        if prefix:
            self._prefixes.append((channel, handler))
        else:
            self._exact.setdefault(channel, []).append(handler)
        self._route_cache.clear()

    def unroute(self, channel: str, handler: Handler, *, prefix: bool = False) -> None:
        """Remove a route added by :meth:`route` (no error if absent)."""
        if prefix:
            if (channel, handler) in self._prefixes:
                self._prefixes.remove((channel, handler))
        else:
            handlers = self._exact.get(channel, [])
            if handler in handlers:
                handlers.remove(handler)
            if not handlers:
                self._exact.pop(channel, None)
        self._route_cache.clear()

    def _resolve(self, channel: str) -> tuple[Handler, ...]:
        # Exact routes first, then prefix routes in registration order; cached per channel name.
        handlers = list(self._exact.get(channel, ()))
        handlers += [h for p, h in self._prefixes if channel.startswith(p)]
        resolved = tuple(handlers)
        if len(self._route_cache) < 4096:  # channel names come from the server; stay bounded
            self._route_cache[channel] = resolved
        return resolved

    def statistics(self) -> RpcStatistics:
        """Return a snapshot of the counters."""
        c = self._counters
        return RpcStatistics(
            requests_sent=c.requests_sent,
            responses_matched=c.responses_matched,
            errors_matched=c.errors_matched,
            unmatched_responses=c.unmatched_responses,
            notifications=c.notifications,
            unrouted_notifications=c.unrouted_notifications,
            unknown_frames=c.unknown_frames,
            expired=c.expired,
            pending=len(self._pending),
        )
