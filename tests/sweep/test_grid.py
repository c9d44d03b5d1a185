"""grid.toml: values, ranges, splits, options, and validation against EngineConfig."""

from __future__ import annotations

import pytest

from qengine.cli import main
from qengine.errors import ConfigError
from qengine.sweep.grid import grid_from_mapping, load_grid

from .conftest import BTC, CONFIG


def grid(params, **tables):
    return grid_from_mapping({"params": params, **tables}, {})


def test_lists_ranges_and_dotted_tables_expand_in_config_types():
    g = grid({"quote.levels": [1, 3], "quote": {"gamma": {"start": 0.1, "stop": 0.3,
                                                           "step": 0.1}},
              "risk.max_position": {"start": 1, "stop": 2, "step": 1}})
    assert g.params == {"quote.levels": (1, 3), "quote.gamma": (0.1, 0.2, 0.3),
                        "risk.max_position": (1.0, 2.0)}
    assert all(isinstance(v, float) for v in g.params["risk.max_position"])  # a float key
    points = g.points()
    assert len(points) == 12
    assert points[0] == {"quote.levels": 1, "quote.gamma": 0.1, "risk.max_position": 1.0}
    assert points[-1] == {"quote.levels": 3, "quote.gamma": 0.3, "risk.max_position": 2.0}


def test_defaults_and_options():
    g = grid({"quote.levels": [2]}, split={"mode": "walk_forward", "window_s": 60},
             backtest={"latency_ms": 5, "queue": "powerprob:3", "instrument": {"btc*": "BTCUSDT"}},
             summary={"metric": "sharpe", "minimize": False, "top": 3})
    assert g.split.mode == "walk_forward"
    assert g.split.window_s == 60.0
    assert g.backtest == {"latency_ms": 5.0, "queue": "powerprob:3", "partial_fills": False,
                          "record_interval_ms": 100.0}
    assert g.instrument_for("/x/btcusdt_1.gz") == "BTCUSDT"
    with pytest.raises(ConfigError, match=r"no pattern matches the data file 'eth.gz'"):
        g.instrument_for("eth.gz")
    assert (g.metric, g.top) == ("sharpe", 3)


@pytest.mark.parametrize(("params", "tables", "message"), [
    ({"quote.gama": [0.1]}, {}, r"quote.gama = 0.1: quote.gama: unknown key"),
    ({"quote.gamma": [0.1, -1.0]}, {}, r"quote.gamma = -1.0: quote.gamma: must be > 0"),
    ({"quote.levels": [1, 2.5]}, {}, r"quote.levels = 2.5: quote.levels: must be an integer"),
    ({"quote.model": ["as", "glfx"]}, {}, r"quote.model = 'glfx'.*must be one of"),
    ({"nosection.key": [1]}, {}, r"nosection.key = 1: nosection: unknown key"),
    ({"quote.min_spread_ticks": [10, 90]}, {}, r"quote.min_spread_ticks = 90: quote.max_spread"),
    ({"quote.min_spread_ticks": [10, 50], "quote.max_spread_ticks": [40, 75]}, {},
     r"set \{'quote.min_spread_ticks': 50, 'quote.max_spread_ticks': 40\} is invalid"),
    ({"quote.gamma": {"start": 0.1, "stop": 0.05, "step": 0.1}}, {}, r"quote.gamma: range needs"),
    ({"quote.gamma": {"start": 0.1, "stop": 0.2}}, {}, r"quote.gamma: a range needs exactly"),
    ({"quote.gamma": 0.1}, {}, r"quote.gamma: must be a list of values or a range"),
    ({"quote.gamma": []}, {}, r"quote.gamma: must be a non-empty list"),
    ({"quote.gamma": [0.1, 0.1]}, {}, r"quote.gamma: the list \[0.1, 0.1\] repeats a value"),
    ({}, {}, r"\[params\] must name at least one"),
    ({"quote.levels": [1]}, {"split": {"mode": "weekly"}}, r"split.mode: must be one of"),
    ({"quote.levels": [1]}, {"split": {"mode": "walk_forward"}}, r"split.window_s: must be"),
    ({"quote.levels": [1]}, {"split": {"mode": "per_file", "window_s": 5}}, r"only for mode"),
    ({"quote.levels": [1]}, {"backtest": {"queue": "fifo"}}, r"backtest.queue: must be"),
    ({"quote.levels": [1]}, {"backtest": {"latency_ms": -1}}, r"backtest.latency_ms: must be"),
    ({"quote.levels": [1]}, {"backtest": {"latancy_ms": 1}}, r"backtest.latancy_ms: unknown key"),
    ({"quote.levels": [1]}, {"summary": {"top": 0}}, r"summary.top: must be an integer >= 1"),
    ({"quote.levels": [1]}, {"extra": {}}, r"unknown table 'extra'"),
])
def test_bad_grids_name_the_key_and_the_value(params, tables, message):
    with pytest.raises(ConfigError, match=message):
        grid(params, **tables)


