"""Reading JSON text inside kernels: whitespace, plain strings, literals and numbers.

Numbers are read from their decimal text as ``(-1)**negative * mantissa * 10**exponent`` and
turned into the float orjson gives (correctly rounded) or into whole steps of a decimal grid
(``units.StepGrid.nearest``: by the decimal, ties to even). Every reader answers "not taken"
(-1 or False) for what it cannot read exactly; the caller then leaves the text to a general
decoder. Used by ``ticker_wire``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ._jit import helper

_i8 = numba.types.int64
_f8 = numba.types.float64
_b1 = numba.types.boolean
BYTES_T = numba.types.Bytes(numba.types.uint8, 1, "C", readonly=True)

_POW10 = np.array([10**i for i in range(19)], np.int64)
_POW10_F = np.array([10.0**i for i in range(23)], np.float64)
#: ``_FITS[p]``: the largest mantissa that times ``10**p`` stays below 2**62.
_FITS = np.array([(1 << 62) // 10**i for i in range(19)], np.int64)
_MAX_DIGITS = 18
#: Significant digits up to which a float's ``repr`` is the decimal it was read from (DBL_DIG);
#: the order encoder (``order_wire``) spells numbers by the same bound.
EXACT_DIGITS = 15
_MAX_STEPS = 1 << 50  # beyond it a value's ulp nears half a step: the general way decides
_MAX_EXPONENT = 280  # keeps every skipped number finite and normal for io's parser
_NUMBER = numba.types.UniTuple(_i8, 6)


@helper(_i8(BYTES_T, _i8), inline=True)
def skip_space(frame, pos):
    n = len(frame)
    while pos < n:
        c = frame[pos]
        if c != 32 and c != 9 and c != 10 and c != 13:
            break
        pos += 1
    return pos


@helper(_i8(BYTES_T, _i8), inline=True)
def string_end(frame, pos):
    """End (after the closing quote) of the plain string opening at ``pos``; -1 for escapes,
    control or non-ASCII bytes, or no closing quote."""
    n = len(frame)
    pos += 1
    while pos < n:
        c = frame[pos]
        if c == 34:
            return pos + 1
        if c == 92 or c < 32 or c > 126:
            return -1
        pos += 1
    return -1


@helper(_b1(BYTES_T, _i8, _i8, BYTES_T), inline=True)
def same_text(frame, start, end, text):
    if end - start != len(text):
        return False
    for i in range(len(text)):  # noqa: SIM110 (numba: no generators)
        if frame[start + i] != text[i]:
            return False
    return True


@helper(_i8(BYTES_T, _i8), inline=True)
def literal_end(frame, pos):
    """End of ``null``, ``true`` or ``false`` at ``pos``; -1 otherwise."""
    n = len(frame)
    c = frame[pos]
    if c == 110 and pos + 4 <= n and frame[pos + 1] == 117 and frame[pos + 2] == 108 \
            and frame[pos + 3] == 108:
        return pos + 4
    if c == 116 and pos + 4 <= n and frame[pos + 1] == 114 and frame[pos + 2] == 117 \
            and frame[pos + 3] == 101:
        return pos + 4
    if c == 102 and pos + 5 <= n and frame[pos + 1] == 97 and frame[pos + 2] == 108 \
            and frame[pos + 3] == 115 and frame[pos + 4] == 101:
        return pos + 5
    return -1


@helper(numba.types.UniTuple(_i8, 2)(BYTES_T, _i8), inline=True)
def _exponent(frame, pos):
    """The exponent after ``e``: ``(end, value)``, end -1 when malformed or beyond the limit."""
    n = len(frame)
    sign = 1
    if pos < n and (frame[pos] == 43 or frame[pos] == 45):
        sign = -1 if frame[pos] == 45 else 1
        pos += 1
    if pos >= n or frame[pos] < 48 or frame[pos] > 57:
        return -1, 0
    written = 0
    while pos < n and 48 <= frame[pos] <= 57:
        written = written * 10 + (frame[pos] - 48)
        if written > _MAX_EXPONENT:
            return -1, 0
        pos += 1
    return pos, sign * written


@helper(numba.types.UniTuple(_i8, 3)(_i8, _i8, _i8), inline=True)
def _without_trailing_zeros(mantissa, exponent, digits):
    if mantissa == 0:
        return 0, 0, 0
    while mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
        digits -= 1
    return mantissa, exponent, digits


@helper(_NUMBER(BYTES_T, _i8), inline=True)
def read_number(frame, pos):
    """The strict JSON number at ``pos`` as ``(end, mantissa, exponent, digits, negative,
    integral)``, value ``(-1)**negative * mantissa * 10**exponent`` with the mantissa's
    trailing zeros moved into the exponent; ``end`` is -1 for anything else, for more than
    ``_MAX_DIGITS`` significant digits and for exponents beyond ``_MAX_EXPONENT``."""
    n = len(frame)
    negative = 0
    if pos < n and frame[pos] == 45:
        negative = 1
        pos += 1
    if pos >= n or frame[pos] < 48 or frame[pos] > 57:
        return (-1, 0, 0, 0, 0, 0)
    mantissa = 0
    digits = 0
    exponent = 0
    integral = 1
    if frame[pos] == 48:
        pos += 1
    else:
        while pos < n and 48 <= frame[pos] <= 57:
            digits += 1
            if digits > _MAX_DIGITS:
                return (-1, 0, 0, 0, 0, 0)
            mantissa = mantissa * 10 + (frame[pos] - 48)
            pos += 1
    if pos < n and frame[pos] == 46:
        integral = 0
        pos += 1
        if pos >= n or frame[pos] < 48 or frame[pos] > 57:
            return (-1, 0, 0, 0, 0, 0)
        while pos < n and 48 <= frame[pos] <= 57:
            d = frame[pos] - 48
            exponent -= 1
            if mantissa != 0 or d != 0:
                digits += 1
                if digits > _MAX_DIGITS:
                    return (-1, 0, 0, 0, 0, 0)
                mantissa = mantissa * 10 + d
            pos += 1
    if pos < n and (frame[pos] == 101 or frame[pos] == 69):
        integral = 0
        pos, written = _exponent(frame, pos + 1)
        if pos < 0:
            return (-1, 0, 0, 0, 0, 0)
        exponent += written
    mantissa, exponent, digits = _without_trailing_zeros(mantissa, exponent, digits)
    if exponent > _MAX_EXPONENT or exponent < -_MAX_EXPONENT:
        return (-1, 0, 0, 0, 0, 0)
    return (pos, mantissa, exponent, digits, negative, integral)


@helper(_f8(_i8, _i8), inline=True)
def _divide(mantissa, divisor):
    """``mantissa / divisor`` correctly rounded (ties to even), both positive below 2**62:
    long division to 55 quotient bits and a sticky remainder."""
    q = mantissa // divisor
    r = mantissa - q * divisor
    e2 = 0
    sticky = False
    if q >= (1 << 55):
        sticky = r != 0
        while q >= (1 << 55):
            sticky = sticky or (q & 1) != 0
            q >>= 1
            e2 += 1
    else:
        while q < (1 << 54):
            r <<= 1
            q <<= 1
            if r >= divisor:
                q += 1
                r -= divisor
            e2 -= 1
        sticky = r != 0
    low = q & 3
    q >>= 2
    if low == 3 or (low == 2 and (sticky or (q & 1) != 0)):
        q += 1
    return math.ldexp(float(q), e2 + 2)


@helper(numba.types.Tuple((_b1, _f8))(_i8, _i8, _i8, _i8), inline=True)
def number_float(mantissa, exponent, negative, integral):
    """The float of a parsed number (orjson's), or False when it is out of this reader's range."""
    if mantissa == 0:
        return True, (-0.0 if negative != 0 and integral == 0 else 0.0)
    if exponent >= 0:
        if exponent > 18 or mantissa > _FITS[exponent]:
            return False, 0.0
        value = float(mantissa * _POW10[exponent])
    elif mantissa < (1 << 53) and -exponent <= 22:
        value = float(mantissa) / _POW10_F[-exponent]  # both exact: one correct rounding
    elif -exponent <= 18:
        value = _divide(mantissa, _POW10[-exponent])
    else:
        return False, 0.0
    return True, (-value if negative != 0 else value)


@helper(numba.types.Tuple((_b1, _i8))(_i8, _i8, _i8, _i8, _i8, _i8), inline=True)
def nearest_steps(mantissa, exponent, digits, negative, step_m, step_k):
    """Whole steps nearest to the decimal (ties to even), ``StepGrid.nearest``'s answer; False
    when the general way must decide (more than 15 digits, or out of int64 range)."""
    if digits > EXACT_DIGITS:
        return False, 0
    if mantissa == 0:
        return True, 0
    p = exponent + step_k
    if p >= 0:
        if p > 18 or mantissa > _FITS[p]:
            return False, 0
        num = mantissa * _POW10[p]
        den = step_m
    else:
        if -p > 18 or step_m > _FITS[-p]:
            return False, 0
        num = mantissa
        den = step_m * _POW10[-p]
    q = num // den
    twice = 2 * (num - q * den)
    if twice > den or (twice == den and q % 2 == 1):
        q += 1
    if q >= _MAX_STEPS:
        return False, 0
    return True, (-q if negative != 0 else q)
