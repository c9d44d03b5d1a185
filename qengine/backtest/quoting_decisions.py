"""The quoting strategy's optional per-cycle decision log (``run(..., decision_log=True)``).

One ``DECISION_DTYPE`` row per ``engine_cycle`` call, in call order: exactly what the kernel was
given (the book, position, levels allowed and the lots of the orders in flight) and what it
decided (status, flags, the estimators' outputs, the ladder by level, the number of actions).
The live engine's cycles can be logged in the same shape, so the two compare field by field
(``tests/engine/test_backtest_differential.py``).
"""

from __future__ import annotations

import numba
import numpy as np

from qengine.kernels import codes
from qengine.kernels._jit import helper
from qengine.kernels.dtypes import QUOTE_DIAG_T, QUOTE_T

#: Ladder levels per side a row holds (``quote.levels`` is at most 10).
DECISION_LEVELS = 10
#: One quote cycle (every field 8 bytes wide: a whole number of scratch words).
DECISION_DTYPE = np.dtype(
    [
        ("wake_ns", "<i8"),  # the backtester's local clock at the cycle
        ("time_ns", "<i8"),  # the book time passed to the kernel
        ("best_bid_tick", "<i8"), ("best_ask_tick", "<i8"),
        ("best_bid_lots", "<i8"), ("best_ask_lots", "<i8"),
        ("position_lots", "<i8"), ("levels_allowed", "<i8"),
        # worst-case lots of the orders in flight per side (diag), left out of the ladder's room
        ("bid_inflight_lots", "<i8"), ("ask_inflight_lots", "<i8"),
        ("status", "<i8"), ("flags", "<i8"),  # diag.status, diag.flags
        ("quote_count", "<i8"),  # ladder rows the kernel wrote
        ("n_actions", "<i8"),  # actions the diff wrote (before the rate limit)
        ("sigma_per_sqrt_s", "<f8"), ("a_bid_per_s", "<f8"), ("kappa_bid_per_tick", "<f8"),
        ("a_ask_per_s", "<f8"), ("kappa_ask_per_tick", "<f8"),
        # the ladder by level (0: that level not quoted)
        ("bid_price_ticks", "<i8", (DECISION_LEVELS,)),
        ("bid_size_lots", "<i8", (DECISION_LEVELS,)),
        ("ask_price_ticks", "<i8", (DECISION_LEVELS,)),
        ("ask_size_lots", "<i8", (DECISION_LEVELS,)),
    ],
    align=True,
)
DECISIONS_T = numba.from_dtype(DECISION_DTYPE)[::1]
_I8 = numba.int64
_BOOK_T = numba.types.UniTuple(_I8, 6)


@helper(numba.types.void(DECISIONS_T, _I8, _I8, _BOOK_T, _I8, _I8, QUOTE_T, QUOTE_DIAG_T),
        inline=True)
def log_decision(out, k, wake_ns, book, levels, n_actions, quotes, diag):
    """Write row ``k`` of ``out``: one cycle's ``book`` (time, bid, ask, bid lots, ask lots,
    position), the ``levels`` it was given, the in-flight lots the cycle read from the order
    table (``diag``), its ``n_actions`` and the ladder in ``quotes``."""
    r = out[k]
    d = diag[0]
    r.wake_ns = wake_ns
    r.time_ns, r.best_bid_tick, r.best_ask_tick = book[0], book[1], book[2]
    r.best_bid_lots, r.best_ask_lots, r.position_lots = book[3], book[4], book[5]
    r.levels_allowed = levels
    r.bid_inflight_lots = d.bid_inflight_lots
    r.ask_inflight_lots = d.ask_inflight_lots
    r.status = d.status
    r.flags = d.flags
    r.quote_count = d.quote_count
    r.n_actions = n_actions
    r.sigma_per_sqrt_s = d.sigma_per_sqrt_s
    r.a_bid_per_s = d.a_bid_per_s
    r.kappa_bid_per_tick = d.kappa_bid_per_tick
    r.a_ask_per_s = d.a_ask_per_s
    r.kappa_ask_per_tick = d.kappa_ask_per_tick
    for i in range(DECISION_LEVELS):
        r.bid_price_ticks[i] = 0
        r.bid_size_lots[i] = 0
        r.ask_price_ticks[i] = 0
        r.ask_size_lots[i] = 0
    for j in range(d.quote_count):
        q = quotes[j]
        if q.side == codes.SIDE_BUY:
            r.bid_price_ticks[q.level] = q.price_ticks
            r.bid_size_lots[q.level] = q.size_lots
        else:
            r.ask_price_ticks[q.level] = q.price_ticks
            r.ask_size_lots[q.level] = q.size_lots
