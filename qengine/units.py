"""Exact conversion between exchange units (float prices, amounts, seconds) and integer units.

The exchange writes prices and amounts as decimal JSON numbers; inside the engine they are int64
ticks and lots. Float division mis-rounds decimal values (``0.3 / 0.1 == 2.9999999999999996``), so
every conversion here reasons in decimals:

- a step size such as a tick is read as the decimal its ``repr`` shows (``0.1`` is one tenth),
  ``step = m * 10**-k`` with integers ``m`` and ``k``;
- ``n`` steps convert back with one correctly rounded integer division, ``n * m / 10**k``, so the
  float is the one nearest to the decimal product and prints without noise (``3501.2``);
- a value is "on the grid" when it equals that float for some integer ``n``; otherwise its own
  ``repr`` decimal decides floor, ceiling or nearest.

This module is a leaf: it imports nothing from ``qengine``.
"""

from __future__ import annotations

import math
import numbers
from decimal import Decimal
from functools import lru_cache

__all__ = [
    "NS_PER_S",
    "OffGridError",
    "amount_to_lots",
    "amount_to_lots_ceil",
    "amount_to_lots_floor",
    "bps_to_fraction",
    "bps_to_ticks",
    "fraction_to_bps",
    "lots_to_amount",
    "ns_to_seconds",
    "price_to_ticks",
    "price_to_ticks_ceil",
    "price_to_ticks_floor",
    "price_to_ticks_nearest",
    "seconds_to_ns",
    "ticks_to_bps",
    "ticks_to_price",
]

NS_PER_S = 1_000_000_000
BPS_PER_UNIT = 10_000


class OffGridError(ValueError):
    """A price or amount is not a whole number of ticks or lots."""


def _check_number(value: float, name: str) -> float | int:
    """Return ``value`` as a plain int or float (numpy scalars included), rejecting bad input."""
    kind = type(value)
    if kind is float:  # fast path: exact type checks skip the slow ABC isinstance
        if value - value == 0.0:  # false for NaN and infinities
            return value
        raise ValueError(f"{name} must be finite, got {value!r}")
    if kind is int:
        return value
    # bool is an int subclass; a True price is a bug upstream, never a 1.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if isinstance(value, numbers.Integral):
        return int(value)
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def _decimal_parts(value: float | int) -> tuple[int, int]:
    """Return ``(a, j)`` with ``value == a * 10**-j`` for the decimal that ``repr(value)`` shows."""
    if isinstance(value, int):
        return value, 0
    text = repr(value)
    if "e" not in text and "n" not in text:  # plain "123.456": split it without Decimal
        whole, _, fraction = text.partition(".")
        return int(whole + fraction), len(fraction)
    sign, digits, exponent = Decimal(repr(value)).as_tuple()
    a = int("".join(map(str, digits)))
    if sign:
        a = -a
    if exponent >= 0:
        return a * 10**exponent, 0
    return a, -exponent


@lru_cache(maxsize=256)
def _step_parts(step: float | int) -> tuple[int, int]:
    """Decimal parts ``(m, k)`` of a positive step size, ``step == m * 10**-k``."""
    m, k = _decimal_parts(step)
    if m <= 0:
        raise ValueError(f"step size must be positive, got {step!r}")
    return m, k


def _steps_to_value(n: int, step: float | int) -> float:
    m, k = _step_parts(step)
    # int / int is correctly rounded in CPython: the nearest float to the decimal n * step.
    return (n * m) / 10**k


