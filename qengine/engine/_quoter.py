"""The quoter: the single quoting actor.

The engine's one inbound function is :meth:`Quoter.on_inbound`: io hands it each socket read
(newest market data, then the ordered order/portfolio/trade events); the listener applies it,
and one question follows: quote now? Yes when the read brought a book not quoted on yet and a
cycle can run at once without waiting for an answer (the quoter idle, the gate open, no order
replies outstanding, the pacing over): the cycle runs right there, saving a task switch.
Otherwise the quoter task is woken; it quotes no sooner than ``min_quote_interval_s`` after the
last cycle, at once on a fill, and at least every ``force_refresh_s``. Both run the same
:meth:`Quoter._cycle`: one fused kernel call (``quote_cycle``: estimators, model, ladder, diff
against the live orders), the actions handed to the order manager. Cycles never overlap (the old
bot's fill-spawned requotes raced its quote loop, bug 9).
"""

from __future__ import annotations

import logging
import math

import trio

from ..clock import now_ns
from ..config import EngineConfig
from ..io import errors as io_errors
from ..io.rpc_session import Inbound
from ..kernels.quote_cycle import quote_cycle
from ..telemetry import COUNTER, Telemetry
from ._gate import QuoteGate, Wakeup
from ._listener import Listener
from ._orders import OrderManager
from ._state import EngineState

log = logging.getLogger("qengine.quoter")

#: After a pacing pause, how long to wait for a fresh ticker before quoting on the aged book.
FRESH_TICK_WAIT_S = 0.2


