"""Logging, counters, latency histograms, memory readings and the metrics file.

The hot path never formats a log line: it bumps counters in an int64 array and records latencies
into fixed log-linear histograms. A status line (default every 60 s) summarises them. All log and
metrics-file I/O happens in one ``QueueListener`` thread, never on the trio event loop, and the
listener is stopped (flushed) on exit so the tail of the log is never lost.
"""

from __future__ import annotations

import logging
import logging.handlers
import math
import os
import queue
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import orjson

LOGGER_NAME = "qengine"
METRICS_LOGGER_NAME = "qengine.metrics"

#: Counter names; the index of a name in this tuple is its slot in ``Counters.values``.
COUNTER_NAMES = (
    "messages",
    "tickers",
    "public_trades",
    "order_updates",
    "portfolio_updates",
    "quote_updates",
    "inserts",
    "amends",
    "cancels",
    "mass_quotes",
    "fills",
    "duplicate_fills",
    "rejects",
    "throttled",
    "errors",
    "reconnects",
    "risk_breaches",
    "stale_reconnects",
    "rows_skipped",
    "own_rows_invalid",
    # The quoted ticker's raw frames: decoded by the ticker lane's kernel, or left to io's
    # decoder (every one with ``--verbose``; otherwise only frames the kernel cannot read
    # exactly: many should not happen).
    "ticker_lane",
    "ticker_fallbacks",
)
COUNTER = {name: index for index, name in enumerate(COUNTER_NAMES)}


class Counters:
    """Monotonic event counters in one int64 array (cheap to bump, cheap to snapshot)."""

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values = np.zeros(len(COUNTER_NAMES), dtype=np.int64)

    def snapshot(self) -> dict[str, int]:
        """Return the counters as a name -> value dict."""
        return {name: int(self.values[i]) for i, name in enumerate(COUNTER_NAMES)}


class LatencyHistogram:
    """Log-linear histogram of nanosecond latencies: 16 sub-buckets per power of two.

    Relative error of a reported percentile is below 1/16 (about 6 %), the memory is fixed
    (40 x 16 int64), and recording is O(1) with no allocation.
    """

    __slots__ = ("counts", "max_ns", "total")
    _SUB = 16

    def __init__(self) -> None:
        self.counts = np.zeros(40 * self._SUB, dtype=np.int64)
        self.total = 0
        self.max_ns = 0

    def record(self, value_ns: int) -> None:
        """Add one latency sample in nanoseconds (negative values count as 0)."""
        value = value_ns if value_ns > 0 else 0
        if value < self._SUB:
            index = value
        else:
            exponent = value.bit_length() - 5  # value >> exponent lies in [16, 32)
            index = (exponent + 1) * self._SUB + ((value >> exponent) - self._SUB)
        self.counts[min(index, self.counts.size - 1)] += 1
        self.total += 1
        if value > self.max_ns:
            self.max_ns = value

    def _lower_bound(self, index: int) -> int:
        if index < self._SUB:
            return index
        exponent = index // self._SUB - 1
        return (self._SUB + index % self._SUB) << exponent

    def percentile_ns(self, fraction: float) -> float:
        """Return the ``fraction`` (0..1) quantile in ns, or NaN when empty."""
        if self.total == 0:
            return math.nan
        rank = max(1, math.ceil(fraction * self.total))
        cumulative = np.cumsum(self.counts)
        index = int(np.searchsorted(cumulative, rank))
        return float(min(self._lower_bound(index), self.max_ns))

    def summary_us(self) -> dict[str, float]:
        """p50 and p99 in microseconds (NaN when empty) and the sample count."""
        return {
            "p50_us": self.percentile_ns(0.50) / 1e3,
            "p99_us": self.percentile_ns(0.99) / 1e3,
            "n": float(self.total),
        }


