"""Queue-position models: how much quantity is ahead of our resting order at its price.

The estimate lives on the order record (``front_q``, ``cum_trade``), in quantity units, and the
arithmetic is hftbacktest's, step for step in float64, so that fills agree to the row:

- risk-averse: the queue advances only by trades at our price, and never exceeds the level's
  quantity (``front = min(front, new)``);
- power-probability(n): a level decrease not explained by trades since the last depth change
  is split between front and back of our order with probability ``back^n / (back^n + front^n)``
  of coming from behind.

Fill check (both): ``round(-front / lot)`` lots have executed once the queue is exhausted.
"""

from __future__ import annotations

import math

from qengine.kernels._jit import helper, kernel

from .book import rust_round
from .layout import F8, I8, ORDERS, QUEUE_POWER_PROB


@helper(F8(F8, F8), inline=True)
def rust_min(a, b):
    """Rust's ``f64::min``: a NaN operand is ignored."""
    if math.isnan(a):
        return b
    if math.isnan(b):
        return a
    return a if a < b else b


@kernel(I8(ORDERS, I8, F8), inline=True)
def queue_new(orders, slot, level_qty):
    """Start an order's queue behind the whole level quantity. Returns 0."""
    orders[slot].front_q = level_qty
    orders[slot].cum_trade = 0.0
    return 0


@kernel(I8(ORDERS, I8, F8), inline=True)
def queue_trade(orders, slot, trade_qty):
    """A trade of ``trade_qty`` at our price. Returns 0."""
    orders[slot].front_q -= trade_qty
    orders[slot].cum_trade += trade_qty
    return 0


@kernel(I8(ORDERS, I8, I8, F8, F8, F8), inline=True)
def queue_depth(orders, slot, model, power_n, prev_qty, new_qty):
    """The level at our price changed from ``prev_qty`` to ``new_qty``. Returns 0."""
    front = orders[slot].front_q
    if model != QUEUE_POWER_PROB:
        orders[slot].front_q = rust_min(front, new_qty)
        return 0
    chg = prev_qty - new_qty - orders[slot].cum_trade
    orders[slot].cum_trade = 0.0
    if chg < 0.0:
        orders[slot].front_q = rust_min(front, new_qty)
        return 0
    back = prev_qty - front
    fb = back**power_n
    prob = fb / (fb + front**power_n)
    if math.isinf(prob):
        prob = 1.0
    est = front - (1.0 - prob) * chg + rust_min(back - prob * chg, 0.0)
    orders[slot].front_q = rust_min(est, new_qty)
    return 0


@kernel(I8(ORDERS, I8, F8), inline=True)
def queue_filled_lots(orders, slot, lot_size):
    """Lots executed at the queue front (0 if none); an exhausted queue restarts at 0."""
    lots = rust_round(-orders[slot].front_q / lot_size)
    if lots > 0:
        orders[slot].front_q = 0.0
        return lots
    return 0
