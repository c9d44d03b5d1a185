"""Ladder diff: kernel against its twin, sending order, in-flight safety and convergence."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from qengine.kernels import codes, order_diff, orders
from qengine.kernels.dtypes import ACTION
from tests.kernels.test_orders import (
    AMENDED,
    BUY,
    CLOSED,
    LIVE,
    OPS,
    SELL,
    apply_op,
    ladder,
    new_table,
    resting,
)
from tests.reference import order_diff as twin

# Room to the position limit per side when a test is not about the limit.
NO_LIMIT = 2**40


def diff(table, quotes, n_quotes, threshold=0, instrument=0, capacity=32, bid_room=NO_LIMIT,
         ask_room=NO_LIMIT):
    out = np.zeros(capacity, dtype=ACTION)
    n = order_diff.diff_ladder_against_orders(table, quotes, n_quotes, instrument, threshold, out,
                                              bid_room, ask_room)
    out_twin = np.zeros(capacity, dtype=ACTION)
    n_twin = twin.diff_ladder_against_orders(
        table, quotes, n_quotes, instrument, threshold, out_twin, bid_room, ask_room
    )
    assert n == n_twin
    assert out[: max(n, 0)].tolist() == out_twin[: max(n, 0)].tolist()
    return [tuple(int(v) for v in a) for a in out[: max(n, 0)]]


# --- examples ---------------------------------------------------------------------------------


def test_diff_on_empty_table_inserts_level_zero_first_bids_before_asks():
    quotes, n = ladder((SELL, 1, 103, 2), (BUY, 0, 100, 1), (SELL, 0, 101, 1), (BUY, 1, 98, 2))
    actions = diff(new_table(), quotes, n)
    assert [(a[0], a[3], a[4]) for a in actions] == [
        (codes.ACTION_INSERT, BUY, 0),
        (codes.ACTION_INSERT, SELL, 0),
        (codes.ACTION_INSERT, BUY, 1),
        (codes.ACTION_INSERT, SELL, 1),
    ]
    assert all(a[1] == -1 and a[2] == -1 for a in actions)


def test_diff_of_table_equal_to_ladder_is_empty_and_threshold_keeps_queue_priority():
    table = new_table()
    resting(table, 1, BUY, 0, 100, 2)
    resting(table, 2, SELL, 0, 102, 2)
    assert diff(table, *ladder((BUY, 0, 100, 2), (SELL, 0, 102, 2))) == []
    # Within 2 ticks: keep; 3 ticks: amend.
    assert diff(table, *ladder((BUY, 0, 98, 2), (SELL, 0, 104, 2)), threshold=2) == []
    actions = diff(table, *ladder((BUY, 0, 97, 2), (SELL, 0, 104, 2)), threshold=2)
    assert actions == [(codes.ACTION_AMEND, 0, 1, BUY, 0, 97, 2)]


def test_size_change_amends_to_filled_plus_desired():
    table = new_table()
    slot = resting(table, 1, BUY, 0, 100, 5)
    orders.order_apply_update(table, 1, 1001, LIVE, 100, 5, 2, 3)
    assert diff(table, *ladder((BUY, 0, 100, 3))) == []  # remaining 3 == desired 3
    # Larger than what remains: not topped up at the same price (it would lose its queue place)
    assert diff(table, *ladder((BUY, 0, 100, 4))) == []
    # Smaller than what remains: amended down (keeps priority at the same price)
    assert diff(table, *ladder((BUY, 0, 100, 2))) == [(codes.ACTION_AMEND, slot, 1, BUY, 0, 100, 4)]
    # A price move beyond the threshold restores the full size: filled + desired
    assert diff(table, *ladder((BUY, 0, 95, 4)), threshold=2) == [
        (codes.ACTION_AMEND, slot, 1, BUY, 0, 95, 6)]


def test_unfilled_order_with_a_larger_quote_size_is_amended_up():
    table = new_table()
    slot = resting(table, 1, BUY, 0, 100, 3)
    assert diff(table, *ladder((BUY, 0, 100, 4))) == [(codes.ACTION_AMEND, slot, 1, BUY, 0, 100, 4)]


def test_rising_market_amends_ask_away_before_bid_and_cancels_first():
    table = new_table()
    resting(table, 1, BUY, 0, 100, 1)
    resting(table, 2, SELL, 0, 102, 1)
    resting(table, 3, BUY, 1, 98, 1)
    quotes, n = ladder((BUY, 0, 103, 1), (SELL, 0, 105, 1), (SELL, 1, 107, 1))
    kinds = [(a[0], a[3], a[4]) for a in diff(table, quotes, n)]
    assert kinds == [
        (codes.ACTION_CANCEL, BUY, 1),
        (codes.ACTION_AMEND, SELL, 0),  # away from the touch: up
        (codes.ACTION_AMEND, BUY, 0),  # towards it, after the ask moved
        (codes.ACTION_INSERT, SELL, 1),
    ]


def test_falling_market_amends_bid_first():
    table = new_table()
    resting(table, 1, BUY, 0, 100, 1)
    resting(table, 2, SELL, 0, 102, 1)
    actions = diff(table, *ladder((BUY, 0, 95, 1), (SELL, 0, 97, 1)))
    assert [(a[0], a[3]) for a in actions] == [
        (codes.ACTION_AMEND, BUY),
        (codes.ACTION_AMEND, SELL),
    ]


def test_orders_in_flight_are_left_alone_and_not_duplicated():
    table = new_table()
    orders.order_reserve(table, 1, 0, BUY, 0, 100, 1, 1)  # insert in flight
    amend = resting(table, 2, SELL, 0, 102, 1)
    orders.order_request_amend(table, amend, 103, 1, 3)
    cancel = resting(table, 3, BUY, 1, 98, 1)
    orders.order_request_cancel(table, cancel, 3)
    quotes, n = ladder((BUY, 0, 90, 9), (SELL, 0, 110, 9), (BUY, 1, 97, 1))
    # Only the level-1 bid, whose old order is being cancelled, gets a fresh insert.
    assert diff(table, quotes, n) == [(codes.ACTION_INSERT, -1, -1, BUY, 1, 97, 1)]
    assert diff(table, *ladder()) == []  # nothing OPEN to cancel either


def test_duplicate_orders_on_one_level_cancel_the_extra_one():
    table = new_table()
    resting(table, 1, BUY, 0, 100, 1)
    extra = resting(table, 2, BUY, 0, 100, 1)
    assert diff(table, *ladder((BUY, 0, 100, 1))) == [
        (codes.ACTION_CANCEL, extra, 2, BUY, 0, 100, 1)
    ]


def test_diff_ignores_other_instruments_zero_sizes_and_checks_bounds():
    table = new_table()
    resting(table, 1, BUY, 0, 100, 1, instrument=1)
    quotes, n = ladder((BUY, 0, 100, 0), (SELL, 0, 101, 1))
    assert diff(table, quotes, n) == [(codes.ACTION_INSERT, -1, -1, SELL, 0, 101, 1)]
    out = np.zeros(4, dtype=ACTION)
    assert (
        order_diff.diff_ladder_against_orders(table, quotes, 3, 0, 0, out, NO_LIMIT, NO_LIMIT)
        == -codes.STATUS_BAD_INPUT
    )
    assert (
        order_diff.diff_ladder_against_orders(table, quotes, -1, 0, 0, out, NO_LIMIT,
                                              NO_LIMIT)
        == -codes.STATUS_BAD_INPUT
    )


def test_short_output_keeps_the_most_important_actions():
    table = new_table()
    resting(table, 1, BUY, 3, 90, 1)
    quotes, n = ladder((BUY, 0, 100, 1), (SELL, 0, 101, 1))
    actions = diff(table, quotes, n, capacity=2)
    assert [a[0] for a in actions] == [codes.ACTION_CANCEL, codes.ACTION_INSERT]
    assert actions[1][3:5] == (BUY, 0)


QUOTES = st.lists(
    st.tuples(st.integers(0, 1), st.integers(0, 3), st.integers(90, 110), st.integers(0, 4)),
    max_size=8,
)


@given(OPS, QUOTES, st.integers(-1, 3))
def test_diff_matches_twin_and_never_doubles_a_request(ops, rows, threshold):
    table = new_table(6)
    for now_ns, op in enumerate(ops):
        apply_op(orders, table, op, now_ns)
    quotes, n = ladder(*rows)
    actions = diff(table, quotes, n, threshold=threshold)
    touched = [a[1] for a in actions if a[0] != codes.ACTION_INSERT]
    assert len(touched) == len(set(touched))
    for a in actions:
        if a[0] != codes.ACTION_INSERT:
            assert table[a[1]]["status"] == codes.ORDER_OPEN  # nothing else in flight for it
            assert table[a[1]]["client_order_id"] == a[2]
    inserted = [(a[3], a[4]) for a in actions if a[0] == codes.ACTION_INSERT]
    assert len(inserted) == len(set(inserted))
    assert [rank(table, a) for a in actions] == sorted(rank(table, a) for a in actions)


def rank(table, action):
    """Sending priority of an action: cancel, amend away from the touch, other amend, insert."""
    kind, slot, _, side, level = action[:5]
    if kind == codes.ACTION_CANCEL:
        return (0, level, side)
    if kind == codes.ACTION_INSERT:
        return (3, level, side)
    old = table[slot]["price_ticks"]
    away = action[5] < old if side == BUY else action[5] > old
    return (1 if away else 2, level, side)


def settle(table, now_ns):
    """Confirm every request in flight the way the exchange would."""
    for r in table:
        cid, key = int(r["client_order_id"]), int(r["client_order_id"]) + 500
        if r["status"] == codes.ORDER_PENDING_INSERT:
            orders.order_apply_update(
                table, cid, key, LIVE, r["price_ticks"], r["amount_lots"], r["filled_lots"], now_ns
            )
        elif r["status"] == codes.ORDER_PENDING_AMEND:
            orders.order_apply_update(
                table,
                cid,
                key,
                AMENDED,
                r["pending_price_ticks"],
                r["pending_amount_lots"],
                r["filled_lots"],
                now_ns,
            )
        elif r["status"] == codes.ORDER_PENDING_CANCEL:
            orders.order_apply_update(
                table,
                cid,
                key,
                CLOSED,
                r["price_ticks"],
                r["amount_lots"],
                r["filled_lots"],
                now_ns,
            )


@given(OPS, QUOTES, st.integers(0, 3))
def test_diff_sent_and_confirmed_leaves_nothing_to_do(ops, rows, threshold):
    table = new_table(16)
    for now_ns, op in enumerate(ops):
        apply_op(orders, table, op, now_ns)
    settle(table, 100)
    quotes, n = ladder(*rows)
    out = np.zeros(32, dtype=ACTION)
    k = order_diff.diff_ladder_against_orders(table, quotes, n, 0, threshold, out, NO_LIMIT,
                                              NO_LIMIT)
    for i, a in enumerate(out[:k]):
        if a["kind"] == codes.ACTION_INSERT:
            slot = orders.order_reserve(
                table, 1000 + i, 0, a["side"], a["level"], a["price_ticks"], a["size_lots"], 200
            )
            assert slot >= 0
        elif a["kind"] == codes.ACTION_AMEND:
            assert (
                orders.order_request_amend(table, a["slot"], a["price_ticks"], a["size_lots"], 200)
                == codes.STATUS_OK
            )
        else:
            assert orders.order_request_cancel(table, a["slot"], 200) == codes.STATUS_OK
    assert order_diff.diff_ladder_against_orders(table, quotes, n, 0, threshold, out, NO_LIMIT,
                                              NO_LIMIT) == 0
    settle(table, 300)
    assert order_diff.diff_ladder_against_orders(table, quotes, n, 0, threshold, out, NO_LIMIT,
                                              NO_LIMIT) == 0
    for side in (BUY, SELL):  # one live order per desired level, each showing the desired size
        wanted = {(q[1]): q[3] for q in reversed(rows) if q[0] == side and q[3] > 0}
        live = {
            int(r["level"]): int(r["amount_lots"] - r["filled_lots"])
            for r in table
            if r["status"] == codes.ORDER_OPEN and r["side"] == side
        }
        assert live == {level: size for level, size in first_per_level(rows, side).items()}
        assert set(live) == set(wanted)


def first_per_level(rows, side):
    result = {}
    for q_side, level, _, size in rows:
        if q_side == side and size > 0 and level not in result:
            result[level] = size
    return result


def test_py_func_path_matches_the_compiled_diff():
    table = new_table()
    resting(table, 1, BUY, 0, 100, 1)
    resting(table, 2, SELL, 2, 109, 1)
    quotes, n = ladder((BUY, 0, 103, 1), (SELL, 0, 105, 1))
    out, out_py = np.zeros(8, dtype=ACTION), np.zeros(8, dtype=ACTION)
    n_jit = order_diff.diff_ladder_against_orders(table, quotes, n, 0, 0, out, NO_LIMIT, NO_LIMIT)
    pure = getattr(
        order_diff.diff_ladder_against_orders, "py_func", order_diff.diff_ladder_against_orders
    )
    n_py = pure(table, quotes, n, 0, 0, out_py, NO_LIMIT, NO_LIMIT)  # plain under DISABLE_JIT
    assert n_jit == n_py == 3
    assert out.tolist() == out_py.tolist()


def test_diff_over_the_whole_level_range_matches_the_twin_in_sending_order():
    # The per-(level, side) index is sized by the highest level in play, up to LEVEL_MAX.
    table = new_table(12)
    top = codes.LEVEL_MAX
    resting(table, 1, SELL, top, 500, 1)  # no quote: cancelled
    resting(table, 2, BUY, top, 90, 1)  # quoted lower: amended away, after the level-0 one
    resting(table, 3, BUY, 0, 99, 1)  # quoted lower: amended away first
    resting(table, 4, SELL, 64, 300, 1, instrument=1)  # another instrument: untouched
    quotes, n = ladder((BUY, top, 80, 1), (BUY, 0, 98, 1), (SELL, 0, 101, 1), (SELL, 70, 200, 2))
    actions = diff(table, quotes, n)
    assert [(a[0], a[3], a[4]) for a in actions] == [
        (codes.ACTION_CANCEL, SELL, top),
        (codes.ACTION_AMEND, BUY, 0),
        (codes.ACTION_AMEND, BUY, top),
        (codes.ACTION_INSERT, SELL, 0),
        (codes.ACTION_INSERT, SELL, 70),
    ]


# --- never two orders at one price (issue 9, item 4) ---------------------------------------


def test_an_order_within_the_threshold_is_not_kept_on_the_price_another_level_wants():
    # Spacing 2 = threshold 2: the market rises 2 ticks. Level 0 is within the threshold of its
    # new quote (102) but level 1 (resized) wants 100, where level 0 rests: level 0 moves first.
    table = new_table()
    resting(table, 1, BUY, 0, 100, 2)
    resting(table, 2, BUY, 1, 98, 3)
    actions = diff(table, *ladder((BUY, 0, 102, 2), (BUY, 1, 100, 4)), threshold=2)
    assert actions == [(codes.ACTION_AMEND, 0, 1, BUY, 0, 102, 2),
                       (codes.ACTION_AMEND, 1, 2, BUY, 1, 100, 4)]
    assert collisions(table, actions) == []
    # Level 1 kept at 98 (within the threshold): level 0 still leaves 100, which level 1 wants.
    assert diff(table, *ladder((BUY, 0, 102, 2), (BUY, 1, 100, 3)), threshold=2) == [
        (codes.ACTION_AMEND, 0, 1, BUY, 0, 102, 2)]
    # No other level wants 100: level 0 keeps its place in the queue.
    assert diff(table, *ladder((BUY, 0, 102, 2), (BUY, 1, 99, 3)), threshold=2) == []


def test_falling_ladder_never_lands_on_an_order_that_has_not_moved_yet():
    # Bids 100 / 98 / 96 shift down by the spacing: level 0's target is where level 1 rests,
    # and level 1 is amended after it (level 0 first). Cancel + insert instead.
    table = new_table()
    resting(table, 1, BUY, 0, 100, 1)
    resting(table, 2, BUY, 1, 98, 1)
    resting(table, 3, BUY, 2, 96, 1)
    quotes, n = ladder((BUY, 0, 98, 1), (BUY, 1, 96, 1), (BUY, 2, 94, 1))
    actions = diff(table, quotes, n, threshold=1)
    assert [(a[0], a[4], a[5]) for a in actions] == [
        (codes.ACTION_CANCEL, 0, 100),
        (codes.ACTION_CANCEL, 1, 98),
        (codes.ACTION_AMEND, 2, 94),
        (codes.ACTION_INSERT, 0, 98),
        (codes.ACTION_INSERT, 1, 96),
    ]
    assert collisions(table, actions) == []
    # Asks rising by the spacing: the mirror image.
    table = new_table()
    resting(table, 1, SELL, 0, 100, 1)
    resting(table, 2, SELL, 1, 102, 1)
    actions = diff(table, *ladder((SELL, 0, 102, 1), (SELL, 1, 104, 1)), threshold=1)
    assert [(a[0], a[4]) for a in actions] == [(codes.ACTION_CANCEL, 0),
                                               (codes.ACTION_AMEND, 1),
                                               (codes.ACTION_INSERT, 0)]
    assert collisions(table, actions) == []


def test_rising_bids_amend_in_level_order_onto_prices_already_left():
    table = new_table()
    resting(table, 1, BUY, 0, 100, 1)
    resting(table, 2, BUY, 1, 98, 1)
    actions = diff(table, *ladder((BUY, 0, 102, 1), (BUY, 1, 100, 1)), threshold=1)
    assert [(a[0], a[4]) for a in actions] == [(codes.ACTION_AMEND, 0), (codes.ACTION_AMEND, 1)]
    assert collisions(table, actions) == []


def test_a_target_with_a_request_in_flight_waits_for_the_next_diff():
    table = new_table()
    resting(table, 1, BUY, 0, 100, 1)
    amending = resting(table, 2, BUY, 1, 97, 1)
    orders.order_request_amend(table, amending, 98, 1, 3)  # level 1 -> 98, not answered yet
    orders.order_reserve(table, 3, 0, BUY, 2, 95, 1, 3)  # level 2 insert at 95 in flight
    # Level 0 wants 98 (amend in flight ends there); level 3 wants 95 (insert in flight).
    quotes, n = ladder((BUY, 0, 98, 1), (BUY, 1, 96, 1), (BUY, 2, 94, 1), (BUY, 3, 95, 1))
    assert diff(table, quotes, n) == []
    settle(table, 10)
    actions = diff(table, quotes, n)
    assert collisions(table, actions) == []
    assert {(a[0], a[4]) for a in actions} >= {(codes.ACTION_AMEND, 2)}


def collisions(table, actions):
    """Send ``actions`` in order against the table's orders (each request done before the next,
    as the exchange runs one session's requests); return every (side, price) ever doubled."""
    resting_at = {}
    for slot, r in enumerate(table):
        status = int(r["status"])
        if status in (codes.ORDER_OPEN, codes.ORDER_PENDING_INSERT, codes.ORDER_PENDING_CANCEL):
            resting_at[slot] = (int(r["side"]), int(r["price_ticks"]))
        elif status == codes.ORDER_PENDING_AMEND:
            resting_at[slot] = (int(r["side"]), int(r["pending_price_ticks"]))
    for slot, r in enumerate(table):  # requests in flight were sent before these
        if int(r["status"]) == codes.ORDER_PENDING_CANCEL:
            del resting_at[slot]
    doubled = []
    for n, (kind, slot, _, side, _, price, _) in enumerate(actions):
        if kind == codes.ACTION_CANCEL:
            del resting_at[slot]
            continue
        key = slot if kind == codes.ACTION_AMEND else ("new", n)
        resting_at[key] = (side, price)
        if list(resting_at.values()).count((side, price)) > 1:
            doubled.append((side, price))
    return doubled


