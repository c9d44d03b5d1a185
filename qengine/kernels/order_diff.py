"""Ladder diff: the few insert / amend / cancel requests that turn live orders into the ladder.

``diff_ladder_against_orders`` keeps orders that already match (queue priority is never thrown
away), amends instead of cancel-and-replace (the old bot cancelled and re-inserted its whole
ladder every cycle, bug 8), and never asks for a second request on an order that has one in
flight (the old bot's concurrent updates duplicated ladders, bug 9). It only reads the order
table written by ``orders.py``; the engine marks rows pending when it actually sends.

Never two of our orders at one price (issue 9, item 4): with level spacing equal to the amend
threshold, keeping level 0 within the threshold could leave it on the price level 1 is amended
to, and an amend sent before the order resting on its target price moved away stacked two
orders for a moment. So an order is not kept on a price another level wants, and an amend whose
target is still taken when it would arrive becomes a cancel (sent first) and an insert (sent
last, after every amend); one onto the price of an order with a request in flight waits for the
next diff.

Cost is O(table + quotes + levels) plus O(table) per amend: one pass over the table builds a
per-(level, side) index of the order that represents each key, one pass over the quotes finds
each key's desired quote, a second table pass ranks every ``OPEN`` row into a (rank, level, side)
bucket, a third resolves price collisions, and a counting sort over the buckets emits the actions
in sending order (stable, so slot order within a bucket).
"""

from __future__ import annotations

import numba
import numpy as np

from . import codes
from ._jit import helper, kernel
from .dtypes import ACTION_T, ORDER_T, QUOTE_T
from .order_exposure import budget_sizes, worst_lots

_i8 = numba.types.int64
_LIVE_FIRST = codes.ORDER_PENDING_INSERT
_LIVE_LAST = codes.ORDER_PENDING_CANCEL
# Action ranks, in the order the diff emits them (inserts come last, after every bucket).
_RANK_CANCEL = 0
_RANK_AMEND_AWAY = 1
_RANK_AMEND_OTHER = 2
_TABLE_RANKS = 3
# Decided buckets of rows without a request this time: kept as they are, or an amend that waits.
_KEPT = -1
_WAITING = -2


_SCRATCH_T = numba.types.int64[::1]


@helper(_i8(_i8, _i8), inline=True)
def _key(side, level):
    # Index key of (level, side): level 0 first, bids before asks; -1 for rows the diff ignores.
    if level < 0 or (side != codes.SIDE_BUY and side != codes.SIDE_SELL):
        return -1
    return 2 * np.int64(level) + np.int64(side)  # int64 also when run as plain Python


@helper(_i8(ORDER_T, QUOTE_T, _i8, _i8), inline=True)
def _top_level(table, quotes, n_quotes, instrument):
    # Highest level in play (live rows of the instrument, usable quotes); it sizes the index.
    top = -1
    for slot in range(table.shape[0]):
        row = table[slot]
        live = _LIVE_FIRST <= row["status"] <= _LIVE_LAST and row["instrument"] == instrument
        if live and _key(row["side"], row["level"]) >= 0:
            top = max(top, np.int64(row["level"]))
    for j in range(n_quotes):
        q = quotes[j]
        if q["size_lots"] > 0 and _key(q["side"], q["level"]) >= 0:
            top = max(top, np.int64(q["level"]))
    return top


@helper(numba.types.void(ORDER_T, QUOTE_T, _i8, _SCRATCH_T, _SCRATCH_T, _i8), inline=True)
def _index(table, quotes, n_quotes, live, scratch, n_keys):
    # scratch[key]: the order that represents the key, the lowest live slot not being
    # cancelled (rows with a cancel in flight are on their way out and never block a new
    # insert); scratch[n_keys + key]: the key's first usable quote (later duplicates and
    # size <= 0 rows are ignored). -1 for none. ``live``: the instrument's live slots, ascending.
    for i in range(live.shape[0]):
        slot = live[i]
        row = table[slot]
        if not (codes.ORDER_PENDING_INSERT <= row["status"] <= codes.ORDER_PENDING_AMEND):
            continue
        key = _key(row["side"], row["level"])
        if key >= 0 and scratch[key] < 0:
            scratch[key] = slot
    for j in range(n_quotes):
        q = quotes[j]
        key = _key(q["side"], q["level"])
        if q["size_lots"] > 0 and key >= 0 and scratch[n_keys + key] < 0:
            scratch[n_keys + key] = j


