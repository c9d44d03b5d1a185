"""The fast path of the Binance converter: a Numba scanner for the lines that make up nearly all of
a recording (depthUpdate, MARKET trade and bookTicker messages in plain JSON).

It accepts a strict subset of JSON: objects whose values are strings without escapes, unsigned
integers, ``true``/``false``/``null``, and the ``[["px", "qty"], ...]`` level lists; decimals
``-?digits[.digits]`` of at most 15 digits. Any line outside that subset (snapshots, error
messages, other streams, escapes, exponents, odd key sets, duplicate keys, ...) is handed back to
the Python path, which decides what it is, so both paths give the same rows for every line.

Decimals are exact: with at most 15 digits and 22 decimals, ``m / 10**k`` divides two exactly
represented doubles and IEEE division rounds correctly: the double nearest to the decimal, the
same as Python's ``float``.
"""

from __future__ import annotations

import numpy as np
from numba import types

from ..kernels._jit import helper, kernel
from .events import BUY_EVENT, DEPTH_EVENT, SELL_EVENT, TRADE_EVENT

_POW10 = np.array([float(10**k) for k in range(23)])  # exact doubles, built from integers
_MAX_DIGITS = 15  # below 2**53: the mantissa converts exactly
_MS_TO_NS = 1_000_000
_MAX_T_DIGITS = 15  # T in ms times 1e6 stays inside int64

# Line kinds returned by the scanner.
FALLBACK, TICKER, DEPTH, TRADE = 0, 1, 2, 3
# Slots of the per-line field table (-1 = not seen): value spans and positions.
_E0, _E1, _T, _X0, _X1, _M, _P0, _P1, _Q0, _Q1, _B, _A, _LOCAL, _SLOTS = range(14)

_PREFIX = np.frombuffer(b'{"stream":"', np.uint8)
_TICKER = np.frombuffer(b"@bookTicker", np.uint8)
_DEPTH = np.frombuffer(b"depthUpdate", np.uint8)
_TRADE = np.frombuffer(b"trade", np.uint8)
_MARKET = np.frombuffer(b"MARKET", np.uint8)
_TRUE = np.frombuffer(b"true", np.uint8)
_FALSE = np.frombuffer(b"false", np.uint8)
_NULL = np.frombuffer(b"null", np.uint8)
_DATA_KEY = np.frombuffer(b'"data"', np.uint8)
_KEY_SLOT = np.full(256, -1, np.int64)  # one-letter keys of interest -> their slot
for _key, _slot in zip(b"eTXmpqba", (_E0, _T, _X0, _M, _P0, _Q0, _B, _A), strict=True):
    _KEY_SLOT[_key] = _slot

_BYTES = types.Array(types.uint8, 1, "C", readonly=True)
_I8 = types.int64
_F8 = types.float64
_ROWS = types.Array(types.int64, 1, "C")
_FIELDS = types.Array(types.int64, 1, "C")


@helper(types.boolean(_BYTES, _I8, _I8, _BYTES))
def _is(buf, start, stop, word):  # pragma: no cover - compiled
    if stop - start != word.shape[0]:
        return False
    for k in range(word.shape[0]):  # noqa: SIM110 (numba: no generators)
        if buf[start + k] != word[k]:
            return False
    return True


@helper(_I8(_BYTES, _I8, _I8))
def _ws(buf, i, end):  # pragma: no cover - compiled
    while i < end and (buf[i] == 32 or buf[i] == 9 or buf[i] == 13):
        i += 1
    return i


@helper(_I8(_BYTES, _I8, _I8))
def _string_end(buf, i, end):  # pragma: no cover - compiled
    """Position after the string opening at ``i`` (no escapes, no control bytes), or -1."""
    if i >= end or buf[i] != 34:
        return -1
    i += 1
    while i < end:
        c = buf[i]
        if c == 34:
            return i + 1
        if c == 92 or c < 32:
            return -1
        i += 1
    return -1