def test_a_grid_is_validated_on_top_of_the_base_config():
    base = {"quote": {"max_spread_ticks": 20}}
    with pytest.raises(ConfigError, match=r"quote.min_spread_ticks"):
        grid_from_mapping({"params": {"quote.min_spread_ticks": [10, 30]}}, base)


def test_missing_or_broken_grid_file(tmp_path):
    with pytest.raises(ConfigError, match="grid file not found"):
        load_grid(tmp_path / "none.toml", {})
    bad = tmp_path / "bad.toml"
    bad.write_text("[params\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_grid(bad, {})


def test_the_command_rejects_a_bad_grid_before_starting(tmp_path, capsys):
    grid_file = tmp_path / "grid.toml"
    grid_file.write_text('[params]\n"quote.gamma" = [0.1, -2.0]\n')
    data = tmp_path / "rows.npy"
    data.write_bytes(b"")
    code = main(["sweep", "--data", str(data), "--grid", str(grid_file), "--out",
                 str(tmp_path / "out")])
    assert code == 2
    assert "quote.gamma = -2.0" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing started


def test_the_command_rejects_a_missing_data_file(tmp_path, capsys):
    grid_file = tmp_path / "grid.toml"
    grid_file.write_text('[params]\n"quote.gamma" = [0.1]\n')
    code = main(["sweep", "--data", str(tmp_path / "nope.npz"), "--grid", str(grid_file)])
    assert code == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.parametrize(("grid_text", "extra", "message"), [
    ('[params]\n"quote.levels" = [1]\n[backtest]\ninstrument = "BTCUSD"\n', [],
     "backtest.instrument: unknown instrument 'BTCUSD'"),
    ('[params]\n"quote.levels" = [1]\n', ["--metric", "pnl"],
     "metric 'pnl' (--metric or summary.metric) is not a statistic; one of duration_s, "),
    ('[params]\n"quote.levels" = [1]\n[summary]\nmetric = "profit"\n', [],
     "metric 'profit'"),
])
def test_the_command_checks_instruments_and_the_metric_before_starting(tmp_path, capsys,
                                                                      grid_text, extra, message):
    grid_file = tmp_path / "grid.toml"
    grid_file.write_text(grid_text)
    code = main(["sweep", "--config", str(CONFIG), "--data", str(BTC), "--grid", str(grid_file),
                 "--out", str(tmp_path / "out"), *extra])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_command_refuses_to_resume_another_sweep_before_starting(tmp_path, capsys):
    grid_file = tmp_path / "grid.toml"
    grid_file.write_text('[params]\n"quote.levels" = [1]\n[backtest]\ninstrument = "BTCUSDT"\n')
    out = tmp_path / "out"
    out.mkdir()
    (out / "sweep.json").write_text('{"files": ["elsewhere.npz"]}')
    code = main(["sweep", "--config", str(CONFIG), "--data", str(BTC), "--grid", str(grid_file),
                 "--out", str(out), "--resume"])
    assert code == 2
    assert "holds a different sweep" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["sweep.json"]  # nothing started or written
