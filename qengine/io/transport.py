"""Websocket transport of the Thalex client: connect, keep alive, detect staleness, reconnect.

:func:`open_transport` owns a nursery with one supervisor task. The supervisor connects (a lean
RFC 6455 client in ``_websocket.py``; see its docstring for why not trio-websocket), starts a
reader and a keepalive task, runs the caller's ``on_connect`` hook on *every* (re)connect (login,
re-arm cancel-on-disconnect, resubscribe, reconcile), and when the connection dies tells the
caller (``on_disconnect``, which fails pending requests) and reconnects with exponential backoff
and jitter.

- The reader hands each socket read's batch of messages to ``on_batch`` (an async callable: a
  slow consumer slows reading, which is back-pressure).
- The keepalive task sends a websocket ping every ``ping_interval_s`` (that satisfies
  cancel-on-disconnect's heartbeat, thalex-protocol.md 1.5) and declares the connection dead when
  nothing at all (data, pong) arrived for ``stale_after_s``.
"""

from __future__ import annotations

import math
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import trio

from ._websocket import WebSocket, connect_websocket
from .errors import ConnectionLost, ThalexClientError, is_permanent

__all__ = [
    "ReconnectPolicy",
    "Transport",
    "TransportConfig",
    "TransportStatistics",
    "open_transport",
]

@dataclass(frozen=True, kw_only=True, slots=True)
class ReconnectPolicy:
    """Exponential backoff with jitter between reconnect attempts.

    Parameters
    ----------
    initial_delay_s : float
        Delay before the first retry, in seconds.
    max_delay_s : float
        Cap on the (pre-jitter) delay, in seconds.
    multiplier : float
        Growth factor per consecutive failure.
    jitter : float
        Fraction of the delay drawn at random, in [0, 1]: the delay is
        ``base * (1 - jitter * u)`` with ``u`` uniform in [0, 1).
    max_attempts : int or None
        Consecutive failed attempts before giving up (``None``: never give up).
    """

    initial_delay_s: float = 0.25
    max_delay_s: float = 30.0
    multiplier: float = 2.0
    jitter: float = 0.5
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        if not (self.initial_delay_s >= 0 and self.max_delay_s >= self.initial_delay_s):
            raise ValueError("need 0 <= initial_delay_s <= max_delay_s")
        if self.multiplier < 1 or not 0 <= self.jitter <= 1:
            raise ValueError("need multiplier >= 1 and 0 <= jitter <= 1")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1 (or None)")

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        """Delay before retry number ``attempt`` (1 = first retry), in seconds."""
        exponent = min(max(attempt - 1, 0), 64)
        base = min(self.max_delay_s, self.initial_delay_s * self.multiplier**exponent)
        return base * (1.0 - self.jitter * rng.random())


@dataclass(frozen=True, kw_only=True, slots=True)
class TransportConfig:
    """Connection settings.

    Parameters
    ----------
    url : str
        ``ws://`` or ``wss://`` URL (see ``qengine.io.thalex.url_for_network``).
    ping_interval_s : float
        Seconds between our websocket pings.
    stale_after_s : float
        Seconds without any inbound frame after which the connection is declared dead.
    connect_timeout_s : float
        Limit for TCP + TLS + upgrade, in seconds.
    reconnect : ReconnectPolicy or None
        Backoff policy after a lost connection; ``None`` ends the transport with
        :class:`ConnectionLost` on the first loss.
    user_agent : str
        ``User-Agent`` header.
    max_message_bytes : int
        Largest inbound message accepted, in bytes.
    seed : int or None
        Seed of the jitter generator (tests); ``None`` seeds from the OS.
    """

    url: str
    ping_interval_s: float = 5.0
    stale_after_s: float = 15.0
    connect_timeout_s: float = 10.0
    reconnect: ReconnectPolicy | None = field(default_factory=ReconnectPolicy)
    user_agent: str = "qengine"
    max_message_bytes: int = 16 * 1024 * 1024
    seed: int | None = None

    def __post_init__(self) -> None:
        if not (self.ping_interval_s > 0 and self.stale_after_s > 0 and self.connect_timeout_s > 0):
            raise ValueError("ping_interval_s, stale_after_s and connect_timeout_s must be > 0")


@dataclass(frozen=True, slots=True)
class TransportStatistics:
    """Counters of a :class:`Transport` (a snapshot)."""

    connects: int
    connect_failures: int
    disconnects: int
    stale_disconnects: int
    messages_received: int
    bytes_received: int
    pings_sent: int
    pongs_received: int
    last_ping_rtt_s: float
    connected: bool


BatchHandler = Callable[[list[bytes]], Awaitable[None]]
ConnectHook = Callable[["Transport"], Awaitable[None]]
DisconnectHook = Callable[[BaseException], None]


