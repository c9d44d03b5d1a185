"""The event row of recorded market data: hftbacktest's 64-byte layout and flag bits.

qengine reads and writes the same rows as hftbacktest (``ev, exch_ts, local_ts, px, qty,
order_id, ival, fval``), so every converter hftbacktest's users have (Binance, Bybit, Tardis,
Databento, ...) feeds qengine's backtester too. Times are integer nanoseconds.

A leaf module (numpy only): the backtester reads these rows (``qengine.backtest.events``
re-exports them) and the simulator's recorder (``qengine.sim.recorder``) writes them, without
either importing the other.
"""

from __future__ import annotations

import numpy as np

EVENT_DTYPE = np.dtype(
    [
        ("ev", "<u8"),
        ("exch_ts", "<i8"),
        ("local_ts", "<i8"),
        ("px", "<f8"),
        ("qty", "<f8"),
        ("order_id", "<u8"),
        ("ival", "<i8"),
        ("fval", "<f8"),
    ],
    align=True,
)
assert EVENT_DTYPE.itemsize == 64

# Event kinds (the low byte of ``ev``).
DEPTH_EVENT = 1
TRADE_EVENT = 2
DEPTH_CLEAR_EVENT = 3
DEPTH_SNAPSHOT_EVENT = 4
DEPTH_BBO_EVENT = 5
ADD_ORDER_EVENT = 10
CANCEL_ORDER_EVENT = 11
MODIFY_ORDER_EVENT = 12
FILL_EVENT = 13
KIND_MASK = 0xFF

# Flag bits: which side of the simulation sees the row, and the book side / taker side.
EXCH_EVENT = 1 << 31
LOCAL_EVENT = 1 << 30
BUY_EVENT = 1 << 29
SELL_EVENT = 1 << 28
