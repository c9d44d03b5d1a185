"""The instruments a quoting backtest knows by name: tick, lot, minimum order, contract and fees.

- ``BTCUSDT`` / ``ETHUSDT``: the Binance USD-M perpetuals of the shared recordings
  (``data/binance-usdm/README.md``: tick 0.1 / 0.01, lot 0.001), with the fees the backtest
  reference runs with (``backtest-reference.md``: maker -0.5 bp, a rebate; taker 7 bp).
- ``BTC-PERPETUAL`` / ``ETH-PERPETUAL``: Thalex's published contract specifications (tick 1 / 0.1
  USD, volume tick and minimum order 0.001 / 0.01; one contract is one coin at 1 USD per index
  point) and the fee rates the engine and the simulator assume (maker 2 bp, taker 5 bp).

Any other instrument is an :class:`Instrument` built by the caller (validated on construction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import ConfigError

__all__ = ["INSTRUMENTS", "Instrument", "resolve_instrument"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Instrument:
    """One tradable contract. Sizes are in coins, fees a fraction of traded value (negative:
    a rebate), ``contract_size`` coins per unit of amount."""

    name: str
    tick_size: float
    lot_size: float
    min_order_lots: int = 1
    contract_size: float = 1.0
    inverse: bool = False
    maker_fee: float = 0.0
    taker_fee: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError(f"instrument name must be a non-empty string, got {self.name!r}")
        for key in ("tick_size", "lot_size", "contract_size"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                    math.isfinite(value) and value > 0):
                raise ConfigError(f"instrument {self.name}: {key} must be a finite number > 0, "
                                  f"got {value!r}")
        for key in ("maker_fee", "taker_fee"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not (
                    math.isfinite(value) and -0.01 < value < 0.01):
                raise ConfigError(f"instrument {self.name}: {key} must be a fraction of traded "
                                  f"value between -0.01 and 0.01, got {value!r}")
        lots = self.min_order_lots
        if isinstance(lots, bool) or not isinstance(lots, int) or lots < 1:
            raise ConfigError(f"instrument {self.name}: min_order_lots must be an int >= 1, "
                              f"got {lots!r}")
        if not isinstance(self.inverse, bool):
            raise ConfigError(f"instrument {self.name}: inverse must be a bool")


INSTRUMENTS: dict[str, Instrument] = {
    i.name: i
    for i in (
        Instrument(name="BTCUSDT", tick_size=0.1, lot_size=0.001, maker_fee=-0.00005,
                   taker_fee=0.0007),
        Instrument(name="ETHUSDT", tick_size=0.01, lot_size=0.001, maker_fee=-0.00005,
                   taker_fee=0.0007),
        Instrument(name="BTC-PERPETUAL", tick_size=1.0, lot_size=0.001, maker_fee=0.0002,
                   taker_fee=0.0005),
        Instrument(name="ETH-PERPETUAL", tick_size=0.1, lot_size=0.01, maker_fee=0.0002,
                   taker_fee=0.0005),
    )
}


def resolve_instrument(instrument: str | Instrument) -> Instrument:
    """The :class:`Instrument` named ``instrument`` in :data:`INSTRUMENTS` (or ``instrument``).

    Raises
    ------
    ConfigError
        For an unknown name (the known ones are listed) or another type.
    """
    if isinstance(instrument, Instrument):
        return instrument
    if isinstance(instrument, str):
        found = INSTRUMENTS.get(instrument)
        if found is None:
            raise ConfigError(f"unknown instrument {instrument!r}; the table has "
                              f"{', '.join(sorted(INSTRUMENTS))} (or pass an Instrument)")
        return found
    raise ConfigError(
        f"instrument must be a name or an Instrument, got {type(instrument).__name__}")
