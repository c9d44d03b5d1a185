"""Data splits: what one sweep task replays, loaded by the worker itself from the file paths.

A :class:`Split` names files (paths valid on every worker: a shared filesystem) and, for a
walk-forward window, a time range. Workers load rows with ``qengine.backtest.data.load_events``
(a raw ``.gz`` is converted once into the events cache) and keep the last few sources in memory,
so the tasks of one split that land on the same worker read the files once. Nothing but paths and
numbers goes through the scheduler.

A window ``[start_ns, end_ns)`` replays the rows whose time (``local_ts``, what the strategy sees)
falls in it, preceded by a depth snapshot of the book as it stood at ``start_ns`` (rebuilt from the
depth, snapshot and clear rows before it): the backtest starts with the full book, as it would from
a recording that began there with a snapshot.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qengine.backtest.data import converted_path, load_events
from qengine.backtest.events import (
    BUY_EVENT,
    DEPTH_CLEAR_EVENT,
    DEPTH_EVENT,
    DEPTH_SNAPSHOT_EVENT,
    EVENT_DTYPE,
    EXCH_EVENT,
    KIND_MASK,
    LOCAL_EVENT,
    SELL_EVENT,
)

_CACHED_SOURCES = 4


@dataclass(frozen=True, slots=True)
class Split:
    """One slice of the data: ``files`` in time order, optionally a window of them."""

    name: str
    files: tuple[str, ...]
    start_ns: int | None = None
    end_ns: int | None = None

    def identity(self) -> dict[str, object]:
        """What makes two splits the same (part of the task key)."""
        return {"files": list(self.files), "start_ns": self.start_ns, "end_ns": self.end_ns}


def all_split(files: Sequence[str]) -> list[Split]:
    return [Split("all", tuple(files))]


def per_file_splits(files: Sequence[str]) -> list[Split]:
    return [Split(Path(f).name, (f,)) for f in files]


def walk_forward_splits(files: Sequence[str], window_s: float) -> list[Split]:
    """Consecutive windows of ``window_s`` from the first row's time to the last row's.

    Reads the files' time span here (on the client); a last window shorter than half a window
    is dropped (too short to compare with the others).
    """
    first, last = data_span_ns(files)
    width = round(window_s * 1e9)
    count = (last - first) // width + 1
    if count > 1 and (last - first) - (count - 1) * width < width // 2:
        count -= 1
    if count < 2:
        raise ValueError(f"walk-forward needs at least two windows: the data spans "
                         f"{(last - first) / 1e9:.1f} s, split.window_s is {window_s} s")
    return [Split(f"w{k:03d}", tuple(files), first + k * width, first + (k + 1) * width)
            for k in range(count)]


def data_span_ns(files: Sequence[str]) -> tuple[int, int]:
    """First and last ``local_ts`` over ``files`` (LOCAL rows)."""
    first, last = None, None
    for f in files:
        ts = _local_ts(load_rows(f))
        if len(ts):
            first = int(ts[0]) if first is None else min(first, int(ts[0]))
            last = int(ts[-1]) if last is None else max(last, int(ts[-1]))
    if first is None or last is None:
        raise ValueError("the data files hold no LOCAL rows")
    return first, last


class _LastUsed:
    """A few values kept by this process; the least recently used goes first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.values: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any, make: Callable[[], Any]) -> Any:
        if key in self.values:
            self.values.move_to_end(key)
            return self.values[key]
        value = self.values[key] = make()
        while len(self.values) > self.size:
            self.values.popitem(last=False)
        return value


_files = _LastUsed(_CACHED_SOURCES)
_windows = _LastUsed(_CACHED_SOURCES)


def _file_key(path: str) -> tuple[str, int, int]:
    st = os.stat(path)
    return (os.path.abspath(path), st.st_mtime_ns, st.st_size)


def load_rows(path: str) -> np.ndarray:
    """The validated rows of one file, from this process's cache while the file is unchanged."""
    return _files.get(_file_key(path), lambda: _read_rows(path))


def _read_rows(path: str) -> np.ndarray:
    """An ``.npy`` (or a ``.gz``'s converted ``.npy`` in the events cache) is memory-mapped
    copy-on-write: workers on one machine share the page cache instead of each reading a private
    copy. Anything else, or a file that does not map as event rows, goes through
    ``load_events``, whose errors name the file."""
    suffix = Path(path).suffix.lower()
    npy = converted_path(path) if suffix == ".gz" else Path(path) if suffix == ".npy" else None
    if npy is not None:
        try:
            mapped = np.load(npy, mmap_mode="c")
            if mapped.dtype == EVENT_DTYPE and mapped.ndim == 1 and len(mapped):
                return load_events(mapped)  # validated, not copied
        except (OSError, ValueError):  # DataError is a ValueError: the file's own error below
            pass
    return load_events(path)


