"""Each simulator rule of backtest-reference.md on a small hand-built event array.

Instrument: tick 1, lot 1, so prices are ticks and quantities lots. Latency 10 ms each way.
The book opens at t = 0 with bid 100 x 5 and ask 102 x 5 on both sides of the simulation.
"""

from __future__ import annotations

import numpy as np
import pytest

from qengine.backtest import layout as L
from qengine.backtest import pipes, strategies
from qengine.backtest.api import Backtest, BacktestConfig
from qengine.backtest.events import (
    BUY_EVENT,
    DEPTH_EVENT,
    DEPTH_SNAPSHOT_EVENT,
    EVENT_DTYPE,
    EXCH_EVENT,
    LOCAL_EVENT,
    SELL_EVENT,
    TRADE_EVENT,
)

MS = 1_000_000
BOTH = EXCH_EVENT | LOCAL_EVENT
BID = BUY_EVENT | DEPTH_EVENT
ASK = SELL_EVENT | DEPTH_EVENT


def rows(*items):
    """Rows ``(flags, exch_ts, local_ts, px, qty)``, after an opening book at t = 0."""
    opening = [
        (BOTH | BUY_EVENT | DEPTH_SNAPSHOT_EVENT, 0, 0, 100.0, 5.0),
        (BOTH | SELL_EVENT | DEPTH_SNAPSHOT_EVENT, 0, 0, 102.0, 5.0),
    ]
    out = np.zeros(len(opening) + len(items), EVENT_DTYPE)
    for i, (ev, exch_ts, local_ts, px, qty) in enumerate(opening + list(items)):
        out[i] = (ev, exch_ts, local_ts, px, qty, 0, 0, 0.0)
    return out


def script(*actions):
    """Strategy actions ``(at_ns, action, order_id, side, price_tick, qty_lots, tif)``."""
    return np.array(actions, dtype=np.float64).ravel()


def run(events, actions, *, queue="riskaverse", interval_ns=MS, **extra):
    config = BacktestConfig(tick_size=1.0, lot_size=1.0, queue=queue, wake_interval_ns=interval_ns,
                            maker_fee=-0.001, taker_fee=0.002, **extra)
    return Backtest(config, strategies.scripted, params=script(*actions)).run(events)


def buy(order_id, price, at=0, tif=L.GTX, qty=1):
    return (at, strategies.ACT_SUBMIT, order_id, L.BUY, price, qty, tif)


def fills_of(result):
    return [(int(f["exch_ts"]), int(f["side"]), int(f["price_tick"]), int(f["maker"]))
            for f in result.fills]


def test_gtx_order_that_would_take_is_rejected_not_filled():
    r = run(rows((BOTH | ASK, 50 * MS, 50 * MS, 103.0, 1.0)), [buy(1, 102, at=MS)])
    assert r.counts["rejects"] == 1
    assert r.fills.size == 0
    assert r.orders[0]["status"] == L.ST_EXPIRED


def test_trade_through_our_price_fills_in_full_as_maker_at_our_price():
    # Our buy at 100 arrives at 11 ms behind 5; a taker sell at 99 trades through it at 30 ms.
    r = run(rows((BOTH | SELL_EVENT | TRADE_EVENT, 30 * MS, 31 * MS, 99.0, 1.0)),
            [buy(1, 100, at=MS, qty=2)])
    assert fills_of(r) == [(30 * MS, 1, 100, 1)]
    assert r.position == 2.0
    assert r.fee == pytest.approx(-0.001 * 200.0)
    assert r.balance == -200.0


def test_queue_exhaustion_fills_after_the_quantity_ahead_trades():
    trade = BOTH | SELL_EVENT | TRADE_EVENT
    events = rows((trade, 30 * MS, 30 * MS, 100.0, 3.0), (trade, 40 * MS, 40 * MS, 100.0, 2.0),
                  (trade, 50 * MS, 50 * MS, 100.0, 1.0))
    r = run(events, [buy(1, 100, at=MS)])
    # 5 ahead: 3 + 2 exhaust it (queue 0, not yet < -0.5 lot); the next lot at 50 ms fills us.
    assert fills_of(r) == [(50 * MS, 1, 100, 1)]


