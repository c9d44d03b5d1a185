"""``quote_strategy`` against its pure-Python twin (tests/reference/backtest/quoting_strategy.py).

Both run on copies of the same handle, wake-up after wake-up, through a random market: the touch
walks, public trades arrive, a small venue in this test acknowledges requests, fills resting
orders the market crosses and executes flatten orders. After every wake-up every array the
strategy writes must agree (floats to 1e-9 relative), including the requests it sent.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from qengine.backtest import layout as L
from qengine.backtest import quoting_layout as ql
from qengine.backtest.instruments import INSTRUMENTS
from qengine.backtest.quoting_state import QuotingState
from qengine.backtest.quoting_strategy import quote_strategy
from tests.backtest.test_quoting import config
from tests.reference.backtest import quoting_strategy as twin
from tests.reference.position import open_lots

BASE, WIDTH = 600_000, 40_000
T0 = 1_700_000_000_000_000_000
STEPS = 300


def _handle(state: QuotingState) -> list:
    ist = np.zeros(L.I_SIZE, np.int64)
    fst = np.zeros(L.F_SIZE)
    fst[[L.F_TICK, L.F_LOT, L.F_CONTRACT, L.F_MAKER_FEE, L.F_TAKER_FEE]] = (
        0.1, 0.001, 1.0, -0.00005, 0.0007)
    bs = np.array([L.INVALID_MIN, L.INVALID_MAX, L.INVALID_MAX, L.INVALID_MIN, BASE], np.int64)
    return [ist, fst, np.zeros(256, L.ORDER_DTYPE), np.zeros(256, L.ORDER_DTYPE),
            np.zeros((2, WIDTH)), bs, state.params.copy(), state.scratch.copy(),
            np.zeros(512, L.PUBLIC_TRADE_DTYPE), np.zeros(8192, L.FILL_DTYPE)]


def _market(h, rng, now, mid):
    """Move the local touch to ``mid`` (half-tick) and add a few public trades."""
    ist, book, bs, trades = h[0], h[4], h[5], h[8]
    ist[L.I_NOW] = now
    book[:, :] = 0.0
    bid, ask = mid - rng.integers(1, 3), mid + rng.integers(1, 3)
    book[0, bid - BASE], book[1, ask - BASE] = rng.choice([0.2, 1.0, 3.5]), rng.choice([0.4, 2.0])
    bs[L.BS_BEST_BID], bs[L.BS_BEST_ASK] = bid, ask
    for _ in range(int(rng.integers(0, 4))):
        k = ist[L.I_N_TRADES]
        side = 1 if rng.random() < 0.5 else -1
        trades[k] = (now - 1000, now - 2000, side, (ask if side > 0 else bid)
                     + side * int(rng.integers(0, 30)), 0.01, bid, ask)
        ist[L.I_N_TRADES] = k + 1
    return bid, ask


def _venue(h, rng, bid, ask):
    """Answer the requests in flight and fill what the market crossed (same draws for both
    copies: the venue reads only what the two strategies must agree on)."""
    ist, fst, lo, fills = h[0], h[1], h[2], h[9]
    for i in range(ist[L.I_N_LOCAL]):
        o = lo[i]
        if o["req"] != L.ST_NONE and rng.random() < 0.7:
            if o["req"] == L.ST_CANCELED:
                o["status"] = L.ST_CANCELED
            elif o["tif"] == L.IOC:
                o["status"] = L.ST_FILLED
            else:
                o["status"] = L.ST_NEW
                o["leaves_lots"] = o["qty_lots"]
            o["req"] = L.ST_NONE
        crossed = (o["side"] > 0 and o["price_tick"] >= ask) or (
            o["side"] < 0 and o["price_tick"] <= bid)
        if o["req"] == L.ST_NONE and ((o["status"] == L.ST_FILLED and o["tif"] == L.IOC
                                      and o["exec_lots"] == 0) or (o["status"] == L.ST_NEW
                                      and (crossed or rng.random() < 0.03))):
            k = ist[L.I_N_FILL_LOG]
            lots = int(o["leaves_lots"])
            maker = 0 if o["tif"] == L.IOC else 1
            fills[k] = (ist[L.I_NOW] - 5, ist[L.I_NOW], o["order_id"], o["side"],
                        o["price_tick"], lots, maker)
            ist[L.I_N_FILL_LOG] = k + 1
            ist[L.I_FILLS] += 1
            ist[L.I_POS_LOTS] += o["side"] * lots
            value = o["price_tick"] * 0.1 * lots * 0.001
            fst[L.F_BALANCE] -= o["side"] * value
            fst[L.F_FEE] += (-0.00005 if maker else 0.0007) * value
            fst[L.F_TRADED_VALUE] += value
            o["status"], o["exec_lots"], o["leaves_lots"] = L.ST_FILLED, lots, 0
    ist[L.I_N_OUTBOX] = 0


def _region(h, index):
    dtype = ql.REGIONS[index][1]
    start, count = int(h[6][2 * index]), int(h[6][2 * index + 1])
    return h[7][start:start + count * dtype.itemsize // 8].view(dtype)


def _same(a, b, where):
    # The FIFO lots are compared as lots: the position twin keeps its ring from slot 0.
    lots = [open_lots(_region(h, ql.R_POSITIONS), _region(h, ql.R_LOTS), 0) for h in (a, b)]
    assert lots[0] == lots[1], where
    for index, (name, dtype) in enumerate(ql.REGIONS):
        if index == ql.R_LOTS:
            continue
        x, y = _region(a, index), _region(b, index)
        for field in dtype.names or (None,):
            if field == "lot_head":
                continue
            u, w = (x, y) if field is None else (x[field], y[field])
            if u.dtype.kind == "f":
                np.testing.assert_allclose(u, w, rtol=1e-9, atol=1e-12, equal_nan=True,
                                           err_msg=f"{where}: {name}.{field}")
            else:
                np.testing.assert_array_equal(u, w, err_msg=f"{where}: {name}.{field}")
    for k in (0, 1, 5):
        np.testing.assert_array_equal(a[k], b[k], err_msg=f"{where}: handle[{k}]")
    n = int(a[0][L.I_N_LOCAL])
    np.testing.assert_array_equal(a[2][:n], b[2][:n], err_msg=f"{where}: local orders")
    m = int(a[0][L.I_N_OUTBOX])
    np.testing.assert_array_equal(a[3][:m], b[3][:m], err_msg=f"{where}: outbox")


@pytest.mark.parametrize(("model", "seed", "drift"),
                         [("as", 1, 0), ("glft", 2, 1), ("legacy", 3, -1), ("glft", 4, 2)])
def test_quote_strategy_matches_its_twin_wake_up_after_wake_up(model, seed, drift):
    overrides = {"risk.max_position": 0.015, "risk.upnl_take_profit_usd": 0.05,
                 "risk.stop_loss_pct": 0.0002, "risk.take_profit_pct": 0.0001,
                 "quote.min_quote_interval_s": 0.05,
                 "risk.monitor_interval_s": 0.5, "risk.monitor_fast_interval_s": 0.3,
                 "risk.monitor_slow_interval_s": 1.0, "risk.recovery_cooldown_s": 1.0,
                 "risk.recovery_check_interval_s": 1.0}
    state = QuotingState(config(model, **overrides), INSTRUMENTS["BTCUSDT"],
                         record_every_ns=100_000_000, record_rows=16,
                         decision_rows=8 if seed % 2 else 0)
    state.start(T0)
    kernel_h = _handle(state)
    twin_h = copy.deepcopy(kernel_h)
    rng_market, now, mid = np.random.default_rng(seed), T0, 618_000
    sent = yields = maxpos = 0
    for step in range(STEPS):
        now += int(rng_market.integers(5, 250)) * 1_000_000
        mid += int(rng_market.integers(-3, 4)) + drift
        if rng_market.random() < 0.03:  # a sweep through every level of one side
            mid += int(rng_market.choice([-120, 120]))
        draw = rng_market.integers(1 << 30)
        for h in (kernel_h, twin_h):
            bid, ask = _market(h, np.random.default_rng(draw), now, mid)
        got = quote_strategy(tuple(kernel_h))
        want = twin.quote_strategy(twin_h)
        assert got == want, f"step {step}"
        _same(kernel_h, twin_h, f"step {step}")
        sent += int(kernel_h[0][L.I_N_OUTBOX])
        maxpos = max(maxpos, abs(int(kernel_h[0][L.I_POS_LOTS])))
        if got == L.STRATEGY_YIELD:
            yields += 1
            for h in (kernel_h, twin_h):  # drain: zero rows
                h[7][int(h[6][2 * ql.R_VARS]) + ql.V_N_REC] = 0.0
                h[7][int(h[6][2 * ql.R_VARS]) + ql.V_N_DECISIONS] = 0.0
        venue_draw = rng_market.integers(1 << 30)
        for h in (kernel_h, twin_h):
            _venue(h, np.random.default_rng(venue_draw), bid, ask)
    gate = _region(kernel_h, ql.R_GATE)[0]
    vars_ = _region(kernel_h, ql.R_VARS)
    assert sent > 50
    assert yields > 2
    assert kernel_h[0][L.I_FILLS] > 5
    assert maxpos > 0
    assert gate["breach_count"] + vars_[ql.V_FLATTEN_ORDERS] > 0
