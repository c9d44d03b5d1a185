"""Thalex message decoding: golden samples from thalex-protocol.md, malformed input and fuzzing."""

from __future__ import annotations

import copy
import math

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qengine.io import jsonrpc
from qengine.io import messages as m
from qengine.io.messages import (
    DecodeStats,
    MessageError,
    QuoteLevel,
    QuoteRequest,
    channel_kind,
    decode_notification,
)

# --- golden frames (thalex-protocol.md section 9 and field tables) ------------------------------

TICKER_FRAME = (
    b'{"channel_name":"ticker.BTC-PERPETUAL.100ms","notification":{"best_bid_price":64980,'
    b'"best_bid_amount":0.5,"best_ask_price":65010,"best_ask_amount":0.3,"last_price":65000,'
    b'"mark_price":64998.2,"mark_timestamp":1767865600.101,"delta":1,"index":64990.5,'
    b'"volume_24h":812.4,"value_24h":52800000,"low_price_24h":64100,"high_price_24h":65900,'
    b'"change_24h":-150,"collar_low":63050,"collar_high":66950,"open_interest":2511.7,'
    b'"funding_rate":0.00012,"funding_mark":3.21,"realised_funding_24h":7.8,'
    b'"average_funding_rate_24h":0.0001}}'
)
INSERT_RESULT = (
    b'{"id":101,"result":{"order_id":"00011E5700000101","order_type":"limit",'
    b'"time_in_force":"good_till_cancelled","instrument_name":"BTC-PERPETUAL","direction":"buy",'
    b'"price":64985,"amount":0.1,"filled_amount":0,"remaining_amount":0.1,"label":"qe",'
    b'"client_order_id":1001,"status":"open","fills":[],"change_reason":"insert",'
    b'"insert_reason":"client_request","create_time":1767865600.250,"persistent":false}}'
)
FILL_FRAME = (
    b'{"channel_name":"session.orders","notification":[{"order_id":"00011E5700000102",'
    b'"order_type":"limit","time_in_force":"good_till_cancelled","instrument_name":"BTC-PERPETUAL",'
    b'"direction":"sell","price":65005,"amount":0.1,"filled_amount":0.04,"remaining_amount":0.06,'
    b'"label":"qe","client_order_id":1002,"status":"partially_filled","fills":[{"trade_id":'
    b'"0080000000000000169F22D05B785A2B","price":65005,"amount":0.04,"time":1767865601.731,'
    b'"maker_taker":"maker","leg_index":0}],"change_reason":"fill","insert_reason":"client_request",'
    b'"create_time":1767865600.261,"persistent":false}]}'
)


def _order(**changes):
    base = orjson.loads(INSERT_RESULT)["result"]
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


_KINDS = {jsonrpc.Response: "result", jsonrpc.ErrorResponse: "error",
          jsonrpc.Notification: "notification", jsonrpc.UnknownFrame: "invalid"}


def classify_frame(obj):
    """The kind the session's frame classifier (``jsonrpc.classify``) gives a decoded frame."""
    return _KINDS[type(jsonrpc.classify(obj))]


def _frame(data: bytes):
    obj = orjson.loads(data)
    return obj, classify_frame(obj)


