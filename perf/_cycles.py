"""Per-call timing inside a jitted loop: a ``rdtsc`` intrinsic, its calibration and overhead.

``perf_counter_ns`` cannot time a 50 ns kernel call: reading it costs more than the call. Inside
an ``njit`` loop we read the CPU cycle counter (``llvm.readcyclecounter``, ``rdtsc`` on x86)
around each call, convert cycles to nanoseconds with a rate calibrated against
``perf_counter_ns``, and subtract the cost of the two counter reads plus the loop's own
bookkeeping (measured by timing an empty step the same way). This is perf code, not a kernel:
it may use ``numba.njit`` directly and reads the cycle counter, which kernels never do.

Caveats: ``rdtsc`` is not serialising, so a sample can be a few cycles off either way; the TSC
must tick at a constant rate (``constant_tsc`` in ``/proc/cpuinfo``; ``machine_cycle_info``
reports it).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def rdtsc(typingctx: Any) -> Any:
    """Read the CPU cycle counter (``llvm.readcyclecounter``) as an int64 (jitted code only)."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        fnty = ir.FunctionType(ir.IntType(64), [])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.readcyclecounter")
        return builder.call(fn, [])

    return types.int64(), codegen


@njit(cache=True)
def cycles_now() -> int:
    """Return the cycle counter (callable from Python, for calibration)."""
    return rdtsc()


# Not cached: numba cannot pickle the dispatcher types in its signature (a cached index makes
# the next process fail with "underlying object has vanished").
@njit(cache=False)
def timed_loop(prepare, step, ctx, start, n, out_cycles):
    """Run ``prepare(ctx, i)`` untimed, then ``step(ctx, i)`` timed, for ``start <= i < start+n``.

    ``out_cycles[j]`` receives the cycles of call ``start + j`` (counter reads included). The sum
    of the returned values is returned so that no call can be optimised away.
    """
    acc = 0.0
    for j in range(n):
        i = start + j
        acc += prepare(ctx, i)
        t0 = rdtsc()
        acc += step(ctx, i)
        t1 = rdtsc()
        out_cycles[j] = t1 - t0
    return acc


@njit(cache=True)
def no_prepare(ctx, i):
    """The ``prepare`` of a bench that needs none."""
    return 0.0


@njit(cache=True)
def empty_step(ctx, i):
    """A step that only reads its input (what every real step also does): the timer overhead."""
    return ctx[0][i]


def calibrate_cycles_per_ns(duration_ns: int) -> float:
    """Cycles per nanosecond: cycle-counter ticks over ``perf_counter_ns`` during a busy wait.

    Three windows of ``duration_ns`` each; the median is returned (robust to one preemption).
    """
    cycles_now()  # compile or load before timing
    rates = []
    for _ in range(3):
        c0, p0 = cycles_now(), time.perf_counter_ns()
        while time.perf_counter_ns() - p0 < duration_ns:
            pass
        c1, p1 = cycles_now(), time.perf_counter_ns()
        rates.append((c1 - c0) / (p1 - p0))
    return float(np.median(rates))


def timer_overhead_cycles(n: int) -> tuple[float, float]:
    """Median cycles of an empty step timed in :func:`timed_loop`, and the counter's resolution.

    The median is subtracted from every sample. The resolution is the smallest step between
    distinct readings (virtual machines often advance the counter in coarse steps): per-call
    figures below it are noise.
    """
    ctx = (np.arange(n, dtype=np.float64),)
    out = np.empty(n, dtype=np.int64)
    timed_loop(no_prepare, empty_step, ctx, 0, n, out)  # warm-up and compile
    timed_loop(no_prepare, empty_step, ctx, 0, n, out)
    distinct = np.unique(out)
    steps = np.diff(distinct)
    resolution = float(steps.min()) if steps.size else 1.0
    return float(np.median(out)), resolution


def cycles_to_ns(cycles: np.ndarray, overhead_cycles: float, cycles_per_ns: float) -> np.ndarray:
    """Convert per-call cycles to nanoseconds after subtracting the timer overhead (floor 0)."""
    return np.maximum(cycles.astype(np.float64) - overhead_cycles, 0.0) / cycles_per_ns


def constant_tsc() -> bool:
    """True when the CPU reports a constant-rate, non-stop TSC (cycles map linearly to time)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "constant_tsc" in flags and "nonstop_tsc" in flags
