"""The engine's one time seam: trio's clock for intervals, the wall clock for exchange stamps.

Kernels never read a clock; trio code reads monotonic time only through ``now_ns`` so tests can
swap in trio's ``autojump_clock`` (which drives ``trio.current_time``).
"""

from __future__ import annotations

import time

import trio


def now_ns() -> int:
    """Monotonic nanoseconds from trio's clock (virtual under ``autojump_clock``)."""
    return int(trio.current_time() * 1e9)


def wall_ns() -> int:
    """Unix-epoch nanoseconds (for records that are compared with exchange timestamps)."""
    return time.time_ns()