# --- frame classification and channel names -----------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "kind"),
    [
        ({"channel_name": "system", "notification": {"event": "reconnect"}}, "notification"),
        ({"id": 1, "result": {"account_number": "A123456789"}}, "result"),
        ({"id": 2, "result": None}, "result"),  # cancel_session answers null
        ({"id": 104, "error": {"code": 4, "message": "throttle"}}, "error"),
        ({"id": 104, "error": {"code": True, "message": "x"}}, "invalid"),
        ({"id": 104, "error": "boom"}, "invalid"),
        ({"channel_name": 7, "notification": {}}, "invalid"),
        ({"id": 3}, "invalid"),
        ([1, 2], "invalid"),
        ("text", "invalid"),
        (None, "invalid"),
        # channel_name wins, then result, then error (section 1.4 order)
        ({"channel_name": "x", "result": 1, "error": {"code": 1}}, "notification"),
        ({"result": 1, "error": {"code": 1, "message": ""}}, "result"),
    ],
)
def test_classify_frame(obj, kind):
    assert classify_frame(obj) == kind


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ticker.BTC-PERPETUAL.raw", ("ticker", "BTC-PERPETUAL")),
        ("ticker.BTC-PERPETUAL.1000ms", ("ticker", "BTC-PERPETUAL")),
        (
            "ticker.[BTC-30MAY25-93000-C:-1,BTC-30MAY25-80000-C:1].100ms",
            ("ticker", "[BTC-30MAY25-93000-C:-1,BTC-30MAY25-80000-C:1]"),
        ),
        ("lwt.ETH-PERPETUAL.100ms", ("lwt", "ETH-PERPETUAL")),
        ("price_index.BTCUSD", ("price_index", "BTCUSD")),
        ("book.BTC-PERPETUAL.none.all.100ms", ("book", "BTC-PERPETUAL")),
        ("book.ETH-PERPETUAL.0.5.10.raw", ("book", "ETH-PERPETUAL")),
        ("recent_trades.BTC-PERPETUAL.single", ("recent_trades", "BTC-PERPETUAL")),
        ("recent_trades.BTCUSD.all", ("recent_trades", "BTCUSD")),
        ("instruments", ("instruments", None)),
        ("instruments.futures.BTCUSD.all", ("instruments", "futures.BTCUSD.all")),
        ("session.orders", ("session.orders", None)),
        ("account.orders", ("account.orders", None)),
        ("account.portfolio", ("account.portfolio", None)),
        ("account.trade_history", ("account.trade_history", None)),
        ("account.summary", ("account.summary", None)),
        ("session.mm_protection", ("session.mm_protection", None)),
        ("system", ("system", None)),
        ("ticker.BTC-PERPETUAL.7ms", ("unknown", None)),
        ("ticker.BTC-PERPETUAL", ("unknown", None)),
        ("ticker..raw", ("unknown", None)),
        ("price_index.BTCUSD.x", ("unknown", None)),
        ("book.X.none.100ms", ("unknown", None)),
        ("recent_trades.X.some", ("unknown", None)),
        ("account.rfqs", ("unknown", None)),
        ("", ("unknown", None)),
        (None, ("unknown", None)),
        (42, ("unknown", None)),
    ],
)
def test_channel_kind(name, expected):
    assert channel_kind(name) == expected


# --- golden decoding ----------------------------------------------------------------------------


def test_ticker_golden():
    obj, kind = _frame(TICKER_FRAME)
    assert kind == "notification"
    note = decode_notification(obj["channel_name"], obj["notification"])
    assert (note.kind, note.key, note.snapshot) == ("ticker", "BTC-PERPETUAL", False)
    (t,) = note.records
    assert t == m.Ticker(
        instrument_name="BTC-PERPETUAL",
        best_bid_price=64980.0,
        best_bid_amount=0.5,
        best_ask_price=65010.0,
        best_ask_amount=0.3,
        last_price=65000.0,
        mark_price=64998.2,
        mark_timestamp=1767865600.101,
        index=64990.5,
        funding_rate=0.00012,
        funding_mark=3.21,
        collar_low=63050.0,
        collar_high=66950.0,
    )
    assert type(t.best_bid_price) is float