LADDER_SIDE = st.lists(st.integers(0, 12), min_size=0, max_size=4, unique=True)


@st.composite
def tables_and_ladders(draw):
    """A table of one order per (side, level), distinct prices per side (some with a request in
    flight), and a ladder with distinct, monotone prices per side."""
    table = new_table(16)
    cid = 1
    for side, sign in ((BUY, -1), (SELL, 1)):
        offsets = sorted(draw(LADDER_SIDE))
        for level, offset in enumerate(offsets):
            slot = resting(table, cid, side, level, 100 + sign * offset, draw(st.integers(1, 3)))
            state = draw(st.sampled_from(["open", "open", "amend", "cancel"]))
            if state == "amend":
                move = draw(st.integers(-3, 3))
                orders.order_request_amend(table, slot, 100 + sign * offset + move, 2, 2)
            elif state == "cancel":
                orders.order_request_cancel(table, slot, 2)
            cid += 1
    rows = []
    for side, sign in ((BUY, -1), (SELL, 1)):
        start = draw(st.integers(-3, 3))
        gaps = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
        price = 100 + sign * start
        for level, gap in enumerate(gaps):
            rows.append((side, level, price, draw(st.integers(1, 3))))
            price += sign * gap
    return table, rows


def distinct_live_prices(table):
    live = [(int(r["side"]), int(r["price_ticks"] if r["status"] != codes.ORDER_PENDING_AMEND
                                  else r["pending_price_ticks"]))
            for r in table
            if codes.ORDER_PENDING_INSERT <= r["status"] <= codes.ORDER_PENDING_AMEND]
    return len(live) == len(set(live))


@given(tables_and_ladders(), st.integers(0, 4))
def test_no_sequence_of_sent_actions_ever_stacks_two_orders(case, threshold):
    table, rows = case
    if not distinct_live_prices(table):
        return  # an in-flight amend already aims at another order's price: not ours to judge
    quotes, n = ladder(*rows)
    actions = diff(table, quotes, n, threshold=threshold)
    assert collisions(table, actions) == []
