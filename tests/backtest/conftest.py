"""Real recordings for the backtest tests, converted once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
_PLACES = (ROOT / "data" / "binance-usdm", ROOT.parent / "shared" / "data" / "binance-usdm")


def recording(name: str) -> Path:
    """The shared recording ``name`` (in the repository once the data lands there)."""
    for place in _PLACES:
        if (place / name).exists():
            return place / name
    raise FileNotFoundError(f"{name} not found in {[str(p) for p in _PLACES]}")


def _convert(name: str, tmp: Path) -> np.ndarray:
    from qengine.backtest.api import iter_chunks

    out = tmp / name.replace(".gz", ".npz")
    try:
        from qengine.backtest.binance import convert_binance_futures
    except ImportError:  # until the data branch lands: hftbacktest's converter, same rows
        from hftbacktest.data.utils import binancefutures

        binancefutures.convert(str(recording(name)), output_filename=str(out),
                               combined_stream=True)
    else:
        convert_binance_futures(recording(name), output=out)
    return next(iter_chunks(out, 10**9))


@pytest.fixture(scope="session")
def btc_rows(tmp_path_factory):
    return _convert("btcusdt_20240808.gz", tmp_path_factory.mktemp("btc"))


@pytest.fixture(scope="session")
def eth_rows(tmp_path_factory):
    return _convert("ethusdt_20240808.gz", tmp_path_factory.mktemp("eth"))
