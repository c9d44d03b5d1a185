"""Twin of ``qengine.backtest.pipes`` latency lookups: a linear scan and explicit interpolation."""

from __future__ import annotations

import itertools

from qengine.backtest.layout import I_ENTRY_NS, I_RESP_NS


def _latency(rows, ts):
    """``rows`` are (time, latency) sorted by time."""
    if ts < rows[0][0]:
        return rows[0][1]
    for (x1, y1), (x2, y2) in itertools.pairwise(rows):
        if x1 <= ts < x2:
            return y1 if x2 == x1 else int((y2 - y1) / (x2 - x1) * (ts - x1)) + y1
    return rows[-1][1]


def entry_latency(ist, table, ts):
    if len(table) == 0:
        return int(ist[I_ENTRY_NS])
    return _latency([(int(r[0]), int(r[1] - r[0])) for r in table], ts)


def response_latency(ist, table, ts):
    if len(table) == 0:
        return int(ist[I_RESP_NS])
    return _latency([(int(r[1]), int(r[2] - r[1])) for r in table], ts)
