"""Validated wrappers over the stateful kernels: the research face of ``qengine.kernels``.

Each wrapper checks its inputs (dtype, shape, finiteness, integer-ness), allocates what the kernel
writes, calls the raw kernel and returns plain results; bad input raises ``TypeError`` or
``ValueError`` naming the argument. The raw kernels (many positional arguments, status codes,
caller-owned output arrays) stay in their modules for the engine and the backtester.

Estimator settings come from a ``QUOTE_PARAMS`` row (``make_quote_params``), estimator state
from :func:`new_quote_state`::

    params = make_quote_params(level_count=3)
    state = new_quote_state()
    quotes, diag = quote_pipeline(params, state, time_ns=1_000_000_000,
                                  best_bid_ticks=99_990, best_ask_ticks=100_010)
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from . import codes
from .dtypes import (
    INTENSITY_STATE,
    MARKET_SAMPLE,
    QUOTE,
    QUOTE_DIAG,
    QUOTE_PARAMS,
    RING_CURSOR,
    VOL_RETURN,
    VOL_STATE,
)
from .intensity import intensity_fit as _intensity_fit
from .intensity import intensity_update as _intensity_update
from .ladder import build_ladder as _build_ladder
from .pipeline import quote_pipeline as _quote_pipeline
from .volatility import vol_sigma as _vol_sigma
from .volatility import vol_update as _vol_update

_INT64_MAX = 2**63 - 1


class QuoteState(NamedTuple):
    """The quote pipeline's estimator state (all arrays updated in place by the wrappers)."""

    #: MARKET_SAMPLE ring of book rows and its RING_CURSOR.
    samples: np.ndarray
    cursor: np.ndarray
    #: VOL_STATE row and the VOL_RETURN ring of the realised-variance window.
    vol_state: np.ndarray
    vol_returns: np.ndarray
    #: INTENSITY_STATE rows, one per side (``codes.SIDE_BUY``: our bids).
    intensity_state: np.ndarray


def new_quote_state(ring_capacity: int = 1024) -> QuoteState:
    """Allocate an empty :class:`QuoteState` whose rings hold ``ring_capacity`` rows."""
    capacity = _integer("ring_capacity", ring_capacity)
    if capacity < 1:
        raise ValueError(f"ring_capacity must be >= 1, got {capacity}")
    return QuoteState(
        np.zeros(capacity, MARKET_SAMPLE), np.zeros(1, RING_CURSOR), np.zeros(1, VOL_STATE),
        np.zeros(capacity, VOL_RETURN), np.zeros(2, INTENSITY_STATE),
    )


def quote_pipeline(
    params: np.ndarray, state: QuoteState, *, time_ns: int, best_bid_ticks: int,
    best_ask_ticks: int, best_bid_lots: int = 0, best_ask_lots: int = 0, inventory_lots: int = 0,
    levels_allowed: int | None = None, bid_mult: Any = None, ask_mult: Any = None,
    bid_inflight_lots: int = 0, ask_inflight_lots: int = 0,
) -> tuple[np.ndarray, np.void]:
    """Ingest one book row into ``state`` and return the ladder to quote and the diagnostics.

    Parameters
    ----------
    params : QUOTE_PARAMS array, shape (1,)
        From :func:`~qengine.kernels.params.make_quote_params`.
    state : QuoteState
        From :func:`new_quote_state`; a valid row is pushed and the estimators updated.
    time_ns : int
        Time of the row, ns; never older than the previous row (else nothing is quoted).
    best_bid_ticks, best_ask_ticks : int
        Best prices in ticks; ``<= 0`` means that side is missing.
    best_bid_lots, best_ask_lots, inventory_lots : int
        Book sizes and our signed position, in lots.
    levels_allowed : int, optional
        Levels per side to quote (default: ``params["level_count"]``).
    bid_mult, ask_mult : sequence of float, optional
        Per-level size multipliers (default 1.0 for every level).
    bid_inflight_lots, ask_inflight_lots : int
        Worst-case lots of our buy / sell orders with a request in flight (>= 0): the ladder's
        room to the position limit leaves them out.

    Returns
    -------
    quotes : QUOTE array
        The ladder, bids (touch first) then asks; empty when nothing can be priced.
    diag : QUOTE_DIAG record
        Status, flags and the model's intermediate values (see ``dtypes.QUOTE_DIAG``).
    """
    _check_params(params)
    _check_state(state)
    level_count = int(params[0]["level_count"])
    levels = level_count if levels_allowed is None else _integer("levels_allowed", levels_allowed)
    book = (("time_ns", time_ns), ("best_bid_ticks", best_bid_ticks),
            ("best_ask_ticks", best_ask_ticks), ("best_bid_lots", best_bid_lots),
            ("best_ask_lots", best_ask_lots), ("inventory_lots", inventory_lots))
    inputs = (*(_integer(name, value) for name, value in book), levels)
    quotes = np.zeros(2 * max(level_count, 0), QUOTE)
    diag = np.zeros(1, QUOTE_DIAG)
    setup = (params, _multipliers("bid_mult", bid_mult), _multipliers("ask_mult", ask_mult))
    inflight = [_integer(name, value) for name, value in (
        ("bid_inflight_lots", bid_inflight_lots), ("ask_inflight_lots", ask_inflight_lots))]
    if min(inflight) < 0:
        raise ValueError(f"in-flight lots must be >= 0, got {inflight}")
    count = _quote_pipeline(setup, tuple(state), inputs, (quotes, diag), *inflight)
    return quotes[:count].copy(), diag[0]


