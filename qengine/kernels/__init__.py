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
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

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


def warm_up(only: Iterable[Any] | None = None) -> WarmUpReport:
    """Compile (or load from the cache) kernels now, so that the first market tick never pays.

    Parameters
    ----------
    only : iterable of kernels, optional
        These kernels (the engine passes the ones it calls from Python; what they call is in
        their cached machine code). By default every kernel module is imported and every
        kernel loaded.

    Returns
    -------
    WarmUpReport
        Kernel count, wall seconds spent, and cache hits versus fresh compilations.
    """
    started = time.perf_counter()
    if only is None:
        for name in _kernel_module_names():
            importlib.import_module(f"{__name__}.{name}")
        only = _jit.REGISTRY
    chosen = list(only)
    _jit.load(*chosen)
    hits = sum(sum(d.stats.cache_hits.values()) for d in chosen)
    misses = sum(sum(d.stats.cache_misses.values()) for d in chosen)
    return WarmUpReport(
        kernels=len(chosen),
        seconds=time.perf_counter() - started,
        cache_hits=hits,
        compiled=misses,
    )