def rss_mb() -> float:
    """Resident set size of this process in MiB (Linux /proc; falls back to peak RSS)."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@contextmanager
def open_logging(*, verbose: bool, log_file: str = "", metrics_file: str = "",
                 stream: Any = None) -> Iterator[logging.Logger]:
    """Route qengine's logging through a queue to a listener thread; flush it all on exit.

    Parameters
    ----------
    verbose : bool
        Log every event at DEBUG (``--verbose``); otherwise INFO and above.
    log_file, metrics_file : str
        Optional paths; the metrics file receives one JSON object per line.
    stream : file-like, optional
        Console stream (default ``sys.stderr``).
    """
    handlers: list[logging.Handler] = []
    console = logging.StreamHandler(stream or sys.stderr)
    console.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    handlers.append(console)
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file)
        file_handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s %(message)s"))
        handlers.append(file_handler)
    for handler in handlers:
        handler.addFilter(lambda record: not record.name.startswith(METRICS_LOGGER_NAME))
    if metrics_file:
        Path(metrics_file).parent.mkdir(parents=True, exist_ok=True)
        metrics_handler = logging.FileHandler(metrics_file)
        metrics_handler.setFormatter(logging.Formatter("%(message)s"))
        metrics_handler.addFilter(lambda record: record.name.startswith(METRICS_LOGGER_NAME))
        handlers.append(metrics_handler)
    log_queue: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = logging.handlers.QueueListener(log_queue, *handlers, respect_handler_level=False)
    logger = logging.getLogger(LOGGER_NAME)
    queue_handler = logging.handlers.QueueHandler(log_queue)
    previous = (logger.level, logger.propagate, list(logger.handlers))
    logger.handlers = [queue_handler]
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False
    metrics_logger = logging.getLogger(METRICS_LOGGER_NAME)
    metrics_logger.setLevel(logging.INFO if metrics_file else logging.CRITICAL + 1)
    listener.start()
    try:
        yield logger
    finally:
        listener.stop()
        for handler in handlers:
            handler.close()
        logger.setLevel(previous[0])
        logger.propagate = previous[1]
        logger.handlers = previous[2]


def write_metrics_row(row: dict[str, Any]) -> None:
    """Queue one metrics-file row (a JSON object); written by the listener thread."""
    metrics = logging.getLogger(METRICS_LOGGER_NAME)
    if metrics.isEnabledFor(logging.INFO):
        # Serialised here (a few microseconds, once per status interval or fill) so the queue
        # handler does not turn the dict into its repr.
        metrics.info("%s", orjson.dumps(row, option=orjson.OPT_SERIALIZE_NUMPY).decode())


class Telemetry:
    """Counters, latency histograms and last-event times of one engine (hot path: bump only)."""

    def __init__(self) -> None:
        self.counters = Counters()
        #: Ticker arrival to the first order action of the cycle leaving the client.
        self.tick_to_quote = LatencyHistogram()
        #: Order request round trip (send to reply).
        self.rpc_round_trip = LatencyHistogram()
        #: One quote cycle (pipeline kernel plus diff), in the quoter.
        self.quote_cycle = LatencyHistogram()
        self.last_ticker_ns = 0
        self.fills: list[dict[str, Any]] = []

    def record_ticker(self, time_ns: int) -> None:
        """Remember when the newest ticker arrived (stale-data detection)."""
        self.last_ticker_ns = time_ns

    def record_fill(self, index: int, direction: str, price: float, amount: float,
                    is_maker: bool, label: str | None) -> None:
        """Queue a metrics-file row for one fill."""
        write_metrics_row({"event": "fill", "instrument": index, "direction": direction,
                           "price": price, "amount": amount, "maker": is_maker, "label": label})

    def latency_summary(self) -> dict[str, float]:
        """p50/p99 (us) of every histogram, for the status line and the summary."""
        out: dict[str, float] = {}
        for name in ("tick_to_quote", "rpc_round_trip", "quote_cycle"):
            summary = getattr(self, name).summary_us()
            out[f"{name}_p50_us"] = summary["p50_us"]
            out[f"{name}_p99_us"] = summary["p99_us"]
        return out
