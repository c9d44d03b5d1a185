"""What ``OrderManager.execute`` puts on the wire: the frames one kernel call writes unmask to
the requests ``OrderFrames`` + ``encode_request`` gave before (same bytes), with the socket's
mask keys and consecutive request ids; numbers the kernel leaves alone go the general way."""

from __future__ import annotations

import numpy as np
import orjson
import trio
import trio.testing

from qengine.config import load_config
from qengine.engine._services import build_engine
from qengine.io.jsonrpc import encode_request
from qengine.kernels import codes
from qengine.kernels.orders import order_apply_update, order_reserve
from qengine.strategy.setup import InstrumentSpec

from ..kernels.test_order_wire import unmask

BUY, SELL = codes.SIDE_BUY, codes.SIDE_SELL


class RecordingTransport:
    """A connected transport: records what is written, answers nothing."""

    connected = True

    def __init__(self) -> None:
        self.frames: list[bytes] = []  # send_frames writes
        self.texts: list[list[bytes]] = []  # send_many writes
        self.keys: list[bytes] = []

    def take_mask_keys(self, n_frames: int) -> bytes:
        keys = np.random.default_rng(len(self.keys)).bytes(4 * n_frames)
        self.keys.append(keys)
        return keys

    async def send_frames(self, data: bytes) -> None:
        self.frames.append(bytes(data))

    async def send_many(self, payloads: list[bytes]) -> None:
        self.texts.append(list(payloads))

    def statistics(self) -> None:
        return None


def _engine(tick_size=0.5, volume_tick=0.001):
    config = load_config(None, {"label": "qengine"})
    spec = InstrumentSpec(0, "BTC-PERPETUAL", "FBTCUSD", "BTCUSD", tick_size, volume_tick, 1)
    engine = build_engine(config, [spec], "ws://127.0.0.1:1/ws/api/v2")
    transport = RecordingTransport()
    engine.client._session.attach(transport)
    engine.gate.open()
    engine.orders.set_message_rate(100)
    engine.orders.bucket.state[0]["tokens"] = 90.0  # a full bucket at the granted rate
    return engine, transport


def _resting(engine, levels=5):
    """``levels`` live orders per side (client ids 1..): what the cycle's amends refer to."""
    slots = []
    for level in range(levels):
        for side in (BUY, SELL):
            cid = len(slots) + 1
            ticks = 120_000 - 10 * (level + 1) if side == BUY else 120_000 + 10 * (level + 1)
            slot = order_reserve(engine.state.orders, cid, 0, side, level, ticks, 10, 0)
            order_apply_update(engine.state.orders, cid, 1000 + cid, codes.ORDER_UPDATE_LIVE,
                               ticks, 10, 0, 0)
            slots.append((slot, cid, side, level, ticks))
    return slots


def _cycle(engine, rows):
    actions = engine.state.actions
    for i, row in enumerate(rows):
        actions[i] = row
    return len(rows)


def _expected(engine, prepared, first_id):
    """The payloads the OrderFrames path writes for the same rows and ids."""
    return [encode_request(*engine.orders._request(*row), first_id + i)
            for i, row in enumerate(prepared)]


async def test_a_ten_action_cycle_leaves_as_one_write_of_the_same_requests(autojump_clock):
    engine, transport = _engine()
    slots = _resting(engine, levels=4)
    rows = [(codes.ACTION_CANCEL, slots[0][0], slots[0][1], BUY, 0, 0, 0)]
    rows += [(codes.ACTION_AMEND, slot, cid, side, level, ticks + (1 if side == BUY else -1), 7)
             for slot, cid, side, level, ticks in slots[1:]]
    rows += [(codes.ACTION_INSERT, -1, 0, BUY, 0, 119_949, 10),
             (codes.ACTION_INSERT, -1, 0, SELL, 0, 120_051, 10)]
    n = _cycle(engine, rows)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.orders.run)
        assert await engine.orders.execute(n) == n
        prepared = engine.orders._batch[:n].tolist()
        (data,) = transport.frames
        assert transport.texts == []
        payloads = unmask(data)
        first_id = orjson.loads(payloads[0])["id"]
        assert payloads == _expected(engine, prepared, first_id)
        # The socket's keys, one per frame, in order.
        (keys,) = transport.keys
        starts = [0]
        for p in payloads[:-1]:
            starts.append(starts[-1] + (2 if len(p) < 126 else 4) + 4 + len(p))
        assert [data[s + (2 if len(p) < 126 else 4):][:4] for s, p in zip(starts, payloads,
                                                                      strict=True)] == [
            keys[4 * i:4 * i + 4] for i in range(n)]
        methods = [orjson.loads(p)["method"] for p in payloads]
        assert methods == ["private/cancel"] + ["private/amend"] * 7 + ["private/insert"] * 2
        inserted = [orjson.loads(p)["params"] for p in payloads[-2:]]
        assert [(o["direction"], o["price"], o["amount"]) for o in inserted] == [
            ("buy", 59974.5, 0.01), ("sell", 60025.5, 0.01)]
        # Answers are matched by id: a rejection per request reaches the table.
        await engine.client._session.handle_read([
            orjson.dumps({"id": first_id + i, "error": {"code": 1, "message": "not found"}})
            for i in range(n)])
        await trio.testing.wait_all_tasks_blocked()
        assert engine.orders.in_flight == 0
        assert engine.orders.reconcile_needed
        nursery.cancel_scope.cancel()


async def test_numbers_the_kernel_leaves_alone_go_the_general_way(autojump_clock):
    # A price of 10**16 + 1 ticks of 1: 17 significant digits, beyond what the kernel spells
    # exactly (repr then writes 1e+16).
    engine, transport = _engine(tick_size=1)
    n = _cycle(engine, [(codes.ACTION_INSERT, -1, 0, BUY, 0, 10**16 + 1, 10)])
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.orders.run)
        assert await engine.orders.execute(n) == 1
        prepared = engine.orders._batch[:n].tolist()
        assert transport.frames == []
        (payloads,) = transport.texts
        first_id = orjson.loads(payloads[0])["id"]
        assert payloads == _expected(engine, prepared, first_id)
        nursery.cancel_scope.cancel()


async def test_without_a_connection_the_cycle_s_requests_fail_as_not_sent(autojump_clock):
    engine, transport = _engine()
    transport.connected = False
    n = _cycle(engine, [(codes.ACTION_INSERT, -1, 0, BUY, 0, 119_990, 10)])
    assert await engine.orders.execute(n) == 1  # collected inline (no reply task running)
    assert transport.frames == []
    assert transport.texts == []
    assert engine.orders.reconcile_needed  # the insert may not have happened: reconcile
