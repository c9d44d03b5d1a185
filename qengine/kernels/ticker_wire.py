"""A Thalex ticker push decoded from its raw JSON bytes into the book's ticks, lots and floats.

:func:`ticker_decode` reads one frame ``{"channel_name": ..., "notification": {ticker}}`` and
writes what the engine's listener writes from a decoded ticker (``qengine.units.StepGrid``):
best bid/ask price in the nearest tick and amount in the nearest lot (by the number's decimal,
ties to even; a side whose price or amount is null or missing, or whose amount is zero, is
``0, 0``), mark price and collars in fractional ticks (``value / tick_size``; a null collar is
``0.0``), the index price and ``mark_timestamp``. Numbers are read from their decimal text,
``mantissa * 10**exponent``; the float is the correctly rounded one (what orjson gives).

It takes only what it can decode exactly and what io's decoder accepts: strict JSON (the four
whitespace bytes, plain ASCII strings without escapes), the twelve ticker fields as numbers or
null, other ticker fields as numbers, plain strings, booleans or null, no duplicated ticker
field, exactly the two top-level keys (any order), the expected channel name. Everything else
(nested or escaped values, negative amounts, missing required fields, more than 18 significant
digits, or 15 for a price or amount, large exponents, other channels, truncated or non-ASCII
bytes) is ``WIRE_FALLBACK``: the caller decodes that frame the general way, which keeps every
rejection it has. :func:`ticker_tick` is the decode and ``decision.engine_tick`` in one call.
"""

from __future__ import annotations

import numba
import numpy as np

from . import codes
from ._jit import helper, kernel
from .decision import engine_tick
from .dtypes import (
    ACTION_T,
    DECISION_T,
    ORDER_T,
    POSITION_T,
    QUOTE_OUT_T,
    QUOTE_SETUP_T,
    QUOTE_STATE_T,
)
from .json_text import (
    BYTES_T,
    literal_end,
    nearest_steps,
    number_float,
    read_number,
    same_text,
    skip_space,
    string_end,
)

_i8 = numba.types.int64
_f8 = numba.types.float64
_I8_ARRAY = numba.types.int64[::1]
_F8_ARRAY = numba.types.float64[::1]

#: ``grid`` slots: the tick and the lot as ``m * 10**-k`` (``units.StepGrid``'s parts).
GRID_TICK_M, GRID_TICK_K, GRID_LOT_M, GRID_LOT_K = 0, 1, 2, 3
#: ``out_ticks`` slots (int64) and ``out_values`` slots (float64).
OUT_BID_TICKS, OUT_ASK_TICKS, OUT_BID_LOTS, OUT_ASK_LOTS = 0, 1, 2, 3
OUT_MARK_TICKS, OUT_INDEX, OUT_COLLAR_LOW_TICKS, OUT_COLLAR_HIGH_TICKS, OUT_MARK_TIMESTAMP = (
    0, 1, 2, 3, 4)

_KEYS = ("best_bid_price", "best_bid_amount", "best_ask_price", "best_ask_amount", "last_price",
         "mark_price", "mark_timestamp", "index", "funding_rate", "funding_mark", "collar_low",
         "collar_high", "channel_name", "notification")
_BID_P, _BID_A, _ASK_P, _ASK_A, _LAST, _MARK, _STAMP, _INDEX, _F_RATE, _F_MARK = range(10)
_C_LOW, _C_HIGH, _CHANNEL, _NOTIFICATION = 10, 11, 12, 13
_TICKER_FIELDS = 12
_KEY_LENGTHS = [len(key) for key in _KEYS]
_KEY_BYTES = np.zeros((len(_KEYS), max(_KEY_LENGTHS)), np.uint8)
#: ``_BY_LENGTH[n]``: the rows of the keys ``n`` bytes long (-1 pads), sized from the keys so
#: that no key can be left out.
_BY_LENGTH = np.full((max(_KEY_LENGTHS) + 1, max(map(_KEY_LENGTHS.count, _KEY_LENGTHS))), -1,
                     np.int64)
for _row, _key in enumerate(_KEYS):
    _KEY_BYTES[_row, :len(_key)] = np.frombuffer(_key.encode(), np.uint8)
    _BY_LENGTH[len(_key), _KEY_LENGTHS[:_row].count(len(_key))] = _row


@helper(_i8(BYTES_T, _i8, _i8), inline=True)
def _key_index(frame, start, end):
    """Index in ``_KEYS`` of the string content ``frame[start:end]``, -1 for other keys."""
    length = end - start
    if length >= _BY_LENGTH.shape[0]:
        return -1
    for slot in range(_BY_LENGTH.shape[1]):
        row = _BY_LENGTH[length, slot]
        if row < 0:
            break
        same = True
        for i in range(length):
            if frame[start + i] != _KEY_BYTES[row, i]:
                same = False
                break
        if same:
            return row
    return -1


