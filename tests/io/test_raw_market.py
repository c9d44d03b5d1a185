"""RpcSession's raw market channels: the newest push of such a channel in a read is handed over
as its frame's bytes, everything else as before; decode_raw decodes or rejects it exactly as a
read would have, counted the same way."""

from __future__ import annotations

import orjson
import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st

from qengine.io.client import ThalexClient
from qengine.io.rpc_session import Inbound, RpcSession

TICKER = {"best_bid_price": 100.0, "best_bid_amount": 1.0, "best_ask_price": 101.0,
          "best_ask_amount": 1.0, "mark_price": 100.5, "mark_timestamp": 1.0, "index": 100.4}
RAW = "ticker.A.raw"


def push(channel: str, mark: float, **extra: object) -> bytes:
    return orjson.dumps({"channel_name": channel,
                         "notification": {**TICKER, "mark_price": mark}, **extra})


async def one_read(batch: list[bytes], raw: tuple[str, ...] = (RAW,)
                   ) -> tuple[Inbound, RpcSession]:
    reads: list[Inbound] = []

    async def consume(inbound: Inbound) -> None:
        reads.append(inbound)

    session = RpcSession(raw_market=raw)
    session.deliver_to(consume, conflate=("ticker.", "price_index."))
    await session.handle_read(batch)
    (inbound,) = reads
    return inbound, session


async def test_a_read_of_one_raw_ticker_hands_over_its_bytes_unparsed(autojump_clock):
    frame = push(RAW, 1.0)
    inbound, session = await one_read([frame])
    assert inbound.market == [frame]
    assert inbound.market[0] is frame  # not copied
    stats = session.statistics()
    assert stats.raw_market_pushes == 1
    assert stats.rpc.notifications == 0  # not parsed


async def test_only_the_newest_raw_push_is_kept_and_the_rest_of_the_read_is_unchanged(
        autojump_clock):
    index = orjson.dumps({"channel_name": "price_index.X",
                          "notification": {"index_name": "X", "price": 5.0, "timestamp": 1.0}})
    order = orjson.dumps({"channel_name": "session.orders", "notification": []})
    batch = [push(RAW, 1.0), order, push(RAW, 2.0), index, push("ticker.B.raw", 3.0),
             push(RAW, 4.0) + b" "]
    inbound, session = await one_read(batch)
    kinds = [item if type(item) is bytes else (item.kind, item.key) for item in inbound.market]
    assert kinds == [("price_index", "X"), ("ticker", "B"), batch[5]]  # arrival order
    assert [n.kind for n in inbound.events] == ["session.orders"]
    assert session.statistics().conflated_in_batch == 2
    assert session.statistics().raw_market_pushes == 1


async def test_snapshots_other_key_orders_and_other_channels_are_decoded_as_before(
        autojump_clock):
    reordered = orjson.dumps({"notification": {**TICKER, "mark_price": 9.0}, "channel_name": RAW})
    snapshot = push(RAW, 7.0, snapshot=True)
    inbound, _ = await one_read([push(RAW, 1.0), reordered, snapshot])
    assert [(n.records[0].mark_price, n.snapshot) for n in inbound.market] == [
        (9.0, False), (7.0, True)]
    inbound, _ = await one_read([push(RAW, 1.0), reordered])
    assert [n.records[0].mark_price for n in inbound.market] == [9.0]  # the newest, decoded
    inbound, session = await one_read([push("ticker.A.100ms", 1.0)])
    assert [n.key for n in inbound.market] == ["A"]
    assert session.statistics().raw_market_pushes == 0


async def test_without_raw_channels_nothing_changes(autojump_clock):
    inbound, session = await one_read([push(RAW, 1.0), push(RAW, 2.0)], raw=())
    assert [n.records[0].mark_price for n in inbound.market] == [2.0]
    assert session.statistics().raw_market_pushes == 0


def test_decode_raw_decodes_and_rejects_as_a_read_would_and_counts_the_same():
    async def nobody(_inbound: Inbound) -> None:
        pass

    session, reference = RpcSession(raw_market=(RAW,)), RpcSession()
    for each in (session, reference):
        each.deliver_to(nobody, conflate=("ticker.",))
    good = push(RAW, 3.0)
    rejected = push(RAW, 3.0).replace(b'"best_bid_amount":1.0', b'"best_bid_amount":-1.0')
    not_json = push(RAW, 3.0)[:-3]
    inbound = session.decode_raw(good, 123)
    assert inbound.arrival_ns == 123
    assert [n.records[0].mark_price for n in inbound.market] == [3.0]
    assert session.decode_raw(rejected, 1).market == []
    assert session.decode_raw(not_json, 1).market == []
    for frame in (good, rejected, not_json):
        trio.run(reference.handle_read, [frame])
    ours, theirs = session.statistics(), reference.statistics()
    assert ours.rpc.notifications == theirs.rpc.notifications == 2
    assert ours.rpc.unknown_frames == theirs.rpc.unknown_frames == 1
    assert ours.undecodable_notifications == theirs.undecodable_notifications == 1
    assert session.decode_stats.malformed == reference.decode_stats.malformed == 1


