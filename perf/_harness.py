"""Shared benchmark plumbing: warm-up, GC off, ``perf_counter_ns`` loops, tails, machine info, JSON.

Benchmarks are documentation: every result reports p50, p99, p99.9 and max, and the machine it
ran on. Compare only runs made back to back on the same machine.
"""

from __future__ import annotations

import gc
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import orjson


def percentiles_ns(samples: Any) -> dict[str, float]:
    """Return p50, p99, p99.9 and max of a sequence of nanosecond samples (as floats, in ns)."""
    values = np.asarray(samples, dtype=np.float64)
    if values.size == 0:
        raise ValueError("percentiles_ns needs at least one sample")
    p50, p99, p999 = np.percentile(values, [50.0, 99.0, 99.9])
    return {
        "p50": float(p50),
        "p99": float(p99),
        "p999": float(p999),
        "max": float(values.max()),
        "n": int(values.size),
    }


@contextmanager
def gc_disabled() -> Iterator[None]:
    """Disable the cyclic garbage collector for the duration of a timed section."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def time_calls_ns(fn: Callable[[], Any], *, iterations: int, warmup: int = 1000) -> np.ndarray:
    """Time ``fn()`` ``iterations`` times (after ``warmup`` untimed calls); return ns per call."""
    for _ in range(warmup):
        fn()
    out = np.empty(iterations, dtype=np.int64)
    clock = time.perf_counter_ns
    with gc_disabled():
        for i in range(iterations):
            start = clock()
            fn()
            out[i] = clock() - start
    return out


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    """Describe the machine and the library versions a result was measured with."""
    import numba

    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "numba": numba.__version__,
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def progress(message: str) -> None:
    """Print one progress line to stderr (stdout stays clean for results)."""
    print(f"[perf] {message}", file=sys.stderr, flush=True)


def write_json(path: str | os.PathLike[str], payload: Any) -> None:
    """Write ``payload`` as indented JSON (numpy scalars allowed)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(
        orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
    )


def run_child(measure: Callable[..., Any], *args: Any) -> int:
    """Body of a benchmark child process: run the async ``measure(*args)`` under trio with
    qengine's logging on stderr, and print its result as one JSON line on stdout."""
    import trio

    from qengine.telemetry import open_logging

    with open_logging(verbose=False, stream=sys.stderr):
        result = trio.run(measure, *args)
    sys.stdout.buffer.write(orjson.dumps(result, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n")
    sys.stdout.flush()
    return 0
