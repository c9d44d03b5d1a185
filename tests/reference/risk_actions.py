"""Pure-Python twin of ``qengine.kernels.risk_actions``: the risk state machine on dicts.

The records are read into dicts, the step is decided on them (the breach check by the twin of
``risk.risk_check``), and the dicts are written back.
"""

from __future__ import annotations

import math

from qengine.kernels import codes

from .decision import _row, _store, gate_levels_allowed
from .risk import risk_check


def risk_check_interval_ns(params, position_lots):
    p = _row(params)
    if abs(position_lots) > p["large_position_lots"]:
        return p["check_fast_interval_ns"]
    if abs(position_lots) >= p["small_position_lots"]:
        return p["check_interval_ns"]
    return p["check_slow_interval_ns"]


def flatten_limit_ticks(params, inputs, selling):
    p, i = _row(params), _row(inputs)
    mark = i["mark_ticks"] if math.isfinite(i["mark_ticks"]) else 0.0
    if selling:
        touch = i["best_bid_ticks"] if i["best_bid_ticks"] > 0 else mark
        limit = math.floor(touch * (1.0 - p["flatten_slippage_ratio"]))
        floor_ = math.ceil(i["collar_low_ticks"] - 1e-9) if i["collar_low_ticks"] > 0 else limit
        return max(limit, floor_, 0)
    touch = i["best_ask_ticks"] if i["best_ask_ticks"] > 0 else mark
    limit = math.ceil(touch * (1.0 + p["flatten_slippage_ratio"])) if touch > 0 else 0
    if i["collar_high_ticks"] > 0:
        limit = min(limit, math.floor(i["collar_high_ticks"] + 1e-9))
    return max(limit, 0)


def recovery_threshold_lots(params, limits, mark_ticks):
    p, lim = _row(params), _row(limits)
    ratio = p["recovery_threshold_ratio"]
    by_position = int(lim["max_position_lots"] * ratio)
    value_per_lot = (mark_ticks if math.isfinite(mark_ticks) else 0.0) * p["lot_tick_value_quote"]
    if value_per_lot <= 0 or lim["max_notional_quote"] <= 0:
        return by_position
    return min(by_position, math.floor(ratio * lim["max_notional_quote"] / value_per_lot))


def _touch(i, entry, lots):
    if lots > 0 and i["best_bid_ticks"] > entry:
        return i["best_bid_ticks"]
    if lots < 0 and 0 < i["best_ask_ticks"] < entry:
        return i["best_ask_ticks"]
    return None


def _recover(params, limits, p, g, i, a):
    now = i["now_ns"]
    if g["stopped"] or not (g["halted"] or g["recovering"]):
        return
    if not p["recovery_enabled"] or now < g["cooldown_until_ns"]:
        return
    if g["recovery_step"] > 0 and now - g["last_recovery_check_ns"] < \
            p["recovery_check_interval_ns"]:
        return
    g["last_recovery_check_ns"] = now
    if abs(i["position_lots"]) > recovery_threshold_lots(params, limits, i["mark_ticks"]):
        return
    if not math.isfinite(i["mark_ticks"]) or i["best_bid_ticks"] <= 0:
        return
    step = g["recovery_step"] + 1
    done = step >= p["gradual_recovery_steps"]
    g.update(halted=0, recovering=0 if done else 1, recovery_step=0 if done else step)
    a["events"] |= codes.EVENT_RECOVERY_DONE if done else codes.EVENT_RECOVERY_STEP
    a["wake_quoter"] = 1


def _halt(params, inputs, limits, p, g, i, a, mask, new):
    halting = mask & p["halt_mask"]
    if new & p["halt_mask"] or not g["halted"]:
        g["breach_count"] += 1
        a.update(cancel_all=1, cancel_mask=halting)
        a["events"] |= codes.EVENT_BREACH
    stop = bool(mask & p["stop_mask"]) or not p["recovery_enabled"]
    if stop and not g["stopped"]:
        a["events"] |= codes.EVENT_STOPPED
    g.update(halted=1, halt_mask=halting, stopped=1 if stop else g["stopped"], recovering=0,
             recovery_step=0, cooldown_until_ns=i["now_ns"] + p["recovery_cooldown_ns"])
    if mask & p["streak_restart_mask"]:
        g["streak_start_trips"] = i["round_trip_count"]
    a["wake_quoter"] = 1
    if not p["flatten_enabled"]:
        return
    lots = i["position_lots"]
    if mask & p["flatten_all_mask"]:
        amount, kind, why = lots, codes.FLATTEN_ALL, mask & p["flatten_all_mask"]
    elif mask & p["flatten_to_threshold_mask"]:
        excess = abs(lots) - recovery_threshold_lots(params, limits, i["mark_ticks"])
        amount = max(excess, 0) * (1 if lots > 0 else -1)
        kind, why = codes.FLATTEN_TO_THRESHOLD, mask & p["flatten_to_threshold_mask"]
    else:
        amount = 0
    if amount:
        a.update(flatten_lots=amount, flatten_kind=kind, flatten_mask=why,
                 flatten_limit_ticks=flatten_limit_ticks(params, inputs, lots > 0))