@helper(_I8(_BYTES, _I8, _I8))
def _token_end(buf, i, end):  # pragma: no cover - compiled
    """Position after a scalar that is not a string (digits or a literal), or -1."""
    j = i
    while j < end and (48 <= buf[j] <= 57):
        j += 1
    if j > i:
        return j
    for word in (_TRUE, _FALSE, _NULL):
        if _is(buf, i, min(i + word.shape[0], end), word):
            return i + word.shape[0]
    return -1


@helper(_I8(_BYTES, _I8, _I8))
def _array_end(buf, i, end):  # pragma: no cover - compiled
    """Position after the (nested) array opening at ``i``, strings skipped whole, or -1."""
    depth = 0
    while i < end:
        c = buf[i]
        if c == 34:
            i = _string_end(buf, i, end)
            if i < 0:
                return -1
            continue
        if c == 91:
            depth += 1
        elif c == 93:
            depth -= 1
            if depth == 0:
                return i + 1
        elif c == 123 or c == 125:
            return -1
        i += 1
    return -1


@helper(_I8(_BYTES, _I8, _I8))
def _digits(buf, start, stop):  # pragma: no cover - compiled
    """The unsigned integer in ``buf[start:stop]`` (at most 15 digits), or -1."""
    if stop <= start or stop - start > _MAX_T_DIGITS:
        return -1
    value = 0
    for k in range(start, stop):
        if not 48 <= buf[k] <= 57:
            return -1
        value = value * 10 + (buf[k] - 48)
    return value


@helper(_F8(_BYTES, _I8, _I8))
def _decimal(buf, start, stop):  # pragma: no cover - compiled
    """The decimal in ``buf[start:stop]`` as Python's ``float`` reads it, or NaN if not plain."""
    negative = stop > start and buf[start] == 45
    mantissa = 0
    digits = 0
    decimals = 0
    dot = False
    for k in range(start + (1 if negative else 0), stop):
        c = buf[k]
        if 48 <= c <= 57:
            mantissa = mantissa * 10 + (c - 48)
            digits += 1
            decimals += 1 if dot else 0
        elif c == 46 and not dot:
            dot = True
        else:
            return np.nan
    if digits == 0 or digits > _MAX_DIGITS:
        return np.nan
    value = float(mantissa) / _POW10[decimals]
    return -value if negative else value


@helper(_I8(_BYTES, _I8, _I8, types.uint64, _I8, _I8, _I8, types.uint64[:], _ROWS, _ROWS,
            types.float64[:], types.float64[:], _ROWS, _I8))
def _levels(buf, i, end, ev_flags, exch_ts, local_ts, line, ev, exch, local, px, qty, row_line,
            row):  # pragma: no cover - compiled
    """Append the rows of ``[["px","qty"], ...]`` at ``i`` from ``row``; return the new row
    count, or -1 if the list is not exactly that shape or a number is not plain."""
    if i >= end or buf[i] != 91:
        return -1
    i = _ws(buf, i + 1, end)
    if i < end and buf[i] == 93:
        return row
    while i < end:
        if buf[i] != 91:
            return -1
        s0 = _ws(buf, i + 1, end)
        s1 = _string_end(buf, s0, end)
        if s1 < 0:
            return -1
        c = _ws(buf, s1, end)
        if c >= end or buf[c] != 44:
            return -1
        t0 = _ws(buf, c + 1, end)
        t1 = _string_end(buf, t0, end)
        if t1 < 0:
            return -1
        i = _ws(buf, t1, end)
        if i >= end or buf[i] != 93:
            return -1
        price = _decimal(buf, s0 + 1, s1 - 1)
        amount = _decimal(buf, t0 + 1, t1 - 1)
        if np.isnan(price) or np.isnan(amount) or row >= ev.shape[0]:
            return -1
        ev[row] = ev_flags
        exch[row] = exch_ts
        local[row] = local_ts
        px[row] = price
        qty[row] = amount
        row_line[row] = line
        row += 1
        i = _ws(buf, i + 1, end)
        if i < end and buf[i] == 93:
            return row
        if i >= end or buf[i] != 44:
            return -1
        i = _ws(buf, i + 1, end)
    return -1


