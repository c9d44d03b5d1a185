"""The quoting run's first pass over its data: every row checked (``iter_event_chunks``), then
what the quoting needs of it: prices on the instrument's tick grid, sizes on its lot grid, and
some depth to quote on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .data import DataError, count_rows, iter_event_chunks
from .events import (
    DEPTH_BBO_EVENT,
    DEPTH_EVENT,
    DEPTH_SNAPSHOT_EVENT,
    KIND_MASK,
    TRADE_EVENT,
)
from .instruments import Instrument

#: How far off the grid a price or size may be, in ticks or lots (float rounding of the file),
#: plus this fraction of the value for very large ones.
GRID_ABS_TOL = 1e-6
GRID_REL_TOL = 1e-12
_DEPTH_KINDS = (DEPTH_EVENT, DEPTH_SNAPSHOT_EVENT, DEPTH_BBO_EVENT)


def _label(source: Any) -> str:
    return "<array>" if isinstance(source, np.ndarray) else str(source)


def _off_grid(values: np.ndarray, step: float) -> np.ndarray:
    x = values / step
    return np.abs(x - np.rint(x)) > GRID_ABS_TOL + GRID_REL_TOL * np.abs(x)


def scan_for_quoting(sources: Sequence[Any], spec: Instrument, *, chunk_rows: int) -> int:
    """Check every row of ``sources`` and return how many there are.

    Raises
    ------
    DataError
        Naming the file and row: a bad row (``iter_event_chunks``), a depth or trade price off
        ``spec.tick_size`` or a size off ``spec.lot_size`` (data of another instrument), no
        rows at all, or no depth/snapshot/BBO row in any file (nothing to quote on).
    """
    ends = np.cumsum([count_rows([s]) for s in sources])
    labels = [_label(s) for s in sources]
    total = depth = 0
    for chunk in iter_event_chunks(sources, chunk_rows=chunk_rows):
        k = int(np.searchsorted(ends, total, side="right"))
        first = total - (int(ends[k - 1]) if k else 0)
        total += len(chunk)
        kind = chunk["ev"] & np.uint64(KIND_MASK)
        is_depth = np.isin(kind, _DEPTH_KINDS)
        depth += int(np.count_nonzero(is_depth))
        priced = is_depth | (kind == TRADE_EVENT)
        for name, step, unit in (("px", spec.tick_size, "tick size"),
                                 ("qty", spec.lot_size, "lot size")):
            bad = np.flatnonzero(priced & _off_grid(chunk[name], step))
            if bad.size:
                i = int(bad[0])
                raise DataError(labels[k], f"{float(chunk[name][i])!r} is not a multiple of "
                                f"{spec.name}'s {unit} {step!r} (data of another instrument? "
                                "pass --instrument / instrument=)", row=first + i, field=name)
    if total == 0:
        raise DataError(", ".join(labels), "no event rows to backtest")
    if depth == 0:
        raise DataError(", ".join(labels), "no depth rows: nothing to quote on")
    return total


__all__ = ["GRID_ABS_TOL", "GRID_REL_TOL", "scan_for_quoting"]
