"""Exact unit conversion: decimal prices and amounts to ticks and lots, seconds to ns, bps."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qengine.units import (
    StepGrid,
    amount_to_lots_ceil,
    bps_to_fraction,
    fraction_to_bps,
    ns_to_seconds,
    price_to_ticks_nearest,
    seconds_to_ns,
)

TICKS = [1.0, 0.1, 0.5, 2.5, 0.01, 0.001, 0.0001, 5, 1e-8, 0.05]


@pytest.mark.parametrize(
    ("price", "tick", "ticks"),
    [
        (0.3, 0.1, 3),  # 0.3 / 0.1 == 2.9999999999999996 in floats
        (3501.2, 0.1, 35012),
        (65005, 1.0, 65005),
        (65005.0, 1, 65005),
        (64998.5, 0.5, 129997),
        (-12.5, 2.5, -5),  # roll spreads may be negative
        (0.0, 0.1, 0),
        (1.1, 0.1, 11),
        (0.7, 0.1, 7),
        (123456.789, 0.001, 123456789),
    ],
)
def test_grid_nearest_is_exact_on_the_grid(price, tick, ticks):
    assert StepGrid(tick).nearest(price) == ticks
    assert type(StepGrid(tick).nearest(price)) is int
    assert price_to_ticks_nearest(price, tick) == ticks


@pytest.mark.parametrize(
    ("ticks", "tick", "text"),
    [
        (35012, 0.1, "3501.2"),
        (3, 0.1, "0.3"),
        (129997, 0.5, "64998.5"),
        (7, 0.01, "0.07"),
        (-5, 2.5, "-12.5"),
        (123456789, 0.001, "123456.789"),
        (1, 1e-8, "1e-08"),
    ],
)
def test_grid_value_prints_without_noise(ticks, tick, text):
    assert repr(StepGrid(tick).value(ticks)) == text


def test_off_grid_values_round_by_their_decimal():
    grid = StepGrid(0.1)
    assert grid.nearest(3501.25) == 35012  # half to even
    assert grid.ceil(3501.25) == 35013
    assert grid.ceil(-3501.25) == -35012
    # On-grid values are exact, even when float division is noisy.
    for mode in (grid.nearest, grid.ceil):
        assert mode(0.3) == 3
        assert mode(0.7) == 7
    assert grid.in_steps(3501.25) == pytest.approx(35012.5)


def test_nearest_rounds_half_to_even():
    assert price_to_ticks_nearest(0.25, 0.1) == 2
    assert price_to_ticks_nearest(0.35, 0.1) == 4
    assert price_to_ticks_nearest(0.1 + 0.2, 0.1) == 3  # float noise from arithmetic
    assert price_to_ticks_nearest(-0.25, 0.1) == -2
    assert StepGrid(0.1).nearest(0.35) == 4


@pytest.mark.parametrize("bad", [True, False, None, "1.0", Decimal("1")])
def test_non_numbers_rejected(bad):
    with pytest.raises(TypeError):
        price_to_ticks_nearest(bad, 0.1)
    with pytest.raises(TypeError):
        price_to_ticks_nearest(1.0, bad)
    with pytest.raises(TypeError):
        StepGrid(bad)
    with pytest.raises(TypeError):
        StepGrid(0.1).nearest(bad)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_rejected(bad):
    with pytest.raises(ValueError, match="finite"):
        price_to_ticks_nearest(bad, 0.1)
    with pytest.raises(ValueError, match="finite"):
        StepGrid(0.1).nearest(bad)
    with pytest.raises(ValueError, match="finite"):
        seconds_to_ns(bad)
    with pytest.raises(ValueError, match="finite"):
        StepGrid(bad)


@pytest.mark.parametrize("tick", [0, 0.0, -0.1])
def test_non_positive_tick_rejected(tick):
    with pytest.raises(ValueError, match="positive"):
        price_to_ticks_nearest(1.0, tick)
    with pytest.raises(ValueError, match="positive"):
        StepGrid(tick)


def test_numpy_scalars_accepted():
    assert price_to_ticks_nearest(np.float64(3501.2), np.float64(0.1)) == 35012
    assert StepGrid(np.float64(0.1)).nearest(np.float64(3501.2)) == 35012
    assert StepGrid(0.1).value(np.int64(35012)) == 3501.2
    assert StepGrid(0.001).value(np.int64(40)) == 0.04


def test_amount_lots():
    lots = StepGrid(0.001)
    assert lots.nearest(0.04) == 40
    assert StepGrid(0.1).nearest(0.3) == 3
    assert lots.value(40) == 0.04
    assert lots.ceil(0.0405) == amount_to_lots_ceil(0.0405, 0.001) == 41


@given(ticks=st.integers(-(10**12), 10**12), tick=st.sampled_from(TICKS))
def test_ticks_round_trip(ticks, tick):
    grid = StepGrid(tick)
    price = grid.value(ticks)
    assert grid.nearest(price) == ticks
    assert grid.ceil(price) == ticks
    # The float is the one nearest to the exact decimal product.
    exact = Fraction(ticks) * Fraction(Decimal(repr(tick)))
    assert Fraction(price) == Fraction(float(exact))
    assert price == float(exact)


@given(price=st.floats(-1e9, 1e9, allow_nan=False), tick=st.sampled_from(TICKS))
def test_rounding_follows_the_decimal(price, tick):
    grid = StepGrid(tick)
    exact = Fraction(Decimal(repr(price))) / Fraction(Decimal(repr(tick)))
    hi, near = grid.ceil(price), grid.nearest(price)
    if grid.value(hi) == price:
        assert near == hi
    else:
        assert hi == math.ceil(exact)
        assert near == round(exact)  # Fraction rounds half to even
        assert near == price_to_ticks_nearest(price, tick)


@pytest.mark.parametrize(
    ("seconds", "ns"),
    [
        (1767865600.101, 1767865600101000000),
        (1702583649.379417, 1702583649379417000),
        (0, 0),
        (1, 1_000_000_000),
        (1.5e-9, 2),  # half to even
        (2.5e-9, 2),
        (3.5e-9, 4),
        (-1.25, -1_250_000_000),
    ],
)
def test_seconds_to_ns_golden(seconds, ns):
    assert seconds_to_ns(seconds) == ns


@given(st.integers(0, 4 * 10**18))
def test_ns_seconds_close(ns):
    seconds = ns_to_seconds(ns)
    assert seconds == ns / 1e9 or abs(seconds - ns / 1e9) <= 1e-9
    assert abs(seconds_to_ns(seconds) - ns) <= max(1, ns * 2**-52)


def test_bps_helpers():
    assert bps_to_fraction(25) == 0.0025
    assert fraction_to_bps(0.0025) == 25.0
