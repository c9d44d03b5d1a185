"""The two loops of the Binance converter that pay for Numba: decimal parsing and the event merge.

Both are pure functions of arrays, compiled once with the house decorator (on-disk cache); their
pure-Python twins live in ``tests/backtest/test_binance_kernels.py``.
"""

from __future__ import annotations

import numpy as np

from ..kernels._jit import kernel

#: Powers of ten exactly representable as doubles (10**22 is the largest), built from integers.
_MAX_EXACT_POW10 = 22
_POW10 = np.array([float(10**k) for k in range(_MAX_EXACT_POW10 + 1)])
#: Up to 15 digits the integer mantissa is below 2**53, so it converts to a double exactly.
_MAX_FAST_DIGITS = 15


@kernel("i8(u1[:], f8[:], b1[:])")
def parse_decimals(text, out, parsed):  # pragma: no cover - compiled
    """Parse newline-separated plain decimals (``-?digits[.digits]``) into ``out``.

    Exact where it answers: with at most 15 digits and 22 decimals, ``m / 10**k`` divides two
    exactly represented doubles, and IEEE division rounds correctly, so the result is the double
    nearest to the decimal, the same as Python's ``float``. Every other token (exponents, signs
    other than ``-``, spaces, ``nan``, long mantissas, garbage) gets ``parsed[i] = False`` and is
    left to the caller. Returns the number of tokens seen.
    """
    n = 0
    i = 0
    size = text.shape[0]
    while i <= size:
        negative = False
        mantissa = 0
        digits = 0
        decimals = 0
        dot = False
        ok = True
        start = i
        while i < size and text[i] != 10:
            c = text[i]
            if 48 <= c <= 57:
                mantissa = mantissa * 10 + (c - 48) if digits < _MAX_FAST_DIGITS else mantissa
                digits += 1
                if dot:
                    decimals += 1
            elif c == 46 and not dot:
                dot = True
            elif c == 45 and i == start:
                negative = True
            else:
                ok = False
            i += 1
        if digits == 0 or digits > _MAX_FAST_DIGITS or decimals > _MAX_EXACT_POW10:
            ok = False
        if n < out.shape[0]:
            if ok:
                value = float(mantissa) / _POW10[decimals]
                out[n] = -value if negative else value
            parsed[n] = ok
        n += 1
        i += 1
    return n


@kernel("i8(i8[:], i8[:], i8[:], i8[:], i8[:], u8[:])")
def merge_event_order(exch_ts, local_ts, by_exch, by_local, out_row, out_flags):
    """Interleave the rows in exchange order and in local order, as hftbacktest 2.4.4's
    ``correct_event_order`` does; return the number of output rows.

    ``by_exch`` / ``by_local`` are stable argsorts by ``exch_ts`` / ``local_ts``. At each step the
    heads of both orders are compared: equal (exch_ts, local_ts) emit one row seen by both sides
    (flags EXCH | LOCAL, the exchange-order row); an earlier exchange head (by exch_ts, then
    local_ts) emits an EXCH-only row; otherwise the local head emits a LOCAL-only row.
    ``out_row`` / ``out_flags`` (length ``2 * n``) receive the source row and the flags to add.
    """
    exch_flag = 1 << 31
    local_flag = 1 << 30
    n = exch_ts.shape[0]
    e = 0
    lo = 0
    out = 0
    while e < n or lo < n:
        if e < n and lo < n:
            re = by_exch[e]
            rl = by_local[lo]
            ex, el = exch_ts[re], local_ts[re]
            lx, ll = exch_ts[rl], local_ts[rl]
            if ex == lx and el == ll:
                out_row[out] = re
                out_flags[out] = exch_flag | local_flag
                e += 1
                lo += 1
            elif ex < lx or (ex == lx and el < ll):
                out_row[out] = re
                out_flags[out] = exch_flag
                e += 1
            else:
                out_row[out] = rl
                out_flags[out] = local_flag
                lo += 1
        elif lo < n:
            out_row[out] = by_local[lo]
            out_flags[out] = local_flag
            lo += 1
        else:
            out_row[out] = by_exch[e]
            out_flags[out] = exch_flag
            e += 1
        out += 1
    return out