@pytest.mark.parametrize(
    "changes",
    [
        {"best_bid_price": None, "best_bid_amount": None},
        {"best_bid_price": None},
        {"best_bid_amount": None},
        {"best_bid_amount": 0},
        {"best_bid_price": "__drop__", "best_bid_amount": "__drop__"},
    ],
)
def test_ticker_never_invents_a_touch(changes):
    payload = orjson.loads(TICKER_FRAME)["notification"]
    for key, value in changes.items():
        if value == "__drop__":
            del payload[key]
        else:
            payload[key] = value
    t = m.decode_ticker(payload, "BTC-PERPETUAL")
    assert t.best_bid_price is None
    assert t.best_bid_amount is None
    assert (t.best_ask_price, t.best_ask_amount) == (65010.0, 0.3)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("mark_price", None, "missing required field 'mark_price'"),
        ("mark_price", True, "must be a number, got bool"),
        ("mark_price", "64998.2", "must be a number, got str"),
        ("mark_price", math.nan, "must be finite"),
        ("best_bid_price", math.inf, "must be finite"),
        ("index", -math.inf, "must be finite"),
        ("mark_timestamp", [1], "must be a number, got list"),
        ("best_ask_amount", -0.3, "must not be negative"),
    ],
)
def test_ticker_malformed(key, value, message):
    payload = orjson.loads(TICKER_FRAME)["notification"]
    payload[key] = value
    with pytest.raises(MessageError, match=message):
        m.decode_ticker(payload, "BTC-PERPETUAL")


def test_insert_result_golden():
    obj, kind = _frame(INSERT_RESULT)
    assert kind == "result"
    order = m.decode_order(obj["result"])
    assert order == m.OrderUpdate(
        order_id="00011E5700000101",
        client_order_id=1001,
        instrument_name="BTC-PERPETUAL",
        direction="buy",
        order_type="limit",
        time_in_force="good_till_cancelled",
        price=64985.0,
        amount=0.1,
        filled_amount=0.0,
        remaining_amount=0.1,
        status="open",
        change_reason="insert",
        delete_reason=None,
        insert_reason="client_request",
        label="qe",
        create_time=1767865600.25,
        close_time=None,
        persistent=False,
        reduce_only=False,
        fills=(),
    )
    assert order.is_live


def test_fill_notification_golden():
    obj, _ = _frame(FILL_FRAME)
    stats = DecodeStats()
    note = decode_notification(obj["channel_name"], obj["notification"], stats=stats)
    assert note.kind == "session.orders"
    (order,) = note.records
    assert (order.status, order.change_reason, order.filled_amount) == (
        "partially_filled",
        "fill",
        0.04,
    )
    assert order.fills == (
        m.Fill("0080000000000000169F22D05B785A2B", 65005.0, 0.04, 1767865601.731, "maker", 0),
    )
    assert stats.decoded == {"session.orders": 1}
    assert stats.rejected == 0


def test_cancel_all_notification_and_snapshot():
    cancelled = _order(
        status="cancelled",
        remaining_amount=0,
        change_reason="cancel",
        delete_reason="client_bulk_cancel",
        close_time=1767865602.004,
    )
    partial = _order(
        order_id="00011E5700000102",
        direction="sell",
        price=65005,
        filled_amount=0.04,
        remaining_amount=0,
        client_order_id=1002,
        status="cancelled_partially_filled",
        change_reason="cancel",
        delete_reason="client_bulk_cancel",
        close_time=1767865602.004,
    )
    note = decode_notification("session.orders", [cancelled, partial])
    assert [o.status for o in note.records] == ["cancelled", "cancelled_partially_filled"]
    assert all(o.delete_reason == "client_bulk_cancel" and not o.is_live for o in note.records)
    empty = decode_notification("session.orders", [], snapshot=True)
    assert empty == m.Notification("session.orders", None, (), True)


