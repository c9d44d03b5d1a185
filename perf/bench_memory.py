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

``reduction_pct`` is the smallest of ``order_reduction_pct``, ``quote_reduction_pct`` and
``sample_reduction_pct``.

RSS over a session (:func:`measure_session_rss_growth`): a fresh engine process quotes against
the simulator (another process, sped up with ``time_scale``) for 600 simulated seconds (30 with
``--quick``); ``rss_mb_start`` is read after a warm-up, ``rss_mb_after`` at the end, and
``rss_growth_pct`` compares them.

Run: ``python perf/bench_memory.py [--quick] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import gc
import subprocess
import sys
import textwrap
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from perf._harness import machine_info, progress, run_child, write_json
from perf._rss import rss_import_steps
from qengine.kernels.dtypes import MARKET_SAMPLE, ORDER, QUOTE

TARGET_REDUCTION_PCT = 90.0
TARGET_RSS_GROWTH_PCT = 5.0


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
    """Bytes per order, quote and price sample (old objects: ``tracemalloc`` over N), and the
    engine's RSS over a simulated session (600 simulated s; 30 with ``quick``)."""
    n = 10_000
    progress(f"memory: tracemalloc over {n} old-style orders, quotes and tickers")
    result: dict[str, Any] = {"objects_measured": n}
    result.update(_entry("order", ORDER.itemsize, _traced_bytes_per_item(_old_orders, n)))
    result.update(_entry("quote", QUOTE.itemsize, _traced_bytes_per_item(_old_quotes, n)))
    result.update(_entry("sample", MARKET_SAMPLE.itemsize, _traced_bytes_per_item(_old_samples, n)))
    # The headline figure is the weakest of the three (each also has its own field).
    result["min_reduction_pct"] = min(result["order_reduction_pct"],
                                      result["quote_reduction_pct"],
                                      result["sample_reduction_pct"])
    result["reduction_pct"] = result["min_reduction_pct"]
    result["target_reduction_pct"] = TARGET_REDUCTION_PCT
    session = measure_session_rss_growth(30.0 if quick else 600.0,
                                         warmup_s=2.0 if quick else 10.0)
    result.update(session)
    progress("memory: RSS of a fresh interpreter after each layer of imports")
    result["rss_import_steps_mb"] = rss_import_steps()
    result["meets_target"] = bool(result["min_reduction_pct"] >= TARGET_REDUCTION_PCT
                                  and session["rss_growth_pct"] < TARGET_RSS_GROWTH_PCT)
    return result


_SIMULATOR = textwrap.dedent(
    """
    import sys
    import trio
    from qengine.sim import SimulatorConfig, serve_simulator
    from qengine.sim.config import default_instruments
    from qengine.sim.presets import thin_crowds

    # The engine's demo market (a thin crowd that takers sweep), sped up: fills happen.
    instruments = thin_crowds(default_instruments())

    async def main():
        config = SimulatorConfig(seed=1, time_scale=float(sys.argv[1]), step_s=float(sys.argv[2]),
                                 instruments=instruments)
        async with trio.open_nursery() as nursery:
            handle = await nursery.start(serve_simulator, config)
            print(f"ws://127.0.0.1:{int(handle)}/ws/api/v2", flush=True)

    trio.run(main)
    """
)
#: Simulated seconds per real second and real seconds per market step of the session's simulator.
SESSION_TIME_SCALE = 10.0
SESSION_STEP_S = 0.02


async def _session(url: str, warmup_s: float, seconds: float) -> dict[str, Any]:
    import trio

    from perf._rss import rss_by_mapping
    from qengine.config import config_from_mapping
    from qengine.engine import open_engine
    from qengine.io.auth import demo_credentials
    from qengine.telemetry import rss_mb

    config = config_from_mapping({"connection": {"url": url}})
    series: list[float] = []
    async with open_engine(config, url=url, credentials=demo_credentials()) as engine:
        await trio.sleep(warmup_s)
        gc.collect()
        start = rss_mb()
        before = engine.telemetry.counters.snapshot()
        deadline = trio.current_time() + seconds
        while trio.current_time() < deadline:
            await trio.sleep(min(0.5, max(deadline - trio.current_time(), 0.0)))
            series.append(rss_mb())
        gc.collect()
        after = rss_mb()
        counters = engine.telemetry.counters.snapshot()
        by_mapping = rss_by_mapping()
        arrays = sum(value.nbytes for value in vars(engine.state).values()
                     if isinstance(value, np.ndarray))
    return {"rss_mb_start": start, "rss_mb_after": after, "rss_mb_max": max(series, default=after),
            "events": {k: counters[k] - before[k] for k in counters},
            # What the session's RSS is made of (perf._rss), and the engine's own state arrays.
            "rss_by_mapping_mb": by_mapping, "state_arrays_mb": arrays / 2**20}