@helper(numba.types.boolean(QUOTE_T, _SCRATCH_T, _i8, _i8, _i8), inline=True)
def _wanted_by_other(quotes, scratch, n_keys, own_key, price_ticks):
    # Whether another level of own_key's side has its quote at price_ticks.
    for key in range(own_key % 2, n_keys, 2):
        j = scratch[n_keys + key]
        if key != own_key and j >= 0 and np.int64(quotes[j]["price_ticks"]) == price_ticks:
            return True
    return False


@helper(numba.types.void(ORDER_T, QUOTE_T, _SCRATCH_T, _i8, _SCRATCH_T, _i8, _SCRATCH_T),
        inline=True)
def _rank_rows(table, quotes, live, threshold, scratch, n_keys, sizes):
    # Each live row's sending bucket (rank * n_keys + key, -1: nothing to do).
    first_bucket = 2 * n_keys
    slot_bucket = first_bucket + _TABLE_RANKS * n_keys
    for i in range(live.shape[0]):
        slot = live[i]
        scratch[slot_bucket + slot] = -1
        row = table[slot]
        if row["status"] != codes.ORDER_OPEN:
            continue  # a request is in flight: leave it alone
        key = _key(row["side"], row["level"])
        if key < 0:
            continue
        j = scratch[n_keys + key]
        if j < 0 or scratch[key] != slot:
            bucket = _RANK_CANCEL * n_keys + key
        else:
            move_ticks = np.int64(quotes[j]["price_ticks"]) - np.int64(row["price_ticks"])
            remaining_lots = np.int64(row["amount_lots"]) - np.int64(row["filled_lots"])
            size = sizes[key]
            # Keep: same size, or a partly filled remainder below the quote size (topping it
            # up would cost its queue place); within the threshold only if no other level of
            # the side wants this price.
            if abs(move_ticks) <= threshold and (remaining_lots == size or (
                    row["filled_lots"] > 0 and 0 < remaining_lots < size)) and (
                    move_ticks == 0 or not _wanted_by_other(
                        quotes, scratch, n_keys, key, np.int64(row["price_ticks"]))):
                continue
            moving_away = (row["side"] == codes.SIDE_BUY and move_ticks < 0) or (
                row["side"] == codes.SIDE_SELL and move_ticks > 0
            )
            rank = _RANK_AMEND_AWAY if moving_away else _RANK_AMEND_OTHER
            bucket = rank * n_keys + key
        scratch[slot_bucket + slot] = bucket


@helper(numba.types.boolean(ORDER_T, _SCRATCH_T, _i8, _i8, _i8), inline=True)
def _request_in_flight_at(table, live, side, skip_slot, price_ticks):
    # Whether a live order of the side (other than skip_slot) has an insert or amend in flight
    # that leaves it at price_ticks (a cancel in flight was sent earlier and frees its price).
    for i in range(live.shape[0]):
        slot = live[i]
        row = table[slot]
        if slot == skip_slot or row["side"] != side:
            continue
        if row["status"] == codes.ORDER_PENDING_INSERT and row["price_ticks"] == price_ticks:
            return True
        if row["status"] == codes.ORDER_PENDING_AMEND and \
                row["pending_price_ticks"] == price_ticks:
            return True
    return False


@helper(numba.types.boolean(
    ORDER_T, _SCRATCH_T, _SCRATCH_T, _SCRATCH_T, _i8, _i8, _i8, _i8, _i8), inline=True)
def _open_at(table, live, prices, buckets, n_keys, side, skip_slot, skip_bucket, price_ticks):
    # Whether an OPEN order of the side (other than skip_slot) rests at price_ticks after the
    # decided requests up to the action (skip_slot, skip_bucket): its amend waits, it is kept,
    # or it is amended only after that action. skip_bucket -1 asks about waiting orders only.
    # prices[i] is live[i]'s price: the selective test runs on a contiguous copy first.
    for i in range(live.shape[0]):
        if prices[i] != price_ticks:
            continue
        slot = live[i]
        row = table[slot]
        if slot == skip_slot or row["status"] != codes.ORDER_OPEN or row["side"] != side:
            continue
        bucket = buckets[slot]
        if bucket == _WAITING:
            return True
        if skip_bucket >= 0 and (bucket == _KEPT or bucket > skip_bucket or (
                bucket == skip_bucket and slot > skip_slot)):
            return True
    return False


@helper(numba.types.void(
    ORDER_T, QUOTE_T, _SCRATCH_T, _SCRATCH_T, _SCRATCH_T, _SCRATCH_T, _i8, _i8), inline=True)
