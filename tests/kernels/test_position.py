"""Position and PnL kernels: twins, FIFO by time, dedup, fees/funding, reconciliation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qengine.kernels import codes, position
from qengine.kernels.dtypes import FILL, LOT, POSITION, RING_CURSOR
from tests.reference import position as twin
from tests.reference.position import open_lots

BUY, SELL = codes.SIDE_BUY, codes.SIDE_SELL
VALUE = 0.001  # quote per tick per lot, e.g. tick 1 USD, volume tick 0.001 BTC
COMPARED = [n for n in POSITION.names if n not in ("lot_head",)]


class Book:
    """Kernel state (or twin state) for ``n`` instruments."""

    def __init__(self, n_instruments=1, lot_capacity=16, seen_capacity=64):
        self.positions = np.zeros(n_instruments, dtype=POSITION)
        self.lots = np.zeros(n_instruments * lot_capacity, dtype=LOT)
        self.seen = np.zeros(seen_capacity, dtype=np.int64)
        self.cursor = np.zeros(1, dtype=RING_CURSOR)

    def fill(
        self, module, trade_id, side, price, amount, fee=0.0, maker=1, time_ns=0, instrument=0
    ):
        fills = np.zeros(1, dtype=FILL)
        fills[0] = (trade_id, instrument, side, price, amount, fee, maker, time_ns)
        return module.position_apply_fill(
            self.positions, self.lots, self.seen, self.cursor, fills, 0, VALUE
        )

    def lots_of(self, instrument=0):
        return open_lots(self.positions, self.lots, instrument)

    def state(self, instrument=0):
        row = self.positions[instrument]
        return {n: row[n].item() for n in COMPARED}, self.lots_of(instrument)


def test_partial_close_realises_exit_minus_entry_at_the_fill_price():
    book = Book()
    assert book.fill(position, 1, BUY, 100, 10, time_ns=1) == codes.STATUS_OK
    assert book.fill(position, 2, SELL, 110, 4, time_ns=2) == codes.STATUS_OK
    pos = book.positions[0]
    assert pos["position_lots"] == 6
    assert pos["realised_ticks_lots"] == 40
    assert pos["realised_pnl_quote"] == 40 * VALUE
    assert book.lots_of() == [(100, 6, 1)]
    assert pos["cost_ticks_lots"] == 600
    assert position.position_unrealised(
        book.positions, book.lots, 0, 120.0, VALUE
    ) == pytest.approx(120 * VALUE)


def test_fifo_is_by_time_not_by_price():
    book = Book()
    book.fill(position, 1, BUY, 100, 5, time_ns=1)
    book.fill(position, 2, BUY, 90, 5, time_ns=2)
    book.fill(position, 3, SELL, 95, 5, time_ns=3)
    # Oldest lot (100) goes first: -25, where the old price-sorted "FIFO" booked +25.
    assert book.positions[0]["realised_ticks_lots"] == -25
    assert book.lots_of() == [(90, 5, 2)]


def test_a_late_reported_older_fill_is_queued_by_its_time():
    book = Book()
    book.fill(position, 1, BUY, 100, 5, time_ns=20)
    book.fill(position, 2, BUY, 90, 5, time_ns=10)
    assert book.lots_of() == [(90, 5, 10), (100, 5, 20)]
    book.fill(position, 3, SELL, 95, 5, time_ns=30)
    assert book.positions[0]["realised_ticks_lots"] == 25


def test_short_flip_closes_then_opens_remainder_at_fill_price():
    book = Book()
    book.fill(position, 1, SELL, 100, 3, time_ns=1)
    book.fill(position, 2, BUY, 90, 5, time_ns=2)
    pos = book.positions[0]
    assert pos["position_lots"] == 2
    assert pos["realised_ticks_lots"] == 30
    assert book.lots_of() == [(90, 2, 2)]
    assert pos["round_trip_count"] == 1


def test_duplicate_trade_id_changes_nothing_but_the_counter():
    book = Book()
    book.fill(position, 7, BUY, 100, 5, fee=0.1)
    before = book.state()
    assert book.fill(position, 7, BUY, 100, 5, fee=0.1) == codes.STATUS_DUPLICATE
    after = book.state()
    assert after[0].pop("duplicate_count") == 1
    before[0].pop("duplicate_count")
    assert after == before


def test_fees_split_by_maker_taker_and_funding_accumulates():
    book = Book()
    book.fill(position, 1, BUY, 100, 5, fee=-0.02, maker=1)
    book.fill(position, 2, SELL, 101, 5, fee=0.05, maker=0)
    pos = book.positions[0]
    assert (pos["maker_fees_quote"], pos["taker_fees_quote"]) == (-0.02, 0.05)
    assert position.position_apply_funding(book.positions, 0, 1.5) == codes.STATUS_OK
    assert position.position_apply_funding(book.positions, 0, -0.5) == codes.STATUS_OK
    assert position.position_apply_funding(book.positions, 0, math.nan) == codes.STATUS_BAD_INPUT
    assert position.position_apply_funding(book.positions, 3, 1.0) == codes.STATUS_BAD_INPUT
    assert pos["funding_quote"] == 1.0
    assert (pos["volume_lots"], pos["fill_count"]) == (10, 2)


def test_losing_round_trips_build_a_streak_that_a_win_resets():
    book = Book()
    book.fill(position, 1, BUY, 100, 1, time_ns=1)
    book.fill(position, 2, SELL, 99, 1, time_ns=2)
    book.fill(position, 3, SELL, 100, 1, time_ns=3)
    book.fill(position, 4, BUY, 100, 1, fee=0.01, time_ns=4)  # flat gross, loses the fee
    assert book.positions[0]["losing_streak"] == 2
    book.fill(position, 5, BUY, 100, 1, time_ns=5)
    book.fill(position, 6, SELL, 105, 1, time_ns=6)
    assert book.positions[0]["losing_streak"] == 0
    assert book.positions[0]["round_trip_count"] == 3


def test_full_lot_ring_refuses_an_opening_fill_but_still_takes_reductions():
    book = Book(lot_capacity=2)
    book.fill(position, 1, BUY, 100, 1, time_ns=1)
    book.fill(position, 2, BUY, 101, 1, time_ns=2)
    assert book.fill(position, 3, BUY, 102, 1, time_ns=3) == codes.STATUS_FULL
    assert book.positions[0]["position_lots"] == 2
    assert book.fill(position, 3, SELL, 102, 1, time_ns=3) == codes.STATUS_OK  # id not burnt
    assert book.fill(position, 4, SELL, 102, 3, time_ns=4) == codes.STATUS_OK  # flip fits
    assert book.lots_of() == [(102, 2, 4)]


@pytest.mark.parametrize(
    ("fields", "value"),
    [
        ({"instrument": 2}, VALUE),
        ({"side": 3}, VALUE),
        ({"amount_lots": 0}, VALUE),
        ({"fee_quote": math.nan}, VALUE),
        ({}, 0.0),
        ({}, math.inf),
    ],
)
def test_bad_fills_are_refused_without_change(fields, value):
    book = Book()
    fills = np.zeros(1, dtype=FILL)
    fills[0] = (1, 0, BUY, 100, 1, 0.0, 1, 0)
    for name, v in fields.items():
        fills[0][name] = v
    args = (book.positions, book.lots, book.seen, book.cursor, fills, 0, value)
    assert position.position_apply_fill(*args) == codes.STATUS_BAD_INPUT
    assert twin.position_apply_fill(*args) == codes.STATUS_BAD_INPUT
    assert book.positions.tolist() == np.zeros(1, dtype=POSITION).tolist()
    assert book.cursor[0]["count"] == 0
    assert (
        position.position_apply_fill(
            book.positions, book.lots, book.seen, book.cursor, fills, 1, VALUE
        )
        == codes.STATUS_BAD_INPUT
    )


def test_two_instruments_are_tracked_separately():
    book = Book(n_instruments=2)
    book.fill(position, 1, BUY, 100, 3, instrument=0)
    book.fill(position, 2, SELL, 200, 4, instrument=1)
    assert book.positions["position_lots"].tolist() == [3, -4]
    assert book.lots_of(1) == [(200, 4, 0)]
    assert position.position_unrealised(
        book.positions, book.lots, 1, 190.0, VALUE
    ) == pytest.approx(40 * VALUE)


def test_reconcile_trusts_the_exchange_without_booking_pnl():
    book = Book()
    book.fill(position, 1, BUY, 100, 5, time_ns=1)
    book.fill(position, 2, SELL, 110, 2, time_ns=2)
    realised = book.positions[0]["realised_ticks_lots"]
    assert position.position_reconcile(book.positions, book.lots, 0, 3, 95, 9) == codes.STATUS_OK
    assert book.lots_of() == [(100, 3, 1)]  # sizes agree: our FIFO entries stand
    assert (
        position.position_reconcile(book.positions, book.lots, 0, 8, 97, 9) == codes.STATUS_MISMATCH
    )
    assert book.lots_of() == [(97, 8, 9)]
    assert book.positions[0]["realised_ticks_lots"] == realised
    assert (
        position.position_reconcile(book.positions, book.lots, 0, 0, 0, 10) == codes.STATUS_MISMATCH
    )
    assert (book.positions[0]["position_lots"], book.lots_of()) == (0, [])
    assert book.positions[0]["cost_ticks_lots"] == 0
    assert book.positions[0]["reconcile_count"] == 2
    assert (
        position.position_reconcile(book.positions, book.lots, 0, 4, 0, 11)
        == codes.STATUS_BAD_INPUT
    )
    assert (
        position.position_reconcile(book.positions, book.lots, 5, 4, 9, 11)
        == codes.STATUS_BAD_INPUT
    )


def test_unrealised_is_zero_flat_and_nan_without_a_mark():
    book = Book()
    assert position.position_unrealised(book.positions, book.lots, 0, math.nan, VALUE) == 0.0
    book.fill(position, 1, SELL, 100, 2)
    assert math.isnan(position.position_unrealised(book.positions, book.lots, 0, math.nan, VALUE))
    assert math.isnan(position.position_unrealised(book.positions, book.lots, 4, 1.0, VALUE))


# --- property tests ------------------------------------------------------------------------------

FILLS = st.lists(
    st.tuples(
        st.integers(0, 25),  # trade id: small range, so duplicates are common
        st.integers(0, 1),  # side
        st.integers(90, 110),  # price
        st.integers(1, 6),  # amount
        st.sampled_from([0.0, 0.01, -0.005]),  # fee
        st.integers(0, 1),  # maker
        st.integers(0, 50),  # time
        st.integers(0, 1),  # instrument
    ),
    max_size=40,
)


@given(FILLS, st.integers(1, 4), st.integers(1, 8))
def test_fill_streams_match_the_twin_including_full_rings_and_wraparound(stream, lot_cap, seen_cap):
    kernel_book = Book(2, lot_cap, seen_cap)
    twin_book = Book(2, lot_cap, seen_cap)
    for trade_id, side, price, amount, fee, maker, time_ns, inst in stream:
        args = (trade_id, side, price, amount, fee, maker, time_ns, inst)
        assert kernel_book.fill(position, *args) == twin_book.fill(twin, *args)
        for i in (0, 1):
            assert kernel_book.state(i) == twin_book.state(i)
            sizes = sum(a for _, a, _ in kernel_book.lots_of(i))
            assert sizes == abs(kernel_book.positions[i]["position_lots"])
    assert sorted(kernel_book.seen[: kernel_book.cursor[0]["count"]].tolist()) == sorted(
        twin_book.seen[: twin_book.cursor[0]["count"]].tolist()
    )
    for mark in (95.5, 104.0):
        for i in (0, 1):
            assert position.position_unrealised(
                kernel_book.positions, kernel_book.lots, i, mark, VALUE
            ) == twin.position_unrealised(twin_book.positions, twin_book.lots, i, mark, VALUE)


def naive_fifo(fills):
    """Position, realised ticks*lots and fees from unique fills, one lot unit at a time."""
    units, realised, fees, seen = [], 0, 0.0, set()  # units: signed entry price per lot, by time
    for trade_id, side, price, amount, fee, _, time_ns, _ in fills:
        if trade_id in seen:
            continue
        seen.add(trade_id)
        fees += fee
        sign = 1 if side == BUY else -1
        for _ in range(amount):
            if units and (units[0][2] > 0) != (sign > 0):
                _entry_time, entry, entry_sign = units.pop(0)
                realised += (price - entry) * entry_sign
            else:
                units.append((time_ns, price, sign))
                units.sort(key=lambda u: u[0])  # stable: equal times keep arrival order
    return sum(u[2] for u in units), realised, fees, [u[1] for u in units]


@given(FILLS)
def test_fifo_pnl_equals_a_naive_unit_by_unit_recomputation(stream):
    stream = [(*f[:7], 0) for f in stream]  # one instrument
    book = Book(1, lot_capacity=256, seen_capacity=64)
    for f in stream:
        assert book.fill(position, *f) in (codes.STATUS_OK, codes.STATUS_DUPLICATE)
    pos_lots, realised, fees, entry_prices = naive_fifo(stream)
    pos = book.positions[0]
    assert pos["position_lots"] == pos_lots
    assert pos["realised_ticks_lots"] == realised
    assert pos["realised_pnl_quote"] == realised * VALUE
    assert pos["maker_fees_quote"] + pos["taker_fees_quote"] == pytest.approx(fees)
    assert [p for p, a, _ in book.lots_of() for _ in range(a)] == entry_prices
    assert pos["cost_ticks_lots"] == sum(entry_prices)


@given(FILLS, st.integers(-20, 20), st.integers(1, 200))
def test_reconciliation_matches_twin_and_to_zero_leaves_no_trace(stream, target, price):
    kernel_book, twin_book = Book(2), Book(2)
    for f in stream:
        kernel_book.fill(position, *f)
        twin_book.fill(twin, *f)
    realised = kernel_book.positions["realised_ticks_lots"].tolist()
    for module, book in ((position, kernel_book), (twin, twin_book)):
        module.position_reconcile(book.positions, book.lots, 0, target, price, 99)
    assert kernel_book.state(0) == twin_book.state(0)
    assert kernel_book.positions[0]["position_lots"] == target
    assert position.position_reconcile(kernel_book.positions, kernel_book.lots, 1, 0, 0, 99) in (
        codes.STATUS_OK,
        codes.STATUS_MISMATCH,
    )
    assert kernel_book.lots_of(1) == []
    assert (
        position.position_unrealised(kernel_book.positions, kernel_book.lots, 1, 100.0, VALUE)
        == 0.0
    )
    assert kernel_book.positions["realised_ticks_lots"].tolist() == realised
