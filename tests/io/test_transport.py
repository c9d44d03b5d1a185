"""The lean websocket client and the reconnecting transport, against real loopback servers.

Two kinds of server: trio-websocket (a correct RFC 6455 peer) and a raw TCP server written here
that does the upgrade by hand and then sends exactly the frames a test wants (fragments, masked
frames, closes, silence). Everything runs under the autojump clock and ``fail_after``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import itertools
import random
import struct
from functools import partial
from typing import Any

import orjson
import pytest
import trio
import trio_websocket
from hypothesis import given
from hypothesis import strategies as st

from qengine.io._websocket import ConnectionClosed, connect_websocket
from qengine.io.errors import ConnectionLost, OrderNotFound, ProtocolViolation, RequestTimeout
from qengine.io.rpc_session import Inbound, RpcSession
from qengine.io.transport import ReconnectPolicy, TransportConfig, open_transport
from qengine.io.ws_frames import MaskKeys, encode_frame, mask

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# -- a raw server ----------------------------------------------------------------------------


class RawPeer:
    """Server side of one raw connection: reads masked client frames, writes any bytes."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buf = bytearray()

    async def _fill(self, n: int) -> None:
        while len(self.buf) < n:
            data = await self.stream.receive_some(65536)
            if not data:
                raise EOFError
            self.buf += data

    async def handshake(self, *, accept_override: str | None = None, status: str = "101") -> dict:
        while b"\r\n\r\n" not in self.buf:
            await self._fill(len(self.buf) + 1)
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        self.buf = bytearray(rest)
        lines = head.decode().split("\r\n")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])
        }
        accept = base64.b64encode(
            hashlib.sha1(headers["sec-websocket-key"].encode() + GUID).digest()
        )
        response = (
            f"HTTP/1.1 {status} Switching Protocols\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Accept: "
            f"{accept_override or accept.decode()}\r\n\r\n"
        )
        await self.stream.send_all(response.encode())
        headers["request-line"] = lines[0]
        return headers

    async def read_frame(self) -> tuple[int, bool, bool, bytes]:
        """Return (opcode, fin, masked, unmasked payload) of the next client frame."""
        await self._fill(2)
        b0, b1 = self.buf[0], self.buf[1]
        length, offset = b1 & 0x7F, 2
        if length == 126:
            await self._fill(4)
            length, offset = struct.unpack("!H", self.buf[2:4])[0], 4
        elif length == 127:
            await self._fill(10)
            length, offset = struct.unpack("!Q", self.buf[2:10])[0], 10
        masked = bool(b1 & 0x80)
        key = b""
        if masked:
            await self._fill(offset + 4)
            key = bytes(self.buf[offset : offset + 4])
            offset += 4
        await self._fill(offset + length)
        payload = bytes(self.buf[offset : offset + length])
        del self.buf[: offset + length]
        if masked:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        return b0 & 0x0F, bool(b0 & 0x80), masked, payload

    async def send(self, opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0) -> None:
        frame = bytearray(encode_frame(opcode, payload))
        frame[0] = (0x80 if fin else 0) | rsv | opcode
        await self.stream.send_all(bytes(frame))


async def start_raw_server(nursery: trio.Nursery, script) -> int:
    async def handler(stream: trio.SocketStream) -> None:
        with contextlib.suppress(EOFError, trio.BrokenResourceError, trio.ClosedResourceError):
            await script(RawPeer(stream))

    listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
    return listeners[0].socket.getsockname()[1]


async def start_echo_server(nursery: trio.Nursery, *, close_first_after: int | None = None) -> int:
    """trio-websocket echo server; with ``close_first_after`` the first connection closes with
    code 1012 after that many messages."""
    state = {"connections": 0}

    async def handler(request):
        ws = await request.accept()
        state["connections"] += 1
        number = state["connections"]
        count = 0
        try:
            while True:
                message = await ws.get_message()
                count += 1
                await ws.send_message(message)
                if number == 1 and close_first_after is not None and count >= close_first_after:
                    await ws.aclose(1012, "restart")
                    return
        except trio_websocket.ConnectionClosed:
            pass

    server = await nursery.start(trio_websocket.serve_websocket, handler, "127.0.0.1", 0, None)
    return server.port


# -- pure helpers ----------------------------------------------------------------------------


