"""Hypothesis fuzz over real websockets: random and malformed frames never crash the simulator,
every text frame gets exactly one reply (or a protocol close when it is not JSON-RPC at all),
and another session keeps working."""

from __future__ import annotations

from contextlib import asynccontextmanager

import orjson
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st
from trio_websocket import ConnectionClosed, wrap_client_stream

from qengine.sim import serve_simulator
from qengine.sim.methods import METHODS

from .conftest import make_config

_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) |
    st.floats(allow_nan=False, allow_infinity=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8)
_PARAM_NAMES = ["instrument_name", "amount", "price", "direction", "channels", "quotes",
                "order_id", "client_order_id", "product", "trade_amount", "quote_amount", "token",
                "timeout_secs", "time_in_force", "order_type", "post_only", "limit", "collar",
                "reduce_only", "underlying", "bookmark", "sort", "label"]
_VALUES = st.one_of(_JSON, st.sampled_from(["BTC-PERPETUAL", "buy", "sell", "FBTCUSD", "market",
                                            "immediate_or_cancel", "session.orders", "clamp"]),
                    st.sampled_from([64990, 0.1, 0.001, 65010.0, 1e300, -1]),
                    st.just([{"i": "BTC-PERPETUAL", "b": {"p": 64990, "a": 0.1}}]),
                    st.just(["ticker.BTC-PERPETUAL.raw", "book.BTC-PERPETUAL.0.5.all.100ms"]))
_REQUESTS = st.fixed_dictionaries(
    {"method": st.sampled_from([*METHODS, "bogus", ""]),
     "params": st.dictionaries(st.sampled_from(_PARAM_NAMES), _VALUES, max_size=6)},
    optional={"id": _JSON}).map(lambda r: orjson.dumps(r).decode())
_FRAMES = st.lists(st.one_of(_REQUESTS, _REQUESTS, _TEXT, _JSON.map(lambda v: orjson.dumps(
    v).decode()), st.binary(max_size=16)), min_size=1, max_size=8)


@asynccontextmanager
async def _connect(port):
    async with trio.open_nursery() as nursery:
        stream = await trio.open_tcp_stream("127.0.0.1", port)
        try:
            yield await wrap_client_stream(nursery, stream, "127.0.0.1", "/ws/api/v2")
        finally:
            await stream.aclose()


async def _next_reply(ws):
    while True:
        message = await ws.get_message()
        if not message.startswith('{"channel_name"'):
            return orjson.loads(message)


async def _scenario(key_pair, frames):
    config = make_config(key_pair, rate_limits_enabled=False)
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            sim = await nursery.start(serve_simulator, config)
            async with _connect(int(sim)) as good:
                pending = list(frames)
                while pending:
                    async with _connect(int(sim)) as ws:
                        await ws.send_message(orjson.dumps({
                            "method": "public/login", "params": {"token": key_pair.token()},
                            "id": 0}).decode())
                        assert "result" in await _next_reply(ws)
                        while pending:
                            frame = pending.pop(0)
                            await ws.send_message(frame)
                            is_object = isinstance(frame, str) and frame.startswith("{") and \
                                _is_json_object(frame)
                            try:
                                reply = await _next_reply(ws)
                            except ConnectionClosed:
                                assert not is_object  # only non-JSON-RPC frames close
                                break
                            assert "result" in reply or reply["error"]["code"] > 0
                            if is_object:
                                assert reply["id"] == orjson.loads(frame).get("id")
                await good.send_message('{"method":"public/system_info","params":{},"id":1}')
                assert (await _next_reply(good))["result"]["api_version"]
            assert sim.internal_errors == 0
            nursery.cancel_scope.cancel()


def _is_json_object(frame: str) -> bool:
    try:
        return isinstance(orjson.loads(frame), dict)
    except orjson.JSONDecodeError:
        return False


@settings(max_examples=40)
@given(frames=_FRAMES)
def test_random_frames_never_break_the_server(key_pair, frames):
    trio.run(_scenario, key_pair, frames, clock=trio.testing.MockClock(autojump_threshold=0))
