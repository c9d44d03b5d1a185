"""decode_order's one-pass path gives exactly what the field-by-field checking path gives."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from qengine.io.messages import MessageError, decode_order
from qengine.io.messages_orders import _decode_order_checked

ORDER = {"order_id": "P1", "order_type": "limit", "time_in_force": "good_till_cancelled",
         "instrument_name": "BTC-PERPETUAL", "direction": "buy", "price": 64990.0,
         "amount": 0.2, "filled_amount": 0.0, "remaining_amount": 0.2, "label": "qengine",
         "client_order_id": 12, "status": "open", "fills": [], "change_reason": "amend",
         "insert_reason": "client_request", "create_time": 1.7e9, "persistent": False}
FILL = {"trade_id": "T1", "price": 64990.0, "amount": 0.1, "time": 1.7e9,
        "maker_taker": "maker", "leg_index": 0}
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-3, max_value=2**70),
    st.none(), st.booleans(), st.sampled_from(["", "buy", "sell", "open", "filled", "x", "0"]),
    st.just([]), st.just([FILL]), st.just({}), st.just(["buy"]),
)
changes = st.dictionaries(st.sampled_from([*ORDER, "legs"]), values, max_size=4)
removed = st.sets(st.sampled_from(list(ORDER)), max_size=2)


def _outcome(decode, obj):
    try:
        return decode(obj)
    except MessageError as exc:
        return ("error", str(exc))


@given(changes=changes, removed=removed)
def test_fast_and_checked_paths_agree_on_any_order_report(changes, removed):
    obj = {k: v for k, v in {**ORDER, **changes}.items() if k not in removed}
    assert _outcome(decode_order, obj) == _outcome(_decode_order_checked, obj)


def test_the_common_report_is_decoded_in_full():
    order = decode_order(ORDER)
    assert order == _decode_order_checked(ORDER)
    assert (order.order_id, order.client_order_id, order.direction, order.price) == (
        "P1", 12, "buy", 64990.0)
    assert order.reduce_only is False
    assert order.fills == ()


def test_a_report_with_fills_or_odd_values_still_decodes_or_fails_specifically():
    with_fill = decode_order({**ORDER, "fills": [FILL]})
    assert [f.trade_id for f in with_fill.fills] == ["T1"]
    assert decode_order({**ORDER, "amount": 1, "remaining_amount": 1}).amount == 1.0
    for bad, match in (({"amount": math.inf}, "amount"), ({"direction": "hold"}, "direction"),
                       ({"filled_amount": 0.5}, "exceeds"), ({"client_order_id": -1},
                                                             "client_order_id")):
        outcome = _outcome(decode_order, {**ORDER, **bad})
        assert outcome[0] == "error"
        assert match in outcome[1]
