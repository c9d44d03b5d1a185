"""Twin of ``qengine.backtest.queue``: hftbacktest's queue models in plain Python floats."""

from __future__ import annotations

import math

from qengine.backtest.layout import QUEUE_POWER_PROB

from .book import rust_round


def _fmin(a, b):  # Rust f64::min: NaN loses
    if math.isnan(a):
        return b
    if math.isnan(b):
        return a
    return min(a, b)


def queue_new(orders, slot, level_qty):
    orders[slot]["front_q"] = level_qty
    orders[slot]["cum_trade"] = 0.0
    return 0


def queue_trade(orders, slot, trade_qty):
    orders[slot]["front_q"] = float(orders[slot]["front_q"]) - trade_qty
    orders[slot]["cum_trade"] = float(orders[slot]["cum_trade"]) + trade_qty
    return 0


def queue_depth(orders, slot, model, power_n, prev_qty, new_qty):
    front = float(orders[slot]["front_q"])
    if model != QUEUE_POWER_PROB:
        orders[slot]["front_q"] = _fmin(front, new_qty)
        return 0
    chg = prev_qty - new_qty - float(orders[slot]["cum_trade"])
    orders[slot]["cum_trade"] = 0.0
    if chg < 0:
        orders[slot]["front_q"] = _fmin(front, new_qty)
        return 0
    back = prev_qty - front
    try:
        fb, ff = math.pow(back, power_n), math.pow(front, power_n)
    except ValueError:  # negative base, fractional power: NaN in IEEE arithmetic
        fb = ff = math.nan
    if fb + ff == 0:  # IEEE division: x/0 is +-inf, 0/0 is NaN
        prob = math.nan if fb == 0 or math.isnan(fb) else math.copysign(math.inf, fb)
    else:
        prob = fb / (fb + ff)
    if math.isinf(prob):
        prob = 1.0
    est = front - (1 - prob) * chg + _fmin(back - prob * chg, 0.0)
    orders[slot]["front_q"] = _fmin(est, new_qty)
    return 0


def queue_filled_lots(orders, slot, lot_size):
    lots = rust_round(-float(orders[slot]["front_q"]) / lot_size)
    if lots > 0:
        orders[slot]["front_q"] = 0.0
        return lots
    return 0
