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
import os
import time
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from ._binance_kernels import merge_event_order, parse_decimals
from .data import DataError
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
_READ_BYTES = 1 << 24
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
        for first, lines in _line_blocks(Path(path)):
            reader.lines_from(first, lines)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(source, f"cannot read the gzip recording: {exc}") from exc
    rows = _order_rows(reader.raw_rows(), int(base_latency_ns))
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


def _line_blocks(path: Path) -> Iterator[tuple[int, list[bytes]]]:
    """(number of the first line, lines without newlines) of a gzip file, a block at a time."""
    first = 1
    with gzip.open(path, "rb") as f:
        rest = b""
        while block := f.read(_READ_BYTES):
            lines = (rest + block).split(b"\n")
            rest = lines.pop()
            yield first, lines
            first += len(lines)
        if rest:
            yield first, [rest]


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
        self._skipped_lines: list[int] = []
        # One entry per run of rows; numbers holds px, qty (as received) for every row.
        self._ev: list[int] = []
        self._exch: list[int] = []
        self._local: list[int] = []
        self._count: list[int] = []
        self._line: list[int] = []
        self._numbers: list[Any] = []

    def lines_from(self, first: int, lines: list[bytes]) -> None:
        """Read ``lines``, the first of which is line number ``first`` of the file."""
        start = _TS_DIGITS + 1 + len(_SKIPPED_PREFIX)
        dropped = 0
        for number, line in enumerate(lines, first):
            # The hot path: the bulk of a recording is bookTicker, dropped without parsing.
            if self.combined and line.startswith(_SKIPPED_PREFIX, _TS_DIGITS + 1):
                end = line.find(b'"', start, start + 100)
                if end > 0 and line.endswith(_SKIPPED_STREAM, start, end):
                    dropped += 1
                    continue
            self.line(number, line)
        self.lines = first + len(lines) - 1
        if dropped:
            self.ignored[_SKIPPED_STREAM[1:].decode()] += dropped

    def line(self, number: int, line: bytes) -> None:
        """Read one line (number ``number``, counted from 1)."""
        if not line or line.isspace():
            self.ignored["blank line"] += 1
            return
        mark = (len(self._ev), len(self._numbers))
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
        del self._numbers[mark[1]:]
        self.skipped.append(f"line {number}: {reason}")
        self._skipped_lines.append(number)

    def _message(self, number: int, line: bytes) -> None:
        try:
            local_ts = int(line[:_TS_DIGITS])
        except ValueError:
            raise _Malformed("no 19-digit local timestamp at the start of the line") from None
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
            exch_ts = int(data["T"]) * _MS_TO_NS
            bids, asks = _levels(data, "b"), _levels(data, "a")
            self._run(DEPTH_EVENT | BUY_EVENT, exch_ts, local_ts, number, bids)
            self._run(DEPTH_EVENT | SELL_EVENT, exch_ts, local_ts, number, asks)
            self.kinds["depth"] += 1
        elif kind == "trade":
            if data["X"] != "MARKET":
                self.ignored[f"trade X={data['X']}"] += 1
                return
            side = SELL_EVENT if data["m"] else BUY_EVENT
            exch_ts = int(data["T"]) * _MS_TO_NS
            self._run(TRADE_EVENT | side, exch_ts, local_ts, number, [(data["p"], data["q"])])
            self.kinds["trade"] += 1
        else:
            self.ignored[str(kind)] += 1

    def _snapshot(self, number: int, local_ts: int, message: dict[str, Any]) -> None:
        exch_ts = int(message["T"]) * _MS_TO_NS
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
        self._ev.append(ev)
        self._exch.append(exch_ts)
        self._local.append(local_ts)
        self._count.append(len(levels))
        self._line.append(number)
        self._numbers.extend(chain.from_iterable(levels))

    def raw_rows(self) -> np.ndarray:
        """The rows in receive order; a number that does not parse makes its line malformed."""
        count = np.array(self._count, np.int64)
        values, bad = _parse_numbers(self._numbers)
        row_line = np.repeat(np.array(self._line, np.int64), count)
        for index in sorted(bad | set(np.flatnonzero(~np.isfinite(values)).tolist())):
            line = int(row_line[index // 2])
            if line in self._skipped_lines:
                continue
            self._malformed(line, f"{self._numbers[index]!r} is not a finite number",
                            ("px", "qty")[index % 2], (len(self._ev), len(self._numbers)))
        keep = ~np.isin(row_line, self._skipped_lines)
        rows = np.zeros(int(keep.sum()), EVENT_DTYPE)
        rows["ev"] = np.repeat(np.array(self._ev, np.uint64), count)[keep]
        rows["exch_ts"] = np.repeat(np.array(self._exch, np.int64), count)[keep]
        rows["local_ts"] = np.repeat(np.array(self._local, np.int64), count)[keep]
        rows["px"] = values[0::2][keep]
        rows["qty"] = values[1::2][keep]
        return rows


def _levels(message: dict[str, Any], key: str) -> list[Any]:
    levels = message[key]
    if not isinstance(levels, list) or (levels and set(map(len, levels)) != {2}):
        raise _Malformed(f"{key!r} is not a list of [price, qty] pairs", key)
    return levels


def _parse_numbers(numbers: list[Any]) -> tuple[np.ndarray, set[int]]:
    """Numbers as received (decimal strings) to floats, each exactly as Python's ``float``."""
    values = np.zeros(len(numbers))
    parsed = np.zeros(len(numbers), bool)
    if numbers:
        try:
            text = "\n".join(numbers).encode("ascii")
        except (TypeError, UnicodeEncodeError):
            text = None  # numbers that are not ASCII strings: all by the slow path
        if text is not None:
            buffer = np.frombuffer(text, np.uint8).copy()
            if parse_decimals(buffer, values, parsed) != len(numbers):
                parsed[:] = False  # a string held a newline: tokens do not line up
    bad = set()
    for i in np.flatnonzero(~parsed).tolist():
        try:
            values[i] = float(numbers[i])
        except (TypeError, ValueError):
            bad.add(i)
    return values, bad


def _order_rows(raw: np.ndarray, base_latency_ns: int) -> np.ndarray:
    """hftbacktest's latency correction, then its split of rows into exchange and local order."""
    if len(raw) == 0:
        return raw
    latency = int((raw["local_ts"] - raw["exch_ts"]).min())
    if latency < 0:
        raw["local_ts"] += -latency + base_latency_ns
    by_exch = np.argsort(raw["exch_ts"], kind="stable")
    by_local = np.argsort(raw["local_ts"], kind="stable")
    out_row = np.empty(2 * len(raw), np.int64)
    out_flags = np.empty(2 * len(raw), np.uint64)
    n = merge_event_order(np.ascontiguousarray(raw["exch_ts"]),
                          np.ascontiguousarray(raw["local_ts"]), by_exch, by_local,
                          out_row, out_flags)
    rows = raw[out_row[:n]]
    rows["ev"] |= out_flags[:n]
    return rows
