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
from .adjust import apply_adjustments as apply_adjustments
from .adjust import predict_adjustments as predict_adjustments
from .avellaneda import glft_ask_depth as glft_ask_depth
from .avellaneda import glft_bid_depth as glft_bid_depth
from .avellaneda import legacy_skew as legacy_skew
from .avellaneda import legacy_spread as legacy_spread
from .avellaneda import optimal_spread as optimal_spread
from .avellaneda import reservation_price as reservation_price
from .candles import candle_signals as candle_signals
from .candles import candle_update as candle_update
from .intensity import intensity_fit as intensity_fit
from .intensity import intensity_reset as intensity_reset
from .intensity import intensity_update as intensity_update
from .ladder import build_ladder as build_ladder
from .params import make_level_multipliers as make_level_multipliers
from .params import make_quote_params as make_quote_params
from .pipeline import quote_pipeline as quote_pipeline
from .ring import ring_latest as ring_latest
from .ring import ring_push as ring_push
from .ring import ring_window_by_count as ring_window_by_count
from .ring import ring_window_by_time as ring_window_by_time
from .vamp import vamp_update as vamp_update
from .vamp import vamp_value as vamp_value
from .volatility import vol_expire as vol_expire
from .volatility import vol_sigma as vol_sigma
from .volatility import vol_update as vol_update

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
