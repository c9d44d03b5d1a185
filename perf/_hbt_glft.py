"""The hftbacktest 2.4.4 side of the backtest benchmark, written with hftbacktest's own API.

The reference GLFT grid (docs: backtest-reference.md, "Strategy spec") in the style of
hftbacktest's GLFT grid tutorial (``@njit`` functions over a ``HashMapMarketDepthBacktest``), and a
bare replay loop. Imported only when hftbacktest runs; numba compiles these on first call, in
every process (hftbacktest's jitclass cannot be cached on disk).
"""

from __future__ import annotations

import numpy as np
from hftbacktest import BUY, EXPIRED, FILLED, GTX, LIMIT, NEW, NONE
from numba import njit, uint64


@njit
def wait(hbt, interval_ns):
    """Advance to the next wake-up (see ``perf._backtest_sides``: interval, feed or the end)."""
    if interval_ns > 0:
        return hbt.elapse(interval_ns)
    if interval_ns == 0:
        return hbt.wait_next_feed(False, 60_000_000_000)
    return hbt.elapse(1 << 62)


@njit
def replay(hbt, interval_ns):
    """No strategy: count the wake-ups."""
    wake_ups = 0
    while wait(hbt, interval_ns) != 1:  # 1: end of data; 0 elapsed, 2+ a feed arrived
        wake_ups += 1
    return wake_ups


@njit
def walk(hbt, quote, bid0, ask0, grid, nbid, nask, fills, counts):
    """Step 4 of the spec: record fills, count rejects, cancel orders off the grid."""
    values = hbt.orders(0).values()
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
            d = bid0 - p if o.side == BUY else p - ask0
            n = nbid if o.side == BUY else nask
            if not (d >= 0 and d % grid == 0 and d // grid < n):
                hbt.cancel(0, o.order_id, False)
                counts[1] += 1


@njit
def glft(hbt, interval_ns, t0, params, fills, counts):
    """The reference GLFT grid; returns (balance, fee, position, local mid at the end)."""
    hs, skew, grid_f, levels_f, qty_lots, max_q, warmup_ns, tick, lot = params
    grid = np.int64(grid_f)
    levels = np.int64(levels_f)
    qty = qty_lots * lot
    while wait(hbt, interval_ns) != 1:
        counts[4] += 1
        q = np.rint(hbt.position(0) / qty)
        depth = hbt.depth(0)
        bb = depth.best_bid_tick
        ba = depth.best_ask_tick
        quote = (hbt.current_timestamp >= t0 + warmup_ns and bb != np.iinfo(np.int64).min
                 and ba != np.iinfo(np.int64).max and bb < ba)
        bid0 = ask0 = nbid = nask = 0
        if quote:
            r = (bb + ba) / 2.0 - skew * q
            bid0 = (min(np.int64(np.rint(r - hs)), bb) // grid) * grid
            ask0 = -((-max(np.int64(np.rint(r + hs)), ba)) // grid) * grid
            nbid = levels if q < max_q else 0
            nask = levels if q > -max_q else 0
        walk(hbt, quote, bid0, ask0, grid, nbid, nask, fills, counts)
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
    walk(hbt, False, 0, 0, 1, 0, 0, fills, counts)  # fills that arrived with the last events
    sv = hbt.state_values(0)
    depth = hbt.depth(0)
    return sv.balance, sv.fee, hbt.position(0), (depth.best_bid + depth.best_ask) / 2.0
