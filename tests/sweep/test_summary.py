"""Ranking, walk-forward choice, two-parameter slices, the page: on hand-made rows."""

from __future__ import annotations

import math
import re

import pytest

from qengine.sweep import summary as S

NAMES = ["a", "b", "c"]


def row(a, b, c, split, pnl, start=0):
    return {"key": f"{a}-{b}-{c}-{split}", "split": split, "window_start_ns": start, "a": a,
            "b": b, "c": c, "pnl": pnl}


ROWS = [
    row(1, 10, "x", "w0", 1.0, 0), row(1, 10, "x", "w1", 3.0, 5),
    row(2, 10, "x", "w0", 5.0, 0), row(2, 10, "x", "w1", -1.0, 5),
    row(1, 20, "x", "w0", 2.0, 0), row(1, 20, "x", "w1", 2.5, 5),
    row(2, 20, "x", "w0", math.nan, 0), row(2, 20, "x", "w1", 4.0, 5),
    row(2, 20, "y", "w0", 0.0, 0), row(2, 20, "y", "w1", 0.0, 5),
]


def test_sets_rank_by_their_mean_over_splits():
    ranked = S.rank(ROWS, NAMES, "pnl")
    assert [(r.params["a"], r.params["b"], r.params["c"]) for r in ranked] == [
        (2, 20, "x"), (1, 20, "x"), (1, 10, "x"), (2, 10, "x"), (2, 20, "y")]
    best = ranked[0]
    assert (best.mean, best.low, best.high, best.splits) == (4.0, 4.0, 4.0, 2)  # NaN left out
    assert ranked[1].mean == 2.25
    worst_first = S.rank(ROWS, NAMES, "pnl", minimize=True)
    assert worst_first[0].params == {"a": 2, "b": 20, "c": "y"}


def test_walk_forward_tests_the_set_chosen_on_the_previous_window():
    steps = S.walk_forward(ROWS, NAMES, "pnl")
    assert len(steps) == 1
    step = steps[0]
    assert (step.fit_window, step.test_window) == ("w0", "w1")
    assert step.params == {"a": 2, "b": 10, "c": "x"}  # 5.0 on w0
    assert (step.fit_metric, step.test_metric) == (5.0, -1.0)  # its result on w1


def test_a_slice_holds_the_other_parameters_at_the_best_set():
    xs, ys, matrix = S.slice_matrix(ROWS, NAMES, "pnl", "a", "b", {"a": 2, "b": 20, "c": "x"})
    assert (xs, ys) == ([1, 2], [10, 20])
    assert matrix == [[2.0, 2.0], [2.25, 4.0]]  # c = "x" only; (2, 20) has only w1's 4.0


def test_an_unknown_metric_names_the_statistics_there_are():
    with pytest.raises(ValueError, match=r"metric 'sharpe' is not a statistic.*\['pnl'\]"):
        S.rank(ROWS, NAMES, "sharpe")


def test_heatmaps_and_a_self_contained_page(tmp_path):
    best = S.rank(ROWS, NAMES, "pnl")[0].params
    images = S.write_heatmaps(ROWS, NAMES, "pnl", best, tmp_path)
    assert [p.name for p in images] == ["heatmap_a__b.png", "heatmap_a__c.png",
                                        "heatmap_b__c.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") for p in images)
    page = S.write_html(tmp_path / "index.html", title="t", facts={"tasks": 10},
                        sections=[("best", S.best_table(S.rank(ROWS, NAMES, "pnl"), NAMES,
                                                        "pnl", 2))],
                        images=images)
    text = page.read_text()
    assert text.count("data:image/png;base64,") == 3
    assert not re.search(r"""(src|href)=["'](?!data:)""", text)  # nothing outside the file
    assert text.count("<tr>") == 3  # header + top 2