@helper(_I8(_BYTES, _I8, _I8, _I8, _FIELDS))
def _value(buf, v0, end, slot, f):  # pragma: no cover - compiled
    """Skip the value at ``v0``, recording it in ``f[slot]`` (``slot`` -1: not of interest);
    the position after it, or -1 if it is outside the subset or of the wrong type."""
    if v0 >= end:
        return -1
    if buf[v0] == 91:  # only the level lists are arrays
        if slot != _B and slot != _A:
            return -1
        f[slot] = v0
        return _array_end(buf, v0, end)
    if buf[v0] == 34:
        v1 = _string_end(buf, v0, end)
        if slot in (_E0, _X0, _P0, _Q0):
            f[slot], f[slot + 1] = v0 + 1, v1 - 1
            return v1
        return v1 if slot < 0 else -1
    v1 = _token_end(buf, v0, end)
    if slot == _T:
        f[_T] = _digits(buf, v0, v1)
        return v1 if f[_T] >= 0 else -1
    if slot == _M:
        f[_M] = 1 if _is(buf, v0, v1, _TRUE) else (0 if _is(buf, v0, v1, _FALSE) else -1)
        return v1 if f[_M] >= 0 else -1
    return v1 if slot < 0 else -1


@helper(_I8(_BYTES, _I8, _I8, _FIELDS))
def _data_object(buf, i, end, f):  # pragma: no cover - compiled
    """Record the fields of the message object at ``i`` in ``f``; the position after it, or -1."""
    f[:] = -1
    if i >= end or buf[i] != 123:
        return -1
    i = _ws(buf, i + 1, end)
    if i < end and buf[i] == 125:
        return i + 1
    while i < end:
        k1 = _string_end(buf, i, end)
        if k1 < 0:
            return -1
        slot = _KEY_SLOT[buf[i + 1]] if k1 - i == 3 else -1  # one-letter keys of interest
        if slot >= 0 and f[slot] != -1:
            return -1  # a duplicate key: left to the Python path
        i = _ws(buf, k1, end)
        if i >= end or buf[i] != 58:
            return -1
        v1 = _value(buf, _ws(buf, i + 1, end), end, slot, f)
        if v1 < 0:
            return -1
        i = _ws(buf, v1, end)
        if i < end and buf[i] == 125:
            return i + 1
        if i >= end or buf[i] != 44:
            return -1
        i = _ws(buf, i + 1, end)
    return -1


@helper(_I8(_BYTES, _I8, _I8, _FIELDS))
def _combined(buf, i, end, f):  # pragma: no cover - compiled
    """Read ``{"stream":"...","data":{...}}`` at ``i``: the position after it, -1 if outside the
    subset, -2 for a bookTicker stream (dropped by its name, as the Python path does)."""
    if not _is(buf, i, i + 11, _PREFIX):
        return -1
    s1 = _string_end(buf, i + 10, end)
    if s1 < 0:
        return -1
    if s1 - 1 - (i + 11) >= 11 and _is(buf, s1 - 12, s1 - 1, _TICKER):
        return -2
    i = _ws(buf, s1, end)
    if i >= end or buf[i] != 44:
        return -1
    k0 = _ws(buf, i + 1, end)
    if not _is(buf, k0, k0 + 6, _DATA_KEY):
        return -1
    i = _ws(buf, k0 + 6, end)
    if i >= end or buf[i] != 58:
        return -1
    i = _data_object(buf, _ws(buf, i + 1, end), end, f)
    if i < 0:
        return -1
    i = _ws(buf, i, end)
    return i + 1 if i < end and buf[i] == 125 else -1


