"""Pure-Python twin of ``qengine.kernels.order_diff``: dicts for matching, one sort for order."""

from __future__ import annotations

from qengine.kernels import codes
from tests.reference.orders import OPEN, PENDING_AMEND, PENDING_INSERT, table_rows, worst_lots

_SIDES = (codes.SIDE_BUY, codes.SIDE_SELL)


def _in_flight_at(mine, side, skip, price):
    """An insert or amend in flight that leaves another order of ``side`` at ``price``."""
    for i, r in mine:
        if i == skip or r["side"] != side:
            continue
        if r["status"] == PENDING_INSERT and r["price_ticks"] == price:
            return True
        if r["status"] == PENDING_AMEND and r["pending_price_ticks"] == price:
            return True
    return False


def _budget(rows, owner, desired, budget):
    """The quote size each key may send: cuts free, additions level by level while the side's
    budget lasts, a new order only whole. ``budget`` (side -> lots) is spent in place."""
    sizes = {}
    for side, level in sorted(desired, key=lambda k: (k[1], k[0])):
        size = desired[(side, level)][1]
        slot = owner.get((side, level))
        if slot is None:
            if size > budget[side]:
                size = 0
            budget[side] -= size
        elif rows[slot]["status"] == OPEN:
            remaining = max(rows[slot]["amount_lots"] - rows[slot]["filled_lots"], 0)
            add = min(max(size - remaining, 0), max(budget[side], 0))
            size = min(size, remaining + add)
            budget[side] -= add
        sizes[(side, level)] = size
    return sizes


def _cancel(i, r):
    return (0, r["level"], r["side"], i, (
        codes.ACTION_CANCEL, i, r["client_order_id"], r["side"], r["level"], r["price_ticks"],
        r["amount_lots"]))


def _plan(mine, owner, desired, threshold):
    """slot -> (rank, level, side, slot, action) for every OPEN row that needs a request."""
    wanted = {key: price for key, (price, _) in desired.items()
              if key[1] >= 0 and key[0] in _SIDES}
    plan = {}
    for i, r in mine:
        if r["status"] != OPEN:
            continue
        key = (r["side"], r["level"])
        if key not in desired or owner.get(key) != i:
            plan[i] = _cancel(i, r)
            continue
        price, size = desired[key]
        old = r["price_ticks"]
        remaining = r["amount_lots"] - r["filled_lots"]
        partly_filled_smaller = r["filled_lots"] > 0 and 0 < remaining < size
        others_price = any(p == old for k, p in wanted.items() if k != key and k[0] == key[0])
        if abs(price - old) <= threshold and (remaining == size or partly_filled_smaller) and (
                price == old or not others_price):
            continue
        # Away from the touch: a bid moving down, an ask moving up.
        away = price < old if r["side"] == codes.SIDE_BUY else price > old
        plan[i] = (1 if away else 2, r["level"], r["side"], i, (
            codes.ACTION_AMEND, i, r["client_order_id"], r["side"], r["level"], price,
            r["filled_lots"] + size))
    return plan


def _waiting_at(mine, decided, side, skip, price):
    """An OPEN order of ``side`` whose amend waits this time rests at ``price``."""
    return any(k != skip and r["status"] == OPEN and r["side"] == side
               and r["price_ticks"] == price and decided.get(k) == "waiting" for k, r in mine)


def _still_there(mine, decided, i, entry):
    """Whether an OPEN order at amend ``entry``'s target is kept or amended after it."""
    side, target = entry[4][3], entry[4][5]
    for k, r in mine:
        if k == i or r["status"] != OPEN or r["side"] != side or r["price_ticks"] != target:
            continue
        other = decided.get(k)
        if other is None or (other != "waiting" and other[:4] > entry[:4]):
            return True
    return False


def _resolve(mine, rows, plan):
    """Waiting amends (fixpoint), then amends onto a taken price as cancel + insert."""
    decided = dict(plan)  # slot -> entry, or "waiting"; absent: kept
    changed = True
    while changed:
        changed = False
        for i in sorted(decided):
            entry = decided[i]
            if entry == "waiting" or entry[4][0] != codes.ACTION_AMEND:
                continue
            side, target = entry[4][3], entry[4][5]
            if _in_flight_at(mine, side, i, target) or _waiting_at(mine, decided, side, i,
                                                                   target):
                decided[i] = "waiting"
                changed = True
    reinsert = set()
    for i in sorted(decided):
        entry = decided[i]
        if entry == "waiting" or entry[4][0] != codes.ACTION_AMEND:
            continue
        if _still_there(mine, decided, i, entry):
            decided[i] = _cancel(i, rows[i])
            reinsert.add((rows[i]["side"], rows[i]["level"]))
    return decided, reinsert


def diff_ladder_against_orders(table, quotes, n_quotes, instrument, amend_threshold_ticks,
                               out_actions, bid_room_lots, ask_room_lots):
    if n_quotes < 0 or n_quotes > len(quotes):
        return -codes.STATUS_BAD_INPUT
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
    budget = {codes.SIDE_BUY: bid_room_lots, codes.SIDE_SELL: ask_room_lots}
    for _, r in mine:
        if r["side"] in budget:  # live rows, and closed ones with fills not booked yet
            budget[r["side"]] -= worst_lots(r)
    usable = {k: v for k, v in desired.items() if k[1] >= 0 and k[0] in _SIDES}
    sizes = _budget(rows, owner, usable, budget)
    desired = {k: (price, sizes.get(k, size)) for k, (price, size) in desired.items()}
    plan = _plan(mine, owner, desired, max(amend_threshold_ticks, 0))

    decided, reinsert = _resolve(mine, rows, plan)
    candidates = [entry for entry in decided.values() if entry != "waiting"]
    for (side, level), (price, size) in desired.items():
        if level < 0 or side not in _SIDES:
            continue
        if size <= 0 or ((side, level) in owner and (side, level) not in reinsert):
            continue
        if (side, level) in reinsert:  # beside its cancelled order, which may still fill
            cancelled = rows[owner[(side, level)]]
            extra = min(size, max(cancelled["amount_lots"] - cancelled["filled_lots"], 0))
            if extra > budget[side]:
                continue
            budget[side] -= extra
        if not (_in_flight_at(mine, side, -1, price)
                or _waiting_at(mine, decided, side, -1, price)):
            candidates.append((3, level, side, 0, (
                codes.ACTION_INSERT, -1, -1, side, level, price, size)))
    candidates.sort(key=lambda c: c[:4])
    written = 0
    for c in candidates[: len(out_actions)]:
        out_actions[written] = c[4]
        written += 1
    return written
