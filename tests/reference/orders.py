"""Pure-Python twins of ``qengine.kernels.orders``: written for clarity, with dicts and lists.

The twins read and write the same ``ORDER`` table (so state can be compared field by field) but
decide with plain Python: a transition table for the updates.
"""

from __future__ import annotations

from qengine.kernels import codes

EMPTY = codes.ORDER_EMPTY
PENDING_INSERT = codes.ORDER_PENDING_INSERT
OPEN = codes.ORDER_OPEN
PENDING_AMEND = codes.ORDER_PENDING_AMEND
PENDING_CANCEL = codes.ORDER_PENDING_CANCEL
CLOSED = codes.ORDER_CLOSED
LIVE = {PENDING_INSERT, OPEN, PENDING_AMEND, PENDING_CANCEL}
FIELDS = (
    "client_order_id", "order_key", "instrument", "side", "level", "status", "price_ticks",
    "amount_lots", "filled_lots", "booked_lots", "pending_price_ticks", "pending_amount_lots",
    "insert_time_ns", "update_time_ns",
)


def table_rows(table):
    return [{name: int(table[i][name]) for name in FIELDS} for i in range(len(table))]


def _store(table, slot, row):
    for name in FIELDS:
        table[slot][name] = row[name]


def order_reserve(table, client_order_id, instrument, side, level, price_ticks, amount_lots,
                  now_ns):
    if client_order_id < 0 or instrument < 0 or level < 0 or amount_lots <= 0:
        return -codes.STATUS_BAD_INPUT
    # What the narrow ORDER fields (int8 ids and levels, int32 lots) can hold.
    if (instrument > codes.INSTRUMENT_MAX or level > codes.LEVEL_MAX
            or amount_lots > codes.LOTS_MAX):
        return -codes.STATUS_BAD_INPUT
    if side not in (codes.SIDE_BUY, codes.SIDE_SELL):
        return -codes.STATUS_BAD_INPUT
    rows = table_rows(table)
    if any(r["status"] != EMPTY and r["client_order_id"] == client_order_id for r in rows):
        return -codes.STATUS_DUPLICATE
    free = [i for i, r in enumerate(rows) if r["status"] == EMPTY]
    if not free:
        return -codes.STATUS_FULL
    row = dict.fromkeys(FIELDS, 0)
    row.update(
        client_order_id=client_order_id, order_key=-1, instrument=instrument, side=side,
        level=level, status=PENDING_INSERT, price_ticks=price_ticks, amount_lots=amount_lots,
        insert_time_ns=now_ns, update_time_ns=now_ns,
    )
    _store(table, free[0], row)
    return free[0]


def order_find_by_client_id(table, client_order_id):
    for i, r in enumerate(table_rows(table)):
        if r["status"] != EMPTY and r["client_order_id"] == client_order_id:
            return i
    return -1


def order_find_by_key(table, order_key):
    if order_key < 0:
        return -1
    for i, r in enumerate(table_rows(table)):
        if r["status"] != EMPTY and r["order_key"] == order_key:
            return i
    return -1


# Status after a reject, by status before (missing: the reject is stale).
_AFTER_REJECT = {PENDING_INSERT: CLOSED, PENDING_AMEND: OPEN, PENDING_CANCEL: OPEN}
# Status after a live/amended report that does not close the order.
_AFTER_LIVE = {PENDING_INSERT: OPEN, OPEN: OPEN, PENDING_AMEND: PENDING_AMEND,
               PENDING_CANCEL: PENDING_CANCEL}
_AFTER_AMENDED = {PENDING_INSERT: OPEN, OPEN: OPEN, PENDING_AMEND: OPEN,
                  PENDING_CANCEL: PENDING_CANCEL}


