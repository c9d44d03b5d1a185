"""Read event rows from ``.npy`` files and ``.npz`` archives in pieces, never all at once.

An ``.npz`` (what hftbacktest writes with ``np.savez_compressed``) is a zip archive whose member
``data.npy`` is an ordinary ``.npy`` file. Both are read the same way: parse the ``.npy`` header,
then read ``rows * itemsize`` bytes at a time from the (decompressing) stream, so only one piece
is resident however large the file is.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np

#: The array an hftbacktest ``.npz`` keeps its rows in (``np.savez_compressed(f, data=rows)``).
NPZ_KEY = "data"

# Bytes per read call: zipfile's decompression builds intermediate copies of what one call
# returns, so small reads keep the temporaries small whatever the chunk size.
_READ_BYTES = 1 << 16


class FileFormatError(ValueError):
    """The file is not an ``.npy`` / ``.npz`` holding one 1-D or 2-D C-ordered array."""


@contextmanager
def open_npy_stream(path: Path) -> Iterator[tuple[BinaryIO, np.dtype, tuple[int, ...]]]:
    """Yield ``(stream, dtype, shape)`` with the stream positioned at the first data byte."""
    suffix = path.suffix.lower()
    if suffix == ".npz":
        with zipfile.ZipFile(path) as archive:
            member = f"{NPZ_KEY}.npy"
            names = archive.namelist()
            if member not in names:
                keys = sorted(n.removesuffix(".npy") for n in names)
                raise FileFormatError(f"no array named {NPZ_KEY!r} in the archive (has {keys})")
            with archive.open(member) as stream:
                yield stream, *_read_header(stream)
    elif suffix == ".npy":
        with path.open("rb") as stream:
            yield stream, *_read_header(stream)
    else:
        raise FileFormatError(f"unsupported file type {suffix!r} (expected .npz, .npy or .gz)")


def _read_header(stream: BinaryIO) -> tuple[np.dtype, tuple[int, ...]]:
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
        else:
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
    except ValueError as exc:
        raise FileFormatError(f"not a numpy .npy array: {exc}") from exc
    if fortran_order and len(shape) > 1:
        raise FileFormatError("Fortran-ordered arrays are not supported; save a C-ordered array")
    if dtype.hasobject:
        raise FileFormatError("object arrays are not event rows")
    return dtype, tuple(shape)


def read_pieces(stream: BinaryIO, dtype: np.dtype, rows: int,
                chunk_rows: int) -> Iterator[np.ndarray]:
    """Yield ``rows`` items of ``dtype`` from ``stream`` as fresh arrays of at most ``chunk_rows``.

    Raises :class:`FileFormatError` if the stream ends early (a truncated file).
    """
    done = 0
    while done < rows:
        take = min(chunk_rows, rows - done)
        piece = np.empty(take, dtype)
        view = memoryview(piece.view(np.uint8))
        filled = 0
        while filled < view.nbytes:
            n = stream.readinto(view[filled:filled + _READ_BYTES])
            if not n:
                raise FileFormatError(
                    f"truncated: the header announces {rows} rows, the data ends in row "
                    f"{done + filled // dtype.itemsize}")
            filled += n
        yield piece
        done += take
