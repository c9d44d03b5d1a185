"""Pure-Python twins of ``qengine.kernels.vamp``, written for clarity, not speed.

The twins keep the old bot's shape: VAMP as buy/sell VWAPs weighted by the aggressive buy ratio,
and the impact window read as a list of ``(time_ns, signed_lots)`` pairs, oldest first.
"""

from __future__ import annotations

from qengine.kernels import codes

INT64_MAX = 2**63 - 1


def _cursor_ok(state, capacity):
    if len(state) < 1 or capacity < 1:
        return False
    head, count = int(state[0]["impact_head"]), int(state[0]["impact_count"])
    return 0 <= head < capacity and 0 <= count <= capacity


def impact_window(state, impacts):
    """The ring's live entries as ``(time_ns, signed_lots)``, oldest first."""
    head, count, capacity = (
        int(state[0]["impact_head"]),
        int(state[0]["impact_count"]),
        len(impacts),
    )
    return [
        (
            int(impacts[(head - count + k) % capacity]["time_ns"]),
            int(impacts[(head - count + k) % capacity]["signed_lots"]),
        )
        for k in range(count)
    ]


def vamp_update(state, impacts, time_ns, price_ticks, size_lots, taker_side, is_aggressive):
    """Twin of ``vamp.vamp_update``."""
    if not _cursor_ok(state, len(impacts)):
        return codes.STATUS_BAD_INPUT
    if time_ns < 0 or price_ticks <= 0 or size_lots <= 0:
        return codes.STATUS_BAD_INPUT
    if taker_side not in (codes.SIDE_BUY, codes.SIDE_SELL) or is_aggressive not in (0, 1):
        return codes.STATUS_BAD_INPUT
    s = state[0]
    volume = int(s["volume_lots"]) + size_lots
    turnover = int(s["turnover_tick_lots"]) + price_ticks * size_lots
    if volume > INT64_MAX or turnover > INT64_MAX:  # Python ints do not overflow: compare.
        return codes.STATUS_FULL
    s["volume_lots"] = volume
    s["turnover_tick_lots"] = turnover
    s["trade_count"] = int(s["trade_count"]) + 1
    if not is_aggressive:
        return codes.STATUS_OK
    side = "buy" if taker_side == codes.SIDE_BUY else "sell"
    s[f"{side}_aggressive_lots"] = int(s[f"{side}_aggressive_lots"]) + size_lots
    s[f"{side}_turnover_tick_lots"] = int(s[f"{side}_turnover_tick_lots"]) + price_ticks * size_lots
    window = impact_window(state, impacts)
    window.append((time_ns, size_lots if side == "buy" else -size_lots))
    window = window[-len(impacts) :]
    # Rewrite the ring from the window, keeping the write position where the kernel keeps it.
    head = (int(s["impact_head"]) + 1) % len(impacts)
    for k, (t, signed) in enumerate(window):
        slot = (head - len(window) + k) % len(impacts)
        impacts[slot]["time_ns"] = t
        impacts[slot]["signed_lots"] = signed
    s["impact_head"] = head
    s["impact_count"] = len(window)
    return codes.STATUS_OK


def vamp_value(state, impacts, now_ns, max_age_ns, out):
    """Twin of ``vamp.vamp_value`` (VAMP via the old bot's ratio formula)."""
    if len(out) < 1 or max_age_ns <= 0 or not _cursor_ok(state, len(impacts)):
        return codes.STATUS_BAD_INPUT
    weighted, total_weight, entries = 0.0, 0.0, 0
    for t, signed in impact_window(state, impacts):
        age = max(now_ns - t, 0)
        if age >= max_age_ns:
            continue
        weight = 1.0 - age / max_age_ns
        weighted += signed * weight
        total_weight += weight
        entries += 1
    s = {name: int(state[0][name]) for name in state.dtype.names}
    buys, sells = s["buy_aggressive_lots"], s["sell_aggressive_lots"]
    nan = float("nan")
    buy_vwap = s["buy_turnover_tick_lots"] / buys if buys else nan
    sell_vwap = s["sell_turnover_tick_lots"] / sells if sells else nan
    buy_ratio = buys / (buys + sells) if buys + sells else nan
    vwap = s["turnover_tick_lots"] / s["volume_lots"] if s["volume_lots"] else nan
    if not s["volume_lots"]:
        vamp = nan
    elif not buys and not sells:
        vamp = vwap
    elif not buys:
        vamp = sell_vwap
    elif not sells:
        vamp = buy_vwap
    else:
        vamp = buy_vwap * buy_ratio + sell_vwap * (1.0 - buy_ratio)
    result = {
        "vwap_ticks": vwap,
        "vamp_ticks": vamp,
        "buy_vwap_ticks": buy_vwap,
        "sell_vwap_ticks": sell_vwap,
        "buy_ratio": buy_ratio,
        "impact_lots": weighted,
        "impact_mean_lots": weighted / total_weight if total_weight > 0 else 0.0,
        "impact_entries": entries,
    }
    for name, value in result.items():
        out[0][name] = value
    return codes.STATUS_WARMING_UP if not s["volume_lots"] else codes.STATUS_OK