def test_order_variants():
    market = _order(
        order_type="market",
        time_in_force="immediate_or_cancel",
        price=None,
        label=12345,
        reduce_only=True,
        client_order_id=2.0**40,
    )
    order = m.decode_order(market)
    assert order.price is None
    assert order.label == "12345"
    assert order.reduce_only is True
    assert order.client_order_id == 2**40
    big = _order(client_order_id=2**64 - 1)
    assert m.decode_order(big).client_order_id == 2**64 - 1
    combo = _order(instrument_name=None, legs=[{"instrument_name": "A", "quantity": 1}])
    assert m.decode_order(combo).instrument_name is None
    spec_example = _order(create_time=None, persistent=None, insert_reason=None)
    decoded = m.decode_order(spec_example)
    assert (decoded.create_time, decoded.persistent, decoded.insert_reason) == (None, None, None)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"order_id": None}, "'order_id'"),
        ({"order_id": 5}, "'order_id' must be a non-empty string"),
        ({"direction": "long"}, "'direction' has unknown value"),
        ({"status": "pending"}, "'status' has unknown value"),
        ({"fills": None}, "'fills'"),
        ({"fills": {}}, "fills must be a JSON array"),
        ({"amount": False}, "'amount' must be a number, got bool"),
        ({"filled_amount": 0.2}, "exceeds amount"),
        ({"remaining_amount": -0.1}, "must not be negative"),
        ({"client_order_id": -1}, "non-negative integer"),
        ({"client_order_id": 1.5}, "non-negative integer"),
        ({"persistent": "no"}, "must be a boolean"),
        ({"instrument_name": None}, "'instrument_name'"),
        (
            {
                "fills": [
                    {
                        "trade_id": "t",
                        "price": 1,
                        "amount": 0,
                        "maker_taker": "maker",
                        "leg_index": 0,
                    }
                ]
            },
            "'amount' must be positive",
        ),
        (
            {
                "fills": [
                    {
                        "trade_id": "t",
                        "price": 1,
                        "amount": 1,
                        "maker_taker": "both",
                        "leg_index": 0,
                    }
                ]
            },
            "'maker_taker' has unknown value",
        ),
        (
            {"fills": [{"trade_id": "t", "price": 1, "amount": 1, "maker_taker": "maker"}]},
            "'leg_index'",
        ),
        ({"label": {"a": 1}}, "'label' must be a string or number"),
    ],
)
def test_order_malformed(changes, message):
    with pytest.raises(MessageError, match=message):
        m.decode_order(_drop(changes))


def _drop(changes):
    base = _order()
    for key, value in changes.items():
        if value is None:
            base.pop(key, None)
        else:
            base[key] = value
    return base


def test_instrument_golden_and_defaults():
    perp = {
        "instrument_name": "ETH-PERPETUAL",
        "product": "FETHUSD",
        "tick_size": 0.1,
        "volume_tick_size": 0.01,
        "min_order_amount": 0.01,
        "underlying": "ETHUSD",
        "type": "perpetual",
        "base_currency": "USD",
        "create_time": 1.0,
    }
    assert m.decode_instrument(perp) == m.Instrument(
        "ETH-PERPETUAL", "FETHUSD", "perpetual", "ETHUSD", 0.1, 0.01, 0.01, "USD", None
    )
    option = {
        "instrument_name": "BTC-14OCT22-55000-C",
        "product": "OBTCUSD",
        "tick_size": 5,
        "volume_tick_size": 0.1,
        "underlying": "BTCUSD",
        "type": "option",
        "option_type": "call",
        "strike_price": 55000,
        "expiration_timestamp": 1665734400,
    }
    inst = m.decode_instrument(option)
    assert inst.min_order_amount == 0.1  # defaults to the volume tick
    assert (inst.tick_size, inst.expiration_timestamp, inst.strike_price) == (
        5.0,
        1665734400,
        55000.0,
    )
    for bad, message in (
        ({"tick_size": 0}, "positive"),
        ({"volume_tick_size": -1}, "positive"),
        ({"min_order_amount": 0}, "positive"),
        ({"type": None}, "'type'"),
        ({"tick_size": "1"}, "number"),
    ):
        with pytest.raises(MessageError, match=message):
            m.decode_instrument(
                {**perp, **bad}
                if None not in bad.values()
                else {k: v for k, v in perp.items() if k not in bad}
            )
    note = decode_notification("instruments", [{"added": perp}, {"removed": option}], snapshot=True)
    assert [(c.action, c.instrument.instrument_name) for c in note.records] == [
        ("added", "ETH-PERPETUAL"),
        ("removed", "BTC-14OCT22-55000-C"),
    ]


