"""The position limit while a reported fill is not booked yet: an order report (an amend's
reply, a cancel's) can state a fill before the fill's own push is read. The listener credits
each newly booked fill to its order's row (``booked_lots``), so the room the diff sees never
counts those lots as traded before the position has them."""

from __future__ import annotations

import numpy as np

from qengine.engine._listener import Listener
from qengine.io import messages as m
from qengine.kernels import codes
from qengine.kernels.dtypes import ACTION, QUOTE
from qengine.kernels.order_diff import diff_ladder_against_orders
from qengine.kernels.orders import order_release, order_request_amend, order_reserve

from .conftest import offline_listener

BTC = "BTC-PERPETUAL"
LOT = 0.001  # volume tick: 10 lots are 0.01 BTC
LIMIT = 10  # lots
PRICE = 65000


def _report(status: str, reason: str, amount: int, filled: int, price: int = PRICE,
            fills: tuple[tuple[str, int], ...] = ()) -> m.OrderUpdate:
    """Our buy order A1 (client id 1) as the exchange reports it; sizes in lots."""
    return m.decode_order({
        "order_id": "A1", "client_order_id": 1, "instrument_name": BTC, "direction": "buy",
        "order_type": "limit", "time_in_force": "good_till_cancelled", "price": float(price),
        "amount": amount * LOT, "filled_amount": filled * LOT,
        "remaining_amount": (amount - filled) * LOT if status in m.LIVE_STATUSES else 0.0,
        "status": status, "change_reason": reason, "label": "qe",
        "fills": [{"trade_id": tid, "price": float(price), "amount": lots * LOT, "time": 1.0,
                   "maker_taker": "maker", "leg_index": 0} for tid, lots in fills]})


def _trade(trade_id: str, lots: int) -> m.Trade:
    return m.decode_trade({"trade_id": trade_id, "order_id": "A1", "client_order_id": 1,
                           "instrument_name": BTC, "direction": "buy", "price": float(PRICE),
                           "amount": lots * LOT, "maker_taker": "maker", "time": 1.0,
                           "trade_type": "normal"})


def _send_diff(listener: Listener, size: int, price: int) -> list[tuple[int, int]]:
    """Diff a one-level bid of ``size`` against the table with the room the booked position
    leaves, and mark what it sends as the order manager would; returns (kind, size) pairs."""
    state = listener.state
    quotes = np.zeros(1, QUOTE)
    quotes[0] = (codes.SIDE_BUY, 0, price, size)
    out = np.zeros(4, ACTION)
    room = LIMIT - state.position_lots(0)
    n = diff_ladder_against_orders(state.orders, quotes, 1, 0, 0, out, room, LIMIT)
    for a in out[:n]:
        if a["kind"] == codes.ACTION_AMEND:
            assert order_request_amend(state.orders, int(a["slot"]), int(a["price_ticks"]),
                                       int(a["size_lots"]), 5) == codes.STATUS_OK
        elif a["kind"] == codes.ACTION_INSERT:
            assert order_reserve(state.orders, 2, 0, codes.SIDE_BUY, 0, int(a["price_ticks"]),
                                 int(a["size_lots"]), 5) >= 0
    return [(int(a["kind"]), int(a["size_lots"])) for a in out[:n]]


def _highest_position(listener: Listener, unbooked: int) -> int:
    """The position if every buy the exchange may still execute or has executed unbooked
    (``unbooked`` lots, known to the test) lands: written from the exchange's view, not from
    ``booked_lots``."""
    total = listener.state.position_lots(0) + unbooked
    for row in listener.state.orders:
        if codes.ORDER_PENDING_INSERT <= row["status"] <= codes.ORDER_PENDING_CANCEL:
            amount = int(row["amount_lots"])
            if row["status"] == codes.ORDER_PENDING_AMEND:
                amount = max(amount, int(row["pending_amount_lots"]))
            total += amount - int(row["filled_lots"])
    return total


def _resting(listener: Listener, lots: int) -> int:
    slot = order_reserve(listener.state.orders, 1, 0, codes.SIDE_BUY, 0, PRICE, lots, 1)
    listener.apply_order(_report("open", "insert", lots, 0))
    assert listener.state.orders[slot]["status"] == codes.ORDER_OPEN
    return slot


