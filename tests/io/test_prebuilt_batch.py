"""Batches of requests with consecutive ids and one waiter: the sans-IO table
(``RpcProtocol.start_batch``), ``RpcSession.send_prebuilt`` (frames written by the caller) and
``WebSocket.send_frames`` on a real socket."""

from __future__ import annotations

import orjson
import pytest
import trio
import trio.testing

from qengine.io._websocket import connect_websocket
from qengine.io.errors import ConnectionLost, OrderNotFound, RequestTimeout
from qengine.io.jsonrpc import ErrorResponse, Response, RpcProtocol, encode_request, parse_frame
from qengine.io.rpc_session import RpcSession
from qengine.io.ws_frames import encode_frame

from .test_transport import RawPeer, start_raw_server

TOP = (1 << 53) - 1


# -- the pending table ---------------------------------------------------------------------------


def test_a_batch_takes_consecutive_ids_and_completes_with_its_last_answer():
    rpc = RpcProtocol(first_request_id=7)
    batch = rpc.start_batch(3, waiter="w")
    assert (batch.first_id, list(batch.ids())) == (7, [7, 8, 9])
    assert rpc.pending_count == 3
    assert rpc.start_request("m")[0].request_id == 10  # single requests continue after it
    assert rpc.receive(parse_frame(b'{"id":9,"result":1}')) is None
    assert rpc.receive(parse_frame(b'{"id":7,"error":{"code":1,"message":"nf"}}')) is None
    assert rpc.receive(parse_frame(b'{"id":8,"result":2}')) is batch
    assert batch.outcomes == [ErrorResponse(7, 1, "nf"), Response(8, 2), Response(9, 1)]
    assert batch.remaining == 0
    assert rpc.receive(parse_frame(b'{"id":8,"result":2}')) is None  # answered once only
    stats = rpc.statistics()
    assert (stats.requests_sent, stats.responses_matched, stats.errors_matched,
            stats.unmatched_responses, stats.pending) == (4, 2, 1, 1, 1)


def test_a_batch_wraps_before_its_ids_and_skips_ids_still_pending():
    rpc = RpcProtocol(first_request_id=TOP - 1)
    assert rpc.start_batch(3).first_id == 0  # TOP - 1 .. TOP + 1 would cross the wrap
    straddle = RpcProtocol(first_request_id=TOP - 3)
    old = straddle.start_batch(4)  # TOP - 3 .. TOP, pending
    lone = straddle.start_request("m")[0]  # wraps to 0
    straddle._next_id = TOP - 10  # force a collision with the pending batch
    assert straddle.start_batch(8).first_id == 1  # TOP - 10 .. TOP - 3 clashes; 0 is taken
    assert (old.first_id, lone.request_id) == (TOP - 3, 0)


def test_batches_are_failed_and_expired_once_each():
    rpc = RpcProtocol()
    batch = rpc.start_batch(4, now_s=0.0, timeout_s=5.0)
    single, _ = rpc.start_request("m", now_s=0.0, timeout_s=50.0)
    assert rpc.expire(4.9) == []
    assert rpc.expire(5.0) == [batch]
    assert rpc.statistics().expired == 4
    assert rpc.receive(parse_frame(b'{"id":2,"result":1}')) is None  # late: dropped
    again = rpc.start_batch(2)
    assert rpc.fail_all() == [single, again]
    assert rpc.pending_count == 0


def test_abandoning_a_batch_forgets_only_its_unanswered_requests():
    rpc = RpcProtocol()
    batch = rpc.start_batch(3)
    rpc.receive(parse_frame(b'{"id":2,"result":1}'))
    rpc.abandon_batch(batch)
    assert rpc.pending_count == 0
    assert rpc.receive(parse_frame(b'{"id":1,"result":1}')) is None
    with pytest.raises(ValueError, match="batch"):
        rpc.start_batch(0)


# -- the session ---------------------------------------------------------------------------------


