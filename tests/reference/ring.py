"""Pure-Python twins of ``qengine.kernels.ring``, written for clarity rather than speed.

The twins rebuild the ring's contents as a plain list (oldest first) and answer queries from that
list, instead of doing modular slot arithmetic on the fly like the kernels.
"""

from __future__ import annotations

import math


def _cursor_ok(capacity, head, count):
    return capacity > 0 and 0 <= head < capacity and 0 <= count <= capacity


def _slots_oldest_first(capacity, head, count):
    """Slot indices holding data, oldest first."""
    first = (head - count) % capacity
    return [(first + i) % capacity for i in range(count)]


def ring_push(
    samples,
    cursor,
    time_ns,
    best_bid_ticks,
    best_ask_ticks,
    best_bid_lots,
    best_ask_lots,
):
    capacity = len(samples)
    head = int(cursor[0]["head"])
    count = int(cursor[0]["count"])
    if not _cursor_ok(capacity, head, count):
        return -1
    samples[head] = (
        time_ns,
        best_bid_ticks,
        best_ask_ticks,
        best_bid_lots,
        best_ask_lots,
    )
    cursor[0]["head"] = (head + 1) % capacity
    cursor[0]["count"] = min(count + 1, capacity)
    return head


def sample_mid_ticks(samples, slot):
    """Twin of the ``sample_mid_ticks`` helper: the mid of a valid book row, else NaN."""
    if not 0 <= slot < len(samples):
        return math.nan
    bid = int(samples[slot]["best_bid_ticks"])
    ask = int(samples[slot]["best_ask_ticks"])
    if bid <= 0 or ask <= bid:
        return math.nan
    return (bid + ask) / 2


def ring_latest(samples, cursor):
    capacity = len(samples)
    head = int(cursor[0]["head"])
    count = int(cursor[0]["count"])
    if not _cursor_ok(capacity, head, count) or count == 0:
        return -1
    return _slots_oldest_first(capacity, head, count)[-1]


def ring_window_by_count(samples, cursor, n, out_slots):
    capacity = len(samples)
    head = int(cursor[0]["head"])
    count = int(cursor[0]["count"])
    if not _cursor_ok(capacity, head, count):
        return 0
    slots = _slots_oldest_first(capacity, head, count)
    m = max(0, min(n, count, len(out_slots)))
    chosen = slots[len(slots) - m :]
    for i, slot in enumerate(chosen):
        out_slots[i] = slot
    return len(chosen)


def ring_window_by_time(samples, cursor, now_ns, window_ns, out_slots):
    capacity = len(samples)
    head = int(cursor[0]["head"])
    count = int(cursor[0]["count"])
    if not _cursor_ok(capacity, head, count) or window_ns <= 0:
        return 0
    newest_first = list(reversed(_slots_oldest_first(capacity, head, count)))
    chosen = []
    for slot in newest_first:
        t = int(samples[slot]["time_ns"])
        if t > now_ns:
            continue  # a row from the future relative to now_ns: not in the window
        if t <= now_ns - window_ns:
            break  # rows are time-ordered, so everything older is outside too
        chosen.append(slot)
    chosen = chosen[: len(out_slots)]
    chosen.reverse()
    for i, slot in enumerate(chosen):
        out_slots[i] = slot
    return len(chosen)
