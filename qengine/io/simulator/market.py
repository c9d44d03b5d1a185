"""The synthetic market: index random walks, a mid in ticks, the crowd touch, taker arrivals,
mark price (index + EMA premium) and perpetual funding.

All randomness comes from one ``numpy.random.Generator`` passed in, drawn in a fixed order, so a
seed and the sequence of steps fully determine the market.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from .book import OrderBook
from .config import IndexSpec
from .instruments import Instrument

_BASIS_REVERSION_PER_S = 0.1
_PREMIUM_EMA_WEIGHT_PER_S = 2.0 / 31.0  # Thalex: 30 s EMA updated every second
_FUNDING_DAMPENER = 0.00025  # 2.5 bp of the index
_DAY_S = 86400.0
_TAPE_KEEP = 200


class IndexProcess:
    """Geometric random walk of one underlying's index price (USD)."""

    def __init__(self, spec: IndexSpec) -> None:
        self.spec = spec
        self.price = spec.initial_price

    def step(self, rng: np.random.Generator, dt_s: float) -> None:
        """Advance by ``dt_s`` simulated seconds."""
        sigma = self.spec.volatility_per_sqrt_s
        self.price *= math.exp(sigma * math.sqrt(dt_s) * rng.standard_normal() -
                               0.5 * sigma * sigma * dt_s)


class RollingDay:
    """Sums, minimum and maximum over the last 24 h in one-second buckets (O(1) amortised)."""

    def __init__(self) -> None:
        self.buckets: deque[list[float]] = deque()  # [second, sum_a, sum_b, count, low, high]
        self.sum_a = 0.0
        self.sum_b = 0.0
        self.count = 0
        self.low = math.inf
        self.high = -math.inf

    def add(self, now_s: float, a: float, b: float, value: float) -> None:
        """Add one observation: two summed quantities and a value tracked for low/high."""
        second = math.floor(now_s)
        if not self.buckets or self.buckets[-1][0] != second:
            self.buckets.append([second, 0.0, 0.0, 0, math.inf, -math.inf])
        bucket = self.buckets[-1]
        bucket[1] += a
        bucket[2] += b
        bucket[3] += 1
        bucket[4] = min(bucket[4], value)
        bucket[5] = max(bucket[5], value)
        self.sum_a += a
        self.sum_b += b
        self.count += 1
        self.low = min(self.low, value)
        self.high = max(self.high, value)

    def expire(self, now_s: float) -> None:
        """Drop buckets older than 24 h."""
        dropped_extreme = False
        while self.buckets and self.buckets[0][0] < now_s - _DAY_S:
            old = self.buckets.popleft()
            self.sum_a -= old[1]
            self.sum_b -= old[2]
            self.count -= int(old[3])
            dropped_extreme = dropped_extreme or old[4] <= self.low or old[5] >= self.high
        if dropped_extreme:
            self.low = min((b[4] for b in self.buckets), default=math.inf)
            self.high = max((b[5] for b in self.buckets), default=-math.inf)


class TakerArrival:
    """A crowd taker: side, how far from the mid it reaches (ticks) and its size (lots)."""

    __slots__ = ("buys", "lots", "reach_ticks")

    def __init__(self, buys: bool, reach_ticks: int, lots: int) -> None:
        self.buys = buys
        self.reach_ticks = reach_ticks
        self.lots = lots


