"""One source of truth: the live services decide exactly what the decision kernels decide.

The same scripted sequence of market states and events drives (a) the live engine's services
(risk monitor, gate, quoter, their pacing task), with fakes for the IO, and (b) the bare decision
kernels, driven the way a backtest strategy drives them (``risk_step`` with its ``call_again``
loop, ``engine_cycle``, ``pacing_due``). Every action the services carry out (cancel, flatten,
levels quoted, the quoter's orders, when cycles run) must equal the kernels' decisions.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import trio

from qengine.clock import now_ns
from qengine.config import EngineConfig, RiskConfig
from qengine.engine._account import Account
from qengine.engine._gate import QuoteGate, Wakeup
from qengine.engine._listener import Listener
from qengine.engine._orders import OrderManager
from qengine.engine._quoter import Quoter
from qengine.engine._risk import RiskMonitor
from qengine.engine._state import EngineState, select_instruments
from qengine.io.client import ThalexClient
from qengine.kernels import codes
from qengine.kernels.decision import engine_cycle, pacing_due
from qengine.kernels.dtypes import RISK_STATE
from qengine.kernels.risk_actions import risk_step
from qengine.strategy.rules import breach_names
from qengine.strategy.setup import new_gate_state, new_pacing_state, new_risk_io
from qengine.telemetry import Telemetry

from .test_quoter_wakeups import _INSTRUMENTS

RISK = RiskConfig(max_position=0.05, stop_loss_pct=0.01, upnl_take_profit_usd=5.0,
                  take_profit_pct=0.5, recovery_cooldown_s=3.0, recovery_check_interval_s=5.0,
                  gradual_recovery_steps=3)
CONFIG = EngineConfig(risk=RISK)

#: (seconds after start, best bid, best ask, mark, position lots, entry ticks, round trips)
SCRIPT = [
    (1.0, 65000, 65001, 65000.5, 0, 0, 0),  # flat: every level
    (2.0, 65025, 65035, 65030.0, 30, 64990, 0),  # long, upnl 1.2 USD
    (3.0, 65195, 65205, 65200.0, 30, 64990, 0),  # upnl 6.3 USD: take profit at the touch
    (4.0, 65195, 65205, 65200.0, 0, 0, 1),  # it filled
    (6.0, 65000, 65001, 65000.5, 60, 65000, 1),  # above the position limit: reduce, halt
    (7.0, 65000, 65001, 65000.5, 40, 65000, 1),  # cooling down
    (10.0, 65000, 65001, 65000.5, 40, 65000, 1),  # recovery: one level
    (12.0, 65000, 65001, 65000.5, 40, 65000, 1),  # not yet the next step
    (15.0, 65000, 65001, 65000.5, 40, 65000, 1),  # two levels
    (16.0, 63990, 64010, 64000.0, 40, 65000, 1),  # stop loss: flatten everything inside
    (17.0, 63990, 64010, math.nan, 40, 65000, 1),  # the mark is gone
    (20.0, 64000, 64001, 64000.5, 0, 0, 2),  # flat again: recovery after the cooldown
    (25.0, 64000, 64001, 64000.5, 0, 0, 2),
    (30.0, 64000, 64001, 64000.5, 0, 0, 2),
]


def _apply(state: EngineState, bid: int, ask: int, mark: float, lots: int, entry: int,
           trips: int) -> None:
    book = state.book
    book.bid_ticks, book.ask_ticks, book.bid_lots, book.ask_lots = bid, ask, 1000, 1000
    book.mark_ticks, book.collar_low_ticks, book.collar_high_ticks = mark, bid - 300.0, ask + 300.0
    book.time_ns = now_ns()
    book.updates += 1
    pos = state.positions[0]
    pos["position_lots"], pos["cost_ticks_lots"], pos["round_trip_count"] = (
        lots, lots * entry, trips)


class Services:
    """The live services with fake IO that records what they carry out."""

    def __init__(self) -> None:
        self.state = EngineState(CONFIG, select_instruments(CONFIG, _INSTRUMENTS))
        telemetry = Telemetry()
        self.gate, self.wakeup = QuoteGate(self.state.decision_params, self.state.book), Wakeup()
        listener = Listener(self.state, telemetry, Account(self.state, telemetry, self.wakeup))
        orders = OrderManager(self.state, listener, telemetry, ThalexClient(), self.gate,
                              self.wakeup)
        self.quoter = Quoter(CONFIG, self.state, listener, orders, self.gate, self.wakeup,
                             telemetry)
        self.monitor = RiskMonitor(CONFIG, self.state, telemetry, self.gate, self.wakeup,
                                   cancel_everything=self.cancel, flatten=self.flatten,
                                   reconcile_positions=lambda: 0,
                                   wait_next_ticker=self.next_ticker)
        self.done: list[tuple] = []
        self.gate.open()

    async def cancel(self, reason: str) -> None:
        self.done.append(("cancel", reason))

    async def flatten(self, lots: int, limit_ticks: int, reason: str) -> int:
        self.done.append(("flatten", lots, limit_ticks, reason))
        return lots

    async def next_ticker(self) -> None:
        self.state.book.updates += 1  # the ticker after the cancel: the same touch


class Kernels:
    """The bare kernels, driven as a backtest strategy drives them."""

    def __init__(self, state: EngineState) -> None:
        self.state = copy.deepcopy(state)  # the quote arrays, params and limits, at the start
        self.params, self.limits = state.decision_params, state.risk_limits
        self.gate = new_gate_state(ready=True)
        self.risk_state = np.zeros(1, RISK_STATE)
        self.pacing = new_pacing_state(self.params, 0)
        self.inputs, self.action = new_risk_io()
        self.book_updates = 0
        self.done: list[tuple] = []

    def risk(self, now: int, bid: int, ask: int, mark: float, lots: int, entry: int,
             trips: int) -> None:
        self.book_updates += 1
        while True:
            self.inputs[0] = (now, lots, lots * entry, mark, RISK.drawdown_base_usd, trips, 0,
                              bid, ask, bid - 300.0, ask + 300.0, self.book_updates, 0)
            call = risk_step(self.params, self.limits, self.risk_state, self.gate, self.inputs,
                             self.action)
            a = self.action[0]
            if a["cancel_all"]:
                name = breach_names(int(a["cancel_mask"]))
                tp = a["phase"] == codes.TP_CANCELLING
                self.done.append(("cancel", f"take profit ({name})" if tp else name))
            if a["flatten_lots"]:
                kind, name = a["flatten_kind"], breach_names(int(a["flatten_mask"]))
                reason = {codes.FLATTEN_TO_THRESHOLD: "position above the recovery threshold",
                          codes.FLATTEN_AT_TOUCH: f"take profit ({name})"}.get(int(kind), name)
                self.done.append(("flatten", int(a["flatten_lots"]),
                                  int(a["flatten_limit_ticks"]), reason))
            if call == codes.RISK_CALL_NEXT_CHECK:
                return
            if call == codes.RISK_CALL_AFTER_BOOK:
                self.book_updates += 1

    def cycle(self, book_time_ns: int, bid: int, ask: int, lots: int) -> tuple:
        s = self.state
        n = engine_cycle((self.params, self.gate, self.pacing), now_ns(), s.quote_setup,
                         s.quote_state, (book_time_ns, bid, ask, 1000, 1000, lots), s.quote_out,
                         s.orders, 0, CONFIG.quote.amend_threshold_ticks, s.actions)
        return int(self.pacing[0]["levels"]), s.actions[:n].tolist()


async def test_the_risk_monitor_and_the_quoter_decide_what_the_kernels_decide(autojump_clock):
    live = Services()
    core = Kernels(live.state)
    start = trio.current_time()
    levels_seen = []
    for at_s, bid, ask, mark, lots, entry, trips in SCRIPT:
        await trio.sleep_until(start + at_s)
        _apply(live.state, bid, ask, mark, lots, entry, trips)
        await live.monitor.step()
        core.risk(now_ns(), bid, ask, mark, lots, entry, trips)
        assert live.done == core.done
        n = live.quoter.run_cycle()
        live_cycle = (live.quoter.last_levels, live.state.actions[:n].tolist())
        assert live_cycle == core.cycle(live.state.book.time_ns, bid, ask, lots)
        assert live.gate.levels_allowed == int(core.action[0]["levels_allowed"])
        assert live.gate.state.tolist() == core.gate.tolist()
        levels_seen.append(live_cycle[0])
    # The script went through a take profit, a limit breach with its recovery and a stop loss.
    kinds = [entry[3] for entry in live.done if entry[0] == "flatten"]
    assert kinds == ["take profit (UPNL take profit)", "position above the recovery threshold",
                     "stop loss"]
    assert levels_seen == [3, 3, 3, 3, 0, 0, 1, 1, 2, 0, 0, 1, 2, 3]


#: (seconds after start, what rings): a new book, a fill, another state change.
EVENTS = [(0.137, "book"), (0.237, "book"), (0.391, "book"), (0.58, "fill"), (0.71, "book"),
          (1.337, "changed"), (1.9, "book"), (2.05, "book"), (20.0, "book"), (20.3, "fill"),
          (20.31, "book"), (40.0, "book")]


async def test_the_quoter_task_cycles_when_the_pacing_kernel_says_so(autojump_clock):
    live = Services()
    cycles: list[tuple[float, bool]] = []
    start = trio.current_time()

    async def record(tick_ns: int | None) -> None:
        cycles.append((round(trio.current_time() - start, 6), tick_ns is not None))

    live.quoter._quote = record  # type: ignore[method-assign]
    # The kernels on the same events: ask at each event and whenever the kernel said to.
    params = live.state.decision_params
    pacing = new_pacing_state(params, now_ns())
    begin_ns, expected, flags, updates, now = now_ns(), [], 0, 0, now_ns()
    queue = [(int((start + t) * 1e9), kind) for t, kind in EVENTS]  # as clock.now_ns reads
    end = begin_ns + 45 * 10**9
    while now < end:
        due = pacing_due(params, pacing, now, updates, flags)
        if due in (codes.PACE_CYCLE, codes.PACE_CYCLE_FRESH):
            expected.append((round((now - begin_ns) / 1e9, 6), due == codes.PACE_CYCLE_FRESH))
            flags = 0
            continue
        now = min(int(pacing[0]["wake_ns"]), queue[0][0] if queue else end)
        while queue and queue[0][0] == now:
            kind = queue.pop(0)[1]
            updates += kind == "book"
            flags |= {"book": 0, "fill": codes.PACE_FLAG_FILL,
                      "changed": codes.PACE_FLAG_CHANGED}[kind]
    async with trio.open_nursery() as nursery:
        await nursery.start(live.quoter.run)
        for at_s, kind in EVENTS:
            await trio.sleep_until(start + at_s)
            if kind == "book":
                live.state.book.updates += 1
                live.wakeup.ring(market=True)
            else:
                live.wakeup.ring(fill=kind == "fill")
        await trio.sleep_until(start + 45.0)
        nursery.cancel_scope.cancel()
    assert cycles == expected
    # A fresh book at once; a fill through the pacing; an aged book after the 200 ms wait for
    # a fresh one; a book during that wait, timed; the forced refresh 15 s after a cycle.
    assert cycles[:4] == [(0.137, True), (0.58, False), (1.28, False), (1.9, True)]
    assert (17.6, False) in cycles
