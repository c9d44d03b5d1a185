"""The sweep's results on disk: Parquet rows keyed by task, written as they arrive.

Layout of ``--out``::

    sweep.json              what the sweep is (base config, options, files, split): --resume
                            refuses a directory that holds a different sweep
    rows/part-*.parquet     one file per batch of finished tasks, each written whole under a
                            temporary name and renamed, so a crash never leaves half a file
    results.parquet         every row, one per key (written at the end from the parts)
    errors.jsonl            one JSON line per failed task: its key, parameters, split, error

Rows are deduplicated by ``key`` on write (a key already on disk is never written again) and on
read, so a retried task or a resumed sweep never counts twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

RESULTS = "results.parquet"
PARTS = "rows"
ERRORS = "errors.jsonl"
MANIFEST = "sweep.json"


class ResultStore:
    """Owner of ``out_dir``'s result files; only it writes them."""

    def __init__(self, out_dir: str | Path, manifest: Mapping[str, Any], *, resume: bool) -> None:
        self.out = Path(out_dir)
        self.parts = self.out / PARTS
        self.parts.mkdir(parents=True, exist_ok=True)
        self._check_manifest(dict(manifest), resume)
        self._seq = 0
        self.keys: set[str] = set()
        if resume:
            self.keys = set(read_results(self.out).column("key").to_pylist())
            self._seq = len(list(self.parts.glob("part-*.parquet")))
        else:
            self._clear()

    def _check_manifest(self, manifest: dict[str, Any], resume: bool) -> None:
        if resume:
            check_manifest(self.out, manifest)
        text = json.dumps(manifest, indent=2, sort_keys=True, default=str)
        _write_atomic(self.out / MANIFEST, text.encode())

    def _clear(self) -> None:
        for stale in [*self.parts.glob("part-*.parquet"), self.out / RESULTS, self.out / ERRORS]:
            stale.unlink(missing_ok=True)

    def write(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Append the rows whose key is not on disk yet; returns how many were written."""
        fresh, seen = [], set()
        for row in rows:
            key = row["key"]
            if key not in self.keys and key not in seen:
                fresh.append(dict(row))
                seen.add(key)
        if not fresh:
            return 0
        self._seq += 1
        path = self.parts / f"part-{self._seq:06d}-{uuid.uuid4().hex[:8]}.parquet"
        _write_table_atomic(pa.Table.from_pylist(fresh), path)
        self.keys |= seen
        return len(fresh)

    def write_error(self, error: Mapping[str, Any]) -> None:
        """Append one failed task's record (a line, flushed, so a crash keeps it)."""
        with (self.out / ERRORS).open("a") as f:
            f.write(json.dumps(dict(error), default=repr) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def compact(self) -> pa.Table:
        """Fold the parts into ``results.parquet`` (one row per key) and return it."""
        table = read_results(self.out)
        _write_table_atomic(table, self.out / RESULTS)
        for part in self.parts.glob("part-*.parquet"):
            part.unlink()
        return table


def check_manifest(out_dir: str | Path, manifest: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` if ``out_dir`` holds the rows of a different sweep (what changed is
    named); nothing is written."""
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        return
    found = json.loads(path.read_text())
    wanted = json.loads(json.dumps(dict(manifest), default=str))
    changed = sorted(k for k in set(found) | set(wanted) if found.get(k) != wanted.get(k))
    if changed:
        raise ValueError(f"--resume: {out_dir} holds a different sweep ({', '.join(changed)} "
                         "changed); use a new --out directory")


def read_results(out_dir: str | Path) -> pa.Table:
    """Every result row under ``out_dir`` (``results.parquet`` and the parts), one per key."""
    out = Path(out_dir)
    files = [p for p in [out / RESULTS] if p.is_file()]
    files += sorted((out / PARTS).glob("part-*.parquet"))
    tables = [pq.read_table(p) for p in files]
    if not tables:
        return pa.table({"key": pa.array([], pa.string())})
    table = pa.concat_tables(tables, promote_options="permissive")
    keys = table.column("key").to_pylist()
    first: dict[str, int] = {}
    for i, key in enumerate(keys):
        first.setdefault(key, i)
    if len(first) == len(keys):
        return table
    return table.take(sorted(first.values()))


def read_errors(out_dir: str | Path) -> list[dict[str, Any]]:
    """The failed tasks' records, in the order they failed."""
    path = Path(out_dir) / ERRORS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _write_table_atomic(table: pa.Table, path: Path) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        pq.write_table(table, partial)
        os.replace(partial, path)
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)


def _write_atomic(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    partial.write_bytes(data)
    os.replace(partial, path)
