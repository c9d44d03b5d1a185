"""What ``qengine.backtest.run`` refuses before it runs: a mode it does not simulate, data it
cannot quote on (prices off the instrument's grid, no depth)."""

from __future__ import annotations

import numpy as np
import pytest

import qengine.backtest as bt
from qengine.errors import ConfigError
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
