"""One instrument's book: resting client orders plus the crowd's synthetic depth.

Price-time priority: better price first; at one price, resting client orders in arrival order,
then the crowd. The crowd re-posts its levels on every market step, so any client order already
resting at a price was there first (our choice; it keeps the Avellaneda-Stoikov fill intensity
for an order at the crowd touch).
"""

from __future__ import annotations

from .orders import BUY, Order


class Match:
    """One planned execution against a resting order (``maker`` None: the crowd)."""

    __slots__ = ("lots", "maker", "price_ticks")

    def __init__(self, maker: Order | None, price_ticks: int, lots: int) -> None:
        self.maker = maker
        self.price_ticks = price_ticks
        self.lots = lots


class OrderBook:
    """Resting orders by side and price, and the crowd levels of the current step.

    Parameters
    ----------
    crowd_levels : int
        Crowd price levels per side.
    crowd_spacing_ticks : int
        Distance between crowd levels in ticks.
    crowd_level_lots : int
        Crowd size per level in lots.
    any_sign : bool
        Prices may be zero or negative (a roll's book); otherwise the crowd stays above zero.
    """

    def __init__(self, crowd_levels: int, crowd_spacing_ticks: int, crowd_level_lots: int,
                 any_sign: bool = False) -> None:
        self.any_sign = any_sign
        self.bids: dict[int, list[Order]] = {}
        self.asks: dict[int, list[Order]] = {}
        self.crowd_levels = crowd_levels
        self.crowd_spacing_ticks = crowd_spacing_ticks
        self.crowd_level_lots = crowd_level_lots
        self.crowd_bid_ticks = 0
        self.crowd_ask_ticks = 0
        self._crowd_used: dict[tuple[bool, int], int] = {}

    # ---- crowd ------------------------------------------------------------------------------
    def set_crowd(self, bid_ticks: int, ask_ticks: int) -> None:
        """Re-post the crowd's levels around a new touch; depletion from the last step is reset."""
        self.crowd_bid_ticks = bid_ticks
        self.crowd_ask_ticks = ask_ticks
        self._crowd_used.clear()

    def _crowd_prices(self, is_bid: bool) -> list[int]:
        if self.crowd_level_lots <= 0:
            return []
        best = self.crowd_bid_ticks if is_bid else self.crowd_ask_ticks
        step = -self.crowd_spacing_ticks if is_bid else self.crowd_spacing_ticks
        prices = [best + i * step for i in range(self.crowd_levels)]
        return prices if self.any_sign else [p for p in prices if p > 0]

    def _crowd_left(self, is_bid: bool, price_ticks: int) -> int:
        if price_ticks not in self._crowd_prices(is_bid):
            return 0
        return self.crowd_level_lots - self._crowd_used.get((is_bid, price_ticks), 0)

    # ---- resting orders ---------------------------------------------------------------------
    def add(self, order: Order) -> None:
        """Rest ``order`` at the back of its price level."""
        side = self.bids if order.direction == BUY else self.asks
        side.setdefault(order.price_ticks, []).append(order)

    def remove(self, order: Order) -> None:
        """Take ``order`` out of the book if it rests there."""
        side = self.bids if order.direction == BUY else self.asks
        queue = side.get(order.price_ticks)
        if queue is not None and order in queue:
            queue.remove(order)
            if not queue:
                del side[order.price_ticks]

    def resting(self) -> list[Order]:
        """Every resting client order, bids then asks."""
        bids = [o for q in self.bids.values() for o in q]
        return bids + [o for q in self.asks.values() for o in q]

    # ---- views ------------------------------------------------------------------------------
    def levels(self, is_bid: bool) -> list[tuple[int, int]]:
        """Aggregated ``(price_ticks, lots)``, best first, client orders and crowd together."""
        side = self.bids if is_bid else self.asks
        totals: dict[int, int] = {}
        for price, queue in side.items():
            totals[price] = sum(o.remaining_lots for o in queue)
        for price in self._crowd_prices(is_bid):
            left = self._crowd_left(is_bid, price)
            if left > 0:
                totals[price] = totals.get(price, 0) + left
        return sorted(((p, v) for p, v in totals.items() if v > 0), reverse=is_bid)

    def best(self, is_bid: bool) -> tuple[int, int] | None:
        """Best ``(price_ticks, lots)`` of a side, or None when empty."""
        levels = self.levels(is_bid)
        return levels[0] if levels else None

    # ---- matching ---------------------------------------------------------------------------
    def plan(self, taker_buys: bool, limit_ticks: int | None, lots: int,
             stp_account: object | None = None) -> tuple[list[Match], bool]:
        """Plan executions of an aggressor against the opposite side.

        Parameters
        ----------
        taker_buys : bool
            True for a buying aggressor (it lifts asks).
        limit_ticks : int or None
            Worst acceptable price in ticks; None for no limit.
        lots : int
            Size to execute in lots.
        stp_account : object or None
            The aggressor's account for self-trade prevention (None: no prevention).

        Returns
        -------
        (matches, stp_hit)
            Executions in priority order (crowd depletion is already booked) and whether the
            sweep stopped at one of the aggressor's own resting orders.
        """
        side = self.asks if taker_buys else self.bids
        crowd = self._crowd_prices(not taker_buys)
        prices = sorted(set(side) | set(crowd), reverse=not taker_buys)
        matches: list[Match] = []
        for price in prices:
            if lots <= 0:
                break
            if limit_ticks is not None and (price > limit_ticks if taker_buys else
                                            price < limit_ticks):
                break
            for maker in side.get(price, ()):
                if stp_account is not None and maker.account is stp_account:
                    return matches, True
                take = min(lots, maker.remaining_lots)
                if take > 0:
                    matches.append(Match(maker, price, take))
                    lots -= take
                if lots <= 0:
                    return matches, False
            left = self._crowd_left(not taker_buys, price)
            take = min(lots, left)
            if take > 0:
                key = (not taker_buys, price)
                self._crowd_used[key] = self._crowd_used.get(key, 0) + take
                matches.append(Match(None, price, take))
                lots -= take
        return matches, False

    def crossed_by_crowd(self) -> list[Order]:
        """Resting orders the re-posted crowd touch now crosses (stale quotes to pick off)."""
        hit = [o for p, q in self.bids.items() if p >= self.crowd_ask_ticks for o in q]
        hit += [o for p, q in self.asks.items() if p <= self.crowd_bid_ticks for o in q]
        return hit
