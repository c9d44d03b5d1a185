"""Volume-clock candles from public trades, their four signals and bounded parameter adjustments.

The intent of the old bot's ``VolumeBasedCandleBuffer`` and ``_update_predictive_parameters``
(original-quoter.md §2.7; constants of e53a73d/eeaeb90), inert there. One kernel per stage:
``candle_update`` per public trade, ``candle_signals`` from the last three closed candles,
``predict_adjustments`` and ``apply_adjustments`` (in ``adjust.py``, re-exported here) turn the
signals into bounded parameter adjustments.

Fixes versus the old bot: adjustments apply to the configured *base* values each time and are
clamped (the old ``gamma <- gamma * (1 + gamma_adj)`` compounded without limit); the close step
behind the reversal offset travels in the signals record; sizes are exact integer lots; time comes
in as ``time_ns``; bad input returns a status instead of raising.
"""

from __future__ import annotations

import math

from numba import types as nt

from . import codes
from ._jit import helper, kernel
from .adjust import _sign
from .adjust import apply_adjustments as apply_adjustments
from .adjust import predict_adjustments as predict_adjustments
from .dtypes import (
    CANDLE_SIGNALS_T,
    CANDLE_STATE_T,
    CANDLE_T,
)

#: Closed candles needed before signals are computed (the old bot's MIN_CANDLES_FOR_SIGNALS).
MIN_CANDLES_FOR_SIGNALS = 3
#: EMA periods in candles for close and delta ratio: alpha = 2 / (period + 1).
EMA_FAST_PERIOD = 8
EMA_MEDIUM_PERIOD = 21
EMA_SLOW_PERIOD = 55
# Signal and prediction constants, named and valued as in the old bot (e53a73d).
MOMENTUM_PRICE_FACTOR = 100.0
MOMENTUM_DELTA_FACTOR = 5.0
REVERSAL_PRICE_FACTOR = 50.0
REVERSAL_DELTA_FACTOR = 10.0
VOLATILITY_RANGE_FACTOR = 50.0
EXHAUSTION_DELTA_THRESHOLD = 0.1
EXHAUSTION_FACTOR = 5.0

_I8 = nt.int64
_F8 = nt.float64


@helper(nt.boolean(CANDLE_STATE_T, _I8))
def _cursor_ok(state, capacity):
    # A corrupted cursor would index outside the ring: refuse instead of writing out of bounds.
    if state.shape[0] < 1 or capacity < 1:
        return False
    head = state[0]["head"]
    count = state[0]["count"]
    return 0 <= head < capacity and 0 <= count <= capacity


@helper(_F8(_F8, _F8, _I8))
def _ema(previous, value, period):
    alpha = 2.0 / (period + 1)
    return value * alpha + previous * (1.0 - alpha)


@helper(nt.void(CANDLE_STATE_T, CANDLE_T, _I8))
def _close_current(state, candles, reason):
    # Move the open candle into the ring, update EMAs and totals, and reset the accumulators.
    s = state[0]
    c = candles[s["head"]]
    buy = s["current_buy_lots"]
    sell = s["current_sell_lots"]
    c["open_time_ns"] = s["current_open_time_ns"]
    c["close_time_ns"] = s["current_last_time_ns"]
    c["open_ticks"] = s["current_open_ticks"]
    c["high_ticks"] = s["current_high_ticks"]
    c["low_ticks"] = s["current_low_ticks"]
    c["close_ticks"] = s["current_close_ticks"]
    c["buy_lots"] = buy
    c["sell_lots"] = sell
    c["volume_lots"] = buy + sell
    c["delta_lots"] = buy - sell
    ratio = float(buy - sell) / float(buy + sell)
    c["delta_ratio"] = ratio
    c["trade_count"] = s["current_trade_count"]
    c["close_reason"] = reason
    close = float(s["current_close_ticks"])
    if s["closed_total"] == 0:
        s["ema_close_fast_ticks"] = close
        s["ema_close_medium_ticks"] = close
        s["ema_close_slow_ticks"] = close
        s["ema_delta_ratio_fast"] = ratio
        s["ema_delta_ratio_medium"] = ratio
        s["ema_delta_ratio_slow"] = ratio
    else:
        s["ema_close_fast_ticks"] = _ema(s["ema_close_fast_ticks"], close, EMA_FAST_PERIOD)
        s["ema_close_medium_ticks"] = _ema(s["ema_close_medium_ticks"], close, EMA_MEDIUM_PERIOD)
        s["ema_close_slow_ticks"] = _ema(s["ema_close_slow_ticks"], close, EMA_SLOW_PERIOD)
        s["ema_delta_ratio_fast"] = _ema(s["ema_delta_ratio_fast"], ratio, EMA_FAST_PERIOD)
        s["ema_delta_ratio_medium"] = _ema(s["ema_delta_ratio_medium"], ratio, EMA_MEDIUM_PERIOD)
        s["ema_delta_ratio_slow"] = _ema(s["ema_delta_ratio_slow"], ratio, EMA_SLOW_PERIOD)
    s["cumulative_delta_lots"] += buy - sell
    s["closed_total"] += 1
    s["head"] = (s["head"] + 1) % candles.shape[0]
    s["count"] = min(s["count"] + 1, candles.shape[0])
    s["current_open_time_ns"] = 0
    s["current_last_time_ns"] = 0
    s["current_open_ticks"] = 0
    s["current_high_ticks"] = 0
    s["current_low_ticks"] = 0
    s["current_close_ticks"] = 0
    s["current_buy_lots"] = 0
    s["current_sell_lots"] = 0
    s["current_trade_count"] = 0