def _resolve_collisions(table, quotes, scratch, live, prices, decided, n_keys, n_pending):
    # 1. Amends onto a price where an order stays this time (a request in flight, or an order
    #    whose own amend waits) wait too, until nothing changes. 2. Amends onto a price an order
    #    still holds when they arrive (kept, or amended after them) become cancel (sent first)
    #    + insert (sent after every amend). Then the bucket counts. Step 1's scans are skipped
    #    when they cannot match: no live row has an insert or amend in flight (n_pending 0), or
    #    no amend waits yet.
    first_bucket = 2 * n_keys
    slot_bucket = first_bucket + _TABLE_RANKS * n_keys
    reinsert = slot_bucket + table.shape[0]
    n_waiting = 0
    changed = True
    while changed:
        changed = False
        for i in range(live.shape[0]):
            slot = live[i]
            bucket = decided[slot]
            if bucket < n_keys:
                continue  # nothing to do, waiting, or a cancel
            if n_pending == 0 and n_waiting == 0:
                continue
            side = np.int64(table[slot]["side"])
            target = np.int64(quotes[scratch[n_keys + bucket % n_keys]]["price_ticks"])
            if (n_pending > 0 and _request_in_flight_at(table, live, side, slot, target)) or (
                    n_waiting > 0 and _open_at(
                        table, live, prices, decided, n_keys, side, slot, -1, target)):
                decided[slot] = _WAITING
                n_waiting += 1
                changed = True
    for i in range(live.shape[0]):
        slot = live[i]
        bucket = decided[slot]
        if bucket < n_keys:
            continue
        key = bucket % n_keys
        target = np.int64(quotes[scratch[n_keys + key]]["price_ticks"])
        if _open_at(table, live, prices, decided, n_keys, np.int64(table[slot]["side"]), slot,
                    bucket, target):
            decided[slot] = key
            scratch[reinsert + key] = 1
    for i in range(live.shape[0]):
        bucket = decided[live[i]]
        if bucket >= 0:
            scratch[first_bucket + bucket] += 1


@helper(_i8(ACTION_T, _i8, _i8, _i8, _i8, _i8, _i8, _i8, _i8), inline=True)
def _emit(out_actions, n, kind, slot, client_order_id, side, level, price_ticks, size_lots):
    # Write action row n if it fits; returns the next row.
    if n >= out_actions.shape[0]:
        return n
    a = out_actions[n]
    a["kind"] = kind
    a["slot"] = slot
    a["client_order_id"] = client_order_id
    a["side"] = side
    a["level"] = level
    a["price_ticks"] = price_ticks
    a["size_lots"] = size_lots
    return n + 1


@helper(_i8(ORDER_T, QUOTE_T, _SCRATCH_T, _SCRATCH_T, _i8, _i8, _SCRATCH_T, ACTION_T),
        inline=True)
def _emit_table_actions(table, quotes, live, scratch, n_keys, first_bucket, sizes, out_actions):
    # Counting sort of the ranked rows by bucket (stable: slot order within one), written
    # straight to their output rows; returns how many there are (written or not).
    n_buckets = _TABLE_RANKS * n_keys
    total = 0
    for b in range(first_bucket, first_bucket + n_buckets):  # counts -> first positions
        count = scratch[b]
        scratch[b] = total
        total += count
    slot_bucket = first_bucket + n_buckets
    for i in range(live.shape[0]):
        slot = live[i]
        bucket = scratch[slot_bucket + slot]
        if bucket < 0:
            continue
        pos = scratch[first_bucket + bucket]
        scratch[first_bucket + bucket] = pos + 1
        row = table[slot]
        if bucket < n_keys:
            _emit(out_actions, pos, codes.ACTION_CANCEL, slot, row["client_order_id"],
                  row["side"], row["level"], row["price_ticks"], row["amount_lots"])
        else:
            key = bucket % n_keys
            _emit(out_actions, pos, codes.ACTION_AMEND, slot, row["client_order_id"],
                  row["side"], row["level"], quotes[scratch[n_keys + key]]["price_ticks"],
                  np.int64(row["filled_lots"]) + sizes[key])
    return total


@helper(_i8(ORDER_T, QUOTE_T, _SCRATCH_T, _SCRATCH_T, _SCRATCH_T, _i8, _i8, _i8, _i8, _i8,
            ACTION_T), inline=True)
