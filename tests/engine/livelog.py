"""The live side of the live-vs-backtest differential test: every quote cycle of a running
engine, logged as one decision row (what the kernel was given and what it decided).

The row is the backtester's per-cycle decision-log row (``DECISION_DTYPE``), so the two logs
compare field by field. The log wraps the quoter's ``run_cycle`` and ``tick_raw`` (the ticker
lane's one call) from the outside (tests only): it reads the engine's state right after each
cycle's one kernel call, before anything awaits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qengine.backtest.quoting_decisions import DECISION_DTYPE
from qengine.clock import now_ns
from qengine.engine import Engine

from ..decision_replay import DIAG_FIELDS, INFLIGHT_FIELDS, INPUT_FIELDS, ladder_by_level


class CycleLog:
    """Decision rows of every cycle the engine's quoter runs from now on and, in order with the
    cycles, every public trade the listener fed to the intensity estimator (``feed``:
    ``("trade", args)`` and ``("cycle", index)``).

    ``listener_module`` is ``qengine.engine._listener``, whose ``intensity_update`` is wrapped
    through ``monkeypatch`` (undone after the test).
    """

    def __init__(self, engine: Engine, monkeypatch: Any, listener_module: Any) -> None:
        self.rows: list[np.void] = []
        self.feed: list[tuple[str, Any]] = []
        self._engine = engine
        quoter = engine.quoter
        run_cycle = quoter.run_cycle
        tick_raw = quoter.tick_raw
        update = listener_module.intensity_update

        def logged(inline: bool = False) -> int:
            n_actions = run_cycle(inline)
            if n_actions >= 0:  # < 0: the reader's pacing check said no cycle ran
                self._log(n_actions)
            return n_actions

        def logged_raw(frame: bytes, arrival_ns: int) -> int:
            n_actions = tick_raw(frame, arrival_ns)
            if n_actions >= 0:  # the book is written when tick_raw returns
                self._log(n_actions)
            return n_actions

        def fed(*args: Any) -> int:
            self.feed.append(("trade", args[1:]))  # all but the state array
            return update(*args)

        quoter.run_cycle = logged
        quoter.tick_raw = logged_raw
        monkeypatch.setattr(listener_module, "intensity_update", fed)

    def _log(self, n_actions: int) -> None:
        state, quoter = self._engine.state, self._engine.quoter
        book, diag = state.book, state.diag[0]
        row = np.zeros((), DECISION_DTYPE)
        row["wake_ns"] = now_ns()  # the clock engine_cycle read: nothing awaited since
        inputs = (book.time_ns, book.bid_ticks, book.ask_ticks, book.bid_lots, book.ask_lots,
                  state.position_lots(0), quoter.last_levels)  # as Quoter.run_cycle passes them
        for name, value in zip(INPUT_FIELDS, inputs, strict=True):
            row[name] = value
        for name in (*DIAG_FIELDS, *INFLIGHT_FIELDS):
            row[name] = diag[name]
        row["n_actions"] = n_actions
        ladder_by_level(state.quotes, int(diag["quote_count"]), row)
        self.feed.append(("cycle", len(self.rows)))
        self.rows.append(row)

    def decisions(self) -> np.ndarray:
        """The rows so far as one DECISION_DTYPE array."""
        return np.array(self.rows, DECISION_DTYPE) if self.rows else np.zeros(0, DECISION_DTYPE)
