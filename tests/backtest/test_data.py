"""load_events / iter_event_chunks: sources, validation with file and row, streaming memory."""

from __future__ import annotations

import tracemalloc
import zipfile

import numpy as np
import pytest

from qengine.backtest.data import DataError, iter_event_chunks, load_events
from qengine.backtest.events import (
    BUY_EVENT,
    DEPTH_CLEAR_EVENT,
    DEPTH_EVENT,
    EVENT_DTYPE,
    EXCH_EVENT,
    LOCAL_EVENT,
    SELL_EVENT,
    TRADE_EVENT,
)

BOTH = EXCH_EVENT | LOCAL_EVENT


def make_rows(n: int, start_ns: int = 1_700_000_000_000_000_000, seed: int = 0) -> np.ndarray:
    """Valid rows: both clocks increasing, with some EXCH-only / LOCAL-only pairs."""
    rng = np.random.default_rng(seed)
    rows = np.zeros(n, EVENT_DTYPE)
    kinds = rng.choice([DEPTH_EVENT, TRADE_EVENT], n)
    sides = rng.choice([BUY_EVENT, SELL_EVENT], n)
    flags = rng.choice([BOTH, EXCH_EVENT, LOCAL_EVENT], n, p=[0.8, 0.1, 0.1])
    rows["ev"] = kinds | sides | flags
    rows["exch_ts"] = start_ns + np.cumsum(rng.integers(0, 1_000_000, n))
    rows["local_ts"] = rows["exch_ts"] + 5_000_000
    rows["px"] = 60_000 + rng.integers(-100, 100, n) * 0.1
    rows["qty"] = rng.integers(1, 1000, n) * 0.001
    return rows


@pytest.fixture
def rows() -> np.ndarray:
    return make_rows(5_000)


def test_npz_npy_and_arrays_load_identically(tmp_path, rows):
    np.savez_compressed(tmp_path / "a.npz", data=rows)
    np.savez(tmp_path / "stored.npz", data=rows)
    np.save(tmp_path / "a.npy", rows)
    for source in (tmp_path / "a.npz", str(tmp_path / "stored.npz"), tmp_path / "a.npy", rows):
        loaded = load_events(source)
        assert loaded.dtype == EVENT_DTYPE
        assert loaded.flags.c_contiguous
        assert loaded.tobytes() == rows.tobytes()


def test_unaligned_and_big_endian_structured_rows_are_cast(rows):
    unaligned = rows.astype(np.dtype(EVENT_DTYPE.descr))
    swapped = rows.astype(np.dtype([(n, ">" + t[1:]) for n, t in EVENT_DTYPE.descr]))
    assert load_events(unaligned).tobytes() == rows.tobytes()
    assert load_events(swapped).tobytes() == rows.tobytes()


def test_plain_array_is_read_as_raw_rows_like_hftbacktest(tmp_path, rows):
    plain = rows.view(np.uint64).reshape(-1, 8)
    assert load_events(plain).tobytes() == rows.tobytes()
    np.save(tmp_path / "plain.npy", plain.view(np.int64))
    assert load_events(tmp_path / "plain.npy").tobytes() == rows.tobytes()
    # Values written as float columns are not raw rows: the flag check refuses them.
    as_float = np.stack([rows[name].astype(float) for name in EVENT_DTYPE.names], axis=1)
    with pytest.raises(DataError, match="unknown flag bits"):
        load_events(as_float)


def test_empty_sources(tmp_path):
    empty = np.zeros(0, EVENT_DTYPE)
    np.savez_compressed(tmp_path / "e.npz", data=empty)
    assert len(load_events(empty)) == 0
    assert len(load_events(tmp_path / "e.npz")) == 0
    assert list(iter_event_chunks([tmp_path / "e.npz", empty])) == []


