"""What ``qengine.backtest.run`` refuses before it runs: a mode it does not simulate, data it
cannot quote on (prices off the instrument's grid, no depth)."""

from __future__ import annotations

import numpy as np
import pytest

import qengine.backtest as bt
from qengine.backtest import events as E
from qengine.backtest.data import DataError
from qengine.errors import ConfigError
from tests.backtest.conftest import recording
from tests.backtest.test_quoting import config


def test_mass_quote_config_is_refused_naming_order_mode(btc_rows):
    with pytest.raises(ConfigError, match=r"order_mode.*mass_quote.*order_mode_override"):
        bt.run(config(order_mode="mass_quote"), btc_rows)
    with pytest.raises(ConfigError, match="order_mode_override"):
        bt.run(config(), btc_rows, order_mode_override="mass_quote")


def test_mass_quote_config_runs_as_orders_when_asked(btc_rows):
    as_orders = bt.run(config(order_mode="mass_quote"), btc_rows, order_mode_override="orders")
    plain = bt.run(config(), btc_rows, order_mode_override="orders")
    assert as_orders.config.order_mode == "mass_quote"
    assert len(plain.fills) > 0
    np.testing.assert_array_equal(as_orders.fills, plain.fills)


def test_another_instruments_data_is_refused_naming_file_and_row():
    eth = recording("ethusdt_20240808.gz")
    with pytest.raises(DataError, match=r"ethusdt_20240808\.gz: row \d+.*BTCUSDT's tick size"):
        bt.run(config(), eth, instrument="BTCUSDT")


@pytest.mark.parametrize(("field", "delta"), [("px", 0.05), ("qty", 0.0004)])
def test_a_price_or_size_off_the_grid_is_named(btc_rows, tmp_path, field, delta):
    kind = btc_rows["ev"] & np.uint64(E.KIND_MASK)
    rows = btc_rows.copy()
    at = int(np.flatnonzero((kind == E.DEPTH_EVENT) & (rows["qty"] > 0))[1000])
    rows[field][at] += delta
    path = tmp_path / "shifted.npz"
    np.savez(path, data=rows)
    with pytest.raises(DataError, match=rf"shifted\.npz: row {at}: field '{field}'"):
        bt.run(config(), [btc_rows[:10], path])


def test_both_shared_recordings_pass_with_their_own_instruments(btc_rows, eth_rows):
    for rows, name in ((btc_rows, "BTCUSDT"), (eth_rows, "ETHUSDT")):
        assert bt.run(config(), rows, instrument=name).counts["events"] == len(rows)


def test_data_without_depth_is_refused_naming_the_files(btc_rows, tmp_path):
    kind = btc_rows["ev"] & np.uint64(E.KIND_MASK)
    trades = btc_rows[kind == E.TRADE_EVENT]
    paths = [tmp_path / "a.npz", tmp_path / "b.npz"]
    for path, part in zip(paths, np.array_split(trades, 2), strict=True):
        np.savez(path, data=part)
    with pytest.raises(DataError, match=r"a\.npz, .*b\.npz: no depth rows: nothing to quote on"):
        bt.run(config(), paths)
