"""The command line and the examples, run as users run them (subprocesses)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str, timeout: float = 240, env: dict[str, str] | None = None,
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env or dict(os.environ))


def test_help_lists_the_subcommands():
    out = _run("-m", "qengine", "--help")
    assert out.returncode == 0
    for command in ("version", "quote", "simulate"):
        assert command in out.stdout


def test_version_prints_the_package_version():
    from qengine import __version__

    out = _run("-m", "qengine", "version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"qengine {__version__}"


def test_no_subcommand_prints_help_and_fails():
    out = _run("-m", "qengine")
    assert out.returncode == 2
    assert "usage:" in out.stdout


def test_invalid_config_names_the_key_and_connects_nowhere(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[quote]\ngama = 0.1\n")
    out = _run("-m", "qengine", "quote", "--config", str(bad))
    assert out.returncode == 2
    assert "quote.gama: unknown key" in out.stderr
    out = _run("-m", "qengine", "quote", "--levels", "0")
    assert out.returncode == 2
    assert "quote.levels" in out.stderr


@pytest.mark.slow
def test_research_example_prints_the_monte_carlo_table():
    out = _run("examples/research_kernels.py", "--paths", "200")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    rows = [line.split() for line in lines
            if len(line.split()) > 1 and line.split()[1] in ("inventory", "symmetric")]
    assert len(rows) == 6
    by_key = {(row[0], row[1]): [float(x) for x in row[2:]] for row in rows}
    # The inventory strategy's profit and inventory vary far less than the symmetric one's.
    inventory, symmetric = by_key[("0.10", "inventory")], by_key[("0.10", "symmetric")]
    assert inventory[2] < symmetric[2]
    assert inventory[4] < symmetric[4]


@pytest.mark.slow
def test_quote_example_trades_on_the_simulator_and_leaves_nothing_open(tmp_path):
    env = dict(os.environ, QENGINE_CONFIG_DIR=str(tmp_path / "cfg"))
    out = _run("examples/quote.py", "--duration-s", "6", env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert re.search(r"open orders at exit\s+0$", out.stdout, re.MULTILINE)
    assert "qengine quoting BTC-PERPETUAL" in out.stderr


@pytest.mark.slow
def test_quote_command_writes_the_summary_json(tmp_path):
    env = dict(os.environ, QENGINE_CONFIG_DIR=str(tmp_path / "cfg"))
    summary = tmp_path / "summary.json"
    metrics = tmp_path / "metrics.jsonl"
    out = _run("-m", "qengine", "quote", "--duration-s", "4", "--summary-json", str(summary),
               "--metrics-file", str(metrics), env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    data = json.loads(summary.read_text())
    for key in ("orders_inserted", "orders_amended", "orders_cancelled", "fills",
                "final_position", "realised_pnl_usd", "unrealised_pnl_usd", "fees_usd",
                "reconnects", "errors", "tick_to_quote_p50_us", "tick_to_quote_p99_us",
                "open_orders_at_exit"):
        assert key in data
    assert data["open_orders_at_exit"] == 0
    assert data["orders_inserted"] > 0


@pytest.mark.slow
def test_verbose_logs_every_event_and_the_default_mode_counts_them(tmp_path):
    env = dict(os.environ, QENGINE_CONFIG_DIR=str(tmp_path / "cfg"))
    verbose = _run("-m", "qengine", "quote", "--duration-s", "3", "--verbose", env=env)
    default = _run("-m", "qengine", "quote", "--duration-s", "3", env=env)
    assert verbose.returncode == 0, verbose.stderr[-2000:]
    assert default.returncode == 0, default.stderr[-2000:]
    for event in ("DEBUG   ticker Ticker(", "DEBUG   session.orders", "DEBUG   sending ["):
        assert event in verbose.stderr
    assert "DEBUG" not in default.stderr
    assert "qengine quoting BTC-PERPETUAL" in default.stderr  # start-up line
    assert "shutdown:" in default.stderr  # one shutdown summary line


def test_example_grid_validates_against_the_example_backtest_config():
    """The README's sweep command uses these two files: they must load and agree."""
    from qengine.config import read_toml
    from qengine.sweep.grid import load_grid

    examples = Path(__file__).resolve().parent.parent / "examples"
    spec = load_grid(examples / "grid.toml", read_toml(examples / "backtest.toml", "config"))
    assert spec.params == {"quote.gamma": (0.01, 0.02, 0.05, 0.1), "quote.levels": (1, 2, 3, 4)}