def test_power_prob_queue_advances_on_unexplained_level_decreases():
    # At 100: 5 ahead of us; 5 join behind (10); then 4 cancel (6), none traded. Power-prob(2)
    # puts half of the 4 ahead of us (front 3), risk-averse none (front min(5, 6) = 5). A 4-lot
    # trade at 100 then fills us under power-prob only.
    events = rows((BOTH | BID, 20 * MS, 20 * MS, 100.0, 10.0),
                  (BOTH | BID, 30 * MS, 30 * MS, 100.0, 6.0),
                  (BOTH | SELL_EVENT | TRADE_EVENT, 40 * MS, 40 * MS, 100.0, 4.0))
    assert fills_of(run(events, [buy(1, 100, at=MS)], queue="powerprob")) == [(40 * MS, 1, 100, 1)]
    assert run(events, [buy(1, 100, at=MS)]).fills.size == 0


def test_book_crossing_our_price_fills_us():
    # The best ask drops to 100 at 30 ms: our resting buy at 100 fills.
    r = run(rows((BOTH | ASK, 30 * MS, 32 * MS, 100.0, 3.0)), [buy(1, 100, at=MS)])
    assert fills_of(r) == [(30 * MS, 1, 100, 1)]
    assert r.counts["rejects"] == 0


def test_cancel_racing_a_fill_loses_and_the_fill_stands():
    # Acked at 21 ms; the cancel sent at 22 ms reaches the exchange at 32 ms, but the
    # trade-through at 25 ms fills the order first: the cancel is rejected, the fill stands.
    events = rows((BOTH | SELL_EVENT | TRADE_EVENT, 25 * MS, 26 * MS, 99.0, 1.0))
    r = run(events, [buy(7, 100, at=MS), (22 * MS, strategies.ACT_CANCEL, 7, 0, 0, 0, 0)])
    assert fills_of(r) == [(25 * MS, 1, 100, 1)]
    assert r.counts["cancels"] == 1
    assert r.position == 1.0
    (order,) = r.orders
    assert order["status"] == L.ST_FILLED
    assert order["req"] == L.ST_NONE  # the rejected cancel cleared the request flag


def test_exchange_rows_go_before_an_order_arriving_at_the_same_time():
    # The order sent at 1 ms arrives at 11 ms; the ask moves to 100 at exactly 11 ms, and is
    # seen first, so the post-only buy at 100 is rejected instead of resting then filling.
    r = run(rows((BOTH | ASK, 11 * MS, 60 * MS, 100.0, 1.0)), [buy(1, 100, at=MS)])
    assert r.counts["rejects"] == 1
    assert r.fills.size == 0
    # One nanosecond later, the order rests first and the ask crossing it fills it.
    r = run(rows((BOTH | ASK, 11 * MS + 1, 60 * MS, 100.0, 1.0)), [buy(1, 100, at=MS)])
    assert fills_of(r) == [(11 * MS + 1, 1, 100, 1)]


def test_a_feed_wake_up_sees_a_response_arriving_at_the_same_time():
    # Fill at 25 ms reaches the strategy at 35 ms, with a local row at 35 ms: the wake-up at
    # 35 ms has both (local data first, then responses, then the wake-up). The last feed
    # (50 ms) is the end of the data, not a wake-up.
    events = rows((BOTH | SELL_EVENT | TRADE_EVENT, 25 * MS, 26 * MS, 99.0, 1.0),
                  (LOCAL_EVENT | BID, 0, 35 * MS, 99.0, 1.0),
                  (LOCAL_EVENT | BID, 0, 50 * MS, 98.0, 1.0))
    config = BacktestConfig(tick_size=1.0, lot_size=1.0, wake_on_feed=True, record_every_ns=0)
    r = Backtest(config, strategies.scripted, params=script(buy(1, 100))).run(events)
    at_35 = r.records[r.records["ts"] == 35 * MS]
    assert len(at_35) == 1
    assert at_35["position"][0] == 1.0
    assert list(r.records["ts"]) == [0, 26 * MS, 35 * MS]


