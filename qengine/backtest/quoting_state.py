"""The quoting strategy's arrays: an :class:`EngineConfig` and an :class:`Instrument` in, the
``params`` and ``scratch`` of :func:`qengine.backtest.quoting_strategy.quote_strategy` out.

The translation config -> kernel arrays is the engine's own (``qengine.strategy.setup``); the
arrays are sized as the live engine sizes them (``engine/_state.py``). They live in one float64
``scratch`` (each region a record view of it, see ``quoting_strategy.REGIONS``) because a backtest
strategy keeps its state there; :class:`QuotingState` hands out the same views to Python.
"""

from __future__ import annotations

import numpy as np

from ..config import EngineConfig
from ..kernels.params import make_level_multipliers
from ..strategy.setup import InstrumentSpec, build_quote_params, build_risk_limits
from . import quoting_strategy as qs
from .instruments import Instrument

#: Rows of the live engine's tables (``engine/_state.py``): orders, actions, FIFO lots, trade ids.
ORDER_CAPACITY = 64
ACTION_CAPACITY = 64
LOT_CAPACITY = 512
SEEN_TRADES_CAPACITY = 4096


def instrument_spec(instrument: Instrument) -> InstrumentSpec:
    """The engine's :class:`InstrumentSpec` of a backtest instrument (index 0)."""
    return InstrumentSpec(index=0, name=instrument.name, product="", underlying="",
                          tick_size=instrument.tick_size, volume_tick=instrument.lot_size,
                          min_order_lots=instrument.min_order_lots)


class QuotingState:
    """``params`` and ``scratch`` of one quoting backtest, and named views of the regions."""

    def __init__(self, config: EngineConfig, instrument: Instrument, *, record_every_ns: int,
                 record_rows: int = 4096) -> None:
        q = config.quote
        spec = instrument_spec(instrument)
        self.spec = spec
        self.risk_limits = build_risk_limits(config, spec)
        counts = {
            "quote_params": 1, "bid_mult": len(q.bid_size_multipliers),
            "ask_mult": len(q.ask_size_multipliers), "samples": q.ring_capacity, "cursor": 1,
            "vol_state": 1, "vol_returns": q.ring_capacity, "intensity": 2,
            "quotes": 2 * q.levels, "diag": 1, "orders": ORDER_CAPACITY,
            "actions": ACTION_CAPACITY, "positions": 1, "lots": LOT_CAPACITY,
            "seen_ids": SEEN_TRADES_CAPACITY, "seen_cursor": 1, "fill_row": 1,
            "records": record_rows, "vars": qs.VARS_SIZE,
        }
        params = np.zeros(qs.PARAMS_SIZE)
        offset = 0
        self._spans: dict[str, tuple[int, int, np.dtype]] = {}
        for index, (name, dtype) in enumerate(qs.REGIONS):
            words = counts[name] * dtype.itemsize // 8
            params[2 * index] = offset
            params[2 * index + 1] = counts[name]
            self._spans[name] = (offset, offset + words, dtype)
            offset += words
        params[qs.P_AMEND_THRESHOLD_TICKS] = q.amend_threshold_ticks
        params[qs.P_INTENSITY_HALF_LIFE_S] = q.intensity_half_life_s
        params[qs.P_LEVELS] = q.levels
        params[qs.P_RECORD_EVERY_NS] = record_every_ns
        params[qs.P_LOT_TICK_VALUE] = spec.lot_tick_value * instrument.contract_size
        self.params = params
        self.scratch = np.zeros(max(offset, 1))
        self.view("quote_params")[:] = build_quote_params(config, spec)
        self.view("bid_mult")[:] = make_level_multipliers(q.bid_size_multipliers)
        self.view("ask_mult")[:] = make_level_multipliers(q.ask_size_multipliers)
        self.view("vars")[qs.V_NEXT_ID] = 1

    def view(self, name: str) -> np.ndarray:
        """Region ``name`` of the scratch as its record array (shares memory)."""
        start, stop, dtype = self._spans[name]
        return self.scratch[start:stop].view(dtype)

    @property
    def vars(self) -> np.ndarray:
        """The strategy's counters and memory (``quoting_strategy.V_*``)."""
        return self.view("vars")

    def drain_records(self) -> np.ndarray:
        """Copy out the recorder rows written since the last drain and empty the buffer."""
        v = self.vars
        rows = self.view("records")[: v[qs.V_N_REC]].copy()
        v[qs.V_N_REC] = 0
        return rows
