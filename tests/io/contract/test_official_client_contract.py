"""Contract tests TC-O01.. : the official ``thalex`` 1.3.0 client against the simulator.

The official client is asyncio-based and fire-and-forget (each method sends one frame; replies
come through ``receive()``), so each scenario runs in a worker thread under ``asyncio.run`` while
the simulator runs in the test's trio nursery on the real clock. The client is aimed at the
simulator with ``types.SimpleNamespace(value=url)`` as its network (thalex-protocol.md 8.1).
A small helper sends one request with an id and reads frames until the answer with that id,
collecting the notifications that arrive meanwhile. Marked ``slow``: real time, a thread.
"""

from __future__ import annotations

import asyncio
import json
import types
from typing import Any

import pytest
import thalex
import trio

from qengine.io.errors import error_for_code

pytestmark = pytest.mark.slow

BTC = "BTC-PERPETUAL"
LIMIT_S = 30


class Driver:
    """Request/answer matching around an official ``thalex.Thalex``."""

    def __init__(self, tlx: thalex.Thalex) -> None:
        self.tlx = tlx
        self.next_id = 1
        self.notifications: list[dict[str, Any]] = []

    async def request(self, method_name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        request_id = self.next_id
        self.next_id += 1
        await getattr(self.tlx, method_name)(*args, id=request_id, **kwargs)
        while True:
            frame = json.loads(await asyncio.wait_for(self.tlx.receive(), 10))
            if "channel_name" in frame:
                self.notifications.append(frame)
            elif frame.get("id") == request_id:
                return frame

    async def result(self, method_name: str, *args: Any, **kwargs: Any) -> Any:
        frame = await self.request(method_name, *args, **kwargs)
        assert "error" not in frame, frame
        return frame["result"]

    async def error_code(self, method_name: str, *args: Any, **kwargs: Any) -> int:
        frame = await self.request(method_name, *args, **kwargs)
        assert "result" not in frame, frame
        return frame["error"]["code"]

    async def wait_notification(self, channel: str) -> dict[str, Any]:
        for frame in self.notifications:
            if frame["channel_name"] == channel:
                self.notifications.remove(frame)
                return frame
        while True:
            frame = json.loads(await asyncio.wait_for(self.tlx.receive(), 10))
            if frame.get("channel_name") == channel:
                return frame


def run_official(url: str, scenario) -> Any:
    async def main() -> Any:
        tlx = thalex.Thalex(types.SimpleNamespace(value=url))
        await tlx.connect()
        try:
            return await scenario(Driver(tlx))
        finally:
            await tlx.disconnect()

    return asyncio.run(main())


async def in_thread(sim, scenario) -> Any:
    with trio.fail_after(LIMIT_S):
        return await trio.to_thread.run_sync(run_official, sim.url, scenario)


async def test_o01_login_cod_instruments_and_subscribe(sim, credentials):
    async def scenario(d: Driver):
        login = await d.result("login", credentials.key_id, credentials.private_key_pem)
        cod = await d.result("set_cancel_on_disconnect", 6)
        instruments = await d.result("instruments")
        subscribed = await d.result("public_subscribe", [f"ticker.{BTC}.100ms"])
        ticker = await d.wait_notification(f"ticker.{BTC}.100ms")
        private = await d.result("private_subscribe", ["session.orders"])
        return login, cod, instruments, subscribed, ticker, private

    login, cod, instruments, subscribed, ticker, private = await in_thread(sim, scenario)
    assert isinstance(login["account_number"], str)
    assert isinstance(cod["message_rate"], int)
    assert BTC in {i["instrument_name"] for i in instruments}
    assert subscribed == [f"ticker.{BTC}.100ms"]
    assert ticker["notification"]["mark_price"] > 0
    assert private == ["session.orders"]


async def test_o02_insert_amend_cancel_and_cancel_all(sim, credentials):
    async def scenario(d: Driver):
        await d.result("login", credentials.key_id, credentials.private_key_pem)
        ticker = await d.result("ticker", BTC)
        price = ticker["best_bid_price"] - 30
        order = await d.result(
            "insert",
            thalex.Direction.BUY,
            BTC,
            0.01,
            price=price,
            order_type=thalex.OrderType.LIMIT,
            time_in_force=thalex.TimeInForce.GTC,
            post_only=True,
            client_order_id=1001,
            label="official",
            collar="reject",  # 1.3.0 sends Enum collars unconverted: pass the string
        )
        amended = await d.result("amend", 0.02, price - 1, order_id=order["order_id"])
        cancelled = await d.result("cancel", client_order_id=1001)
        not_found = await d.error_code("cancel", order_id=order["order_id"])
        await d.result("buy", BTC, 0.01, price=price)
        await d.result("sell", BTC, 0.01, price=ticker["best_ask_price"] + 30)
        count = await d.result("cancel_all")
        open_orders = await d.result("open_orders")
        return order, amended, cancelled, not_found, count, open_orders, price

    order, amended, cancelled, not_found, count, open_orders, price = await in_thread(sim, scenario)
    assert (order["status"], order["price"], order["client_order_id"]) == ("open", price, 1001)
    assert (amended["price"], amended["amount"]) == (price - 1, 0.02)
    assert cancelled["status"] == "cancelled"
    assert not_found == 1
    assert count == 2
    assert open_orders == []


async def test_o03_mass_quote_with_mm_protection(sim, credentials):
    async def scenario(d: Driver):
        await d.result("login", credentials.key_id, credentials.private_key_pem)
        await d.result("set_cancel_on_disconnect", 6)
        ticker = await d.result("ticker", BTC)
        bid, ask = ticker["best_bid_price"] - 5, ticker["best_ask_price"] + 5
        quote = thalex.Quote(
            BTC, bid=thalex.SideQuote(price=bid, amount=0.01), ask=thalex.SideQuote(ask, 0.01)
        )
        unprotected = await d.error_code("mass_quote", [quote])
        protection = await d.result("set_mm_protection", thalex.Product.BTC_FUTURES, 0.05, 0.1)
        quoted = await d.result("mass_quote", [quote], label="mq", post_only=True)
        cancelled = await d.result("cancel_mass_quote", thalex.Product.BTC_FUTURES)
        return unprotected, protection, quoted, cancelled

    unprotected, protection, quoted, cancelled = await in_thread(sim, scenario)
    assert unprotected == 23
    assert protection is None
    assert (quoted["n_success"], quoted["n_fail"]) == (2, 0)
    assert cancelled is None


async def test_o04_portfolio_and_trade_history_after_a_fill(sim, credentials):
    async def scenario(d: Driver):
        await d.result("login", credentials.key_id, credentials.private_key_pem)
        order = await d.result(
            "insert", thalex.Direction.BUY, BTC, 0.004, order_type=thalex.OrderType.MARKET
        )
        portfolio = await d.result("portfolio")
        await asyncio.sleep(0.3)
        history = await d.result("trade_history", limit=10)
        return order, portfolio, history

    order, portfolio, history = await in_thread(sim, scenario)
    assert order["status"] == "filled"
    assert {p["instrument_name"]: p["position"] for p in portfolio}[BTC] == pytest.approx(0.004)
    assert any(t["order_id"] == order["order_id"] for t in history["trades"])


async def test_o05_error_answers_carry_the_codes_our_typed_errors_use(sim, credentials):
    async def scenario(d: Driver):
        not_logged_in = await d.error_code("open_orders")
        await d.result("login", credentials.key_id, credentials.private_key_pem)
        unknown = await d.error_code("instrument", "NOPE-PERPETUAL")
        off_tick = await d.error_code("buy", BTC, 0.01, price=1000.5)
        persistent = await d.error_code("cancel_session")
        return not_logged_in, unknown, off_tick, persistent

    codes = await in_thread(sim, scenario)
    names = [type(error_for_code(code, "")).__name__ for code in codes]
    assert names == ["NotLoggedIn", "UnknownInstrument", "PriceNotAligned", "PersistentSession"]
