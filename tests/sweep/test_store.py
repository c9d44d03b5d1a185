"""The Parquet result store: rows keyed by task, written as they come, deduplicated, resumable."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from qengine.sweep.store import ResultStore, read_errors, read_results

MANIFEST = {"config": {}, "files": ["a.npz"]}


def rows(*keys, value=1.0):
    return [{"key": k, "quote.gamma": 0.1, "pnl": value, "fills": 3} for k in keys]


def test_rows_are_on_disk_after_each_write_and_never_twice(tmp_path):
    store = ResultStore(tmp_path, MANIFEST, resume=False)
    assert store.write(rows("a", "b")) == 2
    assert sorted(read_results(tmp_path).column("key").to_pylist()) == ["a", "b"]
    assert store.write(rows("b", "c", "c", value=2.0)) == 1  # b is on disk, c twice in a batch
    table = read_results(tmp_path)
    assert sorted(table.column("key").to_pylist()) == ["a", "b", "c"]
    assert dict(zip(table.column("key").to_pylist(), table.column("pnl").to_pylist(),
                    strict=True))["b"] == 1.0  # the first row of a key is kept
    compacted = store.compact()
    assert compacted.num_rows == 3
    assert not list((tmp_path / "rows").glob("*.parquet"))
    assert pq.read_table(tmp_path / "results.parquet").num_rows == 3


def test_resume_keeps_the_rows_and_a_fresh_start_drops_them(tmp_path):
    first = ResultStore(tmp_path, MANIFEST, resume=False)
    first.write(rows("a"))
    first.write_error({"key": "x", "params": {"quote.gamma": 0.2}, "error": "boom"})
    # (no compact: as after a crash)
    resumed = ResultStore(tmp_path, MANIFEST, resume=True)
    assert resumed.keys == {"a"}
    assert resumed.write(rows("a", "b")) == 1
    assert read_errors(tmp_path)[0]["params"] == {"quote.gamma": 0.2}
    fresh = ResultStore(tmp_path, MANIFEST, resume=False)
    assert fresh.keys == set()
    assert read_results(tmp_path).num_rows == 0
    assert read_errors(tmp_path) == []


def test_resume_refuses_a_different_sweep(tmp_path):
    ResultStore(tmp_path, MANIFEST, resume=False).write(rows("a"))
    with pytest.raises(ValueError, match=r"holds a different sweep \(files changed\)"):
        ResultStore(tmp_path, {**MANIFEST, "files": ["b.npz"]}, resume=True)


def test_columns_that_differ_between_parts_are_merged(tmp_path):
    store = ResultStore(tmp_path, MANIFEST, resume=False)
    store.write([{"key": "a", "pnl": 1}])
    store.write([{"key": "b", "pnl": 2.5, "sharpe": 0.1}])
    table = store.compact()
    assert table.column("pnl").to_pylist() == [1.0, 2.5]
    assert table.column("sharpe").to_pylist() == [None, 0.1]
