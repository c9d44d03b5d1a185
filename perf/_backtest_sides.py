"""Both engines of the backtest benchmark on the same rows: qengine's and hftbacktest 2.4.4's.

qengine runs ``Backtest.run`` with its ``idle`` or ``glft_grid`` strategy; hftbacktest runs the
loops of :mod:`perf._hbt_glft` (the same GLFT grid written with its API). Each run returns its
wall and CPU seconds and what it traded, so the bench can check that both engines agree. The
clock covers all of ``Backtest.run`` for qengine (buffers, books, the kernel; the rows were
validated once when loaded) and the strategy loop for hftbacktest (its construction is timed
apart, as ``setup_s``, like the reference did).

``interval_ns`` picks the cadence in both engines: > 0 a wake-up every interval, ``FEED`` (0) one
per feed event, ``TO_END`` (-1) no wake-up at all (one elapse over the whole data).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

FEED = 0
TO_END = -1
TO_END_NS = 1 << 62  # one elapse longer than any recording (t0 + this stays below 2**63)
FEED_TIMEOUT_NS = 60_000_000_000
TICK, LOT = 0.1, 0.001  # BTCUSDT
MAKER_FEE, TAKER_FEE = -0.00005, 0.0007
LATENCY_NS = 10_000_000
#: The reference's frozen constants: half spread, skew (ticks), grid (ticks), levels,
#: order qty (lots), max q (units of the order qty), warm-up (ns).
GLFT = (20.291294294493063, 16.812993168273273, 20, 10, 10, 10, 1_000_000_000)


@dataclass(frozen=True, slots=True)
class Run:
    """One timed run of one engine."""

    wall_s: float
    cpu_s: float
    setup_s: float  # outside ``wall_s``: hftbacktest's construction (0 for qengine)
    wake_ups: int
    counts: dict[str, int]  # orders, cancels, rejects, fills (strategy runs only)
    fills: frozenset[tuple[int, int, int]]  # (exch_ts, side, price_tick)
    equity: float


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.thread_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


# --- qengine -----------------------------------------------------------------------------------


def qengine_backtest(interval_ns: int, queue: str, strategy: bool) -> Any:
    """A ready ``Backtest`` for one mode (reference constants; no recorder rows kept)."""
    from qengine.backtest import strategies
    from qengine.backtest.api import Backtest, BacktestConfig

    if interval_ns == FEED:
        wake: dict[str, Any] = {"wake_on_feed": True, "feed_timeout_ns": FEED_TIMEOUT_NS}
    else:
        wake = {"wake_interval_ns": TO_END_NS if interval_ns == TO_END else interval_ns}
    config = BacktestConfig(
        tick_size=TICK, lot_size=LOT, entry_latency_ns=LATENCY_NS, response_latency_ns=LATENCY_NS,
        queue=queue, queue_power_n=2.0, maker_fee=MAKER_FEE, taker_fee=TAKER_FEE, recorder_rows=1,
        record_every_ns=1 << 62, **wake)
    if not strategy:
        return Backtest(config, strategies.idle)
    hs, skew, grid, levels, qty, max_q, warmup = GLFT
    params = strategies.glft_params(half_spread_ticks=hs, skew_ticks=skew, grid_ticks=grid,
                                    levels=levels, qty_lots=qty, max_q=max_q, warmup_ns=warmup)
    return Backtest(config, strategies.glft_grid, params=params)


def run_qengine(rows: np.ndarray, interval_ns: int, queue: str, strategy: bool) -> Run:
    """Time ``Backtest.run`` over ``rows`` (everything it does: buffers, books, the kernel).

    ``rows`` come from ``load_events`` (validated once), so the run skips the row checks
    (``validated=True``), as a researcher replaying one array many times would.
    """
    bt = qengine_backtest(interval_ns, queue, strategy)
    start = _clock()
    result = bt.run(rows, validated=True)
    wall, cpu = _since(start)
    c = result.counts
    fills = frozenset((int(f["exch_ts"]), int(f["side"]), int(f["price_tick"]))
                      for f in result.fills)
    return Run(wall, cpu, 0.0, c["wake_ups"], {k: c[k] for k in ("orders", "cancels", "rejects",
                                                            "fills")}, fills, result.equity)


# --- hftbacktest ---------------------------------------------------------------------------------


def hbt_backtest(rows: np.ndarray, queue: str) -> Any:
    """hftbacktest's ``HashMapMarketDepthBacktest`` as the reference configures it."""
    from hftbacktest import BacktestAsset, HashMapMarketDepthBacktest

    asset = (BacktestAsset().data([rows]).linear_asset(1.0)
             .constant_order_latency(LATENCY_NS, LATENCY_NS).no_partial_fill_exchange()
             .trading_value_fee_model(MAKER_FEE, TAKER_FEE).tick_size(TICK).lot_size(LOT))
    asset = (asset.risk_adverse_queue_model() if queue == "riskaverse"
             else asset.power_prob_queue_model(2.0))
    return HashMapMarketDepthBacktest([asset])


def first_ts(rows: np.ndarray) -> int:
    """The backtest's t0: the earliest first exchange or local timestamp."""
    from qengine.backtest.events import EXCH_EVENT, LOCAL_EVENT

    exch = rows["exch_ts"][(rows["ev"] & EXCH_EVENT) != 0]
    local = rows["local_ts"][(rows["ev"] & LOCAL_EVENT) != 0]
    return int(min(exch[:1].tolist() + local[:1].tolist()))


def run_hbt(rows: np.ndarray, interval_ns: int, queue: str, strategy: bool) -> Run:
    """Time hftbacktest's loop over ``rows`` (construction before the clock, as the reference)."""
    from perf._hbt_glft import glft, replay

    t0 = first_ts(rows)
    fills = np.zeros((1 << 20, 3), np.int64)
    counts = np.zeros(5, np.int64)  # orders, cancels, rejects, fills, wake-ups
    params = np.array([*GLFT, TICK, LOT], dtype=np.float64)
    setup = time.perf_counter()
    hbt = hbt_backtest(rows, queue)
    setup_s = time.perf_counter() - setup
    try:
        start = _clock()
        if not strategy:
            wake_ups = replay(hbt, interval_ns)
            wall, cpu = _since(start)
            return Run(wall, cpu, setup_s, int(wake_ups), {}, frozenset(), 0.0)
        balance, fee, position, mid = glft(hbt, interval_ns, t0, params, fills, counts)
        wall, cpu = _since(start)
    finally:
        hbt.close()
    names = ("orders", "cancels", "rejects", "fills")
    tally = {n: int(c) for n, c in zip(names, counts, strict=False)}
    fill_set = frozenset(tuple(int(v) for v in row) for row in fills[:counts[3]])
    return Run(wall, cpu, setup_s, int(counts[4]), tally, fill_set,
               float(balance + position * mid - fee))