@given(st.binary(max_size=300), st.binary(min_size=4, max_size=4))
def test_mask_matches_the_byte_by_byte_definition(payload, key):
    expected = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    assert mask(payload, key) == expected
    assert mask(expected, key) == payload


@pytest.mark.parametrize(
    ("size", "header_bytes"), [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)]
)
def test_encode_frame_uses_the_shortest_length_form(size, header_bytes):
    frame = encode_frame(0x1, b"a" * size, mask_key=b"\x01\x02\x03\x04")
    assert len(frame) == header_bytes + 4 + size
    assert frame[0] == 0x81
    assert frame[1] & 0x80


def test_backoff_grows_exponentially_with_bounded_jitter_and_a_cap():
    policy = ReconnectPolicy(initial_delay_s=1.0, max_delay_s=8.0, multiplier=2.0, jitter=0.25)
    rng = random.Random(1)
    for attempt, base in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (60, 8.0)]:
        delays = [policy.delay_s(attempt, rng) for _ in range(50)]
        assert all(0.75 * base <= d <= base for d in delays)
        assert len(set(delays)) > 1  # jitter really varies


def test_backoff_without_jitter_is_deterministic():
    policy = ReconnectPolicy(initial_delay_s=0.5, jitter=0.0)
    assert [policy.delay_s(n, random.Random()) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]


@pytest.mark.parametrize(
    "kwargs", [{"initial_delay_s": -1}, {"multiplier": 0.5}, {"jitter": 2}, {"max_attempts": 0}]
)
def test_bad_policies_are_refused(kwargs):
    with pytest.raises(ValueError):  # noqa: PT011 - each case names a different field
        ReconnectPolicy(**kwargs)


# -- the websocket client against raw servers ----------------------------------------------


async def test_handshake_sends_upgrade_headers_and_client_frames_are_masked(autojump_clock):
    got = {}

    async def script(peer: RawPeer):
        got["headers"] = await peer.handshake()
        got["frame"] = await peer.read_frame()
        await peer.send(0x1, b'{"ok":1}')
        await trio.sleep_forever()

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            port = await start_raw_server(nursery, script)
            ws = await connect_websocket(f"ws://127.0.0.1:{port}/ws/api/v2", user_agent="t/1")
            await ws.send_text(b'{"method":"x","params":{}}')
            assert await ws.receive_batch() == [b'{"ok":1}']
            await ws.aclose()
            nursery.cancel_scope.cancel()
    headers = got["headers"]
    assert headers["request-line"] == "GET /ws/api/v2 HTTP/1.1"
    assert headers["upgrade"] == "websocket"
    assert headers["sec-websocket-version"] == "13"
    assert headers["user-agent"] == "t/1"
    assert "sec-websocket-extensions" not in headers
    assert got["frame"] == (0x1, True, True, b'{"method":"x","params":{}}')


async def test_fragmented_message_with_a_ping_between_fragments_is_reassembled(autojump_clock):
    replies = []

    async def script(peer: RawPeer):
        await peer.handshake()
        await peer.send(0x1, b'{"a":', fin=False)
        await peer.send(0x9, b"p1")
        await peer.send(0x0, b"1", fin=False)
        await peer.send(0x0, b"}")
        await peer.send(0x1, b"[2]")
        replies.append(await peer.read_frame())
        await trio.sleep_forever()

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            port = await start_raw_server(nursery, script)
            ws = await connect_websocket(f"ws://127.0.0.1:{port}/")
            messages = []
            while len(messages) < 2:
                messages += await ws.receive_batch()
            await trio.testing.wait_all_tasks_blocked()
            await ws.aclose()
            nursery.cancel_scope.cancel()
    assert messages == [b'{"a":1}', b"[2]"]
    assert replies == [(0xA, True, True, b"p1")]  # the pong echoes the ping payload
    assert ws.counters.pings_received == 1


async def test_server_close_is_echoed_and_reported_with_its_code(autojump_clock):
    echoed = []

    async def script(peer: RawPeer):
        await peer.handshake()
        await peer.send(0x8, (4001).to_bytes(2, "big") + b"maintenance")
        echoed.append(await peer.read_frame())
        await trio.sleep_forever()

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            port = await start_raw_server(nursery, script)
            ws = await connect_websocket(f"ws://127.0.0.1:{port}/")
            with pytest.raises(ConnectionClosed) as info:
                await ws.receive_batch()
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
    assert (info.value.code, info.value.reason) == (4001, "maintenance")
    assert echoed == [(0x8, True, True, (4001).to_bytes(2, "big"))]
    with pytest.raises(ConnectionLost):
        await ws.send_text(b"x")