def test_lwt_index_book_recent_trades():
    lwt = decode_notification(
        "lwt.BTC-PERPETUAL.100ms",
        {"b": [47240, 0.4, 0.4], "a": [47260, 1, 0.9], "l": 47252, "m": 65536.16},
    )
    assert lwt.records == (
        m.Lwt("BTC-PERPETUAL", 47240.0, 0.4, 47260.0, 1.0, 65536.16, 47252.0, None),
    )
    one_sided = m.decode_lwt({"a": [], "m": 1.5}, "X")
    assert (one_sided.best_bid_price, one_sided.best_ask_price, one_sided.last_price) == (
        None,
        None,
        None,
    )
    index = decode_notification(
        "price_index.BTCUSD", {"index_name": "BTCUSD", "price": 64990.5, "timestamp": 1.5}
    )
    assert index.records == (m.IndexPrice("BTCUSD", 64990.5, 1.5),)
    assert index.key == "BTCUSD"
    book = decode_notification(
        "book.BTC-PERPETUAL.none.all.100ms",
        {
            "bid_changes": [[64980, 0.5, 0.5], [64970, 0, 0]],
            "ask_changes": [[65010, 0.3]],
            "trades": [[65000, 0.1, "buy", 1767865600.5, False]],
            "total_bid_amount": 10.5,
            "total_ask_amount": 7,
            "time": 1767865600.6,
        },
        snapshot=True,
    )
    (update,) = book.records
    assert update.snapshot
    assert book.snapshot
    assert update.bid_changes == (m.BookLevel(64980.0, 0.5, 0.5), m.BookLevel(64970.0, 0.0, 0.0))
    assert update.ask_changes == (m.BookLevel(65010.0, 0.3, 0.3),)
    assert update.trades == (m.BookTrade(65000.0, 0.1, "buy", 1767865600.5, False),)
    trades = decode_notification(
        "recent_trades.BTCUSD.all",
        [
            [65000, 0.1, "sell", 1767865600.5, "BTC-PERPETUAL", False],
            [65001, 0.2, "buy", 1767865600.6, "BTC-PERPETUAL"],
        ],
    )
    assert trades.records == (
        m.PublicTrade(65000.0, 0.1, "sell", 1767865600.5, "BTC-PERPETUAL", False),
        m.PublicTrade(65001.0, 0.2, "buy", 1767865600.6, "BTC-PERPETUAL", False),
    )


PORTFOLIO_LINE = {
    "instrument_name": "BTC-PERPETUAL",
    "position": -0.04,
    "mark_price": 64998.2,
    "iv": 0,
    "index": 64990.5,
    "start_price": 64000,
    "average_price": 65005,
    "unrealised_pnl": -39.93,
    "realised_pnl": 0,
    "entry_value": -2560,
    "unrealised_perpetual_funding": 0.1,
}
TRADE = {
    "trade_id": "T1",
    "order_id": "00011E5700000102",
    "instrument_name": "BTC-PERPETUAL",
    "direction": "sell",
    "price": 65005,
    "amount": 0.04,
    "maker_taker": "maker",
    "label": "qe",
    "client_order_id": 1002,
    "position_after": -0.04,
    "trade_type": "normal",
    "time": 1767865601.731,
    "fee": -0.52,
    "fee_rate": -0.0002,
    "index": 64990.5,
    "funding_mark": 3.21,
    "perpetual_funding_pnl": 0.0,
    "fee_basis": 2600.2,
}


