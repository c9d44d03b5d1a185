"""Logging cost: bytes and CPU per 100,000 processed messages, the old bot's way versus qengine's.

One deterministic synthetic stream (tickers, public trades, order and portfolio updates, a quote
update every 50 messages, and a few fills, risk breaches, errors and reconnects) is "processed"
four times, each with one logging policy writing to its own file:

* ``old``: the old bot (original-quoter.md 8.5, seed-task-document tasks 6-8 and 18 "before"):
  f-string INFO lines per message, per ticker, per quote update and per order event, through a
  stdout handler and a file handler (stdout goes to /dev/null here);
* ``old_sampled``: the same after the task list's sampling (every 100th message, every 1000th
  ticker, every 20th quote update; fills, errors, breaches and reconnects always);
* ``default``: qengine: counters in an int64 array, one status line per 60 s of stream time
  (100 messages/s), one line per fill, breach, error and reconnect, through
  :func:`qengine.telemetry.open_logging` (queue + listener thread) to a file;
* ``verbose``: qengine ``--verbose``: every event at DEBUG as well.

CPU is ``time.process_time`` (all threads, so the listener thread's formatting and writes count)
from before the logging setup until it is closed and flushed, minus the CPU of the same loop
without any logging. ``critical_events_kept`` is true only if every fill, breach, error and
reconnect of the stream appears in the default log file.

Run: ``python perf/bench_logging.py [--quick] [--json PATH]``.
"""

# The old bot's policies log eagerly formatted f-strings on purpose: that is what is measured.
# ruff: noqa: G004

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from perf._harness import machine_info, progress, write_json
from qengine import telemetry

PER = 100_000  # results are scaled to this many messages
RATE_MSGS_PER_S = 100.0  # stream time: one ticker channel at 100 updates/s
STATUS_INTERVAL_S = 60.0
QUOTE_EVERY = 50
CRITICAL = ("fill", "breach", "error", "reconnect")
TARGET_VOLUME_REDUCTION_PCT = 95.0
TARGET_CPU_REDUCTION_PCT = 90.0
CHANNEL = "ticker.BTC-PERPETUAL.raw"