@pytest.mark.parametrize("names", [("",), ('ticker."A".raw',), ("ticker.\\A",), (5,)])
def test_raw_market_names_are_checked(names):
    with pytest.raises(ValueError, match="raw_market"):
        RpcSession(raw_market=names)


def test_the_client_builds_its_session_with_the_raw_channels():
    client = ThalexClient(raw_market=(RAW,))

    async def nobody(_inbound: Inbound) -> None:
        pass

    client._session.deliver_to(nobody, conflate=("ticker.",))
    assert client.decode_raw(push(RAW, 2.0), 5).market[0].records[0].mark_price == 2.0


ORDER_PUSH = {"order_id": "00011E5700000102", "order_type": "limit",
              "time_in_force": "good_till_cancelled", "instrument_name": "A", "direction": "sell",
              "price": 101.0, "amount": 0.1, "filled_amount": 0.0, "remaining_amount": 0.1,
              "label": "qe", "client_order_id": 1002, "status": "open", "fills": [],
              "change_reason": "insert", "insert_reason": "client_request",
              "create_time": 1.0, "persistent": False}
FILL = {"trade_id": "T1", "price": 101.0, "amount": 0.04, "time": 2.0, "maker_taker": "maker",
        "leg_index": 0}


def orders_push(**fields: object) -> bytes:
    return orjson.dumps({"channel_name": "session.orders",
                         "notification": [{**ORDER_PUSH, **fields}]})


def answer(request_id: int, **result: object) -> bytes:
    return orjson.dumps({"id": request_id, "result": {**ORDER_PUSH, **result}})


async def reads_of(batch: list[bytes]) -> tuple[list[tuple[Inbound, int]], RpcSession]:
    """Every hand-over of one read, each with the answers io had matched when it came."""
    reads: list[tuple[Inbound, int]] = []
    session = RpcSession(raw_market=(RAW,))

    async def consume(inbound: Inbound) -> None:
        reads.append((inbound, session.statistics().rpc.unmatched_responses))

    session.deliver_to(consume, conflate=("ticker.", "price_index."))
    await session.handle_read(batch)
    return reads, session


async def test_the_ticker_goes_first_when_nothing_else_must_be_applied_before_it(
        autojump_clock):
    # Around the newest raw ticker: answers (their callers run after the cycle either way, a
    # fill in one too), order pushes of live orders that list no fill, and an older push of
    # the ticker's channel. It is handed over alone, before the rest is even parsed.
    newest = push(RAW, 3.0)
    batch = [answer(7), push(RAW, 1.0), orders_push(), answer(8, fills=[FILL]), newest,
             answer(9), orders_push(order_id="o2", status="partially_filled")]
    reads, session = await reads_of(batch)
    (first, answered_then), (rest, answered_after) = reads
    assert first.market == [newest]
    assert first.events == []
    assert answered_then == 0  # no answer of the read was looked at yet
    assert rest.arrival_ns == first.arrival_ns
    assert rest.market == []
    assert [n.records[0].order_id for n in rest.events] == [ORDER_PUSH["order_id"], "o2"]
    assert answered_after == 3
    stats = session.statistics()
    assert stats.conflated_in_batch == 1  # the older push of the ticker's channel
    assert stats.raw_market_pushes == 1
    assert stats.inbound_batches == 2


@pytest.mark.parametrize("before", [
    orders_push(fills=[FILL], change_reason="fill", filled_amount=0.04),  # a fill: booked first
    orders_push(status="cancelled", change_reason="cancel", delete_reason="mm_protection"),
    orjson.dumps({"channel_name": "session.orders", "notification": [{**ORDER_PUSH,
                                                                      "fills": [FILL]}]},
                 option=orjson.OPT_INDENT_2),  # fills spelled another way: may be one
    orjson.dumps({"channel_name": "account.trade_history", "notification": []}),
    orjson.dumps({"channel_name": "account.portfolio", "notification": []}),
    orjson.dumps({"channel_name": "price_index.X",
                  "notification": {"index_name": "X", "price": 5.0, "timestamp": 1.0}}),
    push(RAW, 1.0, snapshot=True),
])
async def test_anything_else_before_the_ticker_keeps_the_read_whole(autojump_clock, before):
    newest = push(RAW, 3.0)
    reads, session = await reads_of([before, newest])
    ((inbound, _),) = reads
    assert inbound.market[-1] == newest
    assert session.statistics().inbound_batches == 1