def test_account_channels():
    port = decode_notification("account.portfolio", [PORTFOLIO_LINE], snapshot=True)
    (line,) = port.records
    assert (line.position, line.perpetual_funding_entry_value, line.average_price) == (
        -0.04,
        0.0,
        65005.0,
    )
    trade = decode_notification("account.trade_history", [TRADE]).records[0]
    assert trade == m.Trade(
        "T1",
        "00011E5700000102",
        1002,
        "BTC-PERPETUAL",
        "sell",
        65005.0,
        0.04,
        -0.52,
        -0.0002,
        "maker",
        -0.04,
        1767865601.731,
        "qe",
        "normal",
        0.0,
        3.21,
        64990.5,
    )
    page = m.decode_trade_history_page({"trades": [TRADE], "bookmark": None})
    assert page == ((trade,), None)
    summary = decode_notification(
        "account.summary",
        {
            "unrealised_pnl": -39.93,
            "cash_collateral": 10000,
            "margin": 9960.07,
            "required_margin": 300.5,
            "remaining_margin": 9659.57,
            "session_realised_pnl": 0,
            "cash": [
                {
                    "currency": "USD",
                    "balance": 10000,
                    "collateral_factor": 1,
                    "collateral_index_price": None,
                    "transactable": True,
                }
            ],
        },
    ).records[0]
    assert summary.remaining_margin == 9659.57
    assert summary.cash == (m.CashBalance("USD", 10000.0, 1.0, None, True),)
    mmp = decode_notification(
        "session.mm_protection",
        [{"product": "FBTCUSD", "remaining_amount": -0.2, "reason": "executions"}],
    )
    assert mmp.records == (m.MmProtectionUpdate("FBTCUSD", -0.2, "executions"),)
    system = decode_notification("system", {"event": "reconnect"})
    assert system.records == (m.SystemEvent("reconnect"),)


def test_mass_quote_result():
    assert m.decode_mass_quote_result({"n_success": 4, "n_fail": 0, "errors": []}) == (
        m.MassQuoteResult(4, 0, ())
    )
    result = m.decode_mass_quote_result(
        {
            "n_success": 1,
            "n_fail": 1,
            "errors": [{"code": 44, "message": "too large", "side": "bid", "price": 64985}],
        }
    )
    assert result.errors == (m.MassQuoteError(44, "too large", "bid", 64985.0),)
    with pytest.raises(MessageError, match="n_fail"):
        m.decode_mass_quote_result({"n_success": 1})


# --- decode_notification accounting -------------------------------------------------------------


def test_rejections_are_counted_and_sampled():
    stats = DecodeStats(sample_size=3)
    assert decode_notification("account.rfqs", [], stats=stats) is None
    assert decode_notification("ticker.X.raw", {"mark_price": 1}, stats=stats) is None
    assert decode_notification("session.orders", {"not": "a list"}, stats=stats) is None
    good, bad = _order(), _order(direction="up")
    note = decode_notification("session.orders", [good, bad, good], stats=stats)
    assert len(note.records) == 2  # the valid items survive
    assert decode_notification("session.orders", [good, bad], snapshot=True, stats=stats) is None
    assert decode_notification("session.orders", [bad], stats=stats) is None
    assert stats.unknown_channels == 1
    assert stats.malformed == 4
    assert stats.malformed_items == 1
    assert stats.rejected == 6
    assert stats.decoded == {"session.orders": 1}
    assert len(stats.recent_rejections) == 3  # bounded sample, newest last
    assert "direction" in stats.recent_rejections[-1]
    report = stats.as_dict()
    assert report["malformed"] == 4
    assert len(report["recent_rejections"]) == 3


def test_rejection_reason_is_truncated():
    stats = DecodeStats()
    decode_notification("x" * 5000, {}, stats=stats)
    decode_notification("ticker.X.raw", {"mark_price": "9" * 5000}, stats=stats)
    assert all(len(reason) <= 200 for reason in stats.recent_rejections)


