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
    OffGridError,
    amount_to_lots,
    amount_to_lots_ceil,
    amount_to_lots_floor,
    bps_to_fraction,
    bps_to_ticks,
    fraction_to_bps,
    lots_to_amount,
    ns_to_seconds,
    price_to_ticks,
    price_to_ticks_ceil,
    price_to_ticks_floor,
    price_to_ticks_nearest,
    seconds_to_ns,
    ticks_to_bps,
    ticks_to_price,
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
def test_price_to_ticks_exact_golden(price, tick, ticks):
    assert price_to_ticks(price, tick) == ticks
    assert type(price_to_ticks(price, tick)) is int


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
def test_ticks_to_price_prints_without_noise(ticks, tick, text):
    assert repr(ticks_to_price(ticks, tick)) == text


def test_off_tick_price_raises_and_directed_variants_round():
    with pytest.raises(OffGridError, match="not a multiple"):
        price_to_ticks(3501.25, 0.1)
    assert price_to_ticks_floor(3501.25, 0.1) == 35012
    assert price_to_ticks_ceil(3501.25, 0.1) == 35013
    assert price_to_ticks_floor(-3501.25, 0.1) == -35013
    assert price_to_ticks_ceil(-3501.25, 0.1) == -35012
    # On-grid values are exact in every mode, even when float division is noisy.
    for mode in (price_to_ticks_floor, price_to_ticks_ceil, price_to_ticks_nearest):
        assert mode(0.3, 0.1) == 3
        assert mode(0.7, 0.1) == 7


def test_nearest_rounds_half_to_even():
    assert price_to_ticks_nearest(0.25, 0.1) == 2
    assert price_to_ticks_nearest(0.35, 0.1) == 4
    assert price_to_ticks_nearest(0.1 + 0.2, 0.1) == 3  # float noise from arithmetic
    assert price_to_ticks_nearest(-0.25, 0.1) == -2


@pytest.mark.parametrize("bad", [True, False, None, "1.0", Decimal("1")])
def test_non_numbers_rejected(bad):
    with pytest.raises(TypeError):
        price_to_ticks(bad, 0.1)
    with pytest.raises(TypeError):
        price_to_ticks(1.0, bad)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_rejected(bad):
    with pytest.raises(ValueError, match="finite"):
        price_to_ticks(bad, 0.1)
    with pytest.raises(ValueError, match="finite"):
        seconds_to_ns(bad)
    with pytest.raises(ValueError, match="finite"):
        ticks_to_price(1, bad)


@pytest.mark.parametrize("tick", [0, 0.0, -0.1])
def test_non_positive_tick_rejected(tick):
    with pytest.raises(ValueError, match="positive"):
        price_to_ticks(1.0, tick)
    with pytest.raises(ValueError, match="positive"):
        ticks_to_price(1, tick)


def test_numpy_scalars_accepted():
    assert price_to_ticks(np.float64(3501.2), np.float64(0.1)) == 35012
    assert ticks_to_price(np.int64(35012), 0.1) == 3501.2
    assert lots_to_amount(np.int64(40), 0.001) == 0.04


def test_amount_lots():
    assert amount_to_lots(0.04, 0.001) == 40
    assert amount_to_lots(0.3, 0.1) == 3
    assert lots_to_amount(40, 0.001) == 0.04
    with pytest.raises(OffGridError):
        amount_to_lots(0.0405, 0.001)
    assert amount_to_lots_floor(0.0405, 0.001) == 40
    assert amount_to_lots_ceil(0.0405, 0.001) == 41


@given(ticks=st.integers(-(10**12), 10**12), tick=st.sampled_from(TICKS))
def test_ticks_round_trip(ticks, tick):
    price = ticks_to_price(ticks, tick)
    assert price_to_ticks(price, tick) == ticks
    assert price_to_ticks_floor(price, tick) == ticks
    assert price_to_ticks_ceil(price, tick) == ticks
    # The float is the one nearest to the exact decimal product.
    exact = Fraction(ticks) * Fraction(Decimal(repr(tick)))
    assert Fraction(price) == Fraction(float(exact))
    assert price == float(exact)


@given(price=st.floats(-1e9, 1e9, allow_nan=False), tick=st.sampled_from(TICKS))
def test_directed_rounding_brackets_the_decimal(price, tick):
    exact = Fraction(Decimal(repr(price))) / Fraction(Decimal(repr(tick)))
    lo, hi = price_to_ticks_floor(price, tick), price_to_ticks_ceil(price, tick)
    near = price_to_ticks_nearest(price, tick)
    on_grid = ticks_to_price(lo, tick) == price or ticks_to_price(hi, tick) == price
    if on_grid:
        assert lo == hi == near == price_to_ticks(price, tick)
    else:
        assert lo == math.floor(exact)
        assert hi == math.ceil(exact)
        assert hi == lo + 1
        assert near == round(exact)  # Fraction rounds half to even
        with pytest.raises(OffGridError):
            price_to_ticks(price, tick)


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
    assert bps_to_ticks(10, 650000) == 650.0
    assert ticks_to_bps(650, 650000) == 10.0
    with pytest.raises(ValueError, match="positive"):
        ticks_to_bps(1, 0)
