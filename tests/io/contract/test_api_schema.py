"""Contract tests against Thalex's own API description (``data/thalex-openapi.json``).

Every request ``ThalexClient`` can build, and every reply and notification the simulator sends
for them, is validated with a JSON-schema validator; objects are closed, so an undocumented field
fails as a missing required one does. The engine's end-to-end tests validate every frame of their
sessions too (``tests/engine/conftest.py``).
"""

from __future__ import annotations

import inspect
from functools import partial
from typing import Any

import orjson
import pytest
import trio

from qengine.io.jsonrpc import encode_request
from qengine.io.messages import QuoteLevel, QuoteRequest
from qengine.io.order_frames import OrderFrames
from qengine.io.thalex import ThalexClient, open_thalex_client, url_for_network
from qengine.io.ws_frames import encode_frame
from qengine.sim import SimulatorConfig, serve_simulator

from .schema import FrameRecorder, ThalexSchema, thalex_schema

BTC = "BTC-PERPETUAL"
#: Methods that send whatever the caller names (or nothing): not requests of their own.
CLIENT_PLUMBING = frozenset({"call", "call_batch", "call_decoded", "send_batch"})
PUBLIC = [f"ticker.{BTC}.100ms", f"lwt.{BTC}.raw", "price_index.BTCUSD",
          f"recent_trades.{BTC}.single", f"book.{BTC}.none.10.raw", "instruments", "system"]
PRIVATE = ["session.orders", "account.orders", "account.persistent_orders", "account.portfolio",
           "account.trade_history", "account.summary", "session.mm_protection"]


def _client_methods() -> set[str]:
    return {name for name, _ in inspect.getmembers(ThalexClient, inspect.iscoroutinefunction)
            if not name.startswith("_")} - CLIENT_PLUMBING


async def _exercise_every_method(c: ThalexClient, sim: Any, credentials: Any) -> set[str]:
    """Call every request-building method of the client at least once; return their names."""
    used: set[str] = set()

    async def use(name: str, *args: Any, **kwargs: Any) -> Any:
        used.add(name)
        return await getattr(c, name)(*args, **kwargs)

    await use("login", credentials)
    await use("set_cancel_on_disconnect", 6)
    await use("public_subscribe", PUBLIC)
    await use("private_subscribe", PRIVATE)
    for name in ("instruments", "system_info"):
        await use(name)
    for name in ("instrument", "ticker", "book"):
        await use(name, BTC)
    await use("index", "BTCUSD")
    ticker = await c.ticker(BTC)
    bid, ask = ticker.best_bid_price, ticker.best_ask_price
    first = await use("insert", "buy", BTC, 0.01, bid - 20, label="contract", client_order_id=7,
                      post_only=True, time_in_force="good_till_cancelled", collar="ignore",
                      stp_level="account", stp_action="cancel_aggressive_no_fill")
    await use("amend", order_id=first.order_id, amount=0.02, price=bid - 21)
    await use("amend", client_order_id=7, amount=0.02, price=bid - 22, collar="clamp")
    await use("cancel", client_order_id=7)
    resting = await use("sell", BTC, 0.01, ask + 30, label="contract", reduce_only=False)
    await use("cancel", order_id=resting.order_id)
    await use("order_batch", [("insert", {"direction": "buy", "instrument_name": BTC,
                                          "amount": 0.01, "price": bid - 30, "label": "b",
                                          "client_order_id": 8}),
                              ("amend", {"client_order_id": 8, "amount": 0.01,
                                         "price": bid - 31}),
                              ("cancel", {"order_id": "no-such-order"})])
    batch = await use("send_order_batch", [("cancel", {"client_order_id": 8})])
    await batch.wait()
    frames = OrderFrames(BTC, "frames")
    batch = await use("send_encoded_orders", [frames.insert("buy", 0.01, bid - 40, 9),
                                              frames.amend(9, 0.02, bid - 41), frames.cancel(9)])
    await batch.wait()
    requests = [frames.insert("sell", 0.01, ask + 40, 10), frames.cancel(10)]

    def build(first_id: int, keys: bytes) -> bytes:  # what the engine's kernel writes
        return b"".join(encode_frame(0x1, encode_request(method, params, first_id + i),
                                     mask_key=keys[4 * i:4 * i + 4])
                        for i, (method, params) in enumerate(requests))

    batch = await use("send_order_frames", [method for method, _ in requests], build)
    assert [type(r).__name__ for r in await batch.wait()] == ["OrderUpdate", "OrderUpdate"]
    await use("buy", BTC, 0.01, None, order_type="market")  # a taker fill
    await use("buy", BTC, 0.01, bid - 1, label="contract")
    sim.inject_taker(BTC, "sell", 5.0, limit_price=bid - 1)  # a maker fill
    await use("open_orders")
    await use("cancel_all")
    await use("set_mm_protection", "FBTCUSD", 0.05, 0.1)
    await use("mass_quote", [QuoteRequest(BTC, QuoteLevel(bid - 5, 0.01),
                                          QuoteLevel(ask + 5, 0.01))], label="mq",
              post_only=True, stp_level="account", stp_action="cancel_aggressive_partial_fill")
    levels = tuple(QuoteLevel(bid - 10 - k, 0.01) for k in range(3))
    await use("mass_quote", [QuoteRequest(BTC, bid=levels)], reject_post_only=True,
              post_only=True)
    await use("mass_quote", [QuoteRequest(BTC, ask=QuoteLevel(ask + 9, 1.0))])  # too large: 44
    await use("cancel_mass_quote", "FBTCUSD")
    sim.send_system_event("reconnect")
    await trio.sleep(2.0)  # throttled channels and the account summary push
    now_s = ticker.mark_timestamp
    await use("portfolio")
    await use("account_summary")
    await use("trade_history", limit=10, time_low_s=now_s - 3600.5, time_high_s=now_s + 3600.5,
              sort="ascending", instrument_names=[BTC, "ETH-PERPETUAL"])
    await use("order_history", limit=5, time_low_s=now_s - 3600.5, time_high_s=now_s + 3600.5)
    await use("unsubscribe", [f"lwt.{BTC}.raw"])
    await use("cancel_session")
    return used


