"""A test-only sweep task: the reference GLFT grid (``strategies.glft_grid``) with its parameters
taken from the task's config, on the rows the worker loaded. It does real backtests on the shared
data, so the sweep machinery is tested without depending on qengine's own strategy."""

from __future__ import annotations

from typing import Any

import numpy as np

#: Tick and lot sizes of the shared Binance files.
SIZES = {"BTCUSDT": (0.1, 0.001), "ETHUSDT": (0.01, 0.001)}


def glft_task(spec: Any, rows: list[np.ndarray]) -> dict[str, float | int]:
    """``quote.spacing_ticks`` -> grid, ``quote.levels`` -> levels, ``quote.min_spread_ticks`` ->
    half spread, ``quote.gamma`` x 10^4 -> skew ticks per unit, ``quote.base_size`` -> order size,
    ``risk.max_position`` -> max units."""
    from qengine.backtest import strategies
    from qengine.backtest.api import Backtest, BacktestConfig
    from qengine.config import config_from_mapping

    config = config_from_mapping(spec.config)
    q = config.quote
    tick, lot = SIZES[spec.instrument or config.instrument]
    latency_ns = round(spec.options["latency_ms"] * 1e6)
    queue, _, n = spec.options["queue"].partition(":")
    bt = BacktestConfig(tick_size=tick, lot_size=lot, entry_latency_ns=latency_ns,
                        response_latency_ns=latency_ns, queue=queue,
                        queue_power_n=float(n or 2.0), maker_fee=-0.00005, taker_fee=0.0007,
                        recorder_rows=1, record_every_ns=10**18,
                        wake_interval_ns=round(spec.options["record_interval_ms"] * 1e6))
    qty_lots = max(round(q.base_size / lot), 1)
    params = strategies.glft_params(
        half_spread_ticks=float(q.min_spread_ticks), skew_ticks=q.gamma * 1e4,
        grid_ticks=q.spacing_ticks, levels=q.levels, qty_lots=qty_lots,
        max_q=max(round(config.risk.max_position / q.base_size), 1), warmup_ns=1_000_000_000)
    result = Backtest(bt, strategies.glft_grid, params=params).run(rows, validated=True)
    return {"equity": result.equity, "balance": result.balance, "fee": result.fee,
            "position": result.position, "fills": result.counts["fills"],
            "orders": result.counts["orders"], "cancels": result.counts["cancels"],
            "events": result.counts["events"], "wake_ups": result.counts["wake_ups"]}


def failing_task(spec: Any, rows: list[np.ndarray]) -> dict[str, float | int]:
    """``glft_task``, except that it raises for ``quote.levels == 2``."""
    if spec.params.get("quote.levels") == 2:
        raise RuntimeError("levels 2 is refused by this test task")
    return glft_task(spec, rows)


def slow_glft_task(spec: Any, rows: list[np.ndarray]) -> dict[str, float | int]:
    """``glft_task`` that takes at least 0.3 s, so that a test can kill a worker mid-sweep."""
    import time

    started = time.perf_counter()
    stats = glft_task(spec, rows)
    time.sleep(max(0.0, 0.3 - (time.perf_counter() - started)))
    return stats
