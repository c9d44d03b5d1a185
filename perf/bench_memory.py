"""Memory per order, quote and price sample: qengine's records versus the old bot's objects.

qengine's side is exact: the ``itemsize`` of the ``ORDER``, ``QUOTE`` and ``MARKET_SAMPLE``
records (preallocated arrays, nothing else per row). The old side is measured, not guessed:
``tracemalloc`` traces the bytes allocated while building N objects the way the old bot held them
(original-quoter.md 1.1, 3.3, 6.5), with distinct realistic values, then divides by N:

* order: the ``Order`` dataclass (id, price, amount, status, direction) plus the attributes its
  ``__post_init__`` adds (times, filled amount, average fill price, client id, instrument, type),
  indexed in the ``orders`` dict and in ``active_bids`` / ``active_asks``;
* quote: the ``Quote`` dataclass (price, amount, instrument, side, timestamp) in the bid/ask lists;
* price sample: the ``Ticker`` object built per ticker notification plus its history entry (the
  mid and timestamp in the 200-slot float64 numpy rings, 16 bytes: the cheapest part).

The RSS-over-a-session measurement needs the engine: :func:`measure_session_rss_growth` is a stub
that the suite does not call yet.

Run: ``python perf/bench_memory.py [--json PATH]``.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from perf._harness import machine_info, progress, write_json
from qengine.kernels.dtypes import MARKET_SAMPLE, ORDER, QUOTE

TARGET_REDUCTION_PCT = 90.0


class OrderStatus(Enum):
    """The old ``OrderStatus`` (members are shared singletons, so they cost nothing per order)."""

    OPEN = "open"
    PENDING = "pending"


@dataclass
class OldOrder:
    """The old ``data_models.Order`` with the attributes ``__post_init__`` adds."""

    id: int
    price: float
    amount: float
    status: OrderStatus = OrderStatus.PENDING
    direction: str | None = None

    def __post_init__(self) -> None:
        self.creation_time = 0.0
        self.last_update_time = 0.0
        self.filled_amount = 0.0
        self.average_fill_price = 0.0
        self.client_id: str | None = None
        self.instrument_id: str | None = None
        self.type: str | None = None


@dataclass
class OldQuote:
    """The old ``data_models.Quote``."""

    price: float
    amount: float
    instrument: str = ""
    side: str = ""
    timestamp: float = 0.0


class OldTicker:
    """The old ``data_models.Ticker``: nine float attributes parsed from the notification dict."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.mark_price = float(data["mark_price"])
        self.best_bid_price = float(data["best_bid_price"]) if "best_bid_price" in data else None
        self.best_ask_price = float(data["best_ask_price"]) if "best_ask_price" in data else None
        self.index = float(data["index"]) if "index" in data else 0.0
        self.mark_ts = float(data["mark_timestamp"]) if "mark_timestamp" in data else time.time()
        self.funding_rate = float(data["funding_rate"]) if "funding_rate" in data else 0.0
        self.volume = float(data.get("volume", 0.0))
        self.open_interest = float(data.get("open_interest", 0.0))
        self.timestamp = float(data.get("timestamp", time.time()))


