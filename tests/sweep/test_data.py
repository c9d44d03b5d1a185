"""Data splits: walk-forward windows and the book a window starts from."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from qengine.backtest.data import load_events
from qengine.backtest.events import (
    BUY_EVENT,
    DEPTH_CLEAR_EVENT,
    DEPTH_EVENT,
    DEPTH_SNAPSHOT_EVENT,
    KIND_MASK,
    LOCAL_EVENT,
    SELL_EVENT,
)
from qengine.sweep.data import (
    _book_after,
    data_span_ns,
    load_split,
    per_file_splits,
    walk_forward_splits,
)

from .conftest import BTC, ETH


def book_twin(rows):
    """Row by row: depth and snapshot rows set a level, a clear empties from its price to the
    best (a whole side without a finite price, both sides without a side)."""
    bids, asks = {}, {}
    for row in rows:
        ev = int(row["ev"])
        if not ev & LOCAL_EVENT:
            continue
        kind, px, qty = ev & KIND_MASK, float(row["px"]), float(row["qty"])
        buy, sell = bool(ev & BUY_EVENT), bool(ev & SELL_EVENT)
        if kind in (DEPTH_EVENT, DEPTH_SNAPSHOT_EVENT) and (buy or sell):
            (bids if buy else asks)[px] = qty
        elif kind == DEPTH_CLEAR_EVENT:
            if not sell:
                bids = {} if not (buy and math.isfinite(px)) else {
                    p: q for p, q in bids.items() if p < px}
            if not buy:
                asks = {} if not (sell and math.isfinite(px)) else {
                    p: q for p, q in asks.items() if p > px}
    return ({p: q for p, q in bids.items() if q > 0}, {p: q for p, q in asks.items() if q > 0})


@pytest.mark.parametrize("cut", [0, 10, 4_500, 60_000, 150_000])
def test_the_window_book_matches_a_row_by_row_replay(btc_rows, cut):
    assert _book_after(btc_rows[:cut]) == book_twin(btc_rows[:cut])


def test_walk_forward_windows_tile_the_data_and_start_from_the_book(btc_rows):
    first, last = data_span_ns([str(BTC)])
    splits = walk_forward_splits([str(BTC)], 100.0)
    assert [s.name for s in splits] == [f"w{k:03d}" for k in range(len(splits))]
    assert splits[0].start_ns == first
    assert splits[-1].end_ns > last - 50 * 10**9
    assert all(a.end_ns == b.start_ns for a, b in itertools.pairwise(splits))
    (rows,) = load_split(splits[1])
    load_events(rows)  # passes the backtester's validation (order, flags, finite prices)
    kind = rows["ev"] & np.uint64(KIND_MASK)
    n_snap = int(np.argmax(kind != DEPTH_SNAPSHOT_EVENT))
    bids, asks = book_twin(btc_rows[btc_rows["local_ts"] < splits[1].start_ns])
    assert n_snap == len(bids) + len(asks)
    snap = rows[:n_snap]
    assert dict(zip(snap["px"][:len(bids)], snap["qty"][:len(bids)], strict=True)) == bids
    assert max(bids) < min(asks)  # a crossed book would mean a wrong rebuild
    body = rows[n_snap:]
    assert body["local_ts"].min() >= splits[1].start_ns
    assert body["local_ts"].max() < splits[1].end_ns


def test_too_short_for_two_windows_is_an_error():
    with pytest.raises(ValueError, match="at least two windows"):
        walk_forward_splits([str(ETH)], 10_000.0)


def test_per_file_splits_name_the_files():
    splits = per_file_splits([str(BTC), str(ETH)])
    assert [s.name for s in splits] == [BTC.name, ETH.name]
    assert [s.files for s in splits] == [(str(BTC),), (str(ETH),)]


def test_rows_are_mapped_from_the_events_cache_and_equal_the_loaded_rows(btc_rows, tmp_path):
    from qengine.backtest.data import DataError
    from qengine.sweep.data import load_rows

    rows = load_rows(str(BTC))
    assert np.array_equal(rows, btc_rows)
    assert rows.flags.writeable
    assert rows.flags.c_contiguous
    base = rows
    while getattr(base, "base", None) is not None and not isinstance(base, np.memmap):
        base = base.base
    assert isinstance(base, np.memmap)  # shared page cache, not a private copy
    bad = tmp_path / "bad.npy"
    np.save(bad, np.arange(3))
    with pytest.raises(DataError, match=r"bad\.npy"):
        load_rows(str(bad))
