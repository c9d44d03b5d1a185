"""Raw Binance USD-M futures stream recordings to event rows: the same rows, in the same order, as
hftbacktest 2.4.4's ``hftbacktest.data.utils.binancefutures.convert`` with its default options.

A recording has one message per line, ``<19-digit local receive ts in ns> <json>``: combined
stream messages (``{"stream": ..., "data": {...}}``) or, with ``combined_stream=False``, bare
ones, plus REST depth snapshots (``{"lastUpdateId", "T", "bids", "asks"}``). As in hftbacktest:

- ``depthUpdate``: one DEPTH row per level, bids then asks, at ``exch_ts = T`` (ms) x 1e6;
- ``trade`` with ``X == "MARKET"``: one TRADE row, SELL if the buyer is the maker (``m``);
- a snapshot: per side with levels, one DEPTH_CLEAR row up to the last level's price, then one
  DEPTH_SNAPSHOT row per level (bids first);
- everything else is dropped (bookTicker, markPriceUpdate, non-MARKET trades, ``{"code": ...}``
  error messages, other streams), and counted in the report by kind;
- ``local_ts`` is shifted by ``-min(local_ts - exch_ts) + base_latency_ns`` when that minimum is
  negative (not otherwise, as hftbacktest does); then rows whose exchange order differs from their
  receive order are split into EXCH-only and LOCAL-only rows (``merge_event_order``).

Malformed lines (no timestamp prefix, bad JSON, missing fields, values that are not numbers, or
numbers that are not finite) raise :class:`~qengine.backtest.data.DataError` with the file and the
line number, or with ``skip_malformed=True`` are dropped whole and counted. Lines of the
bookTicker stream are recognised by their stream name and dropped unparsed (hftbacktest drops
them too, so no row can differ). Blank lines are counted and ignored.
"""

from __future__ import annotations

import gzip
import math
import os
import time
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ._binance_kernels import merge_event_order
from ._binance_scan import scan_lines
from ._errors import DataError
from .events import (
    BUY_EVENT,
    DEPTH_CLEAR_EVENT,
    DEPTH_EVENT,
    DEPTH_SNAPSHOT_EVENT,
    EVENT_DTYPE,
    SELL_EVENT,
    TRADE_EVENT,
)

__all__ = ["CONVERTER_VERSION", "ConversionReport", "convert_binance_futures",
           "convert_binance_futures_with_report", "write_events_npz"]

#: Bump when the rows produced for the same input change (it keys the conversion cache).
CONVERTER_VERSION = 1

_TS_DIGITS = 19
_MS_TO_NS = 1_000_000
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_READ_BYTES = 1 << 22  # the scanner's row buffers are about 5x a block
_EXAMPLES = 5
_SKIPPED_PREFIX = b'{"stream":"'
_SKIPPED_STREAM = b"@bookTicker"


@dataclass(frozen=True, slots=True)
class ConversionReport:
    """What a conversion read, wrote, ignored and skipped."""

    source: str
    output: str | None  # the file written (".npz" appended if it was missing)
    rows: int
    lines: int
    depth_updates: int
    trades: int
    snapshots: int
    ignored: Mapping[str, int]  # dropped by design, by kind (e.g. bookTicker)
    skipped: int  # malformed lines dropped with skip_malformed=True
    skipped_examples: tuple[str, ...]  # the first few, as "line N: reason"
    convert_s: float  # reading and converting
    write_s: float  # compressing and writing the output (0 without one)

    def summary(self) -> str:
        ignored = ", ".join(f"{k} {v}" for k, v in sorted(self.ignored.items())) or "none"
        target = f" to {self.output}" if self.output else ""
        return (f"{self.rows} rows{target} from {self.lines} lines ({self.depth_updates} depth "
                f"updates, {self.trades} trades, {self.snapshots} snapshots); ignored: {ignored}; "
                f"skipped malformed lines: {self.skipped}; converted in {self.convert_s:.3f} s, "
                f"written in {self.write_s:.3f} s")


