"""``qengine convert binance-futures FILE.gz OUT.npz``."""

from __future__ import annotations

import numpy as np
import pytest

from qengine.backtest.binance import convert_binance_futures
from qengine.backtest.data import load_events
from qengine.cli import main

from .test_binance import GOOD, write_recording


def test_convert_writes_the_rows_and_a_summary(tmp_path, capsys):
    source = write_recording(tmp_path / "r.gz", [*GOOD, "", GOOD[0].replace('"MARKET"', '"X"')])
    assert main(["convert", "binance-futures", str(source), str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    expected = convert_binance_futures(source)
    assert out.startswith(f"wrote {len(expected)} rows to {tmp_path / 'out.npz'} from 10 lines")
    assert "ignored: blank line 1, trade X=X 1; skipped malformed lines: 0" in out
    assert np.load(tmp_path / "out.npz")["data"].tobytes() == expected.tobytes()
    assert load_events(tmp_path / "out.npz").tobytes() == expected.tobytes()


def test_convert_reports_malformed_lines(tmp_path, capsys):
    lines = [*GOOD[:2], "1000000000000000000 {oops", *GOOD[2:]]
    source = write_recording(tmp_path / "bad.gz", lines)
    assert main(["convert", "binance-futures", str(source), str(tmp_path / "o.npz")]) == 1
    err = capsys.readouterr().err
    assert f"qengine convert: {source}: line 3: bad JSON" in err
    assert not (tmp_path / "o.npz").exists()
    args = ["convert", "binance-futures", "--skip-malformed", str(source), str(tmp_path / "o.npz")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "skipped malformed lines: 1" in out
    assert "skipped line 3: bad JSON" in out


def test_convert_errors_and_help(tmp_path, capsys):
    assert main(["convert", "binance-futures", str(tmp_path / "none.gz"), "o.npz"]) == 1
    assert "none.gz: cannot read the gzip recording" in capsys.readouterr().err
    source = write_recording(tmp_path / "r.gz", GOOD)
    target = tmp_path / "missing-dir" / "o.npz"
    assert main(["convert", "binance-futures", str(source), str(target)]) == 1
    assert f"cannot write {target}: No such file or directory" in capsys.readouterr().err
    assert not list(tmp_path.glob("**/*.part"))
    with pytest.raises(SystemExit) as caught:
        main(["convert", "binance-futures", "--help"])
    assert caught.value.code == 0
    assert "FILE.gz" in capsys.readouterr().out
    with pytest.raises(SystemExit) as caught:
        main(["convert"])
    assert caught.value.code == 2


def test_convert_runs_as_a_command(tmp_path):
    import subprocess
    import sys

    source = write_recording(tmp_path / "r.gz", GOOD)
    out = subprocess.run(
        [sys.executable, "-m", "qengine", "convert", "binance-futures", str(source),
         str(tmp_path / "o.npz")], capture_output=True, text=True, timeout=240, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("wrote ")
    assert load_events(tmp_path / "o.npz").tobytes() == convert_binance_futures(source).tobytes()