async def test_every_client_request_and_every_simulator_frame_match_the_api_description(
        autojump_clock, nursery, demo_dir, credentials):
    recorder = FrameRecorder(thalex_schema())
    sim = await nursery.start(partial(serve_simulator,
                                      SimulatorConfig(seed=7, demo_config_dir=demo_dir),
                                      wire_tap=recorder))
    url = url_for_network("sim", sim_port=int(sim))
    with trio.fail_after(120):
        async with open_thalex_client(url, credentials=credentials, reconnect=None) as c:
            used = await _exercise_every_method(c, sim, credentials)
    assert used == _client_methods()
    requests = [orjson.loads(text) for _, d, text in recorder.frames if d == "in"]
    schema = thalex_schema()
    assert {r["method"] for r in requests} <= set(schema.methods)
    assert recorder.problems() == []
    # The session produced every kind of frame the contract covers.
    out = [orjson.loads(text) for _, d, text in recorder.frames if d == "out"]
    channels = {f["channel_name"].split(".")[0] if f["channel_name"].count(".") > 1
                or f["channel_name"].startswith(("price_index", "recent_trades"))
                else f["channel_name"] for f in out if "channel_name" in f}
    assert {"ticker", "lwt", "price_index", "recent_trades", "book", "instruments", "system",
            *PRIVATE} <= channels
    fills = [item for f in out if f.get("channel_name") == "session.orders"
             for item in f["notification"] if item["fills"]]
    assert {fill["maker_taker"] for o in fills for fill in o["fills"]} == {"maker", "taker"}
    assert any("error" in f for f in out)
    assert any(isinstance(f.get("result"), dict) and "n_success" in f["result"] for f in out)


# --- the validator itself: it must catch what it is there to catch -------------------------------


@pytest.fixture(scope="module")
def schema() -> ThalexSchema:
    return thalex_schema()


def test_requests_are_checked_against_their_method(schema):
    good = {"method": "private/set_mm_protection", "id": 3,
            "params": {"product": "FBTCUSD", "trade_amount": 0.05, "quote_amount": 0.1}}
    assert schema.request_problems(good) == []
    missing = {**good, "params": {"product": "FBTCUSD", "trade_amount": 0.05}}
    assert any("'quote_amount' is a required property" in p
               for p in schema.request_problems(missing))
    extra = {**good, "params": {**good["params"], "bogus": 1}}
    assert any("'bogus' was unexpected" in p for p in schema.request_problems(extra))
    wrong_way = {**good, "params": {**good["params"], "trade_amount": 1.0}}
    assert schema.request_problems(wrong_way) == [
        "params: trade_amount 1.0 exceeds quote_amount 0.1"]
    assert any("'jsonrpc' was unexpected" in p
               for p in schema.request_problems({**good, "jsonrpc": "2.0"}))
    assert schema.request_problems({"method": "private/nope", "params": {}}) == [
        "method 'private/nope' is not in the API description"]
    float_time = {"method": "private/trade_history", "id": 1, "params": {"time_low": 1.5}}
    assert any("is not of type 'integer'" in p for p in schema.request_problems(float_time))


def test_replies_are_success_or_error_never_both(schema):
    assert schema.reply_problems("private/cancel_all", {"id": 1, "result": 2}) == []
    error = {"id": 1, "error": {"code": 1, "message": "order not found"}}
    assert schema.reply_problems("private/cancel", error) == []
    assert schema.reply_problems("private/cancel_all", {"id": 1, "result": "x"}) != []
    assert schema.reply_problems("private/cancel_all", {"id": 1, "result": 2, "extra": 0}) != []
    assert schema.reply_problems(None, {"id": 9, "result": 2}) == [
        "method None is not in the API description"]


def test_notifications_are_checked_by_channel_template(schema):
    ticker = {"mark_price": 1.0, "mark_timestamp": 2.0, "delta": 1.0, "index": 1.0}
    frame = {"channel_name": f"ticker.{BTC}.100ms", "notification": ticker}
    assert schema.notification_problems(frame) == []
    assert any("'delta' is a required property" in p for p in schema.notification_problems(
        {**frame, "notification": {k: v for k, v in ticker.items() if k != "delta"}}))
    assert any("'made_up' was unexpected" in p for p in schema.notification_problems(
        {**frame, "notification": {**ticker, "made_up": 1}}))
    assert any("None is not of type 'number'" in p for p in schema.notification_problems(
        {**frame, "notification": {**ticker, "last_price": None}}))
    assert any("'250ms' is not one of" in p for p in schema.notification_problems(
        {**frame, "channel_name": f"ticker.{BTC}.250ms"}))
    trade = {"channel_name": "account.trade_history",
             "notification": [{"trade_id": "T", "trade_type": "daily_mark"}]}
    assert schema.notification_problems(trade) == []  # the schema requires no Trade field
    assert schema.notification_problems({"channel_name": "nope", "notification": 1}) == [
        "channel 'nope' is not in the API description"]