def convert_binance_futures(
    path: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    combined_stream: bool = True,
    base_latency_ns: int = 0,
    skip_malformed: bool = False,
) -> np.ndarray:
    """Convert a raw recording (``.gz``); return the ``EVENT_DTYPE`` rows.

    With ``output``, also write them as hftbacktest does (``np.savez_compressed``, array
    ``data``; ``.npz`` is appended if missing). See the module docstring for the rules.
    """
    rows, _ = convert_binance_futures_with_report(
        path, output, combined_stream=combined_stream, base_latency_ns=base_latency_ns,
        skip_malformed=skip_malformed)
    return rows


def convert_binance_futures_with_report(
    path: str | os.PathLike[str],
    output: str | os.PathLike[str] | None = None,
    *,
    combined_stream: bool = True,
    base_latency_ns: int = 0,
    skip_malformed: bool = False,
) -> tuple[np.ndarray, ConversionReport]:
    """:func:`convert_binance_futures`, also returning the :class:`ConversionReport`."""
    if isinstance(base_latency_ns, bool) or not isinstance(base_latency_ns, int | np.integer):
        raise TypeError(f"base_latency_ns must be an int (ns), got {base_latency_ns!r}")
    started = time.perf_counter()
    source = str(path)
    reader = _Reader(source, combined_stream, skip_malformed)
    try:
        for first, lines, block in _line_blocks(Path(path)):
            reader.block(first, lines, block)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(source, f"cannot read the gzip recording: {exc}") from exc
    rows = _order_rows(*reader.raw_columns(), int(base_latency_ns))
    converted = time.perf_counter()
    written = None if output is None else str(write_events_npz(rows, output))
    report = ConversionReport(
        source=source, output=written, rows=len(rows), lines=reader.lines,
        depth_updates=reader.kinds["depth"], trades=reader.kinds["trade"],
        snapshots=reader.kinds["snapshot"], ignored=dict(reader.ignored),
        skipped=len(reader.skipped), skipped_examples=tuple(reader.skipped[:_EXAMPLES]),
        convert_s=converted - started, write_s=time.perf_counter() - converted)
    return rows, report