@dataclass(slots=True)
class _Counters:
    connects: int = 0
    connect_failures: int = 0
    disconnects: int = 0
    stale_disconnects: int = 0
    messages: int = 0
    bytes: int = 0
    pings: int = 0
    pongs: int = 0
    rtt_s: float = math.nan


class Transport:
    """The live connection handle given out by :func:`open_transport`."""

    def __init__(
        self,
        config: TransportConfig,
        on_batch: BatchHandler,
        on_connect: ConnectHook | None,
        on_disconnect: DisconnectHook | None,
    ) -> None:
        self.config = config
        self._on_batch = on_batch
        self._on_connect = on_connect
        self._on_disconnect = on_disconnect
        self._ws: WebSocket | None = None
        self._ready = trio.Event()
        self._rng = random.Random(config.seed)
        self._counters = _Counters()
        self._lost: BaseException | None = None
        self._conn_scope: trio.CancelScope | None = None
        self._closing = False
        #: Incremented on every successful connect (after the hook); 0 before the first.
        self.generation = 0

    @property
    def connected(self) -> bool:
        """True while a websocket is open (the connect hook may still be running)."""
        return self._ws is not None and self._ws.closed is None

    async def send(self, payload: bytes) -> None:
        """Send one text message; raises :class:`ConnectionLost` when not connected."""
        ws = self._ws
        if ws is None:
            raise ConnectionLost("not connected")
        await ws.send_text(payload)

    async def send_many(self, payloads: list[bytes]) -> None:
        """Send several text messages in one socket write; :class:`ConnectionLost` when down."""
        ws = self._ws
        if ws is None:
            raise ConnectionLost("not connected")
        await ws.send_texts(payloads)

    def take_mask_keys(self, n_frames: int) -> bytes:
        """Fresh masking keys for ``n_frames`` client frames; :class:`ConnectionLost` when down."""
        ws = self._ws
        if ws is None:
            raise ConnectionLost("not connected")
        return ws.take_mask_keys(n_frames)

    def send_frames(self, data: bytes | bytearray | memoryview) -> Awaitable[None]:
        """Send complete masked client frames in one write (await the result: the socket's
        own coroutine, one level less); :class:`ConnectionLost` when down."""
        ws = self._ws
        if ws is None:
            raise ConnectionLost("not connected")
        return ws.send_frames(data)

    async def wait_connected(self) -> None:
        """Wait until connected and the connect hook has finished."""
        await self._ready.wait()

    def drop_connection(self, reason: str = "dropped by client") -> None:
        """Abort the current connection now (the supervisor reconnects per policy)."""
        if self._lost is None:
            self._lost = ConnectionLost(reason)
        if self._conn_scope is not None:
            self._conn_scope.cancel()

    def statistics(self) -> TransportStatistics:
        """Return a snapshot of the counters."""
        c = self._counters
        ws = self._ws
        extra_messages = ws.counters.messages if ws is not None else 0
        extra_bytes = ws.counters.bytes_received if ws is not None else 0
        return TransportStatistics(
            connects=c.connects,
            connect_failures=c.connect_failures,
            disconnects=c.disconnects,
            stale_disconnects=c.stale_disconnects,
            messages_received=c.messages + extra_messages,
            bytes_received=c.bytes + extra_bytes,
            pings_sent=c.pings,
            pongs_received=c.pongs + (ws.counters.pongs_received if ws is not None else 0),
            last_ping_rtt_s=c.rtt_s,
            connected=self.connected,
        )

    # -- tasks ----------------------------------------------------------------------------------

    async def _connect(self) -> WebSocket:
        cfg = self.config
        with trio.fail_after(cfg.connect_timeout_s):
            return await connect_websocket(
                cfg.url, user_agent=cfg.user_agent, max_message_bytes=cfg.max_message_bytes
            )

    async def _connect_with_retries(self, failures: int) -> tuple[WebSocket, int]:
        policy = self.config.reconnect
        while True:
            if failures:
                if policy is None or (
                    policy.max_attempts is not None and failures >= policy.max_attempts
                ):
                    raise ConnectionLost(f"giving up after {failures} failed connection(s)")
                await trio.sleep(policy.delay_s(failures, self._rng))
            try:
                return await self._connect(), failures
            except (ConnectionLost, trio.TooSlowError):
                self._counters.connect_failures += 1
                failures += 1

    async def _supervise(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED):
        # The first connection gets one attempt (its failure is the caller's to handle); later
        # ones retry per policy. A loss after a ready connection waits one initial backoff
        # (jittered) so a server that drops everyone is not hammered in lockstep.
        try:
            ws = await self._connect()
        except trio.TooSlowError:
            raise ConnectionLost(f"connecting to {self.config.url} timed out") from None
        failures = 0
        started = False
        while True:
            self._lost = None
            fatal = await self._run_connection(ws, None if started else task_status)
            was_ready = self._ready.is_set()
            started = started or was_ready
            self._ready = trio.Event()
            self._ws = None
            self._absorb_counters(ws)
            with trio.CancelScope(shield=True):
                await ws.aclose(1000, "", timeout_s=0.5)
            if self._closing:
                return
            lost = self._lost or ConnectionLost("connection ended")
            self._counters.disconnects += 1
            if self._on_disconnect is not None:
                self._on_disconnect(lost)
            if fatal is not None:
                raise fatal
            if self.config.reconnect is None or not started:
                raise lost
            failures = 1 if was_ready else failures + 1
            ws, failures = await self._connect_with_retries(failures)

    async def _run_connection(
        self, ws: WebSocket, task_status: trio.TaskStatus[None] | None
    ) -> ThalexClientError | None:
        fatal: ThalexClientError | None = None
        async with trio.open_nursery() as nursery:
            self._conn_scope = nursery.cancel_scope
            self._ws = ws
            self._counters.connects += 1
            nursery.start_soon(self._reader, ws)
            nursery.start_soon(self._keepalive, ws)
            try:
                if self._on_connect is not None:
                    await self._on_connect(self)
            except ConnectionLost as exc:
                self._lost = self._lost or exc
                nursery.cancel_scope.cancel()
            except ThalexClientError as exc:
                if is_permanent(exc):  # e.g. AuthenticationFailed: retrying cannot help
                    fatal = exc
                else:  # a timeout, a throttle, a temporary failure: reconnect with backoff
                    self._lost = self._lost or ConnectionLost(f"connect steps failed: {exc}")
                nursery.cancel_scope.cancel()
            else:
                self.generation += 1
                self._ready.set()
                if task_status is not None:
                    task_status.started()
        self._conn_scope = None
        return fatal

    async def _reader(self, ws: WebSocket) -> None:
        try:
            while True:
                batch = await ws.receive_batch()
                await self._on_batch(batch)
        except ConnectionLost as exc:
            self._lost = self._lost or exc
        if self._conn_scope is not None:
            self._conn_scope.cancel()

    async def _keepalive(self, ws: WebSocket) -> None:
        cfg = self.config
        sent: dict[bytes, float] = {}
        number = 0
        while True:
            await trio.sleep(min(cfg.ping_interval_s, cfg.stale_after_s / 2))
            now = trio.current_time()
            payload, pong_s = ws.last_pong
            if payload in sent:
                self._counters.rtt_s = pong_s - sent.pop(payload)
                sent.clear()
            if now - ws.last_receive_s > cfg.stale_after_s:
                self._counters.stale_disconnects += 1
                self.drop_connection(f"no data for {now - ws.last_receive_s:.1f} s")
                return
            number += 1
            token = number.to_bytes(8, "big")
            sent[token] = now
            try:
                await ws.send_ping(token)
            except ConnectionLost as exc:
                self.drop_connection(str(exc))
                return
            self._counters.pings += 1

    def _absorb_counters(self, ws: WebSocket) -> None:
        self._counters.messages += ws.counters.messages
        self._counters.bytes += ws.counters.bytes_received
        self._counters.pongs += ws.counters.pongs_received