def load_split(split: Split) -> list[np.ndarray]:
    """The rows a task of ``split`` replays, as C-contiguous ``EVENT_DTYPE`` arrays (a window
    is cut and its book rebuilt once per process, then kept for the next task)."""
    if split.start_ns is None:
        return [load_rows(f) for f in split.files]
    key = (split, tuple(_file_key(f) for f in split.files))
    return _windows.get(key, lambda: [_window_rows(split)])


def _window_rows(split: Split) -> np.ndarray:
    arrays = [load_rows(f) for f in split.files]
    rows = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
    ts = np.maximum.accumulate(_row_time(rows))
    i0 = int(np.searchsorted(ts, split.start_ns, side="left"))
    i1 = int(np.searchsorted(ts, split.end_ns, side="left"))
    window = rows[i0:i1]
    if not len(window):
        return np.ascontiguousarray(window)
    snapshot = book_snapshot_rows(rows[:i0], _first(window, "exch_ts", EXCH_EVENT),
                                  _first(window, "local_ts", LOCAL_EVENT))
    return np.ascontiguousarray(np.concatenate((snapshot, window)))


def _local_ts(rows: np.ndarray) -> np.ndarray:
    return rows["local_ts"][(rows["ev"] & np.uint64(LOCAL_EVENT)) != 0]


def _row_time(rows: np.ndarray) -> np.ndarray:
    local = (rows["ev"] & np.uint64(LOCAL_EVENT)) != 0
    return np.where(local, rows["local_ts"], rows["exch_ts"])


def _first(rows: np.ndarray, name: str, flag: int) -> int:
    seen = np.flatnonzero((rows["ev"] & np.uint64(flag)) != 0)
    return int(rows[name][seen[0]]) if seen.size else int(rows[name][0])


def book_snapshot_rows(prefix: np.ndarray, exch_ts: int, local_ts: int) -> np.ndarray:
    """One snapshot row per non-empty level (bids first) of the book the LOCAL rows of
    ``prefix`` leave behind, at the given times. They open a replay, so no clear is needed (and
    a clear of a whole side would touch every page of the backtester's sparse book)."""
    bids, asks = _book_after(prefix)
    out = np.zeros(len(bids) + len(asks), EVENT_DTYPE)
    out["exch_ts"], out["local_ts"] = exch_ts, local_ts
    flags = EXCH_EVENT | LOCAL_EVENT | DEPTH_SNAPSHOT_EVENT
    for part, side, levels in ((out[:len(bids)], BUY_EVENT, bids),
                               (out[len(bids):], SELL_EVENT, asks)):
        part["ev"] = np.uint64(flags | side)
        part["px"] = sorted(levels, reverse=side == BUY_EVENT)
        part["qty"] = [levels[p] for p in part["px"]]
    return out


def _book_after(rows: np.ndarray) -> tuple[dict[float, float], dict[float, float]]:
    """Price -> quantity per side after replaying the depth rows the strategy sees."""
    ev = rows["ev"]
    local = (ev & np.uint64(LOCAL_EVENT)) != 0
    kind = ev & np.uint64(KIND_MASK)
    buy = (ev & np.uint64(BUY_EVENT)) != 0
    sell = (ev & np.uint64(SELL_EVENT)) != 0
    sets = local & ((kind == DEPTH_EVENT) | (kind == DEPTH_SNAPSHOT_EVENT))
    sides = (sets & buy, sets & sell & ~buy)
    clears = np.flatnonzero(local & (kind == DEPTH_CLEAR_EVENT))
    books: tuple[dict[float, float], dict[float, float]] = ({}, {})
    begin = 0
    for end in (*clears.tolist(), len(rows)):
        for side, book in zip(sides, books, strict=True):
            idx = begin + np.flatnonzero(side[begin:end])
            # The last write of each price wins: first occurrence in reversed order.
            _, last = np.unique(rows["px"][idx][::-1], return_index=True)
            chosen = idx[::-1][last]
            book.update(zip(rows["px"][chosen].tolist(), rows["qty"][chosen].tolist(),
                            strict=True))
        if end < len(rows):
            _clear(books, rows[end], buy[end], sell[end])
        begin = end + 1
    return ({p: q for p, q in books[0].items() if q > 0},
            {p: q for p, q in books[1].items() if q > 0})


def _clear(books: tuple[dict[float, float], dict[float, float]], row: np.void, buy: bool,
           sell: bool) -> None:
    """A clear deletes from the clear price to the best (a whole side if the price is not
    finite, both sides if the row has no side), as ``qengine.backtest.book.book_clear``."""
    px = float(row["px"])
    if buy or not sell:
        if np.isfinite(px) and buy:
            for p in [p for p in books[0] if p >= px]:
                del books[0][p]
        else:
            books[0].clear()
    if sell or not buy:
        if np.isfinite(px) and sell:
            for p in [p for p in books[1] if p <= px]:
                del books[1][p]
        else:
            books[1].clear()
