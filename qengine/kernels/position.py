"""Position and PnL kernels: fills keyed by trade id, true FIFO by time, fees, funding, marks.

One ``POSITION`` row per instrument (a perpetual and an optional future are tracked separately,
unlike the old bot's shared tracker, bug 24). Open lots live in a ``LOT`` array: instrument ``i``
owns ``lots[i * cap:(i + 1) * cap]`` with ``cap = len(lots) // len(positions)``, used as a ring
kept in ``time_ns`` order (oldest at ``lot_head``), so reductions consume the oldest entries first
(the old "FIFO" consumed the cheapest entries first).

Every fill carries its exchange trade id, mapped by the io layer to an int64 key. A ring of the
last ``len(seen_trade_ids)`` keys (shared by all instruments, cursor in a ``RING_CURSOR`` row)
drops duplicates, so a fill reported by both ``session.orders`` and ``account.trade_history`` is
counted once (the old bot counted every fill twice and ignored partial fills, bug 3). Prices come
from the fill, never from the order's limit price.

Money is exact: realised PnL accumulates as int64 ``ticks * lots`` and is turned into quote
currency by one multiplication with ``lot_tick_value_quote = tick_size * volume_tick_size``
(quote currency per tick per lot).
"""

from __future__ import annotations

import math

import numba

from . import codes
from ._jit import helper, kernel
from .dtypes import FILL_T, LOT_T, POSITION_T, RING_CURSOR_T

_i8 = numba.types.int64
_f8 = numba.types.float64
_I64_ARRAY = numba.types.int64[::1]


@helper(numba.types.none(LOT_T, POSITION_T, _i8, _i8, _i8, _i8, _i8))
def _push_lot_by_time(lots, positions, instrument, cap, price, amount, time_ns):
    # Append at the tail, then shift younger lots one step back so the ring stays time-ordered.
    pos = positions[instrument]
    base = instrument * cap
    k = pos["lot_count"]
    while k > 0:
        prev = lots[base + (pos["lot_head"] + k - 1) % cap]
        if prev["time_ns"] <= time_ns:
            break
        here = lots[base + (pos["lot_head"] + k) % cap]
        here["price_ticks"] = prev["price_ticks"]
        here["amount_lots"] = prev["amount_lots"]
        here["time_ns"] = prev["time_ns"]
        k -= 1
    dest = lots[base + (pos["lot_head"] + k) % cap]
    dest["price_ticks"] = price
    dest["amount_lots"] = amount
    dest["time_ns"] = time_ns
    pos["lot_count"] += 1
    pos["cost_ticks_lots"] += price * amount


