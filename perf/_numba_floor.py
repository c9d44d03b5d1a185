"""The numba floor of a warm start: a process that imports numba and calls one cached kernel.

No qengine code runs here. ``bench_cold_start`` starts this script like the engine child, with
the same interpreter and environment, and times it the same way (parent's clock before ``Popen``
to the stamp printed here), so its figure is what any warm start that calls a numba kernel pays
on this machine before the engine's own work: the interpreter, numpy and numba imports, and
numba's target set-up at the first kernel taken from the on-disk cache.

Run: ``python perf/_numba_floor.py`` (prints one JSON line of monotonic ns stamps).
"""

from __future__ import annotations

import time

main_ns = time.monotonic_ns()

import numba  # noqa: E402  (the imports are what is measured)
import numpy as np  # noqa: E402

imported_ns = time.monotonic_ns()


@numba.njit("float64(float64[:], float64)", cache=True, nogil=True)
def _mid(book: np.ndarray, tick: float) -> float:
    return (book[0] + book[1]) * 0.5 + tick


if __name__ == "__main__":
    _mid(np.array([1.0, 2.0]), 0.5)
    called_ns = time.monotonic_ns()
    hits, misses = sum(_mid.stats.cache_hits.values()), sum(_mid.stats.cache_misses.values())
    print(f'{{"main_ns": {main_ns}, "imported_ns": {imported_ns}, "called_ns": {called_ns}, '
          f'"cache_hits": {hits}, "cache_misses": {misses}}}', flush=True)
