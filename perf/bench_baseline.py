"""Baseline: the old bot's quote computed the old way (plain Python objects, dicts, allocation).

A faithful re-creation of the old ``AvellanedaQuoter`` quote path (original-quoter.md 2.2-2.5):
``get_market_conditions`` (a fresh dict), ``calculate_optimal_spread`` (nested config-dict
lookups), ``calculate_skewed_prices``, ``calculate_quote_sizes``, the ``generate_quotes`` ladder
(Fibonacci distances, duplicate filter, per-level sizes) building ``Quote`` dataclass objects,
``align_prices_to_tick_batch`` (twice, as the old code did) and ``validate_quotes``. Inert inputs
(predictions, VAMP, volume signals) are evaluated as the old code did (dict reads and
comparisons) but are always zero; the 100 ms spread cache is left out because the old quote loop
ran at most every 0.5 s, so it never hit. Inputs vary per call (random-walk mid, inventory).

``speedup`` = this p50 over ``kernel.pipeline``'s Python-called p50 measured in the same run
(the fused cycle does more: estimators, a 5-level ladder and the order diff).

Run: ``python perf/bench_baseline.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from perf._harness import gc_disabled, machine_info, percentiles_ns, progress, write_json

#: The old config's relevant sections (market_config.py @ eeaeb90), read through dicts per call.
TRADING_CONFIG: dict[str, Any] = {
    "avellaneda": {
        "gamma": 0.4, "position_limit": 20.0, "base_spread_factor": 1.5,
        "volatility_multiplier": 0.4, "position_fade_time": 300, "inventory_factor": 0.7,
        "inventory_weight": 0.8, "market_impact_factor": 0.5, "vamp_spread_sensitivity": 0.5,
        "vamp_skew_sensitivity": 0.001, "max_levels": 3, "fixed_volatility": 0.01,
        "pa_prediction_max_age_seconds": 5.0, "pa_res_price_offset_adj_threshold": 5e-5,
    },
    "quoting": {"levels": 3},
    "orderbook": {
        "min_spread": 14, "bid_step": 15, "ask_step": 15, "bid_sizes": [1.0, 1.5, 2.0],
        "base_order_size": 0.02, "min_size": 0.05, "levels": 3,
    },
    "fees": {"maker_fee_rate": 0.0002, "profit_margin_rate": 0.0005,
             "fee_coverage_multiplier": 1.2},
    "volatility": {"default": 0.025},
}
FIB = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89]
INSTRUMENT = "BTC-PERPETUAL"
TICK = 0.1


@dataclass
class Quote:
    """The old ``data_models.Quote``: one proposed order."""

    price: float
    amount: float
    instrument: str = ""
    side: str = ""
    timestamp: float = field(default_factory=time.time)


class OldMarketMaker:
    """The old ``AvellanedaMarketMaker`` quote methods, with its attribute state."""

    def __init__(self) -> None:
        cfg = TRADING_CONFIG["avellaneda"]
        self.tick_size = TICK
        self.gamma = cfg["gamma"]
        self.position_limit = cfg["position_limit"]
        self.last_mid_price = 65_000.0
        self.reservation_price_offset = 0.0
        self.vamp_impact = 0.0
        self.predictive_adjustments: dict[str, Any] = {"last_update_time": 0.0}
        self.volume_signals = {"momentum": 0.0, "reversal": 0.0, "volatility": 0.0,
                               "exhaustion": 0.0}

    def _fresh_prediction(self) -> bool:
        age = time.time() - self.predictive_adjustments.get("last_update_time", 0.0)
        return age < TRADING_CONFIG["avellaneda"]["pa_prediction_max_age_seconds"]

    def calculate_optimal_spread(self, position: float, sigma: float,
                                 market_impact: float = 0.0) -> float:
        av, fees = TRADING_CONFIG["avellaneda"], TRADING_CONFIG["fees"]
        tick_floor = TRADING_CONFIG["orderbook"]["min_spread"] * self.tick_size
        fee_floor = self.last_mid_price * (
            2 * fees["maker_fee_rate"] + fees["profit_margin_rate"]
        ) * fees["fee_coverage_multiplier"]
        floor = max(tick_floor, fee_floor)
        sigma_e = max(sigma, 0.01)
        gamma_e = self.gamma if self.gamma > 0 else 0.1
        if self._fresh_prediction():
            vol_adj = self.predictive_adjustments.get("vol_adj", 0.0)
            if abs(vol_adj) > 0.05:
                sigma_e *= 1 + vol_adj
        vol_term = sigma_e * av["volatility_multiplier"] * math.sqrt(av["position_fade_time"])
        impact_term = (max(0.0, market_impact) + abs(self.vamp_impact)
                       * av["vamp_spread_sensitivity"]) * av["market_impact_factor"] * (1 + sigma_e)
        inventory_term = (av["inventory_factor"] * (abs(position) / max(self.position_limit, 0.001))
                          * sigma_e * av["volatility_multiplier"])
        market_state = 1.5 if self.predictive_adjustments.get("trend_direction", 0) else 1.0
        spread = (av["base_spread_factor"] * floor * (1 + gamma_e) + vol_term + impact_term
                  + inventory_term) * market_state
        return max(spread, floor)

    def _round(self, price: float) -> float:
        return round(price / self.tick_size) * self.tick_size

    def calculate_skewed_prices(self, mid: float, spread: float,
                                position: float) -> tuple[float, float]:
        av = TRADING_CONFIG["avellaneda"]
        if abs(self.vamp_impact) > 1e-9:
            mid += self.vamp_impact * av["vamp_skew_sensitivity"]
        skew = (position / self.position_limit) * spread * av["inventory_weight"] * 0.5
        bid, ask = self._round(mid - spread / 2 - skew), self._round(mid + spread / 2 - skew)
        min_width = TRADING_CONFIG["orderbook"]["min_spread"] * self.tick_size
        if ask - bid < min_width:
            centre = (bid + ask) / 2
            bid, ask = centre - min_width / 2, centre + min_width / 2
        signals = self.volume_signals
        if abs(signals["momentum"]) > 0.05:
            bid += signals["momentum"] * spread * 0.3
            ask += signals["momentum"] * spread * 0.3
        if abs(signals["exhaustion"]) > 0.1:
            bid -= signals["exhaustion"] * spread * 0.2
            ask -= signals["exhaustion"] * spread * 0.2
        bid, ask = self._round(bid), self._round(ask)
        if ask - bid < min_width:
            bid, ask = self._round(mid - min_width / 2), self._round(mid + min_width / 2)
        return bid, ask

    def calculate_quote_sizes(self, position: float, sigma: float) -> tuple[float, float]:
        base = TRADING_CONFIG["orderbook"]["base_order_size"]
        ratio = min(1.0, abs(position) / self.position_limit)
        bid_size = ask_size = base
        if position > 0:
            bid_size *= max(0.2, 1 - 0.8 * ratio)
            ask_size *= min(1.5, 1 + 0.5 * ratio)
        elif position < 0:
            bid_size *= min(1.5, 1 + 0.5 * ratio)
            ask_size *= max(0.2, 1 - 0.8 * ratio)
        vol_factor = max(0.5, 1 - 5 * sigma)
        bid_size = min(bid_size * vol_factor, self.position_limit - position)
        ask_size = min(ask_size * vol_factor, self.position_limit + position)
        bid_size = max(bid_size, 0.01) if bid_size > 0 else 0.0
        ask_size = max(ask_size, 0.01) if ask_size > 0 else 0.0
        return round(bid_size, 8), round(ask_size, 8)

    def _level_price(self, base: float, k: int, step: float, is_bid: bool) -> float:
        t = self.tick_size
        mult = FIB[k - 1] if k - 1 < len(FIB) else 89 * 2 ** (k - 9)
        distance = max(step * mult, 2 * t)
        distance *= (1 + 0.05 * k) if k <= 10 else 1.5 + 0.15 * (k - 10)
        snap = t * max(2, k // 2)
        distance = max(round(distance / snap) * snap, 2 * t)
        price = max(base - distance, 2 * t) if is_bid else base + distance
        return self._round(price)

    def generate_quotes(self, ticker: dict[str, float], conditions: dict[str, Any],
                        position: float) -> tuple[list[Quote], list[Quote]]:
        mid = (ticker["best_bid_price"] + ticker["best_ask_price"]) / 2
        self.last_mid_price = mid
        if abs(self.reservation_price_offset) > 1e-5:
            mid *= 1 + self.reservation_price_offset
        sigma = conditions["volatility"]
        spread = self.calculate_optimal_spread(position, sigma, conditions["market_impact"])
        if self.volume_signals["volatility"] > 0.3:
            spread *= 1 + 0.3 * self.volume_signals["volatility"]
        if self.volume_signals["reversal"] > 0.4:
            spread *= 1 + 0.2 * self.volume_signals["reversal"]
        bid0, ask0 = self.calculate_skewed_prices(mid, spread, position)
        bid_size, ask_size = self.calculate_quote_sizes(position, sigma)
        book = TRADING_CONFIG["orderbook"]
        levels = min(TRADING_CONFIG["quoting"]["levels"], book["levels"])
        vf = min(max(sigma / TRADING_CONFIG["volatility"]["default"], 0.5), 3.0)
        step = book["bid_step"] * self.tick_size * vf
        bids: list[Quote] = []
        asks: list[Quote] = []
        now = time.time()
        for side_quotes, base, size, is_bid in ((bids, bid0, bid_size, True),
                                                (asks, ask0, ask_size, False)):
            allowed = position < self.position_limit if is_bid else position > -self.position_limit
            if not allowed or size <= 0:
                continue
            for k in range(levels):
                price = base if k == 0 else self._level_price(base, k, step, is_bid)
                gap = self.tick_size * (1 + k // 2)
                if any(abs(q.price - price) < gap for q in side_quotes):
                    continue
                sizes = book["bid_sizes"]  # the old code used the bid list for asks too
                mult = sizes[k] if k < len(sizes) else sizes[-1] / 0.7 * FIB[min(k, 9)] / 8
                amount = max(round(size * mult, 8), book["min_size"])
                side_quotes.append(Quote(price=price, amount=amount, instrument=INSTRUMENT,
                                         side="buy" if is_bid else "sell", timestamp=now))
        return bids, asks


def align_prices_to_tick_batch(quotes: list[Quote], tick: float, is_bid: bool) -> list[Quote]:
    """Bids floor, asks ceil, via ``1/tick`` as the old quoter did."""
    inverse = 1.0 / tick
    for q in quotes:
        scaled = q.price * inverse
        q.price = (math.floor(scaled) if is_bid else math.ceil(scaled)) / inverse
    return quotes


def validate_quotes(bids: list[Quote], asks: list[Quote],
                    tick: float) -> tuple[list[Quote], list[Quote]]:
    """Drop non-positive quotes; push crossing bids/asks one tick off the midpoint."""
    bids = [q for q in bids if q.price > 0 and q.amount > 0]
    asks = [q for q in asks if q.price > 0 and q.amount > 0]
    if bids and asks:
        best_bid, best_ask = max(q.price for q in bids), min(q.price for q in asks)
        if best_bid >= best_ask:
            centre = (best_bid + best_ask) / 2
            for q in bids:
                q.price = min(q.price, centre - tick)
            for q in asks:
                q.price = max(q.price, centre + tick)
    bids = align_prices_to_tick_batch(bids, tick, True)
    asks = align_prices_to_tick_batch(asks, tick, False)
    return bids, asks


def old_update_quotes(mm: OldMarketMaker, ticker: dict[str, float],
                      position: float) -> tuple[list[Quote], list[Quote]]:
    """One quote update of the old quoter, from ticker dict to validated ``Quote`` lists."""
    conditions = {"volatility": TRADING_CONFIG["avellaneda"]["fixed_volatility"],
                  "market_impact": 0.0, "timestamp": time.time()}
    bids, asks = mm.generate_quotes(ticker, conditions, position)
    levels = TRADING_CONFIG["quoting"]["levels"]
    bids = align_prices_to_tick_batch(bids[:levels], mm.tick_size, True)
    asks = align_prices_to_tick_batch(asks[:levels], mm.tick_size, False)
    return validate_quotes(bids, asks, mm.tick_size)


def run(quick: bool, pipeline_python_p50_ns: float | None = None) -> dict[str, Any]:
    """Time the old quote path; ``speedup`` is over ``pipeline_python_p50_ns`` (None: measure)."""
    n, warmup = (5_000, 500) if quick else (50_000, 2_000)
    progress(f"baseline: {n} old-style quote updates")
    rng = np.random.default_rng(11)
    mids = (650_000 + np.cumsum(rng.choice([-2, -1, 0, 1, 2], n + warmup))).tolist()
    positions = np.clip(np.cumsum(rng.normal(0.0, 0.3, n + warmup)), -19.0, 19.0).tolist()
    mm = OldMarketMaker()
    out = np.empty(n, dtype=np.int64)
    clock = time.perf_counter_ns
    for i in range(warmup):
        old_update_quotes(mm, {"best_bid_price": mids[i] * TICK - 0.5,
                               "best_ask_price": mids[i] * TICK + 0.5}, positions[i])
    with gc_disabled():
        for j in range(n):
            i = warmup + j
            ticker = {"best_bid_price": mids[i] * TICK - 0.5,
                      "best_ask_price": mids[i] * TICK + 0.5}
            position = positions[i]
            start = clock()
            old_update_quotes(mm, ticker, position)
            out[j] = clock() - start
    stats = percentiles_ns(out)
    if pipeline_python_p50_ns is None:
        from perf.bench_kernels import pipeline_python_p50_ns as measure_pipeline

        pipeline_python_p50_ns = measure_pipeline(quick)
    return {
        "python_p50_ns": stats["p50"],
        "python_p99_ns": stats["p99"],
        "python_p999_ns": stats["p999"],
        "python_max_ns": stats["max"],
        "python_n": stats["n"],
        "pipeline_python_p50_ns": pipeline_python_p50_ns,
        "speedup": stats["p50"] / pipeline_python_p50_ns,
    }


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run for smoke tests")
    parser.add_argument("--json", metavar="PATH", help="write the result as JSON")
    args = parser.parse_args(argv)
    result = run(args.quick)
    print(f"baseline.python_quote: p50 {result['python_p50_ns'] / 1e3:.1f} us, p99 "
          f"{result['python_p99_ns'] / 1e3:.1f} us; speedup x{result['speedup']:.1f}")
    if args.json:
        write_json(args.json, {"machine": machine_info(),
                               "results": {"baseline.python_quote": result}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
