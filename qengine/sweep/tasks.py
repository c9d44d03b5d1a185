"""Sweep tasks: one backtest of one parameter set on one data split, keyed deterministically.

``plan_tasks`` turns a grid and the data files into :class:`TaskSpec` values (small: a config
mapping, file paths, options). On a worker, :func:`execute` loads the split's rows itself,
calls the task function (``run_task`` by default: ``qengine.backtest.run`` then
``qengine.backtest.stats.compute_stats``), times the load and the run (wall and this process's
CPU: a run that got less CPU than wall time shared its core), counts numba compilations
during the task (there should be none: the worker was warmed) and turns an exception into an
error outcome that names the parameters, so one bad set never stops the sweep.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import socket
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from .data import Split, all_split, load_split, per_file_splits, walk_forward_splits
from .grid import GridSpec, config_mapping

#: A task function: ``(spec, rows) -> {statistic: number}``; ``rows`` are the split's event
#: arrays in time order, loaded by the worker.
TaskFn = Callable[["TaskSpec", list[np.ndarray]], Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """Everything a worker needs for one backtest (no arrays: it loads ``split`` itself)."""

    key: str
    #: The parameter set, ``(dotted key, value)`` in grid order.
    point: tuple[tuple[str, Any], ...]
    #: The full config mapping (base config with ``point`` applied).
    config: dict[str, Any]
    split: Split
    instrument: str | None
    #: Keyword options of ``qengine.backtest.run`` (latency_ms, queue, ...).
    options: dict[str, Any]

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.point)


def task_key(point: Mapping[str, Any], split: Split) -> str:
    """A stable hash of the parameter set and the split (same inputs, same key, any process)."""
    text = json.dumps({"params": sorted(point.items()), "split": split.identity()},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def splits_for(grid: GridSpec, files: Sequence[str]) -> list[Split]:
    """The data splits of ``grid`` over ``files`` (in time order)."""
    mode = grid.split.mode
    if mode == "per_file":
        return per_file_splits(files)
    if mode == "walk_forward":
        return walk_forward_splits(files, grid.split.window_s)
    return all_split(files)


def plan_tasks(grid: GridSpec, base: Mapping[str, Any], splits: Sequence[Split],
               ) -> list[TaskSpec]:
    """One task per (split, parameter set), split-major so a worker reuses the rows it loaded."""
    tasks = []
    points = grid.points()
    for split in splits:
        instruments = {grid.instrument_for(f) for f in split.files}
        if len(instruments) > 1:
            names = sorted(map(str, instruments))
            raise ValueError(f"split {split.name!r} mixes instruments {names} (use split.mode = "
                             "'per_file' for files of different instruments)")
        instrument = instruments.pop()
        for point in points:
            tasks.append(TaskSpec(
                key=task_key(point, split), point=tuple(point.items()),
                config=config_mapping(base, point), split=split, instrument=instrument,
                options=dict(grid.backtest)))
    return tasks


def run_task(spec: TaskSpec, rows: list[np.ndarray]) -> dict[str, Any]:
    """qengine's own strategy on ``rows`` with the task's config: every statistic of the run."""
    from qengine.backtest import run
    from qengine.backtest.stats import compute_stats
    from qengine.config import config_from_mapping

    config = config_from_mapping(spec.config)
    result = run(config, rows, instrument=spec.instrument, **spec.options)
    return compute_stats(result)


def warm_backtest() -> int:
    """Load every kernel a backtest task runs (from numba's disk cache, compiling once if the
    cache is cold); returns how many kernels are loaded."""
    from qengine import kernels

    # Their kernels compile (or load) at import; binance converts a raw .gz on first load.
    for module in ("qengine.backtest.quoting", "qengine.backtest.stats",
                   "qengine.backtest.binance"):
        importlib.import_module(module)
    return kernels.warm_up().kernels


@contextmanager
def count_compilations():
    """Count numba compilations (not cache loads) in this process while the block runs."""
    from numba.core import event

    class Counter(event.Listener):
        count = 0

        def on_start(self, ev: event.Event) -> None:
            self.count += 1

        def on_end(self, ev: event.Event) -> None:
            pass

    counter = Counter()
    with event.install_listener("numba:compile", counter):
        yield counter


def execute(task_fn: TaskFn, spec: TaskSpec) -> dict[str, Any]:
    """Run one task on this worker; returns an outcome (``status`` ok or error), never raises
    for a failure of the backtest itself (a dead worker is Dask's to retry)."""
    started = time.perf_counter()
    where = f"{socket.gethostname()}:{os.getpid()}"
    loaded = started
    try:
        with count_compilations() as compiles:
            rows = load_split(spec.split)
            loaded = time.perf_counter()
            cpu = time.process_time()
            stats = _plain_stats(task_fn(spec, rows))
    except Exception as exc:  # reported with its parameters; the sweep goes on
        return error_outcome(spec, exc, traceback.format_exc(), where)
    return {"key": spec.key, "status": "ok", "stats": stats, "load_s": loaded - started,
            "run_s": time.perf_counter() - loaded, "cpu_s": time.process_time() - cpu,
            "compiles": compiles.count, "worker": where}


def error_outcome(spec: TaskSpec, exc: BaseException, trace: str = "", worker: str = "",
                  ) -> dict[str, Any]:
    """The outcome of a failed task: its key, parameters and split, and the error."""
    return {"key": spec.key, "status": "error", "params": spec.params, "split": spec.split.name,
            "error": f"{type(exc).__name__}: {exc}", "traceback": trace, "worker": worker}


def _plain_stats(stats: Mapping[str, Any]) -> dict[str, float | int]:
    """Statistics as plain Python numbers (what Parquet and JSON take)."""
    if not isinstance(stats, Mapping):
        raise TypeError(f"the task returned {type(stats).__name__}, not a dict of statistics")
    out: dict[str, float | int] = {}
    for name, value in stats.items():
        if isinstance(value, bool | np.bool_ | int | np.integer):
            out[name] = int(value)
        elif isinstance(value, float | np.floating):
            out[name] = float(value)
        else:
            raise TypeError(f"statistic {name!r} is {type(value).__name__}, not a number")
    return out