def session_child(url: str, warmup_s: float, seconds: float) -> int:
    """Engine child of :func:`measure_session_rss_growth`: print its RSS readings as JSON."""
    return run_child(_session, url, warmup_s, seconds)


def measure_session_rss_growth(simulated_s: float = 600.0, *, warmup_s: float = 10.0,
                               time_scale: float = SESSION_TIME_SCALE) -> dict[str, Any]:
    """RSS growth of a running engine over a simulated session (target: under 5 %).

    The simulator runs in its own process (market steps every ``SESSION_STEP_S`` real seconds,
    ``time_scale`` simulated seconds per real second, takers that fill our quotes), so
    ``simulated_s`` of market take ``simulated_s / time_scale`` real seconds. The engine runs
    in a fresh child process with its default configuration and logging: it connects, quotes for
    ``warmup_s`` (everything allocated once is allocated by then), reads ``rss_mb_start``, runs
    the session, reads ``rss_mb_after`` (both after ``gc.collect()``). Only the engine's RSS is
    measured: the simulator's history lives in the other process.
    """
    import orjson

    from perf.bench_tick_to_quote import ROOT, child_env, stop

    real_s = simulated_s / time_scale
    env = child_env()
    sim = subprocess.Popen([sys.executable, "-c", _SIMULATOR, str(time_scale), str(SESSION_STEP_S)],
                           cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert sim.stdout is not None
        url = sim.stdout.readline().decode().strip()
        if not url.startswith("ws://"):
            raise RuntimeError(f"simulator did not print its URL (got {url!r})")
        progress(f"memory: engine session of {simulated_s:g} simulated s ({real_s:g} s real at "
                 f"time_scale {time_scale:g}) after {warmup_s:g} s warm-up, against {url}")
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--session-child", url,
             "--warmup", str(warmup_s), "--seconds", str(real_s)],
            cwd=ROOT, env=env, capture_output=True, timeout=warmup_s + real_s + 60, check=False)
    finally:
        stop(sim)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"engine child failed ({proc.returncode}): "
                           f"{proc.stderr.decode(errors='replace')[-2000:]}")
    out = orjson.loads(proc.stdout.strip().splitlines()[-1])
    out["rss_growth_pct"] = 100.0 * (out["rss_mb_after"] / out["rss_mb_start"] - 1.0)
    out.update(session_simulated_s=simulated_s, session_real_s=real_s,
               session_time_scale=time_scale, session_warmup_s=warmup_s,
               target_rss_growth_pct=TARGET_RSS_GROWTH_PCT)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 simulated s session, not 600")
    parser.add_argument("--json", metavar="PATH", help="write the result as JSON")
    parser.add_argument("--session-child", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=float, default=2.0, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=3.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.session_child:
        return session_child(args.session_child, args.warmup, args.seconds)
    result = run(args.quick)
    for name in ("order", "quote", "sample"):
        print(f"memory.{name}: {result[f'bytes_per_{name}_qengine']:.0f} B vs "
              f"{result[f'bytes_per_{name}_objects']:.0f} B "
              f"({result[f'{name}_reduction_pct']:.1f} % less)")
    print(f"memory.rss: {result['rss_mb_start']:.1f} MiB -> {result['rss_mb_after']:.1f} MiB "
          f"({result['rss_growth_pct']:+.2f} %) over {result['session_simulated_s']:g} "
          f"simulated s ({result['session_real_s']:g} s real)")
    if args.json:
        write_json(args.json, {"machine": machine_info(), "results": {"memory": result}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
