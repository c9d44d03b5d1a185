"""A prepared order batch written as the client websocket frames of its requests, in one call.

The order manager's batch (``order_batch_prepare``'s rows) leaves as JSON-RPC requests, one
masked websocket text frame each, in one socket write. :func:`order_wire_encode` writes all of
them: per row it copies the constant byte segments of the request's template (method, keys,
instrument, label, flags: the io layer owns them, this kernel only copies) and formats the
numbers between them, then frames and masks the request. Prices and amounts are formatted from
the integer ticks and lots as the decimals ``ticks * step`` they are, spelled as Python's
``repr`` spells the float nearest to them (``60000.5``, ``0.001``, ``1e-05``, ``1e+16``): the
same bytes ``OrderFrames`` writes. A number that needs more than 15 significant digits (where
the shortest round-trip spelling may differ from the decimal) or whose significant digits
overflow int64 on the way, an amount
``<= 0`` or a negative client order id make the call return ``-1``: the caller then encodes
the batch the general way (which also refuses bad numbers with a clear error).
"""

from __future__ import annotations

import numba
from numba import types

from . import codes
from ._jit import helper, kernel
from .dtypes import ACTION_T
from .json_text import EXACT_DIGITS

_i8 = numba.types.int64
_u1 = numba.types.uint8
#: The masking keys: the ``bytes`` the socket's key pool hands out.
_KEYS_T = types.Bytes(_u1, 1, "C", readonly=True)

#: The numbers a template part is followed by (``templates[t, p, 2]``); ``FIELD_NONE`` ends it.
FIELD_NONE, FIELD_AMOUNT, FIELD_PRICE, FIELD_CLIENT_ORDER_ID, FIELD_REQUEST_ID = -1, 0, 1, 2, 3
#: Template rows (``templates[t]``) of each request kind.
TEMPLATE_INSERT_BUY, TEMPLATE_INSERT_SELL, TEMPLATE_AMEND, TEMPLATE_CANCEL = 0, 1, 2, 3
#: ``steps`` layout: the price step is ``steps[0] * 10**-steps[1]``, the lot ``steps[2] *
#: 10**-steps[3]``.
STEPS = 4
#: Room one formatted number may take (sign, 20 digits, point, exponent).
NUMBER_BYTES = 32
_INT64_MAX = 9223372036854775807
_ZERO, _DOT, _MINUS, _PLUS, _E = 48, 46, 45, 43, 101


@helper(_i8(_u1[::1], _i8, _i8), inline=True)
def _write_digits(buf, pos, value):
    """Write the decimal digits of ``value >= 0`` at ``pos``; return the position after them."""
    n = 1
    rest = value // 10
    while rest:
        n += 1
        rest //= 10
    end = pos + n
    for j in range(end - 1, pos - 1, -1):
        buf[j] = _ZERO + value % 10
        value //= 10
    return end


@helper(types.UniTuple(_i8, 2)(_i8, _i8, _i8), inline=True)
def _significand(a, m, k):
    """``(v, e)`` with ``a * m * 10**-k == v * 10**e``, ``v`` without trailing zeros
    (``a, m > 0``); ``v == -1`` when it does not fit in int64."""
    e = -k
    while a % 10 == 0:  # trailing zeros first: 10**17 lots of 100 is 1e+19, not an overflow
        a //= 10
        e += 1
    while m % 10 == 0:
        m //= 10
        e += 1
    if a > _INT64_MAX // m:
        return -1, e
    v = a * m
    while v % 10 == 0:
        v //= 10
        e += 1
    return v, e


@helper(_i8(_u1[::1], _i8, _i8, _i8), inline=True)
def _write_scientific(buf, pos, v, exponent):
    """``d.ddde-05`` / ``de+16``: ``repr``'s spelling outside 1e-4 <= |x| < 1e16."""
    end = _write_digits(buf, pos + 1, v)  # leave room for the point after the first digit
    buf[pos] = buf[pos + 1]
    if end - pos > 2:
        buf[pos + 1] = _DOT
    else:
        end = pos + 1
    buf[end] = _E
    buf[end + 1] = _MINUS if exponent < 0 else _PLUS
    magnitude = -exponent if exponent < 0 else exponent
    if magnitude < 10:
        buf[end + 2] = _ZERO
        return _write_digits(buf, end + 3, magnitude)
    return _write_digits(buf, end + 2, magnitude)


@helper(_i8(_u1[::1], _i8, _i8, _i8, _i8), inline=True)
def _write_fixed(buf, pos, v, e, exponent):
    """``0.000ddd``, ``ddd000.0`` or ``ddd.ddd``: ``repr``'s spelling inside that range."""
    if exponent < 0:
        buf[pos] = _ZERO
        buf[pos + 1] = _DOT
        pos += 2
        for _ in range(-exponent - 1):
            buf[pos] = _ZERO
            pos += 1
        return _write_digits(buf, pos, v)
    if e >= 0:
        pos = _write_digits(buf, pos, v)
        for _ in range(e):
            buf[pos] = _ZERO
            pos += 1
        buf[pos] = _DOT
        buf[pos + 1] = _ZERO
        return pos + 2
    end = _write_digits(buf, pos, v)  # move the -e fraction digits one place right
    point = end + e
    for j in range(end, point, -1):
        buf[j] = buf[j - 1]
    buf[point] = _DOT
    return end + 1


