"""Fixed-capacity price ring of ``MARKET_SAMPLE`` rows.

The ring is a preallocated ``MARKET_SAMPLE`` array (capacity ``len(samples)``, from config, default
256) plus a one-row ``RING_CURSOR``: ``head`` is the next slot to write and ``count`` how many slots
hold data (saturating at the capacity). The newest row sits at ``head - 1`` and the oldest at
``head - count`` (both modulo the capacity). Rows are expected in non-decreasing ``time_ns`` order;
the single writer (the market reader task) guarantees that. Rows hold the top of book only: the
mid is derived on read by ``sample_mid_ticks`` (8 bytes less per row than storing it).

Window kernels write slot indices, oldest first, into a caller-provided ``int64`` array, so callers
read the rows they need without copying the ring.
"""

from __future__ import annotations

import math

from numba import types

from ._jit import helper, kernel
from .dtypes import MARKET_SAMPLE_T, RING_CURSOR_T

_SLOTS_T = types.int64[::1]


@kernel(
    types.int64(
        MARKET_SAMPLE_T,
        RING_CURSOR_T,
        types.int64,
        types.int64,
        types.int64,
        types.int64,
        types.int64,
    )
)
def ring_push(
    samples,
    cursor,
    time_ns,
    best_bid_ticks,
    best_ask_ticks,
    best_bid_lots,
    best_ask_lots,
):
    """Write one market sample at ``cursor[0]["head"]`` and advance the cursor.

    Parameters
    ----------
    samples : MARKET_SAMPLE array, shape (capacity,)
        The ring storage; one row is overwritten.
    cursor : RING_CURSOR array, shape (1,)
        ``head`` advances by one with wraparound; ``count`` grows until it equals the capacity.
    time_ns : int64
        Sample time in nanoseconds (monotonic, non-decreasing across pushes).
    best_bid_ticks, best_ask_ticks : int64
        Best bid and ask prices in ticks.
    best_bid_lots, best_ask_lots : int64
        Sizes at the best bid and ask in lots (volume ticks).

    Returns
    -------
    int64
        The slot written, or -1 (nothing written) when the ring has no capacity or the cursor is
        corrupt (``head`` outside ``[0, capacity)`` or ``count`` outside ``[0, capacity]``).
    """
    capacity = samples.shape[0]
    head = cursor[0]["head"]
    count = cursor[0]["count"]
    if capacity == 0 or head < 0 or head >= capacity or count < 0 or count > capacity:
        return -1
    row = samples[head]
    row["time_ns"] = time_ns
    row["best_bid_ticks"] = best_bid_ticks
    row["best_ask_ticks"] = best_ask_ticks
    row["best_bid_lots"] = best_bid_lots
    row["best_ask_lots"] = best_ask_lots
    next_head = head + 1
    if next_head == capacity:
        next_head = 0
    cursor[0]["head"] = next_head
    if count < capacity:
        cursor[0]["count"] = count + 1
    return head


@helper(types.float64(MARKET_SAMPLE_T, types.int64), inline=True)
def sample_mid_ticks(samples, slot):
    """Return the mid of the row at ``slot``: ``(best_bid_ticks + best_ask_ticks) / 2``.

    Parameters
    ----------
    samples : MARKET_SAMPLE array, shape (capacity,)
        The ring storage (read only).
    slot : int64
        Slot index of the row, e.g. from ``ring_latest``.

    Returns
    -------
    float64
        The mid in ticks (may sit on a half tick); NaN when ``slot`` is outside ``[0, capacity)``
        or the row is not a two-sided, uncrossed book (``0 < best_bid_ticks < best_ask_ticks``),
        which ``quote_pipeline`` never pushes.
    """
    if slot < 0 or slot >= samples.shape[0]:
        return math.nan
    bid = samples[slot]["best_bid_ticks"]
    ask = samples[slot]["best_ask_ticks"]
    if not (bid > 0 and ask > bid):
        return math.nan
    # The expression the pipeline used when the mid was stored, so results are bit-identical.
    return 0.5 * (bid + ask)


