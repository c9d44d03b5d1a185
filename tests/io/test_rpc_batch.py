"""RpcSession batching: one socket write per order batch, and in-read conflation of tickers."""

from __future__ import annotations

import orjson
import trio

from qengine.io.errors import ConnectionLost, OrderNotFound
from qengine.io.rpc_session import Inbound, RpcSession

TICKER = {"best_bid_price": 100.0, "best_bid_amount": 1.0, "best_ask_price": 101.0,
          "best_ask_amount": 1.0, "mark_price": 100.5, "mark_timestamp": 1.0, "delta": 1.0,
          "index": 100.4}


def _push(channel: str, mark: float) -> bytes:
    return orjson.dumps({"channel_name": channel, "notification": {**TICKER, "mark_price": mark}})


class FakeTransport:
    connected = True

    def __init__(self) -> None:
        self.writes: list[list[bytes]] = []
        self.written = trio.Event()

    async def send_many(self, payloads: list[bytes]) -> None:
        self.writes.append(list(payloads))
        self.written.set()


async def test_only_the_newest_ticker_per_channel_in_one_read_is_delivered(autojump_clock):
    reads: list[Inbound] = []

    async def consume(inbound: Inbound) -> None:
        reads.append(inbound)

    session = RpcSession()
    session.deliver_to(consume, conflate=("ticker.",))
    batch = [_push("ticker.A.raw", 1.0), _push("ticker.B.raw", 2.0), _push("ticker.A.raw", 3.0),
             _push("ticker.A.raw", 4.0)]
    await session.handle_read(batch)
    (inbound,) = reads  # one batch per socket read
    assert [(n.key, n.records[0].mark_price) for n in inbound.market] == [("B", 2.0), ("A", 4.0)]
    assert inbound.events == []
    assert session.statistics().conflated_in_batch == 2
    assert inbound.arrival_ns == int(trio.current_time() * 1e9)


async def test_call_batch_writes_once_and_returns_each_outcome_in_order():
    session = RpcSession(request_timeout_s=5.0)
    transport = FakeTransport()
    session.attach(transport)  # type: ignore[arg-type]
    results: list[object] = []

    async def run() -> None:
        batch = await session.send_batch([("private/insert", {"a": 1}),
                                          ("private/cancel", {"b": 2})])
        assert len(transport.writes) == 1  # on the wire before any answer arrived
        results.extend(await batch.wait())

    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run)
            await transport.written.wait()
            (frames,) = transport.writes
            ids = [orjson.loads(frame)["id"] for frame in frames]
            await session.handle_read([
                orjson.dumps({"id": ids[1], "error": {"code": 1, "message": "order not found"}}),
                orjson.dumps({"id": ids[0], "result": {"ok": True}}),
            ])
    assert len(transport.writes) == 1
    assert results[0] == {"ok": True}
    assert isinstance(results[1], OrderNotFound)


async def test_call_batch_without_a_connection_returns_connection_lost_for_each():
    session = RpcSession()
    results = await session.call_batch([("private/insert", {}), ("private/amend", {})])
    assert [type(r) for r in results] == [ConnectionLost, ConnectionLost]


async def _one_read(batch: list[bytes]) -> tuple[Inbound, RpcSession]:
    reads: list[Inbound] = []

    async def consume(inbound: Inbound) -> None:
        reads.append(inbound)

    session = RpcSession()
    session.deliver_to(consume, conflate=("ticker.",))
    await session.handle_read(batch)
    (inbound,) = reads
    return inbound, session


async def test_a_broken_newest_ticker_lets_the_one_before_it_through(autojump_clock):
    broken = b'{"channel_name":"ticker.A.raw","notification":{"mark_price":'
    inbound, session = await _one_read([_push("ticker.A.raw", 1.0), _push("ticker.A.raw", 2.0),
                                        broken])
    assert [(n.key, n.records[0].mark_price) for n in inbound.market] == [("A", 2.0)]
    stats = session.statistics()
    assert stats.rpc.unknown_frames == 1
    assert stats.conflated_in_batch == 1


async def test_other_key_orders_snapshots_and_other_channels_are_still_conflated_right(
        autojump_clock):
    reordered = orjson.dumps({"notification": {**TICKER, "mark_price": 9.0},
                              "channel_name": "ticker.A.raw"})
    snapshot = orjson.dumps({"channel_name": "ticker.A.raw", "snapshot": True,
                             "notification": {**TICKER, "mark_price": 7.0}})
    order_push = orjson.dumps({"channel_name": "session.orders", "notification": []})
    inbound, session = await _one_read([_push("ticker.A.raw", 1.0), reordered, order_push,
                                        snapshot, _push("ticker.A.raw", 3.0)])
    # The snapshot is never dropped; of the rest only the newest ticker of A is delivered.
    assert [(n.records[0].mark_price, n.snapshot) for n in inbound.market] == [
        (7.0, True), (3.0, False)]
    assert [n.kind for n in inbound.events] == ["session.orders"]
    assert session.statistics().conflated_in_batch == 2
