"""Pure-Python twin of ``qengine.kernels.order_diff``: dicts for matching, one sort for order."""

from __future__ import annotations

from qengine.kernels import codes
from tests.reference.orders import OPEN, PENDING_AMEND, PENDING_INSERT, table_rows


def diff_ladder_against_orders(table, quotes, n_quotes, instrument, amend_threshold_ticks,
                               out_actions):
    if n_quotes < 0 or n_quotes > len(quotes):
        return -codes.STATUS_BAD_INPUT
    threshold = max(amend_threshold_ticks, 0)
    desired = {}  # (side, level) -> (price, size), first usable quote wins
    for j in range(n_quotes):
        q = quotes[j]
        key = (int(q["side"]), int(q["level"]))
        if q["size_lots"] > 0 and key not in desired:
            desired[key] = (int(q["price_ticks"]), int(q["size_lots"]))
    rows = table_rows(table)
    mine = [(i, r) for i, r in enumerate(rows) if r["instrument"] == instrument]
    owner = {}  # (side, level) -> slot of the order that represents it
    for i, r in mine:
        if r["status"] in (PENDING_INSERT, OPEN, PENDING_AMEND):
            owner.setdefault((r["side"], r["level"]), i)

    candidates = []  # (rank, level, side, tie, action tuple)
    for i, r in mine:
        if r["status"] != OPEN:
            continue
        key = (r["side"], r["level"])
        if key not in desired or owner.get(key) != i:
            candidates.append((0, r["level"], r["side"], i, (
                codes.ACTION_CANCEL, i, r["client_order_id"], r["side"], r["level"],
                r["price_ticks"], r["amount_lots"])))
            continue
        price, size = desired[key]
        remaining = r["amount_lots"] - r["filled_lots"]
        partly_filled_smaller = r["filled_lots"] > 0 and 0 < remaining < size
        if abs(price - r["price_ticks"]) <= threshold and (remaining == size
                                                            or partly_filled_smaller):
            continue
        # Away from the touch: a bid moving down, an ask moving up.
        old = r["price_ticks"]
        away = price < old if r["side"] == codes.SIDE_BUY else price > old
        candidates.append((1 if away else 2, r["level"], r["side"], i, (
            codes.ACTION_AMEND, i, r["client_order_id"], r["side"], r["level"], price,
            r["filled_lots"] + size)))
    for (side, level), (price, size) in desired.items():
        if level >= 0 and side in (codes.SIDE_BUY, codes.SIDE_SELL) and (side, level) not in owner:
            candidates.append((3, level, side, 0, (
                codes.ACTION_INSERT, -1, -1, side, level, price, size)))
    candidates.sort(key=lambda c: c[:4])
    written = 0
    for c in candidates[: len(out_actions)]:
        out_actions[written] = c[4]
        written += 1
    return written
