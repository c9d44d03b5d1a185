"""Telemetry: histogram accuracy, counters, and logging through the queue listener."""

from __future__ import annotations

import io
import json
import logging

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from qengine.telemetry import (
    COUNTER,
    Counters,
    LatencyHistogram,
    open_logging,
    rss_mb,
    write_metrics_row,
)


@given(st.lists(st.integers(min_value=0, max_value=10**10), min_size=1, max_size=300))
def test_histogram_percentiles_are_within_one_sixteenth_of_the_exact_value(values):
    histogram = LatencyHistogram()
    for value in values:
        histogram.record(value)
    for fraction in (0.5, 0.99):
        exact = float(np.sort(values)[max(1, int(np.ceil(fraction * len(values)))) - 1])
        estimate = histogram.percentile_ns(fraction)
        assert estimate <= exact
        assert estimate >= exact * (1 - 1 / 16) - 1


def test_empty_histogram_reports_nan():
    assert np.isnan(LatencyHistogram().percentile_ns(0.5))


def test_counters_snapshot_names_every_counter():
    counters = Counters()
    counters.values[COUNTER["fills"]] += 3
    snapshot = counters.snapshot()
    assert snapshot["fills"] == 3
    assert set(snapshot) == set(COUNTER)


def test_rss_is_a_plausible_number_of_megabytes():
    assert 5 < rss_mb() < 10_000


def test_logging_goes_through_the_listener_and_metrics_rows_are_json_lines(tmp_path):
    console = io.StringIO()
    log_file = tmp_path / "q.log"
    metrics_file = tmp_path / "m.jsonl"
    with open_logging(verbose=False, log_file=str(log_file), metrics_file=str(metrics_file),
                      stream=console) as logger:
        logger.info("fill %s", "BUY 0.1 @ 100")
        logger.debug("hidden in default mode")
        write_metrics_row({"mid": 100.5, "position": 0.1})
    assert "fill BUY 0.1 @ 100" in console.getvalue()
    assert "hidden" not in console.getvalue()
    assert "fill BUY" in log_file.read_text()
    rows = [json.loads(line) for line in metrics_file.read_text().splitlines()]
    assert rows == [{"mid": 100.5, "position": 0.1}]
    assert "mid" not in console.getvalue()
    assert logging.getLogger("qengine").handlers == []
