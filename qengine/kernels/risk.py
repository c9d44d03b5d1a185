"""Risk-limit kernels: the periodic breach check and pre-trade side gating.

The risk monitor (engine, later) calls :func:`risk_check` on every pass and maps each breach bit
(``codes.RISK_*``) to its own action (cancel quotes, reduce-only flatten, halt). Each check is a
separate bit, so a stop loss can no longer hide inside a generic "limits failed" answer (the old
bot caught its stop loss inside ``check_risk_limits`` and never closed the position, bug 2), and a
take profit is not a halt (bug 15). The quoter calls :func:`side_allowed` and
:func:`side_capacity_lots` before quoting a side.
"""

from __future__ import annotations

import math

import numba

from . import codes
from ._jit import kernel
from .dtypes import RISK_LIMITS_T, RISK_STATE_T

_i8 = numba.types.int64
_f8 = numba.types.float64


@kernel(_i8(RISK_LIMITS_T, RISK_STATE_T, _i8, _i8, _f8, _f8, _f8, _i8, _i8))
def risk_check(limits, state, position_lots, cost_ticks_lots, mark_ticks, lot_tick_value_quote,
               equity_quote, consecutive_losses, now_ns):
    """Evaluate every limit and return the breach bitmask (0 when all is well).

    Parameters
    ----------
    limits : RISK_LIMITS array
        One row. A limit <= 0 or NaN disables its check.
    state : RISK_STATE array
        One row, changed in place: peak equity, last drawdown, UPNL, mask and time.
    position_lots : int
        Signed position in lots (``POSITION.position_lots``).
    cost_ticks_lots : int
        Sum of entry price * lots of the open lots (``POSITION.cost_ticks_lots``).
    mark_ticks : float
        Mark price in ticks (may be fractional; NaN or <= 0 means unknown).
    lot_tick_value_quote : float
        Quote currency per tick per lot.
    equity_quote : float
        Account equity in quote currency (capital plus PnL, not PnL alone); NaN skips the
        drawdown check.
    consecutive_losses : int
        Losing round trips in a row (``POSITION.losing_streak``).
    now_ns : int
        Current time in ns.

    Returns
    -------
    int
        OR of ``codes.RISK_*`` bits.

    Notes
    -----
    With ``q = position_lots``, ``v = lot_tick_value_quote``, basis ``B = |cost| * v`` and
    ``upnl = sign(q) * (mark * |q| - cost) * v``:

    - MAX_POSITION: ``|q| > max_position_lots``.
    - MAX_NOTIONAL: ``|q| * mark * v > max_notional_quote``.
    - STOP_LOSS: ``upnl / B <= -stop_loss_pct / 100``. Only reported here; the engine must act
      on it (the old bot halted without closing, bug 2).
    - TAKE_PROFIT: ``upnl / B >= take_profit_pct / 100``.
    - UPNL_TAKE_PROFIT: ``upnl >= upnl_take_profit_quote``.
    - MAX_DRAWDOWN: ``peak = max(peak, equity)``; ``(peak - equity) / peak * 100 >=
      max_drawdown_pct`` when ``peak > 0`` (never implemented in the old bot).
    - CONSECUTIVE_LOSSES: ``consecutive_losses >= max_consecutive_losses`` (never implemented).
    - NO_MARK: a position is open and the mark is unusable; the price checks are skipped but the
      condition is reported (the old bot only logged it).
    The price checks need a position and a usable mark.
    """
    lim = limits[0]
    st = state[0]
    mask = 0
    size = abs(position_lots)
    if lim["max_position_lots"] > 0 and size > lim["max_position_lots"]:
        mask |= codes.RISK_MAX_POSITION
    upnl = 0.0
    mark_ok = math.isfinite(mark_ticks) and mark_ticks > 0.0
    if size != 0 and not mark_ok:
        mask |= codes.RISK_NO_MARK
        upnl = math.nan
    elif size != 0:
        direction = 1.0 if position_lots > 0 else -1.0
        upnl = direction * (mark_ticks * size - cost_ticks_lots) * lot_tick_value_quote
        notional = size * mark_ticks * lot_tick_value_quote
        if lim["max_notional_quote"] > 0.0 and notional > lim["max_notional_quote"]:
            mask |= codes.RISK_MAX_NOTIONAL
        basis = abs(cost_ticks_lots) * lot_tick_value_quote
        if basis > 0.0:
            ratio = upnl / basis
            if lim["stop_loss_pct"] > 0.0 and ratio <= -lim["stop_loss_pct"] / 100.0:
                mask |= codes.RISK_STOP_LOSS
            if lim["take_profit_pct"] > 0.0 and ratio >= lim["take_profit_pct"] / 100.0:
                mask |= codes.RISK_TAKE_PROFIT
        if lim["upnl_take_profit_quote"] > 0.0 and upnl >= lim["upnl_take_profit_quote"]:
            mask |= codes.RISK_UPNL_TAKE_PROFIT
    if math.isfinite(equity_quote):
        if not (st["peak_equity_quote"] >= equity_quote):  # also replaces a NaN peak
            st["peak_equity_quote"] = equity_quote
        peak = st["peak_equity_quote"]
        st["drawdown_pct"] = (peak - equity_quote) / peak * 100.0 if peak > 0.0 else 0.0
        limit_pct = lim["max_drawdown_pct"]
        if limit_pct > 0.0 and peak > 0.0 and st["drawdown_pct"] >= limit_pct:
            mask |= codes.RISK_MAX_DRAWDOWN
    if lim["max_consecutive_losses"] > 0 and consecutive_losses >= lim["max_consecutive_losses"]:
        mask |= codes.RISK_CONSECUTIVE_LOSSES
    st["upnl_quote"] = upnl
    st["last_mask"] = mask
    st["last_check_ns"] = now_ns
    return mask


@kernel(numba.types.boolean(_i8, _i8, _i8))
def side_allowed(position_lots, limit_lots, side):
    """Return whether a new order on ``side`` may be quoted at this position.

    Bids only while ``position_lots < limit_lots``, asks only while ``position_lots >
    -limit_lots``: at the limit the side stops (the old bot used ``q > limit`` and kept bidding
    at exactly the limit). An unknown side is never allowed.
    """
    if side == codes.SIDE_BUY:
        return position_lots < limit_lots
    if side == codes.SIDE_SELL:
        return position_lots > -limit_lots
    return False


@kernel(_i8(_i8, _i8, _i8, _i8))
def side_capacity_lots(position_lots, limit_lots, side, size_lots):
    """Cap ``size_lots`` so that a full fill cannot take the position beyond the limit.

    Buys: ``min(size, limit - q)``; sells: ``min(size, limit + q)``; never below 0 and never
    bumped up to a minimum size (the old bot raised capped sizes back to 0.1 BTC). Unknown side
    gives 0.
    """
    if side == codes.SIDE_BUY:
        room = limit_lots - position_lots
    elif side == codes.SIDE_SELL:
        room = limit_lots + position_lots
    else:
        return 0
    return max(min(size_lots, room), 0)