async def test_client_close_sends_code_and_waits_for_the_echo(autojump_clock):
    got = []

    async def script(peer: RawPeer):
        await peer.handshake()
        got.append(await peer.read_frame())
        await peer.send(0x8, got[0][3][:2])
        await trio.sleep_forever()

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            port = await start_raw_server(nursery, script)
            ws = await connect_websocket(f"ws://127.0.0.1:{port}/")
            await ws.aclose(1001, "bye")
            nursery.cancel_scope.cancel()
    assert got == [(0x8, True, True, (1001).to_bytes(2, "big") + b"bye")]
    assert ws.closed is not None
    assert ws.closed.code == 1001


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (encode_frame(0x1, b"{}", mask_key=b"abcd"), 1002),  # masked server frame
        (bytes([0xC1, 0x02]) + b"{}", 1002),  # RSV1 without an extension
        (bytes([0x83, 0x00]), 1002),  # reserved opcode
        (bytes([0x09, 0x00]), 1002),  # fragmented control frame
        (bytes([0x80, 0x01]) + b"x", 1002),  # continuation without a start
        (bytes([0x81, 127]) + (70_000).to_bytes(8, "big") + b"x" * 70_000, 1009),
    ],
)
async def test_protocol_violations_close_with_the_right_code(autojump_clock, frame, code):
    got = []

    async def script(peer: RawPeer):
        await peer.handshake()
        await peer.stream.send_all(frame)
        got.append(await peer.read_frame())
        await trio.sleep_forever()

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            port = await start_raw_server(nursery, script)
            ws = await connect_websocket(f"ws://127.0.0.1:{port}/", max_message_bytes=65_536)
            with pytest.raises(ProtocolViolation):
                await ws.receive_batch()
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
    assert got[0][0] == 0x8
    assert int.from_bytes(got[0][3][:2], "big") == code


async def test_large_message_with_64_bit_length_arrives_whole(autojump_clock):
    body = b"[" + b"1," * 40_000 + b"1]"

    async def script(peer: RawPeer):
        await peer.handshake()
        await peer.stream.send_all(bytes([0x81, 127]) + len(body).to_bytes(8, "big") + body)
        await trio.sleep_forever()

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            port = await start_raw_server(nursery, script)
            ws = await connect_websocket(f"ws://127.0.0.1:{port}/")
            assert await ws.receive_batch() == [body]
            await ws.aclose()
            nursery.cancel_scope.cancel()


@pytest.mark.parametrize(("accept", "status"), [("bogus", "101"), (None, "403")])
async def test_bad_upgrade_answers_are_protocol_violations(autojump_clock, accept, status):
    async def script(peer: RawPeer):
        await peer.handshake(accept_override=accept, status=status)
        await trio.sleep_forever()

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            port = await start_raw_server(nursery, script)
            with pytest.raises(ProtocolViolation):
                await connect_websocket(f"ws://127.0.0.1:{port}/")
            nursery.cancel_scope.cancel()


async def test_connect_to_a_closed_port_raises_connection_lost(autojump_clock):
    with trio.socket.socket() as sock:  # a bound but never listening port refuses connections
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with trio.fail_after(5), pytest.raises(ConnectionLost):
            await connect_websocket(f"ws://127.0.0.1:{port}/")


def test_non_websocket_urls_are_refused():
    with pytest.raises(ValueError, match="not a websocket URL"):
        trio.run(connect_websocket, "http://example.com/")


# -- the transport -------------------------------------------------------------------------


async def test_transport_pings_on_schedule_and_measures_round_trips(autojump_clock):
    received = []

    async def on_batch(batch):
        received.extend(batch)

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            port = await start_echo_server(nursery)
            config = TransportConfig(url=f"ws://127.0.0.1:{port}/", ping_interval_s=5.0)
            async with open_transport(config, on_batch=on_batch) as transport:
                await transport.send(b"hello")
                await trio.sleep(16)
                stats = transport.statistics()
            nursery.cancel_scope.cancel()
    assert received == [b"hello"]
    assert stats.pings_sent == 3
    assert stats.pongs_received == 3
    assert stats.last_ping_rtt_s >= 0
    assert stats.connected


