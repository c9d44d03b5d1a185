"""Input streams and per-kernel benches for :mod:`perf.bench_kernels`.

A bench bundles a context tuple (state arrays plus the input stream), a jitted ``step(ctx, i)``
that makes call ``i`` (timed), a jitted ``prepare(ctx, i)`` run before it (untimed: e.g. feeding
the estimator whose read-out is being timed), and the same call for the Python phase
(``kernel(*py_args(i))`` after ``py_prepare(i)``). Factories build fresh state each time so the
two phases see identical inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import njit

from perf._cycles import no_prepare
from qengine.kernels import codes
from qengine.kernels.dtypes import (
    ACTION,
    INTENSITY_STATE,
    MARKET_SAMPLE,
    ORDER,
    QUOTE,
    QUOTE_DIAG,
    RING_CURSOR,
    VOL_RETURN,
    VOL_STATE,
)
from qengine.kernels.intensity import intensity_reset, intensity_update
from qengine.kernels.order_diff import diff_ladder_against_orders
from qengine.kernels.params import make_level_multipliers, make_quote_params
from qengine.kernels.pipeline import quote_pipeline
from qengine.kernels.quote_cycle import quote_cycle

S = 1_000_000_000
LEVELS = 5
#: The diff's room to the position limit in its single-kernel benches (the limit never binds).
NO_LIMIT_LOTS = 2**40
SYNC_EVERY = 64  # ticks between re-syncs of the order table to the last ladder
HALF_LIFE_S = 300.0
LOT_VALUE_QUOTE = 0.0001  # quote currency per tick per lot (tick 0.1 USD, lot 0.001 BTC)


@dataclass
class Bench:
    """One kernel's benchmark (see the module docstring)."""

    ctx: tuple[Any, ...]
    step: Any
    kernel: Callable[..., Any]
    py_args: Callable[[int], tuple[Any, ...]]
    prepare: Any = no_prepare
    py_prepare: Callable[[int], None] | None = None


def make_stream(n: int, seed: int) -> dict[str, np.ndarray]:
    """A deterministic market: random-walk mid (ticks), book rows, trades, fills, inventory."""
    rng = np.random.default_rng(seed)
    dt = np.maximum(rng.exponential(10_000_000.0, n), 1_000).astype(np.int64)  # ~100 rows/s
    mid = 650_000 + np.cumsum(rng.choice([-2, -1, 0, 0, 1, 2], n))
    half = rng.integers(1, 4, n)
    ask = mid + half + rng.integers(0, 2, n)
    ask[rng.random(n) < 0.005] = 0  # one-sided book now and then
    inventory = np.clip(np.cumsum(rng.integers(-150, 151, n)), -19_000, 19_000)
    taker = rng.integers(0, 2, n)
    depth = rng.integers(0, 30, n)
    # Fills lean against the position so the FIFO lot rings stay bounded.
    fill_side = np.where(inventory > 0, codes.SIDE_SELL, codes.SIDE_BUY)
    flip = rng.random(n) < 0.4
    fill_side[flip] = 1 - fill_side[flip]
    return {
        "time_ns": 10 * S + np.cumsum(dt),
        "mid_ticks": mid.astype(np.float64) + 0.5 * (ask - mid - half == 1),
        "bid_ticks": (mid - half).astype(np.int64),
        "ask_ticks": ask.astype(np.int64),
        "bid_lots": rng.integers(1, 500, n),
        "ask_lots": rng.integers(1, 500, n),
        "inventory_lots": inventory.astype(np.int64),
        "taker_side": taker.astype(np.int64),
        "trade_ticks": np.where(taker == codes.SIDE_BUY, mid + depth, mid - depth).astype(np.int64),
        "trade_lots": rng.integers(1, 200, n),
        "sigma": rng.uniform(1e-5, 5e-4, n),
        "fill_side": fill_side.astype(np.int64),
        "offset_ticks": rng.uniform(5.0, 60.0, n),
    }


def _params() -> np.ndarray:
    return make_quote_params(level_count=LEVELS, position_limit_lots=20_000,
                             tick_size_quote=0.1, min_spread_ticks=14, max_spread_ticks=2_000)


MULT = make_level_multipliers([1.0, 1.5, 2.0, 2.5, 3.0])


@njit(cache=True)
def sync_orders(orders, quotes, n_quotes):
    """Make the order table hold ``quotes[:n_quotes]`` as OPEN orders (the actions applied)."""
    for slot in range(orders.shape[0]):
        orders[slot]["status"] = codes.ORDER_EMPTY
    for k in range(min(n_quotes, orders.shape[0])):
        row = orders[k]
        row["client_order_id"] = 1 + k
        row["order_key"] = 1_000 + k
        row["instrument"] = 0
        row["side"] = quotes[k]["side"]
        row["level"] = quotes[k]["level"]
        row["status"] = codes.ORDER_OPEN
        row["price_ticks"] = quotes[k]["price_ticks"]
        row["amount_lots"] = quotes[k]["size_lots"]
        row["filled_lots"] = 0
    return 0.0


# --- the fused pipeline, the pipeline alone, and the diff ----------------------------------------

