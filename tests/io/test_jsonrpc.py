"""Sans-IO JSON-RPC core: golden frames, id space, pending table, classification and routing.

No sockets here; every test feeds bytes or frame objects and checks what comes out.
"""

from __future__ import annotations

import math

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qengine.io.jsonrpc import (
    ErrorResponse,
    Notification,
    Response,
    RpcProtocol,
    UnknownFrame,
    encode_request,
    parse_frame,
)

# -- encoding (golden frames from thalex-protocol.md 1.2) -------------------------------------


def test_encode_request_without_id_matches_the_official_client_frame():
    assert encode_request("private/cancel_all", None, None) == (
        b'{"method":"private/cancel_all","params":{}}'
    )


def test_encode_request_with_id_has_method_params_id_and_no_jsonrpc_field():
    frame = encode_request("public/subscribe", {"channels": ["ticker.BTC-PERPETUAL.raw"]}, 3)
    assert frame == (
        b'{"method":"public/subscribe","params":{"channels":["ticker.BTC-PERPETUAL.raw"]},"id":3}'
    )
    assert b"jsonrpc" not in frame


def test_encode_request_drops_none_values_but_keeps_false_and_zero():
    frame = orjson.loads(
        encode_request("private/insert", {"label": None, "post_only": False, "amount": 0}, 7)
    )
    assert frame["params"] == {"post_only": False, "amount": 0}


def test_start_request_encodes_the_allocated_id():
    protocol = RpcProtocol()
    pending, frame = protocol.start_request("public/system_info")
    assert orjson.loads(frame) == {"method": "public/system_info", "params": {}, "id": 1}
    assert pending.request_id == 1
    assert pending.method == "public/system_info"


# -- ids ---------------------------------------------------------------------------------------


def test_request_ids_are_unique_increasing_unsigned_integers():
    protocol = RpcProtocol(first_request_id=100)
    ids = [protocol.start_request("m")[0].request_id for _ in range(5)]
    assert ids == [100, 101, 102, 103, 104]


def test_request_ids_wrap_and_skip_ids_still_pending():
    top = (1 << 53) - 1
    protocol = RpcProtocol(first_request_id=top - 1)
    first = protocol.start_request("m")[0].request_id  # top - 1, stays pending
    second = protocol.start_request("m")[0].request_id  # top
    third = protocol.start_request("m")[0].request_id  # wraps to 0
    assert (first, second, third) == (top - 1, top, 0)
    protocol._next_id = top - 1  # force a collision with the pending id
    fourth = protocol.start_request("m")[0].request_id
    assert fourth == 1  # top-1, top and 0 are pending
    assert protocol.pending_count == 4


def test_first_request_id_out_of_range_is_refused():
    with pytest.raises(ValueError, match="first_request_id"):
        RpcProtocol(first_request_id=-1)


# -- classification ----------------------------------------------------------------------------


def test_parse_frame_classifies_result_error_and_notification():
    assert parse_frame(b'{"id":1,"result":{"account_number":"A1"}}') == Response(
        1, {"account_number": "A1"}
    )
    assert parse_frame(b'{"id":5,"error":{"code":4,"message":"throttle exceeded"}}') == (
        ErrorResponse(5, 4, "throttle exceeded")
    )
    assert parse_frame(b'{"channel_name":"session.orders","notification":[],"snapshot":true}') == (
        Notification("session.orders", [], True)
    )


def test_null_result_is_a_response_not_an_unknown_frame():
    assert parse_frame(b'{"id":9,"result":null}') == Response(9, None)


def test_channel_name_decides_even_when_the_key_order_differs():
    frame = parse_frame(b'{"notification":{"mark_price":1.5},"channel_name":"ticker.X.raw"}')
    assert frame == Notification("ticker.X.raw", {"mark_price": 1.5}, False)


def test_snapshot_flag_is_true_only_for_literal_true():
    assert parse_frame(b'{"channel_name":"c","notification":1,"snapshot":1}').snapshot is False


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1,2]", "not a JSON object"),
        (b'{"id":1}', "neither"),
        (b'{"id":1,"error":{"code":"4","message":"x"}}', "integer code"),
        (b'{"id":1,"error":{"code":true,"message":"x"}}', "integer code"),
        (b'{"channel_name":5,"notification":{}}', "channel_name"),
    ],
)
def test_malformed_frames_become_unknown_frames(raw, reason):
    frame = parse_frame(raw)
    assert isinstance(frame, UnknownFrame)
    assert reason in frame.reason
    assert frame.raw == raw


@given(st.binary(max_size=200))
def test_parse_frame_never_raises_on_arbitrary_bytes(data):
    frame = parse_frame(data)
    assert isinstance(frame, Response | ErrorResponse | Notification | UnknownFrame)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=10,
    )
)
def test_any_result_value_round_trips_to_its_caller(value):
    protocol = RpcProtocol()
    pending, _ = protocol.start_request("m")
    done = protocol.receive(parse_frame(orjson.dumps({"id": pending.request_id, "result": value})))
    assert done is pending
    assert done.outcome == Response(pending.request_id, value)


