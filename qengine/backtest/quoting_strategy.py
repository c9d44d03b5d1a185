"""qengine's own quoting as a backtest strategy: the engine's decision kernels behind
``STRATEGY_SIG``.

At each wake-up :func:`quote_strategy` does what the live engine's services do with the same
news, calling the same kernels:

1. the listener: book the fills that arrived (``position_apply_fill``) and feed the public
   trades received since the last wake-up to ``intensity_update``, each with the mid of the local
   book when it arrived; a change of the local touch is a book update;
2. the risk monitor: ``risk_step`` when its check is due (adaptive interval), and again as it
   asks (after its actions are carried out, after a newer book); its actions are carried out
   here: cancel every quote, flatten with an IOC limit, wake the quoter;
3. the quoter: ``pacing_inline`` on a new book, else ``pacing_due`` when rung or at its wake
   time; a due cycle mirrors the order table (``quoting_orders``), runs ``engine_cycle`` (gate
   levels, then ``quote_cycle``: estimators, model, ladder, diff) and sends the first
   ``bucket_take`` actions;
4. the recorder: a ``QUOTING_RECORD`` row when one is due; a full buffer yields to the wrapper.

The simulated local clock is both of the engine's clocks (pacing and risk, book staleness).
There is no mark price in the recorded data: the local mid stands in for it.
"""

from __future__ import annotations

import math

import numpy as np

from qengine.kernels import codes
from qengine.kernels._jit import helper, kernel
from qengine.kernels.decision import (
    bucket_take,
    engine_cycle,
    gate_levels,
    gate_levels_allowed,
    pacing_due,
    pacing_inline,
)
from qengine.kernels.dtypes import (
    ACTION,
    BUCKET_STATE,
    DECISION_PARAMS,
    GATE_STATE,
    INTENSITY_STATE,
    LOT,
    MARKET_SAMPLE,
    ORDER,
    PACING_STATE,
    POSITION,
    QUOTE,
    QUOTE_DIAG,
    QUOTE_PARAMS,
    QUOTE_T,
    RING_CURSOR,
    RISK_ACTION,
    RISK_INPUTS,
    RISK_LIMITS,
    RISK_STATE,
    VOL_RETURN,
    VOL_STATE,
)
from qengine.kernels.position import position_unrealised
from qengine.kernels.risk_actions import risk_step

from . import local as lx
from .layout import (
    BS_BEST_ASK,
    BS_BEST_BID,
    F_BALANCE,
    F_CONTRACT,
    F_FEE,
    F_LOT,
    F_TICK,
    F_TRADED_VALUE,
    HANDLE,
    I8,
    I8A,
    I_N_LOCAL,
    I_NOW,
    I_POS_LOTS,
    I_REJECTS,
    I_WAKE_AT,
    INVALID_MAX,
    INVALID_MIN,
    QUOTING_RECORD_DTYPE,
    ST_NEW,
    ST_PARTIAL,
    STRATEGY_SIG,
    STRATEGY_YIELD,
)
from .quoting_decisions import DECISION_DTYPE, log_decision
from .quoting_layout import (
    _F64,
    _I64,
    P_AMEND_THRESHOLD_TICKS,
    P_DRAWDOWN_BASE_QUOTE,
    P_LOT_TICK_VALUE,
    P_RECORD_EVERY_NS,
    R_ACTIONS,
    R_ASK_MULT,
    R_BID_MULT,
    R_BUCKET,
    R_CURSOR,
    R_DECISION,
    R_DECISIONS,
    R_DIAG,
    R_GATE,
    R_INTENSITY,
    R_LOTS,
    R_ORDERS,
    R_PACING,
    R_POSITIONS,
    R_QPARAMS,
    R_QUOTES,
    R_RECORDS,
    R_RISK_ACTION,
    R_RISK_INPUTS,
    R_RISK_LIMITS,
    R_RISK_STATE,
    R_SAMPLES,
    R_VARS,
    R_VOL_RETURNS,
    R_VOL_STATE,
    V_BOOK_ASK,
    V_BOOK_ASK_LOTS,
    V_BOOK_BID,
    V_BOOK_BID_LOTS,
    V_BOOK_TIME_NS,
    V_BOOK_UPDATES,
    V_CYCLES,
    V_IN_FLIGHT,
    V_N_DECISIONS,
    V_N_QUOTES,
    V_N_REC,
    V_NEXT_CHECK_NS,
    V_NEXT_REC_NS,
    V_PACE_FLAGS,
    V_RATE_LIMITED,
    V_REJECTS_SEEN,
    V_RISK_BOOK_UPDATES,
    V_RISK_CALL,
    V_RISK_MASK,
    V_RUNG,
    V_TRADED_LOTS,
    WORDS,
    region,
)
from .quoting_listener import book_fills, feed_trades, observe_book
from .quoting_orders import (
    cancel_after_replies,
    cancel_all,
    flatten,
    mirror_orders,
    requests_in_flight,
    send_actions,
)

