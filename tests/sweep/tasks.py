"""Test-only task functions, passed to the sweep explicitly: qengine's own task (``run_task``)
made to fail for one parameter value, or to last long enough for a test to kill a worker."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from qengine.sweep.tasks import run_task


def failing_task(spec: Any, rows: list[np.ndarray]) -> dict[str, float | int]:
    """``run_task``, except that it raises for ``quote.levels == 2``."""
    if spec.params.get("quote.levels") == 2:
        raise RuntimeError("levels 2 is refused by this test task")
    return run_task(spec, rows)


def slow_task(spec: Any, rows: list[np.ndarray]) -> dict[str, float | int]:
    """``run_task`` that takes at least 0.5 s, so that a test can kill a worker mid-sweep."""
    started = time.perf_counter()
    stats = run_task(spec, rows)
    time.sleep(max(0.0, 0.5 - (time.perf_counter() - started)))
    return stats