async def test_transport_reconnects_after_a_server_close_and_reruns_the_hook(autojump_clock):
    hooks, losses, received = [], [], []

    async def on_batch(batch):
        received.extend(batch)

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            port = await start_echo_server(nursery, close_first_after=1)
            config = TransportConfig(
                url=f"ws://127.0.0.1:{port}/",
                reconnect=ReconnectPolicy(initial_delay_s=0.5, jitter=0.0),
            )

            async def on_connect(transport):
                hooks.append(trio.current_time())
                if len(hooks) > 1:
                    await transport.send(b"hook %d" % len(hooks))

            async with open_transport(
                config, on_batch=on_batch, on_connect=on_connect, on_disconnect=losses.append
            ) as transport:
                await transport.send(b"first")  # the server closes after echoing this
                await trio.sleep(2)
                await transport.wait_connected()
                await transport.send(b"second")
                await trio.sleep(1)
                stats = transport.statistics()
                generation = transport.generation
            nursery.cancel_scope.cancel()
    assert received == [b"first", b"hook 2", b"second"]
    assert len(hooks) == 2
    assert hooks[1] - hooks[0] == pytest.approx(0.5, abs=0.05)  # one initial backoff
    assert len(losses) == 1
    assert isinstance(losses[0], ConnectionLost)
    assert generation == 2
    assert (stats.connects, stats.disconnects) == (2, 1)


async def test_silent_server_is_detected_as_stale_and_replaced(autojump_clock):
    connections = []

    async def script(peer: RawPeer):
        connections.append(trio.current_time())
        await peer.handshake()
        await trio.sleep_forever()  # never answers pings, never sends data

    async def on_batch(batch):
        pass

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            port = await start_raw_server(nursery, script)
            config = TransportConfig(
                url=f"ws://127.0.0.1:{port}/",
                ping_interval_s=1.0,
                stale_after_s=3.0,
                reconnect=ReconnectPolicy(initial_delay_s=0.1, jitter=0.0),
            )
            async with open_transport(config, on_batch=on_batch) as transport:
                await trio.sleep(5)
                stats = transport.statistics()
            nursery.cancel_scope.cancel()
    assert stats.stale_disconnects == 1
    assert len(connections) == 2
    assert 3.0 < connections[1] - connections[0] < 5.0


async def test_without_a_reconnect_policy_a_loss_ends_the_transport(autojump_clock):
    async def on_batch(batch):
        pass

    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            port = await start_echo_server(nursery, close_first_after=1)
            config = TransportConfig(url=f"ws://127.0.0.1:{port}/", reconnect=None)
            with pytest.RaisesGroup(ConnectionLost, flatten_subgroups=True):
                async with open_transport(config, on_batch=on_batch) as transport:
                    await transport.send(b"bye")
                    await trio.sleep(10)
            nursery.cancel_scope.cancel()


async def test_first_connection_failure_raises_from_open_transport(autojump_clock):
    async def on_batch(batch):
        pass

    with trio.socket.socket() as sock:
        await sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = TransportConfig(url=f"ws://127.0.0.1:{port}/")
        with (
            trio.fail_after(5),
            pytest.RaisesGroup(ConnectionLost, flatten_subgroups=True, allow_unwrapped=True),
        ):
            async with open_transport(config, on_batch=on_batch):
                pass


async def test_reconnect_gives_up_after_max_attempts(autojump_clock):
    attempts = []

    async def script(peer: RawPeer):
        attempts.append(trio.current_time())
        if len(attempts) == 1:
            await peer.handshake()
            await peer.send(0x8, (1012).to_bytes(2, "big"))
        # later connections: close TCP before the upgrade

    async def on_batch(batch):
        pass

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            port = await start_raw_server(nursery, script)
            config = TransportConfig(
                url=f"ws://127.0.0.1:{port}/",
                reconnect=ReconnectPolicy(initial_delay_s=1.0, jitter=0.0, max_attempts=3),
            )
            with pytest.RaisesGroup(
                pytest.RaisesExc(ConnectionLost, match="giving up"), flatten_subgroups=True
            ):
                async with open_transport(config, on_batch=on_batch):
                    await trio.sleep(30)
            nursery.cancel_scope.cancel()
    gaps = [round(b - a, 1) for a, b in itertools.pairwise(attempts)]
    assert gaps == [1.0, 2.0]  # backoff doubles; the third failure gives up


# -- dispatch in the client session (no sockets: a fake transport) ---------------------------