SIDE_BUY, SIDE_SELL = codes.SIDE_BUY, codes.SIDE_SELL
#: Risk steps one wake-up may take while each asks to be called again at once.
_MAX_RISK_STEPS = 8


@helper(I8(HANDLE, I8A), inline=True)
def risk(h, v):
    """Run the risk monitor's step when due and carry out its actions; returns the pacing
    flag to ring (``PACE_FLAG_CHANGED`` when it woke the quoter, else 0)."""
    ist, params, scratch = h[0], h[6], h[7]
    now = ist[I_NOW]
    call = v[V_RISK_CALL]
    if call == codes.RISK_CALL_NEXT_CHECK:
        due = now >= v[V_NEXT_CHECK_NS]
    elif call == codes.RISK_CALL_AFTER_ACTIONS:
        due = requests_in_flight(h) == 0
    else:
        action = region(scratch, params, R_RISK_ACTION, WORDS[R_RISK_ACTION], RISK_ACTION)
        due = v[V_BOOK_UPDATES] > v[V_RISK_BOOK_UPDATES] or now >= action[0].deadline_ns
    if not due:
        return 0
    dp = region(scratch, params, R_DECISION, WORDS[R_DECISION], DECISION_PARAMS)
    limits = region(scratch, params, R_RISK_LIMITS, WORDS[R_RISK_LIMITS], RISK_LIMITS)
    state = region(scratch, params, R_RISK_STATE, WORDS[R_RISK_STATE], RISK_STATE)
    gate = region(scratch, params, R_GATE, WORDS[R_GATE], GATE_STATE)
    inputs = region(scratch, params, R_RISK_INPUTS, WORDS[R_RISK_INPUTS], RISK_INPUTS)
    action = region(scratch, params, R_RISK_ACTION, WORDS[R_RISK_ACTION], RISK_ACTION)
    positions = region(scratch, params, R_POSITIONS, WORDS[R_POSITIONS], POSITION)
    lots = region(scratch, params, R_LOTS, WORDS[R_LOTS], LOT)
    ring = 0
    for _ in range(_MAX_RISK_STEPS):
        p = positions[0]
        bid, ask = v[V_BOOK_BID], v[V_BOOK_ASK]
        mark = 0.5 * (bid + ask) if 0 < bid < ask else math.nan
        upnl = position_unrealised(positions, lots, 0, mark, params[P_LOT_TICK_VALUE])
        x = inputs[0]
        x.now_ns = now
        x.position_lots = p.position_lots
        x.cost_ticks_lots = p.cost_ticks_lots
        x.mark_ticks = mark
        x.equity_quote = (params[P_DRAWDOWN_BASE_QUOTE] + p.realised_pnl_quote
                          - p.maker_fees_quote - p.taker_fees_quote + p.funding_quote
                          + (upnl if math.isfinite(upnl) else 0.0))
        x.round_trip_count = p.round_trip_count
        x.losing_streak = p.losing_streak
        x.best_bid_ticks = bid
        x.best_ask_ticks = ask
        x.collar_low_ticks = 0.0
        x.collar_high_ticks = 0.0
        x.book_updates = v[V_BOOK_UPDATES]
        x.abort = 0
        call = risk_step(dp, limits, state, gate, inputs, action)
        a = action[0]
        v[V_RISK_MASK] = a.mask
        sent = 0
        if a.cancel_all != 0:
            sent += cancel_all(h, v)
        if a.flatten_lots != 0:
            sent += flatten(h, v, a.flatten_lots, a.flatten_limit_ticks)
        if a.wake_quoter != 0:
            ring = codes.PACE_FLAG_CHANGED
        v[V_RISK_BOOK_UPDATES] = v[V_BOOK_UPDATES]
        if call == codes.RISK_CALL_NEXT_CHECK:
            v[V_NEXT_CHECK_NS] = a.next_check_ns
        # Nothing sent: the actions are carried out already, so the next step is due now.
        if not (call == codes.RISK_CALL_AFTER_ACTIONS and sent == 0
                and requests_in_flight(h) == 0):
            break
    v[V_RISK_CALL] = call
    return ring


