"""Ladder diff: the few insert / amend / cancel requests that turn live orders into the ladder.

``diff_ladder_against_orders`` keeps orders that already match (queue priority is never thrown
away), amends instead of cancel-and-replace (the old bot cancelled and re-inserted its whole
ladder every cycle, bug 8), and never asks for a second request on an order that has one in
flight (the old bot's concurrent updates duplicated ladders, bug 9). It only reads the order
table written by ``orders.py``; the engine marks rows pending when it actually sends.
"""

from __future__ import annotations

import numba

from . import codes
from ._jit import helper, kernel
from .dtypes import ACTION_T, ORDER_T, QUOTE_T

_i8 = numba.types.int64
_LIVE_FIRST = codes.ORDER_PENDING_INSERT
_LIVE_LAST = codes.ORDER_PENDING_CANCEL
# Action ranks, in the order the diff emits them.
_RANK_NONE = -1
_RANK_CANCEL = 0
_RANK_AMEND_AWAY = 1
_RANK_AMEND_OTHER = 2
_RANK_INSERT = 3


@helper(_i8(QUOTE_T, _i8, _i8, _i8))
def _desired_quote(quotes, n_quotes, side, level):
    # First usable quote for (side, level); later duplicates and size <= 0 rows are ignored.
    for j in range(n_quotes):
        q = quotes[j]
        if q["side"] == side and q["level"] == level and q["size_lots"] > 0:
            return j
    return -1


@helper(_i8(ORDER_T, _i8, _i8, _i8))
def _matched_slot(table, instrument, side, level):
    # The order that represents (side, level): the lowest live slot not being cancelled.
    # Rows with a cancel in flight are on their way out and never block a new insert.
    for slot in range(table.shape[0]):
        row = table[slot]
        if not (codes.ORDER_PENDING_INSERT <= row["status"] <= codes.ORDER_PENDING_AMEND):
            continue
        if row["instrument"] == instrument and row["side"] == side and row["level"] == level:
            return slot
    return -1


@helper(_i8(ORDER_T, _i8, QUOTE_T, _i8, _i8, _i8))
def _order_rank(table, slot, quotes, n_quotes, instrument, amend_threshold_ticks):
    # What the diff does with one live row of the instrument, as a rank (or _RANK_NONE).
    row = table[slot]
    j = _desired_quote(quotes, n_quotes, row["side"], row["level"])
    wanted = j >= 0 and _matched_slot(table, instrument, row["side"], row["level"]) == slot
    if row["status"] != codes.ORDER_OPEN:
        return _RANK_NONE  # a request is in flight: leave it alone
    if not wanted:
        return _RANK_CANCEL
    move_ticks = quotes[j]["price_ticks"] - row["price_ticks"]
    remaining_lots = row["amount_lots"] - row["filled_lots"]
    if abs(move_ticks) <= amend_threshold_ticks and remaining_lots == quotes[j]["size_lots"]:
        return _RANK_NONE
    moving_away = (row["side"] == codes.SIDE_BUY and move_ticks < 0) or (
        row["side"] == codes.SIDE_SELL and move_ticks > 0
    )
    return _RANK_AMEND_AWAY if moving_away else _RANK_AMEND_OTHER


@helper(_i8(ORDER_T, QUOTE_T, _i8, _i8))
def _max_level(table, quotes, n_quotes, instrument):
    top = -1
    for slot in range(table.shape[0]):
        row = table[slot]
        if _LIVE_FIRST <= row["status"] <= _LIVE_LAST and row["instrument"] == instrument:
            top = max(top, row["level"])
    for j in range(n_quotes):
        top = max(top, quotes[j]["level"])
    return top


@helper(_i8(ACTION_T, _i8, _i8, _i8, _i8, _i8, _i8, _i8, _i8))
def _emit(out_actions, n, kind, slot, client_order_id, side, level, price_ticks, size_lots):
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


@helper(_i8(ORDER_T, QUOTE_T, _i8, _i8, _i8, _i8, _i8, _i8, ACTION_T, _i8))
def _emit_order_actions(table, quotes, n_quotes, instrument, threshold, rank, level, side, out, n):
    # Emit the cancels or amends of one rank for one (level, side), in slot order.
    for slot in range(table.shape[0]):
        row = table[slot]
        if not (_LIVE_FIRST <= row["status"] <= _LIVE_LAST):
            continue
        if row["instrument"] != instrument or row["level"] != level or row["side"] != side:
            continue
        if _order_rank(table, slot, quotes, n_quotes, instrument, threshold) != rank:
            continue
        if rank == _RANK_CANCEL:
            n = _emit(out, n, codes.ACTION_CANCEL, slot, row["client_order_id"], side, level,
                      row["price_ticks"], row["amount_lots"])
        else:
            j = _desired_quote(quotes, n_quotes, side, level)
            n = _emit(out, n, codes.ACTION_AMEND, slot, row["client_order_id"], side, level,
                      quotes[j]["price_ticks"], row["filled_lots"] + quotes[j]["size_lots"])
    return n


@kernel(_i8(ORDER_T, QUOTE_T, _i8, _i8, _i8, ACTION_T))
def diff_ladder_against_orders(table, quotes, n_quotes, instrument, amend_threshold_ticks,
                               out_actions):
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
        equals the quote size) is kept as is. 0 keeps only exact prices.
    out_actions : ACTION array
        Output; the first ``n_actions`` rows are written.

    Returns
    -------
    int
        ``n_actions``, or ``-STATUS_BAD_INPUT`` for a bad ``n_quotes``.

    Notes
    -----
    Orders are matched to quotes by (side, level). For a matched ``OPEN`` order: keep when
    ``abs(quote price - order price) <= amend_threshold_ticks`` and ``amount - filled`` equals
    the quote size; otherwise AMEND to the quote price and total amount ``filled + quote size``
    (one request, never cancel + insert). An ``OPEN`` order without a quote (or a second order on
    the same (side, level)) is cancelled; a quote without an order gets an INSERT (``slot`` and
    ``client_order_id`` -1). Orders with a request in flight are left alone, and a pending
    insert counts as the order of its (side, level), so no request is ever duplicated.

    Actions come in the order they are safe to send: cancels, then amends that move away from
    the touch (bids down, asks up), then the other amends, then inserts; within each kind level
    0 first, bids before asks. So when the market rises the ask is amended up before the bid
    follows and our own quotes never cross mid-update, and a throttled sender that sends a
    prefix sends the most important requests. If ``out_actions`` is too short the lowest-priority
    actions are dropped; the next diff produces them again.
    """
    if n_quotes < 0 or n_quotes > quotes.shape[0]:
        return -codes.STATUS_BAD_INPUT
    threshold = max(amend_threshold_ticks, 0)
    top = _max_level(table, quotes, n_quotes, instrument)
    n = 0
    for rank in range(_RANK_CANCEL, _RANK_INSERT):
        for level in range(top + 1):
            for side in range(codes.SIDE_BUY, codes.SIDE_SELL + 1):
                n = _emit_order_actions(table, quotes, n_quotes, instrument, threshold, rank,
                                        level, side, out_actions, n)
    for level in range(top + 1):
        for side in range(codes.SIDE_BUY, codes.SIDE_SELL + 1):
            j = _desired_quote(quotes, n_quotes, side, level)
            if j >= 0 and _matched_slot(table, instrument, side, level) < 0:
                n = _emit(out_actions, n, codes.ACTION_INSERT, -1, -1, side, level,
                          quotes[j]["price_ticks"], quotes[j]["size_lots"])
    return n