def _quote_world(s: dict[str, np.ndarray]) -> tuple[Any, ...]:
    intensity = np.zeros(2, INTENSITY_STATE)
    t0 = int(s["time_ns"][0])
    intensity_reset(intensity, t0 - 120 * S, 0.5)
    rng = np.random.default_rng(3)
    for k in range(400):  # two minutes of public trades before the stream starts
        side = int(rng.integers(0, 2))
        depth = int(rng.integers(0, 25))
        price = 650_000 + depth if side == codes.SIDE_BUY else 650_000 - depth
        intensity_update(intensity, t0 - 120 * S + k * 300_000_000, price, 650_000.0, side,
                         HALF_LIFE_S)
    quotes, diag = np.zeros(2 * LEVELS, QUOTE), np.zeros(1, QUOTE_DIAG)
    return (
        _params(), MULT, MULT, np.zeros(1024, MARKET_SAMPLE), np.zeros(1, RING_CURSOR),
        np.zeros(1, VOL_STATE), np.zeros(1024, VOL_RETURN), intensity,
        s["time_ns"], s["bid_ticks"], s["ask_ticks"], s["bid_lots"], s["ask_lots"],
        s["inventory_lots"], np.zeros(32, ORDER), quotes, diag, np.zeros(64, ACTION),
    )


@njit(cache=True)
def _cycle_prepare(c, i):
    if i % SYNC_EVERY == 0:
        return sync_orders(c[14], c[15], c[16][0].quote_count)
    return 0.0


@njit(cache=True)
def _cycle_step(c, i):
    inputs = (c[8][i], c[9][i], c[10][i], c[11][i], c[12][i], c[13][i], np.int64(LEVELS))
    return float(quote_cycle((c[0], c[1], c[2]), (c[3], c[4], c[5], c[6], c[7]), inputs,
                             (c[15], c[16]), c[14], 0, 2, c[17]))


@njit(cache=True)
def _pipeline_step(c, i):
    inputs = (c[8][i], c[9][i], c[10][i], c[11][i], c[12][i], c[13][i], np.int64(LEVELS))
    return float(quote_pipeline((c[0], c[1], c[2]), (c[3], c[4], c[5], c[6], c[7]), inputs,
                                (c[15], c[16]), 0, 0))


@njit(cache=True)
def _diff_prepare(c, i):
    _pipeline_step(c, i)
    return _cycle_prepare(c, i)


@njit(cache=True)
def _diff_step(c, i):
    return float(diff_ladder_against_orders(c[14], c[15], c[16][0].quote_count, 0, 2, c[17],
                                            NO_LIMIT_LOTS, NO_LIMIT_LOTS))


def _book_args(c: tuple[Any, ...], lists: dict[str, list[Any]], i: int) -> tuple[Any, ...]:
    # The setup and state bundles are built once, as the engine holds them; the inputs per call.
    setup, state = _bundles(c)
    inputs = (lists["time_ns"][i], lists["bid_ticks"][i], lists["ask_ticks"][i],
              lists["bid_lots"][i], lists["ask_lots"][i], lists["inventory_lots"][i], LEVELS)
    return setup, state, inputs, (c[15], c[16])


_BUNDLES: dict[int, tuple[Any, Any]] = {}


def _bundles(c: tuple[Any, ...]) -> tuple[Any, Any]:
    if id(c) not in _BUNDLES:
        _BUNDLES[id(c)] = ((c[0], c[1], c[2]), (c[3], c[4], c[5], c[6], c[7]))
    return _BUNDLES[id(c)]


def _lists(s: dict[str, np.ndarray]) -> dict[str, list[Any]]:
    return {k: v.tolist() for k, v in s.items()}


def _sync_in_python(c: tuple[Any, ...]) -> Callable[[int], None]:
    def prepare(i: int) -> None:
        if i % SYNC_EVERY == 0:
            sync_orders(c[14], c[15], int(c[16][0]["quote_count"]))
    return prepare


def bench_pipeline(s: dict[str, np.ndarray]) -> Bench:
    c, li = _quote_world(s), _lists(s)
    return Bench(c, _cycle_step, quote_cycle,
                 lambda i: (*_book_args(c, li, i), c[14], 0, 2, c[17]),
                 _cycle_prepare, _sync_in_python(c))


def bench_quote_pipeline(s: dict[str, np.ndarray]) -> Bench:
    c, li = _quote_world(s), _lists(s)
    return Bench(c, _pipeline_step, quote_pipeline,
                 lambda i: (*_book_args(c, li, i), 0, 0))


def bench_diff(s: dict[str, np.ndarray]) -> Bench:
    c, li = _quote_world(s), _lists(s)
    sync = _sync_in_python(c)

    def py_prepare(i: int) -> None:
        quote_pipeline(*_book_args(c, li, i), 0, 0)
        sync(i)

    return Bench(c, _diff_step, diff_ladder_against_orders,
                 lambda i: (c[14], c[15], int(c[16][0]["quote_count"]), 0, 2, c[17],
                            NO_LIMIT_LOTS, NO_LIMIT_LOTS),
                 _diff_prepare, py_prepare)
