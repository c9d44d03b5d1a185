"""Sweeps on real Dask clusters: a scheduler and two worker processes started as subprocesses
(``dask scheduler``, ``dask worker``), and the embedded default (a LocalCluster of processes)."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from qengine.backtest import run
from qengine.backtest.stats import STAT_KEYS, compute_stats
from qengine.cli import main
from qengine.config import config_from_mapping
from qengine.sweep.api import plan_sweep, run_planned
from qengine.sweep.data import load_split
from qengine.sweep.store import read_errors, read_results

from .conftest import BTC, CONFIG, ETH, ROOT
from .tasks import failing_task, slow_task

pytestmark = pytest.mark.slow

GRID = """
[params]
"quote.levels" = [1, 2]
quote.gamma = { start = 0.02, stop = 0.05, step = 0.03 }

[split]
mode = "per_file"

[backtest]
instrument = { "btc*" = "BTCUSDT", "eth*" = "ETHUSDT" }
"""


@pytest.fixture(scope="module")
def grid_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("grid") / "grid.toml"
    path.write_text(GRID)
    return path


@pytest.fixture(scope="module")
def plan(grid_file):
    return plan_sweep(CONFIG, [BTC, ETH], grid_file)


@pytest.fixture(scope="module")
def expected(plan):
    """Each backtest run alone, in this process, the way a user would: paths in, statistics out."""
    return {t.key: compute_stats(run(config_from_mapping(t.config), list(t.split.files),
                                     instrument=t.instrument, **t.options))
            for t in plan.tasks}


def same(a, b):
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a)
                      and math.isnan(b))


def check_rows(plan, expected, out):
    table = read_results(out)
    keys = table.column("key").to_pylist()
    assert sorted(keys) == sorted(t.key for t in plan.tasks)  # every task once: none lost
    assert len(keys) == len(set(keys))  # and none twice
    for row in table.to_pylist():
        want = expected[row["key"]]
        assert set(STAT_KEYS) <= set(row)  # every statistic of the backtest summary
        assert [k for k in STAT_KEYS if not same(row[k], want[k])] == []
        assert row["task_compiles"] == 0  # the worker was warm before its first task
    return table


def test_a_small_grid_gives_the_rows_of_each_backtest_run_alone(plan, expected, cluster_client,
                                                               tmp_path):
    result = run_planned(plan, cluster_client, tmp_path, metric="pnl_quote")
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
        means.setdefault(by_key[key].point, []).append(stats["pnl_quote"])
    best = max(means, key=lambda point: sum(means[point]) / len(means[point]))
    assert result.ranked[0].params == dict(best)
    assert (tmp_path / "index.html").is_file()
    assert [p.name for p in result.heatmaps] == [
        "heatmap_quote.levels__quote.gamma.png"]


def test_a_raising_task_is_reported_with_its_parameters_and_the_rest_finish(
        plan, expected, cluster_client, tmp_path):
    result = run_planned(plan, cluster_client, tmp_path, task_fn=failing_task)
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
        plan, cluster_client, tmp_path, task_fn=slow_task, plots=False)))
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
    from tests.sweep.tasks import slow_task

    address, config, grid, out, *data = sys.argv[1:]
    with open_client(address) as client:
        run_planned(plan_sweep(config, data, grid), client, out, task_fn=slow_task, plots=False)
""")


def test_resume_after_an_interrupted_sweep_runs_only_what_is_missing(
        plan, expected, grid_file, dask_processes, cluster_client, tmp_path):
    out = tmp_path / "out"
    client_process = subprocess.Popen(
        [sys.executable, "-c", SWEEP_SCRIPT, dask_processes.address, str(CONFIG), str(grid_file),
         str(out), str(BTC), str(ETH)], cwd=ROOT, env=dask_processes.env)
    try:
        wait_for_rows(out, 2)
    finally:
        client_process.send_signal(signal.SIGKILL)  # the sweep's own process dies
        client_process.wait()
    done_before = set(read_results(out).column("key").to_pylist())
    assert 0 < len(done_before) < len(plan.tasks)
    result = run_planned(plan, cluster_client, out, task_fn=slow_task, resume=True,
                         plots=False)
    assert result.report.skipped == len(done_before)
    assert result.report.done == len(plan.tasks) - len(done_before)
    check_rows(plan, expected, out)


def test_the_command_runs_on_the_embedded_default_cluster(plan, expected, grid_file, tmp_path,
                                                           capsys):
    out = tmp_path / "out"
    code = main(["sweep", "--config", str(CONFIG), "--data", str(BTC), str(ETH), "--grid",
                 str(grid_file), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "8 tasks on 2 local worker processes" in printed
    assert "best parameter sets by pnl_quote" in printed
    table = check_rows(plan, expected, out)
    assert len({r["task_worker"] for r in table.to_pylist()}) == 2
    assert (out / "index.html").is_file()
    assert (out / "heatmap_quote.levels__quote.gamma.png").read_bytes()[:4] == b"\x89PNG"


def test_walk_forward_chooses_on_one_window_and_reports_the_next(cluster_client, tmp_path):
    grid = tmp_path / "grid.toml"
    grid.write_text('[params]\n"quote.levels" = [1, 3]\n[split]\nmode = "walk_forward"\n'
                    'window_s = 120\n[backtest]\ninstrument = "BTCUSDT"\n')
    plan = plan_sweep(CONFIG, [BTC], grid)
    windows = sorted({t.split.name for t in plan.tasks})
    assert windows == ["w000", "w001", "w002"]
    result = run_planned(plan, cluster_client, tmp_path / "out")
    assert result.report.errors == []
    rows = {(r["split"], r["quote.levels"]): r for r in result.rows}
    assert len(rows) == 6
    for task in plan.tasks:  # a window's row is the backtest of that window's rows alone
        alone = compute_stats(run(config_from_mapping(task.config), load_split(task.split),
                                  instrument="BTCUSDT", **task.options))
        row = rows[(task.split.name, task.params["quote.levels"])]
        assert [k for k in STAT_KEYS if not same(row[k], alone[k])] == []
    assert [(s.fit_window, s.test_window) for s in result.walk_forward] == [
        ("w000", "w001"), ("w001", "w002")]
    for step in result.walk_forward:
        fit = {lv: rows[(step.fit_window, lv)]["pnl_quote"] for lv in (1, 3)}
        chosen = max(fit, key=fit.get)
        assert step.params == {"quote.levels": chosen}
        assert step.test_metric == rows[(step.test_window, chosen)]["pnl_quote"]
    assert "Walk-forward" in result.html.read_text()


def test_the_command_submits_to_a_running_scheduler(dask_processes, cluster_client, tmp_path,
                                                    capsys):
    grid = tmp_path / "grid.toml"
    grid.write_text('[params]\n"quote.levels" = [1, 2]\n[backtest]\ninstrument = "ETHUSDT"\n')
    out = tmp_path / "out"
    code = main(["sweep", "--scheduler", dask_processes.address, "--config", str(CONFIG),
                 "--data", str(ETH), "--grid", str(grid), "--out", str(out), "--no-plots"])
    printed = capsys.readouterr().out
    assert code == 0
    assert f"2 tasks on {dask_processes.address}" in printed
    rows = read_results(out).to_pylist()
    assert sorted(r["quote.levels"] for r in rows) == [1, 2]
    workers = set(cluster_client.run(os.getpid).values())
    assert {int(r["task_worker"].rsplit(":", 1)[1]) for r in rows} <= workers
    assert not (out / "index.html").exists()