def test_latency_pipes_are_fifo_when_a_later_request_would_be_faster():
    # A later request with a shorter latency queues behind the earlier one (arrives with it).
    ring = np.zeros(4, L.ORDER_DTYPE)
    src = np.zeros(2, L.ORDER_DTYPE)
    ist = np.zeros(L.I_SIZE, np.int64)
    assert pipes.pipe_push(ring, ist, 0, src, 0, 51 * MS) == 0
    assert pipes.pipe_push(ring, ist, 0, src, 1, 3 * MS) == 0
    assert [pipes.pipe_head_ts(ring, ist, 0), ring[1]["pipe_ts"]] == [51 * MS, 51 * MS]
    assert pipes.pipe_pop(ring, ist, 0) == 0
    assert pipes.pipe_pop(ring, ist, 0) == 1
    assert pipes.pipe_head_ts(ring, ist, 0) == L.INVALID_MAX
    # Full pipe: refused, nothing overwritten.
    for _ in range(4):
        assert pipes.pipe_push(ring, ist, 1, src, 0, MS) == 0
    assert pipes.pipe_push(ring, ist, 1, src, 0, MS) == -1


def test_recorded_latency_is_interpolated_between_rows():
    table = np.array([[0, 20 * MS, 30 * MS], [100 * MS, 110 * MS, 115 * MS]], dtype=np.int64)
    ist = np.zeros(L.I_SIZE, np.int64)
    assert pipes.entry_latency(ist, table, -5) == 20 * MS  # before the first row: the first
    assert pipes.entry_latency(ist, table, 50 * MS) == 15 * MS
    assert pipes.entry_latency(ist, table, 500 * MS) == 10 * MS  # after the last: the last
    assert pipes.response_latency(ist, table, 65 * MS) == int(7.5 * MS)
    r = run(rows((BOTH | SELL_EVENT | TRADE_EVENT, 60 * MS, 60 * MS, 99.0, 1.0)),
            [buy(1, 100, at=MS)], latency_table_ns=table)
    (fill,) = r.fills
    # Filled at 60 ms; response latency there: 10 ms + (5 - 10) ms * 40/90, truncated to ns.
    assert r.orders[0]["exch_ts"] == 60 * MS
    assert fill["local_ts"] == 60 * MS + 10 * MS + int(-5 * MS / (90 * MS) * (40 * MS))


def test_constant_latency_delays_each_way():
    r = run(rows((BOTH | SELL_EVENT | TRADE_EVENT, 30 * MS, 30 * MS, 99.0, 1.0)),
            [buy(1, 100, at=MS)])
    (fill,) = r.fills
    assert fill["exch_ts"] == 30 * MS
    assert fill["local_ts"] == 40 * MS  # the 10 ms response latency
    assert r.orders[0]["exch_ts"] == 30 * MS


def test_wake_on_response_adds_a_wake_up_when_a_response_arrives():
    # The buy sent at 0 is acked at 20 ms and filled at 25 ms (known locally at 35 ms); local
    # rows at 0, 26, 40 and 50 ms. Feed wake-ups: 0, 26, 40; with responses also 20 and 35.
    events = rows((BOTH | SELL_EVENT | TRADE_EVENT, 25 * MS, 26 * MS, 99.0, 1.0),
                  (LOCAL_EVENT | BID, 0, 40 * MS, 99.0, 1.0),
                  (LOCAL_EVENT | BID, 0, 50 * MS, 98.0, 1.0))
    seen = {}
    for on_resp in (False, True):
        config = BacktestConfig(tick_size=1.0, lot_size=1.0, wake_on_feed=True,
                                wake_on_response=on_resp)
        r = Backtest(config, strategies.scripted, params=script(buy(1, 100))).run(events)
        seen[on_resp] = [int(t) for t in r.records["ts"]]
        assert r.counts["wake_ups"] == len(seen[on_resp])
    assert seen[False] == [0, 26 * MS, 40 * MS]
    assert seen[True] == [0, 20 * MS, 26 * MS, 35 * MS, 40 * MS]
