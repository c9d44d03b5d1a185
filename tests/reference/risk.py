"""Pure-Python twins of ``qengine.kernels.risk``: each limit written out as its formula."""

from __future__ import annotations

import math

from qengine.kernels import codes


def _enabled(limit):
    return not math.isnan(limit) and limit > 0


def risk_check(limits, state, position_lots, cost_ticks_lots, mark_ticks, lot_tick_value_quote,
               equity_quote, consecutive_losses, now_ns):
    lim = {name: limits[0][name].item() for name in limits.dtype.names}
    breaches = []
    q = position_lots
    if _enabled(lim["max_position_lots"]) and abs(q) > lim["max_position_lots"]:
        breaches.append(codes.RISK_MAX_POSITION)
    upnl = 0.0
    if q != 0:
        if not (math.isfinite(mark_ticks) and mark_ticks > 0):
            breaches.append(codes.RISK_NO_MARK)
            upnl = math.nan
        else:
            sign = 1.0 if q > 0 else -1.0
            upnl = sign * (mark_ticks * abs(q) - cost_ticks_lots) * lot_tick_value_quote
            notional = abs(q) * mark_ticks * lot_tick_value_quote
            if _enabled(lim["max_notional_quote"]) and notional > lim["max_notional_quote"]:
                breaches.append(codes.RISK_MAX_NOTIONAL)
            basis = abs(cost_ticks_lots) * lot_tick_value_quote
            if basis > 0:
                return_on_basis = upnl / basis
                stop_loss = -lim["stop_loss_pct"] / 100
                if _enabled(lim["stop_loss_pct"]) and return_on_basis <= stop_loss:
                    breaches.append(codes.RISK_STOP_LOSS)
                if (_enabled(lim["take_profit_pct"])
                        and return_on_basis >= lim["take_profit_pct"] / 100):
                    breaches.append(codes.RISK_TAKE_PROFIT)
            if _enabled(lim["upnl_take_profit_quote"]) and upnl >= lim["upnl_take_profit_quote"]:
                breaches.append(codes.RISK_UPNL_TAKE_PROFIT)
    st = state[0]
    if math.isfinite(equity_quote):
        peak = float(st["peak_equity_quote"])
        if math.isnan(peak) or equity_quote > peak:
            peak = equity_quote
        st["peak_equity_quote"] = peak
        drawdown_pct = (peak - equity_quote) / peak * 100.0 if peak > 0 else 0.0
        st["drawdown_pct"] = drawdown_pct
        limit_pct = lim["max_drawdown_pct"]
        if _enabled(limit_pct) and peak > 0 and drawdown_pct >= limit_pct:
            breaches.append(codes.RISK_MAX_DRAWDOWN)
    if (_enabled(lim["max_consecutive_losses"])
            and consecutive_losses >= lim["max_consecutive_losses"]):
        breaches.append(codes.RISK_CONSECUTIVE_LOSSES)
    mask = sum(set(breaches))
    st["upnl_quote"] = upnl
    st["last_mask"] = mask
    st["last_check_ns"] = now_ns
    return mask


def side_allowed(position_lots, limit_lots, side):
    if side == codes.SIDE_BUY:
        return position_lots < limit_lots
    if side == codes.SIDE_SELL:
        return -position_lots < limit_lots
    return False


def side_capacity_lots(position_lots, limit_lots, side, size_lots):
    if side == codes.SIDE_BUY:
        room = limit_lots - position_lots
    elif side == codes.SIDE_SELL:
        room = limit_lots + position_lots
    else:
        return 0
    return max(0, min(size_lots, room))
