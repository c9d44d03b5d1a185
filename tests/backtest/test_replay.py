"""A replay without a strategy (``None`` or ``strategies.idle``): the runner calls nothing at a
wake-up, and the run is exactly that of a strategy that is called and does nothing."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from qengine.backtest import layout as L
from qengine.backtest import strategies
from qengine.backtest.api import Backtest, BacktestConfig


@numba.njit(L.STRATEGY_SIG)
def _count_calls(h):
    """Do nothing but count the calls (in ``scratch[0]``)."""
    h[7][0] += 1.0
    return 0


@pytest.mark.parametrize("wake", [{"wake_interval_ns": 1_000_000},
                                  {"wake_on_feed": True, "feed_timeout_ns": 5_000_000}])
def test_a_replay_calls_nothing_and_equals_a_called_strategy_that_does_nothing(btc_rows, wake):
    rows = btc_rows[:60_000]
    # Small chunks and recorder drains: the kernel returns to its wrapper many times.
    config = BacktestConfig(tick_size=0.1, lot_size=0.001, record_every_ns=0, recorder_rows=999,
                            chunk_rows=7_001, **wake)
    calls = np.zeros(1)
    called = Backtest(config, _count_calls, scratch=calls).run(rows)
    assert called.counts["wake_ups"] > 10_000
    assert calls[0] == called.counts["wake_ups"]
    assert len(called.records) == called.counts["wake_ups"]
    for replay in (None, strategies.idle):
        r = Backtest(config, replay).run(rows)
        for name in L.RECORD_DTYPE.names:  # (field by field: NaN mids compare equal)
            np.testing.assert_array_equal(r.records[name], called.records[name])
        assert r.counts == called.counts
        assert (r.mid_end, r.equity, r.position) == (called.mid_end, called.equity,
                                                     called.position)
        assert len(r.fills) == len(r.orders) == 0


def test_the_runner_skips_the_strategy_of_a_replay(btc_rows):
    # The wrapper marks a replay in ``ist[I_NO_STRATEGY]``; the kernel then never calls the
    # function it is handed, yet counts and records every wake-up.
    config = BacktestConfig(tick_size=0.1, lot_size=0.001, wake_interval_ns=10_000_000)
    calls = np.zeros(1)
    bt = Backtest(config, _count_calls, scratch=calls)
    assert not bt.replay
    assert Backtest(config, None).replay
    assert Backtest(config, strategies.idle).replay
    bt.replay = True
    r = bt.run(btc_rows[:60_000])
    assert calls[0] == 0
    assert r.counts["wake_ups"] == len(r.records) > 1_000