def build_ladder(
    params: np.ndarray, *, bid0_ticks: float, ask0_ticks: float, sigma_per_sqrt_s: float,
    min_spread_ticks: int = 1, inventory_lots: int = 0, levels_allowed: int | None = None,
    bid_mult: Any = None, ask_mult: Any = None,
) -> np.ndarray:
    """Align a model's level-0 prices to ticks and expand them into the ladder (QUOTE rows).

    ``bid0_ticks`` / ``ask0_ticks`` are the model's touch (float ticks, not yet aligned);
    ``sigma_per_sqrt_s`` scales the step and sizes; the other arguments as for
    :func:`quote_pipeline`. Returns bids (touch first) then asks.
    """
    _check_params(params)
    for name, value in (("bid0_ticks", bid0_ticks), ("ask0_ticks", ask0_ticks),
                        ("sigma_per_sqrt_s", sigma_per_sqrt_s)):
        _finite(name, value)
    level_count = int(params[0]["level_count"])
    levels = level_count if levels_allowed is None else _integer("levels_allowed", levels_allowed)
    quotes = np.zeros(2 * max(level_count, 0), QUOTE)
    count = _build_ladder(
        params, _multipliers("bid_mult", bid_mult), _multipliers("ask_mult", ask_mult),
        float(bid0_ticks), float(ask0_ticks), _integer("min_spread_ticks", min_spread_ticks),
        float(sigma_per_sqrt_s), _integer("inventory_lots", inventory_lots), levels, quotes,
    )
    return quotes[:count].copy()


def vol_update(params: np.ndarray, state: QuoteState, time_ns: int, mid_ticks: float) -> int:
    """Add one mid (ticks, at ``time_ns``) to the volatility estimator in ``state``.

    Uses ``params``' ``vol_half_life_s`` and ``vol_window_ns``. Returns a ``codes.STATUS_*``:
    ``STATUS_OUT_OF_ORDER`` for a mid older than the last one (ignored).
    """
    _check_params(params)
    _check_state(state)
    _finite("mid_ticks", mid_ticks)
    if not mid_ticks > 0:
        raise ValueError(f"mid_ticks must be > 0, got {mid_ticks!r}")
    p = params[0]
    return int(_vol_update(state.vol_state, state.vol_returns, _integer("time_ns", time_ns),
                           float(mid_ticks), float(p["vol_half_life_s"]), int(p["vol_window_ns"])))


def vol_sigma(params: np.ndarray, state: QuoteState) -> float:
    """Sigma (fraction of price per sqrt(second)) of the estimator ``params`` selects.

    Clamped to ``params``' floor and ceiling; its fallback while fewer than
    ``vol_min_sample_count`` returns are in.
    """
    _check_params(params)
    _check_state(state)
    p = params[0]
    return float(_vol_sigma(
        state.vol_state, int(p["vol_estimator_code"]), int(p["vol_min_sample_count"]),
        float(p["sigma_fallback_per_sqrt_s"]), float(p["sigma_floor_per_sqrt_s"]),
        float(p["sigma_ceiling_per_sqrt_s"]),
    ))


