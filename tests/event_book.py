"""A book rebuilt from event rows, in ticks and lots, as the backtester's local side reads them
(for tests that check what a recording holds)."""

from __future__ import annotations

from typing import Any

from qengine.backtest.events import (
    BUY_EVENT,
    DEPTH_CLEAR_EVENT,
    DEPTH_EVENT,
    DEPTH_SNAPSHOT_EVENT,
    KIND_MASK,
    SELL_EVENT,
)


class EventBook:
    """Levels per side from DEPTH, DEPTH_SNAPSHOT and DEPTH_CLEAR rows (a clear deletes its
    side's levels from its price to the best, as hftbacktest's depth does)."""

    def __init__(self, tick_size: float, lot_size: float) -> None:
        self.tick_size = tick_size
        self.lot_size = lot_size
        self.sides: dict[int, dict[int, int]] = {BUY_EVENT: {}, SELL_EVENT: {}}

    def apply(self, row: Any) -> None:
        """Apply one row (trade and other rows leave the book as it is)."""
        ev = int(row["ev"])
        kind, side = ev & KIND_MASK, ev & (BUY_EVENT | SELL_EVENT)
        tick, lots = round(row["px"] / self.tick_size), round(row["qty"] / self.lot_size)
        book = self.sides.get(side)
        if kind == DEPTH_CLEAR_EVENT:
            beyond = (lambda p: p >= tick) if side == BUY_EVENT else (lambda p: p <= tick)
            for price in [p for p in book if beyond(p)]:
                del book[price]
        elif kind in (DEPTH_EVENT, DEPTH_SNAPSHOT_EVENT):
            if lots:
                book[tick] = lots
            else:
                book.pop(tick, None)

    def best(self) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
        """(best bid, best ask) as (ticks, lots), None for an empty side."""
        bids, asks = self.sides[BUY_EVENT], self.sides[SELL_EVENT]
        bid = max(bids) if bids else None
        ask = min(asks) if asks else None
        return (None if bid is None else (bid, bids[bid]),
                None if ask is None else (ask, asks[ask]))