class FakeTransport:
    connected = True

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send(self, payload: bytes) -> None:
        self.sent.append(payload)

    def statistics(self) -> None:
        return None


def order_frame(order_id: str, status: str = "open") -> bytes:
    order = {
        "order_id": order_id,
        "instrument_name": "BTC-PERPETUAL",
        "direction": "buy",
        "order_type": "limit",
        "time_in_force": "good_till_cancelled",
        "price": 100.0,
        "amount": 1.0,
        "filled_amount": 0.0,
        "remaining_amount": 1.0,
        "status": status,
        "change_reason": "insert",
        "fills": [],
    }
    return orjson.dumps({"channel_name": "session.orders", "notification": [order]})


async def test_a_slow_consumer_applies_back_pressure_in_order(autojump_clock):
    send, receive = trio.open_memory_channel[Any](0)

    async def consume(inbound: Inbound) -> None:
        for notification in inbound.events:
            await send.send(notification)  # blocks until the test takes it

    session = RpcSession()
    session.deliver_to(consume)
    seen = []
    read_done = trio.Event()

    async def read() -> None:
        await session.handle_read([order_frame(f"o{i}") for i in range(3)])
        read_done.set()

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            await trio.testing.wait_all_tasks_blocked()
            assert not read_done.is_set()  # the reader waits for the consumer
            for _ in range(3):
                seen.append((await receive.receive()).records[0].order_id)
    assert seen == ["o0", "o1", "o2"]
    assert session.statistics().inbound_batches == 1


async def test_pushes_are_decoded_once_and_bad_payloads_are_counted():
    reads: list[Inbound] = []

    async def consume(inbound: Inbound) -> None:
        reads.append(inbound)

    session = RpcSession()
    session.deliver_to(consume)
    bad = orjson.dumps({"channel_name": "session.orders", "notification": {"x": 1}})
    await session.handle_read([order_frame("a"), bad])
    (inbound,) = reads
    assert [n.records[0].order_id for n in inbound.events] == ["a"]
    assert session.statistics().undecodable_notifications == 1


async def test_pending_calls_fail_with_connection_lost_and_errors_are_typed(autojump_clock):
    session = RpcSession(request_timeout_s=5)
    transport = FakeTransport()
    session.attach(transport)
    outcomes = []

    async def caller(method):
        try:
            outcomes.append(await session.call(method))
        except (ConnectionLost, OrderNotFound, RequestTimeout) as exc:
            outcomes.append(type(exc).__name__)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(caller, "a")
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(caller, "b")
            await trio.testing.wait_all_tasks_blocked()
            await session.handle_read([b'{"id":2,"error":{"code":1,"message":"gone"}}'])
            await trio.testing.wait_all_tasks_blocked()
            session.connection_lost(ConnectionLost("test"))
        nursery_outcomes = list(outcomes)
        await caller("c")  # never answered: times out after request_timeout_s
    assert nursery_outcomes == ["OrderNotFound", "ConnectionLost"]
    assert outcomes[-1] == "RequestTimeout"
    assert [orjson.loads(f)["method"] for f in transport.sent] == ["a", "b", "c"]
    assert session.statistics().rpc.pending == 0


async def test_a_batch_of_texts_arrives_as_masked_frames_in_order(autojump_clock):
    got = []
    all_read = trio.Event()

    async def script(peer: RawPeer):
        await peer.handshake()
        for _ in range(300):  # more keys than one pool holds: the pool refills in between
            got.append(await peer.read_frame())
        all_read.set()
        await trio.sleep_forever()

    payloads = [b'{"n":%d}' % i for i in range(100)]
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            port = await start_raw_server(nursery, script)
            ws = await connect_websocket(f"ws://127.0.0.1:{port}/ws/api/v2")
            for _ in range(3):
                await ws.send_texts(payloads)
            await all_read.wait()
            await ws.aclose()
            nursery.cancel_scope.cancel()
    assert got == [(0x1, True, True, p) for p in payloads] * 3


def test_mask_keys_are_never_handed_out_twice_and_the_pool_refills():
    keys = MaskKeys()
    taken = [keys.take(4) for _ in range(5000)]  # several pools' worth
    assert all(len(k) == 4 for k in taken)
    assert len(set(taken)) > 4990  # 32-bit random keys: a few collisions at most
    assert len(keys.take(10_000)) == 10_000  # larger than a pool