@kernel(_I8(CANDLE_STATE_T, CANDLE_T, _I8, _I8, _I8, _I8, _I8, _I8))
def candle_update(
    state, candles, time_ns, price_ticks, size_lots, taker_side, volume_threshold_lots, max_time_ns
):
    """Add one public trade to the open candle and close it when it is full or old enough.

    Parameters
    ----------
    state : CANDLE_STATE array, shape (1,)
        Builder state, updated in place.
    candles : CANDLE array, shape (capacity,)
        Ring of closed candles (the old bot kept 100), written in place.
    time_ns : int
        Exchange time of the trade, ns.
    price_ticks : int
        Trade price, ticks (> 0).
    size_lots : int
        Trade size, lots (> 0).
    taker_side : int
        ``codes.SIDE_BUY`` (taker bought) or ``codes.SIDE_SELL``.
    volume_threshold_lots : int
        Close once the candle's volume reaches this many lots (> 0).
    max_time_ns : int
        Close on a trade arriving this long or longer after the candle opened, ns (> 0).

    Returns
    -------
    int
        ``codes.CANDLE_CLOSED`` if this trade closed a candle (it is then the newest ring entry),
        ``codes.STATUS_OK`` if not, ``codes.STATUS_BAD_INPUT`` (state unchanged) for bad input.
    """
    if not _cursor_ok(state, candles.shape[0]):
        return codes.STATUS_BAD_INPUT
    if time_ns < 0 or price_ticks <= 0 or size_lots <= 0:
        return codes.STATUS_BAD_INPUT
    if taker_side != codes.SIDE_BUY and taker_side != codes.SIDE_SELL:
        return codes.STATUS_BAD_INPUT
    if volume_threshold_lots <= 0 or max_time_ns <= 0:
        return codes.STATUS_BAD_INPUT
    s = state[0]
    if s["current_trade_count"] == 0:
        s["current_open_time_ns"] = time_ns
        s["current_open_ticks"] = price_ticks
        s["current_high_ticks"] = price_ticks
        s["current_low_ticks"] = price_ticks
    else:
        s["current_high_ticks"] = max(s["current_high_ticks"], price_ticks)
        s["current_low_ticks"] = min(s["current_low_ticks"], price_ticks)
    s["current_close_ticks"] = price_ticks
    s["current_last_time_ns"] = time_ns
    if taker_side == codes.SIDE_BUY:
        s["current_buy_lots"] += size_lots
    else:
        s["current_sell_lots"] += size_lots
    s["current_trade_count"] += 1
    if s["current_buy_lots"] + s["current_sell_lots"] >= volume_threshold_lots:
        _close_current(state, candles, codes.CANDLE_CLOSE_VOLUME)
        return codes.CANDLE_CLOSED
    if time_ns - s["current_open_time_ns"] >= max_time_ns:
        _close_current(state, candles, codes.CANDLE_CLOSE_TIME)
        return codes.CANDLE_CLOSED
    return codes.STATUS_OK


@helper(_F8(_F8, _F8, _F8))
def _mean3(a, b, c):
    return (a + b + c) / 3.0


@helper(_F8(_F8, _F8, _F8))
def _std3(a, b, c):
    # Population standard deviation (numpy's default ddof=0, as the old bot used).
    m = (a + b + c) / 3.0
    return math.sqrt(((a - m) * (a - m) + (b - m) * (b - m) + (c - m) * (c - m)) / 3.0)


@helper(_F8(CANDLE_T, _I8, _I8, _I8))
def _volatility_signal(candles, i0, i1, i2):
    c0 = candles[i0]
    c1 = candles[i1]
    c2 = candles[i2]
    price_range = _mean3(
        c0["high_ticks"] / c0["low_ticks"] - 1.0,
        c1["high_ticks"] / c1["low_ticks"] - 1.0,
        c2["high_ticks"] / c2["low_ticks"] - 1.0,
    )
    v0 = float(c0["volume_lots"])
    v1 = float(c1["volume_lots"])
    v2 = float(c2["volume_lots"])
    volume_cv = _std3(v0, v1, v2) / _mean3(v0, v1, v2)
    delta_std = _std3(c0["delta_ratio"], c1["delta_ratio"], c2["delta_ratio"])
    return min(1.0, (price_range * VOLATILITY_RANGE_FACTOR + volume_cv + delta_std) / 3.0)


