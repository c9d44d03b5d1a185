"""``qengine sweep`` scaling: a 16-point grid over the shared Binance files, 1 and 2 workers.

The grid (``quote.gamma`` x ``quote.levels`` on ``examples/backtest.toml``, one backtest per file)
is the README's.

Each run starts an embedded cluster (``LocalCluster`` of processes, one thread each, every worker
warmed by the sweep's plugin before it takes a task), then times the sweep from the first submit
to the last row written (cluster start is reported apart). Per run it reports:

- ``wall_s``, ``tasks``, ``task_run_s`` (sum of the backtests' own time on the workers),
  ``task_cpu_s`` and ``cpu_per_wall_pct`` (the CPU the workers got during those runs: well
  under 100 % means the cores were shared with other processes),
  ``task_load_s`` (sum of the time tasks spent getting their rows: the first task of a file on a
  worker reads it, the others hit the worker's cache), ``compiles`` (numba compilations inside
  tasks: 0 when the warm-up did its job);
- ``overhead_pct``: everything that is not backtest time, over backtest time:
  ``(workers x wall_s - task_run_s) / task_run_s`` (scheduling, transfers, data loading, idle
  workers at the end); ``load_pct`` and ``scheduling_pct`` split it.

``speedup`` = 1-worker wall over 2-worker wall (goal >= 1.8 on 2 cores); ``overhead_pct`` of the
1-worker run is the per-task overhead as a fraction of a task (goal < 5 %).

Run: ``python perf/bench_sweep.py [--quick] [--task module:function] [--json PATH]``; ``--quick``
sweeps 4 points over one file. ``--task`` names the task function (default: qengine's own
strategy, ``qengine.sweep.tasks:run_task``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from perf._harness import machine_info, progress, write_json

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "binance-usdm"
FILES = [DATA / "btcusdt_20240808.gz", DATA / "ethusdt_20240808.gz"]
GRID = """
[params]
"quote.gamma" = [0.01, 0.02, 0.05, 0.1]
"quote.levels" = [1, 2, 3, 4]

[split]
mode = "per_file"

[backtest]
instrument = { "btc*" = "BTCUSDT", "eth*" = "ETHUSDT" }
"""
QUICK_GRID = GRID.replace("[0.01, 0.02, 0.05, 0.1]", "[0.02, 0.05]").replace(
    "[1, 2, 3, 4]", "[1, 2]")
DEFAULT_TASK = "qengine.sweep.tasks:run_task"


def _task(name: str) -> Any:
    module, _, function = name.partition(":")
    return getattr(importlib.import_module(module), function)


def sweep_once(workers: int, grid: Path, files: list[Path], task: Any) -> dict[str, Any]:
    """One sweep on a fresh embedded cluster of ``workers`` processes."""
    from qengine.sweep.api import plan_sweep
    from qengine.sweep.runner import open_client, run_sweep
    from qengine.sweep.store import ResultStore

    plan = plan_sweep(ROOT / "examples" / "backtest.toml", files, grid)
    started = time.perf_counter()
    with open_client(workers=workers) as client, tempfile.TemporaryDirectory() as out:
        client.wait_for_workers(workers)
        ready = time.perf_counter() - started
        store = ResultStore(out, plan.manifest(task), resume=False)
        report = run_sweep(client, plan.tasks, store, task_fn=task, progress=False)
    if report.errors:
        raise RuntimeError(f"{len(report.errors)} sweep tasks failed: {report.errors[0]['error']}")
    busy = report.run_s
    return {
        "workers": workers, "tasks": report.total, "wall_s": report.wall_s,
        "cluster_start_s": ready, "task_run_s": busy, "task_load_s": report.load_s,
        "mean_task_s": busy / report.total, "task_cpu_s": report.cpu_s,
        "cpu_per_wall_pct": 100.0 * report.cpu_s / busy, "compiles": report.compiles,
        "overhead_pct": 100.0 * (workers * report.wall_s - busy) / busy,
        "load_pct": 100.0 * report.load_s / busy,
        "scheduling_pct": 100.0 * (workers * report.wall_s - busy - report.load_s) / busy,
        "workers_used": len(report.workers),
    }


def run(quick: bool = False, task: str = DEFAULT_TASK) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        grid = Path(tmp) / "grid.toml"
        grid.write_text(QUICK_GRID if quick else GRID)
        files = FILES[:1] if quick else FILES
        fn = _task(task)
        runs = {}
        for workers in (1, 2):
            progress(f"sweep with {workers} worker(s)")
            runs[f"workers_{workers}"] = sweep_once(workers, grid, files, fn)
    one, two = runs["workers_1"], runs["workers_2"]
    return {
        **runs, "task": task, "points": 4 if quick else 16, "files": [f.name for f in files],
        "speedup": one["wall_s"] / two["wall_s"], "overhead_pct": one["overhead_pct"],
        "overhead_pct_2_workers": two["overhead_pct"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--task", default=DEFAULT_TASK, help="task function, module:function")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    result = {"machine": machine_info(), "sweep": run(args.quick, args.task)}
    if args.json:
        write_json(args.json, result)
    import json

    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
