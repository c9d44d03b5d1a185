"""Ladder: the old bot's numbers by hand, invariants as properties, twin comparison."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qengine.kernels import codes, ladder
from qengine.kernels.dtypes import QUOTE
from qengine.kernels.params import LEGACY_OVERRIDES, make_level_multipliers, make_quote_params
from tests.reference import ladder as twin

MULT = make_level_multipliers([1.0, 1.5, 2.0])


def _build(params, bid0, ask0, inventory=0, sigma=0.01, min_spread=14, levels_allowed=10,
           bid_mult=MULT, ask_mult=MULT, capacity=20):
    out = np.zeros(capacity, QUOTE)
    n = ladder.build_ladder(params, bid_mult, ask_mult, bid0, ask0, min_spread, sigma, inventory,
                            levels_allowed, out)
    return out[:n]


def _side(rows, side):
    return rows[rows["side"] == side]


def test_legacy_defaults_give_offsets_0_8_16_and_0_1_coin_orders():
    rows = _build(make_quote_params(**LEGACY_OVERRIDES), 99_887.0, 100_113.0)
    bids, asks = _side(rows, codes.SIDE_BUY), _side(rows, codes.SIDE_SELL)
    assert list(bids["price_ticks"]) == [99_887, 99_879, 99_871]
    assert list(asks["price_ticks"]) == [100_113, 100_121, 100_129]
    assert list(bids["level"]) == [0, 1, 2]
    # 0.02 x 0.95 x [1, 1.5, 2] = 0.019..0.038 coins -> old floor 0.05 -> forced 0.1 = 100 lots.
    assert set(rows["size_lots"]) == {100}


@pytest.mark.parametrize(
    ("k", "step", "expected"),
    [(1, 7.5, 8), (2, 7.5, 16), (1, 15.0, 16), (2, 15.0, 32), (3, 0.1, 2), (10, 1.0, 135),
     (11, 1.0, 585)],
)
def test_level_offset_by_hand(k, step, expected):
    # k=2, step 15: 30 x 1.1 = 33, /2 = 16.5 -> 16 (half to even) -> 32 ticks.
    # k=10, step 1: 89 x 1.5 = 133.5, unit max(2, 5) = 5: 26.7 -> 27 -> 135 ticks.
    # k=11, step 1: 89 x 2**2 = 356 (the old continuation) x 1.65 = 587.4, /5 -> 117 -> 585.
    assert ladder.level_offset_ticks(k, step) == expected
    assert twin.level_offset_ticks(k, step) == expected


def test_bid_side_near_zero_is_floored_at_two_ticks_and_deduplicated():
    params = make_quote_params(level_count=4, base_step_ticks=15.0)
    rows = _build(params, 3.0, 20.0, min_spread=1)
    assert list(_side(rows, codes.SIDE_BUY)["price_ticks"]) == [3, 2]
    assert len(_side(rows, codes.SIDE_SELL)) == 4


def test_bids_floor_and_asks_ceil_to_ticks():
    rows = _build(make_quote_params(level_count=1), 99.7, 120.2, min_spread=1)
    assert list(rows["price_ticks"]) == [99, 121]


def test_crossed_touch_is_uncrossed_around_its_centre():
    rows = _build(make_quote_params(level_count=1), 110.0, 90.0, min_spread=6)
    assert list(rows["price_ticks"]) == [97, 103]


def test_integer_max_spread_cap():
    params = make_quote_params(level_count=1, max_spread_ticks=50)
    rows = _build(params, 100.5, 300.5, min_spread=10)
    bid, ask = rows["price_ticks"]
    assert ask - bid == 50
    assert (bid, ask) == (175, 225)


def test_ladder_with_max_long_inventory_quotes_no_bids():
    params = make_quote_params(position_limit_lots=1000)
    rows = _build(params, 1000.0, 1100.0, inventory=1000)
    assert len(_side(rows, codes.SIDE_BUY)) == 0
    assert len(_side(rows, codes.SIDE_SELL)) == 3


def test_ladder_with_max_short_inventory_quotes_no_asks():
    params = make_quote_params(position_limit_lots=1000)
    rows = _build(params, 1000.0, 1100.0, inventory=-1000)
    assert len(_side(rows, codes.SIDE_SELL)) == 0
    assert len(_side(rows, codes.SIDE_BUY)) == 3


def test_capacity_cap_cuts_the_adding_side_near_the_limit():
    params = make_quote_params(position_limit_lots=1000, base_size_lots=100, min_order_lots=5)
    rows = _build(params, 1000.0, 1100.0, inventory=950, sigma=0.0)
    # Room 50 lots; bid size 100 x max(0.2, 1 - 0.8 x 0.95) = 24, then 36 cut to 26, then none.
    assert list(_side(rows, codes.SIDE_BUY)["size_lots"]) == [24, 26]
    assert len(_side(rows, codes.SIDE_SELL)) == 3


def test_inventory_asymmetric_sizes_and_separate_multipliers():
    params = make_quote_params(position_limit_lots=1000, base_size_lots=100)
    rows = _build(params, 1000.0, 1100.0, inventory=500, sigma=0.0,
                  bid_mult=make_level_multipliers([1.0, 2.0, 3.0]),
                  ask_mult=make_level_multipliers([1.0]))
    # r = 0.5: bids x max(0.2, 0.6) = 60 lots, asks x min(1.5, 1.25) = 125 lots.
    assert list(_side(rows, codes.SIDE_BUY)["size_lots"]) == [60, 120, 180]
    assert list(_side(rows, codes.SIDE_SELL)["size_lots"]) == [125, 125, 125]


def test_levels_allowed_and_capacity_limit_the_levels():
    params = make_quote_params(level_count=5)
    assert len(_build(params, 1000.0, 1100.0, levels_allowed=2)) == 4
    assert len(_build(params, 1000.0, 1100.0, levels_allowed=0)) == 0
    assert len(_build(params, 1000.0, 1100.0, capacity=6)) == 6


@pytest.mark.parametrize(("bid0", "ask0"), [(math.nan, 100.0), (100.0, math.inf)])
def test_non_finite_touch_quotes_nothing(bid0, ask0):
    assert len(_build(make_quote_params(), bid0, ask0)) == 0


ladder_cases = st.fixed_dictionaries(
    {
        "level_count": st.integers(0, 8),
        "base_step_ticks": st.floats(0.0, 40.0),
        "max_spread_ticks": st.integers(0, 400),
        "position_limit_lots": st.integers(0, 5000),
        "base_size_lots": st.integers(0, 300),
        "min_order_lots": st.integers(0, 50),
        "min_level_lots": st.integers(0, 80),
        "step_vol_reference_per_sqrt_s": st.floats(0.0, 0.05),
    }
)


@given(
    fields=ladder_cases,
    bid0=st.one_of(st.floats(-50.0, 1e6), st.just(math.nan)),
    width=st.floats(-50.0, 500.0),
    min_spread=st.integers(-5, 200),
    sigma=st.one_of(st.floats(0.0, 0.2), st.just(math.nan)),
    inventory_frac=st.one_of(st.floats(-1.2, 1.2), st.sampled_from([-1.0, 0.0, 1.0])),
    levels_allowed=st.integers(-1, 9),
    bid_mult=st.lists(st.floats(0.0, 5.0), max_size=6),
    ask_mult=st.lists(st.floats(0.0, 5.0), max_size=6),
    capacity=st.integers(0, 20),
)
def test_ladder_invariants_and_twin(fields, bid0, width, min_spread, sigma, inventory_frac,
                                    levels_allowed, bid_mult, ask_mult, capacity):
    params = make_quote_params(**fields)
    limit = fields["position_limit_lots"]
    inventory = round(inventory_frac * limit)
    bm, am = make_level_multipliers(bid_mult), make_level_multipliers(ask_mult)
    args = (bid0, bid0 + width, min_spread, sigma, inventory, levels_allowed)
    got = np.zeros(capacity, QUOTE)
    want = np.zeros(capacity, QUOTE)
    n = ladder.build_ladder(params, bm, am, *args, got)
    assert n == twin.build_ladder(params, bm, am, *args, want)
    assert got[:n].tolist() == want[:n].tolist()

    rows = got[:n]
    bids, asks = _side(rows, codes.SIDE_BUY), _side(rows, codes.SIDE_SELL)
    assert list(rows["side"]) == sorted(rows["side"])  # bids then asks
    assert (rows["price_ticks"] >= 1).all()
    assert (rows["size_lots"] >= max(1, fields["min_order_lots"])).all()
    if len(bids) and len(asks):
        assert bids["price_ticks"].max() < asks["price_ticks"].min()
    assert (np.diff(bids["price_ticks"]) < 0).all()
    assert (np.diff(asks["price_ticks"]) > 0).all()
    assert bids["size_lots"].sum() <= max(0, limit - inventory)
    assert asks["size_lots"].sum() <= max(0, limit + inventory)
    if inventory >= limit:
        assert len(bids) == 0
    if inventory <= -limit:
        assert len(asks) == 0
    per_side = min(fields["level_count"], levels_allowed, capacity // 2)
    assert len(bids) <= max(0, per_side)
    assert len(asks) <= max(0, per_side)
    if len(bids) and len(asks) and bids["level"][0] == 0 and asks["level"][0] == 0:
        touch = asks["price_ticks"][0] - bids["price_ticks"][0]
        floor = max(1, min_spread)
        assert touch >= floor
        assert touch <= max(fields["max_spread_ticks"], floor)


def test_levels_and_sizes_stay_inside_the_narrow_quote_fields():
    # 300 levels asked for, sizes of 3e9 lots: QUOTE.level is int8 and size_lots int32, so the
    # ladder stops at level LEVEL_MAX and caps sizes at LOTS_MAX instead of letting them wrap.
    params = make_quote_params(level_count=300, base_step_ticks=1e-35, position_limit_lots=10**15,
                               base_size_lots=3 * 10**9)
    flat = make_level_multipliers([1.0])
    out, out_twin = np.zeros(600, QUOTE), np.zeros(600, QUOTE)
    n = ladder.build_ladder(params, flat, flat, 1e9, 1e9 + 20, 14, 0.0, 0, 300, out)
    n_twin = twin.build_ladder(params, flat, flat, 1e9, 1e9 + 20, 14, 0.0, 0, 300, out_twin)
    assert n == n_twin > 0
    assert out[:n].tolist() == out_twin[:n].tolist()
    assert out[:n]["level"].min() == 0
    assert out[:n]["level"].max() == codes.LEVEL_MAX
    assert set(out[:n]["size_lots"].tolist()) == {codes.LOTS_MAX}
