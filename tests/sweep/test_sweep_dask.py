"""Sweeps on real Dask clusters: a scheduler and two worker processes started as subprocesses
(``dask scheduler``, ``dask worker``), and the embedded default (a LocalCluster of processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from qengine.sweep.api import plan_sweep, run_planned
from qengine.sweep.data import load_split
from qengine.sweep.runner import open_client
from qengine.sweep.store import read_errors, read_results

from .conftest import BTC, ETH, ROOT
from .glft_task import failing_task, glft_task, slow_glft_task

pytestmark = pytest.mark.slow

GRID = """
[params]
"quote.levels" = [1, 2]
quote.min_spread_ticks = { start = 14, stop = 20, step = 6 }

[split]
mode = "per_file"

[backtest]
instrument = { "btc*" = "BTCUSDT", "eth*" = "ETHUSDT" }

[summary]
metric = "equity"
"""
STATS = ("equity", "balance", "fee", "position", "fills", "orders", "cancels", "events")


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    grid = tmp_path_factory.mktemp("grid") / "grid.toml"
    grid.write_text(GRID)
    return plan_sweep(None, [BTC, ETH], grid)


@pytest.fixture(scope="module")
def expected(plan):
    """Each backtest run alone, in this process."""
    return {t.key: glft_task(t, load_split(t.split)) for t in plan.tasks}


def check_rows(plan, expected, out):
    table = read_results(out)
    keys = table.column("key").to_pylist()
    assert sorted(keys) == sorted(t.key for t in plan.tasks)  # every task once: none lost
    assert len(keys) == len(set(keys))  # and none twice
    for row in table.to_pylist():
        assert {s: row[s] for s in STATS} == {s: expected[row["key"]][s] for s in STATS}
        assert row["task_compiles"] == 0  # the worker was warm before its first task
    return table


def test_a_small_grid_gives_the_rows_of_each_backtest_run_alone(plan, expected, cluster_client,
                                                               tmp_path):
    result = run_planned(plan, cluster_client, tmp_path, task_fn=glft_task, metric="equity")
    assert result.report.done == len(plan.tasks) == 8
    assert result.report.errors == []
    table = check_rows(plan, expected, tmp_path)
    by_key = {t.key: t for t in plan.tasks}
    for row in table.to_pylist():
        spec = by_key[row["key"]]
        assert row["quote.levels"] == spec.params["quote.levels"]
        assert row["split"] == spec.split.name
    assert len({r["task_worker"] for r in table.to_pylist()}) == 2  # both workers took tasks
    means = {}
    for key, stats in expected.items():
        means.setdefault(by_key[key].point, []).append(stats["equity"])
    best = max(means, key=lambda point: sum(means[point]) / len(means[point]))
    assert result.ranked[0].params == dict(best)
    assert (tmp_path / "index.html").is_file()
    assert [p.name for p in result.heatmaps] == [
        "heatmap_quote.levels__quote.min_spread_ticks.png"]


def test_a_raising_task_is_reported_with_its_parameters_and_the_rest_finish(
        plan, expected, cluster_client, tmp_path):
    result = run_planned(plan, cluster_client, tmp_path, task_fn=failing_task, metric="equity")
    failed = [t for t in plan.tasks if t.params["quote.levels"] == 2]
    assert sorted(e["key"] for e in result.report.errors) == sorted(t.key for t in failed)
    logged = read_errors(tmp_path)
    assert sorted(e["key"] for e in logged) == sorted(t.key for t in failed)
    assert all(e["params"]["quote.levels"] == 2 for e in logged)
    assert all("levels 2 is refused" in e["error"] for e in logged)
    rows = read_results(tmp_path).to_pylist()
    assert sorted(r["key"] for r in rows) == sorted(t.key for t in plan.tasks if t not in failed)
    assert "levels 2 is refused" in (tmp_path / "index.html").read_text()


def wait_for_rows(out, count, timeout=120):
    deadline = time.monotonic() + timeout
    while len(list((out / "rows").glob("part-*.parquet"))) < count:
        assert time.monotonic() < deadline, "no rows arrived"
        time.sleep(0.02)


def test_a_worker_killed_mid_sweep_loses_and_duplicates_nothing(plan, expected, cluster_client,
                                                              tmp_path):
    pids = cluster_client.run(os.getpid)
    outcome = {}
    sweep = threading.Thread(target=lambda: outcome.update(result=run_planned(
        plan, cluster_client, tmp_path, task_fn=slow_glft_task, metric="equity", plots=False)))
    sweep.start()
    wait_for_rows(tmp_path, 1)
    victim = sorted(pids.values())[0]
    os.kill(victim, signal.SIGKILL)
    written_before = len(read_results(tmp_path))
    sweep.join(timeout=300)
    assert not sweep.is_alive()
    assert written_before < len(plan.tasks)  # the kill landed mid-sweep
    assert outcome["result"].report.errors == []
    check_rows(plan, expected, tmp_path)
    cluster_client.wait_for_workers(2, timeout=120)  # its nanny restarted it
    assert victim not in cluster_client.run(os.getpid).values()


SWEEP_SCRIPT = textwrap.dedent("""
    import sys
    from qengine.sweep.api import plan_sweep, run_planned
    from qengine.sweep.runner import open_client
    from tests.sweep.glft_task import slow_glft_task

    address, grid, out, *data = sys.argv[1:]
    with open_client(address) as client:
        run_planned(plan_sweep(None, data, grid), client, out, task_fn=slow_glft_task,
                    metric="equity", plots=False)
""")


def test_resume_after_an_interrupted_sweep_runs_only_what_is_missing(
        plan, expected, dask_processes, cluster_client, tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text(GRID)
    out = tmp_path / "out"
    client_process = subprocess.Popen(
        [sys.executable, "-c", SWEEP_SCRIPT, dask_processes.address, str(grid), str(out),
         str(BTC), str(ETH)], cwd=ROOT, env=dask_processes.env)
    try:
        wait_for_rows(out, 2)
    finally:
        client_process.send_signal(signal.SIGKILL)  # the sweep's own process dies
        client_process.wait()
    done_before = set(read_results(out).column("key").to_pylist())
    assert 0 < len(done_before) < len(plan.tasks)
    result = run_planned(plan, cluster_client, out, task_fn=slow_glft_task, resume=True,
                         metric="equity", plots=False)
    assert result.report.skipped == len(done_before)
    assert result.report.done == len(plan.tasks) - len(done_before)
    check_rows(plan, expected, out)


def test_the_embedded_default_cluster_runs_a_sweep(plan, expected, tmp_path):
    with open_client(workers=2) as client:
        result = run_planned(plan, client, tmp_path, task_fn=glft_task, metric="equity",
                             plots=False)
    assert result.report.errors == []
    assert len(result.report.workers) == 2
    check_rows(plan, expected, tmp_path)
