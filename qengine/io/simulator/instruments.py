"""Runtime view of an instrument: exact tick/lot conversion at the JSON boundary.

Inside the simulator prices are int ticks and sizes int lots (volume ticks); floats appear only
when parsing requests and writing replies. Money uses ``Fraction`` built from the decimal text of
the tick sizes, so fees and PnL are exact.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from .config import InstrumentSpec
from .errors import BAD_AMOUNT, NON_POSITIVE_PRICE, PRICE_NOT_ALIGNED, RpcError

_ALIGN_TOLERANCE = 1e-9


def _decimals(step: float) -> int:
    text = repr(float(step))
    if "e-" in text:
        return int(text.split("e-")[1]) + 2
    return len(text.split(".")[1].rstrip("0")) if "." in text else 0


class Instrument:
    """An instrument spec plus conversion helpers.

    Parameters
    ----------
    spec : InstrumentSpec
        The configured instrument.
    create_time_s : float
        Unix seconds reported as ``create_time``.
    legs : tuple of (Instrument, int)
        A combination's leg instruments and quantities (empty for an outright).
    """

    __slots__ = ("_amount_decimals", "_price_decimals", "create_time_s", "legs", "lot",
                 "min_lots", "name", "spec", "tick")

    def __init__(self, spec: InstrumentSpec, create_time_s: float,
                 legs: tuple[tuple[Instrument, int], ...] = ()) -> None:
        self.spec = spec
        self.legs = legs
        self.name = spec.instrument_name
        self.tick = Fraction(repr(float(spec.tick_size)))
        self.lot = Fraction(repr(float(spec.volume_tick_size)))
        self.min_lots = round(spec.min_order_amount / spec.volume_tick_size)
        self._price_decimals = _decimals(spec.tick_size)
        self._amount_decimals = _decimals(spec.volume_tick_size)
        self.create_time_s = create_time_s

    # ---- parsing (requests) ---------------------------------------------------------------
    @property
    def is_combination(self) -> bool:
        """True for a roll (its price, a difference of legs, may be zero or negative)."""
        return bool(self.legs)

    def price_to_ticks(self, price: float) -> int:
        """Exact ticks of a tick-aligned price, positive for outrights; RpcError 13 or 15."""
        if price <= 0.0 and not self.legs:
            raise RpcError(NON_POSITIVE_PRICE, "price must be positive")
        return self.aligned_ticks(price)

    def aligned_ticks(self, price: float) -> int:
        """Ticks of a tick-aligned price of any sign; RpcError 15 when off the grid."""
        ticks = round(price / self.spec.tick_size)
        if abs(ticks * self.spec.tick_size - price) > _ALIGN_TOLERANCE * max(1.0, abs(price)):
            raise RpcError(PRICE_NOT_ALIGNED, "price not aligned with tick size")
        return ticks

    def amount_to_lots(self, amount: float, *, allow_zero: bool = False) -> int:
        """Exact lots of an aligned amount at or above the minimum; RpcError 14 otherwise."""
        if amount == 0.0 and allow_zero:
            return 0
        lots = round(amount / self.spec.volume_tick_size)
        off = abs(lots * self.spec.volume_tick_size - amount) > _ALIGN_TOLERANCE * max(1.0, amount)
        if amount <= 0.0 or off:
            raise RpcError(BAD_AMOUNT, "amount not aligned with volume tick size")
        if lots < self.min_lots:
            raise RpcError(BAD_AMOUNT, "amount below minimum order amount")
        return lots

    # ---- formatting (replies) -------------------------------------------------------------
    def price(self, ticks: int) -> float:
        """Price in USD of ``ticks``, without float noise."""
        return round(ticks * self.spec.tick_size, self._price_decimals)

    def amount(self, lots: int) -> float:
        """Amount in coin units of ``lots``, without float noise."""
        return round(lots * self.spec.volume_tick_size, self._amount_decimals)

    def to_json(self) -> dict[str, Any]:
        """The Instrument object of thalex-protocol.md section 5."""
        spec = self.spec
        out: dict[str, Any] = {
            "instrument_name": spec.instrument_name,
            "product": spec.product,
            "tick_size": spec.tick_size,
            "volume_tick_size": spec.volume_tick_size,
            "min_order_amount": spec.min_order_amount,
            "underlying": spec.underlying,
            "type": spec.type,
            "base_currency": "USD",
            "create_time": self.create_time_s,
        }
        if spec.expiry_date is not None:
            out["expiry_date"] = spec.expiry_date
            out["expiration_timestamp"] = spec.expiration_timestamp
        if self.legs:
            out["legs"] = [{"instrument_name": leg.name, "quantity": quantity}
                           for leg, quantity in self.legs]
        return out

    def matches_filter(self, underlying: str | None, instrument_type: str | None,
                       expiry_date: str | None) -> bool:
        """Filters of ``public/instruments``: ``futures`` (perpetuals included) or
        ``future_rolls``; the simulator lists no options."""
        if underlying is not None and underlying != self.spec.underlying:
            return False
        if instrument_type is not None and \
                instrument_type != ("future_rolls" if self.legs else "futures"):
            return False
        return expiry_date is None or expiry_date == self.spec.expiry_date