@pytest.mark.parametrize(
    ("field", "index", "value", "message"),
    [
        ("exch_ts", 1234, 0, "EXCH rows out of order"),
        ("ev", 77, DEPTH_EVENT | BUY_EVENT | BOTH | (1 << 40), "unknown flag bits"),
        ("ev", 78, DEPTH_EVENT | BUY_EVENT, "neither the EXCH nor the LOCAL"),
        ("px", 79, np.nan, "nan in a depth or trade row"),
        ("qty", 80, np.inf, "inf in a depth or trade row"),
    ],
)
def test_bad_rows_name_file_row_and_field(tmp_path, rows, field, index, value, message):
    rows["ev"][index] |= BOTH  # the row is seen by both sides, so its timestamps are checked
    rows[field][index] = value
    path = tmp_path / "bad.npz"
    np.savez_compressed(path, data=rows)
    with pytest.raises(DataError, match=message) as caught:
        load_events(path)
    assert (caught.value.source, caught.value.row, caught.value.field) == (str(path), index, field)
    assert f"{path}: row {index}: field '{field}'" in str(caught.value)
    with pytest.raises(DataError, match=message) as caught:
        list(iter_event_chunks(path, chunk_rows=1000))
    assert caught.value.row == index


def test_local_order_is_checked_on_local_rows_only(rows):
    exch_only = np.flatnonzero(rows["ev"] & LOCAL_EVENT == 0)
    rows["local_ts"][exch_only] = 0  # ignored: the local side never sees these rows
    assert len(load_events(rows)) == len(rows)
    local_row = int(np.flatnonzero(rows["ev"] & LOCAL_EVENT)[10])
    rows["local_ts"][local_row] = 0
    with pytest.raises(DataError, match="LOCAL rows out of order") as caught:
        load_events(rows)
    assert (caught.value.row, caught.value.field) == (local_row, "local_ts")


def test_clear_rows_may_have_a_nan_price(rows):
    rows["ev"][0] = DEPTH_CLEAR_EVENT | BUY_EVENT | BOTH
    rows["px"][0] = np.nan
    assert np.isnan(load_events(rows)["px"][0])


def test_bad_files_and_types(tmp_path, rows):
    with pytest.raises(DataError, match="no such file"):
        load_events(tmp_path / "missing.npz")
    np.savez_compressed(tmp_path / "other.npz", events=rows)
    with pytest.raises(DataError, match=r"no array named 'data'.*events"):
        load_events(tmp_path / "other.npz")
    np.save(tmp_path / "renamed.npy", rows.astype([(f"f{i}", "<i8") for i in range(8)]))
    with pytest.raises(DataError, match="fields are"):
        load_events(tmp_path / "renamed.npy")
    narrow = rows.astype([(n, "<f4" if n == "px" else t) for n, t in EVENT_DTYPE.descr])
    assert load_events(narrow).dtype == EVENT_DTYPE  # f4 -> f8 is a safe cast
    wide = rows.astype([(n, "<f8" if n == "exch_ts" else t) for n, t in EVENT_DTYPE.descr])
    with pytest.raises(DataError, match="cannot be cast safely") as caught:
        load_events(wide)
    assert caught.value.field == "exch_ts"
    (tmp_path / "junk.npy").write_bytes(b"not numpy at all")
    with pytest.raises(DataError, match=r"junk\.npy"):
        load_events(tmp_path / "junk.npy")
    (tmp_path / "junk.npz").write_bytes(b"PK not really a zip archive")
    with pytest.raises(DataError, match=r"junk\.npz: cannot read"):
        load_events(tmp_path / "junk.npz")
    np.savez_compressed(tmp_path / "flipped.npz", data=rows)
    raw = bytearray((tmp_path / "flipped.npz").read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # corrupt the deflate stream or its CRC
    (tmp_path / "flipped.npz").write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"flipped\.npz"):
        load_events(tmp_path / "flipped.npz")
    (tmp_path / "x.csv").write_text("1,2,3\n")
    with pytest.raises(DataError, match="unsupported file type"):
        load_events(tmp_path / "x.csv")
    with pytest.raises(TypeError, match="path or a numpy array"):
        load_events(12)
    with pytest.raises(ValueError, match="chunk_rows"):
        list(iter_event_chunks(rows, chunk_rows=0))


