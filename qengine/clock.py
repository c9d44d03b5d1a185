"""The engine's one time seam: trio's clock for intervals.

Kernels never read a clock; trio code reads monotonic time only through ``now_ns`` so tests can
swap in trio's ``autojump_clock`` (which drives ``trio.current_time``).
"""

from __future__ import annotations

import trio

from .units import NS_PER_S


def now_ns() -> int:
    """Monotonic nanoseconds from trio's clock (virtual under ``autojump_clock``)."""
    return int(trio.current_time() * NS_PER_S)
