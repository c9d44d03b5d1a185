"""``order_wire_encode``: a prepared batch written as masked client frames in one call, byte for
byte what io's encoders write (``OrderFrames`` + ``encode_request`` + ``encode_frame``)."""

from __future__ import annotations

import os
from decimal import Decimal

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qengine.engine._order_wire import OrderWire
from qengine.io.order_frames import OrderFrames
from qengine.kernels import codes
from qengine.kernels.dtypes import ACTION
from qengine.units import StepGrid
from tests.reference.order_wire import order_wire_encode as twin

INSERT, AMEND, CANCEL = codes.ACTION_INSERT, codes.ACTION_AMEND, codes.ACTION_CANCEL
BUY, SELL = codes.SIDE_BUY, codes.SIDE_SELL
CAPACITY = 24
TICKS = [0.5, 1, 0.01, 0.0001, 0.1, 5, 25, 0.00001]
LOTS = [0.001, 0.01, 1, 0.1, 0.00001, 1e-8, 100]
_WIRES: dict[tuple, tuple[OrderWire, np.ndarray]] = {}


def wire_for(name, label, tick, lot):
    """An OrderWire (and its batch array) per instrument; built once (binding is not free)."""
    key = (name, label, tick, lot)
    if key not in _WIRES:
        batch = np.zeros(CAPACITY, ACTION)
        frames = OrderFrames(name, label)
        _WIRES[key] = (OrderWire(frames, StepGrid(tick), StepGrid(lot), batch), batch, frames)
    return _WIRES[key]


def _significand(value):
    return int("".join(map(str, Decimal(value).normalize().as_tuple().digits)))


def digits(steps, step):
    """Significant digits of the decimal ``steps * step`` (0 for zero), or 99 when the
    product of the two's significant digits does not fit in int64 (the kernel's limit)."""
    if steps == 0:
        return 0
    if _significand(abs(steps)) * _significand(repr(step)) >= 2**63:
        return 99
    return len(str(_significand(Decimal(steps) * Decimal(repr(step)))))


def encodable(rows, tick, lot):
    # What the kernel writes itself (the rest goes the general way): exact decimals of at
    # most 15 significant digits, positive amounts.
    for kind, _slot, _cid, _side, _level, ticks, lots in rows:
        if kind == CANCEL:
            continue
        if lots <= 0 or digits(lots, lot) > 15 or digits(ticks, tick) > 15:
            return False
    return True


def encode(rows, first_id, name="BTC-PERPETUAL", label="qengine", tick=0.5, lot=0.001):
    wire, batch, frames = wire_for(name, label, tick, lot)
    for i, row in enumerate(rows):
        batch[i] = row
    keys = os.urandom(4 * len(rows))
    ours = wire.build(len(rows), first_id, keys)
    theirs = twin(rows, frames, StepGrid(tick), StepGrid(lot), first_id, keys)
    return ours, theirs


def unmask(data):
    """The payloads of masked client text frames, checking every header on the way."""
    payloads, pos = [], 0
    while pos < len(data):
        assert data[pos] == 0x81  # FIN + text
        length = data[pos + 1] & 0x7F
        assert data[pos + 1] & 0x80  # masked
        pos += 2
        if length == 126:
            length = int.from_bytes(data[pos:pos + 2], "big")
            assert length >= 126
            pos += 2
        key = data[pos:pos + 4]
        pos += 4
        payloads.append(bytes(b ^ key[i % 4] for i, b in enumerate(data[pos:pos + length])))
        pos += length
    return payloads


row = st.one_of(
    st.tuples(st.just(INSERT), st.integers(0, 8), st.integers(0, 2**63 - 1),
              st.sampled_from([BUY, SELL]), st.integers(0, 4),
              st.one_of(st.integers(1, 10**7), st.integers(-(10**9), 10**15)),
              st.one_of(st.integers(1, 1000), st.integers(1, 10**17))),
    st.tuples(st.just(AMEND), st.integers(0, 8), st.integers(0, 2**40),
              st.sampled_from([BUY, SELL]),
              st.integers(0, 4), st.integers(0, 10**12), st.integers(1, 10**9)),
    st.tuples(st.just(CANCEL), st.integers(0, 8), st.integers(0, 2**63 - 1), st.just(BUY),
              st.integers(0, 4), st.just(0), st.just(0)),
)
first_ids = st.one_of(st.integers(0, 1000), st.integers(2**31 - 30, 2**31 + 30),
                      st.integers(2**53 - 2**20, 2**53 - CAPACITY))
labels = st.sampled_from([None, "qengine", "50% \"off\" \\ é", "L" * 120])


@settings(max_examples=300, deadline=None)
@given(st.lists(row, max_size=CAPACITY), first_ids, labels, st.sampled_from(TICKS),
       st.sampled_from(LOTS))
def test_the_kernel_writes_the_bytes_of_io_s_encoders(rows, first_id, label, tick, lot):
    ours, theirs = encode(rows, first_id, label=label, tick=tick, lot=lot)
    if encodable(rows, tick, lot):
        assert ours == theirs
    else:
        assert ours is None  # the caller sends these the general way


