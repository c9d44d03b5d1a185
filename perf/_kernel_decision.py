"""Benches of the decision core's kernels (``kernels.decision``, ``kernels.risk_actions``): the
calls the live engine makes per read (``pacing_inline``), per order batch (``bucket_take``) and
per risk check (``risk_step``), on the market stream of :mod:`perf._kernel_worlds`."""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from perf._kernel_worlds import Bench
from qengine.config import EngineConfig
from qengine.kernels.decision import bucket_take, pacing_inline
from qengine.kernels.dtypes import RISK_STATE
from qengine.kernels.risk_actions import risk_step
from qengine.strategy.setup import (
    InstrumentSpec,
    build_decision_params,
    build_risk_limits,
    new_bucket_state,
    new_gate_state,
    new_pacing_state,
    new_risk_io,
)

_SPEC = InstrumentSpec(index=0, name="BTC-PERPETUAL", product="FBTCUSD", underlying="BTCUSD",
                       tick_size=0.1, volume_tick=0.001, min_order_lots=1)
_CONFIG = EngineConfig()


@njit(cache=True)
def _pacing_step(c, i):
    return float(pacing_inline(c[0], c[1], c[2][i], i, False))


def bench_pacing_inline(s: dict[str, np.ndarray]) -> Bench:
    params = build_decision_params(_CONFIG, _SPEC)
    c = (params, new_pacing_state(params, 0), s["time_ns"])
    times = s["time_ns"].tolist()
    return Bench(c, _pacing_step, pacing_inline, lambda i: (c[0], c[1], times[i], i, False))


@njit(cache=True)
def _bucket_step(c, i):
    return float(bucket_take(c[0], c[1][i], 3))


def bench_bucket_take(s: dict[str, np.ndarray]) -> Bench:
    c = (new_bucket_state(1_000.0, 0), s["time_ns"])
    times = s["time_ns"].tolist()
    return Bench(c, _bucket_step, bucket_take, lambda i: (c[0], times[i], 3))


def _fill_inputs(inputs, time_ns, inventory, mid, bid, ask, i):
    r, q = inputs[0], inventory[i]
    r["now_ns"], r["position_lots"] = time_ns[i], q
    r["cost_ticks_lots"] = q * bid[(i - 500) % len(bid)]  # entry: the market a while ago
    r["mark_ticks"], r["equity_quote"] = mid[i], 10_000.0
    r["round_trip_count"], r["losing_streak"] = i // 50, i % 3
    r["best_bid_ticks"], r["best_ask_ticks"] = bid[i], ask[i]
    r["collar_low_ticks"], r["collar_high_ticks"] = mid[i] * 0.99, mid[i] * 1.01
    r["book_updates"], r["abort"] = i, 0
    return 0


_fill_inputs_jit = njit(cache=True)(_fill_inputs)


@njit(cache=True)
def _risk_prepare(c, i):
    return _fill_inputs_jit(c[4], c[6], c[7], c[8], c[9], c[10], i)


@njit(cache=True)
def _risk_step(c, i):
    return float(risk_step(c[0], c[1], c[2], c[3], c[4], c[5]))


def bench_risk_step(s: dict[str, np.ndarray]) -> Bench:
    params, limits = build_decision_params(_CONFIG, _SPEC), build_risk_limits(_CONFIG, _SPEC)
    inputs, action = new_risk_io()
    c = (params, limits, np.zeros(1, RISK_STATE), new_gate_state(ready=True), inputs, action,
         s["time_ns"], s["inventory_lots"], s["mid_ticks"], s["bid_ticks"], s["ask_ticks"])

    def py_prepare(i: int) -> None:
        _fill_inputs(inputs, *c[6:], i)

    def args(i: int) -> tuple[Any, ...]:
        return c[:6]

    return Bench(c, _risk_step, risk_step, args, prepare=_risk_prepare, py_prepare=py_prepare)


BENCHES = {"pacing_inline": bench_pacing_inline, "bucket_take": bench_bucket_take,
           "risk_step": bench_risk_step}
