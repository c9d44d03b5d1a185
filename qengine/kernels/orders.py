"""Order table kernels: reserve, apply exchange updates, look up, count live exposure.

The table is a fixed-capacity ``ORDER`` array (capacity from config). Rows go
``EMPTY -> PENDING_INSERT -> OPEN <-> PENDING_AMEND / PENDING_CANCEL -> CLOSED -> EMPTY``.
The engine calls ``order_reserve`` before sending an insert, ``order_request_amend`` /
``order_request_cancel`` before sending those, and ``order_apply_update`` for every RPC result,
RPC error and ``session.orders`` item that carries one of our client order ids. A cancel is never
marked done before the exchange says so: ``PENDING_CANCEL`` rows stay live (and count for risk)
until an ``ORDER_UPDATE_CLOSED`` arrives (the old bot marked cancels done locally, bug 8).
``filled_lots`` is what the exchange reports; ``booked_lots`` what the position has absorbed
(``order_book_lots``, once per newly booked fill): a closed row whose reported fills are not all
booked yet stays in the table, counting them for the position limit, until they are.

The exchange's string ``order_id`` never reaches a kernel: the engine maps it to a stable int64
``order_key`` (for example by parsing the hex id, or through a Python dict), -1 meaning unknown.
The ladder diff over this table lives in ``order_diff.py``.
"""

from __future__ import annotations

import numba

from . import codes
from ._jit import kernel
from .dtypes import ORDER_T
from .order_exposure import worst_lots

_i8 = numba.types.int64
_LIVE_FIRST = codes.ORDER_PENDING_INSERT
_LIVE_LAST = codes.ORDER_PENDING_CANCEL


@kernel(_i8(ORDER_T, _i8, _i8, _i8, _i8, _i8, _i8, _i8))
def order_reserve(table, client_order_id, instrument, side, level, price_ticks, amount_lots,
                  now_ns):
    """Reserve a row for an insert that is about to be sent (status ``PENDING_INSERT``).

    Parameters
    ----------
    table : ORDER array
        The order table, changed in place.
    client_order_id : int
        Our session-local id (>= 0), unique among non-empty rows.
    instrument : int
        Instrument index (0 <= instrument <= ``codes.INSTRUMENT_MAX``).
    side : int
        ``codes.SIDE_BUY`` or ``codes.SIDE_SELL``.
    level : int
        Ladder level (0 at the touch, at most ``codes.LEVEL_MAX``).
    price_ticks : int
        Limit price in ticks.
    amount_lots : int
        Order size in volume ticks (0 < amount_lots <= ``codes.LOTS_MAX``).
    now_ns : int
        Current time in ns.

    Returns
    -------
    int
        The slot (>= 0), or minus a status: ``-STATUS_BAD_INPUT`` (also for a value the narrow
        ``ORDER`` fields cannot hold), ``-STATUS_DUPLICATE`` (the id is in the table),
        ``-STATUS_FULL`` (no free row).
    """
    if client_order_id < 0 or instrument < 0 or level < 0 or amount_lots <= 0:
        return -codes.STATUS_BAD_INPUT
    # The int8 / int32 fields would wrap silently: refuse what they cannot hold.
    if instrument > codes.INSTRUMENT_MAX or level > codes.LEVEL_MAX:
        return -codes.STATUS_BAD_INPUT
    if amount_lots > codes.LOTS_MAX:
        return -codes.STATUS_BAD_INPUT
    if side != codes.SIDE_BUY and side != codes.SIDE_SELL:
        return -codes.STATUS_BAD_INPUT
    free = -1
    for slot in range(table.shape[0]):
        status = table[slot]["status"]
        if status == codes.ORDER_EMPTY:
            if free < 0:
                free = slot
        elif table[slot]["client_order_id"] == client_order_id:
            return -codes.STATUS_DUPLICATE
    if free < 0:
        return -codes.STATUS_FULL
    row = table[free]
    row["client_order_id"] = client_order_id
    row["order_key"] = -1
    row["instrument"] = instrument
    row["side"] = side
    row["level"] = level
    row["status"] = codes.ORDER_PENDING_INSERT
    row["price_ticks"] = price_ticks
    row["amount_lots"] = amount_lots
    row["filled_lots"] = 0
    row["booked_lots"] = 0
    row["pending_price_ticks"] = 0
    row["pending_amount_lots"] = 0
    row["insert_time_ns"] = now_ns
    row["update_time_ns"] = now_ns
    return free


@kernel(_i8(ORDER_T, _i8))
def order_find_by_client_id(table, client_order_id):
    """Return the slot of the non-empty row with ``client_order_id``, or -1 if there is none."""
    for slot in range(table.shape[0]):
        row = table[slot]
        if row["status"] != codes.ORDER_EMPTY and row["client_order_id"] == client_order_id:
            return slot
    return -1


@kernel(_i8(ORDER_T, _i8))
def order_find_by_key(table, order_key):
    """Return the slot of the non-empty row with exchange ``order_key`` (>= 0), or -1."""
    if order_key < 0:
        return -1
    for slot in range(table.shape[0]):
        if table[slot]["status"] != codes.ORDER_EMPTY and table[slot]["order_key"] == order_key:
            return slot
    return -1


