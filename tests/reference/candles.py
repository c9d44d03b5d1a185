"""Pure-Python twins of ``qengine.kernels.candles``, written for clarity, not speed.

Each twin takes the same structured arrays as its kernel and writes the same fields, but does the
work in plain Python (ints, floats, lists, dicts). ``replay_candles`` is an independent oracle in
the old bot's shape (a list of candle dicts, truncated to the ring capacity).
"""

from __future__ import annotations

import math

from qengine.kernels import codes

EMA_PERIODS = {"fast": 8, "medium": 21, "slow": 55}


def _cursor_ok(state, capacity):
    if len(state) < 1 or capacity < 1:
        return False
    head, count = int(state[0]["head"]), int(state[0]["count"])
    return 0 <= head < capacity and 0 <= count <= capacity


def _trade_ok(time_ns, price_ticks, size_lots, taker_side):
    return (
        time_ns >= 0
        and price_ticks > 0
        and size_lots > 0
        and taker_side in (codes.SIDE_BUY, codes.SIDE_SELL)
    )


def _sign(x):
    return (x > 0) - (x < 0)


def candle_update(
    state, candles, time_ns, price_ticks, size_lots, taker_side, volume_threshold_lots, max_time_ns
):
    """Twin of ``candles.candle_update``."""
    if not _cursor_ok(state, len(candles)) or not _trade_ok(
        time_ns, price_ticks, size_lots, taker_side
    ):
        return codes.STATUS_BAD_INPUT
    if volume_threshold_lots <= 0 or max_time_ns <= 0:
        return codes.STATUS_BAD_INPUT
    s = state[0]
    if s["current_trade_count"] == 0:
        s["current_open_time_ns"] = time_ns
        s["current_open_ticks"] = price_ticks
        s["current_high_ticks"] = price_ticks
        s["current_low_ticks"] = price_ticks
    s["current_high_ticks"] = max(int(s["current_high_ticks"]), price_ticks)
    s["current_low_ticks"] = min(int(s["current_low_ticks"]), price_ticks)
    s["current_close_ticks"] = price_ticks
    s["current_last_time_ns"] = time_ns
    side_field = "current_buy_lots" if taker_side == codes.SIDE_BUY else "current_sell_lots"
    s[side_field] = int(s[side_field]) + size_lots
    s["current_trade_count"] = int(s["current_trade_count"]) + 1
    volume = int(s["current_buy_lots"]) + int(s["current_sell_lots"])
    if volume >= volume_threshold_lots:
        reason = codes.CANDLE_CLOSE_VOLUME
    elif time_ns - int(s["current_open_time_ns"]) >= max_time_ns:
        reason = codes.CANDLE_CLOSE_TIME
    else:
        return codes.STATUS_OK
    _close(state, candles, reason)
    return codes.CANDLE_CLOSED


def _close(state, candles, reason):
    s = state[0]
    buy, sell = int(s["current_buy_lots"]), int(s["current_sell_lots"])
    candle = {
        "open_time_ns": int(s["current_open_time_ns"]),
        "close_time_ns": int(s["current_last_time_ns"]),
        "open_ticks": int(s["current_open_ticks"]),
        "high_ticks": int(s["current_high_ticks"]),
        "low_ticks": int(s["current_low_ticks"]),
        "close_ticks": int(s["current_close_ticks"]),
        "buy_lots": buy,
        "sell_lots": sell,
        "volume_lots": buy + sell,
        "delta_lots": buy - sell,
        "delta_ratio": float(buy - sell) / float(buy + sell),
        "trade_count": int(s["current_trade_count"]),
        "close_reason": reason,
    }
    head = int(s["head"])
    for name, value in candle.items():
        candles[head][name] = value
    first = int(s["closed_total"]) == 0
    for label, period in EMA_PERIODS.items():
        alpha = 2.0 / (period + 1)
        for field, value in (
            (f"ema_close_{label}_ticks", float(candle["close_ticks"])),
            (f"ema_delta_ratio_{label}", candle["delta_ratio"]),
        ):
            s[field] = value if first else value * alpha + float(s[field]) * (1.0 - alpha)
    s["cumulative_delta_lots"] = int(s["cumulative_delta_lots"]) + buy - sell
    s["closed_total"] = int(s["closed_total"]) + 1
    s["head"] = (head + 1) % len(candles)
    s["count"] = min(int(s["count"]) + 1, len(candles))
    for field in s.dtype.names:
        if field.startswith("current_"):
            s[field] = 0


def candles_in_order(state, candles):
    """Closed candles in the ring, oldest first, as a list of dicts."""
    head, count, capacity = int(state[0]["head"]), int(state[0]["count"]), len(candles)
    return [
        {name: candles[(head - count + k) % capacity][name].item() for name in candles.dtype.names}
        for k in range(count)
    ]


