"""The risk state machine: a breach mask -> what to do (pull quotes, flatten, halt, recover).

:func:`risk_step` runs one periodic check (``risk.risk_check``) and turns its breach bits into
actions by the rules of ``DECISION_PARAMS`` (built from the breach table ``strategy.rules``):
every halting breach pulls the quotes once and halts (for good when it stops, or when recovery
is disabled); a stop loss or drawdown flattens everything, a limit breach reduces to the recovery
threshold (reduce-only IOC limits inside the collar); a take profit pauses quoting, pulls the
quotes, waits for a book newer than the cancel, judges the touch against the entry again and
closes at the touch only if it still beats it, then resumes (halting if configured). After a
cooldown, recovery quotes 1, 2, ... levels, then all. The caller carries out the actions of
``RISK_ACTION`` and calls again as ``call_again`` says; a take profit spans several calls
(``GATE_STATE.tp_phase``), so the live monitor and a backtest step through it the same way.
"""

from __future__ import annotations

import math

import numba

from . import codes
from ._jit import helper, kernel
from .decision import gate_levels_allowed
from .dtypes import (
    DECISION_PARAMS_T,
    GATE_STATE_T,
    RISK_ACTION_T,
    RISK_INPUTS_T,
    RISK_LIMITS_T,
    RISK_STATE_T,
)
from .risk import risk_check

_i8 = numba.types.int64
_f8 = numba.types.float64
_b1 = numba.types.boolean


@kernel(_i8(DECISION_PARAMS_T, _i8))
def risk_check_interval_ns(params, position_lots):
    """Adaptive check interval: fast above ``large_position_lots``, slow below
    ``small_position_lots``, else the normal one."""
    p = params[0]
    size = abs(position_lots)
    if size > p["large_position_lots"]:
        return p["check_fast_interval_ns"]
    if size < p["small_position_lots"]:
        return p["check_slow_interval_ns"]
    return p["check_interval_ns"]


@kernel(_i8(DECISION_PARAMS_T, RISK_INPUTS_T, _b1))
def flatten_limit_ticks(params, inputs, selling):
    """Limit of a flatten order: ``flatten_slippage_ratio`` through the touch (the mark when
    that side is empty), then moved *inside* the collar (collar low bounds a sell from below,
    collar high a buy from above); never below 0. A reduce-only IOC never trades beyond the
    position: the limit only bounds the price paid."""
    inp = inputs[0]
    slip = params[0]["flatten_slippage_ratio"]
    mark = inp["mark_ticks"] if math.isfinite(inp["mark_ticks"]) else 0.0
    if selling:
        touch = float(inp["best_bid_ticks"]) if inp["best_bid_ticks"] > 0 else mark
        limit = math.floor(touch * (1.0 - slip))
        if inp["collar_low_ticks"] > 0.0:
            limit = max(limit, math.ceil(inp["collar_low_ticks"] - 1e-9))
        return max(limit, 0)
    touch = float(inp["best_ask_ticks"]) if inp["best_ask_ticks"] > 0 else mark
    limit = math.ceil(touch * (1.0 + slip)) if touch > 0.0 else 0
    if inp["collar_high_ticks"] > 0.0:
        limit = min(limit, math.floor(inp["collar_high_ticks"] + 1e-9))
    return max(limit, 0)


@kernel(_i8(DECISION_PARAMS_T, RISK_LIMITS_T, _f8))
def recovery_threshold_lots(params, limits, mark_ticks):
    """Largest |position| under which a pause may lift: ``recovery_threshold_ratio`` of the
    position limit and (with a usable mark and an enabled limit) of the notional limit."""
    ratio = params[0]["recovery_threshold_ratio"]
    lim = limits[0]
    target = int(lim["max_position_lots"] * ratio)
    mark = mark_ticks if math.isfinite(mark_ticks) else 0.0
    per_lot = mark * params[0]["lot_tick_value_quote"]
    if per_lot > 0.0 and lim["max_notional_quote"] > 0.0:
        target = min(target, math.floor(ratio * lim["max_notional_quote"] / per_lot))
    return target


