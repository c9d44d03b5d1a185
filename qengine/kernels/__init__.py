"""Numba kernels: the per-tick maths of qengine on preallocated structured arrays.

The package face is the research API: the closed-form models (plain float functions), the
parameter builders and validated wrappers over the stateful kernels (``research.py``: allocate,
check, call). The raw kernels, with many positional arguments and caller-owned outputs, stay in
their modules for the engine and the backtester. See ``examples/research_kernels.py``.
Kernels import only numpy and numba.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from dataclasses import dataclass

from . import _jit, codes, dtypes

# Kernel modules load on first use (PEP 562), so that importing one of them (or the backtest)
# does not load every kernel from the cache.
_LAZY = {
    "glft_ask_depth": "avellaneda",
    "glft_bid_depth": "avellaneda",
    "legacy_skew": "avellaneda",
    "legacy_spread": "avellaneda",
    "optimal_spread": "avellaneda",
    "reservation_price": "avellaneda",
    "make_level_multipliers": "params",
    "make_quote_params": "params",
    "QuoteState": "research",
    "build_ladder": "research",
    "intensity_fit": "research",
    "intensity_update": "research",
    "new_quote_state": "research",
    "quote_pipeline": "research",
    "vol_sigma": "research",
    "vol_update": "research",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


#: The research API: names importable from ``qengine.kernels`` (raw kernels such as the order
#: table or the fused ``quote_cycle`` live in their submodules, e.g. ``qengine.kernels.orders``).
__all__ = [
    "QuoteState",
    "WarmUpReport",
    "build_ladder",
    "codes",
    "dtypes",
    "glft_ask_depth",
    "glft_bid_depth",
    "intensity_fit",
    "intensity_update",
    "legacy_skew",
    "legacy_spread",
    "make_level_multipliers",
    "make_quote_params",
    "new_quote_state",
    "optimal_spread",
    "quote_pipeline",
    "reservation_price",
    "vol_sigma",
    "vol_update",
    "warm_up",
]


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
        if not info.name.startswith("_") and info.name not in {"dtypes", "codes", "research"}
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