def replay_candles(trades, volume_threshold_lots, max_time_ns, capacity):
    """Old-bot-shaped oracle: closed candles (oldest first, last ``capacity``) and the open one.

    ``trades`` are valid ``(time_ns, price_ticks, size_lots, taker_side)`` tuples.
    """
    closed, current = [], None
    for time_ns, price, size, side in trades:
        if current is None:
            current = {"open_time_ns": time_ns, "prices": [], "buy": 0, "sell": 0}
        current["prices"].append(price)
        current["close_time_ns"] = time_ns
        current["buy" if side == codes.SIDE_BUY else "sell"] += size
        volume = current["buy"] + current["sell"]
        if volume >= volume_threshold_lots or time_ns - current["open_time_ns"] >= max_time_ns:
            reason = (
                codes.CANDLE_CLOSE_VOLUME
                if volume >= volume_threshold_lots
                else codes.CANDLE_CLOSE_TIME
            )
            prices = current["prices"]
            closed.append(
                {
                    "open_time_ns": current["open_time_ns"],
                    "close_time_ns": current["close_time_ns"],
                    "open_ticks": prices[0],
                    "high_ticks": max(prices),
                    "low_ticks": min(prices),
                    "close_ticks": prices[-1],
                    "buy_lots": current["buy"],
                    "sell_lots": current["sell"],
                    "volume_lots": volume,
                    "delta_lots": current["buy"] - current["sell"],
                    "delta_ratio": (current["buy"] - current["sell"]) / volume,
                    "trade_count": len(prices),
                    "close_reason": reason,
                }
            )
            current = None
    return closed[-capacity:], current


def _zero_signals(out):
    for name in ("momentum", "reversal", "volatility", "exhaustion"):
        out[0][name] = 0.0
    out[0]["close_step_sign"] = 0
    out[0]["time_ns"] = 0


def _pstdev(values):
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) * (v - mean) for v in values) / len(values))


def candle_signals(state, candles, out_signals):
    """Twin of ``candles.candle_signals``."""
    if len(out_signals) < 1:
        return codes.STATUS_BAD_INPUT
    _zero_signals(out_signals)
    if not _cursor_ok(state, len(candles)):
        return codes.STATUS_BAD_INPUT
    history = candles_in_order(state, candles)
    if history:
        out_signals[0]["time_ns"] = history[-1]["close_time_ns"]
    if len(history) < 3:
        return codes.STATUS_WARMING_UP
    recent = history[-3:]
    if any(c["open_ticks"] <= 0 or c["low_ticks"] <= 0 or c["volume_lots"] <= 0 for c in recent):
        return codes.STATUS_BAD_INPUT
    first, last = recent[0], recent[-1]
    deltas = [c["delta_ratio"] for c in recent]
    price_return = last["close_ticks"] / first["open_ticks"] - 1.0
    mean_delta = sum(deltas) / 3.0
    momentum = price_return * 100.0 * _sign(mean_delta) * min(1.0, abs(mean_delta) * 5.0)
    out_signals[0]["momentum"] = max(-1.0, min(1.0, momentum))

    price_direction = _sign(last["close_ticks"] - first["open_ticks"])
    gap = float(state[0]["ema_delta_ratio_fast"]) - float(state[0]["ema_delta_ratio_slow"])
    delta_direction = _sign(gap)
    if price_direction and delta_direction and price_direction != delta_direction:
        strength = min(1.0, abs(price_return) * 50.0) * min(1.0, abs(gap) * 10.0)
        out_signals[0]["reversal"] = strength

    ranges = [c["high_ticks"] / c["low_ticks"] - 1.0 for c in recent]
    volumes = [float(c["volume_lots"]) for c in recent]
    volume_cv = _pstdev(volumes) / (sum(volumes) / 3.0)
    score = (sum(ranges) / 3.0 * 50.0 + volume_cv + _pstdev(deltas)) / 3.0
    out_signals[0]["volatility"] = min(1.0, score)

    delta_trend = deltas[-1] - deltas[0]
    if (price_direction > 0 and delta_trend < -0.1) or (price_direction < 0 and delta_trend > 0.1):
        out_signals[0]["exhaustion"] = min(1.0, abs(delta_trend) * 5.0)
    out_signals[0]["close_step_sign"] = _sign(last["close_ticks"] - recent[1]["close_ticks"])
    return codes.STATUS_OK


# Twins of adjust.py live in tests/reference/adjust.py; re-exported for the candle tests.
from tests.reference.adjust import apply_adjustments, predict_adjustments  # noqa: E402,F401