@helper(_I8(_BYTES, _I8, _I8, types.boolean, _FIELDS))
def _line_kind(buf, pos, end, combined, f):  # pragma: no cover - compiled
    """FALLBACK, TICKER, DEPTH or TRADE for the line ``buf[pos:end]``; fields in ``f``."""
    if end - pos < 22 or buf[pos + 19] != 32 or buf[pos] > 56:
        return FALLBACK
    high = _digits(buf, pos, pos + 10)
    low = _digits(buf, pos + 10, pos + 19)
    if high < 0 or low < 0:
        return FALLBACK
    i = _combined(buf, pos + 20, end, f) if combined else _data_object(buf, pos + 20, end, f)
    if i == -2:
        return TICKER
    if i < 0 or _ws(buf, i, end) != end or f[_E0] < 0 or f[_T] < 0:
        return FALLBACK
    f[_LOCAL] = high * 1_000_000_000 + low
    if _is(buf, f[_E0], f[_E1], _DEPTH) and f[_B] >= 0 and f[_A] >= 0:
        return DEPTH
    if (_is(buf, f[_E0], f[_E1], _TRADE) and f[_X0] >= 0 and _is(buf, f[_X0], f[_X1], _MARKET)
            and f[_M] >= 0 and f[_P0] >= 0 and f[_Q0] >= 0):
        return TRADE
    return FALLBACK


@kernel(_I8(_BYTES, _I8, types.boolean, types.uint64[:], _ROWS, _ROWS, types.float64[:],
            types.float64[:], _ROWS, _ROWS, _ROWS))
def scan_lines(buf, first_line, combined, ev, exch, local, px, qty, row_line, fallback,
               counts):  # pragma: no cover - compiled
    """Scan the lines of ``buf`` (line ``first_line`` first); return the number of rows written.

    DEPTH and TRADE lines append their rows (``ev`` without EXCH/LOCAL, timestamps, ``px``,
    ``qty``, ``row_line``); TICKER lines are dropped; every other line goes to ``fallback`` as
    ``(line, start, stop)`` triples for the Python path. ``counts`` receives
    ``[fallback lines, tickers, depth updates, trades, lines]``.
    """
    f = np.empty(_SLOTS, np.int64)
    n = buf.shape[0]
    pos = 0
    line = first_line
    rows = 0
    counts[:] = 0
    while pos < n:
        end = pos
        while end < n and buf[end] != 10:
            end += 1
        kind = _line_kind(buf, pos, end, combined, f)
        if kind == DEPTH:
            exch_ts = f[_T] * _MS_TO_NS
            r = _levels(buf, f[_B], end, DEPTH_EVENT | BUY_EVENT, exch_ts, f[_LOCAL], line, ev,
                        exch, local, px, qty, row_line, rows)
            if r >= 0:
                r = _levels(buf, f[_A], end, DEPTH_EVENT | SELL_EVENT, exch_ts, f[_LOCAL], line,
                            ev, exch, local, px, qty, row_line, r)
            kind = FALLBACK if r < 0 else DEPTH
            rows = rows if r < 0 else r
        elif kind == TRADE:
            price = _decimal(buf, f[_P0], f[_P1])
            amount = _decimal(buf, f[_Q0], f[_Q1])
            if np.isnan(price) or np.isnan(amount) or rows >= ev.shape[0]:
                kind = FALLBACK
            else:
                ev[rows] = TRADE_EVENT | (SELL_EVENT if f[_M] == 1 else BUY_EVENT)
                exch[rows] = f[_T] * _MS_TO_NS
                local[rows] = f[_LOCAL]
                px[rows] = price
                qty[rows] = amount
                row_line[rows] = line
                rows += 1
        if kind == FALLBACK:
            k = counts[0]
            fallback[3 * k] = line
            fallback[3 * k + 1] = pos
            fallback[3 * k + 2] = end
        counts[kind] += 1  # FALLBACK is 0: counts[0] counts the fallback lines
        counts[4] += 1
        line += 1
        pos = end + 1
    return rows