# --- fuzzing -------------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
CHANNELS = st.sampled_from(
    [
        "ticker.BTC-PERPETUAL.raw",
        "lwt.BTC-PERPETUAL.100ms",
        "price_index.BTCUSD",
        "book.BTC-PERPETUAL.none.all.100ms",
        "recent_trades.BTC-PERPETUAL.single",
        "session.orders",
        "account.orders",
        "account.portfolio",
        "account.trade_history",
        "account.summary",
        "session.mm_protection",
        "system",
        "instruments",
        "nope",
        "ticker.X",
    ]
) | st.text(max_size=20)


def _check_accounting(channel, payload, snapshot):
    stats = DecodeStats()
    note = decode_notification(channel, payload, snapshot=snapshot, stats=stats)
    if note is None:
        assert stats.unknown_channels + stats.malformed == 1
        assert stats.decoded == {}
        assert len(stats.recent_rejections) >= 1
    else:
        assert stats.unknown_channels == stats.malformed == 0
        assert stats.decoded == {note.kind: 1}
        if type(payload) is list:
            assert len(note.records) + stats.malformed_items == len(payload)
        else:
            assert len(note.records) == 1
    return note


@given(channel=CHANNELS, payload=JSON, snapshot=st.booleans())
def test_fuzz_random_json_never_raises(channel, payload, snapshot):
    _check_accounting(channel, payload, snapshot)


@given(data=st.binary(max_size=200))
def test_fuzz_random_bytes_never_raise(data):
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        obj = data
    kind = classify_frame(obj)
    assert kind in {"notification", "result", "error", "invalid"}
    if kind == "notification":
        _check_accounting(obj["channel_name"], obj.get("notification"), obj.get("snapshot"))


def _mutations(value):
    return st.sampled_from([None, True, "x", -1, 0, 1e308, math.nan, [], {}, [value], {"k": value}])


GOLDEN = [
    ("ticker.BTC-PERPETUAL.100ms", orjson.loads(TICKER_FRAME)["notification"]),
    ("session.orders", orjson.loads(FILL_FRAME)["notification"]),
    ("account.portfolio", [PORTFOLIO_LINE]),
    ("account.trade_history", [TRADE]),
]


@given(which=st.sampled_from(range(len(GOLDEN))), data=st.data())
def test_fuzz_mutated_golden_payloads(which, data):
    channel, payload = GOLDEN[which]
    payload = copy.deepcopy(payload)
    target = payload[0] if type(payload) is list else payload
    key = data.draw(st.sampled_from(sorted(target)))
    target[key] = data.draw(_mutations(target[key]))
    _check_accounting(channel, payload, data.draw(st.booleans()))


# --- encoders ------------------------------------------------------------------------------------


def test_insert_params_match_the_wire_example():
    params = m.insert_params(
        direction="buy",
        instrument_name="BTC-PERPETUAL",
        amount=0.1,
        price=64985,
        order_type="limit",
        time_in_force="good_till_cancelled",
        post_only=True,
        reject_post_only=True,
        label="qe",
        client_order_id=1001,
    )
    expected = (
        b'{"direction":"buy","instrument_name":"BTC-PERPETUAL","amount":0.1,"price":64985,'
        b'"order_type":"limit","time_in_force":"good_till_cancelled","post_only":true,'
        b'"reject_post_only":true,"label":"qe","client_order_id":1001}'
    )
    assert orjson.loads(orjson.dumps(params)) == orjson.loads(expected)
    market = m.insert_params(direction="sell", instrument_name="X", amount=1, order_type="market")
    assert market == {
        "direction": "sell",
        "instrument_name": "X",
        "amount": 1,
        "order_type": "market",
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"direction": "long"}, "direction"),
        ({"amount": 0}, "positive"),
        ({"amount": True}, "number"),
        ({"price": None}, "needs a price"),
        ({"price": math.nan}, "finite"),
        ({"order_type": "market"}, "takes no price"),
        (
            {"order_type": "market", "price": None, "time_in_force": "good_till_cancelled"},
            "market order cannot",
        ),
        ({"reject_post_only": True}, "needs post_only"),
        ({"post_only": True, "time_in_force": "immediate_or_cancel"}, "post_only cannot"),
        ({"client_order_id": 2**64}, "client_order_id"),
        ({"client_order_id": -1}, "client_order_id"),
        ({"collar": "soft"}, "collar"),
        ({"instrument_name": ""}, "instrument_name"),
    ],
)
def test_insert_params_rejects(kwargs, message):
    base = {"direction": "buy", "instrument_name": "X", "amount": 0.1, "price": 1.0}
    with pytest.raises(ValueError, match=message):
        m.insert_params(**{**base, **kwargs})


