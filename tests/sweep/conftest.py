"""Shared data and Dask clusters of the sweep tests (module-scoped: started once per module)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "binance-usdm"
BTC = DATA / "btcusdt_20240808.gz"
ETH = DATA / "ethusdt_20240808.gz"
CONFIG = ROOT / "examples" / "backtest.toml"


@pytest.fixture(scope="session")
def btc_rows():
    from qengine.backtest.data import load_events

    return load_events(BTC)


class DaskProcesses:
    """A ``dask scheduler`` and two ``dask worker`` processes (each under its nanny), started
    with the command lines the README shows."""

    def __init__(self, tmp: Path) -> None:
        import os
        import subprocess
        import sys
        import time

        env = dict(os.environ, PYTHONPATH=str(ROOT))  # the workers import tests.sweep
        self.scheduler_file = tmp / "scheduler.json"
        self.logs = [open(tmp / f"{name}.log", "wb") for name in ("scheduler", "w1", "w2")]  # noqa: SIM115
        dask = [sys.executable, "-m", "dask"]
        self.scheduler = subprocess.Popen(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--dashboard-address", ":0", "--scheduler-file", str(self.scheduler_file)],
            cwd=ROOT, env=env, stdout=self.logs[0], stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while not self.scheduler_file.is_file():
            assert time.monotonic() < deadline, "the scheduler did not start"
            assert self.scheduler.poll() is None, "the scheduler exited"
            time.sleep(0.1)
        import json

        while True:
            try:
                self.address = json.loads(self.scheduler_file.read_text())["address"]
                break
            except (ValueError, KeyError):
                time.sleep(0.1)
        self.workers = [subprocess.Popen(
            [*dask, "worker", self.address, "--nworkers", "1", "--nthreads", "1",
             "--no-dashboard", "--host", "127.0.0.1"], cwd=ROOT, env=env, stdout=log,
            stderr=subprocess.STDOUT) for log in self.logs[1:]]
        self.env = env

    def close(self) -> None:
        import subprocess

        for process in [*self.workers, self.scheduler]:
            process.terminate()
        for process in [*self.workers, self.scheduler]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self.logs:
            log.close()


@pytest.fixture(scope="module")
def dask_processes(tmp_path_factory):
    processes = DaskProcesses(tmp_path_factory.mktemp("dask"))
    yield processes
    processes.close()


@pytest.fixture(scope="module")
def cluster_client(dask_processes):
    """A client of the subprocess cluster, both workers up and warmed."""
    from qengine.sweep.runner import open_client

    with open_client(dask_processes.address) as client:
        client.wait_for_workers(2, timeout=120)
        yield client
