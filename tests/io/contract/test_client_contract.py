"""Contract tests TC-C01.. : our ``ThalexClient`` against the simulator, over a real websocket.

Each test starts a seeded simulator in its own nursery (fixture ``sim``) and runs under the
autojump clock, so simulated waits (fills, cancel-on-disconnect timeouts) cost no real time.
Where the protocol reference leaves a behaviour unknown, the assertion only checks what the
reference does fix (for example: "an error with some code", not the code).
"""

from __future__ import annotations

import math

import pytest
import trio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from qengine.io import errors
from qengine.io.auth import Credentials
from qengine.io.messages import QuoteLevel, QuoteRequest
from qengine.io.thalex import open_thalex_client

from .conftest import start_sim

BTC = "BTC-PERPETUAL"
LIMIT_S = 60


def client(sim, credentials=None, **kwargs):
    kwargs.setdefault("reconnect", None)
    return open_thalex_client(sim.url, credentials=credentials, **kwargs)


class NewestPush:
    """A conflating slot: the newest push wins; ``overwritten`` counts those nobody took."""

    def __init__(self) -> None:
        self.value = None
        self.updates = 0
        self.overwritten = 0
        self._fresh = trio.Event()

    def set(self, value) -> None:
        self.overwritten += self._fresh.is_set()
        self.value = value
        self.updates += 1
        self._fresh.set()

    def take_nowait(self):
        if not self._fresh.is_set():
            return None
        self._fresh = trio.Event()
        return self.value

    async def wait_value(self):
        await self._fresh.wait()
        return self.take_nowait()


def into_slot(kind: str, key: str) -> tuple[NewestPush, object]:
    """A conflating slot for the newest push of one channel, and the consumer filling it."""
    slot = NewestPush()

    async def on_inbound(inbound) -> None:
        for notification in (*inbound.market, *inbound.events):
            if notification.kind == kind and notification.key == key:
                slot.set(notification)

    return slot, on_inbound


def into_channel(kinds: set[str]) -> tuple[trio.MemoryReceiveChannel, object]:
    """Every push of ``kinds`` in order, and the consumer queueing them."""
    send, receive = trio.open_memory_channel(math.inf)

    async def on_inbound(inbound) -> None:
        for notification in inbound.events:
            if notification.kind in kinds:
                send.send_nowait(notification)

    return receive, on_inbound


async def touch(c) -> tuple[float, float]:
    ticker = await c.ticker(BTC)
    return ticker.best_bid_price, ticker.best_ask_price


async def test_c01_login_returns_the_account_number(autojump_clock, sim, credentials):
    with trio.fail_after(LIMIT_S):
        async with client(sim) as c:
            account = await c.login(credentials)
    assert isinstance(account, str)
    assert account


@pytest.fixture(scope="module")
def foreign_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


async def test_c02_login_with_a_foreign_key_is_authentication_failed(
    autojump_clock, sim, foreign_pem
):
    pem = foreign_pem
    with trio.fail_after(LIMIT_S):
        async with client(sim) as c:
            with pytest.raises(errors.AuthenticationFailed) as info:
                await c.login(Credentials("qengine-demo", pem))
    assert info.value.code == 19


async def test_c03_private_call_before_login_is_not_logged_in(autojump_clock, sim):
    with trio.fail_after(LIMIT_S):
        async with client(sim) as c:
            with pytest.raises(errors.NotLoggedIn):
                await c.open_orders()


async def test_c04_open_with_credentials_and_cod_arms_the_session(autojump_clock, sim, credentials):
    with trio.fail_after(LIMIT_S):
        async with client(sim, credentials, cancel_on_disconnect_s=6) as c:
            assert c.account_number
            rate = await c.set_cancel_on_disconnect(6)
    assert isinstance(rate, int)
    assert rate > 0


async def test_c05_market_data_calls_decode(autojump_clock, sim):
    with trio.fail_after(LIMIT_S):
        async with client(sim) as c:
            instruments = await c.instruments()
            btc = await c.instrument(BTC)
            ticker = await c.ticker(BTC)
            index = await c.index("BTCUSD")
            book = await c.book(BTC)
            info = await c.system_info()
    assert BTC in {i.instrument_name for i in instruments}
    assert (btc.tick_size, btc.volume_tick_size) == (1.0, 0.001)
    assert ticker.best_bid_price < ticker.best_ask_price
    assert index.index_name == "BTCUSD"
    assert index.price > 0
    assert book["bids"]
    assert book["asks"]
    assert book["bids"][0][0] == ticker.best_bid_price
    assert "api_version" in info


