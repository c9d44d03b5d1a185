"""Pure-Python twins of ``qengine.kernels.position``: FIFO lots as a plain Python list.

Each twin reads an instrument's lot ring into a list (oldest first), works on the list, and writes
it back starting at ring slot 0, so twin and kernel states agree logically (same lots in the same
order) though not necessarily in ``lot_head``. Compare them with :func:`open_lots`.
"""

from __future__ import annotations

import math

from qengine.kernels import codes


def open_lots(positions, lots, instrument):
    """The open lots of ``instrument``, oldest first, as ``(price_ticks, amount_lots, time_ns)``."""
    cap = len(lots) // len(positions)
    pos = positions[instrument]
    return [
        tuple(int(v) for v in lots[instrument * cap + (int(pos["lot_head"]) + k) % cap])
        for k in range(int(pos["lot_count"]))
    ]


def _write_lots(positions, lots, instrument, queue):
    cap = len(lots) // len(positions)
    for k, (price, amount, time_ns) in enumerate(queue):
        lots[instrument * cap + k] = (price, amount, time_ns)
    positions[instrument]["lot_head"] = 0
    positions[instrument]["lot_count"] = len(queue)
    positions[instrument]["cost_ticks_lots"] = sum(p * a for p, a, _ in queue)


def position_apply_fill(positions, lots, seen_trade_ids, seen_cursor, fills, fill_index,
                        lot_tick_value_quote):
    if not 0 <= fill_index < len(fills) or len(seen_trade_ids) == 0:
        return codes.STATUS_BAD_INPUT
    f = {name: fills[fill_index][name] for name in fills.dtype.names}
    instrument, amount, fee = int(f["instrument"]), int(f["amount_lots"]), float(f["fee_quote"])
    if not 0 <= instrument < len(positions) or amount <= 0:
        return codes.STATUS_BAD_INPUT
    if f["side"] not in (codes.SIDE_BUY, codes.SIDE_SELL) or not math.isfinite(fee):
        return codes.STATUS_BAD_INPUT
    if not (math.isfinite(lot_tick_value_quote) and lot_tick_value_quote > 0):
        return codes.STATUS_BAD_INPUT
    pos = positions[instrument]
    seen = [int(t) for t in seen_trade_ids[: int(seen_cursor[0]["count"])]]
    if int(f["trade_id"]) in seen:
        pos["duplicate_count"] += 1
        return codes.STATUS_DUPLICATE

    queue = [list(lot) for lot in open_lots(positions, lots, instrument)]
    cap = len(lots) // len(positions)
    position = int(pos["position_lots"])
    delta = amount if f["side"] == codes.SIDE_BUY else -amount
    price, time_ns = int(f["price_ticks"]), int(f["time_ns"])
    same_way = position == 0 or (position > 0) == (delta > 0)
    if same_way and len(queue) >= cap:
        return codes.STATUS_FULL

    head = int(seen_cursor[0]["head"])
    seen_trade_ids[head] = int(f["trade_id"])
    seen_cursor[0]["head"] = (head + 1) % len(seen_trade_ids)
    seen_cursor[0]["count"] = min(len(seen) + 1, len(seen_trade_ids))

    realised = 0
    left = amount
    if not same_way:
        sign = 1 if position > 0 else -1
        while left and queue:
            oldest = queue[0]
            used = min(left, oldest[1])
            realised += sign * (price - oldest[0]) * used
            oldest[1] -= used
            left -= used
            if oldest[1] == 0:
                queue.pop(0)
    if left:
        # Insert after every lot that is not younger, so equal times keep arrival order.
        where = len(queue)
        while where > 0 and queue[where - 1][2] > time_ns:
            where -= 1
        queue.insert(where, [price, left, time_ns])
    _write_lots(positions, lots, instrument, queue)

    new_position = position + delta
    pos["position_lots"] = new_position
    pos["realised_ticks_lots"] += realised
    pos["realised_pnl_quote"] = int(pos["realised_ticks_lots"]) * lot_tick_value_quote
    pos["maker_fees_quote" if f["is_maker"] else "taker_fees_quote"] += fee
    pos["volume_lots"] += amount
    pos["fill_count"] += 1
    pos["last_fill_time_ns"] = max(int(pos["last_fill_time_ns"]), time_ns)
    pos["trip_ticks_lots"] += realised
    pos["trip_fees_quote"] += fee
    trip_over = position != 0 and (new_position == 0 or (new_position > 0) != (position > 0))
    if trip_over:
        net = int(pos["trip_ticks_lots"]) * lot_tick_value_quote - float(pos["trip_fees_quote"])
        pos["round_trip_count"] += 1
        pos["losing_streak"] = int(pos["losing_streak"]) + 1 if net < 0 else 0
        pos["trip_ticks_lots"] = 0
        pos["trip_fees_quote"] = 0.0
    return codes.STATUS_OK


def position_unrealised(positions, lots, instrument, mark_ticks, lot_tick_value_quote):
    if not 0 <= instrument < len(positions):
        return math.nan
    position = int(positions[instrument]["position_lots"])
    if position == 0:
        return 0.0
    if not (math.isfinite(mark_ticks) and math.isfinite(lot_tick_value_quote)):
        return math.nan
    sign = 1.0 if position > 0 else -1.0
    total = 0.0
    for price, amount, _ in open_lots(positions, lots, instrument):
        total += (mark_ticks - price) * amount
    return sign * total * lot_tick_value_quote


def position_reconcile(positions, lots, instrument, exchange_position_lots,
                       exchange_average_price_ticks, now_ns):
    if not 0 <= instrument < len(positions):
        return codes.STATUS_BAD_INPUT
    pos = positions[instrument]
    if int(pos["position_lots"]) == exchange_position_lots:
        return codes.STATUS_OK
    if exchange_position_lots != 0 and exchange_average_price_ticks <= 0:
        return codes.STATUS_BAD_INPUT
    if exchange_position_lots != 0 and len(lots) // len(positions) == 0:
        return codes.STATUS_FULL
    queue = []
    if exchange_position_lots != 0:
        queue = [(exchange_average_price_ticks, abs(exchange_position_lots), now_ns)]
    _write_lots(positions, lots, instrument, queue)
    pos["position_lots"] = exchange_position_lots
    pos["trip_ticks_lots"] = 0
    pos["trip_fees_quote"] = 0.0
    pos["reconcile_count"] += 1
    return codes.STATUS_MISMATCH


def position_apply_funding(positions, instrument, funding_quote):
    if not 0 <= instrument < len(positions) or not math.isfinite(funding_quote):
        return codes.STATUS_BAD_INPUT
    positions[instrument]["funding_quote"] += funding_quote
    return codes.STATUS_OK
