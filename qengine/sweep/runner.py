"""Run sweep tasks on Dask: an embedded ``LocalCluster`` of processes, or a running cluster.

Every worker is warmed before it takes a task (a worker plugin loads the backtest kernels, also
on a worker that joins or restarts later). Tasks are submitted with a Dask key made of the run
and the task key, and ``retries``: a worker that dies mid-task has its tasks rerun elsewhere, and
the client writes each key's row once (the store dedupes by key). A task that raises comes back
as an error outcome (see ``tasks.execute``) and is logged with its parameters; the sweep goes on.
"""

from __future__ import annotations

import logging
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from distributed import Client, LocalCluster, WorkerPlugin, as_completed

from .store import ResultStore
from .tasks import TaskFn, TaskSpec, error_outcome, execute, run_task, warm_backtest

log = logging.getLogger("qengine.sweep")
#: Times Dask reruns a task whose worker died (or that raised outside the task function).
RETRIES = 2


class WarmKernels(WorkerPlugin):
    """Load the backtest kernels on every worker, before its first task."""

    name = "qengine-warm-kernels"

    def __init__(self, warm: Callable[[], Any] = warm_backtest) -> None:
        self.warm = warm

    def setup(self, worker: Any) -> None:
        self.warm()


@contextmanager
def open_client(scheduler: str | None = None, *, workers: int = 2,
                warm: Callable[[], Any] = warm_backtest) -> Iterator[Client]:
    """A client of ``scheduler`` (``tcp://host:8786``) or of an embedded cluster of ``workers``
    processes with one thread each; every worker, present or future, is warmed with ``warm``."""
    if scheduler:
        client = Client(scheduler, timeout="30s")
        cluster = None
    else:
        # No dashboard; the scheduler's HTTP endpoints on any free port (not 8787, which
        # another cluster on this machine may hold).
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               scheduler_kwargs={"dashboard": False, "dashboard_address": ":0"})
        client = Client(cluster)
    try:
        client.register_plugin(WarmKernels(warm))
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@dataclass
class SweepReport:
    """What one run of the sweep did."""

    total: int
    skipped: int = 0
    done: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    compiles: int = 0
    load_s: float = 0.0
    run_s: float = 0.0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    workers: set[str] = field(default_factory=set)


def _dask_key(run: str, spec: TaskSpec) -> str:
    # Unique per run: a key still held on the scheduler from another run (another task
    # function or config) must not hand its result to this one.
    return f"qengine-sweep-{run}-{spec.key}"


def run_sweep(client: Client, tasks: Sequence[TaskSpec], store: ResultStore, *,
              task_fn: TaskFn = run_task, progress: bool | None = None) -> SweepReport:
    """Run the ``tasks`` whose key is not in ``store`` yet; write each row as it finishes."""
    todo = [t for t in tasks if t.key not in store.keys]
    run = uuid.uuid4().hex[:12]
    report = SweepReport(total=len(tasks), skipped=len(tasks) - len(todo))
    started = time.perf_counter()
    bar = _progress_bar(len(todo), progress)
    try:
        specs = {}
        futures = []
        for spec in todo:
            future = client.submit(execute, task_fn, spec, key=_dask_key(run, spec),
                                   retries=RETRIES, pure=False)
            specs[future.key] = spec
            futures.append(future)
        completed = as_completed(futures)
        futures.clear()  # as_completed holds each future until it is yielded
        for batch in completed.batches():
            rows = []
            for future in batch:
                spec = specs[future.key]
                outcome = _outcome(future, spec)
                if outcome["status"] == "ok":
                    rows.append(_row(spec, outcome))
                    report.compiles += outcome["compiles"]
                    report.load_s += outcome["load_s"]
                    report.run_s += outcome["run_s"]
                    report.cpu_s += outcome["cpu_s"]
                    report.workers.add(outcome["worker"])
                else:
                    report.errors.append(outcome)
                    store.write_error(outcome)
                    log.warning("sweep task %s failed (%s on %s): %s", spec.key, spec.params,
                                spec.split.name, outcome["error"])
            report.done += store.write(rows)
            bar.update(len(batch))
    finally:
        bar.close()
    report.wall_s = time.perf_counter() - started
    return report


def _outcome(future: Any, spec: TaskSpec) -> dict[str, Any]:
    try:
        return future.result()
    except Exception as exc:  # retries exhausted (e.g. KilledWorker): reported, the sweep goes on
        return error_outcome(spec, exc)


def _row(spec: TaskSpec, outcome: dict[str, Any]) -> dict[str, Any]:
    split = spec.split
    return {
        "key": spec.key, "split": split.name, "files": list(split.files),
        "window_start_ns": split.start_ns, "window_end_ns": split.end_ns,
        "instrument": spec.instrument or "", **spec.params, **outcome["stats"],
        "task_load_s": outcome["load_s"], "task_run_s": outcome["run_s"],
        "task_cpu_s": outcome["cpu_s"],
        "task_compiles": outcome["compiles"], "task_worker": outcome["worker"],
    }


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, show: bool | None) -> Any:
    """A tqdm bar over tasks on a terminal (``show=None``: when stderr is one)."""
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="task", desc="sweep", file=sys.stderr)