@pytest.mark.parametrize(("tick", "lot", "ticks", "lots", "price", "amount"), [
    (0.5, 0.001, 120001, 1, b"60000.5", b"0.001"),
    (0.5, 0.001, 120000, 1000, b"60000.0", b"1.0"),
    (1, 0.00001, 7, 1, b"7.0", b"1e-05"),  # repr switches to an exponent below 1e-4
    (1, 0.00001, 7, 15, b"7.0", b"0.00015"),
    (0.0001, 1e-8, 1, 12345, b"0.0001", b"0.00012345"),
    (0.0001, 1e-8, -3, 123, b"-0.0003", b"1.23e-06"),
    (1, 1, 10**16, 10**15, b"1e+16", b"1000000000000000.0"),  # and above 1e16
    (25, 100, 4 * 10**15 + 1, 3, None, b"300.0"),  # 100000000000000025: 17 digits
])
def test_numbers_are_spelled_as_python_s_repr(tick, lot, ticks, lots, price, amount):
    rows = [(AMEND, 0, 7, BUY, 0, ticks, lots)]
    ours, theirs = encode(rows, 9, tick=tick, lot=lot)
    if price is None:  # 17 significant digits: the kernel leaves it to the general way
        assert ours is None
        return
    assert ours == theirs
    (payload,) = unmask(ours)
    assert payload == (b'{"method":"private/amend","params":{"client_order_id":7,"amount":'
                       + amount + b',"price":' + price + b'},"id":9}')


def test_frames_unmask_to_the_requests_and_long_ones_take_the_126_header():
    label = "x" * 100  # inserts longer than 125 bytes
    rows = [(INSERT, 0, 11, BUY, 0, 120001, 5), (INSERT, 1, 12, SELL, 0, 120011, 5),
            (AMEND, 2, 3, BUY, 1, 119990, 10), (CANCEL, 3, 4, SELL, 1, 0, 0)]
    ours, theirs = encode(rows, 2**31 - 1, label=label)
    assert ours == theirs
    requests = [orjson.loads(p) for p in unmask(ours)]
    assert [r["id"] for r in requests] == [2**31 - 1, 2**31, 2**31 + 1, 2**31 + 2]
    assert requests[0] == {"method": "private/insert", "id": 2**31 - 1, "params": {
        "direction": "buy", "instrument_name": "BTC-PERPETUAL", "amount": 0.005,
        "price": 60000.5, "order_type": "limit", "post_only": True, "label": label,
        "client_order_id": 11}}
    assert requests[3] == {"method": "private/cancel", "params": {"client_order_id": 4},
                           "id": 2**31 + 2}
    assert ours[1] & 0x7F == 126  # the insert with the long label


@pytest.mark.parametrize("bad", [
    (AMEND, 0, 7, BUY, 0, 100, 0),  # amount 0
    (INSERT, 0, 7, BUY, 0, 100, -1),  # negative amount
    (INSERT, 0, -1, BUY, 0, 100, 1),  # negative client order id
    (INSERT, 0, 7, 5, 0, 100, 1),  # no such side
    (7, 0, 7, BUY, 0, 100, 1),  # no such kind
])
def test_rows_the_general_way_must_judge_are_left_to_it(bad):
    ours, _ = encode([(CANCEL, 1, 3, BUY, 0, 0, 0)], 1)
    assert ours is not None
    wire, batch, _ = wire_for("BTC-PERPETUAL", "qengine", 0.5, 0.001)
    batch[0] = bad
    assert wire.build(1, 1, os.urandom(4)) is None


def test_each_frame_takes_its_own_mask_key():
    rows = [(CANCEL, 0, 5, BUY, 0, 0, 0)] * 3
    keys = bytes(range(12))
    wire, batch, _ = wire_for("BTC-PERPETUAL", "qengine", 0.5, 0.001)
    for i, r in enumerate(rows):
        batch[i] = r
    data = wire.build(3, 1, keys)
    size = len(data) // 3
    assert [data[i * size + 2:i * size + 6] for i in range(3)] == [keys[0:4], keys[4:8],
                                                                     keys[8:12]]


def test_an_instrument_whose_steps_the_kernel_cannot_hold_goes_the_general_way():
    wire, batch, _ = wire_for("X", None, 1e-19, 0.001)
    assert not wire.enabled
    batch[0] = (CANCEL, 0, 5, BUY, 0, 0, 0)
    assert wire.build(1, 1, os.urandom(4)) is None


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 10**6), st.integers(0, 12), st.integers(-(10**17), 10**17),
       st.integers(1, 10**12))
def test_any_decimal_step_spells_like_repr(m, k, ticks, lots):
    # Steps m * 10**-k of any shape (2.5, 0.0125, 1e-12, 40000, ...): the kernel's digits are
    # repr's whenever it writes them, and it writes every number of <= 15 significant digits.
    step = float(f"{m}e-{k}")
    rows = [(AMEND, 0, 1, BUY, 0, ticks, lots)]
    ours, theirs = encode(rows, 3, label=None, tick=step, lot=step)
    if ours is None:
        assert not encodable(rows, step, step)
    else:
        assert ours == theirs
