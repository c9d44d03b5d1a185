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
from .avellaneda import glft_ask_depth as glft_ask_depth
from .avellaneda import glft_bid_depth as glft_bid_depth
from .avellaneda import legacy_skew as legacy_skew
from .avellaneda import legacy_spread as legacy_spread
from .avellaneda import optimal_spread as optimal_spread
from .avellaneda import reservation_price as reservation_price
from .params import make_level_multipliers as make_level_multipliers
from .params import make_quote_params as make_quote_params
from .research import QuoteState as QuoteState
from .research import build_ladder as build_ladder
from .research import intensity_fit as intensity_fit
from .research import intensity_update as intensity_update
from .research import new_quote_state as new_quote_state
from .research import quote_pipeline as quote_pipeline
from .research import vol_sigma as vol_sigma
from .research import vol_update as vol_update

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