async def test_c06_unknown_instrument_is_a_typed_error(autojump_clock, sim):
    with trio.fail_after(LIMIT_S):
        async with client(sim) as c:
            for call in (c.instrument, c.ticker):
                with pytest.raises(errors.UnknownInstrument):
                    await call("NOPE-PERPETUAL")


async def test_c07_unknown_method_is_code_31(autojump_clock, sim):
    with trio.fail_after(LIMIT_S):
        async with client(sim) as c:
            with pytest.raises(errors.UnknownMethod):
                await c.call("public/does_not_exist")


async def test_c08_ticker_subscription_conflates_into_the_latest_slot(autojump_clock, sim):
    channel = f"ticker.{BTC}.100ms"
    with trio.fail_after(LIMIT_S):
        slot, on_inbound = into_slot("ticker", BTC)
        async with client(sim, on_inbound=on_inbound, conflate=("ticker.",)) as c:
            subscribed = await c.public_subscribe([channel, "ticker.NOPE.100ms"])
            first = await slot.wait_value()
            await trio.sleep(2)  # many pushes arrive while nobody reads
            newest = slot.take_nowait()
            removed = await c.unsubscribe([channel])
            await trio.sleep(0.5)
            updates = slot.updates
            await trio.sleep(2)
            assert slot.updates == updates  # nothing after unsubscribe
    assert subscribed == [channel]
    assert first.kind == "ticker"
    assert first.records[0].instrument_name == BTC
    assert newest is not None
    assert slot.overwritten > 0
    assert removed == [channel]


async def test_c09_insert_amend_cancel_round_trip(autojump_clock, sim, credentials):
    with trio.fail_after(LIMIT_S):
        async with client(sim, credentials) as c:
            bid, _ = await touch(c)
            price = bid - 50
            order = await c.insert("buy", BTC, 0.01, price, label="c09")
            amended = await c.amend(amount=0.02, price=price - 1, order_id=order.order_id)
            open_ids = [o.order_id for o in await c.open_orders()]
            cancelled = await c.cancel(order_id=order.order_id)
            with pytest.raises(errors.OrderNotFound):
                await c.cancel(order_id=order.order_id)
    assert (order.status, order.direction, order.price, order.amount) == (
        "open",
        "buy",
        price,
        0.01,
    )
    assert order.label == "c09"
    assert (amended.price, amended.amount, amended.change_reason) == (price - 1, 0.02, "amend")
    assert order.order_id in open_ids
    assert cancelled.status == "cancelled"
    assert cancelled.delete_reason == "client_cancel"


async def test_c10_client_order_id_addressing_and_duplicates(autojump_clock, sim, credentials):
    with trio.fail_after(LIMIT_S):
        async with client(sim, credentials) as c:
            bid, _ = await touch(c)
            order = await c.buy(BTC, 0.01, bid - 40, client_order_id=1001)
            with pytest.raises(errors.DuplicateClientOrderId):
                await c.buy(BTC, 0.01, bid - 41, client_order_id=1001)
            amended = await c.amend(amount=0.01, price=bid - 42, client_order_id=1001)
            cancelled = await c.cancel(client_order_id=1001)
            again = await c.buy(BTC, 0.01, bid - 40, client_order_id=1001)  # reuse after close
            await c.cancel(client_order_id=1001)
    assert order.client_order_id == 1001
    assert amended.price == bid - 42
    assert cancelled.status == "cancelled"
    assert again.order_id != order.order_id


async def test_c11_post_only_reprices_and_book_or_cancel_cancels(autojump_clock, sim, credentials):
    with trio.fail_after(LIMIT_S):
        async with client(sim, credentials) as c:
            _, ask = await touch(c)
            repriced = await c.buy(BTC, 0.01, ask + 5, post_only=True)
            rejected = await c.buy(BTC, 0.01, ask + 5, post_only=True, reject_post_only=True)
            await c.cancel_all()
    assert repriced.status == "open"
    assert repriced.price == ask - 1  # one tick inside the opposite best
    assert rejected.status == "cancelled"
    assert rejected.delete_reason == "immediate_cancel"
    assert rejected.filled_amount == 0


async def test_c12_ioc_remainder_is_cancelled_and_market_order_fills(
    autojump_clock, sim, credentials
):
    with trio.fail_after(LIMIT_S):
        async with client(sim, credentials) as c:
            bid, _ = await touch(c)
            ioc = await c.sell(BTC, 0.01, bid + 100, time_in_force="immediate_or_cancel")
            market = await c.buy(BTC, 0.003, order_type="market")
            with pytest.raises(errors.InvalidTimeInForce):
                await c.call(
                    "private/insert",
                    {
                        "direction": "buy",
                        "instrument_name": BTC,
                        "amount": 0.01,
                        "price": bid - 10,
                        "post_only": True,
                        "time_in_force": "immediate_or_cancel",
                    },
                )
    assert ioc.status == "cancelled"
    assert ioc.remaining_amount == 0
    assert ioc.delete_reason == "immediate_cancel"
    assert market.status == "filled"
    assert market.filled_amount == pytest.approx(0.003)
    assert market.fills
    assert all(f.maker_taker == "taker" for f in market.fills)


