"""The loops of the Binance converter that pay for Numba: the event merge (here) and the line
scanner (``_binance_scan.py``).

Pure functions of arrays, compiled once with the house decorator (on-disk cache); their
pure-Python twins are in ``tests/backtest/test_binance_kernels.py``.
"""

from __future__ import annotations

from ..kernels._jit import kernel


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
