"""The quoting strategy's arrays: an :class:`EngineConfig` and an :class:`Instrument` in, the
``params`` and ``scratch`` of :func:`qengine.backtest.quoting_strategy.quote_strategy` out.

The translation config -> kernel arrays is the engine's own (``qengine.strategy.setup``); the
arrays are sized as the live engine sizes them (``engine/_state.py``). They live in one float64
``scratch`` (each region a record view of it) because a backtest
strategy keeps its state there (``quoting_layout``); :class:`QuotingState` hands out the same
views to Python.
"""

from __future__ import annotations

import numpy as np

from ..config import EngineConfig
from ..kernels.params import make_level_multipliers
from ..kernels.risk_actions import risk_check_interval_ns
from ..strategy.setup import (
    InstrumentSpec,
    build_decision_params,
    build_quote_params,
    build_risk_limits,
    new_bucket_state,
    new_gate_state,
    new_pacing_state,
)
from . import quoting_layout as ql
from .instruments import Instrument

#: Rows of the live engine's tables (``engine/_state.py``): orders, actions, FIFO lots, trade ids.
ORDER_CAPACITY = 64
ACTION_CAPACITY = 64
LOT_CAPACITY = 512
SEEN_TRADES_CAPACITY = 4096
#: Order requests per second: 90 % of the message rate the Thalex simulator grants by default
#: (50/s), which is what the engine's order manager meters to after login.
ORDER_RATE_PER_S = 45.0


def instrument_spec(instrument: Instrument) -> InstrumentSpec:
    """The engine's :class:`InstrumentSpec` of a backtest instrument (index 0)."""
    return InstrumentSpec(index=0, name=instrument.name, product="", underlying="",
                          tick_size=instrument.tick_size, volume_tick=instrument.lot_size,
                          min_order_lots=instrument.min_order_lots)


class QuotingState:
    """``params`` and ``scratch`` of one quoting backtest, and named views of the regions."""

    def __init__(self, config: EngineConfig, instrument: Instrument, *, record_every_ns: int,
                 record_rows: int = 4096, decision_rows: int = 0) -> None:
        q = config.quote
        spec = instrument_spec(instrument)
        self.spec = spec
        counts = {
            "quote_params": 1, "bid_mult": len(q.bid_size_multipliers),
            "ask_mult": len(q.ask_size_multipliers), "samples": q.ring_capacity, "cursor": 1,
            "vol_state": 1, "vol_returns": q.ring_capacity, "intensity": 2,
            "quotes": 2 * q.levels, "diag": 1, "orders": ORDER_CAPACITY,
            "actions": ACTION_CAPACITY, "positions": 1, "lots": LOT_CAPACITY,
            "seen_ids": SEEN_TRADES_CAPACITY, "seen_cursor": 1, "fill_row": 1,
            "records": record_rows, "vars": ql.VARS_SIZE, "decision_params": 1, "gate": 1,
            "pacing": 1, "bucket": 1, "risk_limits": 1, "risk_state": 1, "risk_inputs": 1,
            "risk_action": 1, "decisions": decision_rows,
        }
        params = np.zeros(ql.PARAMS_SIZE)
        offset = 0
        self._spans: dict[str, tuple[int, int, np.dtype]] = {}
        for index, (name, dtype) in enumerate(ql.REGIONS):
            words = counts[name] * dtype.itemsize // 8
            params[2 * index] = offset
            params[2 * index + 1] = counts[name]
            self._spans[name] = (offset, offset + words, dtype)
            offset += words
        params[ql.P_AMEND_THRESHOLD_TICKS] = q.amend_threshold_ticks
        params[ql.P_INTENSITY_HALF_LIFE_S] = q.intensity_half_life_s
        params[ql.P_RECORD_EVERY_NS] = record_every_ns
        params[ql.P_LOT_TICK_VALUE] = spec.lot_tick_value * instrument.contract_size
        params[ql.P_DRAWDOWN_BASE_QUOTE] = config.risk.drawdown_base_usd
        self.params = params
        self.scratch = np.zeros(max(offset, 1))
        self.view("quote_params")[:] = build_quote_params(config, spec)
        self.view("bid_mult")[:] = make_level_multipliers(q.bid_size_multipliers)
        self.view("ask_mult")[:] = make_level_multipliers(q.ask_size_multipliers)
        self.view("decision_params")[:] = build_decision_params(config, spec)
        self.view("risk_limits")[:] = build_risk_limits(config, spec)
        self.view("gate")[:] = new_gate_state(ready=True)  # a backtest is always connected
        self.vars[ql.V_NEXT_ID] = 1
        self.start(0)

    def start(self, now_ns: int) -> None:
        """Start the clocks at ``now_ns`` (the first event time): the pacing's first forced
        refresh, a full token bucket, the risk monitor's first check one interval later."""
        decision = self.view("decision_params")
        self.view("pacing")[:] = new_pacing_state(decision, now_ns)
        self.view("bucket")[:] = new_bucket_state(ORDER_RATE_PER_S, now_ns)
        self.vars[ql.V_NEXT_CHECK_NS] = now_ns + risk_check_interval_ns(decision, 0)

    def view(self, name: str) -> np.ndarray:
        """Region ``name`` of the scratch as its record array (shares memory)."""
        start, stop, dtype = self._spans[name]
        return self.scratch[start:stop].view(dtype)

    @property
    def vars(self) -> np.ndarray:
        """The strategy's counters and memory (``quoting_layout.V_*``)."""
        return self.view("vars")

    def drain_records(self) -> np.ndarray:
        """Copy out the recorder rows written since the last drain and empty the buffer."""
        v = self.vars
        rows = self.view("records")[: v[ql.V_N_REC]].copy()
        v[ql.V_N_REC] = 0
        return rows

    def drain_decisions(self) -> np.ndarray:
        """Copy out the decision rows logged since the last drain and empty the log buffer."""
        v = self.vars
        rows = self.view("decisions")[: v[ql.V_N_DECISIONS]].copy()
        v[ql.V_N_DECISIONS] = 0
        return rows
