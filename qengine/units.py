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
    "StepGrid",
    "amount_to_lots_ceil",
    "bps_to_fraction",
    "fraction_to_bps",
    "ns_to_seconds",
    "price_to_ticks_nearest",
    "seconds_to_ns",
]

NS_PER_S = 1_000_000_000
BPS_PER_UNIT = 10_000


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
    """Convert ``value`` to whole ``step``s; ``mode`` is ceil or nearest."""
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
    if mode == "ceil":
        return -(-num // den)
    quotient, remainder = divmod(num, den)
    twice = 2 * remainder
    if twice > den or (twice == den and quotient % 2):
        quotient += 1
    return quotient


class StepGrid:
    """One step size (a tick or a volume tick) with exact, fast conversions to whole steps.

    Built once per instrument: the step's decimal parts are kept, so an on-grid value (every
    exchange price and amount) converts with one division and one check, and ``n`` steps convert
    back to the float nearest the decimal ``n * step`` (``35012`` ticks of ``0.1``: ``3501.2``).
    """

    __slots__ = ("_m", "_scale", "decimal_parts", "step")

    def __init__(self, step: float) -> None:
        self.step = _check_number(step, "step size")
        self._m, k = _step_parts(self.step)
        self._scale = 10**k
        #: ``(m, k)`` with ``step == m * 10**-k`` (the decimal its ``repr`` shows).
        self.decimal_parts = (self._m, k)

    def nearest(self, value: float) -> int:
        """Whole steps nearest to ``value`` (off-grid: by its decimal, ties to even)."""
        if type(value) is float and value - value == 0.0:
            n = round(value / self.step)
            if (n * self._m) / self._scale == value:
                return n
        return _value_to_steps(value, self.step, "nearest")

    def ceil(self, value: float) -> int:
        """Whole steps at or above ``value`` (for minimum sizes)."""
        return _value_to_steps(value, self.step, "ceil")

    def in_steps(self, value: float) -> float:
        """``value`` in (fractional) steps, for estimates off the grid such as a mark price."""
        return value / self.step

    @property
    def decimal(self) -> tuple[int, int]:
        """The step as ``(m, k)``, integers with ``step == m * 10**-k`` (its ``repr`` decimal)."""
        return _step_parts(self.step)

    def value(self, steps: int) -> float:
        """The float nearest to the decimal ``steps * step`` (prints without noise)."""
        return (int(steps) * self._m) / self._scale


def price_to_ticks_nearest(price: float, tick_size: float) -> int:
    """Price (quote currency) to the nearest tick, ties to even; for computed, noisy floats."""
    return _value_to_steps(price, tick_size, "nearest")


def amount_to_lots_ceil(amount: float, volume_tick: float) -> int:
    """Amount (base currency) to lots, rounding up; for minimum sizes."""
    return _value_to_steps(amount, volume_tick, "ceil")


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
