"""Backtest kernels against their pure-Python twins (tests/reference/backtest) on random input."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qengine.backtest import book, matching, pipes, queue
from qengine.backtest import layout as L
from qengine.backtest.events import EVENT_DTYPE
from tests.reference.backtest import book as book_twin
from tests.reference.backtest import matching as matching_twin
from tests.reference.backtest import pipes as pipes_twin
from tests.reference.backtest import queue as queue_twin

BASE, WIDTH, LOT = 90, 40, 0.5
TICKS = st.integers(BASE + 2, BASE + WIDTH - 3)
QTYS = st.sampled_from([0.0, 0.2, 0.25, 0.5, 1.0, 2.75, 7.0])


def empty_book():
    bs = np.array([L.INVALID_MIN, L.INVALID_MAX, L.INVALID_MAX, L.INVALID_MIN, BASE])
    return np.zeros((2, WIDTH)), bs


BOOK_OPS = st.lists(st.one_of(
    st.tuples(st.just("set"), st.booleans(), TICKS, QTYS),
    st.tuples(st.just("clear"), st.sampled_from([-1, 0, 1]),
              st.one_of(TICKS.map(float), st.just(float("inf"))), st.just(0.0)),
), max_size=60)


@settings(max_examples=300, deadline=None)
@given(BOOK_OPS)
def test_book_kernel_matches_its_twin(ops):
    kb, kbs = empty_book()
    tb, tbs = empty_book()
    for op, a, b, c in ops:
        if op == "set":
            got = book.book_update(kb, kbs, a, b, c, LOT)
            want = book_twin.book_update(tb, tbs, a, b, c, LOT)
            assert tuple(got) == tuple(want)
        else:
            assert book.book_clear(kb, kbs, a, b, 1.0) == book_twin.book_clear(tb, tbs, a, b, 1.0)
        np.testing.assert_array_equal(kb, tb)
        np.testing.assert_array_equal(kbs, tbs)


QUEUE_OPS = st.lists(st.one_of(
    st.tuples(st.just("trade"), st.floats(0, 5, allow_nan=False), st.just(0.0)),
    st.tuples(st.just("depth"), st.floats(0, 10, allow_nan=False),
              st.floats(0, 10, allow_nan=False)),
    st.tuples(st.just("fill"), st.just(0.0), st.just(0.0)),
), max_size=40)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([L.QUEUE_RISK_AVERSE, L.QUEUE_POWER_PROB]),
       st.sampled_from([1.0, 2.0, 3.0, 0.5]), st.floats(0, 10, allow_nan=False), QUEUE_OPS)
def test_queue_models_match_their_twins(model, n, level, ops):
    k = np.zeros(1, L.ORDER_DTYPE)
    t = np.zeros(1, L.ORDER_DTYPE)
    queue.queue_new(k, 0, level)
    queue_twin.queue_new(t, 0, level)
    for op, a, b in ops:
        if op == "trade":
            queue.queue_trade(k, 0, a)
            queue_twin.queue_trade(t, 0, a)
        elif op == "depth":
            queue.queue_depth(k, 0, model, n, a, b)
            queue_twin.queue_depth(t, 0, model, n, a, b)
        else:
            assert queue.queue_filled_lots(k, 0, LOT) == queue_twin.queue_filled_lots(t, 0, LOT)
        # bit for bit, NaN included
        assert k[0]["front_q"].tobytes() == t[0]["front_q"].tobytes()
        assert k[0]["cum_trade"].tobytes() == t[0]["cum_trade"].tobytes()


@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**5), st.integers(0, 10**5)),
                min_size=1, max_size=6), st.integers(-10, 2 * 10**6))
def test_recorded_latency_matches_its_twin(rows, ts):
    req = np.cumsum([r[0] for r in rows])
    exch = req + np.array([r[1] for r in rows])
    exch = np.maximum.accumulate(exch)
    table = np.ascontiguousarray(np.stack([req, exch, exch + [r[2] for r in rows]], axis=1))
    ist = np.zeros(L.I_SIZE, np.int64)
    assert pipes.entry_latency(ist, table, ts) == pipes_twin.entry_latency(ist, table, ts)
    assert pipes.response_latency(ist, table, ts) == pipes_twin.response_latency(ist, table, ts)


class Exchange:
    """One side of the comparison: arrays and the functions (kernels or twins) that change them."""

    def __init__(self, impl, queue_model, partial):
        self.impl = impl
        self.book, self.bs = empty_book()
        self.xo = np.zeros(6, L.ORDER_DTYPE)
        self.own = np.zeros((2, WIDTH), np.int64)
        self.tolo = np.zeros(64, L.ORDER_DTYPE)
        self.req = np.zeros(1, L.ORDER_DTYPE)
        self.lat = np.zeros((0, 3), np.int64)
        self.ist = np.zeros(L.I_SIZE, np.int64)
        self.ist[[L.I_QUEUE, L.I_EXCHANGE, L.I_RESP_NS]] = queue_model, partial, 7
        self.fst = np.zeros(L.F_SIZE)
        self.fst[[L.F_TICK, L.F_LOT, L.F_QUEUE_N]] = 1.0, LOT, 2.0

    def step(self, op, ts):
        m, kind = self.impl, op[0]
        if kind == "depth":
            m.exch_depth(op[1], op[2], op[3], ts, self.book, self.xo, self.ist, self.fst, self.bs,
                         self.own, self.tolo, self.lat)
        elif kind == "trade":
            m.exch_trade(op[1], op[2], op[3], ts, self.xo, self.ist, self.fst, self.bs, self.own,
                         self.tolo, self.lat)
        else:
            self.req[:] = np.zeros(1, L.ORDER_DTYPE)
            r = self.req[0]
            r["order_id"], r["side"], r["price_tick"], r["qty_lots"] = op[1], op[2], op[3], op[4]
            r["leaves_lots"], r["tif"], r["ord_type"] = op[4], op[5], op[6]
            r["status"] = L.ST_NONE
            if kind == "new":
                r["req"] = L.ST_NEW
                m.exch_new(self.req, 0, ts, self.xo, self.ist, self.fst, self.book, self.bs,
                           self.own, self.tolo, self.lat)
            elif kind == "cancel":
                r["req"] = L.ST_CANCELED
                m.exch_cancel(self.req, 0, ts, self.xo, self.ist, self.book, self.bs, self.own,
                              self.tolo, self.lat)
            else:
                r["req"] = L.ST_REPLACED
                m.exch_modify(self.req, 0, ts, self.xo, self.ist, self.fst, self.book, self.bs,
                              self.own, self.tolo, self.lat)

    def state(self):
        live = sorted(tuple(o.tolist()) for o in self.xo[: self.ist[L.I_N_EXCH]])
        n, head = self.ist[L.I_TOLO_COUNT], self.ist[L.I_TOLO_HEAD]
        responses = sorted(tuple(self.tolo[(head + i) % len(self.tolo)].tolist())
                           for i in range(n))
        return live, responses, self.own.tolist(), self.book.tolist(), self.bs.tolist()


SIDES = st.sampled_from([L.BUY, L.SELL])
ORDER = st.tuples(st.integers(1, 5), SIDES, TICKS, st.integers(1, 6),
                  st.sampled_from([L.GTC, L.GTX, L.IOC, L.FOK]),
                  st.sampled_from([L.LIMIT, L.LIMIT, L.LIMIT, L.MARKET]))
EXCH_OPS = st.lists(st.one_of(
    st.tuples(st.just("depth"), SIDES, TICKS, QTYS),
    st.tuples(st.just("trade"), SIDES, TICKS, st.sampled_from([0.25, 0.5, 1.0, 3.0])),
    ORDER.map(lambda o: ("new", *o)),
    ORDER.map(lambda o: ("cancel", *o)),
    ORDER.map(lambda o: ("modify", *o)),
), max_size=50)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([L.QUEUE_RISK_AVERSE, L.QUEUE_POWER_PROB]),
       st.sampled_from([L.EXCHANGE_NO_PARTIAL, L.EXCHANGE_PARTIAL]), EXCH_OPS)
def test_matching_kernels_match_their_twins(queue_model, partial, ops):
    kernel_side = Exchange(matching, queue_model, partial)
    twin_side = Exchange(matching_twin, queue_model, partial)
    for ts, op in enumerate(ops, start=1):
        kernel_side.step(op, ts)
        twin_side.step(op, ts)
        assert kernel_side.state() == twin_side.state(), op


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(float("nan")), st.just(float("inf")),
                          st.just(float("-inf"))), max_size=40))
def test_price_range_is_the_finite_prices_min_and_max(prices):
    rows = np.zeros(len(prices), EVENT_DTYPE)
    rows["px"] = prices
    lo, hi = book.price_range(rows)
    finite = [p for p in prices if np.isfinite(p)]
    assert (lo, hi) == ((min(finite), max(finite)) if finite else (np.inf, -np.inf))
