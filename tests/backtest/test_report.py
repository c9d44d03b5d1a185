"""The report: every plot is a real PNG, the HTML file is self-contained and has every statistic."""

from __future__ import annotations

import dataclasses
import html
import re

import numpy as np
import pytest

from qengine.backtest.report import PLOT_NAMES, write_report
from qengine.backtest.stats import STAT_KEYS, compute_stats

from .quoting_fixture import fills, synthetic_result

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _check_png(path, *, min_bytes=10_000):
    from matplotlib.image import imread

    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, path
    assert len(data) > min_bytes, (path, len(data))  # axes, lines and labels, not a blank frame
    pixels = imread(path)
    assert pixels.shape[:2] == (450, 1000)  # 10 x 4.5 in at 100 dpi
    rgba = np.ascontiguousarray((pixels[..., :4] * 255).astype(np.uint8)).view("<u4")
    assert np.unique(rgba).size > 20  # drawn lines and text, not one flat colour


@pytest.mark.slow
def test_every_plot_is_a_valid_png_and_the_html_has_every_statistic(tmp_path):
    result = synthetic_result(60)
    assert result.fills.size > 50
    stats = compute_stats(result)
    paths = write_report(result, stats, tmp_path / "out")
    assert set(paths.plots) == set(PLOT_NAMES) == {"price", "pnl", "inventory", "spread_sigma",
                                                   "markout"}
    for name, path in paths.plots.items():
        assert path == tmp_path / "out" / f"{name}.png"
        _check_png(path)
    page = paths.html.read_text(encoding="utf-8")
    for key in STAT_KEYS:
        assert f"<code>{key}</code>" in page
    # self-contained: no external source or link, every plot inlined
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", page)
    assert page.count('src="data:image/png;base64,') == len(PLOT_NAMES)
    assert f"orders_sent {result.counts['orders_sent']:,}" in page
    # the table shows the values
    assert f"<td class=num>{stats['fills']:,}</td>" in page


@pytest.mark.slow
def test_the_inlined_images_are_the_written_files(tmp_path):
    import base64

    result = synthetic_result(30)
    paths = write_report(result, compute_stats(result), tmp_path)
    page = paths.html.read_text(encoding="utf-8")
    inlined = re.findall(r'alt="(\w+)" src="data:image/png;base64,([^"]+)"', page)
    assert {name for name, _ in inlined} == set(PLOT_NAMES)
    for name, data in inlined:
        assert base64.b64decode(data) == paths.plots[name].read_bytes()


@pytest.mark.slow
def test_no_fills_still_draws_every_plot(tmp_path):
    result = dataclasses.replace(synthetic_result(30), fills=fills())
    paths = write_report(result, compute_stats(result), tmp_path)
    for path in paths.plots.values():
        _check_png(path, min_bytes=5_000)


def test_without_plots_only_the_table_is_written(tmp_path):
    result = synthetic_result(30)
    paths = write_report(result, compute_stats(result), tmp_path, plots=False)
    assert paths.plots == {}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
    page = paths.html.read_text(encoding="utf-8")
    assert "base64" not in page
    assert all(f"<code>{key}</code>" in page for key in STAT_KEYS)


def test_text_is_escaped(tmp_path):
    result = synthetic_result(10)
    odd = dataclasses.replace(result, instrument=dataclasses.replace(result.instrument,
                                                                     name="<b>X&Y</b>"))
    page = write_report(odd, compute_stats(odd), tmp_path, plots=False).html.read_text()
    assert html.escape("<b>X&Y</b>") in page
    assert "<b>X&Y</b>" not in page


def test_out_dir_that_is_a_file_fails_clearly(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = synthetic_result(10)
    with pytest.raises(FileExistsError):
        write_report(result, compute_stats(result), blocker, plots=False)
