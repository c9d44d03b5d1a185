"""The simulator over real websockets on loopback (autojump clock, fail_after everywhere)."""

from __future__ import annotations

from contextlib import asynccontextmanager

import orjson
import pytest
import trio
from trio_websocket import ConnectionClosed, wrap_client_stream

from qengine.sim import FaultConfig, serve_simulator

from .conftest import make_config

BTC = "BTC-PERPETUAL"


@asynccontextmanager
async def open_websocket_url(url):
    """Like trio_websocket.open_websocket_url, but always closes the TCP stream: trio-websocket's
    client leaves it open when the *server* initiates the close (a ResourceWarning later)."""
    port = int(url.split(":")[2].split("/")[0])
    async with trio.open_nursery() as nursery:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        try:
            ws = await wrap_client_stream(nursery, stream, "127.0.0.1", "/ws/api/v2")
            yield ws
            await ws.aclose()
        finally:
            await stream.aclose()


class Ws:
    """Minimal JSON-RPC client over a trio-websocket connection."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.notes: list[dict] = []

    async def call(self, method, params=None):
        self.next_id += 1
        rid = self.next_id
        await self.ws.send_message(orjson.dumps({"method": method, "params": params or {},
                                                 "id": rid}).decode())
        while True:
            message = orjson.loads(await self.ws.get_message())
            if "channel_name" in message:
                self.notes.append(message)
            elif message.get("id") == rid:
                return message

    async def note(self, channel):
        for i, message in enumerate(self.notes):
            if message["channel_name"] == channel:
                return self.notes.pop(i)
        while True:
            message = orjson.loads(await self.ws.get_message())
            if message.get("channel_name") == channel:
                return message
            if "channel_name" in message:
                self.notes.append(message)


async def _until_closed(ws):
    while True:
        await ws.get_message()


async def _login(client, key_pair, cod=5):
    reply = await client.call("public/login", {"token": key_pair.token()})
    assert reply["result"]["account_number"].startswith("A")
    if cod:
        assert (await client.call("private/set_cancel_on_disconnect",
                                  {"timeout_secs": cod}))["result"] == {"message_rate": 50}


async def test_login_insert_fill_and_exchange_state(key_pair, autojump_clock, nursery):
    with trio.fail_after(30):
        sim = await nursery.start(serve_simulator, make_config(key_pair))
        assert sim.url == f"ws://127.0.0.1:{int(sim)}/ws/api/v2"
        async with open_websocket_url(sim.url) as ws:
            client = Ws(ws)
            await _login(client, key_pair)
            await client.call("private/subscribe", {"channels": ["session.orders",
                                                                 "account.portfolio"]})
            assert (await client.note("session.orders"))["notification"] == []
            reply = await client.call("private/insert", {
                "direction": "sell", "instrument_name": BTC, "amount": 0.1, "price": 65004,
                "post_only": True, "client_order_id": 1002})
            order_id = reply["result"]["order_id"]
            assert (await client.note("session.orders"))["notification"][0]["status"] == "open"
            assert sim.inject_taker(BTC, "buy", 0.04, limit_price=65004) == 0.04
            fill = (await client.note("session.orders"))["notification"][0]
            assert fill["order_id"] == order_id
            assert fill["status"] == "partially_filled"
            assert [f["amount"] for f in fill["fills"]] == [0.04]
            snapshot = await client.note("account.portfolio")
            assert snapshot["snapshot"] is True
            assert snapshot["notification"] == []
            portfolio = await client.note("account.portfolio")
            assert portfolio["notification"][-1]["position"] == -0.04
            state = sim.account_state()
            assert state.positions == {BTC: -0.04}
            assert [o["order_id"] for o in state.open_orders] == [order_id]
        assert sim.internal_errors == 0


async def test_silent_cod_session_loses_orders_after_timeout(key_pair, autojump_clock, nursery):
    with trio.fail_after(30):
        sim = await nursery.start(serve_simulator, make_config(key_pair))
        async with open_websocket_url(sim.url) as ws:
            client = Ws(ws)
            await _login(client, key_pair, cod=2)
            await client.call("private/insert", {"direction": "buy", "instrument_name": BTC,
                                                 "amount": 0.1, "price": 64900})
            await trio.sleep(1.5)
            assert len(sim.open_orders()) == 1
            await trio.sleep(1.5)  # silent for more than timeout_secs
            assert sim.open_orders() == []
            with pytest.raises(ConnectionClosed) as closed:
                await _until_closed(ws)
            assert closed.value.reason.code == 1011


async def test_pinging_cod_session_stays_and_close_cancels_at_once(key_pair, autojump_clock,
                                                                  nursery):
    with trio.fail_after(30):
        sim = await nursery.start(serve_simulator, make_config(key_pair))
        async with open_websocket_url(sim.url) as persistent_ws:
            keeper = Ws(persistent_ws)
            await _login(keeper, key_pair, cod=0)
            await keeper.call("private/insert", {"direction": "buy", "instrument_name": BTC,
                                                 "amount": 0.1, "price": 64800})
            async with open_websocket_url(sim.url) as ws:
                client = Ws(ws)
                await _login(client, key_pair, cod=2)
                await client.call("private/insert", {"direction": "buy", "instrument_name": BTC,
                                                     "amount": 0.1, "price": 64900})
                for _ in range(5):
                    await trio.sleep(1.0)
                    await ws.ping()
                assert len(sim.open_orders()) == 2
            await trio.sleep(0.01)
            assert [o["price"] for o in sim.open_orders()] == [64800]


async def test_bad_frames_are_answered_and_other_sessions_keep_working(key_pair, autojump_clock,
                                                                       nursery):
    with trio.fail_after(30):
        sim = await nursery.start(serve_simulator, make_config(key_pair, max_request_bytes=2000))
        async with open_websocket_url(sim.url) as good_ws, open_websocket_url(sim.url) as bad_ws:
            good = Ws(good_ws)
            await bad_ws.send_message("{not json")
            assert orjson.loads(await bad_ws.get_message()) == {"id": None, "error": {
                "code": 6, "message": "request parsing error: malformed JSON"}}
            await bad_ws.send_message('{"id": 9, "method": 5}')
            assert orjson.loads(await bad_ws.get_message())["error"]["code"] == 6
            await bad_ws.send_message('{"id": "x", "method": "public/ticker", "params": []}')
            assert orjson.loads(await bad_ws.get_message()) ["id"] == "x"
            await bad_ws.send_message('{"id": 3, "method": "public/ticker", "params": {}}')
            assert orjson.loads(await bad_ws.get_message())["error"]["code"] == 6
            await bad_ws.send_message("x" * 5000)
            assert orjson.loads(await bad_ws.get_message())["error"]["code"] == 6
            await bad_ws.send_message(b"\x00\x01binary")
            with pytest.raises(ConnectionClosed) as closed:
                await bad_ws.get_message()
            assert closed.value.reason.code == 1003
            assert (await good.call("public/system_info"))["result"]["api_version"]
        assert sim.internal_errors == 0


async def test_faults_drop_after_messages_and_rejected_inserts(key_pair, autojump_clock, nursery):
    faults = FaultConfig(drop_after_messages=3, reject_insert_fraction=1.0,
                         reject_insert_code=20)
    with trio.fail_after(30):
        sim = await nursery.start(serve_simulator, make_config(key_pair, faults=faults))
        async with open_websocket_url(sim.url) as ws:
            client = Ws(ws)
            await _login(client, key_pair)
            reply = await client.call("private/insert", {"direction": "buy", "instrument_name": BTC,
                                                         "amount": 0.1, "price": 64900})
            assert reply["error"]["code"] == 20
            with pytest.raises(ConnectionClosed) as closed:
                await ws.get_message()
            assert closed.value.reason.code == 1001
        assert sim.open_orders() == []


async def test_system_reconnect_event_then_close(key_pair, autojump_clock, nursery):
    faults = FaultConfig(system_reconnect_every_s=2.0, reconnect_grace_s=3.0)
    with trio.fail_after(30):
        sim = await nursery.start(serve_simulator, make_config(key_pair, faults=faults))
        async with open_websocket_url(sim.url) as ws:
            client = Ws(ws)
            await client.call("public/subscribe", {"channels": ["system"]})
            note = await client.note("system")
            assert note["notification"] == {"event": "reconnect"}
            before = trio.current_time()
            with pytest.raises(ConnectionClosed):
                await _until_closed(ws)
            assert trio.current_time() - before >= 2.9
