"""Latency: the two FIFO pipes between the strategy and the exchange, and their delays.

A request sent at ``t`` reaches the exchange at ``t + entry_latency(t)``; a response made at
exchange time ``t`` reaches the strategy at ``t + response_latency(t)``. Each pipe is FIFO: an
arrival time is never earlier than the one queued before it (hftbacktest's order bus does the
same), so a later request never overtakes an earlier one.

Latency is constant (``ist[I_ENTRY_NS]``, ``ist[I_RESP_NS]``) or, when the table has rows,
interpolated linearly from a recorded series of ``(req_ts, exch_ts, resp_ts)`` rows sorted by
time (before the first row the first row's latency applies, after the last the last one's).
"""

from __future__ import annotations

import numpy as np

from qengine.kernels._jit import helper, kernel

from .layout import (
    I8,
    I8A,
    I_ENTRY_NS,
    I_RESP_NS,
    I_TOEX_COUNT,
    I_TOEX_HEAD,
    I_TOEX_LAST,
    I_TOLO_COUNT,
    I_TOLO_HEAD,
    I_TOLO_LAST,
    INVALID_MAX,
    ORDERS,
)

LAT = I8[:, ::1]


@helper(I8(LAT, I8, I8, I8))
def _interpolate(table, key_col, start_col, ts):
    """Latency ``table[:, key_col + 1] - table[:, start_col]`` interpolated at ``ts``."""
    n = table.shape[0]
    i = np.searchsorted(table[:, key_col], ts, side="right") - 1
    if i < 0:
        return table[0, key_col + 1] - table[0, start_col]
    if i >= n - 1:
        return table[n - 1, key_col + 1] - table[n - 1, start_col]
    x1 = table[i, key_col]
    x2 = table[i + 1, key_col]
    y1 = table[i, key_col + 1] - table[i, start_col]
    y2 = table[i + 1, key_col + 1] - table[i + 1, start_col]
    if x2 == x1:
        return y1
    return np.int64((y2 - y1) / (x2 - x1) * (ts - x1)) + y1


@kernel(I8(I8A, LAT, I8))
def entry_latency(ist, table, ts):
    """Order-entry latency (ns) for a request sent at ``ts``."""
    if table.shape[0] == 0:
        return ist[I_ENTRY_NS]
    return _interpolate(table, 0, 0, ts)


@kernel(I8(I8A, LAT, I8))
def response_latency(ist, table, ts):
    """Response latency (ns) for a response made at exchange time ``ts``."""
    if table.shape[0] == 0:
        return ist[I_RESP_NS]
    return _interpolate(table, 1, 1, ts)


@helper(I8(ORDERS, I8A, I8, ORDERS, I8, I8), inline=True)
def pipe_push(ring, ist, to_local, src, slot, ts):
    """Queue a copy of ``src[slot]`` arriving at ``ts`` (FIFO). Returns -1 if the pipe is full."""
    head_i, count_i, last_i = (
        (I_TOLO_HEAD, I_TOLO_COUNT, I_TOLO_LAST) if to_local else
        (I_TOEX_HEAD, I_TOEX_COUNT, I_TOEX_LAST)
    )
    cap = ring.shape[0]
    if ist[count_i] >= cap:
        return -1
    if ist[count_i] > 0 and ts < ist[last_i]:
        ts = ist[last_i]
    pos = (ist[head_i] + ist[count_i]) % cap
    ring[pos] = src[slot]
    ring[pos].pipe_ts = ts
    ist[count_i] += 1
    ist[last_i] = ts
    return 0


@helper(I8(ORDERS, I8A, I8), inline=True)
def pipe_head_ts(ring, ist, to_local):
    """Arrival time of the oldest entry, or ``INVALID_MAX`` when the pipe is empty."""
    head_i, count_i = (I_TOLO_HEAD, I_TOLO_COUNT) if to_local else (I_TOEX_HEAD, I_TOEX_COUNT)
    if ist[count_i] == 0:
        return INVALID_MAX
    return ring[ist[head_i]].pipe_ts


@helper(I8(ORDERS, I8A, I8), inline=True)
def pipe_pop(ring, ist, to_local):
    """Remove the oldest entry and return its index in ``ring`` (valid until the next push)."""
    head_i, count_i = (I_TOLO_HEAD, I_TOLO_COUNT) if to_local else (I_TOEX_HEAD, I_TOEX_COUNT)
    pos = ist[head_i]
    ist[head_i] = (pos + 1) % ring.shape[0]
    ist[count_i] -= 1
    return pos