def order_apply_update(table, client_order_id, order_key, update_kind, price_ticks, amount_lots,
                       filled_lots, now_ns):
    slot = order_find_by_client_id(table, client_order_id)
    if slot < 0:
        return -codes.STATUS_NOT_FOUND
    row = table_rows(table)[slot]
    before = row["status"]
    if update_kind == codes.ORDER_UPDATE_REJECTED:
        if before not in _AFTER_REJECT:
            return -codes.STATUS_STALE
        row.update(status=_AFTER_REJECT[before], pending_price_ticks=0, pending_amount_lots=0,
                   update_time_ns=now_ns)
        _store(table, slot, row)
        return slot
    if update_kind not in (codes.ORDER_UPDATE_LIVE, codes.ORDER_UPDATE_AMENDED,
                           codes.ORDER_UPDATE_CLOSED):
        return -codes.STATUS_BAD_INPUT
    if not (0 <= amount_lots <= codes.LOTS_MAX and 0 <= filled_lots <= codes.LOTS_MAX):
        return -codes.STATUS_BAD_INPUT
    if before == CLOSED:
        return -codes.STATUS_STALE
    closing = update_kind == codes.ORDER_UPDATE_CLOSED
    if not closing and filled_lots < row["filled_lots"]:
        return -codes.STATUS_STALE
    if closing or filled_lots >= amount_lots:
        after = CLOSED
    elif update_kind == codes.ORDER_UPDATE_AMENDED:
        after = _AFTER_AMENDED[before]
    else:
        after = _AFTER_LIVE[before]
    row.update(status=after, price_ticks=price_ticks, amount_lots=amount_lots,
               filled_lots=max(filled_lots, row["filled_lots"]), update_time_ns=now_ns)
    if order_key >= 0:
        row["order_key"] = order_key
    if after != PENDING_AMEND:
        row.update(pending_price_ticks=0, pending_amount_lots=0)
    _store(table, slot, row)
    return slot


def _request(table, slot, now_ns, new_status, **changes):
    if not 0 <= slot < len(table):
        return codes.STATUS_BAD_INPUT
    row = table_rows(table)[slot]
    if row["status"] in (EMPTY, CLOSED):
        return codes.STATUS_NOT_FOUND
    if row["status"] != OPEN:
        return codes.STATUS_BUSY
    row.update(status=new_status, update_time_ns=now_ns, **changes)
    _store(table, slot, row)
    return codes.STATUS_OK


def order_request_amend(table, slot, price_ticks, amount_lots, now_ns):
    if not 0 < amount_lots <= codes.LOTS_MAX:
        return codes.STATUS_BAD_INPUT
    return _request(table, slot, now_ns, PENDING_AMEND, pending_price_ticks=price_ticks,
                    pending_amount_lots=amount_lots)


def order_request_cancel(table, slot, now_ns):
    return _request(table, slot, now_ns, PENDING_CANCEL)


def order_book_lots(table, slot, lots, now_ns):
    if not (0 <= slot < len(table) and 0 < lots <= codes.LOTS_MAX):
        return codes.STATUS_BAD_INPUT
    row = table_rows(table)[slot]
    if row["status"] == EMPTY:
        return codes.STATUS_NOT_FOUND
    if row["booked_lots"] + lots > codes.LOTS_MAX:
        return codes.STATUS_BAD_INPUT
    row.update(booked_lots=row["booked_lots"] + lots, update_time_ns=now_ns)
    _store(table, slot, row)
    return codes.STATUS_OK


def order_release(table):
    # A closed row stays while fills it reports are not booked yet.
    closed = [i for i, r in enumerate(table_rows(table))
              if r["status"] == CLOSED and r["booked_lots"] >= r["filled_lots"]]
    for i in closed:
        _store(table, i, dict.fromkeys(FIELDS, 0))
    return len(closed)


def order_count_live(table, instrument, side):
    return sum(
        1 for r in table_rows(table)
        if r["status"] in LIVE and r["instrument"] == instrument and r["side"] == side
    )


def worst_lots(r):
    """What a row can still add to the position: a live row its amount less what is booked
    (an amend in flight: old or new amount), a closed row its reported fills not booked."""
    if r["status"] == CLOSED:
        return max(r["filled_lots"] - r["booked_lots"], 0)
    if r["status"] not in LIVE:
        return 0
    amounts = [r["amount_lots"]]
    if r["status"] == PENDING_AMEND:
        amounts.append(r["pending_amount_lots"])
    return max(max(amounts) - r["booked_lots"], 0)


def order_open_lots(table, instrument, side):
    return sum(worst_lots(r) for r in table_rows(table)
               if r["instrument"] == instrument and r["side"] == side)