class MarketState:
    """Market of one instrument.

    Parameters
    ----------
    inst : Instrument
        The instrument.
    index : IndexProcess
        Its underlying's index.
    legs : tuple of (MarketState, int)
        A combination's leg markets and quantities: its mid and mark are their weighted sums.
    """

    def __init__(self, inst: Instrument, index: IndexProcess,
                 legs: tuple[tuple[MarketState, int], ...] = ()) -> None:
        spec = inst.spec
        self.inst = inst
        self.index = index
        self.legs = legs
        self.book = OrderBook(spec.crowd_levels, spec.crowd_level_spacing_ticks,
                              spec.crowd_level_lots, any_sign=bool(legs))
        self.basis_ticks = spec.basis_ticks
        self.mid_ticks = self._mid_from_index()
        self.premium_ema = spec.basis_ticks * spec.tick_size
        self.mark = self._legs_mark() if legs else index.price + self.premium_ema
        self.mark_time_s = 0.0
        self.funding_mark = 0.0
        self.funding_rate = 0.0
        self.funding_day = RollingDay()  # a: funding paid, b: funding rate
        self.last_price_ticks: int | None = None
        self.trade_day = RollingDay()  # a: amount, b: value; low/high in ticks
        self.first_price_ticks: int | None = None
        self.tape: deque[list[Any]] = deque(maxlen=_TAPE_KEEP)
        self.new_trades: list[list[Any]] = []
        self._post_crowd()

    def _mid_from_index(self) -> int:
        if self.legs:  # the legs' mids are in the combination's ticks (same tick size)
            return round(sum(q * leg.mid_ticks for leg, q in self.legs) + self.basis_ticks)
        return max(1, round(self.index.price / self.inst.spec.tick_size + self.basis_ticks))

    def _legs_mark(self) -> float:
        # Thalex: a combination's mark is the quantity-weighted sum of its legs' marks.
        return round(sum(q * leg.mark for leg, q in self.legs), 6) + 0.0  # never -0.0

    def _post_crowd(self) -> None:
        half = self.inst.spec.crowd_half_spread_ticks
        low = self.mid_ticks - half
        self.book.set_crowd(low if self.legs else max(1, low), self.mid_ticks + half)

    def step(self, rng: np.random.Generator, dt_s: float, now_s: float) -> list[TakerArrival]:
        """Move the mid and crowd, update mark and funding, and draw this step's takers.

        Parameters
        ----------
        rng : numpy.random.Generator
            The market's random stream.
        dt_s : float
            Simulated seconds since the last step.
        now_s : float
            Simulated Unix seconds after the step.
        """
        spec = self.inst.spec
        self.basis_ticks += _BASIS_REVERSION_PER_S * (spec.basis_ticks - self.basis_ticks) * dt_s
        self.basis_ticks += spec.basis_volatility_ticks_per_sqrt_s * math.sqrt(dt_s) * \
            rng.standard_normal()
        self.mid_ticks = self._mid_from_index()
        self._post_crowd()
        self._update_mark(dt_s, now_s)
        return self._draw_takers(rng, dt_s)

    def _update_mark(self, dt_s: float, now_s: float) -> None:
        self.mark_time_s = now_s
        if self.legs:
            self.mark = self._legs_mark()
            return
        bid = self.book.best(True)
        ask = self.book.best(False)
        if bid is not None and ask is not None:
            mid = (bid[0] + ask[0]) * 0.5 * self.inst.spec.tick_size
        else:
            mid = self.index.price  # thin book: the mark targets the index
        alpha = 1.0 - (1.0 - _PREMIUM_EMA_WEIGHT_PER_S) ** dt_s
        self.premium_ema += alpha * (mid - self.index.price - self.premium_ema)
        self.mark = round(self.index.price + self.premium_ema, 6)
        if self.inst.spec.type == "perpetual":
            premium = self.mark - self.index.price
            damp = _FUNDING_DAMPENER * self.index.price
            # Premiums inside the band count as zero: +0.0, never copysign's -0.0.
            dampened = max(premium - damp, 0.0) + min(premium + damp, 0.0)
            self.funding_rate = dampened / self.index.price
            paid = dampened * dt_s / _DAY_S
            self.funding_mark += paid
            self.funding_day.add(now_s, paid, self.funding_rate, 0.0)
            self.funding_day.expire(now_s)

    def _draw_takers(self, rng: np.random.Generator, dt_s: float) -> list[TakerArrival]:
        spec = self.inst.spec
        arrivals: list[TakerArrival] = []
        for buys in (True, False):
            for _ in range(int(rng.poisson(spec.taker_intensity_per_s * dt_s))):
                # P(reach >= d) = exp(-kappa d): the A exp(-kappa d) intensity at distance d.
                reach = int(rng.exponential(1.0 / spec.taker_kappa_per_tick))
                arrivals.append(TakerArrival(buys, reach, self._taker_lots(rng)))
        return arrivals

    def _taker_lots(self, rng: np.random.Generator) -> int:
        spec = self.inst.spec
        mean = spec.taker_size_lots_mean
        if spec.taker_size_kind == "fixed":
            size = mean
        elif spec.taker_size_kind == "lognormal":
            size = mean * math.exp(rng.standard_normal() - 0.5)
        else:
            size = rng.exponential(mean)
        return max(1, round(size))

    # ---- trades and views -------------------------------------------------------------------
    def record_trade(self, price_ticks: int, lots: int, taker_side: str, now_s: float) -> None:
        """Put an execution on the public tape and the 24 h statistics."""
        inst = self.inst
        self.last_price_ticks = price_ticks
        row = [inst.price(price_ticks), inst.amount(lots), taker_side, now_s, inst.name, False]
        self.tape.append(row)
        self.new_trades.append(row)
        if self.first_price_ticks is None:
            self.first_price_ticks = price_ticks
        amount = inst.amount(lots)
        self.trade_day.add(now_s, amount, amount * inst.price(price_ticks), price_ticks)

    def collar_ticks(self, fraction: float) -> tuple[int, int]:
        """(collar_low, collar_high) in ticks around the mark; a combination's is the
        quantity-weighted sum of its legs' collars."""
        if self.legs:
            low = high = 0
            for leg, q in self.legs:
                leg_low, leg_high = leg.collar_ticks(fraction)
                low += q * (leg_low if q > 0 else leg_high)
                high += q * (leg_high if q > 0 else leg_low)
            return low, high
        tick = self.inst.spec.tick_size
        return (math.ceil(self.mark * (1.0 - fraction) / tick - 1e-9),
                math.floor(self.mark * (1.0 + fraction) / tick + 1e-9))

    def ticker(self, now_s: float, collar_fraction: float, open_interest_lots: int
               ) -> dict[str, Any]:
        """The Ticker object (thalex-protocol.md 4.1)."""
        inst = self.inst
        day = self.trade_day
        day.expire(now_s)
        traded = day.count > 0
        bid = self.book.best(True)
        ask = self.book.best(False)
        low, high = self.collar_ticks(collar_fraction)
        out: dict[str, Any] = {
            "best_bid_price": inst.price(bid[0]) if bid else None,
            "best_bid_amount": inst.amount(bid[1]) if bid else None,
            "best_ask_price": inst.price(ask[0]) if ask else None,
            "best_ask_amount": inst.amount(ask[1]) if ask else None,
            "last_price": None if self.last_price_ticks is None else
            inst.price(self.last_price_ticks),
            "mark_price": self.mark, "mark_timestamp": self.mark_time_s, "delta": 1.0,
            "index": round(self.index.price, 6),
            "volume_24h": round(day.sum_a, 9) if traded else 0.0,
            "value_24h": round(day.sum_b, 6) if traded else 0.0,
            "low_price_24h": inst.price(int(day.low)) if traded else None,
            "high_price_24h": inst.price(int(day.high)) if traded else None,
            "change_24h": None if self.last_price_ticks is None or self.first_price_ticks is None
            else inst.price(self.last_price_ticks - self.first_price_ticks),
            "collar_low": inst.price(low), "collar_high": inst.price(high),
            "open_interest": inst.amount(open_interest_lots),
        }
        if self.legs:  # Thalex sends no last price, 24 h statistics or open interest for combos
            for name in ("last_price", "volume_24h", "value_24h", "low_price_24h",
                         "high_price_24h", "change_24h", "open_interest"):
                del out[name]
            out["delta"] = float(sum(q for _, q in self.legs))
        if inst.spec.type == "future":
            out["forward"] = self.mark  # the official roll quoter reads a future's forward
        if inst.spec.type == "perpetual":
            fday = self.funding_day
            out["funding_rate"] = self.funding_rate
            out["funding_mark"] = self.funding_mark
            out["realised_funding_24h"] = fday.sum_a
            out["average_funding_rate_24h"] = fday.sum_b / fday.count if fday.count else 0.0
        # Thalex's schema types these fields as numbers: a value we do not have is left out.
        return {key: value for key, value in out.items() if value is not None}

    def lwt(self) -> dict[str, Any]:
        """The lightweight ticker ``{b, a, m, l}``."""
        inst = self.inst
        out: dict[str, Any] = {}
        bid = self.book.best(True)
        ask = self.book.best(False)
        if bid:
            out["b"] = [inst.price(bid[0]), inst.amount(bid[1]), inst.amount(bid[1])]
        if ask:
            out["a"] = [inst.price(ask[0]), inst.amount(ask[1]), inst.amount(ask[1])]
        out["m"] = self.mark
        if self.last_price_ticks is not None:
            out["l"] = inst.price(self.last_price_ticks)
        return out
