"""The quoting strategy's per-cycle decision log (``run(..., decision_log=True)``) on the BTCUSDT
recording: each row is exactly the kernels' decision on the row's own inputs, and the rows are
the same however often the buffer is drained (its shape: ``test_quoting.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import qengine.backtest as bt
from qengine.backtest import quoting
from qengine.backtest.instruments import INSTRUMENTS
from qengine.backtest.quoting_state import instrument_spec
from qengine.config import load_config

from ..decision_replay import assert_same_decisions, ladder_key, replay_feed

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "backtest.toml"


@pytest.fixture(scope="module")
def config():
    # Intensity from its priors: the rest (EWMA volatility fed each cycle's book, the model,
    # the ladder) is decided again from the log's own rows alone.
    return load_config(EXAMPLE, {"quote.estimate_intensity": False})


@pytest.fixture(scope="module")
def logged(config, btc_rows):
    return bt.run(config, btc_rows, decision_log=True)


def test_each_row_is_the_kernels_decision_on_its_inputs(config, logged):
    rows = logged.decisions
    assert rows.dtype == bt.DECISION_DTYPE
    assert len(rows) == logged.counts["cycles"] >= 300
    assert np.all(np.diff(rows["wake_ns"]) >= 0)
    spec = instrument_spec(INSTRUMENTS["BTCUSDT"])
    replayed = replay_feed(config, spec, rows, [("cycle", i) for i in range(len(rows))])
    assert_same_decisions(replayed, rows)
    # Real decisions: a moving sigma and many ladders.
    assert len(np.unique(rows["sigma_per_sqrt_s"])) >= 100
    assert len({ladder_key(row) for row in rows}) >= 100


def test_a_small_buffer_drains_into_the_same_log(config, btc_rows, logged, monkeypatch):
    monkeypatch.setattr(quoting, "DECISION_ROWS", 7)
    small = bt.run(config, btc_rows, decision_log=True)
    assert small.decisions.tobytes() == logged.decisions.tobytes()
    assert small.fills.tobytes() == logged.fills.tobytes()
