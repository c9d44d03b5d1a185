"""Order reconciliation against a snapshot older than the row: while ``open_orders`` is on its
way the reader keeps applying replies and pushes (through the real listener here); a row that
learned something newer keeps it, and no order of ours that is live is left untracked. Rows
older than the request are still judged by the snapshot: gone rows close, stale pending inserts
are rejected, true orphans are cancelled."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import trio
import trio.lowlevel

from qengine.clock import now_ns
from qengine.config import load_config
from qengine.engine._account import Account
from qengine.engine._gate import QuoteGate, Wakeup
from qengine.engine._listener import Listener
from qengine.engine._orders import OrderManager
from qengine.engine._state import EngineState, id_key
from qengine.io import errors as io_errors
from qengine.io import messages as m
from qengine.io.rpc_session import Inbound
from qengine.kernels import codes
from qengine.kernels.orders import order_request_amend, order_request_cancel, order_reserve
from qengine.strategy.setup import InstrumentSpec
from qengine.telemetry import Telemetry

from .conftest import BTC, LABEL, exchange_side_counts, ours, running, wait_until

#: 0.01 BTC on a 0.001 volume tick.
LOTS = 10
#: How long the snapshot's round trip takes (0: the reply lands at the request's clock reading).
ROUND_TRIPS_S = (0.0, 0.02)


def _order(order_id: str, cid: int | None, price: float, *, status: str = "open",
           reason: str = "existing", filled: float = 0.0,
           fills: tuple[dict[str, Any], ...] = ()) -> m.OrderUpdate:
    """One OrderStatus of ours (a buy of 0.01 BTC) as the exchange reports it."""
    obj = {"order_id": order_id, "instrument_name": BTC, "direction": "buy",
           "order_type": "limit", "time_in_force": "good_till_cancelled", "price": price,
           "amount": 0.01, "filled_amount": filled, "remaining_amount": round(0.01 - filled, 9),
           "status": status, "change_reason": reason, "insert_reason": "client_request",
           "label": LABEL, "create_time": 1.7e9, "persistent": False, "fills": list(fills)}
    if cid is not None:
        obj["client_order_id"] = cid
    return m.decode_order(obj)


def _push(*updates: m.OrderUpdate) -> Inbound:
    """One socket read carrying a ``session.orders`` push."""
    return Inbound(now_ns(), [], [m.Notification("session.orders", None, updates, False)])


class SnapshotClient:
    """``open_orders`` answers ``snapshot`` (fixed before the request, so older than what
    ``meanwhile`` applies while it is on its way); cancels are recorded (or time out)."""

    def __init__(self, round_trip_s: float) -> None:
        self.round_trip_s = round_trip_s
        self.snapshot: list[m.OrderUpdate] = []
        self.meanwhile: Callable[[], None] = lambda: None
        self.cancelled: list[str] = []
        #: Order ids whose cancel times out.
        self.unanswered: set[str] = set()

    async def open_orders(self) -> list[m.OrderUpdate]:
        snapshot = list(self.snapshot)
        await trio.sleep(self.round_trip_s / 2)
        self.meanwhile()  # the reader applies answers and pushes during the await
        await trio.sleep(self.round_trip_s / 2)
        return snapshot

    async def cancel(self, *, order_id: str) -> None:
        await trio.lowlevel.checkpoint()
        if order_id in self.unanswered:
            raise io_errors.RequestTimeout("private/cancel", 10.0)
        self.cancelled.append(order_id)


def _manager(round_trip_s: float, order_mode: str = "orders"
             ) -> tuple[OrderManager, SnapshotClient]:
    config = load_config(None, {"label": LABEL, "order_mode": order_mode})
    state = EngineState(config, [InstrumentSpec(0, BTC, "FBTCUSD", "BTCUSD", 1.0, 0.001, 1)])
    telemetry, wakeup = Telemetry(), Wakeup()
    listener = Listener(state, telemetry, Account(state, telemetry, wakeup))
    client = SnapshotClient(round_trip_s)
    manager = OrderManager(state, listener, telemetry, client, QuoteGate(  # type: ignore[arg-type]
        state.decision_params, state.book), wakeup)
    return manager, client


def _reserve(manager: OrderManager, cid: int, price_ticks: int = 64000) -> int:
    slot = order_reserve(manager.state.orders, cid, 0, codes.SIDE_BUY, 0, price_ticks, LOTS,
                         now_ns())
    assert slot >= 0
    return slot


def _open(manager: OrderManager, cid: int, order_id: str, price: float = 64000.0) -> int:
    """A row whose insert was answered: open on the exchange as ``order_id``."""
    slot = _reserve(manager, cid, int(price))
    manager.listener.apply_order(_order(order_id, cid, price, reason="insert"))
    assert manager.state.orders[slot]["status"] == codes.ORDER_OPEN
    return slot


def _tracked(manager: OrderManager, order_id: str, cid: int) -> Any:
    """The live row that tracks exchange order ``order_id``; fails when none does."""
    slot = manager.listener.account.our_slot(id_key(order_id), cid)
    assert slot >= 0, f"order {order_id} is not tracked"
    row = manager.state.orders[slot]
    assert row["order_key"] == id_key(order_id)
    assert codes.ORDER_OPEN <= row["status"] <= codes.ORDER_PENDING_CANCEL
    return row


def _reported(manager: OrderManager, via: str, update: m.OrderUpdate) -> None:
    """Apply ``update`` as the reader does: an RPC answer or a ``session.orders`` push."""
    if via == "reply":
        manager.listener.apply_order(update)
    else:
        manager.listener.apply(_push(update))


@pytest.mark.parametrize("via", ["reply", "push"])
@pytest.mark.parametrize("round_trip_s", ROUND_TRIPS_S)
async def test_an_insert_reported_during_the_await_stays_tracked(autojump_clock, round_trip_s,
                                                                  via):
    manager, client = _manager(round_trip_s)
    _reserve(manager, 11)
    await trio.sleep(1.0)
    # The exchange took its snapshot before the insert; the insert's report arrives first.
    client.meanwhile = lambda: _reported(manager, via, _order("A", 11, 64000.0, reason="insert"))
    assert await manager.reconcile_orders() == 0
    row = _tracked(manager, "A", 11)
    assert row["status"] == codes.ORDER_OPEN
    assert client.cancelled == []
    # Still attended: a later fill push lands on the row.
    manager.listener.apply(_push(_order("A", 11, 64000.0, status="partially_filled",
                                        reason="fill", filled=0.004)))
    assert _tracked(manager, "A", 11)["filled_lots"] == 4
    # The next reconciliation (no longer older than the row) agrees and cancels nothing.
    client.snapshot, client.meanwhile = [_order("A", 11, 64000.0, filled=0.004)], lambda: None
    await trio.sleep(1.0)
    assert await manager.reconcile_orders() == 0
    assert _tracked(manager, "A", 11)["filled_lots"] == 4
    assert client.cancelled == []


@pytest.mark.parametrize("via", ["reply", "push"])
@pytest.mark.parametrize("round_trip_s", ROUND_TRIPS_S)
async def test_an_amend_reported_during_the_await_is_not_set_back(autojump_clock, round_trip_s,
                                                                   via):
    manager, client = _manager(round_trip_s)
    slot = _open(manager, 21, "C", 64000.0)
    assert order_request_amend(manager.state.orders, slot, 64010, LOTS, now_ns()) == \
        codes.STATUS_OK
    await trio.sleep(1.0)
    client.snapshot = [_order("C", 21, 64000.0)]  # the price before the amend
    client.meanwhile = lambda: _reported(manager, via, _order("C", 21, 64010.0, reason="amend"))
    assert await manager.reconcile_orders() == 0
    row = _tracked(manager, "C", 21)
    assert (row["status"], row["price_ticks"]) == (codes.ORDER_OPEN, 64010)
    assert client.cancelled == []


@pytest.mark.parametrize("round_trip_s", ROUND_TRIPS_S)
async def test_an_order_closed_during_the_await_is_not_cancelled_again(autojump_clock,
                                                                        round_trip_s):
    manager, client = _manager(round_trip_s)
    _reserve(manager, 31)
    await trio.sleep(1.0)
    fill = {"trade_id": "T1", "price": 64000.0, "amount": 0.01, "time": 1.7e9 + 1,
            "maker_taker": "maker", "leg_index": 0}
    client.snapshot = [_order("D", 31, 64000.0)]  # still resting when the snapshot was taken

    def answered_then_filled() -> None:
        manager.listener.apply_order(_order("D", 31, 64000.0, reason="insert"))
        manager.listener.apply(_push(_order("D", 31, 64000.0, status="filled", reason="fill",
                                            filled=0.01, fills=(fill,))))

    client.meanwhile = answered_then_filled
    assert await manager.reconcile_orders() == 0
    assert client.cancelled == []
    assert manager.listener.account.our_slot(id_key("D"), 31) < 0  # closed and released
    assert manager.state.positions[0]["position_lots"] == LOTS  # the fill booked once


async def test_rows_older_than_the_request_are_judged_by_the_snapshot(autojump_clock):
    manager, client = _manager(0.02)
    _open(manager, 41, "gone")  # the exchange no longer has it
    _open(manager, 42, "moved")  # amended by the exchange's report
    cancelling = _open(manager, 43, "cancel-lost")  # its cancel's answer never came
    assert order_request_cancel(manager.state.orders, cancelling, now_ns()) == codes.STATUS_OK
    _reserve(manager, 44)  # an insert whose answer never came, not on the exchange
    await trio.sleep(11.0)  # past the request timeout
    _reserve(manager, 45)  # a recent insert: its answer may still come
    await trio.sleep(1.0)
    _open(manager, 46, "gone-now")  # gone too, written at the request's clock reading
    client.snapshot = [_order("moved", 42, 64005.0), _order("cancel-lost", 43, 64000.0),
                       _order("orphan", 99, 63000.0), _order("foreign", 42, 63000.0),
                       _order("lost", 98, 63000.0)]
    # News about other rows during the await does not change how these are judged.
    client.meanwhile = lambda: manager.listener.apply_order(
        _order("fresh", 45, 64000.0, reason="insert"))
    client.unanswered = {"lost"}
    assert await manager.reconcile_orders() == 3
    assert sorted(client.cancelled) == ["foreign", "orphan"]
    assert manager.reconcile_needed  # the orphan whose cancel got no answer: try again
    assert manager.listener.account.our_slot(id_key("gone"), 41) < 0
    assert manager.listener.account.our_slot(id_key("gone-now"), 46) < 0
    assert manager.listener.account.our_slot(-1, 44) < 0
    assert _tracked(manager, "moved", 42)["price_ticks"] == 64005
    assert _tracked(manager, "cancel-lost", 43)["status"] == codes.ORDER_OPEN
    assert _tracked(manager, "fresh", 45)["status"] == codes.ORDER_OPEN


async def test_mass_quotes_are_not_orphans(autojump_clock):
    manager, client = _manager(0.02, order_mode="mass_quote")
    client.snapshot = [_order("quote", None, 64000.0), _order("orphan", 5, 63000.0)]
    assert await manager.reconcile_orders() == 1
    assert client.cancelled == ["orphan"]


async def test_a_reconciliation_in_mass_quote_mode_leaves_the_quotes_alone(autojump_clock):
    with trio.fail_after(120):
        async with running(order_mode="mass_quote", quote__levels=2) as (sim, engine):
            await wait_until(lambda: exchange_side_counts(sim) == (2, 2))
            quotes = {o["order_id"] for o in ours(sim)}
            engine.orders.reconcile_needed = True  # as after a failed flatten
            engine.quoter.wakeup.ring()
            await wait_until(lambda: not engine.orders.reconcile_needed)
            await trio.sleep(0.5)
            assert {o["order_id"] for o in ours(sim)} == quotes
            assert engine.telemetry.counters.snapshot()["errors"] == 0


async def test_a_fill_the_snapshot_books_is_credited_to_its_row(autojump_clock):
    """The snapshot lists a fill of an order whose row learned of it meanwhile (a newer row):
    booking that fill credits the row, so its room is freed once, and when the order fills
    up and closes the row is released (it used to keep 5 lots of room and its slot)."""
    from qengine.kernels.orders import order_release

    manager, client = _manager(0.02)
    _reserve(manager, 31)
    manager.listener.apply_order(_order("D", 31, 64000.0, reason="insert"))
    await trio.sleep(1.0)
    first = {"trade_id": "T1", "price": 64000.0, "amount": 0.005, "time": 1.7e9 + 1,
             "maker_taker": "maker", "leg_index": 0}
    second = {"trade_id": "T2", "price": 64000.0, "amount": 0.005, "time": 1.7e9 + 2,
              "maker_taker": "maker", "leg_index": 0}
    client.snapshot = [_order("D", 31, 64000.0, reason="fill", filled=0.005, fills=(first,))]
    client.meanwhile = lambda: manager.listener.apply_order(  # the fill stated, not listed
        _order("D", 31, 64000.0, reason="amend", filled=0.005))
    await manager.reconcile_orders()
    orders = manager.state.orders
    slot = manager.listener.account.our_slot(id_key("D"), 31)
    assert manager.state.position_lots(0) == 5
    assert (orders[slot]["filled_lots"], orders[slot]["booked_lots"]) == (5, 5)
    # The fill's own push comes later (a duplicate), then the rest of the order fills.
    manager.listener.apply(_push(_order("D", 31, 64000.0, reason="fill", filled=0.005,
                                        fills=(first,))))
    assert orders[slot]["booked_lots"] == 5
    manager.listener.apply(_push(_order("D", 31, 64000.0, status="filled", reason="fill",
                                        filled=0.01, fills=(first, second))))
    order_release(orders)
    assert manager.state.position_lots(0) == LOTS
    assert not (orders["status"] != codes.ORDER_EMPTY).any()