@helper(_i8(RISK_INPUTS_T, _f8, _i8), inline=True)
def _touch_beyond(inputs, entry_ticks, lots):
    # The touch a take profit would hit, when it beats the entry (else -1).
    inp = inputs[0]
    if lots > 0:
        return inp["best_bid_ticks"] if inp["best_bid_ticks"] > entry_ticks else -1
    if 0 < inp["best_ask_ticks"] < entry_ticks:
        return inp["best_ask_ticks"]
    return -1


@helper(numba.types.void(DECISION_PARAMS_T, GATE_STATE_T, RISK_INPUTS_T, RISK_ACTION_T,
                         RISK_LIMITS_T), inline=True)
def _flatten_for_halt(params, gate, inputs, action, limits):
    p, inp, a = params[0], inputs[0], action[0]
    mask = a["mask"]
    lots = inp["position_lots"]
    if mask & p["flatten_all_mask"]:
        if lots != 0:
            a["flatten_lots"] = lots
            a["flatten_limit_ticks"] = flatten_limit_ticks(params, inputs, lots > 0)
            a["flatten_kind"] = codes.FLATTEN_ALL
            a["flatten_mask"] = mask & p["flatten_all_mask"]
    elif mask & p["flatten_to_threshold_mask"]:
        excess = abs(lots) - recovery_threshold_lots(params, limits, inp["mark_ticks"])
        if excess > 0:
            a["flatten_lots"] = excess if lots > 0 else -excess
            a["flatten_limit_ticks"] = flatten_limit_ticks(params, inputs, lots > 0)
            a["flatten_kind"] = codes.FLATTEN_TO_THRESHOLD
            a["flatten_mask"] = mask & p["flatten_to_threshold_mask"]


@helper(numba.types.void(DECISION_PARAMS_T, GATE_STATE_T, RISK_INPUTS_T, RISK_ACTION_T,
                         RISK_LIMITS_T), inline=True)
def _halting_breach(params, gate, inputs, action, limits):
    p, g, inp, a = params[0], gate[0], inputs[0], action[0]
    mask = a["mask"]
    halting = mask & p["halt_mask"]
    if g["halted"] == 0 or (a["new_mask"] & p["halt_mask"]) != 0:
        g["breach_count"] += 1
        a["events"] |= codes.EVENT_BREACH
        a["cancel_all"] = 1  # once per breach: the halted quoter's diff cancels what remains
        a["cancel_mask"] = halting
    for_good = (mask & p["stop_mask"]) != 0 or p["recovery_enabled"] == 0
    if for_good and g["stopped"] == 0:
        a["events"] |= codes.EVENT_STOPPED
    g["halted"] = 1
    g["halt_mask"] = halting
    if for_good:
        g["stopped"] = 1
    g["recovering"] = 0
    g["recovery_step"] = 0
    g["cooldown_until_ns"] = inp["now_ns"] + p["recovery_cooldown_ns"]
    if mask & p["streak_restart_mask"]:
        # The streak restarts with the pause (a halted engine makes no round trips).
        g["streak_start_trips"] = inp["round_trip_count"]
    a["wake_quoter"] = 1
    if p["flatten_enabled"] != 0:
        _flatten_for_halt(params, gate, inputs, action, limits)


@helper(numba.types.void(DECISION_PARAMS_T, GATE_STATE_T, RISK_INPUTS_T, RISK_ACTION_T,
                         RISK_LIMITS_T), inline=True)