_FIELD = numba.types.UniTuple(_i8, 2)
#: ``_field`` flags: the field holds a number (not null); an amount that is not zero.
_NUMBER_SEEN, _NONZERO = 1, 2


@helper(_FIELD(BYTES_T, _i8, _i8, _I8_ARRAY, _f8, _I8_ARRAY, _F8_ARRAY), inline=True)
def _field(frame, pos, key, grid, tick_size, out_ticks, out_values):
    """Read ticker field ``key``'s value at ``pos`` into the outputs: ``(end, flags)``, end -1
    when the general way must decode the frame."""
    if frame[pos] == 110:  # null: as if missing
        return literal_end(frame, pos), 0
    end, mantissa, exponent, digits, negative, integral = read_number(frame, pos)
    if end < 0:
        return -1, 0
    ok, value = number_float(mantissa, exponent, negative, integral)
    if not ok:
        return -1, 0
    flags = _NUMBER_SEEN
    if key <= _ASK_A:  # best bid/ask price (even keys) and amount (odd keys)
        amount = key % 2 == 1
        if amount and negative != 0 and mantissa != 0:
            return -1, 0  # a negative amount: io rejects the ticker
        m = grid[GRID_LOT_M] if amount else grid[GRID_TICK_M]
        k = grid[GRID_LOT_K] if amount else grid[GRID_TICK_K]
        ok, steps = nearest_steps(mantissa, exponent, digits, negative, m, k)
        if not ok:
            return -1, 0
        # out_ticks: bid ticks, ask ticks, bid lots, ask lots
        out_ticks[(key // 2) + (2 if amount else 0)] = steps
        if mantissa != 0:
            flags |= _NONZERO
    elif key == _MARK:
        out_values[OUT_MARK_TICKS] = value / tick_size
    elif key == _INDEX:
        out_values[OUT_INDEX] = value
    elif key == _STAMP:
        out_values[OUT_MARK_TIMESTAMP] = value
    elif key == _C_LOW:
        out_values[OUT_COLLAR_LOW_TICKS] = value / tick_size
    elif key == _C_HIGH:
        out_values[OUT_COLLAR_HIGH_TICKS] = value / tick_size
    return end, flags


@helper(_i8(BYTES_T, _i8), inline=True)
def _skip_value(frame, pos):
    """End of another ticker field's value (a plain string, a number, a literal); -1 for
    anything else, and for numbers io's parser might not take as finite."""
    c = frame[pos]
    if c == 34:
        return string_end(frame, pos)
    if c == 45 or 48 <= c <= 57:
        end, mantissa, exponent, _, negative, integral = read_number(frame, pos)
        if end >= 0 and not number_float(mantissa, exponent, negative, integral)[0]:
            return -1
        return end
    return literal_end(frame, pos)


@helper(_FIELD(BYTES_T, _i8), inline=True)
def _key(frame, pos):
    """The object key at ``pos`` (an index in ``_KEYS``, -1 for others) and where its value
    starts; ``(-2, -1)`` when it is not a plain key followed by a colon."""
    n = len(frame)
    if pos >= n or frame[pos] != 34:
        return -2, -1
    end = string_end(frame, pos)
    if end < 0:
        return -2, -1
    key = _key_index(frame, pos + 1, end - 1)
    pos = skip_space(frame, end)
    if pos >= n or frame[pos] != 58:
        return -2, -1
    pos = skip_space(frame, pos + 1)
    if pos >= n:
        return -2, -1
    return key, pos


@helper(_FIELD(BYTES_T, _i8), inline=True)
def _next(frame, pos):
    """After a value: ``(position, 1)`` past a comma, ``(position, 0)`` past a closing brace,
    ``(-1, 0)`` otherwise."""
    pos = skip_space(frame, pos)
    if pos < len(frame):
        if frame[pos] == 44:
            return skip_space(frame, pos + 1), 1
        if frame[pos] == 125:
            return skip_space(frame, pos + 1), 0
    return -1, 0


@helper(_FIELD(BYTES_T, _i8, _I8_ARRAY, _f8, _I8_ARRAY, _F8_ARRAY), inline=True)
def _ticker_object(frame, pos, grid, tick_size, out_ticks, out_values):
    """Read the ticker object opening at ``pos``: ``(end, fields with a number | nonzero
    amounts << 16)``; end -1 when the general way must decode the frame."""
    pos = skip_space(frame, pos + 1)
    seen = 0
    present = 0
    nonzero = 0
    more = 1
    while more == 1:
        key, pos = _key(frame, pos)
        if key == -2:
            return -1, 0
        if 0 <= key < _TICKER_FIELDS:
            if (seen >> key) & 1 != 0:
                return -1, 0  # io would keep the last one: the general way decides
            seen |= 1 << key
            pos, flags = _field(frame, pos, key, grid, tick_size, out_ticks, out_values)
            if flags & _NUMBER_SEEN:
                present |= 1 << key
            if flags & _NONZERO:
                nonzero |= 1 << key
        else:
            pos = _skip_value(frame, pos)
        if pos < 0:
            return -1, 0
        pos, more = _next(frame, pos)
        if pos < 0:
            return -1, 0
    return pos, present | (nonzero << 16)


@kernel(_i8(BYTES_T, BYTES_T, _I8_ARRAY, _f8, _I8_ARRAY, _F8_ARRAY))
def ticker_decode(frame, channel, grid, tick_size, out_ticks, out_values):
    """Decode one raw ticker push of ``channel`` (see the module text) into ``out_ticks``
    (``OUT_BID_TICKS`` ...) and ``out_values`` (``OUT_MARK_TICKS`` ...); ``grid`` holds the
    tick and the lot (``GRID_*``), ``tick_size`` the tick as a float. Returns ``WIRE_OK`` or
    ``WIRE_FALLBACK`` (the outputs are then unspecified)."""
    fail = codes.WIRE_FALLBACK
    n = len(frame)
    pos = skip_space(frame, 0)
    if pos >= n or frame[pos] != 123:
        return fail
    pos = skip_space(frame, pos + 1)
    out_values[OUT_COLLAR_LOW_TICKS] = 0.0
    out_values[OUT_COLLAR_HIGH_TICKS] = 0.0
    fields = -1
    has_channel = False
    more = 1
    while more == 1:
        key, pos = _key(frame, pos)
        if key == _CHANNEL and not has_channel and frame[pos] == 34:
            end = string_end(frame, pos)
            if end < 0 or not same_text(frame, pos + 1, end - 1, channel):
                return fail
            has_channel = True
            pos = end
        elif key == _NOTIFICATION and fields < 0 and frame[pos] == 123:
            pos, fields = _ticker_object(frame, pos, grid, tick_size, out_ticks, out_values)
            if pos < 0:
                return fail
        else:
            return fail  # snapshot flags, ids, repeated or other keys: the general way
        pos, more = _next(frame, pos)
        if pos < 0:
            return fail
    required = (1 << _MARK) | (1 << _STAMP) | (1 << _INDEX)
    if pos != n or not has_channel or fields < 0 or fields & required != required:
        return fail
    present, nonzero = fields & 0xFFFF, fields >> 16
    if (present >> _BID_P) & 1 == 0 or (nonzero >> _BID_A) & 1 == 0:
        out_ticks[OUT_BID_TICKS] = out_ticks[OUT_BID_LOTS] = 0  # a missing side stays missing
    if (present >> _ASK_P) & 1 == 0 or (nonzero >> _ASK_A) & 1 == 0:
        out_ticks[OUT_ASK_TICKS] = out_ticks[OUT_ASK_LOTS] = 0
    return codes.WIRE_OK


@kernel(
    _i8(DECISION_T, _i8, _i8, _i8, BYTES_T, BYTES_T, _I8_ARRAY, _f8, _I8_ARRAY, _F8_ARRAY,
        QUOTE_SETUP_T, QUOTE_STATE_T, POSITION_T, QUOTE_OUT_T, ORDER_T, _i8, _i8, ACTION_T)
)
def ticker_tick(decision, now_ns, book_updates, book_time_ns, frame, channel, grid, tick_size,
                out_ticks, out_values, setup, state, positions, out, orders, instrument,
                amend_threshold_ticks, out_actions):
    """The reader's one call for a read that brought only the quoted ticker: decode it
    (:func:`ticker_decode`), then ``engine_tick`` inline on the new book (time
    ``book_time_ns``, ``book_updates`` counting it). Returns ``codes.TICK_FALLBACK`` when the
    frame must be decoded the general way (the pacing and quote state untouched, the outputs
    unspecified), else what ``engine_tick`` returns."""
    if ticker_decode(frame, channel, grid, tick_size, out_ticks, out_values) != codes.WIRE_OK:
        return codes.TICK_FALLBACK
    book = (book_time_ns, out_ticks[OUT_BID_TICKS], out_ticks[OUT_ASK_TICKS],
            out_ticks[OUT_BID_LOTS], out_ticks[OUT_ASK_LOTS])
    return engine_tick(decision, now_ns, book_updates, True, setup, state, book, positions,
                       out, orders, instrument, amend_threshold_ticks, out_actions)