def test_mass_quote_params_both_forms_round_trip():
    quotes = [
        QuoteRequest("BTC-PERPETUAL", bid=QuoteLevel(64985, 0.1), ask=QuoteLevel(65005, 0)),
        QuoteRequest("ETH-PERPETUAL", bid=(QuoteLevel(3501.2, 1), QuoteLevel(3501.1, 2)), ask=()),
        QuoteRequest("BTC-25MAR22"),
    ]
    params = m.mass_quote_params(quotes, label="qe", post_only=True, reject_post_only=True)
    assert params == {
        "quotes": [
            {"i": "BTC-PERPETUAL", "b": {"p": 64985, "a": 0.1}, "a": {"p": 65005, "a": 0}},
            {"i": "ETH-PERPETUAL", "b": [[3501.2, 1], [3501.1, 2]], "a": []},
            {"i": "BTC-25MAR22"},
        ],
        "label": "qe",
        "post_only": True,
        "reject_post_only": True,
    }
    wire = orjson.loads(orjson.dumps(params))
    assert m.decode_mass_quote_params(wire) == tuple(quotes)


def test_mass_quote_params_accepts_the_official_client_shape():
    thalex = pytest.importorskip("thalex.thalex")
    quote = thalex.Quote("BTC-PERPETUAL", thalex.SideQuote(64985, 0.1), None)
    (decoded,) = m.decode_mass_quote_params({"quotes": [quote.dumps()]})
    assert decoded == QuoteRequest("BTC-PERPETUAL", bid=QuoteLevel(64985.0, 0.1))


@pytest.mark.parametrize(
    ("quotes", "message"),
    [
        ([], "1..100"),
        ([QuoteRequest(f"I{i}") for i in range(101)], "1..100"),
        ([QuoteRequest("X"), QuoteRequest("X")], "once"),
        ([QuoteRequest("X", bid=tuple(QuoteLevel(p, 1) for p in range(11)))], "at most 10"),
        ([QuoteRequest("X", bid=(QuoteLevel(1, 1), QuoteLevel(1, 2)))], "distinct"),
        ([QuoteRequest("X", bid=(QuoteLevel(1, 0),))], "positive"),
        ([QuoteRequest("X", bid=QuoteLevel(1, -1))], "negative"),
        ([QuoteRequest("X", ask=QuoteLevel(math.inf, 1))], "finite"),
    ],
)
def test_mass_quote_params_rejects(quotes, message):
    with pytest.raises(ValueError, match=message):
        m.mass_quote_params(quotes)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"quotes": []},
        {"quotes": {}},
        {"quotes": [{"b": {"p": 1, "a": 1}}]},
        {"quotes": [{"i": "X", "b": {"p": 1}}]},
        {"quotes": [{"i": "X", "b": {"p": 1, "a": -1}}]},
        {"quotes": [{"i": "X", "b": [[1, 1, 1]]}]},
        {"quotes": [{"i": "X", "b": [[1, 1], [1, 2]]}]},
        {"quotes": [{"i": "X", "a": "1@2"}]},
        {"quotes": [{"i": "X"}, {"i": "X"}]},
        {"quotes": [{"i": "X", "b": {"p": True, "a": 1}}]},
        [],
    ],
)
def test_decode_mass_quote_params_rejects(params):
    with pytest.raises(MessageError):
        m.decode_mass_quote_params(params)