@asynccontextmanager
async def open_transport(
    config: TransportConfig,
    *,
    on_batch: BatchHandler,
    on_connect: ConnectHook | None = None,
    on_disconnect: DisconnectHook | None = None,
) -> AsyncIterator[Transport]:
    """Connect, run ``on_connect``, and keep the connection alive until the block exits.

    Parameters
    ----------
    config : TransportConfig
        URL, keepalive and reconnect settings.
    on_batch : async callable(list[bytes])
        Called in the reader task with each batch of inbound messages, in order.
    on_connect : async callable(transport) or None
        Run on every (re)connect while the reader already runs (so it can make requests);
        the block is entered once the first run succeeded.
    on_disconnect : callable(BaseException) or None
        Sync; called once per lost connection, before any reconnect.

    Raises
    ------
    ConnectionLost
        The first connection failed, or a later one was lost and ``config.reconnect`` is
        ``None`` or gave up (raised inside an exception group from the nursery).
    ThalexClientError
        ``on_connect`` failed with an exchange error (e.g. bad credentials).
    """
    transport = Transport(config, on_batch, on_connect, on_disconnect)
    async with trio.open_nursery() as nursery:
        await nursery.start(transport._supervise)
        try:
            yield transport
        finally:
            transport._closing = True
            ws = transport._ws
            if ws is not None:
                with trio.move_on_after(1.0, shield=True):
                    await ws.aclose(1000, "client exit", timeout_s=0.5)
            nursery.cancel_scope.cancel()