@kernel(_I8(CANDLE_STATE_T, CANDLE_T, CANDLE_SIGNALS_T))
def candle_signals(state, candles, out_signals):
    """Compute the four candle signals from the three newest closed candles (old bot §2.7).

    With ``ret = close_newest / open_oldest - 1``, ``d`` the three delta ratios (oldest first),
    ``dema = ema_delta_ratio_fast - ema_delta_ratio_slow``, ``price_dir = sign(close_newest -
    open_oldest)``:

    - momentum = clip(100 ret sign(mean d) min(1, 5 |mean d|), -1, 1);
    - reversal = min(1, 50 |ret|) min(1, 10 |dema|) when price_dir and sign(dema) are both
      non-zero and disagree, else 0;
    - volatility = min(1, (50 mean(high/low - 1) + std(volume)/mean(volume) + std(d)) / 3)
      (population std);
    - exhaustion = min(1, 5 |d_newest - d_oldest|) when price_dir > 0 and the delta trend is below
      -0.1, or price_dir < 0 and it is above 0.1, else 0.

    Parameters
    ----------
    state : CANDLE_STATE array, shape (1,)
        Builder state (read only).
    candles : CANDLE array, shape (capacity,)
        Ring of closed candles (read only); capacity must be at least 3 to ever leave warm-up.
    out_signals : CANDLE_SIGNALS array, shape (1,)
        Written: the signals (dimensionless), the newest close-to-close step sign and the newest
        candle's ``close_time_ns`` as ``time_ns``.

    Returns
    -------
    int
        ``codes.STATUS_OK``; ``codes.STATUS_WARMING_UP`` with zero signals below 3 candles;
        ``codes.STATUS_BAD_INPUT`` with zero signals for a corrupted state or candle.
    """
    if out_signals.shape[0] < 1:
        return codes.STATUS_BAD_INPUT
    o = out_signals[0]
    o["momentum"] = 0.0
    o["reversal"] = 0.0
    o["volatility"] = 0.0
    o["exhaustion"] = 0.0
    o["close_step_sign"] = 0
    o["time_ns"] = 0
    if not _cursor_ok(state, candles.shape[0]):
        return codes.STATUS_BAD_INPUT
    capacity = candles.shape[0]
    head = state[0]["head"]
    count = state[0]["count"]
    if count > 0:
        o["time_ns"] = candles[(head - 1 + capacity) % capacity]["close_time_ns"]
    if count < MIN_CANDLES_FOR_SIGNALS:
        return codes.STATUS_WARMING_UP
    i0 = (head - 3 + capacity) % capacity
    i1 = (head - 2 + capacity) % capacity
    i2 = (head - 1 + capacity) % capacity
    for i in (i0, i1, i2):
        if candles[i]["open_ticks"] <= 0 or candles[i]["low_ticks"] <= 0:
            return codes.STATUS_BAD_INPUT
        if candles[i]["volume_lots"] <= 0:
            return codes.STATUS_BAD_INPUT
    open_oldest = candles[i0]["open_ticks"]
    close_newest = candles[i2]["close_ticks"]
    d0 = candles[i0]["delta_ratio"]
    d2 = candles[i2]["delta_ratio"]
    ret = close_newest / open_oldest - 1.0
    mean_delta = _mean3(d0, candles[i1]["delta_ratio"], d2)
    momentum = ret * MOMENTUM_PRICE_FACTOR * _sign(mean_delta)
    momentum *= min(1.0, abs(mean_delta) * MOMENTUM_DELTA_FACTOR)
    o["momentum"] = min(1.0, max(-1.0, momentum))
    price_dir = _sign(float(close_newest - open_oldest))
    delta_gap = state[0]["ema_delta_ratio_fast"] - state[0]["ema_delta_ratio_slow"]
    delta_dir = _sign(delta_gap)
    if price_dir != 0.0 and delta_dir != 0.0 and price_dir != delta_dir:
        o["reversal"] = min(1.0, abs(ret) * REVERSAL_PRICE_FACTOR) * min(
            1.0, abs(delta_gap) * REVERSAL_DELTA_FACTOR
        )
    o["volatility"] = _volatility_signal(candles, i0, i1, i2)
    delta_trend = d2 - d0
    if (price_dir > 0.0 and delta_trend < -EXHAUSTION_DELTA_THRESHOLD) or (
        price_dir < 0.0 and delta_trend > EXHAUSTION_DELTA_THRESHOLD
    ):
        o["exhaustion"] = min(1.0, abs(delta_trend) * EXHAUSTION_FACTOR)
    o["close_step_sign"] = int(_sign(float(close_newest - candles[i1]["close_ticks"])))
    return codes.STATUS_OK
