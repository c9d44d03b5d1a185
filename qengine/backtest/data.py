"""Event rows in, validated: hftbacktest ``.npz`` / ``.npy`` files, raw Binance ``.gz`` recordings
and numpy arrays, whole (:func:`load_events`) or streamed in chunks (:func:`iter_event_chunks`).

Validation follows hftbacktest's ``validate_event_order`` and adds what it leaves to chance:

- the fields are hftbacktest's eight (``ev, exch_ts, local_ts, px, qty, order_id, ival, fval``),
  in that order, each safely castable to its type;
- ``ev`` has no bits beyond the event kind (low byte) and the EXCH / LOCAL / BUY / SELL flags, and
  every row carries EXCH, LOCAL or both (a row with neither would be seen by nobody);
- ``exch_ts`` never decreases over the EXCH rows and ``local_ts`` never over the LOCAL rows, also
  across chunks and across files;
- depth, trade, snapshot and BBO rows have finite ``px`` and ``qty``.

Nothing is skipped: event rows are already derived data, and dropping one would change the book
silently, so any violation raises :class:`DataError` naming the source, the row (counted from 0
in that file) and the field. Only the raw-recording converter (``binance.py``) can skip lines.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._errors import DataError
from ._files import FileFormatError, open_npy_stream, read_pieces
from .events import (
    BUY_EVENT,
    DEPTH_BBO_EVENT,
    DEPTH_EVENT,
    DEPTH_SNAPSHOT_EVENT,
    EVENT_DTYPE,
    EXCH_EVENT,
    KIND_MASK,
    LOCAL_EVENT,
    SELL_EVENT,
    TRADE_EVENT,
)

__all__ = ["DataError", "converted_path", "count_rows", "events_cache_dir", "iter_event_chunks",
           "load_events"]

_KNOWN_BITS = KIND_MASK | EXCH_EVENT | LOCAL_EVENT | BUY_EVENT | SELL_EVENT
_PRICED_KINDS = np.array([DEPTH_EVENT, TRADE_EVENT, DEPTH_SNAPSHOT_EVENT, DEPTH_BBO_EVENT])
_ARRAY_LABEL = "<array>"


def events_cache_dir() -> Path:
    """Where converted raw recordings are cached: ``$QENGINE_CACHE_DIR/events`` or
    ``~/.cache/qengine/events`` (``$XDG_CACHE_HOME`` is honoured)."""
    base = os.environ.get("QENGINE_CACHE_DIR")
    if not base:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        base = str(Path(xdg) / "qengine")
    return Path(base) / "events"


def load_events(source: str | os.PathLike[str] | np.ndarray) -> np.ndarray:
    """Load and validate one source; return a C-contiguous ``EVENT_DTYPE`` array.

    ``source`` is a path to an hftbacktest ``.npz`` (array ``data``), a ``.npy``, a raw Binance
    USD-M ``.gz`` recording (converted with :func:`qengine.backtest.binance.convert_binance_futures`
    and cached, see :func:`events_cache_dir`), or an array: structured with the event fields, or
    a plain ``(n, 8)`` array of 8-byte items, whose rows are read as raw 64-byte event rows exactly
    as hftbacktest's ``BacktestAsset.data(array)`` reads them. An array that already has the
    event dtype and is C-contiguous is returned as is (validated, not copied).
    """
    (rows,) = _chunks_of(source, None, _OrderCheck())  # without chunk_rows: one chunk
    return rows


def iter_event_chunks(
    sources: str | os.PathLike[str] | np.ndarray | Iterable[str | os.PathLike[str] | np.ndarray],
    *,
    chunk_rows: int = 1_000_000,
    validate: bool = True,
) -> Iterator[np.ndarray]:
    """Yield the validated rows of ``sources``, in order, as arrays of at most ``chunk_rows`` rows.

    Files are read piece by piece (an ``.npz`` member is decompressed as it is read), so only one
    chunk is resident at a time, whatever the number or size of the files; a ``.gz`` recording is
    converted (or taken from the cache) first, one file at a time. A chunk never spans two
    sources. Ordering is checked across chunk and file boundaries. ``validate=False`` skips the
    row checks (not the layout checks): for sources a first pass has already checked.
    """
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive int, got {chunk_rows!r}")
    if isinstance(sources, str | os.PathLike | np.ndarray):
        sources = [sources]
    check = _OrderCheck() if validate else _Unchecked()
    for source in sources:
        yield from _chunks_of(source, chunk_rows, check)


def count_rows(
    sources: str | os.PathLike[str] | np.ndarray | Iterable[str | os.PathLike[str] | np.ndarray],
) -> int:
    """Check that every source opens as event rows and return how many rows they hold in all.

    Reads only headers (a raw ``.gz`` recording is converted into the cache first, as
    :func:`iter_event_chunks` would), so a missing file, an unreadable one or a wrong layout is
    reported before a run starts; the rows themselves are checked as they stream.

    Raises
    ------
    DataError
        Naming the source: no sources, not a path or array, missing, unreadable, wrong layout.
    """
    if isinstance(sources, str | os.PathLike | np.ndarray):
        sources = [sources]
    try:
        items = list(sources)
    except TypeError:
        raise DataError("<data>", "expected a path, an array or a sequence of them, got "
                                  f"{type(sources).__name__}") from None
    if not items:
        raise DataError("<data>", "no event sources given")
    total = 0
    for source in items:
        if isinstance(source, np.ndarray):
            _layout(source.dtype, source.shape, _ARRAY_LABEL)
            total += len(source)
            continue
        if not isinstance(source, str | os.PathLike):
            raise DataError("<data>", "an event source is a path or a numpy array, not "
                                      f"{type(source).__name__}")
        path = Path(source)
        label = str(path)
        if not path.is_file():
            raise DataError(label, "no such file (or not a regular file)")
        if path.suffix.lower() == ".gz":
            cached = _converted(path)
            if isinstance(cached, np.ndarray):
                total += len(cached)
                continue
            path = cached
        try:
            with open_npy_stream(path) as (_stream, dtype, shape):
                _layout(dtype, shape, label)
                total += shape[0] if shape else 0
        except (FileFormatError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise DataError(label, f"cannot read: {exc}") from exc
    return total


# --- sources ----------------------------------------------------------------------------------


def _chunks_of(source: Any, chunk_rows: int | None, check: _OrderCheck) -> Iterator[np.ndarray]:
    check.next_source()
    if isinstance(source, np.ndarray):
        yield from _array_chunks(source, chunk_rows, check)
    elif isinstance(source, str | os.PathLike):
        yield from _file_chunks(Path(source), chunk_rows, check)
    else:
        raise TypeError(f"an event source is a path or a numpy array, not {type(source).__name__}")


def _array_chunks(array: np.ndarray, chunk_rows: int | None, check: _OrderCheck,
                  label: str = _ARRAY_LABEL) -> Iterator[np.ndarray]:
    layout = _layout(array.dtype, array.shape, label)
    step = chunk_rows or max(len(array), 1)
    for start in range(0, len(array), step):
        chunk = layout.to_events(np.ascontiguousarray(array[start:start + step]))
        check.rows(chunk, label, start)
        yield chunk
    if len(array) == 0 and chunk_rows is None:
        yield np.empty(0, EVENT_DTYPE)


def _file_chunks(path: Path, chunk_rows: int | None, check: _OrderCheck) -> Iterator[np.ndarray]:
    label = str(path)
    if not path.is_file():
        raise DataError(label, "no such file (or not a regular file)")
    if path.suffix.lower() == ".gz":
        cached = _converted(path)
        if isinstance(cached, np.ndarray):  # the cache is not writable: rows from memory
            yield from _array_chunks(cached, chunk_rows, check, f"{label} (converted rows)")
            return
        path = cached
        label = f"{label} (converted rows, cached in {path})"
    try:
        with open_npy_stream(path) as (stream, dtype, shape):
            layout = _layout(dtype, shape, label)
            n = shape[0] if shape else 0
            start = 0
            for piece in read_pieces(stream, layout.read_dtype, n, chunk_rows or max(n, 1)):
                chunk = layout.to_events(piece)
                check.rows(chunk, label, start)
                start += len(chunk)
                yield chunk
            if n == 0 and chunk_rows is None:
                yield np.empty(0, EVENT_DTYPE)
    except (FileFormatError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise DataError(label, f"cannot read: {exc}") from exc


def converted_path(source: str | os.PathLike[str]) -> Path | None:
    """The events-cache ``.npy`` of a raw Binance ``.gz`` recording (converted on first use), or
    None when the cache cannot be written. Processes on one machine can then map the same file."""
    cached = _converted(Path(source))
    return cached if isinstance(cached, Path) else None


def _converted(path: Path) -> Path | np.ndarray:
    """The cached ``.npy`` of a raw recording, converting it on first use (the rows themselves
    if the cache cannot be written)."""
    from .binance import CONVERTER_VERSION, convert_binance_futures

    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    cached = events_cache_dir() / (
        f"{path.name.removesuffix('.gz')}-{digest.hexdigest()[:24]}-v{CONVERTER_VERSION}.npy")
    if cached.is_file():
        return cached
    rows = convert_binance_futures(path)
    partial = cached.with_name(f"{cached.name}.{os.getpid()}.part")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as f:
            np.save(f, rows)
        os.replace(partial, cached)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        return rows
    return cached


# --- dtype ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Layout:
    read_dtype: np.dtype  # one 64-byte event row as stored
    plain: bool  # a plain (n, 8) array, reinterpreted as raw rows
    to_events: Callable[[np.ndarray], np.ndarray]


def _layout(dtype: np.dtype, shape: tuple[int, ...], label: str) -> _Layout:
    if dtype.names is None:
        if len(shape) != 2 or shape[1] != 8 or dtype.itemsize != 8:
            raise DataError(label, f"expected structured event rows or a plain (n, 8) array of "
                                   f"8-byte items, got shape {shape} of {dtype}")
        native = dtype.newbyteorder("<")
        return _Layout(np.dtype((dtype, (8,))), True,
                       lambda a: a.astype(native, copy=False).view(EVENT_DTYPE).reshape(-1))
    if len(shape) != 1:
        raise DataError(label, f"structured event rows must be 1-D, got shape {shape}")
    if dtype.names != EVENT_DTYPE.names:
        raise DataError(label, f"fields are {list(dtype.names)}, expected "
                               f"{list(EVENT_DTYPE.names)} (hftbacktest's event row)")
    for name in EVENT_DTYPE.names:
        have, want = dtype.fields[name][0], EVENT_DTYPE.fields[name][0]
        if not np.can_cast(have, want, "safe"):
            raise DataError(label, f"type {have} cannot be cast safely to {want}", field=name)
    if dtype == EVENT_DTYPE:
        return _Layout(dtype, False, lambda a: a)
    return _Layout(dtype, False, lambda a: a.astype(EVENT_DTYPE))


# --- validation -------------------------------------------------------------------------------


class _OrderCheck:
    """Row checks, carrying the last EXCH and LOCAL timestamps across chunks and files."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, int, str, int]] = {}  # ts, source number, label, row
        self._source = 0

    def next_source(self) -> None:
        self._source += 1

    def rows(self, rows: np.ndarray, label: str, first_row: int) -> None:
        ev = rows["ev"]
        bad = np.flatnonzero(ev & np.uint64(~_KNOWN_BITS & 0xFFFF_FFFF_FFFF_FFFF))
        if bad.size:
            i = int(bad[0])
            raise DataError(label, f"unknown flag bits in ev={int(ev[i]):#x}",
                            row=first_row + i, field="ev")
        exch = (ev & np.uint64(EXCH_EVENT)) != 0
        local = (ev & np.uint64(LOCAL_EVENT)) != 0
        nobody = np.flatnonzero(~(exch | local))
        if nobody.size:
            raise DataError(label, "row carries neither the EXCH nor the LOCAL flag",
                            row=first_row + int(nobody[0]), field="ev")
        priced = np.isin(ev & np.uint64(KIND_MASK), _PRICED_KINDS)
        for name in ("px", "qty"):
            bad = np.flatnonzero(priced & ~np.isfinite(rows[name]))
            if bad.size:
                i = int(bad[0])
                raise DataError(label, f"{rows[name][i]} in a depth or trade row",
                                row=first_row + i, field=name)
        self._monotonic(rows, exch, "exch_ts", "EXCH", label, first_row)
        self._monotonic(rows, local, "local_ts", "LOCAL", label, first_row)

    def _monotonic(self, rows: np.ndarray, mask: np.ndarray, name: str, side: str, label: str,
                   first_row: int) -> None:
        index = np.flatnonzero(mask)
        if not index.size:
            return
        ts = rows[name][index]
        previous = self._last.get(name)
        if previous is not None and ts[0] < previous[0]:
            where = ("earlier in this source" if previous[1] == self._source
                     else f"of the previous source {previous[2]}")
            raise DataError(label, f"{side} rows out of order: {int(ts[0])} is before "
                                   f"{previous[0]} (row {previous[3]} {where})",
                            row=first_row + int(index[0]), field=name)
        back = np.flatnonzero(ts[1:] < ts[:-1])
        if back.size:
            k = int(back[0])
            raise DataError(label, f"{side} rows out of order: {int(ts[k + 1])} is before "
                                   f"{int(ts[k])} (row {first_row + int(index[k])})",
                            row=first_row + int(index[k + 1]), field=name)
        self._last[name] = (int(ts[-1]), self._source, label, first_row + int(index[-1]))


class _Unchecked(_OrderCheck):
    """No row checks (the rows passed them in an earlier pass)."""

    def rows(self, rows: np.ndarray, label: str, first_row: int) -> None:
        return
