"""hftbacktest 2.4.4 configured as the reference specifies, running the reference GLFT grid.

Used by the differential tests to run hftbacktest on the same rows as qengine. The strategy itself
is the one the side-by-side benchmark times (``perf/_hbt_glft.py``: written against hftbacktest's
Python API in its tutorial's style), so the tests check the code whose speed is reported. Fills
are taken from the local order table at each wake-up (FILLED orders) and once more after the end,
so that the set holds every fill the strategy received.
"""

from __future__ import annotations

import numpy as np
from hftbacktest import SELL, BacktestAsset, HashMapMarketDepthBacktest

from perf._hbt_glft import glft


def run_hftbacktest(data, *, params, interval_ns, queue, tick, lot, maker_fee, taker_fee,
                    latency_ns=10_000_000):
    """Run the hftbacktest side; returns (fill set, counts dict, equity)."""
    asset = (
        BacktestAsset()
        .data([data])
        .linear_asset(1.0)
        .constant_order_latency(latency_ns, latency_ns)
        .no_partial_fill_exchange()
        .trading_value_fee_model(maker_fee, taker_fee)
        .tick_size(tick)
        .lot_size(lot)
    )
    asset = asset.risk_adverse_queue_model() if queue == "riskaverse" else (
        asset.power_prob_queue_model(2.0))
    hbt = HashMapMarketDepthBacktest([asset])
    t0 = first_timestamp(data)
    fills = np.zeros((100_000, 3), np.int64)
    counts = np.zeros(5, np.int64)  # orders, cancels, rejects, fills, wake-ups
    full = np.array([*params, tick, lot], dtype=np.float64)
    balance, fee, position, mid = glft(hbt, interval_ns, t0, full, fills, counts)
    hbt.close()
    fill_set = {tuple(int(v) for v in row) for row in fills[: counts[3]]}
    equity = balance + position * mid - fee
    names = ("orders", "cancels", "rejects", "fills", "wake_ups")
    return fill_set, dict(zip(names, (int(c) for c in counts), strict=True)), equity


def first_timestamp(data):
    """The backtest's start: the earliest of the first exchange and first local timestamps."""
    from qengine.backtest.events import EXCH_EVENT, LOCAL_EVENT

    exch = data["exch_ts"][(data["ev"] & EXCH_EVENT) != 0]
    local = data["local_ts"][(data["ev"] & LOCAL_EVENT) != 0]
    return int(min(exch[0] if len(exch) else 2**63 - 1, local[0] if len(local) else 2**63 - 1))


__all__ = ["SELL", "first_timestamp", "run_hftbacktest"]
