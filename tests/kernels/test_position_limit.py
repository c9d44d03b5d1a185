"""The hard position limit through ``quote_cycle``: orders with a request in flight take their
worst case from the ladder's room, and the diff adds exposure only where every live order's
worst case leaves room (a cancel or a cut may land after a fill). A row's worst case runs from
the lots the position has booked, not from what the exchange reports filled."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from qengine.kernels import codes, order_diff, orders, quote_cycle
from qengine.kernels.dtypes import ACTION, ORDER
from qengine.kernels.params import make_quote_params
from tests.kernels.test_orders import ladder, new_table, resting
from tests.kernels.test_quote_cycle import World
from tests.reference import order_diff as diff_twin
from tests.reference import quote_cycle as twin

BUY, SELL = codes.SIDE_BUY, codes.SIDE_SELL
S = 1_000_000_000
LIMIT = 100
# Which request is in flight for a generated row (None: it rests OPEN; CLOSED: the exchange
# closed it, e.g. a cancel's reply stating a partial fill).
INSERT, AMEND, CANCEL, CLOSED = "insert", "amend", "cancel", "closed"


def place(table, cid, side, level, price, lots, filled=0, request=None, amend_to=0,
          booked=None):
    """A row of the table in the state ``request`` leaves it (an amend to total ``amend_to``);
    ``booked`` of its lots are in the position (None: all ``filled``)."""
    if request == INSERT:
        slot = orders.order_reserve(table, cid, 0, side, level, price, lots, 1)
        assert slot >= 0
        if booked:  # booked from the trade history before the insert's reply came
            assert orders.order_book_lots(table, slot, booked, 1) == codes.STATUS_OK
        return slot
    slot = resting(table, cid, side, level, price, lots, filled_lots=filled, booked_lots=booked)
    if request == AMEND:
        assert orders.order_request_amend(table, slot, price - 1, amend_to, 3) == codes.STATUS_OK
    elif request == CANCEL:
        assert orders.order_request_cancel(table, slot, 3) == codes.STATUS_OK
    elif request == CLOSED:
        assert orders.order_apply_update(table, cid, 1000 + cid, codes.ORDER_UPDATE_CLOSED, price,
                                         lots, filled, 3) == slot
    return slot


def in_flight(table, side):
    """Worst-case lots the rows with a request in flight, and closed rows, can still add to the
    position: what they may trade beyond what is booked (written out here, not the kernel)."""
    total = 0
    for row in table:
        if row["side"] != side:
            continue
        booked = int(row["booked_lots"])
        if row["status"] == codes.ORDER_CLOSED:
            total += max(int(row["filled_lots"]) - booked, 0)
        elif row["status"] in (codes.ORDER_PENDING_INSERT, codes.ORDER_PENDING_AMEND,
                               codes.ORDER_PENDING_CANCEL):
            amount = int(row["amount_lots"])
            if row["status"] == codes.ORDER_PENDING_AMEND:
                amount = max(amount, int(row["pending_amount_lots"]))
            total += max(amount - booked, 0)
    return total


def send(table, actions, first_id=900):
    """Mark the actions in the table as the order manager does before they leave."""
    for i, a in enumerate(actions):
        kind, slot, _, side, level, price, size = (int(v) for v in a)
        if kind == codes.ACTION_INSERT:
            assert orders.order_reserve(table, first_id + i, 0, side, level, price, size, 5) >= 0
        elif kind == codes.ACTION_AMEND:
            assert orders.order_request_amend(table, slot, price, size, 5) == codes.STATUS_OK
        else:
            assert orders.order_request_cancel(table, slot, 5) == codes.STATUS_OK


def worst_positions(table, inventory):
    """The position if every buy (sell) order filled its worst case: (highest, lowest)."""
    return (inventory + orders.order_open_lots(table, 0, BUY),
            inventory - orders.order_open_lots(table, 0, SELL))


def bid_lots(world, count):
    return sum(int(q["size_lots"]) for q in world.quotes[:count] if q["side"] == BUY)


def test_bids_leave_room_for_a_pending_cancel_amend_and_insert_near_the_limit():
    params = make_quote_params(level_count=3, position_limit_lots=LIMIT, base_size_lots=30)
    world = World([])
    place(world.orders, 1, BUY, 0, 99_990, 15, request=CANCEL)  # 15 can still fill
    place(world.orders, 2, BUY, 1, 99_970, 10, request=AMEND, amend_to=20)  # old 10, new 20
    place(world.orders, 3, BUY, 2, 99_940, 5, request=INSERT)
    assert in_flight(world.orders, BUY) == 40
    inventory = 45  # room 55 to the limit, 15 of it once the 40 in flight are counted
    n, _, diag = world.run(quote_cycle.quote_cycle, params, S, 99_995, 100_005, inventory)
    bids = bid_lots(world, int(diag["quote_count"]))
    assert 0 < bids <= LIMIT - inventory - 40  # before: 55 lots of bids on top of the 40
    assert (diag["bid_inflight_lots"], diag["ask_inflight_lots"]) == (40, 0)
    send(world.orders, world.actions[:n])
    assert worst_positions(world.orders, inventory)[0] <= LIMIT
    # At the limit net of what is in flight, no bid at all; the asks are untouched.
    world = World([])
    place(world.orders, 1, BUY, 0, 99_990, 15, request=CANCEL)
    _, _, diag = world.run(quote_cycle.quote_cycle, params, S, 99_995, 100_005, LIMIT - 15)
    assert bid_lots(world, int(diag["quote_count"])) == 0
    assert int(diag["quote_count"]) > 0


def test_an_open_order_cut_or_cancelled_still_counts_until_the_exchange_confirms():
    # 60 lots of bids rest; 60 is the room. The new ladder grows level 0 to 30 and drops level 2:
    # sending the amend up with the cancel could buy 30 + 20 + 20 before the cancel lands.
    table = new_table()
    for cid, (level, price) in enumerate(((0, 100), (1, 98), (2, 96)), start=1):
        resting(table, cid, BUY, level, price, 20)
    quotes, n = ladder((BUY, 0, 100, 30), (BUY, 1, 98, 20))
    out = np.zeros(8, ACTION)
    k = order_diff.diff_ladder_against_orders(table, quotes, n, 0, 0, out, 60, 60)
    assert [(int(a["kind"]), int(a["level"])) for a in out[:k]] == [(codes.ACTION_CANCEL, 2)]
    send(table, out[:k])
    assert orders.order_open_lots(table, 0, BUY) == 60
    # Once the cancel is confirmed the room is there: level 0 grows to 30.
    orders.order_apply_update(table, 3, 1003, codes.ORDER_UPDATE_CLOSED, 96, 20, 0, 6)
    k = order_diff.diff_ladder_against_orders(table, quotes, n, 0, 0, out, 60, 60)
    assert [(int(a["kind"]), int(a["level"]), int(a["size_lots"])) for a in out[:k]] == [
        (codes.ACTION_AMEND, 0, 30)]
    # A new order only when it fits whole, an amend up only as far as the room goes.
    quotes, n = ladder((BUY, 0, 100, 35), (BUY, 1, 98, 20), (BUY, 2, 96, 10))
    k = order_diff.diff_ladder_against_orders(table, quotes, n, 0, 0, out, 52, 60)
    assert [(int(a["kind"]), int(a["level"]), int(a["size_lots"])) for a in out[:k]] == [
        (codes.ACTION_AMEND, 0, 32)]


def test_a_reinsert_beside_its_cancelled_order_needs_room_for_both():
    # Level 1 moves down onto level 0's price before level 0 moves up from it: cancel + insert.
    # The cancelled order may still fill, so the insert waits unless both fit.
    table = new_table()
    resting(table, 1, BUY, 0, 98, 10)
    resting(table, 2, BUY, 1, 100, 10)
    quotes, n = ladder((BUY, 0, 101, 10), (BUY, 1, 98, 10))
    out = np.zeros(8, ACTION)
    for room, inserted in ((20, False), (30, True)):
        k = order_diff.diff_ladder_against_orders(table, quotes, n, 0, 0, out, room, 99)
        twin_out = np.zeros(8, ACTION)
        assert diff_twin.diff_ladder_against_orders(table, quotes, n, 0, 0, twin_out, room,
                                                    99) == k
        assert out[:k].tolist() == twin_out[:k].tolist()
        kinds = [(int(a["kind"]), int(a["level"])) for a in out[:k]]
        assert (codes.ACTION_CANCEL, 1) in kinds
        assert ((codes.ACTION_INSERT, 1) in kinds) == inserted
        sent = table.copy()
        send(sent, out[:k])
        assert orders.order_open_lots(sent, 0, BUY) <= room


def test_a_fill_reported_before_it_is_booked_still_counts_against_the_limit():
    # Limit 10, flat. A buy of 10 rests; a report (an amend's reply) says 6 filled, but the
    # fill's own push is not read yet: the position is still 0 and those 6 lots are coming.
    for diff in (order_diff.diff_ladder_against_orders, diff_twin.diff_ladder_against_orders):
        table = new_table()
        slot = resting(table, 1, BUY, 0, 100, 10, filled_lots=6, booked_lots=0)
        quotes, n = ladder((BUY, 0, 101, 10))
        out = np.zeros(8, ACTION)
        k = diff(table, quotes, n, 0, 0, out, 10, 10)
        # Counting only amount - filled (4) left room for 6 more: an amend to 16 lots.
        assert [(int(a["kind"]), int(a["size_lots"])) for a in out[:k]] == [
            (codes.ACTION_AMEND, 10)]
        send(table, out[:k])
        assert orders.order_open_lots(table, 0, BUY) == 10  # position 0 + 10 <= 10
        # Once the fill is booked (position 6), the same quote fits the same way.
        assert orders.order_book_lots(table, slot, 6, 6) == codes.STATUS_OK
        assert 6 + orders.order_open_lots(table, 0, BUY) <= 10


def test_a_closed_order_with_fills_not_booked_keeps_their_room_until_they_are():
    # Limit 10, flat: a cancel's reply says 6 of 10 filled (cancelled_partially_filled) before
    # the fill push. The closed row stays and holds 6 lots of room; an insert of 10 waits.
    table = new_table()
    slot = place(table, 1, BUY, 0, 100, 10, filled=6, request=CLOSED, booked=0)
    assert orders.order_release(table) == 0
    assert orders.order_open_lots(table, 0, BUY) == 6
    quotes, n = ladder((BUY, 0, 101, 10), (BUY, 1, 99, 4))
    out, twin_out = np.zeros(8, ACTION), np.zeros(8, ACTION)
    k = order_diff.diff_ladder_against_orders(table, quotes, n, 0, 0, out, 10, 10)
    assert diff_twin.diff_ladder_against_orders(table, quotes, n, 0, 0, twin_out, 10, 10) == k
    assert out[:k].tolist() == twin_out[:k].tolist()
    assert [(int(a["kind"]), int(a["level"]), int(a["size_lots"])) for a in out[:k]] == [
        (codes.ACTION_INSERT, 1, 4)]
    # Booked: the row is released and the room is the position's.
    assert orders.order_book_lots(table, slot, 6, 7) == codes.STATUS_OK
    assert orders.order_release(table) == 1


def test_the_ladder_leaves_out_fills_reported_but_not_booked():
    # A pending cancel of 15 with 5 reported filled, none booked: 15 can still reach the
    # position (not 10), and a closed row's 3 unbooked lots too.
    params = make_quote_params(level_count=3, position_limit_lots=LIMIT, base_size_lots=30)
    world, reference = World([]), World([])
    for w in (world, reference):
        place(w.orders, 1, BUY, 0, 99_990, 15, filled=5, request=CANCEL, booked=0)
        place(w.orders, 2, BUY, 1, 99_980, 8, filled=3, request=CLOSED, booked=0)
    got = world.run(quote_cycle.quote_cycle, params, S, 99_995, 100_005, 70)
    assert got[:2] == reference.run(twin.quote_cycle, params, S, 99_995, 100_005, 70)[:2]
    diag = got[2]
    assert (diag["bid_inflight_lots"], diag["ask_inflight_lots"]) == (18, 0)
    assert bid_lots(world, int(diag["quote_count"])) <= LIMIT - 70 - 18


row_state = st.tuples(
    st.sampled_from([BUY, SELL]),
    st.integers(0, 3),  # level
    st.integers(99_900, 100_100),  # price
    st.integers(1, 40),  # amount
    st.integers(0, 39),  # filled (kept below the amount)
    st.sampled_from([None, None, INSERT, AMEND, CANCEL, CLOSED]),
    st.integers(1, 60),  # an amend's new total
    st.one_of(st.none(), st.integers(0, 40)),  # booked (None: as filled; at most the amount)
)


@given(
    model=st.sampled_from([codes.MODEL_AS, codes.MODEL_GLFT, codes.MODEL_LEGACY]),
    rows=st.lists(row_state, max_size=8),
    inventory=st.integers(-LIMIT - 20, LIMIT + 20),
    base_size=st.integers(1, 60),
    threshold=st.integers(0, 3),
    steps=st.lists(st.tuples(st.integers(1, S), st.integers(-30, 30)), min_size=1, max_size=4),
)
def test_worst_case_position_never_passes_the_limit_and_matches_the_twin(
        model, rows, inventory, base_size, threshold, steps):
    params = make_quote_params(model_code=model, level_count=3, position_limit_lots=LIMIT,
                               base_size_lots=base_size)
    worlds = World([]), World([])
    for world in worlds:
        world.orders = np.zeros(64, ORDER)  # the generated rows and every step's inserts
        for cid, (side, level, price, amount, filled, request, amend_to, booked) in enumerate(
                rows, 1):
            filled = 0 if request == INSERT else min(filled, amount - 1)
            booked = None if booked is None else min(booked, amount)
            place(world.orders, cid, side, level, price, amount, filled, request,
                  max(amend_to, filled + 1), booked)
    kernel, reference = worlds
    now, mid = 10 * S, 100_000
    for step, (dt, move) in enumerate(steps):
        now, mid = now + dt, mid + move
        before = worst_positions(kernel.orders, inventory)
        got = kernel.run(quote_cycle.quote_cycle, params, now, mid - 5, mid + 5, inventory)
        want = reference.run(twin.quote_cycle, params, now, mid - 5, mid + 5, inventory)
        assert got[:2] == want[:2]
        count = int(got[2]["quote_count"])
        # The ladder: its bids (asks) and the worst case in flight fit in the room to the limit.
        for side, room in ((BUY, LIMIT - inventory), (SELL, LIMIT + inventory)):
            quoted = sum(int(q["size_lots"]) for q in kernel.quotes[:count] if q["side"] == side)
            assert quoted + in_flight(kernel.orders, side) <= max(room, 0) or quoted == 0
        # The requests sent: whatever fills, the position ends within the limit unless the
        # table was already beyond it (then nothing is added).
        for world in worlds:
            send(world.orders, world.actions[:got[0]], first_id=1000 * (step + 1))
        high, low = worst_positions(kernel.orders, inventory)
        assert high <= max(LIMIT, before[0])
        assert low >= min(-LIMIT, before[1])
        np.testing.assert_array_equal(kernel.orders, reference.orders)
