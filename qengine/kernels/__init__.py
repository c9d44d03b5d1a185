"""Numba kernels: the per-tick maths of qengine on preallocated structured arrays.

Researchers can call these directly, without an engine: see ``examples/research_kernels.py``.
Kernels import only numpy and numba.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from dataclasses import dataclass

from . import _jit


@dataclass(frozen=True, slots=True)
class WarmUpReport:
    """What :func:`warm_up` found: how many kernels, how long, and how many came from the cache."""

    kernels: int
    seconds: float
    cache_hits: int
    compiled: int


def _kernel_module_names() -> list[str]:
    return sorted(
        info.name
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_") and info.name not in {"dtypes", "codes"}
    )


def warm_up() -> WarmUpReport:
    """Import every kernel module so that every kernel is compiled (or loaded from the cache).

    Kernels carry explicit signatures and compile eagerly at import; calling this before the first
    connection makes sure the first market tick never pays for compilation.

    Returns
    -------
    WarmUpReport
        Kernel count, wall seconds spent, and cache hits versus fresh compilations.
    """
    started = time.perf_counter()
    for name in _kernel_module_names():
        importlib.import_module(f"{__name__}.{name}")
    hits = sum(sum(d.stats.cache_hits.values()) for d in _jit.REGISTRY)
    misses = sum(sum(d.stats.cache_misses.values()) for d in _jit.REGISTRY)
    return WarmUpReport(
        kernels=len(_jit.REGISTRY),
        seconds=time.perf_counter() - started,
        cache_hits=hits,
        compiled=misses,
    )
