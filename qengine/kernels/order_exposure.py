"""What our orders can still move the position by at worst, for the hard position limit.

A cancel or a cut sent now may land after a fill, and an amend in flight may be in force with
either its old or its new size, so every live row counts its worst case until the exchange
confirms. The worst case runs from what the position has absorbed (``booked_lots``), not from
what the exchange reports filled: a report can state a fill before the fill is booked, and
until then those lots are still to come (a closed row counts them too, ``order_release`` keeps
it until they are booked). ``inflight_lots`` is what the ladder's room leaves out (the rows the
diff cannot change this cycle, ``ladder.py``, "Position limit"); ``budget_sizes`` is how much
the diff may add beside every row (``order_diff``).
"""

from __future__ import annotations

import numba
import numpy as np

from . import codes
from ._jit import helper
from .dtypes import ORDER_T, QUOTE_T

_i8 = numba.types.int64
_SCRATCH_T = numba.types.int64[::1]
_LIVE_FIRST = codes.ORDER_PENDING_INSERT
_LIVE_LAST = codes.ORDER_PENDING_CANCEL


@helper(_i8(ORDER_T, _i8), inline=True)
def worst_lots(table, slot):
    # Lots a row can still add to the position at worst: a live row its amount less what is
    # booked (for an amend in flight the larger of its old and new amount: either may be in
    # force when a trade comes), a closed row its reported fills not booked yet.
    row = table[slot]
    status = row["status"]
    booked = np.int64(row["booked_lots"])
    if status == codes.ORDER_CLOSED:
        return max(np.int64(row["filled_lots"]) - booked, np.int64(0))
    if not (_LIVE_FIRST <= status <= _LIVE_LAST):
        return np.int64(0)
    worst = max(np.int64(row["amount_lots"]) - booked, np.int64(0))
    if status == codes.ORDER_PENDING_AMEND:
        worst = max(worst, np.int64(row["pending_amount_lots"]) - booked)
    return worst


@helper(numba.types.UniTuple(_i8, 2)(ORDER_T, _i8), inline=True)
def inflight_lots(table, instrument):
    """Worst-case lots the instrument's buy / sell rows the diff leaves alone this cycle can
    still add to the position: every row with a request in flight, open rows it ignores
    (negative level) and closed rows with fills not booked yet. ``quote_cycle`` takes them from
    the ladder's room (ladder.py, "Position limit")."""
    bid_lots = np.int64(0)
    ask_lots = np.int64(0)
    for slot in range(table.shape[0]):
        row = table[slot]
        status = row["status"]
        if not (_LIVE_FIRST <= status <= codes.ORDER_CLOSED) or row["instrument"] != instrument:
            continue
        if status == codes.ORDER_OPEN and row["level"] >= 0 and (
                row["side"] == codes.SIDE_BUY or row["side"] == codes.SIDE_SELL):
            continue  # the diff keeps, amends or cancels it
        if row["side"] == codes.SIDE_BUY:
            bid_lots += worst_lots(table, slot)
        elif row["side"] == codes.SIDE_SELL:
            ask_lots += worst_lots(table, slot)
    return bid_lots, ask_lots


@helper(numba.types.UniTuple(_i8, 2)(ORDER_T, QUOTE_T, _SCRATCH_T, _i8, _SCRATCH_T, _i8, _i8),
        inline=True)
def budget_sizes(table, quotes, scratch, n_keys, sizes, bid_avail, ask_avail):
    # sizes[key]: the size this cycle may send for the key's quote. Cutting an open order or
    # keeping it is always allowed (its worst case is in the budget already); what adds to its
    # remaining on the exchange (``amount - filled``: an amend's total is filled + size),
    # and a new order, only while the side's budget lasts, level 0 first; a new order that does
    # not fit whole waits (0). An order with a request in flight gets nothing sent. Returns the
    # budget left per side. scratch holds the diff's index: [key] the order that represents the
    # key (-1: none), [n_keys + key] its quote (-1: none).
    for key in range(n_keys):
        j = scratch[n_keys + key]
        sizes[key] = 0
        if j < 0:
            continue
        size = np.int64(quotes[j]["size_lots"])
        avail = bid_avail if key % 2 == codes.SIDE_BUY else ask_avail
        owner = scratch[key]
        if owner >= 0:
            if table[owner]["status"] == codes.ORDER_OPEN:
                remaining = max(np.int64(table[owner]["amount_lots"]) -
                                np.int64(table[owner]["filled_lots"]), np.int64(0))
                grant = min(max(size - remaining, np.int64(0)), max(avail, np.int64(0)))
                size = min(size, remaining + grant)
                avail -= grant
        elif size <= avail:
            avail -= size
        else:
            size = 0
        sizes[key] = size
        if key % 2 == codes.SIDE_BUY:
            bid_avail = avail
        else:
            ask_avail = avail
    return bid_avail, ask_avail