def _advance_recovery(params, gate, inputs, action, limits):
    p, g, inp, a = params[0], gate[0], inputs[0], action[0]
    if g["stopped"] != 0 or not (g["halted"] != 0 or g["recovering"] != 0):
        return
    now = inp["now_ns"]
    if p["recovery_enabled"] == 0 or now < g["cooldown_until_ns"]:
        return
    if (now - g["last_recovery_check_ns"] < p["recovery_check_interval_ns"]
            and g["recovery_step"] > 0):
        return
    g["last_recovery_check_ns"] = now
    if abs(inp["position_lots"]) > recovery_threshold_lots(params, limits, inp["mark_ticks"]):
        return
    if not math.isfinite(inp["mark_ticks"]) or inp["best_bid_ticks"] <= 0:
        return  # no valid market to recover into
    g["halted"] = 0
    g["recovering"] = 1
    g["recovery_step"] += 1
    if g["recovery_step"] >= p["gradual_recovery_steps"]:
        g["recovering"] = 0
        g["recovery_step"] = 0
        a["events"] |= codes.EVENT_RECOVERY_DONE
    else:
        a["events"] |= codes.EVENT_RECOVERY_STEP
    a["wake_quoter"] = 1


@helper(_b1(DECISION_PARAMS_T, GATE_STATE_T, RISK_INPUTS_T, RISK_ACTION_T), inline=True)
def _start_take_profit(params, gate, inputs, action):
    p, g, inp, a = params[0], gate[0], inputs[0], action[0]
    now = inp["now_ns"]
    if now < g["take_profit_next_ns"]:
        return False
    g["take_profit_next_ns"] = now + p["take_profit_interval_ns"]
    lots = inp["position_lots"]
    if lots == 0:
        return False
    entry = abs(inp["cost_ticks_lots"]) / abs(lots)
    if _touch_beyond(inputs, entry, lots) < 0:
        return False
    # Pause quoting and pull our quotes first: the touch may have been our own order.
    g["paused"] = 1
    g["tp_phase"] = codes.TP_CANCELLING
    g["tp_lots"] = lots
    g["tp_entry_ticks"] = entry
    g["tp_mask"] = a["mask"] & p["take_profit_mask"]
    g["tp_started_ns"] = now
    a["cancel_all"] = 1
    a["cancel_mask"] = g["tp_mask"]
    a["call_again"] = codes.RISK_CALL_AFTER_ACTIONS
    return True


@helper(numba.types.void(DECISION_PARAMS_T, GATE_STATE_T, RISK_INPUTS_T, RISK_ACTION_T,
                         RISK_LIMITS_T), inline=True)
def _continue_take_profit(params, gate, inputs, action, limits):
    p, g, inp, a = params[0], gate[0], inputs[0], action[0]
    now = inp["now_ns"]
    if g["tp_phase"] == codes.TP_CANCELLING:  # the quotes are pulled: wait for a newer book
        g["tp_phase"] = codes.TP_WAIT_BOOK
        g["tp_book_updates"] = inp["book_updates"]
        g["tp_deadline_ns"] = now + p["take_profit_book_timeout_ns"]
    if g["tp_phase"] == codes.TP_WAIT_BOOK:
        if inp["book_updates"] == g["tp_book_updates"] and now < g["tp_deadline_ns"]:
            a["call_again"] = codes.RISK_CALL_AFTER_BOOK
            a["deadline_ns"] = g["tp_deadline_ns"]
            return
        # Judge the guard again on the book that arrived after the cancel.
        limit = _touch_beyond(inputs, g["tp_entry_ticks"], g["tp_lots"])
        if limit >= 0:
            g["tp_phase"] = codes.TP_FLATTENING
            a["flatten_lots"] = g["tp_lots"]
            a["flatten_limit_ticks"] = limit
            a["flatten_kind"] = codes.FLATTEN_AT_TOUCH
            a["flatten_mask"] = g["tp_mask"]
            a["events"] |= codes.EVENT_TAKE_PROFIT
            a["call_again"] = codes.RISK_CALL_AFTER_ACTIONS
            return
    # Flattened (or the touch no longer beat the entry): resume, halting if configured.
    g["tp_phase"] = codes.TP_IDLE
    g["paused"] = 0
    if p["take_profit_halts"] != 0:  # a pause: cooldown, then gradual recovery
        g["halted"] = 1
        g["halt_mask"] = g["tp_mask"]
        g["cooldown_until_ns"] = g["tp_started_ns"] + p["recovery_cooldown_ns"]
    a["wake_quoter"] = 1
    _advance_recovery(params, gate, inputs, action, limits)


