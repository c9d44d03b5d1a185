"""The trio-websocket server: connections, FIFO request handling, outbound queues, the market
loop, cancel-on-disconnect watchdog and fault injection.

Liveness for cancel-on-disconnect counts every inbound byte, WebSocket pings included, so each
accepted TCP stream is wrapped to stamp the time of its last receive. trio-websocket exposes a
non-socket stream's ``repr`` as the connection's ``remote``; the wrapper's unique repr is how the
handler finds its stream without touching trio-websocket internals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, WebSocketRequest, WebSocketServer

from .channels import Publisher
from .config import SimulatorConfig
from .exchange import Exchange, notification_frame
from .rpc import handle_text
from .sessions import Session

logger = logging.getLogger(__name__)

_WATCHDOG_TICK_S = 0.25
_CLOSE_TIMEOUT_S = 2.0
_HARD_FRAME_LIMIT = 4 * 1024 * 1024
_MALFORMED_FRAMES = ('{"channel_name":"ticker.', "\x00not json", "[1,2", '{"id":}')
#: ``(session_id, "in" | "out", text)`` for every text frame received or sent.
WireTap = Callable[[int, str, str], None]
#: Called with the exchange when the market starts and after every market step, before the
#: step is published (e.g. ``recorder.MarketRecorder``). Must not block.
MarketTap = Callable[[Exchange], None]


def _no_tap(_session_id: int, _direction: str, _text: str) -> None:
    return None


class ActivityStream(trio.abc.Stream):
    """A stream that records the trio time of its last received bytes."""

    _count = 0

    def __init__(self, inner: trio.abc.Stream) -> None:
        ActivityStream._count += 1
        self.inner = inner
        self.token = f"<qengine-sim-stream {ActivityStream._count}>"
        self.last_rx_s = trio.current_time()

    def __repr__(self) -> str:
        return self.token

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        data = await self.inner.receive_some(max_bytes)
        self.last_rx_s = trio.current_time()
        return data

    async def aclose(self) -> None:
        await self.inner.aclose()


class ActivityListener(trio.abc.Listener[ActivityStream]):
    """Wraps a socket listener; remembers open streams by token."""

    def __init__(self, inner: trio.SocketListener) -> None:
        self.inner = inner
        self.streams: dict[str, ActivityStream] = {}

    async def accept(self) -> ActivityStream:
        stream = ActivityStream(await self.inner.accept())
        self.streams[stream.token] = stream
        return stream

    async def aclose(self) -> None:
        await self.inner.aclose()


class Server:
    """Connection handling for one exchange."""

    def __init__(self, ex: Exchange, listener: ActivityListener,
                 wire_tap: WireTap | None = None) -> None:
        self.ex = ex
        self.config: SimulatorConfig = ex.config
        self.listener = listener
        self.wire_tap = wire_tap or _no_tap
        self.connections: dict[int, WebSocketConnection] = {}

    async def handle(self, request: WebSocketRequest) -> None:
        """Serve one websocket connection until it closes; never raises."""
        stream = self.listener.streams.get(str(request.remote))
        try:
            ws = await request.accept()
        except ConnectionClosed:
            return
        send, receive = trio.open_memory_channel[str](self.config.outbound_queue_size)
        session = self.ex.open_session(send)
        self.connections[session.session_id] = ws
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._writer, ws, receive, session)
                nursery.start_soon(self._watchdog, ws, session, stream)
                await self._reader(ws, session)
                nursery.cancel_scope.cancel()
        finally:
            self.ex.end_session(session)
            self.connections.pop(session.session_id, None)
            if stream is not None:
                self.listener.streams.pop(stream.token, None)
            with trio.CancelScope(shield=True), trio.move_on_after(_CLOSE_TIMEOUT_S):
                await ws.aclose()

    async def _reader(self, ws: WebSocketConnection, session: Session) -> None:
        faults = self.config.faults
        try:
            while True:
                message = await ws.get_message()
                if isinstance(message, bytes):
                    await ws.aclose(1003, "binary frames are not supported")
                    return
                session.requests_seen += 1
                self.wire_tap(session.session_id, "in", message)
                if faults.reply_delay_s > 0:
                    await trio.sleep(faults.reply_delay_s)
                reply, close_code = handle_text(self.ex, session, message)
                if close_code is not None:
                    await ws.aclose(close_code, "not a JSON-RPC request")
                    return
                session.send(reply)
                self.ex.flush()
                if session.kill_reason is not None:
                    await ws.aclose(1008, session.kill_reason)
                    return
                if faults.drop_after_messages is not None and \
                        session.requests_seen >= faults.drop_after_messages:
                    with trio.move_on_after(_CLOSE_TIMEOUT_S):
                        await session.drained()  # let the last reply go out first
                    await ws.aclose(1001, "fault injection: drop after messages")
                    return
        except ConnectionClosed:
            return

    async def _writer(self, ws: WebSocketConnection, receive: trio.MemoryReceiveChannel[str],
                      session: Session) -> None:
        fraction = self.config.faults.malformed_frame_fraction
        rng = self.ex.fault_rng
        try:
            async for frame in receive:
                if fraction > 0.0 and frame.startswith('{"channel_name"') and \
                        rng.random() < fraction:
                    await ws.send_message(_MALFORMED_FRAMES[int(rng.integers(
                        len(_MALFORMED_FRAMES)))])
                self.wire_tap(session.session_id, "out", frame)
                await ws.send_message(frame)
                session.frame_sent()
        except ConnectionClosed:
            session.closed = True

    async def _watchdog(self, ws: WebSocketConnection, session: Session,
                        stream: ActivityStream | None) -> None:
        """Cancel-on-disconnect heartbeat, slow consumers and timed faults."""
        faults = self.config.faults
        start = trio.current_time()
        next_reconnect = None if faults.system_reconnect_every_s is None else \
            start + faults.system_reconnect_every_s
        close_at = None
        while True:
            await trio.sleep(_WATCHDOG_TICK_S)
            now = trio.current_time()
            last_rx = stream.last_rx_s if stream is not None else now
            reason = None
            if session.cod_timeout_s is not None and now - last_rx > session.cod_timeout_s:
                self.ex.cancel_session_orders(session, self.ex.now_s())
                self.ex.flush()
                reason = (1011, "cancel-on-disconnect heartbeat timeout")
            elif session.kill_reason is not None:
                reason = (1008, session.kill_reason)
            elif faults.drop_every_s is not None and now - start >= faults.drop_every_s:
                reason = (1001, "fault injection: periodic drop")
            elif close_at is not None and now >= close_at:
                reason = (1001, "reconnect requested")
            elif next_reconnect is not None and now >= next_reconnect:
                if "system" in session.subscriptions:
                    session.send(notification_frame("system", '{"event":"reconnect"}'))
                close_at = now + faults.reconnect_grace_s
                next_reconnect = None
            if reason is not None:
                with trio.move_on_after(_CLOSE_TIMEOUT_S):
                    await ws.aclose(*reason)
                return


async def market_loop(ex: Exchange, market_tap: MarketTap | None = None, *,
                      task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Step the market every ``step_s`` trio seconds and publish; fixed simulated dt per step."""
    step = ex.config.step_s
    next_t = trio.current_time() + step
    if market_tap is not None:
        market_tap(ex)  # the market as it starts (a bad tap fails here, before start-up ends)
    task_status.started()
    while True:
        await trio.sleep_until(next_t)
        ex.step_market()
        if market_tap is not None:
            market_tap(ex)
        ex.publisher.publish_step(trio.current_time())
        next_t += step
        now = trio.current_time()
        if next_t <= now:  # fell behind real time: skip, never burst
            next_t = now + step