def _emit_inserts(table, quotes, scratch, live, prices, n_keys, n_pending, bid_avail, ask_avail,
                  n, out_actions):
    # Inserts last, in key order: quotes whose (level, side) has no order (or whose order is
    # cancelled above to be inserted again), unless a request in flight ends on that price.
    # Returns the next action row.
    first_bucket = 2 * n_keys
    slot_bucket = first_bucket + _TABLE_RANKS * n_keys
    reinsert = slot_bucket + table.shape[0]
    decided = scratch[slot_bucket:reinsert]
    sizes = scratch[reinsert + n_keys:reinsert + 2 * n_keys]
    cap = out_actions.shape[0]
    for key in range(n_keys):
        j = scratch[n_keys + key]
        size = sizes[key]
        if j < 0 or size <= 0 or (scratch[key] >= 0 and scratch[reinsert + key] == 0) or \
                n >= cap:
            continue
        price = np.int64(quotes[j]["price_ticks"])
        side = np.int64(key % 2)
        if scratch[key] >= 0:
            # Re-insert: the cancelled order may still fill, so the new one must fit beside it
            # (the budget above counted only what it adds to the order's remaining).
            remaining = np.int64(table[scratch[key]]["amount_lots"]) - \
                np.int64(table[scratch[key]]["filled_lots"])
            extra = min(size, max(remaining, np.int64(0)))
            if extra > (bid_avail if side == codes.SIDE_BUY else ask_avail):
                continue
            if side == codes.SIDE_BUY:
                bid_avail -= extra
            else:
                ask_avail -= extra
        if not ((n_pending > 0 and _request_in_flight_at(table, live, side, -1, price)) or
                _open_at(table, live, prices, decided, n_keys, side, -1, -1, price)):
            n = _emit(out_actions, n, codes.ACTION_INSERT, -1, -1, key % 2, key // 2,
                      price, size)
    return n


@helper(_i8(ORDER_T, QUOTE_T, _i8, _i8, _i8, ACTION_T, _i8, _i8), inline=True)
def _diff_ladder_against_orders(table, quotes, n_quotes, instrument, amend_threshold_ticks,
                                out_actions, bid_room_lots, ask_room_lots):
    # The body of ``diff_ladder_against_orders``, inlined into ``quote_cycle``.
    if n_quotes < 0 or n_quotes > quotes.shape[0]:
        return -codes.STATUS_BAD_INPUT
    threshold = max(amend_threshold_ticks, 0)
    top = _top_level(table, quotes, n_quotes, instrument)
    if top < 0:
        return 0
    # One small scratch block per call (levels fit the int8 level fields, so at most
    # 2 * (LEVEL_MAX + 1) keys): owner per key | quote per key | bucket counts | bucket per slot
    # | re-insert flag per key | size per key | live slots of the instrument | their prices.
    n_keys = 2 * (top + 1)
    first_bucket = 2 * n_keys
    slot_bucket = first_bucket + _TABLE_RANKS * n_keys
    n_slots = table.shape[0]
    reinsert = slot_bucket + n_slots
    sizes_first = reinsert + n_keys
    live_first = sizes_first + n_keys
    prices_first = live_first + n_slots
    scratch = np.empty(prices_first + n_slots, np.int64)
    for i in range(slot_bucket):
        scratch[i] = -1 if i < first_bucket else 0
    n_live = 0
    n_pending = 0  # live rows with an insert or amend in flight
    bid_avail = bid_room_lots  # the room to the limit less every live row's worst case
    ask_avail = ask_room_lots
    for slot in range(n_slots):  # the instrument's live rows: collisions are judged among them
        row = table[slot]
        status = row["status"]
        if status == codes.ORDER_EMPTY or row["instrument"] != instrument:
            continue
        if status != codes.ORDER_CLOSED:
            scratch[live_first + n_live] = slot
            scratch[prices_first + n_live] = row["price_ticks"]
            n_live += 1
            if status == codes.ORDER_PENDING_INSERT or status == codes.ORDER_PENDING_AMEND:
                n_pending += 1
        # Every row's worst case, a closed row's too (its fills not booked yet).
        if row["side"] == codes.SIDE_BUY:
            bid_avail -= worst_lots(table, slot)
        elif row["side"] == codes.SIDE_SELL:
            ask_avail -= worst_lots(table, slot)
    for i in range(reinsert, reinsert + n_keys):
        scratch[i] = 0
    live = scratch[live_first:live_first + n_live]
    prices = scratch[prices_first:prices_first + n_live]
    decided = scratch[slot_bucket:reinsert]
    sizes = scratch[sizes_first:live_first]
    _index(table, quotes, n_quotes, live, scratch, n_keys)
    bid_avail, ask_avail = budget_sizes(table, quotes, scratch, n_keys, sizes, bid_avail,
                                        ask_avail)
    _rank_rows(table, quotes, live, threshold, scratch, n_keys, sizes)
    _resolve_collisions(table, quotes, scratch, live, prices, decided, n_keys, n_pending)
    n = _emit_table_actions(table, quotes, live, scratch, n_keys, first_bucket, sizes,
                            out_actions)
    n = _emit_inserts(table, quotes, scratch, live, prices, n_keys, n_pending, bid_avail,
                      ask_avail, n, out_actions)
    return min(n, out_actions.shape[0])


