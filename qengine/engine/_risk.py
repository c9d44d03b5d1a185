"""The risk monitor: runs the decision core's risk state machine and carries out its actions.

Fixes the old bot's risk bugs (original-quoter.md 9, items 1, 2, 4, 5, 6, 15): the monitor is a
supervised task that never exits on a breach or a disconnect; each breach has its own action
(every breach pulls the quotes at once; a stop loss also flattens with a reduce-only IOC limit
inside the collar and halts; a take profit flattens only when the touch is better than the entry
and halts only if configured); recovery really quotes fewer levels (1, then 2, ..., then all)
and honours ``recovery_enabled`` and ``flatten_position_enabled``.

Every decision is the ``risk_step`` kernel's (``kernels.risk_actions``, run on the gate's state
by :meth:`QuoteGate.risk_step`), by the rules of the breach table :data:`BREACH_RULES`
(``strategy.rules``; README.md, "Risk", shows it). This monitor does the IO: it feeds the kernel
the position, book and equity on the kernel's adaptive interval, cancels, flattens, waits for a
fresh book when the kernel asks, logs and counts what the kernel decided.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable

import trio

from ..clock import now_ns
from ..config import EngineConfig
from ..io import errors as io_errors
from ..kernels import codes
from ..kernels.risk_actions import risk_check_interval_ns
from ..strategy import rules
from ..strategy.setup import new_risk_io
from ..telemetry import COUNTER, Telemetry
from ._gate import QuoteGate, Wakeup, deadline_s
from ._state import EngineState

log = logging.getLogger("qengine.risk")

BREACH_RULES, PAUSE, breach_names = rules.BREACH_RULES, rules.PAUSE, rules.breach_names


class RiskMonitor:
    """Feeds the risk state machine on its adaptive interval and executes its actions."""

    def __init__(self, config: EngineConfig, state: EngineState, telemetry: Telemetry,
                 gate: QuoteGate, wakeup: Wakeup, *,
                 cancel_everything: Callable[[str], Awaitable[None]],
                 flatten: Callable[[int, int, str], Awaitable[int]],
                 reconcile_positions: Callable[[], int],
                 wait_next_ticker: Callable[[], Awaitable[None]]) -> None:
        self.config = config
        self.state = state
        self.telemetry = telemetry
        #: Runs the kernel on its own state (the monitor never writes the gate).
        self.gate = gate
        self.wakeup = wakeup
        self.cancel_everything = cancel_everything
        self.flatten = flatten
        self.reconcile_positions = reconcile_positions
        self.wait_next_ticker = wait_next_ticker
        #: ``RISK_INPUTS`` (written here before each step) and ``RISK_ACTION`` (the kernel's).
        self.inputs, self.action = new_risk_io()

    @property
    def breaches(self) -> int:
        """Halting breaches so far (counted by the kernel)."""
        return int(self.gate.state[0]["breach_count"])

    def interval_s(self) -> float:
        """Adaptive check interval: fast above a large position, slow when nearly flat."""
        return risk_check_interval_ns(self.gate.params, self.state.position_lots()) / 1e9

    def equity_quote(self) -> float:
        """Equity for the drawdown check: base capital + realised - fees + funding + unrealised."""
        pos = self.state.positions[0]
        upnl = self.unrealised_quote()
        if not math.isfinite(upnl):
            upnl = 0.0
        return (self.config.risk.drawdown_base_usd + float(pos["realised_pnl_quote"])
                - float(pos["maker_fees_quote"]) - float(pos["taker_fees_quote"])
                + float(pos["funding_quote"]) + upnl)

    def unrealised_quote(self) -> float:
        """Unrealised PnL of the quoted instrument at the mark (NaN without a mark)."""
        return self.state.unrealised_quote()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The monitor task: never exits on a breach, an error or a disconnect."""
        task_status.started()
        while True:
            await trio.sleep(self.interval_s())
            try:
                await self.step()
            except (io_errors.ThalexClientError, io_errors.ConnectionLost) as exc:
                # A disconnect or a refused request must not end monitoring (old bug 1).
                self.telemetry.counters.values[COUNTER["errors"]] += 1
                log.warning("risk action failed (%s); checking again in %.1f s", exc,
                            self.interval_s())

    def decide(self, *, abort: bool = False) -> int:
        """Feed the kernel the current position, book and equity; return its ``call_again``
        (the decision is in ``self.action``)."""
        state, book = self.state, self.state.book
        pos = state.positions[0]
        mark = book.mark_ticks
        self.inputs[0] = (
            now_ns(), int(pos["position_lots"]), int(pos["cost_ticks_lots"]),
            mark if math.isfinite(mark) else math.nan, self.equity_quote(),
            int(pos["round_trip_count"]), int(pos["losing_streak"]), book.bid_ticks,
            book.ask_ticks, book.collar_low_ticks, book.collar_high_ticks, book.updates,
            int(abort),
        )
        return self.gate.risk_step(state.risk_limits, state.risk_state, self.inputs,
                                   self.action)

    async def step(self) -> None:
        """One pass: reconcile positions, then the kernel's steps until it is done (a take
        profit spans several: cancel, fresh book, flatten, resume), carrying out each."""
        self.reconcile_positions()
        call = self.decide()
        try:
            await self._carry_out()
            while call != codes.RISK_CALL_NEXT_CHECK:
                if call == codes.RISK_CALL_AFTER_BOOK:
                    with trio.move_on_at(deadline_s(int(self.action[0]["deadline_ns"]))):
                        await self.wait_next_ticker()
                call = self.decide()
                await self._carry_out()
        finally:
            if self.gate.state[0]["tp_phase"] != codes.TP_IDLE:
                self.decide(abort=True)  # an action failed: end the sequence, quote again
                self._report()

    def _report(self) -> dict[str, int]:
        """Log and count what the kernel decided; return the action's fields."""
        a = dict(zip(self.action.dtype.names, self.action[0].tolist(), strict=True))
        events, mask = a["events"], a["mask"]
        if events & codes.EVENT_BREACH:
            self.telemetry.counters.values[COUNTER["risk_breaches"]] += 1
            log.error("RISK BREACH: %s (position %s, upnl %.2f USD); quotes cancelled",
                      breach_names(mask & rules.HALT_MASK), self.state.position(),
                      self.unrealised_quote())
        if events & codes.EVENT_STOPPED:
            log.error("quoting stopped for the rest of the session (%s)",
                      breach_names(mask & rules.HALT_MASK))
        if events & codes.EVENT_NO_MARK:
            log.error("position open but no usable mark price: price checks skipped")
        if events & codes.EVENT_TAKE_PROFIT:
            log.info("TAKE PROFIT (%s): upnl %.2f USD, closing %s at the touch",
                     breach_names(a["flatten_mask"]), self.unrealised_quote(),
                     self.state.position())
        if events & codes.EVENT_RECOVERY_DONE:
            log.warning("RECOVERY complete: quoting all %d levels again", self.gate.full_levels)
        if events & codes.EVENT_RECOVERY_STEP:
            log.warning("RECOVERY step %d/%d: quoting %d level(s) per side",
                        self.gate.recovery_step, self.config.risk.gradual_recovery_steps,
                        a["levels_allowed"])
        if a["wake_quoter"]:
            self.wakeup.ring()
        return a

    async def _carry_out(self) -> None:
        """The kernel's actions, in order: pull every quote, then flatten."""
        a = self._report()
        if a["cancel_all"]:
            if a["phase"] == codes.TP_CANCELLING:
                await self.cancel_everything(f"take profit ({breach_names(a['cancel_mask'])})")
            else:
                await self.cancel_everything(self.gate.halt_reason)
        if a["flatten_lots"]:
            await self.flatten(a["flatten_lots"], a["flatten_limit_ticks"], _flatten_reason(a))


def _flatten_reason(action: dict[str, int]) -> str:
    kind, names = action["flatten_kind"], breach_names(action["flatten_mask"])
    if kind == codes.FLATTEN_TO_THRESHOLD:
        return "position above the recovery threshold"
    if kind == codes.FLATTEN_AT_TOUCH:
        return f"take profit ({names})"
    return names
