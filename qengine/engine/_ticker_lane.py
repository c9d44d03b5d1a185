"""The ticker lane: the quoted instrument's ticker from raw frame bytes to the book, no objects.

io hands the newest push of the engine's own ticker channel over unparsed (its session is built
with ``raw_market=(ticker_channel(spec),)``); ``kernels.ticker_wire`` decodes it into this
lane's two small arrays, alone (:meth:`TickerLane.decode`) or together with the pacing question
and the quote cycle (``ticker_tick``, called by the quoter). The listener writes the book from
the arrays. A frame the kernel does not take is decoded by io's decoder, as before.
"""

from __future__ import annotations

import numpy as np

from ..kernels import codes
from ..kernels._jit import entry_point
from ..kernels.ticker_wire import (
    GRID_LOT_K,
    GRID_LOT_M,
    GRID_TICK_K,
    GRID_TICK_M,
    ticker_decode,
)
from ..strategy.setup import InstrumentSpec

__all__ = ["TickerLane", "ticker_channel"]


def ticker_channel(spec: InstrumentSpec) -> str:
    """The quoted instrument's ticker channel (every tick: ``raw``)."""
    return f"ticker.{spec.name}.raw"


class TickerLane:
    """The wire decoder's inputs (channel name, grids) and outputs for one instrument.

    ``ticks`` holds ``(bid_ticks, ask_ticks, bid_lots, ask_lots)``, ``values`` holds
    ``(mark_ticks, index_price, collar_low_ticks, collar_high_ticks, mark_timestamp)`` after a
    decode (``ticker_wire.OUT_*``); ``args`` is what follows the frame in the kernels' calls.
    """

    def __init__(self, spec: InstrumentSpec) -> None:
        self.channel = ticker_channel(spec).encode()
        grid = np.zeros(4, np.int64)
        grid[GRID_TICK_M], grid[GRID_TICK_K] = spec.price_grid.decimal_parts
        grid[GRID_LOT_M], grid[GRID_LOT_K] = spec.lot_grid.decimal_parts
        self.ticks = np.zeros(4, np.int64)
        self.values = np.zeros(5, np.float64)
        self.args = (self.channel, grid, float(spec.price_grid.step), self.ticks, self.values)
        self._decode = entry_point(ticker_decode, b"", *self.args)

    def decode(self, frame: bytes) -> bool:
        """Decode ``frame`` into ``ticks`` and ``values``; False when io's decoder must."""
        return self._decode(frame, *self.args) == codes.WIRE_OK