def _traced_bytes_per_item(build: Callable[[int], Any], n: int) -> float:
    """Bytes allocated (and still held) by ``build(n)`` divided by ``n``, via tracemalloc."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        held = build(n)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    del held
    return (after - before) / n


def _old_orders(n: int) -> tuple[dict[int, OldOrder], dict[int, OldOrder], dict[int, OldOrder]]:
    orders: dict[int, OldOrder] = {}
    active_bids: dict[int, OldOrder] = {}
    active_asks: dict[int, OldOrder] = {}
    now = time.time()
    for i in range(n):
        is_bid = i % 2 == 0
        order = OldOrder(id=100_000 + i, price=64_000.0 + 0.5 * i, amount=0.1 + 0.001 * (i % 50),
                         status=OrderStatus.OPEN, direction="buy" if is_bid else "sell")
        order.creation_time = now + i * 1e-3
        order.last_update_time = now + i * 1e-3 + 0.25
        order.client_id = str(100_000 + i)
        order.instrument_id = "BTC-PERPETUAL"
        order.type = "limit"
        orders[order.id] = order
        (active_bids if is_bid else active_asks)[order.id] = order
    return orders, active_bids, active_asks


def _old_quotes(n: int) -> tuple[list[OldQuote], list[OldQuote]]:
    bids: list[OldQuote] = []
    asks: list[OldQuote] = []
    now = time.time()
    for i in range(n):
        side = "buy" if i % 2 == 0 else "sell"
        (bids if side == "buy" else asks).append(
            OldQuote(price=64_000.0 + 0.5 * i, amount=0.05 + 0.001 * (i % 50),
                     instrument="BTC-PERPETUAL", side=side, timestamp=now + i * 1e-3))
    return bids, asks


def _old_samples(n: int) -> tuple[list[OldTicker], np.ndarray, np.ndarray]:
    tickers = []
    prices = np.zeros(n, dtype=np.float64)  # the old price-history ring and its timestamps
    times = np.zeros(n, dtype=np.float64)
    now = time.time()
    for i in range(n):
        data = {"mark_price": 65_000.25 + i, "best_bid_price": 64_999.0 + i,
                "best_ask_price": 65_001.0 + i, "index": 64_990.5 + i,
                "mark_timestamp": now + i * 0.01, "funding_rate": 0.00012, "volume": 812.4,
                "open_interest": 2511.7, "timestamp": now + i * 0.01}
        ticker = OldTicker(data)
        tickers.append(ticker)
        prices[i] = (ticker.best_bid_price + ticker.best_ask_price) / 2
        times[i] = ticker.timestamp
    return tickers, prices, times


def _entry(name: str, ours: int, theirs: float) -> dict[str, float]:
    return {
        f"bytes_per_{name}_qengine": float(ours),
        f"bytes_per_{name}_objects": theirs,
        f"{name}_reduction_pct": 100.0 * (1.0 - ours / theirs),
    }


def run(quick: bool) -> dict[str, Any]:
    """Measure bytes per order, quote and price sample (old objects: ``tracemalloc`` over N)."""
    n = 10_000
    progress(f"memory: tracemalloc over {n} old-style orders, quotes and tickers")
    result: dict[str, Any] = {"objects_measured": n}
    result.update(_entry("order", ORDER.itemsize, _traced_bytes_per_item(_old_orders, n)))
    result.update(_entry("quote", QUOTE.itemsize, _traced_bytes_per_item(_old_quotes, n)))
    result.update(_entry("sample", MARKET_SAMPLE.itemsize, _traced_bytes_per_item(_old_samples, n)))
    # The headline figure is per order; the quote and sample figures sit beside it.
    result["reduction_pct"] = result["order_reduction_pct"]
    result["min_reduction_pct"] = min(result["order_reduction_pct"],
                                      result["quote_reduction_pct"],
                                      result["sample_reduction_pct"])
    result["target_reduction_pct"] = TARGET_REDUCTION_PCT
    result["meets_target"] = result["min_reduction_pct"] >= TARGET_REDUCTION_PCT
    return result


def measure_session_rss_growth(duration_s: float = 600.0) -> dict[str, Any]:
    """RSS growth of a running engine over a simulated session (target: under 5 %).

    Not implemented: it needs the engine (``qengine.engine``), which does not exist yet. The
    plan: start the simulator and an engine in separate processes, warm up for a minute, sample
    the engine's RSS (``psutil``) every second for ``duration_s`` at 10,000 msgs/s, and report
    ``rss_start_mb``, ``rss_end_mb`` and ``rss_growth_pct``. ``perf.suite`` does not call it.
    """
    raise NotImplementedError("measure_session_rss_growth needs the engine (not written yet)")


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="accepted for symmetry; same run")
    parser.add_argument("--json", metavar="PATH", help="write the result as JSON")
    args = parser.parse_args(argv)
    result = run(args.quick)
    for name in ("order", "quote", "sample"):
        print(f"memory.{name}: {result[f'bytes_per_{name}_qengine']:.0f} B vs "
              f"{result[f'bytes_per_{name}_objects']:.0f} B "
              f"({result[f'{name}_reduction_pct']:.1f} % less)")
    if args.json:
        write_json(args.json, {"machine": machine_info(), "results": {"memory": result}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
