"""Every record layout used by the kernels, in one place.

Each record is an aligned structured dtype (``align=True``) whose field names carry their units:
``*_ticks`` prices in integer ticks (float64 ``*_ticks`` only for estimator inputs such as a
mid that can sit on a half tick), ``*_lots`` sizes in integer volume ticks, ``*_ns`` integer
nanoseconds, ``*_s`` seconds. Each dtype has a numba array type (suffix ``_T``) used in kernel
signatures; arrays passed to kernels must be 1-D and C-contiguous.

Sections are owned by the kernel module named in their heading; edit only your own section.
"""

from __future__ import annotations

import numba
import numpy as np


def _array_type(dtype: np.dtype) -> numba.types.Array:
    return numba.from_dtype(dtype)[::1]


# --- ring.py -------------------------------------------------------------------------------------

#: One market observation: top of book and the mid derived from it.
MARKET_SAMPLE = np.dtype(
    [
        ("time_ns", np.int64),
        ("mid_ticks", np.float64),
        ("best_bid_ticks", np.int64),
        ("best_ask_ticks", np.int64),
        ("best_bid_lots", np.int64),
        ("best_ask_lots", np.int64),
    ],
    align=True,
)
MARKET_SAMPLE_T = _array_type(MARKET_SAMPLE)

#: Write cursor of a ring: next slot to write and how many slots hold data.
RING_CURSOR = np.dtype([("head", np.int64), ("count", np.int64)], align=True)
RING_CURSOR_T = _array_type(RING_CURSOR)

# --- volatility.py -------------------------------------------------------------------------------

# --- intensity.py --------------------------------------------------------------------------------

# --- avellaneda.py / ladder.py / pipeline.py -----------------------------------------------------

#: One desired quote of the ladder (also the shape the order diff consumes). ``side`` is a
#: ``codes.SIDE_*``; ``level`` counts from 0 at the touch side of our ladder.
QUOTE = np.dtype(
    [("side", np.int64), ("level", np.int64), ("price_ticks", np.int64), ("size_lots", np.int64)],
    align=True,
)
QUOTE_T = _array_type(QUOTE)

# --- candles.py / vamp.py ------------------------------------------------------------------------

# --- orders.py / position.py / risk.py -----------------------------------------------------------
