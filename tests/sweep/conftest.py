"""Shared data and Dask clusters of the sweep tests (module-scoped: started once per module)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "binance-usdm"
BTC = DATA / "btcusdt_20240808.gz"
ETH = DATA / "ethusdt_20240808.gz"


@pytest.fixture(scope="session")
def btc_rows():
    from qengine.backtest.data import load_events

    return load_events(BTC)