@kernel(_i8(ORDER_T, _i8, _i8, _i8, _i8, _i8, _i8, _i8))
def order_apply_update(
    table, client_order_id, order_key, update_kind, price_ticks, amount_lots, filled_lots, now_ns
):
    """Apply one exchange report about one of our orders.

    Parameters
    ----------
    table : ORDER array
        The order table, changed in place.
    client_order_id : int
        Our id from the report; the row is looked up by it.
    order_key : int
        The exchange order id as int64, or -1 if the report has none (RPC errors).
    update_kind : int
        ``codes.ORDER_UPDATE_LIVE`` (insert ack, fill, existing snapshot: open or
        partially_filled), ``ORDER_UPDATE_AMENDED`` (an amend confirmation), ``ORDER_UPDATE_CLOSED``
        (filled / cancelled / cancelled_partially_filled) or ``ORDER_UPDATE_REJECTED`` (the RPC
        we sent failed).
    price_ticks, amount_lots, filled_lots : int
        The exchange's current price in ticks, total amount and cumulative filled amount in lots
        (at most ``codes.LOTS_MAX``; ignored for ``REJECTED``).
    now_ns : int
        Current time in ns.

    Returns
    -------
    int
        The slot (>= 0) when the row changed, or minus a status: ``-STATUS_NOT_FOUND``,
        ``-STATUS_BAD_INPUT`` (unknown kind, sizes negative or above ``codes.LOTS_MAX``),
        ``-STATUS_STALE`` (a report
        older than the row: a closed row, a smaller filled amount, a reject with nothing in flight).

    Notes
    -----
    Live and amend reports keep ``PENDING_CANCEL`` (the cancel is still in flight) and a live
    report keeps ``PENDING_AMEND`` (a fill can arrive before the amend reply). A report with
    ``filled_lots >= amount_lots`` closes the row. A rejected insert closes the row; a rejected
    amend or cancel returns it to ``OPEN``, since the order still rests until the exchange says
    otherwise. ``filled_lots`` never decreases: a live report with less filled than the row is
    stale, a close report always closes.
    """
    slot = order_find_by_client_id(table, client_order_id)
    if slot < 0:
        return -codes.STATUS_NOT_FOUND
    row = table[slot]
    status = row["status"]
    if update_kind == codes.ORDER_UPDATE_REJECTED:
        if status == codes.ORDER_PENDING_INSERT:
            row["status"] = codes.ORDER_CLOSED
        elif status == codes.ORDER_PENDING_AMEND or status == codes.ORDER_PENDING_CANCEL:
            row["status"] = codes.ORDER_OPEN
        else:
            return -codes.STATUS_STALE
        row["pending_price_ticks"] = 0
        row["pending_amount_lots"] = 0
        row["update_time_ns"] = now_ns
        return slot
    if update_kind < codes.ORDER_UPDATE_LIVE or update_kind > codes.ORDER_UPDATE_CLOSED:
        return -codes.STATUS_BAD_INPUT
    if amount_lots < 0 or filled_lots < 0:
        return -codes.STATUS_BAD_INPUT
    if amount_lots > codes.LOTS_MAX or filled_lots > codes.LOTS_MAX:
        return -codes.STATUS_BAD_INPUT  # the int32 fields cannot hold it
    if status == codes.ORDER_CLOSED:
        return -codes.STATUS_STALE
    if update_kind != codes.ORDER_UPDATE_CLOSED and filled_lots < row["filled_lots"]:
        return -codes.STATUS_STALE  # an older live report; a close is final whatever it says
    if order_key >= 0:
        row["order_key"] = order_key
    row["price_ticks"] = price_ticks
    row["amount_lots"] = amount_lots
    row["filled_lots"] = max(filled_lots, row["filled_lots"])
    row["update_time_ns"] = now_ns
    closed = update_kind == codes.ORDER_UPDATE_CLOSED or filled_lots >= amount_lots
    if closed:
        row["status"] = codes.ORDER_CLOSED
    elif status == codes.ORDER_PENDING_INSERT or (
        status == codes.ORDER_PENDING_AMEND and update_kind == codes.ORDER_UPDATE_AMENDED
    ):
        row["status"] = codes.ORDER_OPEN
    if row["status"] != codes.ORDER_PENDING_AMEND:
        row["pending_price_ticks"] = 0
        row["pending_amount_lots"] = 0
    return slot