async def test_an_amend_reply_stating_a_fill_before_its_push_keeps_the_limit():
    listener = offline_listener()
    orders = listener.state.orders
    slot = _resting(listener, 10)
    # The quoter re-prices the bid; the amend's reply says 6 lots filled, but the fill push
    # (with its trade) is not read yet: the position is still flat.
    assert order_request_amend(orders, slot, PRICE + 1, 10, 3) == codes.STATUS_OK
    listener.apply_order(_report("partially_filled", "amend", 10, 6, PRICE + 1))
    assert (orders[slot]["filled_lots"], orders[slot]["booked_lots"]) == (6, 0)
    assert listener.state.position_lots(0) == 0
    # A full-size bid: counting amount - filled (4) left room for an amend to 16 lots.
    assert _send_diff(listener, 10, PRICE + 2) == [(codes.ACTION_AMEND, 10)]
    assert _highest_position(listener, unbooked=6) <= LIMIT
    # The fill push books the 6 lots once and credits them to the row.
    listener.apply_order(_report("partially_filled", "fill", 10, 6, PRICE + 1, (("T1", 6),)))
    assert listener.state.position_lots(0) == 6
    assert orders[slot]["booked_lots"] == 6
    assert _highest_position(listener, unbooked=0) <= LIMIT
    # The trade history repeats it: a duplicate, never credited twice.
    listener.account.apply_trades([_trade("T1", 6)])
    assert (listener.state.position_lots(0), int(orders[slot]["booked_lots"])) == (6, 6)


async def test_a_fill_booked_from_the_history_before_its_report_is_credited_once():
    listener = offline_listener()
    orders = listener.state.orders
    slot = _resting(listener, 10)
    listener.account.apply_trades([_trade("T2", 3)])  # the history is read first
    assert listener.state.position_lots(0) == 3
    assert (orders[slot]["filled_lots"], orders[slot]["booked_lots"]) == (0, 3)  # booked > filled
    listener.apply_order(_report("partially_filled", "fill", 10, 3, fills=(("T2", 3),)))
    assert (orders[slot]["filled_lots"], orders[slot]["booked_lots"]) == (3, 3)
    assert listener.state.position_lots(0) == 3
    assert _send_diff(listener, 10, PRICE) == []  # 3 + (10 - 3) is the limit: kept as it is


async def test_a_cancel_reply_stating_a_fill_keeps_its_row_until_the_fill_is_booked():
    listener = offline_listener()
    orders = listener.state.orders
    slot = _resting(listener, 10)
    listener.apply_order(_report("cancelled_partially_filled", "cancel", 10, 6))
    assert orders[slot]["status"] == codes.ORDER_CLOSED
    assert order_release(orders) == 0  # 6 lots reported, none booked: the row stays
    # A new full-size bid would reach 16 once the 6 are booked: it waits.
    assert _send_diff(listener, 10, PRICE) == []
    assert _send_diff(listener, 4, PRICE) == [(codes.ACTION_INSERT, 4)]
    assert _highest_position(listener, unbooked=6) <= LIMIT
    # The fill push for the closed order books and credits it; then the row is released.
    listener.apply_order(_report("cancelled_partially_filled", "fill", 10, 6,
                                 fills=(("T3", 6),)))
    assert (listener.state.position_lots(0), int(orders[slot]["booked_lots"])) == (6, 6)
    assert order_release(orders) == 1


async def test_an_adopted_position_settles_closed_rows_whose_fills_it_holds():
    listener = offline_listener()
    orders = listener.state.orders
    slot = _resting(listener, 10)
    listener.apply_order(_report("cancelled_partially_filled", "cancel", 10, 6))
    # The fill push never comes; the exchange's portfolio says 6 and is adopted.
    listener.state.book.exchange_time_s = 2.0
    listener.account.apply_portfolio([m.decode_portfolio_row(
        {"instrument_name": BTC, "position": 6 * LOT, "average_price": float(PRICE)})],
        snapshot=True)
    assert listener.account.reconcile_positions(force=True) == 1
    assert listener.state.position_lots(0) == 6
    assert orders[slot]["booked_lots"] == 6
    assert order_release(orders) == 1
    # A late push of that fill is inside the adopted position: neither booked nor credited.
    listener.apply_order(_report("cancelled_partially_filled", "fill", 10, 6,
                                 fills=(("T4", 6),)))
    assert listener.state.position_lots(0) == 6
    assert listener.account.skipped_adopted_fills == 1