@helper(I8(HANDLE, I8A, I8), inline=True)
def quote(h, v, now):
    """Run one engine cycle on the local book and send what the rate limit lets through."""
    ist, params, scratch = h[0], h[6], h[7]
    table = region(scratch, params, R_ORDERS, WORDS[R_ORDERS], ORDER)
    actions = region(scratch, params, R_ACTIONS, WORDS[R_ACTIONS], ACTION)
    quotes = region(scratch, params, R_QUOTES, WORDS[R_QUOTES], QUOTE)
    diag = region(scratch, params, R_DIAG, WORDS[R_DIAG], QUOTE_DIAG)
    dp = region(scratch, params, R_DECISION, WORDS[R_DECISION], DECISION_PARAMS)
    gate = region(scratch, params, R_GATE, WORDS[R_GATE], GATE_STATE)
    pacing = region(scratch, params, R_PACING, WORDS[R_PACING], PACING_STATE)
    bucket = region(scratch, params, R_BUCKET, WORDS[R_BUCKET], BUCKET_STATE)
    setup = (region(scratch, params, R_QPARAMS, WORDS[R_QPARAMS], QUOTE_PARAMS),
             region(scratch, params, R_BID_MULT, 1, _F64),
             region(scratch, params, R_ASK_MULT, 1, _F64))
    state = (region(scratch, params, R_SAMPLES, WORDS[R_SAMPLES], MARKET_SAMPLE),
             region(scratch, params, R_CURSOR, WORDS[R_CURSOR], RING_CURSOR),
             region(scratch, params, R_VOL_STATE, WORDS[R_VOL_STATE], VOL_STATE),
             region(scratch, params, R_VOL_RETURNS, WORDS[R_VOL_RETURNS], VOL_RETURN),
             region(scratch, params, R_INTENSITY, WORDS[R_INTENSITY], INTENSITY_STATE))
    mirror_orders(h[2], ist[I_N_LOCAL], table, 0, v)
    book = (v[V_BOOK_TIME_NS], v[V_BOOK_BID], v[V_BOOK_ASK], v[V_BOOK_BID_LOTS],
            v[V_BOOK_ASK_LOTS], ist[I_POS_LOTS])
    n = engine_cycle((dp, gate, pacing), now, setup, state, book, (quotes, diag), table, 0,
                     np.int64(params[P_AMEND_THRESHOLD_TICKS]), actions)
    v[V_CYCLES] += 1
    if params[2 * R_DECISIONS + 1] > 0:  # run(..., decision_log=True)
        log = region(scratch, params, R_DECISIONS, WORDS[R_DECISIONS], DECISION_DTYPE)
        log_decision(log, v[V_N_DECISIONS], now, book, pacing[0].levels, n, quotes, diag)
        v[V_N_DECISIONS] += 1
    v[V_N_QUOTES] = diag[0].quote_count if pacing[0].levels > 0 else 0
    if n <= 0:
        return 0
    granted = bucket_take(bucket, now, n)
    v[V_RATE_LIMITED] += n - granted
    levels = gate_levels_allowed(dp, gate) if gate[0].ready != 0 else 0
    return send_actions(h, actions, granted, table, v, levels)