@kernel(_i8(ORDER_T, QUOTE_T, _i8, _i8, _i8, ACTION_T, _i8, _i8))
def diff_ladder_against_orders(table, quotes, n_quotes, instrument, amend_threshold_ticks,
                               out_actions, bid_room_lots, ask_room_lots):
    """Write the insert / amend / cancel actions that turn the live orders into the ladder.

    Parameters
    ----------
    table : ORDER array
        The order table (read only).
    quotes : QUOTE array
        The desired ladder; the first ``n_quotes`` rows are valid. A row with ``size_lots <= 0``
        means "no quote"; for a repeated (side, level) only the first row counts.
    n_quotes : int
        Number of valid rows in ``quotes`` (0 <= n_quotes <= len(quotes)).
    instrument : int
        Only this instrument's orders are diffed.
    amend_threshold_ticks : int
        An order whose price is within this many ticks of the quote (and whose remaining size
        equals the quote size, or, once partly filled, is below it) is kept as is. 0 keeps only
        exact prices.
    out_actions : ACTION array
        Output; the first ``n_actions`` rows are written.
    bid_room_lots, ask_room_lots : int
        The room to the position limit per side (``Q - q`` for bids, ``Q + q`` for asks); see
        "Position limit" below.

    Returns
    -------
    int
        ``n_actions``, or ``-STATUS_BAD_INPUT`` for a bad ``n_quotes``.

    Notes
    -----
    Orders are matched to quotes by (side, level). For a matched ``OPEN`` order: keep when
    ``abs(quote price - order price) <= amend_threshold_ticks`` and ``amount - filled`` equals the
    quote size, or the order is partly filled and what remains is below the quote size (topping it
    up at the same price would cost its queue place); otherwise AMEND to the quote price and total
    amount ``filled + quote size`` (one request, never cancel + insert; a smaller amount at the same
    price keeps priority on Thalex). An ``OPEN`` order without a quote (or a second order on the
    same (side, level)) is cancelled; a quote without an order gets an INSERT (``slot`` and
    ``client_order_id`` -1). Orders with a request in flight are left alone, and a pending insert
    counts as the order of its (side, level), so no request is ever duplicated. Rows and quotes with
    a negative level or a side other than ``SIDE_BUY`` / ``SIDE_SELL`` are ignored.

    No two orders of one side ever rest at one price: an order within the threshold is not
    kept on a price another level of its side is quoted at (it is amended to its own quote), and
    an amend whose target is still taken when it arrives (by an order kept there or amended away
    only after it) is sent as a cancel plus an insert at the target, which goes after every
    amend. An amend or insert onto the price of an order with an insert or amend in flight is
    left for the next diff.

    Position limit: every row of a side can still move the position by its worst case (its
    amount less the lots booked into the position, for an amend in flight the larger of old and
    new; a closed row its reported fills not booked yet): a cancel or a cut sent now may land
    after a fill, and a reported fill may not be booked yet. So the side's budget is its room
    less all of those, and only what adds to it is charged, level 0 first: an amend is sent with
    ``filled + min(quote size, remaining + budget)`` (``remaining = amount - filled``), an
    insert only when its whole size fits, a re-insert beside its cancelled order only when both
    fit. Cuts, cancels and keeps are always sent. Whatever fills, a side's
    position stays within its room (a prefix of the actions, as a throttle sends, too).

    Actions come in the order they are safe to send: cancels, then amends that move away from
    the touch (bids down, asks up), then the other amends, then inserts; within each kind level
    0 first, bids before asks. So when the market rises the ask is amended up before the bid
    follows and our own quotes never cross mid-update, and a throttled sender that sends a
    prefix sends the most important requests. If ``out_actions`` is too short the lowest-priority
    actions are dropped; the next diff produces them again.
    """
    return _diff_ladder_against_orders(table, quotes, n_quotes, instrument, amend_threshold_ticks,
                                       out_actions, bid_room_lots, ask_room_lots)
