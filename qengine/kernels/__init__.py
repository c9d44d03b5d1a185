"""Numba kernels: the per-tick maths of qengine on preallocated structured arrays.

Researchers can call these directly, without an engine: see ``examples/research_kernels.py``.
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
    "apply_adjustments": "adjust",
    "predict_adjustments": "adjust",
    "glft_ask_depth": "avellaneda",
    "glft_bid_depth": "avellaneda",
    "legacy_skew": "avellaneda",
    "legacy_spread": "avellaneda",
    "optimal_spread": "avellaneda",
    "reservation_price": "avellaneda",
    "candle_signals": "candles",
    "candle_update": "candles",
    "intensity_fit": "intensity",
    "intensity_reset": "intensity",
    "intensity_update": "intensity",
    "build_ladder": "ladder",
    "make_level_multipliers": "params",
    "make_quote_params": "params",
    "quote_pipeline": "pipeline",
    "ring_latest": "ring",
    "ring_push": "ring",
    "ring_window_by_count": "ring",
    "ring_window_by_time": "ring",
    "vamp_update": "vamp",
    "vamp_value": "vamp",
    "vol_expire": "volatility",
    "vol_sigma": "volatility",
    "vol_update": "volatility",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


#: The research API: names importable from ``qengine.kernels`` (engine-only kernels such as the
#: order table live in their submodules, e.g. ``qengine.kernels.orders``).
__all__ = [
    "WarmUpReport",
    "apply_adjustments",
    "build_ladder",
    "candle_signals",
    "candle_update",
    "codes",
    "dtypes",
    "glft_ask_depth",
    "glft_bid_depth",
    "intensity_fit",
    "intensity_reset",
    "intensity_update",
    "legacy_skew",
    "legacy_spread",
    "make_level_multipliers",
    "make_quote_params",
    "optimal_spread",
    "predict_adjustments",
    "quote_pipeline",
    "reservation_price",
    "ring_latest",
    "ring_push",
    "ring_window_by_count",
    "ring_window_by_time",
    "vamp_update",
    "vamp_value",
    "vol_expire",
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