async def test_c13_reduce_only_without_position_is_refused(autojump_clock, sim, credentials):
    with trio.fail_after(LIMIT_S):
        async with client(sim, credentials) as c:
            bid, _ = await touch(c)
            with pytest.raises(errors.ThalexError):
                await c.sell(BTC, 0.01, bid + 10, reduce_only=True)


async def test_c14_collar_reject_and_clamp(autojump_clock, sim, credentials):
    with trio.fail_after(LIMIT_S):
        async with client(sim, credentials) as c:
            ticker = await c.ticker(BTC)
            far = float(round(ticker.collar_high + 500))
            with pytest.raises(errors.CollarBreach):
                await c.buy(BTC, 0.01, far, collar="reject")
            clamped = await c.buy(
                BTC, 0.01, far, collar="clamp", time_in_force="immediate_or_cancel"
            )
    assert clamped.price is not None
    assert clamped.price <= ticker.collar_high + 1


async def test_c15_off_grid_price_and_amount_are_typed_errors(autojump_clock, sim, credentials):
    with trio.fail_after(LIMIT_S):
        async with client(sim, credentials) as c:
            bid, _ = await touch(c)
            with pytest.raises(errors.PriceNotAligned):
                await c.buy(BTC, 0.01, bid - 10.5)
            with pytest.raises(errors.InvalidAmount):
                await c.buy(BTC, 0.0015, bid - 10)


async def test_c16_cancel_all_counts_and_clears(autojump_clock, sim, credentials):
    with trio.fail_after(LIMIT_S):
        async with client(sim, credentials) as c:
            bid, ask = await touch(c)
            await c.buy(BTC, 0.01, bid - 30)
            await c.sell(BTC, 0.01, ask + 30)
            count = await c.cancel_all()
            remaining = await c.open_orders()
    assert count == 2
    assert remaining == []


async def test_c17_session_orders_arrive_through_the_event_channel(
    autojump_clock, sim, credentials
):
    with trio.fail_after(LIMIT_S):
        events, on_inbound = into_channel({"session.orders"})
        async with client(sim, credentials, on_inbound=on_inbound) as c:
            await c.private_subscribe(["session.orders"])
            bid, _ = await touch(c)
            order = await c.buy(BTC, 0.01, bid - 20)
            await c.cancel(order_id=order.order_id)
            seen = []
            while not any(r.order_id == order.order_id and r.status == "cancelled" for r in seen):
                notification = await events.receive()
                seen.extend(notification.records)
    statuses = [r.status for r in seen if r.order_id == order.order_id]
    assert statuses[0] == "open"
    assert statuses[-1] == "cancelled"


async def test_c18_cod_orders_vanish_after_the_connection_drops(autojump_clock, sim, credentials):
    with trio.fail_after(LIMIT_S):
        async with client(sim, credentials) as watcher:
            async with client(sim, credentials, cancel_on_disconnect_s=6) as quoter:
                bid, _ = await touch(quoter)
                order = await quoter.buy(BTC, 0.01, bid - 25)
                assert order.persistent is False
                before = [o.order_id for o in await watcher.open_orders()]
            await trio.sleep(1)
            after = [o.order_id for o in await watcher.open_orders()]
    assert order.order_id in before
    assert order.order_id not in after


async def test_c19_cancel_session_needs_cod_and_cancels_its_orders(
    autojump_clock, sim, credentials
):
    with trio.fail_after(LIMIT_S):
        async with client(sim, credentials) as c:
            with pytest.raises(errors.PersistentSession):
                await c.cancel_session()
            await c.set_cancel_on_disconnect(6)
            bid, _ = await touch(c)
            order = await c.buy(BTC, 0.01, bid - 25)
            assert await c.cancel_session() is None
            remaining = [o.order_id for o in await c.open_orders()]
    assert order.order_id not in remaining