class Quoter:
    """Sequences one quote cycle per wake-up; owns ``quotes``, ``diag`` and ``actions``."""

    def __init__(self, config: EngineConfig, state: EngineState, listener: Listener,
                 orders: OrderManager, gate: QuoteGate, wakeup: Wakeup,
                 telemetry: Telemetry) -> None:
        self.config = config
        self.state = state
        self.listener = listener
        self.orders = orders
        self.gate = gate
        self.wakeup = wakeup
        self.telemetry = telemetry
        self.cycles = 0
        self.last_cycle_s = -math.inf
        #: True while a cycle runs (in the quoter task or inline in the reader): one at a time.
        self.cycling = False
        self.missed_wake = False
        #: ``book.updates`` seen by the last cycle.
        self.market_seen = 0
        #: Levels per side the gate allowed the last cycle (one clock read per cycle).
        self.last_levels = 0

    def run_cycle(self) -> int:
        """Run the fused kernel once on the newest book; return the number of actions."""
        state, book = self.state, self.state.book
        started = now_ns()
        self.last_levels = self.gate.levels_now()
        inputs = (book.time_ns, book.bid_ticks, book.ask_ticks, book.bid_lots, book.ask_lots,
                  state.position_lots(0), self.last_levels)
        n = quote_cycle(
            state.quote_setup, state.quote_state, inputs, state.quote_out, state.orders,
            state.spec.index, self.config.quote.amend_threshold_ticks, state.actions,
        )
        self.telemetry.quote_cycle.record(now_ns() - started)
        self.cycles += 1
        self.telemetry.counters.values[COUNTER["quote_updates"]] += 1
        if log.isEnabledFor(logging.DEBUG):
            diag = state.diag[0]
            log.debug("cycle %d: mid %.1f sigma %.3g spread %.1f ticks, %d quotes, %d actions",
                      self.cycles, diag["mid_ticks"], diag["sigma_per_sqrt_s"],
                      diag["spread_ticks"], diag["quote_count"], n)
        return max(n, 0)

    async def _wait_for_wake(self) -> tuple[bool, int | None]:
        """Wait until a cycle is due; return (run a cycle?, tick time to measure from).

        A cycle is due on a fill (at once), on a forced refresh, or when a book update is not
        quoted on yet (at most every ``min_quote_interval_s``). Tick-to-quote is measured only
        when a fresh ticker triggered the cycle directly: not after a pacing pause (the book
        aged), not for fills or refreshes. Fresh tickers are normally quoted on inline (see
        :meth:`on_inbound`); this task covers what that path leaves to it.
        """
        q, wakeup = self.config.quote, self.wakeup
        with trio.move_on_after(q.force_refresh_s) as timer:
            await wakeup.wait()
        aged = False
        since = trio.current_time() - self.last_cycle_s
        if not wakeup.fill_pending and since < q.min_quote_interval_s:
            await trio.sleep(q.min_quote_interval_s - since)
            if not wakeup.fill_pending:
                # Pacing is over: the next ticker is quoted on as it arrives (inline, or by a
                # ring back here). Only if none comes soon, quote on the book that aged.
                before = self.state.book.updates
                wakeup.clear()
                with trio.move_on_after(FRESH_TICK_WAIT_S):
                    await wakeup.wait()
                wakeup.clear()
                aged = self.state.book.updates == before
        fill = wakeup.fill_pending
        unquoted = self.state.book.updates != self.market_seen
        if not (fill or wakeup.changed or timer.cancelled_caught or unquoted):
            return False, None  # the inline path already quoted on this book
        fresh = unquoted and not aged and not fill
        return True, self.state.book.time_ns if fresh else None

    async def _mass_quote_cycle(self, tick_ns: int | None) -> None:
        self.run_cycle()
        n_quotes = int(self.state.diag[0]["quote_count"])
        if self.listener.take_mm_protection_exhausted():
            self.orders.mm_protection_lost()
        # With no level allowed (halted, stale book) the ladder is empty: pull both sides.
        if self.last_levels == 0:
            n_quotes = 0
        try:
            await self.orders.mass_quote(n_quotes, tick_ns)
        except io_errors.ThalexClientError as exc:
            log.warning("mass quote not sent: %s", exc)

    async def on_inbound(self, inbound: Inbound) -> None:
        """The engine's inbound path: apply one socket read, then quote now or wake the task.

        Tick-to-quote is measured only when this read brought the book: a book left unquoted
        by an earlier read (its cycle had to wait for order replies) is quoted, not timed."""
        book = self.state.book
        before = book.updates
        self.listener.apply(inbound)
        if book.updates == self.market_seen:
            return  # no unquoted book (fills and other news rang the wakeup)
        if self.quote_now():
            await self._cycle(book.time_ns if book.updates != before else None)
        else:
            self.wakeup.ring(market=True)

    def quote_now(self) -> bool:
        """May a cycle run here, in the reader, at once? Only when it never awaits an answer
        (the reader would wait for itself) and the pacing is over; with order replies
        outstanding the quoter task conflates several reads into one cycle instead."""
        return (not self.cycling and self.gate.ready and self.orders.sends_without_waiting()
                and trio.current_time() - self.last_cycle_s
                >= self.config.quote.min_quote_interval_s)

    async def _cycle(self, tick_ns: int | None) -> None:
        self.cycling = True
        # What this cycle sees is consumed now; rings during it stay pending for the next one.
        self.wakeup.take()
        try:
            self.last_cycle_s = trio.current_time()
            self.market_seen = self.state.book.updates
            await self._quote(tick_ns)
        finally:
            self.cycling = False
            if self.missed_wake:  # a wake-up came in while we were busy: its flags are kept
                self.missed_wake = False
                self.wakeup.set()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The quoter task: paced cycles, fills, forced refreshes (fresh ticks come inline)."""
        task_status.started()
        while True:
            due, tick_ns = await self._wait_for_wake()
            if not due:
                continue
            if self.cycling:
                self.missed_wake = True
                continue
            await self._cycle(tick_ns)

    async def _quote(self, tick_ns: int | None) -> None:
        if self.state.book.time_ns == 0 or not self.gate.ready:
            return
        if not await self.orders.reconcile_if_needed():
            return
        if self.config.order_mode == "mass_quote":
            await self._mass_quote_cycle(tick_ns)
            return
        n_actions = self.run_cycle()
        if n_actions:
            await self.orders.execute(n_actions, tick_ns)
            self.orders.note_success()
