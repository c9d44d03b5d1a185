"""The raw ticker decoder against its twin (orjson + io's decoder + StepGrid) on generated frames:
every frame gives the twin's values bit for bit, or WIRE_FALLBACK; never a value io would not
give, never an acceptance of something io rejects."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qengine.kernels import codes
from qengine.kernels.ticker_wire import ticker_decode, ticker_tick
from qengine.units import StepGrid
from tests.reference import ticker_wire as twin

CHANNEL = b"ticker.BTC-PERPETUAL.raw"
TICKS = (0.5, 1.0, 0.01, 0.0001)
LOTS = (0.001, 0.01, 1.0)
FIELDS = ("best_bid_price", "best_bid_amount", "best_ask_price", "best_ask_amount", "last_price",
          "mark_price", "mark_timestamp", "index", "funding_rate", "funding_mark", "collar_low",
          "collar_high")
REQUIRED = ("mark_price", "mark_timestamp", "index")
EXTRA = ("delta", "volume_24h", "value_24h", "open_interest", "forward", "iv", "change_24h")
SPACES = ("", "", "", " ", "\n", "\t", "\r\n  ")


def grid_of(tick, lot):
    return np.array([*StepGrid(tick).decimal_parts, *StepGrid(lot).decimal_parts], np.int64)


def run(fn, frame, tick, lot, channel=CHANNEL):
    ticks, values = np.full(4, -7, np.int64), np.full(5, -7.0)
    status = fn(frame, channel, grid_of(tick, lot), tick, ticks, values)
    return status, ticks, values


def check(frame, tick=1.0, lot=0.001, channel=CHANNEL):
    """The kernel takes ``frame`` with the twin's exact values, or falls back; returns its
    status."""
    status, ticks, values = run(ticker_decode, frame, tick, lot, channel)
    expected, twin_ticks, twin_values = run(twin.ticker_decode, frame, tick, lot, channel)
    if status == codes.WIRE_OK:
        assert expected == codes.WIRE_OK, frame
        assert ticks.tolist() == twin_ticks.tolist(), frame
        assert values.view(np.int64).tolist() == twin_values.view(np.int64).tolist(), frame
    else:
        assert status == codes.WIRE_FALLBACK
    return status, expected


# -- number texts ------------------------------------------------------------------------------

def _decimal(draw, digits_max):
    digits = draw(st.integers(1, digits_max))
    body = str(draw(st.integers(0, 10**digits - 1)))
    point = draw(st.integers(0, len(body)))
    text = body[:point] + ("." + body[point:] if point < len(body) else "")
    if text.startswith("."):
        text = "0" + text
    text = text.lstrip("0") or "0"
    if text.startswith("."):
        text = "0" + text
    if draw(st.booleans()):
        letter = draw(st.sampled_from("eE"))
        sign = draw(st.sampled_from(["", "+", "-"]))
        text += letter + sign + str(draw(st.integers(0, 30)))
    return text


MALFORMED_NUMBERS = ("01", "+1", ".5", "5.", "1e", "1e+", "NaN", "Infinity", "1e400", "--1",
                     "0x10", "1.2.3", "- 1")
BAD_VALUES = ('"65000"', "true", "false", "{}", "[1]", '"a\\u0062"', '"\xe9"', "nul", '{"x":1}')


@st.composite
def numbers(draw, step=1.0, negative=True):
    """Valid JSON number texts: on and off the grid, exponent forms, huge digit counts."""
    kind = draw(st.integers(0, 6))
    sign = "-" if negative and draw(st.integers(0, 5)) == 0 else ""
    if kind <= 2:  # on the grid, as the exchange writes it
        return sign + repr(StepGrid(step).value(draw(st.integers(0, 10**9))))
    if kind == 3:
        return sign + str(draw(st.integers(0, 10**draw(st.integers(1, 25)))))
    if kind == 4:
        value = draw(st.floats(min_value=0.0, max_value=draw(st.sampled_from([1e9, 1e300]))))
        return sign + repr(value)
    if kind == 5:
        return sign + draw(st.sampled_from(["1e-05", "6.00005E4", "0", "0.0", "0e0", "-0",
                                            "65000.25", "123456789012345678", "0.1e1",
                                            "9007199254740993", "1.7976931348623157e308"]))
    return sign + _decimal(draw, draw(st.sampled_from([6, 15, 17, 19, 30])))


@st.composite
def frames(draw):
    """Ticker frames: random key order, nulls, extra fields, number forms; about half carry one
    defect (a malformed or wrong-typed value, a negative amount, a duplicated key, a snapshot
    flag, another channel, a missing required field, trailing bytes, truncation, a bad byte)."""
    tick, lot = draw(st.sampled_from(TICKS)), draw(st.sampled_from(LOTS))
    defect = draw(st.integers(0, 22))
    keys = [k for k in FIELDS if k in REQUIRED or draw(st.integers(0, 5)) > 0]
    if defect == 0:
        keys.remove(draw(st.sampled_from(keys)))
    keys += draw(st.lists(st.sampled_from(EXTRA), max_size=3, unique=True))
    if defect == 1:
        keys.append(draw(st.sampled_from(keys)))  # a duplicated key
    keys = draw(st.permutations(keys))
    ws = draw(st.sampled_from(SPACES))
    spoiled = draw(st.sampled_from(keys)) if defect in (2, 3, 4) else None
    items = []
    for key in keys:
        if key in EXTRA:
            value = draw(st.one_of(numbers(), st.sampled_from(['"x"', "null", "true"])))
        elif key == spoiled:
            value = draw(st.sampled_from(
                MALFORMED_NUMBERS if defect == 2 else BAD_VALUES if defect == 3 else ["-1"]))
        elif key not in REQUIRED and draw(st.integers(0, 6)) == 0:
            value = "null"
        else:
            amount = key.endswith("amount")
            value = draw(numbers(lot if amount else tick, negative=not amount))
        items.append(f'"{key}"{ws}:{ws}{value}')
    ticker = "{" + ws + f",{ws}".join(items) + ws + "}"
    channel = "ticker.BTC-PERPETUAL.raw"
    if defect == 5:
        channel = draw(st.sampled_from(["ticker.ETH-PERPETUAL.raw", "ticker.BTC-PERPETUAL.100ms",
                                        "ticker.BTC-PERPETUAL.ra\\u0077"]))
    top = [f'"channel_name":{ws}"{channel}"', f'"notification":{ws}{ticker}']
    if defect == 6:
        top.append('"snapshot":true')
    top = draw(st.permutations(top))
    tail = draw(st.sampled_from(["x", "\x0c", "}"])) if defect == 7 else ws
    frame = (ws + "{" + ",".join(top) + "}" + tail).encode()
    if defect == 8:
        frame = frame[:draw(st.integers(0, len(frame)))]
    elif defect == 9:
        at = draw(st.integers(0, len(frame) - 1))
        frame = frame[:at] + bytes([draw(st.integers(0, 255))]) + frame[at + 1:]
    elif defect == 10:
        at = draw(st.integers(0, len(frame)))
        frame = frame[:at] + b"\xff" + frame[at:]
    return frame, tick, lot


@settings(max_examples=1500)
@given(frames())
def test_every_frame_gives_the_twins_values_or_falls_back(case):
    frame, tick, lot = case
    check(frame, tick, lot)


@st.composite
def clean_frames(draw):
    """What the exchange sends: every field a plain number (on the grid for the touch)."""
    tick, lot = draw(st.sampled_from(TICKS)), draw(st.sampled_from(LOTS))
    prices, lots = StepGrid(tick), StepGrid(lot)
    fields = {
        "best_bid_price": repr(prices.value(draw(st.integers(1, 10**8)))),
        "best_bid_amount": repr(lots.value(draw(st.integers(0, 10**6)))),
        "best_ask_price": repr(prices.value(draw(st.integers(1, 10**8)))),
        "best_ask_amount": repr(lots.value(draw(st.integers(0, 10**6)))),
        "mark_price": repr(draw(st.floats(1e-3, 1e9))),
        "mark_timestamp": repr(draw(st.floats(0, 2e9))),
        "index": repr(draw(st.floats(1e-3, 1e9))),
        "collar_low": repr(prices.value(draw(st.integers(1, 10**8)))),
        "collar_high": repr(prices.value(draw(st.integers(1, 10**8)))),
        "delta": "1", "volume_24h": "812.4", "funding_rate": "0.00012",
    }
    order = draw(st.permutations(list(fields)))
    ticker = ",".join(f'"{key}":{fields[key]}' for key in order)
    return ('{"channel_name":"ticker.BTC-PERPETUAL.raw","notification":{' + ticker +
            "}}").encode(), tick, lot


@given(clean_frames())
def test_the_exchanges_tickers_take_the_wire_path(case):
    frame, tick, lot = case
    status, _ = check(frame, tick, lot)
    # Floats beyond 15 significant digits are taken too (exact long division); only the
    # exponent form of a float's repr (1e-05, 1e+16) may fall back.
    if b"e-" not in frame and b"e+" not in frame:
        assert status == codes.WIRE_OK


# -- the rules, one by one ----------------------------------------------------------------------

BASE = {"best_bid_price": "64999", "best_bid_amount": "0.636", "best_ask_price": "65001",
        "best_ask_amount": "0.915", "mark_price": "65000.25", "mark_timestamp": "1767865600.101",
        "index": "64990.5", "collar_low": "63050", "collar_high": "66950"}


def frame_of(channel="ticker.BTC-PERPETUAL.raw", **fields):
    body = {**BASE, **fields}
    ticker = ",".join(f'"{k}":{v}' for k, v in body.items() if v is not None)
    return f'{{"channel_name":"{channel}","notification":{{{ticker}}}}}'.encode()


def decoded(frame, tick=1.0, lot=0.001):
    status, ticks, values = run(ticker_decode, frame, tick, lot)
    return status, ticks.tolist(), values.tolist()


def test_a_ticker_decodes_into_ticks_lots_and_fractional_ticks():
    status, ticks, values = decoded(frame_of())
    assert status == codes.WIRE_OK
    assert ticks == [64999, 65001, 636, 915]
    assert values == [65000.25, 64990.5, 63050.0, 66950.0, 1767865600.101]
    assert check(frame_of(), 0.5, 0.01)[0] == codes.WIRE_OK


@pytest.mark.parametrize("fields", [
    {"best_bid_amount": "0"}, {"best_bid_amount": "null"}, {"best_bid_price": "null"},
    {"best_bid_price": None}, {"best_bid_amount": "-0.0"},
])
def test_a_missing_side_is_zero_ticks_and_lots(fields):
    status, ticks, _ = decoded(frame_of(**fields))
    assert status == codes.WIRE_OK
    assert ticks[0] == ticks[2] == 0
    assert ticks[1] == 65001
    check(frame_of(**fields))


@pytest.mark.parametrize("fields", [
    {"best_bid_amount": "-1"}, {"mark_price": "null"}, {"index": None},
    {"mark_timestamp": '"1"'}, {"last_price": "true"}, {"best_ask_price": "1e400"},
])
def test_what_io_rejects_falls_back_and_io_rejects_it(fields):
    frame = frame_of(**fields)
    assert decoded(frame)[0] == codes.WIRE_FALLBACK
    assert twin.decoded_ticker(frame, CHANNEL) is None


@pytest.mark.parametrize("frame", [
    frame_of(channel="ticker.ETH-PERPETUAL.raw"),
    frame_of(best_bid_price="64999.00000000000001"),  # 21 digits
    frame_of(best_bid_price="6.4999e4"),  # an exponent: taken, exactly
    frame_of().replace(b'"notification"', b'"snapshot":true,"notification"'),
    frame_of().replace(b'"index"', b'"ind\\u0065x"'),
    frame_of().replace(b"64999", b"64999", 1) + b" ",
    frame_of()[:-1],
    b'{"notification":' + frame_of()[frame_of().find(b"{", 1):-1] +
    b',"channel_name":"ticker.BTC-PERPETUAL.raw"}',
])
def test_other_shapes_agree_with_the_twin(frame):
    check(frame)


def test_an_off_grid_price_rounds_by_its_decimal_ties_to_even():
    for text, tick, expected in (("1.25", 0.5, 2), ("1.75", 0.5, 4), ("0.00015", 0.0001, 2),
                                 ("0.00025", 0.0001, 2), ("-2.5", 1.0, -2),
                                 ("6.00005E4", 1.0, 60000)):
        status, ticks, _ = decoded(frame_of(best_bid_price=text), tick)
        assert status == codes.WIRE_OK, text
        assert ticks[0] == expected, text
        check(frame_of(best_bid_price=text), tick)


def test_floats_of_16_to_18_digits_are_correctly_rounded():
    for text in ("65000.123456789012", "0.30000000000000004", "9007199254740993",
                 "123456789012345678", "1.00000000000000011"):
        status, _, values = decoded(frame_of(mark_price=text))
        assert status == codes.WIRE_OK
        assert values[0] == float(text)


def test_ticker_tick_is_the_decode_then_engine_tick_and_falls_back_without_writing():
    from qengine.kernels.dtypes import POSITION
    from qengine.kernels.params import make_quote_params
    from qengine.strategy.setup import new_gate_state, new_pacing_state
    from tests.kernels.test_decision import params
    from tests.kernels.test_quote_cycle import MULT, World

    quote_params = make_quote_params(level_count=3, base_size_lots=10, position_limit_lots=500,
                                     min_spread_ticks=2, max_spread_ticks=400)
    p = params(levels=3)
    runs = []
    for fn in (ticker_tick, twin.ticker_tick):
        world, gate, pacing = World([]), new_gate_state(ready=True), new_pacing_state(p, 0)
        state = (world.samples, world.cursor, world.vol_state, world.vol_returns,
                 world.intensity_state)
        ticks, values = np.zeros(4, np.int64), np.zeros(5)
        lane = (CHANNEL, grid_of(1.0, 0.001), 1.0, ticks, values)
        rest = (np.zeros(1, POSITION), (world.quotes, world.diag), world.orders, 0, 2,
                world.actions)
        now = 10**13
        log = []
        for frame in (frame_of()[:-2], frame_of(), frame_of(best_bid_price="64990")):
            n = fn((p, gate, pacing), now, len(log) + 1, now, frame, *lane,
                   (quote_params, MULT, MULT), state, *rest)
            decoded = ticks.tolist() if n != codes.TICK_FALLBACK else None  # else scratch
            log.append((n, world.actions[:max(n, 0)].tolist(), pacing.tolist(), decoded))
            now += 10**9
        runs.append(log)
    assert runs[0] == runs[1]
    assert runs[0][0][0] == codes.TICK_FALLBACK
    assert runs[0][1][0] > 0  # quoted on the decoded book
    assert runs[0][1][3] == [64999, 65001, 636, 915]


def test_every_known_key_is_in_its_length_slot_once():
    from qengine.kernels import ticker_wire

    for row, key in enumerate(ticker_wire._KEYS):
        slots = ticker_wire._BY_LENGTH[len(key)]
        assert list(slots).count(row) == 1, key
        assert bytes(ticker_wire._KEY_BYTES[row, :len(key)]) == key.encode()