async def test_c20_mass_quote_needs_protection_then_quotes_both_forms(
    autojump_clock, sim, credentials
):
    with trio.fail_after(LIMIT_S):
        async with client(sim, credentials, cancel_on_disconnect_s=6) as c:
            bid, ask = await touch(c)
            single = [QuoteRequest(BTC, QuoteLevel(bid - 5, 0.01), QuoteLevel(ask + 5, 0.01))]
            with pytest.raises(errors.MmProtectionNotSet):
                await c.mass_quote(single)
            assert await c.set_mm_protection("FBTCUSD", 0.05, 0.1) is None
            first = await c.mass_quote(single, label="mq", post_only=True)
            levels = tuple(QuoteLevel(bid - 10 - k, 0.01) for k in range(3))
            multi = await c.mass_quote([QuoteRequest(BTC, bid=levels)], post_only=True)
            too_big = await c.mass_quote([QuoteRequest(BTC, ask=QuoteLevel(ask + 9, 1.0))])
            assert await c.cancel_mass_quote("FBTCUSD") is None
    assert (first.n_success, first.n_fail) == (2, 0)
    assert (multi.n_success, multi.n_fail) == (1, 0)
    assert too_big.n_fail == 1
    assert too_big.errors[0].code == errors.QuoteTooLarge.CODE


async def test_c21_fill_shows_in_portfolio_and_trade_history(autojump_clock, sim, credentials):
    with trio.fail_after(LIMIT_S):
        async with client(sim, credentials) as c:
            market = await c.buy(BTC, 0.005, order_type="market", label="c21")
            portfolio = await c.portfolio()
            await trio.sleep(1)  # trade history may lag the fill
            trades, _bookmark = await c.trade_history(limit=10)
            summary = await c.account_summary()
            orders, _ = await c.order_history(limit=10)
    position = {p.instrument_name: p.position for p in portfolio}
    assert market.status == "filled"
    assert position[BTC] == pytest.approx(0.005)
    assert any(t.order_id == market.order_id and t.direction == "buy" for t in trades)
    assert summary.margin > 0
    assert any(o.order_id == market.order_id for o in orders)


async def test_c22_resting_order_at_the_touch_is_filled_by_takers(autojump_clock, sim, credentials):
    with trio.fail_after(LIMIT_S):
        events, on_inbound = into_channel({"session.orders", "account.portfolio"})
        async with client(sim, credentials, on_inbound=on_inbound) as c:
            await c.private_subscribe(["session.orders", "account.portfolio"])
            bid, _ = await touch(c)
            order = await c.buy(BTC, 0.001, bid)
            fill = None
            while fill is None:
                notification = await events.receive()
                for record in notification.records:
                    if getattr(record, "order_id", None) == order.order_id and record.fills:
                        fill = record
    assert fill.fills[0].maker_taker == "maker"
    assert fill.fills[0].price == bid


async def test_c23_throttle_is_code_4(autojump_clock, sim, credentials):
    with trio.fail_after(LIMIT_S):
        async with client(sim, credentials) as c:
            results = []
            for _ in range(40):  # far above 10 msgs/s without cancel-on-disconnect
                try:
                    results.append(await c.open_orders())
                except errors.Throttled as exc:
                    results.append(exc)
    throttled = [r for r in results if isinstance(r, errors.Throttled)]
    assert throttled
    assert throttled[0].code == 4


async def test_c24_request_timeout_and_late_answer_dropped(autojump_clock, nursery, demo_dir):
    from qengine.sim import FaultConfig

    sim = await start_sim(nursery, demo_dir, faults=FaultConfig(reply_delay_s=3.0))
    with trio.fail_after(LIMIT_S):
        async with client(sim, request_timeout_s=1.0) as c:
            with pytest.raises(errors.RequestTimeout):
                await c.system_info()
            info = await c.system_info(timeout_s=10)  # FIFO: waits behind the first
            stats = c.statistics()
    assert "api_version" in info
    assert stats.rpc.unmatched_responses == 1


async def test_c25_reconnect_logs_in_again_and_resubscribes(
    autojump_clock, nursery, demo_dir, credentials
):
    from qengine.io.transport import ReconnectPolicy
    from qengine.sim import FaultConfig

    sim = await start_sim(nursery, demo_dir, faults=FaultConfig(drop_after_messages=6))
    hooks = []

    async def on_connect(c):
        hooks.append(c.account_number)

    channel = f"ticker.{BTC}.100ms"
    slot, on_inbound = into_slot("ticker", BTC)
    with trio.fail_after(LIMIT_S):
        async with client(
            sim,
            credentials,
            cancel_on_disconnect_s=6,
            on_connect=on_connect,
            reconnect=ReconnectPolicy(initial_delay_s=0.2),
            on_inbound=on_inbound,
        ) as c:
            await c.public_subscribe([channel])  # request 3 of 6 on this connection
            for _ in range(10):
                try:
                    await c.system_info()
                except errors.ConnectionLost:
                    await trio.sleep(1)
            updates = slot.updates
            await trio.sleep(2)
            assert slot.updates > updates  # the subscription came back
            stats = c.statistics()
    assert len(hooks) >= 2
    assert stats.transport.connects >= 2