def make_events(n: int) -> list[tuple[Any, ...]]:
    """``(kind, seq, bid, ask, sample)`` rows; critical kinds at fixed, spread-out positions."""
    critical = {}
    for kind, count in (("fill", 100), ("breach", 5), ("error", 10), ("reconnect", 3)):
        scaled = max(1, count * n // PER)
        for k in range(scaled):
            critical[(k * n // scaled + 7 * (CRITICAL.index(kind) + 1)) % n] = kind
    events = []
    for i in range(n):
        bid = 64_900 + (i * 7919) % 50
        kind = critical.get(i)
        if kind is None:
            r = (i * 2654435761) % 100
            kind = ("ticker" if r < 85 else "trade" if r < 93 else "order" if r < 98
                    else "portfolio")
        sample = (f'{{"channel_name":"{CHANNEL}","notification":{{"best_bid_price":{bid},'
                  f'"best_ask_price":{bid + 10}')
        events.append((kind, i, bid, bid + 10, sample))
    return events


def _null(events: list[tuple[Any, ...]], log: Any) -> int:
    handled = 0
    for _kind, seq, _bid, _ask, _sample in events:
        handled += seq & 1  # the same loop as the policies, minus the logging
    return handled


def _old(events: list[tuple[Any, ...]], log: logging.Logger) -> int:
    for kind, seq, bid, ask, sample in events:
        log.info(f"Received message: {sample}")
        log.info(f"Received data with keys: {['channel_name', 'notification']}")
        log.info(f"Processing notification from channel: {CHANNEL}")
        if kind == "ticker":
            mark = (bid + ask) / 2 + 0.25
            log.info(f"Received ticker update. Keys: {['best_bid_price', 'best_ask_price', 'mark_price']}. Channel: {CHANNEL}")  # noqa: E501
            log.info(f"Extracted instrument ID 'BTC-PERPETUAL' from channel_name '{CHANNEL}'")
            log.info("Processing ticker for instrument: BTC-PERPETUAL")
            log.info(f"Ticker prices: mark={mark}, bid={bid}, ask={ask}")
            log.info(f"Updated ticker: BTC-PERPETUAL, mark: {mark}, bid: {bid}, ask: {ask}")
        elif kind == "order":
            log.info(f"Order update: id={seq} status=open price={bid} amount=0.1")
        elif kind == "fill":
            log.info(f"Order filled: fill#{seq} - BUY {0.1:.4f} @ {bid:.2f}")
            log.info(f"PositionTracker updated with fill: fill#{seq}")
        elif kind == "breach":
            log.warning(f"Risk limit breached: breach#{seq} position limit")
        elif kind == "error":
            log.error(f"Error in quote task: error#{seq} boom")
        elif kind == "reconnect":
            log.info(f"Reconnecting: reconnect#{seq}")
        if seq % QUOTE_EVERY == 0:
            price = (bid + ask) / 2
            log.info(f"Created price data from ticker: mid_price={price}")
            log.info(f"Updating quotes for BTC-PERPETUAL at price {price}")
            log.info("Generating quotes using Avellaneda market maker")
            log.info("Generated 3 bid quotes and 3 ask quotes")
            log.info("Directly placing quotes instead of signaling")
    return 0


def _old_sampled(events: list[tuple[Any, ...]], log: logging.Logger) -> int:
    tickers = quotes = 0
    for kind, seq, bid, ask, _sample in events:
        if (seq + 1) % 100 == 0:
            log.info(f"Processed {seq + 1} WebSocket messages")
        if kind == "ticker":
            tickers += 1
            if tickers % 1000 == 0:
                log.info(f"Ticker update #{tickers}: BTC-PERPETUAL mark={(bid + ask) / 2:.2f}")
        elif kind == "fill":
            log.info(f"SIGNIFICANT FILL: fill#{seq} - BUY {0.1:.4f} @ {bid:.2f}")
        elif kind == "breach":
            log.warning(f"Risk limit breached: breach#{seq} position limit")
        elif kind == "error":
            log.error(f"Error in quote task: error#{seq} boom")
        elif kind == "reconnect":
            log.info(f"Reconnecting: reconnect#{seq}")
        if seq % QUOTE_EVERY == 0:
            quotes += 1
            if quotes % 20 == 0:
                log.info(f"Quote update #{quotes}: 3B/3A @ {(bid + ask) / 2:.2f}")
    return 0


def _qengine(events: list[tuple[Any, ...]], log: logging.Logger) -> int:
    counters = telemetry.Counters()
    values, c = counters.values, telemetry.COUNTER
    kind_counter = {"ticker": c["tickers"], "trade": c["public_trades"],
                    "order": c["order_updates"], "portfolio": c["portfolio_updates"],
                    "fill": c["fills"], "breach": c["risk_breaches"], "error": c["errors"],
                    "reconnect": c["reconnects"]}
    every = int(RATE_MSGS_PER_S * STATUS_INTERVAL_S)
    verbose = log.isEnabledFor(logging.DEBUG)
    for kind, seq, bid, ask, _sample in events:
        values[0] += 1
        values[kind_counter[kind]] += 1
        if verbose:
            log.debug("%s seq=%d bid_ticks=%d ask_ticks=%d", kind, seq, bid, ask)
        if kind == "fill":
            log.info("fill fill#%d side=buy price_ticks=%d lots=100", seq, bid)
        elif kind == "breach":
            log.warning("risk breach breach#%d mask=%d", seq, 1)
        elif kind == "error":
            log.error("error error#%d in quote task", seq)
        elif kind == "reconnect":
            log.warning("reconnect reconnect#%d after %d s", seq, 1)
        if (seq + 1) % every == 0:
            log.info("status msgs=%d tickers=%d fills=%d errors=%d breaches=%d reconnects=%d",
                     values[0], values[c["tickers"]], values[c["fills"]], values[c["errors"]],
                     values[c["risk_breaches"]], values[c["reconnects"]])
    return 0


def _measure_old(events: list[tuple[Any, ...]], path: Path,
                 policy: Callable[..., int]) -> float:
    started = time.process_time()
    log = logging.getLogger(f"perf.oldbot.{path.stem}")
    log.propagate = False
    log.setLevel(logging.INFO)
    fmt = logging.Formatter("%(asctime)s - %(name)s - %(levelname)s - %(message)s")
    with open(os.devnull, "w") as devnull:
        handlers = [logging.StreamHandler(devnull), logging.FileHandler(path)]
        for handler in handlers:
            handler.setFormatter(fmt)
            log.addHandler(handler)
        try:
            policy(events, log)
        finally:
            for handler in handlers:
                log.removeHandler(handler)
                handler.close()
    return time.process_time() - started


def _measure_qengine(events: list[tuple[Any, ...]], path: Path, verbose: bool) -> float:
    started = time.process_time()
    with open(os.devnull, "w") as devnull, telemetry.open_logging(
        verbose=verbose, log_file=str(path), stream=devnull
    ) as log:
        _qengine(events, log)
    return time.process_time() - started


def run(quick: bool) -> dict[str, Any]:
    """Measure the four policies on one stream; return bytes and CPU per 100,000 messages."""
    n = 20_000 if quick else PER
    events = make_events(n)
    scale = PER / n
    progress(f"logging: {n} synthetic messages through four logging policies")
    out: dict[str, Any] = {"messages_simulated": n}
    with tempfile.TemporaryDirectory(prefix="qengine-perf-log-") as tmp:
        started = time.process_time()
        _null(events, None)
        loop_cpu = time.process_time() - started
        cpu = {
            "old": _measure_old(events, Path(tmp, "old.log"), _old),
            "old_sampled": _measure_old(events, Path(tmp, "old_sampled.log"), _old_sampled),
            "default": _measure_qengine(events, Path(tmp, "default.log"), verbose=False),
            "verbose": _measure_qengine(events, Path(tmp, "verbose.log"), verbose=True),
        }
        for mode, seconds in cpu.items():
            out[f"{mode}_bytes_per_100k"] = Path(tmp, f"{mode}.log").stat().st_size * scale
            out[f"{mode}_cpu_s_per_100k"] = max(seconds - loop_cpu, 1e-6) * scale
        default_log = Path(tmp, "default.log").read_text()
    wanted = [f"{kind}#{seq}" for kind, seq, *_ in events if kind in CRITICAL]
    out["critical_events"] = len(wanted)
    out["critical_events_kept"] = all(token in default_log for token in wanted)
    for base in ("old", "old_sampled"):
        suffix = "" if base == "old" else "_vs_sampled"
        out[f"volume_reduction_pct{suffix}"] = 100.0 * (
            1.0 - out["default_bytes_per_100k"] / out[f"{base}_bytes_per_100k"])
        out[f"cpu_reduction_pct{suffix}"] = 100.0 * (
            1.0 - out["default_cpu_s_per_100k"] / out[f"{base}_cpu_s_per_100k"])
    out["target_volume_reduction_pct"] = TARGET_VOLUME_REDUCTION_PCT
    out["target_cpu_reduction_pct"] = TARGET_CPU_REDUCTION_PCT
    out["meets_target"] = bool(out["volume_reduction_pct"] >= TARGET_VOLUME_REDUCTION_PCT
                               and out["cpu_reduction_pct"] >= TARGET_CPU_REDUCTION_PCT
                               and out["critical_events_kept"])
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run for smoke tests")
    parser.add_argument("--json", metavar="PATH", help="write the result as JSON")
    args = parser.parse_args(argv)
    r = run(args.quick)
    for mode in ("old", "old_sampled", "default", "verbose"):
        print(f"logging.{mode}: {r[f'{mode}_bytes_per_100k'] / 1e6:.2f} MB, "
              f"{r[f'{mode}_cpu_s_per_100k']:.3f} CPU s per 100k messages")
    print(f"logging: volume -{r['volume_reduction_pct']:.1f} %, CPU -{r['cpu_reduction_pct']:.1f} %"
          f", critical events kept: {r['critical_events_kept']}")
    if args.json:
        write_json(args.json, {"machine": machine_info(), "results": {"logging": r}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