def risk_step(params, limits, risk_state, gate, inputs, action):
    p, g, i = _row(params), _row(gate), _row(inputs)
    a = dict.fromkeys(action.dtype.names, 0)
    a["call_again"] = codes.RISK_CALL_NEXT_CHECK
    a["next_check_ns"] = i["now_ns"] + risk_check_interval_ns(params, i["position_lots"])
    now = i["now_ns"]
    if i["abort"]:
        if g["tp_phase"]:
            g.update(tp_phase=codes.TP_IDLE, paused=0)
            a["wake_quoter"] = 1
    elif g["tp_phase"]:
        finished = False
        if g["tp_phase"] == codes.TP_CANCELLING:
            g.update(tp_phase=codes.TP_WAIT_BOOK, tp_book_updates=i["book_updates"],
                     tp_deadline_ns=now + p["take_profit_book_timeout_ns"])
        if g["tp_phase"] == codes.TP_WAIT_BOOK:
            if i["book_updates"] == g["tp_book_updates"] and now < g["tp_deadline_ns"]:
                a.update(call_again=codes.RISK_CALL_AFTER_BOOK, deadline_ns=g["tp_deadline_ns"])
            else:
                touch = _touch(i, g["tp_entry_ticks"], g["tp_lots"])
                if touch is None:
                    finished = True
                else:
                    g["tp_phase"] = codes.TP_FLATTENING
                    a.update(flatten_lots=g["tp_lots"], flatten_limit_ticks=touch,
                             flatten_kind=codes.FLATTEN_AT_TOUCH, flatten_mask=g["tp_mask"],
                             events=codes.EVENT_TAKE_PROFIT,
                             call_again=codes.RISK_CALL_AFTER_ACTIONS)
        else:
            finished = True
        if finished:
            g.update(tp_phase=codes.TP_IDLE, paused=0)
            if p["take_profit_halts"]:
                g.update(halted=1, halt_mask=g["tp_mask"],
                         cooldown_until_ns=g["tp_started_ns"] + p["recovery_cooldown_ns"])
            a["wake_quoter"] = 1
            _recover(params, limits, p, g, i, a)
    else:
        trips = i["round_trip_count"] - g["streak_start_trips"]
        streak = max(0, min(i["losing_streak"], trips))
        mask = risk_check(limits, risk_state, i["position_lots"], i["cost_ticks_lots"],
                          i["mark_ticks"], p["lot_tick_value_quote"], i["equity_quote"],
                          streak, now)
        new = mask & ~g["last_mask"]
        g["last_mask"] = mask
        a.update(mask=mask, new_mask=new)
        if new & codes.RISK_NO_MARK:
            a["events"] |= codes.EVENT_NO_MARK
        started = False
        if mask & p["halt_mask"]:
            _halt(params, inputs, limits, p, g, i, a, mask, new)
        elif mask & p["take_profit_mask"] and now >= g["take_profit_next_ns"]:
            g["take_profit_next_ns"] = now + p["take_profit_interval_ns"]
            lots = i["position_lots"]
            entry = abs(i["cost_ticks_lots"]) / abs(lots) if lots else 0.0
            if lots and _touch(i, entry, lots) is not None:
                started = True
                tp_mask = mask & p["take_profit_mask"]
                g.update(paused=1, tp_phase=codes.TP_CANCELLING, tp_lots=lots,
                         tp_entry_ticks=entry, tp_mask=tp_mask, tp_started_ns=now)
                a.update(cancel_all=1, cancel_mask=tp_mask,
                         call_again=codes.RISK_CALL_AFTER_ACTIONS)
        if not mask & p["halt_mask"] and not started:
            _recover(params, limits, p, g, i, a)
    _store(gate, g)
    a["phase"] = g["tp_phase"]
    a["levels_allowed"] = gate_levels_allowed(params, gate)
    _store(action, a)
    return a["call_again"]
