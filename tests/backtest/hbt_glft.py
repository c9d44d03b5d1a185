"""The reference GLFT grid written against hftbacktest 2.4.4's Python API (its tutorial's style).

Used by the differential tests to run hftbacktest on the same rows as qengine. Fills are taken
from the local order table at each wake-up (FILLED orders) and once more after the end, so that
the set holds every fill the strategy received.
"""

from __future__ import annotations

import numpy as np
from hftbacktest import (
    BUY,
    EXPIRED,
    FILLED,
    GTX,
    LIMIT,
    NEW,
    NONE,
    SELL,
    BacktestAsset,
    HashMapMarketDepthBacktest,
)
from numba import njit, uint64


@njit
def _walk(hbt, quote, bid0, ask0, grid, nbid, nask, fills, counts):
    orders = hbt.orders(0)
    values = orders.values()
    while values.has_next():
        o = values.get()
        if o.status == FILLED:
            k = counts[3]
            fills[k, 0] = o.exch_timestamp
            fills[k, 1] = 1 if o.side == BUY else -1
            fills[k, 2] = o.price_tick
            counts[3] = k + 1
        elif o.status == EXPIRED:
            counts[2] += 1
        elif quote and o.status == NEW and o.req == NONE:
            p = np.int64(o.order_id)
            if o.side == BUY:
                d = bid0 - p
                inside = d >= 0 and d % grid == 0 and d // grid < nbid
            else:
                d = p - ask0
                inside = d >= 0 and d % grid == 0 and d // grid < nask
            if not inside:
                hbt.cancel(0, o.order_id, False)
                counts[1] += 1


@njit
def glft(hbt, t0, params, interval_ns, fills, counts):
    """Run the strategy; ``interval_ns`` 0 means one wake-up per feed."""
    hs, skew, grid, levels, qty_lots, max_q, warmup_ns, tick, lot = params
    grid = np.int64(grid)
    levels = np.int64(levels)
    qty = qty_lots * lot
    while True:
        r = hbt.elapse(interval_ns) if interval_ns > 0 else hbt.wait_next_feed(False, 60 * 10**9)
        if r == 1:
            break
        counts[4] += 1
        now = hbt.current_timestamp
        q = np.rint(hbt.position(0) / qty)
        depth = hbt.depth(0)
        bb = depth.best_bid_tick
        ba = depth.best_ask_tick
        quote = (now >= t0 + warmup_ns and bb != np.iinfo(np.int64).min
                 and ba != np.iinfo(np.int64).max and bb < ba)
        bid0 = 0
        ask0 = 0
        nbid = 0
        nask = 0
        if quote:
            r_ = (bb + ba) / 2.0 - skew * q
            bid = min(np.int64(np.rint(r_ - hs)), bb)
            ask = max(np.int64(np.rint(r_ + hs)), ba)
            bid0 = (bid // grid) * grid
            ask0 = -((-ask) // grid) * grid
            nbid = levels if q < max_q else 0
            nask = levels if q > -max_q else 0
        _walk(hbt, quote, bid0, ask0, grid, nbid, nask, fills, counts)
        hbt.clear_inactive_orders(0)
        if quote:
            orders = hbt.orders(0)
            for i in range(nbid):
                p = bid0 - i * grid
                if uint64(p) not in orders:
                    hbt.submit_buy_order(0, uint64(p), p * tick, qty, GTX, LIMIT, False)
                    counts[0] += 1
            for i in range(nask):
                p = ask0 + i * grid
                if uint64(p) not in orders:
                    hbt.submit_sell_order(0, uint64(p), p * tick, qty, GTX, LIMIT, False)
                    counts[0] += 1
    _walk(hbt, False, 0, 0, 1, 0, 0, fills, counts)
    sv = hbt.state_values(0)
    depth = hbt.depth(0)
    mid = (depth.best_bid + depth.best_ask) / 2.0
    return sv.balance, sv.fee, hbt.position(0), mid


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
    balance, fee, position, mid = glft(hbt, t0, full, interval_ns, fills, counts)
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
