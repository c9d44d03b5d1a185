"""The engine's per-cycle decisions: levels allowed, pacing, rate limit, and the fused cycle.

One decision core for the live engine and the backtester: the quoter asks :func:`pacing_due`
(its task) or :func:`pacing_inline` (the reader) whether to quote now, then runs
:func:`engine_cycle` (levels the gate allows now, then ``quote_cycle``: one call per cycle);
the order manager meters its requests with :func:`bucket_take`. Every function is a pure state
machine on one-row records (``dtypes.DECISION_PARAMS``, ``GATE_STATE``, ``PACING_STATE``,
``BUCKET_STATE``); times are int ns on the caller's clock. ``risk_actions.risk_step`` writes the
gate's risk fields.
"""

from __future__ import annotations

import numba

from . import codes
from ._jit import helper, kernel
from .dtypes import (
    ACTION_T,
    BUCKET_STATE_T,
    CYCLE_BOOK_T,
    DECISION_PARAMS_T,
    DECISION_T,
    GATE_STATE_T,
    ORDER_T,
    PACING_STATE_T,
    QUOTE_OUT_T,
    QUOTE_SETUP_T,
    QUOTE_STATE_T,
)
from .quote_cycle import quote_cycle

_i8 = numba.types.int64
_f8 = numba.types.float64


@kernel(_i8(DECISION_PARAMS_T, GATE_STATE_T))
def gate_levels_allowed(params, gate):
    """Levels per side the risk state allows: 0 halted or paused, ``recovery_step`` (at least
    1, at most all) while recovering, else ``full_levels``."""
    g = gate[0]
    if g["halted"] != 0 or g["paused"] != 0:
        return 0
    full = params[0]["full_levels"]
    if g["recovering"] != 0:
        return max(1, min(g["recovery_step"], full))
    return full


@kernel(_i8(DECISION_PARAMS_T, GATE_STATE_T, _i8, _i8))
def gate_levels(params, gate, now_ns, book_time_ns):
    """Levels per side to quote now: also 0 when not ready, or the book is missing
    (``book_time_ns == 0``) or older than ``max_book_age_ns``."""
    if gate[0]["ready"] == 0:
        return 0
    if book_time_ns == 0 or now_ns - book_time_ns > params[0]["max_book_age_ns"]:
        return 0
    return gate_levels_allowed(params, gate)


@helper(numba.types.void(DECISION_PARAMS_T, PACING_STATE_T, _i8, _i8), inline=True)
def _start_cycle(params, pacing, now_ns, book_updates):
    s = pacing[0]
    s["last_cycle_ns"] = now_ns
    s["refresh_due_ns"] = now_ns + params[0]["force_refresh_ns"]
    s["market_seen"] = book_updates
    s["held"] = 0
    s["fresh_wait_until_ns"] = 0


@kernel(_i8(DECISION_PARAMS_T, PACING_STATE_T, _i8, _i8, _i8))
def pacing_due(params, pacing, now_ns, book_updates, flags):
    """The quoter task's question: is a cycle due now?

    Parameters
    ----------
    params, pacing : DECISION_PARAMS, PACING_STATE
        One row each; ``pacing`` is updated (a cycle's start is recorded when one is due).
    now_ns : int
        Now on the pacing clock.
    book_updates : int
        Book updates applied so far (a value the last cycle did not see: an unquoted book).
    flags : int
        ``codes.PACE_FLAG_*`` bits: FILL, CHANGED (rung since the last cycle), BUSY.

    Returns
    -------
    int
        ``codes.PACE_*``. A cycle is due at once on a fill; on a state change, an unquoted book
        or at ``refresh_due_ns`` no sooner than ``min_quote_interval_ns`` after the last cycle.
        When the pacing held a cycle back, it then waits up to ``fresh_book_wait_ns`` for a book
        newer than the pacing's end before quoting on the aged one (untimed). After WAIT or BUSY,
        ``pacing.wake_ns`` says when to ask again (or on the next ring).
    """
    p = params[0]
    s = pacing[0]
    unquoted = book_updates != s["market_seen"]
    fill = (flags & codes.PACE_FLAG_FILL) != 0
    changed = (flags & codes.PACE_FLAG_CHANGED) != 0
    refresh = now_ns >= s["refresh_due_ns"]
    if not (fill or changed or unquoted or refresh):
        s["held"] = 0
        s["fresh_wait_until_ns"] = 0
        s["wake_ns"] = s["refresh_due_ns"]
        return codes.PACE_WAIT
    fresh = False
    if not fill:
        pace_end = s["last_cycle_ns"] + p["min_quote_interval_ns"]
        if now_ns < pace_end:
            s["held"] = 1
            s["wake_ns"] = pace_end
            return codes.PACE_WAIT
        if s["held"] != 0:
            if s["fresh_wait_until_ns"] == 0:
                s["fresh_wait_until_ns"] = now_ns + p["fresh_book_wait_ns"]
                s["updates_at_pace_end"] = book_updates
            aged = book_updates == s["updates_at_pace_end"]
            if aged and now_ns < s["fresh_wait_until_ns"]:
                s["wake_ns"] = s["fresh_wait_until_ns"]
                return codes.PACE_WAIT
            fresh = unquoted and not aged
        else:
            fresh = unquoted
    if (flags & codes.PACE_FLAG_BUSY) != 0:
        s["wake_ns"] = now_ns + p["force_refresh_ns"]  # or when the running cycle ends
        return codes.PACE_BUSY
    _start_cycle(params, pacing, now_ns, book_updates)
    return codes.PACE_CYCLE_FRESH if fresh else codes.PACE_CYCLE


