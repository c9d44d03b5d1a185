"""Market presets: the listings a simulator process serves.

``listing`` is Thalex's (``qengine simulate``'s default); ``quoting`` is the market ``qengine
quote --network sim`` trades on: the same listing with thin outright crowds whose takers reach a
level d ticks from the mid at ``A exp(-kappa d)``, so a quoter near the mid gets filled.
"""

from __future__ import annotations

import dataclasses

from .config import InstrumentSpec, default_instruments
from .listing import thalex_instruments

#: The presets by name (``qengine simulate --market NAME``).
MARKETS = ("listing", "quoting")


def thin_crowds(instruments: tuple[InstrumentSpec, ...]) -> tuple[InstrumentSpec, ...]:
    """Outrights with 5-lot crowd levels and 2 takers per second per side; rolls unchanged."""
    return tuple(
        spec if spec.type == "combination" else
        dataclasses.replace(spec, taker_intensity_per_s=2.0, crowd_level_lots=5,
                            taker_kappa_per_tick=0.05 if spec.tick_size >= 1 else 0.02)
        for spec in instruments)


def market_instruments(market: str, start_s: float, *, perpetuals_only: bool = False
                       ) -> tuple[InstrumentSpec, ...]:
    """The instruments of preset ``market`` (one of ``MARKETS``) for a start at ``start_s``."""
    if market not in MARKETS:
        raise ValueError(f"unknown market {market!r}; expected one of {', '.join(MARKETS)}")
    listed = default_instruments() if perpetuals_only else thalex_instruments(start_s)
    return thin_crowds(listed) if market == "quoting" else listed