@kernel(_i8(POSITION_T, LOT_T, _I64_ARRAY, RING_CURSOR_T, FILL_T, _i8, _f8))
def position_apply_fill(positions, lots, seen_trade_ids, seen_cursor, fills, fill_index,
                        lot_tick_value_quote):
    """Book one fill into its instrument's position, FIFO lots and PnL.

    Parameters
    ----------
    positions : POSITION array
        One row per instrument, changed in place.
    lots : LOT array
        The instruments' FIFO lot rings (see module docstring), changed in place.
    seen_trade_ids : int64 array
        Ring of recently booked trade id keys (capacity > 0), changed in place.
    seen_cursor : RING_CURSOR array
        One row: ``head`` (next slot to write) and ``count`` of ``seen_trade_ids``.
    fills : FILL array
        Fills; ``fills[fill_index]`` is booked. Its ``instrument`` indexes ``positions``; its
        ``price_ticks`` is the execution price, ``amount_lots`` > 0, ``fee_quote`` the fee paid in
        quote currency (finite; negative for a rebate).
    fill_index : int
        Row of ``fills`` to book.
    lot_tick_value_quote : float
        Quote currency per tick per lot of this instrument (> 0).

    Returns
    -------
    int
        ``STATUS_OK``; ``STATUS_DUPLICATE`` (trade id already booked: only ``duplicate_count``
        changes); ``STATUS_BAD_INPUT`` (bad index, instrument, side, amount, fee or value);
        ``STATUS_FULL`` (the fill would open a new lot in a full ring). Nothing else changes
        unless ``STATUS_OK``.

    Notes
    -----
    A fill in the direction of the position (or from flat) appends a lot at the fill price,
    inserted by ``time_ns`` (ties keep arrival order). A fill against the position consumes the
    oldest lots; each consumed chunk realises ``(exit - entry) * lots`` for a long and
    ``(entry - exit) * lots`` for a short. What is left after the position is closed opens a
    lot on the other side (a flip). A round trip ends when the position reaches or crosses 0;
    its net PnL (realised minus the fees of its fills, the flip fill's whole fee included) updates
    ``round_trip_count`` and ``losing_streak`` (net < 0 extends the streak, otherwise resets it).
    """
    if fill_index < 0 or fill_index >= fills.shape[0] or seen_trade_ids.shape[0] == 0:
        return codes.STATUS_BAD_INPUT
    fill = fills[fill_index]
    instrument = fill["instrument"]
    side = fill["side"]
    amount = fill["amount_lots"]
    fee = fill["fee_quote"]
    if instrument < 0 or instrument >= positions.shape[0] or amount <= 0:
        return codes.STATUS_BAD_INPUT
    if (side != codes.SIDE_BUY and side != codes.SIDE_SELL) or not math.isfinite(fee):
        return codes.STATUS_BAD_INPUT
    if not (lot_tick_value_quote > 0.0 and math.isfinite(lot_tick_value_quote)):
        return codes.STATUS_BAD_INPUT
    pos = positions[instrument]
    trade_id = fill["trade_id"]
    for k in range(seen_cursor[0]["count"]):
        if seen_trade_ids[k] == trade_id:
            pos["duplicate_count"] += 1
            return codes.STATUS_DUPLICATE
    cap = lots.shape[0] // positions.shape[0]
    base = instrument * cap
    signed = amount if side == codes.SIDE_BUY else -amount
    position = pos["position_lots"]
    opening = position == 0 or (position > 0) == (signed > 0)
    if opening and pos["lot_count"] >= cap:
        return codes.STATUS_FULL

    # Remember the trade id before anything else can fail: from here on the fill is booked.
    seen_trade_ids[seen_cursor[0]["head"]] = trade_id
    seen_cursor[0]["head"] = (seen_cursor[0]["head"] + 1) % seen_trade_ids.shape[0]
    seen_cursor[0]["count"] = min(seen_cursor[0]["count"] + 1, seen_trade_ids.shape[0])

    price = fill["price_ticks"]
    time_ns = fill["time_ns"]
    left = amount
    realised = 0
    if not opening:
        direction = 1 if position > 0 else -1
        while left > 0 and pos["lot_count"] > 0:
            lot = lots[base + pos["lot_head"]]
            used = min(left, lot["amount_lots"])
            realised += (price - lot["price_ticks"]) * used * direction
            pos["cost_ticks_lots"] -= lot["price_ticks"] * used
            lot["amount_lots"] -= used
            left -= used
            if lot["amount_lots"] == 0:
                pos["lot_head"] = (pos["lot_head"] + 1) % cap
                pos["lot_count"] -= 1
    if left > 0:
        _push_lot_by_time(lots, positions, instrument, cap, price, left, time_ns)

    new_position = position + signed
    pos["position_lots"] = new_position
    pos["realised_ticks_lots"] += realised
    pos["realised_pnl_quote"] = pos["realised_ticks_lots"] * lot_tick_value_quote
    if fill["is_maker"] != 0:
        pos["maker_fees_quote"] += fee
    else:
        pos["taker_fees_quote"] += fee
    pos["volume_lots"] += amount
    pos["fill_count"] += 1
    pos["last_fill_time_ns"] = max(pos["last_fill_time_ns"], time_ns)
    pos["trip_ticks_lots"] += realised
    pos["trip_fees_quote"] += fee
    if position != 0 and (new_position == 0 or (new_position > 0) != (position > 0)):
        net = pos["trip_ticks_lots"] * lot_tick_value_quote - pos["trip_fees_quote"]
        pos["round_trip_count"] += 1
        pos["losing_streak"] = pos["losing_streak"] + 1 if net < 0.0 else 0
        pos["trip_ticks_lots"] = 0
        pos["trip_fees_quote"] = 0.0
    return codes.STATUS_OK