@helper(I8(QUOTE_T, I8, I8), inline=True)
def best_quote(quotes, n, side):
    """Price of our best quote on ``side`` in the first ``n`` ladder rows (-1: none)."""
    best = np.int64(-1)
    for j in range(n):
        q = quotes[j]
        if q.side == side and q.size_lots > 0:
            p = np.int64(q.price_ticks)
            if best < 0 or (side == SIDE_BUY and p > best) or (side == SIDE_SELL and p < best):
                best = p
    return best


@helper(I8(HANDLE, I8A), inline=True)
def record(h, v):
    """Write one QUOTING_RECORD row (the wrapper drains the buffer between kernel calls)."""
    ist, fst, lo, bs, params, scratch = h[0], h[1], h[2], h[5], h[6], h[7]
    records = region(scratch, params, R_RECORDS, WORDS[R_RECORDS], QUOTING_RECORD_DTYPE)
    quotes = region(scratch, params, R_QUOTES, WORDS[R_QUOTES], QUOTE)
    diag = region(scratch, params, R_DIAG, WORDS[R_DIAG], QUOTE_DIAG)
    dp = region(scratch, params, R_DECISION, WORDS[R_DECISION], DECISION_PARAMS)
    gate = region(scratch, params, R_GATE, WORDS[R_GATE], GATE_STATE)
    k = v[V_N_REC]
    r = records[k]
    bb, ba = bs[BS_BEST_BID], bs[BS_BEST_ASK]
    mid = (bb + ba) / 2.0 if bb != INVALID_MIN and ba != INVALID_MAX else math.nan
    pos = ist[I_POS_LOTS]
    open_orders = 0
    for i in range(ist[I_N_LOCAL]):
        if lo[i].status == ST_NEW or lo[i].status == ST_PARTIAL:
            open_orders += 1
    balance = fst[F_BALANCE] - fst[F_FEE]  # cash after fees
    now = ist[I_NOW]
    r.ts = now
    r.best_bid_tick = bb if bb != INVALID_MIN else 0
    r.best_ask_tick = ba if ba != INVALID_MAX else 0
    r.mid_tick = mid
    r.position_lots = pos
    r.balance = balance
    r.fee = fst[F_FEE]
    r.equity = balance + fst[F_CONTRACT] * pos * fst[F_LOT] * mid * fst[F_TICK]
    r.traded_lots = v[V_TRADED_LOTS]
    r.traded_value = fst[F_TRADED_VALUE]
    r.open_orders = open_orders
    n = v[V_N_QUOTES]
    bid0 = best_quote(quotes, n, SIDE_BUY)
    ask0 = best_quote(quotes, n, SIDE_SELL)
    r.bid0_tick = bid0 if bid0 >= 0 else math.nan
    r.ask0_tick = ask0 if ask0 >= 0 else math.nan
    r.sigma_per_sqrt_s = diag[0].sigma_per_sqrt_s
    r.quoted_spread_ticks = ask0 - bid0 if bid0 >= 0 and ask0 >= 0 else math.nan
    r.levels_allowed = gate_levels(dp, gate, now, v[V_BOOK_TIME_NS])
    r.risk_mask = v[V_RISK_MASK]
    v[V_N_REC] = k + 1
    return k + 1


@helper(I8(HANDLE, I8A), inline=True)
def rung_by_replies(h, v):
    """``PACE_FLAG_CHANGED`` when order replies arrived since the last wake-up (fewer requests
    in flight, or a new rejection), as the order manager rings the quoter on replies."""
    ist = h[0]
    in_flight = requests_in_flight(h)
    ring = 0
    if in_flight < v[V_IN_FLIGHT] or ist[I_REJECTS] != v[V_REJECTS_SEEN]:
        ring = codes.PACE_FLAG_CHANGED
    v[V_REJECTS_SEEN] = ist[I_REJECTS]
    return ring