def write_events_npz(rows: np.ndarray, output: str | os.PathLike[str]) -> Path:
    """Write rows as hftbacktest does (``np.savez_compressed``, array ``data``), atomically."""
    target = Path(output)
    if target.suffix != ".npz":
        target = target.with_name(target.name + ".npz")
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with partial.open("wb") as f:
            np.savez_compressed(f, data=rows)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _line_blocks(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """(number of the first line, number of lines, the lines) of a gzip file, in blocks."""
    first = 1
    with gzip.open(path, "rb") as f:
        rest = b""
        while block := f.read(_READ_BYTES):
            block = rest + block
            cut = block.rfind(b"\n") + 1
            rest = block[cut:]
            if cut:
                lines = block.count(b"\n", 0, cut)
                yield first, lines, block[:cut]
                first += lines
        if rest:
            yield first, 1, rest


class _Malformed(Exception):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class _Reader:
    """Turns lines into raw (unordered) rows, kept as runs that share ev, timestamps and line."""

    def __init__(self, source: str, combined_stream: bool, skip_malformed: bool) -> None:
        self.source = source
        self.combined = combined_stream
        self.skip = skip_malformed
        self.lines = 0
        self.kinds: Counter[str] = Counter()
        self.ignored: Counter[str] = Counter()
        self.skipped: list[str] = []
        # Rows of the Python path, one entry per run of rows sharing ev, timestamps and line;
        # values holds px, qty of every row.
        self._ev: list[int] = []
        self._exch: list[int] = []
        self._local: list[int] = []
        self._count: list[int] = []
        self._line: list[int] = []
        self._values: list[float] = []
        self._scanned: list[tuple[np.ndarray, ...]] = []  # columns of the scanner's rows

    def block(self, first: int, lines: int, block: bytes) -> None:
        """Read the ``lines`` complete lines in ``block``, the first of which is line ``first``.

        The Numba scanner takes the lines it fully understands (depth, MARKET trades, bookTicker);
        every other line goes through :meth:`line`. Both give the same rows for a line.
        """
        buf = np.frombuffer(block, np.uint8)
        capacity = len(block) // 9 + 1  # a level takes at least 9 bytes: ["1","1"]
        columns = (np.empty(capacity, np.uint64), np.empty(capacity, np.int64),
                   np.empty(capacity, np.int64), np.empty(capacity), np.empty(capacity),
                   np.empty(capacity, np.int64))
        fallback = np.empty(3 * (lines + 1), np.int64)
        counts = np.zeros(5, np.int64)
        rows = scan_lines(buf, first, self.combined, *columns, fallback, counts)
        self._scanned.append(tuple(column[:rows].copy() for column in columns))
        fallback_lines, tickers, depth, trades, scanned = counts.tolist()
        for k in range(fallback_lines):
            number, start, stop = fallback[3 * k: 3 * k + 3].tolist()
            self.line(number, block[start:stop])
        if tickers:
            self.ignored[_SKIPPED_STREAM[1:].decode()] += tickers
        self.kinds["depth"] += depth
        self.kinds["trade"] += trades
        self.lines = first + scanned - 1

    def line(self, number: int, line: bytes) -> None:
        """Read one line (number ``number``, counted from 1) in Python."""
        if self.combined and line.startswith(_SKIPPED_PREFIX, _TS_DIGITS + 1):
            start = _TS_DIGITS + 1 + len(_SKIPPED_PREFIX)
            end = line.find(b'"', start)
            if end > 0 and line.endswith(_SKIPPED_STREAM, start, end):
                self.ignored[_SKIPPED_STREAM[1:].decode()] += 1
                return
        if not line or line.isspace():
            self.ignored["blank line"] += 1
            return
        mark = (len(self._ev), len(self._values))
        try:
            self._message(number, line)
        except _Malformed as exc:
            self._malformed(number, str(exc), exc.field, mark)
        except KeyError as exc:
            self._malformed(number, f"missing field {exc.args[0]!r}", str(exc.args[0]), mark)
        except (TypeError, ValueError, IndexError, AttributeError) as exc:
            self._malformed(number, f"unexpected value ({exc})", None, mark)

    def _malformed(self, number: int, reason: str, field: str | None,
                   mark: tuple[int, int]) -> None:
        if not self.skip:
            raise DataError(self.source, reason, line=number, field=field)
        for column in (self._ev, self._exch, self._local, self._count, self._line):
            del column[mark[0]:]
        del self._values[mark[1]:]
        self.skipped.append(f"line {number}: {reason}")

    def _message(self, number: int, line: bytes) -> None:
        try:
            local_ts = int(line[:_TS_DIGITS])
        except ValueError:
            raise _Malformed("no 19-digit local timestamp at the start of the line") from None
        if not _INT64_MIN <= local_ts <= _INT64_MAX:
            raise _Malformed(f"local timestamp {local_ts} is outside int64")
        try:
            message = orjson.loads(line[_TS_DIGITS + 1:])
        except orjson.JSONDecodeError as exc:
            raise _Malformed(f"bad JSON ({exc})") from None
        if not isinstance(message, dict):
            raise _Malformed("the message is not a JSON object")
        # Bare streams: a message without an event type is a snapshot or an error message.
        bare = message if "e" in message else None
        data = message.get("data") if self.combined else bare
        if data is None:
            if "code" in message:
                self.ignored["error message"] += 1
            else:
                self._snapshot(number, local_ts, message)
            return
        if not isinstance(data, dict):
            raise _Malformed("'data' is not a JSON object", "data")
        kind = data["e"]
        if kind == "depthUpdate":
            exch_ts = _exch_ns(data)
            bids, asks = _levels(data, "b"), _levels(data, "a")
            self._run(DEPTH_EVENT | BUY_EVENT, exch_ts, local_ts, number, bids)
            self._run(DEPTH_EVENT | SELL_EVENT, exch_ts, local_ts, number, asks)
            self.kinds["depth"] += 1
        elif kind == "trade":
            if data["X"] != "MARKET":
                self.ignored[f"trade X={data['X']}"] += 1
                return
            side = SELL_EVENT if data["m"] else BUY_EVENT
            exch_ts = _exch_ns(data)
            self._run(TRADE_EVENT | side, exch_ts, local_ts, number, [(data["p"], data["q"])])
            self.kinds["trade"] += 1
        else:
            self.ignored[str(kind)] += 1

    def _snapshot(self, number: int, local_ts: int, message: dict[str, Any]) -> None:
        exch_ts = _exch_ns(message)
        bids, asks = _levels(message, "bids"), _levels(message, "asks")
        for side, levels in ((BUY_EVENT, bids), (SELL_EVENT, asks)):
            if levels:
                clear_upto = levels[-1][0]
                self._run(DEPTH_CLEAR_EVENT | side, exch_ts, local_ts, number, [(clear_upto, "0")])
                self._run(DEPTH_SNAPSHOT_EVENT | side, exch_ts, local_ts, number, levels)
        self.kinds["snapshot"] += 1

    def _run(self, ev: int, exch_ts: int, local_ts: int, number: int, levels: list[Any]) -> None:
        if not levels:
            return
        values = _floats(chain.from_iterable(levels))
        self._ev.append(ev)
        self._exch.append(exch_ts)
        self._local.append(local_ts)
        self._count.append(len(levels))
        self._line.append(number)
        self._values.extend(values)

    def raw_columns(self) -> tuple[np.ndarray, ...]:
        """``ev, exch_ts, local_ts, px, qty`` of the rows in receive order."""
        count = np.array(self._count, np.int64)
        values = np.array(self._values, np.float64).reshape(-1, 2)
        slow = (np.repeat(np.array(self._ev, np.uint64), count),
                np.repeat(np.array(self._exch, np.int64), count),
                np.repeat(np.array(self._local, np.int64), count),
                values[:, 0], values[:, 1], np.repeat(np.array(self._line, np.int64), count))
        columns = [np.concatenate(parts) for parts in zip(slow, *self._scanned, strict=True)]
        self._scanned.clear()
        if len(slow[0]):
            # Each line went through one path, each path in line order: a stable sort merges.
            order = np.argsort(columns[-1], kind="stable")
            columns = [column[order] for column in columns]
        return tuple(columns[:-1])


def _floats(numbers: Iterable[Any]) -> list[float]:
    """``px, qty, px, qty, ...`` with Python's ``float`` (as hftbacktest), all finite."""
    values = []
    for number in numbers:
        try:
            value = float(number)
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value):
            raise _Malformed(f"{number!r} is not a finite number", ("px", "qty")[len(values) % 2])
        values.append(value)
    return values