def intensity_update(params: np.ndarray, state: QuoteState, time_ns: int, price_ticks: float,
                     mid_ticks: float, taker_side: int) -> int:
    """Add one public trade to the arrival statistics in ``state``; return a ``codes.STATUS_*``.

    ``taker_side`` is ``codes.SIDE_BUY`` (a taker buy: it would have lifted our ask) or
    ``codes.SIDE_SELL``; ``price_ticks`` and ``mid_ticks`` are float ticks.
    """
    _check_params(params)
    _check_state(state)
    _finite("price_ticks", price_ticks)
    _finite("mid_ticks", mid_ticks)
    side = _side("taker_side", taker_side)
    return int(_intensity_update(
        state.intensity_state, _integer("time_ns", time_ns), float(price_ticks), float(mid_ticks),
        side, float(params[0]["intensity_half_life_s"]),
    ))


def intensity_fit(params: np.ndarray, state: QuoteState, side: int,
                  time_ns: int) -> tuple[float, float, int]:
    """Fit ``A`` (per second) and ``kappa`` (per tick) of one side as of ``time_ns``.

    Returns ``(a_per_s, kappa_per_tick, status)``; with too little data the fit leans on (or is)
    ``params``' priors and ``status`` says so (``codes.STATUS_WARMING_UP``).
    """
    _check_params(params)
    _check_state(state)
    p = params[0]
    out = np.array([p["prior_a_per_s"], p["prior_kappa_per_tick"]], np.float64)
    status = _intensity_fit(
        state.intensity_state, _side("side", side), _integer("time_ns", time_ns),
        float(p["intensity_half_life_s"]), float(p["prior_a_per_s"]),
        float(p["prior_kappa_per_tick"]), float(p["prior_weight_trades"]),
        float(p["kappa_min_per_tick"]), float(p["kappa_max_per_tick"]), out,
    )
    return float(out[0]), float(out[1]), int(status)


# --- checks --------------------------------------------------------------------------------------

def _integer(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if not -_INT64_MAX - 1 <= int(value) <= _INT64_MAX:
        raise ValueError(f"{name} does not fit in int64: {value!r}")
    return int(value)


def _finite(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")


def _side(name: str, value: Any) -> int:
    side = _integer(name, value)
    if side not in (codes.SIDE_BUY, codes.SIDE_SELL):
        raise ValueError(f"{name} must be codes.SIDE_BUY (0) or codes.SIDE_SELL (1), got {side}")
    return side


def _check_array(name: str, array: Any, dtype: np.dtype, rows: int | None = None) -> None:
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(array).__name__}")
    if array.dtype != dtype:
        raise TypeError(f"{name} must have dtype {_name_of(dtype)}, got {array.dtype}")
    if array.ndim != 1 or not array.flags.c_contiguous or not array.flags.writeable:
        raise ValueError(f"{name} must be a 1-D, C-contiguous, writeable array")
    if rows is not None and array.shape[0] != rows:
        raise ValueError(f"{name} must have {rows} row(s), got {array.shape[0]}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} must not be empty")


def _name_of(dtype: np.dtype) -> str:
    """The ``dtypes`` name of a record layout (for error messages)."""
    names = {id(QUOTE_PARAMS): "QUOTE_PARAMS", id(MARKET_SAMPLE): "MARKET_SAMPLE",
             id(RING_CURSOR): "RING_CURSOR", id(VOL_STATE): "VOL_STATE",
             id(VOL_RETURN): "VOL_RETURN", id(INTENSITY_STATE): "INTENSITY_STATE"}
    return names.get(id(dtype), str(dtype))


def _check_params(params: Any) -> None:
    _check_array("params", params, QUOTE_PARAMS, rows=1)


def _check_state(state: Any) -> None:
    if not isinstance(state, tuple) or len(state) != len(QuoteState._fields):
        raise TypeError("state must be a QuoteState (see new_quote_state)")
    rows = {"cursor": 1, "vol_state": 1, "intensity_state": 2}
    dtypes = (MARKET_SAMPLE, RING_CURSOR, VOL_STATE, VOL_RETURN, INTENSITY_STATE)
    for name, array, dtype in zip(QuoteState._fields, state, dtypes, strict=True):
        _check_array(f"state.{name}", array, dtype, rows.get(name))
    cursor = state[1][0]
    if not (0 <= cursor["head"] < len(state[0]) and 0 <= cursor["count"] <= len(state[0])):
        raise ValueError("state.cursor does not match state.samples (head or count out of range)")


def _multipliers(name: str, values: Any) -> np.ndarray:
    if values is None:
        return np.ones(1, np.float64)
    array = np.ascontiguousarray(np.asarray(values, dtype=np.float64).reshape(-1))
    if not (np.isfinite(array).all() and (array > 0).all()):
        raise ValueError(f"{name} must hold finite numbers > 0, got {values!r}")
    return array