# -- pending table -----------------------------------------------------------------------------


def test_responses_complete_their_own_request_in_any_order():
    protocol = RpcProtocol()
    a, _ = protocol.start_request("a", waiter="wa")
    b, _ = protocol.start_request("b", waiter="wb")
    done_b = protocol.receive(parse_frame(b'{"id":2,"error":{"code":1,"message":"nf"}}'))
    done_a = protocol.receive(parse_frame(b'{"id":1,"result":3}'))
    assert (done_a, done_b) == (a, b)
    assert a.outcome == Response(1, 3)
    assert b.outcome == ErrorResponse(2, 1, "nf")
    assert b.waiter == "wb"
    assert protocol.pending_count == 0
    stats = protocol.statistics()
    assert (stats.responses_matched, stats.errors_matched, stats.pending) == (1, 1, 0)


def test_unknown_null_and_string_ids_are_counted_not_matched():
    protocol = RpcProtocol()
    protocol.start_request("a")
    for raw in (b'{"id":77,"result":1}', b'{"id":null,"result":1}', b'{"id":"1","result":1}'):
        assert protocol.receive(parse_frame(raw)) is None
    assert protocol.statistics().unmatched_responses == 3
    assert protocol.pending_count == 1


def test_abandoned_request_drops_its_late_answer():
    protocol = RpcProtocol()
    pending, _ = protocol.start_request("a")
    assert protocol.abandon(pending.request_id) is pending
    assert protocol.abandon(pending.request_id) is None
    assert protocol.receive(parse_frame(b'{"id":1,"result":1}')) is None
    assert protocol.statistics().unmatched_responses == 1


def test_expire_removes_only_requests_past_their_deadline():
    protocol = RpcProtocol()
    short, _ = protocol.start_request("a", now_s=10.0, timeout_s=1.0)
    long, _ = protocol.start_request("b", now_s=10.0, timeout_s=5.0)
    forever, _ = protocol.start_request("c", now_s=10.0)
    assert protocol.expire(10.5) == []
    assert protocol.expire(11.0) == [short]
    assert protocol.expire(100.0) == [long]
    assert math.isinf(forever.deadline_s)
    assert protocol.statistics().expired == 2
    assert protocol.pending_count == 1


def test_fail_all_empties_the_table():
    protocol = RpcProtocol()
    a, _ = protocol.start_request("a")
    b, _ = protocol.start_request("b")
    assert protocol.fail_all() == [a, b]
    assert protocol.pending_count == 0


# -- routing -----------------------------------------------------------------------------------


def test_notifications_route_by_exact_name_then_prefix():
    protocol = RpcProtocol()
    seen = []
    protocol.route("session.orders", lambda n: seen.append(("exact", n.channel_name)))
    protocol.route("ticker.", lambda n: seen.append(("ticker", n.channel_name)), prefix=True)
    protocol.route("", lambda n: seen.append(("all", n.channel_name)), prefix=True)
    protocol.receive(Notification("ticker.BTC-PERPETUAL.raw", {}, False))
    protocol.receive(Notification("session.orders", [], True))
    assert seen == [
        ("ticker", "ticker.BTC-PERPETUAL.raw"),
        ("all", "ticker.BTC-PERPETUAL.raw"),
        ("exact", "session.orders"),
        ("all", "session.orders"),
    ]


def test_unrouted_notifications_are_counted_and_new_routes_take_effect():
    protocol = RpcProtocol()
    seen = []
    protocol.receive(Notification("lwt.X.raw", {}, False))  # caches "no handlers"
    handler = seen.append
    protocol.route("lwt.", handler, prefix=True)
    protocol.receive(Notification("lwt.X.raw", {"a": 1}, False))
    protocol.unroute("lwt.", handler, prefix=True)
    protocol.receive(Notification("lwt.X.raw", {"a": 2}, False))
    assert [n.payload for n in seen] == [{"a": 1}]
    stats = protocol.statistics()
    assert (stats.notifications, stats.unrouted_notifications) == (3, 2)


def test_unroute_of_an_exact_route_removes_only_that_handler():
    protocol = RpcProtocol()
    first, second = [], []
    protocol.route("c", first.append)
    protocol.route("c", second.append)
    protocol.unroute("c", first.append)
    protocol.unroute("missing", first.append)  # no error
    protocol.receive(Notification("c", 1, False))
    assert (len(first), len(second)) == (0, 1)


def test_unknown_frames_are_counted():
    protocol = RpcProtocol()
    assert protocol.receive(parse_frame(b"{")) is None
    assert protocol.statistics().unknown_frames == 1
