"""quote_cycle = pipeline + diff in one call: against its twin, and the no-price safety rule."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from qengine.kernels import codes, orders, quote_cycle
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
from qengine.kernels.params import make_level_multipliers, make_quote_params
from tests.reference import quote_cycle as twin

S = 1_000_000_000
MULT = make_level_multipliers([1.0, 1.5, 2.0])


class World:
    def __init__(self, resting):
        self.samples = np.zeros(16, MARKET_SAMPLE)
        self.cursor = np.zeros(1, RING_CURSOR)
        self.vol_state = np.zeros(1, VOL_STATE)
        self.vol_returns = np.zeros(16, VOL_RETURN)
        self.intensity_state = np.zeros(2, INTENSITY_STATE)
        self.orders = np.zeros(16, ORDER)
        self.quotes = np.zeros(12, QUOTE)
        self.diag = np.zeros(1, QUOTE_DIAG)
        self.actions = np.zeros(32, ACTION)
        for cid, (side, level, price, lots) in enumerate(resting, start=1):
            slot = orders.order_reserve(self.orders, cid, 0, side, level, price, lots, 0)
            assert slot >= 0
            orders.order_apply_update(self.orders, cid, 1000 + cid, codes.ORDER_UPDATE_LIVE,
                                      price, lots, 0, 0)

    def run(self, fn, params, time_ns, bid, ask, inventory):
        state = (self.samples, self.cursor, self.vol_state, self.vol_returns, self.intensity_state)
        n = fn((params, MULT, MULT), state, (time_ns, bid, ask, 3, 4, inventory, 5),
               (self.quotes, self.diag), self.orders, 0, 2, self.actions)
        return n, self.actions[: max(n, 0)].tolist(), self.diag.copy()[0]


resting_order = st.tuples(
    st.sampled_from([codes.SIDE_BUY, codes.SIDE_SELL]),
    st.integers(0, 3),
    st.integers(99_800, 100_200),
    st.integers(1, 200),
)


@given(
    model=st.sampled_from([codes.MODEL_AS, codes.MODEL_GLFT, codes.MODEL_LEGACY]),
    resting=st.lists(resting_order, max_size=6),
    moves=st.lists(st.tuples(st.integers(1, 2 * S), st.integers(-8, 8), st.booleans()),
                   min_size=1, max_size=10),
    inventory=st.integers(-3000, 3000),
)
def test_quote_cycle_matches_its_twin(model, resting, moves, inventory):
    params = make_quote_params(model_code=model, level_count=3, position_limit_lots=2000)
    kernel_world, twin_world = World(resting), World(resting)
    now, mid = 10 * S, 100_000
    for dt, move, one_sided in moves:
        now += dt
        mid += move
        bid, ask = mid - 5, mid + 5
        if one_sided:
            ask = 0
        got = kernel_world.run(quote_cycle.quote_cycle, params, now, bid, ask, inventory)
        want = kernel_world_run = twin_world.run(twin.quote_cycle, params, now, bid, ask,
                                                 inventory)
        assert got[0] == want[0]
        assert got[1] == want[1]
        np.testing.assert_allclose(np.array(got[2].tolist(), float),
                                   np.array(kernel_world_run[2].tolist(), float),
                                   rtol=1e-9, atol=1e-12, equal_nan=True)


def test_unpriceable_book_cancels_every_live_order():
    resting = [(codes.SIDE_BUY, 0, 99_990, 20), (codes.SIDE_SELL, 0, 100_010, 20)]
    world = World(resting)
    params = make_quote_params(level_count=3, position_limit_lots=2000)
    n, actions, diag = world.run(quote_cycle.quote_cycle, params, S, 99_990, 0, 0)
    assert diag["quote_count"] == 0
    assert n == 2
    assert {a[0] for a in actions} == {codes.ACTION_CANCEL}


def test_priced_book_inserts_the_full_ladder_when_no_orders_rest():
    world = World([])
    params = make_quote_params(level_count=3, position_limit_lots=2000)
    n, actions, diag = world.run(quote_cycle.quote_cycle, params, S, 99_995, 100_005, 0)
    assert diag["quote_count"] == 6
    assert n == 6
    assert [a[0] for a in actions] == [codes.ACTION_INSERT] * 6