def test_truncated_npz_member_is_an_error(tmp_path, rows):
    np.save(tmp_path / "data.npy", rows)
    raw = (tmp_path / "data.npy").read_bytes()
    with zipfile.ZipFile(tmp_path / "cut.npz", "w") as archive:
        archive.writestr("data.npy", raw[: len(raw) - 100])
    with pytest.raises(DataError, match=r"cut\.npz: cannot read: truncated.*row 4998"):
        load_events(tmp_path / "cut.npz")


def test_chunks_over_several_files_equal_the_concatenation(tmp_path):
    parts = []
    paths = []
    start = 1_700_000_000_000_000_000
    for i in range(5):
        part = make_rows(3_001 + 17 * i, start_ns=start, seed=i)
        start = int(max(part["exch_ts"].max(), part["local_ts"].max()))
        if i % 2:
            paths.append(tmp_path / f"part{i}.npz")
            np.savez_compressed(paths[-1], data=part)
        else:
            paths.append(tmp_path / f"part{i}.npy")
            np.save(paths[-1], part)
        parts.append(part)
    chunks = list(iter_event_chunks(paths, chunk_rows=1_000))
    assert max(len(c) for c in chunks) == 1_000
    assert all(c.dtype == EVENT_DTYPE and c.flags.c_contiguous for c in chunks)
    assert np.concatenate(chunks).tobytes() == np.concatenate(parts).tobytes()
    whole = list(iter_event_chunks(paths))
    assert [len(c) for c in whole] == [len(p) for p in parts]


def test_order_is_checked_across_files(tmp_path):
    first = make_rows(1_000, seed=1)
    second = make_rows(1_000, seed=2)  # starts at the same time: before first's end
    np.savez_compressed(tmp_path / "first.npz", data=first)
    np.savez_compressed(tmp_path / "second.npz", data=second)
    with pytest.raises(DataError, match=r"previous source .*first\.npz") as caught:
        list(iter_event_chunks([tmp_path / "first.npz", tmp_path / "second.npz"]))
    assert caught.value.source == str(tmp_path / "second.npz")
    assert caught.value.row == 0


def _peak_bytes_streaming(paths, chunk_rows):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        rows = 0
        for chunk in iter_event_chunks(paths, chunk_rows=chunk_rows):
            rows += len(chunk)
            del chunk
        return tracemalloc.get_traced_memory()[1], rows
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_number_of_files(tmp_path):
    paths = []
    start = 1_700_000_000_000_000_000
    for i in range(12):
        part = make_rows(50_000, start_ns=start, seed=i)
        start = int(max(part["exch_ts"].max(), part["local_ts"].max()))
        paths.append(tmp_path / f"p{i:02}.npz")
        np.savez_compressed(paths[-1], data=part)
    chunk_rows = 4_000
    chunk_bytes = chunk_rows * EVENT_DTYPE.itemsize
    peak_few, rows_few = _peak_bytes_streaming(paths[:2], chunk_rows)
    peak_many, rows_many = _peak_bytes_streaming(paths, chunk_rows)
    assert (rows_few, rows_many) == (100_000, 600_000)
    file_bytes = 50_000 * EVENT_DTYPE.itemsize
    # The chunk plus validation temporaries (about 3.3 chunks measured), never a whole file.
    assert peak_many < 5 * chunk_bytes < file_bytes
    assert peak_many < peak_few + chunk_bytes


def test_validate_false_skips_the_row_checks_but_not_the_layout(tmp_path):
    rows = make_rows(1_000)
    rows["exch_ts"][500] = rows["exch_ts"][100] - 10**9
    with pytest.raises(DataError, match="row 500"):
        list(iter_event_chunks(rows, chunk_rows=300))
    got = np.concatenate(list(iter_event_chunks(rows, chunk_rows=300, validate=False)))
    np.testing.assert_array_equal(got, rows)
    with pytest.raises(DataError, match="fields are"):
        list(iter_event_chunks(np.zeros(3, [("a", "<i8")]), validate=False))
