"""Decoding real exchange data: Thalex's schema marks no field of an Instrument or a Trade
required, so an odd row (another instrument without ``tick_size``, a trade row of a non-fill type
or with a missing field) is handed on as a ``SkippedRow`` naming the problem, never raised."""

from __future__ import annotations

import pytest

from qengine.config import EngineConfig
from qengine.engine._state import select_instruments
from qengine.errors import StartupError
from qengine.io import messages as m
from qengine.io.messages import DecodeStats, SkippedRow, decode_notification

PERP = {"instrument_name": "BTC-PERPETUAL", "product": "FBTCUSD", "tick_size": 1,
        "volume_tick_size": 0.001, "min_order_amount": 0.001, "underlying": "BTCUSD",
        "type": "perpetual", "base_currency": "USD"}
ODD_OPTION = {"instrument_name": "BTC-27MAR26-90000-C", "product": "OBTCUSD",
              "volume_tick_size": 0.01, "underlying": "BTCUSD", "type": "option"}
FILL = {"trade_id": "T1", "order_id": "O1", "instrument_name": "BTC-PERPETUAL",
        "direction": "buy", "price": 65000, "amount": 0.01, "trade_type": "normal",
        "time": 1767865601.7, "maker_taker": "maker", "fee": 0.13, "label": "qengine"}
#: The schema's ``Trade.trade_type`` values that are not executions of an order.
NON_FILL_TYPES = ("amend", "delete", "internal_transfer", "expiration", "daily_mark")


def test_an_instrument_row_without_tick_size_is_skipped_and_named():
    row = m.decode_instrument_row(ODD_OPTION)
    assert row == SkippedRow("instrument", "BTC-27MAR26-90000-C", None, None,
                             "missing required field 'tick_size'")
    assert m.decode_instrument_row(PERP).tick_size == 1.0
    assert isinstance(m.decode_instrument_row("not an object"), SkippedRow)


def test_another_incomplete_instrument_does_not_fail_start_up():
    listed = [m.decode_instrument_row(r) for r in (ODD_OPTION, PERP, {"type": "future"})]
    (spec,) = select_instruments(EngineConfig(), listed)
    assert (spec.name, spec.tick_size, spec.volume_tick) == ("BTC-PERPETUAL", 1.0, 0.001)


def test_our_instrument_without_tick_size_is_a_precise_start_up_error():
    ours = {k: v for k, v in PERP.items() if k != "tick_size"}
    listed = [m.decode_instrument_row(r) for r in (ODD_OPTION, ours)]
    with pytest.raises(StartupError, match=r"instrument 'BTC-PERPETUAL' cannot be quoted: its "
                                           r"public/instruments row is incomplete \(missing "
                                           r"required field 'tick_size'\)"):
        select_instruments(EngineConfig(), listed)
    second = EngineConfig(second_instrument="BTC-27MAR26-90000-C")
    with pytest.raises(StartupError, match=r"'BTC-27MAR26-90000-C'.*'tick_size'"):
        select_instruments(second, [m.decode_instrument_row(r) for r in (ODD_OPTION, PERP)])
    with pytest.raises(StartupError, match="unknown instrument 'BTC-PERPETUAL'"):
        select_instruments(EngineConfig(), [m.decode_instrument_row(ODD_OPTION)])


@pytest.mark.parametrize("trade_type", NON_FILL_TYPES)
def test_non_fill_trade_rows_are_skipped_whatever_they_carry(trade_type):
    bare = {"trade_type": trade_type, "trade_id": "X", "time": 1.0}  # no instrument, no price
    row = m.decode_trade_row(bare)
    assert row == SkippedRow("trade", None, "X", trade_type,
                             f"trade_type {trade_type!r} is not a fill")
    full = {**FILL, "trade_type": trade_type}
    assert m.decode_trade_row(full).reason == f"trade_type {trade_type!r} is not a fill"


@pytest.mark.parametrize(("missing", "field"), [
    ("trade_id", "'trade_id'"), ("instrument_name", "'instrument_name'"),
    ("direction", "'direction'"), ("price", "'price'"), ("amount", "'amount'"),
])
def test_fill_rows_missing_a_booking_field_are_skipped_with_the_field_named(missing, field):
    row = m.decode_trade_row({k: v for k, v in FILL.items() if k != missing})
    assert isinstance(row, SkippedRow)
    assert field in row.reason
    assert row.trade_type == "normal"


def test_optional_trade_fields_may_be_missing():
    bare = {k: FILL[k] for k in ("trade_id", "instrument_name", "direction", "price", "amount")}
    trade = m.decode_trade_row(bare)
    assert isinstance(trade, m.Trade)
    assert (trade.time, trade.fee, trade.trade_type, trade.maker_taker) == (None, None, None, None)


def test_odd_values_never_raise():
    for row in (None, 3, [], {"trade_type": ["x"]}, {"trade_type": 5}, {**FILL, "price": "1"}):
        assert isinstance(m.decode_trade_row(row), SkippedRow)


def test_trade_history_page_and_channel_keep_fills_and_hand_on_the_rest():
    rows = [FILL, {"trade_type": "daily_mark", "instrument_name": "BTC-PERPETUAL", "time": 2.0},
            {"trade_type": "internal_transfer", "amount": 5, "time": 3.0},
            {**FILL, "trade_id": "T2", "direction": None}]
    page, bookmark = m.decode_trade_history_page({"trades": rows, "bookmark": "10"})
    assert bookmark == "10"
    assert [type(r).__name__ for r in page] == ["Trade", "SkippedRow", "SkippedRow",
                                                "SkippedRow"]
    assert m.decode_trade_history_page({}) == ((), None)
    stats = DecodeStats()
    note = decode_notification("account.trade_history", rows, stats=stats)
    assert note.records == page
    assert (stats.malformed, stats.malformed_items) == (0, 0)


def test_portfolio_lines_without_position_are_handed_on_named():
    line = m.decode_portfolio_row({"instrument_name": "BTC-PERPETUAL", "mark_price": 1.0})
    assert line == SkippedRow("portfolio entry", "BTC-PERPETUAL", None, None,
                              "missing required field 'position'")
    note = decode_notification("account.portfolio", [{"position": 1}], snapshot=True)
    assert note is not None
    assert isinstance(note.records[0], SkippedRow)