@kernel(_i8(DECISION_PARAMS_T, PACING_STATE_T, _i8, _i8, numba.types.boolean))
def pacing_inline(params, pacing, now_ns, book_updates, busy):
    """The reader's question after applying a read: quote on the new book here, at once?

    Returns ``codes.INLINE_NONE`` when no book is unquoted, ``INLINE_WAKE`` when ``busy`` (a
    cycle runs, quoting is not open, or a cycle here would await an answer) or within
    ``min_quote_interval_ns`` of the last cycle (ring the quoter task), else records the
    cycle's start and returns ``INLINE_CYCLE``.
    """
    s = pacing[0]
    if book_updates == s["market_seen"]:
        return codes.INLINE_NONE
    if busy or now_ns - s["last_cycle_ns"] < params[0]["min_quote_interval_ns"]:
        return codes.INLINE_WAKE
    _start_cycle(params, pacing, now_ns, book_updates)
    return codes.INLINE_CYCLE


@kernel(
    _i8(DECISION_T, _i8, QUOTE_SETUP_T, QUOTE_STATE_T, CYCLE_BOOK_T, QUOTE_OUT_T, ORDER_T, _i8,
        _i8, ACTION_T)
)
def engine_cycle(decision, now_ns, setup, state, book, out, orders, instrument,
                 amend_threshold_ticks, out_actions):
    """One quoting cycle: the levels the gate allows now, then ``quote_cycle`` with them.

    ``decision`` is ``(params, gate, pacing)``; ``now_ns`` is on the book's clock (staleness);
    ``book`` is ``(time_ns, bid_ticks, ask_ticks, bid_lots, ask_lots, position_lots)``; the
    rest is as for ``quote_cycle``. The levels used land in ``pacing.levels`` (0: the ladder is
    empty and every live order gets a cancel). Returns the number of actions written.
    """
    params, gate, pacing = decision
    levels = gate_levels(params, gate, now_ns, book[0])
    pacing[0]["levels"] = levels
    inputs = (book[0], book[1], book[2], book[3], book[4], book[5], levels)
    return quote_cycle(setup, state, inputs, out, orders, instrument, amend_threshold_ticks,
                       out_actions)


@helper(numba.types.void(BUCKET_STATE_T, _i8), inline=True)
def _refill(bucket, now_ns):
    b = bucket[0]
    elapsed_ns = now_ns - b["updated_ns"]
    if elapsed_ns > 0:
        b["tokens"] = min(b["rate_per_s"], b["tokens"] + elapsed_ns / 1e9 * b["rate_per_s"])
        b["updated_ns"] = now_ns


@kernel(_i8(BUCKET_STATE_T, _i8, _i8))
def bucket_take(bucket, now_ns, wanted):
    """Refill ``rate_per_s`` tokens a second (at most one second's worth), then take as many
    whole tokens as there are, at most ``wanted``; return how many were taken."""
    _refill(bucket, now_ns)
    b = bucket[0]
    granted = min(wanted, int(b["tokens"]))
    if granted < 0:
        granted = 0
    b["tokens"] -= granted
    return granted


@kernel(numba.types.void(BUCKET_STATE_T, _i8, _f8))
def bucket_set_rate(bucket, now_ns, rate_per_s):
    """Resize the bucket (e.g. to the rate granted at login): refill at the old rate, then the
    new rate (at least 1 a second) caps the tokens held."""
    _refill(bucket, now_ns)
    b = bucket[0]
    b["rate_per_s"] = max(1.0, rate_per_s)
    b["tokens"] = min(b["tokens"], b["rate_per_s"])