@pytest.mark.parametrize("after", [
    orjson.dumps({"notification": {**TICKER, "mark_price": 9.0}, "channel_name": RAW}),
    push(RAW, 7.0, snapshot=True),
    b'  {"id":9,"result":1}',
    # After the ticker in the read, yet applied before its cycle when the read is whole.
    orders_push(fills=[FILL], change_reason="fill", filled_amount=0.04),
    orders_push(status="filled", filled_amount=0.1, remaining_amount=0.0),
    orjson.dumps({"channel_name": "account.portfolio", "notification": []}),
    orjson.dumps({"channel_name": "price_index.X",
                  "notification": {"index_name": "X", "price": 5.0, "timestamp": 1.0}}),
])
async def test_a_frame_after_it_that_must_come_first_keeps_the_read_whole(
        autojump_clock, after):
    reads, session = await reads_of([orders_push(), push(RAW, 3.0), after])
    assert len(reads) == 1
    assert session.statistics().inbound_batches == 1


_POOL = [
    lambda i: push(RAW, float(i)),
    lambda i: push(RAW, float(i), snapshot=True),
    lambda i: orjson.dumps({"notification": {**TICKER, "mark_price": float(i)},
                            "channel_name": RAW}),
    lambda i: push("ticker.B.raw", float(i)),
    lambda i: orders_push(order_id=f"o{i}"),
    lambda i: orders_push(order_id=f"o{i}", fills=[{**FILL, "trade_id": f"t{i}"}],
                          filled_amount=0.04, change_reason="fill"),
    lambda i: answer(1000 + i),
    lambda i: answer(1000 + i, fills=[{**FILL, "trade_id": f"t{i}"}]),
    lambda i: orjson.dumps({"channel_name": "account.portfolio", "notification": []}),
    lambda i: orders_push(order_id=f"o{i}", status="cancelled", change_reason="cancel"),
    lambda i: orjson.dumps({"channel_name": "price_index.X", "notification": {
        "index_name": "X", "price": float(i), "timestamp": 1.0}}),
]


def _events(inbounds: list[Inbound]) -> list[object]:
    return [(n.kind, n.records) for inbound in inbounds for n in inbound.events]


def _newest_of_raw(inbounds: list[Inbound]) -> float | None:
    # The mark of the last book of RAW the consumer was given (bytes are RAW's raw pushes).
    mark = None
    for inbound in inbounds:
        for item in inbound.market:
            if type(item) is bytes:
                mark = orjson.loads(item)["notification"]["mark_price"]
            elif item.kind == "ticker" and item.key == "A":
                mark = item.records[0].mark_price
    return mark


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, len(_POOL) - 1), min_size=1, max_size=8))
def test_a_split_read_gives_the_same_events_and_the_same_newest_book(kinds):
    batch = [_POOL[kind](i) for i, kind in enumerate(kinds)]

    async def run(raw: tuple[str, ...]) -> list[Inbound]:
        reads: list[Inbound] = []
        session = RpcSession(raw_market=raw)

        async def consume(inbound: Inbound) -> None:
            reads.append(inbound)

        session.deliver_to(consume, conflate=("ticker.", "price_index."))
        await session.handle_read(batch)
        return reads

    split = trio.run(run, (RAW,))
    whole = trio.run(run, ())
    assert _events(split) == _events(whole)  # nothing lost, nothing reordered
    assert _newest_of_raw(split) == _newest_of_raw(whole)
    if len(split) == 2:  # went first: alone, and nothing before it moved a position
        assert len(split[0].market) == 1
        assert split[0].events == []
        first = split[0].market[0]
        assert _newest_of_raw(split[:1]) == _newest_of_raw(whole)  # the read's newest book
        # Every other frame: an older push of its channel before it, an answer, or an order
        # push of live orders without a fill.
        at = batch.index(first)
        for i, data in enumerate(batch):
            if i != at and not (i < at and data.startswith(b'{"channel_name":"ticker.A.raw"')
                                and b"snapshot" not in data):
                assert data.startswith(b'{"id":') or (
                    data.startswith(b'{"channel_name":"session.orders"')
                    and b'"fills":[{' not in data and b'"status":"open"' in data)


async def test_when_the_ticker_s_hand_over_is_cancelled_the_answers_after_it_still_count():
    # The connection drops while the consumer sends the ticker's orders: the answer that came
    # in the same read still reaches its caller (then the disconnect fails the rest).
    session = RpcSession(raw_market=(RAW,))
    waiter = trio.Event()
    pending, _ = session._rpc.start_request("private/insert", None, now_s=0.0, timeout_s=10.0,
                                            waiter=waiter)
    with trio.CancelScope() as reader:
        async def consume(inbound: Inbound) -> None:
            reader.cancel()
            await trio.lowlevel.checkpoint()

        session.deliver_to(consume, conflate=("ticker.",))
        await session.handle_read([push(RAW, 1.0), answer(pending.request_id), orders_push()])
    assert waiter.is_set()
    assert pending.outcome is not None
    assert session.statistics().rpc.notifications == 1  # the push was read, not delivered
