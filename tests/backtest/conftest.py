"""Real recordings for the backtest tests, converted once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
_PLACES = (ROOT / "data" / "binance-usdm",)


def recording(name: str) -> Path:
    """The shared recording ``name`` (in the repository, with its README)."""
    for place in _PLACES:
        if (place / name).exists():
            return place / name
    raise FileNotFoundError(f"{name} not found in {[str(p) for p in _PLACES]}")


def _convert(name: str) -> np.ndarray:
    from qengine.backtest.binance import convert_binance_futures

    return convert_binance_futures(recording(name))


@pytest.fixture(scope="session")
def btc_rows():
    return _convert("btcusdt_20240808.gz")


@pytest.fixture(scope="session")
def eth_rows():
    return _convert("ethusdt_20240808.gz")