async def throttle_loop(ex: Exchange, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    """Send throttled channel pushes at their own deadlines, also between market steps."""
    publisher = ex.publisher
    task_status.started()
    while True:
        wakeup = publisher.wakeup()  # a new subscription may bring an earlier deadline
        with trio.move_on_at(publisher.next_due_s()):
            await wakeup.wait()
        publisher.publish_due(trio.current_time())


async def start_server(config: SimulatorConfig, public_keys: dict[str, str],
                       nursery: trio.Nursery, wire_tap: WireTap | None = None,
                       market_tap: MarketTap | None = None) -> tuple[Exchange, Server, int]:
    """Bind, start the websocket server and the market loop in ``nursery``."""
    ex = Exchange(config, public_keys)
    ex.publisher = Publisher(ex)
    sockets = await trio.open_tcp_listeners(config.port, host=config.host)
    for extra in sockets[1:]:
        await extra.aclose()
    listener = ActivityListener(sockets[0])
    port = sockets[0].socket.getsockname()[1]
    server = Server(ex, listener, wire_tap)
    ws_server = WebSocketServer(server.handle, [listener], handler_nursery=nursery,
                                max_message_size=max(_HARD_FRAME_LIMIT,
                                                     config.max_request_bytes * 4))
    await nursery.start(ws_server.run)
    await nursery.start(market_loop, ex, market_tap)
    await nursery.start(throttle_loop, ex)
    return ex, server, port