@kernel(_i8(ORDER_T, _i8, _i8, _i8, _i8))
def order_request_amend(table, slot, price_ticks, amount_lots, now_ns):
    """Mark an ``OPEN`` row as ``PENDING_AMEND`` to ``price_ticks`` / total ``amount_lots``.

    Returns ``STATUS_OK``; ``STATUS_BUSY`` if a request is already in flight;
    ``STATUS_NOT_FOUND`` if the row is empty or closed; ``STATUS_BAD_INPUT`` for a bad slot or
    an ``amount_lots`` outside ``(0, codes.LOTS_MAX]``. Nothing changes unless ``STATUS_OK``.
    """
    if slot < 0 or slot >= table.shape[0] or amount_lots <= 0 or amount_lots > codes.LOTS_MAX:
        return codes.STATUS_BAD_INPUT
    row = table[slot]
    status = row["status"]
    if status == codes.ORDER_EMPTY or status == codes.ORDER_CLOSED:
        return codes.STATUS_NOT_FOUND
    if status != codes.ORDER_OPEN:
        return codes.STATUS_BUSY
    row["status"] = codes.ORDER_PENDING_AMEND
    row["pending_price_ticks"] = price_ticks
    row["pending_amount_lots"] = amount_lots
    row["update_time_ns"] = now_ns
    return codes.STATUS_OK


@kernel(_i8(ORDER_T, _i8, _i8))
def order_request_cancel(table, slot, now_ns):
    """Mark an ``OPEN`` row as ``PENDING_CANCEL`` (it stays live until the exchange confirms).

    Returns ``STATUS_OK``, ``STATUS_BUSY``, ``STATUS_NOT_FOUND`` or ``STATUS_BAD_INPUT`` as
    :func:`order_request_amend` does. Emergency exits use ``private/cancel_all`` instead.
    """
    if slot < 0 or slot >= table.shape[0]:
        return codes.STATUS_BAD_INPUT
    row = table[slot]
    status = row["status"]
    if status == codes.ORDER_EMPTY or status == codes.ORDER_CLOSED:
        return codes.STATUS_NOT_FOUND
    if status != codes.ORDER_OPEN:
        return codes.STATUS_BUSY
    row["status"] = codes.ORDER_PENDING_CANCEL
    row["update_time_ns"] = now_ns
    return codes.STATUS_OK


@kernel(_i8(ORDER_T, _i8, _i8, _i8))
def order_book_lots(table, slot, lots, now_ns):
    """Credit ``lots`` newly booked into the position to the row of the order that traded them.

    Call it once per fill the position kernel took (``position_apply_fill`` returned
    ``STATUS_OK``, never for a duplicate), or that the position already holds (a fill inside an
    adopted position). A row may be credited before its report states the fill.

    Returns ``STATUS_OK``; ``STATUS_NOT_FOUND`` for an empty row; ``STATUS_BAD_INPUT`` for a bad
    slot, ``lots <= 0``, or a total the int32 field cannot hold. Nothing changes unless OK.
    """
    if slot < 0 or slot >= table.shape[0] or lots <= 0 or lots > codes.LOTS_MAX:
        return codes.STATUS_BAD_INPUT
    row = table[slot]
    if row["status"] == codes.ORDER_EMPTY:
        return codes.STATUS_NOT_FOUND
    booked = row["booked_lots"] + lots
    if booked > codes.LOTS_MAX:
        return codes.STATUS_BAD_INPUT
    row["booked_lots"] = booked
    row["update_time_ns"] = now_ns
    return codes.STATUS_OK


@kernel(_i8(ORDER_T))
def order_release(table):
    """Free every ``CLOSED`` row whose reported fills are all booked (all fields zeroed) and
    return how many were freed. One with fills still to book stays: they count for the limit."""
    freed = 0
    for slot in range(table.shape[0]):
        if table[slot]["status"] == codes.ORDER_CLOSED and \
                table[slot]["booked_lots"] >= table[slot]["filled_lots"]:
            row = table[slot]
            row["client_order_id"] = 0
            row["order_key"] = 0
            row["instrument"] = 0
            row["side"] = 0
            row["level"] = 0
            row["status"] = codes.ORDER_EMPTY
            row["price_ticks"] = 0
            row["amount_lots"] = 0
            row["filled_lots"] = 0
            row["booked_lots"] = 0
            row["pending_price_ticks"] = 0
            row["pending_amount_lots"] = 0
            row["insert_time_ns"] = 0
            row["update_time_ns"] = 0
            freed += 1
    return freed


@kernel(_i8(ORDER_T, _i8, _i8))
def order_count_live(table, instrument, side):
    """Count live rows (pending insert, open, pending amend, pending cancel) of one side."""
    count = 0
    for slot in range(table.shape[0]):
        row = table[slot]
        live = _LIVE_FIRST <= row["status"] <= _LIVE_LAST
        if live and row["instrument"] == instrument and row["side"] == side:
            count += 1
    return count


@kernel(_i8(ORDER_T, _i8, _i8))
def order_open_lots(table, instrument, side):
    """Worst-case lots that orders of one side could still add to the position (for risk).

    Each live row counts ``amount_lots - booked_lots`` (a reported fill not booked yet is still
    to come); a row with an amend in flight counts the larger of its current and its pending
    amount, since either may be in force; a closed row its reported fills not booked yet.
    """
    total = 0
    for slot in range(table.shape[0]):
        row = table[slot]
        if row["instrument"] == instrument and row["side"] == side:
            total += worst_lots(table, slot)
    return total
