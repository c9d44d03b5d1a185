"""The event row of recorded market data (hftbacktest's 64-byte layout and flag bits), as the
backtester reads it. The definitions live in the leaf module :mod:`qengine.event_rows`, shared
with the simulator's recorder, which writes the same rows."""

from __future__ import annotations

from ..event_rows import (
    ADD_ORDER_EVENT,
    BUY_EVENT,
    CANCEL_ORDER_EVENT,
    DEPTH_BBO_EVENT,
    DEPTH_CLEAR_EVENT,
    DEPTH_EVENT,
    DEPTH_SNAPSHOT_EVENT,
    EVENT_DTYPE,
    EXCH_EVENT,
    FILL_EVENT,
    KIND_MASK,
    LOCAL_EVENT,
    MODIFY_ORDER_EVENT,
    SELL_EVENT,
    TRADE_EVENT,
)

__all__ = ["ADD_ORDER_EVENT", "BUY_EVENT", "CANCEL_ORDER_EVENT", "DEPTH_BBO_EVENT",
           "DEPTH_CLEAR_EVENT", "DEPTH_EVENT", "DEPTH_SNAPSHOT_EVENT", "EVENT_DTYPE", "EXCH_EVENT",
           "FILL_EVENT", "KIND_MASK", "LOCAL_EVENT", "MODIFY_ORDER_EVENT", "SELL_EVENT",
           "TRADE_EVENT"]