@kernel(types.int64(MARKET_SAMPLE_T, RING_CURSOR_T))
def ring_latest(samples, cursor):
    """Return the slot of the newest row.

    Parameters
    ----------
    samples : MARKET_SAMPLE array, shape (capacity,)
        The ring storage (read only for its capacity).
    cursor : RING_CURSOR array, shape (1,)
        The ring's cursor.

    Returns
    -------
    int64
        Slot index of the newest row, or -1 when the ring is empty (or the cursor is corrupt).
    """
    capacity = samples.shape[0]
    head = cursor[0]["head"]
    count = cursor[0]["count"]
    if count <= 0 or count > capacity or head < 0 or head >= capacity:
        return -1
    return head - 1 if head > 0 else capacity - 1


@kernel(types.int64(MARKET_SAMPLE_T, RING_CURSOR_T, types.int64, _SLOTS_T))
def ring_window_by_count(samples, cursor, n, out_slots):
    """Write the slots of the newest ``min(n, count, len(out_slots))`` rows, oldest first.

    Parameters
    ----------
    samples : MARKET_SAMPLE array, shape (capacity,)
        The ring storage (read only for its capacity).
    cursor : RING_CURSOR array, shape (1,)
        The ring's cursor.
    n : int64
        How many of the newest rows are wanted; ``n <= 0`` selects none.
    out_slots : int64 array, shape (k,)
        Receives slot indices in ``out_slots[0:m]``, oldest first; the rest is left untouched.

    Returns
    -------
    int64
        ``m``, the number of slots written (0 for an empty ring or a corrupt cursor).
    """
    capacity = samples.shape[0]
    head = cursor[0]["head"]
    count = cursor[0]["count"]
    if count <= 0 or count > capacity or head < 0 or head >= capacity:
        return 0
    m = n
    if count < m:
        m = count
    if out_slots.shape[0] < m:
        m = out_slots.shape[0]
    if m <= 0:
        return 0
    slot = head - m
    if slot < 0:
        slot += capacity
    for i in range(m):
        out_slots[i] = slot
        slot += 1
        if slot == capacity:
            slot = 0
    return m


@kernel(types.int64(MARKET_SAMPLE_T, RING_CURSOR_T, types.int64, types.int64, _SLOTS_T))
def ring_window_by_time(samples, cursor, now_ns, window_ns, out_slots):
    """Write the slots of rows with ``now_ns - window_ns < time_ns <= now_ns``, oldest first.

    The ring is walked from the newest row back: rows newer than ``now_ns`` are skipped and the
    walk stops at the first row at or before ``now_ns - window_ns``, so the cost is proportional to
    the rows returned (plus any skipped future rows). When more rows qualify than ``out_slots``
    holds, the newest ``len(out_slots)`` of them are returned.

    Parameters
    ----------
    samples : MARKET_SAMPLE array, shape (capacity,)
        The ring storage; rows must be in non-decreasing ``time_ns`` order of writing.
    cursor : RING_CURSOR array, shape (1,)
        The ring's cursor.
    now_ns : int64
        End of the window in nanoseconds (inclusive).
    window_ns : int64
        Window length in nanoseconds; ``window_ns <= 0`` selects none.
    out_slots : int64 array, shape (k,)
        Receives slot indices in ``out_slots[0:m]``, oldest first; the rest is left untouched.

    Returns
    -------
    int64
        ``m``, the number of slots written.
    """
    capacity = samples.shape[0]
    head = cursor[0]["head"]
    count = cursor[0]["count"]
    limit = out_slots.shape[0]
    if count <= 0 or count > capacity or head < 0 or head >= capacity:
        return 0
    if window_ns <= 0 or limit == 0:
        return 0
    m = 0
    slot = head
    for _ in range(count):
        slot = slot - 1 if slot > 0 else capacity - 1
        t = samples[slot]["time_ns"]
        if t > now_ns:
            continue
        # Written as a difference so a huge window cannot overflow now_ns - window_ns.
        if now_ns - t >= window_ns:
            break
        out_slots[m] = slot
        m += 1
        if m == limit:
            break
    # Collected newest first; reverse in place to return oldest first.
    i = 0
    j = m - 1
    while i < j:
        tmp = out_slots[i]
        out_slots[i] = out_slots[j]
        out_slots[j] = tmp
        i += 1
        j -= 1
    return m