def _exch_ns(message: dict[str, Any]) -> int:
    """``T`` (ms) in ns, as hftbacktest computes it, checked to fit int64."""
    exch_ts = int(message["T"]) * _MS_TO_NS
    if not _INT64_MIN <= exch_ts <= _INT64_MAX:
        raise _Malformed(f"T = {message['T']!r} ms is outside int64 in ns", "T")
    return exch_ts


def _levels(message: dict[str, Any], key: str) -> list[Any]:
    levels = message[key]
    if not isinstance(levels, list) or (levels and set(map(len, levels)) != {2}):
        raise _Malformed(f"{key!r} is not a list of [price, qty] pairs", key)
    return levels


def _order_rows(ev: np.ndarray, exch_ts: np.ndarray, local_ts: np.ndarray, px: np.ndarray,
                qty: np.ndarray, base_latency_ns: int) -> np.ndarray:
    """hftbacktest's latency correction, then its split of rows into exchange and local order."""
    if len(ev) == 0:
        return np.zeros(0, EVENT_DTYPE)
    latency = int((local_ts - exch_ts).min())
    if latency < 0:
        local_ts += -latency + base_latency_ns
    by_exch = np.argsort(exch_ts, kind="stable")
    by_local = np.argsort(local_ts, kind="stable")
    out_row = np.empty(2 * len(ev), np.int64)
    out_flags = np.empty(2 * len(ev), np.uint64)
    n = merge_event_order(exch_ts, local_ts, by_exch, by_local, out_row, out_flags)
    source = out_row[:n]
    rows = np.zeros(n, EVENT_DTYPE)
    rows["ev"] = ev[source] | out_flags[:n]
    rows["exch_ts"] = exch_ts[source]
    rows["local_ts"] = local_ts[source]
    rows["px"] = px[source]
    rows["qty"] = qty[source]
    return rows