@helper(_i8(_u1[::1], _i8, _i8, _i8, _i8), inline=True)
def _write_decimal(buf, pos, steps, m, k):
    """Write ``steps * m * 10**-k`` as ``repr`` writes that float; ``-1`` when not exact."""
    if m <= 0 or k < 0 or k > 18 or steps == -_INT64_MAX - 1:
        return -1
    if steps == 0:
        buf[pos] = _ZERO
        buf[pos + 1] = _DOT
        buf[pos + 2] = _ZERO
        return pos + 3
    v, e = _significand(-steps if steps < 0 else steps, m, k)
    if v < 0:
        return -1
    d = 1
    rest = v // 10
    while rest:
        d += 1
        rest //= 10
    if d > EXACT_DIGITS:
        return -1
    if steps < 0:
        buf[pos] = _MINUS
        pos += 1
    exponent = e + d - 1  # the value is d1.d2d3... * 10**exponent
    if exponent < -4 or exponent >= 16:
        return _write_scientific(buf, pos, v, exponent)
    return _write_fixed(buf, pos, v, e, exponent)


@helper(_i8(_i8, _i8), inline=True)
def _template(kind, side):
    """The template row of an action, ``-1`` for an unknown kind or side."""
    if kind == codes.ACTION_INSERT:
        if side == codes.SIDE_BUY:
            return TEMPLATE_INSERT_BUY
        return TEMPLATE_INSERT_SELL if side == codes.SIDE_SELL else -1
    if kind == codes.ACTION_AMEND:
        return TEMPLATE_AMEND
    return TEMPLATE_CANCEL if kind == codes.ACTION_CANCEL else -1


@helper(_i8(_u1[::1], _i8, _i8, _i8, _i8, _i8, _i8[::1]), inline=True)
def _write_number(buf, pos, field, lots, ticks, integer, steps):
    """Write the number a template part asks for; ``-1`` when it cannot be written exactly."""
    if field == FIELD_AMOUNT:
        return _write_decimal(buf, pos, lots, steps[2], steps[3]) if lots > 0 else -1
    if field == FIELD_PRICE:
        return _write_decimal(buf, pos, ticks, steps[0], steps[1])
    return _write_digits(buf, pos, integer) if integer >= 0 else -1


@helper(_i8(_u1[::1], _i8, _u1[::1], _i8, _KEYS_T, _i8), inline=True)
def _write_frame(out, pos, payload, length, keys, k):
    """Frame and mask ``payload[:length]`` with ``keys[k:k + 4]`` at ``pos``; ``-1`` if no room."""
    header = 2 if length < 126 else 4
    if length >= 65536 or pos + header + 4 + length > out.shape[0]:
        return -1
    out[pos] = 0x80 | 0x1  # FIN, text
    if header == 2:
        out[pos + 1] = 0x80 | length  # masked
    else:
        out[pos + 1] = 0x80 | 126
        out[pos + 2] = length >> 8
        out[pos + 3] = length & 0xFF
    pos += header
    for j in range(4):
        out[pos + j] = keys[k + j]
    pos += 4
    for j in range(length):
        out[pos + j] = payload[j] ^ keys[k + (j & 3)]
    return pos + length


@kernel(_i8(ACTION_T, _i8, _u1[::1], _i8[:, :, ::1], _i8[::1], _i8, _KEYS_T, _u1[::1],
            _u1[::1]))
def order_wire_encode(batch, n, segments, templates, steps, first_id, keys, scratch, out):
    """Write the first ``n`` rows of ``batch`` as masked client text frames into ``out``.

    Parameters
    ----------
    batch : ACTION array
        ``order_batch_prepare``'s output rows (kind, side, client order id, ticks, lots).
    n : int
        How many rows to write.
    segments : uint8 array
        The templates' constant bytes, one after the other.
    templates : int64 array (4, parts, 3)
        Per template (``TEMPLATE_*``), its parts ``(start, end, field)``: copy
        ``segments[start:end]``, then write the number ``field`` (``FIELD_*``); a part with
        ``FIELD_NONE`` is the last.
    steps : int64 array of ``STEPS``
        The price and lot steps as decimal parts.
    first_id : int
        Request id of row 0; row ``i`` gets ``first_id + i``.
    keys : bytes
        Masking keys, 4 bytes per row (row ``i``: ``keys[4 * i:4 * i + 4]``).
    scratch : uint8 array
        Room for one request's JSON (the longest template plus ``NUMBER_BYTES`` per number).
    out : uint8 array
        Receives the frames, one after the other.

    Returns
    -------
    int
        Bytes written to ``out``, or ``-1`` when a row cannot be written exactly (see the
        module), a row has an unknown kind or side, or ``keys`` or ``out`` are short.
    """
    if n < 0 or len(keys) < 4 * n or batch.shape[0] < n:
        return -1
    pos = 0
    for i in range(n):
        a = batch[i]
        t = _template(a["kind"], a["side"])
        if t < 0:
            return -1
        length = 0
        for p in range(templates.shape[1]):
            start, end, field = templates[t, p, 0], templates[t, p, 1], templates[t, p, 2]
            if length + (end - start) + NUMBER_BYTES > scratch.shape[0]:
                return -1
            scratch[length:length + end - start] = segments[start:end]
            length += end - start
            if field == FIELD_NONE:
                break
            integer = first_id + i if field == FIELD_REQUEST_ID else a["client_order_id"]
            length = _write_number(scratch, length, field, a["size_lots"], a["price_ticks"],
                                   integer, steps)
            if length < 0:
                return -1
        pos = _write_frame(out, pos, scratch, length, keys, 4 * i)
        if pos < 0:
            return -1
    return pos
