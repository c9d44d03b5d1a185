"""Benches of the individual kernels, and the ``BENCHES`` registry :mod:`perf.bench_kernels` runs.

Every bench is fed from :func:`perf._kernel_worlds.make_stream`; read-outs (``vol_sigma``,
``intensity_fit``) are timed after an untimed update with the new row, so their state changes
between calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit

from perf._kernel_decision import BENCHES as DECISION_BENCHES
from perf._kernel_worlds import (
    HALF_LIFE_S,
    LOT_VALUE_QUOTE,
    MULT,
    Bench,
    S,
    _lists,
    _params,
    bench_diff,
    bench_pipeline,
    bench_quote_pipeline,
)
from qengine.kernels.avellaneda import (
    glft_bid_depth,
    optimal_spread,
    reservation_price,
)
from qengine.kernels.dtypes import (
    FILL,
    INTENSITY_STATE,
    LOT,
    MARKET_SAMPLE,
    POSITION,
    QUOTE,
    QUOTE_DIAG,
    RING_CURSOR,
    RISK_LIMITS,
    RISK_STATE,
    VOL_RETURN,
    VOL_STATE,
)
from qengine.kernels.intensity import intensity_fit, intensity_update
from qengine.kernels.ladder import build_ladder
from qengine.kernels.model import model_touch
from qengine.kernels.position import position_apply_fill
from qengine.kernels.ring import ring_push
from qengine.kernels.risk import risk_check
from qengine.kernels.volatility import vol_sigma, vol_update

VOL_WINDOW_NS = 300 * S


# --- market data ---------------------------------------------------------------------------------

@njit(cache=True)
def _ring_step(c, i):
    return float(ring_push(c[0], c[1], c[2][i], c[3][i], c[4][i], c[5][i], c[6][i]))


def bench_ring_push(s: dict[str, np.ndarray]) -> Bench:
    c = (np.zeros(4096, MARKET_SAMPLE), np.zeros(1, RING_CURSOR), s["time_ns"],
         s["bid_ticks"], s["ask_ticks"], s["bid_lots"], s["ask_lots"])
    li = _lists(s)
    return Bench(c, _ring_step, ring_push, lambda i: (
        c[0], c[1], li["time_ns"][i], li["bid_ticks"][i],
        li["ask_ticks"][i], li["bid_lots"][i], li["ask_lots"][i]))


@njit(cache=True)
def _vol_update_step(c, i):
    return float(vol_update(c[0], c[1], c[2][i], c[3][i], 60.0, VOL_WINDOW_NS))


@njit(cache=True)
def _vol_sigma_step(c, i):
    return vol_sigma(c[0], i & 1, 5, 1e-4, 1e-6, 1e-2)  # alternate EWMA / realised


def _vol_world(s: dict[str, np.ndarray]) -> tuple[tuple[Any, ...], dict[str, list[Any]]]:
    return (np.zeros(1, VOL_STATE), np.zeros(1024, VOL_RETURN), s["time_ns"], s["mid_ticks"]), \
        _lists(s)


def bench_vol_update(s: dict[str, np.ndarray]) -> Bench:
    c, li = _vol_world(s)
    return Bench(c, _vol_update_step, vol_update, lambda i: (
        c[0], c[1], li["time_ns"][i], li["mid_ticks"][i], 60.0, VOL_WINDOW_NS))


def bench_vol_sigma(s: dict[str, np.ndarray]) -> Bench:
    c, li = _vol_world(s)

    def py_prepare(i: int) -> None:
        vol_update(c[0], c[1], li["time_ns"][i], li["mid_ticks"][i], 60.0, VOL_WINDOW_NS)

    return Bench(c, _vol_sigma_step, vol_sigma, lambda i: (c[0], i & 1, 5, 1e-4, 1e-6, 1e-2),
                 _vol_update_step, py_prepare)


@njit(cache=True)
def _intensity_update_step(c, i):
    return float(intensity_update(c[0], c[1][i], c[2][i], c[3][i], c[4][i], HALF_LIFE_S))


@njit(cache=True)
def _intensity_fit_step(c, i):
    return float(intensity_fit(c[0], i & 1, c[1][i], HALF_LIFE_S, 1.0, 0.05, 1.0, 1e-4, 10.0,
                               c[5]))


def _intensity_world(s: dict[str, np.ndarray]) -> tuple[Any, ...]:
    return (np.zeros(2, INTENSITY_STATE), s["time_ns"], s["trade_ticks"], s["mid_ticks"],
            s["taker_side"], np.zeros(2))


def bench_intensity_update(s: dict[str, np.ndarray]) -> Bench:
    c, li = _intensity_world(s), _lists(s)
    return Bench(c, _intensity_update_step, intensity_update, lambda i: (
        c[0], li["time_ns"][i], li["trade_ticks"][i], li["mid_ticks"][i], li["taker_side"][i],
        HALF_LIFE_S))


def bench_intensity_fit(s: dict[str, np.ndarray]) -> Bench:
    c, li = _intensity_world(s), _lists(s)

    def py_prepare(i: int) -> None:
        intensity_update(c[0], li["time_ns"][i], li["trade_ticks"][i], li["mid_ticks"][i],
                         li["taker_side"][i], HALF_LIFE_S)

    return Bench(c, _intensity_fit_step, intensity_fit, lambda i: (
        c[0], i & 1, li["time_ns"][i], HALF_LIFE_S, 1.0, 0.05, 1.0, 1e-4, 10.0, c[5]),
        _intensity_update_step, py_prepare)


# --- model and ladder ----------------------------------------------------------------------------

@njit(cache=True)
def _reservation_step(c, i):
    return reservation_price(c[0][i], c[1][i] * 0.001, 0.01, c[0][i] * c[2][i], 60.0)


@njit(cache=True)
def _spread_step(c, i):
    return optimal_spread(0.01, c[0][i] * c[2][i], 60.0, 0.01 + c[2][i] * 100.0)


@njit(cache=True)
def _glft_step(c, i):
    return glft_bid_depth(c[1][i] / 20.0, 0.01, c[0][i] * c[2][i], 1.0, 0.05 + c[2][i] * 100.0)


@njit(cache=True)
def _touch_step(c, i):
    return float(model_touch(c[3], c[0][i], c[2][i], c[1][i], c[4][i], 1.0, 0.05, 1.2, 0.04,
                             c[5]))


@njit(cache=True)
def _ladder_step(c, i):
    return float(build_ladder(c[3], c[6], c[6], c[0][i] - c[7][i], c[0][i] + c[7][i], 14, c[2][i],
                              c[1][i], 5, c[8]))


def _model_world(s: dict[str, np.ndarray]) -> tuple[Any, ...]:
    return (s["mid_ticks"], s["inventory_lots"], s["sigma"], _params(), s["time_ns"],
            np.zeros(1, QUOTE_DIAG), MULT, s["offset_ticks"], np.zeros(10, QUOTE))


def _model_bench(step: Any, kernel: Any,
                 args: Callable[[tuple[Any, ...], dict[str, list[Any]], int], tuple[Any, ...]],
                 ) -> Callable[[dict[str, np.ndarray]], Bench]:
    def factory(s: dict[str, np.ndarray]) -> Bench:
        c, li = _model_world(s), _lists(s)
        return Bench(c, step, kernel, lambda i: args(c, li, i))
    return factory


def _m(li: dict[str, list[Any]], i: int) -> tuple[float, int, float]:
    return li["mid_ticks"][i], li["inventory_lots"][i], li["sigma"][i]


bench_reservation_price = _model_bench(_reservation_step, reservation_price, lambda c, li, i: (
    _m(li, i)[0], _m(li, i)[1] * 0.001, 0.01, _m(li, i)[0] * _m(li, i)[2], 60.0))
bench_optimal_spread = _model_bench(_spread_step, optimal_spread, lambda c, li, i: (
    0.01, _m(li, i)[0] * _m(li, i)[2], 60.0, 0.01 + _m(li, i)[2] * 100.0))
bench_glft_bid_depth = _model_bench(_glft_step, glft_bid_depth, lambda c, li, i: (
    _m(li, i)[1] / 20.0, 0.01, _m(li, i)[0] * _m(li, i)[2], 1.0, 0.05 + _m(li, i)[2] * 100.0))
bench_model_touch = _model_bench(_touch_step, model_touch, lambda c, li, i: (
    c[3], _m(li, i)[0], _m(li, i)[2], _m(li, i)[1], li["time_ns"][i], 1.0, 0.05, 1.2, 0.04, c[5]))
bench_build_ladder = _model_bench(_ladder_step, build_ladder, lambda c, li, i: (
    c[3], c[6], c[6], _m(li, i)[0] - li["offset_ticks"][i], _m(li, i)[0] + li["offset_ticks"][i],
    14, _m(li, i)[2], _m(li, i)[1], 5, c[8]))


# --- position and risk ---------------------------------------------------------------------------

@njit(cache=True)
def _fill_step(c, i):
    return float(position_apply_fill(c[0], c[1], c[2], c[3], c[4], i, LOT_VALUE_QUOTE))


def bench_position_apply_fill(s: dict[str, np.ndarray]) -> Bench:
    n = s["time_ns"].shape[0]
    fills = np.zeros(n, FILL)
    fills["trade_id"] = np.arange(1, n + 1)
    fills["side"] = s["fill_side"]
    fills["price_ticks"] = s["bid_ticks"] + 1
    fills["amount_lots"] = s["trade_lots"]
    fills["fee_quote"] = -0.0001 * s["trade_lots"]
    fills["is_maker"] = 1
    fills["time_ns"] = s["time_ns"]
    c = (np.zeros(1, POSITION), np.zeros(8192, LOT), np.zeros(1024, np.int64),
         np.zeros(1, RING_CURSOR), fills)
    return Bench(c, _fill_step, position_apply_fill,
                 lambda i: (c[0], c[1], c[2], c[3], c[4], i, LOT_VALUE_QUOTE))


@njit(cache=True)
def _risk_step(c, i):
    q = c[2][i]
    return float(risk_check(c[0], c[1], q, abs(q) * c[3][i], c[4][i], LOT_VALUE_QUOTE,
                            50_000.0 + 0.01 * q, i % 7, c[5][i]))


def bench_risk_check(s: dict[str, np.ndarray]) -> Bench:
    limits = np.zeros(1, RISK_LIMITS)
    limits[0] = (18_000, 2_000_000.0, 5.0, 10.0, 500.0, 20.0, 5)
    entry = np.roll(s["bid_ticks"], 500)  # entry price: the market a while ago
    c = (limits, np.zeros(1, RISK_STATE), s["inventory_lots"], entry, s["mid_ticks"],
         s["time_ns"])
    li, entries = _lists(s), entry.tolist()

    def args(i: int) -> tuple[Any, ...]:
        q = li["inventory_lots"][i]
        return (c[0], c[1], q, abs(q) * entries[i], li["mid_ticks"][i], LOT_VALUE_QUOTE,
                50_000.0 + 0.01 * q, i % 7, li["time_ns"][i])

    return Bench(c, _risk_step, risk_check, args)


#: Entry name (``kernel.<name>`` in the results) -> bench factory, in run order.
BENCHES: dict[str, Callable[[dict[str, np.ndarray]], Bench]] = {
    "pipeline": bench_pipeline,
    "quote_pipeline": bench_quote_pipeline,
    "diff_ladder_against_orders": bench_diff,
    "ring_push": bench_ring_push,
    "vol_update": bench_vol_update,
    "vol_sigma": bench_vol_sigma,
    "intensity_update": bench_intensity_update,
    "intensity_fit": bench_intensity_fit,
    "reservation_price": bench_reservation_price,
    "optimal_spread": bench_optimal_spread,
    "glft_bid_depth": bench_glft_bid_depth,
    "model_touch": bench_model_touch,
    "build_ladder": bench_build_ladder,
    "position_apply_fill": bench_position_apply_fill,
    "risk_check": bench_risk_check,
    **DECISION_BENCHES,
}
