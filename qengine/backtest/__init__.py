"""Backtesting on recorded market data with the kernels that quote live.

``Backtest``, ``BacktestConfig`` and ``BacktestResult`` (any strategy) and ``run``,
``QuotingResult``, ``Progress`` (qengine's own quoting, ``quoting.run``) load on first use (the
kernels load from the disk cache then), so importing the event layout stays cheap.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "Backtest": "api", "BacktestConfig": "api", "BacktestResult": "api",
    "run": "quoting", "QuotingResult": "quoting", "Progress": "quoting",
    "QUOTING_RECORD_DTYPE": "layout", "Instrument": "instruments", "INSTRUMENTS": "instruments",
    "DECISION_DTYPE": "quoting_decisions",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
