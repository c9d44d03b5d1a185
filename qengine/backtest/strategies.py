"""Ready strategies: ``idle`` (replay only) and the reference GLFT grid.

A strategy is ``int64 f(handle)`` compiled with ``layout.STRATEGY_SIG`` (and ``cache=True``
so that a second process loads it); it reads and acts through ``qengine.backtest.local``.
"""

from __future__ import annotations

import math

import numpy as np

from qengine.kernels._jit import helper, kernel

from . import local as lx
from .layout import BUY, SELL, ST_NEW, ST_NONE, STRATEGY_SIG

# GLFT grid parameters (``params`` of the handle).
(P_HALF_SPREAD, P_SKEW, P_GRID, P_LEVELS, P_QTY_LOTS, P_MAX_Q, P_WARMUP_NS) = range(7)
GLFT_PARAMS = 7
# Its scratch: the state version and quote flag of the last decision that acted.
S_VERSION, S_QUOTED = 0, 1


@helper("i8(i8, i8, i8, i8)", inline=True)
def _grid_index(price_tick, start, step, count):
    """Index of ``price_tick`` in ``start + i*step, i < count``, or -1."""
    d = price_tick - start
    if count <= 0 or d % step != 0:
        return -1
    i = d // step
    return i if 0 <= i < count else -1


@kernel(STRATEGY_SIG)
def idle(h):
    """Do nothing (pure replay)."""
    return 0


@kernel(STRATEGY_SIG)
def glft_grid(h):
    """The reference GLFT grid (backtest-reference.md, "Strategy spec"), in integer ticks."""
    params, scratch = h[6], h[7]
    now = lx.now_ns(h)
    bb = lx.best_bid_tick(h)
    ba = lx.best_ask_tick(h)
    quote = (now >= lx.start_ns(h) + params[P_WARMUP_NS] and bb != lx.INVALID_MIN
             and ba != lx.INVALID_MAX and bb < ba)
    # The decision depends only on the local state and on ``quote``: unchanged, nothing to do.
    ver = lx.version(h)
    if scratch[S_VERSION] == ver and scratch[S_QUOTED] == (1.0 if quote else 0.0):
        return 0
    scratch[S_VERSION] = ver
    scratch[S_QUOTED] = 1.0 if quote else 0.0
    qty = np.int64(params[P_QTY_LOTS])
    q = np.rint(lx.position_lots(h) / qty)
    grid = np.int64(params[P_GRID])
    levels = np.int64(params[P_LEVELS])
    max_q = params[P_MAX_Q]
    bid0 = 0
    ask0 = 0
    nbid = 0
    nask = 0
    if quote:
        mid = (bb + ba) / 2.0
        r = mid - params[P_SKEW] * q
        bid = min(np.int64(np.rint(r - params[P_HALF_SPREAD])), bb)
        ask = max(np.int64(np.rint(r + params[P_HALF_SPREAD])), ba)
        bid0 = (bid // grid) * grid
        ask0 = -((-ask) // grid) * grid
        nbid = levels if q < max_q else 0
        nask = levels if q > -max_q else 0
    orders = h[2]
    if quote:
        for i in range(lx.order_count(h)):
            o = orders[i]
            if o.status == ST_NEW and o.req == ST_NONE:
                p = o.order_id
                if (o.side == BUY and _grid_index(p, bid0, -grid, nbid) < 0) or (
                        o.side == SELL and _grid_index(p, ask0, grid, nask) < 0):
                    lx.cancel(h, p)
    lx.clear_inactive(h)
    if not quote:
        return 0
    have = np.zeros(2 * levels, dtype=np.bool_)
    for i in range(lx.order_count(h)):
        p = orders[i].order_id
        k = _grid_index(p, bid0, -grid, nbid)
        j = _grid_index(p, ask0, grid, nask)
        if k >= 0:
            have[k] = True
        if j >= 0:
            have[levels + j] = True
    for k in range(nbid):
        if not have[k]:
            p = bid0 - k * grid
            lx.submit_gtx(h, p, BUY, p, qty)
    for j in range(nask):
        if not have[levels + j]:
            p = ask0 + j * grid
            lx.submit_gtx(h, p, SELL, p, qty)
    return 0


def glft_params(*, half_spread_ticks: float, skew_ticks: float, grid_ticks: int, levels: int,
                qty_lots: int, max_q: int, warmup_ns: int) -> np.ndarray:
    """The ``params`` array of :func:`glft_grid`."""
    out = np.zeros(GLFT_PARAMS)
    out[[P_HALF_SPREAD, P_SKEW, P_GRID, P_LEVELS, P_QTY_LOTS, P_MAX_Q, P_WARMUP_NS]] = (
        half_spread_ticks, skew_ticks, grid_ticks, levels, qty_lots, max_q, warmup_ns)
    if not all(math.isfinite(v) for v in out) or grid_ticks < 1 or levels < 1 or qty_lots < 1:
        raise ValueError("glft_params: finite values, grid_ticks, levels and qty_lots >= 1")
    return out


# A scripted strategy: ``params`` holds rows of ``SCRIPT_COLS`` values
# ``(at_ns, action, order_id, side, price_tick, qty_lots, tif)``; at each wake-up it performs the
# rows due (``at_ns <= now``) in order. Actions: submit a limit order, cancel, modify.
ACT_SUBMIT, ACT_CANCEL, ACT_MODIFY = 1, 2, 3
SCRIPT_COLS = 7


@kernel(STRATEGY_SIG)
def scripted(h):
    """Replay a fixed list of actions (tests and what-if checks); keeps its cursor in scratch."""
    params, scratch = h[6], h[7]
    done = 0 if math.isnan(scratch[0]) else np.int64(scratch[0])
    rows = params.shape[0] // SCRIPT_COLS
    now = lx.now_ns(h)
    while done < rows:
        a = params[done * SCRIPT_COLS:(done + 1) * SCRIPT_COLS]
        if a[0] > now:
            break
        act, oid = np.int64(a[1]), np.int64(a[2])
        if act == ACT_SUBMIT:
            lx.submit(h, oid, np.int64(a[3]), np.int64(a[4]), np.int64(a[5]), np.int64(a[6]), 0)
        elif act == ACT_CANCEL:
            lx.cancel(h, oid)
        elif act == ACT_MODIFY:
            lx.modify(h, oid, np.int64(a[4]), np.int64(a[5]))
        done += 1
    scratch[0] = done
    return 0
