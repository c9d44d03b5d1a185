"""Order table and ladder diff: kernels against twins, lifecycles, transition sequences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qengine.kernels import codes, orders
from qengine.kernels.dtypes import ORDER, QUOTE
from tests.reference import orders as twin

BUY, SELL = codes.SIDE_BUY, codes.SIDE_SELL
LIVE, AMENDED, CLOSED, REJECTED = (
    codes.ORDER_UPDATE_LIVE,
    codes.ORDER_UPDATE_AMENDED,
    codes.ORDER_UPDATE_CLOSED,
    codes.ORDER_UPDATE_REJECTED,
)


def new_table(capacity=8):
    return np.zeros(capacity, dtype=ORDER)


def ladder(*rows):
    quotes = np.zeros(max(len(rows), 1), dtype=QUOTE)
    for i, row in enumerate(rows):
        quotes[i] = row
    return quotes, len(rows)


def resting(
    table, client_order_id, side, level, price_ticks, amount_lots, filled_lots=0, instrument=0,
    booked_lots=None,
):
    """Reserve and ack an order so that it rests OPEN; return its slot. Its fills are booked
    (``booked_lots``, by default all ``filled_lots``)."""
    slot = orders.order_reserve(
        table, client_order_id, instrument, side, level, price_ticks, amount_lots, 1
    )
    assert slot >= 0
    got = orders.order_apply_update(
        table,
        client_order_id,
        1000 + client_order_id,
        LIVE,
        price_ticks,
        amount_lots,
        filled_lots,
        2,
    )
    assert got == slot
    booked = filled_lots if booked_lots is None else booked_lots
    if booked > 0:
        assert orders.order_book_lots(table, slot, booked, 2) == codes.STATUS_OK
    return slot


# --- table lifecycle -----------------------------------------------------------------------------


def test_reserve_gives_pending_insert_row_without_exchange_key():
    table = new_table(2)
    slot = orders.order_reserve(table, 7, 0, BUY, 0, 100, 5, 11)
    assert slot == 0
    row = table[0]
    assert row["status"] == codes.ORDER_PENDING_INSERT
    assert row["order_key"] == -1
    assert (row["price_ticks"], row["amount_lots"], row["insert_time_ns"]) == (100, 5, 11)
    assert orders.order_find_by_client_id(table, 7) == 0
    assert orders.order_find_by_key(table, -1) == -1


def test_reserve_rejects_duplicate_id_full_table_and_bad_input():
    table = new_table(1)
    assert orders.order_reserve(table, 7, 0, BUY, 0, 100, 5, 1) == 0
    assert orders.order_reserve(table, 7, 0, BUY, 1, 99, 5, 1) == -codes.STATUS_DUPLICATE
    assert orders.order_reserve(table, 8, 0, BUY, 1, 99, 5, 1) == -codes.STATUS_FULL
    empty = new_table(1)
    for args in [
        (-1, 0, BUY, 0, 1, 1),
        (1, 0, 5, 0, 1, 1),
        (1, 0, BUY, 0, 1, 0),
        (1, 0, BUY, -1, 1, 1),
    ]:
        assert orders.order_reserve(empty, *args, 1) == -codes.STATUS_BAD_INPUT
    assert empty["status"].tolist() == [codes.ORDER_EMPTY]


def test_full_lifecycle_ack_partial_fill_amend_cancel_release():
    table = new_table(4)
    slot = resting(table, 5, SELL, 0, 105, 10)
    assert table[slot]["status"] == codes.ORDER_OPEN
    assert orders.order_find_by_key(table, 1005) == slot
    assert orders.order_apply_update(table, 5, 1005, LIVE, 105, 10, 4, 3) == slot  # partial fill
    assert table[slot]["filled_lots"] == 4
    # Reported but not booked yet: all 10 lots can still reach the position.
    assert orders.order_open_lots(table, 0, SELL) == 10
    assert orders.order_book_lots(table, slot, 4, 3) == codes.STATUS_OK
    assert orders.order_open_lots(table, 0, SELL) == 6

    assert orders.order_request_amend(table, slot, 107, 12, 4) == codes.STATUS_OK
    assert table[slot]["status"] == codes.ORDER_PENDING_AMEND
    assert orders.order_open_lots(table, 0, SELL) == 8  # the larger of 6 now and 8 after
    # A fill racing the amend keeps it pending; the amend reply then settles it.
    assert orders.order_apply_update(table, 5, 1005, LIVE, 105, 10, 5, 5) == slot
    assert table[slot]["status"] == codes.ORDER_PENDING_AMEND
    assert orders.order_book_lots(table, slot, 1, 5) == codes.STATUS_OK
    assert orders.order_apply_update(table, 5, 1005, AMENDED, 107, 12, 5, 6) == slot
    assert table[slot]["status"] == codes.ORDER_OPEN
    assert (table[slot]["price_ticks"], table[slot]["amount_lots"]) == (107, 12)
    assert table[slot]["pending_amount_lots"] == 0

    assert orders.order_request_cancel(table, slot, 7) == codes.STATUS_OK
    # Not done until the exchange says so: still live for risk.
    assert orders.order_count_live(table, 0, SELL) == 1
    assert orders.order_open_lots(table, 0, SELL) == 7
    assert orders.order_apply_update(table, 5, 1005, LIVE, 107, 12, 6, 8) == slot
    assert table[slot]["status"] == codes.ORDER_PENDING_CANCEL
    assert orders.order_apply_update(table, 5, 1005, CLOSED, 107, 12, 6, 9) == slot
    assert table[slot]["status"] == codes.ORDER_CLOSED
    assert orders.order_count_live(table, 0, SELL) == 0
    # The 6th lot is reported, not booked: the closed row stays and still counts it.
    assert orders.order_open_lots(table, 0, SELL) == 1
    assert orders.order_release(table) == 0
    assert orders.order_book_lots(table, slot, 1, 10) == codes.STATUS_OK
    assert orders.order_open_lots(table, 0, SELL) == 0
    assert orders.order_release(table) == 1
    assert table[slot].tolist() == np.zeros(1, dtype=ORDER)[0].tolist()
    assert orders.order_find_by_client_id(table, 5) == -1


def test_rejections_close_inserts_and_reopen_amends_and_cancels():
    table = new_table(4)
    a = orders.order_reserve(table, 1, 0, BUY, 0, 100, 5, 1)
    assert orders.order_apply_update(table, 1, -1, REJECTED, 0, 0, 0, 2) == a
    assert table[a]["status"] == codes.ORDER_CLOSED
    b = resting(table, 2, BUY, 1, 99, 5)
    orders.order_request_amend(table, b, 98, 5, 3)
    assert orders.order_apply_update(table, 2, -1, REJECTED, 0, 0, 0, 4) == b
    assert (table[b]["status"], table[b]["price_ticks"]) == (codes.ORDER_OPEN, 99)
    orders.order_request_cancel(table, b, 5)
    assert orders.order_apply_update(table, 2, -1, REJECTED, 0, 0, 0, 6) == b
    assert table[b]["status"] == codes.ORDER_OPEN
    # A reject with nothing in flight is stale.
    assert orders.order_apply_update(table, 2, -1, REJECTED, 0, 0, 0, 7) == -codes.STATUS_STALE


def test_late_insert_reply_never_reopens_a_filled_order():
    table = new_table(2)
    slot = orders.order_reserve(table, 3, 0, BUY, 0, 100, 5, 1)
    assert orders.order_apply_update(table, 3, 9, LIVE, 100, 5, 5, 2) == slot  # filled at once
    assert table[slot]["status"] == codes.ORDER_CLOSED
    assert orders.order_apply_update(table, 3, 9, LIVE, 100, 5, 0, 3) == -codes.STATUS_STALE
    assert table[slot]["status"] == codes.ORDER_CLOSED
    assert table[slot]["filled_lots"] == 5


def test_older_fill_report_is_stale_and_filled_never_decreases():
    table = new_table(2)
    slot = resting(table, 3, BUY, 0, 100, 10)
    orders.order_apply_update(table, 3, 9, LIVE, 100, 10, 6, 3)
    assert orders.order_apply_update(table, 3, 9, LIVE, 100, 10, 4, 4) == -codes.STATUS_STALE
    assert table[slot]["filled_lots"] == 6


def test_requests_on_busy_or_missing_rows_change_nothing():
    table = new_table(2)
    slot = orders.order_reserve(table, 3, 0, BUY, 0, 100, 10, 1)
    assert orders.order_request_cancel(table, slot, 2) == codes.STATUS_BUSY
    assert orders.order_request_amend(table, slot, 1, 1, 2) == codes.STATUS_BUSY
    assert orders.order_request_cancel(table, 1, 2) == codes.STATUS_NOT_FOUND
    assert orders.order_request_cancel(table, 5, 2) == codes.STATUS_BAD_INPUT
    assert orders.order_apply_update(table, 99, 1, LIVE, 1, 1, 0, 2) == -codes.STATUS_NOT_FOUND
    assert orders.order_apply_update(table, 3, 1, 9, 1, 1, 0, 2) == -codes.STATUS_BAD_INPUT
    assert table[slot]["status"] == codes.ORDER_PENDING_INSERT


def test_counts_are_per_instrument_and_side():
    table = new_table(4)
    resting(table, 1, BUY, 0, 100, 3)
    resting(table, 2, BUY, 1, 99, 4, instrument=1)
    resting(table, 3, SELL, 0, 101, 5)
    assert orders.order_count_live(table, 0, BUY) == 1
    assert orders.order_count_live(table, 1, BUY) == 1
    assert orders.order_open_lots(table, 0, SELL) == 5
    assert orders.order_open_lots(table, 1, SELL) == 0


# --- property tests ------------------------------------------------------------------------------

OPS = st.lists(
    st.tuples(
        st.sampled_from(["reserve", "update", "amend", "cancel", "book", "release"]),
        st.integers(0, 5),  # client order id / slot
        st.sampled_from([LIVE, AMENDED, CLOSED, REJECTED]),
        st.integers(95, 105),  # price
        st.integers(1, 6),  # amount
        st.integers(0, 6),  # filled
        st.integers(0, 1),  # side
        st.integers(0, 2),  # level
    ),
    max_size=40,
)


def apply_op(module, table, op, now_ns):
    kind, ident, update, price, amount, filled, side, level = op
    if kind == "reserve":
        return module.order_reserve(table, ident, 0, side, level, price, amount, now_ns)
    if kind == "update":
        return module.order_apply_update(
            table, ident, 500 + ident, update, price, amount, filled, now_ns
        )
    if kind == "amend":
        return module.order_request_amend(table, ident % len(table), price, amount, now_ns)
    if kind == "cancel":
        return module.order_request_cancel(table, ident % len(table), now_ns)
    if kind == "book":  # slot ident (5 is out of range), ``filled`` lots (0 is refused)
        return module.order_book_lots(table, ident, filled, now_ns)
    return module.order_release(table)


@given(OPS)
def test_random_transition_sequences_match_the_twin(ops):
    table, table_twin = new_table(4), new_table(4)
    for now_ns, op in enumerate(ops):
        filled_before = {
            int(r["client_order_id"]): int(r["filled_lots"])
            for r in table
            if r["status"] not in (codes.ORDER_EMPTY,)
        }
        assert apply_op(orders, table, op, now_ns) == apply_op(twin, table_twin, op, now_ns)
        assert table.tolist() == table_twin.tolist()
        for r in table:
            if r["status"] != codes.ORDER_EMPTY and int(r["client_order_id"]) in filled_before:
                assert r["filled_lots"] >= filled_before[int(r["client_order_id"])]
        ids = [int(r["client_order_id"]) for r in table if r["status"] != codes.ORDER_EMPTY]
        assert len(ids) == len(set(ids))
    for side in (BUY, SELL):
        assert orders.order_count_live(table, 0, side) == twin.order_count_live(table, 0, side)
        assert orders.order_open_lots(table, 0, side) == twin.order_open_lots(table, 0, side)


def test_close_report_with_an_older_filled_amount_still_closes():
    table = new_table(2)
    slot = resting(table, 3, BUY, 0, 100, 10)
    orders.order_apply_update(table, 3, 9, LIVE, 100, 10, 6, 3)
    assert orders.order_apply_update(table, 3, 9, CLOSED, 100, 10, 4, 4) == slot
    assert (table[slot]["status"], table[slot]["filled_lots"]) == (codes.ORDER_CLOSED, 6)


# --- narrow fields (int8 instrument/side/level/status, int32 lots) -------------------------------


def test_extreme_values_the_narrow_fields_hold_round_trip_exactly():
    for module in (orders, twin):
        table = new_table(1)
        big_price, big_time = 2**62, 2**62 + 5
        slot = module.order_reserve(table, 2**62, codes.INSTRUMENT_MAX, SELL, codes.LEVEL_MAX,
                                    big_price, codes.LOTS_MAX, big_time)
        assert slot == 0
        assert table[0].tolist() == (2**62, -1, codes.INSTRUMENT_MAX, SELL, codes.LEVEL_MAX,
                                     codes.ORDER_PENDING_INSERT, big_price, codes.LOTS_MAX, 0, 0,
                                     0, 0, big_time, big_time)
        assert module.order_open_lots(table, codes.INSTRUMENT_MAX, SELL) == codes.LOTS_MAX


@pytest.mark.parametrize(
    "args",
    [
        (1, codes.INSTRUMENT_MAX + 1, BUY, 0, 100, 1),
        (1, 0, BUY, codes.LEVEL_MAX + 1, 100, 1),
        (1, 0, BUY, 0, 100, codes.LOTS_MAX + 1),
        (1, 0, BUY, 0, 100, 2**40),
    ],
)
def test_reserve_refuses_values_the_narrow_fields_cannot_hold(args):
    for module in (orders, twin):
        table = new_table(1)
        assert module.order_reserve(table, *args, 1) == -codes.STATUS_BAD_INPUT
        assert table.tolist() == new_table(1).tolist()


def test_updates_and_amends_refuse_sizes_above_the_int32_bound():
    for module in (orders, twin):
        table = new_table(2)
        slot = module.order_reserve(table, 3, 0, BUY, 0, 100, 10, 1)
        module.order_apply_update(table, 3, 9, LIVE, 100, 10, 0, 2)
        before = table.tolist()
        too_big = codes.LOTS_MAX + 1
        for amount, filled in ((too_big, 0), (10, too_big), (2**40, 2**40)):
            assert (module.order_apply_update(table, 3, 9, LIVE, 100, amount, filled, 3)
                    == -codes.STATUS_BAD_INPUT)
        assert module.order_request_amend(table, slot, 101, too_big, 4) == codes.STATUS_BAD_INPUT
        assert table.tolist() == before
        assert module.order_request_amend(table, slot, 101, codes.LOTS_MAX, 4) == codes.STATUS_OK
        assert table[slot]["pending_amount_lots"] == codes.LOTS_MAX


def test_booked_lots_are_credited_only_to_a_row_that_can_hold_them():
    for module in (orders, twin):
        table = new_table(2)
        slot = module.order_reserve(table, 3, 0, BUY, 0, 100, 10, 1)
        # Booked before any report states the fill: the row counts 10 - 4 still to come.
        assert module.order_book_lots(table, slot, 4, 2) == codes.STATUS_OK
        assert (table[slot]["filled_lots"], table[slot]["booked_lots"]) == (0, 4)
        assert module.order_open_lots(table, 0, BUY) == 6
        before = table.tolist()
        for bad_slot, lots in ((slot, 0), (slot, -1), (2, 1), (-1, 1),
                               (slot, codes.LOTS_MAX + 1), (slot, codes.LOTS_MAX - 3)):
            assert module.order_book_lots(table, bad_slot, lots, 3) == codes.STATUS_BAD_INPUT
        assert module.order_book_lots(table, 1 - slot, 1, 3) == codes.STATUS_NOT_FOUND  # empty
        assert table.tolist() == before
        # The report catches up and closes it: booked covers filled, so it is released.
        assert module.order_apply_update(table, 3, 9, CLOSED, 100, 10, 4, 4) == slot
        assert module.order_release(table) == 1
