"""decode_ticker's one-pass path gives exactly what the field-by-field checking path gives."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qengine.io.messages import MessageError, decode_ticker
from qengine.io.messages_market import _TICKER_KEYS, _decode_ticker_checked

values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**1100), max_value=2**1100),
    st.none(), st.booleans(), st.text(max_size=3), st.just([]),
)
tickers = st.dictionaries(st.sampled_from(_TICKER_KEYS), values).map(
    lambda d: {"mark_price": 100.0, "mark_timestamp": 1.0, "index": 99.5, **d})


def _outcome(decode, obj):
    try:
        return decode(obj, "BTC-PERPETUAL")
    except MessageError as exc:
        return ("error", str(exc))


@given(obj=tickers)
def test_fast_and_checked_paths_agree_on_any_ticker(obj):
    assert _outcome(decode_ticker, obj) == _outcome(_decode_ticker_checked, obj)


@given(obj=st.dictionaries(st.sampled_from(_TICKER_KEYS), values))
def test_fast_and_checked_paths_agree_when_required_fields_may_be_missing(obj):
    assert _outcome(decode_ticker, obj) == _outcome(_decode_ticker_checked, obj)


def test_integer_prices_become_floats_and_an_empty_side_stays_empty():
    ticker = decode_ticker({"best_bid_price": 64998, "best_bid_amount": 0, "best_ask_price": 65001,
                            "best_ask_amount": 0.5, "mark_price": 65000, "mark_timestamp": 5,
                            "index": 64990}, "X")
    assert (ticker.best_bid_price, ticker.best_bid_amount) == (None, None)
    assert ticker.best_ask_price == 65001.0
    assert type(ticker.best_ask_price) is float
    assert ticker.mark_price == 65000.0
    assert ticker.last_price is None


@pytest.mark.parametrize("bad", [math.inf, math.nan, True, "1", 2**1100])
def test_a_bad_required_number_is_a_specific_error(bad):
    with pytest.raises(MessageError, match="mark_price"):
        decode_ticker({"mark_price": bad, "mark_timestamp": 1.0, "index": 1.0}, "X")


def test_a_negative_amount_is_refused():
    with pytest.raises(MessageError, match="best_ask_amount"):
        decode_ticker({"best_ask_price": 1.0, "best_ask_amount": -1.0, "mark_price": 1.0,
                       "mark_timestamp": 1.0, "index": 1.0}, "X")