@helper(I8(HANDLE, I8A), inline=True)
def request_wake(h, v):
    """Ask the runner to wake the strategy at its next timer (``ist[I_WAKE_AT]``): the quoter's
    wake time or forced refresh, the risk monitor's next check or its wait-for-book deadline,
    the next recorder row. Every timer is then served at its own time, whatever the data rate
    or the record interval."""
    ist, params, scratch = h[0], h[6], h[7]
    now = ist[I_NOW]
    pacing = region(scratch, params, R_PACING, WORDS[R_PACING], PACING_STATE)
    action = region(scratch, params, R_RISK_ACTION, WORDS[R_RISK_ACTION], RISK_ACTION)
    call = v[V_RISK_CALL]
    risk_at = (v[V_NEXT_CHECK_NS] if call == codes.RISK_CALL_NEXT_CHECK
               else action[0].deadline_ns if call == codes.RISK_CALL_AFTER_BOOK else 0)
    wake = v[V_NEXT_REC_NS]
    for t in (pacing[0].wake_ns, pacing[0].refresh_due_ns, risk_at):
        if now < t < wake or wake <= now:
            wake = t
    ist[I_WAKE_AT] = wake if wake > now else 0
    return ist[I_WAKE_AT]


@kernel(STRATEGY_SIG)
def quote_strategy(h):
    """One wake-up of qengine's quoting (see the module doc); ``STRATEGY_YIELD`` when the
    recorder buffer is full, else 0."""
    ist, params, scratch = h[0], h[6], h[7]
    v = region(scratch, params, R_VARS, 1, _I64)
    now = ist[I_NOW]
    flags = codes.PACE_FLAG_FILL if book_fills(h, v) > 0 else 0
    feed_trades(h)
    lx.clear_inactive(h)
    cancel_after_replies(h, v)  # a cancel-all still waiting for replies
    updated = observe_book(h, v)
    flags |= rung_by_replies(h, v)
    flags |= risk(h, v)
    v[V_PACE_FLAGS] |= flags
    if flags != 0:
        v[V_RUNG] = 1
    if v[V_BOOK_TIME_NS] > 0:  # the engine quotes once a book has arrived
        dp = region(scratch, params, R_DECISION, WORDS[R_DECISION], DECISION_PARAMS)
        pacing = region(scratch, params, R_PACING, WORDS[R_PACING], PACING_STATE)
        cycle = False
        if updated:
            answer = pacing_inline(dp, pacing, now, v[V_BOOK_UPDATES],
                                   requests_in_flight(h) > 0)
            cycle = answer == codes.INLINE_CYCLE
            if answer == codes.INLINE_WAKE:
                v[V_RUNG] = 1
        if not cycle and (v[V_RUNG] != 0 or now >= pacing[0].wake_ns):
            v[V_RUNG] = 0
            answer = pacing_due(dp, pacing, now, v[V_BOOK_UPDATES], v[V_PACE_FLAGS])
            cycle = answer == codes.PACE_CYCLE or answer == codes.PACE_CYCLE_FRESH
        if cycle:
            v[V_PACE_FLAGS] = 0  # a cycle takes what was rung before it
            quote(h, v, now)
    v[V_IN_FLIGHT] = requests_in_flight(h)  # (this wake-up's requests included)
    full = False
    if now >= v[V_NEXT_REC_NS]:
        every = np.int64(params[P_RECORD_EVERY_NS])
        record(h, v)
        v[V_NEXT_REC_NS] = (now // every + 1) * every
        full = v[V_N_REC] >= np.int64(params[2 * R_RECORDS + 1])
    request_wake(h, v)
    if full:
        return STRATEGY_YIELD
    if v[V_N_DECISIONS] > 0 and v[V_N_DECISIONS] >= np.int64(params[2 * R_DECISIONS + 1]):
        return STRATEGY_YIELD  # the log is full: the wrapper drains it (one cycle a wake-up)
    return 0
