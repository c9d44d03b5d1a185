"""Pure-Python twins of ``qengine.kernels.decision``: the rules written out on plain values.

Each twin reads the one-row records into Python values, decides, and writes the changed
fields back, so a test can run the kernel and its twin on copies and compare every field.
"""

from __future__ import annotations

from qengine.kernels import codes

from .quote_cycle import quote_cycle


def _row(array):
    return {name: array[0][name].item() for name in array.dtype.names}


def _store(array, values):
    for name, value in values.items():
        array[0][name] = value


def gate_levels_allowed(params, gate):
    g, full = _row(gate), int(params[0]["full_levels"])
    if g["halted"] or g["paused"]:
        return 0
    if g["recovering"]:
        return min(max(g["recovery_step"], 1), full)
    return full


def gate_levels(params, gate, now_ns, book_time_ns):
    if not gate[0]["ready"]:
        return 0
    too_old = now_ns - book_time_ns > int(params[0]["max_book_age_ns"])
    if book_time_ns == 0 or too_old:
        return 0
    return gate_levels_allowed(params, gate)


def _started(p, s, now_ns, book_updates):
    s.update(last_cycle_ns=now_ns, refresh_due_ns=now_ns + p["force_refresh_ns"],
             market_seen=book_updates, held=0, fresh_wait_until_ns=0)


def pacing_due(params, pacing, now_ns, book_updates, flags):
    p, s = _row(params), _row(pacing)
    fill = bool(flags & codes.PACE_FLAG_FILL)
    reasons = [bool(flags & codes.PACE_FLAG_CHANGED), book_updates != s["market_seen"],
               now_ns >= s["refresh_due_ns"]]
    timed = False
    if not fill and not any(reasons):
        s.update(held=0, fresh_wait_until_ns=0, wake_ns=s["refresh_due_ns"])
        result = codes.PACE_WAIT
    elif not fill and now_ns < s["last_cycle_ns"] + p["min_quote_interval_ns"]:
        s.update(held=1, wake_ns=s["last_cycle_ns"] + p["min_quote_interval_ns"])
        result = codes.PACE_WAIT
    else:
        result = None
        if not fill and s["held"]:
            if not s["fresh_wait_until_ns"]:
                s.update(fresh_wait_until_ns=now_ns + p["fresh_book_wait_ns"],
                         updates_at_pace_end=book_updates)
            new_book = book_updates != s["updates_at_pace_end"]
            if not new_book and now_ns < s["fresh_wait_until_ns"]:
                s["wake_ns"] = s["fresh_wait_until_ns"]
                result = codes.PACE_WAIT
            timed = reasons[1] and new_book
        elif not fill:
            timed = reasons[1]
        if result is None and flags & codes.PACE_FLAG_BUSY:
            s["wake_ns"] = now_ns + p["force_refresh_ns"]
            result = codes.PACE_BUSY
        elif result is None:
            _started(p, s, now_ns, book_updates)
            result = codes.PACE_CYCLE_FRESH if timed else codes.PACE_CYCLE
    _store(pacing, s)
    return result


def pacing_inline(params, pacing, now_ns, book_updates, busy):
    p, s = _row(params), _row(pacing)
    if s["market_seen"] == book_updates:
        return codes.INLINE_NONE
    paced = now_ns < s["last_cycle_ns"] + p["min_quote_interval_ns"]
    if busy or paced:
        return codes.INLINE_WAKE
    _started(p, s, now_ns, book_updates)
    _store(pacing, s)
    return codes.INLINE_CYCLE


def engine_cycle(decision, now_ns, setup, state, book, out, orders, instrument,
                 amend_threshold_ticks, out_actions):
    params, gate, pacing = decision
    levels = gate_levels(params, gate, now_ns, book[0])
    pacing[0]["levels"] = levels
    return quote_cycle(setup, state, (*book, levels), out, orders, instrument,
                       amend_threshold_ticks, out_actions)


def _refilled(b, now_ns):
    if now_ns > b["updated_ns"]:
        earned = (now_ns - b["updated_ns"]) / 1e9 * b["rate_per_s"]
        b["tokens"] = min(b["tokens"] + earned, b["rate_per_s"])
        b["updated_ns"] = now_ns
    return b


def bucket_take(bucket, now_ns, wanted):
    b = _refilled(_row(bucket), now_ns)
    granted = max(0, min(wanted, int(b["tokens"])))
    b["tokens"] -= granted
    _store(bucket, b)
    return granted


def bucket_set_rate(bucket, now_ns, rate_per_s):
    b = _refilled(_row(bucket), now_ns)
    b["rate_per_s"] = max(rate_per_s, 1.0)
    b["tokens"] = min(b["tokens"], b["rate_per_s"])
    _store(bucket, b)