@kernel(_f8(POSITION_T, LOT_T, _i8, _f8, _f8))
def position_unrealised(positions, lots, instrument, mark_ticks, lot_tick_value_quote):
    """Unrealised PnL of one instrument at ``mark_ticks``, in quote currency.

    ``sum over open lots of (mark - entry) * lots`` for a long, ``(entry - mark) * lots`` for a
    short, times ``lot_tick_value_quote``. Returns 0.0 when flat, NaN for a bad instrument or a
    non-finite mark or value while a position is open.
    """
    if instrument < 0 or instrument >= positions.shape[0]:
        return math.nan
    pos = positions[instrument]
    if pos["position_lots"] == 0:
        return 0.0
    if not (math.isfinite(mark_ticks) and math.isfinite(lot_tick_value_quote)):
        return math.nan
    cap = lots.shape[0] // positions.shape[0]
    direction = 1.0 if pos["position_lots"] > 0 else -1.0
    total_ticks_lots = 0.0
    for k in range(pos["lot_count"]):
        lot = lots[instrument * cap + (pos["lot_head"] + k) % cap]
        total_ticks_lots += (mark_ticks - lot["price_ticks"]) * lot["amount_lots"]
    return direction * total_ticks_lots * lot_tick_value_quote


@kernel(_i8(POSITION_T, LOT_T, _i8, _i8, _i8, _i8))
def position_reconcile(positions, lots, instrument, exchange_position_lots,
                       exchange_average_price_ticks, now_ns):
    """Make our position equal the exchange's (the exchange is the truth).

    Parameters
    ----------
    positions, lots : POSITION, LOT arrays
        Changed in place on a mismatch.
    instrument : int
        Instrument index.
    exchange_position_lots : int
        The exchange's signed position in lots; 0 counts (the old bot skipped zero positions).
    exchange_average_price_ticks : int
        The exchange's average entry price rounded to ticks (> 0 when the position is not 0).
    now_ns : int
        Current time in ns: the entry time of the rebuilt lot.

    Returns
    -------
    int
        ``STATUS_OK`` when the sizes already agree (nothing changes: our FIFO entries stand);
        ``STATUS_MISMATCH`` when they differed: the lots are replaced by one lot of the exchange
        size at the exchange average price and the round trip in progress is forgotten, while
        realised PnL, fees and funding are left alone (no fake PnL, unlike the old bot's
        synthetic-fill resync); ``STATUS_BAD_INPUT`` for a bad instrument or price.
    """
    if instrument < 0 or instrument >= positions.shape[0]:
        return codes.STATUS_BAD_INPUT
    pos = positions[instrument]
    if pos["position_lots"] == exchange_position_lots:
        return codes.STATUS_OK
    if exchange_position_lots != 0 and exchange_average_price_ticks <= 0:
        return codes.STATUS_BAD_INPUT
    cap = lots.shape[0] // positions.shape[0]
    if exchange_position_lots != 0 and cap == 0:
        return codes.STATUS_FULL
    pos["lot_head"] = 0
    pos["lot_count"] = 0
    pos["cost_ticks_lots"] = 0
    pos["trip_ticks_lots"] = 0
    pos["trip_fees_quote"] = 0.0
    pos["position_lots"] = exchange_position_lots
    pos["reconcile_count"] += 1
    if exchange_position_lots != 0:
        size = abs(exchange_position_lots)
        lot = lots[instrument * cap]
        lot["price_ticks"] = exchange_average_price_ticks
        lot["amount_lots"] = size
        lot["time_ns"] = now_ns
        pos["lot_count"] = 1
        pos["cost_ticks_lots"] = exchange_average_price_ticks * size
    return codes.STATUS_MISMATCH


@kernel(_i8(POSITION_T, _i8, _f8))
def position_apply_funding(positions, instrument, funding_quote):
    """Add a funding payment (quote currency, positive when received) to one instrument.

    Returns ``STATUS_OK``, or ``STATUS_BAD_INPUT`` (nothing changed) for a bad instrument or a
    non-finite amount.
    """
    if instrument < 0 or instrument >= positions.shape[0] or not math.isfinite(funding_quote):
        return codes.STATUS_BAD_INPUT
    positions[instrument]["funding_quote"] += funding_quote
    return codes.STATUS_OK
