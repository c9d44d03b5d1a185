"""OrderFrames: pre-built order params give the bytes the generic encoder gives, and check input."""

from __future__ import annotations

import math

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qengine.io.jsonrpc import RpcProtocol, encode_request
from qengine.io.messages_encode import insert_params
from qengine.io.order_frames import OrderFrames

amounts = st.floats(min_value=1e-9, max_value=1e6, allow_nan=False, allow_infinity=False)
prices = st.floats(min_value=-1e7, max_value=1e7, allow_nan=False, allow_infinity=False)
cids = st.integers(min_value=0, max_value=2**64 - 1)


@given(direction=st.sampled_from(["buy", "sell"]), amount=amounts, price=prices, cid=cids,
       request_id=st.one_of(st.none(), st.integers(min_value=0, max_value=2**53 - 1)))
def test_insert_frame_is_the_generic_encoders_frame(direction, amount, price, cid, request_id):
    # Same keys in the same order and the same values; a float may be spelled differently
    # (repr writes 1e-09 where orjson writes 1e-9).
    frames = OrderFrames("BTC-PERPETUAL", "qengine")
    method, params = frames.insert(direction, amount, price, cid)
    generic = insert_params(direction=direction, instrument_name="BTC-PERPETUAL", amount=amount,
                            price=price, post_only=True, label="qengine", client_order_id=cid)
    assert method == "private/insert"
    ours = orjson.loads(encode_request(method, params, request_id))
    theirs = orjson.loads(encode_request(method, generic, request_id))
    assert ours == theirs
    assert list(ours) == list(theirs)
    assert list(ours["params"]) == list(theirs["params"])


def test_insert_frame_bytes_for_a_typical_order():
    method, params = OrderFrames("BTC-PERPETUAL", "qengine").insert("buy", 0.001, 65000.0, 5)
    generic = insert_params(direction="buy", instrument_name="BTC-PERPETUAL", amount=0.001,
                            price=65000.0, post_only=True, label="qengine", client_order_id=5)
    assert encode_request(method, params, 7) == encode_request(method, generic, 7)


@given(amount=amounts, price=prices, cid=cids)
def test_amend_and_cancel_params_parse_to_the_numbers_given(amount, price, cid):
    frames = OrderFrames("ETH-PERPETUAL", None)
    method, params = frames.amend(cid, amount, price)
    assert method == "private/amend"
    assert orjson.loads(params) == {"client_order_id": cid, "amount": amount, "price": price}
    method, params = frames.cancel(cid)
    assert method == "private/cancel"
    assert orjson.loads(params) == {"client_order_id": cid}


def test_label_and_instrument_are_json_escaped_and_a_missing_label_is_left_out():
    _, params = OrderFrames('odd "name"\\', 'lab"el').insert("sell", 1.0, 2.0, 3)
    decoded = orjson.loads(params)
    assert decoded["instrument_name"] == 'odd "name"\\'
    assert decoded["label"] == 'lab"el'
    _, params = OrderFrames("X", None).insert("buy", 1.0, 2.0, 3)
    assert "label" not in orjson.loads(params)


def test_numpy_numbers_are_written_as_plain_json_numbers():
    _, params = OrderFrames("X", "q").amend(7, np.float64(0.25), np.float64(65000.5))
    assert orjson.loads(params) == {"client_order_id": 7, "amount": 0.25, "price": 65000.5}


@pytest.mark.parametrize(("call", "match"), [
    (lambda f: f.insert("hold", 1.0, 1.0, 1), "direction"),
    (lambda f: f.insert("buy", 0.0, 1.0, 1), "amount"),
    (lambda f: f.insert("buy", math.nan, 1.0, 1), "amount"),
    (lambda f: f.amend(1, 1.0, math.inf), "price"),
    (lambda f: f.amend(-1, 1.0, 1.0), "client_order_id"),
    (lambda f: f.cancel(2**64), "client_order_id"),
    (lambda f: f.cancel(True), "client_order_id"),
])
def test_bad_numbers_are_refused_before_anything_is_encoded(call, match):
    with pytest.raises(ValueError, match=match):
        call(OrderFrames("BTC-PERPETUAL", "qengine"))


def test_an_empty_instrument_is_refused():
    with pytest.raises(ValueError, match="instrument_name"):
        OrderFrames("", "qengine")


def test_start_request_takes_pre_encoded_params_and_registers_the_request():
    rpc = RpcProtocol()
    pending, frame = rpc.start_request("private/cancel", b'{"client_order_id":9}')
    assert orjson.loads(frame) == {"method": "private/cancel", "params": {"client_order_id": 9},
                                   "id": pending.request_id}
    assert rpc.pending_count == 1