@kernel(_i8(DECISION_PARAMS_T, RISK_LIMITS_T, RISK_STATE_T, GATE_STATE_T, RISK_INPUTS_T,
            RISK_ACTION_T))
def risk_step(params, limits, risk_state, gate, inputs, action):
    """One step of the risk state machine; returns ``action.call_again``.

    Parameters
    ----------
    params : DECISION_PARAMS array
        One row (``build_decision_params``).
    limits, risk_state : RISK_LIMITS, RISK_STATE arrays
        As for ``risk.risk_check`` (``risk_state`` updated by the check).
    gate : GATE_STATE array
        One row, updated: halted / stopped / paused / recovery and the take-profit phase.
    inputs : RISK_INPUTS array
        One row written by the caller: now, position, book, equity, round trips.
    action : RISK_ACTION array
        One row, rewritten: what to carry out (cancel, then flatten, then wake the quoter)
        and when to call again.

    Returns
    -------
    int
        ``codes.RISK_CALL_*``. With no take profit under way, the step runs the check; the
        halting breaches (``halt_mask``) act, else a take profit may start (cancel, then
        RISK_CALL_AFTER_ACTIONS), then the recovery advances. A take profit under way is
        continued instead of checking (``TP_CANCELLING`` -> ``TP_WAIT_BOOK`` until a book newer
        than the cancel or the deadline -> ``TP_FLATTENING`` when the touch still beats the
        entry -> resume). ``inputs.abort = 1`` ends a take profit at once (quoting resumes).
    """
    p, g, inp, a = params[0], gate[0], inputs[0], action[0]
    a["mask"] = 0
    a["new_mask"] = 0
    a["events"] = 0
    a["cancel_all"] = 0
    a["cancel_mask"] = 0
    a["flatten_lots"] = 0
    a["flatten_limit_ticks"] = 0
    a["flatten_kind"] = codes.FLATTEN_NONE
    a["flatten_mask"] = 0
    a["wake_quoter"] = 0
    a["deadline_ns"] = 0
    a["call_again"] = codes.RISK_CALL_NEXT_CHECK
    now = inp["now_ns"]
    lots = inp["position_lots"]
    a["next_check_ns"] = now + risk_check_interval_ns(params, lots)
    if inp["abort"] != 0:
        if g["tp_phase"] != codes.TP_IDLE:
            g["tp_phase"] = codes.TP_IDLE
            g["paused"] = 0
            a["wake_quoter"] = 1
    elif g["tp_phase"] != codes.TP_IDLE:
        _continue_take_profit(params, gate, inputs, action, limits)
    else:
        since_pause = inp["round_trip_count"] - g["streak_start_trips"]
        streak = max(0, min(inp["losing_streak"], since_pause))
        mask = risk_check(limits, risk_state, lots, inp["cost_ticks_lots"], inp["mark_ticks"],
                          p["lot_tick_value_quote"], inp["equity_quote"], streak, now)
        a["mask"] = mask
        a["new_mask"] = mask & ~g["last_mask"]
        g["last_mask"] = mask
        if mask & a["new_mask"] & codes.RISK_NO_MARK:
            a["events"] |= codes.EVENT_NO_MARK
        if mask & p["halt_mask"]:
            _halting_breach(params, gate, inputs, action, limits)
        elif not (mask & p["take_profit_mask"] and _start_take_profit(params, gate, inputs,
                                                                        action)):
            _advance_recovery(params, gate, inputs, action, limits)
    a["phase"] = g["tp_phase"]
    a["levels_allowed"] = gate_levels_allowed(params, gate)
    return a["call_again"]