def _value_to_steps(value: float | int, step: float | int, mode: str) -> int:
    """Convert ``value`` to whole ``step``s; ``mode`` is exact, floor, ceil or nearest."""
    value = _check_number(value, "value")
    step = _check_number(step, "step size")
    m, k = _step_parts(step)
    # Fast path: on-grid values (every exchange price) land within a few ulps of an integer.
    n = round(value / step)
    if _steps_to_value(n, step) == value:
        return n
    a, j = _decimal_parts(value)
    # value / step == (a * 10**k) / (m * 10**j), both integers.
    num = a * 10 ** max(k - j, 0)
    den = m * 10 ** max(j - k, 0)
    if mode == "exact":
        if num % den:
            raise OffGridError(f"{value!r} is not a multiple of step {step!r}")
        return num // den
    if mode == "floor":
        return num // den
    if mode == "ceil":
        return -(-num // den)
    quotient, remainder = divmod(num, den)
    twice = 2 * remainder
    if twice > den or (twice == den and quotient % 2):
        quotient += 1
    return quotient


def price_to_ticks(price: float, tick_size: float) -> int:
    """Convert an exchange price to integer ticks, requiring it to lie on the tick grid.

    Parameters
    ----------
    price : float
        Price in quote currency (e.g. USD), as decoded from JSON.
    tick_size : float
        Instrument tick size in quote currency, > 0.

    Returns
    -------
    int
        Price in ticks.

    Raises
    ------
    OffGridError
        If the price is not a whole number of ticks.
    TypeError, ValueError
        For a non-number (a bool counts as one), NaN/inf or a non-positive tick.
    """
    return _value_to_steps(price, tick_size, "exact")


def price_to_ticks_floor(price: float, tick_size: float) -> int:
    """Price (quote currency) to ticks, rounding down off-grid prices (e.g. a bid limit)."""
    return _value_to_steps(price, tick_size, "floor")


def price_to_ticks_ceil(price: float, tick_size: float) -> int:
    """Price (quote currency) to ticks, rounding up off-grid prices (e.g. an ask limit)."""
    return _value_to_steps(price, tick_size, "ceil")


def price_to_ticks_nearest(price: float, tick_size: float) -> int:
    """Price (quote currency) to the nearest tick, ties to even; for computed, noisy floats."""
    return _value_to_steps(price, tick_size, "nearest")


def ticks_to_price(ticks: int, tick_size: float) -> float:
    """Convert integer ticks to an exchange price without float noise.

    Parameters
    ----------
    ticks : int
        Price in ticks (Python int or numpy integer).
    tick_size : float
        Instrument tick size in quote currency, > 0.

    Returns
    -------
    float
        The float nearest to the decimal ``ticks * tick_size``, e.g. ``35012`` ticks of ``0.1``
        give ``3501.2``.
    """
    return _steps_to_value(int(ticks), _check_number(tick_size, "tick size"))


def amount_to_lots(amount: float, volume_tick: float) -> int:
    """Convert an amount (base currency, e.g. BTC) to lots of ``volume_tick``; off-grid raises."""
    return _value_to_steps(amount, volume_tick, "exact")


def amount_to_lots_floor(amount: float, volume_tick: float) -> int:
    """Amount (base currency) to lots, rounding down; for sizing that must not exceed a budget."""
    return _value_to_steps(amount, volume_tick, "floor")


def amount_to_lots_ceil(amount: float, volume_tick: float) -> int:
    """Amount (base currency) to lots, rounding up; for minimum sizes."""
    return _value_to_steps(amount, volume_tick, "ceil")


def lots_to_amount(lots: int, volume_tick: float) -> float:
    """Convert lots to an amount in base currency without float noise (see ``ticks_to_price``)."""
    return _steps_to_value(int(lots), _check_number(volume_tick, "volume tick"))


def seconds_to_ns(seconds: float) -> int:
    """Convert Unix seconds (float, as the exchange writes them) to integer nanoseconds.

    The decimal that ``repr`` shows is scaled exactly and rounded half to even, so
    ``1767865600.101`` gives ``1767865600101000000`` (float multiplication would be ~100 ns off).

    Parameters
    ----------
    seconds : float
        Time in seconds (finite).

    Returns
    -------
    int
        Time in nanoseconds.
    """
    a, j = _decimal_parts(_check_number(seconds, "seconds"))
    if j <= 9:
        return a * 10 ** (9 - j)
    quotient, remainder = divmod(a, 10 ** (j - 9))
    twice = 2 * remainder
    if twice > 10 ** (j - 9) or (twice == 10 ** (j - 9) and quotient % 2):
        quotient += 1
    return quotient


def ns_to_seconds(ns: int) -> float:
    """Convert integer nanoseconds to float seconds (correctly rounded)."""
    return int(ns) / NS_PER_S


def bps_to_fraction(bps: float) -> float:
    """Basis points to a plain fraction: ``25`` bps -> ``0.0025``."""
    return bps / BPS_PER_UNIT


def fraction_to_bps(fraction: float) -> float:
    """A plain fraction to basis points: ``0.0025`` -> ``25.0`` bps."""
    return fraction * BPS_PER_UNIT


def bps_to_ticks(bps: float, ref_ticks: float) -> float:
    """Distance in ticks (float) equal to ``bps`` basis points of a reference price in ticks."""
    return ref_ticks * bps / BPS_PER_UNIT


def ticks_to_bps(delta_ticks: float, ref_ticks: float) -> float:
    """A distance in ticks as basis points of a reference price in ticks (> 0)."""
    if ref_ticks <= 0:
        raise ValueError(f"reference price must be positive, got {ref_ticks!r} ticks")
    return delta_ticks * BPS_PER_UNIT / ref_ticks
