"""``qengine backtest``: flags, errors and output files, with a run function that returns a
hand-built result (``backtest_command`` takes the run function as a parameter)."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qengine.backtest.data import DataError
from qengine.backtest.report import PLOT_NAMES
from qengine.backtest.stats import STAT_KEYS
from qengine.cli import build_parser
from qengine.cli_backtest import backtest_command
from qengine.errors import ConfigError

from .backtest.quoting_fixture import NS, synthetic_result

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Progress:
    events_done: int
    events_total: int
    sim_time_ns: int
    start_ns: int
    end_ns: int


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeRun:
    """Records its call, reports progress like the real run, returns a fixture result."""

    def __init__(self, *, raises: Exception | None = None, events_total: int = 1_000) -> None:
        self.calls: list[tuple[tuple, dict]] = []
        self.raises = raises
        self.events_total = events_total
        self.result = synthetic_result(20)

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        if self.raises is not None:
            raise self.raises
        progress = kwargs["progress"]
        if progress is not None:
            start, end = self.result.start_ns, self.result.end_ns
            progress(Progress(0, self.events_total, -1, -1, -1))  # before the first event
            for k in range(1, 5):
                progress(Progress(250 * k, self.events_total, start + k * (end - start) // 4,
                                  start, end))
        return self.result


@pytest.fixture
def files(tmp_path):
    config = tmp_path / "quote.toml"
    config.write_text('[quote]\nmodel = "glft"\n')
    data = tmp_path / "day.npz"
    data.write_bytes(b"not read by the fake run")
    return config, data


def _call(argv, run, *, stderr=None):
    args = build_parser().parse_args(["backtest", *argv])
    out, err = io.StringIO(), stderr if stderr is not None else io.StringIO()
    code = backtest_command(args, run=run, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.slow
def test_writes_report_plots_and_json_and_prints_every_statistic(files, tmp_path):
    config, data = files
    run = FakeRun()
    out_dir, summary = tmp_path / "out", tmp_path / "stats.json"
    code, out, err = _call(["--config", str(config), "--data", str(data), "--instrument",
                            "BTCUSDT", "--latency-ms", "5", "--queue", "powerprob:3",
                            "--partial-fills", "--record-interval-ms", "50", "--out",
                            str(out_dir), "--json", str(summary)], run)
    assert (code, err) == (0, "")
    (args, kwargs), = run.calls
    assert args[0].quote.model == "glft"  # the config file was read
    assert args[1] == str(data)
    assert kwargs["instrument"] == "BTCUSDT"
    assert (kwargs["latency_ms"], kwargs["queue"], kwargs["partial_fills"],
            kwargs["record_interval_ms"]) == (5.0, "powerprob:3", True, 50.0)
    assert kwargs["progress"] is None  # stderr is not a terminal: no bar
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(
        [f"{name}.png" for name in PLOT_NAMES] + ["report.html"])
    written = json.loads(summary.read_text())
    assert list(written) == list(STAT_KEYS)
    assert written["fills"] == run.result.fills.size
    for key in STAT_KEYS:
        assert any(line.split()[0] == key for line in out.splitlines() if line.strip())
    assert f"report: {out_dir / 'report.html'}" in out


def test_several_files_go_to_the_run_in_order_and_no_plots_writes_only_the_table(files,
                                                                                  tmp_path):
    config, data = files
    second = tmp_path / "b.gz"
    second.write_bytes(b"")
    run = FakeRun()
    code, _, err = _call(["--config", str(config), "--data", str(second), str(data),
                          "--no-plots", "--out", str(tmp_path / "o")], run)
    assert (code, err) == (0, "")
    assert run.calls[0][0][1] == [str(second), str(data)]
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["report.html"]


def test_json_writes_nan_as_null(files, tmp_path):
    config, data = files
    run = FakeRun()
    run.result = synthetic_result(5)
    summary = tmp_path / "s.json"
    code, _, _ = _call(["--config", str(config), "--data", str(data), "--no-plots", "--out",
                        str(tmp_path / "o"), "--json", str(summary)], run)
    assert code == 0
    text = summary.read_text()
    assert "NaN" not in text
    assert json.loads(text)["markout_60s_ticks"] is None  # a 5 s run has no 60 s markout


def test_progress_bar_on_a_terminal(files, tmp_path):
    config, data = files
    tty = TTY()
    code, _, _ = _call(["--config", str(config), "--data", str(data), "--no-plots", "--out",
                        str(tmp_path / "o")], FakeRun(), stderr=tty)
    assert code == 0
    bar = tty.getvalue()
    assert "1.00k/1.00k" in bar  # events done of the total
    assert "ev/s" in bar
    end = datetime.fromtimestamp(synthetic_result(20).end_ns / NS, tz=UTC)
    assert f"sim {end:%H:%M:%S} UTC" in bar  # the simulated time of the last report
    assert "23:59:59" not in bar  # -1 ns would read as 1969-12-31 23:59:59


def test_progress_without_an_event_total_estimates_from_simulated_time(files, tmp_path):
    config, data = files
    tty = TTY()
    code, _, _ = _call(["--config", str(config), "--data", str(data), "--no-plots", "--out",
                        str(tmp_path / "o")], FakeRun(events_total=-1), stderr=tty)
    assert code == 0
    assert "% of the data" in tty.getvalue()


@pytest.mark.parametrize(("argv", "message"), [
    (["--data", "{missing}"], "--data: {missing}: no such file"),
    (["--data", "{config}"], "expected a .npz, .npy or .gz file"),
    (["--out", "{config}"], "--out: {config}: exists and is not a directory"),
    (["--out", "{config}/sub"], "--out: {config}/sub: cannot create the directory"),
    (["--json", "{tmp}/nowhere/s.json"], "--json: {tmp}/nowhere/s.json: directory"),
    (["--json", "{tmp}"], "--json: {tmp}: is a directory"),
])
def test_bad_paths_exit_2_naming_the_flag_and_file_before_the_run(files, tmp_path, argv,
                                                                   message):
    config, data = files
    names = {"missing": str(tmp_path / "gone.npz"), "config": str(config), "tmp": str(tmp_path)}
    argv = [a.format(**names) for a in argv]
    base = ["--config", str(config), "--data", str(data), "--out", str(tmp_path / "o")]
    run = FakeRun()
    code, out, err = _call(base + argv, run)
    assert code == 2
    assert message.format(**names) in err
    assert run.calls == []
    assert out == ""


def test_invalid_config_names_the_key(files, tmp_path):
    config, data = files
    config.write_text("[quote]\ngama = 0.1\n")
    run = FakeRun()
    code, _, err = _call(["--config", str(config), "--data", str(data)], run)
    assert code == 2
    assert "invalid config: quote.gama: unknown key" in err
    assert run.calls == []
    code, _, err = _call(["--config", str(tmp_path / "none.toml"), "--data", str(data)], run)
    assert code == 2
    assert "config file not found" in err


@pytest.mark.parametrize(("error", "message"), [
    (ConfigError("instrument: unknown instrument 'XYZ'"), "invalid config: instrument: unknown"),
    (DataError("day.npz", "timestamps go backwards", row=17, field="local_ts"),
     "invalid data: day.npz: row 17: field 'local_ts': timestamps go backwards"),
])
def test_errors_of_the_run_exit_2_with_its_message(files, tmp_path, error, message):
    config, data = files
    code, out, err = _call(["--config", str(config), "--data", str(data), "--out",
                            str(tmp_path / "o")], FakeRun(raises=error))
    assert code == 2
    assert message in err
    assert out == ""
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(("flag", "value"), [
    ("--latency-ms", "-1"), ("--latency-ms", "nan"), ("--queue", "fifo"),
    ("--queue", "powerprob:0"), ("--queue", "powerprob:x"), ("--record-interval-ms", "0"),
    ("--sample-interval-s", "-2"),
])
def test_bad_flag_values_exit_2_naming_the_flag(files, capsys, flag, value):
    config, data = files
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["backtest", "--config", str(config), "--data", str(data),
                                   flag, value])
    assert exc.value.code == 2
    assert f"argument {flag}" in capsys.readouterr().err


def test_good_queue_values_are_accepted(files):
    config, data = files
    for value in ("riskaverse", "powerprob", "powerprob:2.5"):
        args = build_parser().parse_args(["backtest", "--config", str(config), "--data",
                                          str(data), "--queue", value])
        assert args.queue == value


def _qengine(*argv: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    script = f"import sys\n{prelude}\nfrom qengine.cli import main\nsys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", script, *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ))


def test_command_line_lists_the_command_and_checks_files_first(files):
    config, _ = files
    out = _qengine("--help")
    assert "backtest" in out.stdout
    out = _qengine("backtest", "--config", str(config), "--data", "missing.npz")
    assert out.returncode == 2
    assert "qengine backtest: --data: missing.npz: no such file" in out.stderr


def test_missing_matplotlib_is_a_clear_error_unless_no_plots(files, tmp_path):
    config, data = files
    blocked = "sys.modules['matplotlib'] = None"  # what an install without the extra sees
    out = _qengine("backtest", "--config", str(config), "--data", str(data), "--out",
                   str(tmp_path / "o"), prelude=blocked)
    assert out.returncode == 2
    assert "need matplotlib" in out.stderr
    assert "pip install 'qengine[backtest]'" in out.stderr
    assert "--no-plots" in out.stderr
    assert not (tmp_path / "o").exists()


def test_sample_interval_reaches_the_statistics(files, tmp_path):
    config, data = files
    summary = tmp_path / "s.json"
    code, _, _ = _call(["--config", str(config), "--data", str(data), "--no-plots", "--out",
                        str(tmp_path / "o"), "--json", str(summary), "--sample-interval-s",
                        "2"], FakeRun())
    assert code == 0
    written = json.loads(summary.read_text())
    assert written["sample_interval_s"] == 2.0
    assert written["duration_s"] == pytest.approx((synthetic_result(20).end_ns
                                                   - synthetic_result(20).start_ns) / NS)
    assert not math.isnan(written["pnl_quote"])


@pytest.mark.slow
def test_backtest_command_on_the_shared_btcusdt_recording(tmp_path):
    """The issue's 'done when': the command on a config in examples/ and the repository's
    BTCUSDT recording prints the statistics and writes the report, the plots and the JSON."""
    from qengine.backtest.stats import format_stats_table

    out_dir, summary = tmp_path / "report", tmp_path / "stats.json"
    done = subprocess.run(
        [sys.executable, "-m", "qengine", "backtest", "--config", "examples/backtest.toml",
         "--data", "data/binance-usdm/btcusdt_20240808.gz", "--out", str(out_dir), "--json",
         str(summary)], cwd=ROOT, capture_output=True, text=True, timeout=1800,
        env=dict(os.environ))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr == ""  # not a terminal: no progress bar
    stats = json.loads(summary.read_text())
    assert list(stats) == list(STAT_KEYS)
    assert stats["fills"] > 0
    assert math.isfinite(stats["pnl_quote"])
    printed = {k: v if v is not None else math.nan for k, v in stats.items()}
    assert format_stats_table(printed) in done.stdout
    page = (out_dir / "report.html").read_text(encoding="utf-8")
    assert all(f"<code>{key}</code>" in page for key in STAT_KEYS)
    from matplotlib.image import imread

    for name in PLOT_NAMES:
        png = out_dir / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert imread(png).shape[:2] == (450, 1000)


def test_as_orders_flag_reaches_the_run(files, tmp_path):
    config, data = files
    for extra, want in (([], None), (["--as-orders"], "orders")):
        run = FakeRun()
        code, _, err = _call(["--config", str(config), "--data", str(data), "--no-plots",
                              "--out", str(tmp_path / "o"), *extra], run)
        assert (code, err) == (0, "")
        assert run.calls[0][1]["order_mode_override"] == want
