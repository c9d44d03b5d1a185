"""Streaming: many files or small chunks give exactly the run of one array; bad input is named."""

from __future__ import annotations

import numpy as np
import pytest

from qengine.backtest import strategies
from qengine.backtest.api import Backtest, BacktestConfig
from qengine.backtest.data import DataError
from qengine.backtest.events import (
    BUY_EVENT,
    DEPTH_EVENT,
    EVENT_DTYPE,
    EXCH_EVENT,
    LOCAL_EVENT,
    SELL_EVENT,
)
from qengine.errors import ConfigError

PARAMS = strategies.glft_params(half_spread_ticks=20.291294294493063,
                                skew_ticks=16.812993168273273, grid_ticks=20, levels=10,
                                qty_lots=10, max_q=10, warmup_ns=1_000_000_000)


def run(rows, **settings):
    config = BacktestConfig(tick_size=0.1, lot_size=0.001, maker_fee=-0.00005,
                            wake_interval_ns=100_000_000, record_every_ns=1_000_000_000,
                            **settings)
    return Backtest(config, strategies.glft_grid, params=PARAMS).run(rows)


@pytest.mark.slow
def test_small_chunks_and_many_files_give_the_same_run(btc_rows, tmp_path):
    whole = run(btc_rows)
    # Small chunks: the local and exchange cursors often sit in different chunks.
    chunked = run(btc_rows, chunk_rows=997, recorder_rows=7)
    paths = []
    for i, part in enumerate(np.array_split(btc_rows, 9)):
        paths.append(tmp_path / f"part{i}.npz")
        np.savez_compressed(paths[-1], data=part)
    files = run(paths)
    for other in (chunked, files):
        np.testing.assert_array_equal(other.fills, whole.fills)
        np.testing.assert_array_equal(other.records, whole.records)
        assert other.counts == whole.counts
        assert other.equity == whole.equity
    assert whole.counts["fills"] == 526
    assert len(whole.records) == 345  # one row per second of wake-ups


def test_a_book_wider_than_the_first_chunk_grows():
    # Chunks of one row: the books start around tick 100 and must grow twice, to a far ask
    # at 50,000 and a far bid at 3; deleting the near ask then exposes the far one.
    both = EXCH_EVENT | LOCAL_EVENT
    items = [(BUY_EVENT, 1, 100.0, 5.0), (SELL_EVENT, 2, 102.0, 5.0),
             (SELL_EVENT, 3, 50_000.0, 1.0), (BUY_EVENT, 4, 3.0, 1.0),
             (SELL_EVENT, 5, 102.0, 0.0), (BUY_EVENT, 6, 100.0, 0.0), (BUY_EVENT, 7, 99.0, 1.0)]
    rows = np.zeros(len(items), EVENT_DTYPE)
    for k, (side, ts, px, qty) in enumerate(items):
        rows[k] = (both | side | DEPTH_EVENT, ts, ts, px, qty, 0, 0, 0.0)
    config = BacktestConfig(tick_size=1.0, lot_size=1.0, wake_interval_ns=1, record_every_ns=0)
    grown = Backtest(config, strategies.idle).run([rows[i:i + 1] for i in range(len(rows))])
    assert grown.mid_end == (99 + 50_000) / 2
    # Before the last row the best bid had fallen back to the far bid at 3.
    assert grown.records["mid"][-1] == (3 + 50_000) / 2


def test_bad_sources_and_settings_are_named():
    with pytest.raises(DataError):
        run(np.zeros(3, dtype=[("a", "<i8")]))
    with pytest.raises(DataError, match=r"rows\.csv"):
        run("rows.csv")
    with pytest.raises(ConfigError, match="tick_size"):
        BacktestConfig(tick_size=0.0, lot_size=0.001)
    with pytest.raises(ConfigError, match="queue"):
        BacktestConfig(tick_size=0.1, lot_size=0.001, queue="fifo")
    with pytest.raises(ConfigError, match="wake_interval_ns"):
        BacktestConfig(tick_size=0.1, lot_size=0.001, wake_interval_ns=0)
    with pytest.raises(ConfigError, match="latency_table_ns"):
        BacktestConfig(tick_size=0.1, lot_size=0.001, latency_table_ns=np.zeros((2, 2), int))
    with pytest.raises(ConfigError, match="STRATEGY_SIG"):
        Backtest(BacktestConfig(tick_size=0.1, lot_size=0.001), lambda h: 0)