class FrameTransport:
    """A connected transport that records the frames written and hands out counted keys."""

    connected = True

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.keys_taken = 0

    def take_mask_keys(self, n_frames: int) -> bytes:
        self.keys_taken += n_frames
        return bytes(range(4 * n_frames))

    async def send_frames(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    async def send_many(self, payloads: list[bytes]) -> None:
        raise AssertionError("send_prebuilt must write the frames it was given")

    def statistics(self) -> None:
        return None


def _builder(methods, calls):
    def build(first_id: int, keys: bytes) -> bytes:
        calls.append((first_id, keys))
        return b"".join(encode_frame(0x1, encode_request(method, {"n": i}, first_id + i),
                                     mask_key=keys[4 * i:4 * i + 4])
                        for i, method in enumerate(methods))
    return build


def _session(timeout_s=5.0):
    session = RpcSession(request_timeout_s=timeout_s)
    transport = FrameTransport()
    session.attach(transport)  # type: ignore[arg-type]
    return session, transport


async def test_prebuilt_frames_are_written_once_and_answers_matched_by_id():
    session, transport = _session()
    methods = ["private/insert", "private/amend", "private/cancel"]
    calls: list = []
    batch = await session.send_prebuilt(methods, _builder(methods, calls))
    (first_id, keys), = calls
    assert keys == bytes(range(12))
    assert transport.keys_taken == 3
    assert transport.writes == [_builder(methods, [])(first_id, keys)]
    await session.handle_read([
        orjson.dumps({"id": first_id + 2, "result": {"c": 1}}),
        orjson.dumps({"id": first_id, "result": {"a": 1}}),
        orjson.dumps({"id": first_id + 1, "error": {"code": 1, "message": "order not found"}}),
    ])
    with trio.fail_after(1):
        results = await batch.wait()
    assert results[0] == {"a": 1}
    assert results[2] == {"c": 1}
    assert isinstance(results[1], OrderNotFound)
    assert session.statistics().rpc.pending == 0


async def test_unanswered_requests_time_out_and_late_answers_are_dropped(autojump_clock):
    session, _ = _session(timeout_s=2.0)
    calls: list = []
    batch = await session.send_prebuilt(["a", "b"], _builder(["a", "b"], calls))
    first_id = calls[0][0]
    await session.handle_read([orjson.dumps({"id": first_id + 1, "result": 5})])
    results = await batch.wait()
    assert isinstance(results[0], RequestTimeout)
    assert results[1] == 5
    assert trio.current_time() == pytest.approx(2.0)
    assert session.statistics().rpc.pending == 0
    await session.handle_read([orjson.dumps({"id": first_id, "result": 1})])
    assert session.statistics().rpc.unmatched_responses == 1


async def test_a_lost_connection_fails_the_unanswered_requests():
    session, _ = _session()
    calls: list = []
    results: list = []

    async def wait(batch):
        results.extend(await batch.wait())

    batch = await session.send_prebuilt(["a", "b", "c"], _builder(["a", "b", "c"], calls))
    with trio.fail_after(1):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(wait, batch)
            await session.handle_read([orjson.dumps({"id": calls[0][0], "result": 1})])
            await trio.testing.wait_all_tasks_blocked()
            session.connection_lost(ConnectionLost("test"))
    assert results[0] == 1
    assert [type(r) for r in results[1:]] == [ConnectionLost, ConnectionLost]


async def test_without_a_connection_nothing_is_built_and_every_request_is_not_sent():
    session = RpcSession()
    calls: list = []
    batch = await session.send_prebuilt(["a", "b"], _builder(["a", "b"], calls))
    assert calls == []
    assert isinstance(batch.not_sent, ConnectionLost)
    assert [type(r) for r in await batch.wait()] == [ConnectionLost, ConnectionLost]


async def test_a_builder_that_cannot_or_fails_releases_its_ids():
    session, transport = _session()
    assert await session.send_prebuilt(["a"], lambda first_id, keys: None) is None

    def broken(first_id: int, keys: bytes) -> bytes:
        raise ValueError("amount must be finite")

    with pytest.raises(ValueError, match="amount"):
        await session.send_prebuilt(["a", "b"], broken)
    assert transport.writes == []
    assert session.statistics().rpc.pending == 0
    assert session.statistics().rpc.requests_sent == 0  # nothing left: nothing counted as sent


async def test_a_failed_write_marks_the_batch_not_sent_and_releases_its_ids():
    session, transport = _session()

    async def broken_send(data: bytes) -> None:
        raise ConnectionLost("write failed")

    transport.send_frames = broken_send  # type: ignore[method-assign]
    batch = await session.send_prebuilt(["a"], _builder(["a"], []))
    assert str(batch.not_sent) == "write failed"
    assert session.statistics().rpc.pending == 0


# -- the websocket ---------------------------------------------------------------------------------


async def test_frames_built_with_the_socket_s_keys_arrive_in_one_piece(autojump_clock):
    got = []
    all_read = trio.Event()

    async def script(peer: RawPeer):
        await peer.handshake()
        for _ in range(2000):  # more keys than one pool holds
            got.append(await peer.read_frame())
        all_read.set()
        await trio.sleep_forever()

    payloads = [b'{"n":%d}' % i for i in range(200)] + [b"x" * 300]
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            port = await start_raw_server(nursery, script)
            ws = await connect_websocket(f"ws://127.0.0.1:{port}/ws/api/v2")
            seen = set()
            for _ in range(2000 // len(payloads) + 1):
                keys = ws.take_mask_keys(len(payloads))
                seen.update(keys[i:i + 4] for i in range(0, len(keys), 4))
                await ws.send_frames(b"".join(
                    encode_frame(0x1, p, mask_key=keys[4 * i:4 * i + 4])
                    for i, p in enumerate(payloads)))
            await all_read.wait()
            await ws.aclose()
            nursery.cancel_scope.cancel()
    assert got == ([(0x1, True, True, p) for p in payloads] * 10)[:2000]
    assert len(seen) > 2000 - 5  # fresh keys (32-bit random: a collision is rare)
